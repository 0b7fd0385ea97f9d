"""Secrets at rest: AES-256-GCM (the `cryptography` package), one key per workspace.

The key comes from DYNAQUERY_SECRET_KEY (any text, stretched with scrypt, a memory-hard KDF, and
a random salt kept in the workspace), or from a key file of 32 random bytes created on first use,
readable by its owner only. Each secret is sealed with a fresh nonce and bound to where it belongs
(the data source's id and the field), so a sealed value copied to another row or field does not
open. A fingerprint of the key (an HMAC made with it) lets a wrong key be told apart from altered
data; with scrypt in front, trying passphrases against it costs what scrypt costs.

Workspaces whose DYNAQUERY_SECRET_KEY was stretched the old way (HKDF with a fixed salt) are
moved to scrypt the first time the right key opens them: their secrets are sealed again.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
from pathlib import Path

from .errors import ConfigurationError

KEY_ENV = "DYNAQUERY_SECRET_KEY"
PREFIX = "v1:"
_NONCE_BYTES = 12
FINGERPRINT_SETTING = "key_fingerprint"
KDF_SETTING = "secret_key_kdf"  # JSON: the scrypt parameters and salt of DYNAQUERY_SECRET_KEY
# scrypt's cost: 32 MiB and about a tenth of a second per derivation (once per process).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


class SecretBox:
    """Seals and opens secrets with one key."""

    def __init__(self, key: bytes, source: str):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)
        self.source = source  # where the key came from, for messages (never the key itself)
        self.fingerprint = hmac.new(key, b"dynaquery key check", hashlib.sha256).hexdigest()[:16]
        # The key a workspace was just moved from: this process may hold values read before.
        self.previous: SecretBox | None = None

    def seal(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, token: str, context: str) -> str:
        from cryptography.exceptions import InvalidTag

        if not token.startswith(PREFIX):
            raise ConfigurationError("A stored secret is in an unknown format.")
        raw = base64.b64decode(token[len(PREFIX) :])
        try:
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except InvalidTag:
            if self.previous is not None:
                return self.previous.open(token, context)
            raise ConfigurationError(
                f"A stored secret cannot be decrypted with the key from {self.source}: the key is "
                "not the one it was saved with (or the stored value was altered). Use the original "
                f"key ({KEY_ENV} or the key file), or save the data source's secret again."
            ) from None
        return plain.decode("utf-8")


def derive_key(
    text: str, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P
) -> bytes:
    """A 256-bit key from a passphrase: scrypt, memory-hard, with the workspace's salt."""
    return _scrypt(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest(), salt, n, r, p)


@functools.lru_cache(maxsize=16)
def _scrypt(text_digest: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    # Cached by the passphrase's digest: a process opening workspaces again pays scrypt once.
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(text_digest)


def legacy_key(text: str) -> bytes:
    """The key older versions derived (HKDF, fixed salt): only to move a workspace to scrypt."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"dynaquery-secret-key",
        info=b"workspace secrets v1",
    ).derive(text.encode("utf-8"))


def load_box(key_file: Path) -> SecretBox:
    """A SecretBox from the key file (made if missing), for a workspace without
    DYNAQUERY_SECRET_KEY (with it, see open_box: the salt is in the workspace)."""
    return SecretBox(_read_or_create_key(key_file), str(key_file))


def open_box(engine, key_file: Path) -> SecretBox:
    """The workspace's SecretBox, its key checked against the workspace's fingerprint (stored on
    first use). With DYNAQUERY_SECRET_KEY, the scrypt salt is made on first use, and a workspace
    from the HKDF days is moved to scrypt."""
    from . import store

    text = os.environ.get(KEY_ENV)
    with store.transaction(engine) as db:
        known, kdf = _read_key_settings(db)
    if not text:
        box = load_box(key_file)
        if known is None:
            known = _keep_first_fingerprint(engine, box.fingerprint)
        return _checked(box, known, key_file)
    if kdf is None:  # a new workspace, or one from the HKDF days: take the lock, look again
        with store.transaction(engine, write=True) as db:
            known, kdf = _read_key_settings(db)
            if kdf is None:
                return _start_scrypt(db, text, known, key_file)
    return _checked(_scrypt_box(text, kdf), known, key_file)


def _read_key_settings(db) -> tuple[str | None, str | None]:
    """The workspace's key fingerprint and its KDF_SETTING, each None if not stored yet."""
    import sqlalchemy as sa

    from . import store

    rows = dict(
        db.execute(
            sa.select(store.settings.c.key, store.settings.c.value).where(
                store.settings.c.key.in_([FINGERPRINT_SETTING, KDF_SETTING])
            )
        ).all()
    )
    return rows.get(FINGERPRINT_SETTING), rows.get(KDF_SETTING)


def _put_setting(db, key: str, value: str) -> None:
    from . import store

    db.execute(store.settings.delete().where(store.settings.c.key == key))
    db.execute(store.settings.insert().values(key=key, value=value))


def _keep_first_fingerprint(engine, fingerprint: str) -> str:
    """The stored fingerprint; this one if none is (under the lock: another process may have
    stored its own meanwhile, and that one stands)."""
    from . import store

    with store.transaction(engine, write=True) as db:
        known, _ = _read_key_settings(db)
        if known is None:
            _put_setting(db, FINGERPRINT_SETTING, fingerprint)
            known = fingerprint
    return known


def _start_scrypt(db, text: str, known: str | None, key_file: Path) -> SecretBox:
    """DYNAQUERY_SECRET_KEY's first scrypt salt, stored with its fingerprint; the secrets of a
    workspace from the HKDF days (`known` is its old key's fingerprint) are sealed again."""
    salt = os.urandom(16)
    kdf = json.dumps(
        {
            "kdf": "scrypt",
            "n": SCRYPT_N,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
            "salt": base64.b64encode(salt).decode("ascii"),
        }
    )
    box = SecretBox(derive_key(text, salt), KEY_ENV)
    if known is not None:
        old = SecretBox(legacy_key(text), KEY_ENV)
        _checked(old, known, key_file)
        _reseal(db, old, box)
        box.previous = old
    _put_setting(db, KDF_SETTING, kdf)
    _put_setting(db, FINGERPRINT_SETTING, box.fingerprint)
    return box


def _scrypt_box(text: str, kdf: str) -> SecretBox:
    """The box of DYNAQUERY_SECRET_KEY stretched with the stored scrypt parameters and salt."""
    params = json.loads(kdf)
    return SecretBox(
        derive_key(text, base64.b64decode(params["salt"]), params["n"], params["r"], params["p"]),
        KEY_ENV,
    )


def _checked(box: SecretBox, known: str | None, key_file: Path) -> SecretBox:
    if known is not None and not hmac.compare_digest(known, box.fingerprint):
        raise ConfigurationError(
            f"The secrets key from {box.source} is not the key this workspace's secrets were "
            f"saved with. Set {KEY_ENV} to the original key (or restore the key file "
            f"{key_file})."
        )
    return box


def _reseal(db, old: SecretBox, new: SecretBox) -> None:
    """Every stored secret, opened with the old key and sealed with the new one (same context
    as the workspace uses: "<data source id>/<field>")."""
    import sqlalchemy as sa

    from . import store

    table = store.datasources
    for ds_id, sealed in db.execute(sa.select(table.c.id, table.c.secrets)).all():
        secrets = {
            name: new.seal(old.open(value, f"{ds_id}/{name}"), f"{ds_id}/{name}")
            for name, value in json.loads(sealed).items()
        }
        db.execute(table.update().where(table.c.id == ds_id).values(secrets=json.dumps(secrets)))


def _read_or_create_key(path: Path) -> bytes:
    try:
        encoded = path.read_bytes().strip() or _wait_for_key(path)  # empty: being written
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
