"""SecretBox: round trip, wrong key, key file permissions, no secret in messages."""

from __future__ import annotations

import stat

import pytest

from openaml.errors import AlreadyExistsError, IntegrityError, NotFoundError
from openaml.store.secrets import SecretBox

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
