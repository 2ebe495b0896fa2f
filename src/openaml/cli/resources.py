"""``openaml datastore ...`` and ``openaml compute ...``: named, unversioned resources."""

from __future__ import annotations

from pathlib import Path

import click

from openaml.cli.common import handle_errors, make_client, set_option, workspace_options
from openaml.cli.output import emit
from openaml.specs import apply_overrides, entity_from_dict, load_entity, parse_set_args


def _load(noun: str, file: str | None, name: str | None, set_values, flags: dict) -> object:
    overrides = parse_set_args(list(set_values))
    flags = {k: v for k, v in flags.items() if v is not None}
    if name:
        flags["name"] = name
    if file:
        return load_entity(noun, file, params_override=[flags, *overrides] if flags else overrides)
    if "name" not in flags or "type" not in flags:
        raise click.UsageError("give -f/--file, or -n/--name with --type and the other fields")
    return entity_from_dict(noun, apply_overrides(flags, overrides), base_path=Path.cwd())


@click.group(help="Datastores: local folders, Azure Blob, ADLS Gen2, Azure Files and S3 (ADLS Gen1 is "
                  "retired). Credentials are stored encrypted and never shown.")
def datastore() -> None:
    pass


@datastore.command("create", help="Create or replace a datastore from a YAML file.")
@click.option("-f", "--file", type=click.Path(dir_okay=False), required=True, help="YAML specification file.")
@click.option("-n", "--name", help="Name (overrides the file's).")
@set_option
@workspace_options
@handle_errors
def datastore_create(file, name, set_values, workspace_name, output, **_):
    entity = _load("datastore", file, name, set_values, {})
    emit(make_client(workspace_name).datastores.create_or_update(entity), output)


@datastore.command("update", help="Change a datastore: a YAML file and/or --set values.")
@click.option("-n", "--name", required=True)
@click.option("-f", "--file", type=click.Path(dir_okay=False), help="YAML specification file.")
@set_option
@workspace_options
@handle_errors
def datastore_update(name, file, set_values, workspace_name, output, **_):
    client = make_client(workspace_name)
    if file:
        entity = _load("datastore", file, name, set_values, {})
    else:
        # Keep the stored secrets: they are re-encrypted, never shown.
        current = client.datastores.get(name, include_secrets=True)
        data = apply_overrides(current.model_dump(mode="json", exclude_none=True, exclude={"id"}),
                               parse_set_args(list(set_values)))
        entity = entity_from_dict("datastore", data)
    emit(client.datastores.create_or_update(entity), output)


@datastore.command("show", help="Show a datastore (without its secrets).")
@click.option("-n", "--name", required=True)
@workspace_options
@handle_errors
def datastore_show(name, workspace_name, output, **_):
    emit(make_client(workspace_name).datastores.get(name), output)


@datastore.command("list", help="List datastores (without their secrets).")
@workspace_options
@handle_errors
def datastore_list(workspace_name, output, **_):
    emit(list(make_client(workspace_name).datastores.list()), output, columns=("name", "type", "description"))


@datastore.command("delete", help="Delete a datastore definition (the data it points at stays).")
@click.option("-n", "--name", required=True)
@workspace_options
@handle_errors
def datastore_delete(name, workspace_name, output, **_):
    make_client(workspace_name).datastores.delete(name)
    click.echo(f"Deleted datastore {name}", err=True)


@click.group(help="Compute targets: amlcompute, computeinstance, kubernetes, virtualmachine.")
def compute() -> None:
    pass


@compute.command("create", help="Create or replace a compute target from a YAML file or flags.")
@click.option("-f", "--file", type=click.Path(dir_okay=False), help="YAML specification file.")
@click.option("-n", "--name", help="Name (overrides the file's).")
@click.option("-t", "--type", "type_", type=click.Choice(["amlcompute", "computeinstance", "kubernetes", "virtualmachine"]))
@click.option("--size", help="VM size, e.g. STANDARD_DS3_V2.")
@click.option("--min-instances", type=int)
@click.option("--max-instances", type=int)
@click.option("--idle-time-before-scale-down", type=int, help="Seconds.")
@click.option("--tier", type=click.Choice(["dedicated", "low_priority"]))
@click.option("--description")
@set_option
@workspace_options
@handle_errors
def compute_create(file, name, type_, size, min_instances, max_instances, idle_time_before_scale_down,
                   tier, description, set_values, workspace_name, output, **_):
    flags = {"type": type_, "size": size, "min_instances": min_instances, "max_instances": max_instances,
             "idle_time_before_scale_down": idle_time_before_scale_down, "tier": tier,
             "description": description}
    entity = _load("compute", file, name, set_values, flags)
    emit(make_client(workspace_name).compute.begin_create_or_update(entity).result(), output)


@compute.command("update", help="Change a compute target with --set values.")
@click.option("-n", "--name", required=True)
@click.option("--min-instances", type=int)
@click.option("--max-instances", type=int)
@click.option("--idle-time-before-scale-down", type=int)
@set_option
@workspace_options
@handle_errors
def compute_update(name, min_instances, max_instances, idle_time_before_scale_down, set_values,
                   workspace_name, output, **_):
    client = make_client(workspace_name)
    data = client.compute.get(name).model_dump(mode="json", exclude_none=True, exclude={"id"})
    for key, value in (("min_instances", min_instances), ("max_instances", max_instances),
                       ("idle_time_before_scale_down", idle_time_before_scale_down)):
        if value is not None:
            data[key] = value
    entity = entity_from_dict("compute", apply_overrides(data, parse_set_args(list(set_values))))
    emit(client.compute.begin_update(entity).result(), output)


@compute.command("show", help="Show a compute target.")
@click.option("-n", "--name", required=True)
@workspace_options
@handle_errors
def compute_show(name, workspace_name, output, **_):
    emit(make_client(workspace_name).compute.get(name), output)


@compute.command("list", help="List compute targets.")
@click.option("-t", "--type", "type_", help="Only this type.")
@workspace_options
@handle_errors
def compute_list(type_, workspace_name, output, **_):
    items = list(make_client(workspace_name).compute.list(compute_type=type_))
    emit(items, output, columns=("name", "type", "size", "min_instances", "max_instances"))


@compute.command("delete", help="Delete a compute target.")
@click.option("-n", "--name", required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not prompt for confirmation.")
@workspace_options
@handle_errors
def compute_delete(name, yes, workspace_name, output, **_):
    if not yes:
        click.confirm(f"Delete compute {name}?", abort=True)
    make_client(workspace_name).compute.begin_delete(name).result()
    click.echo(f"Deleted compute {name}", err=True)
