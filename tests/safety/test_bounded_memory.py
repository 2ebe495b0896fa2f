"""Guarantee 7: logs, downloads and uploads are read in bounded chunks.

Before it, ``job stream`` read every unread byte of a log at once: a 1 GB log took 2.2 GB of
memory (a 300 MB log: ~960 MB). It now reads ``CHUNK`` bytes at a time, prints whole lines, and
prints a line longer than a chunk in pieces.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openaml import command
from openaml.services import job_logs

from tests.helpers import new_workspace_client, use_home, wait

LIMIT_BYTES = 100 * 1024 * 1024


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(["a", "é", "€", "😀", "\n"]), max_size=60),
       cuts=st.lists(st.integers(min_value=0, max_value=240), max_size=6),
       chunk=st.integers(min_value=4, max_value=16))
def test_streaming_prints_every_byte_once_in_bounded_reads(tmp_path_factory, text: str, cuts: list[int],
                                                           chunk: int):
    """Appended in arbitrary pieces (even inside a character), followed round by round, the log
    comes out exactly as written: whole lines while it grows, long lines in pieces that never
    split a character, and nothing is read in more than ``chunk`` bytes."""
    data = text.encode()
    path = tmp_path_factory.mktemp("log") / "std_log.txt"
    path.write_bytes(b"")
    out, offsets = io.StringIO(), {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(job_logs, "CHUNK", chunk)
        written = 0
        for cut in sorted({min(c, len(data)) for c in cuts}) + [len(data)]:
            with open(path, "ab") as fh:
                fh.write(data[written:cut])
            written = cut
            before = len(out.getvalue())
            job_logs._print_new(_FileLog(path, chunk), "log", offsets, out, final=False)
            printed = out.getvalue()[before:]
            assert "\ufffd" not in printed  # no character cut in two
            if printed and not printed.endswith("\n"):  # only a line longer than a chunk is cut
                assert len(printed.rsplit("\n", 1)[-1].encode()) >= chunk - 3
        job_logs._print_new(_FileLog(path, chunk), "log", offsets, out, final=True)
    header = "\nStreaming log\n=============\n"
    assert out.getvalue() == header + text
    assert offsets["log"] == len(data)


class _FileLog:
    """A log source (as :class:`job_logs.FolderLogs`) over one file, whose reads must be bounded."""

    def __init__(self, path: Path, chunk: int) -> None:
        self.path, self.chunk = path, chunk

    def read(self, rel: str, offset: int, size: int) -> bytes:
        assert 0 < size <= self.chunk, f"read of {size} bytes is not bounded by the chunk ({self.chunk})"
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            return fh.read(size)


def _rss_peak_of(cmd: list[str], stdout: Path) -> int:
    """Peak resident memory (bytes) of the process *cmd*, its output written to *stdout*.

    On POSIX, a small wrapper process runs *cmd* and reports its only child's ``ru_maxrss``
    (so no other child of the test process is counted); elsewhere psutil samples the process.
    """
    try:
        import resource  # noqa: F401 - POSIX only
    except ImportError:
        return _sampled_rss_peak(cmd, stdout)
    wrapper = ("import resource, subprocess, sys\n"
               "with open(sys.argv[1], 'wb') as out:\n"
               "    code = subprocess.run(sys.argv[2:], stdout=out).returncode\n"
               "usage = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
               "print(code, usage if sys.platform == 'darwin' else usage * 1024)\n")
    done = subprocess.run([sys.executable, "-c", wrapper, str(stdout), *cmd], capture_output=True, text=True,
                          check=True, timeout=120)
    code, peak = done.stdout.split()
    assert code == "0", done.stderr
    return int(peak)


def _sampled_rss_peak(cmd: list[str], stdout: Path) -> int:
    import psutil

    peak = 0
    with open(stdout, "wb") as out:
        process = psutil.Popen(cmd, stdout=out)
        while process.poll() is None:
            try:
                peak = max(peak, process.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            try:
                process.wait(timeout=0.01)
            except psutil.TimeoutExpired:
                pass
    assert process.returncode == 0
    return peak


def _write_big_log(path: Path, megabytes: int) -> tuple[int, int]:
    """Lines of 64 bytes, with one 3 MiB line (longer than a chunk) in the middle; returns
    (bytes, lines)."""
    block = b"".join(b"L%07d|" % i + b"x" * 54 + b"\n" for i in range(16384))  # 1 MiB
    long_line = b"B" * (3 * job_logs.CHUNK) + b"\n"
    with open(path, "wb") as fh:
        for i in range(megabytes):
            fh.write(block)
            if i == megabytes // 2:
                fh.write(long_line)
    return megabytes * len(block) + len(long_line), megabytes * 16384 + 1


def _same_bytes(big: Path, out: Path, offset: int, size: int) -> bool:
    with open(big, "rb") as a, open(out, "rb") as b:
        b.seek(offset)
        while size > 0:
            n = min(size, job_logs.CHUNK)
            if a.read(n) != b.read(n):
                return False
            size -= n
    return True


@pytest.mark.slow
def test_a_300_mb_log_streams_completely_in_under_100_mb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from openaml.entities import Environment

    home = use_home(tmp_path, monkeypatch, host_python=True)
    client = new_workspace_client("mem")
    job = client.jobs.create_or_update(command(command="echo hi", environment=Environment(image="python:3.11-slim")))
    assert wait(client, job.name).status == "Completed"
    client.close()
    log = (home / "workspaces" / "mem" / "datastores" / "workspaceartifactstore" / "ExperimentRun"
           / f"dcid.{job.name}" / "user_logs" / "std_log.txt")
    size, lines = _write_big_log(log, 300)

    out = tmp_path / "streamed.txt"
    cli = [sys.executable, "-c", "from openaml.cli.main import main; main()"]
    peak = _rss_peak_of([*cli, "job", "stream", "-n", job.name, "-w", "mem"], out)

    assert peak < LIMIT_BYTES, f"job stream peaked at {peak / 2**20:.0f} MiB for a {size / 2**20:.0f} MiB log"
    with open(out, "rb") as fh:
        head = fh.read(4096)
    marker = b"Streaming user_logs/std_log.txt\n" + b"=" * 31 + b"\n"
    start = head.index(marker) + len(marker)
    assert _same_bytes(log, out, start, size), "the streamed log differs from the file"
    assert out.stat().st_size > start + size
    assert lines == 300 * 16384 + 1


# -- the MLflow tracking endpoint: a client's sizes never decide how much is read at once --------
class _RecordingReader(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sizes: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.sizes.append(-1 if size is None else size)
        return super().read(size)


def test_a_huge_declared_chunk_is_read_a_bounded_piece_at_a_time():
    from openaml.tracking import server

    body = b"40000000\r\n" + b"x" * (3 * server._CHUNK)  # declares 1 GiB, sends 3 MiB, hangs up
    rfile = _RecordingReader(body)
    received = 0
    with pytest.raises(ConnectionError):
        for piece in server._body_reader(rfile, {"Transfer-Encoding": "chunked"}):
            received += len(piece)
    assert received == 3 * server._CHUNK
    assert max(rfile.sizes) <= server._CHUNK


def test_a_json_request_larger_than_the_limit_is_refused(tmp_path: Path, workspace_name: str):
    import http.client
    import json

    from openaml.store.metadata import MetadataStore
    from openaml.store.tracking import TrackingStore
    from openaml.tracking import start_tracking_server
    from openaml.tracking.context import MAX_JSON_BODY

    metadata = MetadataStore(f"sqlite:///{tmp_path / 'm.db'}")
    store = TrackingStore(metadata, workspace_name)
    with start_tracking_server(store, artifact_root_for_run=lambda run_id: tmp_path / run_id) as srv:
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
        body = b'{"run_id": "' + b"r" * (MAX_JSON_BODY + 3 * 2**20 + 5) + b'"}'
        conn.request("POST", "/api/2.0/mlflow/runs/log-metric", body=body)
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error_code"] == "INVALID_PARAMETER_VALUE"
        conn.request("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=none")  # still in step
        assert conn.getresponse().status == 404
        conn.close()
    metadata.close()
