"""Azure's curated environments, mapped to pinned PyPI package lists (``environments.json``).

Public examples name curated environments in several forms; all of them resolve here::

    azureml://registries/azureml/environments/sklearn-1.5/labels/latest
    azureml://registries/azureml/environments/sklearn-1.5/versions/12
    azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
    azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu:33
    AzureML-sklearn-1.0-ubuntu20.04-py38-cpu
    mcr.microsoft.com/azureml/curated/sklearn-1.5:latest     (as an image)

Names match case-insensitively, with or without the ``AzureML-`` prefix. Every version and
label of a name maps to the same package list.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources

from openaml.errors import EnvironmentBuildError

_DATA_FILE = "environments.json"
_PREFIX = "azureml-"
_CURATED_IMAGE_PREFIX = "mcr.microsoft.com/azureml/curated/"
_REGISTRY_URI = re.compile(
    r"^azureml://registries/(?P<registry>[^/]+)/environments/(?P<name>[^/]+)"
    r"(?:/(?:versions|labels)/(?P<version>[^/]+))?/?$")
_SHORT_REF = re.compile(r"^(?:azureml:)?(?P<name>[^:@/]+)(?:[:@](?P<version>[^:@/]+))?$")


@dataclass(frozen=True)
class CuratedEnvironment:
    """One curated name (plus aliases) and the packages openaml installs for it."""

    name: str
    aliases: tuple[str, ...]
    packages: tuple[str, ...]
    azure_python: str
    azure_packages: str
    notes: str


@dataclass(frozen=True)
class CuratedReference:
    """A parsed reference: the name as written, the version or label, and what it maps to."""

    written: str
    version: str | None
    environment: CuratedEnvironment


@functools.cache
def curated_environments() -> tuple[CuratedEnvironment, ...]:
    """Every curated environment shipped with openaml, in file order."""
    raw = json.loads(resources.files(__package__).joinpath(_DATA_FILE).read_text("utf-8"))
    return tuple(
        CuratedEnvironment(
            name=item["name"], aliases=tuple(item.get("aliases", ())),
            packages=tuple(item["packages"]), azure_python=item["azure"]["python"],
            azure_packages=item["azure"]["packages"], notes=item.get("notes", ""))
        for item in raw["environments"])


@functools.cache
def _index() -> dict[str, CuratedEnvironment]:
    return {_fold(n): env for env in curated_environments() for n in (env.name, *env.aliases)}


def _fold(name: str) -> str:
    name = name.strip().lower()
    return name[len(_PREFIX):] if name.startswith(_PREFIX) else name


def _split(ref: str) -> tuple[str, str | None] | None:
    ref = ref.strip()
    match = _REGISTRY_URI.match(ref) or _SHORT_REF.match(ref)
    return (match["name"], match["version"]) if match else None


def find(ref: str) -> CuratedReference | None:
    """The curated environment ``ref`` names, or None when it names none (then it may be a
    workspace-registered environment)."""
    parts = _split(ref)
    if parts is None:
        return None
    env = _index().get(_fold(parts[0]))
    return CuratedReference(parts[0], parts[1], env) if env else None


def lookup(ref: str) -> CuratedReference:
    """Like :func:`find`, but an unknown name raises an error listing the known ones."""
    found = find(ref)
    if found is None:
        known = ", ".join(env.name for env in curated_environments())
        raise EnvironmentBuildError(
            f"'{ref}' is not a curated environment openaml knows. Known names (each also as "
            f"AzureML-<name>, azureml:AzureML-<name>@latest and azureml://registries/azureml/"
            f"environments/<name>/labels/latest): {known}. Otherwise give the job an environment "
            f"with a conda_file.", reference=ref)
    return found


def find_image(image: str) -> CuratedReference | None:
    """The curated environment behind an image such as
    ``mcr.microsoft.com/azureml/curated/sklearn-1.5:latest``, if openaml knows it."""
    if not image.lower().startswith(_CURATED_IMAGE_PREFIX):
        return None
    rest = image[len(_CURATED_IMAGE_PREFIX):]
    name, _, tag = rest.partition("@")[0].partition(":")
    env = _index().get(_fold(name))
    return CuratedReference(name, tag or None, env) if env else None
