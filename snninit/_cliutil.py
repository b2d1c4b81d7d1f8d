"""Shared argparse helpers for the sub-commands."""

from __future__ import annotations

import argparse

from .config import NetworkConfig


def add_network_arguments(parser: argparse.ArgumentParser, **defaults) -> None:
    """Add the NetworkConfig options (``--width`` ... ``--init``) to ``parser``."""
    base = NetworkConfig()
    d = {**base.to_dict(), **defaults}
    g = parser.add_argument_group("network")
    g.add_argument("--width", type=int, default=d["width"], help="neurons per layer (n)")
    g.add_argument("--layers", type=int, default=d["layers"], help="hidden layers (L)")
    g.add_argument("--steps", type=int, default=d["steps"], help="time steps (T)")
    g.add_argument("--theta", type=float, default=d["theta"], help="firing threshold")
    g.add_argument("--beta", type=float, default=d["beta"], help="leak factor in [0, 1]")
    g.add_argument("--reset", default=d["reset"], help="subtract | zero | none")
    g.add_argument("--init", default=d["init"], help="initialisation rule")
    g.add_argument("--input-scale", default=d["input_scale"], help="'1' or '1-beta'")
    g.add_argument(
        "--reset-decay", action="store_true", help="apply the soft reset before the leak"
    )
    g.add_argument("--weights", default=d["weights"], help="normal | uniform")
    g.add_argument(
        "--init-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra parameter of the init rule (repeatable)",
    )


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
    )
