"""The parallel driver, run as a job runs it: a subprocess of this Python over a temp folder."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from openaml.services import parallel_driver
from openaml.services.parallel_driver import format_rows, parse_size

DRIVER = Path(parallel_driver.__file__)


def script(folder: Path, body: str, name: str = "score.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def files(folder: Path, count: int, size: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"f{i:02d}.txt").write_text(f"line {i}\n".ljust(size, "x") if size else f"line {i}\n")
    return folder


def drive(code: Path, data: Path, *args: str, out: Path | None = None,
          program_args: tuple[str, ...] = (), timeout: float = 60) -> subprocess.CompletedProcess:
    command = [sys.executable, str(DRIVER), "--entry-script", "score.py", "--input", str(data),
               "--append-row-to", str(out) if out else "", "--summary-file", "summary.json", *args]
    if program_args:
        command += ["--", *program_args]
    return subprocess.run(command, cwd=code, capture_output=True, text=True, timeout=timeout)


def summary(code: Path) -> dict:
    return json.loads((code / "summary.json").read_text())


ONE_ROW_PER_FILE = """
    import os
    def init():
        pass
    def run(mini_batch):
        return [(len(mini_batch), os.path.basename(p)) for p in mini_batch]
"""


def test_files_are_split_by_count_and_rows_appended_in_order(tmp_path: Path):
    script(tmp_path / "code", ONE_ROW_PER_FILE)
    data = files(tmp_path / "data", 6)
    (data / "sub").mkdir()
    (data / "sub" / "z.txt").write_text("deep\n")
    (tmp_path / "out").mkdir()  # a uri_folder output: the runtime creates the folder
    result = drive(tmp_path / "code", data, "--mini-batch-size", "3", out=tmp_path / "out")
    assert result.returncode == 0, result.stderr
    rows = (tmp_path / "out" / "parallel_run_step.txt").read_text().splitlines()
    assert rows == [f"3 f{i:02d}.txt" for i in range(6)] + ["1 z.txt"]
    assert "mini-batches total=3 succeeded=3 failed=0 retried=0" in result.stdout
    assert summary(tmp_path / "code")["items"] == 7


def test_files_are_split_by_total_size(tmp_path: Path):
    script(tmp_path / "code", ONE_ROW_PER_FILE)
    data = files(tmp_path / "data", 5, size=400)
    result = drive(tmp_path / "code", data, "--mini-batch-size", "1 kb", out=tmp_path / "rows.txt")
    assert result.returncode == 0, result.stderr
    sizes = [line.split()[0] for line in (tmp_path / "rows.txt").read_text().splitlines()]
    assert sizes == ["2", "2", "2", "2", "1"]


def test_two_workers_each_call_init_once(tmp_path: Path):
    marks = tmp_path / "marks"
    marks.mkdir()
    script(tmp_path / "code", f"""
        import os, time
        MARKS = {str(marks)!r}
        def init():
            open(os.path.join(MARKS, f"init-{{os.getpid()}}"), "a").write("x")
        def run(mini_batch):
            open(os.path.join(MARKS, f"run-{{os.getpid()}}-{{os.path.basename(mini_batch[0])}}"), "w").close()
            time.sleep(0.2)
            return [os.path.basename(p) for p in mini_batch]
    """)
    data = files(tmp_path / "data", 6)
    result = drive(tmp_path / "code", data, "--mini-batch-size", "1", "--max-concurrency", "2",
                   out=tmp_path / "out.txt")
    assert result.returncode == 0, result.stderr
    inits = {p.name.split("-")[1]: p.read_text() for p in marks.glob("init-*")}
    assert len(inits) == 2 and set(inits.values()) == {"x"}  # two workers, init() once in each
    run_pids = {p.name.split("-")[1] for p in marks.glob("run-*")}
    assert run_pids <= set(inits) and len(list(marks.glob("run-*"))) == 6
    assert (tmp_path / "out.txt").read_text().splitlines() == [f"f{i:02d}.txt" for i in range(6)]


def test_rows_keep_mini_batch_order_when_batches_finish_out_of_order(tmp_path: Path):
    script(tmp_path / "code", """
        import os, time
        def run(mini_batch):
            index = int(os.path.basename(mini_batch[0])[1:3])
            time.sleep(0.3 if index == 0 else 0.0)
            return [os.path.basename(p) for p in mini_batch]
    """)
    data = files(tmp_path / "data", 8)
    result = drive(tmp_path / "code", data, "--max-concurrency", "3", out=tmp_path / "out.txt")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.txt").read_text().splitlines() == [f"f{i:02d}.txt" for i in range(8)]


def test_a_failed_attempt_is_retried_and_its_rows_appear_once(tmp_path: Path):
    marker = tmp_path / "failed-once"
    script(tmp_path / "code", f"""
        import os
        def run(mini_batch):
            names = [os.path.basename(p) for p in mini_batch]
            if "f02.txt" in names and not os.path.exists({str(marker)!r}):
                open({str(marker)!r}, "w").close()
                raise RuntimeError("transient failure")
            return names
    """)
    data = files(tmp_path / "data", 4)
    result = drive(tmp_path / "code", data, "--mini-batch-size", "2", "--error-threshold", "0",
                   out=tmp_path / "out.txt")
    assert result.returncode == 0, result.stderr
    assert marker.exists() and "transient failure" in result.stderr
    assert (tmp_path / "out.txt").read_text().splitlines() == ["f00.txt", "f01.txt", "f02.txt", "f03.txt"]
    assert summary(tmp_path / "code")["retried"] == 1 and summary(tmp_path / "code")["failed"] == 0


ALWAYS_FAILS_ON_F02 = """
    import os
    def run(mini_batch):
        names = [os.path.basename(p) for p in mini_batch]
        if "f02.txt" in names:
            raise ValueError("cannot score f02")
        return names
"""


def test_a_mini_batch_that_always_fails_is_ignored_with_threshold_minus_one(tmp_path: Path):
    script(tmp_path / "code", ALWAYS_FAILS_ON_F02)
    data = files(tmp_path / "data", 4)
    result = drive(tmp_path / "code", data, "--max-retries", "1", out=tmp_path / "out.txt")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.txt").read_text().splitlines() == ["f00.txt", "f01.txt", "f03.txt"]
    assert "failed=1 retried=1" in result.stdout
    assert "failed mini-batch 2 after 2 attempt(s): ValueError: cannot score f02" in result.stdout
    report = summary(tmp_path / "code")
    assert report["status"] == "Completed" and report["items_failed"] == 1


@pytest.mark.parametrize(("args", "message"), [
    (("--error-threshold", "0"), "1 failed items exceed error_threshold 0"),
    (("--mini-batch-error-threshold", "0"), "1 failed mini-batches exceed mini_batch_error_threshold 0"),
])
def test_exceeding_a_threshold_fails_the_run(tmp_path: Path, args, message):
    script(tmp_path / "code", ALWAYS_FAILS_ON_F02)
    data = files(tmp_path / "data", 4)
    result = drive(tmp_path / "code", data, "--max-retries", "0", *args, out=tmp_path / "out.txt")
    assert result.returncode == 1
    assert message in result.stderr and "parallel run failed" in result.stderr
    assert summary(tmp_path / "code")["status"] == "Failed"


def test_predefined_error_threshold_program_argument_overrides(tmp_path: Path):
    script(tmp_path / "code", ALWAYS_FAILS_ON_F02)
    data = files(tmp_path / "data", 4)
    result = drive(tmp_path / "code", data, "--max-retries", "0", "--error-threshold", "-1",
                   program_args=("--error_threshold", "0"))
    assert result.returncode == 1 and "exceed error_threshold 0" in result.stderr


def test_fewer_rows_than_items_count_as_failed_items(tmp_path: Path):
    script(tmp_path / "code", """
        def run(mini_batch):
            return mini_batch[:1]
    """)
    data = files(tmp_path / "data", 4)
    result = drive(tmp_path / "code", data, "--mini-batch-size", "2", "--error-threshold", "1")
    assert result.returncode == 1 and "2 failed items exceed error_threshold 1" in result.stderr


def test_a_mini_batch_that_runs_too_long_is_stopped(tmp_path: Path):
    script(tmp_path / "code", """
        import os, time
        def run(mini_batch):
            if os.path.basename(mini_batch[0]) == "f01.txt":
                time.sleep(60)
            return [os.path.basename(p) for p in mini_batch]
    """)
    data = files(tmp_path / "data", 3)
    started = time.monotonic()
    result = drive(tmp_path / "code", data, "--timeout", "1", "--max-retries", "0", out=tmp_path / "out.txt")
    assert time.monotonic() - started < 30
    assert result.returncode == 0, result.stderr
    assert "timed out after 1.0 s" in result.stderr
    assert (tmp_path / "out.txt").read_text().splitlines() == ["f00.txt", "f02.txt"]


def test_init_failure_stops_the_run(tmp_path: Path):
    script(tmp_path / "code", """
        def init():
            raise RuntimeError("model file missing")
        def run(mini_batch):
            return mini_batch
    """)
    result = drive(tmp_path / "code", files(tmp_path / "data", 2))
    assert result.returncode == 1
    assert "init() failed" in result.stderr and "model file missing" in result.stderr


def test_program_arguments_reach_the_entry_script(tmp_path: Path):
    script(tmp_path / "code", """
        import sys
        def init():
            global ARGS
            ARGS = sys.argv[1:]
        def run(mini_batch):
            return [" ".join(ARGS)]
    """)
    result = drive(tmp_path / "code", files(tmp_path / "data", 1), out=tmp_path / "out.txt",
                   program_args=("--model", "m 1"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.txt").read_text() == "--model m 1\n"


def test_tabular_input_is_split_by_partition_keys_into_row_dicts(tmp_path: Path):
    table = tmp_path / "table"
    table.mkdir()
    (table / "MLTable").write_text("paths:\n  - file: ./a.csv\n  - pattern: ./more/*.csv\n"
                                   "transformations:\n  - read_delimited:\n      delimiter: ','\n")
    (table / "a.csv").write_text("region,value\neu,1\nus,2\neu,3\n")
    (table / "more").mkdir()
    (table / "more" / "b.csv").write_text("region,value\nus,4\nasia,5\n")
    script(tmp_path / "code", """
        def run(mini_batch):
            return [{"region": mini_batch[0]["region"], "total": sum(int(r["value"]) for r in mini_batch)}]
    """)
    result = drive(tmp_path / "code", table, "--input-type", "mltable", "--partition-keys", "region",
                   "--table-format", "rows", out=tmp_path / "out.txt")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.txt").read_text().splitlines() == ["eu 4", "us 6", "asia 5"]


def test_tabular_input_is_split_by_size(tmp_path: Path):
    (tmp_path / "rows.csv").write_text("id,text\n" + "".join(f"{i},{'x' * 90}\n" for i in range(10)))
    script(tmp_path / "code", """
        def run(mini_batch):
            return [(len(mini_batch), row["id"]) for row in mini_batch]
    """)
    result = drive(tmp_path / "code", tmp_path / "rows.csv", "--input-type", "mltable",
                   "--mini-batch-size", "1kb", "--table-format", "rows", out=tmp_path / "out.txt")
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "out.txt").read_text().splitlines()
    assert [line.split()[1] for line in lines] == [str(i) for i in range(10)]
    assert {line.split()[0] for line in lines} == {"10"}  # ten rows of ~94 bytes fit in 1 kb


def test_no_input_files_is_a_successful_empty_run(tmp_path: Path):
    script(tmp_path / "code", ONE_ROW_PER_FILE)
    (tmp_path / "empty").mkdir()
    (tmp_path / "out").mkdir()
    result = drive(tmp_path / "code", tmp_path / "empty", out=tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "parallel_run_step.txt").read_text() == ""


def test_parse_size_and_row_formatting():
    assert parse_size("10") == (10, False)
    assert parse_size("100 kb") == (102400, True) and parse_size("2MB") == (2 * 1024 ** 2, True)
    assert parse_size(None) == (None, False)
    with pytest.raises(ValueError):
        parse_size("10 tb")
    assert format_rows(["a", ("b", 1), {"c": 2, "d": 3}, 4]) == ["a", "b 1", "2 3", "4"]
    assert format_rows(None) == [] and format_rows("one") == ["one"]


@pytest.mark.parametrize("entry", ["- file: ../secret.csv", "- file: {secret}", "- folder: ./linked",
                                   "- pattern: ../*.csv"])
def test_mltable_paths_cannot_leave_the_input_folder(tmp_path: Path, entry: str):
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n1\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "inside.csv").write_text("a\n2\n")
    (data / "linked").symlink_to(tmp_path, target_is_directory=True)
    (data / "MLTable").write_text("paths:\n  " + entry.format(secret=outside) + "\n")
    with pytest.raises(ValueError, match="outside the input folder"):
        parallel_driver.table_files(data)


def test_mltable_paths_inside_the_folder_are_read(tmp_path: Path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "a.csv").write_text("a\n1\n")
    (data / "MLTable").write_text("paths:\n  - folder: ./sub/../sub\n")
    assert parallel_driver.table_files(data) == [data / "sub" / ".." / "sub" / "a.csv"]
