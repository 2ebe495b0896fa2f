"""The local backend: a detached agent process per job, with a slot limit per compute."""

from openaml.backends.local.launcher import LocalLauncher

__all__ = ["LocalLauncher"]
