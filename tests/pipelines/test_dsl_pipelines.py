"""Pipelines built with the DSL, nested pipelines included, run end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from openaml import Input, dsl, load_component

from tests.helpers import TRANSPORTS

from .conftest import children, component, wait

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("transport", TRANSPORTS, indirect=True)
def test_nested_dsl_pipeline_runs_with_outer_bindings(ml_client, tmp_path: Path):
    folder = tmp_path / "components"
    make = load_component(str(component(folder, "make", "echo ${{inputs.n}} > ${{outputs.out}}/n.txt",
                                        inputs="{n: {type: integer}}", outputs="{out: {type: uri_folder}}")))
    double = load_component(str(component(folder, "double", "echo $(( $(cat ${{inputs.a}}/n.txt) * 2 )) > ${{outputs.out}}/n.txt",
                                          inputs="{a: {type: uri_folder}}", outputs="{out: {type: uri_folder}}")))

    @dsl.pipeline(description="doubles twice")
    def twice(data: Input):
        first = double(a=data)
        second = double(a=first.outputs.out)
        return {"result": second.outputs.out}

    @dsl.pipeline(compute="local", description="outer", default_datastore="workspaceblobstore")
    def outer(start: int = 3):
        seed = make(n=start)
        inner = twice(data=seed.outputs.out)
        last = double(a=inner.outputs.result)
        return {"final": last.outputs.out}

    job = outer(start=5)
    job.settings.continue_on_step_failure = False
    submitted = ml_client.jobs.create_or_update(job, experiment_name="dsl")
    done = wait(ml_client, submitted.name)
    assert done.status == "Completed", done.error
    steps = children(ml_client, submitted.name)
    assert len(steps) == 4 and all(s.status == "Completed" for s in steps.values())
    target = tmp_path / "dl"
    ml_client.jobs.download(submitted.name, download_path=target, output_name="final")
    assert (target / "named-outputs" / "final" / "n.txt").read_text().strip() == str(5 * 2 * 2 * 2)
