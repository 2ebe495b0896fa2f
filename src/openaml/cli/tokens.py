"""``openaml server token create|list|revoke``: the server's access tokens.

Where the server's database is reachable (the same ``OPENAML_HOME``, or ``--database-url``) the
commands use it directly; with ``--server URL`` (or ``OPENAML_SERVER``) they ask the server, as
the workspace's Owner (or the administrator, for admin tokens and the whole list), with the
token ``openaml login`` saved or ``OPENAML_TOKEN``.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any, Protocol

import click

from openaml.cli.common import handle_errors
from openaml.cli.output import FORMATS, emit
from openaml.entities.tokens import IssuedToken, Role, TokenInfo

_COLUMNS = ("id", "name", "role", "workspace", "created_at", "last_used_at", "revoked_at")


class _Tokens(Protocol):
    def create(self, role: str, workspace: str | None, *, name: str | None = None,
               description: str | None = None) -> IssuedToken: ...
    def list(self, workspace: str | None = None) -> list[TokenInfo]: ...
    def revoke(self, token_id: str, workspace: str | None = None) -> TokenInfo: ...


class _LocalTokens:
    """The token service on the server's database, as the CLI calls it."""

    def __init__(self, database_url: str | None) -> None:
        from openaml.server.settings import server_database_url
        from openaml.services.settings import Settings
        from openaml.services.tokens import TokenService
        from openaml.services.workspaces import WorkspaceService
        from openaml.store.tokens import TokenStore

        settings = Settings.from_env()
        self._workspaces = WorkspaceService(settings)
        self.service = TokenService(TokenStore(server_database_url(settings.home, database_url)),
                                    self._workspaces.exists)

    def create(self, role: str, workspace: str | None, *, name: str | None = None,
               description: str | None = None) -> IssuedToken:
        return self.service.create(role, workspace, name=name, description=description)

    def list(self, workspace: str | None = None) -> list[TokenInfo]:
        return self.service.list(workspace)

    def revoke(self, token_id: str, workspace: str | None = None) -> TokenInfo:
        return self.service.revoke(token_id, workspace=workspace)

    def close(self) -> None:
        self.service.close()
        self._workspaces.close()


class _RemoteTokens:
    """The tokens of a server, over HTTP with the caller's token."""

    def __init__(self, server: str) -> None:
        from openaml.client.credentials import BearerAuth, token_source
        from openaml.client.http.session import HttpSession, check_server_url
        from openaml.client.http.tokens import HttpTokens
        from openaml.rest.paths import WorkspaceScope
        from openaml.services.settings import Settings

        url = check_server_url(server)
        auth = BearerAuth(token_source(None, url, os.environ, Settings.from_env().home))
        self.session = HttpSession(url, WorkspaceScope(), auth=auth)
        self.api = HttpTokens(self.session)

    def create(self, role: str, workspace: str | None, *, name: str | None = None,
               description: str | None = None) -> IssuedToken:
        return self.api.create(role, workspace, name=name, description=description)

    def list(self, workspace: str | None = None) -> list[TokenInfo]:
        return self.api.list(workspace)

    def revoke(self, token_id: str, workspace: str | None = None) -> TokenInfo:
        return self.api.revoke(token_id, workspace)

    def close(self) -> None:
        self.session.close()


def _open(server: str | None, database_url: str | None) -> Any:
    if server and database_url:
        raise click.UsageError("give --server (ask a server) or --database-url (use its database), not both")
    return _RemoteTokens(server) if server else _LocalTokens(database_url)


def _where(func: Any) -> Any:
    func = click.option("--database-url", help="The server's database, when it was started with one "
                                               "(default: server.db under $OPENAML_HOME).")(func)
    return click.option("--server", envvar="OPENAML_SERVER",
                        help="Ask this server (http(s)://host:port) instead of opening its database: as the "
                             "workspace's Owner, or the administrator (default: $OPENAML_SERVER).")(func)


def _row(info: TokenInfo) -> dict[str, Any]:
    row = asdict(info)
    row["role"] = info.role.value
    return {k: (v.isoformat(timespec="seconds") if hasattr(v, "isoformat") else v) for k, v in row.items()}


@click.group(help="The server's access tokens: create (shown once), list (never shown), revoke.")
def token() -> None:
    pass


@token.command("create", help="Create a token and print it alone on the last line (it is shown only once). "
                              "--role owner|contributor|data-scientist|reader needs --workspace; --role admin "
                              "(the server administrator: creates and deletes workspaces, every token) takes none.")
@click.option("-w", "--workspace", help="The token's workspace.")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="The token's role.")
@click.option("-n", "--name", help="A name for people (default: <role>-<id>).")
@click.option("--description", help="What the token is for.")
@_where
@handle_errors
def create(workspace, role, name, description, server, database_url):
    tokens = _open(server, database_url)
    try:
        issued = tokens.create(role, workspace, name=name, description=description)
    finally:
        tokens.close()
    info = issued.info
    where = f" of workspace '{info.workspace}'" if info.workspace else ""
    click.echo(f"Created token {info.id} '{info.name}': {info.role.display_name}{where}. It is shown once, "
               "below: keep it now (openaml login --server URL, or OPENAML_TOKEN).", err=True)
    click.echo(issued.token)


@token.command("list", help="List tokens (never a token or its hash): a workspace's with --workspace, else "
                            "every token (the administrator's, over --server).")
@click.option("-w", "--workspace", help="Only this workspace's tokens.")
@click.option("-o", "--output", type=click.Choice(FORMATS), default="table", show_default=True)
@_where
@handle_errors
def list_tokens(workspace, output, server, database_url):
    tokens = _open(server, database_url)
    try:
        found = tokens.list(workspace)
    finally:
        tokens.close()
    emit([_row(t) for t in found], output, columns=_COLUMNS)


@token.command("revoke", help="Revoke a token by its id (the 16 hex digits after oaml_): refused from now on.")
@click.argument("token_id")
@click.option("-w", "--workspace", help="The token's workspace (needed over --server by a workspace's Owner).")
@_where
@handle_errors
def revoke(token_id, workspace, server, database_url):
    tokens = _open(server, database_url)
    try:
        info = tokens.revoke(token_id, workspace)
    finally:
        tokens.close()
    click.echo(f"Revoked token {info.id} '{info.name}'.", err=True)
