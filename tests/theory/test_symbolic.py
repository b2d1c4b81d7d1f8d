"""The sympy derivation: closed forms, derivatives against finite differences."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from snninit.theory import symbolic


def test_derived_expressions_have_the_expected_closed_forms():
    import sympy as sp

    S = symbolic.symbols()
    var_u, ex2 = symbolic.membrane_variance()
    assert sp.simplify(var_u - S["n"] * S["s2"] * ex2) == 0
    Q = sp.erfc(S["theta"] / sp.sqrt(2 * S["v"])) / 2
    assert sp.simplify(symbolic.firing_probability() - Q) == 0
    rule = symbolic.variance_preserving_rule()
    assert sp.simplify(rule - 1 / (S["n"] * Q.subs(S["v"], 1))) == 0
    phi = sp.exp(-(S["theta"] ** 2) / 2) / sp.sqrt(2 * sp.pi)
    chi = S["theta"] * phi / (2 * Q.subs(S["v"], 1))
    assert sp.simplify(symbolic.micheli_slope_expr() - chi) == 0


@given(
    theta=st.floats(0.0, 3.0),
    v=st.floats(0.05, 5.0),
)
def test_lambdified_firing_probability_is_the_normal_tail(theta, v):
    got = symbolic.numeric("firing_probability")(theta, v)
    assert got == pytest.approx(stats.norm.sf(theta / np.sqrt(v)), rel=1e-12, abs=1e-300)


def _central_difference(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h), (f(x + h) - 2 * f(x) + f(x - h)) / h**2


@given(
    theta=st.floats(0.05, 3.0),
    v=st.floats(0.2, 4.0),
    n=st.integers(10, 5000),
)
def test_map_derivatives_agree_with_finite_differences(theta, v, n):
    s2 = 1.0 / (n * stats.norm.sf(theta))
    F, d1, d2 = (symbolic.numeric(k) for k in ("map", "map_d1", "map_d2"))
    h = 1e-4 * v
    fd1, fd2 = _central_difference(lambda x: F(x, theta, s2, n), v, h)
    scale = abs(F(v, theta, s2, n)) / v
    # truncation O(h^2 F'''), rounding O(eps F / h) and O(eps F / h^2) for the second
    assert d1(v, theta, s2, n) == pytest.approx(fd1, rel=1e-5, abs=1e-8 * scale)
    assert d2(v, theta, s2, n) == pytest.approx(fd2, rel=1e-3, abs=1e-4 * scale / v)


@given(
    theta=st.floats(0.05, 2.5),
    p=st.floats(0.02, 0.6),
    n=st.integers(20, 5000),
    mu_scaled=st.floats(-0.5, 0.5),
)
def test_expansion_derivatives_agree_with_finite_differences(theta, p, n, mu_scaled):
    s2 = 1.0 / (n * stats.norm.sf(theta))
    mu = mu_scaled / n  # weight means of order 1/n keep the input mean O(1)
    g, g1, g2 = (symbolic.numeric(k) for k in ("g", "g_d1", "g_d2"))
    h = 1e-4 * p
    fd1, fd2 = _central_difference(lambda x: g(x, theta, s2, n, mu), p, h)
    assert g1(p, theta, s2, n, mu) == pytest.approx(fd1, rel=1e-5, abs=1e-7 / p)
    assert g2(p, theta, s2, n, mu) == pytest.approx(fd2, rel=1e-3, abs=1e-3 / p**2)


def test_g_is_the_chain_firing_probability():
    n, theta, s2, mu = 200, 1.0, 0.03, 0.001
    k = np.arange(1, n + 1)
    q = stats.norm.sf((theta - k * mu) / np.sqrt(k * s2))
    np.testing.assert_allclose(symbolic.numeric("g")(k / n, theta, s2, n, mu), q, rtol=1e-12)


def test_numeric_functions_are_cached_and_names_checked():
    assert symbolic.numeric("g") is symbolic.numeric("g")
    with pytest.raises(ValueError, match="name must be one of"):
        symbolic.numeric("nope")


def test_import_snninit_does_not_import_sympy():
    code = (
        "import sys, snninit, snninit.theory; snninit.theory.weight_variance('micheli', 10);"
        "import snninit.theory.meanfield, snninit.theory.finitesize;"
        "print('sympy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
