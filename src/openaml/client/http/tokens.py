"""The caller and the tokens of a server, over HTTP (``openaml login``, ``openaml server token
... --server``): a workspace's tokens through ``.../workspaces/{ws}/tokens`` (its Owner), every
token and admin tokens through ``/openaml/tokens`` (the server administrator)."""

from __future__ import annotations

from typing import Any

from openaml.client.http.session import HttpSession
from openaml.entities.tokens import IssuedToken, TokenInfo
from openaml.rest.paths import WorkspaceScope
from openaml.rest.tokens import issued_from_body, token_from_body

OPENAML = "/openaml"


class HttpTokens:
    """Tokens on the server *session* talks to."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session

    def _base(self, workspace: str | None) -> str:
        if workspace is None:
            return f"{OPENAML}/tokens"
        scope = self.session.scope
        return WorkspaceScope(scope.subscription, scope.resource_group, workspace).of("tokens")

    def whoami(self) -> dict[str, Any]:
        """The caller as the server knows it: ``authenticated`` and, with a token, its record's fields."""
        return self.session.json("GET", f"{OPENAML}/whoami")

    def create(self, role: str, workspace: str | None, *, name: str | None = None,
               description: str | None = None) -> IssuedToken:
        """A new token: in *workspace* (its Owner may), or, without one, any (the administrator)."""
        body = {"role": role, "name": name, "description": description}
        if workspace is not None and role == "admin":  # let the server say why, in its words
            body["workspace"] = workspace
            return issued_from_body(self.session.json("POST", self._base(None), json=body))
        return issued_from_body(self.session.json("POST", self._base(workspace), json=body))

    def list(self, workspace: str | None = None) -> list[TokenInfo]:
        """The tokens of *workspace*, or every token (the administrator)."""
        return [token_from_body(item) for item in self.session.json("GET", self._base(workspace))["value"]]

    def revoke(self, token_id: str, workspace: str | None = None) -> TokenInfo:
        """Revoke a token of *workspace*, or any token (the administrator)."""
        from urllib.parse import quote
        return token_from_body(self.session.json("DELETE", f"{self._base(workspace)}/{quote(token_id, safe='')}"))
