"""Sweep and parallel steps inside pipelines."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from openaml import load_job

from .conftest import children, wait, write

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "yaml" / "parallel"


def test_parallel_step_scores_the_files_of_an_upstream_step(ml_client, tmp_path: Path):
    spec = write(tmp_path / "pipe.yml", f"""
        type: pipeline
        jobs:
          make_files:
            command: for i in 1 2 3 4 5; do echo "line $i" > ${{{{outputs.files}}}}/f$i.txt; done
            environment: {{image: python:3.11-slim}}
            outputs:
              files: {{type: uri_folder}}
          score:
            type: parallel
            component: {FIXTURES}/components/score_files.yml
            inputs:
              data: ${{{{parent.jobs.make_files.outputs.files}}}}
              prefix: "p-"
        """)
    job = ml_client.jobs.create_or_update(load_job(spec))
    done = wait(ml_client, job.name, timeout=120)
    assert done.status == "Completed", done.error
    step = children(ml_client, job.name)["score"]
    target = tmp_path / "dl"
    ml_client.jobs.download(step.name, download_path=target, output_name="scores")
    rows = (target / "named-outputs" / "scores" / "parallel_run_step.txt").read_text().splitlines()
    assert rows == [f"p-f{i}.txt line {i}" for i in range(1, 6)]


def test_sweep_step_feeds_its_best_trial_output_downstream(ml_client, tmp_path: Path):
    write(tmp_path / "src" / "train.py", """
        import sys, mlflow, os
        lr, out = float(sys.argv[1]), sys.argv[2]
        score = 1 - abs(lr - 0.3)
        mlflow.log_metric("score", score)
        open(os.path.join(out, "best.txt"), "w").write(str(lr))
        """)
    spec = write(tmp_path / "pipe.yml", f"""
        type: pipeline
        jobs:
          tune:
            type: sweep
            sampling_algorithm: grid
            search_space:
              lr: {{type: choice, values: [0.1, 0.3, 0.9]}}
            objective: {{goal: maximize, primary_metric: score}}
            limits: {{max_total_trials: 3, max_concurrent_trials: 3}}
            outputs:
              model: {{type: uri_folder}}
            trial:
              command: {sys.executable} train.py ${{{{search_space.lr}}}} ${{{{outputs.model}}}}
              code: ./src
              environment: {{image: python:3.11-slim}}
          use:
            command: cat ${{{{inputs.m}}}}/best.txt
            environment: {{image: python:3.11-slim}}
            inputs:
              m: ${{{{parent.jobs.tune.outputs.model}}}}
        """)
    job = ml_client.jobs.create_or_update(load_job(spec))
    done = wait(ml_client, job.name, timeout=120)
    assert done.status == "Completed", done.error
    steps = children(ml_client, job.name)
    assert steps["tune"].type == "sweep"
    assert len(list(ml_client.jobs.list(parent_job_name=steps["tune"].name))) == 3
    log = tmp_path / "use-log"
    ml_client.jobs.download(steps["use"].name, download_path=log)
    assert (log / "artifacts" / "user_logs" / "std_log.txt").read_text().splitlines()[-1] == "0.3"
