"""What an image name says about the Python inside it, and whether this machine has that Python.

Used when an image-only environment cannot run in a container: the job then runs in a venv for
the Python the image names (``python:3.10-slim`` -> 3.10, ``...-py38-cpu`` -> 3.8) when ``uv``
finds that interpreter without downloading one, and on this machine's Python otherwise.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from openaml.errors import ValidationError
from openaml.services.probe_cache import shared_answer

__all__ = ["check_image_reference", "find_python", "image_python_version"]

# A registry host, path components, a tag and a digest, as Docker writes references; never a
# leading '-' (it would read as an option of the engine's command line) nor spaces.
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,254}")
# `python3.10`, `python-3.10`, `py3.10`, `py310`, `py38` as a word of the name: never `py3`
# alone (nvcr.io/nvidia/pytorch:23.10-py3), never inside a word (pytorch, numpy).
_PY_HINT = re.compile(r"(?<![a-z0-9])py(?:thon)?-?([23])\.?(\d{1,2})(?![0-9])")
_PYTHON_TAG = re.compile(r"(\d+)\.(\d+)(?:\D|$)")
_FIND_SECONDS = 10.0
_FIND_TTL_SECONDS = 60.0
_FIND_FILE = ".python-find.json"


def check_image_reference(image: str, *, field: str = "environment.image") -> str:
    """``image`` if it reads as an image reference, else a :class:`ValidationError`."""
    if not isinstance(image, str) or not _REFERENCE.fullmatch(image):
        raise ValidationError(f"{field}: {image!r:.80} is not an image reference (such as python:3.10-slim or "
                              f"mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04)", field=field)
    return image


def image_python_version(image: str) -> str | None:
    """The ``major.minor`` Python an image name promises, or None when it names none.

    The official ``python`` images (any registry, ``library/`` or not) by their tag
    (``python:3.10-slim``, ``python:3.9.18-bookworm``; ``latest`` or ``3`` name no minor);
    other images by a ``py38``/``py310``/``python3.10`` word in the name (Azure's
    ``minimal-ubuntu22.04-py310-cpu-inference``, ``aifx/stable-ubuntu2004-cu117-py38-torch1131``).
    """
    reference = image.strip().lower().split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    repository, _, tag = last.partition(":")
    if repository == "python":
        match = _PYTHON_TAG.match(tag)
        return f"{match[1]}.{match[2]}" if match else None
    match = _PY_HINT.search(reference)
    return f"{match[1]}.{match[2]}" if match else None


def find_python(version: str, uv: str, cache_dir: Path) -> Path | None:
    """An installed interpreter of ``version`` (``3.10``) that ``uv`` finds without downloading
    one (``uv python find --system``: virtual environments are not interpreters to build on), or
    None. The answer is shared for a minute under ``cache_dir``: a miss costs uv ~0.5 s."""
    answer = shared_answer(cache_dir / _FIND_FILE, version, _FIND_TTL_SECONDS, lambda: {"path": _find(version, uv)})
    path = answer.get("path")
    return Path(path) if isinstance(path, str) and Path(path).is_file() else None


def _find(version: str, uv: str) -> str | None:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "UV_PYTHON")}
    env.update(UV_PYTHON_DOWNLOADS="never", NO_COLOR="1")
    try:
        done = subprocess.run([uv, "python", "find", "--system", "--no-project", "--no-config", "--offline", version],
                              capture_output=True, text=True, env=env, timeout=_FIND_SECONDS, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = done.stdout.strip().splitlines()
    return found[-1] if done.returncode == 0 and found else None
