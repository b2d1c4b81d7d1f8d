"""``snninit diagnose``: activity of a saved snntorch model, layer by layer.

This module is imported by ``snninit --help``; it must not import torch.
torch and snntorch are imported inside the command.
"""

from __future__ import annotations

import argparse

from ._compat import THEORY_CHOICES

__all__ = ["register"]

_DTYPES = ("model", "float32", "float64")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "diagnose",
        help="measure var_u, rate, skew, kurt per layer and step of a saved snntorch model",
        description=(
            "Run a saved snntorch model (written by snninit.torch.save_model: architecture "
            "spec + state dict, read without unpickling code) on a sample batch and report "
            "var_u, mean_u, rate, spikes, skew and kurt per layer and time step, with the "
            "theory's prediction when the model is one of the simulated networks. Needs "
            "torch and snntorch: pip install torch==2.13.0 && pip install 'snninit[torch]'."
        ),
    )
    p.add_argument("model", help="model file written by snninit.torch.save_model")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--sample",
        metavar="FILE",
        help="input batch (batch, *features) as .npy or a tensor saved with torch.save (.pt); "
        "with --sequence one row per step: (time, batch, *features), e.g. spikegen.rate trains",
    )
    src.add_argument(
        "--normal",
        type=int,
        metavar="BATCH",
        help="use BATCH standard-normal inputs of the model's input size instead",
    )
    p.add_argument(
        "--input-shape",
        default=None,
        metavar="D1,D2,...",
        help="feature shape for --normal when the model does not start with nn.Linear",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of --normal inputs and of the dmft")
    p.add_argument("--steps", type=int, default=1, help="time steps (input fed at every step)")
    p.add_argument(
        "--sequence",
        action="store_true",
        help="--sample is (time, batch, *features), a different input at every step "
        "(the number of steps is its length; --steps is then not used)",
    )
    p.add_argument(
        "--theory",
        default="auto",
        choices=THEORY_CHOICES,
        help="prediction to add when one exists ('data': the dynamic mean field on this "
        "sample; 'auto' picks it for models whose first layer is a Linear fed the inputs)",
    )
    p.add_argument("--rule", default=None, help="rule the weights were drawn with (theory)")
    p.add_argument("--paths", type=int, default=20_000, help="sample paths of the dmft")
    p.add_argument("--dtype", default="model", choices=_DTYPES, help="precision of the run")
    p.add_argument(
        "--trust-pickle",
        action="store_true",
        help="also accept a whole module saved with torch.save(model) (unpickling can run "
        "code from the file: only for files you made)",
    )
    p.add_argument("--out", default=None, metavar="FILE.nc", help="write the dataset (netCDF)")
    p.set_defaults(func=run_diagnose)


def _load_sample(path: str):
    from pathlib import Path

    import numpy as np
    import torch

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no such sample file: {file}")
    if file.suffix == ".npy":
        try:
            return torch.as_tensor(np.load(file, allow_pickle=False))
        except ValueError as exc:
            raise ValueError(f"--sample {file} is not a numeric .npy array: {exc}") from None
    try:
        value = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"--sample {file} is neither .npy nor a tensor saved with torch.save "
            f"({type(exc).__name__})"
        ) from None
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"--sample {file} holds a {type(value).__name__}, not a tensor")
    return value


def _normal_sample(model, batch: int, shape: str | None, seed: int):
    import torch
    from torch import nn

    from .._checks import check_int
    from .snntorch_model import _layout

    batch = check_int("--normal", batch, low=1, high=1_000_000)
    if shape is not None:
        try:
            dims = tuple(int(d) for d in shape.split(","))
        except ValueError:
            raise ValueError(
                f"--input-shape must be integers like 1,28,28; got {shape!r}"
            ) from None
        if not dims or min(dims) < 1:
            raise ValueError(f"--input-shape must be positive integers; got {shape!r}")
    else:
        first = next(leaf for leaf in _layout(model).leaves if leaf.kind == "weight")
        if not isinstance(first.module, nn.Linear):
            raise ValueError("the model does not start with nn.Linear: pass --input-shape")
        dims = (first.module.in_features,)
    gen = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *dims), generator=gen)


def run_diagnose(args: argparse.Namespace) -> int:
    from ..cli import CommandError
    from ..config import check_limit
    from ._compat import require

    try:
        torch = require("torch")
        require("snntorch")
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    from .._dataset import save_dataset
    from .diagnosis import diagnose
    from .model_io import load_model

    check_limit("--steps", args.steps)
    check_limit("--paths", args.paths)
    if args.sequence and args.sample is None:
        raise CommandError("--sequence needs --sample FILE of shape (time, batch, *features)")
    if args.out:  # before the work: a path that cannot be written fails now
        from .._io import check_writable

        check_writable(args.out, "--out")
    model = load_model(args.model, trust_pickle=args.trust_pickle)
    if args.sample is not None:
        sample = _load_sample(args.sample)
    else:
        sample = _normal_sample(model, args.normal, args.input_shape, args.seed)
    dtype = {"model": None, "float32": torch.float32, "float64": torch.float64}[args.dtype]
    try:
        ds = diagnose(
            model,
            sample,
            steps=None if args.sequence else args.steps,
            theory=args.theory,
            rule=args.rule,
            dtype=dtype,
            paths=args.paths,
            seed=args.seed,
        )
    except RuntimeError as exc:  # torch's own errors, e.g. a sample of the wrong shape
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = f"--sample {args.sample}" if args.sample is not None else "the --normal inputs"
        raise CommandError(
            f"the model cannot run on {where} of shape {tuple(sample.shape)} ({first}); "
            "give a batch shaped (batch, *the model's input features)"
        ) from None
    print(summary_table(ds))
    if args.out:
        from .._io import save_or_rescue

        path = save_or_rescue(lambda p: save_dataset(ds, p), args.out, "--out", prefix="diagnose")
        print(f"wrote {path}")
    return 0


def summary_table(ds) -> str:
    """One line per layer: neurons, spikes per step (batch mean), var_u, theory."""
    has_theory = "theory_var_u" in ds
    head = f"{'layer':>5} {'module':>10} {'neurons':>8} {'spikes/step':>12} {'silent':>7}"
    head += f" {'var_u(T-1)':>11} {'rate':>8}"
    if has_theory:
        head += f" {'theory var_u':>13} {'theory rate':>12}"
    lines = [head, "-" * len(head)]
    last = ds.isel(time=-1)
    for i, layer in enumerate(ds["layer"].values):
        sel = ds.isel(layer=i)
        spikes = float(sel["spikes"].mean(("rep", "time")))
        silent = float((sel["spikes"].sum("time") == 0).mean("rep"))
        line = (
            f"{int(layer):>5} {str(sel['module'].item()):>10} {int(sel['neurons']):>8} "
            f"{spikes:>12.1f} {silent:>7.0%} {float(last['var_u'].isel(layer=i).mean()):>11.4g}"
            f" {float(sel['rate'].mean()):>8.4f}"
        )
        if has_theory:
            tv = float(last["theory_var_u"].isel(layer=i))
            tr = float(sel["theory_rate"].mean())
            line += f" {tv:>13.4g} {tr:>12.4f}"
        lines.append(line)
    lines.append(
        f"(batch of {ds.sizes['rep']}, {ds.sizes['time']} steps; silent = share of inputs for "
        f"which the layer never spikes; theory: {ds.attrs.get('theory', 'none')})"
    )
    return "\n".join(lines)
