"""The ``trailhound`` command line.

Each command group lives in ``trailhound.commands.<name>`` and exposes
``register(subparsers: argparse._SubParsersAction) -> None``; the parser it adds sets
``func=callable(args) -> int``. Errors a person can act on are ``TrailHoundError``s, mapped
to a one-line message and an exit status here, in one place.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from trailhound import __version__
from trailhound.errors import TrailHoundError

# Order is the order of `trailhound --help`.
COMMAND_MODULES = (
    "ingest",
    "query",
    "detections",
    "engines",
    "scheduler",
    "containment",
    "investigation",
    "notebook",
    "simulate",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trailhound",
        description="Automated incident response over CloudTrail: detect, investigate, contain.",
    )
    parser.add_argument("--version", action="version", version=f"trailhound {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"trailhound.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"trailhound.commands.{name}":
                continue  # command group not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TZ", "UTC")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TrailHoundError as exc:
        print(f"trailhound: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("trailhound: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
