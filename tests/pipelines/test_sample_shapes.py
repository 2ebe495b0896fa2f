"""Pipelines written as Microsoft's azureml-examples write them (``cli/jobs/pipelines...``):
pipeline-level outputs with ``type``/``mode``/``path``, ``compute: ${{parent.inputs.x}}`` and
other step settings bound to pipeline inputs, pipeline components given inputs they do not
declare, and steps naming registered pipeline and parallel components."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from openaml import load_component, load_job
from openaml.cli.main import cli
from openaml.entities import AmlCompute
from openaml.errors import ValidationError

from .conftest import children, wait, write

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "yaml"


@pytest.fixture
def clusters(ml_client):
    for name in ("cpu-cluster", "gpu-cluster"):
        ml_client.compute.begin_create_or_update(AmlCompute(name=name, max_instances=2)).result()


def _components(folder: Path) -> None:
    write(folder / "src" / "note.txt", "code\n")
    write(folder / "write.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
        name: write_report
        version: 1
        display_name: Write a report
        type: command
        inputs:
          message:
            type: string
        outputs:
          report:
            description: the report (its type comes from the pipeline)
          ranks:
            type: uri_folder
        code: ./src
        environment:
          image: python:3.11-slim
        command: >-
          echo $RANK > ${{outputs.ranks}}/rank_$RANK.txt &&
          if [ "$RANK" = 0 ]; then echo "${{inputs.message}} $GREETING $TAGGED" > ${{outputs.report}}; fi
        """)
    write(folder / "read.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
        name: read_report
        version: 1
        type: command
        inputs:
          report:
            type: uri_file
        outputs:
          copy:
            type: uri_folder
        code: ./src
        environment:
          image: python:3.11-slim
        command: test -f ${{inputs.report}} && cp ${{inputs.report}} ${{outputs.copy}}/copy.txt
        """)


def test_pipeline_outputs_and_bound_step_settings_reach_the_step(ml_client, clusters, home: Path, tmp_path: Path,
                                                                 workspace_storage):
    _components(tmp_path / "components")
    spec = write(tmp_path / "pipeline.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
        type: pipeline
        display_name: outputs_and_settings
        experiment_name: samples
        inputs:
          compute_name: gpu-cluster
          greeting: hello
          workers: 2
          timeout: 120
        outputs:
          pipeline_report:
            type: uri_file
            mode: upload
            path: azureml://datastores/workspaceblobstore/paths/samples/report.txt
          pipeline_ranks:
            type: uri_folder
            mode: rw_mount
        settings:
          default_compute: azureml:cpu-cluster
          continue_on_step_failure: false
        jobs:
          write_job:
            type: command
            component: file:./components/write.yml
            compute: ${{parent.inputs.compute_name}}
            inputs:
              message: ${{parent.inputs.greeting}}
            environment_variables:
              GREETING: ${{parent.inputs.greeting}}
              TAGGED: workers-${{parent.inputs.workers}}
            distribution:
              type: pytorch
              process_count_per_instance: ${{parent.inputs.workers}}
            limits:
              timeout: ${{parent.inputs.timeout}}
            outputs:
              report: ${{parent.outputs.pipeline_report}}
              ranks: ${{parent.outputs.pipeline_ranks}}
          read_job:
            type: command
            component: file:./components/read.yml
            inputs:
              report: ${{parent.jobs.write_job.outputs.report}}
        """)
    job = ml_client.jobs.create_or_update(load_job(spec))
    done = wait(ml_client, job.name)
    assert done.status == "Completed", done.error
    steps = children(ml_client, job.name)
    write_job, read_job = steps["write_job"], steps["read_job"]
    assert write_job.compute == "gpu-cluster" and read_job.compute == "azureml:cpu-cluster"
    assert write_job.environment_variables == {"GREETING": "hello", "TAGGED": "workers-2"}
    assert write_job.limits.timeout == 120 and write_job.distribution.process_count_per_instance == 2
    report = write_job.outputs["report"]
    assert (report.type, report.mode) == ("uri_file", "upload")
    assert report.path == "azureml://datastores/workspaceblobstore/paths/samples/report.txt"
    # The file itself at the chosen path on the datastore, not a folder holding it.
    on_datastore = workspace_storage.default_datastore_file(home, "pipes", "samples/report.txt")
    assert on_datastore.read_text().strip() == "hello hello workers-2"
    target = tmp_path / "dl"
    ml_client.jobs.download(job.name, download_path=target, output_name="pipeline_report")
    assert (target / "named-outputs" / "pipeline_report" / "report.txt").read_text() == on_datastore.read_text()
    ml_client.jobs.download(job.name, download_path=target, output_name="pipeline_ranks")
    assert sorted(p.name for p in (target / "named-outputs" / "pipeline_ranks").iterdir()) == ["rank_0.txt",
                                                                                              "rank_1.txt"]
    ml_client.jobs.download(read_job.name, download_path=target, output_name="copy")
    assert (target / "named-outputs" / "copy" / "copy.txt").read_text() == on_datastore.read_text()

    on_datastore.unlink()  # a reused step still delivers its output to the path this run chose
    again = ml_client.jobs.create_or_update(load_job(spec))
    assert wait(ml_client, again.name).status == "Completed"
    assert children(ml_client, again.name)["write_job"].properties.get("azureml.isreused") == "true"
    assert on_datastore.read_text().strip() == "hello hello workers-2"


def _train_pipeline_component(folder: Path) -> Path:
    write(folder / "src" / "note.txt", "code\n")
    write(folder / "train.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
        name: train_model
        version: 1
        type: command
        inputs:
          max_epochs:
            type: integer
            optional: true
        outputs:
          model_output:
            description: the model (its type comes from the pipeline component)
        code: ./src
        environment:
          image: python:3.11-slim
        command: echo epochs=$[[${{inputs.max_epochs}}]] $(cat note.txt) > ${{outputs.model_output}}
        """)
    return write(folder / "train_pipeline_component.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json
        type: pipeline
        name: train_pipeline_component
        display_name: train_pipeline_component
        description: Dummy train pipeline component with local components
        inputs:
          training_max_epochs:
            type: integer
            optional: true
          train_node_compute:
            type: string
        outputs:
          trained_model:
            type: uri_file
        jobs:
          train_job:
            type: command
            component: ./train.yml
            compute: ${{parent.inputs.train_node_compute}}
            inputs:
              max_epochs: ${{parent.inputs.training_max_epochs}}
            outputs:
              model_output: ${{parent.outputs.trained_model}}
        """)


def test_pipeline_component_takes_bound_compute_and_warns_once_of_an_undeclared_input(
        ml_client, clusters, tmp_path: Path):
    _train_pipeline_component(tmp_path / "components")
    spec = write(tmp_path / "pipeline.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
        type: pipeline
        display_name: pipeline_with_pipeline_component
        experiment_name: samples
        inputs:
          compute_train_node: gpu-cluster
        outputs:
          pipeline_job_trained_model:
            mode: upload
        settings:
          default_compute: azureml:cpu-cluster
        jobs:
          train_and_evaluate_model1:
            type: pipeline
            component: ./components/train_pipeline_component.yml
            inputs:
              training_max_epochs: 20
              train_node_compute: ${{parent.inputs.compute_train_node}}
              learning_rate_schedule: time-based
            outputs:
              trained_model: ${{parent.outputs.pipeline_job_trained_model}}
        """)
    result = CliRunner().invoke(cli, ["job", "create", "-f", str(spec), "-w", "pipes"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1 and "'learning_rate_schedule'" in warnings[0], result.stderr
    assert "train_pipeline_component" in warnings[0]
    name = json.loads(result.stdout)["name"]
    done = wait(ml_client, name)
    assert done.status == "Completed", done.error
    step = children(ml_client, name)["train_and_evaluate_model1_train_job"]
    assert step.compute == "gpu-cluster"
    assert (step.outputs["model_output"].type, step.outputs["model_output"].mode) == ("uri_file", "upload")
    target = tmp_path / "dl"
    ml_client.jobs.download(name, download_path=target, all=True)
    assert (target / "named-outputs" / "pipeline_job_trained_model" / "model_output").read_text() == "epochs=20 code\n"
    log = (target / "artifacts" / "user_logs" / "std_log.txt").read_text()
    assert log.count("learning_rate_schedule") == 1, log


def test_steps_run_registered_pipeline_and_parallel_components(ml_client, clusters, tmp_path: Path):
    component = _train_pipeline_component(tmp_path / "components")
    runner = CliRunner()
    for path in (component, FIXTURES / "parallel" / "components" / "score_files.yml"):
        result = runner.invoke(cli, ["component", "create", "-f", str(path), "-w", "pipes"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    (tmp_path / "components" / "src" / "note.txt").write_text("changed after registration\n")
    write(tmp_path / "data" / "a.txt", "alpha\n")
    write(tmp_path / "data" / "b.txt", "beta\n")
    spec = write(tmp_path / "pipeline.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
        type: pipeline
        experiment_name: samples
        inputs:
          raw:
            type: uri_folder
            path: ./data
          compute_train_node: gpu-cluster
        outputs:
          model:
            type: uri_file
        jobs:
          train:
            type: pipeline
            component: azureml:train_pipeline_component:1
            inputs:
              training_max_epochs: 3
              train_node_compute: ${{parent.inputs.compute_train_node}}
            outputs:
              trained_model: ${{parent.outputs.model}}
          score:
            type: parallel
            component: azureml:score_files@latest
            compute: ${{parent.inputs.compute_train_node}}
            inputs:
              data: ${{parent.inputs.raw}}
        """)
    job = ml_client.jobs.create_or_update(load_job(spec))
    done = wait(ml_client, job.name, timeout=120)
    assert done.status == "Completed", done.error
    steps = children(ml_client, job.name)
    assert steps["train_train_job"].compute == steps["score"].compute == "gpu-cluster"
    target = tmp_path / "dl"
    ml_client.jobs.download(job.name, download_path=target, output_name="model")
    # the code snapshot stored at registration ran, not the folder as it is now
    assert (target / "named-outputs" / "model" / "model_output").read_text() == "epochs=3 code\n"
    ml_client.jobs.download(steps["score"].name, download_path=target, output_name="scores")
    rows = (target / "named-outputs" / "scores" / "parallel_run_step.txt").read_text().splitlines()
    assert rows == ["row-a.txt alpha", "row-b.txt beta"]


def test_a_pipeline_job_runs_a_registered_pipeline_component(ml_client, clusters, tmp_path: Path):
    ml_client.components.create_or_update(
        load_component(_train_pipeline_component(tmp_path / "components")))
    spec = write(tmp_path / "job.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
        type: pipeline
        experiment_name: samples
        component: azureml:train_pipeline_component@latest
        inputs:
          train_node_compute: gpu-cluster
        outputs:
          trained_model:
            mode: upload
        """)
    job = ml_client.jobs.create_or_update(load_job(spec))
    done = wait(ml_client, job.name)
    assert done.status == "Completed", done.error
    assert children(ml_client, job.name)["train_job"].compute == "gpu-cluster"
    target = tmp_path / "dl"
    ml_client.jobs.download(job.name, download_path=target, output_name="trained_model")
    assert (target / "named-outputs" / "trained_model" / "model_output").read_text() == "epochs= code\n"
    missing = load_job(spec).model_copy(update={"inputs": {}})
    with pytest.raises(ValidationError, match="needs input 'train_node_compute'"):
        ml_client.jobs.validate(missing, raise_on_failure=True)
