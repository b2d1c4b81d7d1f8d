"""Exact finite-width theory of one time step (DESIGN.md section 3b).

With Gaussian weights drawn afresh for every layer, the membranes of layer
``l`` given that ``k`` neurons of layer ``l - 1`` spiked are *exactly*
i.i.d. ``N(k mu_l, k s2_l)``. So the number of spikes per layer is a Markov
chain on ``{0..n}``:

    k_0 ~ Bin(n, Q(theta / c)),
    k_l | k_{l-1} = k ~ Bin(n, q_l(k)),  q_l(k) = Q((theta - k mu_l) / sqrt(k s2_l)),

with 0 absorbing (no input, ``u = 0 <= theta``, no spike), and the measured
``np.var`` of the membranes satisfies ``var_u_l | k ~ s2_l k chi2_{n-1} / n``
(the sample variance of ``n`` i.i.d. normals). Propagating the
``(n + 1)``-state distribution gives the exact mean and standard deviation
of ``var_u`` across independent networks, the spike count and the
extinction probability of every layer.

For uniform weights (``cfg.weights == "uniform"``) the membranes given
``k`` are sums of ``k`` uniforms, not exactly normal: the chain is then the
Gaussian approximation (recorded in the dataset's ``assumptions`` attr).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import xarray as xr
from scipy import special

from .._checks import check_int, check_real
from .._dataset import finish_dataset, layer_coord, time_coord
from ..config import NetworkConfig
from .meanfield import _one_step_only, input_scale_factor
from .rules import layer_weight_moments, survival

__all__ = ["transition_matrix", "finite_size", "finite_size_expansion", "spike_distribution"]

#: Terms ``P(k) P(j | k)`` smaller than this are dropped in the propagation
#: (each row is renormalised over the kept terms, so no mass is lost).
#: Column 0 (extinction) is always kept exactly.
PROPAGATION_TOL = 1e-30

#: Largest width for which :func:`transition_matrix` builds the dense matrix.
MAX_DENSE_WIDTH = 10_000


def _check_chain_args(n, s2, theta, mu):
    n = check_int("n", n, low=1, high=MAX_DENSE_WIDTH)
    s2 = check_real("s2", s2, low=0.0, low_open=True)
    theta = check_real("theta", theta, low=0.0)
    mu = check_real("mu", mu)
    return n, s2, theta, mu


def _log_binomial_pmf(n: int, log_q, log_r):
    """``log Bin(j; n, q)`` for ``j = 0..n`` (last axis), from ``log q`` and ``log(1 - q)``."""
    j = np.arange(n + 1, dtype=float)
    log_c = special.gammaln(n + 1.0) - special.gammaln(j + 1.0) - special.gammaln(n - j + 1.0)
    # 0 * log(0) = 0: q or 1 - q may underflow to exactly 0
    with np.errstate(invalid="ignore"):
        return log_c + np.where(j > 0, j * log_q, 0.0) + np.where(j < n, (n - j) * log_r, 0.0)


def transition_matrix(n, s2, theta, mu=0.0) -> np.ndarray:
    """Dense transition matrix ``P[k, j] = P(k_l = j | k_{l-1} = k)`` of the chain.

    Parameters
    ----------
    n : int
        Width (neurons per layer = fan-in), in [1, 10000].
    s2 : float
        Weight variance of the layer, > 0.
    theta : float
        Threshold, >= 0.
    mu : float
        Weight mean (default 0).

    Returns
    -------
    ndarray, shape (n + 1, n + 1)
        Row ``k`` is the ``Bin(n, q(k))`` pmf, ``q(k) = Q((theta - k mu) /
        sqrt(k s2))``; row 0 is the point mass at 0. Computed in log space,
        ``log C(n, j) + j log q + (n - j) log(1 - q)``, with ``log q`` and
        ``log(1 - q)`` from :func:`scipy.special.log_ndtr` (no cancellation
        when ``q`` is close to 0 or 1). ``scipy.stats.binom.pmf`` is not used:
        its Boost backend raises ``OverflowError`` for some arguments (e.g.
        ``n = 276``, ``q = Q(2.25 sqrt(276 / k))``), found by hypothesis.
    """
    n, s2, theta, mu = _check_chain_args(n, s2, theta, mu)
    k = np.arange(1, n + 1, dtype=float)
    z = (theta - k * mu) / np.sqrt(k * s2)
    log_p = _log_binomial_pmf(n, special.log_ndtr(-z)[:, None], special.log_ndtr(z)[:, None])
    out = np.zeros((n + 1, n + 1))
    out[0, 0] = 1.0
    out[1:] = np.exp(log_p)
    return out


@numba.njit(cache=True)
def _q_pair(z):
    """``(Q(z), Q(-z))`` without cancellation."""
    s = 1.0 / math.sqrt(2.0)
    return 0.5 * math.erfc(z * s), 0.5 * math.erfc(-z * s)


@numba.njit(cache=True)
def _add_binomial_row(out, weight, n, q, r, tol, buf, up, down):
    """``out += weight * Bin(n, q)`` pmf, terms below ``tol`` dropped, row renormalised.

    ``r = 1 - q`` is passed separately (accurate when q is close to 1).
    Works outwards from the mode with the ratio recurrence; the mode's
    value comes from ``lgamma``. Column 0 is always included exactly.
    ``up[j] = (n - j) / (j + 1)`` and ``down[j] = j / (n - j + 1)`` are the
    pmf ratios without ``q / r`` (precomputed: no division in the loops).
    """
    if q <= 0.0:
        out[0] += weight
        return
    if r <= 0.0:
        out[n] += weight
        return
    mode = int(math.floor((n + 1) * q))
    if mode > n:
        mode = n
    log_q = math.log(q)
    log_r = math.log(r)
    log_mode = (
        math.lgamma(n + 1.0)
        - math.lgamma(mode + 1.0)
        - math.lgamma(n - mode + 1.0)
        + mode * log_q
        + (n - mode) * log_r
    )
    cut = tol / weight
    ratio = q / r
    buf[mode] = math.exp(log_mode)
    total = buf[mode]
    hi = mode
    val = buf[mode]
    while hi < n:
        val = val * up[hi] * ratio
        if val < cut:
            break
        hi += 1
        buf[hi] = val
        total += val
    lo = mode
    val = buf[mode]
    inv = 1.0 / ratio
    while lo > 0:
        val = val * down[lo] * inv
        if val < cut:
            break
        lo -= 1
        buf[lo] = val
        total += val
    zero = 0.0
    if lo > 0:
        log_zero = n * log_r
        if log_zero + math.log(weight) > -700.0:
            zero = math.exp(log_zero)
            total += zero
    scale = weight / total
    for j in range(lo, hi + 1):
        out[j] += buf[j] * scale
    out[0] += zero * scale


@numba.njit(cache=True)
def _propagate(p0, n, theta, s2, mu, tol, keep):
    """Propagate the spike-count distribution ``p0`` through ``len(s2)`` layers.

    Returns ``moments[l] = (P(k=0), E[k], E[k^2])`` for layers ``0..L`` and,
    if ``keep``, the distributions ``dist[l, k]`` (else an empty array).
    """
    L = s2.shape[0]
    moments = np.zeros((L + 1, 3))
    if keep:
        dist = np.zeros((L + 1, n + 1))
    else:
        dist = np.zeros((0, n + 1))
    buf = np.zeros(n + 1)
    up = np.zeros(n + 1)
    down = np.zeros(n + 1)
    for j in range(n + 1):
        up[j] = (n - j) / (j + 1.0)
        down[j] = j / (n - j + 1.0)
    p = p0.copy()
    for layer in range(L + 1):
        m1 = 0.0
        m2 = 0.0
        for k in range(n + 1):
            m1 += k * p[k]
            m2 += k * k * p[k]
        moments[layer, 0] = p[0]
        moments[layer, 1] = m1
        moments[layer, 2] = m2
        if keep:
            dist[layer, :] = p
        if layer == L:
            break
        nxt = np.zeros(n + 1)
        nxt[0] = p[0]
        sd = math.sqrt(s2[layer])
        for k in range(1, n + 1):
            w = p[k]
            if w < tol:
                continue
            z = (theta - k * mu[layer]) / (sd * math.sqrt(k))
            q, r = _q_pair(z)
            _add_binomial_row(nxt, w, n, q, r, tol, buf, up, down)
        p = nxt
    return moments, dist


def _chain(cfg: NetworkConfig, keep: bool):
    _one_step_only(cfg, "finite_size")
    mu, s2 = layer_weight_moments(cfg)
    if np.any(s2 <= 0):
        raise ValueError(f"init {cfg.init!r} gives a zero weight variance: the chain needs s2 > 0")
    n, theta = cfg.width, cfg.theta
    c = input_scale_factor(cfg)
    if c > 0:
        z0 = theta / c
        p0 = np.exp(_log_binomial_pmf(n, special.log_ndtr(-z0), special.log_ndtr(z0)))
    else:  # no input drive: the encoding layer never fires
        p0 = np.zeros(n + 1)
        p0[0] = 1.0
    p0 /= p0.sum()
    moments, dist = _propagate(
        p0,
        n,
        float(theta),
        np.ascontiguousarray(s2),
        np.ascontiguousarray(mu),
        PROPAGATION_TOL,
        keep,
    )
    return mu, s2, c, moments, dist


def _var_u_moments(n, c, s2, e_k, e_k2):
    """Mean and SD of ``var_u`` for layers ``0..L`` given ``E[k]``, ``E[k^2]`` of the layer below.

    ``var_u_l = s2_l k chi2_{n-1} / n`` with ``E[chi2/n] = (n-1)/n`` and
    ``E[(chi2/n)^2] = (n^2 - 1)/n^2``; layer 0 is ``c^2 chi2_{n-1} / n``.
    """
    a1 = (n - 1.0) / n
    a2 = (n * n - 1.0) / (n * n)
    mean = np.empty(len(s2) + 1)
    second = np.empty(len(s2) + 1)
    mean[0], second[0] = c * c * a1, c**4 * a2
    mean[1:] = s2 * e_k * a1
    second[1:] = s2 * s2 * e_k2 * a2
    sd = np.sqrt(np.maximum(second - mean * mean, 0.0))
    return mean, sd


def _assumptions(cfg: NetworkConfig) -> str:
    if cfg.weights == "normal":
        return "exact for Gaussian weights (one time step, fresh weights per layer)"
    return (
        "Gaussian approximation: the membranes given k spikes are sums of k uniform "
        "weights, treated as normal with the same mean and variance"
    )


def _describe_sd(ds: xr.Dataset) -> None:
    docs = {
        "spikes_sd": "standard deviation of the layer's spike count across networks",
        "mean_u_sd": "standard deviation of mean_u across networks",
    }
    for name, doc in docs.items():
        if name in ds:
            ds[name].attrs["long_name"] = doc


def finite_size(cfg: NetworkConfig, *, distribution: bool = False) -> xr.Dataset:
    """Exact prediction of one time step at finite width (the spike-count chain).

    Parameters
    ----------
    cfg : NetworkConfig
        ``steps`` must be 1; per-layer weight moments come from
        :func:`~snninit.theory.layer_weight_moments`.
    distribution : bool
        Also return ``p_spikes`` over ``(layer, time, count)``, the full
        distribution of each layer's spike count.

    Returns
    -------
    xarray.Dataset
        Over ``(layer, time)`` (time of length 1):

        - ``var_u``: E of ``np.var`` of the layer's membranes (layer 0: of
          ``n`` i.i.d. ``N(0, c^2)`` inputs, ``c^2 (n-1)/n``);
        - ``var_u_sd``: its SD across independent networks (and inputs),
          from the mixture ``var_u | k ~ s2 k chi2_{n-1} / n``;
        - ``mean_u``: E of the mean membrane, ``mu_l E[k_{l-1}]``;
        - ``spikes``: expected output spike count, ``rate = spikes / n``;
        - ``p_extinct``: probability that the layer emits no spike;
        - ``spikes_sd``, ``mean_u_sd``: SDs across networks of the spike
          count and of the mean membrane (``N(k mu, k s2 / n)`` given k).

    Notes
    -----
    Cost per layer is the number of (k, j) pairs with
    ``P(k) P(j | k) >= 1e-30`` (about ``(24 sd_k)(24 sd_j)``), far below
    ``(n+1)^2``; dropped terms are returned to their row, extinction terms
    are always kept.
    """
    mu, s2, c, moments, dist = _chain(cfg, distribution)
    n, L = cfg.width, cfg.layers
    p_zero, e_k, e_k2 = moments[:, 0], moments[:, 1], moments[:, 2]
    var_mean, var_sd = _var_u_moments(n, c, s2, e_k[:-1], e_k2[:-1])
    mean_u = np.concatenate([[0.0], mu * e_k[:-1]])
    var_k = np.maximum(e_k2 - e_k * e_k, 0.0)
    # mean over neurons given k: N(k mu, k s2 / n); layer 0: N(0, c^2 / n)
    mean_u_var = np.concatenate([[c * c / n], mu * mu * var_k[:-1] + s2 * e_k[:-1] / n])
    dims = ("layer", "time")
    data = {
        "var_u": (dims, var_mean[:, None]),
        "var_u_sd": (dims, var_sd[:, None]),
        "mean_u": (dims, mean_u[:, None]),
        "rate": (dims, (e_k / n)[:, None]),
        "spikes": (dims, e_k[:, None]),
        "p_extinct": (dims, np.minimum(p_zero, 1.0)[:, None]),
        "spikes_sd": (dims, np.sqrt(var_k)[:, None]),
        "mean_u_sd": (dims, np.sqrt(mean_u_var)[:, None]),
    }
    coords = {"layer": layer_coord(L), "time": time_coord(1)}
    if distribution:
        data["p_spikes"] = (("layer", "time", "count"), dist[:, None, :])
        coords["count"] = np.arange(n + 1)
    ds = xr.Dataset(data, coords=coords)
    _describe_sd(ds)
    if distribution:
        ds["p_spikes"].attrs["long_name"] = "probability that the layer emits `count` spikes"
    return finish_dataset(
        ds,
        cfg,
        kind="finite_size",
        method="exact spike-count Markov chain (DESIGN 3b)",
        assumptions=_assumptions(cfg),
        propagation_tol=PROPAGATION_TOL,
    )


def spike_distribution(cfg: NetworkConfig) -> np.ndarray:
    """The exact distribution of each layer's spike count, shape ``(L + 1, n + 1)``."""
    return _chain(cfg, True)[4]


def finite_size_expansion(cfg: NetworkConfig) -> xr.Dataset:
    """The 1/n expansion of the chain: leading finite-n corrections to E and SD of var_u.

    With ``p_l = k_l / n``, ``m_l = E[p_l]``, ``S_l = Var[p_l]`` and
    ``g_l(p) = Q((theta - n mu_l p) / sqrt(n s2_l p))`` (derived and
    differentiated symbolically in :mod:`snninit.theory.symbolic`):

        m_0 = Q(theta / c),  S_0 = m_0 (1 - m_0) / n,
        m_{l} = g(m_{l-1}) + g''(m_{l-1}) S_{l-1} / 2,
        S_{l} = g'(m_{l-1})^2 S_{l-1} + g(m_{l-1}) (1 - g(m_{l-1})) / n.

    ``E[k] = n m``, ``E[k^2] = n^2 (S + m^2)`` then give E and SD of
    ``var_u`` through the same chi-square mixture as :func:`finite_size`.
    Errors against the exact chain: O(1/n^2) for E[var_u] and for
    Var[var_u] (so O(n^{-3/2}) for its SD), while extinction is negligible;
    the expansion ignores extinction (it diverges once ``m`` nears 0).

    Returns
    -------
    xarray.Dataset
        ``var_u``, ``var_u_sd``, ``rate`` (= ``m``), ``spikes``,
        ``spikes_sd`` (= ``n sqrt(S)``) over
        ``(layer, time)``.
    """
    from . import symbolic

    _one_step_only(cfg, "finite_size_expansion")
    mu, s2 = layer_weight_moments(cfg)
    n, L, theta = cfg.width, cfg.layers, cfg.theta
    c = input_scale_factor(cfg)
    g, g1, g2 = (symbolic.numeric(name) for name in ("g", "g_d1", "g_d2"))
    m = np.empty(L + 1)
    S = np.empty(L + 1)
    m[0] = survival(theta / c) if c > 0 else 0.0
    S[0] = m[0] * (1.0 - m[0]) / n
    with np.errstate(all="ignore"):
        for layer in range(1, L + 1):
            args = (m[layer - 1], theta, s2[layer - 1], n, mu[layer - 1])
            gv, d1, d2 = float(g(*args)), float(g1(*args)), float(g2(*args))
            m[layer] = gv + 0.5 * d2 * S[layer - 1]
            S[layer] = d1 * d1 * S[layer - 1] + gv * (1.0 - gv) / n
    valid = np.isfinite(m) & np.isfinite(S) & (m > 0) & (m <= 1) & (S >= 0)
    if not np.all(valid):
        bad = int(np.flatnonzero(~valid)[0])
        raise ValueError(
            f"the 1/n expansion breaks down at layer {bad} (the firing fraction leaves (0, 1]: "
            "fluctuations are too large or extinction is not negligible); use "
            "finite_size(cfg), the exact chain"
        )
    e_k = n * m
    e_k2 = n * n * (S + m * m)
    var_mean, var_sd = _var_u_moments(n, c, s2, e_k[:-1], e_k2[:-1])
    dims = ("layer", "time")
    ds = xr.Dataset(
        {
            "var_u": (dims, var_mean[:, None]),
            "var_u_sd": (dims, var_sd[:, None]),
            "rate": (dims, m[:, None]),
            "spikes": (dims, e_k[:, None]),
            "spikes_sd": (dims, n * np.sqrt(S)[:, None]),
        },
        coords={"layer": layer_coord(L), "time": time_coord(1)},
    )
    _describe_sd(ds)
    return finish_dataset(
        ds, cfg, kind="finite_size_expansion", method="1/n expansion of the chain (DESIGN 3b)"
    )
