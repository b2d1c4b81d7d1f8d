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
from scipy import stats

from .._checks import check_bool, check_choice, check_int, check_real
from .._resources import check_memory
from ..config import INPUT_SCALES, RESETS, NetworkConfig, check_config, check_limit
from ..models import RESET_CODES, input_factor, lif_layer
from .rules import InitRule, register_rule, survival, widen_and_solve
from .single_neuron import (
    _GRID,
    _rates_over_means,
    lif_rate,
    shot_noise_rate,
)

__all__ = [
    "encoding_rate",
    "encoding_rate_moments",
    "diffusion_layer_variances",
]

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
    check_bool("init_params['frozen']", p["frozen"])
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
        neurons=("leaky",),  # derived for the plain LIF (issue 17 extends it)
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
