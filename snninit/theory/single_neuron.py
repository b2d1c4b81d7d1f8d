"""Rate theory of one discrete LIF neuron (the neuron of :mod:`snninit.models`).

The firing rate and membrane law of a neuron driven by i.i.d. Gaussian input
(the grid chain over membrane values: exact up to the grid), by a quenched
mean, by shot noise; Siegert's diffusion approximation with the
discrete-monitoring shift; the expected spikes of a collapsing layer; and a
direct simulation of independent neurons. The diffusion rule
(:mod:`snninit.theory.diffusion`) solves these for the weight variance.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, special, stats

from .._checks import check_bool, check_choice, check_int, check_real
from ..config import DEFAULT_BETA, RESETS, check_limit
from ..models import RESET_CODES, lif_layer, membrane_update, spike
from .rules import survival

__all__ = [
    "lif_rate",
    "lif_rate_quenched",
    "shot_noise_rate",
    "siegert_rate",
    "membrane_distribution",
    "collapse_expected_spikes",
    "simulate_single_neuron",
]

_GRID = 400
_CELLS_PER_SD = 8
_MAX_CELLS = 3000


# --------------------------------------------------------------------------
# grid chain
# --------------------------------------------------------------------------


def _g(v, beta, theta, reset):
    """The membrane after the leak and the reset, before the next input (the model, drive 0)."""
    return membrane_update(v, spike(v, theta), 0.0, beta, theta, RESET_CODES[reset], False)


def _grid(lo, hi, theta, cells):
    # cell edges with theta an edge, so that P(u > theta) is a sum of cells
    h = (hi - lo) / cells
    k = math.floor((theta - lo) / h)
    lo = theta - k * h
    edges = lo + h * np.arange(cells + 1)
    return edges, 0.5 * (edges[:-1] + edges[1:])


def _gauss_kernel(edges, shift, means, variances, weights):
    """P[i, j] = P(u in cell j | g(u') = shift[i]) for the input mixture (rows sum to 1)."""
    centres = 0.5 * (edges[:-1] + edges[1:])
    rows, cols = shift.size, centres.size
    P = np.zeros((rows, cols))
    inner = edges[1:-1]
    h = edges[1] - edges[0]
    for m, v, w in zip(means, variances, weights):
        if w <= 0:
            continue
        loc = shift + m
        if v <= 0:  # the atom (no input): spread linearly over the two nearest centres
            pos = np.clip((loc - centres[0]) / h, 0, cols - 1)
            j0 = np.floor(pos).astype(int)
            j1 = np.minimum(j0 + 1, cols - 1)
            frac = pos - j0
            idx = np.arange(rows)
            np.add.at(P, (idx, j0), w * (1 - frac))
            np.add.at(P, (idx, j1), w * frac)
            continue
        cdf = special.ndtr((inner[None, :] - loc[:, None]) / math.sqrt(v))
        cdf = np.concatenate([np.zeros((rows, 1)), cdf, np.ones((rows, 1))], 1)
        P += w * np.diff(cdf, axis=1)  # the outer cells absorb the tails
    return P


def _components(noise, m, v, n, nu, mu_w, s2):
    if noise == "gaussian":
        return [m], [v], [1.0]
    ks = np.arange(int(stats.binom.ppf(1 - 1e-12, n, nu)) + 1)
    pk = stats.binom.pmf(ks, n, nu)
    return list(ks * mu_w), list(ks * s2), list(pk / pk.sum())


def _chain(theta, beta, reset, steps, noise, m, v, n=0, nu=0.0, mu_w=0.0, s2=0.0, cells=_GRID):
    """Grid (edges, centres), transition matrix and the law of ``u^0`` (from rest)."""
    means, variances, weights = _components(noise, m, v, n, nu, mu_w, s2)
    means_a, var_a, w_a = np.array(means), np.array(variances), np.array(weights)
    in_mean = float(np.sum(w_a * means_a))
    in_sd = math.sqrt(max(float(np.sum(w_a * (var_a + means_a**2))) - in_mean**2, 1e-300))
    # A soft reset acts only from u > theta and lands above beta theta - theta + I >= -theta
    # + I, so the membrane stays above the free chain started at -theta: one theta of
    # headroom below the free range suffices.
    pushed = theta if reset == "subtract" else 0.0
    if beta < 1.0:
        centre = in_mean / (1.0 - beta)
        spread = in_sd / math.sqrt(1.0 - beta * beta)
        lo = min(0.0, centre) - pushed - 7.0 * spread
    else:
        centre = in_mean * steps
        spread = in_sd * math.sqrt(steps)
        lo = min(0.0, centre) - 7.0 * spread - pushed
    lo = max(lo, -1e6 * (theta + in_sd))
    hi = max(theta, centre) + abs(in_mean) + 7.0 * in_sd
    # resolve one step's input: at least _CELLS_PER_SD cells per input sd (the automatic
    # refinement is capped; a finer grid asked for by the caller is kept)
    cells = int(max(cells, min(math.ceil(_CELLS_PER_SD * (hi - lo) / in_sd), _MAX_CELLS)))
    edges, centres = _grid(lo, hi, theta, cells)
    P = _gauss_kernel(edges, _g(centres, beta, theta, reset), means, variances, weights)
    start = _gauss_kernel(edges, np.zeros(1), means, variances, weights)[0]
    return edges, centres, (P, start)


def _check_common(theta, beta, reset, steps, cells):
    theta = check_real("theta", theta, low=0.0)
    beta = check_real("beta", beta, low=0.0, high=1.0)
    check_choice("reset", reset, RESETS)
    if steps is not None:
        steps = check_limit("steps", steps)
    elif beta >= 1.0:
        raise ValueError(
            "steps=None (stationary) needs beta < 1: the non-leaky membrane has no "
            "stationary distribution (firing-rate collapse); pass steps="
        )
    cells = check_int("cells", cells, low=20, high=20000)
    return theta, beta, steps, cells


def _solve(edges, centres, kernel, theta, steps):
    """Time-averaged rate from rest (steps) or stationary rate, the last law, per-step rates."""
    P, start = kernel
    above = centres > theta
    if steps is None:
        A = P.T - np.eye(P.shape[0])
        A[-1, :] = 1.0
        b = np.zeros(P.shape[0])
        b[-1] = 1.0
        p = np.clip(np.linalg.solve(A, b), 0, None)
        p /= p.sum()
        return float(p[above].sum()), p, None
    p = start  # u^{-1} = s^{-1} = 0: u^0 is the input itself
    rates = np.empty(steps)
    for t in range(steps):
        rates[t] = p[above].sum()
        if t + 1 < steps:
            p = p @ P
    return float(rates.mean()), p, rates


def lif_rate(
    mean, var, theta=1.0, beta=DEFAULT_BETA, steps=None, *, reset="subtract",
    method="markov", cells=_GRID,
):
    """Firing rate of the discrete LIF driven by i.i.d. ``N(mean, var)`` input per step.

    Parameters
    ----------
    mean, var : float
        Mean and variance (> 0) of the input ``I^t`` of one step.
    theta, beta : float
        Threshold and leak.
    steps : int or None
        Time-averaged rate over ``t = 0..steps-1`` from rest (``u^{-1} = 0``);
        None: the stationary rate (``beta < 1``).
    reset : {"subtract", "zero", "none"}
    method : {"markov", "siegert"}
        Grid solution of the discrete chain (exact up to the grid) or the
        continuous diffusion limit (stationary only, subtract/zero reset).
    cells : int
        Grid cells.

    Returns
    -------
    float
        Spikes per neuron per step.
    """
    theta, beta, steps, cells = _check_common(theta, beta, reset, steps, cells)
    mean = check_real("mean", mean)
    var = check_real("var", var, low=0.0, low_open=True)
    check_choice("method", method, ("markov", "siegert"))
    if method == "siegert":
        if steps is not None:
            raise ValueError("method='siegert' gives the stationary rate only; use steps=None")
        return siegert_rate(mean, var, theta, beta)
    if steps == 1:
        return float(survival((theta - mean) / math.sqrt(var)))
    edges, centres, P = _chain(theta, beta, reset, steps, "gaussian", mean, var, cells=cells)
    return _solve(edges, centres, P, theta, steps)[0]


def lif_rate_quenched(
    mean_sd, var, theta=1.0, beta=DEFAULT_BETA, steps=None, *, reset="subtract", nodes=64,
    cells=_GRID,
):
    """Population rate when each neuron's input has its own frozen mean.

    Neuron ``i`` receives ``I_i^t = m_i + xi_i^t`` with ``m_i ~ N(0,
    mean_sd^2)`` fixed over time and ``xi_i^t ~ N(0, var)`` i.i.d.: the
    situation of fixed weights ``w`` and presynaptic spike trains that are
    random over time, ``m_i = sum_j w_ij nu_j``, ``var = sum_j w_ij^2 nu_j (1 -
    nu_j)``. The rate is ``E_m[lif_rate(m, var)]`` (``nodes`` equal-probability
    midpoints of the normal law). With ``mean_sd = 0`` it is :func:`lif_rate`; because the rate is
    convex in ``m`` below threshold, a frozen part raises the population rate
    above that of i.i.d. input with the same total variance ``mean_sd^2 + var``.
    """
    mean_sd = check_real("mean_sd", mean_sd, low=0.0)
    nodes = check_int("nodes", nodes, low=1, high=200)
    if mean_sd == 0.0:
        return lif_rate(0.0, var, theta, beta, steps, reset=reset, cells=cells)
    return float(np.mean(_rates_over_means(mean_sd, var, theta, beta, steps, reset, nodes,
                                           cells)))


def _rates_over_means(mean_sd, var, theta, beta, steps, reset, nodes, cells):
    """``lif_rate(m_k, var)`` at ``m_k = mean_sd Phi^-1((k + 1/2) / nodes)``.

    Equal-probability midpoints: robust where the rate is a steep function of
    ``m`` (small ``var``), exact for ``T = 1`` as ``nodes -> infinity``.
    """
    x = stats.norm.ppf((np.arange(nodes) + 0.5) / nodes)
    return np.array([lif_rate(mean_sd * xk, var, theta, beta, steps, reset=reset, cells=cells)
                     for xk in x])


def shot_noise_rate(
    n, nu, mu_w, s2, theta=1.0, beta=DEFAULT_BETA, steps=None, *, reset="subtract", cells=_GRID,
):
    """Rate with shot-noise input: ``K ~ Bin(n, nu)`` spikes per step, weights ``N(mu_w, s2)``.

    Exact for that input (up to the grid): the per-step input is the mixture
    ``sum_K P(K) N(K mu_w, K s2)`` with an atom at 0 (module docstring, (c)).
    """
    theta, beta, steps, cells = _check_common(theta, beta, reset, steps, cells)
    n = check_int("n", n, low=1)
    nu = check_real("nu", nu, low=0.0, high=1.0, low_open=True)
    mu_w = check_real("mu_w", mu_w)
    s2 = check_real("s2", s2, low=0.0)
    edges, centres, P = _chain(
        theta, beta, reset, steps, "shot", 0.0, 0.0, n=n, nu=nu, mu_w=mu_w, s2=s2, cells=cells
    )
    return _solve(edges, centres, P, theta, steps)[0]


def membrane_distribution(mean, var, theta=1.0, beta=DEFAULT_BETA, steps=None, *, reset="subtract",
                          cells=_GRID):
    """Grid density of ``u^{steps-1}`` (or the stationary one) under ``N(mean, var)`` input.

    Returns
    -------
    edges : ndarray (cells + 1,)
    prob : ndarray (cells,)
        Probability of each cell (sums to 1).
    """
    theta, beta, steps, cells = _check_common(theta, beta, reset, steps, cells)
    mean = check_real("mean", mean)
    var = check_real("var", var, low=0.0, low_open=True)
    edges, centres, P = _chain(theta, beta, reset, steps, "gaussian", mean, var, cells=cells)
    return edges, _solve(edges, centres, P, theta, steps)[1]


#: -zeta(1/2) / sqrt(2 pi): the overshoot constant of a Gaussian random walk
#: (Siegmund; Broadie, Glasserman & Kou's continuity correction).
DISCRETE_MONITORING_SHIFT = 0.5825971579390106


def siegert_rate(mean, var, theta=1.0, beta=DEFAULT_BETA, *, correction=False):
    """Continuous-time diffusion (Siegert) rate of the discrete LIF, per step (module doc (b)).

    Parameters
    ----------
    mean, var : float
        Mean and variance of one step's input.
    theta, beta : float
        Threshold and leak, ``0 < beta < 1``.
    correction : bool
        Replace ``theta`` by ``theta + 0.5826 sqrt(var)``: the continuity
        correction for a threshold that is only checked once per step (a
        Gaussian walk overshoots a barrier by ``-zeta(1/2) / sqrt(2 pi)`` step
        sds on average, so the continuous process crosses a barrier that much
        lower). Without it the formula counts the crossings *between* steps that
        the discrete neuron never sees and overestimates the rate (by 20% at
        beta = 0.98 and an input sd of theta / 10, 3.5x at beta = 0.5).
    """
    theta = check_real("theta", theta, low=0.0)
    beta = check_real("beta", beta, low=0.0, high=1.0, low_open=True, high_open=True)
    mean = check_real("mean", mean)
    var = check_real("var", var, low=0.0, low_open=True)
    correction = check_bool("correction", correction)
    if correction:
        theta = theta + DISCRETE_MONITORING_SHIFT * math.sqrt(var)
    tau = -1.0 / math.log(beta)
    mu_v = mean / (1.0 - beta)
    s = math.sqrt(2.0 * var / (1.0 - beta * beta))
    lo, hi = -mu_v / s, (theta - mu_v) / s
    val, _ = integrate.quad(lambda x: special.erfcx(-x), lo, hi, limit=200)
    return float(1.0 / (tau * math.sqrt(math.pi) * val)) if val > 0 else float("inf")


# --------------------------------------------------------------------------
# (a) firing-rate collapse
# --------------------------------------------------------------------------


def collapse_expected_spikes(steps, sigma=1.0, theta=1.0, *, method="spitzer", cells=2000):
    """Expected spike count ``E[N_t]`` by step ``t = 0..steps-1`` of a non-leaky soft-reset neuron.

    Input ``I^t ~ N(0, sigma^2)`` i.i.d.; see the module docstring (a).

    Returns
    -------
    ndarray (steps,)
        ``E[N_t]``, spikes in steps ``0..t``.
    """
    steps = check_limit("steps", steps)
    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    theta = check_real("theta", theta, low=0.0, low_open=True)
    check_choice("method", method, ("wiener", "spitzer", "markov"))
    t1 = np.arange(1, steps + 1)
    if method == "wiener":
        return sigma * np.sqrt(2.0 * t1 / math.pi) / theta
    if method == "spitzer":
        em = sigma / math.sqrt(2.0 * math.pi) * np.cumsum(1.0 / np.sqrt(t1))
        return np.clip(em / theta - 0.5, 0.0, None)
    cells = check_int("cells", cells, low=20, high=20000)
    edges, centres, P = _chain(theta, 1.0, "subtract", steps, "gaussian", 0.0, sigma**2,
                               cells=cells)
    _, _, rates = _solve(edges, centres, P, theta, steps)
    return np.cumsum(rates)


def simulate_single_neuron(inputs, theta=1.0, beta=1.0, reset="subtract", reset_decay=False):
    """Direct simulation of independent discrete LIF neurons driven by ``inputs`` (T, N).

    Returns the spikes (T, N) as uint8: the neuron of :mod:`snninit.models`
    (``lif_layer``, the engine's kernel), ``inputs[t]`` its input at step ``t``.
    """
    x = np.asarray(inputs, dtype=float)
    if x.ndim != 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"inputs must be a finite (T, N) array; got shape {x.shape}")
    theta = check_real("theta", theta, low=0.0)
    beta = check_real("beta", beta, low=0.0, high=1.0)
    check_choice("reset", reset, RESETS)
    reset_decay = check_bool("reset_decay", reset_decay)
    u = np.array(x, dtype=np.float64, order="C")
    out = np.zeros(x.shape, dtype=np.uint8)
    lif_layer(u, out, beta, theta, RESET_CODES[reset], reset_decay)
    return out
