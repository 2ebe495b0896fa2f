"""Constants shared by the job service and the agents that run jobs.

Kept apart from :mod:`openaml.services.jobs`, which imports the registry and the specs: every
job's agent needs these values and nothing else from there.
"""

from __future__ import annotations

#: The compute of jobs that name none (or serverless): one slot pool per machine.
LOCAL_POOL = "local"
#: An agent records a heartbeat this often (seconds); readers judge liveness by it.
HEARTBEAT_SECONDS = 2.0
