"""``openaml job ...``: run Azure ML v2 job files on this machine and follow them."""

from __future__ import annotations

import contextlib
import json
import sys

import click

from openaml.cli.common import handle_errors, make_client, set_option, workspace_options
from openaml.cli.output import emit
from openaml.constants import ListViewType
from openaml.errors import ValidationError
from openaml.specs import load_job, parse_set_args
from openaml.specs.yamlio import line_of

_JOB_COLUMNS = ("name", "display_name", "status", "experiment_name", "created_at")


@click.group(help="Jobs: run command jobs on this machine, follow their logs, download their outputs.")
def job() -> None:
    pass


@contextlib.contextmanager
def _in_file(file: str):
    """Errors found at submission (a step's input out of range, an unknown reference) name the
    job file and the line of the field, as load errors do."""
    try:
        yield
    except ValidationError as exc:
        field = exc.details.get("field")
        if exc.details.get("file") or not field:
            raise
        line = line_of(file, field)
        where = f"{file}:{line}" if line else file
        raise ValidationError(f"{where}: {exc.message}") from None


def _stream(client, name: str) -> None:
    try:
        client.jobs.stream(name)
    except KeyboardInterrupt:
        click.echo(f"\nStopped following; job {name} goes on. Follow it again with: "
                   f"openaml job stream -n {name}", err=True)
        sys.exit(130)


@job.command("create", help="Submit a job from a YAML file. Without --stream it prints the job and returns "
                            "at once; the job runs in the background.")
@click.option("-f", "--file", type=click.Path(dir_okay=False), required=True, help="Job YAML file.")
@click.option("-n", "--name", help="Job name (default: generated, e.g. calm_otter_b4k2...).")
@click.option("-s", "--stream", is_flag=True, help="Follow the logs until the job ends.")
@click.option("-e", "--experiment-name", help="Experiment (default: the file's, else the folder's name).")
@click.option("--web", is_flag=True, hidden=True, help="Accepted for az ml compatibility.")
@click.option("--skip-validation", is_flag=True, hidden=True, help="Accepted for az ml compatibility.")
@click.option("-a", "--save-as", type=click.Path(dir_okay=False), help="Also write the submitted job as YAML here.")
@set_option
@workspace_options
@handle_errors
def create(file, name, stream, experiment_name, web, skip_validation, save_as, set_values, workspace_name,
           output, **_):
    overrides = parse_set_args(list(set_values))
    if name:
        overrides.append({"name": name})
    spec = load_job(file, params_override=overrides)
    client = make_client(workspace_name)
    with _in_file(file):
        submitted = client.jobs.create_or_update(spec, experiment_name=experiment_name)
    if save_as:
        from openaml.specs import dump_yaml
        with open(save_as, "w") as fh:
            fh.write(dump_yaml(submitted))
    if stream:
        _stream(client, submitted.name)
        submitted = client.jobs.get(submitted.name)
    emit(submitted, output, columns=_JOB_COLUMNS)


@job.command("show", help="Show a job: status, error, latest metrics and params.")
@click.option("-n", "--name", required=True)
@workspace_options
@handle_errors
def show(name, workspace_name, output, **_):
    emit(make_client(workspace_name).jobs.get(name), output, columns=_JOB_COLUMNS)


@job.command("list", help="List jobs, newest first.")
@click.option("-p", "--parent-job-name", help="Only the children of this job.")
@click.option("-r", "--max-results", type=int, default=50, show_default=True)
@click.option("--all-results", is_flag=True, help="No limit.")
@click.option("--include-archived", is_flag=True)
@click.option("--archived-only", is_flag=True)
@workspace_options
@handle_errors
def list_(parent_job_name, max_results, all_results, include_archived, archived_only, workspace_name, output, **_):
    view = ListViewType.ARCHIVED_ONLY if archived_only else (ListViewType.ALL if include_archived else ListViewType.ACTIVE_ONLY)
    jobs = make_client(workspace_name).jobs.list(parent_job_name=parent_job_name, list_view_type=view,
                                                 max_results=None if all_results else max_results)
    emit(list(jobs), output, columns=_JOB_COLUMNS)


@job.command("stream", help="Follow a job's logs until it ends; Ctrl-C stops following, not the job.")
@click.option("-n", "--name", required=True)
@workspace_options
@handle_errors
def stream_(name, workspace_name, output, **_):
    _stream(make_client(workspace_name), name)


@job.command("download", help="Download a job's logs and artifacts (artifacts/) and outputs (named-outputs/).")
@click.option("-n", "--name", required=True)
@click.option("-p", "--download-path", default=".", show_default=True, type=click.Path(file_okay=False))
@click.option("--output-name", help="Only this output ('default' = logs and artifacts).")
@click.option("--all", "all_", is_flag=True, help="Logs, artifacts and every named output.")
@click.option("--overwrite", is_flag=True, help="Replace folders an earlier download left there.")
@workspace_options
@handle_errors
def download(name, download_path, output_name, all_, overwrite, workspace_name, output, **_):
    make_client(workspace_name).jobs.download(name, download_path=download_path, output_name=output_name, all=all_,
                                              overwrite=overwrite)
    click.echo(f"Downloaded job {name} to {download_path}", err=True)


@job.command("cancel", help="Cancel a job: its whole process tree is stopped.")
@click.option("-n", "--name", required=True)
@click.option("--no-wait", is_flag=True, help="Return without waiting for the job to stop.")
@workspace_options
@handle_errors
def cancel(name, no_wait, workspace_name, output, **_):
    client = make_client(workspace_name)
    poller = client.jobs.begin_cancel(name)
    if not no_wait:
        poller.result(timeout=60)
    emit(client.jobs.get(name), output, columns=_JOB_COLUMNS)


def _add_archive_command(verb: str, doc: str) -> None:
    @job.command(verb, help=doc)
    @click.option("-n", "--name", required=True)
    @workspace_options
    @handle_errors
    def command(name, workspace_name, output, **_):
        getattr(make_client(workspace_name).jobs, verb)(name)
        click.echo(f"{verb.capitalize()}d job {name}", err=True)


_add_archive_command("archive", "Hide a job from job list.")
_add_archive_command("restore", "Bring back an archived job.")


@job.command("update", help="Change a job's display name, description, tags or properties with --set.")
@click.option("-n", "--name", required=True)
@set_option
@workspace_options
@handle_errors
def update(name, set_values, workspace_name, output, **_):
    changes: dict = {}
    for override in parse_set_args(list(set_values)):
        for key, value in override.items():
            head, _, rest = key.partition(".")
            if head not in ("display_name", "description", "tags", "properties"):
                raise click.UsageError(f"--set {key}: only display_name, description, tags and properties change")
            if rest:
                changes.setdefault(head, {})[rest] = str(value)
            else:
                changes[head] = value
    client = make_client(workspace_name)
    current = client.jobs.get(name)
    for key in ("tags", "properties"):
        if key in changes:
            changes[key] = {**(getattr(current, key) or {}), **changes[key]}
    emit(client.jobs.update(name, **changes), output, columns=_JOB_COLUMNS)


@job.command("validate", help="Check a job file without running it.")
@click.option("-f", "--file", type=click.Path(dir_okay=False), required=True)
@set_option
@workspace_options
@handle_errors
def validate(file, set_values, workspace_name, output, **_):
    spec = load_job(file, params_override=parse_set_args(list(set_values)))
    with _in_file(file):
        result = make_client(workspace_name).jobs.validate(spec, raise_on_failure=True)
    click.echo(json.dumps({"result": "Succeeded" if result.passed else "Failed",
                           "errors": result.error_messages}, indent=2))
