"""The ``python -m webui`` commands: users management reads passwords from stdin only."""

import io
import sys

import pytest

from webui.__main__ import main
from webui.auth import UserStore


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = str(tmp_path / "users.db")
    monkeypatch.setenv("WEBUI_USERS_DB", path)
    return path


def run(monkeypatch, capsys, argv, stdin=""):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_add_list_set_password_remove(db, monkeypatch, capsys):
    assert run(monkeypatch, capsys, ["users", "add", "alice"], "pw-one\n")[0] == 0
    assert run(monkeypatch, capsys, ["users", "add", "bob"], "pw-two\n")[0] == 0
    assert run(monkeypatch, capsys, ["users", "list"])[1] == "alice\nbob\n"
    assert UserStore(db).check_password("alice", "pw-one")
    assert run(monkeypatch, capsys, ["users", "set-password", "alice"], "pw-new\n")[0] == 0
    assert UserStore(db).check_password("alice", "pw-new")
    assert run(monkeypatch, capsys, ["users", "remove", "bob"])[0] == 0
    assert run(monkeypatch, capsys, ["users", "list"])[1] == "alice\n"


def test_the_db_option_overrides_the_setting(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("WEBUI_USERS_DB", raising=False)
    other = str(tmp_path / "other.db")
    assert run(monkeypatch, capsys, ["users", "--db", other, "add", "carol"], "pw\n")[0] == 0
    assert UserStore(other).usernames() == ["carol"]


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
def test_mistakes_are_reported_with_exit_status_2(db, monkeypatch, capsys, argv, stdin, message):
    UserStore(db).add("alice", "pw")
    code, _, err = run(monkeypatch, capsys, argv, stdin)
    assert code == 2
    assert message in err


def test_a_password_argument_is_refused(db, monkeypatch, capsys):
    with pytest.raises(SystemExit):
        run(monkeypatch, capsys, ["users", "add", "alice", "secret-password"])
    assert UserStore(db).usernames() == []


def test_no_database_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.delenv("WEBUI_USERS_DB", raising=False)
    code, _, err = run(monkeypatch, capsys, ["users", "list"])
    assert (code, err) == (2, "error: no users database: pass --db or set WEBUI_USERS_DB\n")


def test_serve_refuses_bad_settings_by_name(monkeypatch, capsys):
    monkeypatch.setenv("WEBUI_REQUIRE_LOGIN", "perhaps")
    code, _, err = run(monkeypatch, capsys, ["serve", "--port", "0"])
    assert code == 2
    assert "WEBUI_REQUIRE_LOGIN" in err


def test_settings_lists_every_variable(monkeypatch, capsys):
    out = run(monkeypatch, capsys, ["settings"])[1]
    assert "WEBUI_OLLAMA_URL (default: http://127.0.0.1:11434)" in out
    assert "WEBUI_SESSION_SECRET" in out
