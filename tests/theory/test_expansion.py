"""The first-order 1/n expansion about the mean field (issue 13 section 3).

Checked against the exact chain's survivors (``*_given_alive``), where it must
be off by O(n^-2), against its own stated error and breakdown criterion, and
against a simulation through ``validation.compare``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import snninit as si
from snninit.theory import expansion, meanfield, symbolic
from snninit.theory.expansion import ERROR_FACTOR, EXPANSION_OUTPUTS, EXPANSION_TOL

T = si.theory

#: Widths of the convergence checks, doubling (the chain takes ~0.1 s at n = 8000, 50 layers).
WIDTHS = np.array([500, 1000, 2000, 4000, 8000])
#: ``tol`` that never flags: the series' own convergence, whatever its criterion says.
NO_BREAKDOWN = 1e12
#: n^2 err must change by less than this fraction over the last doubling (4000 -> 8000).
#: With err = A n^-2 (1 + b/n + ...), a doubling changes n^2 err by about -b/(2n): 2 %
#: at n = 4000 allows a next-order coefficient |b| up to 160 (theta 0.9, 50 layers
#: has b ~ 120, the largest here). A first-order error would double n^2 err (+100 %).
SETTLED = 0.02
#: ... and each change must be at most this fraction of the previous one: a relative
#: 1/n next order halves it per doubling (0.5), its own 1/n correction and the next
#: order move that ratio by O(1/n) (0.6 leaves 0.1 for them at n >= 1000).
SHRINK = 0.6


def _max_error(theta, layers, target, prediction=None, name="var_u_given_alive"):
    if prediction is None:

        def prediction(cfg):
            return T.finite_size_expansion(cfg, tol=NO_BREAKDOWN)

    errs = []
    for n in WIDTHS:
        cfg = si.NetworkConfig(width=int(n), layers=layers, theta=theta)
        exact, approx = T.finite_size(cfg), prediction(cfg)
        errs.append(float(np.nanmax(np.abs(exact[target] - approx[name]).values)))
        if target == "var_u":  # all networks: only where extinction is negligible,
            # i.e. moves E[var_u] (~ 1) by far less than the error measured
            assert float(exact["p_extinct"].max()) < 1e-3 * errs[-1]
    return np.array(errs)


def _assert_settles(scaled):
    """``scaled`` (n^k err over doubling widths) converges: shrinking changes, the last small."""
    change = np.abs(scaled[1:] / scaled[:-1] - 1.0)
    assert change[-1] < SETTLED, (scaled, change)
    assert np.all(change[2:] <= SHRINK * change[1:-1]), (scaled, change)


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
def test_error_against_survivors_is_second_order(theta, layers, target):
    _assert_settles(WIDTHS**2 * _max_error(theta, layers, target))


def test_variance_of_var_u_error_is_second_order():
    errs = []
    for n in WIDTHS:
        cfg = si.NetworkConfig(width=int(n), layers=20, theta=0.8)
        exact, approx = T.finite_size(cfg), T.finite_size_expansion(cfg)
        diff = exact["var_u_sd_given_alive"] ** 2 - approx["var_u_sd_given_alive"] ** 2
        errs.append(float(np.abs(diff).max()))
    _assert_settles(WIDTHS**2 * np.array(errs))


def test_the_check_tells_first_order_from_second():
    # the mean field's error is O(1/n): n err settles, and n^2 err doubles per doubling
    errs = _max_error(1.0, 5, "var_u_given_alive", T.mean_field, "var_u")
    _assert_settles(WIDTHS * errs)
    doubling = (WIDTHS[1:] ** 2 * errs[1:]) / (WIDTHS[:-1] ** 2 * errs[:-1])
    assert doubling[-1] == pytest.approx(2.0, rel=SETTLED)  # 2 x the settled n err


@pytest.mark.parametrize("theta", [0.9, 1.0, 1.1])
@pytest.mark.parametrize("width", [100, 1000, 4000])
def test_error_within_the_stated_error_wherever_valid(theta, width):
    # issue 13: the criterion must flag every layer where the error against the exact
    # chain exceeds the stated one (rounding: 1e-12 relative)
    cfg = si.NetworkConfig(width=width, layers=50, theta=theta)
    exact = T.finite_size(cfg)
    ds = T.finite_size_expansion(cfg, on_breakdown="truncate")
    valid = ds.attrs["valid_layers"]
    assert ds.sizes["layer"] == valid and bool(ds["valid"].all())
    for name in EXPANSION_OUTPUTS:
        got = ds[name].isel(time=0).values
        want = exact[name].isel(time=0).values[:valid]
        bound = ds[f"{name}_error"].isel(time=0).values
        err = np.abs(got - want)
        assert np.all(err <= bound + 1e-12 * np.abs(want)), (name, err / bound)
    if theta == 1.1 and width >= 1000:  # the review's case: flagged well before layer 50
        assert valid < 20


def test_the_criterion_is_not_idle():
    # with the criterion off, theta = 1.1 at n = 4000 exceeds its stated error past the
    # layer where the criterion stops it (the fluctuation reaches the extinction basin)
    cfg = si.NetworkConfig(width=4000, layers=50, theta=1.1)
    exact = T.finite_size(cfg)
    valid = T.finite_size_expansion(cfg, on_breakdown="truncate").attrs["valid_layers"]
    loose = T.finite_size_expansion(cfg, tol=NO_BREAKDOWN)
    name = "var_u_sd_given_alive"
    err = np.abs(loose[name] - exact[name]).isel(time=0).values
    assert np.any(err[valid:] > loose[f"{name}_error"].isel(time=0).values[valid:])


def test_second_order_terms_are_right_the_corrected_error_is_third_order():
    # the stated error is the O(n^-2) term: adding it must leave an O(n^-3) error
    # (n^3 err settles), else delta2 / Sigma2 / kappa would be wrong
    errs = []
    for n in WIDTHS[1:]:
        cfg = si.NetworkConfig(width=int(n), layers=20, theta=0.8)
        mu, s2 = T.layer_weight_moments(cfg)
        mbar = T.mean_field(cfg)["rate"].isel(time=0).values
        t = expansion._expansion_terms(cfg, mbar, mu, s2)
        m = mbar + t["delta"] / n + t["delta2"] / n**2
        second = expansion._expansion_moments(
            int(n), 1.0, s2, m, t["sigma"] / n + t["sigma2"] / n**2
        )
        exact = T.finite_size(cfg)["var_u_given_alive"].isel(time=0).values
        errs.append(float(np.max(np.abs(second["var_u_given_alive"] - exact))))
    _assert_settles(WIDTHS[1:] ** 3 * np.array(errs))


def test_error_is_twice_the_second_order_term_and_layer_zero_is_exact():
    cfg = si.NetworkConfig(width=1000, layers=10, theta=0.9)
    ds, exact = T.finite_size_expansion(cfg), T.finite_size(cfg)
    assert ds.attrs["error_factor"] == ERROR_FACTOR == 2.0
    # layer 0 is Bin(n, Q(theta)) conditioned on k > 0 exactly; so is var_u of layer 1
    for name in ("rate_given_alive", "spikes_given_alive", "spikes_sd_given_alive"):
        assert float(ds[name][0, 0]) == pytest.approx(float(exact[name][0, 0]), rel=1e-12)
        assert float(ds[f"{name}_error"][0, 0]) == 0.0
    for name in ("var_u_given_alive", "var_u_sd_given_alive"):
        np.testing.assert_allclose(ds[name][:2], exact[name][:2], rtol=1e-12)
    # deeper, the stated error is of second order: it shrinks like n^-2
    big = T.finite_size_expansion(cfg.replace(width=4000))
    ratio = big["var_u_given_alive_error"][2:] / ds["var_u_given_alive_error"][2:]
    np.testing.assert_allclose(ratio, 1 / 16, rtol=0.05)


def test_names_and_attrs_are_finite_size_survivors():
    cfg = si.NetworkConfig(width=1000, layers=5, theta=0.9)
    ds, exact = T.finite_size_expansion(cfg), T.finite_size(cfg)
    for name in EXPANSION_OUTPUTS:
        assert ds[name].attrs == exact[name].attrs, name
    # no all-network values: the series has no p_extinct to weigh the extinct networks
    assert not {"var_u", "var_u_sd", "rate", "spikes", "spikes_sd", "p_extinct"} & set(ds)


def test_compare_with_a_simulation_keeps_its_level():
    # n = 1000, theta = 0.9, 50 layers: valid everywhere; 400 networks (gram: exact for one
    # step). The expansion is not exact: its stated error is a bias of at most b SE per
    # cell, so each cell's level alpha' = alpha / m (two-sided, z') becomes at most
    # Q(z' - b) + Q(z' + b), and the family-wise false-failure rate at most m times that.
    cfg = si.NetworkConfig(width=1000, layers=50, theta=0.9)
    theory = T.finite_size_expansion(cfg)
    assert theory.attrs["valid_layers"] == cfg.layers + 1
    sim = si.montecarlo.simulate(cfg, reps=400, seed=11, method="gram")
    cmp = si.validation.compare(theory, sim)
    variables = cmp.attrs["variables"].split(",")
    assert sorted(variables) == ["rate_given_alive", "spikes_given_alive", "var_u_given_alive"]
    b = max(float((theory[f"{v}_error"] / cmp[f"{v}_se"]).max()) for v in variables)
    m = sum(int(cmp[f"{v}_tested"].sum()) for v in variables)
    assert m == 3 * (cfg.layers + 1)
    alpha = 1e-3
    z = stats.norm.isf(alpha / m / 2)
    worst = m * (stats.norm.sf(z - b) + stats.norm.sf(z + b))
    assert worst <= 3 * alpha, (b, worst)
    si.validation.assert_agrees(cmp, alpha=alpha)


@pytest.mark.parametrize("mode", ["mask", "truncate"])
def test_compare_at_the_reviewed_width_tests_only_the_valid_layers(mode):
    # issue 13: n = 100, theta = 0.9, 50 layers rejected 38 of 153 cells (survivors'
    # values under all-network names), and a masked expansion could not be compared
    cfg = si.NetworkConfig(width=100, layers=50, theta=0.9)
    theory = T.finite_size_expansion(cfg, on_breakdown=mode)
    valid = theory.attrs["valid_layers"]
    assert 0 < valid <= cfg.layers
    sim = si.montecarlo.simulate(cfg, reps=400, seed=12, method="gram")
    cmp = si.validation.compare(theory, sim)
    for v in cmp.attrs["variables"].split(","):
        tested = cmp[f"{v}_tested"].isel(time=0)
        assert int(tested.sum()) == valid and bool(tested.sel(layer=slice(0, valid - 1)).all())
    si.validation.assert_agrees(cmp, alpha=1e-3)


@pytest.mark.parametrize(("width", "theta"), [(1000, 1.1), (100, 0.9)])
def test_no_oscillation_where_the_nonlinear_recursion_oscillated(width, theta):
    # issue 13: the old recursion gave 0.999 -> 0.607 -> 1.812 -> 0.407 (n 1000,
    # theta 1.1) and 0.28 at layer 55, 1.18 at 60 (n 100, theta 0.9); the series is
    # evaluated past its breakdown here (tol huge) to show that it cannot oscillate
    cfg = si.NetworkConfig(width=width, layers=60, theta=theta)
    ds = T.finite_size_expansion(cfg, tol=NO_BREAKDOWN)
    v = ds["var_u_given_alive"].isel(time=0).values
    # converges monotonically to its fixed point (from layer 1: layer 0's survivors, which
    # drive it, are conditioned on k_0 > 0 exactly, so layer 1 sits P(k_0 = 0) above layer 0)
    assert np.all(np.diff(v[1:]) <= 1e-12)
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
        v = ds["var_u_given_alive"].isel(time=0).values
        assert np.all(np.isfinite(v[:valid])) and np.all(np.isnan(v[valid:]))
        assert np.all(np.diff(v[1:valid]) <= 1e-12), theta  # from layer 1, as above
        assert np.array_equal(ds["valid"].isel(time=0).values, np.arange(101) < valid)
    # above theta* the mean field's fixed point is unstable: always flagged
    ds = T.finite_size_expansion(cfg.replace(theta=1.3), on_breakdown="mask")
    assert ds.attrs["valid_layers"] <= cfg.layers


def test_breakdown_is_an_error_by_default():
    cfg = si.NetworkConfig(width=100, layers=20, theta=1.1)
    with pytest.raises(ValueError, match=r"1/n expansion breaks down at layer 1: .* tol = 0\.1"):
        T.finite_size_expansion(cfg)
    with pytest.raises(ValueError, match="reaches the extinction basin"):
        T.finite_size_expansion(cfg)


def test_breakdown_reports_the_layer_and_the_documented_criterion():
    cfg = si.NetworkConfig(width=4000, layers=50, theta=1.1)
    ds = T.finite_size_expansion(cfg, on_breakdown="mask")
    valid = ds.attrs["valid_layers"]
    eps = ds["correction"].isel(time=0).values
    assert 0 < valid <= cfg.layers and ds.attrs["breakdown_layer"] == valid
    assert np.all(eps[:valid] <= EXPANSION_TOL) and eps[valid] > EXPANSION_TOL
    assert ds.attrs["expansion_tol"] == EXPANSION_TOL
    for name in EXPANSION_OUTPUTS:
        for x in (name, f"{name}_error"):
            values = ds[x].isel(time=0).values
            assert np.all(np.isfinite(values[:valid])) and np.all(np.isnan(values[valid:]))
    # truncation drops exactly the masked layers
    cut = T.finite_size_expansion(cfg, on_breakdown="truncate")
    np.testing.assert_array_equal(cut["layer"].values, np.arange(valid))
    assert cut.equals(ds.isel(layer=slice(valid)))
    # a looser tolerance keeps more layers, and the criterion is the documented one
    loose = T.finite_size_expansion(cfg, tol=0.3, on_breakdown="mask")
    assert loose.attrs["valid_layers"] > valid
    n = cfg.width
    mbar = T.mean_field(cfg)["rate"].isel(time=0).values
    mu, s2 = T.layer_weight_moments(cfg)
    terms = expansion._expansion_terms(cfg, mbar, mu, s2)
    delta, sigma, delta2 = terms["delta"], terms["sigma"], terms["delta2"]
    m = loose["rate_given_alive"].isel(time=0).values
    v_lower = float(T.fixed_points(cfg)["v_star"].sel(branch="lower"))
    p_lower = v_lower / (n * s2[0])  # v = n s2 p
    keep = slice(1, loose.attrs["valid_layers"])
    np.testing.assert_allclose(m[keep], (mbar + delta / n)[keep], rtol=1e-12)
    basin = np.maximum(
        sigma[:-1] / (n * (mbar[:-1] - p_lower) ** 2), sigma[1:] / (n * mbar[1:] ** 2)
    )
    parts = [np.abs(delta) / (n * mbar), np.concatenate([[0.0], basin])]
    parts.append(np.abs(delta2[keep]) / (n * np.abs(delta[keep])))  # delta = 0 at layer 0 only
    expected = np.maximum.reduce([parts[0][keep], parts[1][keep], parts[2]])
    np.testing.assert_allclose(loose["correction"].isel(time=0).values[keep], expected, rtol=1e-9)


def test_valid_everywhere_is_said_too():
    cfg = si.NetworkConfig(width=2000, layers=30, theta=0.9)
    ds = T.finite_size_expansion(cfg)
    assert ds.attrs["valid_layers"] == cfg.layers + 1 and "breakdown_layer" not in ds.attrs
    assert float(ds["correction"].max()) <= EXPANSION_TOL and bool(ds["valid"].all())


def test_extinct_mean_field_is_a_breakdown():
    # no input drive (c = 1 - beta = 0): the mean field is silent from layer 0
    cfg = si.NetworkConfig(width=1000, layers=5, beta=1.0, input_scale="1-beta")
    with pytest.raises(ValueError, match="breaks down at layer 0: the mean field is extinct"):
        T.finite_size_expansion(cfg)
    ds = T.finite_size_expansion(cfg, on_breakdown="mask")
    assert ds.attrs["valid_layers"] == 0 and np.all(np.isinf(ds["correction"].values))
    assert T.finite_size_expansion(cfg, on_breakdown="truncate").sizes["layer"] == 0


def test_basin_edge_with_a_weight_mean_matches_the_closed_form():
    # mu != 0 has no closed form: the grid + bisection root, continuous at mu -> 0
    n, theta, s2 = 1000, 1.0, 1.0 / (1000 * 0.15865525393145707)  # Micheli at theta = 1
    top = np.array([0.15865525393145707])
    v, _ = meanfield._fixed_point_table(np.array([theta]), np.array([n * s2]))
    closed = v[0, 2] / (n * s2)
    numeric = expansion._upcrossing(theta, n, np.array([1e-15]), np.array([s2]), top)
    assert numeric[0] == pytest.approx(closed, rel=1e-9)
    # a real mean: an unstable fixed point of g (g(p) = p, g' > 1)
    mu = np.array([2e-4])
    p = expansion._upcrossing(theta, n, mu, np.array([s2]), top)[0]
    g = symbolic.numeric("g")
    g1 = symbolic.numeric("g_d1")
    assert 0 < p < top[0]
    assert float(g(p, theta, s2, n, mu[0])) == pytest.approx(p, rel=1e-9)
    assert float(g1(p, theta, s2, n, mu[0])) > 1


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"tol": 0.0}, "tol must be a finite number in (0.0, inf)"),
        ({"tol": np.nan}, "tol must be a finite number"),
        ({"on_breakdown": "ignore"}, "on_breakdown must be one of 'raise', 'truncate', 'mask'"),
    ],
)
def test_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError) as info:
        T.finite_size_expansion(si.NetworkConfig(layers=3), **kwargs)
    assert fragment in str(info.value)


def test_a_theory_sweep_across_the_breakdown_masks_instead_of_failing():
    # theta = 1.1 breaks down at layer 2 at n = 1000, 0.9 never: one fixed layer grid
    cfg = si.NetworkConfig(width=1000, layers=30, theta=1.0)
    over = {"theta": [0.9, 1.1]}
    theory = T.sweep(cfg, over, what="finite_size_expansion")
    valid = theory["valid"].isel(time=0).values.astype(bool)
    assert valid[0].all() and 0 < valid[1].sum() < cfg.layers + 1
    v = theory["var_u_given_alive"].isel(time=0).values
    assert np.array_equal(np.isnan(v), ~valid)
    sim = si.montecarlo.sweep(cfg, over, reps=50, seed=0, method="gram")
    cmp = si.validation.compare(theory, sim)
    for name in cmp.attrs["variables"].split(","):
        assert np.array_equal(cmp[f"{name}_tested"].isel(time=0).values, valid)
