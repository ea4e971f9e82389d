"""Tiled API keys are stored encrypted (Fernet: AES-128-CBC + HMAC-SHA256), never in clear.

The key comes from ``LABELWISE_SECRET_KEY`` (one or more Fernet keys, comma-separated: the first
encrypts, every one decrypts, so a key can be rotated). Unset, the embedded default is a key file
``secret.key`` in the data dir, made on first use with mode 0600. A copy of the database alone
(a backup, a dump) then holds no usable key. See docs/decisions/0006-tiled-hosts-and-secrets.md.

Only two places touch clear keys: ``encrypt_secret`` when a source row is made, and
``decrypt_secret`` when its adapter is opened; everything between carries the ciphertext.
"""

from __future__ import annotations

import contextlib
import threading

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from backend.errors import Invalid
from backend.settings import Settings
from backend.storage.files import private_file, write_private

FERNET_PREFIX = "gAAAAA"  # every Fernet token starts so (version byte 0x80 + timestamp)
_ciphers: dict[tuple[str, str], MultiFernet] = {}
_lock = threading.Lock()


def _key_file_key(settings: Settings) -> str:
    path = settings.secret_key_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            write_private(path, Fernet.generate_key() + b"\n")
    private_file(path)  # tighten a copy restored with looser rights
    return path.read_text().strip()


def cipher(settings: Settings) -> MultiFernet:
    """The cipher for this configuration (one per key source, made once)."""
    configured = settings.secret_key.get_secret_value().strip()
    source = ("env", configured) if configured else ("file", str(settings.secret_key_file))
    with _lock:
        found = _ciphers.get(source)
        if found is not None:
            return found
        text = configured or _key_file_key(settings)
        try:
            made = MultiFernet([Fernet(part.strip().encode()) for part in text.split(",") if part.strip()])
        except (ValueError, TypeError):
            where = "LABELWISE_SECRET_KEY" if configured else str(settings.secret_key_file)
            # Never the value itself: it is the secret.
            raise Invalid(
                f"{where} is not a Fernet key (32 url-safe base64-encoded bytes; make one with "
                '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`)'
            ) from None
        _ciphers[source] = made
        return made


def encrypt_secret(settings: Settings, secret: str | None) -> str | None:
    """What a row stores for a secret typed by a user (None stays None)."""
    if not secret:
        return None
    return cipher(settings).encrypt(secret.encode()).decode()


def decrypt_secret(settings: Settings, stored: str | None) -> str | None:
    """The clear secret of a stored value; a value that does not decrypt is a configuration error."""
    if not stored:
        return None
    try:
        return cipher(settings).decrypt(stored.encode()).decode()
    except InvalidToken:
        raise Invalid(
            "a stored Tiled key cannot be decrypted: was LABELWISE_SECRET_KEY (or the data dir's "
            "secret.key) changed? Put the old key after the new one in LABELWISE_SECRET_KEY, or "
            "give the source its key again."
        ) from None
