"""The two-input correlation map (theory.correlation_map) against one network run on
two inputs (montecarlo.simulate_correlation), cell by cell.

Every comparison is ``assert_agrees`` at family false-failure rate ``ALPHA``;
``test_null_rate_of_the_comparison`` measures that rate over many seeds of the
real simulator. The theory is the ``n -> inf`` limit: widths here are large
enough that the O(1/n) bias of a correlation over n neurons is far below the
spread of 12-20 networks (the null test shows it).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import snninit as si
from snninit.models import pair_moments, pair_statistics

ALPHA = 1e-3
PAIR = ["similarity", "corr_spikes", "corr_counts", "rate"]


def image_pair(pixels=300, seed=0, overlap=0.5):
    """Two standardised image-like inputs sharing a fraction ``overlap`` of their pixels."""
    rng = np.random.default_rng(seed)
    a = rng.gamma(2.0, 1.0, pixels)
    b = np.where(rng.random(pixels) < overlap, a, rng.gamma(2.0, 1.0, pixels))
    x = np.stack([a, b])
    x[:, : pixels // 3] = 0.0  # a shared background
    return (x - x.mean()) / x.std()


def test_pair_statistics_are_the_pearson_correlations_over_neurons():
    rng = np.random.default_rng(0)
    sa = (rng.random((4, 500)) < 0.3).astype(np.uint8)
    sb = np.where(rng.random((4, 500)) < 0.6, sa, rng.random((4, 500)) < 0.2).astype(np.uint8)
    st = pair_statistics(*pair_moments(sa, sb))
    for t in range(4):
        assert st["corr_spikes"][t] == pytest.approx(np.corrcoef(sa[t], sb[t])[0, 1], rel=1e-12)
        a, b = sa[t].astype(float), sb[t].astype(float)
        cos = a @ b / np.sqrt((a @ a) * (b @ b))
        assert st["similarity"][t] == pytest.approx(cos, rel=1e-12)
    counts = np.corrcoef(sa.sum(0), sb.sum(0))[0, 1]
    assert st["corr_counts"] == pytest.approx(counts, rel=1e-12)
    silent = pair_statistics(*pair_moments(np.zeros((2, 10)), sb[:2, :10]))
    assert np.isnan(silent["corr_spikes"]).all() and np.isnan(silent["corr_counts"])


def test_identical_inputs_stay_identical_and_rates_are_the_dynamic_mean_field():
    cfg = si.NetworkConfig(width=1000, layers=3, steps=4, theta=1.0, beta=0.9, init="micheli")
    one = si.theory.correlation_map(cfg, input_correlation=1.0, paths=4096)
    hidden = one.sel(layer=slice(0, None))
    np.testing.assert_allclose(hidden["corr_counts"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(hidden["similarity"], 1.0, rtol=1e-12)
    ds = si.theory.correlation_map(cfg, input_correlation=0.3, paths=2**14)
    dm = si.theory.dynamic_mean_field(cfg, paths=2**14, seed=5)
    for which in ("a", "b"):
        r = ds["rate"].sel(input=which)
        z = (r - dm["rate"]) / np.hypot(ds["rate_se"].sel(input=which), dm["rate_se"])
        z = z.where(np.isfinite(z), 0.0)  # exact t = 0 cells of the dmft vs sampled ones
        assert float(np.abs(z).max()) < stats.norm.isf(ALPHA / (2 * z.size))


CASES = {  # name: (config fields, pair keyword arguments)
    "leaky micheli, rho 0": (dict(), dict(input_correlation=0.0)),
    "leaky micheli, rho 0.6": (dict(), dict(input_correlation=0.6)),
    "leaky micheli, rho -0.5": (dict(), dict(input_correlation=-0.5)),
    "leaky kaiming, rho 0.9": (dict(init="kaiming", theta=0.5), dict(input_correlation=0.9)),
    "synaptic, rho 0.5": (dict(neuron="synaptic", alpha=0.7), dict(input_correlation=0.5)),
    "adaptive, rho 0.5": (dict(neuron="adaptive"), dict(input_correlation=0.5)),
    "image-like pair": (dict(), dict(inputs=image_pair())),
    "rate-coded pair, no encoding layer": (
        dict(init="kaiming"), dict(inputs="rate", encode=False)),
}


def _pair_inputs(kw, steps):
    if isinstance(kw.get("inputs"), str):
        rng = np.random.default_rng(4)
        p = rng.uniform(0, 0.5, 400)
        q = np.where(rng.random(400) < 0.5, p, rng.uniform(0, 0.5, 400))
        kw = {**kw, "inputs": (rng.random((2, steps, 400)) < np.stack([p, q])[:, None]) * 1.0}
    return kw


@pytest.mark.parametrize("name", list(CASES))
def test_correlation_map_agrees_with_simulated_networks(name):
    fields, kw = CASES[name]
    cfg = si.NetworkConfig(**{**dict(width=1000, layers=4, steps=5, theta=1.0, beta=0.9,
                                     init="micheli"), **fields})
    kw = _pair_inputs(kw, cfg.steps)
    th = si.theory.correlation_map(cfg, paths=2**14, **kw)
    sim = si.montecarlo.simulate_correlation(cfg, reps=16, seed=11, **kw)
    cmp = si.validation.assert_agrees(th, sim, alpha=ALPHA, variables=PAIR)
    assert int(cmp["corr_counts_tested"].sum()) >= cfg.layers


def test_a_wrong_input_correlation_is_rejected():
    """Power: the prediction for rho 0.4 against networks fed pairs of rho 0.6."""
    cfg = si.NetworkConfig(width=1000, layers=4, steps=5, theta=1.0, beta=0.9, init="micheli")
    sim = si.montecarlo.simulate_correlation(cfg, input_correlation=0.6, reps=16, seed=11)
    wrong = si.theory.correlation_map(cfg, input_correlation=0.4, paths=2**14)
    assert not si.validation.agrees(wrong, sim, alpha=ALPHA, variables=PAIR)


def test_null_rate_of_the_comparison():
    """The comparison's false-failure rate on the real simulator: 60 independent
    seeds of 12 networks against one prediction, each judged at family rate 0.05.
    More than 9 rejections has probability < 1e-3 if the stated rate holds."""
    cfg = si.NetworkConfig(width=1000, layers=2, steps=3, theta=1.0, beta=0.8, init="micheli")
    th = si.theory.correlation_map(cfg, input_correlation=0.5, paths=2**15)
    rejected, z = 0, []
    for seed in range(60):
        sim = si.montecarlo.simulate_correlation(cfg, input_correlation=0.5, reps=12,
                                                 seed=1000 + seed)
        cmp = si.validation.compare(th, sim, PAIR)
        rejected += not si.validation.agrees(cmp, alpha=0.05)
        z += [cmp[f"{v}_z"].values[cmp[f"{v}_tested"].values].ravel() for v in PAIR]
    assert stats.binom.sf(rejected - 1, 60, 0.05) > ALPHA, rejected
    z = np.concatenate(z)
    # the per-cell |z| > 2 rate, loosely (cells of one network are correlated)
    assert np.mean(np.abs(z) > 2) < 0.1


def test_same_numbers_whatever_the_thread_count():
    import numba

    cfg = si.NetworkConfig(width=300, layers=2, steps=3, init="micheli")
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = si.montecarlo.simulate_correlation(cfg, input_correlation=0.5, reps=6, seed=2)
        numba.set_num_threads(max(2, old))
        two = si.montecarlo.simulate_correlation(cfg, input_correlation=0.5, reps=6, seed=2)
    finally:
        numba.set_num_threads(old)
    for v in PAIR:
        np.testing.assert_array_equal(one[v].values, two[v].values)


@pytest.mark.parametrize("kw, match", [
    (dict(), "exactly one of"),
    (dict(input_correlation=1.5), "input_correlation"),
    (dict(inputs=np.zeros((3, 20))), "exactly 2 samples"),
    (dict(input_correlation=0.5, encode=False), "encode=False needs inputs"),
])
def test_bad_pairs_are_one_line_errors(kw, match):
    cfg = si.NetworkConfig(width=50, layers=2, steps=2)
    for fn in (si.theory.correlation_map, si.montecarlo.simulate_correlation):
        with pytest.raises(ValueError, match=match):
            fn(cfg, **kw)
    with pytest.raises(ValueError, match="recurrent"):
        si.theory.correlation_map(cfg.replace(neuron="recurrent"), input_correlation=0.5)


def test_correlation_depth_scale_recovers_a_known_contraction():
    layers = np.arange(12)
    fixed, xi = 0.6, 3.0
    upper = fixed + 0.3 * np.exp(-layers / xi)
    lower = fixed - 0.5 * np.exp(-layers / xi)
    errors = np.full(12, 1e-4)
    assert si.theory.correlation_depth_scale(upper, lower, errors) == pytest.approx(xi, rel=1e-9)
    assert np.isnan(si.theory.correlation_depth_scale(upper, upper, errors))  # no gap
    assert np.isinf(si.theory.correlation_depth_scale(upper[::-1], lower[::-1], errors))
