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

import functools
import math

import numba
import numpy as np
import xarray as xr
from scipy import special

from .._checks import check_bool, check_choice, check_int, check_real
from .._dataset import finish_dataset, layer_coord, time_coord
from .._resources import check_resources
from ..config import NetworkConfig, check_config
from .meanfield import _one_step_only
from .rules import layer_weight_moments

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


#: Default largest value of the breakdown criterion ``eps_l`` (see
#: :func:`finite_size_expansion`, Notes) at which a layer still counts as described.
EXPANSION_TOL = 0.1

#: The stated error bound of each value of :func:`finite_size_expansion` is this
#: many times the first neglected term of its series (the O(n^-2) term; Notes there).
ERROR_FACTOR = 2.0

#: The survivors' moments that :func:`finite_size_expansion` gives (each with ``<name>_error``).
EXPANSION_OUTPUTS = (
    "var_u_given_alive",
    "var_u_sd_given_alive",
    "rate_given_alive",
    "spikes_given_alive",
    "spikes_sd_given_alive",
)

_BREAKDOWN_CHOICES = ("raise", "truncate", "mask")


@functools.cache
def _g_higher_derivatives():
    """Third and fourth derivatives in ``p`` of ``g`` (:func:`symbolic.expansion_exprs`).

    Lambdified with the arguments of ``symbolic.numeric("g_d1")``:
    ``(p, theta, s2, n, mu)``.
    """
    import sympy as sp

    from . import symbolic

    S = symbolic.symbols()
    g3 = sp.diff(symbolic.expansion_exprs()[2], S["p"])
    g4 = sp.diff(g3, S["p"])
    args = [S[a] for a in ("p", "theta", "s2", "n", "mu")]
    return tuple(sp.lambdify(args, e, modules=["scipy", "numpy"]) for e in (g3, g4))


def _g_derivatives(cfg: NetworkConfig, mbar: np.ndarray, mu, s2) -> list[list[float]]:
    """``g_l^(k)(mbar_l)`` for ``k = 1..4`` and the maps ``l = 0..L-1``, as lists of floats."""
    from . import symbolic

    fns = (symbolic.numeric("g_d1"), symbolic.numeric("g_d2"), *_g_higher_derivatives())
    args = (mbar[:-1], cfg.theta, s2, cfg.width, mu)
    with np.errstate(all="ignore"):  # an extinct mean field (p = 0) gives NaN: a breakdown
        return [np.broadcast_to(np.asarray(f(*args), dtype=float), s2.shape).tolist() for f in fns]


def _expansion_terms(cfg: NetworkConfig, mbar: np.ndarray, mu, s2) -> dict[str, np.ndarray]:
    """Coefficients of the 1/n series of the chain about the mean field, layers ``0..L``.

    With ``p_l = mbar_l + x``, ``E[x] = delta / n + delta2 / n^2``,
    ``Var[x] = sigma / n + sigma2 / n^2`` and third cumulant ``kappa / n^2``
    (each up to ``O(n^-3)``; the fourth central moment is ``3 sigma^2 / n^2``),
    the chain's ``E[p_{l+1} | p_l] = g(p_l)`` and
    ``Var[p_{l+1} | p_l] = G(p_l) / n``, ``G = g (1 - g)``, give, with
    ``a, b, c, d = g', g'', g''', g''''`` at ``mbar_l``, ``q = mbar_{l+1}``,
    ``G' = a (1 - 2q)`` and ``G'' = b (1 - 2q) - 2 a^2``,

        delta'  = a delta + b sigma / 2
        sigma'  = a^2 sigma + q (1 - q)
        delta2' = a delta2 + b (sigma2 + delta^2) / 2 + c (kappa + 3 sigma delta) / 6
                  + d sigma^2 / 8
        sigma2' = a^2 sigma2 + a b (kappa + 2 sigma delta) + b^2 sigma^2 / 2 + a c sigma^2
                  + G' delta + G'' sigma / 2
        kappa'  = a^3 kappa + 3 a^2 b sigma^2 + 3 a G' sigma + q (1 - q) (1 - 2q)

    (Taylor expansions of ``E[g(p)]``, ``Var[g(p)]`` and ``E[G(p)] / n``, and
    the law of total cumulance for ``kappa``), from layer 0's exact
    ``Bin(n, mbar_0)``: ``delta = delta2 = sigma2 = 0``,
    ``sigma = mbar_0 (1 - mbar_0)``, ``kappa = sigma (1 - 2 mbar_0)``. The
    first two lines are the first order (DESIGN 3b), the others its first
    neglected term. NaN propagates from a layer whose mean field is extinct.
    """
    d1, d2, d3, d4 = _g_derivatives(cfg, mbar, mu, s2)
    m0 = float(mbar[0])
    delta, sigma, delta2, sigma2 = [0.0], [m0 * (1.0 - m0)], [0.0], [0.0]
    kappa = [sigma[0] * (1.0 - 2.0 * m0)]
    # plain floats, a linear recursion over L layers; products, not powers (no OverflowError)
    for a, b, c, d, q in zip(d1, d2, d3, d4, mbar[1:].tolist()):
        x, S, x2, S2, K = delta[-1], sigma[-1], delta2[-1], sigma2[-1], kappa[-1]
        G = q * (1.0 - q)
        G1 = a * (1.0 - 2.0 * q)
        G2 = b * (1.0 - 2.0 * q) - 2.0 * a * a
        delta.append(a * x + 0.5 * b * S)
        sigma.append(a * a * S + G)
        delta2.append(
            a * x2 + 0.5 * b * (S2 + x * x) + c * (K + 3.0 * S * x) / 6.0 + d * S * S / 8.0
        )
        sigma2.append(
            a * a * S2
            + a * b * (K + 2.0 * S * x)
            + 0.5 * b * b * S * S
            + a * c * S * S
            + G1 * x
            + 0.5 * G2 * S
        )
        kappa.append(
            a * a * a * K + 3.0 * a * a * b * S * S + 3.0 * a * G1 * S + G * (1.0 - 2.0 * q)
        )
    names = ("delta", "sigma", "delta2", "sigma2", "kappa")
    return {k: np.array(v) for k, v in zip(names, (delta, sigma, delta2, sigma2, kappa))}


def _upcrossing(theta: float, n: int, mu, s2, top) -> np.ndarray:
    """Largest ``p`` in ``(0, top)`` where ``g(p) - p`` crosses 0 upwards, per row; NaN if none.

    ``g(p) = Q((theta - n mu p) / sqrt(n s2 p))``, for weight means ``mu != 0``
    (no closed form): ``g(p) - p`` on a geometric grid of 400 points in
    ``(1e-12 top, top)``, the last sign change from negative to positive refined
    by bisection. A pair of fixed points closer than the grid's spacing (7 %
    relative) can be missed, as next to a saddle-node.
    """
    mu, s2, top = (np.asarray(x, dtype=float).ravel() for x in (mu, s2, top))

    def h(p, m, v):
        with np.errstate(all="ignore"):
            z = (theta - n * m * p) / np.sqrt(n * v * p)
        return special.ndtr(-z) - p

    grid = top[:, None] * np.geomspace(1e-12, 1.0 - 1e-9, 400)[None, :]
    hv = h(grid, mu[:, None], s2[:, None])
    up = (hv[:, :-1] < 0) & (hv[:, 1:] > 0)
    out = np.full(top.shape, np.nan)
    rows = np.flatnonzero(up.any(axis=1))
    if rows.size:
        last = up.shape[1] - 1 - np.argmax(up[rows, ::-1], axis=1)
        lo, hi = grid[rows, last], grid[rows, last + 1]
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            below = h(mid, mu[rows], s2[rows]) < 0
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        out[rows] = 0.5 * (lo + hi)
    return out


def _basin_boundary(cfg: NetworkConfig, mbar: np.ndarray, mu, s2) -> np.ndarray:
    """``p_lower`` of the maps ``g_l`` (``l = 0..L-1``): the extinction basin's edge.

    The unstable fixed point of ``g_l`` (where ``g_l(p) - p`` crosses 0
    upwards) strictly below ``mbar_l``: a network of layer ``l`` whose firing
    fraction is below it is driven towards extinction by the next layers.
    0 where there is none (then only ``p = 0`` bounds the survivors). Zero-mean
    weights: the map's lower branch in closed form (:func:`meanfield.fixed_points`'
    ``v_lower / (n s2)``); otherwise :func:`_upcrossing`.
    """
    from .meanfield import _fixed_point_table

    n, theta = cfg.width, float(cfg.theta)
    m = mbar[:-1]
    out = np.full(m.shape, np.nan)
    zero = mu == 0
    if zero.any():
        v, _ = _fixed_point_table(np.full(int(zero.sum()), theta), n * s2[zero])
        out[zero] = v[:, 2] / (n * s2[zero])
    if (~zero).any():
        out[~zero] = _upcrossing(theta, n, mu[~zero], s2[~zero], m[~zero])
    with np.errstate(invalid="ignore"):
        below = np.isfinite(out) & (out < m * (1.0 - 1e-9))
    return np.where(below, out, 0.0)


def _breakdown_criterion(n: int, mbar, p_lower, terms) -> dict[str, np.ndarray]:
    """The parts of ``eps_l`` and ``eps_l`` itself (layers ``0..L``), inf where undefined.

    See :func:`finite_size_expansion`, Notes. Layer 0 (exactly ``Bin(n, mbar_0)``)
    is described exactly unless it is silent (``mbar_0 = 0``: no survivors).
    """
    delta, sigma, delta2 = terms["delta"], terms["sigma"], terms["delta2"]
    with np.errstate(all="ignore"):  # mbar = 0, overflow past a breakdown
        first = np.abs(delta) / (n * mbar)
        # the layer below's fluctuation reaching the basin of the map that made this
        # layer, and the layer's own reaching p = 0
        basin = np.concatenate([[0.0], sigma[:-1] / (n * (mbar[:-1] - p_lower) ** 2)])
        own = sigma / (n * mbar * mbar)
        ratio = np.where(delta2 == 0, 0.0, np.abs(delta2) / (n * np.abs(delta)))
        eps = np.maximum.reduce([first, basin, own, ratio])
    eps = np.where(np.isfinite(eps) & (mbar > 0), eps, np.inf)
    return {"first": first, "basin": basin, "own": own, "ratio": ratio, "eps": eps}


def _alive_layer_zero(n: int, m0: float) -> tuple[float, float]:
    """``E[p_0 | k_0 > 0]`` and ``Var[p_0 | k_0 > 0]`` of layer 0's exact ``k_0 ~ Bin(n, m0)``.

    The zero-truncated binomial: with ``P0 = (1 - m0)^n``,
    ``E = m0 / (1 - P0)`` and ``Var = m0 (1 - m0) / (n (1 - P0)) - m0^2 P0 / (1 - P0)^2``
    (no cancellation: the second term is the smaller one). NaN if ``m0 = 0``.
    """
    if m0 <= 0.0:
        return math.nan, math.nan
    log_p0 = n * math.log1p(-m0) if m0 < 1.0 else -math.inf
    p0, alive = math.exp(log_p0), -math.expm1(log_p0)
    var = m0 * (1.0 - m0) / (n * alive) - m0 * m0 * p0 / (alive * alive)
    return m0 / alive, max(var, 0.0)


def _expansion_moments(n: int, c: float, s2, m, S) -> dict[str, np.ndarray]:
    """The survivors' moments from ``E[p] = m``, ``Var[p] = S`` (layers ``0..L``).

    Layer 0 (``m[0]``, ``S[0]``: the exact ``Bin(n, mbar_0)``) is conditioned on
    ``k_0 > 0`` exactly (:func:`_alive_layer_zero`), as are the ``var_u`` of
    layer 1 it drives; deeper layers' survivors differ from the series by the
    non-perturbative weight of the extinct networks (Notes of
    :func:`finite_size_expansion`).
    """
    m, S = np.array(m, dtype=float), np.array(S, dtype=float)
    m[0], S[0] = _alive_layer_zero(n, float(m[0]))
    e_k, var_k = n * m, n * n * S
    var_mean, var_sd = _var_u_moments(n, c, s2, e_k[:-1], var_k[:-1])
    return {
        "var_u_given_alive": var_mean,
        "var_u_sd_given_alive": var_sd,
        "rate_given_alive": m,
        "spikes_given_alive": e_k,
        "spikes_sd_given_alive": np.sqrt(var_k),
    }


def finite_size_expansion(
    cfg: NetworkConfig, *, tol: float = EXPANSION_TOL, on_breakdown: str = "raise"
) -> xr.Dataset:
    """First-order 1/n expansion of the chain about the mean field: surviving networks.

    With ``p_l = k_l / n`` (the layer's firing fraction) and
    ``g_l(p) = Q((theta - n mu_l p) / sqrt(n s2_l p))`` (derived and
    differentiated symbolically in :mod:`snninit.theory.symbolic`), the
    mean-field trajectory is ``mbar_0 = Q(theta / c)``,
    ``mbar_{l+1} = g_l(mbar_l)`` (:func:`~snninit.theory.mean_field`'s
    ``rate``, n -> infinity). Expanding ``E[p_{l+1}] = E[g_l(p_l)]`` and
    ``Var[p_{l+1}] = E[g_l (1 - g_l)] / n + Var[g_l(p_l)]`` about it and
    keeping exactly the terms of order 1/n,

        E[p_l] = mbar_l + delta_l / n + O(n^-2),   Var[p_l] = Sigma_l / n + O(n^-2),
        delta_{l+1} = g_l'(mbar_l) delta_l + g_l''(mbar_l) Sigma_l / 2,
        Sigma_{l+1} = g_l'(mbar_l)^2 Sigma_l + mbar_{l+1} (1 - mbar_{l+1}),

    from ``delta_0 = 0``, ``Sigma_0 = mbar_0 (1 - mbar_0)``. The recursion is
    linear in ``(delta, Sigma)`` with coefficients on the n-independent mean
    field, so it cannot oscillate: at a mean-field fixed point it converges
    where ``|g'| < 1`` and grows like ``g'^l`` where the fixed point is
    unstable (Micheli above theta*).
    ``E[k] = n m``, ``E[k^2] = n^2 (S + m^2)`` with ``m = mbar + delta / n``,
    ``S = Sigma / n`` give E and SD of ``var_u`` through the exact chi-square
    mixture of :func:`finite_size`. The O(n^-2) terms ``delta2 / n^2`` and
    ``Sigma2 / n^2`` are computed too (they need ``g'''``, ``g''''`` and the
    third cumulant): not added to the values, they give each value's stated
    error and the breakdown criterion.

    Extinction is not a power series in 1/n (its probability is
    ``exp(-O(n))``), so the series is that of the *surviving* networks, and
    its values carry finite_size's survivors' names: ``var_u_given_alive``,
    ``rate_given_alive``, ... (DESIGN 3d; compare them with ``finite_size``'s
    or a simulation's, see :func:`snninit.validation.compare`). It has no
    ``p_extinct``, so it gives no all-network ``var_u`` or ``rate``
    (``E[v] = E[v | alive] (1 - p_extinct)`` needs it). Its difference from the
    exact survivors is O(n^-2) plus the non-perturbative weight of networks
    crossing into the extinction basin, which the criterion bounds.

    Parameters
    ----------
    cfg : NetworkConfig
        ``steps`` must be 1; per-layer weight moments from
        :func:`~snninit.theory.layer_weight_moments`.
    tol : float
        Largest breakdown criterion ``eps_l`` at which a layer counts as
        described (default ``EXPANSION_TOL = 0.1``), see Notes.
    on_breakdown : {"raise", "truncate", "mask"}
        What to do if some layer exceeds ``tol`` (every layer from the first
        such one on is past the breakdown): raise a ``ValueError`` (default);
        ``"truncate"``: return only the layers before it (the ``layer``
        coordinate stops there; :func:`snninit.validation.compare` aligns on
        the shared layers, so the missing ones are simply not compared);
        ``"mask"``: keep every layer (a fixed grid, as a sweep needs), with the
        survivors' values and their errors NaN from the breakdown on (``compare``
        leaves NaN survivors' cells untested).

    Returns
    -------
    xarray.Dataset
        Over ``(layer, time)`` (time of length 1), the survivors' moments, with
        :func:`finite_size`'s names and attrs: ``var_u_given_alive``,
        ``var_u_sd_given_alive`` (E and SD of ``var_u`` over networks whose layer
        below fired), ``rate_given_alive`` (= ``m``), ``spikes_given_alive``
        (= ``n m``), ``spikes_sd_given_alive`` (= ``sqrt(n Sigma)``); for each,
        ``<name>_error``, its stated error bound (Notes); ``correction``, the
        criterion ``eps_l`` (never masked); ``valid``, True on the layers within
        ``tol``. Attrs: ``valid_layers`` (layers ``0 .. valid_layers - 1`` are
        within ``tol``; ``layers + 1`` when all are), ``breakdown_layer`` (the
        first layer past it, only if there is one), ``expansion_tol`` and
        ``error_factor``.

    Raises
    ------
    ValueError
        If ``cfg.steps != 1``; if ``tol`` or ``on_breakdown`` is invalid; with
        ``on_breakdown="raise"``, if the expansion breaks down at some layer.

    Notes
    -----
    Breakdown criterion: ``eps_l <= tol`` with ``eps_l`` the largest of

    - ``|delta_l| / (n mbar_l)``, the relative first-order correction of the mean;
    - ``Sigma_{l-1} / (n (mbar_{l-1} - p_lower)^2)``: the spread of the layer
      below, in units of its distance to the extinction basin, whose edge
      ``p_lower`` is the unstable (lower) fixed point of the map ``g_{l-1}``
      that made layer ``l`` (0 if there is none). Below ``p_lower`` a network is
      driven to extinction, so the survivors are not the Gaussian ``N(m, S)``
      the series describes once it reaches there; ``Sigma_l / (n mbar_l^2)`` (the
      layer's own spread against ``p = 0``) counts too. ``1 / sqrt(eps)`` is the
      number of SDs between the mean and the basin;
    - ``|delta2_l| / (n |delta_l|)``, the second-order correction of the mean
      against the first-order one: the series must still be shrinking.

    ``eps`` is infinite where the mean field is extinct (``mbar_l = 0``);
    layer 0 is exact (``Bin(n, mbar_0)``). Stated error of each value ``y``:
    ``y_error = ERROR_FACTOR |y^(2) - y|``, twice its first neglected term
    (``y^(2)`` is ``y`` from ``m + delta2 / n^2``, ``S + Sigma2 / n^2``). Twice:
    the remainder of a series whose terms fall at least by half is below its
    first term; where ``eps <= tol`` the ratio of the second- to the
    first-order term is at most ``tol``. Checked against the exact chain
    (``tests/theory/test_expansion.py``, ``benchmarks/expansion_error_table.py``):
    within the valid layers, the error is within ``y_error``.
    """
    cfg = check_config(cfg)
    from .meanfield import mean_field

    tol = check_real("tol", tol, low=0.0, low_open=True)
    on_breakdown = check_choice("on_breakdown", on_breakdown, _BREAKDOWN_CHOICES)
    _one_step_only(cfg, "finite_size_expansion")
    mu, s2 = layer_weight_moments(cfg)
    n, L = cfg.width, cfg.layers
    c = cfg.input_factor
    mbar = mean_field(cfg)["rate"].values[:, 0]
    terms = _expansion_terms(cfg, mbar, mu, s2)
    crit = _breakdown_criterion(n, mbar, _basin_boundary(cfg, mbar, mu, s2), terms)
    eps = crit["eps"]
    bad = np.flatnonzero(eps > tol)
    valid = int(bad[0]) if bad.size else L + 1
    if valid <= L and on_breakdown == "raise":
        raise ValueError(
            f"the 1/n expansion breaks down at layer {valid}: {_why(crit, valid, tol)}; use "
            "finite_size(cfg), the exact chain, or on_breakdown='truncate' (or 'mask')"
        )
    with np.errstate(all="ignore"):  # past a breakdown: dropped or masked below
        first = _expansion_moments(n, c, s2, mbar + terms["delta"] / n, terms["sigma"] / n)
        second = _expansion_moments(
            n,
            c,
            s2,
            mbar + terms["delta"] / n + terms["delta2"] / (n * n),
            np.maximum(terms["sigma"] / n + terms["sigma2"] / (n * n), 0.0),
        )
    kept = np.arange(L + 1) < valid
    keep = slice(0, valid) if on_breakdown == "truncate" else slice(None)
    data = {}
    for name in EXPANSION_OUTPUTS:
        error = ERROR_FACTOR * np.abs(second[name] - first[name])
        data[name] = np.where(kept, first[name], np.nan)
        data[f"{name}_error"] = np.where(kept, error, np.nan)
    dims = ("layer", "time")
    ds = xr.Dataset(
        {name: (dims, x[keep, None]) for name, x in data.items()},
        coords={"layer": layer_coord(L)[keep], "time": time_coord(1)},
    )
    ds["correction"] = (dims, eps[keep, None])
    ds["valid"] = (dims, kept[keep, None])
    _describe_sd(ds)
    for name in EXPANSION_OUTPUTS:
        ds[f"{name}_error"].attrs["long_name"] = (
            f"stated error bound of {name}: {ERROR_FACTOR:g} x its O(n^-2) term"
        )
    ds["correction"].attrs["long_name"] = (
        "breakdown criterion eps: max(|delta|/(n m), Sigma/(n (m - p_lower)^2), "
        "|delta2|/(n |delta|))"
    )
    ds["valid"].attrs["long_name"] = "layer within the expansion's tolerance (correction <= tol)"
    return finish_dataset(
        ds,
        cfg,
        kind="finite_size_expansion",
        method="first-order 1/n expansion about the mean field (DESIGN 3b, 3d)",
        assumptions=(
            f"{_assumptions(cfg)}; first order in 1/n about the mean field, of surviving "
            "networks (extinction is not a power series in 1/n)"
        ),
        expansion_tol=tol,
        error_factor=ERROR_FACTOR,
        valid_layers=valid,
        breakdown_layer=valid if valid <= L else None,
    )


def _why(crit: dict[str, np.ndarray], layer: int, tol: float) -> str:
    """Which part of the criterion ``eps`` exceeded ``tol`` at ``layer``, in words."""
    if not np.isfinite(crit["eps"][layer]):
        return "the mean field is extinct there (firing fraction 0)"
    parts = {
        "first": "its first-order correction is {:.3g} of the leading term",
        "basin": (
            "the fluctuation reaches the extinction basin (its variance is {:.3g} of the "
            "squared distance to the basin's edge)"
        ),
        "own": (
            "the layer's fluctuation reaches zero firing (its variance is {:.3g} of the "
            "squared mean)"
        ),
        "ratio": "its second-order term is {:.3g} of the first-order one",
    }
    name = max(parts, key=lambda k: float(np.nan_to_num(crit[k][layer], nan=np.inf)))
    return parts[name].format(float(crit[name][layer])) + f", > tol = {tol:g}"
