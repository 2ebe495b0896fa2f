"""What a job output, a datastore path or a job's artifacts hold: a manifest in the workspace's
content-addressed store.

A finished job's outputs are published as manifests (:func:`publish_output`) and recorded on
the job, so ``azureml://jobs/<job>/outputs/<o>`` names immutable content. Folders that can
still change (a local datastore folder, a job's logs and MLflow artifacts) are snapshotted into
the store when they are read (remote datastores are fetched into it: ``remote_data``), so a consumer always reads pinned content and reuse keys are
manifest digests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from openaml.errors import NotFoundError, ValidationError
from openaml.paths import check_relative, safe_join
from openaml.services import locations
from openaml.services.workspaces import WorkspaceContext
from openaml.store.artifacts import Skipped

PUBLISHED = "published"  # the job spec's key holding {output name: PublishedOutput fields}
# The job spec's key holding the Content of the job's folder (logs, MLflow artifacts, ./outputs,
# ./logs) stored when the job ended, on a workspace whose store is remote.
STORED_ARTIFACTS = "stored_artifacts"


@dataclass(frozen=True)
class Content:
    """A manifest in the artifact store: its digest, root name and kind (``file``/``folder``)."""

    digest: str
    root: str
    kind: str

    def to_dict(self) -> dict[str, str]:
        return {"digest": self.digest, "root": self.root, "kind": self.kind}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Content":
        return cls(digest=data["digest"], root=data["root"], kind=data["kind"])


def default_output_path(job_name: str, output: str) -> str:
    """Where Azure puts an output on the default datastore: ``azureml/<job>/<output>``."""
    return f"azureml/{job_name}/{output}"


def can_share_blobs() -> bool:
    """Whether read-only inputs may be hard links to the store's blobs. Permission bits keep a
    process from writing through a read-only link, but a root process ignores them: as root,
    inputs are copies, so a job that writes into one changes its own copy and nothing else."""
    return hasattr(os, "geteuid") and os.geteuid() != 0


def publish_output(ctx: WorkspaceContext, produced: Path, root: str,
                   warn: Callable[[str], None]) -> Content | None:
    """Publish what a job wrote to an output into the store (files moved, not copied, when the
    store is on the same file system); None when a ``uri_file`` output was never written."""
    if not produced.exists():
        return None

    def skipped(item: Skipped) -> None:
        warn(f"output {root}: skipped {item.path}: it {item.reason}")

    digest, manifest = ctx.artifacts.put_path(produced, links="keep", on_skip=skipped, move=True,
                                              root=root if produced.is_dir() else None)
    return Content(digest, manifest.root, manifest.kind)


def published_outputs(record: Any) -> dict[str, Content]:
    """The outputs a job published, by name."""
    return {name: Content.from_dict(data) for name, data in (record.spec.get(PUBLISHED) or {}).items()}


def job_output(ctx: WorkspaceContext, job_name: str, output: str, path: str = "", *,
               field: str = "path") -> Content:
    """The content of ``azureml://jobs/<job>/outputs/<output>[/paths/<path>]`` (*path* relative
    and decoded; one that leaves the output raises :class:`ValidationError` naming *field*)."""
    record = ctx.jobs.get_job(ctx.name, job_name)
    if record is None:
        raise NotFoundError(f"job '{job_name}' not found in workspace '{ctx.name}'", name=job_name)
    if output in locations.ARTIFACTS_OUTPUTS:  # logs and MLflow artifacts: still a folder
        source = job_artifacts(ctx, record)
        if isinstance(source, Content):
            return _sub(ctx, source, path, field)
        return snapshot(ctx, source, path, f"outputs of job {job_name}", field=field)
    best = (record.spec.get("best") or {}).get("name") if record.type == "sweep" else None
    if best:  # a sweep's outputs are its best trial's
        return job_output(ctx, best, output, path, field=field)
    forwarded = (record.spec.get("pipeline_outputs") or {}).get(output)
    if forwarded:  # a pipeline's output is the output of one of its steps
        match = locations.JOB_URI.match(forwarded)
        return job_output(ctx, match["job"], match["output"], path, field=field)
    declared = (record.spec.get("resolved") or {}).get("outputs", {})
    if output not in declared:
        raise NotFoundError(f"job '{job_name}' has no output '{output}' (it has: "
                            f"{', '.join(sorted(declared)) or 'none'}, and 'artifacts')", name=output)
    published = published_outputs(record).get(output)
    if published is None:
        if PUBLISHED in record.spec or record.status != "Completed":
            raise NotFoundError(f"job '{job_name}' has not produced output '{output}' "
                                f"(it is {record.status})", name=output)
        # A job finished before outputs were published: its files are on the datastore.
        legacy = locations.datastore_path(ctx, declared[output]["datastore"], declared[output]["path"], field=field)
        return snapshot(ctx, legacy, path, f"output {output} of job {job_name}", field=field)
    return _sub(ctx, published, path, field)


def store_job_artifacts(ctx: WorkspaceContext, job_name: str) -> Content | None:
    """On a workspace whose store is remote (``workspace create --storage``), put the job's
    folder (``user_logs/``, ``system_logs/``, MLflow artifacts, ``./outputs``, ``./logs``) into
    the store and record it on the job, so whoever reads the workspace's storage finds them when
    the folder on this machine is gone. A local store holds nothing this folder does not: None."""
    if ctx.artifacts.is_local:
        return None
    folder = locations.job_folder(ctx, job_name)
    if not folder.is_dir():
        return None
    digest, manifest = ctx.artifacts.put_path(folder)
    content = Content(digest, manifest.root, manifest.kind)
    ctx.jobs.update_fields(ctx.name, job_name, spec={STORED_ARTIFACTS: content.to_dict()})
    return content


def job_artifacts(ctx: WorkspaceContext, record: Any) -> Path | Content:
    """Where a job's logs and artifacts are: its folder on this machine, or, when that is gone
    and the job stored them when it ended (:func:`store_job_artifacts`), their content."""
    folder = locations.job_folder(ctx, record.name)
    stored = (record.spec or {}).get(STORED_ARTIFACTS)
    if stored and not folder.exists():
        return Content.from_dict(stored)
    return folder


def published_at_default_path(ctx: WorkspaceContext, datastore: str, path: str, *,
                              field: str = "path") -> Content | None:
    """The content of ``azureml://datastores/<ds>/paths/<path>`` when the path is (inside) a
    job output's default location, ``azureml/<job>/<output>``, and that output was published
    there: the store holds it, whatever the datastore. None otherwise."""
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "azureml":
        record = ctx.jobs.get_job(ctx.name, parts[1])
        published = published_outputs(record).get(parts[2]) if record is not None else None
        resolved = ((record.spec.get("resolved") or {}).get("outputs") or {}).get(parts[2]) if record else None
        if published is not None and resolved and resolved.get("datastore") == datastore \
                and resolved.get("path") == default_output_path(parts[1], parts[2]):
            return _sub(ctx, published, "/".join(parts[3:]), field)
    return None


def snapshot(ctx: WorkspaceContext, folder: Path, path: str, what: str, *, field: str = "path") -> Content:
    """Store the file or folder *path* under *folder* (links followed, as the user laid them
    out, but only inside *folder*) and return its manifest."""
    source = safe_join(folder, path, field=field)
    if not source.exists():
        raise NotFoundError(f"{path or '.'} does not exist in the {what} ({source})", path=str(source))
    digest, manifest = ctx.artifacts.put_path(source)
    return Content(digest, manifest.root, manifest.kind)


def _sub(ctx: WorkspaceContext, content: Content, path: str, field: str) -> Content:
    path = check_relative(path, field=field, allow_empty=True)
    if not path:
        return content
    try:
        digest, manifest = ctx.artifacts.put_sub_manifest(content.digest, path)
    except ValidationError as exc:
        raise NotFoundError(exc.message, path=path) from None
    return Content(digest, manifest.root, manifest.kind)
