"""``openaml online-endpoint ...`` and ``openaml online-deployment ...``: az ml's verbs and flags."""

from __future__ import annotations

import json
from pathlib import Path

import click

from openaml.cli.common import handle_errors, make_client, set_option, workspace_options
from openaml.cli.output import emit
from openaml.entities.endpoint import EndpointAuthKeys
from openaml.services.endpoint_traffic import parse_traffic
from openaml.specs import (apply_overrides, deployment_from_dict, endpoint_from_dict, load_online_deployment,
                           load_online_endpoint, parse_set_args)

_ENDPOINT_COLUMNS = ("name", "auth_mode", "provisioning_state", "scoring_uri", "traffic")
_DEPLOYMENT_COLUMNS = ("name", "endpoint_name", "provisioning_state", "instance_count", "model")


def _overrides(name: str | None, set_values, **flags) -> list[dict]:
    given = {k: v for k, v in flags.items() if v is not None}
    if name:
        given["name"] = name
    return [given, *parse_set_args(list(set_values))]


@click.group("online-endpoint", help="Online endpoints: one scoring address (a loopback port on this machine) "
                                     "in front of deployments, with keys, traffic split and mirrored traffic.")
def online_endpoint() -> None:
    pass


@online_endpoint.command("create", help="Create an online endpoint from a YAML file (or just -n); an existing "
                                        "endpoint is an error (use update).")
@click.option("-f", "--file", type=click.Path(dir_okay=False), help="YAML specification file.")
@click.option("-n", "--name", help="Name (overrides the file's).")
@click.option("--auth-mode", type=click.Choice(["key", "aml_token", "aad_token"]), help="Default: key.")
@click.option("--no-wait", is_flag=True, help="Accepted for az ml compatibility (creating does not wait here).")
@click.option("--local", is_flag=True, hidden=True, help="Accepted for az ml compatibility.")
@set_option
@workspace_options
@handle_errors
def endpoint_create(file, name, auth_mode, no_wait, local, set_values, workspace_name, output, **_):
    overrides = _overrides(name, set_values, auth_mode=auth_mode)
    if file:
        endpoint = load_online_endpoint(file, params_override=overrides)
    elif name:
        endpoint = endpoint_from_dict(apply_overrides({}, overrides), base_path=Path.cwd())
    else:
        raise click.UsageError("give -f/--file or -n/--name")
    emit(make_client(workspace_name).online_endpoints.begin_create(endpoint).result(), output, columns=_ENDPOINT_COLUMNS)


@online_endpoint.command("update", help="Change an endpoint: its traffic split (--traffic \"blue=90 green=10\"), "
                                        "mirrored traffic (--mirror-traffic \"green=10\"), a YAML file or --set values.")
@click.option("-n", "--name", help="The endpoint (default: the file's name).")
@click.option("-f", "--file", type=click.Path(dir_okay=False), help="YAML specification file.")
@click.option("-r", "--traffic", help="Live traffic by deployment, e.g. \"blue=90 green=10\" (sums to 100).")
@click.option("--mirror-traffic", help="Mirrored traffic, e.g. \"green=10\" (one deployment, at most 50).")
@click.option("--no-wait", is_flag=True, help="Accepted for az ml compatibility.")
@set_option
@workspace_options
@handle_errors
def endpoint_update(name, file, traffic, mirror_traffic, no_wait, set_values, workspace_name, output, **_):
    endpoints = make_client(workspace_name).online_endpoints
    if file or set_values:
        if file:
            endpoint = load_online_endpoint(file, params_override=_overrides(name, set_values))
        else:
            if not name:
                raise click.UsageError("give -n/--name or -f/--file")
            current = endpoints.get(name).model_dump(mode="json", exclude_none=True,
                                                   exclude={"id", "scoring_uri", "openapi_uri", "provisioning_state"})
            endpoint = endpoint_from_dict(apply_overrides(current, parse_set_args(list(set_values))))
        result = endpoints.begin_update(endpoint).result()
        name = endpoint.name
    elif not name:
        raise click.UsageError("give -n/--name")
    if traffic is not None or mirror_traffic is not None:
        result = endpoints.begin_update_traffic(
            name, traffic=parse_traffic(traffic) if traffic is not None else None,
            mirror_traffic=parse_traffic(mirror_traffic, field="mirror_traffic") if mirror_traffic is not None else None).result()
    elif not (file or set_values):
        raise click.UsageError("nothing to change: give --traffic, --mirror-traffic, -f/--file or --set")
    emit(result, output, columns=_ENDPOINT_COLUMNS)


@online_endpoint.command("show", help="Show an endpoint: scoring_uri, openapi_uri, traffic, provisioning_state.")
@click.option("-n", "--name", required=True)
@workspace_options
@handle_errors
def endpoint_show(name, workspace_name, output, **_):
    emit(make_client(workspace_name).online_endpoints.get(name), output, columns=_ENDPOINT_COLUMNS)


@online_endpoint.command("list", help="List the workspace's online endpoints.")
@workspace_options
@handle_errors
def endpoint_list(workspace_name, output, **_):
    emit(list(make_client(workspace_name).online_endpoints.list()), output, columns=_ENDPOINT_COLUMNS)


@online_endpoint.command("delete", help="Delete an endpoint and its deployments; every process of it is stopped.")
@click.option("-n", "--name", required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not prompt for confirmation.")
@click.option("--no-wait", is_flag=True, help="Accepted for az ml compatibility.")
@workspace_options
@handle_errors
def endpoint_delete(name, yes, no_wait, workspace_name, output, **_):
    if not yes:
        click.confirm(f"Delete online endpoint {name} and its deployments?", abort=True)
    make_client(workspace_name).online_endpoints.begin_delete(name).result()
    click.echo(f"Deleted online endpoint {name}", err=True)


@online_endpoint.command("invoke", help="Send a JSON request file to the endpoint (or to one deployment) and "
                                        "print the answer.")
@click.option("-n", "--name", required=True)
@click.option("-r", "--request-file", type=click.Path(dir_okay=False, exists=True), required=True,
              help="A JSON file: the request body.")
@click.option("-d", "--deployment-name", help="Send to this deployment only (the azureml-model-deployment header).")
@workspace_options
@handle_errors
def endpoint_invoke(name, request_file, deployment_name, workspace_name, output, **_):
    answer = make_client(workspace_name).online_endpoints.invoke(name, request_file=request_file,
                                                                 deployment_name=deployment_name)
    click.echo(answer)


@online_endpoint.command("get-credentials", help="Print the endpoint's keys (or token): the only command that "
                                                 "shows them.")
@click.option("-n", "--name", required=True)
@workspace_options
@handle_errors
def endpoint_get_credentials(name, workspace_name, output, **_):
    keys = make_client(workspace_name).online_endpoints.get_keys(name)
    if isinstance(keys, EndpointAuthKeys):
        data = {"primaryKey": keys.primary_key, "secondaryKey": keys.secondary_key}
    else:
        data = {"accessToken": keys.access_token, "expiryTimeUtc": keys.expiry_time_utc, "tokenType": "Bearer"}
    click.echo(json.dumps(data, indent=2))


@online_endpoint.command("regenerate-keys", help="Replace the primary or secondary key; the old one stops working "
                                                 "at once.")
@click.option("-n", "--name", required=True)
@click.option("--key-type", type=click.Choice(["primary", "secondary"]), default="primary", show_default=True)
@click.option("--no-wait", is_flag=True, help="Accepted for az ml compatibility.")
@workspace_options
@handle_errors
def endpoint_regenerate_keys(name, key_type, no_wait, workspace_name, output, **_):
    make_client(workspace_name).online_endpoints.begin_regenerate_keys(name, key_type=key_type).result()
    click.echo(f"Regenerated the {key_type} key of online endpoint {name}", err=True)


@click.group("online-deployment", help="Deployments of online endpoints: a model with its scoring code and "
                                       "environment, served by instance_count worker processes.")
def online_deployment() -> None:
    pass


def _load_deployment(file, name, endpoint_name, set_values):
    overrides = _overrides(name, set_values, endpoint_name=endpoint_name)
    return load_online_deployment(file, params_override=overrides)


def _wait(client, poller, deployment, no_wait: bool):
    if no_wait:
        return client.online_deployments.get(deployment.name, deployment.endpoint_name)
    return poller.result()


@online_deployment.command("create", help="Create a deployment from a YAML file and wait until it is ready "
                                          "(--all-traffic then sends it all of the endpoint's traffic).")
@click.option("-f", "--file", type=click.Path(dir_okay=False), required=True, help="YAML specification file.")
@click.option("-n", "--name", help="Name (overrides the file's).")
@click.option("-e", "--endpoint-name", help="The endpoint (overrides the file's endpoint_name).")
@click.option("--all-traffic", is_flag=True, help="Once ready, send 100% of the endpoint's traffic to it.")
@click.option("--no-wait", is_flag=True, help="Return at once (state Creating); show tells when it is ready.")
@click.option("--skip-script-validation", is_flag=True, hidden=True, help="Accepted for az ml compatibility.")
@click.option("--local", is_flag=True, hidden=True, help="Accepted for az ml compatibility.")
@set_option
@workspace_options
@handle_errors
def deployment_create(file, name, endpoint_name, all_traffic, no_wait, skip_script_validation, local, set_values,
                      workspace_name, output, **_):
    if all_traffic and no_wait:
        raise click.UsageError("--all-traffic waits for the deployment; it cannot go with --no-wait")
    deployment = _load_deployment(file, name, endpoint_name, set_values)
    client = make_client(workspace_name)
    result = _wait(client, client.online_deployments.begin_create(deployment), deployment, no_wait)
    if all_traffic:
        client.online_endpoints.begin_update_traffic(result.endpoint_name, traffic={result.name: 100}).result()
        result = client.online_deployments.get(result.name, result.endpoint_name)
    emit(result, output, columns=_DEPLOYMENT_COLUMNS)


@online_deployment.command("update", help="Change a deployment from a YAML file and/or --set values; its "
                                          "workers are replaced once the new ones are ready.")
@click.option("-n", "--name", help="The deployment (default: the file's name).")
@click.option("-e", "--endpoint-name", help="The endpoint (default: the file's endpoint_name).")
@click.option("-f", "--file", type=click.Path(dir_okay=False), help="YAML specification file.")
@click.option("--no-wait", is_flag=True, help="Return at once.")
@set_option
@workspace_options
@handle_errors
def deployment_update(name, endpoint_name, file, no_wait, set_values, workspace_name, output, **_):
    client = make_client(workspace_name)
    if file:
        deployment = _load_deployment(file, name, endpoint_name, set_values)
    else:
        if not (name and endpoint_name):
            raise click.UsageError("give -f/--file, or -n/--name and -e/--endpoint-name with --set values")
        current = client.online_deployments.get(name, endpoint_name).model_dump(
            mode="json", exclude_none=True, exclude={"id", "provisioning_state", "creation_context"})
        deployment = deployment_from_dict(apply_overrides(current, parse_set_args(list(set_values))))
    emit(_wait(client, client.online_deployments.begin_update(deployment), deployment, no_wait), output,
         columns=_DEPLOYMENT_COLUMNS)


@online_deployment.command("show", help="Show a deployment and its provisioning state.")
@click.option("-n", "--name", required=True)
@click.option("-e", "--endpoint-name", required=True)
@workspace_options
@handle_errors
def deployment_show(name, endpoint_name, workspace_name, output, **_):
    emit(make_client(workspace_name).online_deployments.get(name, endpoint_name), output, columns=_DEPLOYMENT_COLUMNS)


@online_deployment.command("list", help="List the deployments of an endpoint.")
@click.option("-e", "--endpoint-name", required=True)
@workspace_options
@handle_errors
def deployment_list(endpoint_name, workspace_name, output, **_):
    emit(list(make_client(workspace_name).online_deployments.list(endpoint_name)), output,
         columns=_DEPLOYMENT_COLUMNS)


@online_deployment.command("delete", help="Delete a deployment (it must take no traffic); its workers stop.")
@click.option("-n", "--name", required=True)
@click.option("-e", "--endpoint-name", required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not prompt for confirmation.")
@click.option("--no-wait", is_flag=True, help="Accepted for az ml compatibility.")
@workspace_options
@handle_errors
def deployment_delete(name, endpoint_name, yes, no_wait, workspace_name, output, **_):
    if not yes:
        click.confirm(f"Delete deployment {name} of endpoint {endpoint_name}?", abort=True)
    make_client(workspace_name).online_deployments.begin_delete(name, endpoint_name).result()
    click.echo(f"Deleted deployment {name}", err=True)


@online_deployment.command("get-logs", help="Print the last lines of a deployment's logs.")
@click.option("-n", "--name", required=True)
@click.option("-e", "--endpoint-name", required=True)
@click.option("-l", "--lines", type=click.IntRange(min=0), default=100, show_default=True,
              help="How many lines, from the end (0: all).")
@click.option("-c", "--container", "container_type", type=click.Choice(["inference-server", "storage-initializer"]),
              default="inference-server", show_default=True,
              help="The worker's log, or the storage initializer's (environment, model, code).")
@workspace_options
@handle_errors
def deployment_get_logs(name, endpoint_name, lines, container_type, workspace_name, output, **_):
    text = make_client(workspace_name).online_deployments.get_logs(name, endpoint_name, lines,
                                                                   container_type=container_type)
    click.echo(text, nl=False)


__all__ = ["online_deployment", "online_endpoint"]
