"""Guarantee 2: every path built from user input is joined under its root by one function."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openaml.errors import ValidationError
from openaml.paths import check_relative, safe_join


@pytest.mark.parametrize("hostile", [
    "../x", "a/../../x", "..", "/etc/passwd", "/", "C:/x", "c:x", "a\\..\\x", "\\x",
    "a\x00b", "a\nb", "a\x1b[31mb", "x\x7f",
])
def test_hostile_parts_are_refused(tmp_path: Path, hostile: str) -> None:
    with pytest.raises(ValidationError) as info:
        safe_join(tmp_path, hostile, field="outputs.x.path")
    assert info.value.details["field"] == "outputs.x.path"


def test_plain_parts_join_and_normalise(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "a//b/./c/", "d") == tmp_path.resolve() / "a" / "b" / "c" / "d"
    assert safe_join(tmp_path, "", ".") == tmp_path.resolve()
    assert check_relative("x/./y//z/") == "x/y/z"


def test_a_symlinked_parent_that_leaves_the_root_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(ValidationError, match="outside its root"):
        safe_join(root, "link/file")


def test_a_symlink_inside_the_root_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    assert safe_join(tmp_path, "alias", "f") == tmp_path.resolve() / "real" / "f"


def test_a_root_that_is_itself_a_symlink_works(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "root").symlink_to(tmp_path / "real")
    assert safe_join(tmp_path / "root", "f") == (tmp_path / "real" / "f").resolve()


segment = st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.lists(segment, min_size=1, max_size=5))
def test_no_input_ever_leaves_the_root(tmp_path_factory: pytest.TempPathFactory, parts: list[str]) -> None:
    root = tmp_path_factory.getbasetemp() / "hyp-root"
    root.mkdir(exist_ok=True)
    try:
        joined = safe_join(root, *parts)
    except ValidationError:
        return
    real_root = Path(os.path.realpath(root))
    assert joined == real_root or real_root in joined.parents
    assert "\x00" not in str(joined)
