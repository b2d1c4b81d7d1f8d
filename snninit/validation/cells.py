"""The computation of one cached cell of ``snninit reproduce``: a simulation or a prediction.

This module, and nothing else of the reproduce job's wiring, is part of the
computing code that :func:`snninit._dataset.code_fingerprint` hashes: what
it returns is what a cache file holds. The protocol itself (configuration,
repetitions, seeds, paths) is in each cell's tag
(:meth:`snninit.validation.protocols.Experiment.tag`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import xarray as xr

from ..config import NetworkConfig

if TYPE_CHECKING:
    from .protocols import Experiment

__all__ = ["simulate_cell", "predict_cell"]


def simulate_cell(cfg: NetworkConfig, exp: Experiment, seed: int) -> xr.Dataset:
    """``exp.reps`` networks of ``cfg`` simulated with ``exp.method``."""
    from ..montecarlo import simulate

    return simulate(cfg, reps=exp.reps, seed=seed, method=exp.method)


def predict_cell(what: str, cfg: NetworkConfig, exp: Experiment, seed: int) -> xr.Dataset:
    """Prediction ``what`` (a name or alias in :data:`snninit.theory.PREDICTIONS`) at ``cfg``.

    A sampled prediction (the dynamic mean field) draws ``exp.dmft_paths``
    paths with ``seed``; the exact chain comes with its full spike-count law,
    which gives the exact spread of spikes and rate.
    """
    from ..theory.predictions import get_prediction, predict

    prediction = get_prediction(what)
    if prediction.sampled:
        return predict(cfg, what, seed=seed, paths=exp.dmft_paths)
    if prediction.name == "finite_size":
        from .celltests import _spread_from_distribution

        return _spread_from_distribution(predict(cfg, what, distribution=True))
    return predict(cfg, what)
