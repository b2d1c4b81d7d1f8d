"""Perez-Nieves & Goodman (2023): rate collapse, diffusion and shot-noise rates, init="diffusion".

Only the paper's abstract is available; everything below is our own
derivation for the discrete LIF of DESIGN.md 1b,

    u^t = g(u^{t-1}) + I^t,   s^t = 1[u^t > theta],   u^{-1} = 0,
    g(v) = beta v - theta 1[v > theta]       (subtract; reset uses the previous spike)
    g(v) = beta v 1[v <= theta]              (zero)
    g(v) = beta v                            (none)

(a) Firing-rate collapse (beta = 1, subtract reset, zero-mean input)
--------------------------------------------------------------------
With ``I^t`` i.i.d., mean 0, sd ``sigma`` (zero-mean weights: ``I^t = sum_j
w_j s_j^t`` has mean 0), write ``S_t = I^0 + ... + I^t`` (a random walk)
and ``N_t`` the number of spikes in steps ``0..t``. Unrolling the soft
reset, ``u^t = S_t - theta N_{t-1}`` and the neuron fires at ``t`` iff
``S_t > theta (N_{t-1} + 1)``: it fires once each time the walk reaches a
new multiple of ``theta`` above its previous maxima, so ``theta N_t`` tracks
the running maximum ``M_t = max_{k<=t} S_k`` (a Skorokhod reflection; it
lags by at most one spike per step). Hence ``E[N_t] ~ E[M_t] / theta``:

* Wiener (continuum) limit, ``sigma << theta``: by the reflection principle
  ``P(M_t > a) = 2 P(S_t > a)``, so ``E[M_t] = sigma sqrt(2 (t+1) / pi)``
  and ``E[N_t] ~= sigma sqrt(2 (t+1) / pi) / theta`` (``method="wiener"``).
* Discrete walk: Spitzer's identity gives exactly ``E[M_t] = sum_{k=1}^{t+1}
  E[S_{k-1}^+] / k = sigma / sqrt(2 pi) sum_{k=1}^{t+1} k^{-1/2}``;
  ``E[N_t] ~= E[M_t] / theta - 1/2`` (the floor of a spread-out level,
  clipped at 0; ``method="spitzer"``).
* ``method="markov"``: the exact expectation ``sum_{k<=t} P(u^k > theta)``
  from the membrane's distribution propagated on a grid (below).

Either way the rate ``E[N_t] - E[N_{t-1}] ~ sigma / (theta sqrt(2 pi t))``
decays as ``t^{-1/2}``: the firing-rate collapse. The membrane wanders off
to ``-infinity`` (its variance grows as ``t``) and never comes back often.
A leak (beta < 1) bounds the variance (``sigma^2 / (1 - beta^2)``) and gives a
stationary rate; a positive input mean ``mu`` gives the rate ``mu / theta``.
:func:`collapse_expected_spikes` computes the three forms; they are checked
against direct simulation (:func:`simulate_single_neuron`).

(b) Diffusion approximation (Gaussian input per step)
-----------------------------------------------------
When a neuron receives many small inputs, ``I^t ~ N(m, v)`` i.i.d. over
steps (``m = n nu mu_w``, ``v = n nu (sigma_w^2 + mu_w^2 (1 - nu))`` for
``n`` Bernoulli presynaptic neurons of rate ``nu``). The membrane is then a
Markov chain on the real line with transition density ``p(u | u') =
N(u; g(u') + m, v)``; its distribution obeys the discrete-time
Chapman-Kolmogorov (Fokker-Planck) equation ``p_t(u) = int N(u; g(u') + m, v)
p_{t-1}(u') du'``. We solve it on a grid whose cell edges include
``theta`` (``method="markov"``): from rest (``p_{-1} = delta_0``) for the
time-averaged rate over ``T`` steps, or the stationary density (the
eigenvector of eigenvalue 1, ``beta < 1``). The rate is ``P(u > theta)``.
With one step it is exactly ``Q((theta - m) / sqrt v)``, Micheli's case.
The classical continuous-time diffusion limit (``method="siegert"``) maps
the chain to an Ornstein-Uhlenbeck process with time constant ``tau = -1 /
ln beta`` steps and the same free stationary mean ``mu_V = m / (1 - beta)``
and variance ``sigma_V^2 = v / (1 - beta^2)``; with reset to 0 after a
threshold crossing (a soft reset crosses continuously, so subtracting
``theta`` lands at 0) Siegert's first-passage formula gives

    1 / rate = tau sqrt(pi) int_{-mu_V/s}^{(theta - mu_V)/s} erfcx(-x) dx,   s = sqrt(2) sigma_V.

It counts the crossings *between* steps that the discrete neuron never sees
and overestimates the rate (measured: 3.5x at beta = 0.5, +20 % at beta =
0.98 with an input sd of theta / 10). ``siegert_rate(..., correction=True)``
raises the threshold by ``0.5826 sqrt(v)`` (``-zeta(1/2) / sqrt(2 pi)`` step
sds, the mean overshoot of a Gaussian walk: the continuity correction for a
barrier checked once per step), which brings it within 1-5 % of simulation
at ``beta >= 0.9`` (docs/peers.md). The grid chain is the exact answer; the
grid resolves one step's input sd at least 8-fold (up to 3000 cells).

(c) Shot noise (sparse layers)
------------------------------
With ``K ~ Bin(n, nu)`` presynaptic spikes per step and Gaussian weights,
``I^t | K ~ N(K mu_w, K sigma_w^2)``: the per-step input is a *mixture* with
an atom at 0 (``K = 0``, probability ``(1 - nu)^n``), far from Gaussian
when ``n nu`` is small. The same grid chain with the mixture kernel (the
atom spread linearly over the two nearest cells) is exact for this input
(``noise="shot"``).

``init="diffusion"``
--------------------
Zero-mean weights, variance chosen per layer so that the predicted
time-averaged rate of layer ``l`` equals the target (default: the encoding
layer's time-averaged rate over the ``T`` steps, computed exactly by
quadrature over ``I ~ N(0, 1)``): given the presynaptic rate ``nu_{l-1}``
(the target for ``l >= 2``), solve ``rate(m=0, v = n nu_{l-1} sigma_w^2) =
target`` for ``sigma_w^2`` (``noise="shot"`` or ``"auto"`` with ``n nu <
shot_below`` uses the shot-noise kernel). With one step this is Micheli's
rule. Assumes presynaptic spikes independent over neurons *and time*; in
our constant-input networks each neuron's input has a quenched (frozen)
part ``sum_j w_j nu_j`` that the rule ignores. It raises the rate with depth
(measured, width 1000, T = 20, theta = 1: 0.176 -> 0.24 at beta = 0.5, 0.28 ->
0.42 at beta = 0.9; docs/peers.md).

``init_params={"frozen": True}`` (our extension) keeps it: a layer is
described by the mean ``nu`` and mean square ``q`` of its neurons'
time-averaged rates (encoding layer: by quadrature,
:func:`encoding_rate_moments`); a neuron of the next layer then sees a frozen
mean ``m ~ N(0, n Var[w] q)`` plus i.i.d. temporal input of variance ``n
Var[w] (nu - q)`` (:func:`lif_rate_quenched`), and ``Var[w]`` solves
``E_m[r(m)] = target``; the new ``q`` is ``E_m[r(m)^2]``. A two-moment
closure: it holds the rate over 100 layers at beta = 0.5 (0.17-0.174 against
0.176) but not at beta = 0.9, where deep layers decay (0.21 at layer 20),
because regular spike trains are not i.i.d. in time; the ``dmft`` rule is
the exact version.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import integrate, special, stats

from .._checks import check_bool, check_choice, check_int, check_real
from .._resources import check_memory
from ..config import DEFAULT_BETA, INPUT_SCALES, RESETS, NetworkConfig, check_config, check_limit
from ..models import RESET_CODES, input_factor, lif_layer, membrane_update, spike
from .rules import InitRule, register_rule, survival, widen_and_solve

__all__ = [
    "lif_rate",
    "lif_rate_quenched",
    "shot_noise_rate",
    "siegert_rate",
    "membrane_distribution",
    "collapse_expected_spikes",
    "simulate_single_neuron",
    "encoding_rate",
    "diffusion_layer_variances",
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
    if not isinstance(correction, bool):
        raise ValueError(f"correction must be True or False; got {correction!r}")
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


# --------------------------------------------------------------------------
# the rule
# --------------------------------------------------------------------------

_DEFAULTS = {"rate": None, "noise": "gaussian", "shot_below": 20.0, "frozen": False,
             "nodes": 24}


#: Most quadrature points of :func:`encoding_rate` (the default, 20000, is exact to ~1e-8).
MAX_ENCODING_POINTS = 10_000_000


def _check_encoding_args(theta, beta, steps, reset, input_scale, reset_decay, points):
    """The arguments of :func:`encoding_rate`, validated and normalised (hashable for the cache)."""
    theta = check_limit("theta", theta)
    beta = check_limit("beta", beta)
    steps = check_limit("steps", steps)
    check_choice("reset", reset, RESETS)
    check_choice("input_scale", input_scale, INPUT_SCALES)
    reset_decay = check_bool("reset_decay", reset_decay)
    points = check_int("points", points, low=1, high=MAX_ENCODING_POINTS)
    # the quadrature runs all points at once: steps x points membranes and spikes
    check_memory(
        "encoding_rate",
        steps * points * 9.0 + points * 16.0,
        f"steps x points = {steps} x {points} membranes (float64) and spikes",
        "use fewer points",
    )
    return theta, beta, steps, reset, input_scale, reset_decay, points


def encoding_rate(theta, beta, steps, reset="subtract", input_scale="1", reset_decay=False,
                  points=20000):
    """Time-averaged rate of the encoding layer (constant input ``c I``, ``I ~ N(0, 1)``).

    Deterministic quadrature: ``I`` at the midpoints of ``points`` equal-probability
    cells, each run through the LIF kernel for ``steps`` steps. The arguments
    are validated (one-line ``ValueError`` naming the parameter: ``theta``
    and ``beta`` finite in their ``NetworkConfig`` ranges, ``steps`` in
    ``[1, 10000]``, ``points`` in ``[1, MAX_ENCODING_POINTS]``) before the
    cached computation.
    """
    return _encoding_rate(
        *_check_encoding_args(theta, beta, steps, reset, input_scale, reset_decay, points)
    )


def encoding_rate_moments(theta, beta, steps, reset="subtract", input_scale="1",
                          reset_decay=False, points=20000):
    """Mean ``nu`` and mean square ``q`` of the encoding neurons' time-averaged rates.

    Same quadrature (and validation) as :func:`encoding_rate`; ``q - nu^2`` is
    the spread of the rates over neurons (for ``T = 1``, ``q = nu``: each
    neuron fires or not).
    """
    return _encoding_rate_moments(
        *_check_encoding_args(theta, beta, steps, reset, input_scale, reset_decay, points)
    )


@functools.lru_cache(maxsize=256)
def _encoding_rate(theta, beta, steps, reset, input_scale, reset_decay, points):
    if steps == 1:  # exact: the first step fires iff c I > theta
        c1 = input_factor(beta, input_scale)
        return float(survival(theta / c1)) if c1 > 0 else 0.0
    return _encoding_rate_moments(theta, beta, steps, reset, input_scale, reset_decay, points)[0]


@functools.lru_cache(maxsize=256)
def _encoding_rate_moments(theta, beta, steps, reset, input_scale, reset_decay, points):
    c = input_factor(beta, input_scale)
    x = stats.norm.ppf((np.arange(points) + 0.5) / points)
    u = np.repeat((c * x)[None, :], steps, axis=0)
    s = np.zeros(u.shape, dtype=np.uint8)
    lif_layer(u, s, float(beta), float(theta), RESET_CODES[reset], bool(reset_decay))
    r = s.mean(axis=0, dtype=np.float64)
    return float(r.mean()), float(np.mean(r * r))


def _frozen_rates(s2, n, nu, q, cfg, nodes):
    """Per-neuron rates at the quadrature nodes, frozen mean + i.i.d. temporal input."""
    temporal = max(n * s2 * (nu - q), 1e-12 * n * s2 * nu)
    return _rates_over_means(math.sqrt(n * s2 * q), temporal, cfg.theta, cfg.beta,
                             cfg.steps, cfg.reset, nodes, _GRID)


def _frozen_layer_variances(cfg: NetworkConfig, p: dict) -> np.ndarray:
    """``frozen=True``: carry (nu, q) of each layer; solve E_m[r(m)] = target."""
    nu, q = encoding_rate_moments(cfg.theta, cfg.beta, cfg.steps, cfg.reset,
                                  cfg.input_scale, cfg.reset_decay)
    if nu <= 0:
        raise ValueError(f"init='diffusion': the encoding layer is silent at theta={cfg.theta}")
    target = nu if p["rate"] is None else float(p["rate"])
    n, nodes = cfg.width, int(p["nodes"])
    out = np.empty(cfg.layers)
    for layer in range(cfg.layers):

        def excess(log_s2, nu=nu, q=q):
            return float(np.mean(_frozen_rates(math.exp(log_s2), n, nu, q, cfg, nodes))) - target

        guess = math.log(1.0 / (n * nu))
        root = widen_and_solve(excess, guess - 1.0, guess + 1.0, step=1.5, tries=40, rtol=1e-8)
        if root is None:
            raise ValueError(
                f"init='diffusion' (frozen=True): no weight variance gives layer {layer + 1} "
                f"the rate {target:.4g} (theta={cfg.theta}, beta={cfg.beta}, "
                f"steps={cfg.steps})"
            )
        s2 = math.exp(root)
        out[layer] = s2
        r = _frozen_rates(s2, n, nu, q, cfg, nodes)
        q_next = float(np.mean(r * r))
        converged = abs(q_next - q) < 1e-4 * q and abs(target - nu) < 1e-9
        nu, q = target, q_next
        if converged:  # the next layer sees the same input statistics
            out[layer + 1:] = s2
            break
    return out


def _layer_rate(s2, n, nu, cfg, noise):
    if noise == "shot":
        return shot_noise_rate(n, nu, 0.0, s2, cfg.theta, cfg.beta, cfg.steps, reset=cfg.reset)
    return lif_rate(0.0, n * nu * s2, cfg.theta, cfg.beta, cfg.steps, reset=cfg.reset)


def _solve_variance(n, nu, target, cfg, noise, layer):
    if cfg.steps == 1 and noise == "gaussian":
        z = stats.norm.isf(target)
        if cfg.theta == 0 or z <= 0:
            raise ValueError(
                f"init='diffusion': target rate {target:.4g} >= 1/2 cannot be reached with "
                f"zero-mean weights and theta={cfg.theta}"
            )
        return (cfg.theta / z) ** 2 / (n * nu)

    def excess(log_s2):
        return _layer_rate(math.exp(log_s2), n, nu, cfg, noise) - target

    guess = math.log(1.0 / (n * nu))
    root = widen_and_solve(excess, guess - 1.0, guess + 1.0, step=1.5, tries=40, rtol=1e-8)
    if root is None:
        raise ValueError(
            f"init='diffusion': no weight variance gives layer {layer} the rate {target:.4g} "
            f"(theta={cfg.theta}, beta={cfg.beta}, steps={cfg.steps}, reset={cfg.reset!r})"
        )
    return math.exp(root)


def diffusion_layer_variances(cfg: NetworkConfig) -> np.ndarray:
    """Per-layer weight variances of ``init="diffusion"`` (module docstring)."""
    cfg = check_config(cfg)  # before the cache: a dict is a ValueError, not unhashable
    return _diffusion_layer_variances(cfg)


@functools.lru_cache(maxsize=64)
def _diffusion_layer_variances(cfg: NetworkConfig) -> np.ndarray:
    p = {**_DEFAULTS, **cfg.init_params}
    if p["frozen"] and cfg.steps > 1:
        return _frozen_layer_variances(cfg, p)
    nu0 = encoding_rate(cfg.theta, cfg.beta, cfg.steps, cfg.reset, cfg.input_scale,
                        cfg.reset_decay)
    target = nu0 if p["rate"] is None else float(p["rate"])
    if nu0 <= 0:
        raise ValueError(f"init='diffusion': the encoding layer is silent at theta={cfg.theta}")
    n = cfg.width
    out = np.empty(cfg.layers)
    nu = nu0
    for layer in range(cfg.layers):
        noise = p["noise"]
        if noise == "auto":
            noise = "shot" if n * nu < p["shot_below"] else "gaussian"
        if layer >= 2 and nu == target:  # layers >= 2 see the same input: same variance
            out[layer:] = out[layer - 1]
            break
        out[layer] = _solve_variance(n, nu, target, cfg, noise, layer + 1)
        nu = target
    return out


def _check(cfg: NetworkConfig) -> None:
    p = {**_DEFAULTS, **cfg.init_params}
    if p["rate"] is not None:
        check_real("init_params['rate']", p["rate"], low=0.0, high=1.0, low_open=True,
                   high_open=True)
    check_choice("init_params['noise']", p["noise"], ("gaussian", "shot", "auto"))
    check_real("init_params['shot_below']", p["shot_below"], low=0.0)
    if not isinstance(p["frozen"], bool):
        raise ValueError(f"init_params['frozen'] must be True or False; got {p['frozen']!r}")
    if p["frozen"] and p["noise"] != "gaussian":
        raise ValueError("init_params['frozen']=True needs noise='gaussian'")
    check_int("init_params['nodes']", p["nodes"], low=2, high=200)
    if cfg.reset_decay:
        # the rate model resets by theta; reset_decay (beta * theta) is not modelled
        raise ValueError(
            "init='diffusion' models the reset u -> u - theta; reset_decay=True is not "
            "supported (use reset_decay=False, or init='dmft', which models it)"
        )


def _per_layer(cfg: NetworkConfig):
    _check(cfg)
    var = diffusion_layer_variances(cfg)
    return np.zeros(cfg.layers), var.copy()


def _variance(n_in, theta, beta, steps, **p):
    raise ValueError("init='diffusion' sets each layer separately: use layer_weight_moments(cfg)")


DIFFUSION_RULE = register_rule(
    InitRule(
        name="diffusion",
        variance=_variance,
        params=dict(_DEFAULTS),
        per_layer=_per_layer,
        check=_check,
        assumptions=(
            "Perez-Nieves & Goodman (2023), as derived here: zero-mean weights; each "
            "neuron's input is i.i.d. over time steps, Gaussian N(0, n nu Var[w]) "
            "(diffusion) or a binomial shot-noise mixture (sparse layers); the rate of "
            "the discrete LIF under that input (time-averaged over the steps from rest, "
            "grid solution of its Chapman-Kolmogorov equation) is held at the encoding "
            "layer's rate in every layer. Ignores the quenched (frozen over time) part "
            "of the input that fixed weights and regular spike trains produce."
        ),
    )
)
