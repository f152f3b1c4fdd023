"""python3 -m lifecycle COMMAND: the local lifecycle's one entry point (the Makefile calls it)."""

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from deploykit.state import state_dir
from lifecycle import access, actionlint, artifacts, images, machines, ollama, serve, topology
from lifecycle.bootstrap import bootstrap
from lifecycle.host import LifecycleError


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python3 -m lifecycle",
        description="Bring the local topology up, check it and tear it down. State and caches "
        "live outside the clone: OLLAMA_QA_STATE, OLLAMA_QA_CACHE or XDG_CACHE_HOME move them.",
    )
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("bootstrap", help="install what this machine lacks (idempotent)")
    commands.add_parser("up", help="from nothing to the page served over HTTPS (make up)")
    commands.add_parser(
        "converge",
        help="run site.yml on the local topology again; other arguments go to ansible-playbook",
    )
    test = commands.add_parser(
        "test",
        help="every check, the topology brought up (make test); OLLAMA_QA_KEEP=1 keeps a "
        "topology this run started",
    )
    test.add_argument(
        "--deploy-only",
        action="store_true",
        help="only the topology's checks (tox -m deploy, the fast faults), for CI after the fast "
        "and molecule jobs",
    )
    commands.add_parser(
        "faults",
        help="the fault catalogue against the local topology (tox -e faults); other arguments "
        "go to it, e.g. --fast or --only ID",
    )
    commands.add_parser("down", help="tear the local topology down (make down)")
    commands.add_parser("access", help="print the URL, the CA to trust and the first login")
    commands.add_parser("serve", help="the app and the simulator on 127.0.0.1 (make serve)")

    build = commands.add_parser(
        "artifacts", help="build what the roles install and write OUTDIR/artifacts.yml"
    )
    build.add_argument("outdir", type=lambda value: Path(value).absolute())
    build.add_argument(
        "--ollama", action="store_true", help="also Ollama from source and the local chat model"
    )
    image = commands.add_parser("image", help="build an image unless unchanged; print its tag")
    image.add_argument("name", choices=["base", *images.IMAGES])
    commands.add_parser("ollama", help="build Ollama from source unless cached; print its path")
    commands.add_parser("model", help="fetch the local chat model unless cached; print its path")
    machines_parser = commands.add_parser(
        "machines", help="only create or destroy the machines of the state folder (Terraform)"
    )
    machines_parser.add_argument("action", choices=["up", "down"])
    commands.add_parser("actionlint", help="check the GitHub workflows (built unless cached)")
    return main


def dispatch(arguments: argparse.Namespace, extra: Sequence[str]) -> int:
    match arguments.command:
        case "bootstrap":
            bootstrap()
        case "up":
            topology.up()
        case "converge":
            return topology.converge(extra)
        case "test":
            topology.test(deploy_only=arguments.deploy_only)
        case "faults":
            topology.faults(extra)
        case "down":
            topology.down()
        case "access":
            access.show(state_dir(), on_terminal=sys.stdout.isatty())
        case "serve":
            return serve.serve()
        case "artifacts":
            print(artifacts.build(arguments.outdir, with_ollama=arguments.ollama))
        case "image":
            print(images.ensure(arguments.name))
        case "ollama":
            print(ollama.binary())
        case "model":
            print(ollama.model())
        case "machines":
            if arguments.action == "up":
                machines.up(state_dir())
            else:
                machines.down(state_dir())
        case "actionlint":
            return actionlint.check()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments, extra = parser().parse_known_args(argv)
    if extra and arguments.command not in ("converge", "faults"):
        parser().error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return dispatch(arguments, extra)
    except LifecycleError as error:
        print(f"error: {error}", file=sys.stderr)
    except subprocess.CalledProcessError as error:
        command = " ".join(str(arg) for arg in error.cmd)
        print(f"error: {command} exited with {error.returncode}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
