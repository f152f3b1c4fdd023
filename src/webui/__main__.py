"""Command line: ``serve`` for development and tests, ``users`` to manage logins.

Passwords are read from a prompt or from standard input, never from arguments, because
arguments are visible to every user of the machine in the process list and in shell history.
"""

import argparse
import contextlib
import getpass
import logging
import os
import socketserver
import sys
from collections.abc import Sequence
from typing import TextIO
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from webui.app import create_app
from webui.auth import UserError, UserStore
from webui.settings import SettingsError, documentation, load_settings, raw_settings


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
    """Serve the app until interrupted; settings come from the environment as in production."""
    app = create_app(load_settings())
    with make_server(host, port, app, ThreadingWSGIServer, QuietHandler) as server:
        logging.getLogger("webui").info("serving on http://%s:%d/", host, server.server_port)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0


def read_password(stdin: TextIO) -> str:
    """Prompt twice on a terminal; otherwise take the first line of stdin (for scripts)."""
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password again: "):
            raise UserError("the passwords differ")
        return first
    return stdin.readline().rstrip("\r\n")


def users_db_path(explicit: str | None) -> str:
    """The database from ``--db`` or from the settings, without needing the other settings."""
    path = explicit or raw_settings(os.environ).get("WEBUI_USERS_DB", "")
    if not path:
        raise UserError("no users database: pass --db or set WEBUI_USERS_DB")
    return path


def users(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    """Run one ``users`` sub-command."""
    store = UserStore(users_db_path(args.db))
    if args.action == "list":
        for name in store.usernames():
            print(name, file=stdout)
    elif args.action == "add":
        store.add(args.username, read_password(stdin))
        print(f"added {args.username}", file=stdout)
    elif args.action == "set-password":
        store.set_password(args.username, read_password(stdin))
        print(f"changed the password of {args.username}", file=stdout)
    else:
        store.remove(args.username)
        print(f"removed {args.username}", file=stdout)
    return 0


def parser() -> argparse.ArgumentParser:
    """The CLI's arguments."""
    top = argparse.ArgumentParser(prog="python -m webui", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="serve the app (threaded, streaming)")
    serving.add_argument("--host", default="127.0.0.1")
    serving.add_argument("--port", type=int, default=8080)
    commands.add_parser("settings", help="list every WEBUI_* setting with its default")
    managing = commands.add_parser("users", help="manage the users who may log in")
    managing.add_argument("--db", help="users database (default: WEBUI_USERS_DB)")
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
        return users(args, sys.stdin, sys.stdout)
    except (SettingsError, UserError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
