"""What a job's agent imports: every job pays for it, so heavy modules stay out."""

from __future__ import annotations

import json
import subprocess
import sys


# Loaded only by the paths that need them (see the comments at their imports).
NOT_AT_START = [
    "sqlalchemy.dialects.postgresql",  # SQLite stores never need it
    "fsspec",                          # remote artifact stores only
    "cryptography",                    # datastore secrets only
    "ruamel.yaml",                     # YAML specs: submission and the CLI
    "openaml.specs",
    "openaml.services.registry",       # registering named outputs only
    "openaml.services.jobs",           # submission; the agent takes job_constants instead
    "openaml.entities.job",
    "psutil",                          # the heartbeat thread loads it (~8 ms), off the main thread
    "requests", "aiohttp",             # azure-core's HTTP transports: openaml.errors needs only its exceptions
]


def test_agent_imports_leave_heavy_modules_out():
    code = ("import json, sys; import openaml.backends.local.agent, openaml.tracking; "
            f"print(json.dumps([m for m in {NOT_AT_START!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
