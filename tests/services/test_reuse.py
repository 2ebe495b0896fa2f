"""Reuse keys and content digests: equal content gives equal digests wherever it lives, and a
changed part is named."""

from __future__ import annotations

from pathlib import Path

from openaml.services.reuse import changed_parts, reuse_key
from openaml.store.artifacts import ArtifactStore


def test_manifest_digests_depend_on_content_and_names_not_location(tmp_path: Path):
    """Reuse keys are made of manifest digests: equal content under the same name is equal
    wherever it lives; a changed byte or file name changes the digest."""
    store = ArtifactStore(str(tmp_path / "store"))
    digest = lambda path: store.put_path(path)[0]
    for parent in ("a", "b"):
        (tmp_path / parent / "out" / "sub").mkdir(parents=True)
        (tmp_path / parent / "out" / "sub" / "x.txt").write_text("1")
        (tmp_path / parent / "out" / "y.txt").write_text("2")
    a, b = tmp_path / "a" / "out", tmp_path / "b" / "out"
    assert digest(a) == digest(b)
    (b / "y.txt").write_text("3")
    assert digest(a) != digest(b)
    (b / "y.txt").write_text("2")
    (b / "y.txt").rename(b / "z.txt")
    assert digest(a) != digest(b)
    assert digest(a / "y.txt") != digest(a)


def test_reuse_key_and_changed_parts():
    base = {"component": "c1", "code": "d1", "environment": "e1", "inputs": {"lr": "value:0.1", "data": "data:x"},
            "settings": "s1"}
    assert reuse_key(base) == reuse_key(dict(reversed(list(base.items()))))
    for part, value in (("component", "c2"), ("code", "d2"), ("environment", "e2"), ("settings", "s2")):
        changed = {**base, part: value}
        assert reuse_key(changed) != reuse_key(base)
        assert changed_parts(base, changed) == [part]
    inputs = {**base, "inputs": {"lr": "value:0.2", "data": "data:x", "extra": "value:1"}}
    assert changed_parts(base, inputs) == ["inputs.extra", "inputs.lr"]
