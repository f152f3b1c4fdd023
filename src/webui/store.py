"""Everything the app keeps: users, sessions, failed logins and conversations, in one database.

PostgreSQL when several web machines serve the app, since all of them must see one set of users,
sessions and conversations; an SQLite file (or memory) for development on one machine. Both run
the same SQL: only placeholders, how a table is found and how migrations are serialized differ.

Every failure to reach the database becomes :class:`DatabaseUnavailable`, which the app answers
with 503, so "the database is restarting" reads as such instead of as a crash.
"""

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import psycopg
import psycopg_pool
from psycopg.conninfo import conninfo_to_dict

# The schema, one migration per entry, each a list of statements run in one transaction with the
# row that records it. Applied migrations are never edited: a change is a new entry.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE schema_version (
            version INTEGER PRIMARY KEY,
            applied_at DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE users (
            username TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            password_changed_at DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
            created_at DOUBLE PRECISION NOT NULL,
            last_seen_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX sessions_username ON sessions (username)",
        "CREATE INDEX sessions_expires_at ON sessions (expires_at)",
        """CREATE TABLE login_failures (
            key TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX login_failures_key_at ON login_failures (key, at)",
        "CREATE INDEX login_failures_at ON login_failures (at)",
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
            title TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX conversations_username_updated_at ON conversations (username, updated_at)",
        """CREATE TABLE turns (
            id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            question TEXT NOT NULL,
            answer TEXT NOT NULL,
            model TEXT NOT NULL,
            mode TEXT NOT NULL CHECK (mode IN ('stream', 'complete')),
            status TEXT NOT NULL CHECK (status IN ('done', 'stopped', 'failed')),
            error TEXT,
            node TEXT NOT NULL,
            llm TEXT NOT NULL,
            asked_at DOUBLE PRECISION NOT NULL,
            timings TEXT NOT NULL
        )""",
        "CREATE INDEX turns_conversation_id_asked_at ON turns (conversation_id, asked_at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# Connections per process. mod_wsgi runs a few processes per web machine, each with many threads
# that hold a connection for one short transaction at a time; 10 per process keeps several web
# machines well under PostgreSQL's default of 100 connections.
POOL_SIZE = 10
# How long a request waits for a connection before it is told the database is unavailable: long
# enough to ride out a quick restart, short enough that the page says so promptly.
POOL_WAIT_SECONDS = 3.0
CONNECT_TIMEOUT_SECONDS = 5
# pg_advisory_xact_lock key that serializes migrations: the bytes of "webuimig".
MIGRATION_LOCK = int.from_bytes(b"webuimig", "big")


class DatabaseUnavailable(Exception):
    """The database cannot be used right now (down, restarting, unreachable, locked)."""


class SchemaMismatch(DatabaseUnavailable):
    """The database's schema is not the one this app knows; the message says what to do."""


def schema_mismatch(found: int) -> SchemaMismatch:
    """The error for a database at schema version ``found`` other than this app's."""
    if found > SCHEMA_VERSION:
        return SchemaMismatch(
            f"the database schema is at version {found}, newer than this app ({SCHEMA_VERSION}); "
            "upgrade the app"
        )
    return SchemaMismatch(
        f"the database schema is at version {found}, older than this app ({SCHEMA_VERSION}); "
        "run python -m webui migrate"
    )


@dataclass(frozen=True)
class Turn:
    """One question and its answer as it ended, as a row of ``turns``."""

    id: str
    conversation_id: str
    question: str
    answer: str
    model: str
    mode: str  # "stream" or "complete"
    status: str  # "done", "stopped" or "failed"
    error: str | None
    node: str
    llm: str
    asked_at: float
    timings: dict[str, Any]


class Transaction(Protocol):
    """What a dialect hands the store inside a transaction."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement written with ``?`` placeholders; returns a DB-API cursor."""


class SQLite:
    """An SQLite file (or memory): one connection per process, one transaction at a time.

    SQLite takes one writer at a time anyway; serializing here, and taking the write lock at the
    start of each transaction (BEGIN IMMEDIATE), means no transaction fails half-way for a lock.
    """

    embedded = True
    TABLE_EXISTS = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                path, timeout=10, isolation_level=None, check_same_thread=False
            )
            # Off by default in SQLite; the schema relies on its cascades.
            self._db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise DatabaseUnavailable(f"cannot open the SQLite database {path}: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.rollback()
                    raise
                self._db.commit()
            except sqlite3.OperationalError as exc:
                raise DatabaseUnavailable(f"the SQLite database {self.path}: {exc}") from exc

    def lock_for_migration(self, tx: Transaction) -> None:
        """BEGIN IMMEDIATE already keeps every other writer out."""

    def close(self) -> None:
        self._db.close()


class _Translated:
    """A psycopg connection that takes the store's ``?`` placeholders."""

    def __init__(self, connection: psycopg.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        # No statement of the store has a literal "?" or "%", so this is exact.
        return self._connection.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]


class PostgreSQL:
    """A PostgreSQL database through a small connection pool per process.

    Each connection is checked as it leaves the pool, so connections broken by a server restart
    are replaced instead of failing a request, and the pool recovers by itself.
    """

    embedded = False
    TABLE_EXISTS = (
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?"
    )

    def __init__(self, url: str, password: str) -> None:
        options: dict[str, Any] = {}
        if password:
            options["password"] = password
        if "connect_timeout" not in conninfo_to_dict(url):
            options["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        self._pool = psycopg_pool.ConnectionPool(
            url,
            kwargs=options,
            # No connection until one is needed: a process that never uses the database (the
            # health-check daemon) holds none.
            min_size=0,
            max_size=POOL_SIZE,
            timeout=POOL_WAIT_SECONDS,
            # A failed connection is retried only while a request may still be waiting for it;
            # the next request then starts afresh. The default backs off for five minutes, so a
            # pool could come back up to a minute after the server did.
            reconnect_timeout=POOL_WAIT_SECONDS,
            check=psycopg_pool.ConnectionPool.check_connection,
            name="webui",
            open=True,
        )

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        try:
            with self._pool.connection() as connection:
                yield _Translated(connection)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            # One line of libpq's message: it names host and port, never the password.
            lines = str(exc).strip().splitlines()
            detail = lines[0] if lines else type(exc).__name__
            raise DatabaseUnavailable(f"the database is unavailable: {detail}") from exc

    def lock_for_migration(self, tx: Transaction) -> None:
        """Machines migrating at once wait for each other; the lock ends with the transaction."""
        tx.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))

    def close(self) -> None:
        self._pool.close()


Database = SQLite | PostgreSQL


def connect(url: str, password: str) -> Database:
    """The database a ``WEBUI_DATABASE_URL`` names (checked by the settings); empty: memory."""
    if not url:
        return SQLite(":memory:")
    if urlsplit(url).scheme == "sqlite":
        return SQLite(urlsplit(url).path)
    return PostgreSQL(url, password)


def _conversation(row: Sequence[Any]) -> dict[str, Any]:
    return {"id": row[0], "title": row[1], "created_at": row[2], "updated_at": row[3]}


# The fields of a turn as the page gets it, in the order the queries below select them.
_TURN_FIELDS = (
    "id",
    "question",
    "answer",
    "model",
    "mode",
    "status",
    "error",
    "node",
    "llm",
    "asked_at",
    "timings",
)


def _turn(row: Sequence[Any]) -> dict[str, Any]:
    turn = dict(zip(_TURN_FIELDS, row, strict=True))
    turn["timings"] = json.loads(turn["timings"])
    return turn


class Store:
    """The app's queries. Each method is one transaction; every conversation and turn query names
    the user, so one user's ids never reach another's rows."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._schema_checked = False

    @classmethod
    def open(cls, url: str, password: str) -> "Store":
        """The store of a database URL; a memory database is new, so it is migrated at once."""
        store = cls(connect(url, password))
        if not url:
            store.migrate()
        return store

    @property
    def embedded(self) -> bool:
        """Whether the database lives in this process's files (SQLite) rather than a server."""
        return self.database.embedded

    def close(self) -> None:
        """Close the connections."""
        self.database.close()

    # --- schema

    def _version(self, tx: Transaction) -> int:
        if not tx.execute(self.database.TABLE_EXISTS, ("schema_version",)).fetchone()[0]:
            return 0
        return tx.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0

    def version(self) -> int:
        """The schema version of the database (0: empty)."""
        with self.database.transaction() as tx:
            return self._version(tx)

    def check_schema(self) -> None:
        """Refuse a database whose schema this app does not know; raises SchemaMismatch."""
        found = self.version()
        if found != SCHEMA_VERSION:
            raise schema_mismatch(found)
        self._schema_checked = True

    def migrate(self) -> tuple[int, int]:
        """Apply the missing migrations in one transaction; returns (version before, after)."""
        with self.database.transaction() as tx:
            self.database.lock_for_migration(tx)
            found = self._version(tx)
            if found > SCHEMA_VERSION:
                raise schema_mismatch(found)
            for number in range(found + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[number - 1]:
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (number, time.time()),
                )
        self._schema_checked = True
        return found, SCHEMA_VERSION

    @contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        # A process that started while the database was down checks the schema on first use.
        if not self._schema_checked:
            self.check_schema()
        with self.database.transaction() as tx:
            yield tx

    # --- users

    def add_user(self, username: str, password_hash: str, now: float) -> bool:
        """Create a user; False when the name is taken."""
        with self._transaction() as tx:
            cursor = tx.execute(
                "INSERT INTO users (username, password_hash, created_at, password_changed_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (username) DO NOTHING",
                (username, password_hash, now, now),
            )
            return cursor.rowcount == 1

    def set_password_hash(self, username: str, password_hash: str, now: float) -> bool:
        """Replace a user's password and end all their sessions at once; False if no such user."""
        with self._transaction() as tx:
            cursor = tx.execute(
                "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE username = ?",
                (password_hash, now, username),
            )
            tx.execute("DELETE FROM sessions WHERE username = ?", (username,))
            return cursor.rowcount == 1

    def remove_user(self, username: str) -> bool:
        """Delete a user with their sessions and conversations (cascades); False if none."""
        with self._transaction() as tx:
            return tx.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount == 1

    def usernames(self) -> list[str]:
        """All user names, sorted."""
        with self._transaction() as tx:
            rows = tx.execute("SELECT username FROM users ORDER BY username").fetchall()
        return [row[0] for row in rows]

    def password_hash(self, username: str) -> str | None:
        """The stored hash of a user's password; None for an unknown user."""
        with self._transaction() as tx:
            row = tx.execute(
                "SELECT password_hash FROM users WHERE username = ?", (username,)
            ).fetchone()
        return row[0] if row else None

    # --- sessions

    def add_session(self, token_hash: str, username: str, now: float, expires_at: float) -> None:
        """Record a new session, and forget the sessions that are past their absolute limit."""
        with self._transaction() as tx:
            tx.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            tx.execute(
                "INSERT INTO sessions (token_hash, username, created_at, last_seen_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (token_hash, username, now, now, expires_at),
            )

    def session(self, token_hash: str) -> tuple[str, float, float] | None:
        """(user name, last seen, expires at) of a session; None when there is none."""
        with self._transaction() as tx:
            return tx.execute(
                "SELECT username, last_seen_at, expires_at FROM sessions WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()

    def touch_session(self, token_hash: str, now: float) -> None:
        """Note that a session was used now (the idle limit counts from here)."""
        with self._transaction() as tx:
            tx.execute(
                "UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?", (now, token_hash)
            )

    def delete_session(self, token_hash: str) -> None:
        """End a session."""
        with self._transaction() as tx:
            tx.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    # --- failed logins

    def failure_times(self, keys: Sequence[str], since: float) -> dict[str, list[float]]:
        """The times of each key's failed logins since ``since``, oldest first; older ones are
        deleted, as they no longer count."""
        with self._transaction() as tx:
            tx.execute("DELETE FROM login_failures WHERE at < ?", (since,))
            return {
                key: [
                    row[0]
                    for row in tx.execute(
                        "SELECT at FROM login_failures WHERE key = ? AND at >= ? ORDER BY at",
                        (key, since),
                    ).fetchall()
                ]
                for key in keys
            }

    def record_failure(self, keys: Sequence[str], now: float) -> None:
        """Count a failed login against each key."""
        with self._transaction() as tx:
            for key in keys:
                tx.execute("INSERT INTO login_failures (key, at) VALUES (?, ?)", (key, now))

    def clear_failures(self, key: str) -> None:
        """Forget a key's failed logins."""
        with self._transaction() as tx:
            tx.execute("DELETE FROM login_failures WHERE key = ?", (key,))

    # --- conversations

    def create_conversation(self, username: str, id: str, title: str, now: float) -> None:
        """Start a conversation."""
        with self._transaction() as tx:
            tx.execute(
                "INSERT INTO conversations (id, username, title, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (id, username, title, now, now),
            )

    def history(self, username: str, id: str, limit: int) -> list[tuple[str, str]] | None:
        """The last ``limit`` turns of a conversation that have an answer to build on, as
        (question, answer), oldest first; None when the user has no such conversation."""
        with self._transaction() as tx:
            if not tx.execute(
                "SELECT count(*) FROM conversations WHERE id = ? AND username = ?", (id, username)
            ).fetchone()[0]:
                return None
            rows = tx.execute(
                "SELECT t.question, t.answer FROM turns t "
                "JOIN conversations c ON c.id = t.conversation_id "
                "WHERE c.id = ? AND c.username = ? AND t.status IN ('done', 'stopped') "
                "AND t.answer <> '' ORDER BY t.asked_at DESC, t.id DESC LIMIT ?",
                (id, username, limit),
            ).fetchall()
        return [(question, answer) for question, answer in reversed(rows)]

    def conversations(self, username: str) -> list[dict[str, Any]]:
        """The user's conversations, the most recently updated first, with their turn counts."""
        with self._transaction() as tx:
            rows = tx.execute(
                "SELECT c.id, c.title, c.created_at, c.updated_at, "
                "(SELECT count(*) FROM turns t WHERE t.conversation_id = c.id) "
                "FROM conversations c WHERE c.username = ? ORDER BY c.updated_at DESC, c.id",
                (username,),
            ).fetchall()
        return [{**_conversation(row), "turns": row[4]} for row in rows]

    def conversation(self, username: str, id: str) -> dict[str, Any] | None:
        """One of the user's conversations with its turns, oldest first; None if not theirs."""
        with self._transaction() as tx:
            row = tx.execute(
                "SELECT id, title, created_at, updated_at FROM conversations "
                "WHERE id = ? AND username = ?",
                (id, username),
            ).fetchone()
            if row is None:
                return None
            turns = tx.execute(
                "SELECT id, question, answer, model, mode, status, error, node, llm, asked_at, "
                "timings FROM turns WHERE conversation_id IN "
                "(SELECT id FROM conversations WHERE id = ? AND username = ?) "
                "ORDER BY asked_at, id",
                (id, username),
            ).fetchall()
        return {**_conversation(row), "turns": [_turn(turn) for turn in turns]}

    def delete_conversation(self, username: str, id: str) -> int:
        """Delete one of the user's conversations with its turns; how many were deleted (0/1)."""
        with self._transaction() as tx:
            return tx.execute(
                "DELETE FROM conversations WHERE id = ? AND username = ?", (id, username)
            ).rowcount

    def delete_conversations(self, username: str) -> int:
        """Delete all the user's conversations; how many there were."""
        with self._transaction() as tx:
            return tx.execute("DELETE FROM conversations WHERE username = ?", (username,)).rowcount

    def save_turn(self, username: str, turn: Turn, now: float) -> bool:
        """Write a turn into the user's conversation, once: written again (a retry after a lost
        reply to the commit), it stays one row. False when the conversation is gone (deleted
        while the answer ran)."""
        with self._transaction() as tx:
            inserted = tx.execute(
                "INSERT INTO turns (conversation_id, id, question, answer, model, mode, status, "
                "error, node, llm, asked_at, timings) "
                "SELECT id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM conversations "
                "WHERE id = ? AND username = ? ON CONFLICT (id) DO NOTHING",
                (
                    turn.id,
                    turn.question,
                    turn.answer,
                    turn.model,
                    turn.mode,
                    turn.status,
                    turn.error,
                    turn.node,
                    turn.llm,
                    turn.asked_at,
                    json.dumps(turn.timings),
                    turn.conversation_id,
                    username,
                ),
            ).rowcount
            if inserted:
                tx.execute(
                    "UPDATE conversations SET updated_at = ? WHERE id = ? AND username = ?",
                    (now, turn.conversation_id, username),
                )
                return True
            return bool(
                tx.execute(
                    "SELECT count(*) FROM turns WHERE id = ? AND conversation_id IN "
                    "(SELECT id FROM conversations WHERE id = ? AND username = ?)",
                    (turn.id, turn.conversation_id, username),
                ).fetchone()[0]
            )
