"""A team's server: users, their roles and grants, their API tokens, and the page's sessions.

Roles (`ROLES`), each allowing what the ones after it do:

    admin   users, data sources and their settings (they alone see them), every data source,
            the whole history
    editor  queries saved or not: create, edit, remove, run; tables, items, exports, undo; on the
            data sources granted to them
    runner  saved queries on the data sources granted to them: list, read, run with parameters,
            see the results; their own history

A grant gives one user one data source, read-only or not (a read-only grant sends reads only,
like a read-only data source). An admin needs no grant. With no users at all the server is
single-user: its token is the admin. The command line works on the workspace itself (whoever can
open its database and key is its admin); its runs are recorded as "cli:<login>".

Passwords are kept as scrypt hashes (memory-hard: 16 MiB a guess). API tokens and session ids
are kept as SHA-256 digests: a copy of the database signs no one in. A session ends at sign-out,
after `SESSION_SECONDS`, or when its user is removed, reset, or given another role.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from . import store
from .errors import Conflict, Forbidden, InputError, NotFound

ROLES = ("admin", "editor", "runner")
# What each role may do: "manage" users and data sources, "edit" (queries, tables, items, ad hoc
# runs, exports, undo), "run" saved queries.
PERMISSIONS = {"admin": ("manage", "edit", "run"), "editor": ("edit", "run"), "runner": ("run",)}
NEEDED_ROLE = {"manage": "admin", "edit": "editor", "run": "runner"}
SESSION_SECONDS = 12 * 3600
MIN_PASSWORD = 8
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # 16 MiB, about 50 ms a hash
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")

# Who is acting (a server's signed-in user), for the history and the journal; unset: the command
# line or the library, recorded as "<origin>:<login>".
_acting: contextvars.ContextVar[str | None] = contextvars.ContextVar("acting", default=None)


@contextmanager
def acting_as(name: str) -> Iterator[None]:
    reset = _acting.set(name)
    try:
        yield
    finally:
        _acting.reset(reset)


def acting() -> str | None:
    return _acting.get()


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: a user, or the server's token (an admin)."""

    name: str
    role: str
    grants: Mapping[str, bool] | None = None  # data source id -> read-only; None: all (admin)
    user_id: str | None = None

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS[self.role]

    def require(self, permission: str, what: str) -> None:
        if not self.may(permission):
            raise Forbidden(
                f"{what[:1].upper()}{what[1:]} needs the {NEEDED_ROLE[permission]} role; "
                f"{self.name!r} is {'an' if self.role == 'editor' else 'a'} {self.role}."
            )

    def may_use(self, datasource_id: str) -> bool:
        return self.grants is None or datasource_id in self.grants

    def read_only_on(self, datasource_id: str) -> bool:
        return self.grants is not None and bool(self.grants.get(datasource_id))

    def can(self) -> dict[str, bool]:
        """What the page shows: each permission, allowed or not."""
        return {p: self.may(p) for p in NEEDED_ROLE}


SERVER_TOKEN = Principal("token", "admin")  # the server's own token: the single-user admin


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    derived = hashlib.scrypt(password.encode("utf-8"), salt=salt, maxmem=64 << 20, **_SCRYPT)
    params = f"{_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}"
    return f"scrypt${params}${_b64(salt)}${_b64(derived)}"


def password_matches(password: str, stored: str | None) -> bool:
    try:
        scheme, n, r, p, salt, expected = (stored or _UNUSABLE).split("$")
        derived = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=64 << 20,
        )
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(derived, base64.b64decode(expected))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# A hash no password matches: an unknown name costs a sign-in as much time as a known one.
_UNUSABLE = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AA=="


RESERVED = ("api", "token")  # the history's names of the server's token


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(
            f"Invalid user name {name!r}: 1 to 64 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit."
        )
    if name.lower() in RESERVED:
        raise InputError(f"The user name {name!r} is reserved: choose another.")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"Unknown role {role!r}: choose {', '.join(ROLES)}.")
    return role


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InputError(f"The password is too short: at least {MIN_PASSWORD} characters.")
    if "\x00" in password:
        raise InputError("Invalid password: the NUL character (U+0000) cannot be used.")
    return password


class Users:
    """The users of a workspace (`Workspace.users`)."""

    def __init__(self, workspace):
        self.workspace = workspace
        self.engine = workspace.engine

    # -- users ---------------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str | None = None) -> dict:
        """A new user; without a password, they sign in with API tokens only."""
        check_name(name)
        check_role(role)
        row = {
            "id": str(uuid.uuid4()),
            "name": name,
            "role": role,
            # "" is a password too short, not none: only None means API tokens only
            "password_hash": None if password is None else hash_password(check_password(password)),
            "created_at": _now(),
        }
        with store.transaction(self.engine, write=True) as db:
            if self._row(db, name) is not None:
                raise Conflict(f"A user named {name!r} already exists.")
            db.execute(store.users.insert().values(**row))
        return self.get(name)

    def any(self) -> bool:
        with store.transaction(self.engine) as db:
            return db.execute(sa.select(store.users.c.id).limit(1)).first() is not None

    def list(self) -> list[dict]:
        with store.transaction(self.engine) as db:
            rows = db.execute(sa.select(store.users).order_by(store.users.c.name)).all()
            return [self._describe(db, r._mapping) for r in rows]

    def get(self, name: str) -> dict:
        with store.transaction(self.engine) as db:
            return self._describe(db, self._existing(db, name))

    def remove(self, name: str) -> None:
        with store.transaction(self.engine, write=True) as db:
            user_id = self._existing(db, name)["id"]
            for table in (store.sessions, store.api_tokens, store.grants):
                db.execute(table.delete().where(table.c.user_id == user_id))
            db.execute(store.users.delete().where(store.users.c.id == user_id))

    def set_role(self, name: str, role: str) -> dict:
        """Another role; the user's sessions end (their page signs in again)."""
        check_role(role)
        with store.transaction(self.engine, write=True) as db:
            user_id = self._existing(db, name)["id"]
            db.execute(store.users.update().where(store.users.c.id == user_id).values(role=role))
            db.execute(store.sessions.delete().where(store.sessions.c.user_id == user_id))
        return self.get(name)

    def reset(self, name: str, password: str | None) -> None:
        """A new password (None: none, API tokens only); the user's sessions end."""
        hashed = None if password is None else hash_password(check_password(password))
        with store.transaction(self.engine, write=True) as db:
            user_id = self._existing(db, name)["id"]
            db.execute(
                store.users.update().where(store.users.c.id == user_id).values(password_hash=hashed)
            )
            db.execute(store.sessions.delete().where(store.sessions.c.user_id == user_id))

    # -- API tokens ----------------------------------------------------------------------------

    def new_token(self, name: str) -> tuple[str, str]:
        """(the token's id, the token): shown once, kept as a digest."""
        token = "dq_" + secrets.token_urlsafe(32)
        token_id = str(uuid.uuid4())
        with store.transaction(self.engine, write=True) as db:
            user_id = self._existing(db, name)["id"]
            db.execute(
                store.api_tokens.insert().values(
                    id=token_id, user_id=user_id, digest=digest(token), created_at=_now()
                )
            )
        return token_id, token

    def revoke_token(self, name: str, token_id: str) -> None:
        tokens = store.api_tokens
        with store.transaction(self.engine, write=True) as db:
            user_id = self._existing(db, name)["id"]
            gone = db.execute(
                tokens.delete().where(tokens.c.id == token_id, tokens.c.user_id == user_id)
            ).rowcount
        if not gone:
            raise NotFound(f"{name!r} has no token {token_id!r} (see `dynaquery user list`).")

    # -- grants --------------------------------------------------------------------------------

    def grant(self, name: str, datasource: str, *, read_only: bool = False) -> dict:
        """Let `name` use `datasource` (read-only: reads only); a grant given again is replaced."""
        return self._set_grant(name, datasource, bool(read_only))

    def revoke(self, name: str, datasource: str) -> dict:
        return self._set_grant(name, datasource, None)

    def _set_grant(self, name: str, datasource: str, read_only: bool | None) -> dict:
        """The user's grant of the data source replaced (None: taken away)."""
        ds = self.workspace.datasource(datasource)
        grants = store.grants
        with store.transaction(self.engine, write=True) as db:
            user_id = self._existing(db, name)["id"]
            db.execute(
                grants.delete().where(grants.c.user_id == user_id, grants.c.datasource_id == ds.id)
            )
            if read_only is not None:
                db.execute(
                    grants.insert().values(
                        user_id=user_id, datasource_id=ds.id, read_only=read_only
                    )
                )
        return self.get(name)

    # -- signing in ----------------------------------------------------------------------------

    def sign_in(self, name: str, password: str) -> Principal | None:
        """The user, when `password` is theirs; None otherwise (the same time either way)."""
        with store.transaction(self.engine) as db:
            row = self._row(db, name) if isinstance(name, str) and _NAME.match(name) else None
        stored = row["password_hash"] if row is not None else None
        if not password_matches(password or "", stored) or row is None:
            return None
        return self.principal(row["id"])

    def by_token(self, token: str) -> Principal | None:
        tokens = store.api_tokens
        with store.transaction(self.engine) as db:
            user_id = db.execute(
                sa.select(tokens.c.user_id).where(tokens.c.digest == digest(token))
            ).scalar()
        return self.principal(user_id) if user_id else None

    def principal(self, user_id: str) -> Principal | None:
        with store.transaction(self.engine) as db:
            row = db.execute(sa.select(store.users).where(store.users.c.id == user_id)).first()
            if row is None:
                return None
            grants = db.execute(
                sa.select(store.grants.c.datasource_id, store.grants.c.read_only).where(
                    store.grants.c.user_id == user_id
                )
            ).all()
        return Principal(
            row.name,
            row.role,
            None if row.role == "admin" else {g.datasource_id: bool(g.read_only) for g in grants},
            row.id,
        )

    def start_session(self, principal: Principal) -> tuple[str, str]:
        """(the session's cookie value, its CSRF token) for a signed-in principal."""
        session, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time()
        with store.transaction(self.engine, write=True, append_only=True) as db:
            db.execute(store.sessions.delete().where(store.sessions.c.expires_at < now))
            db.execute(
                store.sessions.insert().values(
                    digest=digest(session),
                    user_id=principal.user_id,
                    csrf=csrf,
                    expires_at=now + SESSION_SECONDS,
                )
            )
        return session, csrf

    def session(self, session: str) -> tuple[Principal, str] | None:
        """(who, the CSRF token) of a live session; None when it has ended or never was."""
        sessions = store.sessions
        with store.transaction(self.engine) as db:
            row = db.execute(
                sa.select(sessions).where(
                    sessions.c.digest == digest(session), sessions.c.expires_at > time.time()
                )
            ).first()
        if row is None:
            return None
        principal = SERVER_TOKEN if row.user_id is None else self.principal(row.user_id)
        return (principal, row.csrf) if principal is not None else None

    def end_session(self, session: str) -> None:
        sessions = store.sessions
        with store.transaction(self.engine, write=True, append_only=True) as db:
            db.execute(sessions.delete().where(sessions.c.digest == digest(session)))

    # -- rows ----------------------------------------------------------------------------------

    @staticmethod
    def _row(db: sa.Connection, name: str):
        row = db.execute(sa.select(store.users).where(store.users.c.name == name)).first()
        return row._mapping if row is not None else None

    def _existing(self, db: sa.Connection, name: str):
        row = self._row(db, name) if isinstance(name, str) else None
        if row is None:
            raise NotFound(f"No user named {name!r} (see `dynaquery user list`).")
        return row

    @staticmethod
    def _describe(db: sa.Connection, row) -> dict:
        """A user as listed: never a password hash or a token's digest."""
        tokens = db.execute(
            sa.select(store.api_tokens.c.id, store.api_tokens.c.created_at)
            .where(store.api_tokens.c.user_id == row["id"])
            .order_by(store.api_tokens.c.created_at)
        ).all()
        grants = db.execute(
            sa.select(store.datasources.c.name, store.grants.c.read_only)
            .join(store.datasources, store.datasources.c.id == store.grants.c.datasource_id)
            .where(store.grants.c.user_id == row["id"])
            .order_by(store.datasources.c.name)
        ).all()
        return {
            "name": row["name"],
            "role": row["role"],
            "password": row["password_hash"] is not None,
            "created_at": row["created_at"],
            "tokens": [{"id": t.id, "created_at": t.created_at} for t in tokens],
            "grants": [{"datasource": g.name, "read_only": bool(g.read_only)} for g in grants],
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
