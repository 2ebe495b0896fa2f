"""The warm job pool's rules without a running pool: framing, limits and the checks every
request passes before the pool acts on it (its trust boundary); what a forked child resets;
when a pool knows its code is stale."""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from openaml.backends.local.pool_client import current_state, current_umask, pool_enabled, pool_supported
from openaml.backends.local.pool_wire import (
    MAX_MESSAGE, LaunchRequest, PoolError, Request, RequestKind, SocketAddress, make_private_dir, parse_reply,
    parse_request, receive_message, request_message, send_message,
)
from openaml.errors import ValidationError
from openaml.names import JOB, WORKSPACE
from openaml.services.settings import Settings

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the pool runs on Linux only")


def _launch(settings: Settings, workspace: str = "jobs", job: str = "job_1") -> dict:
    """A launch request as the pool receives it (through JSON)."""
    request = Request(RequestKind.LAUNCH, LaunchRequest(workspace, job, current_state(settings)))
    return json.loads(json.dumps(request_message(request)))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def test_a_launch_request_survives_the_wire_unchanged(settings: Settings):
    message = _launch(settings)
    parsed = parse_request(message)
    assert parsed.kind is RequestKind.LAUNCH
    assert parsed.launch == LaunchRequest("jobs", "job_1", current_state(settings))
    assert parsed.launch.state.env["OPENAML_HOME"] == str(settings.home)


@pytest.mark.parametrize("field, value", [
    ("job", "../../etc"), ("job", "/abs"), ("job", "a/b"), ("job", "bad\nname"), ("job", "x\x00y"),
    ("job", "j" * 256), ("job", ""), ("job", 7), ("job", None),
    ("workspace", ".."), ("workspace", "w/../x"), ("workspace", "w" * 40), ("workspace", ["jobs"]),
])
def test_hostile_names_are_refused_naming_the_field(settings: Settings, field: str, value):
    message = _launch(settings)
    message["launch"][field] = value
    with pytest.raises(ValidationError, match=f"field 'launch.{field}'"):
        parse_request(message)


@pytest.mark.parametrize("key, value, named", [
    ("env", {"A\x00B": "x"}, "state.env"), ("env", {"A=B": "x"}, "state.env"), ("env", {"A": "x\x00"}, "state.env"),
    ("env", {"A": 1}, "state.env"), ("env", {f"V{i}": "x" for i in range(5000)}, "state.env"),
    ("env", [], "state.env"),
    ("cwd", "relative/folder", "state.cwd"), ("cwd", "/a\x00b", "state.cwd"), ("cwd", "/" + "a" * 5000, "state.cwd"),
    ("umask", 0o1000, "state.umask"), ("umask", -1, "state.umask"), ("umask", "022", "state.umask"),
    ("umask", True, "state.umask"), ("nice", 40, "state.nice"),
    ("rlimits", {"RLIMIT_BOGUS": [1, 1]}, "state.rlimits"), ("rlimits", {"RLIMIT_NOFILE": [1]}, "state.rlimits"),
    ("rlimits", {"RLIMIT_NOFILE": [1, 2**64]}, "state.rlimits"),
    ("affinity", [-1], "state.affinity"), ("affinity", list(range(5000)), "state.affinity"),
    ("ignored_signals", [0], "state.ignored_signals"), ("blocked_signals", ["TERM"], "state.blocked_signals"),
    ("executable", "python", "state.executable"), ("package", None, "state.package"),
])
def test_a_malformed_process_state_is_refused_naming_the_field(settings: Settings, key: str, value, named: str):
    message = _launch(settings)
    message["launch"]["state"][key] = value
    with pytest.raises(ValidationError, match=f"field '{named}"):
        parse_request(message)


def test_unknown_kinds_and_shapes_are_refused():
    for message in ([], "launch", {"kind": "exec"}, {"kind": "launch"}, {"kind": "launch", "launch": []}):
        with pytest.raises(ValidationError):
            parse_request(message)
    assert parse_request({"kind": "status"}).kind is RequestKind.STATUS
    assert parse_request({"kind": "stop"}).kind is RequestKind.STOP


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                           max_leaves=20)


@given(st.dictionaries(st.sampled_from(["kind", "launch", "x"]), json_values, max_size=3)
       | st.builds(lambda launch: {"kind": "launch", "launch": launch},
                   st.dictionaries(st.sampled_from(["workspace", "job", "state"]), json_values, max_size=3)))
@hsettings(max_examples=300, deadline=None)
def test_any_json_is_a_checked_request_or_a_validation_error(message):
    try:
        request = parse_request(message)
    except ValidationError:
        return
    if request.launch is not None:
        assert WORKSPACE.accepts(request.launch.workspace) and JOB.accepts(request.launch.job)


@given(workspace=st.from_regex(WORKSPACE.pattern, fullmatch=True), job=st.from_regex(JOB.pattern, fullmatch=True),
       env=st.dictionaries(st.text(st.characters(blacklist_characters="=\x00"), min_size=1, max_size=20),
                           st.text(st.characters(blacklist_characters="\x00"), max_size=40), max_size=8))
@hsettings(max_examples=100, deadline=None)
def test_every_valid_name_and_environment_round_trips(workspace: str, job: str, env: dict):
    settings = Settings(home=Path("/tmp/openaml-home"))
    message = _launch(settings, workspace, job)
    message["launch"]["state"]["env"] = env
    parsed = parse_request(message)
    assert (parsed.launch.workspace, parsed.launch.job, parsed.launch.state.env) == (workspace, job, env)


def test_frames_over_the_limit_are_refused_both_ways():
    left, right = socket.socketpair()
    with left, right:
        left.sendall(struct.pack(">I", MAX_MESSAGE + 1))
        with pytest.raises(PoolError, match="over the pool's limit"):
            receive_message(right)
        with pytest.raises(PoolError, match="over the pool's limit"):
            send_message(left, {"env": "x" * MAX_MESSAGE})
        left.sendall(struct.pack(">I", 5) + b"{nope")
        with pytest.raises(PoolError, match="not JSON"):
            receive_message(right)
        left.sendall(struct.pack(">I", 10) + b"{}")
        left.shutdown(socket.SHUT_WR)
        with pytest.raises(PoolError, match="closed before"):
            receive_message(right)


def test_malformed_replies_are_pool_errors():
    for reply in (None, [], {}, {"ok": True, "pid": -4}, {"ok": True, "pid": "12"}, {"ok": True, "status": {"x": 1}}):
        with pytest.raises(PoolError):
            parse_reply(reply)
    assert parse_reply({"ok": True, "pid": 42}).pid == 42


@linux_only
def test_a_socket_path_longer_than_sun_path_is_reached_through_its_folder(tmp_path: Path):
    folder = tmp_path / ("deep" * 30)
    make_private_dir(folder)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    path = folder / "pool.sock"
    assert len(str(path)) > 107
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with server, SocketAddress(path) as address:
        server.bind(address)
        server.listen(1)
        assert path.exists()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client, SocketAddress(path) as again:
            client.connect(again)
            conn, _ = server.accept()
            with conn:
                send_message(client, {"kind": "status"})
                assert receive_message(conn) == {"kind": "status"}


def test_the_pool_is_off_where_asked_and_off_linux(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    assert not pool_enabled(Settings.from_env({"OPENAML_POOL": "off"}, home=tmp_path))
    monkeypatch.setattr(sys, "platform", "darwin")
    assert "Linux only" in pool_supported()
    assert not pool_enabled(Settings.from_env({}, home=tmp_path))
    with pytest.raises(ValidationError, match="OPENAML_POOL"):
        Settings.from_env({"OPENAML_POOL": "sometimes"}, home=tmp_path)
    with pytest.raises(ValidationError, match="OPENAML_POOL_IDLE_SECONDS"):
        Settings.from_env({"OPENAML_POOL_IDLE_SECONDS": "-3"}, home=tmp_path)
    assert Settings.from_env({"OPENAML_POOL_IDLE_SECONDS": "7"}, home=tmp_path).pool_idle_seconds == 7.0


@linux_only
def test_the_umask_is_read_without_changing_it():
    old = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        assert current_umask() == 0o027
    finally:
        os.umask(old)


@linux_only
def test_forked_children_draw_their_own_random_numbers_and_temp_folder(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    import random
    import tempfile

    from openaml.backends.local.pool_child import forget_the_pool

    random.seed(1234)
    monkeypatch.setattr(tempfile, "tempdir", "/the/pool/launchers/tmp")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setenv("TZ", "IST-5:30")  # a launcher's (POSIX form, no tz database needed), read again
    seen = []
    for _ in range(2):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # as the pool's child does before it runs the agent; reports through the pipe
            try:
                forget_the_pool()
                os.write(write, json.dumps([random.getrandbits(64), tempfile.gettempdir(), time.timezone]).encode())
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read) as fh:
            seen.append(json.loads(fh.read()))
        os.waitpid(pid, 0)
    (first, folder_1, zone_1), (second, folder_2, zone_2) = seen
    assert first != second and first != random.getrandbits(64)
    assert folder_1 == folder_2 == str(tmp_path)
    assert zone_1 == zone_2 == -19800 and time.timezone == 0
    monkeypatch.delenv("TZ")
    time.tzset()


def test_a_pool_notices_that_its_code_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from openaml.backends.local.pool import _sources

    package = tmp_path / "pkg_for_pool_test"
    package.mkdir()
    module = package / "__init__.py"
    module.write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import pkg_for_pool_test  # noqa: F401 - loaded so that its file is one of this process's

    try:
        before = _sources(str(package))
        assert list(before) == [str(module)]
        assert _sources(str(package)) == before
        os.utime(module, ns=(1, before[str(module)] + 10**9))
        assert _sources(str(package)) != before
    finally:
        sys.modules.pop("pkg_for_pool_test", None)
