"""Online endpoints and their deployments: Azure's rules, the records, and the pinned content.

The service stores what is wanted (``store/endpoints.py``) and asks an :class:`EndpointHost`
(injected by the client, as jobs get their launcher) to make it so: a router per endpoint,
started on demand, told to reload after each change. Deployments pin their model, code and
environment when created, as jobs do at submission, so a later registration changes nothing
that is already deployed. Keys are random, sealed with the workspace's key in the endpoint's row,
and only :meth:`EndpointService.get_keys` returns them.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path, PurePosixPath
from typing import Any

from openaml.entities.deployment import ONLINE_DEPLOYMENT_CLASSES, OnlineDeployment
from openaml.entities.endpoint import (ONLINE_ENDPOINT_CLASSES, EndpointAadToken, EndpointAuthKeys,
                                       EndpointAuthToken, OnlineEndpoint, endpoint_kind)
from openaml.entities.model import Model
from openaml.errors import AlreadyExistsError, DeploymentFailedError, NotFoundError, ScoringError, ValidationError
from openaml.names import check_name, shown
from openaml.paths import check_relative
from openaml.services import job_io
from openaml.services.endpoint_runtime import (CONTAINER_TYPES, DEPLOYMENT_HEADER, EndpointHost, ProvisioningState,
                                               RouterRuntime, endpoint_dir, log_file)
from openaml.services.endpoint_traffic import check_traffic
from openaml.services.env_pins import pin_environment
from openaml.services.settings import Settings
from openaml.services.snapshots import ignore_matcher
from openaml.services.uploads import is_local_path
from openaml.services.workspaces import WorkspaceContext
from openaml.store.endpoints import DeploymentRecord, EndpointRecord, EndpointStore
from openaml.store.folders import remove_tree

KEY_TYPES = ("primary", "secondary")
_TAIL_LINES = 20
#: ``get_logs`` reads at most this much of the end of a log, whatever ``lines`` asks.
MAX_LOG_BYTES = 16 * 1024 * 1024


def new_key() -> str:
    """A random endpoint key (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def tail(path: Path, lines: int) -> str:
    """The last *lines* lines of a text file (all of it for ``lines <= 0``), from its last
    :data:`MAX_LOG_BYTES` at most; '' if missing."""
    blocks: list[bytes] = []
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            floor, newlines = max(0, size - MAX_LOG_BYTES), 0
            while size > floor and (lines <= 0 or newlines <= lines):
                step = min(64 * 1024, size - floor)
                size -= step
                fh.seek(size)
                blocks.append(fh.read(step))
                newlines += blocks[-1].count(b"\n")
    except FileNotFoundError:
        return ""
    text = b"".join(reversed(blocks)).decode("utf-8", errors="replace")
    if lines <= 0 or not text:
        return text
    return "\n".join(text.splitlines()[-lines:]) + "\n"


class EndpointService:
    """Online endpoints of one workspace."""

    def __init__(self, ctx: WorkspaceContext, settings: Settings, host: EndpointHost) -> None:
        self.ctx, self.settings, self.host = ctx, settings, host
        self.store = EndpointStore(ctx.metadata, ctx.name)

    # ---- endpoints ------------------------------------------------------------------------------
    def create_or_update(self, endpoint: OnlineEndpoint, *, mode: str = "upsert") -> OnlineEndpoint:
        """Create (``mode="create"``: an existing name fails), update (``"update"``: a missing
        one fails) or either. On update, traffic given replaces the stored traffic; an empty
        traffic (the default of a new entity) keeps it."""
        name = check_name("endpoint", endpoint.name)
        record = self.store.get_endpoint(name)
        if record is None and mode == "update":
            raise self._missing(name)
        if record is not None and mode == "create":
            raise AlreadyExistsError(f"online endpoint '{name}' already exists in workspace '{self.ctx.name}'; "
                                     "change it with: openaml online-endpoint update", name=name)
        spec = self._public_spec(endpoint)
        if record is None:
            deployments: list[str] = []
            check_traffic(spec["traffic"], spec["mirror_traffic"], deployments)
            keys = {"primary_key": new_key(), "secondary_key": new_key(), "control_key": new_key()}
            record = self.store.create_endpoint(name, spec, self.ctx.secrets.encrypt(keys))
        else:
            current = record.spec
            if not spec["traffic"]:
                spec["traffic"] = current.get("traffic", {})
            if not spec["mirror_traffic"] and not endpoint.mirror_traffic:
                spec["mirror_traffic"] = current.get("mirror_traffic", {})
            if "auth_mode" not in endpoint.model_fields_set:  # Azure lets it change; the keys stay
                spec["auth_mode"] = current.get("auth_mode", "key")
            check_traffic(spec["traffic"], spec["mirror_traffic"], self._deployment_names(name))
            record = self.store.update_endpoint(name, spec=spec)
        runtime = self._ensure(record)
        self.host.reload(runtime, self._control_key(record))
        return self.get(name)

    def update_traffic(self, name: str, *, traffic: dict[str, int] | None = None,
                       mirror_traffic: dict[str, int] | None = None) -> OnlineEndpoint:
        """Change the traffic and/or mirror split (what ``update --traffic`` does)."""
        record = self._record(name)
        spec = dict(record.spec)
        if traffic is not None:
            spec["traffic"] = {k: v for k, v in traffic.items() if v}
        if mirror_traffic is not None:
            spec["mirror_traffic"] = {k: v for k, v in mirror_traffic.items() if v}
        check_traffic(spec.get("traffic", {}), spec.get("mirror_traffic", {}), self._deployment_names(name))
        record = self.store.update_endpoint(name, spec=spec)
        self.host.reload(self._ensure(record), self._control_key(record))
        return self.get(name)

    def get(self, name: str) -> OnlineEndpoint:
        """The endpoint, its router started first if it was not running (after a reboot, say),
        with ``scoring_uri``, ``openapi_uri`` and the traffic of every deployment (0 if none)."""
        record = self._record(name)
        runtime = self._ensure(record)
        return self._to_entity(self._record(name), runtime)

    def list(self) -> list[OnlineEndpoint]:
        """Every online endpoint, with what its router recorded (none started here)."""
        out = []
        for record in self.store.list_endpoints():
            runtime = RouterRuntime.from_dict(record.runtime)
            out.append(self._to_entity(record, runtime if self.host.is_alive(runtime) else None))
        return out

    def delete(self, name: str) -> None:
        """Stop the endpoint's processes, then forget it and its deployments."""
        record = self._record(name)
        runtime = RouterRuntime.from_dict(record.runtime)
        if runtime is not None:
            self.host.stop(runtime, self._control_key(record))
        self.store.delete_endpoint(name)
        remove_tree(endpoint_dir(self.settings, self.ctx.name, name))  # read-only model folders too

    def get_keys(self, name: str) -> EndpointAuthKeys | EndpointAuthToken | EndpointAadToken:
        """The keys (``key`` mode) or the token (``aml_token``/``aad_token``) of the endpoint."""
        record = self._record(name)
        keys = self.ctx.secrets.decrypt(record.secret)
        mode = record.spec.get("auth_mode", "key")
        if mode == "aml_token":
            return EndpointAuthToken(access_token=keys["primary_key"], token_type="Bearer")
        if mode == "aad_token":
            return EndpointAadToken(access_token=keys["primary_key"])
        return EndpointAuthKeys(primary_key=keys["primary_key"], secondary_key=keys["secondary_key"])

    def regenerate_keys(self, name: str, key_type: str = "primary") -> None:
        """Replace one key; the router refuses the old one once this returns."""
        if key_type not in KEY_TYPES:
            raise ValidationError(f"key_type must be 'primary' or 'secondary', not {shown(key_type)}",
                                  field="key_type")
        record = self._record(name)
        keys = self.ctx.secrets.decrypt(record.secret)
        keys[f"{key_type}_key"] = new_key()
        record = self.store.update_endpoint(name, secret=self.ctx.secrets.encrypt(keys))
        self.host.reload(self._ensure(record), self._control_key(record))

    def invoke(self, name: str, body: bytes, *, deployment_name: str | None = None,
               timeout: float = 300.0) -> str:
        """Score *body* (JSON) on the endpoint as a client would, with its key; the answer's text.
        An error status raises :class:`ScoringError` with it."""
        record = self._record(name)
        if deployment_name is not None and deployment_name not in self._deployment_names(name):
            raise NotFoundError(f"deployment {shown(deployment_name)} not found on endpoint '{name}'",
                                field="deployment_name")
        runtime = self._ensure(record)
        keys = self.ctx.secrets.decrypt(record.secret)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {keys['primary_key']}"}
        if deployment_name:
            headers[DEPLOYMENT_HEADER] = deployment_name
        answer = self.host.post(runtime, "/score", body, headers, timeout)
        text = answer.body.decode("utf-8", errors="replace")
        if answer.status >= 400:
            raise ScoringError(f"endpoint '{name}' answered {answer.status}: {text[:2000]}",
                               status=answer.status, endpoint=name)
        return text

    # ---- deployments ----------------------------------------------------------------------------
    def create_or_update_deployment(self, deployment: OnlineDeployment, *, mode: str = "upsert") -> OnlineDeployment:
        """Pin the deployment's model, code and environment, store it and have the router
        (re)start its workers; returns at once in state Creating or Updating (see
        :meth:`wait_deployment`)."""
        name = check_name("deployment", deployment.name)
        endpoint = deployment.endpoint_name
        if not endpoint:
            raise ValidationError("a deployment needs endpoint_name (the endpoint it serves)", field="endpoint_name")
        record = self._record(endpoint)
        existing = self.store.get_deployment(endpoint, name)
        if existing is not None and mode == "create":
            raise AlreadyExistsError(f"deployment '{name}' already exists on endpoint '{endpoint}'; change it "
                                     "with: openaml online-deployment update", name=name)
        if existing is None and mode == "update":
            raise self._missing_deployment(endpoint, name)
        resolved = self._pin(deployment)
        spec = self._deployment_spec(deployment, resolved)
        state = ProvisioningState.UPDATING if existing is not None else ProvisioningState.CREATING
        self.store.put_deployment(endpoint, name, spec, resolved, state.value)
        self.host.reload(self._ensure(self._record(endpoint)), self._control_key(record))
        return self.get_deployment(endpoint, name)

    def deployment_state(self, endpoint: str, name: str) -> DeploymentRecord:
        found = self.store.get_deployment(endpoint, name)
        if found is None:
            raise self._missing_deployment(endpoint, name)
        return found

    def wait_deployment(self, endpoint: str, name: str, timeout: float | None = None) -> DeploymentRecord:
        """Block until the deployment is Succeeded or Failed (or *timeout* seconds pass)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.05
        while True:
            record = self.deployment_state(endpoint, name)
            if ProvisioningState(record.state).terminal:
                return record
            if deadline is not None and time.monotonic() >= deadline:
                return record
            self._ensure(self._record(endpoint))  # a router that died while we wait is started again
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def failure(self, record: DeploymentRecord) -> DeploymentFailedError:
        """The error a Failed deployment raises: its recorded reason and its logs' tails."""
        parts = [record.error or "the deployment failed"]
        for kind in CONTAINER_TYPES:
            text = tail(log_file(self.settings, self.ctx.name, record.endpoint, record.name, kind), _TAIL_LINES)
            if text.strip():
                parts.append(f"--- {kind} log (last lines) ---\n{text.rstrip()}")
        return DeploymentFailedError(f"deployment '{record.name}' of endpoint '{record.endpoint}' failed: "
                                     + "\n".join(parts), endpoint=record.endpoint, deployment=record.name)

    def get_deployment(self, endpoint: str, name: str) -> OnlineDeployment:
        self._record(endpoint)
        return self._deployment_entity(self.deployment_state(endpoint, name))

    def list_deployments(self, endpoint: str) -> list[OnlineDeployment]:
        self._record(endpoint)
        return [self._deployment_entity(r) for r in self.store.list_deployments(endpoint)]

    def delete_deployment(self, endpoint: str, name: str) -> None:
        """Stop a deployment's workers and forget it; refused while it takes traffic (Azure's rule)."""
        record = self._record(endpoint)
        self.deployment_state(endpoint, name)
        for field in ("traffic", "mirror_traffic"):
            share = (record.spec.get(field) or {}).get(name, 0)
            if share:
                raise ValidationError(f"deployment '{name}' takes {share}% of the endpoint's {field.replace('_', ' ')}; "
                                      f"set it to 0 first (openaml online-endpoint update -n {endpoint} --traffic ...)",
                                      field=field)
        self.store.delete_deployment(endpoint, name)
        runtime = RouterRuntime.from_dict(record.runtime)
        if self.host.is_alive(runtime):
            self.host.reload(runtime, self._control_key(record))  # type: ignore[arg-type]
        remove_tree(endpoint_dir(self.settings, self.ctx.name, endpoint) / name)

    def get_logs(self, endpoint: str, name: str, lines: int = 100, container_type: str | None = None) -> str:
        """The last *lines* lines of the deployment's inference server log (instance 0), or of
        its storage initializer (``container_type="storage-initializer"``)."""
        self.deployment_state(endpoint, name)
        kind = (container_type or "inference-server").lower().replace("_", "-")
        if kind not in CONTAINER_TYPES:
            raise ValidationError(f"container_type must be one of {', '.join(CONTAINER_TYPES)}, not "
                                  f"{shown(container_type)}", field="container_type")
        if isinstance(lines, bool) or not isinstance(lines, int) or lines < 0:
            raise ValidationError(f"lines must be a non-negative whole number, not {lines!r}", field="lines")
        return tail(log_file(self.settings, self.ctx.name, endpoint, name, kind), lines)

    # ---- internals ------------------------------------------------------------------------------
    def _record(self, name: str) -> EndpointRecord:
        record = self.store.get_endpoint(name)
        if record is None:
            raise self._missing(name)
        return record

    def _missing(self, name: str) -> NotFoundError:
        return NotFoundError(f"online endpoint {shown(name)} not found in workspace '{self.ctx.name}'. "
                             "See what exists with: openaml online-endpoint list", name=name)

    def _missing_deployment(self, endpoint: str, name: str) -> NotFoundError:
        return NotFoundError(f"deployment {shown(name)} not found on endpoint '{endpoint}'. See what exists "
                             f"with: openaml online-deployment list -e {endpoint}", name=name)

    def _deployment_names(self, endpoint: str) -> list[str]:
        return [d.name for d in self.store.list_deployments(endpoint)]

    def _control_key(self, record: EndpointRecord) -> str:
        return self.ctx.secrets.decrypt(record.secret)["control_key"]

    def _ensure(self, record: EndpointRecord) -> RouterRuntime:
        return self.host.ensure(self.ctx.name, record.name, RouterRuntime.from_dict(record.runtime))

    @staticmethod
    def _public_spec(endpoint: OnlineEndpoint) -> dict[str, Any]:
        spec = endpoint.model_dump(mode="json", exclude_none=True,
                                   exclude={"id", "scoring_uri", "openapi_uri", "provisioning_state", "name"})
        spec["kind_of_endpoint"] = endpoint_kind(endpoint)
        spec["traffic"] = {k: v for k, v in endpoint.traffic.items() if v}
        spec["mirror_traffic"] = {k: v for k, v in endpoint.mirror_traffic.items() if v}
        return spec

    def _to_entity(self, record: EndpointRecord, runtime: RouterRuntime | None) -> OnlineEndpoint:
        spec = dict(record.spec)
        klass = ONLINE_ENDPOINT_CLASSES[spec.pop("kind_of_endpoint", "managed")]
        traffic = dict(spec.get("traffic") or {})
        mirror = dict(spec.get("mirror_traffic") or {})
        for name in self._deployment_names(record.name):
            if name not in traffic and name not in mirror:
                traffic[name] = 0
        spec.update(traffic=traffic, name=record.name, id=self.ctx.asset_id("onlineEndpoints", record.name))
        if runtime is not None:
            spec.update(scoring_uri=runtime.scoring_uri, openapi_uri=runtime.openapi_uri,
                        provisioning_state=ProvisioningState.SUCCEEDED.value)
        else:
            spec.update(provisioning_state=ProvisioningState.CREATING.value)
        return klass.model_validate(spec)

    def _deployment_entity(self, record: DeploymentRecord) -> OnlineDeployment:
        spec = dict(record.spec, name=record.name, endpoint_name=record.endpoint, provisioning_state=record.state,
                    id=self.ctx.asset_id(f"onlineEndpoints/{record.endpoint}/deployments", record.name))
        return ONLINE_DEPLOYMENT_CLASSES[spec.get("type", "managed")].model_validate(spec)

    @staticmethod
    def _deployment_spec(deployment: OnlineDeployment, resolved: dict[str, Any]) -> dict[str, Any]:
        spec = deployment.model_dump(mode="json", exclude_none=True,
                                     exclude={"id", "provisioning_state", "creation_context", "name", "endpoint_name"})
        model = resolved.get("model")
        if model is not None:
            spec["model"] = model["ref"]
        if resolved.get("code") is not None:
            spec["code_configuration"] = {"code": resolved["code"]["uri"],
                                          "scoring_script": resolved["scoring_script"]}
        env = resolved.get("environment")
        if env is not None and env.get("ref"):
            spec["environment"] = env["ref"]
        return spec

    # ---- pinning --------------------------------------------------------------------------------
    def _pin(self, deployment: OnlineDeployment) -> dict[str, Any]:
        model = self._pin_model(deployment.model)
        code, script = self._pin_code(deployment)
        if model is not None and model["type"] == "triton_model":
            raise ValidationError("Triton models cannot be deployed here: openaml has no Triton server; deploy the "
                                  "model with a scoring script (code_configuration) or as an MLflow model instead",
                                  field="model")
        no_code = model is not None and model["type"] == "mlflow_model" and code is None
        if code is None and not no_code:
            raise ValidationError("a deployment of a model that is not an MLflow model needs code_configuration "
                                  "(code and scoring_script with init() and run())", field="code_configuration")
        environment = deployment.environment
        if environment is None and no_code:
            environment = self._mlflow_environment(model)  # type: ignore[arg-type]
        env = pin_environment(self.ctx, environment, what="a deployment")
        return {"model": model, "code": code, "scoring_script": script, "environment": env,
                "mode": "mlflow" if no_code else "script",
                "allow_host_python": self.settings.allow_host_python}

    def _pin_model(self, model: str | Model | None) -> dict[str, Any] | None:
        if model is None:
            return None
        from openaml.services.references import parse_asset_reference
        from openaml.services.registry import RegistryService

        registry = RegistryService(self.ctx)
        if isinstance(model, str):
            name, version, label = parse_asset_reference(model)
            found = registry.get("models", name, version=version, label=label)
            _, digest = registry.content("models", found.name, found.version)
            return {"name": found.name, "version": found.version, "type": found.type, "digest": digest,
                    "ref": f"azureml:{found.name}:{found.version}"}
        if model.path is None:
            raise ValidationError("an inline model needs a path", field="model.path")
        if is_local_path(model.path):
            local = Path(model.path).expanduser().resolve()
            if not local.exists():
                raise ValidationError(f"model path {local} does not exist", field="model.path")
            digest, _ = self.ctx.artifacts.put_path(local)
        else:
            uploaded = job_io.local_upload(model.path)
            if not uploaded:
                raise ValidationError(f"model path {shown(model.path)}: register the model (openaml model create) "
                                      "and name it as azureml:<name>:<version>", field="model.path")
            digest = uploaded[0]
        name = model.name or "model"
        check_name("model", name, field="model.name")
        version = model.version or "1"
        return {"name": name, "version": version, "type": model.type, "digest": digest, "ref": None}

    def _pin_code(self, deployment: OnlineDeployment) -> tuple[dict[str, Any] | None, str | None]:
        config = deployment.code_configuration
        if config is None or (config.code is None and config.scoring_script is None):
            return None, None
        if not config.scoring_script:
            raise ValidationError("code_configuration needs scoring_script (the file with init() and run())",
                                  field="code_configuration.scoring_script")
        script = check_relative(config.scoring_script.replace("\\", "/"), field="code_configuration.scoring_script")
        if not config.code:
            raise ValidationError("code_configuration needs code (the folder holding the scoring script)",
                                  field="code_configuration.code")
        uploaded = job_io.local_upload(config.code)
        if uploaded:
            digest = uploaded[0]
        elif is_local_path(config.code):
            local = Path(config.code).expanduser().resolve()
            if not local.is_dir():
                raise ValidationError(f"code folder {local} does not exist", field="code_configuration.code")
            digest, _ = self.ctx.artifacts.put_path(local, ignore=ignore_matcher(local), links="keep")
        else:
            raise ValidationError(f"code {shown(config.code)}: only local folders are supported",
                                  field="code_configuration.code")
        manifest = self.ctx.artifacts.get_manifest(digest)
        if manifest.kind != "folder" or str(PurePosixPath(script)) not in manifest.files:
            raise ValidationError(f"scoring script {shown(script)} is not in the code folder",
                                  field="code_configuration.scoring_script")
        from openaml.services.uploads import upload_uri
        return {"digest": digest, "root": manifest.root, "uri": upload_uri(self.ctx, digest, manifest.root)}, script

    def _mlflow_environment(self, model: dict[str, Any]) -> Any:
        """An MLflow model deployed with no environment runs in one built from its conda.yaml,
        as Azure builds one from the model's dependencies."""
        from openaml.entities import Environment
        from openaml.specs.yamlio import parse_yaml, to_plain

        manifest = self.ctx.artifacts.get_manifest(model["digest"])
        entry = manifest.files.get("conda.yaml")
        if entry is None:
            raise ValidationError("the MLflow model has no conda.yaml; give the deployment an environment",
                                  field="environment")
        conda = to_plain(parse_yaml(self.ctx.artifacts.read_bytes(entry.digest).decode("utf-8"), "conda.yaml"))
        return Environment(image="python:3", conda_file=conda)
