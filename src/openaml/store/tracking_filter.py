"""The subset of MLflow's search syntax the tracking store understands.

A filter is clauses joined by ``AND``; a clause is ``<kind>.<key> <op> <value>``:

- kind: ``attributes``/``attribute``/``attr``/``run`` (or none), ``tags``/``tag``,
  ``params``/``param``, ``metrics``/``metric``; a key may be quoted with backticks or
  double quotes (``tags.`mlflow.runName```).
- op: ``= != > >= < <=``, ``LIKE``, ``ILIKE``, ``IN``, ``NOT IN``.
- value: a quoted string, a number, or a parenthesised list of quoted strings for IN.

``order_by`` items are ``<kind>.<key> [ASC|DESC]``. OR, parentheses and dataset filters are
not supported and raise :class:`ValidationError` (MLflow's INVALID_PARAMETER_VALUE).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openaml.errors import ValidationError

_KINDS = {
    "": "attribute", "attribute": "attribute", "attributes": "attribute", "attr": "attribute",
    "run": "attribute", "tag": "tag", "tags": "tag", "param": "param", "params": "param",
    "parameter": "param", "parameters": "param", "metric": "metric", "metrics": "metric",
}
_IDENT = r"(?:(?P<kind>[A-Za-z_]+)\.)?(?P<key>`[^`]+`|\"[^\"]+\"|[\w.\-:/]+)"
_OP = r"(?P<op>!=|>=|<=|=|>|<|(?:NOT\s+)?IN\b|I?LIKE\b)"
_VALUE = r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\([^)]*\)|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_CLAUSE = re.compile(rf"\s*{_IDENT}\s*{_OP}\s*{_VALUE}\s*", re.IGNORECASE)
_AND = re.compile(r"AND\b", re.IGNORECASE)
_ORDER = re.compile(rf"\s*{_IDENT}(?:\s+(?P<dir>ASC|DESC))?\s*$", re.IGNORECASE)

COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge,
    "<": operator.lt, "<=": operator.le,
}


@dataclass(frozen=True)
class Clause:
    """One comparison: ``kind`` is attribute, tag, param or metric."""

    kind: str
    key: str
    op: str
    value: Any


@dataclass(frozen=True)
class OrderBy:
    kind: str
    key: str
    ascending: bool


def _unquote_key(key: str) -> str:
    return key[1:-1] if key[:1] in "`\"" and key[-1:] == key[:1] else key


def _parse_value(text: str, op: str) -> Any:
    if text.startswith("("):
        if op not in ("IN", "NOT IN"):
            raise ValidationError(f"A list value needs IN or NOT IN, not {op}.")
        items = re.findall(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", text)
        return tuple(a or b for a, b in items)
    if text[:1] in "'\"":
        return text[1:-1].replace("\\" + text[0], text[0])
    return float(text)


def _kind(raw: str | None, text: str) -> str:
    kind = _KINDS.get((raw or "").lower())
    if kind is None:
        raise ValidationError(f"Invalid entity type {raw!r} in {text!r}; expected attributes, "
                              "tags, params or metrics.")
    return kind


def parse_filter(text: str | None) -> list[Clause]:
    """Clauses of *text* (empty for no filter); unsupported syntax raises ValidationError."""
    clauses: list[Clause] = []
    pos, text = 0, (text or "").strip()
    while pos < len(text):
        match = _CLAUSE.match(text, pos)
        if match is None:
            raise ValidationError(f"Unsupported filter {text!r} near {text[pos:pos + 30]!r}: "
                                  "use clauses like tags.x = 'y' joined by AND.")
        op = " ".join(match["op"].upper().split())
        clauses.append(Clause(_kind(match["kind"], text), _unquote_key(match["key"]), op,
                              _parse_value(match["value"], op)))
        pos = match.end()
        if pos < len(text):
            conj = _AND.match(text, pos)
            if conj is None:
                raise ValidationError(f"Unsupported filter {text!r}: only AND joins clauses.")
            pos = conj.end()
    return clauses


def parse_order_by(items: list[str] | None) -> list[OrderBy]:
    """``order_by`` strings as :class:`OrderBy` (default ascending, as MLflow)."""
    result = []
    for item in items or []:
        match = _ORDER.match(item)
        if match is None:
            raise ValidationError(f"Invalid order_by clause {item!r}.")
        result.append(OrderBy(_kind(match["kind"], item), _unquote_key(match["key"]),
                              (match["dir"] or "ASC").upper() == "ASC"))
    return result


def like_to_regex(pattern: str, *, case_insensitive: bool) -> re.Pattern[str]:
    """SQL LIKE (``%`` any run, ``_`` one character) as a compiled regex."""
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
    return re.compile(f"^{body}$", flags)


def compare(actual: Any, op: str, expected: Any) -> bool:
    """Evaluate one clause's comparison in Python (None never matches)."""
    if actual is None:
        return False
    if op in ("IN", "NOT IN"):
        return (str(actual) in expected) == (op == "IN")
    if op in ("LIKE", "ILIKE"):
        return like_to_regex(str(expected), case_insensitive=op == "ILIKE").match(str(actual)) is not None
    if isinstance(expected, float):
        try:
            actual = float(actual)
        except (TypeError, ValueError):
            return False
    return COMPARE[op](actual, expected)


def matches(clauses: list[Clause], lookup: Callable[[str, str], Any]) -> bool:
    """True when every clause holds; ``lookup(kind, key)`` gives the entity's value or None."""
    return all(compare(lookup(c.kind, c.key), c.op, c.value) for c in clauses)


__all__ = ["Clause", "OrderBy", "compare", "matches", "parse_filter", "parse_order_by"]
