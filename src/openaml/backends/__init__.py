"""Compute backends: where a job's agent runs. ``local`` (processes on this machine) today."""
