"""Following a job's logs (``stream``) and downloading its artifacts and outputs, in the shapes
azure-ai-ml prints and writes."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import TextIO

from openaml.entities.job_status import JobStatus, is_terminal
from openaml.errors import JobFailedError, NotFoundError, ValidationError
from openaml.services import contents, locations
from openaml.services.jobs import JobService

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
    while True:
        record = service.record(name)
        done = is_terminal(JobStatus(record.status))
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


def _print_new(path: Path, rel: str, offsets: dict[str, int], out: TextIO, *, final: bool) -> None:
    if rel not in offsets:
        out.write(f"\nStreaming {rel}\n{'=' * (10 + len(rel))}\n")
        offsets[rel] = 0
    with open(path, "rb") as fh:
        fh.seek(offsets[rel])
        chunk = fh.read()
    if chunk:
        # Only whole lines; a partial last line waits for the next round.
        end = len(chunk) if final or chunk.endswith(b"\n") else chunk.rfind(b"\n") + 1
        if end:
            out.write(chunk[:end].decode("utf-8", errors="replace"))
            offsets[rel] += end


def download(service: JobService, name: str, download_path: str | Path = ".", *,
             output_name: str | None = None, all: bool = False) -> Path:
    """``artifacts/`` (logs and MLflow artifacts) and ``named-outputs/<name>/`` as Azure writes them."""
    record = service.record(name)
    if not is_terminal(JobStatus(record.status)):
        raise ValidationError(f"job {name} is {record.status}; download works once it has ended "
                              f"(wait with: openaml job stream -n {name})", field="status")
    root = Path(download_path)
    best = (record.spec.get("best") or {}).get("name") if record.type == "sweep" else None
    if best:  # as Azure: the best trial's files, and the sweep's own under hd-artifacts/
        _copy(locations.job_folder(service.ctx, name), root / "hd-artifacts")
        return download(service, best, root, output_name=output_name, all=all)
    outputs = record.spec["resolved"].get("outputs") or record.spec.get("pipeline_outputs") or {}
    if output_name is not None and output_name not in outputs and output_name not in locations.ARTIFACTS_OUTPUTS:
        raise ValidationError(f"job {name} has no output '{output_name}' (it has: "
                              f"{', '.join(sorted(outputs)) or 'none'}, and 'default')", field="output_name")
    if all or output_name is None or output_name in locations.ARTIFACTS_OUTPUTS:
        _copy(locations.job_folder(service.ctx, name), root / "artifacts")
    for out_name in outputs:
        if all or output_name == out_name:
            try:
                content = contents.job_output(service.ctx, name, out_name)
            except NotFoundError:
                continue  # an output the job did not write: nothing to download
            service.ctx.artifacts.materialize_into(content.digest, root / "named-outputs" / out_name)
    return root


def _copy(source: Path, target: Path) -> None:
    if not source.exists():
        return
    if source.is_file():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / source.name)
    else:
        shutil.copytree(source, target, dirs_exist_ok=True)
