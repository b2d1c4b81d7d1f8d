"""simulate(): data model, samplers' agreement, gram exactness, reproducibility, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy.stats import norm

import snninit as si
from snninit.montecarlo import kernels as K
from snninit.theory.rules import InitRule, get_rule, register_rule, survival

SHIFTED = "_mc_test_shifted"


@pytest.fixture(scope="module")
def shifted_rule():
    """A rule with a nonzero weight mean (exercises the mean path of both samplers)."""
    try:
        get_rule(SHIFTED)
    except (KeyError, ValueError):
        register_rule(
            InitRule(
                name=SHIFTED,
                variance=lambda n_in, theta, beta, steps: 0.8 / (n_in * survival(theta)),
                mean=lambda n_in, theta, beta, steps: 0.5 / n_in + 0.0 * theta,
                assumptions="test rule: Micheli-like variance, positive mean",
            )
        )
    return SHIFTED


# ---------------------------------------------------------------- data model


def test_dataset_layout_and_attrs():
    cfg = si.NetworkConfig(width=50, layers=3, steps=1, theta=0.5)
    ds = si.montecarlo.simulate(cfg, reps=4, seed=3, method="gram")
    assert ds["var_u"].dims == ("rep", "layer", "time")
    assert ds.sizes == {"rep": 4, "layer": 4, "time": 1}
    assert list(ds.layer.values) == [0, 1, 2, 3]
    for name in ("var_u", "mean_u", "rate", "skew", "kurt"):
        assert ds[name].dtype == np.float64
    assert ds["spikes"].dtype == np.int64
    np.testing.assert_array_equal(ds["rate"].values, ds["spikes"].values / 50)
    assert ds.attrs["kind"] == "simulation"
    assert ds.attrs["seed"] == 3 and ds.attrs["method"] == "gram" and ds.attrs["reps"] == 4
    assert si._dataset.config_from_attrs(ds.attrs) == cfg
    # layer 0's membrane is the input: its variance is that of n standard normals
    assert np.all((ds["var_u"].sel(layer=0) > 0.4) & (ds["var_u"].sel(layer=0) < 2.0))


def test_skew_kurt_nan_exactly_where_var_is_zero():
    # Kaiming at theta = 1 dies out within a few layers for width 30
    cfg = si.NetworkConfig(width=30, layers=12, steps=3, theta=1.0, init="kaiming")
    for method in ("dense", "gram"):
        ds = si.montecarlo.simulate(cfg, reps=6, seed=1, method=method)
        zero = ds["var_u"].values == 0
        assert zero.any() and (~zero).any()
        np.testing.assert_array_equal(np.isnan(ds["skew"].values), zero)
        np.testing.assert_array_equal(np.isnan(ds["kurt"].values), zero)
        assert np.all(np.isfinite(ds["var_u"].values))


def test_reps_are_independent_of_how_many_are_run():
    cfg = si.NetworkConfig(width=40, layers=3, steps=4)
    for method in ("dense", "gram"):
        a = si.montecarlo.simulate(cfg, reps=2, seed=9, method=method)
        b = si.montecarlo.simulate(cfg, reps=5, seed=9, method=method)
        np.testing.assert_array_equal(a["var_u"].values, b["var_u"].values[:2])
        c = si.montecarlo.simulate(cfg, reps=2, seed=10, method=method)
        assert not np.array_equal(a["var_u"].values, c["var_u"].values)


def test_thread_count_gives_bit_identical_results():
    code = textwrap.dedent(
        """
        import hashlib, numba, snninit as si
        h = hashlib.sha256()
        for method in ("dense", "gram"):
            cfg = si.NetworkConfig(width=60, layers=4, steps=5, theta=0.9)
            ds = si.montecarlo.simulate(cfg, reps=7, seed=4, method=method)
            for name in ("var_u", "mean_u", "spikes", "skew", "kurt"):
                h.update(ds[name].values.tobytes())
        print(numba.get_num_threads(), h.hexdigest())
        """
    )
    digests = {}
    for threads in ("1", "2"):
        env = {**os.environ, "NUMBA_NUM_THREADS": threads}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        used, digest = out.stdout.split()
        assert used == threads
        digests[threads] = digest
    assert digests["1"] == digests["2"]


# ---------------------------------------------------------------- gram sampler


def test_pivoted_cholesky_reconstructs_and_finds_rank():
    rng = np.random.default_rng(0)
    for d, r in [(1, 1), (4, 4), (6, 3), (8, 1), (5, 0)]:
        if r:
            b = rng.standard_normal((d, r))
            a = b @ b.T
        else:
            a = np.zeros((d, d))
        f, rank = K.pivoted_cholesky(a, 1e-10)
        assert rank == r
        np.testing.assert_allclose(f[:, :rank] @ f[:, :rank].T, a, atol=1e-9 * max(1, a.max()))


def test_gram_drive_is_exact_for_rank_deficient_spike_matrices():
    """Silent, repeated and linearly dependent time steps; moments from many neurons."""
    rng = np.random.default_rng(2)
    n_in, n_out = 40, 200_000
    a = (rng.random(n_in) < 0.4).astype(np.uint8)
    b = ((rng.random(n_in) < 0.5) & (a == 0)).astype(np.uint8)  # disjoint from a
    s_prev = np.stack([a, np.zeros(n_in, np.uint8), a, b, a + b, b])  # rank 2
    mu, s2 = 0.05, 0.3
    out = np.empty((6, n_out))
    K.gram_drive(np.random.default_rng(3), s_prev, mu, s2, 1e-10, out)
    assert np.all(out[1] == 0.0)  # silent step: exactly no input
    np.testing.assert_array_equal(out[2], out[0])  # same spike set: same input
    np.testing.assert_array_equal(out[5], out[3])
    np.testing.assert_allclose(out[4], out[0] + out[3], atol=1e-12)  # exact linear relation
    # moments of (h_0, h_3): mean mu c, covariance s2 K; false-failure rate 1e-4 in
    # total, Bonferroni over 5 statistics, each z-scored by its standard error
    gram = s_prev[[0, 3]].astype(float) @ s_prev[[0, 3]].T.astype(float)
    cov = s2 * gram
    mean = mu * s_prev[[0, 3]].sum(axis=1)
    h = out[[0, 3]]
    zcrit = norm.isf(1e-4 / (2 * 5))
    se_mean = np.sqrt(np.diag(cov) / n_out)
    assert np.all(np.abs(h.mean(axis=1) - mean) < zcrit * se_mean)
    emp = np.cov(h, ddof=1)
    for i, j in [(0, 0), (1, 1), (0, 1)]:
        se = np.sqrt((cov[i, i] * cov[j, j] + cov[i, j] ** 2) / n_out)
        assert abs(emp[i, j] - cov[i, j]) < zcrit * se


def test_gram_one_step_is_the_exact_scalar_sampler():
    # T = 1: h_i = mu k + sqrt(s2 k) z_i, one normal per neuron
    s_prev = np.zeros((1, 30), np.uint8)
    s_prev[0, :7] = 1
    out = np.empty((1, 5))
    K.gram_drive(np.random.default_rng(8), s_prev, 0.1, 0.5, 1e-10, out)
    z = np.random.default_rng(8).standard_normal(5)
    np.testing.assert_allclose(out[0], 0.1 * 7 + np.sqrt(0.5) * np.sqrt(7.0) * z, rtol=1e-14)


SETTINGS = [
    dict(width=100, layers=6, steps=1, theta=1.0, init="micheli"),
    dict(width=100, layers=6, steps=1, theta=0.4, init="kaiming"),
    dict(width=60, layers=4, steps=6, theta=1.0, beta=0.5, init="micheli"),
    dict(width=60, layers=4, steps=6, theta=0.6, beta=0.9, init="kaiming"),
    dict(width=60, layers=4, steps=5, theta=1.0, beta=0.9, init="micheli", reset="zero"),
    dict(width=60, layers=4, steps=5, theta=0.8, beta=0.7, init=SHIFTED, reset_decay=True),
]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: f"T{s['steps']}-{s['init']}")
def test_dense_and_gram_agree_in_distribution(setting, shifted_rule):
    """Welch z of the across-rep means of var_u, mean_u, rate in every (layer >= 1, time).

    False-failure rate 1e-3 per setting (Bonferroni over all compared cells,
    normal approximation of the mean of 1000 independent networks).
    """
    cfg = si.NetworkConfig(**setting)
    reps = 1000
    dense = si.montecarlo.simulate(cfg, reps=reps, seed=100, method="dense")
    gram = si.montecarlo.simulate(cfg, reps=reps, seed=200, method="gram")
    zs = []
    for name in ("var_u", "mean_u", "rate"):
        a = dense[name].sel(layer=slice(1, None)).values
        b = gram[name].sel(layer=slice(1, None)).values
        se = np.sqrt(a.var(axis=0, ddof=1) / reps + b.var(axis=0, ddof=1) / reps)
        diff = a.mean(axis=0) - b.mean(axis=0)
        live = se > 0
        assert np.all(diff[~live] == 0)  # both constant (e.g. extinct): must be equal
        zs.append(np.abs(diff[live] / se[live]))
    zs = np.concatenate(zs)
    assert zs.size > 0
    zcrit = norm.isf(1e-3 / (2 * zs.size))
    assert zs.max() < zcrit, f"max |z| = {zs.max():.2f} over {zs.size} cells (crit {zcrit:.2f})"


# ---------------------------------------------------------------- bad input


def test_bad_input_raises_clear_value_errors():
    cfg = si.NetworkConfig(width=10, layers=2)
    with pytest.raises(ValueError, match=r"reps must be an integer in \[1"):
        si.montecarlo.simulate(cfg, reps=0)
    with pytest.raises(ValueError, match="method must be one of 'dense', 'gram'; got 'exact'"):
        si.montecarlo.simulate(cfg, method="exact")
    with pytest.raises(ValueError, match="seed must be"):
        si.montecarlo.simulate(cfg, seed=-1)
    with pytest.raises(ValueError, match="gram.*Gaussian weights only.*uniform"):
        si.montecarlo.simulate(cfg.replace(weights="uniform"), method="gram")
    with pytest.raises(ValueError, match="cfg must be a snninit.NetworkConfig"):
        si.montecarlo.simulate({"width": 10})


def test_weights_that_would_overflow_are_refused():
    # Micheli at theta = 37: Q(37) ~ 6e-300, Var[w] ~ 2e296 (finite, but the
    # membranes would overflow); at theta = 40 Q underflows to 0 (infinite Var)
    for theta in (37.0, 40.0):
        cfg = si.NetworkConfig(width=100, layers=2, theta=theta, init="micheli")
        for method in ("dense", "gram"):
            with pytest.raises(ValueError, match="micheli"):
                si.montecarlo.simulate(cfg, reps=1, method=method)


HEAVY = [
    dict(width=1000, layers=20, steps=20, theta=1.0, beta=0.5, init="micheli"),
    dict(width=1000, layers=20, steps=20, theta=1.0, beta=0.9, init="kaiming"),
    dict(width=300, layers=50, steps=1, theta=1.0, init="micheli"),
]


@pytest.mark.validation
@pytest.mark.parametrize("setting", HEAVY, ids=lambda s: f"n{s['width']}-T{s['steps']}")
def test_dense_and_gram_agree_at_paper_sizes(setting):
    """As above at paper widths (false-failure rate 1e-3 per setting, Bonferroni)."""
    cfg = si.NetworkConfig(**setting)
    reps = 40 if cfg.steps > 1 else 200
    dense = si.montecarlo.simulate(cfg, reps=reps, seed=1000, method="dense")
    gram = si.montecarlo.simulate(cfg, reps=reps, seed=2000, method="gram")
    zs = []
    for name in ("var_u", "mean_u", "rate"):
        a = dense[name].sel(layer=slice(1, None)).values
        b = gram[name].sel(layer=slice(1, None)).values
        se = np.sqrt(a.var(axis=0, ddof=1) / reps + b.var(axis=0, ddof=1) / reps)
        diff = a.mean(axis=0) - b.mean(axis=0)
        live = se > 0
        assert np.all(diff[~live] == 0)
        zs.append(np.abs(diff[live] / se[live]))
    zs = np.concatenate(zs)
    zcrit = norm.isf(1e-3 / (2 * zs.size))
    assert zs.max() < zcrit, f"max |z| = {zs.max():.2f} over {zs.size} cells (crit {zcrit:.2f})"
