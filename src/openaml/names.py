"""Names and versions: Azure ML's rules, owned by this one module.

Every operation that creates something named (registering an asset version, creating a
datastore, a compute, a workspace, submitting a job, registering a job's output) calls a check
here before anything is stored, so the SDK, the CLI (``-n``, ``--set name=...``, YAML ``name:``)
and a future REST server refuse the same names with the same one-line message. Reads, archives
and deletes never check: a name stored before these rules existed stays reachable.

Every rule is matched in full (``re.fullmatch``: ``$`` would accept a trailing newline), and
every name a rule accepts is safe as one path segment: no ``/`` or ``\\``, not ``.`` or ``..``,
no control characters, at most 255 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openaml.errors import ValidationError

__all__ = [
    "ASSET", "COMPONENT", "COMPUTE", "COMPUTE_CLUSTER", "COMPUTE_INSTANCE", "ENDPOINT",
    "EXPERIMENT", "INT_VERSION_MAX", "JOB", "NameRule", "VERSION_MAX_LENGTH", "WORKSPACE",
    "check_compute_name", "check_name", "check_version", "compute_rule", "int_version",
    "shown", "step_job_name", "trial_job_name", "version_problem",
]

VERSION_MAX_LENGTH = 255
# Azure's asset versions are int32-ish; larger integers are refused and never count towards
# the next automatic version, so auto-versioning cannot overflow a database integer.
INT_VERSION_MAX = 2**31 - 1
_SHOWN_MAX = 80
_INTEGER = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class NameRule:
    """One naming rule: the noun a message uses, the pattern a name must match in full, and the
    rule in words (what the user reads)."""

    noun: str
    pattern: re.Pattern[str]
    text: str

    def accepts(self, value: object) -> bool:
        """Whether *value* is a string this rule allows."""
        return isinstance(value, str) and self.pattern.fullmatch(value) is not None

    def check(self, value: object, *, field: str = "name", subject: str | None = None) -> str:
        """Return *value* if the rule accepts it; raise :class:`ValidationError` naming *field*.

        *subject* replaces the message's default start (``"<noun> name '<value>'"``).
        """
        if self.accepts(value):
            return value  # type: ignore[return-value]
        start = subject or f"{self.noun} name {shown(value)}"
        raise ValidationError(f"{start} is invalid: {self.text}", field=field, rule=self.noun)


def _rule(noun: str, pattern: str, text: str) -> NameRule:
    return NameRule(noun, re.compile(pattern), text)


ASSET = _rule("asset", r"[a-zA-Z0-9][a-zA-Z0-9._-]{0,254}",
              "names start with a letter or digit and hold only letters, digits, '.', '_' and '-' "
              "(at most 255 characters)")
COMPONENT = _rule("component", r"[a-z][a-z0-9_]{0,254}",
                  "component names start with a lower-case letter and hold only lower-case letters, "
                  "digits and '_' (at most 255 characters)")
JOB = _rule("job", r"[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}",
            "job names start with a letter or digit and hold only letters, digits, '_' and '-' "
            "(at most 255 characters)")
WORKSPACE = _rule("workspace", r"[a-zA-Z0-9][a-zA-Z0-9_-]{1,32}",
                  "workspace names are 2-33 letters, digits, '_' or '-', starting with a letter or digit")
COMPUTE_CLUSTER = _rule("cluster", r"[a-zA-Z][a-zA-Z0-9-]{1,15}",
                        "cluster (amlcompute) names are 2-16 letters, digits or '-', starting with a letter")
COMPUTE_INSTANCE = _rule("compute instance", r"[a-zA-Z][a-zA-Z0-9-]{2,23}",
                         "compute instance names are 3-24 letters, digits or '-', starting with a letter")
# Attached computes (kubernetes, virtualmachine, ...): Azure's general compute resource rule.
COMPUTE = _rule("compute", r"[a-zA-Z][a-zA-Z0-9-]{1,15}",
                "compute names are 2-16 letters, digits or '-', starting with a letter")
ENDPOINT = _rule("endpoint", r"[a-zA-Z][-a-zA-Z0-9]{1,30}[a-zA-Z0-9]",
                 "endpoint names are 3-32 letters, digits or '-', starting with a letter and not "
                 "ending with '-'")
# Azure's rule for deployment names (as for endpoints, 3-32 characters).
DEPLOYMENT = _rule("deployment", r"[a-zA-Z][-a-zA-Z0-9]{1,30}[a-zA-Z0-9]",
                   "deployment names are 3-32 letters, digits or '-', starting with a letter and not "
                   "ending with '-'")
# Experiments are labels, not paths (MLflow keys experiments by id), so any printable text
# fits; control characters are refused because the name travels in job environment variables.
EXPERIMENT = _rule("experiment", r"[^\x00-\x1f\x7f-\x9f]{1,255}",
                   "experiment names are 1-255 characters without control characters")

_BY_KIND: dict[str, tuple[NameRule, str]] = {
    "model": (ASSET, "model"),
    "data": (ASSET, "data asset"),
    "environment": (ASSET, "environment"),
    "datastore": (ASSET, "datastore"),
    "component": (COMPONENT, "component"),
    "job": (JOB, "job"),
    "workspace": (WORKSPACE, "workspace"),
    "endpoint": (ENDPOINT, "endpoint"),
    "deployment": (DEPLOYMENT, "deployment"),
    "experiment": (EXPERIMENT, "experiment"),
}
_COMPUTE_BY_TYPE = {"amlcompute": COMPUTE_CLUSTER, "computeinstance": COMPUTE_INSTANCE}


def shown(value: object) -> str:
    """*value* as a message shows it: quoted, control characters escaped (``repr``), and cut
    after 80 characters so that a message stays one short line."""
    if not isinstance(value, str):
        return f"of type {type(value).__name__}"
    if len(value) <= _SHOWN_MAX:
        return repr(value)
    return f"{value[:_SHOWN_MAX]!r}... ({len(value)} characters)"


def check_name(kind: str, value: object, *, field: str = "name") -> str:
    """Check the name of a *kind* (``model``, ``data``, ``environment``, ``datastore``,
    ``component``, ``job``, ``workspace``, ``endpoint``, ``experiment``) and return it."""
    rule, noun = _BY_KIND[kind]
    return rule.check(value, field=field, subject=f"{noun} name {shown(value)}")


def compute_rule(compute_type: str) -> NameRule:
    """The name rule of a compute type: clusters and instances have their own."""
    return _COMPUTE_BY_TYPE.get(compute_type.lower(), COMPUTE)


def check_compute_name(compute_type: str, value: object, *, field: str = "name") -> str:
    """Check a compute's name by its type and return it."""
    return compute_rule(compute_type).check(value, field=field)


# -- versions -----------------------------------------------------------------------------------
def int_version(version: str) -> int | None:
    """The integer an all-digit version stands for, or None when the version is not an integer
    or is larger than :data:`INT_VERSION_MAX` (such a version counts as a plain label)."""
    if not _INTEGER.fullmatch(version):
        return None
    if len(version.lstrip("0")) > len(str(INT_VERSION_MAX)):
        return None  # cheap: no int() of a thousand digits
    value = int(version)
    return value if value <= INT_VERSION_MAX else None


def version_problem(version: object) -> str | None:
    """Why *version* is not a valid asset version, or None when it is."""
    if not isinstance(version, str):
        return f"a version is text, not {type(version).__name__}"
    if not version.strip():
        return "a version cannot be empty"
    if len(version) > VERSION_MAX_LENGTH:
        return f"a version has at most {VERSION_MAX_LENGTH} characters"
    if any(not ch.isprintable() for ch in version):
        return "a version holds no control characters"
    if "/" in version or "\\" in version:
        return "a version holds no '/' or '\\'"
    if version != version.strip():
        return "a version has no leading or trailing spaces"
    if version in (".", ".."):
        return "'.' and '..' are not versions"
    if version.lower() == "latest":
        return "'latest' is a reserved label (it names the most recent version)"
    if _INTEGER.fullmatch(version) and int_version(version) is None:
        return f"integer versions are at most {INT_VERSION_MAX}"
    return None


def check_version(version: object, *, field: str = "version") -> str:
    """Return *version* if it is a valid asset version; raise :class:`ValidationError` otherwise."""
    problem = version_problem(version)
    if problem is not None:
        raise ValidationError(f"version {shown(version)} is invalid: {problem}", field=field, rule="version")
    return version  # type: ignore[return-value]


# -- names the service makes ----------------------------------------------------------------------
def step_job_name(pipeline: str, step: str) -> str:
    """The child job that runs a pipeline's step."""
    return f"{pipeline}-{step}"


def trial_job_name(sweep: str, index: int) -> str:
    """The child job that runs a sweep's trial number *index* (from 0)."""
    return f"{sweep}_{index}"
