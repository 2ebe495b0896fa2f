"""Reuse keys of pipeline steps, and content digests of their outputs.

A step's key is the hash of its parts: the component (command, declared ports, determinism),
the code snapshot's digest, the environment's key, each resolved input (a literal's value or
the digest of the data's content) and the run settings. Keeping the parts lets a rerun say
which of them changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

_CHUNK = 1 << 20


def digest_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def reuse_key(parts: Mapping[str, Any]) -> str:
    """One hash over every part."""
    return digest_json(parts)


def content_digest(path: Path) -> str:
    """sha256 over a file's bytes, or over a folder's sorted (relative path, file digest) pairs,
    so that equal content gives equal digests wherever it lives. Missing paths hash as empty."""
    if path.is_file():
        return _file_digest(path)
    outer = hashlib.sha256()
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = Path(root, name)
                rel = full.relative_to(path).as_posix()
                outer.update(rel.encode() + b"\0" + _file_digest(full).encode() + b"\n")
    return outer.hexdigest()


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def changed_parts(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Names of the key parts that differ, inputs named one by one (``inputs.lr``)."""
    changed = []
    for part in sorted(set(old) | set(new)):
        if part == "inputs":
            o, n = old.get("inputs") or {}, new.get("inputs") or {}
            changed += [f"inputs.{k}" for k in sorted(set(o) | set(n)) if o.get(k) != n.get(k)]
        elif old.get(part) != new.get(part):
            changed.append(part)
    return changed
