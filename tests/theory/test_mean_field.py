"""Mean-field map, fixed points, stability, critical thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize, stats

import snninit as si
from snninit.theory import rules, symbolic

T = si.theory


@given(theta=st.floats(0.0, 3.0), width=st.integers(1, 1_000_000))
def test_micheli_map_keeps_unit_variance(theta, width):
    s2 = T.weight_variance("micheli", width, theta)
    assert T.mean_field_map(1.0, theta, s2, width) == pytest.approx(1.0, rel=1e-12)


@given(theta=st.floats(0.0, 1.15), width=st.integers(1, 100_000))
def test_mean_field_of_micheli_is_one_in_every_layer(theta, width):
    # below theta* v = 1 is attracting, so rounding errors do not grow with depth
    ds = T.mean_field(si.NetworkConfig(width=width, layers=30, theta=theta))
    np.testing.assert_allclose(ds["var_u"].values, 1.0, rtol=1e-9)
    np.testing.assert_allclose(ds["rate"].values, stats.norm.sf(theta), rtol=1e-9)


@given(theta=st.floats(1.2, 8.0), width=st.integers(1, 100_000))
def test_mean_field_stays_on_the_unstable_micheli_fixed_point(theta, width):
    # exact arithmetic keeps v = 1 for ever; rounding must not be amplified by chi^l
    ds = T.mean_field(si.NetworkConfig(width=width, layers=200, theta=theta))
    np.testing.assert_allclose(ds["var_u"].values, 1.0, rtol=1e-12)


def test_above_theta_star_deviations_from_one_grow_by_chi_per_layer():
    theta, width = 2.0, 100
    s2 = T.weight_variance("micheli", width, theta)
    chi = T.stability_slope(theta, "micheli")
    assert chi > 1
    v, eps = 1.0 + 1e-9, [1e-9]
    for _ in range(10):
        v = T.mean_field_map(v, theta, s2, width)
        eps.append(v - 1.0)
    ratios = np.array(eps[1:]) / np.array(eps[:-1])
    np.testing.assert_allclose(ratios, chi, rtol=1e-4)


def test_mean_field_dataset_layout():
    cfg = si.NetworkConfig(width=100, layers=5, init="kaiming", theta=0.3)
    ds = T.mean_field(cfg)
    assert ds["var_u"].dims == ("layer", "time")
    assert list(ds["layer"].values) == list(range(6))
    assert list(ds["time"].values) == [0]
    np.testing.assert_array_equal(ds["mean_u"].values, 0.0)
    np.testing.assert_allclose(ds["spikes"].values, 100 * ds["rate"].values)
    assert si._dataset.config_from_attrs(ds.attrs) == cfg
    # each layer is the map applied to the one below
    v = ds["var_u"].values[:, 0]
    np.testing.assert_allclose(v[1:], T.mean_field_map(v[:-1], 0.3, 2 / 100, 100), rtol=1e-14)


def test_mean_field_map_matches_the_symbolic_map():
    v = np.linspace(0.01, 5, 50)
    s2 = 0.004
    np.testing.assert_allclose(
        T.mean_field_map(v, 0.9, s2, 300), symbolic.numeric("map")(v, 0.9, s2, 300), rtol=1e-12
    )
    assert T.mean_field_map(0.0, 0.9, s2, 300) == 0.0


def test_mean_field_refuses_several_steps_and_bad_map_input():
    with pytest.raises(ValueError, match="one-step theory"):
        T.mean_field(si.NetworkConfig(steps=3))
    with pytest.raises(ValueError, match="v must be finite in"):
        T.mean_field_map(-1.0, 1.0, 0.01, 10)
    with pytest.raises(ValueError, match="theta must be finite"):
        T.mean_field_map(1.0, np.nan, 0.01, 10)


def test_input_scale_one_minus_beta_scales_the_encoding_layer():
    cfg = si.NetworkConfig(width=50, layers=2, theta=0.5, beta=0.6, input_scale="1-beta")
    ds = T.mean_field(cfg)
    assert ds["var_u"].values[0, 0] == pytest.approx(0.16)
    assert ds["rate"].values[0, 0] == pytest.approx(stats.norm.sf(0.5 / 0.4))


def test_nonzero_weight_mean_shifts_the_membrane():
    name = "test_shifted"
    rules.register_rule(
        rules.InitRule(
            name=name,
            variance=lambda n, theta, beta, steps: 1.0 / n + 0 * theta,
            mean=lambda n, theta, beta, steps: 0.5 / n + 0 * theta,
        )
    )
    try:
        cfg = si.NetworkConfig(width=400, layers=3, theta=0.2, init=name)
        ds = T.mean_field(cfg)
        p0 = stats.norm.sf(0.2)
        assert ds["mean_u"].values[1, 0] == pytest.approx(0.5 * p0)
        assert ds["var_u"].values[1, 0] == pytest.approx(p0)
        assert ds["rate"].values[1, 0] == pytest.approx(
            stats.norm.sf((0.2 - 0.5 * p0) / np.sqrt(p0))
        )
        with pytest.raises(NotImplementedError, match="zero-mean weights only"):
            T.fixed_points(cfg)
    finally:
        rules._REGISTRY.pop(name)


@pytest.mark.parametrize("init", ["micheli", "kaiming"])
def test_fixed_points_are_fixed_and_slopes_are_derivatives(init):
    cfg = si.NetworkConfig(width=200, layers=1, init=init)
    thetas = np.linspace(0.05, 2.5, 40)
    fp = T.fixed_points(cfg, theta=thetas)
    assert fp["v_star"].dims == ("theta", "branch")
    d1 = symbolic.numeric("map_d1")
    for i, th in enumerate(thetas):
        s2 = T.weight_variance(init, 200, th)
        for b in ("upper", "lower"):
            v = float(fp["v_star"].sel(branch=b).values[i])
            if np.isnan(v):
                continue
            assert T.mean_field_map(v, th, s2, 200) == pytest.approx(v, rel=1e-9)
            slope = float(fp["slope"].sel(branch=b).values[i])
            assert slope == pytest.approx(d1(v, th, s2, 200), rel=1e-8)
        assert fp["v_star"].sel(branch="zero").values[i] == 0.0
    # upper branch stable, lower unstable (where distinct)
    up, lo = fp["slope"].sel(branch="upper").values, fp["slope"].sel(branch="lower").values
    both = np.isfinite(up) & np.isfinite(lo)
    assert np.all(up[both] <= 1) and np.all(lo[both] >= 1)


def test_fixed_point_counts_for_the_paper_rules():
    mich = si.NetworkConfig(width=100, layers=1, init="micheli")
    fp = T.fixed_points(mich, theta=[0.5, 1.0, 1.5])
    v = fp["v_star"].values
    np.testing.assert_allclose(v[:2, 1], 1.0, rtol=1e-9)  # v = 1 is the stable branch
    assert v[2, 2] == pytest.approx(1.0, rel=1e-9)  # ... and the unstable one above theta*
    assert v[2, 1] > 1 and bool(fp["stable"].values[2, 1])
    # theta = 0: the map is the constant n s2 / 2
    fp0 = T.fixed_points(si.NetworkConfig(width=100, layers=1, init="kaiming", theta=0.0))
    assert fp0["v_star"].sel(branch="upper").item() == pytest.approx(1.0)
    assert np.isnan(fp0["v_star"].sel(branch="lower").item())
    assert not bool(fp0["stable"].sel(branch="zero"))


def test_critical_threshold_solves_the_stability_equation():
    ts = T.critical_threshold("micheli")
    assert abs(ts * stats.norm.pdf(ts) - 2 * stats.norm.sf(ts)) < 1e-9
    assert ts == pytest.approx(1.1906, abs=1e-4)
    root = optimize.brentq(lambda x: x * stats.norm.pdf(x) - 2 * stats.norm.sf(x), 1, 1.5)
    assert abs(ts - root) < 1e-9
    assert T.stability_slope(ts, "micheli") == pytest.approx(1.0, abs=1e-9)


@given(theta=st.floats(0.0, 4.0))
def test_micheli_slope_is_the_symbolic_chi(theta):
    assert T.stability_slope(theta, "micheli") == pytest.approx(
        float(symbolic.numeric("micheli_slope")(theta)), rel=1e-10, abs=1e-300
    )


def test_kaiming_saddle_node():
    theta_sn = T.critical_threshold("kaiming")
    # the two positive fixed points of v -> 2 Q(theta / sqrt v) merge there
    cfg = si.NetworkConfig(width=100, layers=1, init="kaiming")
    fp = T.fixed_points(cfg, theta=[theta_sn * (1 - 1e-9), theta_sn * (1 + 1e-6)])
    up, lo = fp["v_star"].sel(branch="upper").values, fp["v_star"].sel(branch="lower").values
    assert up[0] == pytest.approx(lo[0], rel=1e-3)
    assert np.isnan(up[1]) and np.isnan(lo[1])
    # tangency: F(v) = v and F'(v) = 1 at the merged point
    v = up[0]
    assert symbolic.numeric("map_d1")(v, theta_sn, 2 / 100, 100) == pytest.approx(1.0, abs=1e-4)
    assert theta_sn == pytest.approx(0.5757, abs=1e-4)


@given(theta=st.floats(0.6, 3.0))
def test_kaiming_variance_decays_to_zero_above_its_saddle_node(theta):
    # above theta_sn the map lies below the diagonal: strictly decreasing to 0
    cfg = si.NetworkConfig(width=1000, layers=400, init="kaiming", theta=theta)
    v = T.mean_field(cfg)["var_u"].values[:, 0]
    assert np.all(np.diff(v) <= 0)
    assert v[-1] < 1e-3 * v[0] or v[-1] == 0.0
    assert T.stability_slope(theta, "kaiming") == 0.0


@given(theta=st.floats(0.01, 0.57))
def test_kaiming_variance_settles_on_a_nonzero_fixed_point_below_it(theta):
    cfg = si.NetworkConfig(width=1000, layers=3000, init="kaiming", theta=theta)
    v = T.mean_field(cfg)["var_u"].values[-1, 0]
    v_up = T.fixed_points(cfg)["v_star"].sel(branch="upper").item()
    assert v > 0.2 and v == pytest.approx(v_up, rel=1e-6)
    assert 0 < T.stability_slope(theta, "kaiming") < 1


def test_depth_scale():
    chi = T.stability_slope(0.8, "micheli")
    assert T.depth_scale(0.8, "micheli") == pytest.approx(-1 / np.log(chi))
    assert T.depth_scale(1.6, "micheli") == pytest.approx(1 / np.log(T.stability_slope(1.6)))
    assert T.depth_scale(0.0, "micheli") == 0.0
    # perturbations of v = 1 shrink by chi per layer (linearised map)
    cfg = si.NetworkConfig(width=10, layers=1, theta=0.8)
    s2 = T.layer_weight_moments(cfg)[1][0]
    eps = 1e-6
    assert (T.mean_field_map(1 + eps, 0.8, s2, 10) - 1) / eps == pytest.approx(chi, rel=1e-4)


def test_bad_theory_arguments():
    with pytest.raises(ValueError, match="rule must be one of"):
        T.stability_slope(1.0, "xavier")
    with pytest.raises(ValueError, match="theta must be finite"):
        T.stability_slope(-1.0)
    with pytest.raises(ValueError, match="width must be an integer"):
        T.critical_threshold("kaiming", width=0)
    with pytest.raises(ValueError, match="theta must be a scalar or 1-D"):
        T.fixed_points(si.NetworkConfig(), theta=np.ones((2, 2)))
