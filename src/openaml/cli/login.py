"""``openaml login`` and ``openaml logout``: the token a client sends to a server, kept in
``<OPENAML_HOME>/credentials`` (see :mod:`openaml.client.credentials`)."""

from __future__ import annotations

import sys

import click

from openaml.cli.common import handle_errors
from openaml.errors import ValidationError


def _server(server: str | None) -> str:
    from openaml.client.http.session import check_server_url
    if not server:
        raise ValidationError("give --server URL (or set OPENAML_SERVER)", field="server")
    return check_server_url(server)


@click.command("login", help="Check a token against a server and save it for that server in "
                             "$OPENAML_HOME/credentials (~/.openaml/credentials, mode 0600). The token is read "
                             "from a hidden prompt, or from stdin with --token-stdin; it is never printed.")
@click.option("--server", envvar="OPENAML_SERVER", help="The server (http(s)://host:port; default: $OPENAML_SERVER).")
@click.option("--token-stdin", is_flag=True, help="Read the token from stdin (its first line) instead of a prompt.")
@handle_errors
def login(server, token_stdin):
    from openaml.client.credentials import BearerAuth, CredentialsFile, check_token
    from openaml.client.http.session import HttpSession
    from openaml.client.http.tokens import HttpTokens
    from openaml.rest.paths import WorkspaceScope
    from openaml.services.settings import Settings

    url = _server(server)
    raw = sys.stdin.readline() if token_stdin else click.prompt("Token", hide_input=True, err=True)
    token = check_token(raw, "stdin" if token_stdin else "the prompt")
    session = HttpSession(url, WorkspaceScope(), auth=BearerAuth(lambda: token))
    try:
        me = HttpTokens(session).whoami()
    finally:
        session.close()
    if not me.get("authenticated"):
        raise ValidationError(f"{url} runs without authentication (--no-auth): there is nothing to log in to",
                              field="server")
    credentials = CredentialsFile(Settings.from_env().home)
    credentials.save(url, token, id=me.get("id"), name=me.get("name"), role=me.get("role"),
                     workspace=me.get("workspace"))
    where = f" of workspace '{me['workspace']}'" if me.get("workspace") else ""
    click.echo(f"Logged in to {url} as token '{me.get('name')}' ({me.get('roleName')}{where}); saved in "
               f"{credentials.path}.", err=True)


@click.command("logout", help="Forget the token saved for a server.")
@click.option("--server", envvar="OPENAML_SERVER", help="The server (default: $OPENAML_SERVER).")
@handle_errors
def logout(server):
    from openaml.client.credentials import CredentialsFile
    from openaml.services.settings import Settings

    url = _server(server)
    removed = CredentialsFile(Settings.from_env().home).remove(url)
    click.echo(f"Forgot the token for {url}." if removed else f"No token was saved for {url}.", err=True)
