"""The conformance harness: the same scenario against a stock ``mlflow server`` and openaml's
tracking endpoint, and a comparison of what each answered.

A scenario is a function of one :class:`Side`; it sends requests and records each answer under a
label. Both sides run the same scenario; :func:`differences` lists, per label, where openaml's
status code, error code or response shape (the keys and the JSON types of the values, not the
values: ids and times differ) is not MLflow's. Where openaml deliberately differs (MLflow answers
500 for a bad request that openaml refuses with 400, say), the scenario says so with
``expect=...`` and the comparison checks openaml's documented answer instead.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JSONType = dict[str, Any] | list[Any] | str | int | float | bool | None


@dataclass(frozen=True)
class Expected:
    """openaml's own answer where it deliberately differs from MLflow's (the reason says why)."""

    status: int
    error_code: str | None
    reason: str


@dataclass
class Answer:
    """One response: the status, the parsed JSON (None when the body is not JSON) and the raw text."""

    status: int
    body: JSONType
    text: str

    @property
    def error_code(self) -> str | None:
        return self.body.get("error_code") if isinstance(self.body, dict) else None

    def json(self) -> dict[str, Any]:
        assert isinstance(self.body, dict), f"not a JSON object (HTTP {self.status}): {self.text[:300]}"
        return self.body


@dataclass
class Observation:
    label: str
    answer: Answer
    expect: Expected | None = None
    # Keys whose values are compared too (not only their types): e.g. a status enum or a count.
    values: tuple[str, ...] = ()


@dataclass
class Side:
    """One server under test: ``name`` is "mlflow" or "openaml"; ``token``, when given, is sent
    as ``Authorization: Bearer`` (an openaml server's MLflow mount checks tokens)."""

    name: str
    url: str
    observations: list[Observation] = field(default_factory=list)
    prefix: str = "/api/2.0/mlflow"
    token: str | None = field(default=None, repr=False)

    def unique(self, stem: str) -> str:
        """A name no earlier scenario used on this server (servers live for the whole session)."""
        return f"{stem}-{uuid.uuid4().hex[:10]}"

    def call(self, method: str, path: str, body: Any = None, *, params: dict[str, Any] | None = None,
             raw: bytes | None = None, content_type: str = "application/json") -> Answer:
        """Send one request; *path* is relative to the API prefix unless it starts with "/"."""
        full = path if path.startswith("/") else f"{self.prefix}/{path}"
        if params:
            full += "?" + urllib.parse.urlencode(params, doseq=True)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.url + full, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        if self.token is not None:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        text = payload.decode("utf-8", "replace")
        try:
            parsed: JSONType = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = None
        return Answer(status, parsed, text)

    def get(self, path: str, **params: Any) -> Answer:
        return self.call("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> Answer:
        return self.call("POST", path, body if body is not None else {})

    def record(self, label: str, answer: Answer, *, expect: Expected | None = None,
               values: tuple[str, ...] = ()) -> Answer:
        """Keep *answer* for the comparison under *label* (labels are unique per scenario)."""
        self.observations.append(Observation(label, answer, expect, values))
        return answer


    def fact(self, label: str, value: JSONType) -> None:
        """Record something the scenario worked out itself (compared by value, not shape)."""
        self.record(label, Answer(200, {"fact": value}, json.dumps(value)), values=("fact",))


Scenario = Callable[[Side], None]


def shape(value: Any) -> Any:
    """The JSON shape of *value*: keys and the JSON type of leaves; a list is the union of the
    shapes of its items (so a list of three runs has the shape of one run)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        shapes: list[Any] = []
        for item in value:
            s = shape(item)
            if s not in shapes:
                shapes.append(s)
        return shapes
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return "string"


# MLflow 3 adds these to every error body; clients read only error_code and message.
_ERROR_EXTRAS = {"sqlstate", "error_class"}


def _pluck(body: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(body, dict):
            body = body.get(part)
        elif isinstance(body, list) and part.isdigit() and int(part) < len(body):
            body = body[int(part)]
        else:
            return None
    return body


def _shape_diff(ref: Any, ours: Any, where: str = "") -> list[str]:
    if isinstance(ref, dict) and isinstance(ours, dict):
        out = []
        for key in sorted(set(ref) | set(ours)):
            path = f"{where}.{key}" if where else key
            if key not in ours:
                out.append(f"missing {path} (MLflow has {ref[key]!r})")
            elif key not in ref:
                out.append(f"extra {path} ({ours[key]!r}; MLflow has no such field)")
            else:
                out.extend(_shape_diff(ref[key], ours[key], path))
        return out
    if isinstance(ref, list) and isinstance(ours, list):
        if not ref or not ours:  # an empty list on either side says nothing of item shapes
            return []
        return [d for r in ref[:1] for d in _shape_diff(r, ours[0], where + "[]")]
    return [] if ref == ours else [f"{where or 'body'}: MLflow {ref!r}, openaml {ours!r}"]


def differences(reference: Side, ours: Side) -> list[str]:
    """Every way openaml's observations differ from MLflow's, one line each."""
    problems: list[str] = []
    ref_by_label = {o.label: o for o in reference.observations}
    our_by_label = {o.label: o for o in ours.observations}
    if list(ref_by_label) != list(our_by_label):
        problems.append(f"scenario took different paths: MLflow {list(ref_by_label)}, openaml {list(our_by_label)}")
    for label, ref in ref_by_label.items():
        mine = our_by_label.get(label)
        if mine is None:
            continue
        r, o = ref.answer, mine.answer
        if mine.expect is not None:  # a documented divergence: openaml's own answer is checked
            exp = mine.expect
            if (o.status, o.error_code) != (exp.status, exp.error_code):
                problems.append(f"{label}: openaml answered {o.status} {o.error_code}, documented "
                                f"{exp.status} {exp.error_code} ({exp.reason}); body {o.text[:200]}")
            continue
        if o.status >= 500:
            problems.append(f"{label}: openaml answered {o.status}: {o.text[:300]}")
        if r.status != o.status or r.error_code != o.error_code:
            problems.append(f"{label}: MLflow {r.status} {r.error_code}, openaml {o.status} {o.error_code}"
                            f" -- MLflow said {_message(r)!r}, openaml said {_message(o)!r}")
            continue
        if r.status >= 400:
            continue  # same status and error code: messages may differ in wording
        ref_shape, our_shape = shape(r.body), shape(o.body)
        if isinstance(ref_shape, dict) and r.error_code:
            ref_shape = {k: v for k, v in ref_shape.items() if k not in _ERROR_EXTRAS}
        problems.extend(f"{label}: {d}" for d in _shape_diff(ref_shape, our_shape))
        for dotted in ref.values:
            if _pluck(r.body, dotted) != _pluck(o.body, dotted):
                problems.append(f"{label}: {dotted} is {_pluck(o.body, dotted)!r}, MLflow "
                                f"{_pluck(r.body, dotted)!r}")
    return problems


def _message(answer: Answer) -> str:
    if isinstance(answer.body, dict):
        return str(answer.body.get("message", ""))[:160]
    return answer.text[:80]


def assert_conforms(scenario: Scenario, sides: tuple[Side, Side]) -> None:
    """Run *scenario* on the reference, then on openaml; fail listing every difference."""
    reference, ours = sides
    scenario(reference)
    scenario(ours)
    problems = differences(reference, ours)
    assert not problems, f"{len(problems)} difference(s) from mlflow server:\n  " + "\n  ".join(problems)
