"""Column types: inferring them from text (``read_delimited``'s ``infer_column_types``) and
converting columns (``convert_column_types``), over pyarrow arrays.

The rules follow what Azure's ``mltable`` does, observed side by side on the same files:
inference tries boolean (every value ``true``/``false``/``1``/``0``, in any case: so a column of
zeros and ones is boolean, as in Azure), then integer, then float, then an ISO date or time
(``2024-01-02``, ``2024-01-02 10:11:12``), else text; nulls do not count. A conversion makes a
value that does not convert null (Azure's error values read as nulls in pandas too); a float
converted to an integer is truncated, as in Azure.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from openaml.entities.mltable import ColumnSelector, ColumnType

if TYPE_CHECKING:
    import pyarrow as pa

_INT = r"^[+-]?[0-9]+$"
_FLOAT = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_DEFAULT_TRUE, _DEFAULT_FALSE = ("true", "1"), ("false", "0")
_SAMPLE = 1000  # values a type is tried on before the whole column
_DATE_DIRECTIVES = re.compile(r"%[YymdbBjUWaAcxGuV]")


def select(names: list[str], selector: ColumnSelector) -> list[str]:
    """The columns of *names* that *selector* picks, in the table's order (names it lists that
    the table does not have are ignored, as in Azure)."""
    if selector.pattern is None:
        wanted = set(selector.names)
        return [n for n in names if n in wanted]
    regex = re.compile(selector.pattern, re.IGNORECASE if selector.ignore_case else 0)
    return [n for n in names if bool(regex.search(n)) != selector.invert]


def as_text(arr: "pa.ChunkedArray | pa.Array") -> "pa.Array":
    """*arr* as strings (``1.0`` is ``"1"``, ``True`` is ``"true"``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr.cast(pa.string())
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.string())
    return pc.cast(arr, pa.string())


def infer(arr: "pa.Array") -> "pa.Array":
    """A text column as the first type all its values have (see the module). Each type is tried
    on the first values before the whole column: a cast that fails costs Arrow as much as the
    whole column, so most columns are settled by the sample."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.drop_null(arr)
    if len(values) == 0:
        return arr
    head = values.slice(0, _SAMPLE)
    booleans = pa.array(_DEFAULT_TRUE + _DEFAULT_FALSE)
    if all(pc.all(pc.is_in(pc.utf8_lower(part), value_set=booleans)).as_py() for part in (head, values)):
        return _to_bool(arr, _DEFAULT_TRUE, _DEFAULT_FALSE, None, ignore_case=True)
    for target in (pa.int64(), pa.float64(), pa.timestamp("us")):
        try:
            pc.cast(head, target)
            return pc.cast(arr, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return arr


def convert(arr: "pa.ChunkedArray | pa.Array", kind: ColumnType) -> "pa.Array":
    """*arr* converted to *kind*; what does not convert becomes null."""
    text = as_text(arr)
    if kind.kind == "string":
        return text
    if kind.kind == "float":
        return _to_float(text)
    if kind.kind == "int":
        return _to_int(text)
    if kind.kind == "boolean":
        if kind.true_values:
            return _to_bool(text, kind.true_values, kind.false_values, kind.mismatch_as, ignore_case=False)
        return _to_bool(text, _DEFAULT_TRUE, _DEFAULT_FALSE, kind.mismatch_as, ignore_case=True)
    return _to_datetime(text, kind.formats, kind.date_constant)


def _matching(text: "pa.Array", pattern: str) -> "pa.Array":
    """The trimmed values of *text* that match *pattern*; null elsewhere."""
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim_whitespace(text)
    return pc.if_else(pc.match_substring_regex(trimmed, pattern), trimmed, None)


def _to_float(text: "pa.Array") -> "pa.Array":
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(_matching(text, _FLOAT), pa.float64())


def _to_int(text: "pa.Array") -> "pa.Array":
    import pyarrow as pa
    import pyarrow.compute as pc

    exact = _matching(text, _INT)
    try:
        ints = pc.cast(exact, pa.int64())
    except pa.ArrowInvalid:  # beyond 64 bits: those values alone become null
        ints = pa.array([_int_or_none(v) for v in exact.to_pylist()], pa.int64())
    floats = _to_float(text)
    finite = pc.and_(pc.is_finite(floats), pc.less(pc.abs(floats), 2.0 ** 63))
    truncated = pc.cast(pc.trunc(pc.if_else(finite, floats, None)), pa.int64())
    return pc.coalesce(ints, truncated)


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    number = int(value)
    return number if -2 ** 63 <= number < 2 ** 63 else None


def _to_bool(text: "pa.Array", true: tuple[str, ...], false: tuple[str, ...], mismatch_as: str | None, *,
             ignore_case: bool) -> "pa.Array":
    import pyarrow as pa
    import pyarrow.compute as pc

    seen = pc.utf8_lower(text) if ignore_case else text
    is_true, is_false = pc.is_in(seen, value_set=pa.array(true)), pc.is_in(seen, value_set=pa.array(false))
    other = pa.scalar(mismatch_as == "true") if mismatch_as in ("true", "false") else pa.scalar(None, pa.bool_())
    return pc.if_else(is_true, True, pc.if_else(is_false, False, pc.if_else(pc.is_null(text), None, other)))


def _to_datetime(text: "pa.Array", formats: tuple[str, ...], date_constant: str | None) -> "pa.Array":
    """Each value parsed by the first of *formats* (Python's strptime) that reads it whole."""
    import pyarrow as pa

    day = _date_constant(date_constant)
    parsed: list[Any] = []
    for value in text.to_pylist():
        parsed.append(None if value is None else _strptime(value.strip(), formats, day))
    return pa.array(parsed, pa.timestamp("us"))


def _date_constant(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)  # checked when the step was made


def _strptime(value: str, formats: tuple[str, ...], day: dt.date | None) -> dt.datetime | None:
    for fmt in formats:
        try:
            parsed = dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
        if day is not None and not _DATE_DIRECTIVES.search(fmt):
            parsed = dt.datetime.combine(day, parsed.time())
        return parsed.replace(tzinfo=None) if parsed.tzinfo is None else \
            parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return None
