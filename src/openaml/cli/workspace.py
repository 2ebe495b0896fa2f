"""``openaml workspace ...``: local workspaces under $OPENAML_HOME."""

from __future__ import annotations

import click

from openaml.cli.common import handle_errors, make_client, set_option
from openaml.cli.output import FORMATS, emit
from openaml.specs import apply_overrides, entity_from_dict, load_entity, parse_set_args

_output = click.option("-o", "--output", type=click.Choice(FORMATS), default="json", show_default=True,
                       help="Output format.")


@click.group(help="Workspaces: each keeps its assets, datastores, compute and job history in a "
                  "folder under $OPENAML_HOME (default ~/.openaml).")
def workspace() -> None:
    pass


@workspace.command("create", help="Create a workspace (a SQLite database and an artifact store in a folder).")
@click.option("-n", "--name", help="Workspace name.")
@click.option("-f", "--file", type=click.Path(dir_okay=False), help="workspace YAML file.")
@click.option("--description")
@click.option("--display-name")
@click.option("-l", "--location", help="Accepted and kept; 'local' by default.")
@click.option("--database-url", help="Keep metadata in this database instead of SQLite, "
                                     "e.g. postgresql+psycopg://user@host/db.")
@set_option
@_output
@click.option("-g", "--resource-group", hidden=True)
@handle_errors
def create(name, file, description, display_name, location, database_url, set_values, output, **_):
    flags = {k: v for k, v in {"name": name, "description": description, "display_name": display_name,
                                "location": location}.items() if v is not None}
    overrides = parse_set_args(list(set_values))
    if file:
        entity = load_entity("workspace", file, params_override=[flags, *overrides])
    elif name:
        entity = entity_from_dict("workspace", apply_overrides(flags, overrides))
    else:
        raise click.UsageError("give -n/--name or -f/--file")
    client = make_client(entity.name)
    emit(client.workspaces.begin_create(entity, database_url=database_url).result(), output)


@workspace.command("show", help="Show a workspace (default: the current one).")
@click.option("-n", "--name", "-w", "--workspace-name")
@_output
@handle_errors
def show(name, output):
    client = make_client(name)
    emit(client.workspaces.get(client.workspace_name), output)


@workspace.command("list", help="List local workspaces.")
@_output
@handle_errors
def list_(output):
    emit(list(make_client(None).workspaces.list()), output, columns=("name", "display_name", "description", "location"))


@workspace.command("update", help="Change a workspace's description, display name or tags.")
@click.option("-n", "--name", "-w", "--workspace-name", required=True)
@click.option("--description")
@click.option("--display-name")
@set_option
@_output
@handle_errors
def update(name, description, display_name, set_values, output):
    client = make_client(name)
    data = client.workspaces.get(name).model_dump(mode="json", exclude_none=True, exclude={"id"})
    data.update({k: v for k, v in {"description": description, "display_name": display_name}.items() if v})
    entity = entity_from_dict("workspace", apply_overrides(data, parse_set_args(list(set_values))))
    emit(client.workspaces.begin_update(entity).result(), output)


@workspace.command("delete", help="Delete a workspace and everything in it.")
@click.option("-n", "--name", "-w", "--workspace-name", required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not prompt for confirmation.")
@click.option("--all-resources", is_flag=True, hidden=True)
@click.option("--permanently-delete", is_flag=True, hidden=True)
@handle_errors
def delete(name, yes, **_):
    if not yes:
        click.confirm(f"Delete workspace {name} and all its assets?", abort=True)
    make_client(name).workspaces.begin_delete(name).result()
    click.echo(f"Deleted workspace {name}", err=True)
