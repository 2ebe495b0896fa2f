"""What each role may do: Azure's built-in role definitions (Actions and NotActions) over Azure's
action names, and the one function that decides, :func:`allows`.

Actions are Azure's operation names (``Microsoft.MachineLearningServices/workspaces/models/read``);
one without a provider is a ``Microsoft.MachineLearningServices`` action
(``workspaces/models/read``). A pattern's ``*`` matches any run of characters, and ``/*/`` also
matches a single ``/``, as Azure reads them: ``workspaces/*/write`` covers ``workspaces/write``
(which is why Azure's AzureML Data Scientist lists that in its NotActions) and
``workspaces/computes/*/write`` covers ``workspaces/computes/write``. Matching ignores case.

A token for a workspace acts only inside it (the server checks that before asking the role);
``admin`` acts on the whole server, and only it creates and deletes workspaces.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from openaml.entities.tokens import Role

ML_PROVIDER = "Microsoft.MachineLearningServices/"
#: Tokens are role assignments: reading, creating and revoking them are Azure's role assignment actions.
TOKENS_READ = "Microsoft.Authorization/roleAssignments/read"
TOKENS_WRITE = "Microsoft.Authorization/roleAssignments/write"
TOKENS_DELETE = "Microsoft.Authorization/roleAssignments/delete"
LIST_SECRETS = "workspaces/datastores/listSecrets/action"


def qualified(action: str) -> str:
    """*action* with its provider: ``Microsoft.MachineLearningServices/`` unless it names one
    (or, as a pattern, starts with ``*``: any provider)."""
    return action if action.startswith(("Microsoft.", "*")) else ML_PROVIDER + action


@functools.lru_cache(maxsize=None)
def _compiled(pattern: str) -> re.Pattern[str]:
    text = re.escape(qualified(pattern)).replace("/\\*/", "/(?:.*/)?").replace("\\*", ".*")
    return re.compile(text, re.IGNORECASE)


def matches(pattern: str, action: str) -> bool:
    """Whether Azure's *pattern* (``*`` wildcards) covers *action*."""
    return _compiled(pattern).fullmatch(qualified(action)) is not None


@dataclass(frozen=True)
class RoleDefinition:
    """A role as Azure defines one: what it may do (``actions``) less what it may not (``not_actions``)."""

    name: str
    description: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()

    def allows(self, action: str) -> bool:
        """Whether the role may perform *action*."""
        return (any(matches(p, action) for p in self.actions)
                and not any(matches(p, action) for p in self.not_actions))


#: openaml's own restriction on Azure's roles: a workspace is created and deleted by the server's
#: administrator only (in Azure, by whoever holds the role on the resource group).
_WORKSPACE_LIFECYCLE = "workspaces/delete"

ROLES: dict[Role, RoleDefinition] = {
    Role.OWNER: RoleDefinition(
        "Owner", "Everything in the workspace, including its tokens; not deleting it.",
        actions=("*",), not_actions=(_WORKSPACE_LIFECYCLE,)),
    Role.CONTRIBUTOR: RoleDefinition(
        "Contributor", "Everything in the workspace but creating or revoking tokens (it may list them).",
        actions=("*",),
        not_actions=("Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                     "Microsoft.Authorization/elevateAccess/Action", _WORKSPACE_LIFECYCLE)),
    Role.DATA_SCIENTIST: RoleDefinition(
        "AzureML Data Scientist",
        "Assets, jobs, datastores and endpoints; not writing compute, the workspace's settings, tokens or "
        "reading datastore secrets.",
        actions=("workspaces/*/read", "workspaces/*/action", "workspaces/*/delete", "workspaces/*/write"),
        not_actions=("workspaces/delete", "workspaces/write", "workspaces/computes/*/write",
                     "workspaces/computes/*/delete", "workspaces/computes/listKeys/action",
                     "workspaces/listKeys/action", "workspaces/hubs/write", "workspaces/hubs/delete",
                     "workspaces/featurestores/write", "workspaces/featurestores/delete",
                     # openaml's: a datastore's secrets are for owners and contributors (Azure's role
                     # reaches listSecrets through workspaces/*/action).
                     LIST_SECRETS)),
    Role.READER: RoleDefinition(
        "Reader", "Reading everything in the workspace but datastore secrets.", actions=("*/read",)),
    Role.ADMIN: RoleDefinition(
        "Server administrator", "Everything on the server: creating and deleting workspaces, every token.",
        actions=("*",)),
}


@functools.lru_cache(maxsize=4096)
def allows(role: Role, action: str) -> bool:
    """Whether *role* may perform *action* (in its workspace; the whole server for ``admin``)."""
    return ROLES[role].allows(action)
