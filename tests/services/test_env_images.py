"""The Python an image name promises (over image names from Microsoft's samples and docs), and
finding that interpreter with uv (faked), shared through the cache."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from openaml.services.env_images import check_image_reference, find_python, image_python_version


@pytest.mark.parametrize("image, expected", [
    # the official python images, wherever they come from
    ("python:3.10-slim", "3.10"),
    ("python:3.8", "3.8"),
    ("python:3.12-alpine", "3.12"),
    ("python:3.9.18-slim-bullseye", "3.9"),
    ("python:3.11.4-bookworm", "3.11"),
    ("library/python:3.7", "3.7"),
    ("docker.io/library/python:3.10.13-slim", "3.10"),
    ("docker.io/python:3.13-rc", "3.13"),
    ("myregistry.azurecr.io/python:3.9-slim", "3.9"),
    ("python:3.10@sha256:" + "a" * 64, "3.10"),
    ("python:3.10-slim@sha256:" + "b" * 64, "3.10"),
    ("python:latest", None),
    ("library/python:latest", None),
    ("python", None),
    ("python:3", None),
    ("python:3-slim", None),
    ("python:slim", None),
    # AzureML images: the py38/py310 word
    ("mcr.microsoft.com/azureml/minimal-ubuntu22.04-py310-cpu-inference:latest", "3.10"),
    ("mcr.microsoft.com/azureml/minimal-ubuntu20.04-py38-cpu-inference", "3.8"),
    ("mcr.microsoft.com/azureml/pytorch-1.13-ubuntu20.04-py38-cpu:latest", "3.8"),
    ("mcr.microsoft.com/azureml/sklearn-0.24.1-ubuntu18.04-py37-cpu-inference:latest", "3.7"),
    ("mcr.microsoft.com/azureml/tensorflow-2.4-ubuntu18.04-py37-cpu-inference:latest", "3.7"),
    ("mcr.microsoft.com/azureml/aifx/stable-ubuntu2004-cu117-py38-torch1131", "3.8"),
    ("mcr.microsoft.com/azureml/sklearn-1.5-ubuntu22.04-py311-cpu:1", "3.11"),
    ("ufoym/deepo:all-py38-cu118", "3.8"),
    ("jupyter/scipy-notebook:python-3.10", "3.10"),
    ("continuumio/miniconda3:py310_23.1.0-1", "3.10"),  # Miniconda3-py310_23.1.0-1: its base Python
    # AzureML base images name no Python
    ("mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04", None),
    ("mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest", None),
    ("mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04", None),
    ("mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04", None),
    ("mcr.microsoft.com/azureml/openmpi5.0-cuda12.4-ubuntu22.04:20241008.v1", None),
    ("mcr.microsoft.com/azureml/inference-base-2204", None),
    ("mcr.microsoft.com/azureml/intelmpi2018.3-ubuntu16.04", None),
    # nor do these
    ("nvcr.io/nvidia/pytorch:23.10-py3", None),
    ("pytorch/pytorch:2.0.1-cuda11.7-cudnn8-runtime", None),
    ("tensorflow/tensorflow:2.13.0", None),
    ("continuumio/miniconda3", None),
    ("ubuntu:22.04", None),
    ("rocker/tidyverse:4.0.0-ubuntu18.04", None),
    ("numpy3.10/tools:1", None),
])
def test_the_python_an_image_names(image: str, expected: str | None) -> None:
    assert image_python_version(image) == expected


@pytest.mark.parametrize("image", ["python:3.10-slim", "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest",
                                   "localhost:5000/team/train:v1.2_x", "python@sha256:" + "c" * 64])
def test_image_references_pass(image: str) -> None:
    assert check_image_reference(image) == image


def fake_uv(tmp_path: Path, answers: dict[str, str]) -> tuple[str, Path]:
    """A uv whose `python find X` prints answers[X] (exit 2 when missing); calls logged."""
    log = tmp_path / "uv-calls.txt"
    path = tmp_path / "uv"
    path.write_text(f"#!{sys.executable}\nimport sys\nopen({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
                    f"answers = {answers!r}\n"
                    "if sys.argv[-1] in answers: print(answers[sys.argv[-1]])\nelse: sys.exit(2)\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path), log


def test_find_python_asks_uv_once_a_minute_and_checks_the_answer(tmp_path: Path) -> None:
    interpreter = tmp_path / "python3.10"
    interpreter.write_text("")
    uv, log = fake_uv(tmp_path, {"3.10": str(interpreter), "3.9": str(tmp_path / "gone")})
    cache = tmp_path / "envs"
    assert find_python("3.10", uv, cache) == interpreter
    assert find_python("3.10", uv, cache) == interpreter
    assert find_python("3.8", uv, cache) is None
    assert find_python("3.9", uv, cache) is None  # uv named a file that is not there
    calls = log.read_text().splitlines()
    assert calls == ["python find --system --no-project --no-config --offline 3.10",
                     "python find --system --no-project --no-config --offline 3.8",
                     "python find --system --no-project --no-config --offline 3.9"]
