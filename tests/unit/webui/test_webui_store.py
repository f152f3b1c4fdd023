"""The store on SQLite and on a real PostgreSQL: migrations, sessions, throttling across
machines, one user's conversations out of another's reach, turns written once, and outages."""

import threading
from dataclasses import replace

import psycopg
import pytest
from webui_fakes import FakeClock

from webui.auth import Accounts
from webui.settings import Settings
from webui.store import SCHEMA_VERSION, DatabaseUnavailable, SchemaMismatch, Store, Turn

TABLES = {"schema_version", "users", "sessions", "login_failures", "conversations", "turns"}


@pytest.fixture
def store(database) -> Store:
    return database.migrated()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def accounts_on(store: Store, clock: FakeClock, **settings) -> Accounts:
    values = {"require_login": False, "login_max_failures": 3, **settings}
    return Accounts(store, replace(Settings(), **values), clock=clock)


def users_after(
    accounts: Accounts, clock: FakeClock, token: str, waits: list[int]
) -> list[str | None]:
    """The session's user after each wait in turn; each look uses the session, as a request does."""
    users = []
    for seconds in waits:
        clock.now += seconds
        users.append(accounts.session_user(token))
    return users


def tables(store: Store) -> set[str]:
    found = set()
    with store.database.transaction() as tx:
        for name in TABLES:
            if tx.execute(store.database.TABLE_EXISTS, (name,)).fetchone()[0]:
                found.add(name)
    return found


def bump_schema(store: Store, version: int) -> None:
    """Play a newer app having migrated the database."""
    with store.database.transaction() as tx:
        tx.execute("INSERT INTO schema_version VALUES (?, ?)", (version, 0.0))


def turn(id: str, conversation: str, status: str = "done", answer: str = "an answer", **extra):
    values = {
        "id": id,
        "conversation_id": conversation,
        "question": f"question {id}",
        "answer": answer,
        "model": "m1",
        "mode": "stream",
        "status": status,
        "error": None,
        "node": "web1",
        "llm": "llm1",
        "asked_at": 100.0,
        "timings": {"first_token_ms": 1.5, "total_ms": 9.0},
        **extra,
    }
    return Turn(**values)


# --- migrations


def test_a_fresh_database_is_migrated_to_the_current_schema(database):
    owner = database.open(owner=True)
    assert owner.version() == 0
    assert tables(owner) == set()
    assert owner.migrate() == (0, SCHEMA_VERSION)
    assert owner.version() == SCHEMA_VERSION
    assert tables(owner) == TABLES


def test_migrating_again_changes_nothing(database):
    database.open(owner=True).migrate()
    assert database.open(owner=True).migrate() == (SCHEMA_VERSION, SCHEMA_VERSION)
    with database.open().database.transaction() as tx:
        assert tx.execute("SELECT count(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION


def test_two_machines_migrating_at_once_apply_each_migration_once(database):
    stores = [database.open(owner=True) for _ in range(2)]
    results, errors = [], []

    def migrate(store: Store) -> None:
        try:
            results.append(store.migrate())
        except Exception as exc:  # reported below, with the other thread's result
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(results) == [(0, SCHEMA_VERSION), (SCHEMA_VERSION, SCHEMA_VERSION)]


def test_a_newer_schema_is_refused_with_what_to_do(store, database):
    bump_schema(store, SCHEMA_VERSION + 1)
    message = (
        f"the database schema is at version {SCHEMA_VERSION + 1}, newer than this app "
        f"({SCHEMA_VERSION}); upgrade the app"
    )
    fresh = database.open()
    with pytest.raises(SchemaMismatch) as caught:
        fresh.check_schema()
    assert str(caught.value) == message
    with pytest.raises(SchemaMismatch, match="newer than this app"):
        fresh.usernames()
    with pytest.raises(SchemaMismatch, match="newer than this app"):
        database.open(owner=True).migrate()


def test_an_older_schema_is_refused_with_what_to_do(database):
    fresh = database.open()
    with pytest.raises(SchemaMismatch) as caught:
        fresh.usernames()
    assert str(caught.value) == (
        f"the database schema is at version 0, older than this app ({SCHEMA_VERSION}); "
        "run python -m webui migrate"
    )


def test_the_apps_database_role_cannot_change_the_schema(postgresql_database):
    postgresql_database.open(owner=True).migrate()
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege),
        postgresql_database.open().database.transaction() as tx,
    ):
        tx.execute("CREATE TABLE intruder (id TEXT)")


# --- users and sessions


def test_users_are_added_changed_and_removed(store, clock):
    accounts = accounts_on(store, clock)
    accounts.add("alice", "pw1")
    accounts.add("bob", "pw2")
    assert store.usernames() == ["alice", "bob"]
    accounts.set_password("alice", "pw3")
    assert accounts.check_password("alice", "pw3")
    assert not accounts.check_password("alice", "pw1")
    accounts.remove("bob")
    assert store.usernames() == ["alice"]
    assert not accounts.check_password("bob", "pw2")


def test_a_session_is_seen_by_every_machine_until_logout(database, clock):
    machines = [accounts_on(database.migrated(), clock) for _ in range(2)]
    machines[0].add("alice", "pw")
    token = machines[0].start_session("alice")
    assert [m.session_user(token) for m in machines] == ["alice", "alice"]
    machines[1].end_session(token)
    assert [m.session_user(token) for m in machines] == [None, None]


@pytest.mark.parametrize(
    "end",
    [
        lambda accounts: accounts.set_password("alice", "new"),
        lambda accounts: accounts.remove("alice"),
    ],
    ids=["password-change", "removal"],
)
def test_a_password_change_or_removal_ends_all_the_users_sessions(database, clock, end):
    machines = [accounts_on(database.migrated(), clock) for _ in range(2)]
    machines[0].add("alice", "pw")
    machines[0].add("bob", "pw")
    tokens = [m.start_session("alice") for m in machines]
    bobs = machines[0].start_session("bob")
    end(machines[1])
    assert [m.session_user(t) for m in machines for t in tokens] == [None] * 4
    assert machines[0].session_user(bobs) == "bob"


def test_a_session_ends_after_the_idle_limit(store, clock):
    accounts = accounts_on(store, clock, session_idle_seconds=600)
    accounts.add("alice", "pw")
    token = accounts.start_session("alice")
    assert users_after(accounts, clock, token, [599, 599, 600]) == ["alice", "alice", None]


def test_a_session_ends_at_the_absolute_limit(store, clock):
    accounts = accounts_on(store, clock, session_idle_seconds=600, session_ttl_seconds=1000)
    accounts.add("alice", "pw")
    token = accounts.start_session("alice")
    assert users_after(accounts, clock, token, [500, 499, 1]) == ["alice", "alice", None]


def test_expired_sessions_are_deleted_when_someone_logs_in(store, clock):
    accounts = accounts_on(store, clock, session_ttl_seconds=60)
    accounts.add("alice", "pw")
    old = accounts.start_session("alice")
    clock.now += 60
    accounts.start_session("alice")
    with store.database.transaction() as tx:
        assert tx.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    assert accounts.session_user(old) is None


# --- throttling


def test_failed_logins_are_counted_across_machines(database, clock):
    machines = [accounts_on(database.migrated(), clock) for _ in range(2)]
    keys = ["user:alice", "addr:192.0.2.7"]
    machines[0].record_failure(keys)
    clock.now += 10
    machines[1].record_failure(keys)
    assert machines[0].retry_after(keys) == 0
    machines[0].record_failure(keys)
    assert [m.retry_after(keys) for m in machines] == [300 - 10, 300 - 10]
    machines[1].clear_failures("user:alice")
    assert machines[0].retry_after(["user:alice"]) == 0
    assert machines[0].retry_after(["addr:192.0.2.7"]) == 290
    clock.now += 290
    assert machines[1].retry_after(keys) == 0


# --- conversations


@pytest.fixture
def two_users(store, clock):
    accounts = accounts_on(store, clock)
    accounts.add("alice", "pw")
    accounts.add("bob", "pw")
    store.create_conversation("alice", "c-alice", "Alice's", 10.0)
    assert store.save_turn("alice", turn("t1", "c-alice"), 11.0)
    return store


def test_a_conversation_keeps_its_turns_oldest_first(two_users):
    store = two_users
    assert store.save_turn("alice", turn("t2", "c-alice", asked_at=200.0), 12.0)
    found = store.conversation("alice", "c-alice")
    assert (found["id"], found["title"], found["created_at"], found["updated_at"]) == (
        "c-alice",
        "Alice's",
        10.0,
        12.0,
    )
    assert [t["id"] for t in found["turns"]] == ["t1", "t2"]
    first = found["turns"][0]
    assert first == {
        "id": "t1",
        "question": "question t1",
        "answer": "an answer",
        "model": "m1",
        "mode": "stream",
        "status": "done",
        "error": None,
        "node": "web1",
        "llm": "llm1",
        "asked_at": 100.0,
        "timings": {"first_token_ms": 1.5, "total_ms": 9.0},
    }


def test_conversations_are_listed_newest_first_with_their_turn_counts(two_users):
    store = two_users
    store.create_conversation("alice", "c-new", "Newer", 20.0)
    assert [(c["id"], c["turns"]) for c in store.conversations("alice")] == [
        ("c-new", 0),
        ("c-alice", 1),
    ]
    assert store.save_turn("alice", turn("t2", "c-alice"), 30.0)
    assert [c["id"] for c in store.conversations("alice")] == ["c-alice", "c-new"]


def test_another_users_conversation_is_out_of_reach(two_users):
    store = two_users
    assert store.conversation("bob", "c-alice") is None
    assert store.history("bob", "c-alice", 20) is None
    assert store.conversations("bob") == []
    assert store.delete_conversation("bob", "c-alice") == 0
    assert store.delete_conversations("bob") == 0
    assert not store.save_turn("bob", turn("t-bob", "c-alice"), 50.0)
    found = store.conversation("alice", "c-alice")
    assert [t["id"] for t in found["turns"]] == ["t1"]
    assert found["updated_at"] == 11.0


def test_deleting_removes_the_conversation_and_its_turns(two_users):
    store = two_users
    store.create_conversation("alice", "c-2", "Second", 20.0)
    store.create_conversation("bob", "c-bob", "Bob's", 20.0)
    assert store.delete_conversation("alice", "c-alice") == 1
    assert store.conversation("alice", "c-alice") is None
    assert store.delete_conversations("alice") == 1
    assert store.conversations("alice") == []
    assert [c["id"] for c in store.conversations("bob")] == ["c-bob"]
    with store.database.transaction() as tx:
        assert tx.execute("SELECT count(*) FROM turns").fetchone()[0] == 0


def test_removing_a_user_removes_their_conversations(two_users, clock):
    accounts_on(two_users, clock).remove("alice")
    with two_users.database.transaction() as tx:
        assert tx.execute("SELECT count(*) FROM conversations").fetchone()[0] == 0
        assert tx.execute("SELECT count(*) FROM turns").fetchone()[0] == 0


def test_a_turn_written_again_stays_one_turn(two_users):
    store = two_users
    again = turn("t1", "c-alice", answer="a different answer")
    assert store.save_turn("alice", again, 99.0)
    found = store.conversation("alice", "c-alice")
    assert [(t["id"], t["answer"]) for t in found["turns"]] == [("t1", "an answer")]
    assert found["updated_at"] == 11.0


def test_a_turn_for_a_deleted_conversation_is_not_kept(two_users):
    store = two_users
    store.delete_conversation("alice", "c-alice")
    assert not store.save_turn("alice", turn("t9", "c-alice"), 50.0)


def test_history_is_the_last_answered_turns_oldest_first(two_users):
    store = two_users
    for number, (status, answer) in enumerate(
        [("done", "a2"), ("failed", "half"), ("stopped", "a4"), ("stopped", ""), ("done", "a6")],
        start=2,
    ):
        store.save_turn(
            "alice", turn(f"t{number}", "c-alice", status, answer, asked_at=100.0 + number), 20.0
        )
    assert store.history("alice", "c-alice", 20) == [
        ("question t1", "an answer"),
        ("question t2", "a2"),
        ("question t4", "a4"),
        ("question t6", "a6"),
    ]
    assert store.history("alice", "c-alice", 2) == [("question t4", "a4"), ("question t6", "a6")]
    assert store.history("alice", "c-alice", 0) == []


# --- outages


def test_a_missing_sqlite_directory_is_unavailable(tmp_path):
    with pytest.raises(DatabaseUnavailable, match="cannot open the SQLite database"):
        Store.open(f"sqlite:///{tmp_path}/missing/webui.sqlite3", "")


def test_a_stopped_server_is_unavailable_and_the_store_recovers(
    postgresql_server, postgresql_database, clock
):
    store = postgresql_database.migrated()
    accounts = accounts_on(store, clock)
    accounts.add("alice", "pw")  # the pool now holds a connection
    postgresql_server.stop()
    try:
        with pytest.raises(DatabaseUnavailable, match="the database is unavailable"):
            store.usernames()
    finally:
        postgresql_server.start()
    # The connection the restart broke is replaced; no request fails for it.
    assert store.usernames() == ["alice"]
    assert accounts.check_password("alice", "pw")


def test_a_restart_between_two_requests_fails_neither(postgresql_server, postgresql_database):
    store = postgresql_database.migrated()
    assert store.usernames() == []  # the pool now holds a connection the restart will break
    postgresql_server.stop()
    postgresql_server.start()
    assert store.usernames() == []
