"""The secrets of the local topology: each generated once, readable by the owner only, never in
the clone. A secrets.yml from before a secret existed gets it added; the values it holds stay."""

import os
import re
import secrets
from pathlib import Path

from lifecycle.host import log

NAMES = (
    "vault_llm_gateway_token",
    "vault_webapp_admin_password",
    "vault_postgresql_owner_password",
    "vault_postgresql_app_password",
)

# The shape of line this module writes: a name and a URL-safe token in double quotes.
_LINE = re.compile(r'^(?P<name>\w+):\s*"(?P<value>[^"\\]*)"\s*$')


def read(path: Path) -> dict[str, str]:
    """The secrets in a file this module wrote."""
    return {
        match["name"]: match["value"]
        for match in map(_LINE.match, path.read_text().splitlines())
        if match
    }


def names_in(path: Path) -> set[str]:
    """The top-level names a secrets file defines, whatever the form of their values."""
    return {line.partition(":")[0] for line in path.read_text().splitlines() if ":" in line}


def ensure(path: Path) -> None:
    """Add every secret of NAMES that `path` lacks, creating it with mode 0600."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a") as handle:
        if path.stat().st_size == 0:
            handle.write("---\n")
        present = names_in(path)
        for name in NAMES:
            if name not in present:
                log(f"generating {name} in {path}")
                handle.write(f'{name}: "{secrets.token_urlsafe(32)}"\n')
