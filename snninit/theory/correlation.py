"""The two-input correlation map: how alike one network's responses to two inputs stay.

For two inputs ``a`` and ``b`` fed to the *same* network, neuron ``i`` of
layer ``l`` gets the drives ``h_a = sum_j W_ij y_a,j`` and ``h_b = sum_j W_ij
y_b,j`` with the same weights. For Gaussian i.i.d. weights and ``n -> inf``
the pair of drive paths ``(h_a^0..h_a^{T-1}, h_b^0..h_b^{T-1})`` is jointly
Gaussian over the neurons, of mean ``n mu [m_a; m_b]`` and covariance
``n s2 C`` with

    C = [[C_aa, C_ab], [C_ba, C_bb]],   C_xy(t, t') = E_j[y_x,j^t y_y,j^t'],

the joint (uncentred) spike moments of layer ``l - 1`` over a path of
``2T`` steps. This is the dynamic mean field (:mod:`~snninit.theory.dmft`)
on a ``2T``-step path whose neuron restarts from zero at step ``T``: the
same kernel (:func:`~snninit.theory.dmft_paths._periodic_layer_kernel`),
the same randomised-QMC paths, the same per-layer weight moments. From the
moments, :func:`~snninit.models.pair_statistics` gives the correlations of
the two responses (the simulation,
:func:`~snninit.montecarlo.simulate_correlation`, measures them with the
same function).

Layer 0 is exact for a real pair (the encoding layer on each input, or the
inputs themselves); for a synthetic pair of ``N(0, 1)`` inputs of
correlation ``rho`` (``I_a, I_b`` jointly normal per neuron, constant over
time, the paper's input law for each of them) it is sampled like the other
layers (drive covariance ``c^2 [[1, rho], [rho, 1]]`` on every pair of steps).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from threadpoolctl import threadpool_limits

from .._checks import check_bool, check_numeric_array, check_real
from .._dataset import finish_dataset, layer_coord, time_coord
from .._resources import check_resources
from ..config import NetworkConfig, check_config, check_limit
from ..models import RESET_CODES
from ..models.inputs import check_pair, inputs_attrs, layer_zero_name, layer_zero_output
from ..models.statistics import pair_moments, pair_statistics
from .dmft import _bias_estimate, _mean_and_se, _membrane_scale
from .dmft_paths import _path_normals, _pca_factor, _periodic_layer_kernel
from .rules import layer_weight_moments

__all__ = ["correlation_map", "correlation_depth_scale"]


#: Paths of the coarse run whose difference estimates the O(1/m) ratio bias.
_COARSE = 8


def _start(cfg: NetworkConfig, x, rho, encode):
    """Layer 0's joint moments ``(m, C)`` (exact for real inputs), or the drive covariance."""
    T = cfg.steps
    if x is not None:
        ya = layer_zero_output(x[0], cfg, encode)
        yb = layer_zero_output(x[1], cfg, encode)
        m, c = pair_moments(ya, yb)
        return m, c, None, x.shape[-1]
    c2 = cfg.input_factor ** 2
    cov0 = c2 * np.kron(np.array([[1.0, rho], [rho, 1.0]]), np.ones((T, T)))
    return None, None, cov0, cfg.width


def _run_layer(cfg, z, drive, cov, raw, out):
    """One layer on the ``2T`` paths of every group: the neuron restarts at step ``T``."""
    K = z.shape[0]
    factor_t = np.empty((K, cov.shape[1], cov.shape[1]))
    for g in range(K):
        factor_t[g] = _pca_factor(cov[g]).T
    if not (np.all(np.isfinite(factor_t)) and np.all(np.isfinite(drive))):
        raise ValueError(f"correlation_map: the drive exceeds the float range for init="
                         f"{cfg.init!r}, theta={cfg.theta!r}; use a smaller theta or another init")
    alpha = cfg.neuron_params[0]
    scale = _membrane_scale(factor_t, np.abs(drive), cfg.beta, cfg.theta, alpha)
    with threadpool_limits(1):
        _periodic_layer_kernel(z, factor_t, drive, 1.0 / scale, cfg.beta, cfg.theta,
                               RESET_CODES[cfg.reset], cfg.reset_decay, raw, out,
                               cfg.neuron_code, *cfg.neuron_params, cfg.steps)


def _pair_groups(cfg: NetworkConfig, z: np.ndarray, start, mu, s2, fan_in):
    """Per-group ``(m, C)`` of every layer: arrays ``(K, L + 1, 2T)``, ``(K, L + 1, 2T, 2T)``."""
    K, _, T2 = z.shape
    L = cfg.layers
    first = np.zeros((K, L + 1, T2))
    corr = np.zeros((K, L + 1, T2, T2))
    raw = np.empty((K, 4, T2))
    out = np.empty((K, T2, T2))
    m0, c0, cov0, _ = start
    if cov0 is None:
        first[:, 0] = m0
        corr[:, 0] = c0
    else:
        _run_layer(cfg, z, np.zeros((K, T2)), np.broadcast_to(cov0, (K, T2, T2)), raw, out)
        corr[:, 0] = out
        first[:, 0] = np.diagonal(out, axis1=1, axis2=2)
    for layer in range(1, L + 1):
        k = float(fan_in[layer - 1])
        drive = k * mu[layer - 1] * first[:, layer - 1]
        _run_layer(cfg, z, drive, k * s2[layer - 1] * corr[:, layer - 1], raw, out)
        corr[:, layer] = out
        first[:, layer] = np.diagonal(out, axis1=1, axis2=2)
    return first, corr


def _group_statistics(cfg, first, corr):
    T = cfg.steps
    stats = pair_statistics(first, corr)
    rate = np.diagonal(corr, axis1=-2, axis2=-1)  # spikes are 0/1: E[s^2] = E[s]
    stats["rate"] = np.stack([rate[..., :T], rate[..., T:]], axis=1)  # (K, input, L+1, T)
    return stats


def correlation_map(
    cfg: NetworkConfig,
    inputs=None,
    *,
    input_correlation: float | None = None,
    encode: bool = True,
    paths: int = 2**14,
    seed: int = 0,
    replicates: int = 8,
) -> xr.Dataset:
    """Predicted correlation of one network's responses to two inputs, per layer and step.

    Parameters
    ----------
    cfg : NetworkConfig
        A feed-forward network (``neuron`` leaky, synaptic or adaptive);
        per-layer weight moments of :func:`~snninit.theory.layer_weight_moments`
        (the first layer at fan-in ``n_0`` for real inputs).
    inputs : array_like, optional
        A pair: ``(2, n_0)`` constant over time or ``(2, steps, n_0)``.
    input_correlation : float, optional
        Instead of ``inputs``: ``rho`` in [-1, 1] of a synthetic pair of
        ``N(0, 1)`` inputs (per neuron ``corr(I_a, I_b) = rho``, constant in time).
    encode : bool
        With ``inputs``: layer 0 is the encoding layer on ``c x`` (True) or
        the inputs themselves, fed to the first weight layer (False).
    paths, seed, replicates : int
        Sampled ``2T``-step paths per layer, split into ``replicates``
        independent scrambled-Sobol groups (the standard errors).

    Returns
    -------
    xarray.Dataset
        Over ``(layer, time)``: ``similarity``, ``corr_spikes`` and, over
        ``layer``, ``corr_counts`` (:func:`~snninit.models.pair_statistics`);
        ``rate`` over ``(input, layer, time)``. Each ``<v>_se`` is the
        standard error over the groups combined with the estimated O(1/m)
        bias of the ratio estimates (from a run on 1/8 of the paths); 0
        where exact (layer 0 of a real pair). ``n -> inf``: a finite network's
        correlations carry an O(1/n) bias.

        A statistic is NaN where a response is silent (no spread), and also
        where a single group of paths lost a weak response (each group is in
        effect a network of ``paths / replicates`` neurons and can go
        extinct where the limit does not: use more paths); ``<v>_se`` alone
        is NaN where only the coarse run lost it (its bias, and so the
        error, cannot be stated).

    Raises
    ------
    ValueError
        For a bad pair, ``rho`` outside [-1, 1], a recurrent network, or work
        over the time or memory limits.
    """
    cfg = check_config(cfg)
    if cfg.neuron == "recurrent":
        raise ValueError("correlation_map: neuron='recurrent' is not supported (its "
                         "recurrent input couples the two responses' histories differently); "
                         "use leaky, synaptic or adaptive")
    encode = check_bool("encode", encode)
    replicates = check_limit("replicates", replicates)
    paths = check_limit("paths", paths, low=2 * replicates * _COARSE)
    seed = check_limit("seed", seed)
    x, rho = check_pair(cfg, inputs, input_correlation, encode)
    T, L = cfg.steps, cfg.layers
    # the cost of a dynamic mean field over 2T steps, checked before any work
    check_resources("dynamic_mean_field", cfg.replace(steps=min(2 * T, 10_000)), paths=paths,
                    replicates=replicates, check_paths=True)
    start = _start(cfg, x, rho, encode)
    fan_in = np.array([start[3]] + [cfg.width] * (L - 1), dtype=np.int64)
    mu, s2 = layer_weight_moments(cfg, fan_in=fan_in)
    per_group = paths // replicates
    z = _path_normals(2 * T, per_group, replicates, seed)
    full = _group_statistics(cfg, *_pair_groups(cfg, z, start, mu, s2, fan_in))
    m_coarse = per_group // _COARSE
    coarse = _group_statistics(
        cfg, *_pair_groups(cfg, np.ascontiguousarray(z[:, :m_coarse]), start, mu, s2, fan_in))
    data = {}
    dims = {"similarity": ("layer", "time"), "corr_spikes": ("layer", "time"),
            "corr_counts": ("layer",), "rate": ("input", "layer", "time")}
    for v, d in dims.items():
        est, se = _mean_and_se(full[v])
        bias = _bias_estimate(full[v], coarse[v], per_group / m_coarse)
        se = np.hypot(se, bias)  # exact cells: both 0
        data[v] = (d, est)
        data[f"{v}_se"] = (d, se)
    ds = xr.Dataset(data, coords={"input": ["a", "b"], "layer": layer_coord(L),
                                  "time": time_coord(T)})
    if not encode:  # layer 0 is the data itself
        ds = ds.sel(layer=slice(1, None))
    _describe(ds)
    extra = {"paths": per_group * replicates, "replicates": replicates, "seed": seed,
             "layer_zero": layer_zero_name(encode)}
    if x is None:
        extra["input_correlation"] = rho
        extra["inputs"] = "synthetic pair of N(0, 1) inputs of correlation input_correlation"
    else:
        extra.update(inputs_attrs(inputs, x, encode))
    return finish_dataset(ds, cfg, kind="correlation_map",
                          method="two-input dynamic mean field (2T-step Gaussian paths)",
                          **extra)


def _describe(ds: xr.Dataset) -> None:
    docs = {
        "similarity": "cosine of the two spike patterns at this step (the next layer's "
                      "drive correlation)",
        "corr_spikes": "correlation over neurons of the two spike patterns at this step",
        "corr_counts": "correlation over neurons of the two spike counts over all steps",
        "rate": "rate of the layer under each input",
    }
    for v, doc in docs.items():
        ds[v].attrs.update(long_name=doc, units="1")
        ds[f"{v}_se"].attrs.update(
            long_name=f"standard error of {v} (groups of paths, with the O(1/m) bias; 0 where "
                      "exact)", units="1")
    ds["input"].attrs.update(long_name="which input of the pair")


def correlation_depth_scale(upper, lower, errors, *, sigmas: float = 5.0) -> float:
    """Correlation depth scale: layers over which two trajectories' gap shrinks by ``e``.

    ``upper``, ``lower`` (layers,): one correlation (e.g. ``corr_counts``)
    through depth from two different input correlations, ``errors`` the
    standard error of their difference per layer. The correlation map
    contracts towards its fixed point as ``|upper_l - lower_l| ~ exp(-l /
    xi)``; ``xi = -1 / slope`` of a least-squares line through ``log |upper -
    lower|`` over the layers where the gap exceeds ``sigmas`` errors (no fixed
    point needs to be known or reached). ``inf`` when the gap does not shrink,
    NaN with fewer than 2 such layers.
    """
    sigmas = check_real("sigmas", sigmas, low=0.0)
    arrays = [check_numeric_array(n, v, "a 1-D numeric array (one value per layer)")
              for n, v in (("upper", upper), ("lower", lower), ("errors", errors))]
    if any(a.ndim != 1 for a in arrays) or len({a.shape for a in arrays}) > 1:
        raise ValueError("upper, lower and errors must be 1-D arrays of one length (layers); "
                         f"got shapes {', '.join(str(a.shape) for a in arrays)}")
    upper, lower, errors = (a.astype(float) for a in arrays)
    gap = np.abs(upper - lower)
    ok = np.isfinite(gap) & (gap > sigmas * errors)
    layers = np.arange(gap.size)[ok]
    if layers.size < 2:
        return math.nan
    slope = np.polyfit(layers, np.log(gap[ok]), 1)[0]
    return math.inf if slope >= 0 else float(-1.0 / slope)
