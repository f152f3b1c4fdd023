"""Ansible module: make the gateway's SQLite credentials table equal to a given list.

Apache's mod_authn_dbd only reads the table; this module is the one writer. A password (the
user's token) is hashed again only when it no longer matches its stored hash or lookup key, so a
second run changes nothing, a new password rotates both, a hash in another format (the bcrypt
that earlier versions wrote) is replaced, and users missing from the list are removed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import sqlite3

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: llm_gateway_credentials
short_description: Keep the gateway's table of hashed credentials equal to a list.
description:
  - Creates the SQLite database and its C(credentials) table when missing.
  - Adds listed users, rehashes those whose password changed or whose hash is in another format
    (bcrypt, from earlier versions), removes the others.
  - Stores each password as APR's C({SHA}) hash (C(htpasswd -s)), and beside it the SHA-1 of the
    password in hex, the key under which a Bearer token (the password alone, without a user
    name) finds its row; adds that column to older tables.
  - Refuses passwords shorter than 32 characters, since both are fast hashes.
options:
  path:
    description: The SQLite database file.
    type: path
    required: true
  credentials:
    description: Every user that may authenticate, as C(username) and C(password).
    type: list
    elements: dict
    required: true
"""

RETURN = r"""
added:
  description: Users created.
  type: list
  returned: always
updated:
  description: Users whose password hash was replaced.
  type: list
  returned: always
removed:
  description: Users deleted because they are no longer listed.
  type: list
  returned: always
"""

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS credentials ("
    "username TEXT PRIMARY KEY NOT NULL, password_hash TEXT NOT NULL, token_key TEXT)"
)
# Tables written before Bearer support lack the column; SQLite cannot add a UNIQUE column, so
# uniqueness comes from an index (NULLs, i.e. rows not yet migrated, do not collide).
ADD_TOKEN_KEY = "ALTER TABLE credentials ADD COLUMN token_key TEXT"
TOKEN_KEY_INDEX = (
    "CREATE UNIQUE INDEX IF NOT EXISTS credentials_token_key ON credentials (token_key)"
)
SELECT = "SELECT username, password_hash, token_key FROM credentials"
# A check-mode run does not add the column, so it reads every key as missing.
SELECT_UNMIGRATED = "SELECT username, password_hash, NULL FROM credentials"
# What a Bearer header can carry (RFC 6750 b64token, RFC 7235 token68).
TOKEN68 = re.compile(r"[A-Za-z0-9._~+/-]+=*")

# The prefix under which APR's password checker (apr_password_validate) reads a base64 SHA-1.
SHA_PREFIX = "{SHA}"
# The stored hash and the lookup key are fast hashes, so only the password's own entropy resists
# guessing: gateway passwords are random tokens (secrets.token_urlsafe(32) gives 43 characters),
# and a shorter one is most likely a password a person chose.
MIN_PASSWORD_LENGTH = 32


def hash_password(password: str) -> str:
    """Return the password's hash in APR's {SHA} format, which Apache checks on every request.

    A fast hash, not bcrypt: the row already holds the password's SHA-1 as its lookup key, so a
    slow hash beside it would protect nothing and cost every request its time.
    """
    digest = hashlib.sha1(password.encode()).digest()  # noqa: S324 - see MIN_PASSWORD_LENGTH
    return SHA_PREFIX + base64.b64encode(digest).decode()


def matches(password: str, stored: str) -> bool:
    """Tell whether a stored hash belongs to the password; one in another format never does."""
    return hmac.compare_digest(stored.encode(), hash_password(password).encode())


def token_key(password: str) -> str:
    """The lookup key of a Bearer token: its SHA-1, in hex, as Apache's ap_expr sha1() writes it.

    SHA-1 because it is the strongest hash Apache 2.4's expressions offer; a fast hash is safe
    for the same reason as the stored hash (see MIN_PASSWORD_LENGTH).
    """
    return hashlib.sha1(password.encode()).hexdigest()  # noqa: S324 - see MIN_PASSWORD_LENGTH


def validate(credentials: list[dict]) -> str | None:
    """Return why the list cannot be applied, or None."""
    names = [str(entry.get("username", "")) for entry in credentials]
    if len(set(names)) != len(names):
        return "usernames in credentials must be unique"
    for entry, name in zip(credentials, names, strict=True):
        if not name or ":" in name or any(ch.isspace() for ch in name):
            return f"username {name!r} is empty or holds ':' (Basic auth splits there) or spaces"
        if len(str(entry.get("password", ""))) < MIN_PASSWORD_LENGTH:
            return (
                f"user {name!r} has a password shorter than {MIN_PASSWORD_LENGTH} characters: "
                "gateway credentials are random tokens (python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'), because the gateway stores a fast hash of them"
            )
    passwords = [str(entry.get("password", "")) for entry in credentials]
    if len(set(passwords)) != len(passwords):
        return "two users share a password: a Bearer token could not tell them apart"
    return None


def bearer_incapable(credentials: list[dict]) -> list[str]:
    """Users whose password a Bearer header cannot carry; Basic auth still works for them."""
    return sorted(
        str(entry["username"])
        for entry in credentials
        if not TOKEN68.fullmatch(str(entry["password"]))
    )


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "credentials": {"type": "list", "elements": "dict", "required": True, "no_log": True},
        },
        supports_check_mode=True,
    )
    credentials = module.params["credentials"]
    problem = validate(credentials)
    if problem:
        module.fail_json(msg=problem)

    for name in bearer_incapable(credentials):
        module.warn(
            f"user {name}: the password holds characters a Bearer header cannot carry "
            "(RFC 6750 allows letters, digits and -._~+/ then =); only Basic auth works for it"
        )

    path = module.params["path"]
    existed = os.path.exists(path)
    if not existed and module.check_mode:
        names = sorted(str(entry["username"]) for entry in credentials)
        module.exit_json(changed=True, added=names, updated=[], removed=[])

    # A new database file must never be readable by others, even before Ansible sets its mode.
    previous_umask = os.umask(0o077)
    try:
        connection = sqlite3.connect(path)
    finally:
        os.umask(previous_umask)
    with connection:
        connection.execute(SCHEMA)
        columns = {row[1] for row in connection.execute("PRAGMA table_info(credentials)")}
        migrated = "token_key" not in columns
        if not module.check_mode:
            if migrated:
                connection.execute(ADD_TOKEN_KEY)
            connection.execute(TOKEN_KEY_INDEX)
        stored = {
            name: (password_hash, key)
            for name, password_hash, key in connection.execute(
                SELECT_UNMIGRATED if migrated and module.check_mode else SELECT
            )
        }
        wanted = {str(entry["username"]): str(entry["password"]) for entry in credentials}
        added = sorted(set(wanted) - set(stored))
        removed = sorted(set(stored) - set(wanted))
        updated = sorted(
            name
            for name in set(wanted) & set(stored)
            if stored[name][1] != token_key(wanted[name])
            or not matches(wanted[name], stored[name][0])
        )
        if not module.check_mode:
            # Removals first: a rotated token may be one a removed user held, and keys are unique.
            connection.executemany(
                "DELETE FROM credentials WHERE username = ?", [(name,) for name in removed]
            )
            for name in added + updated:
                connection.execute(
                    "INSERT OR REPLACE INTO credentials (username, password_hash, token_key) "
                    "VALUES (?, ?, ?)",
                    (name, hash_password(wanted[name]), token_key(wanted[name])),
                )
    connection.close()
    module.exit_json(
        changed=not existed or migrated or bool(added or updated or removed),
        added=added,
        updated=updated,
        removed=removed,
    )


if __name__ == "__main__":
    main()
