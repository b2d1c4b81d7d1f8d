"""``snninit sweep``: run (or resume) a parameter sweep into a Zarr store, or report on one."""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings

import numpy as np

from .._cliutil import add_network_arguments, config_from_args

__all__ = ["register", "parse_over"]

_FLOAT_FIELDS = ("theta", "beta", "alpha", "rho", "adaptation", "recurrent_fraction")
_INT_FIELDS = ("width", "n", "layers", "steps")
_BOOL_FIELDS = ("reset_decay",)
_KINDS = ("simulation", "mean_field", "finite_size", "finite_size_expansion", "dynamic_mean_field")
_DEFAULT_PATHS = 100_000


def register(subparsers) -> None:
    """Add ``sweep`` to the ``snninit`` command."""
    p = subparsers.add_parser(
        "sweep",
        help="simulate (or predict) over a parameter grid into a resumable Zarr store",
        description=(
            "Run every point of a parameter grid, one task per (point, chunk of repetitions), "
            "in-process, on a local dask cluster (--workers) or on a running dask scheduler "
            "(--scheduler). Finished tasks are written to --store as they complete; running "
            "the same command again resumes. --status reports what a store holds."
        ),
    )
    p.add_argument(
        "--over",
        action="append",
        default=[],
        metavar="NAME=VALUES",
        help="a swept parameter: NAME=START:STOP:NUM (inclusive, evenly spaced) or "
        "NAME=V1,V2,... (repeatable; NAME in theta, beta, width, n, layers, steps, init, "
        "reset, input_scale, reset_decay, weights)",
    )
    p.add_argument("--store", required=True, metavar="PATH", help="Zarr store directory")
    p.add_argument("--status", action="store_true", help="report what the store holds and exit")
    add_network_arguments(p)
    g = p.add_argument_group("sweep")
    g.add_argument(
        "--kind",
        default="simulation",
        choices=_KINDS,
        help="simulate, or evaluate this prediction on the grid (default: %(default)s)",
    )
    g.add_argument("--reps", type=int, default=20, help="repetitions per grid point (simulation)")
    g.add_argument("--seed", type=int, default=0, help="master seed (default: %(default)s)")
    g.add_argument("--method", default="dense", help="simulation method: dense | gram")
    g.add_argument(
        "--chunk-reps", type=int, default=None, help="repetitions per task (default min(reps, 100))"
    )
    g.add_argument(
        "--paths",
        type=int,
        default=None,
        help=f"sample paths of --kind dynamic_mean_field (default: {_DEFAULT_PATHS})",
    )
    e = g.add_mutually_exclusive_group()
    e.add_argument("--scheduler", metavar="ADDRESS", help="dask scheduler, e.g. tcp://host:8786")
    e.add_argument("--workers", type=int, help="start a local dask cluster with N workers")
    g.add_argument("--output", metavar="FILE.nc", help="also save the finished sweep as netCDF")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _range_values(name: str, text: str) -> list[float]:
    parts = text.split(":")
    if len(parts) != 3:
        raise ValueError(f"--over {name}: a range is START:STOP:NUM; got {text!r}")
    try:
        start, stop = float(parts[0]), float(parts[1])
        num = int(parts[2])
    except ValueError:
        raise ValueError(
            f"--over {name}: START and STOP must be numbers and NUM an integer; got {text!r}"
        ) from None
    from ..grid import MAX_GRID_POINTS

    if not (math.isfinite(start) and math.isfinite(stop)):
        raise ValueError(f"--over {name}: START and STOP must be finite; got {text!r}")
    if not 1 <= num <= MAX_GRID_POINTS:  # before linspace allocates NUM values
        raise ValueError(
            f"--over {name}: NUM must be an integer in [1, {MAX_GRID_POINTS}] (the most "
            f"points a sweep may have); got {num}"
        )
    # 12 significant digits: 0:1.2:13 gives 0.3, not 0.30000000000000004
    return [float(f"{x:.12g}") for x in np.linspace(start, stop, num)]


def parse_over(items: list[str]) -> dict[str, list]:
    """Parse repeated ``NAME=VALUES`` options into the ``over`` mapping of a sweep."""
    over: dict[str, list] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name or not text:
            raise ValueError(
                f"--over must look like NAME=START:STOP:NUM or NAME=V1,V2; got {item!r}"
            )
        if name in over:
            raise ValueError(f"--over {name} given twice")
        if ":" in text:
            if name not in _FLOAT_FIELDS + _INT_FIELDS:
                raise ValueError(f"--over {name}: ranges START:STOP:NUM are for numbers only")
            values: list = _range_values(name, text)
        else:
            values = [v.strip() for v in text.split(",") if v.strip()]
        if name in _FLOAT_FIELDS:
            try:
                values = [float(v) for v in values]
            except ValueError:
                raise ValueError(f"--over {name}: values must be numbers; got {text!r}") from None
        elif name in _INT_FIELDS:
            ints = []
            for v in values:
                try:
                    f = float(v)
                except ValueError:
                    raise ValueError(
                        f"--over {name}: values must be integers; got {text!r}"
                    ) from None
                if f != round(f):
                    raise ValueError(f"--over {name}: values must be integers; got {v!r}")
                ints.append(int(round(f)))
            values = ints
        elif name in _BOOL_FIELDS:
            table = {"true": True, "1": True, "false": False, "0": False}
            if any(str(v).lower() not in table for v in values):
                raise ValueError(f"--over {name}: values must be true or false; got {text!r}")
            values = [table[str(v).lower()] for v in values]
        over[name] = values
    return over


def _print_status(store: str) -> None:
    from ..sweeps import sweep_status

    s = sweep_status(store)  # verified: every chunk decoded and checked against its marker
    dims = " x ".join(f"{d} ({len(v)})" for d, v in s["dims"].items()) or "(no swept dims)"
    what = "simulation" if s["kind"] == "simulation" else f"theory ({s['kind']})"
    print(f"{s['store']}: {what} sweep over {dims}")
    if s["reps"] is not None:
        print(
            f"  {s['reps']} reps per point in chunks of {s['chunk_reps']}, seed {s['seed']}, "
            f"options {s['options']}"
        )
    pct = 100.0 * s["tasks_done"] / s["tasks_total"]
    print(
        f"  tasks done: {s['tasks_done']}/{s['tasks_total']} ({pct:.1f}%); "
        f"points complete: {s['points_done']}/{s['points_total']}"
    )
    if s["complete"]:
        print("  complete (every chunk decoded and matches its completion marker)")
        return
    for name, why in s["damaged_arrays"].items():
        print(f"  damaged array {name}: {why}")
    for row in s["damaged"][:10]:
        print(f"  damaged: task {row['task']} {row['why']}")
    if len(s["damaged"]) > 10:
        print(f"  ... and {len(s['damaged']) - 10} more damaged tasks")
    if s["damaged"] or s["damaged_arrays"]:
        print("  rerun the same sweep command to recompute the damaged tasks")
    shown = s["incomplete"][:10]
    for row in shown:
        where = " ".join(f"{k}={v}" for k, v in row["coords"].items()) or "(base point)"
        print(f"  not complete: {where} ({row['done']}/{row['total']} tasks)")
    if len(s["incomplete"]) > len(shown):
        print(f"  ... and {len(s['incomplete']) - len(shown)} more points")


def _run(args: argparse.Namespace) -> int:
    from .._io import check_scheduler, check_writable, save_or_rescue

    if args.status:
        _print_status(args.store)
        return 0
    cfg = config_from_args(args)
    if args.paths is not None and args.kind != "dynamic_mean_field":
        raise ValueError(
            f"--paths applies to --kind dynamic_mean_field only (the number of sampled "
            f"paths); got --paths {args.paths} with --kind {args.kind}: drop it"
        )
    if args.kind == "dynamic_mean_field":
        from ..config import check_limit

        args.paths = check_limit("--paths", _DEFAULT_PATHS if args.paths is None else args.paths)
    over = parse_over(args.over)
    # before any work: a store or output that cannot be written is one line now
    check_writable(args.store, "--store", kind="dir")
    if args.output:
        check_writable(args.output, "--output")
    client = args.scheduler
    if client is not None:  # fail fast (one line), before any store is touched
        client = check_scheduler(client, "--scheduler")
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        try:
            ds = _sweep(args, cfg, over, client)
        finally:
            for w in caught:
                if str(w.message).startswith("sweep store "):  # a repair: one line, no source
                    print(f"snninit sweep: warning: {w.message}", file=sys.stderr)
                else:
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    seconds = time.perf_counter() - t0
    dims = ", ".join(f"{d}={n}" for d, n in ds.sizes.items())
    print(f"sweep done in {seconds:.1f} s: {dims}; store {args.store}")
    if args.output:
        from .._dataset import save_dataset

        path = save_or_rescue(
            lambda p: save_dataset(ds, p), args.output, "--output", prefix="sweep"
        )
        print(f"saved {path}")
    return 0


def _sweep(args: argparse.Namespace, cfg, over, client):
    from ..cli import CommandError

    try:
        if args.kind == "simulation":
            from .gridsweep import sweep

            ds = sweep(
                cfg,
                over,
                reps=args.reps,
                seed=args.seed,
                method=args.method,
                store=args.store,
                client=client,
                workers=args.workers,
                chunk_reps=args.chunk_reps,
                progress=not args.no_progress,
            )
        else:
            from ..theory.gridsweep import sweep as theory_sweep

            ds = theory_sweep(
                cfg,
                over,
                what=args.kind,
                seed=args.seed,
                paths=args.paths,
                store=args.store,
                client=client,
                workers=args.workers,
                progress=not args.no_progress,
            )
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    return ds
