"""Following a job's logs (``stream``) and downloading its artifacts and outputs, in the shapes
azure-ai-ml prints and writes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TextIO

from openaml.entities.job_status import JobStatus, is_terminal
from openaml.errors import AlreadyExistsError, JobFailedError, NotFoundError, ValidationError
from openaml.paths import safe_join
from openaml.services import contents, locations
from openaml.services.jobs import JobService

# Logs are read this many bytes at a time: a log of any size streams in bounded memory.
CHUNK = 1 << 20
# Files shown by stream, in the order a job writes them.
_STREAMED = ("system_logs/environment_build.txt", "user_logs/std_log.txt")


def log_files(folder: Path) -> list[str]:
    """Relative paths of the log files a job has written so far, in streaming order."""
    found = [p for p in _STREAMED if (folder / p).is_file()]
    extra = sorted(str(p.relative_to(folder)) for p in (folder / "user_logs").glob("std_log_process_*.txt"))
    return found + extra


def stream(service: JobService, name: str, out: TextIO, *, poll: float = 0.25,
           raise_on_failure: bool = True) -> str:
    """Print new log lines until the job ends, then an execution summary; return the status.

    Raises :class:`JobFailedError` when the job failed (as azure-ai-ml's ``JobException``).
    KeyboardInterrupt stops following; the job goes on.
    """
    record = service.record(name)
    folder = locations.job_folder(service.ctx, name)
    studio = folder.as_uri()
    out.write(f"RunId: {name}\nWeb View: {studio}\n")
    offsets: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        while True:
            record = service.record(name)
            done = is_terminal(JobStatus(record.status))
            if done:  # its folder may be on another machine: then its logs come from the storage
                folder = _readable(service, record, stack)
            for rel in log_files(folder):
                _print_new(folder / rel, rel, offsets, out, final=done)
            out.flush()
            if done:
                break
            time.sleep(poll)
    warnings = record.spec["resolved"].get("warnings") or []
    out.write(f"\nExecution Summary\n=================\nRunId: {name}\nWeb View: {studio}\n")
    if warnings:
        out.write("Warnings:\n" + "".join(f"  {w}\n" for w in warnings))
    if record.status == JobStatus.FAILED.value:
        out.write(json.dumps({"status": record.status, "error": record.error}, indent=2) + "\n")
        out.flush()
        if raise_on_failure:
            raise JobFailedError(f"job {name} failed: {(record.error or {}).get('message', 'see its logs')}",
                                 name=name)
    out.flush()
    return record.status


def _readable(service: JobService, record, stack: contextlib.ExitStack) -> Path:
    """A local folder holding the ended job's logs: its own, or its stored artifacts written
    to a temp folder (removed when *stack* closes)."""
    source = contents.job_artifacts(service.ctx, record)
    if isinstance(source, Path):
        return source
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="openaml-logs-")))
    return service.ctx.artifacts.materialize(source.digest, tmp)


def _print_new(path: Path, rel: str, offsets: dict[str, int], out: TextIO, *, final: bool) -> None:
    """Print what was added to *path* since the last round, in chunks of at most ``CHUNK``
    bytes (a log of any size streams in bounded memory). Only whole lines are printed, except
    a line longer than a chunk, which is printed in pieces; a partial last line waits for the
    next round unless the job has ended (*final*)."""
    if rel not in offsets:
        out.write(f"\nStreaming {rel}\n{'=' * (10 + len(rel))}\n")
        offsets[rel] = 0
    with open(path, "rb") as fh:
        fh.seek(offsets[rel])
        while chunk := fh.read(CHUNK):
            end = _printable_end(chunk, full=len(chunk) == CHUNK, final=final)
            if end:
                out.write(chunk[:end].decode("utf-8", errors="replace"))
                offsets[rel] += end
            if end < len(chunk):
                if len(chunk) < CHUNK:
                    return  # the end of what is written so far: a partial line waits
                fh.seek(offsets[rel])


def _printable_end(chunk: bytes, *, full: bool, final: bool) -> int:
    """How much of *chunk* to print now: up to its last newline; all of it at the end of a
    finished log; a full chunk without a newline up to its last whole UTF-8 character."""
    if final and not full:
        return len(chunk)
    end = chunk.rfind(b"\n") + 1
    if end or not full:
        return end
    return _utf8_boundary(chunk)


def _utf8_boundary(chunk: bytes) -> int:
    """The length of *chunk* without a UTF-8 character cut at its end."""
    for back in range(1, min(4, len(chunk)) + 1):
        byte = chunk[-back]
        if byte & 0xC0 == 0x80:  # a continuation byte: look further back for the lead byte
            continue
        if byte >= 0xC0:  # a lead byte: drop its character if the chunk ends before it does
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(chunk) - back if back < needed else len(chunk)
        return len(chunk)
    return len(chunk)


def download(service: JobService, name: str, download_path: str | Path = ".", *,
             output_name: str | None = None, all: bool = False, overwrite: bool = False) -> Path:
    """``artifacts/`` (logs and MLflow artifacts) and ``named-outputs/<name>/`` as Azure writes them.

    Nothing existing is replaced unless *overwrite*: a folder already there raises
    :class:`AlreadyExistsError` naming it before anything is written. Each folder is staged
    beside its target and renamed into place, so an interrupted download leaves no half folder.
    """
    plan = _download_plan(service, name, Path(download_path), output_name, all)
    existing = [target for _, target in plan if target.exists() or target.is_symlink()]
    if existing and not overwrite:
        raise AlreadyExistsError(f"{existing[0]} already exists; nothing was downloaded. Ask for overwrite to "
                                 "replace it (overwrite=True, or --overwrite on the command line)",
                                 path=str(existing[0]))
    for source, target in plan:
        if isinstance(source, contents.Content):  # a published output: from the store, staged
            folder = service.ctx.artifacts.as_folder(source.digest, target.name)
            service.ctx.artifacts.materialize(folder, target.parent, overwrite=True)
        else:
            _copy(source, target)
    return Path(download_path)


def _download_plan(service: JobService, name: str, root: Path, output_name: str | None,
                   all: bool) -> list[tuple[Path | contents.Content, Path]]:
    """(source, target) of every folder a download writes, targets confined to *root*."""
    record = service.record(name)
    if not is_terminal(JobStatus(record.status)):
        raise ValidationError(f"job {name} is {record.status}; download works once it has ended "
                              f"(wait with: openaml job stream -n {name})", field="status")
    best = (record.spec.get("best") or {}).get("name") if record.type == "sweep" else None
    if best:  # as Azure: the best trial's files, and the sweep's own under hd-artifacts/
        own = (contents.job_artifacts(service.ctx, record), safe_join(root, "hd-artifacts"))
        return [own, *_download_plan(service, best, root, output_name, all)]
    outputs = record.spec["resolved"].get("outputs") or record.spec.get("pipeline_outputs") or {}
    if output_name is not None and output_name not in outputs and output_name not in locations.ARTIFACTS_OUTPUTS:
        raise ValidationError(f"job {name} has no output '{output_name}' (it has: "
                              f"{', '.join(sorted(outputs)) or 'none'}, and 'default')", field="output_name")
    plan = []
    if all or output_name is None or output_name in locations.ARTIFACTS_OUTPUTS:
        plan.append((contents.job_artifacts(service.ctx, record), safe_join(root, "artifacts")))
    for out_name in outputs:
        if all or output_name == out_name:
            try:
                content = contents.job_output(service.ctx, name, out_name)
            except NotFoundError:
                continue  # an output the job did not write: nothing to download
            plan.append((content, safe_join(root, "named-outputs", out_name, field="output_name", names=True)))
    return plan


def _copy(source: Path, target: Path) -> None:
    """Copy a file (into the folder *target*) or a folder (as *target*): staged in a temp folder
    beside *target*, then renamed into place; a target already there is replaced."""
    if not source.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".openaml-download-", dir=target.parent))
    try:
        staged = staging / "new"
        if source.is_file():
            staged.mkdir()
            shutil.copy2(source, staged / source.name)
        else:
            shutil.copytree(source, staged)
        if target.exists() or target.is_symlink():
            os.replace(target, staging / "old")  # deleted with the staging folder
        os.replace(staged, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
