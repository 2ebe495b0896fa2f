"""``openaml server ...``: serve workspaces over HTTP with Azure ML's REST layout."""

from __future__ import annotations

from pathlib import Path

import click

from openaml.cli.common import handle_errors
from openaml.cli.tokens import token
from openaml.errors import MissingExtraError


@click.group(help="The openaml server: workspaces over HTTP, in Azure ML's REST layout, for the SDK "
                  "(MLClient(server=...)), the CLI (--server) and other clients.")
def server() -> None:
    pass


def _workspace_settings(home: str | None, database_url: str | None, secret_key_file: str | None):
    """The environment's settings (``OPENAML_HOME``, ``OPENAML_DATABASE_URL``, the key...), with
    what the options say instead."""
    import dataclasses

    from openaml.services.settings import Settings

    settings = Settings.from_env(home=home)
    changes: dict[str, object] = {}
    if database_url:
        changes["database_url"] = database_url
    if secret_key_file:
        changes["secret_key_file"] = Path(secret_key_file).expanduser().resolve()
    return dataclasses.replace(settings, **changes) if changes else settings


def _settings(host: str, port: int, database_url: str | None, storage: str | None, certfile: str | None,
              keyfile: str | None, no_auth: bool, secret_key_file: str | None = None,
              public_url: str | None = None):
    from openaml.server.settings import ServerSettings

    home = None
    if storage and "://" not in storage:  # a folder: the server's home
        home, storage = str(Path(storage).expanduser().resolve()), None
    return ServerSettings(workspace_settings=_workspace_settings(home, database_url, secret_key_file),
                          host=host, port=port, storage=storage,
                          certfile=Path(certfile) if certfile else None, keyfile=Path(keyfile) if keyfile else None,
                          no_auth=no_auth, public_url=public_url)


_database_url = click.option(
    "--database-url", help="The database whose catalog holds the workspaces, shared by every server and home "
                           "that names it, e.g. postgresql+psycopg://user@host/db (default: $OPENAML_DATABASE_URL; "
                           "none: the folders under $OPENAML_HOME).")
_secret_key_file = click.option(
    "--secret-key-file", type=click.Path(dir_okay=False),
    help="The file holding the key that seals the workspaces' secrets (default: $OPENAML_SECRET_KEY_FILE, else "
         "$OPENAML_HOME/secret.key, created on first use with mode 0600). $OPENAML_SECRET_KEY, when set, is the "
         "key itself and wins. Every server and home on one database needs the same key.")


@server.command("start", help="Serve the workspaces under $OPENAML_HOME (or --storage FOLDER) until stopped. "
                              "Every request needs a token (openaml server token create; clients: openaml login "
                              "or OPENAML_TOKEN) whose role allows it, unless --no-auth, which only a loopback "
                              "address accepts.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (0.0.0.0: every interface; give --certfile/--keyfile there).")
@click.option("--port", default=8080, show_default=True, type=int, help="Port (0: any free port).")
@_database_url
@_secret_key_file
@click.option("--storage", help="A folder: where the workspaces live (instead of $OPENAML_HOME); or "
                                "azure://<account>/<container>[/<prefix>] or s3://<bucket>[/<prefix>]: where "
                                "workspaces created through the server keep their bytes (credentials from the "
                                "standard variables).")
@click.option("--certfile", type=click.Path(dir_okay=False, exists=True), help="TLS certificate (PEM).")
@click.option("--keyfile", type=click.Path(dir_okay=False, exists=True), help="TLS private key (PEM).")
@click.option("--no-auth", is_flag=True, help="Serve without tokens: anyone who can connect may do anything but "
                                             "read datastore secrets. Only on a loopback address.")
@click.option("--public-url", help="The server's address as clients reach it, when that is not the address they "
                                   "ask for (behind a reverse proxy), e.g. https://ml.example.com: the URLs the "
                                   "server publishes (a workspace's mlflow_tracking_uri) start with it.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@handle_errors
def start(host, port, database_url, secret_key_file, storage, certfile, keyfile, no_auth, public_url, log_level):
    settings = _settings(host, port, database_url, storage, certfile, keyfile, no_auth, secret_key_file, public_url)
    settings.check()
    for warning in settings.warnings():
        click.echo(f"Warning: {warning}", err=True)
    try:
        import uvicorn

        from openaml.server import create_app
        app = create_app(settings)
    except ModuleNotFoundError as exc:
        raise MissingExtraError(f"the server needs {exc.name}: pip install 'openaml[server]'") from None
    app.state.openaml.workspaces.check_key()  # a wrong key: one message now, not an error per request
    where = f"under {settings.workspace_settings.home}"
    if settings.database_url:
        from openaml.store._db import safe_url
        where = f"of the database {safe_url(settings.database_url)}"
    click.echo(f"openaml server: workspaces {where}, on "
               f"{settings.scheme}://{host}:{port}; {_auth_line(app)}", err=True)
    uvicorn.run(app, host=host, port=port, ssl_certfile=certfile, ssl_keyfile=keyfile, log_level=log_level)


def _auth_line(app) -> str:
    tokens = app.state.openaml.tokens
    if tokens is None:
        return "no authentication (--no-auth): anyone who can connect to this machine's loopback may use it"
    where = tokens.store.url
    if not any(not t.revoked for t in tokens.list()):
        return (f"tokens required, and none exists yet in {where}: create one with "
                "openaml server token create --role admin (or --workspace W --role owner)")
    return f"tokens required (in {where})"


server.add_command(token)


@server.command("upgrade-db", help="Bring the database of the workspace catalog (--database-url, "
                                   "$OPENAML_DATABASE_URL), the server's own (its tokens: that database, else "
                                   "server.db under $OPENAML_HOME) and every workspace's metadata database to the "
                                   "current schema. The server does this at start too.")
@_database_url
@handle_errors
def upgrade_db(database_url):
    from openaml.server.settings import server_database_url
    from openaml.services.workspaces import WorkspaceService
    from openaml.store.metadata import MetadataStore

    settings = _workspace_settings(None, database_url, None)
    MetadataStore(server_database_url(settings.home, settings.database_url)).close()  # opening migrates it
    workspaces = WorkspaceService(settings)
    try:
        names = [ws.name for ws in workspaces.list()]  # opening the catalog migrates its database
        for name in names:
            workspaces.open(name)
    finally:
        workspaces.close()
    click.echo(f"the catalog and {len(names)} workspace(s) at the current schema", err=True)


@server.command("rotate-key", help="Seal every secret of every workspace (datastore credentials, compute passwords, "
                                   "storage credentials) with a new key, then make it the current key. In a database "
                                   "this is one transaction; running it again after a crash is safe. The key file "
                                   "then holds the new key, and the old one on its second line (read only, dropped "
                                   "by the next rotation). Restart the servers on the database afterwards.")
@click.option("--new-key-file", type=click.Path(dir_okay=False, exists=True),
              help="A file holding the new key (default: $OPENAML_NEW_SECRET_KEY; neither: a new random key).")
@_database_url
@_secret_key_file
@handle_errors
def rotate_key(new_key_file, database_url, secret_key_file):
    import os

    from openaml.services.key_rotation import NEW_KEY_ENV
    from openaml.services.key_rotation import rotate_key as rotate
    from openaml.store.secrets import KEY_ENV, new_key, parse_keys

    settings = _workspace_settings(None, database_url, secret_key_file)
    if new_key_file:
        new_keys = parse_keys(Path(new_key_file).read_bytes(), origin=f"the key file {new_key_file}")
    elif os.environ.get(NEW_KEY_ENV, "").strip():
        new_keys = parse_keys(os.environ[NEW_KEY_ENV], origin=NEW_KEY_ENV)
    elif settings.key_source.value:  # a random key nobody could ever set there: every secret lost
        raise click.UsageError(f"the key comes from {KEY_ENV}: give the new one with --new-key-file or {NEW_KEY_ENV}")
    else:
        new_keys = [new_key()]
    done = rotate(settings, new_keys[:1])
    click.echo(f"{done.resealed} secret(s) sealed with the new key", err=True)
    if done.key_file is not None:
        kept = " (the old one on its second line, to read only)" if done.kept_previous else ""
        click.echo(f"{done.key_file} now holds the new key{kept}", err=True)
    else:
        click.echo(f"the key comes from {KEY_ENV}: set it to the new key before starting servers again", err=True)
