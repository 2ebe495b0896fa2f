"""Reuse keys and content digests: equal content gives equal digests wherever it lives, and a
changed part is named."""

from __future__ import annotations

from pathlib import Path

from openaml.services.reuse import changed_parts, content_digest, reuse_key


def test_content_digest_depends_on_content_and_names_not_location(tmp_path: Path):
    for root in ("a", "b"):
        (tmp_path / root / "sub").mkdir(parents=True)
        (tmp_path / root / "sub" / "x.txt").write_text("1")
        (tmp_path / root / "y.txt").write_text("2")
    assert content_digest(tmp_path / "a") == content_digest(tmp_path / "b")
    (tmp_path / "b" / "y.txt").write_text("3")
    assert content_digest(tmp_path / "a") != content_digest(tmp_path / "b")
    (tmp_path / "b" / "y.txt").write_text("2")
    (tmp_path / "b" / "y.txt").rename(tmp_path / "b" / "z.txt")
    assert content_digest(tmp_path / "a") != content_digest(tmp_path / "b")
    assert content_digest(tmp_path / "a" / "y.txt") != content_digest(tmp_path / "a")
    assert content_digest(tmp_path / "missing") == content_digest(tmp_path / "empty-never-made")


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
