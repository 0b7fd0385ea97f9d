"""Secrets at rest: AES-256-GCM (the `cryptography` package), one key per workspace.

The key comes from DYNAQUERY_SECRET_KEY (any text; a 256-bit key is derived from it with HKDF), or
from a key file created on first use, readable by its owner only. Each secret is sealed with a
fresh nonce and bound to where it belongs (the data source's id and the field), so a sealed value
copied to another row or field does not open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from .errors import ConfigurationError

KEY_ENV = "DYNAQUERY_SECRET_KEY"
PREFIX = "v1:"
_NONCE_BYTES = 12


class SecretBox:
    """Seals and opens secrets with one key."""

    def __init__(self, key: bytes, source: str):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)
        self.source = source  # where the key came from, for messages (never the key itself)
        self.fingerprint = hmac.new(key, b"dynaquery key check", hashlib.sha256).hexdigest()[:16]

    def seal(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, token: str, context: str) -> str:
        from cryptography.exceptions import InvalidTag

        if not token.startswith(PREFIX):
            raise ConfigurationError("A stored secret is in an unknown format.")
        raw = base64.b64decode(token[len(PREFIX):])
        try:
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise ConfigurationError(
                f"A stored secret cannot be decrypted with the key from {self.source}: the key is "
                "not the one it was saved with (or the stored value was altered). Use the original "
                f"key ({KEY_ENV} or the key file), or save the data source's secret again.") from None
        return plain.decode("utf-8")


def derive_key(text: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"dynaquery-secret-key",
                info=b"workspace secrets v1").derive(text.encode("utf-8"))


def load_box(key_file: Path) -> SecretBox:
    """The workspace's SecretBox: from DYNAQUERY_SECRET_KEY, else the key file (made if missing)."""
    text = os.environ.get(KEY_ENV)
    if text:
        return SecretBox(derive_key(text), KEY_ENV)
    return SecretBox(_read_or_create_key(key_file), str(key_file))


def _read_or_create_key(path: Path) -> bytes:
    try:
        encoded = path.read_bytes().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        encoded = base64.b64encode(os.urandom(32))
        try:
            # O_EXCL: when two processes start at once, one creates the key and both use it.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            encoded = _wait_for_key(path)
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(encoded + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
    except OSError as error:
        raise ConfigurationError(f"Cannot read the key file {path}: {error.strerror}") from None
    try:
        key = base64.b64decode(encoded, validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ConfigurationError(f"The key file {path} does not hold a key (32 bytes, base64).")
    return key


def _wait_for_key(path: Path) -> bytes:
    import time

    for _ in range(100):  # the other process is writing 45 bytes
        encoded = path.read_bytes().strip()
        if encoded:
            return encoded
        time.sleep(0.01)
    return path.read_bytes().strip()
