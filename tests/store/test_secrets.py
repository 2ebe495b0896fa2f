"""SecretBox: round trip, wrong key, key file permissions, no secret in messages."""

from __future__ import annotations

import stat

import pytest

from openaml.errors import AlreadyExistsError, IntegrityError, NotFoundError, SecretKeyError
from openaml.store.secrets import SecretBox, parse_keys

SECRET = {"account_key": "s3cr3t-VALUE", "sas_token": None}


def test_round_trip_and_reopen(tmp_path):
    box = SecretBox.create(tmp_path / "secret.key")
    token = box.encrypt(SECRET)
    assert b"s3cr3t" not in token
    assert SecretBox.open(tmp_path / "secret.key").decrypt(token) == SECRET


def test_key_file_is_0600_and_never_overwritten(tmp_path):
    path = tmp_path / "ws" / "secret.key"
    SecretBox.create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    original = path.read_bytes()
    with pytest.raises(AlreadyExistsError):
        SecretBox.create(path)
    assert path.read_bytes() == original
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temp file left


def test_wrong_key_raises_integrity_error_without_secrets(tmp_path):
    token = SecretBox.create(tmp_path / "a.key").encrypt(SECRET)
    other = SecretBox.create(tmp_path / "b.key")
    with pytest.raises(IntegrityError) as info:
        other.decrypt(token)
    assert "s3cr3t" not in str(info.value) and info.value.__cause__ is None
    with pytest.raises(IntegrityError):
        other.decrypt(token[:-3] + b"AAA")


def test_missing_and_malformed_keys(tmp_path):
    with pytest.raises(NotFoundError):
        SecretBox.open(tmp_path / "none.key")
    (tmp_path / "bad.key").write_text("not-a-fernet-key")
    with pytest.raises(IntegrityError) as info:
        SecretBox.open(tmp_path / "bad.key")
    assert "not-a-fernet-key" not in str(info.value)


def test_repr_shows_no_key(tmp_path):
    box = SecretBox.create(tmp_path / "k")
    assert (tmp_path / "k").read_text().strip() not in repr(box)


def test_several_keys_the_first_seals_and_any_opens(tmp_path):
    from openaml.store.secrets import new_key

    old, new = new_key(), new_key()
    sealed_old = SecretBox(old).encrypt(SECRET)
    ring = SecretBox([new, old])
    assert ring.decrypt(sealed_old) == SECRET
    resealed = ring.rotate(sealed_old)
    assert SecretBox(new).decrypt(resealed) == SECRET and not SecretBox(old).opens(resealed)
    assert ring.rotate(resealed) != resealed and SecretBox(new).opens(ring.rotate(resealed))  # again: harmless
    assert SecretBox(new).opens(ring.encrypt(SECRET)) and not SecretBox(old).opens(ring.encrypt(SECRET))
    with pytest.raises(SecretKeyError):
        SecretBox(new_key()).rotate(sealed_old)


@pytest.mark.parametrize("text", ["", "  \n", "nearly-a-key-SECRET", "A" * 42 + "==", "A" * 43 + "=,x"])
def test_malformed_keys_are_refused_without_showing_them(text):
    with pytest.raises(SecretKeyError) as info:
        parse_keys(text, origin="OPENAML_SECRET_KEY")
    assert "OPENAML_SECRET_KEY" in info.value.message
    assert "SECRET" not in info.value.message.replace("OPENAML_SECRET_KEY", "")
    if text.strip():
        assert text.strip() not in info.value.message


def test_key_files_hold_one_key_a_line(tmp_path):
    from openaml.store.secrets import KeySource, new_key

    source = KeySource(file=tmp_path / "k")
    assert source.load() is None
    first = source.create()
    assert source.create() == first  # never replaced by a second first use
    second = new_key()
    source.store([second, *first])
    assert source.load() == [second, *first]
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    assert second.decode() not in repr(KeySource(file=tmp_path / "k", value=second.decode()))
