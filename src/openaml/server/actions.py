"""What every route of the server needs, in one table: :data:`ROUTE_RULES` maps each route
(method and path, as the route modules declare them) to a :class:`Rule`, and
:func:`mlflow_rule` covers MLflow's REST API under ``/mlflow/v2.0/<workspace path>/`` by its
method and path. :class:`ActionTable` finds the rule of a request; the app refuses to start when
a route of :data:`~openaml.server.routes.ROUTERS` has no rule (and a test checks both ways).

Actions are Azure's operation names, ``Microsoft.MachineLearningServices`` implied
(``workspaces/models/read``); :mod:`openaml.services.roles` says which role may perform which.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Iterable

from starlette.routing import compile_path

from openaml.server.routes._common import OPENAML, WORKSPACE, WORKSPACES
from openaml.server.routes.mlflow import MLFLOW_ROOT
from openaml.services.roles import LIST_SECRETS, TOKENS_DELETE, TOKENS_READ, TOKENS_WRITE
from openaml.tracking.routes import reads_only


class Scope(enum.Enum):
    """Who may call a route, before any role is asked."""

    PUBLIC = "public"  # anyone, no token (health, readiness, the OpenAPI document)
    ANY_TOKEN = "any-token"  # any valid token; the route answers with what the token may see
    SERVER = "server"  # the server administrator's (an admin token)
    WORKSPACE = "workspace"  # a role in the path's workspace that allows the rule's action


@dataclass(frozen=True)
class Rule:
    """A route's needs: its :class:`Scope` and, in a workspace, the action. ``creates``: the
    route creates the workspace when it does not exist, which only the administrator may (a
    workspace's token is answered 404 there, as for any workspace it cannot see)."""

    scope: Scope
    action: str | None = None
    creates: bool = False


def _ws(action: str) -> Rule:
    return Rule(Scope.WORKSPACE, action)


PUBLIC, ANY_TOKEN, ADMIN = Rule(Scope.PUBLIC), Rule(Scope.ANY_TOKEN), Rule(Scope.SERVER)
#: FastAPI's own pages, which the app adds (served to anyone: they describe, they do not act).
DOC_PATHS = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")


def _versioned(kind: str) -> dict[tuple[str, str], Rule]:
    base = f"{WORKSPACE}/{kind}"
    read, write = _ws(f"workspaces/{kind}/read"), _ws(f"workspaces/{kind}/write")
    rules = {("GET", base): read, ("GET", base + "/{name}"): read, ("GET", base + "/{name}/versions"): read,
             ("POST", base + "/{name}/versions"): write, ("PUT", base + "/{name}/versions/{version}"): write,
             ("GET", base + "/{name}/versions/{version}"): read, ("GET", base + "/{name}/labels/{label}"): read,
             ("GET", base + "/{name}/versions/{version}/content"): read}
    for verb in ("archive", "restore"):  # Azure archives by a PUT with isArchived: a write
        rules[("POST", f"{base}/{{name}}/{verb}")] = write
        rules[("POST", f"{base}/{{name}}/versions/{{version}}/{verb}")] = write
    return rules


def _jobs() -> dict[tuple[str, str], Rule]:
    base = f"{WORKSPACE}/jobs"
    read, write = _ws("workspaces/jobs/read"), _ws("workspaces/jobs/write")
    return {("GET", base): read, ("POST", base): write, ("POST", base + "/validate"): write,
            ("PUT", base + "/{name}"): write, ("GET", base + "/{name}"): read, ("PATCH", base + "/{name}"): write,
            ("POST", base + "/{name}/cancel"): _ws("workspaces/jobs/cancel/action"),
            ("POST", base + "/{name}/archive"): write, ("POST", base + "/{name}/restore"): write,
            ("GET", base + "/{name}/logs"): read, ("GET", base + "/{name}/logs/{path:path}"): read,
            # a download stores nothing new but snapshots of the job's own folders: a read
            ("POST", base + "/{name}/download"): read}


def _resources() -> dict[tuple[str, str], Rule]:
    ds, cp, blobs = f"{WORKSPACE}/datastores", f"{WORKSPACE}/computes", f"{WORKSPACE}/blobs"
    return {
        ("GET", ds): _ws("workspaces/datastores/read"), ("GET", ds + "/{name}"): _ws("workspaces/datastores/read"),
        ("PUT", ds + "/{name}"): _ws("workspaces/datastores/write"),
        ("DELETE", ds + "/{name}"): _ws("workspaces/datastores/delete"),
        ("POST", ds + "/{name}/listSecrets"): _ws(LIST_SECRETS),
        ("GET", cp): _ws("workspaces/computes/read"), ("GET", cp + "/{name}"): _ws("workspaces/computes/read"),
        ("PUT", cp + "/{name}"): _ws("workspaces/computes/write"),
        ("DELETE", cp + "/{name}"): _ws("workspaces/computes/delete"),
        ("GET", f"{WORKSPACE}/vmSizes"): _ws("workspaces/computes/read"),
        ("GET", f"{WORKSPACE}/usages"): _ws("workspaces/computes/read"),
        # uploads (content-addressed blobs, committed as code versions) and downloads
        ("POST", blobs + "/missing"): _ws("workspaces/codes/write"),
        ("PUT", blobs + "/{digest}"): _ws("workspaces/codes/write"),
        ("HEAD", blobs + "/{digest}"): _ws("workspaces/codes/read"),
        ("GET", blobs + "/{digest}"): _ws("workspaces/codes/read"),
        ("PUT", f"{WORKSPACE}/codes/{{name}}/versions/{{version}}"): _ws("workspaces/codes/write"),
        ("GET", f"{WORKSPACE}/codes/{{name}}/versions/{{version}}"): _ws("workspaces/codes/read"),
    }


def _server() -> dict[tuple[str, str], Rule]:
    return {
        ("GET", "/health"): PUBLIC, ("GET", "/ready"): PUBLIC,
        ("GET", WORKSPACES): ANY_TOKEN,  # answers the workspaces the token may read
        ("GET", WORKSPACE): _ws("workspaces/read"),
        ("PUT", WORKSPACE): Rule(Scope.WORKSPACE, "workspaces/write", creates=True),
        ("DELETE", WORKSPACE): _ws("workspaces/delete"),
        ("POST", WORKSPACE + "/updateStorageCredentials"): _ws("workspaces/write"),
        ("GET", f"{WORKSPACE}/tokens"): _ws(TOKENS_READ), ("POST", f"{WORKSPACE}/tokens"): _ws(TOKENS_WRITE),
        ("DELETE", f"{WORKSPACE}/tokens/{{tokenId}}"): _ws(TOKENS_DELETE),
        ("GET", f"{OPENAML}/whoami"): ANY_TOKEN,
        ("GET", f"{OPENAML}/tokens"): ADMIN, ("POST", f"{OPENAML}/tokens"): ADMIN,
        ("DELETE", f"{OPENAML}/tokens/{{tokenId}}"): ADMIN,
    }


#: Every route of the server: (method, path as declared) -> what it needs.
ROUTE_RULES: dict[tuple[str, str], Rule] = {
    **_server(), **_versioned("models"), **_versioned("data"), **_versioned("environments"),
    **_versioned("components"), **_resources(), **_jobs(),
}


# ---- MLflow's REST API, mounted under the workspace's path ----------------------------------
#: Where MLflow's mount starts (the MLflow route module's root).
MLFLOW_PREFIX = MLFLOW_ROOT
_MLFLOW = re.compile(r"/mlflow/v2\.0/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                     r"Microsoft\.MachineLearningServices/workspaces/(?P<workspaceName>[^/]+)/(?P<rest>.*)")
_MLFLOW_API = re.compile(r"(?:api|ajax-api)/[23]\.0/mlflow/(?P<endpoint>.*)")


def mlflow_action(method: str, rest: str) -> str:
    """The action of an MLflow request, from its method and its path below the workspace
    (``api/2.0/mlflow/runs/search``): GET and MLflow's searches and metric histories read,
    everything else writes; the registry is the workspace's models, experiments are
    experiments, and runs, metrics, artifacts and logged models are experiment runs."""
    api = _MLFLOW_API.fullmatch(rest)
    endpoint = api["endpoint"].strip("/") if api else ""
    # Which requests only read is the tracking route table's to say (one list for every edge).
    reads = method == "HEAD" or reads_only(method, "/" + rest)
    kind = endpoint.split("/", 1)[0]
    if kind in ("registered-models", "model-versions"):
        noun = "models"
    elif kind == "experiments":
        noun = "experiments"
    else:  # runs, metrics, artifacts, logged models, traces; mlflow-artifacts; anything new
        noun = "experiments/runs"
    return f"workspaces/{noun}/{'read' if reads else 'write'}"


def mlflow_rule(method: str, path: str) -> tuple[Rule, str] | None:
    """The rule and workspace of a request under MLflow's prefix, or None for another path."""
    match = _MLFLOW.fullmatch(path)
    if match is None:
        return None
    return _ws(mlflow_action(method, match["rest"])), match["workspaceName"]


# ---- finding a request's rule ------------------------------------------------------------------
@dataclass(frozen=True)
class Resolved:
    """A request's rule, and the workspace its path names (None when it names none)."""

    rule: Rule
    workspace: str | None


class ActionTable:
    """The rules of a set of routes, matched as Starlette matches them: the first route whose
    path and method both match. A path that matches none is :data:`None` (no such route)."""

    def __init__(self, routes: Iterable[tuple[str, str]], rules: dict[tuple[str, str], Rule] = ROUTE_RULES) -> None:
        # MLflow's routes are ruled by method and path (mlflow_rule), wherever they are mounted below its prefix
        missing = [f"{m} {p}" for m, p in routes if (m, p) not in rules and not p.startswith(MLFLOW_PREFIX)]
        if missing:
            raise RuntimeError(f"routes without an authorization rule (openaml.server.actions): {missing}")
        by_method: dict[str, list[tuple[re.Pattern[str], Rule]]] = {}
        for (method, path), rule in rules.items():
            by_method.setdefault(method, []).append((compile_path(path)[0], rule))
        for path in DOC_PATHS:
            by_method.setdefault("GET", []).append((compile_path(path)[0], PUBLIC))
        self._by_method = by_method

    def resolve(self, method: str, path: str) -> Resolved | None:
        """The rule of ``method path``, or None when no route serves it."""
        if path.startswith(MLFLOW_PREFIX + "/"):
            found = mlflow_rule(method, path)
            return Resolved(*found) if found else None
        for regex, rule in self._by_method.get(method, ()):
            match = regex.match(path)
            if match:
                return Resolved(rule, match.groupdict().get("workspaceName"))
        return None
