"""Azure ML's resource paths, and the checks every path segment taken from a request passes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from openaml.errors import ValidationError

PROVIDER = "Microsoft.MachineLearningServices"
#: The subscription and resource group of a server that was told none (one subscription per server).
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "openaml"
API_VERSION = "2024-04-01"

# ARM allows more in these two than in workspace names, but never a slash or a control character.
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._()\-]{0,89}$")


def check_segment(value: str, field: str) -> str:
    """*value* if it can be one ARM path segment (subscription id, resource group)."""
    if not isinstance(value, str) or not _SEGMENT.match(value) or value.endswith("."):
        raise ValidationError(f"{value!r} is not a valid {field}: letters, digits, '.', '_', '-', '(', ')', "
                              "at most 90, starting with a letter or digit", field=field)
    return value


def check_base_url(url: str, field: str) -> str:
    """*url* without a trailing slash if it is ``http(s)://host[:port][/prefix]`` with no
    credentials, query, fragment, whitespace or control characters (a server's address, as a
    client names it or as a server publishes it)."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"{field} must be an http:// or https:// URL, not {url!r}", field=field)
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationError(f"the {field} URL must hold no user, password, query or fragment "
                              "(tokens are given another way)", field=field)
    if any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise ValidationError(f"the {field} URL must hold no whitespace or control characters", field=field)
    return url.rstrip("/")


@dataclass(frozen=True)
class WorkspaceScope:
    """Where a workspace's resources live on the wire."""

    subscription: str = DEFAULT_SUBSCRIPTION
    resource_group: str = DEFAULT_RESOURCE_GROUP
    workspace: str = ""

    @property
    def workspaces(self) -> str:
        """The collection of workspaces of this subscription and resource group."""
        return (f"/subscriptions/{quote(self.subscription, safe='')}/resourceGroups/"
                f"{quote(self.resource_group, safe='')}/providers/{PROVIDER}/workspaces")

    @property
    def base(self) -> str:
        """The workspace's own path (its id)."""
        return f"{self.workspaces}/{quote(self.workspace, safe='')}"

    def of(self, *parts: str) -> str:
        """A path under the workspace, each part quoted as one segment."""
        return "/".join([self.base, *(quote(str(p), safe="") for p in parts)])


def resource_type(*collections: str) -> str:
    """ARM's ``type``: ``Microsoft.MachineLearningServices/workspaces/models/versions``."""
    return "/".join([PROVIDER, "workspaces", *collections])


def last_segments(resource_id: str, count: int) -> list[str]:
    """The last *count* segments of an id, as names (``.../models/m/versions/1`` -> m, 1 with
    count 3: ``['m', 'versions', '1']``)."""
    from urllib.parse import unquote
    return [unquote(p) for p in resource_id.rstrip("/").split("/")[-count:]]
