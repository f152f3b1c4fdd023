"""A backup taken on the database machine restores into a database that lets the same user log in
and see the same conversation.

The backup service itself takes the dump; postgresql-restore puts the newest one into a new
database next to the live one, which the test reads on the db machine (pg_hba admits the web
machines to the live database only) and drops. Nothing live is changed: the user and the
conversation are the test's own and go at the end, and the dump is one more in the retention.
The site's default model answers, so no simulator is needed.
"""

import json
import secrets
import shlex

from argon2 import PasswordHasher
from chain_support import ask, stored_turns

from deploykit.topology import Topology

BACKUP_SERVICE = "postgresql-backup.service"
RESTORE = "/usr/local/sbin/postgresql-restore"
# The dump's name holds its UTC time, in the format of `date -u`'s argument.
STAMP = "%Y%m%dT%H%M%SZ"


def _newest_dump(topology: Topology) -> str:
    """The newest dump in the backup directory: their names sort by the time they were taken."""
    pattern = f"{topology.var(topology.db, 'postgresql_backup_dir')}/*.dump"
    listing = topology.run(topology.db, f"ls -1 {pattern}").stdout.split()
    return sorted(listing)[-1]


def test_backup_restores_the_users_login_and_conversation(topology: Topology) -> None:
    """The restored copy holds the user's password hash (it verifies) and the same turns."""
    name, password = f"backup-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    restored = f"webui_restore_{secrets.token_hex(4)}"
    web = topology.web[0]
    topology.webui(web, "users", "add", name, stdin=password + "\n")
    try:
        with topology.client() as client:
            client.login(name, password)
            conversation = None
            for number in range(2):
                asked = ask(client, None, f"Say the number {number}.", conversation)
                assert (asked.status, asked.saved) == (200, True), asked
                conversation = asked.conversation
            turns = stored_turns(client, conversation)

        before = topology.run(topology.db, f"date -u +{STAMP}").stdout.strip()
        topology.run(topology.db, f"systemctl start {BACKUP_SERVICE}", timeout=600)
        dump = _newest_dump(topology)
        assert dump.rsplit("-", 1)[-1].removesuffix(".dump") >= before, f"no new dump: {dump}"
        topology.run(topology.db, shlex.join([RESTORE, dump, restored]), timeout=600)

        hashes = topology.psql(
            "SELECT password_hash FROM users WHERE username = :'name'", restored, name=name
        ).split()
        assert len(hashes) == 1, f"{name} is not in the restored database"
        assert PasswordHasher().verify(hashes[0], password)
        copy = topology.psql(
            "SELECT json_agg(json_build_object('id', t.id, 'question', t.question,"
            " 'answer', t.answer, 'user', c.username) ORDER BY t.asked_at, t.id)"
            " FROM turns t JOIN conversations c ON c.id = t.conversation_id"
            " WHERE c.id = :'conversation'",
            restored,
            conversation=conversation,
        )
        assert json.loads(copy) == [
            {"id": t["id"], "question": t["question"], "answer": t["answer"], "user": name}
            for t in turns
        ]
    finally:
        dropdb = ["runuser", "-u", "postgres", "--", "dropdb", "--if-exists", restored]
        topology.run(topology.db, f"cd / && {shlex.join(dropdb)}", check=False)
        # Its sessions and conversations go with it.
        topology.webui(web, "users", "remove", name, check=False)
