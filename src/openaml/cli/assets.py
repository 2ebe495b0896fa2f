"""``openaml model|data|environment|component ...``: the versioned asset groups.

One factory builds the four groups so their verbs and flags stay identical; each group adds the
creation flags Azure's CLI has for it (``--path --type`` for models, ``--image`` for
environments, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from openaml.cli.common import handle_errors, make_client, set_option, workspace_options
from openaml.cli.output import emit
from openaml.constants import ListViewType
from openaml.specs import apply_overrides, entity_from_dict, load_entity, parse_set_args


class AssetGroup:
    """What differs between the asset groups."""

    def __init__(self, noun: str, ops_attr: str, create_options: list[Callable], option_fields: dict[str, str],
                 download: bool = False, help: str = "") -> None:
        self.noun, self.ops_attr, self.create_options = noun, ops_attr, create_options
        self.option_fields, self.download, self.help = option_fields, download, help


def _view(include_archived: bool, archived_only: bool) -> ListViewType:
    if archived_only:
        return ListViewType.ARCHIVED_ONLY
    return ListViewType.ALL if include_archived else ListViewType.ACTIVE_ONLY


def _entity_from_options(group: AssetGroup, file: str | None, name: str | None, version: str | None,
                         set_values: tuple[str, ...], options: dict[str, Any]) -> Any:
    """A YAML file (with flags overriding it), or the flags alone."""
    overrides = parse_set_args(list(set_values))
    flagged = {field: options[opt] for opt, field in group.option_fields.items() if options.get(opt) is not None}
    if name:
        flagged["name"] = name
    if version:
        flagged["version"] = str(version)
    if file:
        return load_entity(group.noun, file, params_override=[flagged, *overrides] if flagged else overrides)
    if not flagged.get("name"):
        raise click.UsageError("give -f/--file, or at least -n/--name and the fields to create from")
    data = apply_overrides(_nest(flagged), overrides)
    return entity_from_dict(group.noun, data, base_path=Path.cwd())


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{'build.path': x} -> {'build': {'path': x}}."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def build_group(group: AssetGroup) -> click.Group:
    """The click group for one asset kind."""

    @click.group(name=group.noun, help=group.help)
    def cli() -> None:
        pass

    def ops(client):
        return getattr(client, group.ops_attr)

    @click.option("-f", "--file", type=click.Path(dir_okay=False), help="YAML specification file.")
    @click.option("-n", "--name", help="Name (overrides the file's).")
    @click.option("-v", "--version", help="Version (overrides the file's; default: the next integer).")
    @click.option("--description", help="Description.")
    @set_option
    @workspace_options
    @handle_errors
    def create(file, name, version, description, set_values, workspace_name, output, **kw):
        client = make_client(workspace_name)
        options = dict(kw, description=description)
        entity = _entity_from_options(group, file, name, version, set_values, options)
        emit(ops(client).create_or_update(entity), output)

    for option in group.create_options:
        create = option(create)
    cli.command("create", help=f"Register a {group.noun} version from a YAML file or flags.")(create)

    @cli.command("show", help=f"Show one {group.noun} version (default: the latest).")
    @click.option("-n", "--name", required=True)
    @click.option("-v", "--version")
    @click.option("-l", "--label", help="Label, 'latest' only.")
    @workspace_options
    @handle_errors
    def show(name, version, label, workspace_name, output, **_):
        emit(ops(make_client(workspace_name)).get(name, version=version, label=label), output)

    @cli.command("list", help=f"List {group.noun} names (latest versions), or the versions of one name.")
    @click.option("-n", "--name", help="List the versions of this name.")
    @click.option("--include-archived", is_flag=True, help="Include archived items.")
    @click.option("--archived-only", is_flag=True, help="Only archived items.")
    @click.option("--max-results", "-r", type=int, default=None, help="At most this many results.")
    @click.option("--stage", default=None, help="Models only: only this stage.")
    @workspace_options
    @handle_errors
    def list_(name, include_archived, archived_only, max_results, stage, workspace_name, output, **_):
        kwargs = {"list_view_type": _view(include_archived, archived_only)}
        if stage is not None:
            if group.noun != "model":
                raise click.UsageError("--stage applies to models only")
            kwargs["stage"] = stage
        items = list(ops(make_client(workspace_name)).list(name, **kwargs))
        emit(items[:max_results] if max_results else items, output)

    @cli.command("update", help=f"Change the description or tags of a {group.noun} version.")
    @click.option("-n", "--name", required=True)
    @click.option("-v", "--version")
    @click.option("-l", "--label")
    @click.option("--description")
    @set_option
    @workspace_options
    @handle_errors
    def update(name, version, label, description, set_values, workspace_name, output, **_):
        client = make_client(workspace_name)
        current = ops(client).get(name, version=version, label=label)
        data = current.model_dump(mode="json", exclude_none=True, exclude={"creation_context", "id"})
        if description is not None:
            data["description"] = description
        data = apply_overrides(data, parse_set_args(list(set_values)))
        changed = type(current).model_validate(data)
        registry = ops(client)._registry()
        emit(registry.update(changed), output)

    for verb, doc in (("archive", "Archive a version, or without -v/-l every version of a name."),
                      ("restore", "Restore an archived version, or a whole name.")):
        _add_archive_command(cli, group, verb, doc, ops)

    if group.download:
        @cli.command("download", help=f"Download a {group.noun}'s files to <path>/<name>/.")
        @click.option("-n", "--name", required=True)
        @click.option("-v", "--version")
        @click.option("-p", "--download-path", default=".", show_default=True, type=click.Path(file_okay=False))
        @click.option("--overwrite", is_flag=True, help="Replace files an earlier download left there.")
        @workspace_options
        @handle_errors
        def download(name, version, download_path, overwrite, workspace_name, output, **_):
            client = make_client(workspace_name)
            ops(client)._registry().download(ops(client)._kind, name, version, download_path, overwrite=overwrite)
            click.echo(f"Downloaded {group.noun} {name} to {Path(download_path, name)}", err=True)

    return cli


def _add_archive_command(cli: click.Group, group: AssetGroup, verb: str, doc: str, ops) -> None:
    @cli.command(verb, help=doc)
    @click.option("-n", "--name", required=True)
    @click.option("-v", "--version")
    @click.option("-l", "--label")
    @workspace_options
    @handle_errors
    def command(name, version, label, workspace_name, output, **_):
        getattr(ops(make_client(workspace_name)), verb)(name, version=version, label=label)
        what = f"{name}:{version}" if version else (f"{name}@{label}" if label else name)
        click.echo(f"{verb.capitalize()}d {group.noun} {what}", err=True)


_opt = click.option
GROUPS = [
    AssetGroup("model", "models", [
        _opt("--path", "-p", help="Local file or folder, or a URI."),
        _opt("--type", "-t", "type_", type=click.Choice(["custom_model", "mlflow_model", "triton_model"])),
        _opt("--stage", help="Free-text stage, e.g. Development, Production."),
        _opt("--datastore", help="Datastore to upload to."),
    ], {"path": "path", "type_": "type", "stage": "stage", "datastore": "datastore", "description": "description"},
        download=True, help="Versioned models: custom_model, mlflow_model, triton_model."),
    AssetGroup("data", "data", [
        _opt("--path", "-p", help="Local file or folder, or a URI."),
        _opt("--type", "-t", "type_", type=click.Choice(["uri_file", "uri_folder", "mltable"])),
        _opt("--datastore", help="Datastore to upload to."),
    ], {"path": "path", "type_": "type", "datastore": "datastore", "description": "description"},
        download=True, help="Versioned data assets: uri_file, uri_folder, mltable."),
    AssetGroup("environment", "environments", [
        _opt("--image", "-i", help="Docker image, e.g. python:3.11-slim."),
        _opt("--conda-file", "-c", help="Conda YAML file."),
        _opt("--build-context", "-b", help="Folder holding a Dockerfile."),
        _opt("--dockerfile-path", "-d", help="Dockerfile path inside the build context."),
        _opt("--os-type", type=click.Choice(["linux", "windows"])),
    ], {"image": "image", "conda_file": "conda_file", "build_context": "build.path",
        "dockerfile_path": "build.dockerfile_path", "os_type": "os_type", "description": "description"},
        help="Versioned environments: image, conda file, build context."),
    AssetGroup("component", "components", [
        _opt("--skip-validation", is_flag=True, help="Accepted for az ml compatibility."),
    ], {"description": "description"}, download=True, help="Versioned components: command, parallel and pipeline."),
]
