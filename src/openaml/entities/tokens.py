"""Access tokens of an openaml server and the roles they carry (openaml's own; Azure has Entra
tokens and role assignments instead).

A token is a bearer secret that names one role: a role in one workspace (Azure's built-in
Owner, Contributor, AzureML Data Scientist, Reader), or ``admin``, the server administrator,
which has no workspace. What each role may do is :mod:`openaml.services.roles`. These records
are frozen dataclasses, not pydantic models: they mirror no azure-ai-ml class, and the service
that creates them checks every field itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Role(str, enum.Enum):
    """The role a token carries; the value is what ``--role`` takes."""

    OWNER = "owner"
    CONTRIBUTOR = "contributor"
    DATA_SCIENTIST = "data-scientist"
    READER = "reader"
    ADMIN = "admin"

    @property
    def display_name(self) -> str:
        """Azure's name of the role (openaml's for ``admin``)."""
        return _DISPLAY[self]

    @property
    def is_admin(self) -> bool:
        """Whether the role is the server administrator's (no workspace; every workspace)."""
        return self is Role.ADMIN


_DISPLAY = {Role.OWNER: "Owner", Role.CONTRIBUTOR: "Contributor", Role.DATA_SCIENTIST: "AzureML Data Scientist",
            Role.READER: "Reader", Role.ADMIN: "Server administrator"}

#: The roles a workspace's token may carry (``admin`` has no workspace).
WORKSPACE_ROLES = (Role.OWNER, Role.CONTRIBUTOR, Role.DATA_SCIENTIST, Role.READER)


@dataclass(frozen=True)
class TokenInfo:
    """What is known of a token, never its secret: its id (the part of the token after
    ``oaml_``, before the secret), a name and description for people, its role, its workspace
    (None for ``admin``), when it was created, last used (to the minute) and revoked."""

    id: str
    name: str
    role: Role
    workspace: str | None
    created_at: datetime
    description: str | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: its record and, this once, the token itself (never in a repr)."""

    info: TokenInfo
    token: str = field(repr=False)
