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

from .._checks import check_bool, check_int, check_real
from .._dataset import finish_dataset, layer_coord, time_coord
from .._lazy import lazy_exports
from .._resources import check_resources
from ..config import NetworkConfig, check_config
from .meanfield import _one_step_only
from .rules import layer_weight_moments

__all__ = ["transition_matrix", "finite_size", "spike_distribution", "first_volley_extinction"]

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

    Returns ``moments[l] = (P(k=0), E[k], E[k^2], P(k>0), Var[k], Var[k | k>0])``
    for layers ``0..L`` (``P(k>0)`` summed over ``k >= 1``, not ``1 - P(k=0)``,
    so that it keeps its relative accuracy as extinction becomes certain; the
    variances centred in a second pass, ``sum p_k (k - E[k])^2``, not
    ``E[k^2] - E[k]^2``, which cancels; ``Var[k | k>0]`` is NaN where
    ``P(k>0) = 0``) and, if ``keep``, the distributions ``dist[l, k]`` (else an
    empty array).
    """
    L = s2.shape[0]
    moments = np.zeros((L + 1, 6))
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
        alive = 0.0
        for k in range(1, n + 1):
            m1 += k * p[k]
            m2 += k * k * p[k]
            alive += p[k]
        mean_a = m1 / alive if alive > 0.0 else 0.0
        c2 = p[0] * m1 * m1
        c2_a = 0.0
        for k in range(1, n + 1):
            c2 += p[k] * (k - m1) * (k - m1)
            c2_a += p[k] * (k - mean_a) * (k - mean_a)
        moments[layer, 0] = p[0]
        moments[layer, 1] = m1
        moments[layer, 2] = m2
        moments[layer, 3] = alive
        moments[layer, 4] = c2
        moments[layer, 5] = c2_a / alive if alive > 0.0 else np.nan
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
    c = cfg.input_factor
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


def _var_u_moments(n, c, s2, e_k, var_k):
    """Mean and SD of ``var_u`` for layers ``0..L`` given ``E[k]``, ``Var[k]`` of the layer below.

    ``var_u_l = s2_l k chi2_{n-1} / n`` with ``E[chi2/n] = a1 = (n-1)/n`` and
    ``E[(chi2/n)^2] = a2 = (n^2 - 1)/n^2``; layer 0 is ``c^2 chi2_{n-1} / n``.
    The variance is taken in its centred form,
    ``Var[var_u] = s2^2 (a2 Var[k] + (a2 - a1^2) E[k]^2)`` (two non-negative
    terms, no cancellation), and the SD as ``s2 hypot(sqrt(a2 Var[k]),
    sqrt(a2 - a1^2) E[k])``: nothing is squared that could overflow or
    underflow (``s2`` may be ~1e300 where ``E[k]`` is ~1e-300, Micheli at a
    high threshold), so the SD is finite wherever the mean is.
    """
    a1 = (n - 1.0) / n
    a2 = (n * n - 1.0) / (n * n)
    spread = math.sqrt(a2 - a1 * a1)  # = sqrt(2 (n - 1)) / n
    s2_all = np.concatenate([[c * c], s2])
    e_all = np.concatenate([[1.0], e_k])
    v_all = np.concatenate([[0.0], var_k])
    mean = s2_all * e_all * a1
    sd = s2_all * np.hypot(np.sqrt(a2 * v_all), spread * e_all)
    return mean, sd


def _survivors(n, c, s2, mu, e_k, p_alive, var_k_alive) -> dict[str, np.ndarray]:
    """Survivors' moments for layers ``0..L`` (DESIGN 3d) from the chain's moments.

    ``E[k | k > 0] = E[k] / P(k > 0)`` (the extinct networks add nothing to
    the sum) and ``Var[k | k > 0]`` centred by the chain. ``var_u`` of layer
    ``l`` is positive exactly when ``k_{l-1} > 0``, so its survivors are
    conditioned on the layer below; the spike count on its own layer. NaN
    where the conditioning probability is 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(p_alive > 0, 1.0 / p_alive, np.nan)
    ek_a = e_k * inv
    var_k_a = np.where(np.isfinite(inv), var_k_alive, np.nan)
    var_mean, var_sd = _var_u_moments(n, c, s2, ek_a[:-1], var_k_a[:-1])
    # layer 0 is driven by the input whenever c > 0, whatever the spikes
    if c <= 0:
        var_mean[0] = var_sd[0] = np.nan
    bad = ~np.isfinite(np.concatenate([[1.0], inv[:-1]]))
    var_mean[bad] = var_sd[bad] = np.nan
    spikes_sd = np.sqrt(var_k_a)
    # mean membrane given k: N(k mu, k s2 / n); layer 0: N(0, c^2 / n)
    mean_u = np.concatenate([[0.0], mu * ek_a[:-1]])
    mean_u_sd = _mean_u_sd(n, c, s2, mu, ek_a[:-1], var_k_a[:-1])
    mean_u[bad] = mean_u_sd[bad] = np.nan
    return {
        "var_u_given_alive": var_mean,
        "var_u_sd_given_alive": var_sd,
        "mean_u_given_alive": mean_u,
        "mean_u_sd_given_alive": mean_u_sd,
        "spikes_given_alive": ek_a,
        "spikes_sd_given_alive": spikes_sd,
        "rate_given_alive": ek_a / n,
    }


def _mean_u_sd(n, c, s2, mu, e_k, var_k):
    """SD of ``mean_u`` over layers ``0..L`` (given ``k``: ``N(k mu, k s2 / n)``).

    Layer 0 is ``N(0, c^2 / n)``; the others ``sqrt(mu^2 Var[k] + s2 E[k] / n)``,
    as a ``hypot`` (no squares that overflow).
    """
    return np.concatenate(
        [[c / math.sqrt(n)], np.hypot(np.abs(mu) * np.sqrt(var_k), np.sqrt(s2 * e_k / n))]
    )


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
        "var_u_given_alive": "E of var_u over networks whose layer below emitted a spike",
        "var_u_sd_given_alive": "SD of var_u over networks whose layer below emitted a spike",
        "mean_u_given_alive": "E of mean_u over networks whose layer below emitted a spike",
        "mean_u_sd_given_alive": "SD of mean_u over networks whose layer below emitted a spike",
        "spikes_given_alive": "E of the spike count over networks whose layer emitted a spike",
        "spikes_sd_given_alive": "SD of the spike count over networks whose layer emitted a spike",
        "rate_given_alive": "E of the rate over networks whose layer emitted a spike",
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
          count and of the mean membrane (``N(k mu, k s2 / n)`` given k);
        - survivors (DESIGN 3d): ``var_u_given_alive`` and
          ``var_u_sd_given_alive``, the mean and SD of ``var_u`` over the
          networks whose layer is driven (layer ``l - 1`` emitted at least
          one spike, i.e. ``var_u > 0``), likewise ``mean_u_given_alive``
          and ``mean_u_sd_given_alive``; ``spikes_given_alive``,
          ``spikes_sd_given_alive`` and ``rate_given_alive`` over the
          networks whose layer emits at least one spike. Each is conditioned
          on the event that makes it nonzero, so that together with
          ``p_extinct`` it describes a bimodal population exactly: the
          extinct networks (a point mass at 0) and the survivors. NaN where
          the conditioning event has probability 0 (no survivor can exist).

    Notes
    -----
    Cost per layer is the number of (k, j) pairs with
    ``P(k) P(j | k) >= 1e-30`` (about ``(24 sd_k)(24 sd_j)``), far below
    ``(n+1)^2``; dropped terms are returned to their row, extinction terms
    are always kept.
    """
    cfg = check_config(cfg)
    distribution = check_bool("distribution", distribution)
    # size and time checked before the chain is built (width 10**6 x 10**5 layers: days)
    check_resources("finite_size", cfg, distribution=distribution)
    mu, s2, c, moments, dist = _chain(cfg, distribution)
    n, L = cfg.width, cfg.layers
    p_zero, e_k, p_alive = moments[:, 0], moments[:, 1], moments[:, 3]
    var_k, var_k_alive = moments[:, 4], moments[:, 5]
    var_mean, var_sd = _var_u_moments(n, c, s2, e_k[:-1], var_k[:-1])
    alive = _survivors(n, c, s2, mu, e_k, p_alive, var_k_alive)
    mean_u = np.concatenate([[0.0], mu * e_k[:-1]])
    dims = ("layer", "time")
    data = {
        "var_u": (dims, var_mean[:, None]),
        "var_u_sd": (dims, var_sd[:, None]),
        "mean_u": (dims, mean_u[:, None]),
        "rate": (dims, (e_k / n)[:, None]),
        "spikes": (dims, e_k[:, None]),
        "p_extinct": (dims, np.minimum(p_zero, 1.0)[:, None]),
        "spikes_sd": (dims, np.sqrt(var_k)[:, None]),
        # mean over neurons given k: N(k mu, k s2 / n); layer 0: N(0, c^2 / n)
        "mean_u_sd": (dims, _mean_u_sd(n, c, s2, mu, e_k[:-1], var_k[:-1])[:, None]),
    }
    _refuse_overflow(cfg, {name: values for name, (_, values) in data.items()})
    data.update({name: (dims, values[:, None]) for name, values in alive.items()})
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


def _refuse_overflow(cfg: NetworkConfig, data: dict) -> None:
    """One-line ValueError if a prediction is not finite (beyond the float range).

    The moments above are computed so that nothing overflows on the way to a
    finite result; a non-finite value here is a prediction that itself exceeds
    ~1.8e308 (an extreme rule or threshold), not a number to hand on.
    """
    for name, values in data.items():
        bad = ~np.isfinite(np.asarray(values, dtype=float))
        if bad.any():
            layer = int(np.argwhere(bad)[0][0])
            raise ValueError(
                f"finite_size: {name} at layer {layer} is not finite for init={cfg.init!r}, "
                f"theta={cfg.theta!r}, width={cfg.width} (beyond the float range); use a "
                "smaller theta or another init"
            )


def spike_distribution(cfg: NetworkConfig) -> np.ndarray:
    """The exact distribution of each layer's spike count, shape ``(L + 1, n + 1)``."""
    cfg = check_config(cfg)
    return _chain(cfg, True)[4]


# the 1/n expansion of this chain has its own module (which imports this one); its
# names stay reachable here, resolved on first use
_EXPANSION_NAMES = ("finite_size_expansion", "EXPANSION_TOL", "ERROR_FACTOR", "EXPANSION_OUTPUTS")


__getattr__, _ = lazy_exports(__package__, dict.fromkeys(_EXPANSION_NAMES, "expansion"), __name__)


def first_volley_extinction(cfg: NetworkConfig, inputs, *, encode: bool = True) -> xr.DataArray:
    """Probability that the first step's volley dies by each layer, on real inputs.

    The chain of the module docstring started from the data: given one
    sample's first row ``y`` (the encoding layer's spikes on ``c x^0``, or
    ``x^0`` itself with ``encode=False``), the first hidden layer's membranes
    at ``t = 0`` are exactly i.i.d. ``N(mu_1 sum_j y_j, s2_1 sum_j y_j^2)``
    (Gaussian weights at fan-in ``n_0``, :func:`layer_weight_moments` with
    ``fan_in``), so its spike count is ``Bin(width, q_1)`` with
    ``q_1 = Q((theta - mu_1 sum y) / sqrt(s2_1 sum y^2))`` (0 when ``y = 0``);
    layers ``2..L`` follow the chain at fan-in ``width``.

    Parameters
    ----------
    cfg : NetworkConfig
        The network (its ``steps`` only bound the inputs' time axis; row 0 is used).
    inputs : array_like
        ``(samples, n_0)`` or ``(samples, steps, n_0)``, as for
        :func:`~snninit.theory.dynamic_mean_field`.
    encode : bool
        Layer 0 is the encoding layer on ``c x`` (True) or the inputs themselves.

    Returns
    -------
    xarray.DataArray
        ``p_extinct`` over ``(sample, layer)``, layers ``1..L``: exact for
        Gaussian weights (uniform weights: the Gaussian approximation).
    """
    from ..models.inputs import check_inputs, inputs_attrs, layer_zero_output

    cfg = check_config(cfg)
    encode = check_bool("encode", encode)
    x = check_inputs(inputs, cfg.steps)
    check_resources("finite_size", cfg.replace(steps=1))
    S, _, n0 = x.shape
    L, n, theta = cfg.layers, cfg.width, float(cfg.theta)
    fan_in = np.array([n0] + [n] * (L - 1), dtype=np.int64)
    mu, s2 = layer_weight_moments(cfg, fan_in=fan_in)
    if np.any(s2 <= 0):
        raise ValueError(f"init {cfg.init!r} gives a zero weight variance: the chain needs s2 > 0")
    out = np.empty((S, L))
    for i in range(S):
        y = layer_zero_output(x[i, :1], cfg, encode)[0]
        total, square = float(y.sum()), float(np.dot(y, y))
        p1 = np.zeros(n + 1)
        if square > 0:
            z = (theta - mu[0] * total) / math.sqrt(s2[0] * square)
            p1 = np.exp(_log_binomial_pmf(n, special.log_ndtr(-z), special.log_ndtr(z)))
            p1 /= p1.sum()
        else:  # no input: u = 0 <= theta, no spike
            p1[0] = 1.0
        moments, _ = _propagate(p1, n, theta, np.ascontiguousarray(s2[1:]),
                                np.ascontiguousarray(mu[1:]), PROPAGATION_TOL, False)
        out[i] = np.minimum(moments[:, 0], 1.0)
    da = xr.DataArray(out, dims=("sample", "layer"),
                      coords={"sample": np.arange(S), "layer": np.arange(1, L + 1)},
                      name="p_extinct")
    da.attrs.update(
        long_name="probability that the first step's volley has died by this layer",
        method="exact spike-count chain started from each sample's first input row",
        config=cfg.to_json(), **inputs_attrs(inputs, x, encode),
    )
    return da
