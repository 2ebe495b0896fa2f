"""Constants shared by the job service and the agents that run jobs.

Kept apart from :mod:`openaml.services.jobs`, which imports the registry and the specs: every
job's agent needs these values and nothing else from there.
"""

from __future__ import annotations

from pathlib import Path

#: The compute of jobs that name none (or serverless): one slot pool per machine.
LOCAL_POOL = "local"
#: An agent renews its lease at most this often (seconds; more often when the lease is shorter
#: than three of these). Readers judge liveness by the lease, not by this pace.
HEARTBEAT_SECONDS = 2.0
#: The parallel steps' driver (standard library only): a container job whose command runs it gets
#: this one file mounted, read-only, at the same path.
PARALLEL_DRIVER_PATH = Path(__file__).resolve().with_name("parallel_driver.py")
