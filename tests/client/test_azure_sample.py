"""A script written as an azure-ai-ml sample, imports changed only, runs end to end: keyword
forms, ``except ResourceNotFoundError``, ``except ValidationException``, pollers, a registered
``command(...).component`` and a ``command()`` node in ``@dsl.pipeline``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).parent.parent / "fixtures" / "samples" / "e2e_pipeline"


def test_the_sample_differs_from_azure_ai_ml_only_in_its_imports():
    lines = (SAMPLE / "sample.py").read_text().splitlines()
    ours = [i for i, line in enumerate(lines) if "openaml" in line and not line.startswith("#")]
    assert ours and all(lines[i].startswith("from openaml") for i in ours)
    for i in ours:  # each replaces the azure.ai.ml import written just above it
        assert lines[i - 1].startswith("# from azure.ai.ml")
        assert lines[i - 1][2:].replace("azure.ai.ml", "openaml") == lines[i]


@pytest.mark.slow
def test_the_azure_ai_ml_sample_runs(tmp_path: Path):
    work = tmp_path / "sample"
    shutil.copytree(SAMPLE, work)
    env = {**os.environ, "OPENAML_HOME": str(tmp_path / "home"), "OPENAML_ALLOW_HOST_PYTHON": "1"}
    done = subprocess.run([sys.executable, "sample.py"], cwd=work, env=env, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    for line in ("compute: created cpu-cluster, poller Succeeded, done=True",
                 "data: creditcard_defaults:1.0.0",
                 "validation: refused (MissingFileError)",
                 "environment: aml-scikit-learn:0.1.0",
                 "component: data_prep_credit_defaults:1",
                 "train component: CommandComponent train_credit_defaults_model",
                 "pipeline: Completed",
                 "model: not registered yet",
                 "model: credit_defaults_model:1",
                 "model files: ['model.json']",
                 "cancel: Succeeded, done=True, job Canceled"):
        assert line in out.splitlines(), f"missing {line!r} in:\n{out[-3000:]}"
    model = json.loads((work / "downloaded" / "credit_defaults_model" / "model" / "model.json").read_text())
    assert model["learning_rate"] == 0.05 and model["name"] == "credit_defaults_model"
    assert model["threshold"] > 1000  # computed from the training split of data/default.csv
