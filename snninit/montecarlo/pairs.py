"""Simulated two-input correlations: one network, two inputs, the same weights.

The Monte Carlo side of :func:`snninit.theory.correlation_map`: every
repetition draws one network (:func:`~snninit.montecarlo.engine.rep_weights`,
the generator of :func:`~snninit.montecarlo.rep_generator`), runs it on both
inputs (:func:`~snninit.montecarlo.engine.forward_sample`, the engine's own
forward pass) and measures, layer by layer, the correlations of the two
responses with :func:`~snninit.models.pair_statistics` on the spikes'
moments over the neurons (:func:`~snninit.models.pair_moments`), the same
function the theory applies to its predicted moments.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .._checks import check_bool
from .._dataset import finish_dataset, layer_coord, time_coord
from .._resources import check_work, inputs_work
from ..config import NetworkConfig, check_config, check_limit
from ..models.inputs import check_pair, inputs_attrs, layer_zero_name
from ..models.statistics import pair_moments, pair_statistics
from .engine import _run_parallel, _weight_moments, forward_sample, rep_generator, rep_weights

__all__ = ["simulate_correlation"]


def simulate_correlation(
    cfg: NetworkConfig,
    inputs=None,
    *,
    input_correlation: float | None = None,
    encode: bool = True,
    reps: int = 20,
    seed: int = 0,
    progress: bool = False,
) -> xr.Dataset:
    """Measured correlation of one network's responses to two inputs, ``reps`` networks.

    Parameters
    ----------
    cfg : NetworkConfig
        A feed-forward network (leaky, synaptic or adaptive neurons).
    inputs : array_like, optional
        A pair ``(2, n_0)`` or ``(2, steps, n_0)``, the same for every network.
    input_correlation : float, optional
        Instead: each network gets its own pair of ``N(0, 1)^width`` inputs of
        correlation ``rho`` (``I_b = rho I_a + sqrt(1 - rho^2) Z``), drawn from
        the repetition's generator after its weights.
    encode : bool
        As for :func:`~snninit.montecarlo.simulate` with inputs.
    reps, seed : int
        Independent networks; repetition ``r`` draws from ``rep_generator(seed,
        r)`` alone, so the numbers do not depend on the thread count.

    Returns
    -------
    xarray.Dataset
        ``similarity``, ``corr_spikes`` over ``(rep, layer, time)``,
        ``corr_counts`` over ``(rep, layer)``, ``rate`` over ``(rep, input,
        layer, time)`` (NaN where a response has no spread, e.g. a silent layer).
    """
    cfg = check_config(cfg)
    if cfg.neuron == "recurrent":
        raise ValueError("simulate_correlation: neuron='recurrent' is not supported; use "
                         "leaky, synaptic or adaptive")
    encode = check_bool("encode", encode)
    reps = check_limit("reps", reps)
    seed = check_limit("seed", seed)
    progress = check_bool("progress", progress)
    x, rho = check_pair(cfg, inputs, input_correlation, encode)
    L, n, T = cfg.layers, cfg.width, cfg.steps
    n0 = n if x is None else x.shape[-1]
    check_work(*inputs_work("simulate", cfg, 2, n0, reps=reps))
    fan_in = np.array([n0] + [n] * (L - 1), dtype=np.int64)
    moments = _weight_moments(cfg, fan_in=fan_in)
    none = (np.zeros(L), np.zeros(L))
    first = 0 if encode else 1
    layers = L + 1 - first
    out = {"similarity": np.zeros((reps, layers, T)), "corr_spikes": np.zeros((reps, layers, T)),
           "corr_counts": np.zeros((reps, layers)), "rate": np.zeros((reps, 2, layers, T))}

    def one(r: int) -> int:
        gen = rep_generator(seed, r)
        mats, _ = rep_weights(cfg, gen, fan_in, moments, none)
        if x is None:
            za, zb = gen.standard_normal(n), gen.standard_normal(n)
            pair = np.stack([za, rho * za + np.sqrt(1.0 - rho * rho) * zb])
            pair = np.ascontiguousarray(np.broadcast_to(pair[:, None, :], (2, T, n)))
        else:
            pair = x
        runs = []
        for b in range(2):
            membranes = [np.empty((T, m)) for m in [n0] + [n] * L]
            spikes = [np.zeros((T, m), dtype=np.uint8) for m in [n0] + [n] * L]
            if not encode:
                spikes[0] = np.ascontiguousarray(pair[b])
            stats = {k: np.zeros((layers, T)) for k in ("mean_u", "var_u", "skew", "kurt")}
            forward_sample(pair[b], mats, [], cfg, encode, membranes, spikes, stats,
                           np.zeros((layers, T), dtype=np.int64))
            runs.append(spikes)
        for row, layer in enumerate(range(first, L + 1)):
            m, c = pair_moments(runs[0][layer], runs[1][layer])
            st = pair_statistics(m, c)
            for v in ("similarity", "corr_spikes", "corr_counts"):
                out[v][r, row] = st[v]
            out["rate"][r, :, row] = m.reshape(2, T)
        return r

    _run_parallel(one, reps, progress, desc="simulate_correlation")
    coords = {"rep": np.arange(reps), "input": ["a", "b"],
              "layer": layer_coord(L)[first:], "time": time_coord(T)}
    ds = xr.Dataset(
        {"similarity": (("rep", "layer", "time"), out["similarity"]),
         "corr_spikes": (("rep", "layer", "time"), out["corr_spikes"]),
         "corr_counts": (("rep", "layer"), out["corr_counts"]),
         "rate": (("rep", "input", "layer", "time"), out["rate"])},
        coords=coords,
    )
    ds["rep"].attrs["long_name"] = "independent network (weights), run on both inputs"
    extra = {"layer_zero": layer_zero_name(encode)}
    if x is None:
        extra["input_correlation"] = rho
    else:
        extra.update(inputs_attrs(inputs, x, encode))
    return finish_dataset(ds, cfg, kind="simulation", seed=seed, method="dense", reps=reps,
                          **extra)
