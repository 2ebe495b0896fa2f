"""Helpers for the MLTable tests: a folder with an ``MLTable`` file and data files."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

ONE_CSV = b"a,b,c,d\n1,x,2.5,true\n2,,3.5,false\n3,z,,True\n"
TWO_CSV = b"a,b,e\n4,w,9\n"


def write_table(folder: Path, mltable: str, files: dict[str, bytes]) -> Path:
    """*folder* holding *files* and an ``MLTable`` file with the text *mltable*."""
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLTable").write_text(mltable)
    return folder


@pytest.fixture
def table_dir(tmp_path: Path) -> Callable[..., Path]:
    """``table_dir(mltable_text, files=...)``: a new MLTable folder under the test's tmp_path."""
    count = iter(range(1000))

    def make(mltable: str, files: dict[str, bytes] | None = None) -> Path:
        return write_table(tmp_path / f"table{next(count)}", mltable,
                           {"d/one.csv": ONE_CSV, "d/two.csv": TWO_CSV} if files is None else files)
    return make
