"""The first-order 1/n expansion about the mean field (issue 13 section 3).

Checked against the exact chain's survivors (``var_u_given_alive``), where it
must be off by O(n^-2), and against its own breakdown criterion.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import snninit as si
from snninit.theory.finitesize import EXPANSION_TOL

T = si.theory

#: Widths of the slope fits (the chain takes ~0.1 s at n = 8000, 50 layers).
WIDTHS = np.array([500, 1000, 2000, 4000, 8000])
#: Two-sided level of the slope's confidence interval.
ALPHA = 1e-3


def _slope_ci(ns, errs):
    """Leading exponent ``s`` of ``err = A n^s (1 + b / n)`` and its CI half-width.

    Least squares of ``log err = a + s log n + c / n``: the ``c / n`` term is
    the relative O(1/n) next order, so ``s`` is the leading exponent (not a
    local slope biased by the finite widths). The half-width is the fit's own
    ``t_{1 - ALPHA/2, N - 3}`` times the standard error of ``s``.
    """
    ns = np.asarray(ns, dtype=float)
    y = np.log(np.asarray(errs, dtype=float))
    X = np.column_stack([np.ones_like(ns), np.log(ns), 1.0 / ns])
    coef, rss, *_ = np.linalg.lstsq(X, y, rcond=None)
    df = len(ns) - X.shape[1]
    cov = float(rss[0]) / df * np.linalg.inv(X.T @ X)
    return coef[1], stats.t.ppf(1 - ALPHA / 2, df) * np.sqrt(cov[1, 1])


def _max_error(theta, layers, target, prediction=T.finite_size_expansion, name="var_u"):
    errs = []
    for n in WIDTHS:
        cfg = si.NetworkConfig(width=int(n), layers=layers, theta=theta)
        exact, approx = T.finite_size(cfg), prediction(cfg)
        errs.append(float(np.nanmax(np.abs(exact[target] - approx[name]).values)))
        if target == "var_u":  # all networks: only where extinction is negligible,
            # i.e. moves E[var_u] (~ 1) by far less than the error measured
            assert float(exact["p_extinct"].max()) < 1e-3 * errs[-1]
    return np.array(errs)


@pytest.mark.parametrize(
    ("theta", "layers", "target"),
    [
        # a few layers: O(n^-2) at every theta, up to 1.1 (theta* = 1.19)
        (0.8, 5, "var_u_given_alive"),
        (0.9, 5, "var_u_given_alive"),
        (1.0, 5, "var_u_given_alive"),
        (1.1, 5, "var_u_given_alive"),
        # deep: where survivors rarely enter the extinction basin (docs/theory.md)
        (0.8, 50, "var_u_given_alive"),
        (0.9, 50, "var_u_given_alive"),
        # all networks, where extinction is negligible
        (0.8, 50, "var_u"),
        (0.9, 5, "var_u"),
    ],
)
def test_error_against_survivors_shrinks_like_one_over_n_squared(theta, layers, target):
    slope, half = _slope_ci(WIDTHS, _max_error(theta, layers, target))
    assert abs(slope + 2.0) <= half, (slope, half)
    assert abs(slope + 1.0) > half, (slope, half)  # the fit can tell it from first order


def test_variance_of_var_u_error_shrinks_like_one_over_n_squared():
    errs = []
    for n in WIDTHS:
        cfg = si.NetworkConfig(width=int(n), layers=20, theta=0.8)
        exact, approx = T.finite_size(cfg), T.finite_size_expansion(cfg)
        diff = exact["var_u_sd_given_alive"] ** 2 - approx["var_u_sd"] ** 2
        errs.append(float(np.abs(diff).max()))
    slope, half = _slope_ci(WIDTHS, errs)
    assert abs(slope + 2.0) <= half, (slope, half)


def test_the_slope_fit_tells_first_order_from_second():
    # the mean field's error is O(1/n): the same fit must find -1, not -2
    slope, half = _slope_ci(WIDTHS, _max_error(1.0, 5, "var_u_given_alive", T.mean_field))
    assert abs(slope + 1.0) <= half, (slope, half)
    assert abs(slope + 2.0) > half


@pytest.mark.parametrize(("width", "theta"), [(1000, 1.1), (100, 0.9)])
def test_no_oscillation_where_the_nonlinear_recursion_oscillated(width, theta):
    # issue 13: the old recursion gave 0.999 -> 0.607 -> 1.812 -> 0.407 (n 1000,
    # theta 1.1) and 0.28 at layer 55, 1.18 at 60 (n 100, theta 0.9)
    cfg = si.NetworkConfig(width=width, layers=60, theta=theta)
    ds = T.finite_size_expansion(cfg)
    v = ds["var_u"].isel(time=0).values
    assert ds.attrs["valid_layers"] == cfg.layers + 1
    assert np.all(np.diff(v) <= 1e-12)  # converges monotonically to its fixed point
    # and it describes the survivors better than the mean field does
    exact = T.finite_size(cfg)["var_u_given_alive"].isel(time=0).values
    mf = T.mean_field(cfg)["var_u"].isel(time=0).values
    assert np.max(np.abs(v - exact)) < 0.5 * np.max(np.abs(mf - exact))


@pytest.mark.parametrize("width", [100, 1000, 4000])
def test_monotone_or_flagged_across_theta_star(width):
    for theta in np.linspace(0.8, 1.4, 13):
        cfg = si.NetworkConfig(width=width, layers=100, theta=float(theta))
        ds = T.finite_size_expansion(cfg, on_breakdown="mask")
        valid = ds.attrs["valid_layers"]
        v = ds["var_u"].isel(time=0).values
        assert np.all(np.isfinite(v[:valid])) and np.all(np.isnan(v[valid:]))
        assert np.all(np.diff(v[:valid]) <= 1e-12), theta
    # above theta* the mean field's fixed point is unstable: always flagged
    ds = T.finite_size_expansion(cfg.replace(theta=1.3), on_breakdown="mask")
    assert ds.attrs["valid_layers"] <= cfg.layers


def test_breakdown_is_an_error_by_default():
    cfg = si.NetworkConfig(width=100, layers=20, theta=1.1)
    with pytest.raises(ValueError, match=r"1/n expansion breaks down at layer 1: .* tol = 0\.1"):
        T.finite_size_expansion(cfg)


def test_masked_breakdown_reports_the_layer_and_the_criterion():
    cfg = si.NetworkConfig(width=400, layers=50, theta=1.1)
    ds = T.finite_size_expansion(cfg, on_breakdown="mask")
    valid = ds.attrs["valid_layers"]
    eps = ds["correction"].isel(time=0).values
    assert 0 < valid <= cfg.layers
    assert np.all(eps[:valid] <= EXPANSION_TOL) and eps[valid] > EXPANSION_TOL
    assert ds.attrs["expansion_tol"] == EXPANSION_TOL
    for name in ("var_u", "var_u_sd", "rate", "spikes", "spikes_sd"):
        values = ds[name].isel(time=0).values
        assert np.all(np.isfinite(values[:valid])) and np.all(np.isnan(values[valid:]))
    # a looser tolerance keeps more layers, and the criterion is the documented one
    loose = T.finite_size_expansion(cfg, tol=0.3, on_breakdown="mask")
    assert loose.attrs["valid_layers"] > valid
    m = loose["rate"].isel(time=0).values
    mbar = T.mean_field(cfg)["rate"].isel(time=0).values
    sigma = loose["spikes_sd"].isel(time=0).values ** 2 / cfg.width
    n = cfg.width
    keep = slice(0, loose.attrs["valid_layers"])
    expected = np.maximum(np.abs(m - mbar) / mbar, sigma / (n * mbar**2))[keep]
    np.testing.assert_allclose(loose["correction"].isel(time=0).values[keep], expected, rtol=1e-9)


def test_valid_everywhere_is_said_too():
    cfg = si.NetworkConfig(width=2000, layers=30, theta=0.9)
    ds = T.finite_size_expansion(cfg)
    assert ds.attrs["valid_layers"] == cfg.layers + 1
    assert float(ds["correction"].max()) <= EXPANSION_TOL


def test_extinct_mean_field_is_a_breakdown():
    # no input drive (c = 1 - beta = 0): the mean field is silent from layer 0
    cfg = si.NetworkConfig(width=1000, layers=5, beta=1.0, input_scale="1-beta")
    with pytest.raises(ValueError, match="breaks down at layer 0: the mean field is extinct"):
        T.finite_size_expansion(cfg)
    ds = T.finite_size_expansion(cfg, on_breakdown="mask")
    assert ds.attrs["valid_layers"] == 0 and np.all(np.isinf(ds["correction"].values))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"tol": 0.0}, "tol must be a finite number in (0.0, inf)"),
        ({"tol": np.nan}, "tol must be a finite number"),
        ({"on_breakdown": "ignore"}, "on_breakdown must be one of 'raise', 'mask'"),
    ],
)
def test_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError) as info:
        T.finite_size_expansion(si.NetworkConfig(layers=3), **kwargs)
    assert fragment in str(info.value)
