"""Command line: ``serve`` for development and tests, ``migrate`` for the database's schema, and
``users`` to manage logins.

Passwords are read from a prompt or from standard input, never from arguments, because
arguments are visible to every user of the machine in the process list and in shell history.
"""

import argparse
import contextlib
import getpass
import logging
import socketserver
import sys
from collections.abc import Sequence
from typing import TextIO
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from webui.app import create_app
from webui.auth import Accounts, UserError
from webui.settings import Settings, SettingsError, documentation, load_settings
from webui.store import DatabaseUnavailable, Store


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request so a long stream does not block others.

    wsgiref writes and flushes every chunk the app yields (the socket is unbuffered), so
    streaming needs nothing more.
    """

    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    """Logs requests through ``logging`` (one line each) instead of raw stderr writes."""

    def log_message(self, format: str, *args: object) -> None:
        logging.getLogger("webui.access").info("%s %s", self.address_string(), format % args)


def serve(host: str, port: int) -> int:
    """Serve the app until interrupted; settings come from the environment as in production.

    An SQLite database is brought to the app's schema first, so development needs no step of
    its own; a PostgreSQL one is shared by machines, and only ``migrate`` changes it.
    """
    settings = load_settings()
    store = Store.open(settings.database_url, settings.database_password)
    if store.embedded:
        store.migrate()
    app = create_app(settings, store=store)
    with make_server(host, port, app, ThreadingWSGIServer, QuietHandler) as server:
        logging.getLogger("webui").info("serving on http://%s:%d/", host, server.server_port)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0


def open_store(settings: Settings) -> Store:
    """The database of the settings, which a command needs to be named."""
    if not settings.database_url:
        raise SettingsError("WEBUI_DATABASE_URL is not set: it names the database to act on")
    return Store.open(settings.database_url, settings.database_password)


def migrate(stdout: TextIO) -> int:
    """Bring the database to this app's schema; says whether anything changed."""
    store = open_store(load_settings())
    try:
        before, after = store.migrate()
    finally:
        store.close()
    if before != after:
        print(f"migrated from version {before} to {after}", file=stdout)
    print(f"schema at version {after}", file=stdout)
    return 0


def read_password(stdin: TextIO) -> str:
    """Prompt twice on a terminal; otherwise take the first line of stdin (for scripts)."""
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password again: "):
            raise UserError("the passwords differ")
        return first
    return stdin.readline().rstrip("\r\n")


def users(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    """Run one ``users`` sub-command on the database every web machine shares."""
    settings = load_settings()
    store = open_store(settings)
    accounts = Accounts(store, settings)
    try:
        if args.action == "list":
            for name in accounts.usernames():
                print(name, file=stdout)
        elif args.action == "add":
            accounts.add(args.username, read_password(stdin))
            print(f"added {args.username}", file=stdout)
        elif args.action == "set-password":
            accounts.set_password(args.username, read_password(stdin))
            print(f"changed the password of {args.username} and ended their sessions", file=stdout)
        else:
            accounts.remove(args.username)
            print(f"removed {args.username} with their sessions and conversations", file=stdout)
    finally:
        store.close()
    return 0


def parser() -> argparse.ArgumentParser:
    """The CLI's arguments."""
    top = argparse.ArgumentParser(prog="python -m webui", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="serve the app (threaded, streaming)")
    serving.add_argument("--host", default="127.0.0.1")
    serving.add_argument("--port", type=int, default=8080)
    commands.add_parser("settings", help="list every WEBUI_* setting with its default")
    commands.add_parser("migrate", help="bring the database (WEBUI_DATABASE_URL) to this schema")
    managing = commands.add_parser("users", help="manage the users who may log in")
    actions = managing.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="list user names")
    for action in ("add", "remove", "set-password"):
        actions.add_parser(action).add_argument("username")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m webui`` and the ``webui`` script."""
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    args = parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args.host, args.port)
        if args.command == "settings":
            for variable, default, doc in documentation():
                print(f"{variable} (default: {default or 'empty'})\n    {doc}")
            return 0
        if args.command == "migrate":
            return migrate(sys.stdout)
        return users(args, sys.stdin, sys.stdout)
    except (SettingsError, UserError, DatabaseUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
