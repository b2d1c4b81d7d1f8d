"""Dynamic mean field over time steps (DESIGN 3c): exactness, sampling error, rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from scipy import integrate, stats

import snninit as si
from snninit.models import RESET_CODES, membrane_update
from snninit.theory import rules

T = si.theory

VARIANTS = [
    dict(reset="subtract"),
    dict(reset="subtract", reset_decay=True),
    dict(reset="zero"),
    dict(reset="none"),
    dict(reset="subtract", input_scale="1-beta"),
]


def _t_bound(false_failure_rate: float, checks: int, dof: int) -> float:
    """Two-sided Student-t bound so that ``checks`` tests all pass w.p. 1 - rate."""
    return float(stats.t.isf(false_failure_rate / (2 * checks), dof))


# ---------------------------------------------------------------- one step


@pytest.mark.parametrize("init", ["micheli", "kaiming"])
@pytest.mark.parametrize("theta", [0.0, 0.5, 1.0, 1.5])
@pytest.mark.parametrize("input_scale", ["1", "1-beta"])
def test_one_step_reproduces_mean_field_exactly(init, theta, input_scale):
    cfg = si.NetworkConfig(
        width=700, layers=12, steps=1, theta=theta, init=init, input_scale=input_scale, beta=0.3
    )
    ds = T.dynamic_mean_field(cfg, paths=64)
    ref = T.mean_field(cfg)
    for v in ("var_u", "mean_u", "rate", "spikes"):
        np.testing.assert_allclose(ds[v].values, ref[v].values, rtol=1e-13, atol=1e-15)
        assert np.all(ds[f"{v}_se"].values == 0.0)
    # and the map of DESIGN 3a, written out here
    s2 = T.weight_variance(init, 700, theta)
    v = (0.7 if input_scale == "1-beta" else 1.0) ** 2
    for layer in range(1, 13):
        v = 700 * s2 * rules.survival(theta / math.sqrt(v)) if v > 0 else 0.0
        assert ds["var_u"].sel(layer=layer).item() == pytest.approx(v, rel=1e-12, abs=1e-300)


def test_one_step_with_nonzero_weight_mean_matches_mean_field():
    rule = rules.InitRule(
        name="_test_dmft_mean",
        variance=lambda n, theta, beta, steps: 1.5 / n + 0 * theta,
        mean=lambda n, theta, beta, steps: 0.4 / n + 0 * theta,
    )
    rules.register_rule(rule)
    try:
        cfg = si.NetworkConfig(width=300, layers=8, steps=1, theta=0.8, init="_test_dmft_mean")
        ds = T.dynamic_mean_field(cfg, paths=64)
        ref = T.mean_field(cfg)
        for v in ("var_u", "mean_u", "rate"):
            np.testing.assert_allclose(ds[v].values, ref[v].values, rtol=1e-13, atol=1e-15)
        assert np.all(ds["mean_u"].sel(layer=[1, 2]) > 0)
    finally:
        rules._REGISTRY.pop("_test_dmft_mean")


# ---------------------------------------------------------------- layer 0


def _encoding_layer_on_grid(cfg, points=400_001):
    """Brute force: run the encoding layer on a fine grid of I, weight by phi."""
    x = np.linspace(-9.0, 9.0, points)
    w = stats.norm.pdf(x) * (x[1] - x[0])
    c = cfg.input_factor
    u = np.zeros_like(x)
    s = np.zeros_like(x)
    out = {k: [] for k in ("mean_u", "var_u", "rate")}
    for _ in range(cfg.steps):
        u = membrane_update(
            u, s, c * x, cfg.beta, cfg.theta, RESET_CODES[cfg.reset], cfg.reset_decay
        )
        s = (u > cfg.theta).astype(float)
        m = np.sum(w * u)
        out["mean_u"].append(m)
        out["var_u"].append(np.sum(w * u * u) - m * m)
        out["rate"].append(np.sum(w * s))
    return {k: np.array(v) for k, v in out.items()}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_encoding_layer_is_exact_for_every_variant(variant, beta):
    cfg = si.NetworkConfig(layers=1, steps=12, beta=beta, **variant)
    ds = T.dynamic_mean_field(cfg, paths=64)
    grid = _encoding_layer_on_grid(cfg)
    # the grid's error: a jump of a step function costs at most one cell's weight
    # (phi(0) * 18 / 4e5 ~ 2e-5) times the number of jumps (< 2 * steps)
    for v in ("mean_u", "var_u", "rate"):
        np.testing.assert_allclose(ds[v].sel(layer=0).values, grid[v], atol=2e-3)
        assert np.all(ds[f"{v}_se"].sel(layer=0).values == 0.0)


def test_encoding_layer_correlation_diagonal_is_rate_and_psd():
    cfg = si.NetworkConfig(layers=1, steps=15, beta=0.7)
    c0 = T.dynamic_mean_field(cfg, paths=64)["corr"].sel(layer=0).values
    np.testing.assert_allclose(np.diag(c0), T.dynamic_mean_field(cfg, paths=64)["rate"][0])
    assert np.linalg.eigvalsh(c0).min() > -1e-12
    np.testing.assert_allclose(c0, c0.T)


# ---------------------------------------------------------------- hidden layers


def _layer1_two_steps(cfg):
    """Exact rate and moments of layer 1 at t = 1 by 1-D quadrature over h^0.

    Layer 1's inputs (h^0, h^1) are bivariate normal with covariance
    ``n s2 C_0`` (C_0 from the exact encoding layer); given h^0, h^1 is normal.
    """
    ds0 = T.dynamic_mean_field(cfg.replace(layers=1), paths=64)
    c0 = ds0["corr"].sel(layer=0).values[:2, :2]
    s2 = T.weight_variance(cfg.init, cfg.width, cfg.theta)
    cov = cfg.width * s2 * c0
    sd0 = math.sqrt(cov[0, 0])
    slope = cov[0, 1] / cov[0, 0]
    cond_sd = math.sqrt(cov[1, 1] - cov[0, 1] ** 2 / cov[0, 0])
    theta, beta = cfg.theta, cfg.beta

    def moments(h0):
        spike0 = 1.0 if h0 > theta else 0.0
        shift = membrane_update(
            h0, spike0, 0.0, beta, theta, RESET_CODES[cfg.reset], cfg.reset_decay
        )
        m = shift + slope * h0  # u^1 = shift + h^1, h^1 | h0 ~ N(slope h0, cond_sd^2)
        rate = stats.norm.sf((theta - m) / cond_sd)
        return np.array([rate, m, m * m + cond_sd**2])

    def integrand(h0, k):
        return moments(h0)[k] * stats.norm.pdf(h0 / sd0) / sd0

    res = [
        sum(
            integrate.quad(integrand, a, b, args=(k,), epsabs=1e-12, epsrel=1e-11)[0]
            for a, b in ((-12 * sd0, theta), (theta, 12 * sd0))
        )
        for k in range(3)
    ]
    return {"rate": res[0], "mean_u": res[1], "var_u": res[2] - res[1] ** 2}


@pytest.mark.parametrize("variant", VARIANTS[:4])
def test_hidden_layer_matches_quadrature_at_t1(variant):
    cfg = si.NetworkConfig(width=1000, layers=1, steps=2, beta=0.6, theta=0.9, **variant)
    ds = T.dynamic_mean_field(cfg, paths=40_000, seed=3, replicates=8)
    exact = _layer1_two_steps(cfg)
    # false-failure rate 1e-4 over the 3 checks, Student t with replicates - 1 dof
    bound = _t_bound(1e-4, 3, 7)
    for v, value in exact.items():
        est = ds[v].sel(layer=1, time=1).item()
        se = ds[f"{v}_se"].sel(layer=1, time=1).item()
        assert se > 0
        assert abs(est - value) <= bound * se, (v, est, value, se)


def test_standard_errors_are_calibrated_between_seeds():
    cfg = si.NetworkConfig(width=1000, layers=4, steps=8, beta=0.8)
    a = T.dynamic_mean_field(cfg, paths=4096, seed=1)
    b = T.dynamic_mean_field(cfg, paths=4096, seed=2)
    cells = dict(layer=slice(1, None), time=slice(1, None))
    for v in ("var_u", "rate", "mean_u"):
        z = ((a[v] - b[v]) / np.hypot(a[f"{v}_se"], b[f"{v}_se"])).sel(**cells).values
        # 1e-4 false failures over all cells; a difference of two t_7 means has
        # heavier tails than t_7 alone: use t with 7 dof, conservative enough here
        assert np.all(np.abs(z) <= _t_bound(1e-4, z.size, 7)), v
        # and the SE is not grossly too large: the z's are not all tiny
        assert np.sqrt(np.mean(z**2)) > 0.4, v


def test_exact_cells_have_zero_se_and_sampled_cells_positive_se():
    ds = T.dynamic_mean_field(si.NetworkConfig(layers=3, steps=6, beta=0.5), paths=2048)
    assert np.all(ds["var_u_se"].sel(layer=0) == 0)
    assert np.all(ds["var_u_se"].sel(time=0) == 0)
    assert np.all(ds["var_u_se"].sel(layer=slice(1, None), time=slice(1, None)) > 0)
    assert ds["corr"].dims == ("layer", "time", "time2")
    assert ds.attrs["kind"] == "dmft" and ds.attrs["paths"] == 2048 and ds.attrs["seed"] == 0
    assert si._dataset.config_from_attrs(ds.attrs).steps == 6


def test_same_seed_same_numbers_other_seed_other_numbers():
    cfg = si.NetworkConfig(layers=3, steps=5, beta=0.9)
    a = T.dynamic_mean_field(cfg, paths=1024, seed=7)
    b = T.dynamic_mean_field(cfg, paths=1024, seed=7)
    c = T.dynamic_mean_field(cfg, paths=1024, seed=8)
    assert a.equals(b)
    assert not np.array_equal(a["var_u"].values, c["var_u"].values)


def test_var_u_includes_the_across_neuron_mean():
    # after soft resets E[u] != 0; var_u must be E[u^2] - E[u]^2 (np.var over neurons)
    ds = T.dynamic_mean_field(si.NetworkConfig(layers=2, steps=6, beta=0.9), paths=4096)
    corr = ds["corr"]
    np.testing.assert_allclose(np.diagonal(corr.values, axis1=1, axis2=2), ds["rate"].values)
    assert (
        abs(ds["mean_u"].sel(layer=1, time=5).item())
        > 10 * ds["mean_u_se"].sel(layer=1, time=5).item()
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(paths=3), "paths"),
        (dict(paths=1000, replicates=1), "replicates"),
        (dict(seed=-1), "seed"),
        (dict(paths=2.5), "paths"),
    ],
)
def test_bad_arguments_are_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        T.dynamic_mean_field(si.NetworkConfig(layers=1, steps=3), **kwargs)


def test_bad_cfg_is_value_error():
    with pytest.raises(ValueError, match="cfg"):
        T.dynamic_mean_field({"width": 10})


# ---------------------------------------------------------------- instability


def test_unstable_layer_flags_beta_half_micheli_but_not_beta_09():
    # DESIGN 1b: at beta = 0.5 with Micheli's rule deep layers break into volleys
    unstable = T.dynamic_mean_field(
        si.NetworkConfig(layers=40, steps=20, beta=0.5), paths=2**14, seed=0
    )
    stable = T.dynamic_mean_field(
        si.NetworkConfig(layers=40, steps=20, beta=0.9), paths=2**14, seed=0
    )
    layer = T.unstable_layer(unstable)
    assert layer is not None and 1 < layer <= 40
    assert T.unstable_layer(stable) is None
    with pytest.raises(ValueError, match="tolerance"):
        T.unstable_layer(stable, tolerance=0)


# ---------------------------------------------------------------- dmft rule


def test_dmft_rule_is_registered_and_one_step_is_micheli():
    assert "dmft" in T.rule_names()
    cfg = si.NetworkConfig(width=500, layers=4, steps=1, theta=0.7, init="dmft")
    mean, var = T.layer_weight_moments(cfg)
    assert np.all(mean == 0)
    np.testing.assert_allclose(var, T.weight_variance("micheli", 500, 0.7), rtol=1e-5)


def test_dmft_rule_holds_the_time_averaged_rate():
    cfg = si.NetworkConfig(width=1000, layers=6, steps=10, beta=0.8, init="dmft")
    _, var = T.layer_weight_moments(cfg)
    assert np.all(np.isfinite(var)) and np.all(var > 0)
    assert np.array_equal(var, T.layer_weight_moments(cfg)[1])  # deterministic
    ds = T.dynamic_mean_field(cfg, paths=2**15, seed=1)
    avg = ds["rate"].mean("time")
    # the rule solved with its own 8192 fixed paths: its error is that of a DMFT
    # with 8192 paths, i.e. about the SE here times sqrt(2**15 / 8192)
    se = ds["rate_se"].mean("time") * math.sqrt(1 + 2**15 / 8192)
    bound = _t_bound(1e-4, 6, 7)
    for layer in range(1, 7):
        assert abs(avg.sel(layer=layer) - avg.sel(layer=0)) <= bound * se.sel(layer=layer) + 1e-5


def test_dmft_rule_bad_params():
    with pytest.raises(ValueError, match="target"):
        si.NetworkConfig(steps=3, init="dmft", init_params={"target": 1.5})
    with pytest.raises(ValueError, match="paths"):
        si.NetworkConfig(steps=3, init="dmft", init_params={"paths": 10})
    with pytest.raises(ValueError, match="no parameter"):
        si.NetworkConfig(steps=3, init="dmft", init_params={"bogus": 1})


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(beta=1.0, input_scale="1-beta"),  # no input at all: every layer silent
        dict(theta=0.0),
        dict(beta=0.0),
        dict(beta=1.0, reset="none"),
        dict(theta=3.0, init="kaiming"),  # activity dies within two layers
    ],
)
def test_edge_configurations_give_finite_values(kwargs):
    with np.errstate(divide="raise", invalid="raise", over="raise"):
        ds = T.dynamic_mean_field(si.NetworkConfig(layers=3, steps=4, **kwargs), paths=256)
    for v in ("var_u", "mean_u", "rate", "corr"):
        assert np.all(np.isfinite(ds[v].values)), v
    # skewness and kurtosis are NaN exactly where var_u == 0
    assert np.array_equal(ds["skew"].isnull().values, ds["var_u"].values == 0)


def test_weight_variance_of_dmft_rule_outside_a_network():
    one = T.weight_variance("dmft", [500, 1000], 1.0, beta=0.5, steps=1)
    np.testing.assert_allclose(one, T.weight_variance("micheli", [500, 1000], 1.0), rtol=1e-5)
    many = T.weight_variance("dmft", 1000, 1.0, beta=0.5, steps=20)
    cfg = si.NetworkConfig(width=1000, layers=1, steps=20, beta=0.5, init="dmft")
    assert many == T.layer_weight_moments(cfg)[1][0]


def test_unstable_layer_on_simulations_and_bad_input():
    cfg = si.NetworkConfig(width=300, layers=5, steps=8, beta=0.9)
    sim = si.montecarlo.simulate(cfg, reps=4, seed=0, method="gram")
    assert T.unstable_layer(sim) is None
    with pytest.raises(ValueError, match="reps"):
        T.unstable_layer(sim.isel(rep=[0]))
    with pytest.raises(ValueError, match="kind"):
        T.unstable_layer(T.mean_field(cfg.replace(steps=1)))
    # a spread far beyond the binomial noise of 300 neurons is flagged
    factor = xr.DataArray([1.0, 1.8, 1.8, 0.2], dims="rep")
    shaken = sim.assign(rate=xr.where(sim["layer"] >= 3, sim["rate"] * factor, sim["rate"]))
    assert T.unstable_layer(shaken) == 3
