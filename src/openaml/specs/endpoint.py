"""Online endpoint and deployment specs (``managedOnlineEndpoint``/``kubernetesOnlineEndpoint``,
``managedOnlineDeployment``/``kubernetesOnlineDeployment``).

An endpoint YAML has no ``type``: as in azure-ai-ml, one with a ``compute`` is a Kubernetes
endpoint, any other a managed one. A deployment's ``type`` is ``managed`` (the default) or
``kubernetes``. Local paths (``code_configuration.code``, an inline model's ``path``, an inline
environment's ``conda_file`` and build context) resolve against the YAML's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from openaml.entities.deployment import ONLINE_DEPLOYMENT_CLASSES, OnlineDeployment
from openaml.entities.endpoint import KubernetesOnlineEndpoint, ManagedOnlineEndpoint, OnlineEndpoint

from ._core import Kind, SpecContext, build, is_uri
from .environment import prepare_environment
from .mlmodel import read_mlmodel_flavors
from .overrides import apply_overrides
from .yamlio import Source, load_mapping, to_plain

_ENDPOINT_READ_ONLY = ("scoring_uri", "openapi_uri", "kind")
_DEPLOYMENT_READ_ONLY = ()


def _prepare_endpoint(data: dict[str, Any], ctx: SpecContext) -> None:
    for key in _ENDPOINT_READ_ONLY:
        data.pop(key, None)


MANAGED_ONLINE_ENDPOINT = Kind("online_endpoint", {"managed": ManagedOnlineEndpoint}, default_type="managed",
                               prepare=_prepare_endpoint)
KUBERNETES_ONLINE_ENDPOINT = Kind("online_endpoint", {"kubernetes": KubernetesOnlineEndpoint},
                                  default_type="kubernetes", prepare=_prepare_endpoint)


def prepare_deployment(data: dict[str, Any], ctx: SpecContext) -> None:
    """Resolve the local paths of a deployment against the YAML's folder."""
    code = data.get("code_configuration")
    if isinstance(code, dict) and isinstance(code.get("code"), str):
        code["code"] = ctx.local_path(code["code"], "code_configuration", "code")
    model = data.get("model")
    if isinstance(model, dict):
        path = model.get("path")
        model["path"] = ctx.local_path(path, "model", "path")
        local = isinstance(path, str) and not is_uri(path) and ctx.base_path is not None
        if model.get("type") == "mlflow_model" and local and not model.get("flavors"):
            model["flavors"] = read_mlmodel_flavors(Path(model["path"]))
        if model["path"] is None:
            del model["path"]
    env = data.get("environment")
    if isinstance(env, dict):
        prepare_environment(env, ctx, ("environment",))


ONLINE_DEPLOYMENT = Kind("online_deployment", ONLINE_DEPLOYMENT_CLASSES, default_type="managed",
                         prepare=prepare_deployment)


def endpoint_kind_for(data: Mapping[str, Any]) -> Kind:
    """The endpoint kind a YAML-shaped mapping describes: Kubernetes when it names a compute."""
    return KUBERNETES_ONLINE_ENDPOINT if data.get("compute") else MANAGED_ONLINE_ENDPOINT


def _load(source: Source, relative_origin: str | None, params_override: Iterable[Mapping[str, Any]] | None,
          kind_of: Any) -> Any:
    root, file = load_mapping(source)
    base = Path(relative_origin) if relative_origin else (Path(file).parent if file else Path.cwd())
    ctx = SpecContext(file=file, base_path=base.absolute(), root=root)
    data = apply_overrides(to_plain(root), params_override)
    return build(kind_of(data), data, ctx)


def load_online_endpoint(source: Source, *, relative_origin: str | None = None,
                         params_override: Iterable[Mapping[str, Any]] | None = None,
                         **kwargs: Any) -> OnlineEndpoint:
    """Load an online endpoint YAML file: a :class:`ManagedOnlineEndpoint`, or a
    :class:`KubernetesOnlineEndpoint` when it names a ``compute``."""
    return _load(source, relative_origin, params_override, endpoint_kind_for)


def load_online_deployment(source: Source, *, relative_origin: str | None = None,
                           params_override: Iterable[Mapping[str, Any]] | None = None,
                           **kwargs: Any) -> OnlineDeployment:
    """Load an online deployment YAML file; ``type: kubernetes`` gives a
    :class:`KubernetesOnlineDeployment`, anything else a :class:`ManagedOnlineDeployment`."""
    return _load(source, relative_origin, params_override, lambda _: ONLINE_DEPLOYMENT)


def endpoint_from_dict(data: Mapping[str, Any], *, base_path: str | Path | None = None,
                       source: str | None = None) -> OnlineEndpoint:
    """An online endpoint from a YAML-shaped dict (the CLI's flags, a stored spec)."""
    ctx = SpecContext(file=source, base_path=Path(base_path).absolute() if base_path else None, root=data)
    return build(endpoint_kind_for(data), data, ctx)  # type: ignore[return-value]


def deployment_from_dict(data: Mapping[str, Any], *, base_path: str | Path | None = None,
                         source: str | None = None) -> OnlineDeployment:
    """An online deployment from a YAML-shaped dict."""
    ctx = SpecContext(file=source, base_path=Path(base_path).absolute() if base_path else None, root=data)
    return build(ONLINE_DEPLOYMENT, data, ctx)  # type: ignore[return-value]
