"""Symbolic derivation (sympy) of the one-step variance propagation.

Everything the numeric one-step theory relies on is derived here from the
model of DESIGN.md section 1a, and turned into numpy functions with
:func:`sympy.lambdify`:

1. ``u = sum_j w_j x_j`` with ``w_j`` i.i.d. (mean 0, variance ``s2``) and
   independent of the inputs ``x_j``: ``Var[u] = n s2 E[x^2]``
   (:func:`membrane_variance`).
2. For the Heaviside ``x = H(u - theta)`` with ``u ~ N(0, v)``:
   ``E[x^2] = E[x] = P(u > theta) = Q(theta / sqrt v)``, obtained by
   integrating the normal density (:func:`firing_probability`).
3. The init rule as the solution of ``Var[u_l] = Var[u_{l-1}] = 1``
   (:func:`variance_preserving_rule`): Micheli's ``s2 = 1 / (n Q(theta))``,
   and Kaiming's ``2 / n`` as its ``theta = 0`` case.
4. The mean-field map ``F(v) = n s2 Q(theta / sqrt v)`` and ``F'``, ``F''``
   (:func:`mean_field_map_expr`), and its slope at ``v = 1`` under the
   Micheli rule, ``chi = theta phi(theta) / (2 Q(theta))``
   (:func:`micheli_slope_expr`).
5. The 1/n expansion's ``g(p) = Q((theta - n mu p) / sqrt(n s2 p))``, the
   firing probability of a neuron whose layer below fires a fraction ``p``,
   and ``g'``, ``g''`` (:func:`expansion_exprs`).

sympy is imported only when a function of this module is called (not by
``import snninit``); lambdified functions are cached.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = [
    "symbols",
    "membrane_variance",
    "firing_probability",
    "variance_preserving_rule",
    "mean_field_map_expr",
    "micheli_slope_expr",
    "expansion_exprs",
    "numeric",
]


@functools.cache
def symbols() -> dict[str, Any]:
    """The sympy symbols used throughout: n, s2, theta, v, p, mu, z, x."""
    import sympy as sp

    return {
        "n": sp.Symbol("n", positive=True),
        "s2": sp.Symbol("s2", positive=True),
        # positive so that sympy returns one closed form; it extends
        # continuously to theta = 0 (Q(0) = 1/2), which the tests check.
        "theta": sp.Symbol("theta", positive=True),
        "v": sp.Symbol("v", positive=True),
        "p": sp.Symbol("p", positive=True),
        "mu": sp.Symbol("mu", real=True),
        "z": sp.Symbol("z", real=True),
        "x": sp.Symbol("x", real=True),
    }


def _Q(arg):
    """Standard normal tail ``Q(arg) = erfc(arg / sqrt 2) / 2`` as a sympy expression."""
    import sympy as sp

    return sp.erfc(arg / sp.sqrt(2)) / 2


@functools.cache
def membrane_variance():
    """``Var[u]`` for ``u = sum_{j=1}^n w_j x_j`` (i.i.d. zero-mean weights).

    Derived term by term: the summands are independent with
    ``E[w x] = E[w] E[x] = 0`` and ``E[(w x)^2] = E[w^2] E[x^2] = s2 E[x^2]``,
    so ``Var[u] = n (s2 E[x^2] - 0)``. Returns the expression in the symbols
    ``n``, ``s2`` and ``Ex2`` (the latter a new symbol for ``E[x^2]``).
    """
    import sympy as sp

    S = symbols()
    Ew, Ew2, Ex, Ex2 = sp.symbols("Ew Ew2 Ex Ex2", real=True)
    var_term = Ew2 * Ex2 - (Ew * Ex) ** 2  # Var[w x] for independent w, x
    total = S["n"] * var_term  # independent summands
    return sp.simplify(total.subs({Ew: 0, Ew2: S["s2"]})), Ex2


@functools.cache
def firing_probability():
    """``E[x^2] = P(u > theta)`` for ``x = H(u - theta)``, ``u ~ N(0, v)``.

    ``x`` takes values 0 and 1, so ``x^2 = x`` and ``E[x^2]`` is the integral
    of the ``N(0, v)`` density over ``(theta, inf)``; sympy evaluates it to
    ``erfc(theta / sqrt(2 v)) / 2 = Q(theta / sqrt v)``.
    """
    import sympy as sp

    S = symbols()
    z, v, theta = S["z"], S["v"], S["theta"]
    density = sp.exp(-(z**2) / (2 * v)) / sp.sqrt(2 * sp.pi * v)
    return _as_erfc(sp.integrate(density, (z, theta, sp.oo)))


def _as_erfc(expr):
    """Rewrite ``erf`` as ``1 - erfc`` and simplify: no cancellation in the upper tail."""
    import sympy as sp

    return sp.simplify(expr.rewrite(sp.erfc))


@functools.cache
def variance_preserving_rule():
    """The weight variance making ``Var[u_l] = Var[u_{l-1}] = 1``.

    Solves ``n s2 P(u > theta) = 1`` with ``u ~ N(0, 1)`` for ``s2``: the
    Micheli rule ``s2 = 1 / (n Q(theta))``. Returns the expression in ``n``
    and ``theta``.
    """
    import sympy as sp

    S = symbols()
    var_u, Ex2 = membrane_variance()
    ex2 = firing_probability().subs(S["v"], 1)
    (solution,) = sp.solve(sp.Eq(var_u.subs(Ex2, ex2), 1), S["s2"])
    return _as_erfc(solution)


@functools.cache
def mean_field_map_expr():
    """``(F, F', F'')`` for the map ``F(v) = n s2 Q(theta / sqrt v)`` (derivatives in v)."""
    import sympy as sp

    S = symbols()
    var_u, Ex2 = membrane_variance()
    F = var_u.subs(Ex2, firing_probability())
    dF = _as_erfc(sp.diff(F, S["v"]))
    d2F = _as_erfc(sp.diff(F, S["v"], 2))
    return F, dF, d2F


@functools.cache
def micheli_slope_expr():
    """Slope of the map at ``v = 1`` under the Micheli rule: ``theta phi(theta) / (2 Q(theta))``."""

    S = symbols()
    _, dF, _ = mean_field_map_expr()
    return _as_erfc(dF.subs(S["s2"], variance_preserving_rule()).subs(S["v"], 1))


@functools.cache
def expansion_exprs():
    """``(g, g', g'')`` of the 1/n expansion, derivatives in ``p``.

    ``g(p) = Q((theta - n mu p) / sqrt(n s2 p))`` is the probability that a
    neuron fires when ``k = n p`` neurons of the layer below fired: its
    membrane is then exactly ``N(k mu, k s2)`` (Gaussian weights with mean
    ``mu``). With ``mu = 0`` it is ``Q(theta / sqrt(n s2 p))`` of DESIGN 3b.
    """
    import sympy as sp

    S = symbols()
    n, s2, p, mu, theta = S["n"], S["s2"], S["p"], S["mu"], S["theta"]
    g = _Q((theta - n * mu * p) / sp.sqrt(n * s2 * p))
    return g, sp.diff(g, p), sp.diff(g, p, 2)


_NUMERIC_ARGS = {
    "firing_probability": ("theta", "v"),
    "variance_preserving_rule": ("n", "theta"),
    "map": ("v", "theta", "s2", "n"),
    "map_d1": ("v", "theta", "s2", "n"),
    "map_d2": ("v", "theta", "s2", "n"),
    "micheli_slope": ("theta",),
    "g": ("p", "theta", "s2", "n", "mu"),
    "g_d1": ("p", "theta", "s2", "n", "mu"),
    "g_d2": ("p", "theta", "s2", "n", "mu"),
}


@functools.cache
def numeric(name: str):
    """A cached numpy function (via :func:`sympy.lambdify`) of a derived expression.

    Names and argument order: ``firing_probability(theta, v)``,
    ``variance_preserving_rule(n, theta)``, ``map(v, theta, s2, n)``,
    ``map_d1``, ``map_d2`` (same arguments), ``micheli_slope(theta)``,
    ``g(p, theta, s2, n, mu)``, ``g_d1``, ``g_d2`` (same arguments).
    ``erfc`` is evaluated by :func:`scipy.special.erfc`.
    """
    import sympy as sp

    if name not in _NUMERIC_ARGS:
        raise ValueError(f"name must be one of {', '.join(map(repr, _NUMERIC_ARGS))}; got {name!r}")
    exprs = {
        "firing_probability": firing_probability,
        "variance_preserving_rule": variance_preserving_rule,
        "map": lambda: mean_field_map_expr()[0],
        "map_d1": lambda: mean_field_map_expr()[1],
        "map_d2": lambda: mean_field_map_expr()[2],
        "micheli_slope": micheli_slope_expr,
        "g": lambda: expansion_exprs()[0],
        "g_d1": lambda: expansion_exprs()[1],
        "g_d2": lambda: expansion_exprs()[2],
    }
    S = symbols()
    args = [S[a] for a in _NUMERIC_ARGS[name]]
    return sp.lambdify(args, exprs[name](), modules=["scipy", "numpy"])
