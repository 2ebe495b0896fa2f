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


def _settings(host: str, port: int, database_url: str | None, storage: str | None, certfile: str | None,
              keyfile: str | None, no_auth: bool, public_url: str | None = None):
    from openaml.server.settings import ServerSettings
    from openaml.services.settings import Settings

    home = None
    if storage and "://" not in storage:  # a folder: the server's home
        home, storage = str(Path(storage).expanduser().resolve()), None
    return ServerSettings(workspace_settings=Settings.from_env(home=home), host=host, port=port,
                          database_url=database_url, storage=storage,
                          certfile=Path(certfile) if certfile else None, keyfile=Path(keyfile) if keyfile else None,
                          no_auth=no_auth, public_url=public_url)


@server.command("start", help="Serve the workspaces under $OPENAML_HOME (or --storage FOLDER) until stopped. "
                              "Every request needs a token (openaml server token create; clients: openaml login "
                              "or OPENAML_TOKEN) whose role allows it, unless --no-auth, which only a loopback "
                              "address accepts.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (0.0.0.0: every interface; give --certfile/--keyfile there).")
@click.option("--port", default=8080, show_default=True, type=int, help="Port (0: any free port).")
@click.option("--database-url", help="Workspaces created through the server keep their metadata in this "
                                     "database, e.g. postgresql+psycopg://user@host/db.")
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
def start(host, port, database_url, storage, certfile, keyfile, no_auth, public_url, log_level):
    settings = _settings(host, port, database_url, storage, certfile, keyfile, no_auth, public_url)
    settings.check()
    for warning in settings.warnings():
        click.echo(f"Warning: {warning}", err=True)
    try:
        import uvicorn

        from openaml.server import create_app
        app = create_app(settings)
    except ModuleNotFoundError as exc:
        raise MissingExtraError(f"the server needs {exc.name}: pip install 'openaml[server]'") from None
    click.echo(f"openaml server: workspaces under {settings.workspace_settings.home}, on "
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


@server.command("upgrade-db", help="Bring every workspace's metadata database and the server's own (server.db, "
                                   "or --database-url) to the current schema. The server does this at start too.")
@click.option("--database-url", help="The server's database, when it is not server.db under $OPENAML_HOME.")
@handle_errors
def upgrade_db(database_url):
    from openaml.server.settings import server_database_url
    from openaml.services.settings import Settings
    from openaml.services.workspaces import WorkspaceService
    from openaml.store.metadata import MetadataStore

    settings = Settings.from_env()
    workspaces = WorkspaceService(settings)
    MetadataStore(server_database_url(settings.home, database_url)).close()  # opening runs the migrations
    upgraded = 1
    for ws in workspaces.list():
        workspaces.open(ws.name)
        upgraded += 1
    workspaces.close()
    click.echo(f"{upgraded} database(s) at the current schema", err=True)
