"""PyPI requirements as environment translations produce them: the :class:`Translation` a conda
file or Dockerfile becomes, and the parsing of requirement lines both share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from openaml.errors import EnvironmentBuildError

__all__ = ["INDEX_OPTIONS", "Translation", "canonical", "normalise_requirement", "pip_line"]

_REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?P<extras>\[[^\]]*\])?\s*(?P<spec>[^;]*?)\s*(?P<marker>;.*)?$")
INDEX_OPTIONS = {"-i": "--index-url", "--index-url": "--index-url", "--extra-index-url": "--extra-index-url",
                 "-f": "--find-links", "--find-links": "--find-links"}


@dataclass
class Translation:
    """The PyPI requirements and env vars an environment source asks for, plus log notes."""

    packages: list[str] = field(default_factory=list)
    index_args: list[str] = field(default_factory=list)
    env_vars: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def pip_line(line: str, tr: Translation, where: str) -> None:
    """Add one requirements-file line to ``tr``: a requirement, an index option, or nothing."""
    text = line.split(" #", 1)[0].strip()
    if not text or text.startswith("#"):
        return
    option = text.split("=", 1)[0].split()[0]
    if option in ("-r", "--requirement", "-c", "--constraint") or text.startswith(("-r", "-c")):
        raise EnvironmentBuildError(
            f"`{text}` in {where}: requirement files referenced from here are not supported; "
            f"list the packages themselves.", line=text)
    if option in INDEX_OPTIONS:
        value = text[len(option):].lstrip(" =")
        tr.index_args += [INDEX_OPTIONS[option], value]
        return
    if text.startswith("-"):
        raise EnvironmentBuildError(f"pip option `{text}` in {where} is not supported; only "
                                    f"--index-url, --extra-index-url and --find-links are.", line=text)
    tr.packages.append(normalise_requirement(text))


def canonical(name: str) -> str:
    """A project name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def normalise_requirement(text: str) -> str:
    """One way to write a PEP 508 line: canonical lower-case name, sorted extras and clauses, no
    spaces. URLs and paths are kept as written."""
    text = " ".join(text.split())
    match = _REQUIREMENT.match(text)
    if not match or "://" in text or " @ " in text:
        return text
    extras = ""
    if match["extras"]:
        items = sorted({e.strip().lower() for e in match["extras"][1:-1].split(",") if e.strip()})
        extras = f"[{','.join(items)}]"
    spec = match["spec"].strip().strip("()").replace(" ", "").lower()
    clauses = ",".join(sorted(c for c in spec.split(",") if c))
    marker = f"; {match['marker'][1:].strip()}" if match["marker"] else ""
    return f"{canonical(match['name'])}{extras}{clauses}{marker}"
