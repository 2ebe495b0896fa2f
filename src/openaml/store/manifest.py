"""Manifests: what an asset's content is, as relative paths mapped to blob digests.

A manifest is itself stored as a blob (its canonical JSON), so an asset points at one digest.
"""

from __future__ import annotations

import json
import posixpath
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


def check_link(path: str, target: str) -> str:
    """Return *target* if a symlink at *path* pointing to it stays inside the manifest's root:
    relative, not climbing above the root once joined to the link's folder, and not pointing to
    a folder that holds the link (which would make a loop)."""
    if (not isinstance(target, str) or not target or target.startswith("/") or "\\" in target
            or "\x00" in target):
        raise ValidationError(f"link {path!r} -> {target!r} must be a relative path", field="links")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if joined == ".." or joined.startswith("../"):
        raise ValidationError(f"link {path!r} -> {target!r} leaves the root", field="links")
    if joined == "." or path.startswith(joined + "/"):
        raise ValidationError(f"link {path!r} -> {target!r} points to a folder holding it (a loop)",
                              field="links")
    return target


@dataclass(frozen=True)
class Manifest:
    """An asset's content: a single file (``kind="file"``) or a folder named *root*.

    ``links`` maps the relative path of a symbolic link to its target, relative to the link's
    folder and always inside the root (links that point outside are never stored).
    """

    root: str
    kind: str
    files: dict[str, ManifestEntry] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValidationError(f"manifest kind must be one of {KINDS}, not {self.kind!r}", field="kind")
        if "/" in self.root:
            raise ValidationError(f"manifest root must be one name: {self.root!r}", field="root")
        check_relative_path(self.root)
        for path in self.files:
            check_relative_path(path)
        for path, target in self.links.items():
            check_relative_path(path)
            check_link(path, target)
            if path in self.files:
                raise ValidationError(f"{path!r} is both a file and a link", field="links")
        if self.kind == "file" and (list(self.files) != [self.root] or self.links):
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
        if self.links:  # absent when empty: manifests without links keep their digests
            data["links"] = dict(self.links)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> "Manifest":
        """Parse and validate a manifest; bad shapes raise :class:`ValidationError`."""
        try:
            raw = json.loads(data)
            files = {
                str(p): ManifestEntry(digest=e["digest"], size=e["size"]) for p, e in raw["files"].items()
            }
            links = {str(p): t for p, t in (raw.get("links") or {}).items()}
            return cls(root=raw["root"], kind=raw["kind"], files=files, links=links)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # ValidationError passes
            raise ValidationError(f"not a valid manifest: {exc}") from exc

    def sub(self, path: str) -> "Manifest":
        """The part of a folder manifest under *path* (a file or a sub-folder), as a manifest
        of its own whose root is the last segment of *path*. Links that would leave the part
        are replaced by the file they point to, or left out when they point to a folder."""
        path = check_relative_path(path.strip("/"))
        name = path.rsplit("/", 1)[-1]
        if self.kind == "file":
            raise ValidationError(f"{self.root!r} is a file; it has no path {path!r}", field="path")
        if path in self.files:
            return Manifest(root=name, kind="file", files={name: self.files[path]})
        prefix = path + "/"
        files = {p[len(prefix):]: e for p, e in self.files.items() if p.startswith(prefix)}
        links: dict[str, str] = {}
        for p, target in self.links.items():
            if not p.startswith(prefix):
                continue
            rel = p[len(prefix):]
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(p), target))
            if resolved.startswith(prefix):
                links[rel] = target
            elif resolved in self.files:
                files[rel] = self.files[resolved]
        if not files and not links:
            raise ValidationError(f"no file or folder {path!r} in {self.root!r}", field="path")
        return Manifest(root=name, kind="folder", files=files, links=links)
