"""Entry point of the ``miex`` command.

Every module in :mod:`miex.cli` that defines ``register(subparsers)`` adds one verb. Handlers
import heavy dependencies lazily, so ``miex --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Sequence

import miex
import miex.cli
from miex.errors import MiexError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="miex",
        description="Micro-expression synthesis (MiE-X) and recognition toolkit.",
    )
    parser.add_argument("--version", action="version", version=f"miex {miex.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(miex.cli.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "main":
            continue
        module = importlib.import_module(f"miex.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "func", None)
    if handler is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        result = handler(args)
    except MiexError as exc:
        print(f"miex: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("miex: interrupted; finished work is kept, re-run the same command to resume", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
