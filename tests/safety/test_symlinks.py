"""Guarantee 6: symbolic links in outputs and code snapshots.

A link inside the folder stays a link; one that points outside, dangles or loops is skipped
with one warning line in the job's log, and never fails a job whose command succeeded (on main
a dangling link in an output made a successful job Failed with a raw ``shutil.Error``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openaml import Output, command
from openaml.errors import ValidationError
from openaml.store.manifest import Manifest, check_link

from tests.jobs.conftest import HOST_ENV, std_log, wait

LINKS = (
    "mkdir -p {o}/d && echo inside > {o}/d/f.txt && ln -s d/f.txt {o}/inner && ln -s d {o}/dirlink"
    " && ln -s {secret} {o}/outer && ln -s /no/such/file {o}/dangling"
    " && ln -s loop2 {o}/loop1 && ln -s loop1 {o}/loop2 && ln -s .. {o}/d/up"
)


@pytest.mark.slow
def test_links_in_an_output(ml_client, home: Path, tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy me")
    job = command(command=LINKS.format(o="${{outputs.out}}", secret=secret),
                  outputs={"out": Output(type="uri_folder")}, environment=HOST_ENV)
    done = wait(ml_client, ml_client.jobs.create_or_update(job).name)
    assert done.status == "Completed", done.error
    log = std_log(home, done.name)
    for name in ("outer", "dangling", "loop1", "loop2", "d/up"):
        assert sum(f"skipped {name}:" in line for line in log.splitlines()) == 1, log
    ml_client.jobs.download(done.name, download_path=tmp_path / "dl", output_name="out")
    out = tmp_path / "dl" / "named-outputs" / "out"
    assert os.readlink(out / "inner") == "d/f.txt" and (out / "inner").read_text() == "inside\n"
    assert (out / "dirlink").is_symlink() and (out / "dirlink" / "f.txt").read_text() == "inside\n"
    assert not (out / "outer").exists() and not (out / "dangling").is_symlink()
    assert "do not copy me" not in "".join(p.read_text() for p in out.rglob("*") if p.is_file())


@pytest.mark.slow
def test_a_dangling_link_in_dot_outputs_does_not_fail_the_job(ml_client, home: Path):
    job = command(command="mkdir -p outputs && echo ok > outputs/a.txt && ln -s /nope outputs/broken"
                          " && ln -s self outputs/self", environment=HOST_ENV)
    done = wait(ml_client, ml_client.jobs.create_or_update(job).name)
    assert done.status == "Completed", done.error
    folder = home / "workspaces" / "jobs" / "datastores" / "workspaceartifactstore" / "ExperimentRun" / f"dcid.{done.name}"
    assert (folder / "outputs" / "a.txt").read_text() == "ok\n"
    assert not (folder / "outputs" / "broken").is_symlink()
    assert "./outputs: skipped broken:" in std_log(home, done.name)


@pytest.mark.slow
def test_a_code_snapshot_keeps_inner_links_and_never_follows_outer_ones(ml_client, home: Path, tmp_path: Path):
    code = tmp_path / "src"
    (code / "pkg").mkdir(parents=True)
    (code / "pkg" / "real.py").write_text("VALUE = 1\n")
    (code / "alias.py").symlink_to("pkg/real.py")
    (tmp_path / "private.txt").write_text("private")
    (code / "leak.txt").symlink_to(tmp_path / "private.txt")
    (code / "gone.txt").symlink_to(tmp_path / "missing.txt")
    job = command(code=str(code), command="readlink alias.py; cat alias.py; echo LS: $(ls | tr '\\n' ' ')",
                  environment=HOST_ENV)
    submitted = ml_client.jobs.create_or_update(job)
    warnings = ml_client.jobs.last_warnings
    assert any("skipped leak.txt" in w for w in warnings) and any("skipped gone.txt" in w for w in warnings)
    done = wait(ml_client, submitted.name)
    assert done.status == "Completed", done.error
    log = std_log(home, done.name)
    assert "pkg/real.py" in log and "VALUE = 1" in log
    listing = next(line for line in log.splitlines() if line.startswith("LS:"))
    assert listing.split() == ["LS:", "alias.py", "logs", "outputs", "pkg"]  # ./logs, ./outputs: Azure's
    assert "private" not in log


segment = st.sampled_from(["a", "b", "..", ".", "c"])


@settings(max_examples=300, deadline=None)
@given(link=st.lists(segment, min_size=1, max_size=4), target=st.lists(segment, min_size=1, max_size=5))
def test_an_accepted_link_always_resolves_inside_its_root(tmp_path_factory, link, target):
    """Whatever link a manifest (from any client) names, materialising it never points out."""
    link_path, target_path = "/".join(p for p in link if p not in ("..", ".")) or "x", "/".join(target)
    try:
        check_link(link_path, target_path)
        Manifest(root="r", kind="folder", files={}, links={link_path: target_path})
    except ValidationError:
        return
    root = tmp_path_factory.mktemp("links") / "r"
    where = root / link_path
    where.parent.mkdir(parents=True, exist_ok=True)
    resolved = os.path.normpath(os.path.join(where.parent, target_path))
    assert resolved.startswith(str(root) + os.sep)
    assert not str(where).startswith(resolved + os.sep) and resolved != str(root)
