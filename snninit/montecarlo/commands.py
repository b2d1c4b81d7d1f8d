"""Sub-command ``snninit simulate`` (one config or a paper preset)."""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from .._cliutil import add_network_arguments, config_from_args, network_flags_given

__all__ = ["register"]


def register(subparsers) -> None:
    """Add ``simulate`` to the ``snninit`` command."""
    from .engine import METHODS
    from .presets import PRESETS

    p = subparsers.add_parser(
        "simulate",
        help="exact Monte Carlo simulation of a deep LIF stack (or a paper preset)",
        description=(
            "Simulate independent networks and record var_u, mean_u, spikes, rate, skew, kurt "
            "per repetition, layer and time step. With --preset, run one of the paper's "
            "protocols (all its cells, one dataset with the swept parameters as dims); "
            "otherwise the network given by the flags."
        ),
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="paper protocol: " + "; ".join(f"{k}: {v.title}" for k, v in PRESETS.items()),
    )
    p.add_argument(
        "--method", choices=METHODS, default="dense", help="sampler (default: %(default)s)"
    )
    p.add_argument(
        "--reps", type=int, default=None, help="repetitions (default: 20, or the preset's)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    p.add_argument(
        "--out",
        default=None,
        metavar="FILE.nc",
        help="write the dataset (netCDF, atomically); a preset keeps finished cells in "
        ".FILE.nc.cells/ until done, so an interrupted run resumes",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_network_arguments(p)
    p.set_defaults(func=_run_simulate)


def _run_simulate(args: argparse.Namespace) -> int:
    from .._dataset import save_dataset
    from .engine import simulate
    from .presets import run_preset

    progress = not args.no_progress
    cache = None
    if args.preset is not None:
        given = network_flags_given(args)
        if given:  # the preset fixes the network: a flag would be silently ignored
            raise ValueError(
                f"--preset {args.preset} fixes the network (its cells set width, layers, "
                f"steps, theta, beta, init); drop {', '.join(given)}, or simulate one "
                "network without --preset"
            )
    cfg = None if args.preset is not None else config_from_args(args)
    if args.out:  # before the work: a path that cannot be written fails now
        from .._io import check_writable

        check_writable(args.out, "--out", expected_bytes=_output_bytes(args, cfg))
    start = time.perf_counter()
    if args.preset is not None:
        if args.out:  # finished cells survive an interruption; rerun to resume
            out = Path(args.out)
            cache = out.parent / f".{out.name}.cells"
        ds = run_preset(
            args.preset,
            method=args.method,
            reps=args.reps,
            seed=args.seed,
            progress=progress,
            cache_dir=cache,
        )
    else:
        reps = 20 if args.reps is None else args.reps
        ds = simulate(cfg, reps=reps, seed=args.seed, method=args.method, progress=progress)
    elapsed = time.perf_counter() - start
    what = f"preset {args.preset}" if args.preset else "simulation"
    dims = ", ".join(f"{d}={n}" for d, n in ds.sizes.items())
    print(f"{what} ({args.method}): {dims} in {elapsed:.2f} s")
    last = ds.isel(layer=-1, time=-1)
    extra = [d for d in last["var_u"].dims if d != "rep"]
    summary = last["var_u"].mean("rep")
    if extra:
        print(f"mean var_u at layer {int(ds.layer[-1])}, last step, by {', '.join(extra)}:")
        print(summary.to_pandas().to_string() if summary.ndim <= 2 else summary)
    else:
        print(
            f"layer {int(ds.layer[-1])}, last step: mean var_u = {float(summary):.6g}, "
            f"mean rate = {float(last['rate'].mean()):.6g}"
        )
    if args.out:
        from .._io import save_or_rescue

        # a failure now (disk full, folder gone) keeps the result in the temp folder
        path = save_or_rescue(lambda p: save_dataset(ds, p), args.out, "--out", prefix="simulate")
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
        print(f"wrote {path}")
    return 0


def _output_bytes(args: argparse.Namespace, cfg) -> int:
    """Rough size of the dataset ``simulate`` writes (six float64 variables per cell)."""
    from .presets import PRESETS, preset_configs

    if cfg is not None:
        cells = [cfg]
        reps = 20 if args.reps is None else args.reps
    else:
        cells = [c for _, c in preset_configs(args.preset)]
        reps = PRESETS[args.preset].reps if args.reps is None else args.reps
    reps = reps if isinstance(reps, int) and reps > 0 else 1
    return sum(6 * 8 * reps * (c.layers + 1) * c.steps for c in cells)
