"""Environments: conda/Dockerfile translation, keys, curated names, Docker/host choices, and
real uv builds (slow) that check the cache and the per-key lock."""

from __future__ import annotations

import stat
import sys
import threading
import uuid
from pathlib import Path

import pytest

from openaml.entities import BuildContext, Environment
from openaml.errors import EnvironmentBuildError, ErrorCode, OpenAMLError, ValidationError
from openaml.services import curated
from openaml.services.containers import ContainerEngine, EngineProbe
from openaml.services.environments import (ALLOW_HOST_PYTHON_VAR, FORMAT_VERSION, EnvironmentBuilder,
                                           conda_version, translate_conda)

HOST = f"{sys.version_info.major}.{sys.version_info.minor}"
NO_ENGINE = EngineProbe(None, "docker: Cannot connect to the Docker daemon; podman is not installed")
DOCKER = EngineProbe(ContainerEngine("docker", "/usr/bin/docker"))


def conda_env(*deps, **extra) -> Environment:
    return Environment(name="e", image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04",
                       conda_file={"dependencies": list(deps), **extra})


@pytest.fixture
def builder(tmp_path: Path) -> EnvironmentBuilder:
    return EnvironmentBuilder(tmp_path / "envs", engine=NO_ENGINE, find_python=lambda version: None)


# -- conda translation -------------------------------------------------------------------------

@pytest.mark.parametrize("dep, expected", [
    ("numpy=1.26", "numpy==1.26.*"),
    ("numpy=1.26.4", "numpy==1.26.4"),
    ("numpy==1.26.4", "numpy==1.26.4"),
    ("numpy>=1.2", "numpy>=1.2"),
    ("numpy >=1.2,<2", "numpy<2,>=1.2"),
    ("numpy 1.26.*", "numpy==1.26.*"),
    ("numpy=1.26.4=py38_0", "numpy==1.26.4"),
    ("numpy==1.26.4=py38_0", "numpy==1.26.4"),
    ("numpy", "numpy"),
    ("conda-forge::scikit-learn=1.0", "scikit-learn==1.0.*"),
    ("scikit-learn~=1.0.0", "scikit-learn~=1.0.0"),
    ("pandas~=1.3.0", "pandas~=1.3.0"),
    ("PyYAML", "pyyaml"),
    ("pytorch=2.2", "torch==2.2.*"),
    ("py-xgboost=1.7.6", "xgboost==1.7.6"),
    ("matplotlib-base", "matplotlib"),
    ("lightgbm=3.3.5", "lightgbm==3.3.5"),
    ("tensorflow", "tensorflow"),
    ("mlflow=2.9", "mlflow==2.9.*"),
])
def test_conda_packages_become_pypi_requirements(dep: str, expected: str) -> None:
    assert translate_conda({"dependencies": [dep]}, HOST).packages == [expected]


@pytest.mark.parametrize("dep", ["pip", "pip=21.3.1", f"python={HOST}", f"python=={HOST}.1",
                                 "python>=3.8", "cpuonly"])
def test_pip_python_and_metapackages_install_nothing_and_say_nothing(dep: str) -> None:
    tr = translate_conda({"dependencies": [dep]}, HOST)
    assert tr.packages == [] and tr.notes == []


def test_a_different_python_pin_is_relaxed_with_a_warning(builder: EnvironmentBuilder) -> None:
    spec = builder.normalise(conda_env("python=3.8", "numpy"))
    assert f"conda pins python=3.8; running on host Python {HOST}" in " ".join(spec.notes)
    assert translate_conda({"dependencies": ["python<3.9"]}, HOST).notes
    assert "python" not in " ".join(spec.packages)


def test_conda_packages_without_pypi_equivalent_are_named_in_one_error() -> None:
    with pytest.raises(EnvironmentBuildError) as err:
        translate_conda({"dependencies": ["numpy", "cudatoolkit=11.3", "libgcc", "mkl"]}, HOST)
    assert err.value.code is ErrorCode.ENVIRONMENT_BUILD and err.value.http_status == 400
    for name in ("cudatoolkit=11.3", "libgcc", "mkl"):
        assert name in err.value.message
    assert "numpy" not in err.value.details["packages"]
    assert "pip:" in err.value.message


def test_conda_alternatives_are_refused() -> None:
    with pytest.raises(EnvironmentBuildError, match="alternatives"):
        conda_version("1.2|1.3", "numpy 1.2|1.3")


def test_pip_section_passes_through_normalised_and_keeps_index_options() -> None:
    tr = translate_conda({"channels": ["conda-forge"], "dependencies": [
        "python=3.11", {"pip": ["Scikit_Learn == 1.5.2", "mlflow-skinny[databricks] >=2.9", "# a comment",
                                "--extra-index-url https://example.invalid/simple",
                                "requests; python_version >= '3.8'"]}]}, HOST)
    assert tr.packages == ["scikit-learn==1.5.2", "mlflow-skinny[databricks]>=2.9",
                           "requests; python_version >= '3.8'"]
    assert tr.index_args == ["--extra-index-url", "https://example.invalid/simple"]


@pytest.mark.parametrize("line", ["-r requirements.txt", "--requirement=requirements.txt", "-e ."])
def test_pip_section_refuses_requirement_files_and_other_options(line: str) -> None:
    with pytest.raises(EnvironmentBuildError, match="not supported"):
        translate_conda({"dependencies": [{"pip": [line]}]}, HOST)


def test_conda_variables_become_env_vars_and_files_load_from_paths(tmp_path: Path, builder) -> None:
    conda = tmp_path / "conda.yml"
    conda.write_text("name: x\nchannels: [defaults]\ndependencies:\n  - numpy=1.26\n"
                     "  - pip:\n    - tomli\nvariables:\n  MY_FLAG: '1'\n")
    spec = builder.normalise(Environment(name="e", image="img", conda_file=str(conda)))
    assert spec.packages == ("numpy==1.26.*", "tomli")
    assert dict(spec.env_vars) == {"MY_FLAG": "1"}
    assert any("image img noted" in n for n in spec.notes)
    with pytest.raises(EnvironmentBuildError, match="neither a readable file"):
        builder.normalise(Environment(name="e", image="img", conda_file=str(tmp_path / "missing.yml")))


def test_conda_file_with_anchors_repeating_anchors_is_refused(tmp_path: Path, builder) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    conda = tmp_path / "conda.yml"
    conda.write_text("\n".join(lines) + "\ndependencies: [numpy]\n")
    with pytest.raises(EnvironmentBuildError, match=r"conda.yml: the YAML holds more than"):
        builder.normalise(Environment(name="e", image="img", conda_file=str(conda)))


# -- keys --------------------------------------------------------------------------------------

def test_identical_specs_written_differently_share_a_key(builder: EnvironmentBuilder) -> None:
    one = conda_env("python=3.8", "numpy=1.26", "pandas", {"pip": ["tomli==2.0.1", "Six"]},
                    channels=["conda-forge", "defaults"], name="first")
    two = Environment(name="other", image="another-image", conda_file={
        "name": "second", "channels": ["anaconda"],
        "dependencies": [{"pip": ["six", "tomli == 2.0.1"]}, "pandas", "numpy=1.26", "pip=23"]})
    assert builder.key(one) == builder.key(two)
    assert len(builder.key(one)) == 64


def test_a_changed_pin_or_env_var_changes_the_key(builder: EnvironmentBuilder) -> None:
    base = builder.key(conda_env("numpy=1.26"))
    assert builder.key(conda_env("numpy=1.25")) != base
    assert builder.key(conda_env("numpy=1.26", variables={"A": "1"})) != base
    identity = builder.normalise(conda_env("numpy=1.26")).identity()
    assert identity["python"] == HOST and identity["platform"].startswith(sys.platform)
    assert identity["format"] == FORMAT_VERSION


def test_curated_aliases_with_identical_lists_share_a_key(builder: EnvironmentBuilder) -> None:
    assert builder.key("sklearn-1.0") == builder.key("azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu:33")
    assert builder.key("sklearn-1.5") != builder.key("sklearn-1.0")


# -- curated names -----------------------------------------------------------------------------

@pytest.mark.parametrize("ref, name", [
    ("azureml://registries/azureml/environments/sklearn-1.5/labels/latest", "sklearn-1.5"),
    ("azureml://registries/azureml/environments/sklearn-1.5/versions/12", "sklearn-1.5"),
    ("azureml://registries/azureml/environments/sklearn-1.5", "sklearn-1.5"),
    ("azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest", "sklearn-1.0"),
    ("azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu:33", "sklearn-1.0"),
    ("AzureML-sklearn-0.24-ubuntu18.04-py37-cpu", "sklearn-0.24"),
    ("AzureML-sklearn-1.5", "sklearn-1.5"),
    ("sklearn-1.1", "sklearn-1.1"),
    ("azureml:AzureML-lightgbm-3.3-ubuntu20.04-py38-cpu@latest", "lightgbm-3.3"),
    ("azureml://registries/azureml/environments/tensorflow-2.16-cuda12/labels/latest", "tensorflow-2.16-cuda12"),
    ("AzureML-tensorflow-2.7-ubuntu20.04-py38-cuda11-gpu", "tensorflow-2.12-cpu"),
    ("azureml://registries/azureml/environments/acpt-pytorch-2.2-cuda12.1/labels/latest", "acpt-pytorch-2.2-cuda12.1"),
    ("azureml:AzureML-pytorch-1.10-ubuntu18.04-py38-cuda11-gpu@latest", "pytorch-1.13-ubuntu20.04-py38-cuda11.7-gpu"),
    ("AzureML-PyTorch-1.3-CPU@latest", "pytorch-1.13-ubuntu20.04-py38-cuda11.7-gpu"),
    ("azureml://registries/azureml/environments/minimal-ubuntu22.04-py311-cpu/versions/3",
     "minimal-ubuntu22.04-py311-cpu"),
    ("azureml:AzureML-minimal-ubuntu20.04-py38-cpu:1", "minimal-ubuntu22.04-py311-cpu"),
])
def test_every_curated_reference_form_resolves(ref: str, name: str) -> None:
    assert curated.lookup(ref).environment.name == name


def test_curated_version_and_python_differences_are_logged(builder: EnvironmentBuilder) -> None:
    spec = builder.normalise("azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu:33")
    notes = " ".join(spec.notes)
    assert "asked: 33" in notes and f"running on host Python {HOST}" in notes
    assert "1.0.2 has no cp311 wheel" in notes
    assert spec.kind == "venv" and "scikit-learn==1.1.3" in spec.packages


def test_unknown_curated_names_list_the_known_ones() -> None:
    assert curated.find("azureml:my-registered-env:3") is None
    with pytest.raises(EnvironmentBuildError) as err:
        curated.lookup("AzureML-sklearn-9.9")
    assert "sklearn-1.5" in err.value.message and "lightgbm-3.3" in err.value.message


def test_curated_images_map_to_their_package_lists(builder: EnvironmentBuilder) -> None:
    spec = builder.normalise(Environment(name="e", image="mcr.microsoft.com/azureml/curated/sklearn-1.5:27"))
    assert spec.kind == "venv" and spec.key == builder.key("sklearn-1.5")


def test_curated_data_is_pinned_unique_and_has_mlflow() -> None:
    seen: set[str] = set()
    for env in curated.curated_environments():
        names = {n.lower() for n in (env.name, *env.aliases)}
        assert not names & seen, names & seen
        seen |= names
        assert all("==" in p for p in env.packages), env.name
        assert env.notes, env.name
        if not env.name.startswith("minimal"):
            assert any(p.startswith("mlflow-skinny==2.") for p in env.packages), env.name
    assert {"sklearn-1.5", "sklearn-1.0", "sklearn-0.24", "lightgbm-3.3"} <= seen


# -- images, Docker and the host Python --------------------------------------------------------

def test_image_only_without_an_engine_is_a_venv_for_the_host_python_saying_so(builder: EnvironmentBuilder) -> None:
    spec = builder.normalise(Environment(name="e", image="myregistry.azurecr.io/train:1"))
    assert (spec.kind, spec.python, spec.packages, spec.interpreter) == ("venv", HOST, (), None)
    assert spec.headline == (f"openaml: image myregistry.azurecr.io/train:1 not run: no container engine; "
                             f"ran on Python {HOST} in venv {spec.key[:12]}")
    assert any("Cannot connect to the Docker daemon" in note for note in spec.notes)
    # one empty venv per Python, whatever the image: the same as the curated minimal environment
    assert builder.key(Environment(image="ubuntu:22.04")) == spec.key == builder.key("AzureML-minimal-ubuntu22.04-py311-cpu")


def test_image_only_uses_the_python_the_image_names_when_uv_finds_it(tmp_path: Path) -> None:
    asked: list[str] = []
    other = "3.10" if HOST != "3.10" else "3.12"

    def found(version: str) -> Path | None:
        asked.append(version)
        return Path(f"/opt/python{version}/bin/python{version}")

    builder = EnvironmentBuilder(tmp_path, engine=NO_ENGINE, find_python=found)
    spec = builder.normalise(Environment(image=f"python:{other}-slim"))
    assert (spec.python, spec.interpreter, asked) == (other, f"/opt/python{other}/bin/python{other}", [other])
    assert spec.headline.endswith(f"ran on Python {other} in venv {spec.key[:12]}")
    same = builder.normalise(Environment(image=f"python:{HOST}-slim"))
    assert (same.python, same.interpreter, asked) == (HOST, None, [other])  # this Python: nothing to find
    assert same.key != spec.key
    old = builder.normalise(Environment(image="python:3.6"))
    assert old.python == HOST and asked == [other]  # older than uv builds venvs for: not even looked for


def test_image_only_falls_back_to_this_python_when_the_named_one_is_missing(builder: EnvironmentBuilder) -> None:
    other = "3.10" if HOST != "3.10" else "3.12"
    spec = builder.normalise(Environment(image=f"python:{other}-slim"))
    assert spec.python == HOST and spec.interpreter is None
    assert spec.headline == (f"openaml: image python:{other}-slim not run: no container engine; ran on Python "
                             f"{HOST} in venv {spec.key[:12]} (Python {other}, which the image names, is not "
                             f"installed here)")


def test_image_only_runs_on_this_interpreter_with_the_host_opt_in(tmp_path: Path) -> None:
    builder = EnvironmentBuilder(tmp_path, allow_host_python=True, engine=NO_ENGINE)
    lines: list[str] = []
    resolved = builder.resolve(Environment(name="e", image="ubuntu:22.04"), log=lines.append)
    assert resolved.kind == "host" and resolved.python == Path(sys.executable)
    assert resolved.headline == (f"openaml: image ubuntu:22.04 not run: no container engine; ran on Python "
                                 f"{HOST} at {sys.executable} ({ALLOW_HOST_PYTHON_VAR}=1)")
    assert any("Cannot connect to the Docker daemon" in line for line in lines)
    assert builder.builds == 0


def test_containers_off_is_said_as_such(tmp_path: Path) -> None:
    builder = EnvironmentBuilder(tmp_path, container_runtime="none", find_python=lambda version: None)
    spec = builder.normalise(Environment(image="ubuntu:22.04"))
    assert spec.headline.startswith("openaml: image ubuntu:22.04 not run: OPENAML_CONTAINER_RUNTIME=none; ran on")


def test_image_only_runs_in_a_container_when_an_engine_is_present(tmp_path: Path) -> None:
    builder = EnvironmentBuilder(tmp_path, engine=DOCKER, allow_host_python=True)  # the engine wins
    spec = builder.normalise(Environment(name="e", image="ubuntu:22.04"))
    assert (spec.kind, spec.image) == ("container", "ubuntu:22.04")
    assert spec.headline == "openaml: image ubuntu:22.04 runs in a docker container"


def test_a_named_engine_that_cannot_run_is_an_error(tmp_path: Path) -> None:
    builder = EnvironmentBuilder(tmp_path, container_runtime="podman", engine=EngineProbe(None, "podman is not installed"),
                                 allow_host_python=True)
    with pytest.raises(EnvironmentBuildError) as err:
        builder.normalise(Environment(image="python:3.10-slim"))
    assert err.value.details["field"] == "OPENAML_CONTAINER_RUNTIME"
    assert "OPENAML_CONTAINER_RUNTIME=podman" in err.value.message and "podman is not installed" in err.value.message
    assert type(OpenAMLError.from_dict(err.value.to_dict())) is EnvironmentBuildError  # crosses the wire as itself
    assert builder.normalise(conda_env("numpy")).kind == "venv"  # only images need the engine


@pytest.mark.parametrize("image", ["--privileged", "ubuntu:22.04 --rm", "a\nb", "-v=/:/host", "x" * 300])
def test_what_is_not_an_image_reference_is_refused(builder: EnvironmentBuilder, image: str) -> None:
    with pytest.raises(ValidationError) as err:
        builder.normalise(Environment.model_construct(name="e", image=image, conda_file=None, build=None))
    assert err.value.details["field"] == "environment.image"


def test_image_with_conda_file_builds_a_venv_even_with_docker(tmp_path: Path) -> None:
    spec = EnvironmentBuilder(tmp_path, engine=DOCKER).normalise(conda_env("numpy"))
    assert spec.kind == "venv"


# -- Dockerfiles -------------------------------------------------------------------------------

SIMPLE_DOCKERFILE = """\
# syntax=docker/dockerfile:1
FROM python:3.8-slim
ARG SKLEARN=1.5.2
ENV MODE=train OTHER="two words"
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
RUN pip install --upgrade pip && \\
    # a comment inside a continuation
    pip install 'scikit-learn==${SKLEARN}' \\
        "pandas>=2"
RUN python -m pip install -U tomli
ENV PATH=/opt/venv/bin:$PATH
CMD ["python", "train.py"]
"""


def build_context(tmp_path: Path, dockerfile: str, requirements: str = "numpy==1.26.4\n") -> Environment:
    context = tmp_path / "context"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(dockerfile)
    (context / "requirements.txt").write_text(requirements)
    return Environment(name="e", build=BuildContext(path=str(context)))


def test_a_simple_dockerfile_becomes_a_venv(tmp_path: Path, builder: EnvironmentBuilder) -> None:
    spec = builder.normalise(build_context(tmp_path, SIMPLE_DOCKERFILE, "# pinned\nnumpy==1.26.4\n"))
    assert spec.kind == "venv"
    assert spec.packages == ("numpy==1.26.4", "pandas>=2", "scikit-learn==1.5.2", "tomli")
    assert dict(spec.env_vars) == {"MODE": "train", "OTHER": "two words"}
    notes = " ".join(spec.notes)
    assert f"FROM python:3.8-slim: running on host Python {HOST}" in notes and "ENV PATH skipped" in notes


def test_requirements_changes_change_the_dockerfile_key(tmp_path: Path, builder) -> None:
    first = builder.key(build_context(tmp_path, SIMPLE_DOCKERFILE, "numpy==1.26.4\n"))
    assert builder.key(build_context(tmp_path, SIMPLE_DOCKERFILE, "numpy==1.26.3\n")) != first


def test_azureml_and_curated_base_images_translate(tmp_path: Path, builder) -> None:
    spec = builder.normalise(build_context(
        tmp_path, "FROM mcr.microsoft.com/azureml/curated/sklearn-1.5:3\nRUN pip install tomli\n"))
    assert "tomli" in spec.packages and "scikit-learn==1.5.2" in spec.packages
    spec = builder.normalise(build_context(
        tmp_path, "FROM mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest\nRUN pip install tomli\n"))
    assert spec.packages == ("tomli",)


@pytest.mark.parametrize("dockerfile, named", [
    ("FROM python:3.11\nRUN apt-get update && apt-get install -y git\n", "RUN apt-get update"),
    ("FROM python:3.11\nRUN pip install a; rm -rf /tmp\n", "RUN pip install a; rm -rf /tmp"),
    ("FROM ubuntu:22.04\nRUN pip install tomli\n", "FROM ubuntu:22.04"),
    ("FROM python:3.11 AS build\nFROM python:3.11-slim\n", "multi-stage"),
    ("FROM python:3.11\nRUN pip install -r other.txt\n", "was not COPY'd"),
    ("FROM python:3.11\nSHELL [\"/bin/bash\", \"-c\"]\n", "SHELL"),
    ("FROM python:3.11\nRUN pip install -e .\n", "RUN pip install -e ."),
])
def test_other_dockerfiles_are_refused_naming_the_instruction(tmp_path: Path, builder, dockerfile: str,
                                                              named: str) -> None:
    with pytest.raises(EnvironmentBuildError) as err:
        builder.normalise(build_context(tmp_path, dockerfile))
    assert named in err.value.message
    assert "container engine" in err.value.message and ALLOW_HOST_PYTHON_VAR in err.value.message


def test_untranslatable_dockerfiles_go_to_a_container_or_the_host_when_those_work(tmp_path: Path) -> None:
    env = build_context(tmp_path, "FROM ubuntu:22.04\nRUN apt-get install -y git\n")
    spec = EnvironmentBuilder(tmp_path / "a", engine=DOCKER).normalise(env)
    assert spec.kind == "container" and spec.docker_context == env.build.path and spec.context_digest
    spec = EnvironmentBuilder(tmp_path / "b", engine=NO_ENGINE, allow_host_python=True).normalise(env)
    assert spec.kind == "host" and spec.headline.startswith(f"openaml: Dockerfile {env.build.path}")


def test_remote_build_contexts_are_refused(builder: EnvironmentBuilder) -> None:
    with pytest.raises(EnvironmentBuildError, match="not a local folder"):
        builder.normalise(Environment(name="e", build=BuildContext(path="https://example.invalid/ctx")))


# -- builds ------------------------------------------------------------------------------------

def fake_uv(tmp_path: Path, script: str) -> str:
    path = tmp_path / "fake-uv"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_a_failed_build_leaves_nothing_and_names_the_package(tmp_path: Path) -> None:
    uv = fake_uv(tmp_path, 'if [ "$1" = venv ]; then mkdir -p "$2/bin"; echo created; exit 0; fi\n'
                           'echo "Resolved 3 packages"\n'
                           'echo "error: Failed to build \\`broken-pkg==1.0\\`"\n'
                           'echo "  Caused by: compiler exploded"\nexit 2\n')
    builder = EnvironmentBuilder(tmp_path / "envs", uv_path=uv, engine=NO_ENGINE)
    lines: list[str] = []
    with pytest.raises(EnvironmentBuildError) as err:
        builder.resolve(conda_env({"pip": ["broken-pkg==1.0"]}), log=lines.append)
    assert err.value.details["package"] == "broken-pkg==1.0"
    assert "compiler exploded" in err.value.message and "exited with 2" in err.value.message
    assert "  Caused by: compiler exploded" in lines  # uv's output was streamed to the job log
    assert [p.name for p in (tmp_path / "envs").iterdir()] == [".locks"]
    assert builder.builds == 0


@pytest.mark.slow
def test_real_build_is_reused_and_built_once_under_concurrency(tmp_path: Path) -> None:
    cache = tmp_path / "envs"
    first = EnvironmentBuilder(cache, engine=NO_ENGINE)
    env = conda_env("python=3.11", {"pip": ["tomli"]}, variables={"RUN_ID": uuid.uuid4().hex})
    lines: list[str] = []
    resolved = first.resolve(env, log=lines.append)
    assert resolved.kind == "venv" and first.builds == 1
    assert "built in" in resolved.description and any("Installed" in line for line in lines)
    import subprocess
    out = subprocess.run([str(resolved.python), "-c", "import tomli, sys; print(sys.prefix)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == cache / resolved.key
    assert (cache / resolved.key / "spec.json").is_file()
    assert ".building-" not in (resolved.bin_dir / "pip").read_text()  # relocatable entry points
    assert not list(cache.glob(".building-*"))

    again: list[str] = []
    assert first.resolve(env, log=again.append).description.endswith("(cached)")
    assert first.builds == 1 and first.is_cached(env)
    assert not any("Resolved" in line for line in again)  # uv did not run

    fresh = conda_env({"pip": ["tomli"]}, variables={"RUN_ID": uuid.uuid4().hex})
    builders = [EnvironmentBuilder(cache, engine=NO_ENGINE) for _ in range(3)]
    results: list = []
    threads = [threading.Thread(target=lambda b=b: results.append(b.resolve(fresh, log=lambda _: None)))
               for b in builders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 3 and len({r.python for r in results}) == 1
    assert sum(b.builds for b in builders) == 1


def test_the_docs_list_every_curated_name() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "environments.md").read_text()
    for env in curated.curated_environments():
        assert f"`{env.name}`" in docs, env.name
