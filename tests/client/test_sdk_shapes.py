"""azure-ai-ml's SDK shapes: parameter names and keyword forms, unknown keywords refused,
pollers, compute sizes and usage."""

from __future__ import annotations

import inspect
import os
import threading
from pathlib import Path

import pytest

from openaml.client.keywords import TRANSPORT_KEYWORDS, accepted_keywords, checked_keywords
from openaml.client.poller import LROPoller, WaitPolling
from openaml.entities import (AmlCompute, AzureBlobDatastore, CommandComponent, Data, Environment, Input,
                              Model, Usage, VmSize, Workspace)

from .conftest import write

# azure-ai-ml 1.35's parameter names of each operation (read with inspect.signature), in order:
# the positional ones first. openaml's methods take the same names in the same order, and may
# add keyword-only ones of their own (overwrite=, database_url=...).
AZURE_PARAMETERS = {
    "models": {"create_or_update": ["model"], "get": ["name", "version", "label"],
               "list": ["name", "stage", "list_view_type"], "archive": ["name", "version", "label"],
               "restore": ["name", "version", "label"], "download": ["name", "version", "download_path"]},
    "data": {"create_or_update": ["data"], "get": ["name", "version", "label"],
             "list": ["name", "list_view_type"], "archive": ["name", "version", "label"],
             "restore": ["name", "version", "label"]},
    "environments": {"create_or_update": ["environment"], "get": ["name", "version", "label"],
                     "list": ["name", "list_view_type"], "archive": ["name", "version", "label"],
                     "restore": ["name", "version", "label"]},
    "components": {"create_or_update": ["component", "version", "skip_validation"],
                   "get": ["name", "version", "label"], "list": ["name", "list_view_type"],
                   "archive": ["name", "version", "label"], "restore": ["name", "version", "label"],
                   "download": ["name", "download_path", "version"]},
    "jobs": {"create_or_update": ["job", "description", "compute", "tags", "experiment_name", "skip_validation"],
             "get": ["name"], "list": ["parent_job_name", "list_view_type"], "stream": ["name"],
             "download": ["name", "download_path", "output_name", "all"], "begin_cancel": ["name"],
             "archive": ["name"], "restore": ["name"],
             "update": ["name", "display_name", "description", "tags", "properties"],
             "validate": ["job", "raise_on_failure"]},
    "datastores": {"create_or_update": ["datastore"], "get": ["name", "include_secrets"],
                   "get_default": ["include_secrets"], "list": ["include_secrets"], "delete": ["name"]},
    "compute": {"begin_create_or_update": ["compute"], "begin_update": ["compute"], "get": ["name"],
                "list": ["compute_type"], "begin_delete": ["name", "action"],
                "list_sizes": ["location", "compute_type"], "list_usage": ["location"]},
    "workspaces": {"begin_create": ["workspace", "update_dependent_resources"],
                   "begin_update": ["workspace", "update_dependent_resources"], "get": ["name"],
                   "list": ["scope", "filtered_kinds"],
                   "begin_delete": ["name", "delete_dependent_resources", "permanently_delete"]},
    "online_endpoints": {"begin_create_or_update": ["endpoint", "local"], "get": ["name", "local"],
                         "list": ["local"], "begin_delete": ["name", "local"], "get_keys": ["name"],
                         "begin_regenerate_keys": ["name", "key_type"],
                         "invoke": ["endpoint_name", "request_file", "deployment_name", "input_data",
                                    "params_override", "local"]},
    "online_deployments": {"begin_create_or_update": ["deployment", "local", "vscode_debug", "skip_script_validation",
                                                      "local_enable_gpu"],
                           "get": ["name", "endpoint_name", "local"], "list": ["endpoint_name", "local"],
                           "begin_delete": ["name", "endpoint_name", "local"],
                           "get_logs": ["name", "endpoint_name", "lines", "container_type", "local"]},
}
OPERATIONS = [(group, method) for group, methods in AZURE_PARAMETERS.items() for method in methods]


def _positional(fn) -> list[str]:
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in inspect.signature(fn).parameters.values() if p.kind in kinds and p.name != "self"]


@pytest.mark.parametrize(("group", "method"), OPERATIONS, ids=[f"{g}.{m}" for g, m in OPERATIONS])
def test_operations_take_azure_ai_mls_parameter_names(ml_client, group: str, method: str):
    fn = getattr(getattr(ml_client, group), method)
    azure = AZURE_PARAMETERS[group][method]
    assert set(azure) <= set(accepted_keywords(fn)), accepted_keywords(fn)
    ours = _positional(fn)
    assert [n for n in ours if n in azure] == [n for n in azure if n in ours]  # same positional order


def _public_methods(ml_client):
    for group in AZURE_PARAMETERS:
        ops = getattr(ml_client, group)
        for name, _ in inspect.getmembers(type(ops), inspect.isfunction):
            if not name.startswith("_"):
                yield group, name, getattr(ops, name)


def test_every_operation_refuses_an_unknown_keyword_naming_it_and_the_accepted_ones(ml_client):
    checked = 0
    for group, name, method in _public_methods(ml_client):
        with pytest.raises(TypeError) as caught:
            method(nmae="x")
        message = str(caught.value)
        assert "unexpected keyword argument 'nmae'" in message, (group, name, message)
        assert "it accepts: " + ", ".join(accepted_keywords(method)) in message
        assert "\n" not in message
        checked += 1
    assert checked >= 40


def test_a_misspelt_keyword_no_longer_changes_a_result_silently(ml_client, tmp_path: Path):
    ml_client.models.create_or_update(Model(name="clf", path=str(write(tmp_path / "w.txt", "1"))))
    with pytest.raises(TypeError, match=r"ModelOperations.list\(\) got an unexpected keyword argument "
                                        r"'nmae'; it accepts: name, stage, list_view_type. Did you mean 'name'\?"):
        ml_client.models.list(nmae="clf")
    assert [m.name for m in ml_client.models.list(name="clf")] == ["clf"]


def test_azure_core_transport_keywords_are_accepted_and_ignored(ml_client):
    assert "logging_enable" in TRANSPORT_KEYWORDS
    assert [d.name for d in ml_client.datastores.list(logging_enable=True, headers={"x": "1"})]
    assert ml_client.workspaces.get(name="ws", logging_enable=True).name == "ws"


def test_checked_keywords_refuses_functions_that_take_var_keywords():
    def loose(self, name, **kwargs):
        return name
    with pytest.raises(TypeError, match="declare its keyword arguments"):
        checked_keywords(loose, "Group")


def test_keyword_forms_of_every_create(ml_client, tmp_path: Path):
    weights = write(tmp_path / "model" / "w.txt", "w")
    model = ml_client.models.create_or_update(model=Model(name="m", path=str(weights.parent)))
    assert ml_client.models.get(name="m", version=model.version).version == "1"
    data = ml_client.data.create_or_update(data=Data(name="d", path=str(weights), type="uri_file"))
    assert data.version == "1"
    env = ml_client.environments.create_or_update(environment=Environment(name="e", image="python:3.11-slim"))
    assert env.version == "1"
    component = CommandComponent(name="echo_it", command="echo ${{inputs.x}}", inputs={"x": Input(type="string")},
                                 environment="azureml:e:1")
    registered = ml_client.components.create_or_update(component=component, version="7", skip_validation=True)
    assert registered.version == "7"
    store = ml_client.datastores.create_or_update(
        datastore=AzureBlobDatastore(name="blobs", account_name="acct", container_name="c"))
    assert store.name == "blobs"
    cluster = ml_client.compute.begin_create_or_update(compute=AmlCompute(name="cpu-cluster", max_instances=2))
    assert cluster.done() and cluster.status() == "Succeeded" and cluster.result().name == "cpu-cluster"
    assert ml_client.compute.get(name="cpu-cluster").max_instances == 2
    created = ml_client.workspaces.begin_create(workspace=Workspace(name="other")).result()
    assert created.name == "other"
    assert ml_client.create_or_update(entity=Model(name="m2", path=str(weights))).version == "1"
    with pytest.raises(TypeError, match="unexpected keyword argument 'versoin'"):
        ml_client.create_or_update(component, versoin="8")


def test_positional_forms_still_work(ml_client, tmp_path: Path):
    weights = write(tmp_path / "w.txt", "w")
    ml_client.models.create_or_update(Model(name="m", path=str(weights)))
    assert ml_client.models.get("m", "1").name == "m"
    assert [m.version for m in ml_client.models.list("m")] == ["1"]


# -- pollers --------------------------------------------------------------------------------


class _Operation:
    """A fake long-running operation that finishes when the test says so."""

    def __init__(self) -> None:
        self.finished = threading.Event()

    def polling(self) -> WaitPolling[str]:
        return WaitPolling(is_finished=self.finished.is_set, wait_until=self.finished.wait,
                           result=lambda: "the result")


def test_a_poller_is_in_progress_until_its_operation_finishes():
    operation = _Operation()
    poller = LROPoller(polling_method=operation.polling())
    assert poller.status() == "InProgress" and not poller.done()
    assert poller.result(timeout=0.05) is None  # the result available then: none yet
    assert not poller.done()
    operation.finished.set()
    assert poller.status() == "Succeeded" and poller.done()
    assert poller.result() == "the result"
    assert poller.polling_method().finished() and poller.polling_method().resource() == "the result"


def test_done_callbacks_run_once_the_operation_finishes_without_anyone_waiting():
    operation = _Operation()
    poller = LROPoller(polling_method=operation.polling())
    called = threading.Event()
    seen = []
    poller.add_done_callback(lambda method: (seen.append(method.status()), called.set()))
    assert not called.wait(0.05)
    operation.finished.set()
    assert called.wait(5) and seen == ["Succeeded"]
    late = []
    poller.add_done_callback(lambda method: late.append(method.resource()))  # already done: at once
    assert late == ["the result"]
    with pytest.raises(ValueError):
        poller.remove_done_callback(print)


def test_a_finished_operation_poller():
    poller = LROPoller("value")
    assert poller.done() and poller.status() == "Succeeded" and poller.result(timeout=1) == "value"


# -- compute sizes and usage ----------------------------------------------------------------


def test_list_sizes_is_this_machine(ml_client):
    sizes = list(ml_client.compute.list_sizes())
    assert len(sizes) == 1 and isinstance(sizes[0], VmSize)
    size = sizes[0]
    assert size.name == "local" and size.v_cp_us == os.cpu_count()
    import psutil
    assert abs(size.memory_gb - psutil.virtual_memory().total / 2 ** 30) < 0.1
    assert size.gpus >= 0 and size.max_resource_volume_mb > 0
    assert list(ml_client.compute.list_sizes(location="eastus", compute_type="AmlCompute")) == sizes


def test_list_usage_with_no_running_job(ml_client):
    usages = list(ml_client.compute.list_usage())
    assert [u.name.value for u in usages] == ["totalCores"]
    total = usages[0]
    assert isinstance(total, Usage) and total.current_value == 0 and total.limit == os.cpu_count()
    assert total.unit == "Count" and total.type == "Microsoft.MachineLearningServices/totalCores/usages"
