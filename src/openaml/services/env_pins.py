"""Pinning an environment when work is submitted, and reading the pin back where it runs.

A job (or an online deployment) names its environment as a registered reference, a curated
name or an inline :class:`~openaml.entities.Environment`; :func:`pin_environment` resolves it
once, at submission, into a plain dict stored with the work (so a later change to a registered
environment changes nothing that was already submitted), and :func:`pinned_environment` turns
that dict back into what :class:`~openaml.services.environments.EnvironmentBuilder` resolves.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from openaml.errors import ValidationError
from openaml.services import curated, job_io
from openaml.services.references import parse_asset_reference

if TYPE_CHECKING:
    from openaml.entities import Environment
    from openaml.services.workspaces import WorkspaceContext


def pin_environment(ctx: "WorkspaceContext", env: "str | Environment | None", *,
                    what: str = "a command job") -> dict[str, Any]:
    """The pinned form of *env*: ``{"kind": "inline"|"curated"|"registered", ...}``."""
    from openaml.entities import Environment
    from openaml.services.registry import RegistryService
    from openaml.services.uploads import environment_spec

    if env is None:
        raise ValidationError(f"{what} needs an environment (a registered one, a curated name "
                              "or an inline definition)", field="environment")
    if isinstance(env, Environment):
        spec, digest = environment_spec(ctx, env, None, "environment.")
        if digest is None and env.build is not None and env.build.path:
            uploaded = job_io.local_upload(env.build.path)
            digest = uploaded[0] if uploaded else None
        return {"kind": "inline", "spec": spec, "build_digest": digest}
    if curated.find(env) is not None:
        return {"kind": "curated", "ref": env}
    if env.startswith("azureml://registries/") or env.split(":")[-1].startswith("AzureML-"):
        curated.lookup(env)  # raises, listing the curated names we know
    name, version, label = parse_asset_reference(env)
    registered = RegistryService(ctx).get("environments", name, version=version, label=label)
    spec = registered.model_dump(mode="json", exclude_none=True, exclude={"id", "creation_context"})
    digest = None
    if registered.build and registered.build.path:
        uploaded = job_io.local_upload(registered.build.path)
        digest = uploaded[0] if uploaded else None
    return {"kind": "registered", "spec": spec, "build_digest": digest,
            "ref": f"azureml:{registered.name}:{registered.version}"}


def pinned_environment(ctx: "WorkspaceContext", pinned: dict[str, Any], workdir: Path) -> "str | Environment":
    """What the builder resolves for a pinned environment; a build context is materialised
    under *workdir* first."""
    if pinned["kind"] == "curated":
        return pinned["ref"]
    from openaml.entities.environment import Environment

    data = dict(pinned["spec"])
    if pinned.get("build_digest"):
        context = ctx.artifacts.materialize(pinned["build_digest"], workdir / "build", overwrite=True)
        data["build"] = {**data["build"], "path": str(context)}
    return Environment.model_validate(data)
