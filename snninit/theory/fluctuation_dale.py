"""Dale's-law variant of ``init="fluctuation"``: exponential E and I weight scales.

The same two targets as :func:`snninit.theory.fluctuation.fluctuation_layer_moments`
(the free membrane's ``mu_U`` and ``theta - mu_U = xi sigma_U``), solved for a
layer whose inputs are split into excitatory neurons (weights ``+Exp``) and
inhibitory neurons (weights ``-Exp``). The kernel sums and the checks of the
targets and rates are the normal rule's (imported from it).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import check_bool, check_int
from .fluctuation import _check_targets, _summed_rates, psp_kernel_sums

__all__ = ["DaleScales", "dale_layer_moments", "dale_scales_symbolic"]


class DaleScales(NamedTuple):
    """Result of :func:`dale_layer_moments`.

    Attributes
    ----------
    scale_e, scale_i : float
        Scales ``a_E``, ``a_I`` (> 0) of the exponential weight magnitudes:
        excitatory weights ``w ~ Exp(a_E)`` (``w >= 0``), inhibitory weights
        ``w = -|w|``, ``|w| ~ Exp(a_I)``.
    balance : float
        Mean inhibitory over mean excitatory drive, ``b = M_I a_I / (M_E a_E)
        = 1 - mu_U / (M_E a_E)``: 1 for ``mu_U = 0`` (balanced), < 1 for
        ``mu_U > 0``, > 1 for ``mu_U < 0``.
    """

    scale_e: float
    scale_i: float
    balance: float


def _dale_solve(mu, sigma, p, q, s, r):
    """Closed form of :func:`dale_layer_moments`.

    ``p = M_E``, ``q = M_I``, ``s = S_E``, ``r = S_I``.
    """
    a = s * q * q + r * p * p
    d = sigma * sigma * a - r * s * mu * mu
    root = np.sqrt(max(d, 0.0))
    return (r * p * mu + q * root) / a, (-s * q * mu + p * root) / a


def dale_layer_moments(
    nu_e,
    nu_i,
    n_e,
    n_i,
    theta,
    beta,
    steps,
    mu_u=0.0,
    xi=1.0,
    *,
    horizon="finite",
    bernoulli=False,
):
    r"""Exponential E and I weight scales that give the free membrane ``mu_U`` and ``sigma_U``.

    Dale's law: each presynaptic neuron is either excitatory (all its outgoing
    weights ``>= 0``) or inhibitory (all ``<= 0``). Here the ``n_e`` excitatory
    inputs carry weights ``w ~ Exp(a_E)`` (mean ``a_E``, second moment
    ``2 a_E^2``) and the ``n_i`` inhibitory inputs ``w = -|w|``, ``|w| ~
    Exp(a_I)``; all weights independent. The two scales replace the normal
    rule's mean and variance and are fixed by the same two targets, ``mu_U``
    and ``theta - mu_U = xi sigma_U``.

    Derivation. With the kernel sums ``eps_bar``, ``eps_hat`` of
    :func:`psp_kernel_sums` and presynaptic spike counts independent over
    neurons and steps, Campbell's theorem (module docstring) applied to each
    population and summed gives, for the free membrane at the last step,

        mu_U      = eps_bar (a_E sum_{j in E} nu_j - a_I sum_{j in I} nu_j)
                  = M_E a_E - M_I a_I
        sigma_U^2 = eps_hat (2 a_E^2 V_E + 2 a_I^2 V_I) = S_E a_E^2 + S_I a_I^2

    with ``M_X = eps_bar sum_{j in X} nu_j``, ``S_X = 2 eps_hat V_X``, ``V_X =
    sum_{j in X} nu_j`` (Poisson) or ``sum_{j in X} nu_j (1 - nu_j)``
    (Bernoulli); for one rate per population ``sum nu_j = n_X nu_X``. As in
    the normal rule, ``sigma_U^2`` is the variance over spike realisations at
    fixed weights, averaged over the weights, ``E_w[Var(u | w)]``
    (``E_w[w^2] = 2 a^2`` for an exponential magnitude).

    In the ``(a_E, a_I)`` plane the first equation is a line of positive slope,
    the second an ellipse, so there is at most one solution with both scales
    positive. Eliminating ``a_E = (mu_U + M_I a_I) / M_E`` leaves a quadratic
    in ``a_I``; its positive root (sympy: :func:`dale_scales_symbolic`) is

        A   = S_E M_I^2 + S_I M_E^2
        D   = sigma_U^2 A - S_E S_I mu_U^2
        a_E = (S_I M_E mu_U + M_I sqrt(D)) / A
        a_I = (M_E sqrt(D) - S_E M_I mu_U) / A

    Both are positive exactly when

        -sigma_U M_I / sqrt(S_I) < mu_U < sigma_U M_E / sqrt(S_E)

    (then ``D > 0``): a positive target mean must be reachable with no
    inhibition, a negative one with no excitation. With ``sigma_U = (theta -
    mu_U) / xi`` and ``k_X = xi sqrt(S_X) / M_X`` this is ``mu_U < theta /
    (1 + k_E)`` and, if ``k_I > 1``, ``mu_U > -theta / (k_I - 1)``. The
    balanced case ``mu_U = 0`` (the published exponential initialiser's
    setting) is always feasible: ``a_I / a_E = M_E / M_I`` (mean excitation
    and inhibition cancel) and ``a_E^2 = sigma_U^2 M_I^2 / A``.

    Given ``mu_U`` and ``sigma_U`` there is no free parameter left: the E/I
    *balance* ``b = M_I a_I / (M_E a_E)`` (mean inhibitory over mean
    excitatory drive) follows, ``b = 1 - mu_U / (M_E a_E)``, and is returned.
    The fraction of inhibitory inputs is the caller's choice (``n_i``;
    :func:`snninit.montecarlo.dale_split` with the default 20 %).

    Assumptions: presynaptic spike counts independent over neurons and steps
    (Poisson, or Bernoulli with ``bernoulli=True``), weights independent of
    each other and of the spikes, threshold and reset ignored (the free
    membrane), one kernel ``beta^k`` for both populations (our neuron has no
    separate E and I synaptic time constants).

    Parameters
    ----------
    nu_e, nu_i : float or array_like
        Presynaptic rates (spikes per step) of the excitatory and inhibitory
        population: one number in (0, 1] each, or one rate per neuron (length
        ``n_e`` resp. ``n_i``, in [0, 1], not all 0).
    n_e, n_i : int
        Number of excitatory and inhibitory inputs, each >= 1.
    mu_u : float
        Target mean of the free membrane, < theta, inside the feasible
        interval above.
    theta, beta, steps, xi, horizon, bernoulli
        As in :func:`~snninit.theory.fluctuation.fluctuation_layer_moments`.

    Returns
    -------
    DaleScales
        ``scale_e``, ``scale_i`` (``a_E``, ``a_I``) and ``balance``.

    Raises
    ------
    ValueError
        Out-of-range input, a silent population, or a ``mu_u`` outside the
        feasible interval (the message gives the interval).
    """
    n_e = check_int("n_e", n_e, low=1)
    n_i = check_int("n_i", n_i, low=1)
    theta, mu_u, xi = _check_targets(theta, mu_u, xi)
    eps_bar, eps_hat = psp_kernel_sums(beta, steps, horizon)
    bernoulli = check_bool("bernoulli", bernoulli)
    silent = "the Dale's-law rule needs input from both populations"
    tot_e, var_e = _summed_rates(
        nu_e, n_e, bernoulli, name="nu_e", scalar_name="nu_e", silent=silent
    )
    tot_i, var_i = _summed_rates(
        nu_i, n_i, bernoulli, name="nu_i", scalar_name="nu_i", silent=silent
    )
    m_e, m_i = eps_bar * tot_e, eps_bar * tot_i
    s_e, s_i = 2.0 * eps_hat * var_e, 2.0 * eps_hat * var_i
    sigma_u = (theta - mu_u) / xi
    k_e, k_i = xi * np.sqrt(s_e) / m_e, xi * np.sqrt(s_i) / m_i
    hi = theta / (1.0 + k_e)
    lo = -theta / (k_i - 1.0) if k_i > 1.0 else -np.inf
    if not lo < mu_u < hi:
        raise ValueError(
            f"Dale's-law fluctuation rule: mu_u={mu_u!r} cannot be reached with positive "
            f"exponential scales for theta={theta!r}, xi={xi!r} and these rates "
            f"(M_E={m_e:.4g}, M_I={m_i:.4g}, S_E={s_e:.4g}, S_I={s_i:.4g}); mu_u must lie in "
            f"({lo:.6g}, {hi:.6g}) (-sigma_U M_I/sqrt(S_I) < mu_u < sigma_U M_E/sqrt(S_E)): "
            "move mu_u towards 0, lower xi or raise the presynaptic rates"
        )
    a_e, a_i = _dale_solve(mu_u, sigma_u, m_e, m_i, s_e, s_i)
    if not (a_e > 0.0 and a_i > 0.0):  # pragma: no cover - excluded by the interval above
        raise ValueError(f"mu_u={mu_u!r} at the edge of the feasible interval ({lo}, {hi})")
    return DaleScales(float(a_e), float(a_i), float(m_i * a_i / (m_e * a_e)))


def dale_scales_symbolic():
    """Solve the Dale's-law targets for ``(a_E, a_I)`` with sympy.

    Returns
    -------
    dict
        ``a_e``, ``a_i``: the solution of ``M_E a_E - M_I a_I = mu`` and
        ``S_E a_E^2 + S_I a_I^2 = sigma^2`` with ``a_I > 0`` (see
        :func:`dale_layer_moments`), as sympy expressions in the positive
        symbols ``M_E, M_I, S_E, S_I, sigma`` and the real symbol ``mu``
        (returned under those names too).
    """
    import sympy as sp

    m_e, m_i, s_e, s_i, sigma = sp.symbols("M_E M_I S_E S_I sigma", positive=True)
    mu = sp.Symbol("mu", real=True)
    a_e, a_i = sp.symbols("a_E a_I")
    sols = sp.solve(
        [m_e * a_e - m_i * a_i - mu, s_e * a_e**2 + s_i * a_i**2 - sigma**2], [a_e, a_i], dict=True
    )
    # the branch with the + sqrt(D) root: a_I is the larger root of the quadratic
    probe = {m_e: 1, m_i: 1, s_e: 1, s_i: 1, sigma: 1, mu: 0}
    best = max(sols, key=lambda d: float(d[a_i].subs(probe)))
    return {
        "a_e": sp.simplify(best[a_e]),
        "a_i": sp.simplify(best[a_i]),
        "M_E": m_e,
        "M_I": m_i,
        "S_E": s_e,
        "S_I": s_i,
        "sigma": sigma,
        "mu": mu,
    }
