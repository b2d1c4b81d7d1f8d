"""Sub-command ``snninit compare-rules``: every initialisation rule head to head."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]


def _floats(text: str, name: str = "value") -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers; got {text!r}") from None


def _ints(text: str, name: str = "value") -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{name} must be comma-separated integers; got {text!r}") from None


def register(subparsers) -> None:
    """Add ``compare-rules`` to the ``snninit`` command."""
    p = subparsers.add_parser(
        "compare-rules",
        help="simulate (and briefly train) every initialisation rule on one grid",
        description=(
            "Run every registered rule (or --rules) on the grid steps x beta x theta, "
            "simulating --reps networks of --width x --layers per cell, then a short "
            "MNIST run each; write rules.csv, rules.md, rules.nc and rules.png into OUT. "
            "Finished cells are cached in OUT/cache: a killed run resumes where it stopped."
        ),
    )
    p.add_argument("--rules", default=None, help="comma-separated rule names (default: all)")
    p.add_argument("--width", type=int, default=1000, help="neurons per layer (n)")
    p.add_argument("--layers", type=int, default=100, help="hidden layers (L)")
    p.add_argument("--steps", default="1,20", help="comma-separated (default: %(default)s)")
    p.add_argument("--beta", default="0.5,0.9", help="comma-separated (default: %(default)s)")
    p.add_argument("--theta", default="0.5,1.0", help="comma-separated (default: %(default)s)")
    p.add_argument("--reps", type=int, default=10, help="simulated networks per grid cell")
    p.add_argument("--seed", type=int, default=0, help="master seed of simulations and training")
    p.add_argument("--method", default="gram", choices=("gram", "dense"), help="simulation sampler")
    p.add_argument("--no-train", action="store_true", help="skip the short MNIST runs")
    p.add_argument(
        "--dataset",
        default="mnist",
        choices=("mnist", "fashion-mnist", "synthetic"),
        help="data of the short training runs (default: %(default)s)",
    )
    p.add_argument("--epochs", type=int, default=None, help="epochs of the short runs")
    p.add_argument(
        "--data-driven",
        default="self",
        choices=("self", "shared"),
        help="data-driven rules: calibrate every network on itself (default) or use one "
        "shared calibration network",
    )
    p.add_argument(
        "--out",
        default="snninit-rules",
        metavar="DIR",
        help="output folder: rules.csv, rules.md, rules.nc, rules.png and the cell cache",
    )
    p.add_argument(
        "--no-resume",
        action="store_true",
        help="recompute every cell (default: reuse the finished cells cached in OUT/cache)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import time

    from .._io import check_writable, remove_stale_temps, save_or_rescue
    from .rules_comparison import (
        DEFAULT_TRAINING,
        compare_rules,
        rules_markdown,
        write_rules_outputs,
    )

    started = time.time()
    rules = None if args.rules is None else [r.strip() for r in args.rules.split(",") if r.strip()]
    train_settings = {**DEFAULT_TRAINING["train"], "dataset": args.dataset}
    if args.epochs is not None:
        train_settings["epochs"] = args.epochs
    training = {"network": dict(DEFAULT_TRAINING["network"]), "train": train_settings}
    steps, betas, thetas = (
        _ints(args.steps, "--steps"),
        _floats(args.beta, "--beta"),
        _floats(args.theta, "--theta"),
    )
    check_writable(args.out, "--out", kind="dir")  # before the work, not after it
    ds = compare_rules(
        rules,
        width=args.width,
        layers=args.layers,
        steps=steps,
        betas=betas,
        thetas=thetas,
        reps=args.reps,
        seed=args.seed,
        method=args.method,
        train=not args.no_train,
        training=training,
        progress=True,
        data_driven=args.data_driven,
        cache_dir=None if args.no_resume else Path(args.out) / "cache",
    )
    paths = {}

    def write(folder):
        paths.update(write_rules_outputs(ds, folder))

    save_or_rescue(write, args.out, "--out", prefix="rules", kind="dir")
    # a killed earlier run's temporary files (.<name>.<random>.tmp), never a live writer's
    remove_stale_temps([args.out, Path(args.out) / "cache"], started)
    print(rules_markdown(ds))
    print("wrote " + ", ".join(str(v) for v in paths.values()))
    return 0
