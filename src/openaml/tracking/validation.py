"""Request validation before any handler runs: MLflow's protobuf-derived rules, per route.

MLflow's server checks each request against a schema (``_get_request_message`` with
``_assert_required``, ``_assert_string``, ``_assert_intlike`` ...) and its store against the
limits of ``mlflow.utils.validation`` (key and value lengths, batch sizes). The same rules live
here as data, so a malformed request is a 400 ``INVALID_PARAMETER_VALUE`` naming the parameter
(with MLflow's wording, which clients show) and never reaches the store, where a wrong type would
otherwise surface as a 500.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from openaml.tracking.wire import MlflowApiError

Kind = Literal["string", "int", "float", "bool", "array", "strings", "object"]

# MLflow's limits (mlflow.utils.validation).
MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_VAL_LENGTH = 20000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000
MAX_RESULTS_SEARCH = 50000
MAX_RUNS_HISTORY_BULK = 100
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_DATASET_SOURCE_SIZE = 65535
MAX_DATASET_SCHEMA_SIZE = 1048575
MAX_DATASET_PROFILE_SIZE = 16777215
MAX_INPUT_TAG_KEY_SIZE = 255
MAX_INPUT_TAG_VALUE_SIZE = 500
MAX_DATASETS_PER_BATCH = 1000
# int64 as protobuf has it: a larger step or timestamp cannot be stored by MLflow (or us).
INT64 = (-(2**63), 2**63 - 1)

_API_DOCS = "See the API docs for more information about request parameters."


@dataclass(frozen=True)
class Rule:
    """What one request field must be. ``max_length`` counts characters of a string and items of
    an array; ``items`` is the rule of each object of an array of objects."""

    kind: Kind
    required: bool = False
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None
    items: Mapping[str, "Rule"] | None = None
    # MLflow's name of the value in its length message ("Param key", "Metric name"), if it has one.
    entity: str | None = None
    truncate: bool = False  # MLflow cuts param and tag values to the limit rather than refuse them
    mlflow_name: bool = False  # a metric, param or tag key: MLflow's characters, no path tricks
    # For an array of objects: a quick test that every item passes ``items`` (True) or that some
    # may not (False: each item is then checked field by field, which names what is wrong).
    all_items_valid: Callable[[list[Any]], bool] | None = None


Schema = Mapping[str, Rule]


def missing(name: str) -> MlflowApiError:
    return MlflowApiError("INVALID_PARAMETER_VALUE", f"Missing value for required parameter '{name}'. {_API_DOCS}")


def wrong_type(name: str, value: Any) -> MlflowApiError:
    shown = json.dumps(value) if _jsonable(value) else repr(value)
    if len(shown) > 200:
        shown = shown[:200] + "..."
    return MlflowApiError(
        "INVALID_PARAMETER_VALUE",
        f"Invalid value {shown} for parameter '{name}' supplied:  Hint: Value was of type "
        f"'{type(value).__name__}'. {_API_DOCS}",
    )


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, str):
        try:
            int(value)
        except ValueError:
            return False
        return True
    return False


def _is_float(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            float(value)  # "NaN", "Infinity" and "-Infinity" as MLflow's client sends them
        except ValueError:
            return False
        return True
    return False


def _check_type(name: str, value: Any, rule: Rule) -> None:
    kind = rule.kind
    ok = {
        "string": lambda: isinstance(value, str),
        "int": lambda: _is_int(value),
        "float": lambda: _is_float(value),
        "bool": lambda: isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false")),
        "array": lambda: isinstance(value, list),
        "strings": lambda: isinstance(value, list) and all(isinstance(v, str) for v in value),
        "object": lambda: isinstance(value, dict),
    }[kind]()
    if not ok:
        raise wrong_type(name, value)


def _check_bounds(name: str, value: Any, rule: Rule) -> None:
    if rule.kind == "int" and (rule.min_value is not None or rule.max_value is not None):
        number = int(float(value)) if isinstance(value, float) else int(value)
        if rule.min_value is not None and number < rule.min_value:
            bound = "a positive integer" if rule.min_value == 1 else f"at least {rule.min_value}"
            raise MlflowApiError("INVALID_PARAMETER_VALUE",
                                 f"Invalid value {number} for parameter '{name}' supplied. It must be {bound}")
        if rule.max_value is not None and number > rule.max_value:
            raise MlflowApiError("INVALID_PARAMETER_VALUE",
                                 f"Invalid value {number} for parameter '{name}' supplied. "
                                 f"It must be at most {rule.max_value}")
    if rule.max_length is not None and isinstance(value, str | list) and len(value) > rule.max_length:
        unit = "characters" if isinstance(value, str) else "items"
        raise MlflowApiError("INVALID_PARAMETER_VALUE",
                             f"'{rule.entity or name}' exceeds the maximum length of {rule.max_length} {unit}")


_NAME_CHARACTERS = re.compile(r"^[/\w.\- :]*$")


def _check_mlflow_name(name: str, value: str) -> None:
    """MLflow's rule for metric, param and tag keys: they may become file names, so only
    alphanumerics, ``_ - . : /`` and spaces, and nothing that normalises to another name."""
    if not _NAME_CHARACTERS.match(value):
        raise _invalid_value(name, value, "Names may only contain alphanumerics, underscores (_), dashes (-), "
                             "periods (.), spaces ( ), colon(:) and slashes (/).")
    norm = posixpath.normpath(value)
    if norm != value or norm == "." or norm.startswith("..") or norm.startswith("/"):
        raise _invalid_value(name, value, "Names may be treated as files in certain cases, and must not "
                             f"resolve to other names when treated as such. This name would resolve to {norm!r}")


def _invalid_value(name: str, value: Any, why: str) -> MlflowApiError:
    shown = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return MlflowApiError("INVALID_PARAMETER_VALUE", f"Invalid value {shown} for parameter '{name}' supplied: {why}")


def check_fields(args: dict[str, Any], schema: Schema, where: str = "") -> None:
    """Raise MLflow's 400 for the first field of *args* that breaks *schema*; values MLflow
    truncates (long param and tag values) are cut in *args* itself."""
    for name, rule in schema.items():
        shown = f"{where}{name}"
        value = args.get(name)
        if value is None or (value == "" and rule.kind == "string"):
            if rule.required:
                raise missing(shown)
            continue
        _check_type(shown, value, rule)
        if rule.truncate and rule.max_length is not None and len(value) > rule.max_length:
            args[name] = value = value[:rule.max_length]
        _check_bounds(shown, value, rule)
        if rule.mlflow_name:
            _check_mlflow_name(shown, value)
        if rule.items is not None:
            if rule.all_items_valid is not None and rule.all_items_valid(value):
                continue
            for index, item in enumerate(value):
                if not isinstance(item, dict):
                    raise wrong_type(f"{shown}[{index}]", item)
                check_fields(item, rule.items, f"{shown}[{index}].")


# ---- the rules of each route -----------------------------------------------------------------

S, SR = Rule("string"), Rule("string", required=True)
PARAM_KEY = Rule("string", required=True, max_length=MAX_ENTITY_KEY_LENGTH, entity="Param key", mlflow_name=True)
METRIC_KEY = Rule("string", required=True, max_length=MAX_ENTITY_KEY_LENGTH, entity="Metric name", mlflow_name=True)
TAG_KEY = Rule("string", required=True, max_length=MAX_ENTITY_KEY_LENGTH, mlflow_name=True)
KEY = Rule("string", required=True, max_length=MAX_ENTITY_KEY_LENGTH)
INT, A, STRS = Rule("int"), Rule("array"), Rule("strings")
MAX_RESULTS = Rule("int", min_value=1, max_value=MAX_RESULTS_SEARCH)
TAG_VALUE = Rule("string", max_length=MAX_TAG_VAL_LENGTH, truncate=True)
PARAM_VALUE = Rule("string", max_length=MAX_PARAM_VAL_LENGTH, truncate=True)
TAG_ITEM = {"key": TAG_KEY, "value": TAG_VALUE}
PARAM_ITEM = {"key": PARAM_KEY, "value": PARAM_VALUE}
EXPERIMENT_TAG_ITEM = {"key": KEY, "value": Rule("string", max_length=MAX_EXPERIMENT_TAG_VAL_LENGTH)}
METRIC_ITEM = {
    "key": METRIC_KEY, "value": Rule("float", required=True), "timestamp": Rule("int", required=True, min_value=INT64[0],
                                                                        max_value=INT64[1]),
    "step": Rule("int", min_value=INT64[0], max_value=INT64[1]), "model_id": S, "dataset_name": S,
    "dataset_digest": S, "run_id": S,
}
_METRIC_TEXT = ("model_id", "dataset_name", "dataset_digest", "run_id")
_NON_FINITE = ("NaN", "Infinity", "-Infinity")  # how MLflow's client sends such values


def plain_metrics(items: list[Any]) -> bool:
    """Whether every item certainly passes ``METRIC_ITEM``, tested in one pass over the plain JSON
    types MLflow's client sends (a log-batch holds up to 1,000 metrics, and the field-by-field
    check costs ~20 us each, more than storing them). Each distinct key's name is checked once.
    Anything unusual (a number as a string, a missing field) answers False: the full check then
    decides, and words the error."""
    low, high = INT64
    names: set[str] = set()
    for m in items:
        if type(m) is not dict:
            return False
        key, value, timestamp, step = m.get("key"), m.get("value"), m.get("timestamp"), m.get("step")
        if type(key) is not str or type(timestamp) is not int or (
                type(value) not in (float, int) and value not in _NON_FINITE):
            return False
        if not low <= timestamp <= high or (step is not None and (type(step) is not int or not low <= step <= high)):
            return False
        if key not in names:
            if not key or len(key) > MAX_ENTITY_KEY_LENGTH or not _is_mlflow_name(key):
                return False
            names.add(key)
        # Fields beyond key, value, timestamp (and step): the optional strings must be strings.
        if len(m) != (4 if "step" in m else 3) and any(
                m.get(f) is not None and type(m.get(f)) is not str for f in _METRIC_TEXT):
            return False
    return True


def _is_mlflow_name(value: str) -> bool:
    try:
        _check_mlflow_name("key", value)
    except MlflowApiError:
        return False
    return True


DATASET = {
    # MLflow's server takes a dataset with a name alone (the client always sends the rest).
    "name": Rule("string", required=True, max_length=MAX_DATASET_NAME_SIZE),
    "digest": Rule("string", max_length=MAX_DATASET_DIGEST_SIZE),
    "source_type": S, "source": Rule("string", max_length=MAX_DATASET_SOURCE_SIZE),
    "schema": Rule("string", max_length=MAX_DATASET_SCHEMA_SIZE),
    "profile": Rule("string", max_length=MAX_DATASET_PROFILE_SIZE),
}
INPUT_TAG = {"key": Rule("string", required=True, max_length=MAX_INPUT_TAG_KEY_SIZE),
             "value": Rule("string", required=True, max_length=MAX_INPUT_TAG_VALUE_SIZE)}
DATASET_INPUT = {"dataset": Rule("object", required=True, items=None), "tags": Rule("array", items=INPUT_TAG)}


def _batch_limits(args: Mapping[str, Any]) -> None:
    """MLflow's log-batch limits, with its wording (clients show it to users)."""
    counts = {name: len(args.get(name) or []) for name in ("metrics", "params", "tags")}
    limits = {"metrics": MAX_METRICS_PER_BATCH, "params": MAX_PARAMS_TAGS_PER_BATCH,
              "tags": MAX_PARAMS_TAGS_PER_BATCH}
    checks = [*((name, limits[name], counts[name]) for name in limits),
              ("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, sum(counts.values()))]
    for name, limit, count in checks:
        if count > limit:
            raise MlflowApiError(
                "INVALID_PARAMETER_VALUE",
                f"A batch logging request can contain at most {limit} {name}. Got {count} {name}. "
                f"Please split up {name} across multiple requests and try again.")


def _dataset_inputs(args: Mapping[str, Any]) -> None:
    for index, item in enumerate(args.get("datasets") or []):
        check_fields(item.get("dataset") or {}, DATASET, f"datasets[{index}].dataset.")
    if len(args.get("datasets") or []) > MAX_DATASETS_PER_BATCH:
        raise MlflowApiError("INVALID_PARAMETER_VALUE",
                             f"A batch logging request can contain at most {MAX_DATASETS_PER_BATCH} datasets.")


def _experiments_max_results(args: Mapping[str, Any]) -> None:
    # MLflow's experiments/search has no default page size: a missing max_results is 0, refused.
    if args.get("max_results") in (None, ""):
        raise MlflowApiError("INVALID_PARAMETER_VALUE",
                             "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer")


@dataclass(frozen=True)
class RouteRules:
    """The fields of one route, and any check across fields."""

    fields: Schema = field(default_factory=dict)
    extra: Callable[[Mapping[str, Any]], None] | None = None


def check(rules: RouteRules, args: dict[str, Any]) -> None:
    """Validate one request's arguments (query string merged under the JSON body)."""
    check_fields(args, rules.fields)
    if rules.extra is not None:
        rules.extra(args)


# Keyed by handler name (``module.function`` under openaml.tracking.handlers), so the route table
# stays the one place that maps paths to handlers.
RULES: dict[str, RouteRules] = {
    "experiments.create": RouteRules({
        "name": Rule("string", required=True, max_length=MAX_EXPERIMENT_NAME_LENGTH),
        "artifact_location": S, "tags": Rule("array", items=EXPERIMENT_TAG_ITEM)}),
    "experiments.get": RouteRules({"experiment_id": SR}),
    "experiments.get_by_name": RouteRules({"experiment_name": SR}),
    "experiments.search": RouteRules({"view_type": S, "max_results": MAX_RESULTS, "order_by": STRS,
                                      "filter": S, "page_token": S}, extra=_experiments_max_results),
    "experiments.update": RouteRules({"experiment_id": SR, "new_name": Rule(
        "string", required=True, max_length=MAX_EXPERIMENT_NAME_LENGTH)}),
    "experiments.delete": RouteRules({"experiment_id": SR}),
    "experiments.restore": RouteRules({"experiment_id": SR}),
    "experiments.set_tag": RouteRules({"experiment_id": SR, "key": KEY,
                                       "value": Rule("string", max_length=MAX_EXPERIMENT_TAG_VAL_LENGTH)}),
    "experiments.delete_tag": RouteRules({"experiment_id": SR, "key": SR}),
    "runs.create": RouteRules({"experiment_id": S, "start_time": INT, "run_name": S, "user_id": S,
                               "tags": Rule("array", items=TAG_ITEM)}),
    "runs.get": RouteRules({"run_id": SR}),
    "runs.update": RouteRules({"run_id": SR, "end_time": INT, "status": S, "run_name": S}),
    "runs.delete": RouteRules({"run_id": SR}),
    "runs.restore": RouteRules({"run_id": SR}),
    "runs.search": RouteRules({"experiment_ids": STRS, "filter": S, "max_results": MAX_RESULTS,
                               "order_by": STRS, "page_token": S, "run_view_type": S}),
    "runs.set_tag": RouteRules({"run_id": SR, "key": TAG_KEY, "value": TAG_VALUE}),
    "runs.delete_tag": RouteRules({"run_id": SR, "key": SR}),
    "runs.log_param": RouteRules({"run_id": SR, "key": PARAM_KEY, "value": PARAM_VALUE}),
    "runs.log_batch": RouteRules({"run_id": SR, "metrics": Rule("array", items=METRIC_ITEM,
                                                                all_items_valid=plain_metrics),
                                  "params": Rule("array", items=PARAM_ITEM), "tags": Rule("array", items=TAG_ITEM)},
                                 extra=_batch_limits),
    "runs.log_model": RouteRules({"run_id": SR, "model_json": SR}),
    "runs.log_inputs": RouteRules({"run_id": SR, "datasets": Rule("array", items=DATASET_INPUT),
                                   "models": Rule("array", items={"model_id": SR})}, extra=_dataset_inputs),
    "runs.log_outputs": RouteRules({"run_id": SR, "models": Rule("array", required=True, items={
        "model_id": SR, "step": Rule("int", min_value=INT64[0], max_value=INT64[1])})}),
    "metrics.log_metric": RouteRules({"run_id": SR, **METRIC_ITEM}),
    "metrics.get_history": RouteRules({"run_id": SR, "metric_key": SR, "page_token": S,
                                       "max_results": Rule("int", min_value=0)}),
    "artifacts.list_run": RouteRules({"run_id": SR, "path": S, "page_token": S}),
    "logged_models.create": RouteRules({"experiment_id": SR, "name": S, "model_type": S, "source_run_id": S,
                                        "params": Rule("array", items=PARAM_ITEM),
                                        "tags": Rule("array", items=TAG_ITEM)}),
    "logged_models.finalize": RouteRules({"model_id": SR, "status": SR}),
    "logged_models.search": RouteRules({"experiment_ids": STRS, "filter": S, "max_results": MAX_RESULTS,
                                        "order_by": A, "page_token": S, "datasets": A}),
    "logged_models.set_tags": RouteRules({"model_id": SR, "tags": Rule("array", items=TAG_ITEM)}),
    "logged_models.log_params": RouteRules({"model_id": SR, "params": Rule("array", items=PARAM_ITEM)}),
}


def rules_for(handler: Callable[..., Any]) -> RouteRules | None:
    """The rules of the route served by *handler*, or None (no body to check)."""
    module = handler.__module__.rsplit(".", 1)[-1]
    return RULES.get(f"{module}.{handler.__name__}")

