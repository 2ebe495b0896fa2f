"""The ``read_*`` steps: files into one pyarrow table.

``read_delimited`` parses each file with pyarrow's CSV reader, every field as text (a file
whose rows do not all have the same number of fields is parsed again with Python's ``csv``
module, as Azure reads such files too: short rows padded with nulls, extra fields in columns
``Column<n>``), applies the ``header`` mode, joins the files by column name, then infers each
column's type (:mod:`.columns`). Quoted line breaks are always read as part of their field
(``support_multi_line`` is accepted; Azure splits such records when it is false). Headers
follow Azure: an empty name becomes ``Column<n>``, a repeated one ``<name>_1``.
``read_parquet`` and ``read_json_lines`` use pyarrow's readers; files whose columns differ are
joined by name, numbers widening to floats where the files disagree.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from openaml.entities.mltable import ENCODINGS, MLTableDefinition, ReadDelimited, ReadJsonLines, ReadParquet
from openaml.errors import ValidationError

from .columns import convert, infer, select
from .sources import FileRef

if TYPE_CHECKING:
    import pyarrow as pa

Fail = Callable[[FileRef, str], ValidationError]


def read_files(table: MLTableDefinition, files: list[FileRef]) -> "pa.Table":
    """The rows of *files* as *table*'s reader reads them; without a reader, one ``Path``
    column naming each file (as Azure's ``from_paths``)."""
    import pyarrow as pa

    step = table.reader
    if step is None:
        return pa.table({"Path": pa.array([f.name for f in files], pa.string())})

    def fail(ref: FileRef, why: str) -> ValidationError:
        return ValidationError(f"{ref.name} cannot be read by {step.name}: {why}", file=table.file,
                               field=f"transformations.0.{step.name}", line=step.line)
    if isinstance(step, ReadDelimited):
        return _delimited(step, files, fail)
    if isinstance(step, ReadParquet):
        return _joined([_with_path(_parquet(ref, fail), ref, step) for ref in files], files, fail)
    assert isinstance(step, ReadJsonLines)
    return _joined([_with_path(_json_lines(ref, step, fail), ref, step) for ref in files], files, fail)


def _with_path(table: "pa.Table", ref: FileRef, step: ReadDelimited | ReadParquet | ReadJsonLines) -> "pa.Table":
    import pyarrow as pa

    if not step.include_path_column:
        return table
    return table.add_column(0, step.path_column, pa.array([ref.name] * table.num_rows, pa.string()))


def _joined(tables: list["pa.Table"], files: list[FileRef], fail: Fail) -> "pa.Table":
    import pyarrow as pa

    if not tables:
        return pa.table({})
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise fail(files[-1], f"its columns do not match the other files' ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _text(data: bytes, encoding: str, ref: FileRef, fail: Fail) -> str:
    codec = ENCODINGS[encoding]
    if codec == "utf-8" and data.startswith(codecs.BOM_UTF8):
        codec = "utf-8-sig"
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise fail(ref, f"it is not {encoding} text (byte {exc.start}: {exc.reason})") from None


def _utf8(data: bytes, encoding: str, ref: FileRef, fail: Fail) -> bytes:
    """*data* as UTF-8 without a BOM: as it is when it is UTF-8 already (pyarrow checks it)."""
    if ENCODINGS[encoding].startswith("utf-8"):
        return data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    return _text(data, encoding, ref, fail).encode("utf-8")


# -- delimited ------------------------------------------------------------------------------------
def _delimited(step: ReadDelimited, files: list[FileRef], fail: Fail) -> "pa.Table":
    import pyarrow as pa

    first_header: list[Any] | None = None
    tables = []
    for i, ref in enumerate(files):
        columns = _fields(_utf8(ref.tree.read(ref.rel), step.encoding, ref, fail), step, ref, fail)
        row0 = None
        if columns and len(columns[0]) and (step.header in ("all_files_same_headers", "all_files_different_headers")
                                            or (step.header == "from_first_file" and i == 0)):
            row0 = [c[0].as_py() for c in columns]
            columns = [c.slice(1) for c in columns]
        if i == 0 or step.header == "all_files_different_headers":
            header = row0 if step.header != "no_header" else None
            if i == 0:
                first_header = header
        else:
            header = first_header
        names = column_names(header, len(columns))
        tables.append(_with_path(pa.table(dict(zip(names, columns))) if columns else pa.table({}), ref, step))
    return _typed(_union(tables), step)


def _fields(data: bytes, step: ReadDelimited, ref: FileRef, fail: Fail) -> list["pa.Array"]:
    """Every field of the file as text, one array per column (no header taken out yet)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if not data.strip():
        return []
    read = pcsv.ReadOptions(autogenerate_column_names=True)
    parse = pcsv.ParseOptions(delimiter=step.delimiter, newlines_in_values=True)
    try:
        width = len(pcsv.open_csv(io.BytesIO(data), read_options=read, parse_options=parse).schema)
        types = {f"f{i}": pa.string() for i in range(width)}
        convert_options = pcsv.ConvertOptions(column_types=types, null_values=[""],
                                              strings_can_be_null=not step.empty_as_string,
                                              quoted_strings_can_be_null=not step.empty_as_string)
        parsed = pcsv.read_csv(io.BytesIO(data), read_options=read, parse_options=parse,
                               convert_options=convert_options)
        return [parsed.column(i).combine_chunks() for i in range(parsed.num_columns)]
    except pa.ArrowInvalid as exc:
        reason = _first_line(exc)
    # rows of different lengths (or another quirk pyarrow refuses): Python's csv module
    text = _text(data, "utf8", ref, fail)  # UTF-8 by now (see _utf8)
    try:
        return _ragged(text, step)
    except csv.Error:
        raise fail(ref, reason) from None


def _ragged(text: str, step: ReadDelimited) -> list["pa.Array"]:
    import pyarrow as pa

    rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=step.delimiter) if row]
    width = max((len(row) for row in rows), default=0)

    def cell(row: list[str], i: int) -> str | None:
        if i >= len(row):
            return None
        return row[i] if row[i] or step.empty_as_string else None
    return [pa.array([cell(row, i) for row in rows], pa.string()) for i in range(width)]


def column_names(header: list[Any] | None, width: int) -> list[str]:
    """Names for *width* columns from a header row, as Azure names them: ``Column<n>`` where
    there is no name (or no header), ``<name>_1``, ``<name>_2``... for a repeated one."""
    names: list[str] = []
    for i in range(width):
        given = header[i] if header is not None and i < len(header) else None
        name = str(given) if given not in (None, "") else f"Column{i + 1}"
        base, n = name, 0
        while name in names:
            n += 1
            name = f"{base}_{n}"
        names.append(name)
    return names


def _union(tables: list["pa.Table"]) -> "pa.Table":
    """The tables' rows one after the other, columns matched by name (missing ones null)."""
    import pyarrow as pa

    order: list[str] = []
    for t in tables:
        order.extend(n for n in t.column_names if n not in order)
    if not order:
        return pa.table({})
    padded = [pa.table({n: t.column(n) if n in t.column_names else pa.nulls(t.num_rows, pa.string())
                        for n in order}) for t in tables]
    return pa.concat_tables(padded)


def _typed(table: "pa.Table", step: ReadDelimited) -> "pa.Table":
    """Column types: the overrides where given, else inferred (or text, without inference)."""
    overrides: dict[str, Any] = {}
    for conversion in step.column_type_overrides:
        for name in select(table.column_names, conversion.columns):
            overrides[name] = conversion.column_type
    for i, name in enumerate(table.column_names):
        if step.include_path_column and i == 0:
            continue
        column = table.column(i).combine_chunks()
        if name in overrides:
            table = table.set_column(i, name, convert(column, overrides[name]))
        elif step.infer_column_types:
            table = table.set_column(i, name, infer(column))
    return table


# -- parquet and JSON lines -------------------------------------------------------------------------
def _parquet(ref: FileRef, fail: Fail) -> "pa.Table":
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(pa.BufferReader(ref.tree.read(ref.rel)))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise fail(ref, f"it is not a Parquet file openaml can read ({_first_line(exc)})") from None


def _json_lines(ref: FileRef, step: ReadJsonLines, fail: Fail) -> "pa.Table":
    import pyarrow as pa
    import pyarrow.json as pj

    data = ref.tree.read(ref.rel)
    if step.invalid_lines == "error" and ENCODINGS[step.encoding].startswith("utf-8"):
        payload = data  # pyarrow skips blank lines and a BOM itself: no pass in Python
    else:
        kept = [line for _, line in _lines(data, step, ref, fail)
                if step.invalid_lines == "error" or _is_object(line)]
        if not kept:
            return pa.table({})
        payload = "\n".join(kept).encode("utf-8")
    try:
        return pj.read_json(io.BytesIO(payload))
    except pa.ArrowInvalid as exc:
        bad = next(((n, line) for n, line in _lines(data, step, ref, fail) if not _is_object(line)), None)
        if bad is not None:
            raise fail(ref, f"line {bad[0]} is not a JSON object: {bad[1][:80]!r} (invalid_lines: drop skips such "
                            "lines)") from None
        raise fail(ref, _first_line(exc)) from None


def _lines(data: bytes, step: ReadJsonLines, ref: FileRef, fail: Fail) -> list[tuple[int, str]]:
    """The file's lines that are not blank, with their numbers."""
    return [(n, line) for n, line in enumerate(_text(data, step.encoding, ref, fail).splitlines(), start=1)
            if line.strip()]


def _is_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
