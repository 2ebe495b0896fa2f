"""Read-only FUSE mounts of remote inputs (``ro_mount``): what the host must offer, the tree a
mount serves, and jobs on Azurite and moto reading through a real mount, which is read-only and
gone when the job ends however it ends (completed, canceled, its agent killed). Where this host
cannot mount, the tests that need a mount skip with the reason, and the fallback (a download
with a line saying why) is tested everywhere."""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from hypothesis import given, settings as hsettings, strategies as st

from openaml import Input, Output, command
from openaml.entities import Environment
from openaml.services import fuse_mounts
from openaml.services.fuse_mounts import FuseSupport, InputMounts, MountSource, mounted_under, probe_fuse
from openaml.services.fuse_server import ReadOnlyTree
from openaml.services.remote_data import RemoteListing, RemoteObject
from openaml.services.settings import Settings

from tests.datastores.conftest import make_remote
from tests.helpers import new_workspace_client, wait, wait_for_file, write

HOST_ENV = Environment(image="python:3.11-slim")
FILES = {"a.csv": b"x,y\n1,2\n", "sub/b.txt": b"hello", "sub/deeper/c.bin": bytes(range(256)) * 40}


# -- what the host must offer -------------------------------------------------------------------
def _probe(**overrides):
    given_ = dict(platform="linux", device=Path("/dev/null"), which=lambda name: f"/usr/bin/{name}", access=os.access,
                  find_library=lambda name: f"lib{name}.so.2", has_module=lambda name: True)
    given_.update(overrides)
    return probe_fuse(given_.pop("setting", "auto"), **given_)


@pytest.mark.parametrize("overrides, reason", [
    ({"setting": "off"}, "FUSE mounts are turned off (OPENAML_FUSE=off)"),
    ({"platform": "darwin", "find_library": lambda name: None},
     "macOS without macFUSE or FUSE-T (install one to mount remote inputs)"),
    ({"platform": "win32"}, "no FUSE on win32"),
    ({"device": Path("/nonexistent/fuse")}, "no /nonexistent/fuse (the fuse kernel module is not loaded"),
    ({"which": lambda name: None}, "fusermount is not installed (Debian/Ubuntu: apt-get install fuse3)"),
    ({"find_library": lambda name: None}, "libfuse is not installed (Debian/Ubuntu: apt-get install fuse3)"),
    ({"has_module": lambda name: False}, "the mfusepy package is not installed (pip install 'openaml[mount]')"),
])
def test_each_missing_piece_is_named(overrides, reason, monkeypatch):
    monkeypatch.delenv("FUSE_LIBRARY_PATH", raising=False)
    support = _probe(**overrides)
    assert not support.available and support.reason.startswith(reason)


def test_a_host_with_every_piece_can_mount_and_unmounts_with_fusermount3_first():
    support = _probe(which=lambda name: f"/usr/bin/{name}" if name in ("fusermount3", "fusermount") else None)
    assert support == FuseSupport(None, "/usr/bin/fusermount3")
    mac = _probe(platform="darwin", find_library=lambda name: "/usr/local/lib/libfuse-t.dylib")
    assert mac.available and mac.fusermount is None  # macOS unmounts with umount


def test_an_unwritable_device_is_named():
    support = _probe(access=lambda path, mode: False)  # as a user without the right (root has every right)
    assert support.reason == "no permission to open /dev/null"


def test_the_fallback_is_taken_without_starting_anything(tmp_path):
    mounts = InputMounts(Settings(home=tmp_path), "ws", tmp_path / "logs",
                         probe=lambda setting: FuseSupport(f"said for {setting}"))
    listing = RemoteListing("in", "folder", {"a": RemoteObject("c/in/a", 1, None)})
    assert mounts.mount(listing, MountSource(datastore="d"), tmp_path / "mnt", label="x") == "said for auto"
    assert not (tmp_path / "mnt").exists() and mounts.close() == []


# -- the mount table ----------------------------------------------------------------------------
def test_mount_points_are_read_from_mountinfo_escapes_and_all(tmp_path, monkeypatch):
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 0:21 / / rw - ext4 /dev/root rw\n"
        "45 22 0:40 / /runs/ws/job/inputs/raw ro,nosuid - fuse openaml:raw ro,user_id=0\n"
        "46 22 0:41 / /runs/ws/job/inputs/with\\040space ro - fuse.openaml x ro\n"
        "47 22 0:42 / /runs/ws/job2/inputs/raw ro - fuse openaml:raw ro\n"
        "48 45 0:43 / /runs/ws/job/inputs/raw/deeper ro - fuse openaml:deeper ro\n"
        "49 22 0:44 / /runs/ws/job/tmp rw - tmpfs tmpfs rw\n")
    monkeypatch.setattr(fuse_mounts, "MOUNTINFO", info)
    assert mounted_under("/runs/ws/job") == ["/runs/ws/job/inputs/raw/deeper", "/runs/ws/job/inputs/raw",
                                             "/runs/ws/job/inputs/with space"]
    assert mounted_under("/runs/ws/jo") == []  # a prefix of a name is not a parent folder
    assert fuse_mounts.is_mounted("/runs/ws/job/tmp") and not fuse_mounts.is_mounted("/runs/ws/job")


# -- the tree a mount serves ----------------------------------------------------------------------
def _tree(files: dict[str, bytes]) -> ReadOnlyTree:
    memory = MemoryFileSystem(skip_instance_cache=True)
    memory.store = {}  # this test's own files (the class shares its store otherwise)
    memory.pseudo_dirs = [""]
    memory.pipe({f"/c/in/{name}": data for name, data in files.items()})
    listing = RemoteListing("in", "folder", {name: RemoteObject(f"/c/in/{name}", len(data), f"etag:{i}", 1.5e9)
                                            for i, (name, data) in enumerate(files.items())})
    return ReadOnlyTree(listing, lambda obj: memory.open(obj.path, "rb"))


def test_the_tree_lists_reads_and_refuses_writes():
    tree = _tree(FILES)
    assert tree.readdir("/", 0) == [".", "..", "in"]
    assert tree.readdir("/in", 0) == [".", "..", "a.csv", "sub"]
    assert tree.readdir("/in/sub", 0) == [".", "..", "b.txt", "deeper"]
    attr = tree.getattr("/in/sub/deeper/c.bin")
    assert attr["st_size"] == len(FILES["sub/deeper/c.bin"]) and attr["st_mode"] & 0o777 == 0o444
    assert tree.getattr("/in/sub")["st_mode"] & 0o777 == 0o555 and attr["st_mtime"] == 1.5e9
    fh = tree.open("/in/sub/deeper/c.bin", os.O_RDONLY)
    assert tree.read("/in/sub/deeper/c.bin", 100, 5000, fh) == FILES["sub/deeper/c.bin"][5000:5100]
    assert tree.read("/in/sub/deeper/c.bin", 100, 10_200, fh) == FILES["sub/deeper/c.bin"][10_200:]
    assert tree.read("/in/sub/deeper/c.bin", 100, 20_000, fh) == b""
    tree.release("/in/sub/deeper/c.bin", fh)
    for path, flags, code in [("/in/a.csv", os.O_WRONLY, errno.EROFS), ("/in/a.csv", os.O_RDWR, errno.EROFS),
                              ("/in/missing", os.O_RDONLY, errno.ENOENT), ("/in/sub", os.O_RDONLY, errno.EISDIR)]:
        with pytest.raises(OSError) as caught:
            tree.open(path, flags)
        assert caught.value.errno == code
    with pytest.raises(OSError) as caught:
        tree.access("/in/a.csv", os.W_OK)
    assert caught.value.errno == errno.EROFS
    with pytest.raises(OSError) as caught:
        tree.getattr("/in/../etc/passwd")  # no path the listing does not hold exists
    assert caught.value.errno == errno.ENOENT


def test_a_storage_error_is_an_io_error_for_the_reader():
    listing = RemoteListing("f.txt", "file", {"f.txt": RemoteObject("/c/f.txt", 10, None)})

    def broken(obj):
        raise RuntimeError("the storage said no, sig=SECRET")

    tree = ReadOnlyTree(listing, broken)
    assert tree.readdir("/", 0) == [".", "..", "f.txt"]
    with pytest.raises(OSError) as caught:
        tree.read("/f.txt", 10, 0, tree.open("/f.txt", os.O_RDONLY))
    assert caught.value.errno == errno.EIO


_segment = st.text(alphabet="abcxyz01._-", min_size=1, max_size=6).filter(lambda s: s not in (".", ".."))


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_segment, min_size=1, max_size=4).map("/".join), min_size=1, max_size=12, unique=True))
def test_every_listed_file_is_reachable_from_the_root(names):
    if any(a.startswith(b + "/") for a in names for b in names):
        return  # a file cannot also be a folder on a disk (the listing refuses such names)
    tree = _tree({name: name.encode() for name in names})
    found = []

    def walk(path):
        for child in tree.readdir(path, 0)[2:]:
            full = f"{path.rstrip('/')}/{child}"
            if tree.getattr(full)["st_mode"] & 0o040000:
                walk(full)
            else:
                found.append(full)
    walk("/")
    assert sorted(found) == sorted(f"/in/{name}" for name in names)
    for name in names:
        fh = tree.open(f"/in/{name}", os.O_RDONLY)
        assert tree.read(f"/in/{name}", 1000, 0, fh) == name.encode()


# -- jobs reading through a real mount ------------------------------------------------------------
READER = '''
import errno, json, os, sys
from pathlib import Path

root, out = Path(sys.argv[1]), Path(sys.argv[2])
seen = {"files": {str(p.relative_to(root)): p.read_bytes().hex() for p in sorted(root.rglob("*")) if p.is_file()},
        "is_mount": os.path.ismount(root.parent)}
for name, attempt in [("create", lambda: (root / "new.txt").write_text("x")),
                      ("overwrite", lambda: (root / "a.csv").write_text("x")),
                      ("remove", lambda: (root / "a.csv").unlink()),
                      ("mkdir", lambda: (root / "d").mkdir())]:
    try:
        attempt()
        seen[name] = "allowed"
    except OSError as exc:
        seen[name] = errno.errorcode.get(exc.errno, str(exc.errno))
(out / "seen.json").write_text(json.dumps(seen))
'''


def _fuse_or_skip() -> FuseSupport:
    support = probe_fuse("auto")
    if not support.available:
        pytest.skip(f"FUSE mounts cannot work on this host: {support.reason}")
    return support


def _servers(home: Path) -> list[psutil.Process]:
    """The mount servers started for this test's home that still run."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if "openaml.services.fuse_server" in " ".join(process.info["cmdline"] or []) \
                    and process.environ().get("OPENAML_HOME") == str(home):
                found.append(process)
        except psutil.Error:
            continue
    return found


def _until(check, timeout: float = 30.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout} s")
        time.sleep(0.05)


def _logs(home: Path, name: str) -> str:
    folder = home / "workspaces" / "data" / "datastores" / "workspaceartifactstore" / "ExperimentRun" / f"dcid.{name}"
    return "".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*.txt")))


@pytest.fixture
def on_storage(request, ml_client, azurite, moto_s3):
    made = make_remote(request.param, azurite, moto_s3)
    ml_client.datastores.create_or_update(made.datastore)
    made.put_tree("in", FILES)
    return made


@pytest.mark.slow
@pytest.mark.parametrize("on_storage", ["azure_blob", "s3"], indirect=True)
def test_a_job_reads_a_remote_folder_through_a_read_only_mount(ml_client, on_storage, home, tmp_path):
    _fuse_or_skip()
    code = write(tmp_path / "src" / "read.py", READER).parent
    job = ml_client.jobs.create_or_update(command(
        code=str(code), environment=HOST_ENV, command="python read.py ${{inputs.data}} ${{outputs.out}}",
        inputs={"data": Input(type="uri_folder", path=on_storage.uri("in"), mode="ro_mount")},
        outputs={"out": Output(type="uri_folder")}))
    done = wait(ml_client, job.name)
    logs = _logs(home, job.name)
    assert done.status == "Completed", (done.error, logs)
    ml_client.jobs.download(job.name, output_name="out", download_path=tmp_path / "dl")
    seen = json.loads((tmp_path / "dl" / "named-outputs" / "out" / "seen.json").read_text())
    assert seen == {"files": {name: data.hex() for name, data in FILES.items()}, "is_mount": True,
                    "create": "EROFS", "overwrite": "EROFS", "remove": "EROFS", "mkdir": "EROFS"}
    assert "input data (ro_mount, mounted read-only with FUSE): " in logs and "3 files" in logs
    assert on_storage.listing("in") == {f"in/{name}": data for name, data in FILES.items()}  # nothing changed
    assert mounted_under(home / "runs") == [] and _servers(home) == []
    assert on_storage.secret not in logs


def _blocking_job(ml_client, storage, tmp_path: Path, marker: Path):
    """A job that says it has started (a marker file) and then waits to be stopped."""
    return ml_client.jobs.create_or_update(command(
        environment=HOST_ENV, command=f"ls ${{{{inputs.data}}}} > {marker}.tmp && mv {marker}.tmp {marker} && sleep 300",
        inputs={"data": Input(type="uri_folder", path=storage.uri("in"), mode="ro_mount")}))


@pytest.mark.slow
@pytest.mark.parametrize("on_storage", ["azure_blob"], indirect=True)
def test_a_canceled_job_leaves_no_mount_and_no_server(ml_client, on_storage, home, tmp_path):
    _fuse_or_skip()
    marker = tmp_path / "started"
    job = _blocking_job(ml_client, on_storage, tmp_path, marker)
    wait_for_file(marker, timeout=60)
    assert marker.read_text().split() == ["a.csv", "sub"]
    assert len(mounted_under(home / "runs")) == 1 and len(_servers(home)) == 1
    ml_client.jobs.begin_cancel(job.name).result()
    assert wait(ml_client, job.name).status == "Canceled"
    assert mounted_under(home / "runs") == [] and _servers(home) == []


@pytest.mark.slow
@pytest.mark.parametrize("on_storage", ["s3"], indirect=True)
def test_a_killed_agent_leaves_no_mount_and_no_server(ml_client, on_storage, home, tmp_path):
    _fuse_or_skip()
    marker = tmp_path / "started"
    job = _blocking_job(ml_client, on_storage, tmp_path, marker)
    wait_for_file(marker, timeout=60)
    server = _servers(home)[0]
    agent = ml_client._job_service().record(job.name).agent_pid
    os.kill(agent, signal.SIGKILL)  # no finally of the agent runs: the server's pipe closes all the same
    _until(lambda: not server.is_running() or server.status() == psutil.STATUS_ZOMBIE, what="the server's exit")
    _until(lambda: mounted_under(home / "runs") == [], what="the unmount")
    for process in psutil.process_iter(["cmdline"]):  # the job's own command: the reaper's to stop, later
        if str(marker) in " ".join(process.info["cmdline"] or []):
            for each in [*process.children(recursive=True), process]:
                each.kill()


@pytest.mark.slow
@pytest.mark.parametrize("on_storage", ["azure_blob"], indirect=True)
def test_a_mount_server_killed_mid_job_is_unmounted_when_the_job_ends(ml_client, on_storage, home, tmp_path):
    _fuse_or_skip()
    marker = tmp_path / "started"
    job = _blocking_job(ml_client, on_storage, tmp_path, marker)
    wait_for_file(marker, timeout=60)
    _servers(home)[0].kill()  # its mount is left dead in the kernel's table
    assert len(mounted_under(home / "runs")) == 1
    ml_client.jobs.begin_cancel(job.name).result()
    assert wait(ml_client, job.name).status == "Canceled"
    assert mounted_under(home / "runs") == []


# -- where the host cannot mount ------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("on_storage", ["s3"], indirect=True)
@pytest.mark.parametrize("how, reason", [
    ("off", "FUSE mounts are turned off (OPENAML_FUSE=off)"),
    ("broken-libfuse", "OSError: "),  # the mount itself fails: its server cannot load libfuse
])
def test_without_a_mount_the_input_is_downloaded_read_only_and_the_line_says_why(
        ml_client, on_storage, home, tmp_path, monkeypatch, how, reason):
    if how == "off":
        monkeypatch.setenv("OPENAML_FUSE", "off")
    else:
        if not sys.platform.startswith("linux"):
            pytest.skip("FUSE_LIBRARY_PATH is read by mfusepy on Linux")
        monkeypatch.setenv("FUSE_LIBRARY_PATH", str(tmp_path / "not-a-libfuse.so"))
    client = new_workspace_client("data2")  # settings are read when a client is made: this one sees the variable
    client.datastores.create_or_update(on_storage.datastore)
    code = write(tmp_path / "src" / "read.py", READER).parent
    job = client.jobs.create_or_update(command(
        code=str(code), environment=HOST_ENV, command="python read.py ${{inputs.data}} ${{outputs.out}}",
        inputs={"data": Input(type="uri_folder", path=on_storage.uri("in"), mode="ro_mount")},
        outputs={"out": Output(type="uri_folder")}))
    done = wait(client, job.name)
    folder = home / "workspaces" / "data2" / "datastores" / "workspaceartifactstore" / "ExperimentRun"
    logs = "".join(p.read_text(errors="replace") for p in sorted((folder / f"dcid.{job.name}").rglob("*.txt")))
    assert done.status == "Completed", (done.error, logs)
    line = next(line for line in logs.splitlines() if line.startswith("openaml: input data (ro_mount"))
    assert line.startswith(f"openaml: input data (ro_mount, read-only, downloaded: no FUSE mount: {reason}"), line
    assert "3 files" in line
    client.jobs.download(job.name, output_name="out", download_path=tmp_path / "dl")
    seen = json.loads((tmp_path / "dl" / "named-outputs" / "out" / "seen.json").read_text())
    assert seen["files"] == {name: data.hex() for name, data in FILES.items()} and seen["is_mount"] is False
    assert mounted_under(home / "runs") == [] and _servers(home) == []
    client.close()

