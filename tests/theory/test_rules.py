"""Init rules: the paper's two rules, their relation, and every bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import snninit as si
from snninit.theory import symbolic

thetas = st.floats(min_value=1e-6, max_value=8.0, allow_nan=False)
widths = st.integers(min_value=1, max_value=100_000)


@given(theta=thetas, n=widths)
def test_micheli_variance_exceeds_kaiming_for_positive_theta(theta, n):
    # Q(theta) < 1/2 for theta > 0, so 1 / (n Q) > 2 / n
    assert si.theory.weight_variance("micheli", n, theta) > si.theory.weight_variance(
        "kaiming", n, theta
    )


@given(n=widths)
def test_micheli_equals_kaiming_at_zero_threshold(n):
    assert si.theory.weight_variance("micheli", n, 0.0) == pytest.approx(
        si.theory.weight_variance("kaiming", n, 0.0), rel=1e-15
    )


def test_weight_variance_is_vectorised_and_matches_the_symbolic_rule():
    theta = np.linspace(0.0, 8.0, 33)
    n = 250
    got = si.theory.weight_variance("micheli", n, theta)
    assert got.shape == theta.shape
    derived = symbolic.numeric("variance_preserving_rule")(n, theta)
    np.testing.assert_allclose(got, derived, rtol=1e-12)
    # Kaiming is the theta = 0 case of the variance-preserving rule
    assert si.theory.weight_variance("kaiming", n, 1.3) == pytest.approx(
        float(symbolic.numeric("variance_preserving_rule")(n, 0.0)), rel=1e-14
    )


def test_micheli_is_finite_up_to_theta_eight():
    value = si.theory.weight_variance("micheli", 1, 8.0)
    assert math.isfinite(value) and value > 1e14


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"rule": "xavier", "n_in": 10}, "rule must be one of"),
        ({"rule": "micheli", "n_in": 0}, "n_in must be finite in [1"),
        ({"rule": "micheli", "n_in": -5}, "n_in must be finite in [1"),
        ({"rule": "micheli", "n_in": 10.5}, "n_in must be a positive integer"),
        ({"rule": "micheli", "n_in": math.nan}, "n_in must be finite"),
        ({"rule": "micheli", "n_in": "many"}, "n_in must be numeric"),
        ({"rule": "micheli", "n_in": 10, "theta": -0.5}, "theta must be finite in [0.0"),
        ({"rule": "micheli", "n_in": 10, "theta": math.inf}, "theta must be finite"),
        ({"rule": "micheli", "n_in": 10, "theta": [0.5, math.nan]}, "theta must be finite"),
        ({"rule": "micheli", "n_in": 10, "theta": 40.0}, "non-finite weight variance"),
        ({"rule": "micheli", "n_in": 10, "beta": 2.0}, "beta must be a finite number in [0.0"),
        ({"rule": "micheli", "n_in": 10, "steps": 0}, "steps must be an integer in [1"),
        ({"rule": "micheli", "n_in": 10, "xi": 1.0}, "has no parameter(s) ['xi']"),
    ],
)
def test_bad_weight_variance_input_names_parameter_and_range(kwargs, fragment):
    with pytest.raises(ValueError) as info:
        si.theory.weight_variance(**kwargs)
    assert fragment in str(info.value)


def test_layer_weight_moments_broadcast_the_rule_over_layers():
    cfg = si.NetworkConfig(width=300, layers=7, theta=0.7)
    mean, var = si.theory.layer_weight_moments(cfg)
    assert mean.shape == var.shape == (7,)
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_allclose(var, 1.0 / (300 * si.theory.survival(0.7)), rtol=1e-14)
