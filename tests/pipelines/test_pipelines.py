"""Pipelines: dependency order, parallel branches, reuse by content (and why not), failures,
continue_on_step_failure, cancellation, optional inputs, bad graphs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from openaml import load_job
from openaml.errors import ValidationError

from tests.helpers import on_every_storage

from .conftest import children, component, wait, write

pytestmark = pytest.mark.slow


@pytest.fixture
def parts(tmp_path: Path) -> Path:
    folder = tmp_path / "components"
    component(folder, "make", "sleep 0.3; echo ${{inputs.n}} > ${{outputs.out}}/n.txt; date +%s.%N > ${{outputs.out}}/t.txt",
              inputs="{n: {type: integer, default: 1, min: 0, max: 100}}", outputs="{out: {type: uri_folder}}")
    component(folder, "add", "start=$(date +%s.%N); sleep 1; echo $(( $(cat ${{inputs.a}}/n.txt) + ${{inputs.k}} )) > "
              "${{outputs.out}}/n.txt; echo $start $(date +%s.%N) > ${{outputs.out}}/span.txt",
              inputs="{a: {type: uri_folder}, k: {type: integer, default: 1}}", outputs="{out: {type: uri_folder}}")
    component(folder, "join", "echo $(( $(cat ${{inputs.x}}/n.txt) + $(cat ${{inputs.y}}/n.txt) )) > ${{outputs.out}}/n.txt"
              " $[[; echo tag=${{inputs.tag}} ]]",
              inputs="{x: {type: uri_folder}, y: {type: uri_folder}, tag: {type: string, optional: true}}",
              outputs="{out: {type: uri_folder}}")
    return folder


def diamond(tmp_path: Path, parts: Path, extra: str = "", settings: str = "{}") -> Path:
    return write(tmp_path / "pipeline.yml", f"""
        $schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
        type: pipeline
        display_name: diamond
        experiment_name: pipes
        inputs:
          start: 5
        outputs:
          total:
        settings: {settings}
        jobs:
          make:
            component: {parts}/make.yml
            inputs:
              n: ${{{{parent.inputs.start}}}}
          left:
            component: {parts}/add.yml
            inputs:
              a: ${{{{parent.jobs.make.outputs.out}}}}
              k: 1
          right:
            component: {parts}/add.yml
            inputs:
              a: ${{{{parent.jobs.make.outputs.out}}}}
              k: 10
          join:
            component: {parts}/join.yml
            inputs:
              x: ${{{{parent.jobs.left.outputs.out}}}}
              y: ${{{{parent.jobs.right.outputs.out}}}}
              {extra}
            outputs:
              out: ${{{{parent.outputs.total}}}}
        """)


def _read(ml_client, job_name: str, output: str, tmp_path: Path, file: str) -> str:
    target = tmp_path / f"dl-{job_name}-{output}"
    ml_client.jobs.download(job_name, download_path=target, output_name=output)
    return (target / "named-outputs" / output / file).read_text().strip()


@on_every_storage
def test_diamond_runs_in_order_with_parallel_branches_then_reuses(ml_client, tmp_path: Path, parts: Path):
    job = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts)))
    done = wait(ml_client, job.name)
    assert done.status == "Completed", done.error
    steps = children(ml_client, job.name)
    assert set(steps) == {"make", "left", "right", "join"}
    assert _read(ml_client, job.name, "total", tmp_path, "n.txt") == str((5 + 1) + (5 + 10))
    left = [float(x) for x in _read(ml_client, steps["left"].name, "out", tmp_path, "span.txt").split()]
    right = [float(x) for x in _read(ml_client, steps["right"].name, "out", tmp_path, "span.txt").split()]
    assert left[0] < right[1] and right[0] < left[1], "independent branches did not overlap"

    again = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts)))
    started = time.monotonic()
    assert wait(ml_client, again.name).status == "Completed"
    reused = children(ml_client, again.name)
    assert all(c.properties.get("azureml.isreused") == "true" for c in reused.values())
    assert reused["left"].properties["azureml.reusedrunid"] == steps["left"].name
    assert time.monotonic() - started < 10
    assert _read(ml_client, again.name, "total", tmp_path, "n.txt") == "21"


def test_a_changed_input_reruns_only_what_depends_on_it(ml_client, tmp_path: Path, parts: Path):
    first = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts)))
    assert wait(ml_client, first.name).status == "Completed"
    spec = load_job(diamond(tmp_path, parts), params_override=[{"jobs.right.inputs.k": 20}])
    second = ml_client.jobs.create_or_update(spec)
    assert wait(ml_client, second.name).status == "Completed"
    steps = children(ml_client, second.name)
    assert steps["make"].properties.get("azureml.isreused") == "true"
    assert steps["left"].properties.get("azureml.isreused") == "true"
    assert "azureml.isreused" not in steps["right"].properties
    assert "inputs.k" in steps["right"].properties["openaml.rerun_reason"]
    assert "inputs.y" in steps["join"].properties["openaml.rerun_reason"]  # its input's content changed
    assert _read(ml_client, second.name, "total", tmp_path, "n.txt") == str(6 + 25)


def test_a_changed_command_or_code_reruns(ml_client, tmp_path: Path, parts: Path):
    first = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts)))
    assert wait(ml_client, first.name).status == "Completed"
    (parts / "src" / "note.txt").write_text("code changed")
    second = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts)))
    assert wait(ml_client, second.name).status == "Completed"
    steps = children(ml_client, second.name)
    assert all("azureml.isreused" not in s.properties for s in steps.values())
    assert "code" in steps["make"].properties["openaml.rerun_reason"]


def test_force_rerun_and_non_deterministic_components(ml_client, tmp_path: Path, parts: Path):
    first = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts)))
    assert wait(ml_client, first.name).status == "Completed"
    forced = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts, settings="{force_rerun: true}")))
    assert wait(ml_client, forced.name).status == "Completed"
    steps = children(ml_client, forced.name)
    assert all("force_rerun" in s.properties["openaml.rerun_reason"] for s in steps.values())
    component(parts, "make", "echo ${{inputs.n}} > ${{outputs.out}}/n.txt", deterministic=False,
              inputs="{n: {type: integer, default: 1}}", outputs="{out: {type: uri_folder}}")
    third = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts)))
    assert wait(ml_client, third.name).status == "Completed"
    assert "not deterministic" in children(ml_client, third.name)["make"].properties["openaml.rerun_reason"]


def test_failed_step_stops_dependants_and_by_default_everything(ml_client, tmp_path: Path, parts: Path):
    component(parts, "add", "sleep 0.2; exit 4", inputs="{a: {type: uri_folder}, k: {type: integer}}",
              outputs="{out: {type: uri_folder}}")
    job = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts)))
    done = wait(ml_client, job.name)
    assert done.status == "Failed"
    assert done.error["code"] == "StepFailed"
    assert set(done.error["failed_steps"]) & {"left", "right"}
    assert "join" not in children(ml_client, job.name)


def test_continue_on_step_failure_runs_independent_branches(ml_client, tmp_path: Path, parts: Path):
    write(tmp_path / "fan.yml", """
        type: pipeline
        settings: {continue_on_step_failure: true}
        jobs:
          bad:
            command: sleep 0.2; exit 1
            environment: {image: python:3.11-slim}
          after_bad:
            command: echo ${{inputs.x}}
            environment: {image: python:3.11-slim}
            inputs:
              x: ${{parent.jobs.bad.outputs.o}}
          good:
            command: sleep 1; echo fine > ${{outputs.o}}/f.txt
            environment: {image: python:3.11-slim}
            outputs:
              o: {type: uri_folder}
        """)
    # 'bad' declares no output 'o': the binding is rejected before anything runs
    with pytest.raises(ValidationError) as err:
        ml_client.jobs.create_or_update(load_job(tmp_path / "fan.yml"))
    assert "after_bad" in str(err.value) and "'o'" in str(err.value)
    text = (tmp_path / "fan.yml").read_text().replace(
        "command: sleep 0.2; exit 1", "command: sleep 0.2; exit 1\n    outputs:\n      o: {type: uri_folder}")
    (tmp_path / "fan.yml").write_text(text)
    job = ml_client.jobs.create_or_update(load_job(tmp_path / "fan.yml"))
    done = wait(ml_client, job.name)
    assert done.status == "Failed"
    steps = children(ml_client, job.name)
    assert steps["good"].status == "Completed" and steps["bad"].status == "Failed"
    assert "after_bad" not in steps


def test_cancel_cancels_running_steps(ml_client, tmp_path: Path):
    write(tmp_path / "slow.yml", """
        type: pipeline
        jobs:
          slow:
            command: sleep 120
            environment: {image: python:3.11-slim}
        """)
    job = ml_client.jobs.create_or_update(load_job(tmp_path / "slow.yml"))
    deadline = time.monotonic() + 30
    while "slow" not in children(ml_client, job.name) or children(ml_client, job.name)["slow"].status != "Running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    ml_client.jobs.begin_cancel(job.name).result(timeout=60)
    assert ml_client.jobs.get(job.name).status == "Canceled"
    assert children(ml_client, job.name)["slow"].status == "Canceled"


def test_optional_input_and_bad_graphs(ml_client, tmp_path: Path, parts: Path):
    job = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts, extra="tag: blue")))
    assert wait(ml_client, job.name).status == "Completed"
    with pytest.raises(ValidationError) as err:
        ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts),
                                                 params_override=[{"jobs.left.inputs.k": "abc"}]))
    assert "left" in str(err.value) and "'k'" in str(err.value)
    with pytest.raises(ValidationError) as err:
        ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts),
                                                 params_override=[{"jobs.make.inputs.n": 500}]))
    assert "max" in str(err.value) and "make" in str(err.value)
    write(tmp_path / "cycle.yml", """
        type: pipeline
        jobs:
          a:
            command: cat ${{inputs.x}}
            environment: {image: python:3.11-slim}
            inputs: {x: "${{parent.jobs.b.outputs.o}}"}
            outputs: {o: {type: uri_folder}}
          b:
            command: cat ${{inputs.x}}
            environment: {image: python:3.11-slim}
            inputs: {x: "${{parent.jobs.a.outputs.o}}"}
            outputs: {o: {type: uri_folder}}
        """)
    with pytest.raises(ValidationError) as err:
        ml_client.jobs.create_or_update(load_job(tmp_path / "cycle.yml"))
    assert "cycle" in str(err.value)
    assert "a -> b -> a" in str(err.value) or "b -> a -> b" in str(err.value)
    dangling = diamond(tmp_path, parts).read_text().replace("jobs.right.outputs.out", "jobs.missing.outputs.out")
    (tmp_path / "dangling.yml").write_text(dangling)
    with pytest.raises(ValidationError) as err:
        ml_client.jobs.create_or_update(load_job(tmp_path / "dangling.yml"))
    assert "missing" in str(err.value) and "join" in str(err.value)


def test_changed_environment_command_or_settings_rerun_with_the_reason(ml_client, tmp_path: Path, parts: Path):
    first = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts)))
    assert wait(ml_client, first.name).status == "Completed"
    text = (parts / "make.yml").read_text()
    (parts / "make.yml").write_text(text.replace("image: python:3.11-slim", "image: python:3.12-slim"))
    env_changed = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts)))
    assert wait(ml_client, env_changed.name).status == "Completed"
    assert "environment" in children(ml_client, env_changed.name)["make"].properties["openaml.rerun_reason"]
    (parts / "make.yml").write_text(text.replace("sleep 0.3;", "sleep 0.2;"))
    cmd_changed = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts)))
    assert wait(ml_client, cmd_changed.name).status == "Completed"
    assert "component" in children(ml_client, cmd_changed.name)["make"].properties["openaml.rerun_reason"]
    settings = load_job(diamond(tmp_path, parts), params_override=[{"jobs.left.environment_variables": {"X": "1"}}])
    settings_changed = ml_client.jobs.create_or_update(settings)
    assert wait(ml_client, settings_changed.name).status == "Completed"
    steps = children(ml_client, settings_changed.name)
    assert steps["make"].properties.get("azureml.isreused") == "true"
    assert "settings" in steps["left"].properties["openaml.rerun_reason"]


def test_default_datastore_setting_places_step_outputs(ml_client, tmp_path: Path, parts: Path):
    job = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts, settings="{default_datastore: workspacefilestore}")))
    assert wait(ml_client, job.name).status == "Completed"
    make = children(ml_client, job.name)["make"]
    assert make.outputs["out"].path == f"azureml://datastores/workspacefilestore/paths/azureml/{make.name}/out/"


def test_anonymous_components_are_versioned_by_content(ml_client, tmp_path: Path, parts: Path):
    first = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts)))
    assert wait(ml_client, first.name).status == "Completed"
    ids = {s: j.properties["openaml.component"] for s, j in children(ml_client, first.name).items()}
    assert ids["left"] == ids["right"] and ids["left"].startswith("add:")  # one component, one version
    text = (parts / "add.yml").read_text()
    (parts / "add.yml").write_text(text.replace("sleep 1;", "sleep 0.9;"))
    second = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts)))
    assert wait(ml_client, second.name).status == "Completed"
    assert children(ml_client, second.name)["left"].properties["openaml.component"] != ids["left"]
    assert children(ml_client, second.name)["make"].properties.get("azureml.isreused") == "true"


def test_job_list_shows_top_level_jobs_and_children_under_their_parent(ml_client, tmp_path: Path, parts: Path):
    job = ml_client.jobs.create_or_update(load_job(diamond(tmp_path, parts)))
    assert wait(ml_client, job.name).status == "Completed"
    assert [j.name for j in ml_client.jobs.list()] == [job.name]
    assert len(list(ml_client.jobs.list(parent_job_name=job.name))) == 4


def test_cli_names_file_and_line_of_a_step_input_refused_at_submission(ml_client, tmp_path: Path, parts: Path):
    from click.testing import CliRunner

    from openaml.cli.main import cli
    spec = diamond(tmp_path, parts)
    spec.write_text(spec.read_text().replace("k: 10", "k: abc"))
    line = next(i for i, text in enumerate(spec.read_text().splitlines(), 1) if "k: abc" in text)
    result = CliRunner().invoke(cli, ["job", "create", "-f", str(spec), "-w", "pipes"])
    assert result.exit_code == 1
    assert f"pipeline.yml:{line}" in result.stderr and "'k'" in result.stderr and "right" in result.stderr
    assert list(ml_client.jobs.list()) == []  # nothing was stored
