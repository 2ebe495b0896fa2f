"""Following a job's logs (``stream``) and downloading its artifacts and outputs, in the shapes
azure-ai-ml prints and writes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

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


@dataclass(frozen=True)
class LogState:
    """Where a job is, as following its logs needs it: its status and error, the warnings of
    its submission, and the log files written so far (in streaming order)."""

    status: str
    error: dict[str, Any] | None
    warnings: list[str]
    files: list[str]


class LogSource(Protocol):
    """A job's logs, wherever they are: this machine's files (:class:`FolderLogs`) or a server."""

    web_view: str

    def state(self) -> LogState: ...

    def read(self, rel: str, offset: int, size: int) -> bytes:
        """At most *size* bytes of log file *rel* from *offset* (``b""`` at its end)."""
        ...


class FolderLogs:
    """A job's logs in its folder in the workspace."""

    def __init__(self, service: JobService, name: str) -> None:
        self.service, self.name = service, name
        service.record(name)  # NotFoundError before anything is printed
        self.folder = locations.job_folder(service.ctx, name)
        self.web_view = self.folder.as_uri()
        self._stack = contextlib.ExitStack()
        self._ended = False

    def state(self) -> LogState:
        record = self.service.record(self.name)
        if not self._ended and is_terminal(JobStatus(record.status)):
            # its folder may be on another machine: then its logs come from the storage
            self.folder, self._ended = _readable(self.service, record, self._stack), True
        return LogState(record.status, record.error, list(record.spec["resolved"].get("warnings") or []),
                        log_files(self.folder))

    def close(self) -> None:
        """Remove the temp copy of stored logs, if one was made."""
        self._stack.close()

    def read(self, rel: str, offset: int, size: int) -> bytes:
        if rel not in log_files(self.folder):  # only the job's logs, whatever *rel* says
            raise NotFoundError(f"job {self.name} has no log file {rel!r}", path=rel)
        with open(self.folder / rel, "rb") as fh:
            fh.seek(offset)
            return fh.read(size)


def stream(service: JobService | LogSource, name: str, out: TextIO, *, poll: float = 0.25,
           raise_on_failure: bool = True) -> str:
    """Print new log lines until the job ends, then an execution summary; return the status.

    *service* is a job service (the logs are this machine's files) or any :class:`LogSource`.
    Raises :class:`JobFailedError` when the job failed (as azure-ai-ml's ``JobException``).
    KeyboardInterrupt stops following; the job goes on.
    """
    source = FolderLogs(service, name) if isinstance(service, JobService) else service
    out.write(f"RunId: {name}\nWeb View: {source.web_view}\n")
    offsets: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        if isinstance(source, FolderLogs):
            stack.callback(source.close)
        while True:
            state = source.state()
            done = is_terminal(JobStatus(state.status))
            for rel in state.files:
                _print_new(source, rel, offsets, out, final=done)
            out.flush()
            if done:
                break
            time.sleep(poll)
    out.write(f"\nExecution Summary\n=================\nRunId: {name}\nWeb View: {source.web_view}\n")
    if state.warnings:
        out.write("Warnings:\n" + "".join(f"  {w}\n" for w in state.warnings))
    if state.status == JobStatus.FAILED.value:
        out.write(json.dumps({"status": state.status, "error": state.error}, indent=2) + "\n")
        out.flush()
        if raise_on_failure:
            raise JobFailedError(f"job {name} failed: {(state.error or {}).get('message', 'see its logs')}",
                                 name=name)
    out.flush()
    return state.status


def _readable(service: JobService, record: Any, stack: contextlib.ExitStack) -> Path:
    """A local folder holding the ended job's logs: its own, or its stored artifacts written
    to a temp folder (removed when *stack* closes)."""
    source = contents.job_artifacts(service.ctx, record)
    if isinstance(source, Path):
        return source
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="openaml-logs-")))
    return service.ctx.artifacts.materialize(source.digest, tmp)


def _print_new(source: LogSource, rel: str, offsets: dict[str, int], out: TextIO, *, final: bool) -> None:
    """Print what was added to *rel* since the last round, in chunks of at most ``CHUNK``
    bytes (a log of any size streams in bounded memory). Only whole lines are printed, except
    a line longer than a chunk, which is printed in pieces; a partial last line waits for the
    next round unless the job has ended (*final*)."""
    if rel not in offsets:
        out.write(f"\nStreaming {rel}\n{'=' * (10 + len(rel))}\n")
        offsets[rel] = 0
    while chunk := source.read(rel, offsets[rel], CHUNK):
        end = _printable_end(chunk, full=len(chunk) == CHUNK, final=final)
        if end:
            out.write(chunk[:end].decode("utf-8", errors="replace"))
            offsets[rel] += end
        if end < len(chunk) and len(chunk) < CHUNK:
            return  # the end of what is written so far: a partial line waits


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


@dataclass(frozen=True)
class DownloadItem:
    """One folder a job download writes: *target* (relative to the download folder:
    ``artifacts``, ``named-outputs/<o>``, ``hd-artifacts``) from *source* (the job's folder of
    logs and artifacts, or a published output in the store)."""

    target: str
    source: Path | contents.Content


def download(service: JobService, name: str, download_path: str | Path = ".", *,
             output_name: str | None = None, all: bool = False, overwrite: bool = False) -> Path:
    """``artifacts/`` (logs and MLflow artifacts) and ``named-outputs/<name>/`` as Azure writes them.

    Nothing existing is replaced unless *overwrite*: a folder already there raises
    :class:`AlreadyExistsError` naming it before anything is written. Each folder is staged
    beside its target and renamed into place, so an interrupted download leaves no half folder.
    """
    items = download_plan(service, name, output_name, all)
    targets = check_targets(download_path, [item.target for item in items], overwrite)
    for item, target in zip(items, targets):
        if isinstance(item.source, contents.Content):  # a published output: from the store, staged
            folder = service.ctx.artifacts.as_folder(item.source.digest, target.name)
            service.ctx.artifacts.materialize(folder, target.parent, overwrite=True)
        else:
            _copy(item.source, target)
    return Path(download_path)


def check_targets(download_path: str | Path, targets: list[str], overwrite: bool) -> list[Path]:
    """The folders *targets* name under *download_path* (each confined to it); unless
    *overwrite*, :class:`AlreadyExistsError` naming the first that exists."""
    root = Path(download_path)
    paths = [safe_join(root, *t.split("/"), field="output_name", names=True) for t in targets]
    existing = [p for p in paths if p.exists() or p.is_symlink()]
    if existing and not overwrite:
        raise AlreadyExistsError(f"{existing[0]} already exists; nothing was downloaded. Ask for overwrite to "
                                 "replace it (overwrite=True, or --overwrite on the command line)",
                                 path=str(existing[0]))
    return paths


def download_plan(service: JobService, name: str, output_name: str | None, all: bool) -> list[DownloadItem]:
    """What a download of job *name* writes (see :func:`download`)."""
    record = service.record(name)
    if not is_terminal(JobStatus(record.status)):
        raise ValidationError(f"job {name} is {record.status}; download works once it has ended "
                              f"(wait with: openaml job stream -n {name})", field="status")
    best = (record.spec.get("best") or {}).get("name") if record.type == "sweep" else None
    if best:  # as Azure: the best trial's files, and the sweep's own under hd-artifacts/
        own = DownloadItem("hd-artifacts", contents.job_artifacts(service.ctx, record))
        return [own, *download_plan(service, best, output_name, all)]
    outputs = record.spec["resolved"].get("outputs") or record.spec.get("pipeline_outputs") or {}
    if output_name is not None and output_name not in outputs and output_name not in locations.ARTIFACTS_OUTPUTS:
        raise ValidationError(f"job {name} has no output '{output_name}' (it has: "
                              f"{', '.join(sorted(outputs)) or 'none'}, and 'default')", field="output_name")
    plan = []
    if all or output_name is None or output_name in locations.ARTIFACTS_OUTPUTS:
        plan.append(DownloadItem("artifacts", contents.job_artifacts(service.ctx, record)))
    for out_name in outputs:
        if all or output_name == out_name:
            try:
                content = contents.job_output(service.ctx, name, out_name)
            except NotFoundError:
                continue  # an output the job did not write: nothing to download
            plan.append(DownloadItem(f"named-outputs/{out_name}", content))
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
