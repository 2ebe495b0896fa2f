"""Parsing of asset references as Azure writes them."""

from __future__ import annotations

import re

from openaml.errors import BadReferenceError

_ARM = re.compile(r"^azureml:/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                  r"Microsoft\.MachineLearningServices/workspaces/[^/]+/(?P<kind>[^/]+)/"
                  r"(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def parse_asset_reference(reference: str) -> tuple[str, str | None, str | None]:
    """Split a reference into ``(name, version, label)``.

    Accepted: ``azureml:name:version``, ``azureml:name@latest``, ``azureml:name``, the same
    without the ``azureml:`` prefix, and the long ARM id form ``azureml:/subscriptions/...``.
    """
    ref = reference.strip()
    arm = _ARM.match(ref)
    if arm:
        return arm["name"], arm["version"], None if arm["version"] else "latest"
    if ref.startswith("azureml://"):
        raise BadReferenceError(
            f"'{reference}' is a registry or datastore URI; name a workspace asset as "
            "azureml:<name>:<version> or azureml:<name>@latest", reference=reference)
    if ref.startswith("azureml:"):
        ref = ref[len("azureml:"):]
    name, version, label = ref, None, None
    if "@" in ref:
        name, label = ref.split("@", 1)
    elif ":" in ref:
        name, version = ref.split(":", 1)
    if not name or not _NAME.match(name) or (version is not None and not version) or label == "":
        raise BadReferenceError(
            f"'{reference}' is not an asset reference; write azureml:<name>:<version> "
            "or azureml:<name>@latest", reference=reference)
    return name, version, label
