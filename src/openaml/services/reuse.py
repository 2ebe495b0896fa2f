"""Reuse keys of pipeline steps.

A step's key is the hash of its parts: the component (command, declared ports, determinism),
the code snapshot's digest, the environment's key, each resolved input (a literal's value or
the manifest digest of the data's content) and the run settings. Keeping the parts lets a rerun say
which of them changed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping


def digest_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def reuse_key(parts: Mapping[str, Any]) -> str:
    """One hash over every part."""
    return digest_json(parts)


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
