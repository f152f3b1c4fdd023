"""Users, server-side sessions and login throttling, kept in the store every web machine shares.

The session cookie holds only a random token; the database keeps its SHA-256, so a copy of the
database opens no session. Because sessions live in the database, they end everywhere at once:
at logout, when the user is removed or changes password, after the idle limit and after the
absolute limit. Failed logins are counted there too, so their limit holds across machines.
"""

import hashlib
import math
import secrets
import time
from collections.abc import Callable
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from webui.settings import Settings
from webui.store import Store

SESSION_COOKIE = "__Host-webui_session"
USERNAME_MAX_CHARS = 64
# A session's last use is written at most this often, not on every request; the idle limit is
# therefore exact to this many seconds.
TOUCH_EVERY_SECONDS = 60
# The one user of an app with login off (development). It has a space, so no real user created
# with the CLI can share it, and no password.
LOCAL_USER = "local user"


class UserError(ValueError):
    """A user-management request that cannot be done (unknown user, bad name, ...)."""


def validate_username(username: str) -> str:
    """User names are short printable words, so they are safe in logs and in the page."""
    if not username or len(username) > USERNAME_MAX_CHARS or not username.isprintable():
        raise UserError(f"a user name is 1 to {USERNAME_MAX_CHARS} printable characters")
    if any(c.isspace() for c in username):
        raise UserError("a user name has no spaces")
    return username


def token_hash(token: str) -> str:
    """What the database keeps of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Users, sessions and failed logins on the store, with the limits of the settings."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        # argon2-cffi's defaults are argon2id with RFC 9106's low-memory parameters.
        self._hasher = hasher or PasswordHasher()
        self.clock = clock

    @cached_property
    def _dummy_hash(self) -> str:
        # Verifying against this when the user is unknown keeps timing from revealing names.
        return self._hasher.hash("not a password")

    # --- managing users (the CLI)

    def add(self, username: str, password: str) -> None:
        """Create a user; refuses an existing name so a typo cannot overwrite someone."""
        validate_username(username)
        if not password:
            raise UserError("the password must not be empty")
        if not self.store.add_user(username, self._hasher.hash(password), self.clock()):
            raise UserError(f"user {username!r} already exists")

    def set_password(self, username: str, password: str) -> None:
        """Replace a user's password; their open sessions end with the old one."""
        if not password:
            raise UserError("the password must not be empty")
        if not self.store.set_password_hash(username, self._hasher.hash(password), self.clock()):
            raise UserError(f"no user {username!r}")

    def remove(self, username: str) -> None:
        """Delete a user, their sessions and their conversations."""
        if not self.store.remove_user(username):
            raise UserError(f"no user {username!r}")

    def usernames(self) -> list[str]:
        """All user names, sorted."""
        return self.store.usernames()

    def ensure_local_user(self) -> None:
        """The user an app with login off keeps its conversations under; it cannot log in."""
        self.store.add_user(LOCAL_USER, "", self.clock())

    # --- logging in

    def check_password(self, username: str, password: str) -> bool:
        """Whether the password is right; takes the same time whether the user exists or not."""
        stored = self.store.password_hash(username)
        try:
            return self._hasher.verify(stored or self._dummy_hash, password) and bool(stored)
        except (VerificationError, InvalidHashError):
            return False

    def retry_after(self, keys: list[str]) -> int:
        """Seconds until another attempt is allowed for any of ``keys``; 0 when not throttled."""
        limit, window = self.settings.login_max_failures, self.settings.login_window_seconds
        now = self.clock()
        wait = 0.0
        for times in self.store.failure_times(keys, now - window).values():
            if len(times) >= limit:
                # Allowed again when the oldest failure that still counts leaves the window.
                wait = max(wait, times[len(times) - limit] + window - now)
        return math.ceil(wait) if wait > 0 else 0

    def record_failure(self, keys: list[str]) -> None:
        """Count a failed login against each key (the user name and the client address)."""
        self.store.record_failure(keys, self.clock())

    def clear_failures(self, key: str) -> None:
        """Forget a user's failures after they log in, so their own typos do not lock them out."""
        self.store.clear_failures(key)

    # --- sessions

    def start_session(self, username: str) -> str:
        """A new session for the user; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        expires_at = now + self.settings.session_ttl_seconds
        self.store.add_session(token_hash(token), username, now, expires_at)
        return token

    def session_user(self, token: str) -> str | None:
        """The user of a live session; None for an unknown, ended, idle or expired one."""
        key = token_hash(token)
        found = self.store.session(key)
        if found is None:
            return None
        username, last_seen_at, expires_at = found
        now = self.clock()
        if now >= expires_at or now >= last_seen_at + self.settings.session_idle_seconds:
            self.store.delete_session(key)
            return None
        if now - last_seen_at >= TOUCH_EVERY_SECONDS:
            self.store.touch_session(key, now)
        return username

    def end_session(self, token: str) -> None:
        """Log out: the session is gone for every web machine."""
        self.store.delete_session(token_hash(token))
