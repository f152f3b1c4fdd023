"""The ``python -m webui`` commands: migrate, and users management on the settings' database,
with passwords from stdin only."""

import io
import sys

import pytest

from webui.__main__ import main
from webui.auth import Accounts
from webui.settings import load_settings
from webui.store import SCHEMA_VERSION


@pytest.fixture
def db(database, monkeypatch):
    """The settings name ``database`` (both kinds), with the owner's credentials, as the
    deployment runs ``migrate``; the users commands then run with the same settings."""
    monkeypatch.setenv("WEBUI_DATABASE_URL", database.owner_url or database.url)
    monkeypatch.setenv("WEBUI_DATABASE_PASSWORD", database.owner_password)
    return database


@pytest.fixture
def migrated(db, monkeypatch, capsys):
    assert run(monkeypatch, capsys, ["migrate"])[0] == 0
    return db


def run(monkeypatch, capsys, argv, stdin=""):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def accounts(db) -> Accounts:
    return Accounts(db.open(), load_settings())


def test_migrate_says_what_it_did_and_then_that_nothing_was_to_do(db, monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, ["migrate"])
    assert (code, out) == (
        0,
        f"migrated from version 0 to {SCHEMA_VERSION}\nschema at version {SCHEMA_VERSION}\n",
    )
    code, out, _ = run(monkeypatch, capsys, ["migrate"])
    assert (code, out) == (0, f"schema at version {SCHEMA_VERSION}\n")


def test_add_list_set_password_remove(migrated, monkeypatch, capsys):
    assert run(monkeypatch, capsys, ["users", "add", "alice"], "pw-one\n")[0] == 0
    assert run(monkeypatch, capsys, ["users", "add", "bob"], "pw-two\n")[0] == 0
    assert run(monkeypatch, capsys, ["users", "list"])[1] == "alice\nbob\n"
    assert accounts(migrated).check_password("alice", "pw-one")
    assert run(monkeypatch, capsys, ["users", "set-password", "alice"], "pw-new\n")[0] == 0
    assert accounts(migrated).check_password("alice", "pw-new")
    assert run(monkeypatch, capsys, ["users", "remove", "bob"])[0] == 0
    assert run(monkeypatch, capsys, ["users", "list"])[1] == "alice\n"


@pytest.mark.parametrize("action", [["set-password", "alice"], ["remove", "alice"]])
def test_set_password_and_remove_end_the_users_sessions(migrated, monkeypatch, capsys, action):
    users = accounts(migrated)
    users.add("alice", "pw")
    token = users.start_session("alice")
    assert run(monkeypatch, capsys, ["users", *action], "pw-new\n")[0] == 0
    assert users.session_user(token) is None


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["users", "add", "alice"], "again\n", "already exists"),
        (["users", "add", "dave"], "\n", "must not be empty"),
        (["users", "add", "two words"], "pw\n", "no spaces"),
        (["users", "remove", "nobody"], "", "no user"),
        (["users", "set-password", "nobody"], "pw\n", "no user"),
    ],
)
def test_mistakes_are_reported_with_exit_status_2(
    migrated, monkeypatch, capsys, argv, stdin, message
):
    accounts(migrated).add("alice", "pw")
    code, _, err = run(monkeypatch, capsys, argv, stdin)
    assert code == 2
    assert message in err


def test_a_password_argument_is_refused(migrated, monkeypatch, capsys):
    with pytest.raises(SystemExit):
        run(monkeypatch, capsys, ["users", "add", "alice", "secret-password"])
    assert accounts(migrated).usernames() == []


def test_users_on_an_unmigrated_database_say_to_migrate(db, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, ["users", "list"])
    assert code == 2
    assert err.startswith("error: the database schema is at version 0, older than this app")
    assert err.endswith("run python -m webui migrate\n")


@pytest.mark.parametrize("argv", [["migrate"], ["users", "list"]])
def test_a_newer_schema_is_refused_by_every_command(migrated, monkeypatch, capsys, argv):
    store = migrated.open(owner=True)
    with store.database.transaction() as tx:
        tx.execute("INSERT INTO schema_version VALUES (?, ?)", (SCHEMA_VERSION + 1, 0.0))
    code, _, err = run(monkeypatch, capsys, argv)
    assert (code, err) == (
        2,
        f"error: the database schema is at version {SCHEMA_VERSION + 1}, newer than this app "
        f"({SCHEMA_VERSION}); upgrade the app\n",
    )


@pytest.mark.parametrize("argv", [["migrate"], ["users", "list"]])
def test_no_database_is_a_clear_error(monkeypatch, capsys, argv):
    monkeypatch.delenv("WEBUI_DATABASE_URL", raising=False)
    monkeypatch.setenv("WEBUI_REQUIRE_LOGIN", "false")
    code, _, err = run(monkeypatch, capsys, argv)
    assert (code, err) == (
        2,
        "error: WEBUI_DATABASE_URL is not set: it names the database to act on\n",
    )


def test_an_unreachable_database_is_a_clear_error(monkeypatch, capsys):
    # Port 9 on loopback: nothing listens there, so the connection is refused at once.
    monkeypatch.setenv("WEBUI_DATABASE_URL", "postgresql://webui_app@127.0.0.1:9/webui")
    code, _, err = run(monkeypatch, capsys, ["users", "list"])
    assert code == 2
    assert err.splitlines()[-1].startswith("error: the database is unavailable")


def test_serve_refuses_bad_settings_by_name(monkeypatch, capsys):
    monkeypatch.setenv("WEBUI_REQUIRE_LOGIN", "perhaps")
    code, _, err = run(monkeypatch, capsys, ["serve", "--port", "0"])
    assert code == 2
    assert "WEBUI_REQUIRE_LOGIN" in err


def test_settings_lists_every_variable(monkeypatch, capsys):
    out = run(monkeypatch, capsys, ["settings"])[1]
    assert "WEBUI_OLLAMA_URL (default: http://127.0.0.1:11434)" in out
    assert "WEBUI_DATABASE_URL" in out
    assert "WEBUI_SESSION_SECRET" not in out
