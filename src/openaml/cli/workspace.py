"""``openaml workspace ...``: local workspaces under $OPENAML_HOME."""

from __future__ import annotations

import click

from openaml.cli.common import handle_errors, make_client, server_option, set_option
from openaml.cli.output import FORMATS, emit
from openaml.entities import NoneCredentialConfiguration, WorkspaceStorage
from openaml.entities.credentials import CredentialConfiguration
from openaml.errors import ValidationError
from openaml.specs import apply_overrides, entity_from_dict, load_entity, parse_set_args
from openaml.specs.yamlio import read_yaml_file

_output = click.option("-o", "--output", type=click.Choice(FORMATS), default="json", show_default=True,
                       help="Output format.")


@click.group(help="Workspaces: each keeps its assets, datastores, compute and job history in a "
                  "folder under $OPENAML_HOME (default ~/.openaml), or, with $OPENAML_DATABASE_URL, in that "
                  "database, shared by every home and server on it.")
def workspace() -> None:
    pass


def _credentials_file(path: str, storage: WorkspaceStorage) -> CredentialConfiguration:
    """The credential in a YAML or JSON file (its keys, or under ``credentials:``), checked
    against the storage's kind; errors name the file, never a value."""
    data = read_yaml_file(path)
    data = data.get("credentials", data) if isinstance(data, dict) else data
    if not isinstance(data, dict) or not data:
        raise ValidationError(f"{path}: expected a mapping of credentials (account_key, sas_token, or "
                              "access_key_id and secret_access_key)", field="storage.credentials")
    try:
        return WorkspaceStorage(**storage.model_dump(exclude={"credentials"}), credentials=data).credentials
    except ValidationError as exc:
        raise ValidationError(f"{path}: {exc.message}", field="storage.credentials") from None


_storage_credentials = click.option(
    "--storage-credentials", type=click.Path(dir_okay=False, exists=True),
    help="YAML or JSON file holding the storage's credential: account_key or sas_token (azure), "
         "access_key_id and secret_access_key [and session_token] (s3). Stored encrypted, never shown.")
_storage_identity = click.option(
    "--storage-identity", is_flag=True,
    help="Store no key: reach the storage with the Azure identity chain or the AWS default chain.")


@workspace.command("create", help="Create a workspace (a SQLite database and an artifact store in a folder, "
                                  "or its bytes on object storage with --storage).")
@click.option("-n", "--name", help="Workspace name.")
@click.option("-f", "--file", type=click.Path(dir_okay=False), help="workspace YAML file.")
@click.option("--description")
@click.option("--display-name")
@click.option("-l", "--location", help="Accepted and kept; 'local' by default.")
@click.option("--database-url", help="Put the workspace in this database's catalog (its metadata there too), "
                                     "shared by every home and server on it, e.g. postgresql+psycopg://user@host/db; "
                                     "this home remembers where it is. With $OPENAML_DATABASE_URL set, only that one.")
@click.option("--storage", help="Keep the default datastore and the artifact store on object storage: "
                                "azure://<account>/<container>[/<prefix>] or s3://<bucket>[/<prefix>] "
                                "(no credentials in it). Credentials: --storage-credentials, else the "
                                "standard variables (AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, "
                                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), else the identity chain.")
@click.option("--storage-endpoint", help="Azure: the storage's DNS suffix (core.windows.net) or an emulator's "
                                         "host:port; S3: the endpoint URL of an S3-compatible store.")
@click.option("--storage-protocol", type=click.Choice(["https", "http"]),
              help="Azure: http for an emulator (default https).")
@click.option("--storage-region", help="S3: the bucket's region.")
@_storage_credentials
@_storage_identity
@set_option
@_output
@click.option("-g", "--resource-group", hidden=True)
@server_option
@handle_errors
def create(name, file, description, display_name, location, database_url, storage, storage_endpoint,
           storage_protocol, storage_region, storage_credentials, storage_identity, set_values, output, **_):
    flags = {k: v for k, v in {"name": name, "description": description, "display_name": display_name,
                                "location": location}.items() if v is not None}
    if storage_credentials and storage_identity:
        raise click.UsageError("give --storage-credentials or --storage-identity, not both")
    if storage:
        flags["storage"] = {k: v for k, v in {"uri": storage, "endpoint": storage_endpoint, "protocol": storage_protocol,
                                               "region": storage_region}.items() if v is not None}
    elif storage_endpoint or storage_protocol or storage_region or storage_credentials or storage_identity:
        raise click.UsageError("the --storage-* options need --storage")
    overrides = parse_set_args(list(set_values))
    if file:
        entity = load_entity("workspace", file, params_override=[flags, *overrides])
    elif name:
        entity = entity_from_dict("workspace", apply_overrides(flags, overrides))
    else:
        raise click.UsageError("give -n/--name or -f/--file")
    if entity.storage is not None and (storage_credentials or storage_identity):
        credentials = (NoneCredentialConfiguration() if storage_identity
                       else _credentials_file(storage_credentials, entity.storage))
        entity = entity.model_copy(update={"storage": WorkspaceStorage(
            **entity.storage.model_dump(exclude={"credentials"}), credentials=credentials)})
    client = make_client(entity.name)
    emit(client.workspaces.begin_create(entity, database_url=database_url).result(), output)


@workspace.command("show", help="Show a workspace (default: the current one).")
@click.option("-n", "--name", "-w", "--workspace-name")
@_output
@server_option
@handle_errors
def show(name, output):
    client = make_client(name)
    emit(client.workspaces.get(client.workspace_name), output)


@workspace.command("list", help="List the workspaces (of $OPENAML_HOME, or of $OPENAML_DATABASE_URL's catalog).")
@_output
@server_option
@handle_errors
def list_(output):
    emit(list(make_client(None).workspaces.list()), output, columns=("name", "display_name", "description", "location"))


@workspace.command("update", help="Change a workspace's description, display name or tags, or the "
                                  "credentials of its object storage.")
@click.option("-n", "--name", "-w", "--workspace-name", required=True)
@click.option("--description")
@click.option("--display-name")
@_storage_credentials
@_storage_identity
@set_option
@_output
@server_option
@handle_errors
def update(name, description, display_name, storage_credentials, storage_identity, set_values, output):
    if storage_credentials and storage_identity:
        raise click.UsageError("give --storage-credentials or --storage-identity, not both")
    client = make_client(name)
    current = client.workspaces.get(name)
    data = current.model_dump(mode="json", exclude_none=True, exclude={"id", "storage"})
    data.update({k: v for k, v in {"description": description, "display_name": display_name}.items() if v})
    entity = entity_from_dict("workspace", apply_overrides(data, parse_set_args(list(set_values))))
    credentials = None
    if storage_identity or (storage_credentials and current.storage is None):  # the latter: refused, said why
        credentials = NoneCredentialConfiguration()
    elif storage_credentials:
        credentials = _credentials_file(storage_credentials, current.storage)
    emit(client.workspaces.begin_update(entity, storage_credentials=credentials).result(), output)


@workspace.command("delete", help="Delete a workspace and everything in it.")
@click.option("-n", "--name", "-w", "--workspace-name", required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not prompt for confirmation.")
@click.option("--all-resources", is_flag=True, hidden=True)
@click.option("--permanently-delete", is_flag=True, hidden=True)
@server_option
@handle_errors
def delete(name, yes, **_):
    if not yes:
        click.confirm(f"Delete workspace {name} and all its assets?", abort=True)
    make_client(name).workspaces.begin_delete(name).result()
    click.echo(f"Deleted workspace {name}", err=True)
