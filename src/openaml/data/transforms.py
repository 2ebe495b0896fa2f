"""The steps after the reader, applied in order to a pyarrow table."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from openaml.entities.mltable import (ConvertColumnTypes, DropColumns, KeepColumns, Skip, Take, TakeRandomSample,
                                      Transformation, READERS)

from .columns import convert, select

if TYPE_CHECKING:
    import pyarrow as pa


def apply(table: "pa.Table", steps: tuple[Transformation, ...]) -> "pa.Table":
    """*table* after every step of *steps* but the reader."""
    for step in steps:
        table = _apply(table, step)
    return table


def _apply(table: "pa.Table", step: Transformation) -> "pa.Table":
    if isinstance(step, READERS):
        return table
    if isinstance(step, Take):
        return table.slice(0, min(step.count, table.num_rows))
    if isinstance(step, Skip):
        return table.slice(min(step.count, table.num_rows))
    if isinstance(step, TakeRandomSample):
        return sample(table, step.probability, step.seed)
    if isinstance(step, KeepColumns):
        kept = set(select(table.column_names, step.columns))
        return table.select([i for i, n in enumerate(table.column_names) if n in kept])
    if isinstance(step, DropColumns):
        dropped = set(select(table.column_names, step.columns))
        return table.select([i for i, n in enumerate(table.column_names) if n not in dropped])
    assert isinstance(step, ConvertColumnTypes)
    for conversion in step.conversions:
        for name in select(table.column_names, conversion.columns):
            i = table.column_names.index(name)
            table = table.set_column(i, name, convert(table.column(i), conversion.column_type))
    return table


def sample(table: "pa.Table", probability: float, seed: int | None) -> "pa.Table":
    """Each row kept with *probability*, drawn from numpy's generator seeded with *seed*: the
    same seed keeps the same rows of the same table (not the rows Azure's sampler keeps)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed if seed is not None else secrets.randbits(64))
    return table.filter(pa.array(rng.random(table.num_rows) < probability))
