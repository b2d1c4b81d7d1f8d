"""The ``snninit`` command.

Each sub-package contributes its sub-commands through a ``commands`` module
exposing ``register(subparsers)``; this file only dispatches and turns bad
input into a one-line error (exit status 2) instead of a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

# Sub-packages whose `commands` module adds sub-commands, in --help order.
_COMMAND_MODULES = (
    "snninit.theory.commands",
    "snninit.montecarlo.commands",
    "snninit.validation.commands",
    "snninit.training.commands",
    "snninit.montecarlo.sweep_commands",
    "snninit.validation.rules_commands",
    "snninit.torch.commands",
)


class CommandError(Exception):
    """A user-facing error raised by a sub-command (printed without traceback)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snninit",
        description="Weight initialisation for deep spiking neural networks.",
    )
    parser.add_argument("--version", action="version", version=f"snninit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except (ValueError, FileNotFoundError, CommandError) as exc:
        print(f"snninit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"snninit {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0 if result is None else int(result)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
