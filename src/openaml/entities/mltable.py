"""The content of an ``MLTable`` file as typed records: where the data is (``paths``) and what
is done to it (``transformations``), with the names and defaults of Azure's MLTable schema.

Pure data: :mod:`openaml.specs.mltable` reads and writes them, :mod:`openaml.data` evaluates
them. Each transformation keeps the line of the file it came from (not compared), so that an
error found while reading the data can still name the file and the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal, Union

__all__ = [
    "ColumnConversion", "ColumnSelector", "ColumnType", "ConvertColumnTypes", "DropColumns", "ENCODINGS", "HEADERS",
    "KeepColumns", "MLTableDefinition", "ReadDelimited", "ReadJsonLines", "ReadParquet", "Skip", "TablePath", "Take",
    "TakeRandomSample", "Transformation",
]

#: ``read_delimited``'s ``header`` values (Azure's ``MLTableHeaders``).
HEADERS = ("no_header", "from_first_file", "all_files_different_headers", "all_files_same_headers")
#: The encodings Azure's schema names, and the Python codec each one is.
ENCODINGS = {
    "utf8": "utf-8", "utf-8": "utf-8", "utf8 bom": "utf-8-sig", "utf-8 bom": "utf-8-sig", "utf8bom": "utf-8-sig",
    "iso88591": "iso-8859-1", "iso-8859-1": "iso-8859-1", "latin1": "latin-1", "latin-1": "latin-1",
    "ascii": "ascii", "utf16": "utf-16", "utf-16": "utf-16", "windows1252": "cp1252", "windows-1252": "cp1252",
}
PathKind = Literal["file", "folder", "pattern"]
TypeKind = Literal["string", "int", "float", "boolean", "datetime"]


@dataclass(frozen=True)
class TablePath:
    """One entry of ``paths``: a file, a folder (every file under it) or a glob pattern, written
    relative to the MLTable file's folder or as a storage URI."""

    kind: PathKind
    value: str
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ColumnSelector:
    """Which columns a step applies to: listed ``names``, or the columns whose name the regular
    expression ``pattern`` matches (``ignore_case``; ``invert`` takes those it does not match)."""

    names: tuple[str, ...] = ()
    pattern: str | None = None
    ignore_case: bool = False
    invert: bool = False


@dataclass(frozen=True)
class ColumnType:
    """A type to convert a column to (Azure's ``DataType``): ``boolean`` takes ``true_values``,
    ``false_values`` and ``mismatch_as``; ``datetime`` takes ``formats`` (strptime's) and
    ``date_constant`` (the date of values that hold a time only)."""

    kind: TypeKind
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()
    mismatch_as: Literal["error", "true", "false"] | None = None
    formats: tuple[str, ...] = ()
    date_constant: str | None = None


@dataclass(frozen=True)
class ColumnConversion:
    """``{columns: ..., column_type: ...}``: one entry of ``convert_column_types``."""

    columns: ColumnSelector
    column_type: ColumnType


@dataclass(frozen=True)
class ReadDelimited:
    """``read_delimited``: delimited text (CSV, TSV...) files."""

    name: ClassVar[str] = "read_delimited"
    delimiter: str = ","
    header: str = "all_files_same_headers"
    support_multi_line: bool = False
    empty_as_string: bool = False
    encoding: str = "utf8"
    include_path_column: bool = False
    path_column: str = "Path"
    infer_column_types: bool = True
    column_type_overrides: tuple[ColumnConversion, ...] = ()
    sample_size: int | None = None
    partition_size: int | None = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ReadParquet:
    """``read_parquet``: Parquet files."""

    name: ClassVar[str] = "read_parquet"
    include_path_column: bool = False
    path_column: str = "Path"
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ReadJsonLines:
    """``read_json_lines``: one JSON object per line; ``invalid_lines`` is ``error`` or ``drop``."""

    name: ClassVar[str] = "read_json_lines"
    invalid_lines: Literal["error", "drop"] = "error"
    encoding: str = "utf8"
    include_path_column: bool = False
    path_column: str = "Path"
    partition_size: int | None = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Take:
    """``take: N``: the first N rows."""

    name: ClassVar[str] = "take"
    count: int
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Skip:
    """``skip: N``: all but the first N rows."""

    name: ClassVar[str] = "skip"
    count: int
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class TakeRandomSample:
    """``take_random_sample``: each row kept with ``probability``; the same ``seed`` keeps the
    same rows of the same data."""

    name: ClassVar[str] = "take_random_sample"
    probability: float
    seed: int | None = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class KeepColumns:
    """``keep_columns``: the selected columns only (names that are not there are ignored, as in
    Azure)."""

    name: ClassVar[str] = "keep_columns"
    columns: ColumnSelector
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class DropColumns:
    """``drop_columns``: every column but the selected ones."""

    name: ClassVar[str] = "drop_columns"
    columns: ColumnSelector
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ConvertColumnTypes:
    """``convert_column_types``: each conversion in turn; a value that does not convert becomes
    null (Azure's error values read as nulls too)."""

    name: ClassVar[str] = "convert_column_types"
    conversions: tuple[ColumnConversion, ...]
    line: int | None = field(default=None, compare=False)


Reader = Union[ReadDelimited, ReadParquet, ReadJsonLines]
Transformation = Union[ReadDelimited, ReadParquet, ReadJsonLines, Take, Skip, TakeRandomSample, KeepColumns,
                       DropColumns, ConvertColumnTypes]
READERS = (ReadDelimited, ReadParquet, ReadJsonLines)


@dataclass(frozen=True)
class MLTableDefinition:
    """An MLTable: its ``paths``, its ``transformations`` in order (a reader, if any, first), the
    ``traits`` and ``metadata`` it carries, and the file it was read from (None when built in
    code), which errors name."""

    paths: tuple[TablePath, ...]
    transformations: tuple[Transformation, ...] = ()
    traits: dict = field(default_factory=dict, compare=False)
    metadata: dict = field(default_factory=dict, compare=False)
    file: str | None = field(default=None, compare=False)

    @property
    def reader(self) -> Reader | None:
        """The ``read_*`` step, or None (a table of the files' paths)."""
        first = self.transformations[0] if self.transformations else None
        return first if isinstance(first, READERS) else None
