"""``MLTable``: a table described by an MLTable file, loaded lazily, with Azure's ``mltable`` API."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, NoReturn

from openaml.entities.mltable import (ColumnConversion, ColumnSelector, ColumnType, ConvertColumnTypes, DropColumns,
                                      KeepColumns, MLTableDefinition, Skip, Take, TakeRandomSample, Transformation)
from openaml.errors import MissingExtraError, NotFoundError, ValidationError
from openaml.specs.mltable import MLTABLE_FILE, is_table_uri, parse_mltable
from openaml.specs.mltable_steps import check_date_constant, dump_mltable
from openaml.specs.yamlio import dump_text

from .sources import LocalTree, Tree, table_files
from .uris import UriTrees

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from openaml.client.ml_client import MLClient

MLTABLE_MAX_BYTES = 1024 * 1024  # an MLTable file is a few lines; a bigger one is not read into memory
# Methods of Azure's MLTable that openaml does not have, and what they do.
_UNSUPPORTED_METHODS = {
    "filter": "filter expressions", "random_split": "random splits",
    "extract_columns_from_partition_format": "columns from a partition format",
    "select_partitions": "selecting partitions", "get_partition_count": "partitions",
    "save": "saving an MLTable", "validate": "validation by reading a row (use show(1))",
    "to_dask_dataframe": "Dask", "to_spark_dataframe": "Spark",
}


def _need_pyarrow() -> None:
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise MissingExtraError("reading an MLTable needs pyarrow and pandas, which are not installed; install "
                                "them with: pip install 'openaml[mltable]'") from None


class DataType:
    """A column type for :meth:`MLTable.convert_column_types` (Azure's ``mltable.DataType``):
    ``DataType.to_int()``, ``to_float()``, ``to_string()``, ``to_bool(true_values, false_values,
    mismatch_as)``, ``to_datetime(formats, date_constant)``."""

    def __init__(self, column_type: ColumnType) -> None:
        self.column_type = column_type

    def __repr__(self) -> str:
        return f"DataType({self.column_type.kind!r})"

    @staticmethod
    def to_string() -> "DataType":
        """Text."""
        return DataType(ColumnType(kind="string"))

    @staticmethod
    def to_int() -> "DataType":
        """64-bit integers (a float is truncated, as in Azure)."""
        return DataType(ColumnType(kind="int"))

    @staticmethod
    def to_float() -> "DataType":
        """64-bit floats."""
        return DataType(ColumnType(kind="float"))

    @staticmethod
    def to_bool(true_values: Iterable[str] | None = None, false_values: Iterable[str] | None = None,
                mismatch_as: str | None = None) -> "DataType":
        """Booleans: ``true_values`` and ``false_values`` (both or neither; default ``true``/``1``
        and ``false``/``0`` in any case); others become null, or what ``mismatch_as`` says
        (``"true"``, ``"false"``, ``"error"``: null)."""
        true, false = _strings(true_values, "true_values"), _strings(false_values, "false_values")
        if bool(true) != bool(false):
            raise ValidationError("true_values and false_values go together: give both or neither",
                                  field="true_values")
        if set(true) & set(false):
            raise ValidationError("a value cannot be both true and false", field="true_values")
        if mismatch_as not in (None, "error", "true", "false"):
            raise ValidationError(f"mismatch_as must be 'error', 'true' or 'false', not {mismatch_as!r}",
                                  field="mismatch_as")
        return DataType(ColumnType(kind="boolean", true_values=true, false_values=false,
                                   mismatch_as=mismatch_as))  # type: ignore[arg-type]

    @staticmethod
    def to_datetime(formats: str | Iterable[str], date_constant: str | None = None) -> "DataType":
        """Dates and times read by the first of ``formats`` (strptime's, e.g. ``%d/%m/%Y``) that
        reads a value whole; ``date_constant`` (``YYYY-MM-DD``) dates values holding a time only."""
        found = _strings(formats, "formats")
        if not found:
            raise ValidationError("to_datetime needs at least one format", field="formats")
        if date_constant is not None:
            try:
                check_date_constant(date_constant)
            except ValueError as exc:
                raise ValidationError(str(exc), field="date_constant") from None
        return DataType(ColumnType(kind="datetime", formats=found, date_constant=date_constant))

    @staticmethod
    def to_stream() -> NoReturn:
        """Not in openaml: a column of file handles."""
        raise NotImplementedError("openaml does not support DataType.to_stream (a column of file handles)")

    @staticmethod
    def _from(value: Any) -> "DataType":
        if isinstance(value, DataType):
            return value
        builders = {"string": DataType.to_string, "int": DataType.to_int, "float": DataType.to_float,
                    "boolean": DataType.to_bool}
        if isinstance(value, str) and value in builders:
            return builders[value]()
        raise ValidationError(f"{value!r} is not a column type: use a DataType or one of {', '.join(builders)}",
                              field="column_types")


def _strings(values: str | Iterable[str] | None, field: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,)
    found = tuple(values)
    if not all(isinstance(v, str) for v in found):
        raise ValidationError(f"{field} must be strings", field=field)
    return found


def _columns(columns: str | Iterable[str], field: str = "columns") -> ColumnSelector:
    names = _strings(columns, field)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError(f"columns named twice: {', '.join(duplicates)}", field=field)
    return ColumnSelector(names=names)


class MLTable:
    """A table described by an MLTable file (Azure's ``mltable.MLTable``): a chain of immutable,
    lazily evaluated steps. Each method returns a new ``MLTable``; nothing is read until
    :meth:`to_pandas_dataframe` (or :meth:`show`). Create one with :func:`load_table`."""

    def __init__(self, definition: MLTableDefinition, home: Tree, uris: UriTrees) -> None:
        self._definition, self._home, self._uris = definition, home, uris

    # -- what it is -------------------------------------------------------------------------------
    @property
    def paths(self) -> list[dict[str, str]]:
        """The paths as the MLTable file gives them."""
        return [{p.kind: p.value} for p in self._definition.paths]

    @property
    def definition(self) -> MLTableDefinition:
        """openaml's own: the parsed MLTable (typed records)."""
        return self._definition

    def __repr__(self) -> str:
        return dump_text(dump_mltable(self._definition)).rstrip("\n")

    def __str__(self) -> str:
        return self.__repr__()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MLTable) and self._definition == other._definition

    __hash__ = None  # type: ignore[assignment]  - mutable-looking equality, as Azure's

    def __getattr__(self, name: str) -> Any:
        if name in _UNSUPPORTED_METHODS:
            raise NotImplementedError(f"openaml does not support MLTable.{name} ({_UNSUPPORTED_METHODS[name]}); "
                                      "see docs/mltable.md")
        raise AttributeError(f"'MLTable' object has no attribute {name!r}")

    # -- steps ------------------------------------------------------------------------------------
    def _then(self, step: Transformation) -> "MLTable":
        steps = self._definition.transformations + (step,)
        return MLTable(dataclasses.replace(self._definition, transformations=steps), self._home, self._uris)

    def take(self, count: int = 20) -> "MLTable":
        """The first *count* rows (a positive integer)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValidationError(f"take needs a positive integer, not {count!r}", field="count")
        return self._then(Take(count=count))

    def skip(self, count: int) -> "MLTable":
        """All rows but the first *count* (a positive integer)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValidationError(f"skip needs a positive integer, not {count!r}", field="count")
        return self._then(Skip(count=count))

    def take_random_sample(self, probability: float, seed: int | None = None) -> "MLTable":
        """Each row kept with *probability* (a float strictly between 0 and 1). Without a *seed*
        one is drawn now, so the returned table gives the same rows each time it is read."""
        if not isinstance(probability, float) or not 0 < probability < 1:
            raise ValidationError(f"probability must be a float between 0 and 1, not {probability!r}",
                                  field="probability")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValidationError(f"seed must be a non-negative integer, not {seed!r}", field="seed")
        chosen = seed if seed is not None else random.randint(1, 1000)  # as Azure's MLTable draws it
        return self._then(TakeRandomSample(probability=probability, seed=chosen))

    def keep_columns(self, columns: str | Iterable[str]) -> "MLTable":
        """Only *columns* (names not in the table are ignored, as in Azure)."""
        return self._then(KeepColumns(columns=_columns(columns)))

    def drop_columns(self, columns: str | Iterable[str]) -> "MLTable":
        """Every column but *columns*."""
        return self._then(DropColumns(columns=_columns(columns)))

    def convert_column_types(self, column_types: dict[str | tuple[str, ...], Any]) -> "MLTable":
        """Convert columns: ``{"Count": DataType.to_int(), ("A", "B"): "float"}``; values that
        do not convert become null."""
        if not isinstance(column_types, dict) or not column_types:
            raise ValidationError("convert_column_types needs a non-empty dict of column -> DataType",
                                  field="column_types")
        conversions = []
        seen: set[str] = set()
        for columns, kind in column_types.items():
            selector = _columns(columns if isinstance(columns, (str, tuple)) else [columns], "column_types")
            again = seen & set(selector.names)
            if again:
                raise ValidationError(f"column {sorted(again)[0]!r} is converted twice", field="column_types")
            seen |= set(selector.names)
            conversions.append(ColumnConversion(selector, DataType._from(kind).column_type))
        return self._then(ConvertColumnTypes(conversions=tuple(conversions)))

    # -- reading ----------------------------------------------------------------------------------
    def to_arrow(self) -> "pa.Table":
        """openaml's own: the rows as a pyarrow table."""
        from .readers import read_files
        from .transforms import apply

        _need_pyarrow()
        files = table_files(self._definition, self._home, self._uris.open)
        return apply(read_files(self._definition, files), self._definition.transformations)

    def to_pandas_dataframe(self) -> "pd.DataFrame":
        """Every row, read from the paths, through every step, as a pandas DataFrame."""
        return self.to_arrow().to_pandas()

    def show(self, count: int = 20) -> "pd.DataFrame":
        """The first *count* rows as a pandas DataFrame."""
        return self.take(count).to_pandas_dataframe()


def load_table(uri: str | Path, *, ml_client: "MLClient | None" = None) -> MLTable:
    """Load the MLTable in the folder *uri* (Azure's ``mltable.load``): a local folder, or
    ``azureml://datastores/<ds>/paths/<folder>``, a storage URI (``wasbs://``, ``abfss://``,
    ``https://``, ``s3://``), a data asset ``azureml:<name>:<version>`` or a job output. A URI is
    read through *ml_client*'s workspace (by default the job's, in a job, else
    ``MLClient()``'s). The ``MLTable`` file is read and checked now; the data when the table is
    read. Install ``openaml[mltable]`` to read it.
    """
    text = str(uri)
    uris = UriTrees(ml_client)
    if is_table_uri(text):
        tree = uris.open(text, "uri")
        if tree.kind(MLTABLE_FILE) != "file":
            raise NotFoundError(f"{text}: no {MLTABLE_FILE} file there; load_table needs the folder holding one",
                                path=text)
        home: Tree = tree
    else:
        folder = Path(text).expanduser().resolve()
        if folder.is_file() and folder.name == MLTABLE_FILE:
            folder = folder.parent
        if not (folder / MLTABLE_FILE).is_file():
            raise NotFoundError(f"{folder}: no {MLTABLE_FILE} file there; load_table needs the folder holding one",
                                path=str(folder))
        home = LocalTree(folder)
    file = home.display(MLTABLE_FILE)
    if home.size(MLTABLE_FILE) > MLTABLE_MAX_BYTES:
        raise ValidationError(f"the MLTable file is larger than {MLTABLE_MAX_BYTES // 1024} KiB; an MLTable file "
                              "describes a table, it does not hold one", file=file)
    raw = home.read(MLTABLE_FILE)
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"not UTF-8 text (byte {exc.start})", file=file) from None
    return MLTable(parse_mltable(content, file), home, uris)


def load(uri: str | Path, storage_options: dict[str, Any] | None = None, ml_client: "MLClient | None" = None) -> MLTable:
    """Azure's ``mltable.load(uri, storage_options, ml_client)``: :func:`load_table`
    (``storage_options``, Azure's workspace coordinates, are accepted and not needed)."""
    return load_table(uri, ml_client=ml_client)
