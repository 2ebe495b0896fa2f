"""The ``transformations`` of an MLTable file, read into typed steps (and written back).

Each step is one item of the list: a mapping of one key (``take: 5``, ``read_delimited: {...}``)
or, for a reader with its defaults, the bare name (``- read_parquet``). Arguments are checked
against Azure's MLTable schema; a step Azure has and openaml does not run (``filter``,
``read_delta_lake``...) is refused by name, and so is an unknown one, with the closest known
name. Every error names the file, the field (``transformations.2.take``) and the line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Callable

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from openaml.entities.mltable import (ENCODINGS, HEADERS, ColumnConversion, ColumnSelector, ColumnType,
                                      ConvertColumnTypes, DropColumns, KeepColumns, MLTableDefinition, ReadDelimited,
                                      ReadJsonLines, ReadParquet, Skip, Take, TakeRandomSample, Transformation, READERS)
from openaml.errors import ValidationError

from ._errors import suggest
from .yamlio import to_plain

__all__ = ["SUPPORTED", "UNSUPPORTED", "check_date_constant", "dump_mltable", "parse_transformations", "unsupported_message"]

#: What openaml runs.
SUPPORTED = ("read_delimited", "read_parquet", "read_json_lines", "take", "skip", "take_random_sample",
             "keep_columns", "drop_columns", "convert_column_types")
#: What Azure's schema has and openaml does not run, with what it is.
UNSUPPORTED = {
    "read_delta_lake": "reading Delta Lake tables",
    "extract_columns_from_partition_format": "columns from a partition format",
    "filter": "filter expressions",
    "select_partitions": "selecting partitions",
    "sample": "random_split's sampler",
}
SIMPLE_TYPES = ("string", "int", "float", "boolean")
MISMATCH = ("error", "true", "false")


def unsupported_message(name: str) -> str:
    """Why openaml refuses the Azure transformation (or method) *name*."""
    return (f"openaml does not support the MLTable transformation '{name}' ({UNSUPPORTED[name]}); "
            f"it supports: {', '.join(SUPPORTED)} (see docs/mltable.md)")


@dataclass(frozen=True)
class At:
    """Where a value is: the file, its field path and line, for errors."""

    file: str | None
    field: str
    line: int | None

    def error(self, message: str) -> ValidationError:
        return ValidationError(message, file=self.file, field=self.field, line=self.line)

    def key(self, node: CommentedMap, key: Any) -> "At":
        return At(self.file, f"{self.field}.{key}", node.lc.key(key)[0] + 1)

    def item(self, node: CommentedSeq, i: int) -> "At":
        return At(self.file, f"{self.field}.{i}", node.lc.item(i)[0] + 1)


Args = dict[str, tuple[Any, At]]


def parse_transformations(root: CommentedMap, file: str) -> tuple[Transformation, ...]:
    """The ``transformations`` of an MLTable file's top level, checked (see the module)."""
    if "transformations" not in root or root["transformations"] is None:
        return ()
    node, at = root["transformations"], At(file, "transformations", root.lc.key("transformations")[0] + 1)
    if isinstance(node, CommentedMap):  # {name: args, ...}: each key a step, in order
        items = [(CommentedMap({k: v}), at.key(node, k)) for k, v in node.items()]
    elif isinstance(node, CommentedSeq):
        items = [(node[i], at.item(node, i)) for i in range(len(node))]
    else:
        raise at.error("transformations must be a list of steps")
    steps = tuple(_step(item, where) for item, where in items)
    for i, step in enumerate(steps):
        if isinstance(step, READERS) and i > 0:
            raise ValidationError(f"{step.name} must be the first transformation (it reads the files)",
                                  file=file, field=f"transformations.{i}", line=step.line)
    return steps


def _step(item: Any, at: At) -> Transformation:
    if isinstance(item, str):
        name, args, where = item, None, at
    elif isinstance(item, CommentedMap) and len(item) == 1:
        name = next(iter(item))
        args, where = item[name], at.key(item, name)
    else:
        raise at.error("each transformation is one name with its arguments, e.g. '- take: 10'")
    name = str(name)
    if name in UNSUPPORTED:
        raise where.error(unsupported_message(name))
    parser = _PARSERS.get(name)
    if parser is None:
        raise where.error(f"Unknown transformation '{name}'.{suggest(name, list(SUPPORTED))} "
                          f"openaml supports: {', '.join(SUPPORTED)}")
    if isinstance(item, str) and name not in ("read_delimited", "read_parquet", "read_json_lines"):
        raise where.error(f"{name} needs a value, e.g. '- {name}: ...'")
    return dataclasses.replace(parser(args, where), line=where.line)


# -- argument checks ------------------------------------------------------------------------------
def _args(node: Any, at: At, allowed: tuple[str, ...]) -> Args:
    if node is None:
        return {}
    if not isinstance(node, CommentedMap):
        raise at.error(f"arguments must be a mapping of {', '.join(allowed)}")
    out: Args = {}
    for key in node:
        where = at.key(node, key)
        if key not in allowed:
            raise where.error(f"Unknown argument '{key}'.{suggest(str(key), list(allowed))} "
                              f"It takes: {', '.join(allowed)}")
        out[str(key)] = (node[key], where)
    return out


def _bool(args: Args, key: str, default: bool) -> bool:
    if key not in args:
        return default
    value, at = args[key]
    if not isinstance(value, bool):
        raise at.error(f"must be true or false, not {value!r}")
    return value


def _int(value: Any, at: At, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise at.error(f"must be an integer, not {value!r}")
    if value < minimum:
        raise at.error(f"must be at least {minimum}, not {value}")
    return int(value)


def _text(value: Any, at: At, *, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str) or not value:
        raise at.error(f"must be a non-empty string, not {value!r}")
    if choices is not None and value.lower() not in choices:
        raise at.error(f"must be one of {', '.join(choices)}, not {value!r}.{suggest(value, list(choices))}")
    return value.lower() if choices is not None else str(value)


def _opt(args: Args, key: str, default: Any, check: Callable[[Any, At], Any]) -> Any:
    return check(*args[key]) if key in args else default


# -- readers ----------------------------------------------------------------------------------------
def _read_delimited(node: Any, at: At) -> ReadDelimited:
    args = _args(node, at, ("delimiter", "header", "support_multi_line", "empty_as_string", "encoding",
                            "include_path_column", "path_column", "infer_column_types", "partition_size"))
    delimiter = _opt(args, "delimiter", ",", _delimiter)
    infer, overrides, sample = _opt(args, "infer_column_types", (True, (), None), _infer)
    return ReadDelimited(
        delimiter=delimiter, header=_opt(args, "header", "all_files_same_headers", lambda v, a: _text(v, a, choices=HEADERS)),
        support_multi_line=_bool(args, "support_multi_line", False), empty_as_string=_bool(args, "empty_as_string", False),
        encoding=_opt(args, "encoding", "utf8", lambda v, a: _text(v, a, choices=tuple(ENCODINGS))),
        include_path_column=_bool(args, "include_path_column", False),
        path_column=_opt(args, "path_column", "Path", _text), infer_column_types=infer,
        column_type_overrides=overrides, sample_size=sample,
        partition_size=_opt(args, "partition_size", None, lambda v, a: _int(v, a, minimum=1)))


def _delimiter(value: Any, at: At) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 2:
        raise at.error(f"must be one or two characters, not {value!r}")
    if len(value) == 2:
        raise at.error(f"openaml reads one-character delimiters only, not {value!r}")
    if value in ('"', "\n", "\r"):
        raise at.error(f"{value!r} cannot separate columns")
    return value


def _infer(value: Any, at: At) -> tuple[bool, tuple[ColumnConversion, ...], int | None]:
    if isinstance(value, bool):
        return value, (), None
    args = _args(value, at, ("sample_size", "column_type_overrides"))
    sample = _opt(args, "sample_size", None, lambda v, a: _int(v, a, minimum=1))
    overrides: tuple[ColumnConversion, ...] = ()
    if "column_type_overrides" in args:
        node, where = args["column_type_overrides"]
        overrides = _conversions(node, where, patterns=False)
    return True, overrides, sample


def _read_parquet(node: Any, at: At) -> ReadParquet:
    args = _args(node, at, ("include_path_column", "path_column"))
    return ReadParquet(include_path_column=_bool(args, "include_path_column", False),
                       path_column=_opt(args, "path_column", "Path", _text))


def _read_json_lines(node: Any, at: At) -> ReadJsonLines:
    args = _args(node, at, ("invalid_lines", "encoding", "include_path_column", "path_column", "partition_size"))
    return ReadJsonLines(
        invalid_lines=_opt(args, "invalid_lines", "error", lambda v, a: _text(v, a, choices=("error", "drop"))),
        encoding=_opt(args, "encoding", "utf8", lambda v, a: _text(v, a, choices=tuple(ENCODINGS))),
        include_path_column=_bool(args, "include_path_column", False),
        path_column=_opt(args, "path_column", "Path", _text),
        partition_size=_opt(args, "partition_size", None, lambda v, a: _int(v, a, minimum=1)))


# -- rows -------------------------------------------------------------------------------------------
def _take(node: Any, at: At) -> Take:
    return Take(count=_int(node, at, minimum=0))


def _skip(node: Any, at: At) -> Skip:
    return Skip(count=_int(node, at, minimum=0))


def _sample(node: Any, at: At) -> TakeRandomSample:
    args = _args(node, at, ("probability", "seed"))
    if "probability" not in args:
        raise at.error("take_random_sample needs a probability between 0 and 1")
    value, where = args["probability"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise where.error(f"must be a number between 0 and 1, not {value!r}")
    seed = _opt(args, "seed", None, lambda v, a: _int(v, a, minimum=0))
    return TakeRandomSample(probability=float(value), seed=seed)


# -- columns ----------------------------------------------------------------------------------------
def _selector(node: Any, at: At, *, patterns: bool = True) -> ColumnSelector:
    if isinstance(node, str):
        return ColumnSelector(names=(node,))
    if isinstance(node, CommentedSeq):
        names = tuple(_text(node[i], at.item(node, i)) for i in range(len(node)))
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise at.error(f"names a column twice: {', '.join(duplicates)}")
        return ColumnSelector(names=names)
    if patterns and isinstance(node, CommentedMap):
        args = _args(node, at, ("pattern", "ignore_case", "invert"))
        if "pattern" not in args:
            raise at.error("a column pattern needs 'pattern' (a regular expression)")
        pattern, where = args["pattern"]
        _regex(pattern, where)
        return ColumnSelector(pattern=pattern, ignore_case=_bool(args, "ignore_case", False),
                              invert=_bool(args, "invert", False))
    kinds = "a column name, a list of names or {pattern: ...}" if patterns else "a column name or a list of names"
    raise at.error(f"must be {kinds}")


def _regex(value: Any, at: At) -> None:
    if not isinstance(value, str):
        raise at.error(f"a pattern must be a string, not {value!r}")
    try:
        re.compile(value)
    except re.error as exc:
        raise at.error(f"{value!r} is not a regular expression: {exc}") from None


def _keep(node: Any, at: At) -> KeepColumns:
    return KeepColumns(columns=_selector(node, at))


def _drop(node: Any, at: At) -> DropColumns:
    return DropColumns(columns=_selector(node, at))


def _convert(node: Any, at: At) -> ConvertColumnTypes:
    return ConvertColumnTypes(conversions=_conversions(node, at, patterns=True))


def _conversions(node: Any, at: At, *, patterns: bool) -> tuple[ColumnConversion, ...]:
    if not isinstance(node, CommentedSeq) or not node:
        raise at.error("must be a non-empty list of {columns: ..., column_type: ...}")
    out = []
    for i in range(len(node)):
        where = at.item(node, i)
        args = _args(node[i], where, ("columns", "column_type"))
        for key in ("columns", "column_type"):
            if key not in args:
                raise where.error(f"each conversion needs '{key}'")
        out.append(ColumnConversion(_selector(*args["columns"], patterns=patterns), _column_type(*args["column_type"])))
    return tuple(out)


def _column_type(node: Any, at: At) -> ColumnType:
    if isinstance(node, str):
        if node == "stream_info":
            raise at.error("openaml does not support converting to stream_info (a column of file handles)")
        return ColumnType(kind=_text(node, at, choices=SIMPLE_TYPES))  # type: ignore[arg-type]
    if not isinstance(node, CommentedMap) or len(node) != 1:
        raise at.error(f"must be one of {', '.join(SIMPLE_TYPES)}, {{boolean: {{...}}}} or {{datetime: {{...}}}}")
    kind = str(next(iter(node)))
    where = at.key(node, kind)
    if kind == "boolean":
        return _boolean(_args(node[kind], where, ("true_values", "false_values", "mismatch_as")), where)
    if kind == "datetime":
        return _datetime(_args(node[kind], where, ("formats", "date_constant")), where)
    if kind == "stream_info":
        raise where.error("openaml does not support converting to stream_info (a column of file handles)")
    raise where.error(f"Unknown column type '{kind}'.{suggest(kind, ['boolean', 'datetime'])}")


def _strings(value: Any, at: At) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, CommentedSeq) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise at.error("must be a string or a list of strings")


def _boolean(args: Args, at: At) -> ColumnType:
    true = _opt(args, "true_values", (), _strings)
    false = _opt(args, "false_values", (), _strings)
    if bool(true) != bool(false):
        raise at.error("true_values and false_values go together: give both or neither")
    if set(true) & set(false):
        raise at.error(f"a value cannot be both true and false: {', '.join(sorted(set(true) & set(false)))}")
    mismatch = _opt(args, "mismatch_as", None, lambda v, a: _text(v, a, choices=MISMATCH))
    return ColumnType(kind="boolean", true_values=true, false_values=false, mismatch_as=mismatch)


def _datetime(args: Args, at: At) -> ColumnType:
    if "formats" not in args:
        raise at.error("datetime needs formats (strptime's, e.g. '%Y-%m-%d')")
    formats = _strings(*args["formats"])
    constant = _opt(args, "date_constant", None, _date)
    return ColumnType(kind="datetime", formats=formats, date_constant=constant)


def _date(value: Any, at: At) -> str:
    try:
        check_date_constant(value)
    except ValueError as exc:
        raise at.error(str(exc)) from None
    return value


def check_date_constant(value: Any) -> None:
    """Refuse a ``date_constant`` that is not an ISO date (``2024-01-31``)."""
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"date_constant must be a date written YYYY-MM-DD, not {value!r}") from None


_PARSERS: dict[str, Callable[[Any, At], Transformation]] = {
    "read_delimited": _read_delimited, "read_parquet": _read_parquet, "read_json_lines": _read_json_lines,
    "take": _take, "skip": _skip, "take_random_sample": _sample, "keep_columns": _keep, "drop_columns": _drop,
    "convert_column_types": _convert,
}


# -- writing back -----------------------------------------------------------------------------------
def dump_mltable(table: MLTableDefinition) -> dict[str, Any]:
    """The MLTable file's content for *table* (what ``str(MLTable)`` shows, as Azure's does)."""
    out: dict[str, Any] = {"type": "mltable", "paths": [{p.kind: p.value} for p in table.paths]}
    if table.transformations:
        out["transformations"] = [{step.name: _dump_step(step)} for step in table.transformations]
    if table.traits:
        out["traits"] = to_plain(table.traits)
    if table.metadata:
        out["metadata"] = to_plain(table.metadata)
    return out


def _dump_step(step: Transformation) -> Any:
    if isinstance(step, (Take, Skip)):
        return step.count
    if isinstance(step, (KeepColumns, DropColumns)):
        return _dump_selector(step.columns)
    if isinstance(step, ConvertColumnTypes):
        return [_dump_conversion(c) for c in step.conversions]
    if isinstance(step, TakeRandomSample):
        return {"probability": step.probability, **({"seed": step.seed} if step.seed is not None else {})}
    args = {f.name: getattr(step, f.name) for f in dataclasses.fields(step)
            if f.name not in ("line", "column_type_overrides", "sample_size") and getattr(step, f.name) is not None}
    if isinstance(step, ReadDelimited) and (step.column_type_overrides or step.sample_size):
        infer: dict[str, Any] = {"column_type_overrides": [_dump_conversion(c) for c in step.column_type_overrides]}
        if step.sample_size:
            infer["sample_size"] = step.sample_size
        args["infer_column_types"] = infer
    return args


def _dump_selector(sel: ColumnSelector) -> Any:
    if sel.pattern is not None:
        return {"pattern": sel.pattern, "ignore_case": sel.ignore_case, "invert": sel.invert}
    return sel.names[0] if len(sel.names) == 1 else list(sel.names)


def _dump_conversion(conv: ColumnConversion) -> dict[str, Any]:
    kind = conv.column_type
    if kind.kind == "boolean" and (kind.true_values or kind.mismatch_as):
        args: dict[str, Any] = {}
        if kind.true_values:
            args.update(true_values=list(kind.true_values), false_values=list(kind.false_values))
        if kind.mismatch_as:
            args["mismatch_as"] = kind.mismatch_as
        column_type: Any = {"boolean": args}
    elif kind.kind == "datetime":
        column_type = {"datetime": {"formats": list(kind.formats),
                                    **({"date_constant": kind.date_constant} if kind.date_constant else {})}}
    else:
        column_type = kind.kind
    return {"columns": _dump_selector(conv.columns), "column_type": column_type}
