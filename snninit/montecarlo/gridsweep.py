"""The simulation sweep: :func:`sweep` simulates a grid of networks, resumably and distributed.

Point ``c`` of the grid is ``simulate(cfg_c, reps, seed=point_seed(seed, c))``
exactly, whatever the chunking, scheduling, retries or resumption. The grid
and its seeds are :mod:`snninit.grid`; the runner and the verified Zarr store
are :mod:`snninit.sweeps` (the design is described there); this module holds
the task function (:func:`simulate_chunk`), the engine's checks of every grid
point before any work, and the entry point. The names of the grid, runner and
store are importable from here too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import xarray as xr

from .._checks import check_choice
from ..config import NetworkConfig, check_config, check_limit
from ..grid import MAX_GRID_POINTS, SWEEPABLE, Grid, make_grid, point_seed
from ..sweeps.runner import (
    SweepSpec,
    Task,
    _qualname,
    execute_task,
    open_sweep,
    run_sweep,
    sweep_status,
)
from ..sweeps.store import (  # noqa: F401 - _digest, _explain_mismatch: importable as before
    STORE_FORMAT,
    StoreDamagedError,
    SweepStore,
    _digest,
    _explain_mismatch,
)
from ..sweeps.verify import StoreCheck, verify_store

__all__ = [
    "sweep",
    "open_sweep",
    "sweep_status",
    "verify_store",
    "point_seed",
    "simulate_chunk",
    "check_simulation",
    "check_chunk_resources",
    "SWEEPABLE",
    "MAX_GRID_POINTS",
    # the grid, the runner and the store, importable from here as before
    "Grid",
    "make_grid",
    "SweepSpec",
    "Task",
    "execute_task",
    "run_sweep",
    "SweepStore",
    "StoreDamagedError",
    "StoreCheck",
    "STORE_FORMAT",
]


def check_simulation(cfg: NetworkConfig, method: str) -> None:
    """The engine's own refusals of ``(cfg, method)``, without simulating anything.

    ``method='gram'`` with non-Gaussian weights (raised by
    :func:`~snninit.montecarlo.simulate` itself, before any work) and weights
    whose scale would overflow the membranes (the engine's weight-moment check).
    """
    cfg = check_config(cfg)
    from . import engine as E

    if method == "gram" and cfg.weights != "normal":
        E.simulate(cfg, reps=1, seed=0, method=method)  # raises the engine's ValueError first
    E._weight_moments(cfg)


def check_chunk_resources(
    points: Sequence[tuple[Mapping[str, Any], NetworkConfig]],
    chunk_reps: int,
    method: str,
    *,
    reps: int | None = None,
    parallel: int = 1,
    threads: int | None = None,
    resumable: bool = True,
    total: bool = True,
) -> None:
    """:func:`~snninit._resources.check_runs` of the tasks of a simulation sweep.

    A task simulates ``chunk_reps`` repetitions of one grid point through
    :func:`~snninit.montecarlo.engine.simulate_range`, which skips the checks
    inside ``simulate``; so, before any task runs: one chunk of the largest
    grid point (by estimated memory; ``points`` are ``(coords, cfg)``) must
    fit in the free memory, the slowest chunk must stay within the time of
    one run (:func:`snninit._resources.max_seconds`), and the whole sweep
    (``ceil(reps / chunk_reps)`` tasks per point, ``parallel`` at a time,
    each on ``threads`` threads) within the total a resumable job may take
    (only what one run may when ``resumable`` is False: no store; not
    checked with ``total=False``, a cluster of unknown size). Raises a
    one-line ``ValueError`` naming the grid point, or the sweep's estimate
    and how to shorten it.
    """
    from .._resources import check_runs

    if not points:
        return
    per_point = 1 if reps is None else -(-int(reps) // int(chunk_reps))
    runs = []
    for coords, cfg in points:
        where = ", ".join(f"{k}={v}" for k, v in coords.items())
        runs.append((f"grid point {where}" if coords else "", cfg, per_point))
    options: dict[str, Any] = {"reps": chunk_reps, "method": method}
    if threads is not None:
        options["threads"] = threads
    check_runs(
        "simulate",
        runs,
        parallel=parallel,
        resumable=resumable,
        job="the sweep",
        total_knob=(
            "sweep fewer points or reps"
            + (", use method='gram' (--method gram)" if method == "dense" else "")
            + ", or spread it over more workers (workers=/--workers, a dask cluster)"
        ),
        run_knob="smaller chunks (--chunk-reps)",
        total_limit=None if total else math.inf,
        **options,
    )


def simulate_chunk(
    cfg: NetworkConfig, seed: int, reps: Sequence[int], method: str = "dense"
) -> xr.Dataset:
    """Repetitions ``reps`` (a range) of ``simulate(cfg, reps=..., seed=seed, method=method)``.

    The engine gives repetition ``r`` its own generator
    (``rep_generator(seed, r)``), so repetitions ``a..b-1`` can be drawn
    without the ones before ``a``: the result equals
    ``simulate(cfg, reps=b, seed=seed, method=method).isel(rep=slice(a, b))``
    (a test checks this), at the cost of ``b - a`` repetitions
    (:func:`snninit.montecarlo.engine.simulate_range`).
    """
    from . import engine as E

    start, stop = int(reps[0]), int(reps[-1]) + 1
    check_simulation(cfg, method)
    return E.simulate_range(cfg, start, stop, seed, method)


def sweep(
    cfg: NetworkConfig,
    over: Mapping[str, Iterable[Any]],
    *,
    reps: int,
    seed: int = 0,
    method: str = "dense",
    store: str | os.PathLike | None = None,
    client: Any = None,
    workers: int | None = None,
    chunk_reps: int | None = None,
    progress: bool = False,
    task: Callable[..., xr.Dataset] | None = None,
) -> xr.Dataset:
    """Simulate ``cfg`` on every point of a parameter grid, resumably and optionally distributed.

    Parameters
    ----------
    cfg : NetworkConfig
        The base network; every grid point replaces the swept fields.
    over : mapping of str to list
        Swept fields and their values, e.g. ``{"theta": [0, 0.5, 1],
        "init": ["micheli", "kaiming"]}``; keys from :data:`SWEEPABLE`
        (``n`` is an alias of ``width`` whose dim is called ``n``). The
        result has one dim per key, in this order.
    reps : int
        Independent networks per grid point (the ``rep`` dim).
    seed : int
        Master seed. Point ``c`` is ``simulate(cfg_c, reps,
        seed=point_seed(seed, c), method=method)`` exactly, whatever the
        chunking, scheduling, retries or resumption.
    method : {"dense", "gram"}
        Passed to :func:`snninit.montecarlo.simulate`.
    store : path, optional
        Zarr directory. Finished tasks are written as they complete; rerunning
        the same sweep skips them, after verifying every chunk against its
        completion marker: damaged tasks are recomputed (with a
        ``RuntimeWarning`` naming them) and a damaged definition is rewritten
        when the store's markers identify this sweep. A store written by a
        different sweep definition raises ``ValueError``. The store is
        created only when the first result is written, after everything
        (every grid point included) has been validated. Needs ``zarr``.
    client : dask.distributed.Client, str or cluster, optional
        Run the tasks on this cluster: a ``Client``, a scheduler address
        (``"tcp://host:8786"``), or a cluster object (``LocalCluster``,
        ``dask_jobqueue.SLURMCluster``...). ``None`` (default) runs in-process
        without importing dask.
    workers : int, optional
        Start a ``LocalCluster`` with this many single-threaded worker
        processes for the duration of the call (instead of ``client``).
    chunk_reps : int, optional
        Repetitions per task (default ``min(reps, 100)``, or the store's value
        when resuming). Affects scheduling granularity only, never the numbers.
        It sets the memory of a task: one chunk of the largest grid point must
        fit in the free memory (:func:`snninit._resources.check_resources`,
        checked with everything else before the store is touched).
    progress : bool
        Show a progress bar (tqdm) over tasks.
    task : callable, optional
        Replace the engine: ``task(cfg, seed, reps, method=method)`` gets the
        point's seed and a ``range`` of repetition indices and must return a
        Dataset over ``(rep, layer, time)`` with ``len(reps)`` repetitions,
        repetition ``r`` depending on ``(cfg, seed, r)`` only. Its qualified
        name is part of the sweep definition.

    Returns
    -------
    xarray.Dataset
        Variables of :func:`~snninit.montecarlo.simulate` (float64) over
        ``(*over, rep, layer, time)``; with ``valid`` when ``layers`` or
        ``steps`` is swept (NaN padding elsewhere). attrs: the base config,
        ``seed``, ``reps``, ``method``, ``sweep_dims`` and the full
        definition (``sweep_definition``, JSON).
    """
    cfg = check_config(cfg)
    grid = make_grid(cfg, over)
    reps = check_limit("reps", reps)
    seed = check_limit("seed", seed)
    method = check_choice("method", method, ("dense", "gram"))
    fn = simulate_chunk if task is None else task
    spec = SweepSpec(
        kind="simulation",
        base=cfg,
        grid=grid,
        reps=reps,
        seed=seed,
        options={"method": method},
        engine="snninit.montecarlo.simulate" if task is None else _qualname(task),
        fn=fn,
        check=(lambda c: check_simulation(c, method)) if task is None else None,
        resources=(
            (
                lambda c, n: check_chunk_resources(
                    c,
                    n,
                    method,
                    reps=reps,
                    # a local cluster: single-threaded workers; a given cluster: its size
                    # is unknown, so only each task is checked, not the total
                    parallel=1 if workers is None else int(workers),
                    threads=None if client is None and workers is None else 1,
                    resumable=store is not None,
                    total=client is None,
                )
            )
            if task is None
            else None
        ),
    )
    return run_sweep(
        spec, store=store, client=client, workers=workers, chunk_reps=chunk_reps, progress=progress
    )
