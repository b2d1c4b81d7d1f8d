"""Shared argparse helpers for the sub-commands.

:class:`Parser` is the parser class of ``snninit`` and (through
``add_subparsers``) of every sub-command: its errors are one line naming the
sub-command, and its help shows each option's default. :func:`flag_message`
rewrites an API error message (``width must be ...``) in the command line's
terms (``--width must be ...``) when the user typed that flag.
"""

from __future__ import annotations

import argparse
import re
import sys

from .config import NetworkConfig

__all__ = [
    "Parser",
    "DefaultsHelpFormatter",
    "add_network_arguments",
    "network_flags_given",
    "config_from_args",
    "flag_message",
    "one_line",
]


def one_line(text: str) -> str:
    """``text`` on one line: line breaks and runs of blanks become one space."""
    return " ".join(str(text).split())


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Append ``(default: X)`` to an option's help unless it says its default already.

    Unlike :class:`argparse.ArgumentDefaultsHelpFormatter`, defaults that say
    nothing (``None``, ``False`` of a switch, an empty list) are left out.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or "default" in text.lower()
            or default is None
            or default is argparse.SUPPRESS
            or isinstance(default, bool)
            or default in ([], (), "")
        ):
            return text
        return text + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``PROG: error: MESSAGE (see PROG --help)``.

    Unrecognised arguments are reported by the sub-command they were given
    to (``snninit theory --bogus 3`` names ``snninit theory``, not the
    top-level usage).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        text = f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n"
        try:
            self._print_message(text, sys.stderr)
        except OSError:  # pragma: no cover - stderr closed
            pass
        raise SystemExit(2)

    def _subcommand_parser(self, namespace):
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = getattr(namespace, action.dest, None)
                parser = action.choices.get(chosen)
                if isinstance(parser, Parser):
                    return parser._subcommand_parser(namespace)
        return self

    def parse_args(self, args=None, namespace=None):
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            flags = [a.split("=", 1)[0] for a in extras if a.startswith("--")]
            if flags:
                plural = "s" if len(flags) > 1 else ""
                message = f"unrecognized argument{plural} {', '.join(flags)}"
            else:
                message = f"unexpected argument{'s' if len(extras) > 1 else ''} {' '.join(extras)}"
            self._subcommand_parser(namespace).error(message)
        return namespace


#: API parameter names whose command-line flag is not ``--name-with-dashes``.
_API_ALIASES = {"n": "width", "betas": "beta", "thetas": "theta"}


def flag_message(message: str, parser: argparse.ArgumentParser | None, argv) -> str:
    """Rewrite ``message`` so that API parameter names read as the flags the user typed.

    A message that starts with a parameter name (``width must be ...``,
    ``input_scale must be one of ...``) or that names one as
    ``name=VALUE`` gets the flag (``--width``, ``--input-scale``) instead,
    when that flag is one of ``parser``'s options and appears in ``argv``.
    """
    if parser is None or not argv:
        return message
    typed = {a.split("=", 1)[0] for a in argv if isinstance(a, str) and a.startswith("--")}
    flags = {}
    for action in parser._actions:
        for opt in action.option_strings:
            if opt.startswith("--") and opt in typed:
                flags[opt[2:].replace("-", "_")] = opt
    for api, dest in _API_ALIASES.items():
        flag = "--" + dest.replace("_", "-")
        if flag in typed and api not in flags:
            flags[api] = flag
    if not flags:
        return message
    names = "|".join(sorted((re.escape(n) for n in flags), key=len, reverse=True))
    # the name at the start of the message or of a clause, as a whole word
    pattern = re.compile(rf"(^|; |: |\()({names})(?=\s+(?:must|is|has)\b|=)")
    return pattern.sub(lambda m: m.group(1) + flags[m.group(2)], message)


#: Namespace attribute listing the network flags the user typed (see :func:`network_flags_given`).
_GIVEN = "_network_flags_given"


def _recorded(action_class):
    """``action_class`` that also notes its flag in the namespace when the user types it."""

    class Recorded(action_class):
        def __call__(self, parser, namespace, values, option_string=None):
            super().__call__(parser, namespace, values, option_string)
            given = list(getattr(namespace, _GIVEN, None) or [])
            flag = self.option_strings[0]
            if flag not in given:
                given.append(flag)
            setattr(namespace, _GIVEN, given)

    return Recorded


def add_network_arguments(parser: argparse.ArgumentParser, **defaults) -> None:
    """Add the NetworkConfig options (``--width`` ... ``--init``) to ``parser``."""
    base = NetworkConfig()
    d = {**base.to_dict(), **defaults}
    store = _recorded(argparse._StoreAction)
    g = parser.add_argument_group("network")
    g.add_argument(
        "--width", type=int, default=d["width"], action=store, help="neurons per layer (n)"
    )
    g.add_argument(
        "--layers", type=int, default=d["layers"], action=store, help="hidden layers (L)"
    )
    g.add_argument("--steps", type=int, default=d["steps"], action=store, help="time steps (T)")
    g.add_argument("--theta", type=float, default=d["theta"], action=store, help="firing threshold")
    g.add_argument(
        "--beta", type=float, default=d["beta"], action=store, help="leak factor in [0, 1]"
    )
    g.add_argument("--reset", default=d["reset"], action=store, help="subtract | zero | none")
    g.add_argument("--init", default=d["init"], action=store, help="initialisation rule")
    g.add_argument("--input-scale", default=d["input_scale"], action=store, help="'1' or '1-beta'")
    g.add_argument(
        "--reset-decay",
        action=_recorded(argparse._StoreTrueAction),
        help="apply the soft reset before the leak",
    )
    g.add_argument("--weights", default=d["weights"], action=store, help="normal | uniform")
    g.add_argument(
        "--init-param",
        action=_recorded(argparse._AppendAction),
        default=[],
        metavar="NAME=VALUE",
        help="extra parameter of the init rule (repeatable)",
    )
    g.add_argument(
        "--neuron", default=d.get("neuron", "leaky"), action=store,
        help="leaky | synaptic | adaptive | recurrent (docs/neuron_models.md)",
    )
    for name, text in _NEURON_FLAGS.items():
        g.add_argument(f"--{_neuron_dest(name).replace('_', '-')}", dest=_neuron_dest(name),
                       type=float, default=d.get(name), action=store, help=text)


def _neuron_dest(name: str) -> str:
    """The flag (and argparse dest) of a neuron parameter: ``alpha`` is ``synaptic_alpha``."""
    return "synaptic_alpha" if name == "alpha" else name


#: The neuron models' parameters as flags (None: the chosen model's default).
_NEURON_FLAGS = {
    # --alpha is the surrogate's width in `snninit train`: the field alpha is --synaptic-alpha
    "alpha": "synaptic: the current's decay alpha in [0, 1] (default 0.5)",
    "rho": "adaptive: the adaptation's decay in [0, 1] (default 0.9)",
    "adaptation": "adaptive: threshold increment b >= 0 (default 0.5)",
    "recurrent_fraction": "recurrent: share of the input variance from the layer itself, "
    "in [0, 0.99] (default 0.5)",
}


def network_flags_given(args: argparse.Namespace) -> list[str]:
    """The network flags of :func:`add_network_arguments` the user typed, in order."""
    return list(getattr(args, _GIVEN, None) or [])


def config_from_args(args: argparse.Namespace) -> NetworkConfig:
    """Build (and validate) the NetworkConfig from parsed arguments."""
    params = {}
    for item in args.init_param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--init-param must look like NAME=VALUE; got {item!r}")
        try:
            params[name] = float(value)
        except ValueError:
            params[name] = value
    return NetworkConfig(
        width=args.width,
        layers=args.layers,
        steps=args.steps,
        theta=args.theta,
        beta=args.beta,
        reset=args.reset,
        init=args.init,
        input_scale=args.input_scale,
        reset_decay=args.reset_decay,
        weights=args.weights,
        init_params=params,
        neuron=getattr(args, "neuron", "leaky"),
        **{name: getattr(args, _neuron_dest(name), None) for name in _NEURON_FLAGS},
    )
