"""ArtifactStore: dedup, manifests, round trips, integrity, interrupted uploads, path safety."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import pytest

from openaml.errors import AlreadyExistsError, IntegrityError, NotFoundError, ValidationError
from openaml.store.artifacts import ArtifactStore, Manifest, ManifestEntry

MIB = 1024 * 1024


@pytest.fixture(params=["local", "memory"])
def artifacts(request, tmp_path) -> ArtifactStore:
    """The same contract on a local folder and on an fsspec (non-local) file system."""
    if request.param == "local":
        return ArtifactStore(str(tmp_path / "artifacts"))
    return ArtifactStore(f"memory://openaml-test-{uuid.uuid4().hex}")


@pytest.fixture
def local_store(tmp_path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "artifacts"))


def blob_files(root: Path) -> dict[str, int]:
    """Every blob file under root/blobs with its mtime in nanoseconds."""
    return {str(p): p.stat().st_mtime_ns for p in (root / "blobs").rglob("*") if p.is_file()}


def make_tree(base: Path) -> Path:
    (base / "model" / "sub" / "deeper").mkdir(parents=True)
    (base / "model" / "weights.bin").write_bytes(os.urandom(3 * MIB + 17))
    (base / "model" / "sub" / "config.json").write_text('{"a": 1}')
    (base / "model" / "sub" / "deeper" / "copy.json").write_text('{"a": 1}')  # same bytes: one blob
    (base / "model" / "empty.txt").write_bytes(b"")
    return base / "model"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_bytes_and_read_back(artifacts):
    entry = artifacts.put_bytes(b"hello")
    assert entry == ManifestEntry(digest=sha(b"hello"), size=5)
    assert artifacts.has(entry.digest) and artifacts.read_bytes(entry.digest) == b"hello"
    with artifacts.open(entry.digest) as f:
        assert f.read() == b"hello"
    assert not artifacts.has(sha(b"other"))
    with pytest.raises(NotFoundError):
        artifacts.read_bytes(sha(b"other"))


def test_same_file_twice_is_one_blob_and_no_new_writes(local_store, tmp_path):
    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(2 * MIB + 1))
    root = Path(local_store.root_url)
    first = local_store.put_file(src)
    before = blob_files(root)
    assert len(before) == 1
    copy = tmp_path / "copy.bin"
    copy.write_bytes(src.read_bytes())
    real_new_temp = local_store._blobs.new_temp
    opened: list[str] = []

    def spy_new_temp():
        opened.append("temp")
        return real_new_temp()

    local_store._blobs.new_temp = spy_new_temp  # white-box: known content must not even be copied
    again_digest, _ = local_store.put_path(copy)
    second = local_store.put_file(src)
    assert second == first
    assert opened == ["temp"]  # only the new file manifest was written through a temp file
    after = blob_files(root)
    assert len(after) == 2  # the one data blob plus the file manifest written by put_path
    assert {k: v for k, v in after.items() if k in before} == before  # untouched: same mtimes
    # A second identical put_path writes nothing at all, manifest included.
    local_store.put_path(copy)
    assert blob_files(root) == after and opened == ["temp"]
    assert list((root / "tmp").iterdir()) == []


def test_folder_manifest_lists_relative_posix_paths(artifacts, tmp_path):
    folder = make_tree(tmp_path)
    digest, manifest = artifacts.put_path(folder)
    assert manifest.root == "model" and manifest.kind == "folder"
    assert sorted(manifest.files) == ["empty.txt", "sub/config.json", "sub/deeper/copy.json", "weights.bin"]
    assert manifest.files["sub/config.json"] == manifest.files["sub/deeper/copy.json"]
    assert manifest.total_size == 3 * MIB + 17 + 16
    assert artifacts.get_manifest(digest) == manifest
    assert digest == sha(manifest.to_json())
    assert json.loads(manifest.to_json())["files"]["empty.txt"] == {"digest": sha(b""), "size": 0}


def test_file_manifest_has_one_entry_named_after_the_file(artifacts, tmp_path):
    f = tmp_path / "train.csv"
    f.write_text("a,b\n1,2\n")
    digest, manifest = artifacts.put_path(f)
    assert manifest == Manifest(root="train.csv", kind="file",
                                files={"train.csv": ManifestEntry(sha(f.read_bytes()), 8)})


def test_materialize_round_trip_is_byte_equal(artifacts, tmp_path):
    folder = make_tree(tmp_path / "src")
    digest, _ = artifacts.put_path(folder)
    seen: list[tuple[int, int]] = []
    out = artifacts.materialize(digest, tmp_path / "dest", progress=lambda n, t: seen.append((n, t)))
    assert out == tmp_path / "dest" / "model"
    for p in folder.rglob("*"):
        if p.is_file():
            assert (out / p.relative_to(folder)).read_bytes() == p.read_bytes()
    assert sum(n for n, _ in seen) == 3 * MIB + 17 + 16 and {t for _, t in seen} == {3 * MIB + 33}
    assert sorted(os.listdir(tmp_path / "dest")) == ["model"]  # no staging folder left behind


def test_materialize_single_file_and_refuse_to_clobber(artifacts, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("v1")
    digest, _ = artifacts.put_path(f)
    dest = tmp_path / "dest"
    assert artifacts.materialize(digest, dest).read_text() == "v1"
    with pytest.raises(AlreadyExistsError):
        artifacts.materialize(digest, dest)
    (dest / "a.txt").write_text("changed")
    assert artifacts.materialize(digest, dest, overwrite=True).read_text() == "v1"


def test_materialize_empty_folder(artifacts, tmp_path):
    (tmp_path / "empty").mkdir()
    digest, manifest = artifacts.put_path(tmp_path / "empty")
    assert manifest.files == {}
    out = artifacts.materialize(digest, tmp_path / "dest")
    assert out.is_dir() and list(out.iterdir()) == []


def test_corrupt_blob_is_detected_and_nothing_is_materialized(local_store, tmp_path):
    folder = make_tree(tmp_path / "src")
    digest, manifest = local_store.put_path(folder)
    target = manifest.files["sub/config.json"].digest
    blob = Path(local_store.root_url) / "blobs" / "sha256" / target[:2] / target
    blob.write_bytes(b'{"a": 2}')
    with pytest.raises(IntegrityError):
        local_store.materialize(digest, tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []
    with pytest.raises(IntegrityError):
        local_store.read_bytes(target)


def test_missing_blob_is_an_integrity_error(local_store, tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("x")
    digest, manifest = local_store.put_path(f)
    d = manifest.files["x.txt"].digest
    (Path(local_store.root_url) / "blobs" / "sha256" / d[:2] / d).unlink()
    with pytest.raises(IntegrityError):
        local_store.materialize(digest, tmp_path / "dest")


def test_interrupted_upload_leaves_no_manifest_and_no_partial_blob(artifacts, tmp_path):
    folder = make_tree(tmp_path / "src")
    expected_digest, _ = ArtifactStore(str(tmp_path / "reference")).put_path(folder)
    calls = []

    def explode(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 2:  # inside the 3 MiB file, after its first chunk
            raise KeyboardInterrupt("simulated interruption")

    with pytest.raises(KeyboardInterrupt):
        artifacts.put_path(folder, progress=explode)
    assert not artifacts.has(expected_digest)
    assert not artifacts.has(sha((folder / "weights.bin").read_bytes()))
    # Retrying completes and yields the same manifest.
    assert artifacts.put_path(folder)[0] == expected_digest


def test_interrupted_upload_leaves_only_temp_files_locally(local_store, tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * MIB))

    def explode(done: int, total: int) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        local_store.put_path(src, progress=explode)
    root = Path(local_store.root_url)
    assert blob_files(root) == {}
    assert list((root / "tmp").iterdir()) == []  # an exception also cleans the temp file


def test_ignore_callback_and_symlinks(artifacts, tmp_path):
    folder = tmp_path / "code"
    (folder / "pkg").mkdir(parents=True)
    (folder / "skipme").mkdir()
    (folder / "pkg" / "a.py").write_text("a")
    (folder / "skipme" / "junk").write_text("j")
    (folder / "notes.log").write_text("log")
    outside = tmp_path / "outside.txt"
    outside.write_text("linked")
    (folder / "link.txt").symlink_to(outside)
    (folder / "broken").symlink_to(tmp_path / "missing")
    (folder / "pkg" / "loop").symlink_to(folder)  # a cycle must not hang the walk
    seen: list[str] = []

    def ignore(rel: str) -> bool:
        seen.append(rel)
        return rel == "skipme/" or rel.endswith(".log")

    _, manifest = artifacts.put_path(folder, ignore=ignore)
    assert "skipme/" in seen
    # The ignored folder and file are out, the broken link is skipped, the cycle is not entered.
    assert sorted(manifest.files) == ["link.txt", "pkg/a.py"]
    assert manifest.files["link.txt"].size == len("linked")


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a\\b", ""])
def test_manifest_rejects_paths_that_escape(bad):
    with pytest.raises(ValidationError):
        Manifest(root="r", kind="folder", files={bad: ManifestEntry(sha(b""), 0)})
    data = json.dumps({"root": "r", "kind": "folder", "files": {bad: {"digest": sha(b""), "size": 0}}})
    with pytest.raises(ValidationError):
        Manifest.from_json(data)


@pytest.mark.parametrize("root", ["..", "a/b", ""])
def test_manifest_rejects_bad_roots(root):
    with pytest.raises(ValidationError):
        Manifest(root=root, kind="folder", files={})


def test_materialize_refuses_a_stored_manifest_with_dotdot(local_store, tmp_path):
    evil = json.dumps({"root": "r", "kind": "folder",
                       "files": {"../escape": {"digest": sha(b"x"), "size": 1}}}).encode()
    local_store.put_bytes(b"x")
    digest = local_store.put_bytes(evil).digest
    with pytest.raises(ValidationError):
        local_store.materialize(digest, tmp_path / "dest")
    assert not (tmp_path / "escape").exists()


def test_digests_are_validated_before_becoming_paths(local_store):
    with pytest.raises(ValidationError):
        local_store.has("../../etc/passwd")


def test_manifest_json_is_canonical():
    a, b = ManifestEntry(sha(b"a"), 1), ManifestEntry(sha(b"b"), 1)
    m = Manifest(root="r", kind="folder", files={"b": b, "a": a})
    same = Manifest(root="r", kind="folder", files={"a": a, "b": b})
    assert m.to_json() == same.to_json() and Manifest.from_json(m.to_json()) == m
    assert b" " not in m.to_json()


def test_materialize_read_only_shares_blobs_as_hard_links(local_store, tmp_path):
    folder = make_tree(tmp_path / "src")
    digest, manifest = local_store.put_path(folder)
    out = local_store.materialize(digest, tmp_path / "in", share=True, read_only=True)
    blob = Path(local_store.root_url) / "blobs" / "sha256"
    entry = manifest.files["weights.bin"]
    assert (out / "weights.bin").stat().st_ino == (blob / entry.digest[:2] / entry.digest).stat().st_ino
    assert oct((out / "weights.bin").stat().st_mode & 0o777) == "0o444"
    assert oct((out / "sub").stat().st_mode & 0o777) == "0o555"
    # Read-only folders are still removable by the store's own cleanup, and a second
    # materialise over them replaces them.
    again = local_store.materialize(digest, tmp_path / "in", share=True, read_only=True, overwrite=True)
    assert (again / "sub" / "config.json").read_text() == '{"a": 1}'


def test_put_path_moves_files_it_may_take(local_store, tmp_path):
    src = tmp_path / "out"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(1000))
    linked = src / "b.bin"
    linked.write_bytes(os.urandom(1000))
    os.link(linked, tmp_path / "elsewhere.bin")  # a second link: must be copied, not taken
    digest, manifest = local_store.put_path(src, move=True)
    assert not (src / "a.bin").exists()
    assert (tmp_path / "elsewhere.bin").exists() and linked.exists()
    assert oct((tmp_path / "elsewhere.bin").stat().st_mode & 0o777) != "0o444"
    out = local_store.materialize(digest, tmp_path / "back")
    assert sorted(p.name for p in out.iterdir()) == ["a.bin", "b.bin"]


def test_links_are_kept_inside_and_skipped_outside(local_store, tmp_path):
    src = tmp_path / "out"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f.txt").write_text("inside")
    (tmp_path / "secret.txt").write_text("outside")
    (src / "inner").symlink_to("d/f.txt")
    (src / "dirlink").symlink_to("d")
    (src / "outer").symlink_to(tmp_path / "secret.txt")
    (src / "dangling").symlink_to(tmp_path / "nope")
    (src / "loop1").symlink_to("loop2")
    (src / "loop2").symlink_to("loop1")
    (src / "d" / "up").symlink_to("..")
    skipped = []
    digest, manifest = local_store.put_path(src, links="keep", on_skip=skipped.append)
    assert manifest.links == {"inner": "d/f.txt", "dirlink": "d"}
    assert sorted(manifest.files) == ["d/f.txt"]
    assert {s.path for s in skipped} == {"outer", "dangling", "loop1", "loop2", "d/up"}
    out = local_store.materialize(digest, tmp_path / "back")
    assert os.readlink(out / "inner") == "d/f.txt" and (out / "inner").read_text() == "inside"
    assert (out / "dirlink" / "f.txt").read_text() == "inside"
    assert not (out / "outer").exists()


@pytest.mark.parametrize("target", ["../../x", "/etc/passwd", "a/../../../x", "..", ".", "sub/..", "a\\b"])
def test_manifest_links_that_leave_the_root_or_loop_are_refused(target):
    with pytest.raises(ValidationError):
        Manifest(root="r", kind="folder", files={}, links={"sub/link": target})


def test_sub_manifest_of_a_folder_and_of_a_file(local_store, tmp_path):
    folder = make_tree(tmp_path / "src")
    digest, _ = local_store.put_path(folder)
    sub_digest, sub = local_store.put_sub_manifest(digest, "sub/")
    assert sub.root == "sub" and sorted(sub.files) == ["config.json", "deeper/copy.json"]
    _, one = local_store.put_sub_manifest(digest, "sub/config.json")
    assert one.kind == "file" and one.root == "config.json"
    with pytest.raises(ValidationError):
        local_store.put_sub_manifest(digest, "missing")
    with pytest.raises(ValidationError):
        local_store.put_sub_manifest(digest, "../x")


def test_an_unchanged_file_is_not_hashed_again_and_a_changed_one_is(local_store, tmp_path, monkeypatch):
    import openaml.store.artifacts as artifacts_module
    import openaml.store.digest_cache as cache_module

    monkeypatch.setattr(cache_module, "RACY_SECONDS", 0.0)
    hashed: list[Path] = []
    real_hash = artifacts_module.hash_file
    monkeypatch.setattr(artifacts_module, "hash_file", lambda p, *rest: hashed.append(p) or real_hash(p, *rest))
    f = tmp_path / "data.bin"
    f.write_bytes(b"a" * 1000)
    first = local_store.put_file(f)
    assert local_store.put_file(f) == first and hashed == [f]  # the second time: one stat, no read
    info = f.stat()
    f.write_bytes(b"b" * 1000)  # same size ...
    os.utime(f, ns=(info.st_atime_ns, info.st_mtime_ns))  # ... and mtime forged back: ctime moved
    second = local_store.put_file(f)
    assert second.digest == sha(b"b" * 1000) and len(hashed) == 2
