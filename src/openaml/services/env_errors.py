"""What a failed or impossible environment tells the user: the ways that work instead, and the
tail of uv's (or docker's) output with the package it blames."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from openaml.errors import EnvironmentBuildError

ALLOW_HOST_PYTHON_VAR = "OPENAML_ALLOW_HOST_PYTHON"

__all__ = ["ALLOW_HOST_PYTHON_VAR", "build_error", "dockerfile_message", "failing_package",
           "runtime_unavailable_message"]

_OPTIONS = (
    "  - start a container engine (docker or podman): the build context then runs in a container;\n"
    "  - use a build context whose Dockerfile is simple: FROM python:* or an AzureML base image, "
    "RUN pip install ..., COPY requirements.txt + RUN pip install -r requirements.txt, ENV, "
    "WORKDIR;\n"
    "  - add a conda_file (with image) listing the packages: openaml builds a virtual environment "
    "from it;\n"
    f"  - or opt in to running on this machine's Python ({sys.version.split()[0]}) with "
    f"{ALLOW_HOST_PYTHON_VAR}=1 when submitting the job.")


def runtime_unavailable_message(runtime: str, what: str, reason: str) -> str:
    """Why ``what`` cannot run in the engine that ``OPENAML_CONTAINER_RUNTIME`` names."""
    return (f"OPENAML_CONTAINER_RUNTIME={runtime}, but {runtime} cannot run containers here ({reason}), "
            f"so {what} cannot run. Start {runtime}, or set OPENAML_CONTAINER_RUNTIME=auto (the default) "
            f"to run image-only environments in a venv where no engine runs.")


def dockerfile_message(dockerfile: Path, problems: list[str]) -> str:
    """Which Dockerfile instructions need Docker, and what works instead."""
    listed = "\n".join(f"  {p}" for p in problems)
    return (f"{dockerfile} uses instructions openaml can only run in a container, and no container "
            f"engine runs here:\n{listed}\nWhat works instead:\n{_OPTIONS}")


def build_error(argv: list[str], code: int, tail: list[str], source: str, key: str) -> EnvironmentBuildError:
    """A failed build command as an error naming the package it blames and its last output."""
    package = failing_package(tail)
    what = " ".join([Path(argv[0]).name, *argv[1:3 if argv[1] == "pip" else 2]])
    where = f" while installing '{package}'" if package else ""
    shown = "\n".join(f"  | {line}" for line in tail)
    return EnvironmentBuildError(
        f"Building the environment ({source}) failed{where}: `{what}` exited with {code}. "
        f"Last lines of its output:\n{shown}", package=package, exit_code=code, key=key)


_FAILURE_PATTERNS = (
    re.compile(r"Failed to (?:build|download|fetch|install|prepare distributions for) `([^`]+)`"),
    re.compile(r"Because ([A-Za-z0-9][\w.\-\[\]]*) was not found in the package registry"),
    re.compile(r"there is no version of ([A-Za-z0-9][\w.\-\[\]]*(?:[=<>!~]=?[\w.*+!]+)?)"),
    re.compile(r"(?:you require|depends on) ([A-Za-z0-9][\w.\-\[\]]*(?:[=<>!~]=?[\w.*+!]+)?)"),
)


def failing_package(tail: list[str]) -> str | None:
    """The package uv's output blames, if it names one."""
    text = "\n".join(tail)
    for pattern in _FAILURE_PATTERNS:
        match = pattern.search(text)
        if match:
            return match[1]
    return None
