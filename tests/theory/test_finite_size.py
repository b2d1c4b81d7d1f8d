"""The exact finite-width chain and its 1/n expansion."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy import stats

import snninit as si
from snninit.theory import finitesize

from ._stats import z_bound

T = si.theory


@given(
    n=st.integers(1, 400),
    theta=st.floats(0.0, 4.0),
    s2_scale=st.floats(0.05, 20.0),
    mu_scaled=st.floats(-1.0, 1.0),
)
@example(n=276, theta=2.25, s2_scale=1.0, mu_scaled=0.0)  # scipy's binom.pmf overflowed here
def test_every_transition_row_is_a_probability_distribution(n, theta, s2_scale, mu_scaled):
    P = T.transition_matrix(n, s2_scale / n, theta, mu=mu_scaled / n)
    assert P.shape == (n + 1, n + 1)
    assert np.all(P >= 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    assert P[0, 0] == 1.0  # no spikes in, no spikes out


def _dense_distribution(cfg):
    """Reference: propagate with the dense scipy matrices, one per layer."""
    mu, s2 = T.layer_weight_moments(cfg)
    n = cfg.width
    c = 1.0 if cfg.input_scale == "1" else 1 - cfg.beta
    p = stats.binom.pmf(np.arange(n + 1), n, stats.norm.sf(cfg.theta / c))
    out = [p]
    for layer in range(cfg.layers):
        p = p @ T.transition_matrix(n, s2[layer], cfg.theta, mu[layer])
        out.append(p)
    return np.array(out)


@pytest.mark.parametrize(
    "cfg",
    [
        si.NetworkConfig(width=30, layers=25, theta=1.0),
        si.NetworkConfig(width=60, layers=25, theta=0.4, init="kaiming"),
        si.NetworkConfig(width=45, layers=25, theta=1.6),
        si.NetworkConfig(width=1, layers=5, theta=0.0),
        si.NetworkConfig(width=200, layers=10, theta=2.5),
        si.NetworkConfig(width=40, layers=8, theta=0.7, input_scale="1-beta", beta=0.3),
    ],
)
def test_banded_propagation_equals_dense_matrix_propagation(cfg):
    exact = _dense_distribution(cfg)
    got = finitesize.spike_distribution(cfg)
    np.testing.assert_allclose(got, exact, atol=1e-13)
    ds = T.finite_size(cfg)
    k = np.arange(cfg.width + 1)
    np.testing.assert_allclose(ds["spikes"].values[:, 0], exact @ k, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(ds["p_extinct"].values[:, 0], exact[:, 0], atol=1e-14)
    sd = np.sqrt(exact @ k**2 - (exact @ k) ** 2)
    np.testing.assert_allclose(ds["spikes_sd"].values[:, 0], sd, rtol=1e-8, atol=1e-10)


def test_per_layer_weights_and_nonzero_mean_are_propagated():
    name = "test_per_layer"
    L, n = 6, 50
    rng = np.random.default_rng(3)
    s2 = rng.uniform(0.5, 3.0, L) / n
    mu = rng.uniform(-0.5, 0.5, L) / n
    si.theory.register_rule(
        si.theory.InitRule(
            name=name,
            variance=lambda n_in, theta, beta, steps: 1.0 / n_in + 0 * theta,
            per_layer=lambda cfg: (mu, s2),
        )
    )
    try:
        cfg = si.NetworkConfig(width=n, layers=L, theta=0.6, init=name)
        exact = _dense_distribution(cfg)
        np.testing.assert_allclose(finitesize.spike_distribution(cfg), exact, atol=1e-13)
        ds = T.finite_size(cfg)
        e_k = exact @ np.arange(n + 1)
        np.testing.assert_allclose(ds["mean_u"].values[1:, 0], mu * e_k[:-1], rtol=1e-11)
        np.testing.assert_allclose(
            ds["var_u"].values[1:, 0], s2 * e_k[:-1] * (n - 1) / n, rtol=1e-11
        )
    finally:
        si.theory.rules._REGISTRY.pop(name)


@given(
    n=st.integers(1, 300),
    theta=st.floats(0.0, 3.0),
    init=st.sampled_from(["micheli", "kaiming"]),
)
def test_p_extinct_never_decreases_with_depth(n, theta, init):
    ds = T.finite_size(si.NetworkConfig(width=n, layers=40, theta=theta, init=init))
    p = ds["p_extinct"].values[:, 0]
    assert np.all(np.diff(p) >= -1e-15)
    assert np.all((p >= 0) & (p <= 1))
    # an extinct layer feeds var_u = 0 to the next: E[var_u] <= (1 - P(extinct below)) * max
    assert np.all(ds["var_u"].values >= 0) and np.all(ds["var_u_sd"].values >= 0)


def test_layer_zero_is_the_sample_variance_of_the_input():
    n = 37
    ds = T.finite_size(si.NetworkConfig(width=n, layers=2, theta=0.9))
    assert ds["var_u"].values[0, 0] == pytest.approx((n - 1) / n)
    assert ds["var_u_sd"].values[0, 0] == pytest.approx(np.sqrt(2 * (n - 1)) / n)
    assert ds["p_extinct"].values[0, 0] == pytest.approx(stats.norm.cdf(0.9) ** n)
    assert ds["var_u"].dims == ("layer", "time")
    assert ds.attrs["kind"] == "finite_size"


def test_brute_force_simulation_of_the_chain_matches_the_propagated_distribution():
    # Simulate the chain itself: k_0 ~ Bin(n, Q(theta)), k_l ~ Bin(n, q(k_{l-1})).
    n, L, theta, reps = 8, 6, 0.8, 200_000
    cfg = si.NetworkConfig(width=n, layers=L, theta=theta)
    s2 = T.layer_weight_moments(cfg)[1][0]
    dist = finitesize.spike_distribution(cfg)
    rng = np.random.default_rng(20240611)
    q = np.zeros(n + 1)
    q[1:] = stats.norm.sf(theta / np.sqrt(np.arange(1, n + 1) * s2))
    k = rng.binomial(n, stats.norm.sf(theta), size=reps)
    # Chi-square goodness of fit per layer; total false-failure rate 1e-4 (Bonferroni).
    alpha = 1e-4 / (L + 1)
    for layer in range(L + 1):
        if layer > 0:
            k = rng.binomial(n, q[k])
        observed = np.bincount(k, minlength=n + 1).astype(float)
        expected = reps * dist[layer]
        big = expected >= 5  # pool the sparse cells so the chi-square law applies
        obs = np.append(observed[big], observed[~big].sum())
        exp = np.append(expected[big], expected[~big].sum())
        keep = exp > 0
        pvalue = stats.chisquare(obs[keep], exp[keep] * obs[keep].sum() / exp[keep].sum()).pvalue
        assert pvalue > alpha, (layer, pvalue)


def test_var_u_mixture_matches_sampled_membranes():
    # var_u | k ~ s2 k chi2_{n-1} / n: sample the chain, then the layer's membranes given k
    n, L, theta, reps = 12, 4, 0.7, 40_000
    cfg = si.NetworkConfig(width=n, layers=L, theta=theta)
    s2 = T.layer_weight_moments(cfg)[1][0]
    ds = T.finite_size(cfg)
    rng = np.random.default_rng(7)
    q = np.zeros(n + 1)
    q[1:] = stats.norm.sf(theta / np.sqrt(np.arange(1, n + 1) * s2))
    u = rng.standard_normal((reps, n))
    k = (u > theta).sum(axis=1)
    samples = [u.var(axis=1)]
    for _ in range(L):
        u = rng.standard_normal((reps, n)) * np.sqrt(s2 * k)[:, None]
        samples.append(u.var(axis=1))
        k = (u > theta).sum(axis=1)
    z = z_bound(1e-4, 2 * (L + 1))  # false-failure rate 1e-4 over all checks
    for layer, x in enumerate(samples):
        mean, sd = ds["var_u"].values[layer, 0], ds["var_u_sd"].values[layer, 0]
        assert abs(x.mean() - mean) < z * sd / np.sqrt(reps), layer
        # SE of the sample variance: sqrt((m4 - sd^4) / reps), m4 estimated from the data
        m4 = np.mean((x - x.mean()) ** 4)
        assert abs(x.var() - sd**2) < z * np.sqrt((m4 - x.var() ** 2) / reps), layer


def test_network_simulation_agrees_with_the_chain():
    # The real network of DESIGN 1a (dense Gaussian weights), small enough to be quick.
    n, L, theta, reps = 16, 3, 1.0, 6000
    cfg = si.NetworkConfig(width=n, layers=L, theta=theta)
    s2 = T.layer_weight_moments(cfg)[1][0]
    ds = T.finite_size(cfg)
    rng = np.random.default_rng(11)
    u = rng.standard_normal((reps, n))
    var_u, spikes, mean_u = [u.var(axis=1)], [(u > theta).sum(axis=1)], [u.mean(axis=1)]
    for _ in range(L):
        W = rng.standard_normal((reps, n, n)) * np.sqrt(s2)
        u = np.einsum("rij,rj->ri", W, (u > theta).astype(float))
        var_u.append(u.var(axis=1))
        mean_u.append(u.mean(axis=1))
        spikes.append((u > theta).sum(axis=1))
    z = z_bound(1e-4, 5 * (L + 1))  # false-failure rate 1e-4 over all checks
    for layer in range(L + 1):
        mean, sd = ds["var_u"].values[layer, 0], ds["var_u_sd"].values[layer, 0]
        assert abs(var_u[layer].mean() - mean) < z * sd / np.sqrt(reps)
        e_k = ds["spikes"].values[layer, 0]
        k = spikes[layer]
        assert abs(k.mean() - e_k) < z * k.std() / np.sqrt(reps)
        # mean_u: E = 0 for zero-mean weights, SD from the chain
        sd_mean = ds["mean_u_sd"].values[layer, 0]
        x = mean_u[layer]
        assert abs(x.mean()) < z * sd_mean / np.sqrt(reps)
        m4 = np.mean((x - x.mean()) ** 4)
        assert abs(x.var() - sd_mean**2) < z * np.sqrt((m4 - x.var() ** 2) / reps)
        p0 = ds["p_extinct"].values[layer, 0]
        se = np.sqrt(max(p0 * (1 - p0), 1e-12) / reps)
        assert abs(np.mean(k == 0) - p0) < z * se + 1e-12


def test_large_width_and_depth_are_handled():
    ds = T.finite_size(si.NetworkConfig(width=4000, layers=60, theta=1.0))
    assert np.all(np.isfinite(ds["var_u"].values))
    mf = T.mean_field(si.NetworkConfig(width=4000, layers=60, theta=1.0))
    # close to the mean field at large n (the chain's correction is O(1/n) per layer)
    np.testing.assert_allclose(ds["var_u"].values[1:], mf["var_u"].values[1:], rtol=0.02)


def test_expansion_error_is_second_order():
    # theta = 0.5, 20 layers: extinction probabilities below 1e-20 for n >= 200, so the
    # all-network moments are the survivors' ones
    ns = np.array([200, 400, 800, 1600])
    err_mean, err_var = [], []
    for n in ns:
        cfg = si.NetworkConfig(width=int(n), layers=20, theta=0.5)
        exact, approx = T.finite_size(cfg), T.finite_size_expansion(cfg)
        assert exact["p_extinct"].values.max() < 1e-20
        err_mean.append(float(np.abs(exact["var_u"] - approx["var_u_given_alive"]).max()))
        sd = approx["var_u_sd_given_alive"]
        err_var.append(float(np.abs(exact["var_u_sd"] ** 2 - sd**2).max()))
    # deterministic convergence: n^2 err settles, each doubling changing it by a shrinking
    # fraction (err = A n^-2 (1 + b/n): about -b / (2n), halving per doubling); an O(1/n)
    # error would double n^2 err every time
    for errs in (err_mean, err_var):
        change = np.abs(np.diff(ns**2 * np.array(errs)) / (ns[:-1] ** 2 * np.array(errs[:-1])))
        assert change[-1] < 0.02 and np.all(change[1:] <= 0.6 * change[:-1]), change
    # and the expansion beats the plain mean field
    mf = T.mean_field(cfg)
    assert err_mean[-1] < 0.01 * float(np.abs(exact["var_u"] - mf["var_u"]).max())


def test_expansion_reports_breakdown_instead_of_nan():
    with pytest.raises(ValueError, match="1/n expansion breaks down"):
        T.finite_size_expansion(si.NetworkConfig(width=5, layers=400, theta=3.0, init="kaiming"))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((0, 0.1, 1.0), "n must be an integer in [1, 10000]"),
        ((20_000, 0.1, 1.0), "n must be an integer in [1, 10000]"),
        ((10, 0.0, 1.0), "s2 must be a finite number in (0.0, inf)"),
        ((10, np.nan, 1.0), "s2 must be a finite number"),
        ((10, 0.1, -1.0), "theta must be a finite number in [0.0, inf)"),
    ],
)
def test_transition_matrix_bad_input(args, fragment):
    with pytest.raises(ValueError) as info:
        T.transition_matrix(*args)
    assert fragment in str(info.value)


def test_finite_size_refuses_several_steps():
    with pytest.raises(ValueError, match="one-step theory"):
        T.finite_size(si.NetworkConfig(steps=2))
    with pytest.raises(ValueError, match="one-step theory"):
        T.finite_size_expansion(si.NetworkConfig(steps=2))
