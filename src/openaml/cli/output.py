"""Rendering results as JSON (the default, as az), YAML or a table."""

from __future__ import annotations

import io
import json
from typing import Any, Iterable, Sequence

import click
from rich.console import Console
from rich.table import Table
from ruamel.yaml import YAML

from openaml.entities._base import Entity
from openaml.entities.secrets import redact

FORMATS = ("json", "yaml", "table")
_TABLE_COLUMNS = ("name", "version", "type", "stage", "description", "created_at")


def to_plain(item: Any) -> Any:
    """An entity (or list of them) as the plain dict shown to users. Secrets are never shown:
    the services leave them out, and what reaches the terminal is redacted once more here."""
    if isinstance(item, Entity):
        return redact(item)._to_dict()
    if isinstance(item, (list, tuple)):
        return [to_plain(i) for i in item]
    return item


def emit(result: Any, fmt: str, columns: Sequence[str] | None = None) -> None:
    """Write ``result`` to stdout in ``fmt``."""
    data = to_plain(result)
    if fmt == "yaml":
        buf = io.StringIO()
        yaml = YAML()
        yaml.default_flow_style = False
        yaml.dump(data, buf)
        click.echo(buf.getvalue(), nl=False)
    elif fmt == "table":
        _table(data if isinstance(data, list) else [data], columns)
    else:
        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def _cell(row: dict[str, Any], column: str) -> str:
    if column == "status" and "status" in row:
        return str(row["status"])
    if column == "created_at":
        value = (row.get("creation_context") or {}).get("created_at", "")
        return str(value)[:19].replace("T", " ")
    value = row.get(column)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _table(rows: Iterable[dict[str, Any]], columns: Sequence[str] | None) -> None:
    rows = list(rows)
    if columns is None:
        present = {k for r in rows for k in r} | ({"created_at"} if any("creation_context" in r for r in rows) else set())
        columns = [c for c in _TABLE_COLUMNS if c in present] or sorted(present)[:6]
    table = Table(*[c.replace("_", " ").title() for c in columns], box=None, pad_edge=False)
    for row in rows:
        table.add_row(*[_cell(row, c) for c in columns])
    Console(width=200).print(table)
