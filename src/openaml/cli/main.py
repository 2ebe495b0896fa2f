"""The ``openaml`` command: Azure ML's ``az ml`` verbs on local workspaces."""

from __future__ import annotations

import click

from openaml import __version__
from openaml.cli.assets import GROUPS, build_group
from openaml.cli.endpoints import online_deployment, online_endpoint
from openaml.cli.jobs import job
from openaml.cli.login import login, logout
from openaml.cli.resources import compute, datastore
from openaml.cli.server import server
from openaml.cli.workspace import workspace


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="openaml")
def cli() -> None:
    """openaml: Azure Machine Learning v2, local-first.

    The same YAML files and verbs as `az ml`: register models, data, environments and
    components, manage datastores and compute, in a workspace on this machine.
    The workspace comes from -w/--workspace-name, else a config.json found walking up
    from the current folder, else the 'default' workspace under $OPENAML_HOME. With
    --server URL (or OPENAML_SERVER) it is on an openaml server (openaml server start),
    reached with the token of openaml login (or OPENAML_TOKEN).
    """


for _group in GROUPS:
    cli.add_command(build_group(_group))
cli.add_command(datastore)
cli.add_command(compute)
cli.add_command(workspace)
cli.add_command(job)
cli.add_command(server)
cli.add_command(login)
cli.add_command(logout)
cli.add_command(online_endpoint)
cli.add_command(online_deployment)


def main() -> None:
    cli(prog_name="openaml")


if __name__ == "__main__":
    main()
