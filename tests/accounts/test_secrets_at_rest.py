"""Tiled keys at rest: the key from LABELWISE_SECRET_KEY or a 0600 key file, rotation, clear errors."""

from __future__ import annotations

import stat

import pytest
from cryptography.fernet import Fernet

from backend.errors import Invalid
from backend.settings import Settings
from backend.storage.secrets_at_rest import decrypt_secret, encrypt_secret


def test_without_a_configured_key_a_private_key_file_is_made_once(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    settings.ensure_dirs()
    stored = encrypt_secret(settings, "tiled-key-1")
    assert stored and "tiled-key-1" not in stored
    key_file = settings.secret_key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = Settings(data_dir=tmp_path / "data")  # another process, the same data dir
    assert decrypt_secret(again, stored) == "tiled-key-1"
    assert encrypt_secret(settings, None) is None and decrypt_secret(settings, None) is None


def test_the_environments_key_wins_and_rotates(tmp_path):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = Settings(data_dir=tmp_path / "a", secret_key=old)
    stored = encrypt_secret(before, "tiled-key-2")
    assert not before.secret_key_file.exists()  # no key file when the environment gives one
    rotated = Settings(data_dir=tmp_path / "a", secret_key=f"{new},{old}")
    assert decrypt_secret(rotated, stored) == "tiled-key-2"
    assert (
        decrypt_secret(Settings(data_dir=tmp_path / "a", secret_key=new), encrypt_secret(rotated, "k")) == "k"
    )
    with pytest.raises(Invalid, match="cannot be decrypted"):
        decrypt_secret(Settings(data_dir=tmp_path / "a", secret_key=new), stored)
    assert old not in repr(rotated) and old not in str(rotated.model_dump())


def test_a_malformed_key_is_refused_without_being_repeated(tmp_path):
    settings = Settings(data_dir=tmp_path / "b", secret_key="not-a-fernet-key-S3cr3t")
    with pytest.raises(Invalid) as info:
        encrypt_secret(settings, "x")
    assert "LABELWISE_SECRET_KEY" in info.value.message and "S3cr3t" not in info.value.message
