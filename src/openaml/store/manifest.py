"""Manifests: what an asset's content is, as relative paths mapped to blob digests.

A manifest is itself stored as a blob (its canonical JSON), so an asset points at one digest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from openaml.errors import ValidationError
from openaml.paths import check_relative

_DIGEST = re.compile(r"[0-9a-f]{64}")
KINDS = ("file", "folder")


def check_digest(digest: str) -> str:
    """Return *digest* if it is a lowercase sha256 hex string; it becomes part of a path."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValidationError(f"not a sha256 hex digest: {digest!r}", field="digest")
    return digest


def check_relative_path(path: str) -> str:
    """Return *path* if it is a relative posix path that stays inside its root, written the one
    canonical way (no empty, ``.`` or ``..`` segments): :func:`openaml.paths.check_relative`'s
    rules, so that two keys of a manifest never name the same file."""
    if check_relative(path, field="files") != path:
        raise ValidationError(f"manifest path must be written without empty or '.' segments: {path!r}",
                              field="files")
    return path


@dataclass(frozen=True)
class ManifestEntry:
    """One stored file: its sha256 digest and size in bytes."""

    digest: str
    size: int

    def __post_init__(self) -> None:
        check_digest(self.digest)
        if not isinstance(self.size, int) or self.size < 0:
            raise ValidationError(f"bad file size {self.size!r}", field="size")


@dataclass(frozen=True)
class Manifest:
    """An asset's content: a single file (``kind="file"``) or a folder named *root*."""

    root: str
    kind: str
    files: dict[str, ManifestEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValidationError(f"manifest kind must be one of {KINDS}, not {self.kind!r}", field="kind")
        if "/" in self.root:
            raise ValidationError(f"manifest root must be one name: {self.root!r}", field="root")
        check_relative_path(self.root)
        for path in self.files:
            check_relative_path(path)
        if self.kind == "file" and list(self.files) != [self.root]:
            raise ValidationError("a file manifest holds exactly one entry named after its root",
                                  field="files")

    @property
    def total_size(self) -> int:
        """Sum of the file sizes in bytes."""
        return sum(e.size for e in self.files.values())

    def to_json(self) -> bytes:
        """Canonical JSON (sorted keys, no whitespace): equal manifests give equal digests."""
        data: dict[str, Any] = {
            "root": self.root,
            "kind": self.kind,
            "files": {p: {"digest": e.digest, "size": e.size} for p, e in self.files.items()},
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> "Manifest":
        """Parse and validate a manifest; bad shapes raise :class:`ValidationError`."""
        try:
            raw = json.loads(data)
            files = {
                str(p): ManifestEntry(digest=e["digest"], size=e["size"]) for p, e in raw["files"].items()
            }
            return cls(root=raw["root"], kind=raw["kind"], files=files)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # ValidationError passes
            raise ValidationError(f"not a valid manifest: {exc}") from exc
