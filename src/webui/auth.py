"""Users, signed session cookies and login throttling.

Sessions are not stored: the cookie carries the user name and an expiry, signed with HMAC under
the secret that every web machine shares, so HAProxy may send the next request anywhere. Users
and failed logins live in SQLite because mod_wsgi runs several processes on one machine and the
throttle must count across all of them.
"""

import base64
import hashlib
import hmac
import json
import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SESSION_COOKIE = "__Host-webui_session"
USERNAME_MAX_CHARS = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
    key TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_key_at ON login_failures (key, at);
"""


class UserError(ValueError):
    """A user-management request that cannot be done (unknown user, bad name, ...)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


def sign_session(secret: str, username: str, expires_at: int) -> str:
    """A cookie value any web machine holding ``secret`` can verify without shared state."""
    payload = _b64(json.dumps({"u": username, "exp": expires_at}, separators=(",", ":")).encode())
    return f"{payload}.{_signature(secret, payload)}"


def verify_session(secret: str, value: str, now: float) -> str | None:
    """The user name in a valid, unexpired cookie; None for anything forged, expired or garbled."""
    payload, _, signature = value.partition(".")
    if not payload or not hmac.compare_digest(signature, _signature(secret, payload)):
        return None
    try:
        data = json.loads(_unb64(payload))
        username, expires_at = data["u"], data["exp"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(username, str) or not isinstance(expires_at, int) or expires_at <= now:
        return None
    return username


def validate_username(username: str) -> str:
    """User names are short printable words, so they are safe in logs and in the page."""
    if not username or len(username) > USERNAME_MAX_CHARS or not username.isprintable():
        raise UserError(f"a user name is 1 to {USERNAME_MAX_CHARS} printable characters")
    if any(c.isspace() for c in username):
        raise UserError("a user name has no spaces")
    return username


class UserStore:
    """The SQLite users table and the failed-login log, shared by all processes on a machine."""

    def __init__(self, path: str, hasher: PasswordHasher | None = None) -> None:
        self.path = path
        # argon2-cffi's defaults are argon2id with RFC 9106's low-memory parameters.
        self._hasher = hasher or PasswordHasher()
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @cached_property
    def _dummy_hash(self) -> str:
        # Verifying against this when the user is unknown keeps timing from revealing names.
        return self._hasher.hash("not a password")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One short-lived connection per operation: safe across threads and processes.
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 10000")
            yield db
        finally:
            db.close()

    def add(self, username: str, password: str) -> None:
        """Create a user; refuses an existing name so a typo cannot overwrite someone."""
        validate_username(username)
        if not password:
            raise UserError("the password must not be empty")
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)",
                    (username, self._hasher.hash(password), int(time.time())),
                )
        except sqlite3.IntegrityError:
            raise UserError(f"user {username!r} already exists") from None

    def set_password(self, username: str, password: str) -> None:
        """Replace a user's password."""
        if not password:
            raise UserError("the password must not be empty")
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?",
                (self._hasher.hash(password), username),
            )
        if cursor.rowcount == 0:
            raise UserError(f"no user {username!r}")

    def remove(self, username: str) -> None:
        """Delete a user."""
        with self._connect() as db:
            cursor = db.execute("DELETE FROM users WHERE username = ?", (username,))
        if cursor.rowcount == 0:
            raise UserError(f"no user {username!r}")

    def usernames(self) -> list[str]:
        """All user names, sorted."""
        with self._connect() as db:
            return [row[0] for row in db.execute("SELECT username FROM users ORDER BY username")]

    def check_password(self, username: str, password: str) -> bool:
        """Whether the password is right; takes the same time whether the user exists or not."""
        with self._connect() as db:
            row = db.execute(
                "SELECT password_hash FROM users WHERE username = ?", (username,)
            ).fetchone()
        try:
            return self._hasher.verify(row[0] if row else self._dummy_hash, password) and bool(row)
        except (VerificationError, InvalidHashError):
            return False

    def retry_after(self, keys: list[str], limit: int, window: float, now: float) -> int:
        """Seconds until another attempt is allowed for any of ``keys``; 0 when not throttled."""
        wait = 0.0
        with self._connect() as db:
            db.execute("DELETE FROM login_failures WHERE at < ?", (now - window,))
            for key in keys:
                times = [
                    row[0]
                    for row in db.execute(
                        "SELECT at FROM login_failures WHERE key = ? AND at >= ? ORDER BY at",
                        (key, now - window),
                    )
                ]
                if len(times) >= limit:
                    # Allowed again when the oldest failure that still counts leaves the window.
                    wait = max(wait, times[len(times) - limit] + window - now)
        return math.ceil(wait) if wait > 0 else 0

    def record_failure(self, keys: list[str], now: float) -> None:
        """Count a failed login against each key (the user name and the client address)."""
        with self._connect() as db:
            db.executemany(
                "INSERT INTO login_failures (key, at) VALUES (?, ?)", [(k, now) for k in keys]
            )

    def clear_failures(self, key: str) -> None:
        """Forget a user's failures after they log in, so their own typos do not lock them out."""
        with self._connect() as db:
            db.execute("DELETE FROM login_failures WHERE key = ?", (key,))
