"""Shared fixtures for spec tests."""

import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path):
    """Write a file (dedented text) under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return _write
