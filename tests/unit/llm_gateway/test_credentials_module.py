"""The gateway's credentials module: the hash Apache checks, the lists it refuses, the migration."""

import importlib.util
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils import basic

MODULE = (
    Path(__file__).parents[3]
    / "infrastructure/ansible/roles/llm_gateway/library/llm_gateway_credentials.py"
)
_spec = importlib.util.spec_from_file_location("llm_gateway_credentials", MODULE)
credentials = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(credentials)

# A token as the vault holds them (secrets.token_urlsafe(32)), and what Apache's own tool makes of
# it: `htpasswd -nbs` (APR's {SHA}) and `htpasswd -nbB -C 4` (the row earlier versions wrote).
TOKEN = "5o_azO5z3fyeO-XTdHT0LFZkSG86R1cHe7AWFPYCmsI"
SHA_OF_TOKEN = "{SHA}90hdQ8Hr8nbko6FFnKvlYbRHyjw="
BCRYPT_OF_TOKEN = "$2y$04$KZRISglqzKND.OG/LWswLO13Mbt0k2JFjYF5FzWOXoF6.0SqVKBqS"


def test_hash_is_aprs_sha_format() -> None:
    """The stored hash is exactly what htpasswd -s writes, the form APR checks."""
    assert credentials.hash_password(TOKEN) == SHA_OF_TOKEN


@pytest.mark.parametrize(
    ("password", "stored", "expected"),
    [
        pytest.param(TOKEN, SHA_OF_TOKEN, True, id="its-own-hash"),
        pytest.param(TOKEN + "x", SHA_OF_TOKEN, False, id="another-token"),
        pytest.param(TOKEN, BCRYPT_OF_TOKEN, False, id="bcrypt-of-the-same-token"),
        pytest.param(TOKEN, "{SHA}é", False, id="non-ascii-stored-value"),
    ],
)
def test_matches(password: str, stored: str, expected: bool) -> None:
    """Only the token's own {SHA} hash matches; any other format is due for a rewrite."""
    assert credentials.matches(password, stored) is expected


@pytest.mark.parametrize(
    ("entries", "refusal"),
    [
        pytest.param(
            [{"username": "webui", "password": TOKEN[:31]}],
            "user 'webui' has a password shorter than 32 characters",
            id="31-characters",
        ),
        pytest.param(
            [{"username": "webui", "password": ""}],
            "user 'webui' has a password shorter than 32 characters",
            id="empty",
        ),
        pytest.param(
            [{"username": "webui", "password": TOKEN}, {"username": "webui", "password": TOKEN}],
            "usernames in credentials must be unique",
            id="duplicate-user",
        ),
        pytest.param(
            [{"username": "webui", "password": TOKEN}, {"username": "cli", "password": TOKEN}],
            "two users share a password",
            id="shared-token",
        ),
        pytest.param(
            [{"username": "web:ui", "password": TOKEN}],
            "username 'web:ui' is empty or holds ':'",
            id="colon-in-username",
        ),
    ],
)
def test_validate_refuses(entries: list[dict], refusal: str) -> None:
    """A list Apache could not serve safely is refused with a reason naming the problem."""
    assert refusal in (credentials.validate(entries) or "")


def test_short_password_refusal_says_how_to_make_a_token() -> None:
    """The refusal of a short password says why and how to make a random token."""
    problem = credentials.validate([{"username": "webui", "password": "correct horse"}]) or ""
    assert "random tokens" in problem
    assert "secrets.token_urlsafe(32)" in problem
    assert "fast hash" in problem


def test_validate_accepts_32_characters() -> None:
    """A token of exactly the minimum length is accepted."""
    assert credentials.validate([{"username": "webui", "password": TOKEN[:32]}]) is None


def run_module(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: dict[str, Any]
) -> dict[str, Any]:
    """Run the module as Ansible would, with these arguments; return its result."""
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode())
    with pytest.raises(SystemExit):
        credentials.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def bcrypt_table(tmp_path: Path) -> Path:
    """A table as the previous version left it: the right key, the token's bcrypt hash."""
    path = tmp_path / "credentials.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute(credentials.SCHEMA)
        connection.execute(
            "INSERT INTO credentials VALUES (?, ?, ?)",
            ("webui", BCRYPT_OF_TOKEN, credentials.token_key(TOKEN)),
        )
    connection.close()
    return path


def test_bcrypt_row_is_rewritten_once(
    bcrypt_table: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bcrypt row of the same token becomes its {SHA} hash; the next run changes nothing."""
    args = {"path": str(bcrypt_table), "credentials": [{"username": "webui", "password": TOKEN}]}
    first = run_module(monkeypatch, capsys, args)
    second = run_module(monkeypatch, capsys, args)
    with sqlite3.connect(bcrypt_table) as connection:
        rows = connection.execute("SELECT * FROM credentials").fetchall()
    connection.close()
    assert first["changed"] is True
    assert rows == [("webui", SHA_OF_TOKEN, credentials.token_key(TOKEN))]
    assert second["changed"] is False
