"""Theory on a parameter grid: the predictions of a Monte Carlo sweep, same dims.

:func:`sweep` evaluates one prediction (``mean_field``, ``finite_size``,
``finite_size_expansion`` or ``dynamic_mean_field``) at every point of the
grid that :func:`snninit.montecarlo.sweep` simulates, with the same runner
(in-process, ``workers=N`` or a dask ``client=``) and the same resumable
store, so that ``snninit.validation.compare(theory_sweep, simulation_sweep)``
compares whole sweeps. See :mod:`snninit.montecarlo.gridsweep` for the design.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import xarray as xr

from .._checks import check_choice, check_int
from ..config import NetworkConfig

__all__ = ["sweep", "PREDICTIONS"]

#: Predictions that can be swept (names in :mod:`snninit.theory`).
PREDICTIONS = ("mean_field", "finite_size", "finite_size_expansion", "dynamic_mean_field")


def predict(cfg: NetworkConfig, seed: int, *, what: str, paths: int | None = None) -> xr.Dataset:
    """Evaluate prediction ``what`` at ``cfg`` (one task of a theory sweep)."""
    from .. import theory

    fn = getattr(theory, what)
    if what == "dynamic_mean_field":
        return fn(cfg, paths=paths, seed=seed)
    return fn(cfg)


def sweep(
    cfg: NetworkConfig,
    over: Mapping[str, Iterable[Any]],
    *,
    what: str = "finite_size",
    seed: int = 0,
    paths: int = 100_000,
    store: str | os.PathLike | None = None,
    client: Any = None,
    workers: int | None = None,
    progress: bool = False,
    task: Callable[..., xr.Dataset] | None = None,
) -> xr.Dataset:
    """Evaluate a prediction on every point of a parameter grid.

    Parameters
    ----------
    cfg : NetworkConfig
        The base network; every grid point replaces the swept fields.
    over : mapping of str to list
        The grid, as in :func:`snninit.montecarlo.sweep` (same keys, same
        dims, same order).
    what : {"mean_field", "finite_size", "finite_size_expansion", "dynamic_mean_field"}
        Which prediction. One task per grid point.
    seed : int
        Master seed of ``dynamic_mean_field``'s path sampling; point ``c``
        uses :func:`snninit.montecarlo.gridsweep.point_seed` ``(seed, c)``.
        Ignored by the deterministic predictions.
    paths : int
        Sampled paths of ``dynamic_mean_field`` (ignored otherwise).
    store, client, workers, progress
        As in :func:`snninit.montecarlo.sweep` (resumable Zarr store, dask
        cluster, local cluster, progress bar).
    task : callable, optional
        Replace the prediction: ``task(cfg, seed, what=what, paths=paths)``
        returning a Dataset over ``(layer, time)``.

    Returns
    -------
    xarray.Dataset
        The prediction's variables (float64) over ``(*over, layer, time)``;
        attrs ``kind="theory"``, ``theory=what`` and the base config.
    """
    from ..montecarlo.gridsweep import SweepSpec, _qualname, make_grid, run_sweep

    what = check_choice("what", what, PREDICTIONS)
    grid = make_grid(cfg, over)
    seed = check_int("seed", seed, low=0)
    if what == "dynamic_mean_field":
        paths = check_int("paths", paths, low=2, high=10**9)
        options: dict[str, Any] = {"what": what, "paths": paths}
    else:
        options = {"what": what, "paths": None}
        seed = 0  # deterministic: the seed must not make two stores of it differ
    spec = SweepSpec(
        kind=what,
        base=cfg,
        grid=grid,
        reps=None,
        seed=seed,
        options=options,
        engine=f"snninit.theory.{what}" if task is None else _qualname(task),
        fn=predict if task is None else task,
    )
    return run_sweep(spec, store=store, client=client, workers=workers, progress=progress)
