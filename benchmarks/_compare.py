"""Shared helpers for the hand-run benchmarks in this folder: timing, percentiles, side-by-side
tables and PASS/MISS lines against targets.

Standard library only, so every benchmark can import it from any venv. Benchmarks are
measurements, not tests: they print verdicts and exit 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib.metadata
import io
import os
import platform
import pstats
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

clock = time.perf_counter


# ---- optional dependencies -------------------------------------------------------------------

def require(module: str, *, extra: str = "bench", purpose: str = "") -> None:
    """Exit with a clear message (status 2) when *module* cannot be imported."""
    try:
        __import__(module)
    except ImportError as exc:
        repo = Path(__file__).resolve().parent.parent
        why = f" {purpose}" if purpose else ""
        sys.exit(
            f"error: this benchmark needs '{module}'{why}, which this Python cannot import ({exc}).\n"
            f"  Install it with:   pip install -e '{repo}[{extra}]'\n"
            f"  (from the repository root: pip install -e '.[{extra}]'), or run the benchmark with\n"
            f"  the interpreter of the venv that has it, e.g. .venv-bench/bin/python {sys.argv[0]}"
        )


def version_of(dist: str) -> str:
    """The installed version of *dist*, else of the module of that name (e.g. mlflow-skinny
    provides ``mlflow``), else "not installed"."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        return str(getattr(__import__(dist), "__version__", "installed, version unknown"))
    except ImportError:
        return "not installed"


def print_environment(dists: Iterable[str]) -> None:
    """One line each for the machine, the interpreter and the packages being compared."""
    print(f"machine : {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"python  : {platform.python_version()} ({sys.executable})")
    print("packages: " + ", ".join(f"{d} {version_of(d)}" for d in dists))


# ---- timing ----------------------------------------------------------------------------------

@dataclass
class Timing:
    """Per-call latencies (seconds) of one measured loop, plus its wall time."""

    label: str
    samples: list[float] = field(default_factory=list)
    wall: float = 0.0

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def rate(self) -> float:
        """Calls per second over the wall time of the loop."""
        return self.n / self.wall if self.wall else float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def p95(self) -> float:
        return percentile(self.samples, 95)

    @property
    def maximum(self) -> float:
        return max(self.samples) if self.samples else float("nan")


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation): the value below which pct% of samples lie."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil without floats drifting
    return ordered[int(rank) - 1]


def time_calls(label: str, calls: Iterable[Callable[[], Any]], *, progress_every: int = 0) -> Timing:
    """Run each zero-argument callable once, timing each call and the loop as a whole."""
    timing = Timing(label)
    start = clock()
    for i, call in enumerate(calls, 1):
        t0 = clock()
        call()
        timing.samples.append(clock() - t0)
        if progress_every and i % progress_every == 0:
            elapsed = clock() - start
            print(f"    {label}: {i} done, {elapsed:.1f} s, {i / elapsed:.0f}/s", file=sys.stderr, flush=True)
    timing.wall = clock() - start
    return timing


def repeat(label: str, fn: Callable[[], Any], times: int, *, warmup: int = 0) -> Timing:
    """Call *fn* ``warmup`` times untimed, then ``times`` times timed."""
    for _ in range(warmup):
        fn()
    return time_calls(label, (fn for _ in range(times)))


# ---- temp dirs and profiles --------------------------------------------------------------------

@contextlib.contextmanager
def fresh_dir(prefix: str, *, keep: bool = False) -> Iterator[Path]:
    """A new empty temp folder, removed afterwards unless *keep*."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if keep:
            print(f"    (kept {path})", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


class Profiles:
    """Optional cProfile of named phases; ``report()`` prints the top functions of each."""

    def __init__(self, enabled: bool, top: int = 20) -> None:
        self.enabled, self.top = enabled, top
        self._stats: dict[str, cProfile.Profile] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        # Entering a phase again adds to its profile (e.g. once per request a server handles).
        prof = self._stats.setdefault(name, cProfile.Profile())
        prof.enable()
        try:
            yield
        finally:
            prof.disable()

    def report(self) -> None:
        for name, prof in self._stats.items():
            for key in ("tottime", "cumulative"):
                out = io.StringIO()
                stats = pstats.Stats(prof, stream=out).strip_dirs().sort_stats(key)
                stats.print_stats(self.top)
                body = out.getvalue().split("\n", 1)[-1].strip()
                print(f"\n--- profile: {name}, top {self.top} by {key} ---\n{body}")


# ---- formatting --------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def per_s(rate: float) -> str:
    return f"{rate:,.0f}/s"


def secs(seconds: float) -> str:
    return f"{seconds:.3f} s"


def ratio(ours: float, theirs: float) -> str:
    """``ours / theirs`` as ``1.23x``; blank when either side is missing."""
    if not ours or not theirs or ours != ours or theirs != theirs:
        return "-"
    return f"{ours / theirs:.2f}x"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain left/right aligned text table (first column left, the rest right)."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def verdict(met: bool, what: str, detail: str) -> str:
    return f"{'PASS' if met else 'MISS'}  {what}: {detail}"


def section(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def base_parser(description: str, *, default_n: int, quick_n: int) -> argparse.ArgumentParser:
    """The options every benchmark shares: --n, --quick, --keep, --profile."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--n", type=int, default=None,
                        help=f"how many items to create (default {default_n:,})")
    parser.add_argument("--quick", action="store_true",
                        help=f"a fast look: --n {quick_n:,} unless --n is given")
    parser.add_argument("--keep", action="store_true", help="keep the temp folders and print where they are")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile each openaml phase and print the top functions "
                             "(the timings of that run include the profiler's overhead)")
    parser.set_defaults(_default_n=default_n, _quick_n=quick_n)
    return parser


def resolve_n(args: argparse.Namespace) -> int:
    if args.n is not None:
        return args.n
    return args._quick_n if args.quick else args._default_n


# ---- mlflow server, the peer of the tracking benchmarks ----------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """``mlflow server`` on a SQLite backend (or *backend*, a database URL), in its own process
    group, always stopped on exit (normal end, exception, Ctrl-C, SIGTERM/SIGHUP). *env* is added
    to this process's environment (e.g. MLflow's telemetry switched off)."""

    def __init__(self, python: str, folder: Path, workers: str | None, env: dict[str, str] | None = None,
                 backend: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # `python -m mlflow`, not the venv's `mlflow` script: a copied venv's scripts still name
        # the interpreter of the venv they were installed in.
        cmd = [python, "-m", "mlflow", "server", "--backend-store-uri", backend or f"sqlite:///{folder}/mlflow.db",
                "--default-artifact-root", str(folder / "artifacts"), "--host", "127.0.0.1",
                "--port", str(self.port)]
        if workers:
            cmd += ["--workers", workers]
        self.log_path = folder / "mlflow-server.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, env=dict(os.environ, **(env or {})))

    def wait_ready(self, timeout: float = 180.0) -> float:
        """Seconds until ``/health`` answers 200; RuntimeError (with the log's tail) otherwise."""
        start = clock()
        while clock() - start < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {self.proc.returncode}:\n{self._tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return clock() - start
            except OSError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"mlflow server not ready after {timeout:.0f} s:\n{self._tail()}")

    def _tail(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """SIGTERM the server's process group (it and its workers), SIGKILL after 10 s."""
        if self.proc.poll() is None:
            for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # Workers left behind by a leader that died first share its process group id.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()
