"""Ansible module: make the gateway's SQLite credentials table equal to a given list.

Apache's mod_authn_dbd only reads the table; this module is the one writer. A password is hashed
again only when it no longer matches its stored hash, so a second run changes nothing, a new
password rotates the hash, and users missing from the list are removed.
"""

from __future__ import annotations

import os
import sqlite3

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import bcrypt
except ImportError:  # pragma: no cover - reported to the user by fail_json below
    bcrypt = None

DOCUMENTATION = r"""
module: llm_gateway_credentials
short_description: Keep the gateway's table of bcrypt-hashed credentials equal to a list.
description:
  - Creates the SQLite database and its C(credentials) table when missing.
  - Adds listed users, rehashes those whose password changed, removes the others.
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
  rounds:
    description: bcrypt cost factor for new hashes.
    type: int
    default: 10
requirements:
  - bcrypt (Debian python3-bcrypt)
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
    "username TEXT PRIMARY KEY NOT NULL, password_hash TEXT NOT NULL)"
)

# APR (Apache's password checker) recognises bcrypt only under the $2y$ prefix; $2b$ is the same
# algorithm, so hashes are stored as $2y$ and compared as $2b$.
APR_PREFIX = "$2y$"
PYCA_PREFIX = "$2b$"


def hash_password(password: str, rounds: int) -> str:
    """Return a bcrypt hash in the form Apache accepts."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()
    return APR_PREFIX + hashed[len(PYCA_PREFIX) :]


def matches(password: str, stored: str) -> bool:
    """Tell whether a stored hash (any bcrypt prefix) still belongs to the password."""
    if stored.startswith(APR_PREFIX):
        stored = PYCA_PREFIX + stored[len(APR_PREFIX) :]
    try:
        return bcrypt.checkpw(password.encode(), stored.encode())
    except ValueError:
        return False


def validate(credentials: list[dict]) -> str | None:
    """Return why the list cannot be applied, or None."""
    names = [str(entry.get("username", "")) for entry in credentials]
    if len(set(names)) != len(names):
        return "usernames in credentials must be unique"
    for entry, name in zip(credentials, names, strict=True):
        if not name or ":" in name or any(ch.isspace() for ch in name):
            return f"username {name!r} is empty or holds ':' (Basic auth splits there) or spaces"
        if not str(entry.get("password", "")):
            return f"user {name!r} has an empty password"
    return None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "credentials": {"type": "list", "elements": "dict", "required": True, "no_log": True},
            "rounds": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    if bcrypt is None:
        module.fail_json(msg=missing_required_lib("bcrypt"))
    credentials = module.params["credentials"]
    problem = validate(credentials)
    if problem:
        module.fail_json(msg=problem)

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
        stored = dict(connection.execute("SELECT username, password_hash FROM credentials"))
        wanted = {str(entry["username"]): str(entry["password"]) for entry in credentials}
        added = sorted(set(wanted) - set(stored))
        removed = sorted(set(stored) - set(wanted))
        updated = sorted(
            name for name in set(wanted) & set(stored) if not matches(wanted[name], stored[name])
        )
        if not module.check_mode:
            for name in added + updated:
                connection.execute(
                    "INSERT OR REPLACE INTO credentials (username, password_hash) VALUES (?, ?)",
                    (name, hash_password(wanted[name], module.params["rounds"])),
                )
            connection.executemany(
                "DELETE FROM credentials WHERE username = ?", [(name,) for name in removed]
            )
    connection.close()
    module.exit_json(
        changed=not existed or bool(added or updated or removed),
        added=added,
        updated=updated,
        removed=removed,
    )


if __name__ == "__main__":
    main()
