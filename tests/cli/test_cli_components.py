"""``openaml component create -f`` for every component type: command, pipeline and parallel
(registered with their steps' code, pinned references, name rules), then show, list, download."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from openaml.cli.main import cli

PARALLEL = Path(__file__).resolve().parents[1] / "fixtures" / "yaml" / "parallel" / "components" / "score_files.yml"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAML_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(cli, [*args, "-w", "ws"], catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output + result.stderr
        return result

    runner.invoke(cli, ["workspace", "create", "-n", "ws"], catch_exceptions=False)
    return invoke


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.fixture
def pipeline_yaml(tmp_path: Path) -> Path:
    """A pipeline component as azureml-examples writes one: a file component, an inline command
    step with its own code, and a step naming a registered component."""
    _write(tmp_path / "train_src" / "train.py", "print('train')\n")
    _write(tmp_path / "inline_src" / "report.py", "print('report')\n")
    _write(tmp_path / "train.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
        name: train_model
        version: 1
        type: command
        inputs:
          lr: {type: number, default: 0.1}
        outputs:
          model: {type: uri_folder}
        code: ./train_src
        environment:
          image: python:3.11-slim
        command: python train.py --lr ${{inputs.lr}} --out ${{outputs.model}}
        """)
    return _write(tmp_path / "train_pipeline.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json
        type: pipeline
        name: train_pipeline
        version: 1
        display_name: Train then report
        inputs:
          lr: {type: number, default: 0.01}
          compute_name: {type: string, default: cpu-cluster}
        outputs:
          trained_model: {type: uri_folder}
        jobs:
          train:
            type: command
            component: file:./train.yml
            compute: ${{parent.inputs.compute_name}}
            inputs:
              lr: ${{parent.inputs.lr}}
            outputs:
              model: ${{parent.outputs.trained_model}}
          report:
            type: command
            code: ./inline_src
            command: python report.py ${{inputs.model}}
            environment:
              image: python:3.11-slim
            inputs:
              model: ${{parent.jobs.train.outputs.model}}
          again:
            type: command
            component: azureml:train_model@latest
            inputs:
              lr: 0.5
        """)


def test_component_create_registers_a_pipeline_component_with_its_steps_code(run, tmp_path: Path,
                                                                               pipeline_yaml: Path):
    run("component", "create", "-f", str(tmp_path / "train.yml"))
    out = json.loads(run("component", "create", "-f", str(pipeline_yaml)).stdout)
    assert (out["name"], out["version"], out["type"]) == ("train_pipeline", "1", "pipeline")
    jobs = out["jobs"]
    assert jobs["train"]["component"]["code"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    assert jobs["report"]["code"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    assert jobs["again"]["component"] == "azureml:train_model:1"  # pinned, as Azure does
    assert jobs["train"]["compute"] == "${{parent.inputs.compute_name}}"

    again = json.loads(run("component", "create", "-f", str(pipeline_yaml)).stdout)
    assert again["version"] == "1" and again["creation_context"] == out["creation_context"]  # a no-op
    (tmp_path / "inline_src" / "report.py").write_text("print('changed')\n")
    refused = run("component", "create", "-f", str(pipeline_yaml), ok=False)  # other code, same version
    assert "train_pipeline" in refused.stderr
    assert json.loads(run("component", "create", "-f", str(pipeline_yaml), "-v", "2").stdout)["version"] == "2"

    shown = json.loads(run("component", "show", "-n", "train_pipeline", "-v", "1").stdout)
    assert shown["type"] == "pipeline" and set(shown["jobs"]) == {"train", "report", "again"}
    table = run("component", "list", "-o", "table").stdout
    assert "train_pipeline" in table and "pipeline" in table and "train_model" in table
    run("component", "download", "-n", "train_pipeline", "-v", "1", "-p", str(tmp_path / "dl"))
    files = sorted(str(p.relative_to(tmp_path / "dl")) for p in (tmp_path / "dl").rglob("*") if p.is_file())
    assert files == ["train_pipeline/jobs/again/train.py", "train_pipeline/jobs/report/report.py",
                     "train_pipeline/jobs/train/train.py"]
    assert (tmp_path / "dl" / "train_pipeline" / "jobs" / "report" / "report.py").read_text() == "print('report')\n"


def test_component_create_registers_a_parallel_component(run, tmp_path: Path):
    out = json.loads(run("component", "create", "-f", str(PARALLEL)).stdout)
    assert (out["name"], out["version"], out["type"]) == ("score_files", "1", "parallel")
    assert out["task"]["code"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    assert out["mini_batch_size"] == "2" and out["retry_settings"] == {"max_retries": 3, "timeout": 30}
    assert json.loads(run("component", "create", "-f", str(PARALLEL)).stdout)["version"] == "1"
    assert json.loads(run("component", "show", "-n", "score_files").stdout)["type"] == "parallel"
    run("component", "download", "-n", "score_files", "-p", str(tmp_path / "dl"))
    assert [p.name for p in (tmp_path / "dl" / "score_files").rglob("*.py")] == ["score.py"]


@pytest.mark.parametrize("which", ["pipeline", "parallel"])
def test_component_names_follow_the_rule_for_every_type(run, pipeline_yaml: Path, which: str):
    path = pipeline_yaml if which == "pipeline" else PARALLEL
    result = run("component", "create", "-f", str(path), "-n", "Bad-Name", ok=False)
    message = result.stderr.strip()
    assert message.count("\n") == 0, message
    assert "field 'name'" in message and "'Bad-Name'" in message


def test_a_missing_step_component_is_named(run, pipeline_yaml: Path):
    result = run("component", "create", "-f", str(pipeline_yaml), ok=False)  # train_model not registered
    assert "train_model" in result.stderr and "not found" in result.stderr
