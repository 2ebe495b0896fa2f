"""Runs: create, get, update, delete, restore, search, tags, params, log-batch, outputs."""

from __future__ import annotations

from typing import Any

from openaml.store.run_inputs import DatasetInputRecord, DatasetRecord, RunInputsRecord
from openaml.store.tracking import DEFAULT_EXPERIMENT_ID
from openaml.tracking.context import Request, TrackingContext
from openaml.tracking.wire import (
    as_int, invalid, kv_list, page_json, pairs, required, run_info_json, run_json, run_status, view_type,
)
from openaml.tracking.handlers.metrics import log_model_metrics, metric_tuples


def _run_id(args: dict[str, Any]) -> str:
    return str(required(args, "run_id", "run_uuid"))


def create(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    run = ctx.store.create_run(
        str(args.get("experiment_id") or DEFAULT_EXPERIMENT_ID), run_name=args.get("run_name") or None,
        start_time=as_int(args.get("start_time"), "start_time"), tags=pairs(args.get("tags")),
        user_id=args.get("user_id") or None,
    )
    ctx.known_runs.add(run.run_id)
    created = run_json(run)
    del created["outputs"]  # MLflow's create answers without them (a new run has none)
    return {"run": created}


def _inputs_json(record: RunInputsRecord) -> dict[str, Any]:
    """MLflow's ``RunInputs``: dataset inputs (with their tags) and model inputs."""
    out: dict[str, Any] = {}
    if record.dataset_inputs:
        out["dataset_inputs"] = []
        for item in record.dataset_inputs:
            dataset = {k: v for k, v in vars(item.dataset).items() if v is not None}
            out["dataset_inputs"].append({"tags": kv_list(item.tags), "dataset": dataset} if item.tags
                                         else {"dataset": dataset})
    if record.model_inputs:
        out["model_inputs"] = [{"model_id": m} for m in record.model_inputs]
    return out


def _with_inputs(ctx: TrackingContext, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = ctx.store.run_inputs.for_runs([r["info"]["run_id"] for r in runs])
    for run in runs:
        run["inputs"] = _inputs_json(found.get(run["info"]["run_id"], RunInputsRecord()))
    return runs


def get(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    return {"run": _with_inputs(ctx, [run_json(ctx.store.get_run(_run_id(req.args)))])[0]}


def update(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    run = ctx.store.update_run_info(
        _run_id(args), status=run_status(args.get("status")),
        end_time=as_int(args.get("end_time"), "end_time"), run_name=args.get("run_name") or None,
    )
    return {"run_info": run_info_json(run)}


def delete(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    ctx.store.delete_run(_run_id(req.args))
    return {}


def restore(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    ctx.store.restore_run(_run_id(req.args))
    return {}


def search(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    max_results = as_int(args.get("max_results"), "max_results", 1000)
    if not 0 < max_results <= 50000:  # type: ignore[operator]
        raise invalid(f"Invalid value {max_results} for parameter 'max_results'.")
    order_by = args.get("order_by") or []
    page = ctx.store.search_runs(
        [str(e) for e in args.get("experiment_ids") or []], filter_string=args.get("filter") or None,
        run_view_type=view_type(args.get("run_view_type")), max_results=max_results,  # type: ignore[arg-type]
        order_by=[order_by] if isinstance(order_by, str) else list(order_by),
        page_token=args.get("page_token") or None,
    )
    return page_json("runs", _with_inputs(ctx, [run_json(r) for r in page.items]), page.next_page_token)


def set_tag(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.store.set_tag(_run_id(args), str(required(args, "key")), str(args.get("value", "")))
    return {}


def delete_tag(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.store.delete_tag(_run_id(args), str(required(args, "key")))
    return {}


def log_param(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    ctx.store.log_param(_run_id(args), str(required(args, "key")), str(args.get("value", "")))
    return {}


def log_batch(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    metrics = args.get("metrics") or []
    run_id = _run_id(args)
    ctx.store.log_batch(
        run_id, metrics=metric_tuples(metrics),
        params=pairs(args.get("params")), tags=pairs(args.get("tags")),
    )
    log_model_metrics(ctx, run_id, metrics)
    return {}


def log_model(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    """MLflow 2's ``runs/log-model``: append the model JSON to the ``mlflow.log-model.history`` tag."""
    import json

    args = req.args
    run_id = _run_id(args)
    try:
        model = json.loads(required(args, "model_json"))
    except ValueError:
        raise invalid("Malformed model info: model_json is not valid JSON.") from None
    history = json.loads(ctx.store.get_run(run_id).tags.get("mlflow.log-model.history", "[]"))
    history.append(model)
    ctx.store.set_tag(run_id, "mlflow.log-model.history", json.dumps(history))
    return {}


def _dataset_input(item: Any) -> DatasetInputRecord:
    if not isinstance(item, dict) or not isinstance(item.get("dataset"), dict):
        raise invalid(f"Invalid dataset input {str(item)[:200]!r}: it needs a 'dataset' object.")
    ds = item["dataset"]
    fields = {k: ds.get(k) for k in ("name", "digest", "source_type", "source", "schema", "profile")}
    if fields["name"] is None:
        raise invalid("Dataset name cannot be None")
    for key in ("digest", "source_type", "source"):  # MLflow's server takes a dataset with a name alone
        if fields[key] is None:
            fields[key] = ""
    if not all(isinstance(v, str) for v in fields.values() if v is not None):
        raise invalid("Dataset fields must be strings.")
    return DatasetInputRecord(DatasetRecord(**fields), dict(pairs(item.get("tags"))))


def log_inputs(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    """Dataset inputs (``mlflow.log_input``) and MLflow 3's model inputs of a run."""
    args = req.args
    datasets = [_dataset_input(d) for d in args.get("datasets") or []]
    models = [str(required(m, "model_id")) for m in args.get("models") or []]
    ctx.store.run_inputs.log(_run_id(args), datasets, models)
    return {}


def log_outputs(ctx: TrackingContext, req: Request) -> dict[str, Any]:
    args = req.args
    models = [(str(required(m, "model_id")), as_int(m.get("step"), "step", 0)) for m in args.get("models") or []]
    ctx.store.log_outputs(_run_id(args), models)  # type: ignore[arg-type]
    return {}
