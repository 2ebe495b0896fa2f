"""Which files of a folder go into a snapshot: ``.amlignore`` if present, else ``.gitignore``,
as Azure ML does for code uploads."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pathspec

IGNORE_FILES = (".amlignore", ".gitignore")
_ALWAYS = (".git/", "__pycache__/", ".ipynb_checkpoints/")


def ignore_matcher(folder: Path) -> Callable[[str], bool]:
    """A predicate over posix paths relative to ``folder``: True means leave the file out."""
    lines = list(_ALWAYS)
    for name in IGNORE_FILES:
        candidate = folder / name
        if candidate.is_file():
            lines += candidate.read_text().splitlines()
            break
    spec = pathspec.PathSpec.from_lines("gitignore", lines)
    return spec.match_file
