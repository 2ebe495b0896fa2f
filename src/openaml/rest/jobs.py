"""Jobs on the wire: ``JobBase`` resources with azure-ai-ml's field names.

``properties`` hold the job's fields in camelCase with Azure's names where they differ
(``jobType: Command|Pipeline|Sweep``, ``codeId``, ``environmentId``, ``computeId``), and its
inputs and outputs as Azure's ``JobInput``/``JobOutput`` (``jobInputType``, ``uri``, ``mode``;
a literal is ``{"jobInputType": "literal", "value": ...}``). What Azure nests in its own shapes
and openaml keeps as YAML (a pipeline's ``jobs``, a sweep's ``trial``, an inline environment)
crosses in the YAML shape. Read-only fields ride along: ``status``, ``error``, ``studioUrl``,
``startTime``/``endTime``, and the latest ``metrics`` and ``params``.
"""

from __future__ import annotations

from typing import Any

from openaml.errors import ValidationError
from openaml.rest.envelope import from_properties, resource, system_data, times, to_properties
from openaml.rest.paths import WorkspaceScope, resource_type

JOB_TYPES = {"command": "Command", "pipeline": "Pipeline", "sweep": "Sweep"}
_RENAMES = {"type": "jobType", "code": "codeId", "environment": "environmentId", "compute": "computeId"}
_SKIP = ("name", "id", "creation_context")


def job_class(job_type: str) -> type:
    from openaml.entities import Command, PipelineJob, SweepJob
    classes = {"command": Command, "pipeline": PipelineJob, "sweep": SweepJob}
    if job_type not in classes:
        raise ValidationError(f"jobType must be one of {', '.join(JOB_TYPES.values())}, not {job_type!r}",
                              field="properties.jobType")
    return classes[job_type]


def _input_out(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {"jobInputType": "literal", "value": value}
    data = dict(value)
    out = {"jobInputType": data.pop("type", "uri_folder")}
    if "path" in data:
        out["uri"] = data.pop("path")
    out.update(to_properties(data))
    return out


def _input_in(value: Any, field: str) -> Any:
    if not isinstance(value, dict) or "jobInputType" not in value:
        raise ValidationError("a job input is an object with a jobInputType", field=field)
    data = dict(value)
    kind = data.pop("jobInputType")
    if kind == "literal":
        return data.get("value")
    out = {"type": kind}
    if "uri" in data:
        out["path"] = data.pop("uri")
    out.update(from_properties(data))
    return out


def _output_out(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    data = dict(value)
    out = {"jobOutputType": data.pop("type", "uri_folder")}
    if "path" in data:
        out["uri"] = data.pop("path")
    if "name" in data:
        out["assetName"] = data.pop("name")
    out.update(to_properties(data))
    return out


def _output_in(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    data = dict(value)
    out: dict[str, Any] = {}
    if "jobOutputType" in data:
        out["type"] = data.pop("jobOutputType")
    if "uri" in data:
        out["path"] = data.pop("uri")
    if "assetName" in data:
        out["name"] = data.pop("assetName")
    out.update(from_properties(data))
    return out


def job_properties(job: Any) -> dict[str, Any]:
    """A job's ``properties`` (what a create request carries, and more once it exists)."""
    data = job.model_dump(mode="json", exclude_none=True)
    context = data.get("creation_context") or {}
    for key in _SKIP:
        data.pop(key, None)
    kind = data.get("type", "command")
    data["type"] = JOB_TYPES.get(kind, kind)
    inputs, outputs = data.pop("inputs", None), data.pop("outputs", None)
    props = to_properties(data, _RENAMES)
    if inputs is not None:
        props["inputs"] = {k: _input_out(v) for k, v in inputs.items()}
    if outputs is not None:
        props["outputs"] = {k: _output_out(v) for k, v in outputs.items()}
    for key, azure in (("start_time", "startTime"), ("end_time", "endTime")):
        if context.get(key):
            props[azure] = context[key]
    return props


def job_from_properties(props: Any, name: str | None) -> Any:
    """The job entity a create request (or a job resource) describes."""
    if not isinstance(props, dict):
        raise ValidationError("the request body needs properties (an object)", field="properties")
    props = dict(props)
    context = {k: props.pop(azure) for azure, k in (("startTime", "start_time"), ("endTime", "end_time"))
               if azure in props}
    inputs, outputs = props.pop("inputs", None), props.pop("outputs", None)
    data = from_properties(props, _RENAMES)
    back = {v: k for k, v in JOB_TYPES.items()}
    data["type"] = back.get(data.get("type") or "Command", data.get("type"))
    if inputs is not None:
        if not isinstance(inputs, dict):
            raise ValidationError("inputs must be an object", field="properties.inputs")
        data["inputs"] = {k: _input_in(v, f"properties.inputs.{k}") for k, v in inputs.items()}
    if outputs is not None:
        if not isinstance(outputs, dict):
            raise ValidationError("outputs must be an object", field="properties.outputs")
        data["outputs"] = {k: _output_in(v) for k, v in outputs.items()}
    if name is not None:
        data["name"] = name
    cls = job_class(data["type"])
    return cls.model_validate(data), context


def job_resource(job: Any, scope: WorkspaceScope) -> dict[str, Any]:
    context = job.creation_context or {}
    return resource(scope.of("jobs", job.name), job.name, resource_type("jobs"), job_properties(job),
                    system_data(context.get("created_at")))


def job_from_resource(body: dict[str, Any]) -> Any:
    """The entity of a job resource, with its id and creation context as the service fills them."""
    job, context = job_from_properties(body.get("properties"), str(body.get("name")))
    context = {**{k: v for k, v in times(body.get("systemData")).items() if k == "created_at"}, **context}
    return job.model_copy(update={"id": f"azureml:{body.get('id')}", "creation_context": context or None})
