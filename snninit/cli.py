"""The ``snninit`` command.

Each sub-package contributes its sub-commands through a ``commands`` module
exposing ``register(subparsers)``; this file only dispatches and turns every
failure into ONE line on stderr, ``snninit COMMAND: error: MESSAGE``, never a
traceback:

* bad input (``ValueError``, a missing file, :class:`CommandError`, argparse's
  own errors): exit status 2;
* a failure of the machine (``OSError``: disk full, permission, network;
  ``MemoryError``) or of the computation (``FloatingPointError``): status 1,
  with what to do;
* anything else is a bug: status 1, its type and message, and the hint to
  rerun with ``SNNINIT_DEBUG=1``, which prints the traceback too;
* Ctrl-C: ``interrupted``, status 130; a closed output pipe
  (``snninit theory | head -1``): quiet, status 1 (Python's documented recipe).
"""

from __future__ import annotations

import importlib
import os
import sys

from . import __version__
from ._cliutil import Parser, flag_message, one_line

# Sub-packages whose `commands` module adds sub-commands, in --help order.
_COMMAND_MODULES = (
    "snninit.theory.commands",
    "snninit.montecarlo.commands",
    "snninit.validation.commands",
    "snninit.training.commands",
    "snninit.montecarlo.sweep_commands",
    "snninit.validation.rules_commands",
    "snninit.validation.advice_commands",
    "snninit.torch.commands",
)


class CommandError(Exception):
    """A user-facing error raised by a sub-command (printed without traceback)."""


def build_parser() -> Parser:
    parser = Parser(
        prog="snninit",
        description="Weight initialisation for deep spiking neural networks.",
    )
    parser.add_argument("--version", action="version", version=f"snninit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _debug() -> bool:
    return os.environ.get("SNNINIT_DEBUG", "").strip() not in ("", "0")


def _say(text: str) -> None:
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed or a broken pipe: nothing to tell
        pass


def _quiet_broken_pipe() -> None:
    # https://docs.python.org/3/library/signal.html#note-on-sigpipe: point stdout
    # at devnull so that the interpreter's final flush does not raise again
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # pragma: no cover - no real stdout
        pass


def _describe(exc: BaseException, parser, argv) -> tuple[str, int]:
    """The one-line message (without the ``snninit CMD: error:`` prefix) and exit status."""
    text = one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, (CommandError, FileNotFoundError, ValueError)):
        if isinstance(exc, FileNotFoundError) and exc.filename and exc.strerror:
            text = f"{exc.strerror}: {exc.filename}"
        return flag_message(text, parser, argv), 2
    if isinstance(exc, MemoryError):
        return (
            "out of memory"
            + (f" ({text})" if str(exc) else "")
            + " (make the run smaller: fewer --reps, --layers, --steps or --paths, a smaller "
            "--width, or --method gram)",
            1,
        )
    if isinstance(exc, OSError):
        from ._io import OutputError

        if isinstance(exc, OutputError):
            return text, 1
        if exc.strerror:
            where = exc.filename if exc.filename is not None else ""
            text = f"{exc.strerror}" + (f": {where}" if where != "" else "")
        return f"{text} (check the path, its permissions, the free space and the network)", 1
    if isinstance(exc, ImportError):
        return f"{text} (install the missing package)", 1
    if isinstance(exc, FloatingPointError):
        return f"{text} (the computation overflowed: try other settings)", 1
    return (
        f"{type(exc).__name__}: {text}; this is a bug; rerun with SNNINIT_DEBUG=1 "
        "for the traceback",
        1,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = None
    sub = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        command = args.command
        sub = parser._subcommand_parser(args)
        result = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except SystemExit:
        raise
    except BrokenPipeError:
        _quiet_broken_pipe()
        return 1
    except KeyboardInterrupt:
        _say(f"snninit {command}: interrupted" if command else "snninit: interrupted")
        return 130
    except BaseException as exc:  # one line for everything else
        if _debug():
            import traceback

            try:
                traceback.print_exception(exc, file=sys.stderr)
            except (OSError, ValueError):  # pragma: no cover
                pass
        text, status = _describe(exc, sub, argv)
        _say(f"snninit {command}: error: {text}" if command else f"snninit: error: {text}")
        return status
    return 0 if result is None else int(result)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
