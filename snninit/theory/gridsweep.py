"""Theory on a parameter grid: the predictions of a Monte Carlo sweep, same dims.

:func:`sweep` evaluates one prediction (``mean_field``, ``finite_size``,
``finite_size_expansion`` or ``dynamic_mean_field``) at every point of the
grid that :func:`snninit.montecarlo.sweep` simulates, with the same runner
(in-process, ``workers=N`` or a dask ``client=``) and the same resumable
store, so that ``snninit.validation.compare(theory_sweep, simulation_sweep)``
compares whole sweeps. The grid and its seeds are :mod:`snninit.grid`, the
runner and the store :mod:`snninit.sweeps` (the design is described there):
this module passes the prediction down as the task function, so nothing here
depends on the Monte Carlo side.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import xarray as xr

from .._checks import check_choice
from ..config import NetworkConfig, check_config, check_limit
from ..grid import make_grid
from ..sweeps.runner import SweepSpec, _qualname, run_sweep
from .predictions import PREDICTIONS, get_prediction
from .predictions import predict as _predict

__all__ = ["sweep", "PREDICTIONS"]


def check_prediction(cfg: NetworkConfig, what: str) -> None:
    """The refusals of prediction ``what`` that depend on the config alone, without computing it.

    :meth:`snninit.theory.Prediction.check` of the registered prediction
    (the one-step predictions refuse ``steps != 1``); refusals that need the
    computation itself surface when the task runs. (``finite_size_expansion``
    breaking down at some layer is not one: a sweep masks those layers, see
    :func:`predict`.)
    """
    get_prediction(what).check(cfg)


def _sampled_paths(paths) -> int:
    """``paths`` checked with :func:`dynamic_mean_field`'s own bounds (``2 * replicates``)."""
    import inspect

    from .dmft import dynamic_mean_field

    replicates = inspect.signature(dynamic_mean_field).parameters["replicates"].default
    return check_limit("paths", paths, low=2 * replicates)


def predict(cfg: NetworkConfig, seed: int, *, what: str, paths: int | None = None) -> xr.Dataset:
    """Evaluate prediction ``what`` at ``cfg`` (one task of a theory sweep).

    Through :func:`snninit.theory.predict`: ``seed`` and ``paths`` go to a
    sampled prediction only. ``finite_size_expansion`` runs with
    ``on_breakdown="mask"``: every grid point keeps all its layers (the
    store's fixed ``layer`` axis), the survivors' values past the point's
    breakdown are NaN (cells that :func:`snninit.validation.compare` leaves
    untested) and ``valid`` says which layers are within the expansion's
    tolerance. A grid crossing the breakdown (in ``theta`` or ``width``) is
    swept instead of refused.
    """
    cfg = check_config(cfg)
    prediction = get_prediction(what)
    if prediction.sampled:
        return _predict(cfg, what, seed=seed, paths=paths)
    if "on_breakdown" in prediction.options:
        return _predict(cfg, what, on_breakdown="mask")
    return _predict(cfg, what)


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
        uses :func:`snninit.grid.point_seed` ``(seed, c)``.
        Ignored by the deterministic predictions.
    paths : int
        Sampled paths of ``dynamic_mean_field`` (ignored otherwise), with its
        bounds (``2 * replicates`` = 16 to 1e9), checked before any work.
    store, client, workers, progress
        As in :func:`snninit.montecarlo.sweep` (resumable Zarr store, dask
        cluster, local cluster, progress bar).
    task : callable, optional
        Replace the prediction: ``task(cfg, seed, what=what, paths=paths)``
        returning a Dataset over ``(layer, time)``.

    Everything that can be checked without computing (the arguments, and at
    every grid point the prediction's own config checks, e.g. ``steps=1``
    for the one-step theories) is checked before the store is touched; a
    refused sweep leaves no store.

    Returns
    -------
    xarray.Dataset
        The prediction's variables (float64) over ``(*over, layer, time)``;
        attrs ``theory=what``, the base config and ``kind``: the registered
        prediction's (:attr:`snninit.theory.Prediction.kind`, as in its
        unswept datasets: ``"dmft"`` for ``dynamic_mean_field``), or
        ``"theory"`` for a ``task`` replacing it.
    """
    cfg = check_config(cfg)
    what = check_choice("what", what, tuple(PREDICTIONS))
    prediction = get_prediction(what)
    grid = make_grid(cfg, over)
    seed = check_limit("seed", seed)
    if prediction.sampled:
        paths = _sampled_paths(paths)
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
        check=(lambda c: check_prediction(c, what)) if task is None else None,
    )
    ds = run_sweep(spec, store=store, client=client, workers=workers, progress=progress)
    if task is None:  # the registered prediction's own kind, as unswept (e.g. "dmft")
        ds.attrs["kind"] = prediction.kind
    return ds
