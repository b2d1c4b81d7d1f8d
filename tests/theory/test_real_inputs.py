"""Real inputs (DESIGN.md 1d, issue 21): the data-driven layer 0, theory against simulation.

The data are made here: "images" with a background value shared by a third
of the pixels (as standardised MNIST), and rate-coded spike trains that
differ at every step (snntorch's ``spikegen.rate`` layout, fed straight into
the first weight layer). Every agreement is :func:`assert_agrees` at the
family-wise false-failure rate ``ALPHA`` (Bonferroni over all cells; its
calibration on the real simulator is the null harness's,
``tests/validation/test_null_harness.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

import snninit as si
from snninit.models import check_inputs, input_statistics
from snninit.validation import assert_agrees

from ._stats import z_bound

ALPHA = 1e-3


def images(samples=4, pixels=240, seed=0):
    """Standardised image-like inputs: a third of the pixels one background value."""
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 1.0, size=(samples, pixels))
    x[:, : pixels // 3] = 0.0
    return (x - x.mean()) / x.std()


def rate_coded(samples=3, steps=6, pixels=300, seed=1):
    """Bernoulli spike trains, pixel j firing with probability p_j (differs per sample)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.0, 0.6, size=(samples, 1, pixels))
    return (rng.random((samples, steps, pixels)) < p).astype(float)


def test_layer_zero_is_exact_and_identical_to_the_simulation():
    cfg = si.NetworkConfig(width=300, layers=2, steps=5, theta=1.0, beta=0.9, init="micheli")
    x = images()
    theory = si.theory.dynamic_mean_field(cfg, paths=512, inputs=x, check_paths=False)
    sim = si.montecarlo.simulate(cfg, reps=3, seed=0, inputs=x)
    for v in ("var_u", "mean_u", "rate", "skew", "kurt"):
        # the same kernels on the same data: the same bits, no error
        np.testing.assert_array_equal(theory[v].sel(layer=0), sim[v].sel(layer=0, rep=0))
        assert float(np.abs(theory[f"{v}_se"].sel(layer=0)).max()) == 0.0
    assert list(theory["neurons"].values) == [x.shape[1], 300, 300]
    # the first hidden layer's input law: mean n_0 mu m^0, variance n_0 s2 C_0(0, 0), at t = 0
    stats = input_statistics(check_inputs(x, 5)[0], cfg, True)
    mu, s2 = si.theory.layer_weight_moments(cfg, fan_in=[x.shape[1], 300])
    assert float(theory["var_u"].sel(sample=0, layer=1, time=0)) == pytest.approx(
        x.shape[1] * s2[0] * stats["corr"][0, 0], rel=1e-12
    )
    assert s2[0] == pytest.approx(si.theory.weight_variance("micheli", x.shape[1], 1.0))


@pytest.mark.parametrize(
    "neuron, extra",
    [("leaky", {}), ("synaptic", {"alpha": 0.7})],
)
def test_dynamic_mean_field_on_images_agrees_with_simulation(neuron, extra):
    cfg = si.NetworkConfig(width=800, layers=3, steps=6, theta=1.0, beta=0.9, init="micheli",
                           neuron=neuron, **extra)
    x = images(samples=3)
    theory = si.theory.dynamic_mean_field(cfg, paths=8192, inputs=x)
    sim = si.montecarlo.simulate(cfg, reps=24, seed=3, inputs=x)
    assert_agrees(theory, sim, alpha=ALPHA, variables=["rate", "var_u", "mean_u"])


def test_rate_coded_inputs_fed_to_the_first_weight_layer():
    cfg = si.NetworkConfig(width=800, layers=3, steps=6, theta=1.0, beta=0.9, init="kaiming")
    x = rate_coded()
    theory = si.theory.dynamic_mean_field(cfg, paths=8192, inputs=x, encode=False)
    sim = si.montecarlo.simulate(cfg, reps=24, seed=4, inputs=x, encode=False)
    assert list(theory["layer"].values) == [1, 2, 3] == list(sim["layer"].values)
    assert sim.attrs["inputs_vary"] == 1
    assert_agrees(theory, sim, alpha=ALPHA, variables=["rate", "var_u", "mean_u"])


def test_average_over_samples_is_the_mean_of_the_per_sample_prediction():
    cfg = si.NetworkConfig(width=500, layers=2, steps=4, theta=1.0, beta=0.9, init="micheli")
    x = images(samples=3)
    per = si.theory.dynamic_mean_field(cfg, paths=1024, inputs=x)
    avg = si.theory.dynamic_mean_field(cfg, paths=1024, inputs=x, average=True)
    assert "sample" not in avg.dims
    # the same groups, averaged before the error is taken: values equal the sample mean
    np.testing.assert_allclose(avg["rate"], per["rate"].mean("sample"), rtol=1e-12, atol=1e-15)
    assert avg.attrs["samples"] == 3 and "averaged" in avg.attrs["inputs_statistics"]
    sim = si.montecarlo.simulate(cfg, reps=20, seed=5, inputs=x).mean("sample")
    assert_agrees(avg, sim, alpha=ALPHA, variables=["rate", "var_u"])


def test_same_seed_same_numbers_whatever_the_thread_count():
    import numba

    cfg = si.NetworkConfig(width=200, layers=2, steps=3, theta=1.0, init="micheli")
    x = images(samples=2)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = si.montecarlo.simulate(cfg, reps=4, seed=7, inputs=x)
        numba.set_num_threads(max(1, numba.config.NUMBA_NUM_THREADS))
        many = si.montecarlo.simulate(cfg, reps=4, seed=7, inputs=x)
    finally:
        numba.set_num_threads(before)
    for v in one.data_vars:
        np.testing.assert_array_equal(one[v], many[v])


@pytest.mark.parametrize(
    "inputs, match",
    [
        (np.ones(5), r"inputs must have shape \(samples, n_0\)"),
        (np.ones((2, 4, 5)), "inputs has 4 time steps"),
        (np.full((2, 5), np.nan), "inputs must be finite"),
        ([["a", "b"]], "inputs must be a numeric array"),
        (np.ones((0, 5)), "non-empty"),
    ],
)
def test_bad_inputs_are_one_line_errors(inputs, match):
    cfg = si.NetworkConfig(width=50, layers=1, steps=3)
    with pytest.raises(ValueError, match=match):
        si.theory.dynamic_mean_field(cfg, paths=64, inputs=inputs)
    with pytest.raises(ValueError, match=match):
        si.montecarlo.simulate(cfg, reps=2, inputs=inputs)


def test_input_options_need_inputs():
    cfg = si.NetworkConfig(width=50, layers=1, steps=3)
    with pytest.raises(ValueError, match="apply with inputs= only"):
        si.theory.dynamic_mean_field(cfg, paths=64, encode=False)
    with pytest.raises(ValueError, match="method='dense' only"):
        si.montecarlo.simulate(cfg, reps=2, inputs=np.ones((1, 4)), method="gram")


def test_first_volley_extinction_on_n01_inputs_is_the_finite_size_chain():
    """Averaged over i.i.d. N(0, 1) samples the data-started chain is finite_size's."""
    cfg = si.NetworkConfig(width=100, layers=6, steps=1, theta=1.0, init="kaiming")
    x = np.random.default_rng(0).standard_normal((3000, cfg.width))
    p = si.theory.first_volley_extinction(cfg, x)
    chain = si.theory.finite_size(cfg)["p_extinct"].isel(time=0).sel(layer=slice(1, None))
    se = p.std("sample") / np.sqrt(p.sizes["sample"])
    z = (p.mean("sample") - chain) / np.maximum(se, 1e-12)
    assert float(np.abs(z).max()) < z_bound(ALPHA, cfg.layers)


def _extinct_fraction_test(cfg, x, sim):
    """Exact binomial tests, one per (sample, layer): ``reps`` independent networks each."""
    from scipy import stats

    p = si.theory.first_volley_extinction(cfg, x)
    dead = (sim["spikes"].isel(time=0).sel(layer=slice(1, None)) == 0).sum("rep")
    reps = sim.sizes["rep"]
    cells = [(int(dead.values[i, j]), float(p.values[i, j]))
             for i in range(p.sizes["sample"]) for j in range(p.sizes["layer"])
             if 0.005 < p.values[i, j] < 0.995]
    pvals = [stats.binomtest(k, reps, q).pvalue for k, q in cells]
    return len(cells), min(pvals) * len(cells)  # Bonferroni-adjusted smallest p-value


def test_first_volley_extinction_matches_simulated_networks_near_extinction():
    """Skewed image-like inputs, extinction between 0.5% and 80% per sample and layer:
    exact binomial test per (sample, layer) at family false-failure rate 1e-3; the same
    test rejects the prediction for a threshold 20% off (it can fail)."""
    rng = np.random.default_rng(0)
    x = np.where(rng.random((30, 64)) < 0.6, -0.42, 1.5 * np.abs(rng.standard_normal((30, 64))))
    cfg = si.NetworkConfig(width=40, layers=5, steps=1, theta=1.5, init="micheli")
    sim = si.montecarlo.simulate(cfg, reps=2000, seed=3, inputs=x)
    cells, adjusted = _extinct_fraction_test(cfg, x, sim)
    assert cells >= 100 and adjusted > ALPHA
    _, wrong = _extinct_fraction_test(cfg.replace(theta=1.2), x, sim)
    assert wrong < ALPHA
