"""MLflow's search syntax for registered models and model versions, checked the way MLflow checks
it (the keys and comparators each search allows) and evaluated over records in memory.

Registered models: attribute ``name`` (``= != LIKE ILIKE IN NOT IN``) and ``tags.<key>``;
ordered by ``name`` (the default, ascending) or ``last_updated_timestamp``/``timestamp``.
Model versions: ``name`` and ``run_id`` (also ``IN``), ``source_path``, ``version_number``
(numeric comparisons) and ``tags.<key>``; ordered by ``name``, ``version_number``,
``creation_timestamp`` or ``last_updated_timestamp``, then by name ascending and version
descending.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from openaml.errors import ValidationError
from openaml.names import int_version
from openaml.services.mlflow_registry_records import ModelVersionInfo, RegisteredModelInfo
from openaml.store.tracking_filter import Clause, OrderBy, compare, parse_filter, parse_order_by
from openaml.store.tracking_records import Page, paginate, read_page_token

T = TypeVar("T")

_TAG_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})
_STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"})
_NUMBER_OPS = frozenset({"=", "!=", ">", ">=", "<", "<="})
REGISTERED_MODELS_MAX_RESULTS = (100, 1000)  # MLflow's default and largest page
MODEL_VERSIONS_MAX_RESULTS = (10_000, 200_000)


@dataclass(frozen=True)
class _Rules:
    """What one search accepts: attribute -> its comparators, and the order-by keys."""

    attributes: dict[str, frozenset[str]]
    order_keys: dict[str, str]  # key in order_by -> attribute of the record


_MODEL_RULES = _Rules({"name": _STRING_OPS},
                      {"name": "name", "timestamp": "last_updated_timestamp",
                       "last_updated_timestamp": "last_updated_timestamp"})
_VERSION_RULES = _Rules(
    {"name": _STRING_OPS, "run_id": _STRING_OPS, "source_path": _STRING_OPS - {"IN", "NOT IN"},
     "version_number": _NUMBER_OPS},
    {"name": "name", "version_number": "version_number", "creation_timestamp": "creation_timestamp",
     "last_updated_timestamp": "last_updated_timestamp"})


def _compare(actual: Any, op: str, expected: Any) -> bool:
    """One comparison; a missing tag is different from any value (clients send
    ``tags.`mlflow.prompt.is_prompt` != 'true'`` to leave MLflow's prompts out)."""
    if actual is None:
        return op == "!="
    return compare(actual, op, expected)


def _check(clauses: list[Clause], rules: _Rules) -> None:
    for clause in clauses:
        if clause.kind == "tag":
            allowed = _TAG_OPS
        elif clause.kind == "attribute":
            if clause.key not in rules.attributes:
                raise ValidationError(f"Invalid attribute key '{clause.key}' specified. Valid keys are "
                                      f"{sorted(rules.attributes)}.", field="filter")
            allowed = rules.attributes[clause.key]
        else:
            raise ValidationError(f"Invalid entity type '{clause.kind}' in the filter; only attributes and "
                                  "tags can be searched here.", field="filter")
        if clause.op not in allowed:
            raise ValidationError(f"Invalid comparator '{clause.op}' for {clause.kind} '{clause.key}'; "
                                  f"expected one of {sorted(allowed)}.", field="filter")


def _orders(order_by: Sequence[str] | None, rules: _Rules) -> list[OrderBy]:
    orders = parse_order_by(list(order_by or []))
    seen: set[str] = set()
    for order in orders:
        if order.kind != "attribute" or order.key not in rules.order_keys:
            raise ValidationError(f"Invalid order by key '{order.key}' specified. Valid keys are "
                                  f"{sorted(rules.order_keys)}.", field="order_by")
        if rules.order_keys[order.key] in seen:
            raise ValidationError(f"`order_by` contains duplicate fields: {list(order_by or [])}", field="order_by")
        seen.add(rules.order_keys[order.key])
    return orders


def _max_results(value: int | None, limits: tuple[int, int]) -> int:
    default, largest = limits
    if value is None:
        return default
    if not 0 <= value <= largest:  # 0 is a page of nothing, with a token for the next
        raise ValidationError(f"Invalid value for request parameter max_results. It must be at most "
                              f"{largest}, but got value {value}", field="max_results")
    return value


def _page(items: list[T], max_results: int, page_token: str | None) -> Page[T]:
    offset = read_page_token(page_token)
    return paginate(items[offset:offset + max_results + 1], offset, max_results)


def _sort(items: list[T], orders: list[OrderBy], keys: dict[str, str], value: Callable[[T, str], Any]) -> list[T]:
    for order in reversed(orders):  # stable sorts, last key first
        items.sort(key=lambda item: value(item, keys[order.key]), reverse=not order.ascending)
    return items


def version_number(version: str) -> int:
    """A version's number for sorting and comparing (-1 for openaml's non-integer versions)."""
    number = int_version(version)
    return -1 if number is None else number


def search_registered_models(models: list[RegisteredModelInfo], filter_string: str | None,
                             max_results: int | None, order_by: Sequence[str] | None,
                             page_token: str | None) -> Page[RegisteredModelInfo]:
    """One page of *models* matching *filter_string*, in MLflow's order."""
    clauses, size = parse_filter(filter_string), _max_results(max_results, REGISTERED_MODELS_MAX_RESULTS)
    _check(clauses, _MODEL_RULES)
    orders = _orders(order_by, _MODEL_RULES)

    def lookup(model: RegisteredModelInfo, kind: str, key: str) -> Any:
        return model.name if kind == "attribute" else model.tags.get(key)

    found = [m for m in models if all(_compare(lookup(m, c.kind, c.key), c.op, c.value) for c in clauses)]
    found.sort(key=lambda m: m.name)
    return _page(_sort(found, orders, _MODEL_RULES.order_keys, getattr), size, page_token)


def filter_versions(filter_string: str | None) -> Callable[[ModelVersionInfo], bool]:
    """A predicate for *filter_string* over model versions (raises on a filter MLflow refuses)."""
    clauses = parse_filter(filter_string)
    _check(clauses, _VERSION_RULES)

    def lookup(mv: ModelVersionInfo, kind: str, key: str) -> Any:
        if kind == "tag":
            return mv.tags.get(key)
        return {"name": mv.name, "run_id": mv.run_id, "source_path": mv.source,
                "version_number": version_number(mv.version)}[key]

    def check(clause: Clause, mv: ModelVersionInfo) -> bool:
        if clause.key == "version_number" and clause.kind == "attribute":
            try:
                expected = int(clause.value)
            except (TypeError, ValueError):
                raise ValidationError(f"Invalid value for numeric attribute 'version_number': {clause.value!r}",
                                      field="filter") from None
            return compare(float(version_number(mv.version)), clause.op, float(expected))
        return _compare(lookup(mv, clause.kind, clause.key), clause.op, clause.value)

    return lambda mv: all(check(c, mv) for c in clauses)


def search_model_versions(versions: list[ModelVersionInfo], max_results: int | None,
                          order_by: Sequence[str] | None, page_token: str | None) -> Page[ModelVersionInfo]:
    """One page of (already filtered) *versions*, in MLflow's order."""
    size = _max_results(max_results, MODEL_VERSIONS_MAX_RESULTS)
    orders = _orders(order_by, _VERSION_RULES)
    # MLflow's default order: the most recently changed first (a stage transition or a new
    # description changes a version; tags do not), then the highest version.
    items = sorted(versions, key=lambda mv: (-mv.last_updated_timestamp, -version_number(mv.version)))

    def value(mv: ModelVersionInfo, attribute: str) -> Any:
        return version_number(mv.version) if attribute == "version_number" else getattr(mv, attribute)

    return _page(_sort(items, orders, _VERSION_RULES.order_keys, value), size, page_token)
