"""Options every command shares, the client they build, and error handling."""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Callable

import click
import pydantic

from openaml.cli.output import FORMATS
from openaml.client.ml_client import MLClient
from openaml.errors import OpenAMLError, ValidationError


def workspace_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add -w/--workspace-name, -o/--output and Azure's -g/--subscription (accepted, unused)."""
    func = click.option("-w", "--workspace-name", "workspace_name", default=None,
                        help="Workspace to use. Default: the workspace_name of a config.json found "
                             "walking up from the current folder, else the 'default' workspace.")(func)
    func = server_option(func)
    func = click.option("-o", "--output", "output", type=click.Choice(FORMATS), default="json",
                        show_default=True, help="Output format.")(func)
    func = click.option("-g", "--resource-group", "resource_group", default=None, hidden=True,
                        help="Accepted for az ml compatibility; unused locally.")(func)
    func = click.option("--subscription", "subscription", default=None, hidden=True,
                        help="Accepted for az ml compatibility; unused locally.")(func)
    return func


def server_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --server (default $OPENAML_SERVER); :func:`make_client` reads it from the context."""

    @functools.wraps(func)
    def without_server(*args: Any, server: str | None = None, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return click.option("--server", "server", default=None, envvar="OPENAML_SERVER",
                        help="An openaml server (http(s)://host:port) holding the workspace; default: "
                             "$OPENAML_SERVER, else the workspace is opened on this machine.")(without_server)


def make_client(workspace_name: str | None) -> MLClient:
    """The client of a command: the server comes from --server (the current click context's)
    or OPENAML_SERVER, which MLClient reads itself."""
    ctx = click.get_current_context(silent=True)
    server = ctx.params.get("server") if ctx is not None else None
    return MLClient(workspace_name=workspace_name, server=server)


def set_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--set", "set_values", multiple=True, metavar="PATH=VALUE",
                        help="Override a field, e.g. --set description=new --set tags.team=ml "
                             "(repeatable).")(func)


def handle_errors(main: Callable[..., Any]) -> Callable[..., Any]:
    """Turn known errors into a one-line message on stderr and exit status 1."""

    @functools.wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return main(*args, **kwargs)
        except OpenAMLError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            sys.exit(1)
        except pydantic.ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            click.echo(f"Error: {ValidationError(err['msg'], field=field or None).message}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise  # click prints these itself (usage errors, aborted prompts)
        except OSError as exc:
            click.echo(f"Error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", err=True)
            sys.exit(1)
        except Exception as exc:  # the edge turns the unexpected into one line too
            if os.environ.get("OPENAML_DEBUG"):
                raise
            click.echo(f"Error: unexpected {type(exc).__name__}: {exc} "
                       "(set OPENAML_DEBUG=1 for a traceback)", err=True)
            sys.exit(1)

    return wrapper
