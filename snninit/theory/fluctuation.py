"""``init="fluctuation"``: fluctuation-driven initialisation (Rossbroich, Gygax & Zenke 2022).

Idea
----
Put every hidden neuron's *free* membrane potential (threshold and reset
ignored) in the fluctuation-driven regime: its mean ``mu_U`` sits below the
threshold and its fluctuations ``sigma_U`` reach the threshold ``xi``
standard deviations away, ``theta - mu_U = xi sigma_U``. The weight mean and
variance are chosen to produce these two numbers.

Campbell's theorem in our kernel
--------------------------------
Our neuron integrates its input with the kernel ``eps[k] = beta^k``
(``u^t = beta u^{t-1} + I^t``, ``u^{-1} = 0``). With ``n`` presynaptic
neurons firing Poisson counts of rate ``nu`` per step, i.i.d. over neurons
and steps, and i.i.d. weights of mean ``mu_w`` and variance ``sigma_w^2``,
the free membrane at step ``t = T - 1`` (the last step of a ``T``-step
presentation started from rest) has, by Campbell's theorem,

    mu_U      = n nu mu_w eps_bar,                   eps_bar = sum_{k<T} beta^k
    sigma_U^2 = n nu (sigma_w^2 + mu_w^2) eps_hat,   eps_hat = sum_{k<T} beta^(2k)

(sympy, :func:`psp_kernel_sums_symbolic`): ``eps_bar = (1 - beta^T) / (1 -
beta)``, ``eps_hat = (1 - beta^(2T)) / (1 - beta^2)`` (``T`` and ``T`` for
``beta = 1``); as ``T -> infinity`` (stationary membrane, ``beta < 1``)
``1 / (1 - beta)`` and ``1 / (1 - beta^2)``. We use the finite-``T`` sums by
default (``horizon="finite"``): the network is run for ``steps`` time steps
from rest, and with ``steps = 1`` both sums are 1, so that with ``mu_u = 0``,
``xi = 1``, ``theta = 1`` and ``nu = Q(theta)`` the rule is exactly Micheli's
``Var[w] = 1 / (n Q(theta))``. ``horizon="stationary"`` uses the limits (the
published implementation's choice for long presentations).

Which variance: ``sigma_U^2`` is Campbell's variance, the fluctuation of one
neuron's membrane over spike realisations with its weights held fixed,
averaged over the weight distribution, ``E_w[Var(u | w)]`` (the temporal
fluctuations that drive a neuron across threshold). The variance of ``u``
across neurons is larger by the quenched part ``Var_w[E(u | w)] = n sigma_w^2
nu^2 eps_bar^2`` (each neuron's own mean differs), which the rule ignores, as
the published rule does.

Bernoulli spikes (at most one spike per step, as in our model) have count
variance ``nu (1 - nu)`` instead of ``nu``; then ``sigma_U^2 = n nu (1 - nu)
(sigma_w^2 + mu_w^2) eps_hat`` (``sum_j nu_j (1 - nu_j)`` replaces ``n nu (1 -
nu)`` for per-neuron rates). ``bernoulli=True`` uses that exact form.

Solving for the weights (``V = n nu`` for Poisson, ``n nu (1 - nu)`` for
Bernoulli spikes):

    mu_w      = mu_U / (n nu eps_bar)
    sigma_w^2 = sigma_U^2 / (V eps_hat) - mu_w^2,   sigma_U = (theta - mu_U) / xi

A negative ``sigma_w^2`` (a large ``|mu_U|`` with few inputs:
``mu_U^2 V eps_hat > sigma_U^2 (n nu eps_bar)^2``) or ``sigma_U <= 0``
(``mu_U >= theta``) has no solution: a ``ValueError`` says which parameters
to change.

The rate nu
-----------
The published implementation (stork's ``FluctuationDrivenNormalInitializer``)
takes ``nu`` as one hand-set constant; pass ``nu=`` for that. With ``nu=None``
(default) the rule is data-driven: layer by layer, the presynaptic rate is
measured with a forward pass (time- and neuron-averaged spikes of the layer
below, weights of the layers below already set) before the next layer's
weights are chosen. The rule's one hook, ``from_activity`` (the pure core
:func:`fluctuation_layer_moments` at the measured rates; a given ``nu``
stands in for them), is what every forward pass calls: in theory
(:func:`layer_weight_moments`, through :func:`fluctuation_calibration`) the
"data" is the model's own input ``I ~ N(0, 1)`` and the forward pass runs on
one calibration network of the configured width drawn with a fixed seed; in
:func:`snninit.montecarlo.simulate_data_driven` every simulated network runs
it on itself; in training (:mod:`snninit.training`) and in
:func:`snninit.torch.init_snntorch` it runs on a batch of real inputs.

Assumptions
-----------
Presynaptic spikes independent over neurons and time (Poisson or Bernoulli),
weights i.i.d. and independent of the spikes, threshold and reset ignored
when computing ``mu_U`` and ``sigma_U`` (the free membrane). In our
constant-input networks spikes are neither independent over time (regular
firing) nor of one rate, so the rule's targets are only approximately met
there; one layer with independent spikes meets them exactly (tested).

Dale's-law variant
------------------
:func:`dale_layer_moments` solves the same two targets for a layer whose
inputs are split into excitatory neurons (weights ``+Exp``) and inhibitory
neurons (weights ``-Exp``): two exponential scales instead of a mean and a
variance (derivation in its docstring). The hook ``from_activity`` with
``inhibitory=n_i`` returns them at the measured rates of both populations;
:func:`snninit.montecarlo.dale_weights` samples such a matrix and
:func:`snninit.montecarlo.simulate_dale_data_driven` runs deep stacks of it,
calibrated layer by layer on their own rates.
"""

from __future__ import annotations

import functools

import numpy as np

from .._checks import check_bool, check_choice, check_finite_array, check_int, check_real
from .._lazy import lazy_exports
from ..config import NetworkConfig, check_config, check_limit
from .rules import InitRule, data_driven_network, psp_params, register_rule

__all__ = [
    "psp_kernel_sums",
    "psp_kernel_sums_symbolic",
    "fluctuation_layer_moments",
    "fluctuation_calibration",
]

# the Dale's-law variant lives in fluctuation_dale.py; its names resolve here too
__getattr__, _dir = lazy_exports(
    __package__,
    dict.fromkeys(("DaleScales", "dale_layer_moments", "dale_scales_symbolic"), "fluctuation_dale"),
    owner=__name__,
)

#: Seed of the calibration network used by the data-driven mode in theory/simulation.
_CALIBRATION_SEED = 7_2022

_DEFAULTS = {"mu_u": 0.0, "xi": 1.0, "nu": None, "horizon": "finite", "bernoulli": False}
_HORIZONS = ("finite", "stationary")


def psp_kernel_sums_symbolic():
    """``eps_bar`` and ``eps_hat`` of the PSP kernels, derived with sympy.

    Returns
    -------
    dict
        ``eps_bar_T``, ``eps_hat_T`` (sums over ``k = 0..T-1``, piecewise in
        ``beta``) and ``eps_bar_inf``, ``eps_hat_inf`` (``T -> infinity`` for
        ``0 <= beta < 1``), as sympy expressions in symbols ``beta``, ``T``;
        ``eps_bar_inf_synaptic``, ``eps_hat_inf_synaptic``: the same limits for
        the synaptic kernel ``sum_{j<=k} alpha^j beta^(k-j)`` (``0 < alpha,
        beta < 1``, ``alpha != beta``), in ``alpha``, ``beta``.
    """
    import sympy as sp

    beta = sp.Symbol("beta", nonnegative=True)
    T = sp.Symbol("T", positive=True, integer=True)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    eps_bar_T = sp.simplify(sp.summation(beta**k, (k, 0, T - 1)))
    eps_hat_T = sp.simplify(sp.summation(beta ** (2 * k), (k, 0, T - 1)))
    b = sp.Symbol("b", positive=True)  # beta restricted to (0, 1) for the limit
    lim_bar = sp.limit(((1 - b**T) / (1 - b)).subs(b, sp.Rational(1, 2)), T, sp.oo)
    # general form: the geometric series converges for beta < 1
    eps_bar_inf = sp.summation(b**k, (k, 0, sp.oo)).args[0][0]
    eps_hat_inf = sp.summation(b ** (2 * k), (k, 0, sp.oo)).args[0][0]
    assert sp.simplify(eps_bar_inf.subs(b, sp.Rational(1, 2)) - lim_bar) == 0
    # the synaptic kernel eps[k] = (b^(k+1) - a^(k+1)) / (b - a) (a != b), summed to
    # infinity for 0 < a, b < 1: geometric series term by term
    a = sp.Symbol("a", positive=True)
    r = sp.Symbol("r", positive=True)
    geo = sp.summation(r**k, (k, 0, sp.oo)).args[0][0]  # 1 / (1 - r), |r| < 1
    syn_bar = sp.simplify((b * geo.subs(r, b) - a * geo.subs(r, a)) / (b - a))
    syn_hat = sp.simplify(
        (b**2 * geo.subs(r, b**2) - 2 * a * b * geo.subs(r, a * b) + a**2 * geo.subs(r, a**2))
        / (b - a) ** 2
    )
    alpha = sp.Symbol("alpha", nonnegative=True)
    return {
        "eps_bar_T": eps_bar_T,
        "eps_hat_T": eps_hat_T,
        "eps_bar_inf": eps_bar_inf.subs(b, beta),
        "eps_hat_inf": eps_hat_inf.subs(b, beta),
        "eps_bar_inf_synaptic": syn_bar.subs({a: alpha, b: beta}),
        "eps_hat_inf_synaptic": syn_hat.subs({a: alpha, b: beta}),
        "beta": beta,
        "alpha": alpha,
        "T": T,
    }


def psp_kernel_sums(beta, steps, horizon="finite", alpha=0.0):
    """Numerical ``(eps_bar, eps_hat)`` of the neuron's PSP kernel (see module docstring).

    The kernel is the free membrane's response to one input spike at ``k =
    0``: ``eps[k] = beta^k`` for the leaky neuron (``alpha = 0``), and for the
    current-based ``synaptic`` neuron (``I^k = alpha I^{k-1} + c^k``, ``u^k =
    beta u^{k-1} + I^k``) the two filters in series, ``eps[k] = sum_{j<=k}
    alpha^j beta^(k-j)``. ``horizon="finite"``: ``eps_bar = sum_{k<T} eps[k]``,
    ``eps_hat = sum_{k<T} eps[k]^2``; ``"stationary"``: the ``T -> infinity``
    limits (``beta < 1`` and ``alpha < 1`` required): ``1 / ((1 - alpha) (1 -
    beta))`` and ``(1 + alpha beta) / ((1 - alpha^2) (1 - beta^2) (1 - alpha
    beta))`` (:func:`psp_kernel_sums_symbolic`).
    """
    beta = check_real("beta", beta, low=0.0, high=1.0)
    alpha = check_real("alpha", alpha, low=0.0, high=1.0)
    steps = check_limit("steps", steps)
    check_choice("horizon", horizon, _HORIZONS)
    if horizon == "stationary":
        if beta >= 1.0 or alpha >= 1.0:
            raise ValueError(
                "horizon='stationary' needs beta < 1 and alpha < 1 (the kernel sums "
                f"diverge); got beta={beta!r}, alpha={alpha!r}"
            )
        ab = alpha * beta
        bar = 1.0 / ((1.0 - alpha) * (1.0 - beta))
        hat = (1.0 + ab) / ((1.0 - alpha * alpha) * (1.0 - beta * beta) * (1.0 - ab))
        return bar, hat
    if alpha == 0.0:
        if beta == 1.0:
            return float(steps), float(steps)
        k = np.arange(steps)
        return float(np.sum(beta**k)), float(np.sum(beta ** (2 * k)))
    # the two filters run on one spike: exact for alpha == beta too
    eps = np.empty(steps)
    current = membrane = 0.0
    for k in range(steps):
        current = alpha * current + (1.0 if k == 0 else 0.0)
        membrane = beta * membrane + current
        eps[k] = membrane
    return float(eps.sum()), float(np.sum(eps * eps))


def _check_targets(theta, mu_u, xi):
    theta = check_real("theta", theta, low=0.0)
    mu_u = check_real("mu_u", mu_u)
    xi = check_real("xi", xi, low=0.0, low_open=True)
    if mu_u >= theta:
        raise ValueError(
            f"mu_u must be below theta (sigma_U = (theta - mu_u) / xi must be > 0); "
            f"got mu_u={mu_u!r}, theta={theta!r}"
        )
    return theta, mu_u, xi


def _summed_rates(rates, n, bernoulli, *, name, scalar_name, silent):
    """``(sum_j nu_j, V)`` of ``n`` presynaptic neurons, ``V`` the summed spike-count variance.

    ``rates`` is one rate for all (checked as ``scalar_name``) or one per
    neuron (checked as ``name``); ``V = sum nu`` (Poisson) or ``sum nu (1 - nu)``
    (Bernoulli). ``silent`` completes the message for an all-zero input.
    """
    if np.ndim(rates) == 0:
        if isinstance(rates, np.ndarray):
            rates = rates.item()
        nu = check_real(scalar_name, rates, low=0.0, high=1.0, low_open=True)
        total = n * nu
        var = total * (1.0 - nu) if bernoulli else total
    else:
        arr = check_finite_array(name, rates)
        if arr.shape != (n,):
            raise ValueError(
                f"{name} must be a number or a finite array of length {n} (one rate per "
                f"presynaptic neuron); got shape {arr.shape}"
            )
        if np.any(arr < 0) or np.any(arr > 1):
            raise ValueError(f"{name} must lie in [0, 1] (spikes per step)")
        total = float(arr.sum())
        if total <= 0.0:
            raise ValueError(f"{name}: the presynaptic layer is silent (all rates 0); {silent}")
        var = float(np.sum(arr * (1.0 - arr))) if bernoulli else total
    if var <= 0.0:
        raise ValueError(
            f"{name}: with bernoulli=True every presynaptic neuron fires at rate 0 or 1 "
            "(no spike-count variance); rates must lie strictly inside (0, 1) for some neurons"
        )
    return total, var


def fluctuation_layer_moments(
    rates_in,
    n_in,
    theta,
    beta,
    steps,
    mu_u=0.0,
    xi=1.0,
    *,
    horizon="finite",
    bernoulli=False,
    alpha=0.0,
):
    """Weight mean and variance that give the free membrane ``mu_U`` and ``sigma_U``.

    ``mu_w = mu_U / (N eps_bar)``, ``sigma_w^2 = sigma_U^2 / (V eps_hat) -
    mu_w^2`` with ``N = sum_j nu_j`` the summed presynaptic rate (``n_in nu``
    for one rate), ``V = N`` for Poisson and ``V = sum_j nu_j (1 - nu_j)`` for
    Bernoulli spikes, and ``sigma_U = (theta - mu_U) / xi`` (see the module
    docstring for the derivation). ``sigma_U^2`` is Campbell's variance over
    spike realisations at fixed weights, averaged over the weights.

    Parameters
    ----------
    rates_in : float or array_like
        Presynaptic rate (spikes per step, in (0, 1]) — one number, or one per
        presynaptic neuron (length ``n_in``, in [0, 1], not all 0).
    n_in : int
        Fan-in.
    theta, beta, steps
        Threshold, leak, number of time steps.
    mu_u : float
        Target mean of the free membrane, < theta.
    xi : float
        Target distance of the threshold in standard deviations, > 0.
    horizon : {"finite", "stationary"}
        Kernel sums over ``steps`` steps or their ``T -> infinity`` limits.
    bernoulli : bool
        Bernoulli (``nu (1 - nu)``) instead of Poisson (``nu``) spike variance.
    alpha : float
        Synaptic decay of the neurons fed (``neuron="synaptic"``; 0: the
        leaky kernel ``beta^k``, also that of ``adaptive`` and, per input,
        ``recurrent`` neurons, whose free membranes integrate as ``leaky``'s).

    Returns
    -------
    mean, var : float

    Raises
    ------
    ValueError
        Out-of-range input, a silent presynaptic layer, or targets that need a
        negative weight variance.
    """
    n_in = check_int("n_in", n_in, low=1)
    theta, mu_u, xi = _check_targets(theta, mu_u, xi)
    eps_bar, eps_hat = psp_kernel_sums(beta, steps, horizon, alpha)
    bernoulli = check_bool("bernoulli", bernoulli)
    total, spike_var = _summed_rates(
        rates_in,
        n_in,
        bernoulli,
        name="rates_in",
        scalar_name="rates_in",
        silent="the fluctuation rule cannot put a membrane into any regime without input",
    )
    sigma_u = (theta - mu_u) / xi
    mean = mu_u / (total * eps_bar)
    var = sigma_u**2 / (spike_var * eps_hat) - mean**2
    if var < 0.0:
        raise ValueError(
            f"init='fluctuation': the targets mu_u={mu_u!r}, xi={xi!r} (sigma_U="
            f"{sigma_u:.4g}) need a negative weight variance ({var:.4g}) with summed "
            f"presynaptic rate n_in*nu={total:.4g} and kernel sums eps_bar={eps_bar:.4g}, "
            f"eps_hat={eps_hat:.4g}; a solution needs mu_u^2 V eps_hat <= sigma_U^2 "
            "(n_in nu eps_bar)^2 (V = n_in nu for Poisson, n_in nu (1 - nu) for Bernoulli "
            "spikes): lower |mu_u|, lower xi or raise the presynaptic rate"
        )
    return float(mean), float(var)


def _params(cfg_params) -> dict:
    p = {**_DEFAULTS, **cfg_params}
    check_choice("horizon", p["horizon"], _HORIZONS)
    if p["nu"] is not None:
        check_real("init_params['nu']", p["nu"], low=0.0, high=1.0, low_open=True)
    return p


def _closed_form(which, n_in, theta, beta, steps, mu_u, xi, nu, horizon, bernoulli):
    if nu is None:
        raise ValueError(
            "init='fluctuation' with nu=None is data-driven (rates measured by forward "
            "passes): use layer_weight_moments(cfg), simulate(cfg) or training; or pass nu="
        )
    n_b, th_b = np.broadcast_arrays(np.asarray(n_in, float), np.asarray(theta, float))
    out = np.empty(n_b.shape)
    for idx in np.ndindex(n_b.shape):
        m, v = fluctuation_layer_moments(
            nu, int(n_b[idx]), float(th_b[idx]), beta, steps, mu_u, xi,
            horizon=horizon, bernoulli=bernoulli,
        )
        out[idx] = m if which == "mean" else v
    return out[()] if out.ndim == 0 else out


def _variance(n_in, theta, beta, steps, **p):
    return _closed_form("var", n_in, theta, beta, steps, **p)


def _mean(n_in, theta, beta, steps, **p):
    return _closed_form("mean", n_in, theta, beta, steps, **p)


def _check(cfg: NetworkConfig) -> None:
    p = _params(cfg.init_params)
    _check_targets(cfg.theta, p["mu_u"], p["xi"])
    psp_kernel_sums(cfg.beta, cfg.steps, p["horizon"], **psp_params(cfg))
    if cfg.neuron == "recurrent" and p["nu"] is None:
        raise ValueError(
            "init='fluctuation' for neuron='recurrent' needs init_params['nu'] (its "
            "data-driven calibration network has feed-forward layers only)"
        )


def fluctuation_calibration(cfg: NetworkConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Data-driven moments for ``cfg`` from one calibration network.

    :func:`snninit.theory.rules.data_driven_network` with a fixed seed: layer
    0 is driven by ``c I``, ``I ~ N(0, 1)^width``, and each hidden layer ``l``
    gets ``W_l`` drawn with the moments of the rule's ``from_activity``
    (:func:`fluctuation_layer_moments`) at the measured per-neuron rates of
    layer ``l - 1`` (spikes averaged over the ``steps`` steps) before layer
    ``l`` is run (the model's kernels, :mod:`snninit.models`).

    Networks simulated with these moments are *not* the calibration network:
    its finite-size rate fluctuations (relative sd ``sqrt((1 - nu) / (n nu))``
    per layer) become a mismatch of every other network's weight variance,
    which adds to their own finite-size drift (at n = 1000, L = 100, T = 1,
    theta = 1: 60 % of networks silent vs 10 % with Micheli's rule). The
    faithful data-driven protocol calibrates every network on itself:
    :func:`snninit.montecarlo.simulate_data_driven`.

    Returns
    -------
    mean, var, rate_in : ndarray, shape (layers,)
        Weight moments feeding hidden layers ``1..L`` and the mean presynaptic
        rate each was computed from.

    Raises
    ------
    ValueError
        If a layer of the calibration network falls silent (no weights can
        restore activity).
    """
    cfg = check_config(cfg)  # before the cache: a dict is a ValueError, not unhashable
    return _fluctuation_calibration(cfg)


@functools.lru_cache(maxsize=32)
def _fluctuation_calibration(cfg: NetworkConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.Generator(np.random.PCG64(_CALIBRATION_SEED))
    means, vars_, rates, _ = data_driven_network(cfg, rng)
    silent = np.flatnonzero(np.isnan(vars_))
    if silent.size:
        raise ValueError(
            f"init={cfg.init!r} (data-driven): layer {int(silent[0])} of the calibration "
            f"network is silent (theta={cfg.theta}, beta={cfg.beta}, steps={cfg.steps}); no "
            "weights can restore activity; pass nu= or change mu_u/xi"
        )
    return means, vars_, rates


def _per_layer(cfg: NetworkConfig):
    p = _params(cfg.init_params)
    if p["nu"] is None:
        mean, var, _ = fluctuation_calibration(cfg)
        return mean.copy(), var.copy()
    m, v = fluctuation_layer_moments(
        p["nu"], cfg.width, cfg.theta, cfg.beta, cfg.steps, p["mu_u"], p["xi"],
        horizon=p["horizon"], bernoulli=p["bernoulli"], **psp_params(cfg),
    )
    return np.full(cfg.layers, m), np.full(cfg.layers, v)


def _from_activity(rates_in, n_in, theta, beta, steps, *, mu_u=0.0, xi=1.0, nu=None,
                   horizon="finite", bernoulli=False, inhibitory=0, alpha=0.0):
    """The rule's ``from_activity`` hook (see :class:`~snninit.theory.rules.InitRule`).

    :func:`fluctuation_layer_moments` at the measured rates ``rates_in``; a
    given ``nu`` stands in for them (the published constant-rate rule, the
    closed form), so that every user of the hook gives the closed form's
    weights (``rates_in=None`` then). ``alpha``: the synaptic decay of
    ``synaptic`` neurons (their PSP kernel). With ``inhibitory = n_i`` (Dale's
    law, the last ``n_i`` of the ``n_in`` inputs inhibitory):
    :func:`dale_layer_moments`'s scales ``(a_E, a_I)`` at the rates of each
    population (leaky kernel).
    """
    if nu is not None:
        rates_in = check_real("nu", nu, low=0.0, high=1.0, low_open=True)
    elif rates_in is None:
        raise ValueError(
            "init='fluctuation' with nu=None is data-driven: it needs the presynaptic "
            "rates (measured by forward passes), or pass nu="
        )
    if inhibitory:
        n_in = check_int("n_in", n_in, low=2)
        n_i = check_int("inhibitory", inhibitory, low=1, high=n_in - 1)
        n_e = n_in - n_i
        split = np.ndim(rates_in) != 0
        from .fluctuation_dale import dale_layer_moments  # it imports this module

        scales = dale_layer_moments(
            rates_in[:n_e] if split else rates_in, rates_in[n_e:] if split else rates_in,
            n_e, n_i, theta, beta, steps, mu_u, xi, horizon=horizon, bernoulli=bernoulli,
        )
        return scales.scale_e, scales.scale_i
    return fluctuation_layer_moments(
        rates_in, n_in, theta, beta, steps, mu_u, xi, horizon=horizon, bernoulli=bernoulli,
        alpha=alpha,
    )


FLUCTUATION_RULE = register_rule(
    InitRule(
        name="fluctuation",
        variance=_variance,
        mean=_mean,
        params=dict(_DEFAULTS),
        per_layer=_per_layer,
        from_activity=_from_activity,
        check=_check,
        assumptions=(
            "Rossbroich, Gygax & Zenke (2022): choose E[w], Var[w] so that the free "
            "membrane (no threshold, no reset) has mean mu_U = mu_u and sd sigma_U = "
            "(theta - mu_u) / xi under Campbell's theorem: presynaptic spikes independent "
            "over neurons and time at rate nu (given, or measured layer by layer with "
            "forward passes when nu=None), the neuron's PSP kernel (beta^k; for "
            "neuron='synaptic' the two filters, sum_j alpha^j beta^(k-j)) summed over the "
            "steps (horizon='finite') or to infinity ('stationary'). Adaptation and "
            "recurrent feedback are ignored like threshold and reset (the free membrane); "
            "for neuron='recurrent' the moments are split (1 - f) / f between feed-forward "
            "and recurrent weights at equal rates (stork's split), and nu must be given."
        ),
    )
)
