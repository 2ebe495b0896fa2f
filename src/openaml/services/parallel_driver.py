"""openaml's parallel-run driver: an entry script's ``init()``/``run(mini_batch)`` over mini-batches.

Standard library only, and no openaml import: a parallel step runs as a command job, with the
job environment's Python, which has no openaml. :mod:`openaml.services.parallel` passes this file
to the job as an input and builds the command line::

    python parallel_driver.py --entry-script score.py --input <folder|file> --input-type uri_folder
        --append-row-to <folder|file|''> --mini-batch-size 10 --max-concurrency 2 --max-retries 2
        --timeout 60 --error-threshold -1 --mini-batch-error-threshold -1 --logging-level INFO
        -- <program_arguments...>

What it does, as Azure's parallel run does:

* **Mini-batches.** A file input (``uri_folder``/``uri_file``) is split into its files, sorted by
  relative path (recursively); ``mini_batch_size`` is a file count (``10``) or a total size
  (``"100 kb"``, ``"10mb"``: files are added while the batch stays under it, at least one each).
  ``run`` gets a list of absolute file paths. A tabular input (``mltable``: a folder with an
  ``MLTable`` file whose ``paths`` name CSV files, else every CSV under it; or a ``.csv`` file) is
  split into row chunks of about ``mini_batch_size`` bytes (a plain number is bytes too, as in
  Azure; default 1 MB), or one chunk per value of ``--partition-keys``. ``run`` gets a pandas
  DataFrame when pandas is importable (``--table-format auto``), else a list of dicts of strings.
* **Workers.** ``--max-concurrency`` processes each import the entry script (from the current
  folder, with ``sys.argv = [entry_script, *program_arguments]``) and call ``init()`` once;
  ``shutdown()``, if defined, runs when a worker stops.
* **Retries and timeouts.** A mini-batch whose ``run`` raises, times out (``--timeout`` seconds;
  its worker is killed and replaced, which calls ``init()`` again) or kills its worker is retried
  up to ``--max-retries`` times, then counted as failed.
* **Thresholds** (-1 ignores). Failed items are every item of a failed mini-batch plus, for a
  successful one, the items it returned no row for. Above ``--error-threshold`` failed items or
  ``--mini-batch-error-threshold`` failed mini-batches (or ``--allowed_failed_percent`` of them,
  from the program arguments) the run stops and exits 1. ``--error_threshold`` in the program
  arguments overrides ``--error-threshold``, as Azure's predefined argument does.
* **Rows.** What ``run`` returns (a list of strings, tuples/lists or dicts, or a DataFrame) is
  appended to ``--append-row-to`` one line per row, values separated by spaces, in mini-batch
  order whatever order the mini-batches finish in. A folder gets ``parallel_run_step.txt``.

Progress and a summary go to stdout; ``--summary-file`` also gets the summary as JSON.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import logging
import multiprocessing
import os
import re
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_for
from pathlib import Path
from typing import Any

DEFAULT_APPEND_FILE = "parallel_run_step.txt"
DEFAULT_TABLE_BATCH_BYTES = 1024 * 1024
EXIT_FAILED = 1
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3}
_MLTABLE_PATH = re.compile(r"^\s*-?\s*(file|folder|pattern)\s*:\s*['\"]?([^'\"#]+?)['\"]?\s*(#.*)?$")
log = logging.getLogger("parallel_run")


# -- mini-batches ------------------------------------------------------------------------------
@dataclass
class MiniBatch:
    """One unit of work: ``files`` (paths) or ``table`` (header + rows) and its item count."""

    index: int
    kind: str
    items: list[Any]
    header: list[str] | None = None


def parse_size(text: str | None) -> tuple[int | None, bool]:
    """``"10"`` -> (10, False); ``"100 kb"`` -> (102400, True); None -> (None, False)."""
    if text is None or str(text).strip() == "":
        return None, False
    match = _SIZE.match(str(text))
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"mini_batch_size {text!r} is neither a positive count nor a size like '100 kb'")
    unit = (match.group(2) or "").lower()
    return int(match.group(1)) * _UNITS[unit], bool(unit)


def list_files(path: Path) -> list[Path]:
    """The files of a folder, recursively, sorted by relative path; a file is itself."""
    if path.is_file():
        return [path]
    return sorted((p for p in path.rglob("*") if p.is_file()), key=lambda p: p.relative_to(path).as_posix())


def file_batches(files: list[Path], size: int | None, by_bytes: bool) -> list[MiniBatch]:
    """Chunks of ``size`` files, or of files totalling at most ``size`` bytes (one at least)."""
    groups: list[list[str]] = []
    if not by_bytes:
        step = size or 1
        groups = [[str(f) for f in files[i:i + step]] for i in range(0, len(files), step)]
    else:
        total = 0
        for f in files:
            length = f.stat().st_size
            if not groups or (total + length > size and groups[-1]):
                groups.append([])
                total = 0
            groups[-1].append(str(f))
            total += length
    return [MiniBatch(i, "files", g) for i, g in enumerate(groups)]


def table_files(path: Path) -> list[Path]:
    """The CSV files of a tabular input: the ``MLTable`` file's ``paths``, else every CSV."""
    if path.is_file():
        return [path]
    found: list[Path] = []
    mltable = path / "MLTable"
    if mltable.is_file():
        for kind, value in _mltable_paths(mltable.read_text()):
            found += _expand_table_path(path, kind, value)
    if not found:
        found = [p for p in list_files(path) if p.suffix.lower() == ".csv"]
    return list(dict.fromkeys(found))


def _mltable_paths(text: str) -> list[tuple[str, str]]:
    """``(kind, value)`` of each ``- file|folder|pattern: value`` under ``paths:`` (a line scan:
    the driver has no YAML parser; enough for the shapes ``MLTable`` files use)."""
    entries, inside = [], False
    for line in text.splitlines():
        if re.match(r"^\S", line):
            inside = line.split(":", 1)[0].strip() == "paths"
            continue
        match = _MLTABLE_PATH.match(line) if inside else None
        if match:
            entries.append((match.group(1), match.group(2).strip()))
    return entries


def _expand_table_path(root: Path, kind: str, value: str) -> list[Path]:
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]+://", value):
        raise ValueError(f"MLTable path {value!r} is a URI; a local parallel run reads local files only")
    relative = value[2:] if value.startswith("./") else value
    if kind == "file":
        found = [root / relative]
    elif kind == "folder":
        found = [p for p in list_files(root / relative) if p.suffix.lower() == ".csv"]
    else:
        found = sorted(p for p in root.glob(relative) if p.is_file())
    for path in found:
        _check_inside(root, path, value)
    return found


def _check_inside(root: Path, path: Path, value: str) -> None:
    """An ``MLTable`` file is data, maybe someone else's: its paths (``..``, absolute paths,
    symlinks included) must stay inside the input's folder, or the job would read files of the
    machine it runs on."""
    base = os.path.realpath(root)
    target = os.path.realpath(path)
    if os.path.commonpath([base, target]) != base:
        raise ValueError(f"MLTable path {value!r} leads outside the input folder; "
                         "paths in an MLTable file must stay inside it")


def read_table(files: list[Path]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of CSV files that share one header."""
    header: list[str] | None = None
    rows: list[list[str]] = []
    for path in files:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            first = next(reader, None)
            if first is None:
                continue
            if header is not None and first != header:
                raise ValueError(f"{path} has columns {first}, unlike the first file's {header}")
            header = first
            rows += [r for r in reader if r]
    return header or [], rows


def table_batches(header: list[str], rows: list[list[str]], size: int | None,
                  partition_keys: list[str] | None) -> list[MiniBatch]:
    """Row chunks of about ``size`` bytes, or one chunk per partition-key value (first seen first)."""
    if partition_keys:
        missing = [k for k in partition_keys if k not in header]
        if missing:
            raise ValueError(f"partition_keys {missing} are not columns of the input ({header})")
        columns = [header.index(k) for k in partition_keys]
        groups: dict[tuple[str, ...], list[list[str]]] = {}
        for row in rows:
            groups.setdefault(tuple(row[c] for c in columns), []).append(row)
        return [MiniBatch(i, "table", g, header) for i, g in enumerate(groups.values())]
    limit, chunks, total = size or DEFAULT_TABLE_BATCH_BYTES, [], 0
    for row in rows:
        length = len(",".join(row)) + 1
        if not chunks or (total + length > limit and chunks[-1]):
            chunks.append([])
            total = 0
        chunks[-1].append(row)
        total += length
    return [MiniBatch(i, "table", c, header) for i, c in enumerate(chunks)]


def make_batches(args: argparse.Namespace) -> list[MiniBatch]:
    """The mini-batches of ``--input`` as ``--input-type`` and ``--mini-batch-size`` say."""
    path = Path(args.input).absolute()
    if not path.exists():
        raise ValueError(f"input_data {path} does not exist")
    size, by_bytes = parse_size(args.mini_batch_size)
    if _is_tabular(path, args.input_type):
        header, rows = read_table(table_files(path))
        return table_batches(header, rows, size, args.partition_keys)
    if args.partition_keys:
        raise ValueError("partition_keys apply to tabular (mltable) input only")
    return file_batches(list_files(path), size, by_bytes)


def _is_tabular(path: Path, input_type: str) -> bool:
    if input_type == "auto":
        return (path.is_dir() and (path / "MLTable").is_file()) or path.suffix.lower() == ".csv"
    return input_type == "mltable"


# -- rows -------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _row(item: Any) -> str:
    if isinstance(item, (str, bytes)):
        return _cell(item)
    if isinstance(item, dict):
        return " ".join(_cell(v) for v in item.values())
    if isinstance(item, (list, tuple)):
        return " ".join(_cell(v) for v in item)
    return _cell(item)


def format_rows(result: Any) -> list[str]:
    """The lines for what ``run`` returned: one per row, values separated by spaces."""
    if result is None:
        return []
    if hasattr(result, "itertuples") and hasattr(result, "columns"):  # a pandas DataFrame
        return [" ".join(_cell(v) for v in row) for row in result.itertuples(index=False, name=None)]
    if isinstance(result, (str, bytes, dict)):
        return [_row(result)]
    return [_row(item) for item in result]


# -- the worker process -----------------------------------------------------------------------
def _load_entry_script(entry_script: str, program_args: list[str]) -> Any:
    path = Path(entry_script).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"entry_script {entry_script} not found in {Path.cwd()}")
    for folder in (str(path.parent), os.getcwd()):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    sys.argv = [entry_script, *program_args]
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, "run", None)):
        raise AttributeError(f"entry_script {entry_script} defines no run(mini_batch) function")
    return module


def _as_table(batch: MiniBatch, table_format: str) -> Any:
    if table_format != "rows":
        try:
            import pandas
        except ImportError:
            if table_format == "pandas":
                raise
        else:
            text = io.StringIO()
            writer = csv.writer(text)
            writer.writerow(batch.header)
            writer.writerows(batch.items)
            text.seek(0)
            return pandas.read_csv(text)
    return [dict(zip(batch.header, row)) for row in batch.items]


def worker_main(conn: Any, entry_script: str, program_args: list[str], level: str,
                table_format: str) -> None:
    """A worker: import the entry script, ``init()`` once, then ``run`` each mini-batch sent."""
    _configure_logging(level)
    try:
        module = _load_entry_script(entry_script, program_args)
        if callable(getattr(module, "init", None)):
            module.init()
    except BaseException:  # noqa: BLE001 - reported to the parent, which stops the run
        conn.send(("init_error", traceback.format_exc()))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            break
        if message is None:
            break
        batch: MiniBatch = message
        try:
            argument = batch.items if batch.kind == "files" else _as_table(batch, table_format)
            conn.send(("done", batch.index, format_rows(module.run(argument))))
        except BaseException:  # noqa: BLE001 - any failure of run() is a failed attempt
            conn.send(("error", batch.index, traceback.format_exc()))
    if callable(getattr(module, "shutdown", None)):
        module.shutdown()


# -- the parent: scheduling, retries, thresholds ----------------------------------------------
@dataclass
class Worker:
    process: Any
    conn: Any
    ready: bool = False
    batch: MiniBatch | None = None
    attempt: int = 0
    started: float = 0.0


@dataclass
class Summary:
    mini_batches: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    items: int = 0
    items_failed: int = 0
    rows: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    status: str = "Running"
    message: str = ""

    def line(self, elapsed: float) -> str:
        return (f"mini-batches total={self.mini_batches} succeeded={self.succeeded} failed={self.failed} "
                f"retried={self.retried}; items total={self.items} processed={self.items - self.items_failed} "
                f"failed={self.items_failed}; rows appended={self.rows}; {elapsed:.2f} s")


class RunAborted(Exception):
    """A threshold was exceeded, or ``init()`` failed: the run stops and exits non-zero."""


class ParallelRun:
    """Schedules the mini-batches over the workers and writes the rows in mini-batch order."""

    def __init__(self, args: argparse.Namespace, batches: list[MiniBatch], program_args: list[str]) -> None:
        self.args, self.batches, self.program_args = args, batches, program_args
        self.summary = Summary(mini_batches=len(batches), items=sum(len(b.items) for b in batches))
        self.pending: deque[tuple[MiniBatch, int]] = deque((b, 1) for b in batches)
        self.results: dict[int, list[str] | None] = {}
        self.next_to_write = 0
        self.workers: list[Worker] = []
        methods = multiprocessing.get_all_start_methods()
        self.mp = multiprocessing.get_context("fork" if "fork" in methods else "spawn")

    def execute(self, out: Any) -> Summary:
        """Run every mini-batch; raise :class:`RunAborted` when a threshold is exceeded."""
        self.out = out
        try:
            for _ in range(min(self.args.max_concurrency, len(self.batches))):
                self.workers.append(self._start_worker())
            while self.pending or any(w.batch for w in self.workers):
                self._assign()
                wait_for([w.conn for w in self.workers] + [w.process.sentinel for w in self.workers], 0.05)
                for worker in list(self.workers):
                    self._poll(worker)
                self._check_thresholds()
        finally:
            self._stop_workers()
        return self.summary

    def _start_worker(self) -> Worker:
        sys.stdout.flush()
        sys.stderr.flush()
        parent, child = self.mp.Pipe()
        # Not daemonic: run() may start processes of its own; the driver always stops its workers.
        process = self.mp.Process(target=worker_main, daemon=False, args=(
            child, self.args.entry_script, self.program_args, self.args.logging_level, self.args.table_format))
        process.start()
        child.close()
        return Worker(process, parent)

    def _assign(self) -> None:
        for worker in self.workers:
            if worker.ready and worker.batch is None and self.pending:
                batch, attempt = self.pending.popleft()
                worker.batch, worker.attempt, worker.started = batch, attempt, time.monotonic()
                log.debug("mini-batch %d (attempt %d) -> worker %d: %s", batch.index, attempt,
                          worker.process.pid, batch.items if batch.kind == "files" else f"{len(batch.items)} rows")
                worker.conn.send(batch)

    def _poll(self, worker: Worker) -> None:
        try:
            while worker.conn.poll():
                self._handle(worker, worker.conn.recv())
        except (EOFError, OSError):
            pass
        if worker.batch is not None and self.args.timeout > 0 \
                and time.monotonic() - worker.started > self.args.timeout:
            self._replace(worker, f"timed out after {self.args.timeout} s (retry_settings.timeout)")
        elif not worker.process.is_alive():
            if not worker.ready:
                raise RunAborted(f"a worker exited with code {worker.process.exitcode} before init() finished")
            self._replace(worker, f"its worker process exited with code {worker.process.exitcode}")

    def _handle(self, worker: Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "init_error":
            raise RunAborted(f"init() failed in the entry script {self.args.entry_script}:\n{message[1]}")
        if kind == "ready":
            worker.ready = True
            return
        batch, attempt = worker.batch, worker.attempt
        elapsed = time.monotonic() - worker.started
        worker.batch = None
        if kind == "done":
            self._succeeded(batch, attempt, message[2], elapsed)
        else:
            self._attempt_failed(batch, attempt, message[2])

    def _replace(self, worker: Worker, reason: str) -> None:
        batch, attempt = worker.batch, worker.attempt
        _terminate(worker)
        self.workers[self.workers.index(worker)] = self._start_worker()
        if batch is not None:
            self._attempt_failed(batch, attempt, f"mini-batch {batch.index}: {reason}")

    def _succeeded(self, batch: MiniBatch, attempt: int, rows: list[str], elapsed: float) -> None:
        self.summary.succeeded += 1
        missing = max(0, len(batch.items) - len(rows))
        self.summary.items_failed += missing
        log.info("mini-batch %d/%d succeeded (attempt %d, %d items, %d rows, %.2f s)", batch.index + 1,
                 len(self.batches), attempt, len(batch.items), len(rows), elapsed)
        if missing:
            log.warning("mini-batch %d returned %d rows for %d items; %d items count as failed",
                        batch.index, len(rows), len(batch.items), missing)
        self._store(batch.index, rows)

    def _attempt_failed(self, batch: MiniBatch, attempt: int, error: str) -> None:
        print(f"mini-batch {batch.index} attempt {attempt} failed:\n{error.rstrip()}", file=sys.stderr, flush=True)
        if attempt <= self.args.max_retries:
            self.summary.retried += 1
            log.warning("retrying mini-batch %d (retry %d of %d)", batch.index, attempt, self.args.max_retries)
            self.pending.append((batch, attempt + 1))
            return
        self.summary.failed += 1
        self.summary.items_failed += len(batch.items)
        last = error.strip().splitlines()[-1] if error.strip() else "unknown error"
        self.summary.failures.append({"mini_batch": batch.index, "attempts": attempt, "error": last})
        log.warning("mini-batch %d failed after %d attempts: %s", batch.index, attempt, last)
        self._store(batch.index, None)

    def _store(self, index: int, rows: list[str] | None) -> None:
        self.results[index] = rows
        while self.next_to_write in self.results:
            lines = self.results.pop(self.next_to_write) or []
            if self.out is not None and lines:
                self.out.write("".join(line + "\n" for line in lines))
                self.out.flush()
            self.summary.rows += len(lines)
            self.next_to_write += 1

    def _check_thresholds(self) -> None:
        s, a = self.summary, self.args
        if a.error_threshold >= 0 and s.items_failed > a.error_threshold:
            raise RunAborted(f"{s.items_failed} failed items exceed error_threshold {a.error_threshold}")
        if a.mini_batch_error_threshold >= 0 and s.failed > a.mini_batch_error_threshold:
            raise RunAborted(f"{s.failed} failed mini-batches exceed mini_batch_error_threshold "
                             f"{a.mini_batch_error_threshold}")
        if a.allowed_failed_percent is not None and s.mini_batches \
                and 100.0 * s.failed / s.mini_batches > a.allowed_failed_percent:
            raise RunAborted(f"{s.failed} of {s.mini_batches} mini-batches failed, more than "
                             f"allowed_failed_percent {a.allowed_failed_percent}")

    def _stop_workers(self) -> None:
        for worker in self.workers:
            if worker.batch is None and worker.process.is_alive():
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
        deadline = time.monotonic() + 5.0
        for worker in self.workers:
            if worker.batch is None:
                worker.process.join(max(0.0, deadline - time.monotonic()))
            _terminate(worker)


def _terminate(worker: Worker) -> None:
    if worker.process.is_alive():
        worker.process.terminate()
        worker.process.join(2.0)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
    worker.conn.close()


# -- command line -----------------------------------------------------------------------------
def _configure_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The driver's options (before ``--``) and the entry script's program arguments (after)."""
    split = argv.index("--") if "--" in argv else len(argv)
    own, program_args = argv[:split], argv[split + 1:]
    p = argparse.ArgumentParser(prog="parallel_driver", description=__doc__.split("\n", 1)[0])
    p.add_argument("--entry-script", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--input-type", default="auto", choices=["auto", "uri_folder", "uri_file", "mltable"])
    p.add_argument("--append-row-to", default="")
    p.add_argument("--append-row-file-name", default=DEFAULT_APPEND_FILE)
    p.add_argument("--mini-batch-size", default=None)
    p.add_argument("--partition-keys", nargs="+", default=None)
    p.add_argument("--max-concurrency", type=int, default=1)
    p.add_argument("--max-retries", type=int, default=2)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--error-threshold", type=int, default=-1)
    p.add_argument("--mini-batch-error-threshold", type=int, default=-1)
    p.add_argument("--allowed-failed-percent", type=float, default=None)
    p.add_argument("--logging-level", default="INFO", type=str.upper, choices=["DEBUG", "INFO", "WARNING"])
    p.add_argument("--table-format", default="auto", choices=["auto", "pandas", "rows"])
    p.add_argument("--summary-file", default=None)
    args = p.parse_args(own)
    if args.max_concurrency < 1:
        p.error("--max-concurrency must be at least 1")
    _predefined_arguments(args, program_args)
    return args, program_args


def _predefined_arguments(args: argparse.Namespace, program_args: list[str]) -> None:
    """Azure's predefined program arguments that change the run; the others are accepted and
    ignored. All stay in the entry script's ``sys.argv``."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--error_threshold", type=int)
    p.add_argument("--allowed_failed_percent", type=float)
    known, _ = p.parse_known_args(program_args)
    if known.error_threshold is not None:
        args.error_threshold = known.error_threshold
    if known.allowed_failed_percent is not None:
        args.allowed_failed_percent = known.allowed_failed_percent


def append_path(target: str, file_name: str) -> Path | None:
    """Where rows go: ``target`` itself, or ``target/<file_name>`` when it is a folder."""
    if not target:
        return None
    path = Path(target)
    if path.is_dir() or target.endswith(("/", os.sep)):
        path.mkdir(parents=True, exist_ok=True)
        return path / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the parallel step; 0 when every threshold holds."""
    args, program_args = parse_args(sys.argv[1:] if argv is None else argv)
    _configure_logging(args.logging_level)
    started = time.monotonic()
    try:
        batches = make_batches(args)
    except (ValueError, OSError) as exc:
        print(f"parallel run failed: {exc}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    run = ParallelRun(args, batches, program_args)
    log.info("parallel run: %d mini-batches of %s, %d items; %d worker(s), max_retries=%d, timeout=%s s",
             len(batches), args.input, run.summary.items, min(args.max_concurrency, len(batches)) or 0,
             args.max_retries, args.timeout)
    destination = append_path(args.append_row_to, args.append_row_file_name)
    out = open(destination, "w", encoding="utf-8") if destination else None
    try:
        run.execute(out)
        run.summary.status = "Completed"
    except RunAborted as exc:
        run.summary.status, run.summary.message = "Failed", str(exc)
    finally:
        if out is not None:
            out.close()
    return _report(run.summary, args, time.monotonic() - started)


def _report(summary: Summary, args: argparse.Namespace, elapsed: float) -> int:
    print(f"parallel run summary: {summary.line(elapsed)}", flush=True)
    for failure in summary.failures:
        print(f"  failed mini-batch {failure['mini_batch']} after {failure['attempts']} attempt(s): "
              f"{failure['error']}", flush=True)
    if args.summary_file:
        Path(args.summary_file).parent.mkdir(parents=True, exist_ok=True)
        data = {k: v for k, v in vars(summary).items()}
        Path(args.summary_file).write_text(json.dumps({**data, "elapsed_seconds": round(elapsed, 3)}, indent=2))
    if summary.status != "Completed":
        print(f"parallel run failed: {summary.message}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
