"""Records the tracking store returns: MLflow's entities as frozen dataclasses.

Times are MLflow's: integer milliseconds since the epoch. Statuses are MLflow's strings
(runs: RUNNING, SCHEDULED, FINISHED, FAILED, KILLED; logged models: PENDING, READY, FAILED).
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from openaml.errors import ValidationError

T = TypeVar("T")

RUN_STATUSES = frozenset({"RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"})
LOGGED_MODEL_STATUSES = frozenset({"PENDING", "READY", "FAILED"})
ACTIVE, DELETED = "active", "deleted"


class ViewType:
    """MLflow's lifecycle views (``run_view_type`` / ``view_type``)."""

    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"


@dataclass(frozen=True)
class MetricRecord:
    """One metric value; ``value`` may be NaN or +-inf."""

    key: str
    value: float
    timestamp: int
    step: int


@dataclass(frozen=True)
class MetricHistory:
    """One page of a metric's history: ``points`` are ``(value, timestamp, step)`` tuples in
    MLflow's order (timestamp, then step, then logging order); a value may be NaN or +-inf.

    Plain tuples rather than a :class:`MetricRecord` each: a history can hold 100,000 points and
    is read to be sent on at once."""

    key: str
    points: list[tuple[float, int, int]]
    next_page_token: str | None = None


@dataclass(frozen=True)
class RunHistory:
    """One run's values of a metric in a history spanning several runs (MLflow's
    ``get-history-bulk`` and its sampled form): ``points`` are ``(value, timestamp, step)``
    tuples, as :class:`MetricHistory`'s, in the order the request asked for."""

    run_id: str
    key: str
    points: list[tuple[float, int, int]]


@dataclass(frozen=True)
class ExperimentRecord:
    """An MLflow experiment of one workspace."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str]


@dataclass(frozen=True)
class RunRecord:
    """An MLflow run with its data: latest metrics, params, tags and logged-model outputs."""

    run_id: str
    experiment_id: str
    run_name: str | None
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str
    user_id: str | None
    metrics: tuple[MetricRecord, ...] = ()
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    model_outputs: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class LoggedModelRecord:
    """An MLflow 3 logged model; ``artifact_location`` is where its files go."""

    model_id: str
    experiment_id: str
    name: str
    source_run_id: str | None
    model_type: str | None
    artifact_location: str
    status: str
    lifecycle_stage: str
    params: dict[str, str]
    tags: dict[str, str]
    creation_timestamp: int
    last_updated_timestamp: int


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results; ``next_page_token`` is None on the last page."""

    items: list[T]
    next_page_token: str | None = None


def encode_metric_value(value: float) -> tuple[float, bool]:
    """(stored value, is_nan): NaN is stored as 0 because SQLite turns NaN into NULL."""
    value = float(value)
    return (0.0, True) if math.isnan(value) else (value, False)


def decode_metric_value(value: float, is_nan: bool) -> float:
    return math.nan if is_nan else float(value)


def make_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def read_page_token(token: str | None) -> int:
    """The offset a token stands for (0 for no token); a malformed token is a ValidationError."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError(f"Invalid page token {token!r}.") from exc
    if not isinstance(offset, int) or offset < 0:
        raise ValidationError(f"Invalid page token {token!r}.")
    return offset


def paginate(rows: list[T], offset: int, max_results: int | None) -> Page[T]:
    """Cut *rows* (fetched with one extra row past the page) into a :class:`Page`."""
    if max_results is None or len(rows) <= max_results:
        return Page(rows)
    return Page(rows[:max_results], make_page_token(offset + max_results))
