"""MLflow's JSON for the model registry (``mlflow/protos/model_registry.proto`` as MLflow's
``message_to_json`` prints it: empty repeated fields and unset optional ones left out), and the
reading of registry request arguments."""

from __future__ import annotations

from typing import Any

from openaml.services.mlflow_registry_records import ModelVersionInfo, RegisteredModelInfo
from openaml.tracking.context import Request
from openaml.tracking.wire import MlflowApiError, invalid, kv_list


def model_version_json(mv: ModelVersionInfo, *, aliases: bool = True) -> dict[str, Any]:
    """A model version; *aliases* False for the ``latest_versions`` of a registered model, where
    MLflow leaves them out (the model lists its aliases itself)."""
    out: dict[str, Any] = {
        "name": mv.name, "version": mv.version, "creation_timestamp": mv.creation_timestamp,
        "last_updated_timestamp": mv.last_updated_timestamp, "current_stage": mv.current_stage,
        "description": mv.description, "source": mv.source, "run_id": mv.run_id, "status": mv.status,
        "run_link": mv.run_link,
    }
    if mv.tags:
        out["tags"] = kv_list(mv.tags)
    if aliases and mv.aliases:
        out["aliases"] = list(mv.aliases)
    if mv.model_id:
        out["model_id"] = mv.model_id
    return out


def registered_model_json(rm: RegisteredModelInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"name": rm.name, "creation_timestamp": rm.creation_timestamp,
                           "last_updated_timestamp": rm.last_updated_timestamp}
    if rm.description:
        out["description"] = rm.description
    if rm.latest_versions:
        out["latest_versions"] = [model_version_json(mv, aliases=False) for mv in rm.latest_versions]
    if rm.tags:
        out["tags"] = kv_list(rm.tags)
    if rm.aliases:
        out["aliases"] = [{"alias": a, "version": v} for a, v in rm.aliases.items()]
    return out


def text(args: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    """A string argument (MLflow's ``_assert_string``); missing and required is MLflow's error."""
    value = args.get(name)
    if value in (None, ""):
        if required:
            raise invalid(f"Missing value for required parameter '{name}'. See the API docs for more "
                          "information about request parameters.")
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid value {value!r} for parameter '{name}' supplied: it must be a string.")
    return value


def text_list(req: Request, name: str) -> list[str]:
    """A repeated string argument: a JSON list in a body, or repeated ``?name=`` in a query."""
    value = req.args.get(name) if req.method != "GET" else None
    items = req.query_list(name) if value is None else value
    if isinstance(items, str):
        items = [items]
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise invalid(f"Invalid value {items!r} for parameter '{name}' supplied: it must be a list of strings.")
    return items


def tag_dict(args: dict[str, Any]) -> dict[str, str]:
    """``tags: [{"key": k, "value": v}, ...]`` as a dict (the last of a repeated key wins)."""
    tags = args.get("tags") or []
    if not isinstance(tags, list):
        raise invalid("Parameter 'tags' must be a list of {key, value} objects.")
    out = {}
    for tag in tags:
        if not isinstance(tag, dict) or not isinstance(tag.get("key"), str) or not tag["key"]:
            raise invalid(f"Invalid tag {tag!r}: a tag needs a non-empty string 'key'.")
        out[tag["key"]] = str(tag.get("value") or "")
    return out


def flag(args: dict[str, Any], name: str) -> bool:
    value = args.get(name, False)
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise invalid(f"Invalid value {value!r} for parameter '{name}' supplied: it must be a boolean.")


def refuse_prompts(tags: dict[str, str]) -> None:
    """MLflow's prompt registry stores prompts as registered models tagged as prompts."""
    if tags.get("mlflow.prompt.is_prompt", "").lower() == "true":
        raise MlflowApiError("NOT_IMPLEMENTED", "openaml does not serve MLflow's prompt registry yet: "
                             "prompts cannot be registered here.", 501)
