"""Before an entity leaves for a server, whatever in it names this machine's files is
uploaded and named by its ``LocalUpload`` URI instead, as the in-process services would store
it: an asset's ``path``, a ``code`` folder (``.amlignore``/``.gitignore`` honoured; in a job,
links inside kept and links leaving it skipped with a warning), a build context, a job's local
inputs; a conda file is read in, and a step's component file loaded. The server then sees
only URIs and inline definitions, which its services already take.

This works on the entity's JSON form (what crosses the wire), so every job and asset type is
covered by the same few rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from openaml.client.http.uploads import Uploader
from openaml.constants import PRIMITIVE_TYPES
from openaml.errors import MissingFileError, ValidationError, ValidationException
from openaml.services.snapshots import ignore_matcher
from openaml.services.uploads import is_local_path

Progress = Callable[[int, int], None]


def _local(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "${{" not in value and is_local_path(value)


def _existing(value: str, field: str, error: type[ValidationException] = MissingFileError) -> Path:
    """The local file or folder *value*; a missing one raises *error*, the class the
    in-process services raise for that field (a job's code and inputs: ValidationError)."""
    path = Path(value).expanduser().resolve()
    if not path.exists():
        raise error(f"{field}: '{value}' does not exist (resolved to {path})", field=field, path=str(path))
    return path


class Localizer:
    """Rewrites one entity's JSON form (see the module's rules); ``warnings`` collects what a
    code snapshot skipped."""

    def __init__(self, uploader: Uploader, progress: Progress | None = None, *, in_job: bool) -> None:
        self.uploader, self.progress, self.in_job = uploader, progress, in_job
        self.warnings: list[str] = []

    def upload(self, value: str, field: str, *, ignore: bool, keep_links: bool = False,
               datastore: str | None = None, error: type[ValidationException] = MissingFileError) -> str:
        path = _existing(value, field, error)
        matcher = ignore_matcher(path) if ignore and path.is_dir() else None
        skipped = (lambda item: self.warnings.append(f"code snapshot: skipped {item.path}: it {item.reason}"))
        return self.uploader.upload(path, ignore=matcher, links="keep" if keep_links else "follow",
                                    on_skip=skipped if keep_links else None, progress=self.progress,
                                    datastore=datastore).uri

    # -- assets --------------------------------------------------------------------------------
    def asset(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        if kind in ("models", "data") and _local(data.get("path")):
            data["path"] = self.upload(data["path"], "path", ignore=False, datastore=data.get("datastore"))
        elif kind == "environments":
            self.environment(data, "")
        elif kind == "components":
            self.component(data, "")
        return data

    def environment(self, env: dict[str, Any], field: str) -> None:
        if _local(env.get("conda_file")):
            from openaml.specs.yamlio import read_yaml_file
            env["conda_file"] = read_yaml_file(_existing(env["conda_file"], field + "conda_file"))
        build = env.get("build")
        if isinstance(build, dict) and _local(build.get("path")):
            build["path"] = self.upload(build["path"], field + "build.path", ignore=True)

    def component(self, spec: dict[str, Any], field: str) -> None:
        kind = spec.get("type") or "command"
        if kind == "pipeline":
            self.steps(spec.get("jobs") or {}, field + "jobs.")
            return
        holder = spec.get("task") if kind == "parallel" else spec
        if isinstance(holder, dict):
            self.code_and_environment(holder, field + ("task." if kind == "parallel" else ""))

    def code_and_environment(self, holder: dict[str, Any], field: str) -> None:
        if _local(holder.get("code")):
            holder["code"] = self.upload(holder["code"], field + "code", ignore=True, keep_links=self.in_job,
                                         error=ValidationError if self.in_job else MissingFileError)
        if isinstance(holder.get("environment"), dict):
            self.environment(holder["environment"], field + "environment.")

    # -- jobs ----------------------------------------------------------------------------------
    def job(self, data: dict[str, Any]) -> dict[str, Any]:
        self.node(data, "")
        return data

    def node(self, node: dict[str, Any], field: str) -> None:
        """A job or a pipeline step: its component or trial, code, environment, inputs, steps."""
        for key in ("component", "trial"):
            value = node.get(key)
            if _local(value) and not value.startswith("azureml:"):
                from openaml.specs import load_component
                loaded = load_component(value.removeprefix("file:"))
                node[key] = value = loaded.model_dump(mode="json", exclude_none=True)
            if isinstance(value, dict):
                self.component(value, f"{field}{key}.")
        self.code_and_environment(node, field)
        self.inputs(node.get("inputs"), field)
        if node.get("type") == "pipeline":
            self.steps(node.get("jobs") or {}, field + "jobs.")

    def steps(self, steps: dict[str, Any], field: str) -> None:
        for name, step in steps.items():
            if isinstance(step, dict):
                self.node(step, f"{field}{name}.")

    def inputs(self, inputs: Any, field: str) -> None:
        if not isinstance(inputs, dict):
            return
        for name, value in inputs.items():
            if isinstance(value, dict) and value.get("type") not in PRIMITIVE_TYPES and _local(value.get("path")):
                value["path"] = self.upload(value["path"], f"{field}inputs.{name}.path", ignore=True,
                                            error=ValidationError)
