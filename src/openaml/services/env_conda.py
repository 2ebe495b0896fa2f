"""Conda environment files as PyPI requirements: the pip section as is, conda packages with a
known PyPI equivalent renamed, version constraints rewritten in PEP 440, python's pin checked
against the host Python."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from openaml.errors import EnvironmentBuildError, YamlParseError
from openaml.services.env_requirements import Translation, canonical, normalise_requirement, pip_line

__all__ = ["conda_version", "load_conda", "translate_conda"]

# conda names (canonicalised) that are the same project on PyPI
_CONDA_SAME = frozenset("""
numpy pandas scikit-learn scipy matplotlib setuptools wheel pyyaml requests lightgbm xgboost
catboost tensorflow tensorflow-cpu keras tensorboard mlflow mlflow-skinny joblib seaborn statsmodels
pillow tqdm psutil cloudpickle click pyarrow fsspec h5py nltk plotly sympy networkx numba pytest
ipykernel ipython protobuf six packaging jinja2 flask fastapi uvicorn sqlalchemy pydantic boto3
transformers datasets tokenizers torchvision torchaudio onnx onnxruntime optuna shap scikit-image
imbalanced-learn category-encoders dask distributed pyspark python-dateutil pytz tabulate toolz
typing-extensions beautifulsoup4 lxml openpyxl xlrd sentencepiece spacy gensim pymysql redis
azureml-core azureml-defaults azureml-mlflow azure-ai-ml azure-identity pytorch-lightning lightning
""".split())
_CONDA_RENAMED = {
    "pytorch": "torch", "pytorch-cpu": "torch", "py-xgboost": "xgboost", "py-xgboost-cpu": "xgboost",
    "matplotlib-base": "matplotlib", "msgpack-python": "msgpack", "py-opencv": "opencv-python-headless",
    "opencv": "opencv-python-headless", "pytables": "tables", "tensorflow-gpu": "tensorflow",
}
# conda-only names a virtual environment needs nothing for
_CONDA_DROPPED = frozenset({"pip", "cpuonly", "nomkl"})
_CONDA_DEP = re.compile(r"^(?:[\w.-]+::)?(?P<name>[A-Za-z0-9_][\w.\-]*)\s*(?P<rest>.*)$")


def load_conda(conda_file: str | dict[str, Any]) -> dict[str, Any]:
    """A conda file as a dict: given inline, as a path, or as YAML text."""
    if isinstance(conda_file, dict):
        return conda_file
    text = conda_file
    if "\n" not in conda_file and Path(conda_file).is_file():
        text = Path(conda_file).read_text()
    # Imported here: agents import this module and must start without a YAML parser.
    from ruamel.yaml import YAML, YAMLError

    from openaml.specs.yamlio import check_expansion

    try:
        data = YAML(typ="safe").load(text)
        # Anchors repeating anchors load as shared objects but expand when anything walks them.
        check_expansion(data, conda_file if "\n" not in conda_file else None)
    except YamlParseError as exc:
        raise EnvironmentBuildError(f"The conda file is not read: {exc.message}") from None
    except YAMLError as exc:
        raise EnvironmentBuildError(f"The conda file is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise EnvironmentBuildError(f"The conda file '{conda_file[:200]}' is neither a readable file "
                                    f"nor a YAML mapping with `dependencies:`.")
    return data


def translate_conda(data: dict[str, Any], host_python: str) -> Translation:
    """A conda environment file as PyPI requirements: the pip section as is, conda packages that
    have PyPI equivalents converted, python's pin checked against the host; anything else is an
    error naming it. ``channels`` are ignored; ``variables`` become env vars."""
    tr = Translation(env_vars={str(k): str(v) for k, v in (data.get("variables") or {}).items()})
    deps = data.get("dependencies") or []
    if not isinstance(deps, list):
        raise EnvironmentBuildError("The conda file's `dependencies:` must be a list.")
    unknown: list[str] = []
    for dep in deps:
        if isinstance(dep, dict):
            for section, lines in dep.items():
                if section != "pip":
                    unknown.append(f"{section}: (a section)")
                    continue
                for line in lines or []:
                    pip_line(str(line), tr, "the conda file's pip section")
        else:
            _conda_dep(str(dep).strip(), tr, host_python, unknown)
    if unknown:
        raise EnvironmentBuildError(
            f"These conda packages have no PyPI equivalent openaml knows: {', '.join(unknown)}. "
            f"Move them to the `pip:` section under their PyPI names, or drop them (system "
            f"libraries such as CUDA or MKL come inside the PyPI wheels that need them).",
            packages=unknown)
    return tr


def _conda_dep(dep: str, tr: Translation, host_python: str, unknown: list[str]) -> None:
    match = _CONDA_DEP.match(dep)
    if not match:
        unknown.append(dep)
        return
    name, rest = canonical(match["name"]), match["rest"].strip()
    if name == "python":
        note = _python_note(rest, host_python)
        if note:
            tr.notes.append(note)
        return
    if name in _CONDA_DROPPED:
        return
    pypi = _CONDA_RENAMED.get(name) or (name if name in _CONDA_SAME else None)
    if pypi is None:
        unknown.append(dep)
        return
    if pypi != name:
        tr.notes.append(f"conda package {match['name']} installs as {pypi} from PyPI")
    tr.packages.append(normalise_requirement(pypi + conda_version(rest, dep)))


def conda_version(rest: str, dep: str = "") -> str:
    """A conda version constraint as a PEP 440 specifier: ``=1.26`` -> ``==1.26.*``,
    ``=1.26.4`` -> ``==1.26.4``, ``1.26.*`` -> ``==1.26.*``, ``>=1.2,<2`` unchanged; a build
    string (``=1.26.4=py38_0``) is dropped."""
    rest = rest.strip()
    if not rest:
        return ""
    if "|" in rest or "[" in rest:
        raise EnvironmentBuildError(f"conda dependency '{dep or rest}': alternatives ('|') and "
                                    f"bracket specs are not supported; write one PyPI constraint.")
    if rest[0] not in "=<>!~":  # "1.26.*" or "1.26.4 py38_0": version, then an optional build
        rest = "=" + rest.split()[0]
    if rest.startswith("=") and not rest.startswith("=="):
        version = rest[1:].split("=")[0].rstrip("*").rstrip(".")
        return f"=={version}" if version.count(".") >= 2 else f"=={version}.*"
    return ",".join(re.sub(r"^(==[^=]+)=.*$", r"\1", c.strip()) for c in rest.split(","))


def _python_note(rest: str, host_python: str) -> str | None:
    spec = conda_version(rest, "python" + rest)
    if not spec or all(_python_satisfies(clause, sys.version_info[:3]) for clause in spec.split(",")):
        return None
    written = rest if rest[0] in "=<>!~" else " " + rest
    return f"conda pins python{written}; running on host Python {host_python}"


def _python_satisfies(clause: str, host: tuple[int, ...]) -> bool:
    match = re.match(r"^(==|!=|>=|<=|~=|>|<)\s*([\d.]+)", clause)
    if not match:
        return True
    op, want = match[1], tuple(int(x) for x in match[2].strip(".").split(".") if x)
    have = host[:len(want)]
    if op in ("==", "~="):
        return have[:2] == want[:2] if op == "==" else (have >= want and have[0] == want[0])
    return {"!=": have != want, ">=": have >= want, "<=": have <= want,
            ">": have > want, "<": have < want}[op]
