"""Registering components of every type: ``command``, ``parallel`` and ``pipeline``.

What a registered version stores, by type:

* command: ``code`` uploaded (named by its ``LocalUpload`` URI), an inline environment's conda
  file read in and build context uploaded; the version's content is the code snapshot.
* parallel: the same for ``task.code`` and ``task.environment``.
* pipeline: every step's component inline, with the same done to it (recursively for nested
  pipeline components, and for inline command steps and sweep trials); a step naming a
  registered component keeps the reference, pinned to its version (the registry's ``pin``), as
  is a registered component object given inline; environment references are pinned too. The version's
  content is one folder holding each step's code under its step's name
  (``<step>/<code files>``, ``<step>/<inner step>/...`` for nested pipelines), so
  ``component download`` writes the code the pipeline runs (referenced components' too).
"""

from __future__ import annotations

from typing import Any, Callable

from openaml.entities import CommandComponent, Environment, ParallelComponent, PipelineComponent
from openaml.entities._base import Asset
from openaml.services import uploads
from openaml.services.workspaces import WorkspaceContext
from openaml.store.manifest import Manifest

Progress = Callable[[int, int], None]
Pin = Callable[[str, str], "tuple[str, str | None]"]
"""``pin(kind, reference)`` -> (``azureml:name:version``, its content digest or None), for kind
``environments`` or ``components``: a workspace reference resolved and pinned to its version."""
COMPONENT_CLASSES: dict[str, type[Asset]] = {
    "command": CommandComponent, "parallel": ParallelComponent, "pipeline": PipelineComponent}
"""The entity of a stored component spec, by its ``type``."""
PIPELINE_CONTENT_ROOT = "jobs"
_SERVICE_FIELDS = ("id", "creation_context")


def component_class(spec: dict[str, Any]) -> type[Asset]:
    """The entity class of a stored component spec (``type`` absent: a command component)."""
    return COMPONENT_CLASSES.get(spec.get("type") or "command", CommandComponent)


class _Collected:
    """One preparation: where it uploads, how it pins, and the code snapshots it met, by their
    path in the component's content."""

    def __init__(self, ctx: WorkspaceContext, progress: Progress | None, pin: Pin | None) -> None:
        self.ctx, self.progress, self._pin = ctx, progress, pin
        self.parts: list[tuple[str, str]] = []

    def add(self, prefix: str, digest: str | None) -> None:
        if digest:
            self.parts.append((prefix, digest))

    def pinned(self, value: Any, kind: str, prefix: str = "") -> Any:
        """A workspace reference pinned (a component's code collected under ``prefix``);
        registry URIs, inline definitions and anything else as given."""
        if self._pin is None or not isinstance(value, str) or value.startswith("azureml://") \
                or not value.startswith("azureml:"):
            return value
        reference, digest = self._pin(kind, value)
        if kind == "components":
            self.add(prefix, digest)
        return reference


def prepare_component(ctx: WorkspaceContext, comp: Asset, progress: Progress | None, pin: Pin | None = None
                      ) -> tuple[dict[str, Any], str | None]:
    """Upload what is local, pin workspace references with ``pin`` (when given), and return
    ``(spec to store, content digest or None)``."""
    spec = comp.model_dump(mode="json", exclude_none=True)
    collected = _Collected(ctx, progress, pin)
    _prepare(spec, "", collected, field="")
    if spec.get("type") != "pipeline":
        return spec, (collected.parts[0][1] if collected.parts else None)
    return spec, _combined(ctx, collected)


def _prepare(spec: dict[str, Any], prefix: str, collected: _Collected, field: str) -> None:
    """Prepare one component spec (a dict) in place."""
    kind = spec.get("type") or "command"
    for key in _SERVICE_FIELDS:
        spec.pop(key, None)
    if kind == "pipeline":
        _prepare_jobs(spec.get("jobs") or {}, prefix, collected, f"{field}jobs.")
        return
    holder = spec.get("task") if kind == "parallel" else spec
    if isinstance(holder, dict):
        _prepare_code_and_environment(holder, prefix, collected, f"{field}task." if kind == "parallel" else field)


def _prepare_code_and_environment(holder: dict[str, Any], prefix: str, collected: _Collected, field: str) -> None:
    ctx, progress = collected.ctx, collected.progress
    if isinstance(holder.get("code"), str):
        digest, holder["code"] = uploads.upload_code(ctx, holder["code"], progress, f"{field}code")
        collected.add(prefix, digest)
    if isinstance(holder.get("environment"), dict):
        env = Environment.model_validate(holder["environment"])
        holder["environment"], _ = uploads.environment_spec(ctx, env, progress, f"{field}environment.")
    elif "environment" in holder:
        holder["environment"] = collected.pinned(holder["environment"], "environments")


def _prepare_jobs(jobs: dict[str, Any], prefix: str, collected: _Collected, field: str) -> None:
    for name, step in jobs.items():
        if not isinstance(step, dict):
            continue
        where, path = f"{field}{name}.", f"{prefix}{name}/"
        for key in ("component", "trial"):
            value = step.get(key)
            if isinstance(value, str) and not value.startswith("azureml:") and uploads.is_local_path(value):
                step[key] = value = _load_file(value)
            if isinstance(value, dict) and _is_registered(value):  # a registered component: referenced
                step[key] = value = f"azureml:{value['name']}:{value['version']}"
            if isinstance(value, dict):
                _prepare(value, path, collected, f"{where}{key}.")
            elif value is not None:
                step[key] = collected.pinned(value, "components", path)
        if step.get("component") is None and (step.get("type") or "command") == "command":
            _prepare_code_and_environment(step, path, collected, where)


def _load_file(path: str) -> dict[str, Any]:
    from openaml.specs import load_component  # only for a step that names a component file
    return load_component(path.removeprefix("file:")).model_dump(mode="json", exclude_none=True)


def _is_registered(spec: dict[str, Any]) -> bool:
    return bool(spec.get("id") and spec.get("name") and spec.get("version"))


def _combined(ctx: WorkspaceContext, collected: _Collected) -> str:
    """One folder manifest holding each collected snapshot under its step's path."""
    files, links = {}, {}
    for prefix, digest in collected.parts:
        manifest = ctx.artifacts.get_manifest(digest)
        if manifest.kind == "file":
            files[f"{prefix}{manifest.root}"] = manifest.files[manifest.root]
            continue
        files.update({f"{prefix}{rel}": entry for rel, entry in manifest.files.items()})
        links.update({f"{prefix}{rel}": target for rel, target in manifest.links.items()})
    combined = Manifest(root=PIPELINE_CONTENT_ROOT, kind="folder", files=files, links=links)
    return ctx.artifacts.put_bytes(combined.to_json()).digest
