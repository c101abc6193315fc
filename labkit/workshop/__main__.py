"""``python -m labkit.workshop start | stop | grades | logins``: the Makefile's workshop targets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._errors import LabError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.workshop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("start", help="run JupyterHub for a class until Ctrl-C (127.0.0.1)")
    run.add_argument("--users", type=int, default=10, help="learners: learner01..NN (10)")
    run.add_argument("--port", type=int, default=0, help="the hub's port (first free from 8000)")
    run.add_argument("--memory", default="1g", help="memory cap per learner (1g; none: no cap)")
    run.add_argument("--java-heap", default="256m", help="each DynamoDB Local's -Xmx (256m)")
    run.add_argument(
        "--cull", type=int, default=3600, help="stop a learner's server idle this long (s)"
    )
    where = "the classroom folder (default: $LABKIT_CLASSROOM, else classroom/)"
    run.add_argument("--classroom", default=None, help=where)
    for name, text in (
        ("stop", "stop the running workshop and everything it started"),
        ("grades", "print every learner's grades as CSV"),
        ("logins", "print the logins of the last workshop started"),
    ):
        sub.add_parser(name, help=text).add_argument("--classroom", default=None, help=where)
    args = parser.parse_args(argv)
    room = Path(args.classroom).resolve() if args.classroom else None
    try:
        if args.command == "start":
            from ._hub import configure, start

            settings = configure(
                args.users,
                port=args.port or None,
                memory=args.memory,
                java_heap=args.java_heap,
                cull_timeout=args.cull,
                classroom=room,
            )
            return start(settings)
        if args.command == "stop":
            from ._hub import stop

            return stop(room)
        from ._settings import classroom_dir, load

        file = (room or classroom_dir()) / ".hub" / "settings.json"
        if not file.is_file():
            raise LabError(
                f"No workshop has been started from {file.parent.parent}.",
                "start one with `make workshop USERS=<n>` (or pass --classroom).",
            )
        settings = load(file)
        if args.command == "grades":
            from ._progress import grades_csv

            sys.stdout.write(grades_csv(settings))
        else:
            from ._hub import logins

            print(logins(settings))
        return 0
    except LabError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
