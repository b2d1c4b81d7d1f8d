"""compare / assert_agrees on synthetic datasets whose truth is known."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats

import snninit as si
from snninit.validation import agreement_summary, assert_agrees, compare, worst_cells


def _sim(values: np.ndarray, **attrs) -> xr.Dataset:
    """(rep, layer, time) simulation dataset around ``values``."""
    reps, layers, steps = values.shape
    ds = xr.Dataset(
        {"var_u": (("rep", "layer", "time"), values)},
        coords={"rep": np.arange(reps), "layer": np.arange(layers), "time": np.arange(steps)},
    )
    ds.attrs.update(attrs)
    return ds


def _theory(values: np.ndarray, **extra) -> xr.Dataset:
    layers, steps = values.shape
    ds = xr.Dataset(
        {"var_u": (("layer", "time"), values)},
        coords={"layer": np.arange(layers), "time": np.arange(steps)},
    )
    for name, arr in extra.items():
        ds[name] = (("layer", "time"), arr)
    return ds


def test_compare_statistics_by_hand():
    rng = np.random.default_rng(1)
    x = rng.normal(1.0, 0.2, size=(12, 5, 2))
    th = _theory(np.full((5, 2), 1.05))
    cmp = compare(th, _sim(x))
    mean = x.mean(0)
    se = x.std(0, ddof=1) / np.sqrt(12)
    np.testing.assert_allclose(cmp.var_u_sim_mean.values, mean)
    np.testing.assert_allclose(cmp.var_u_sim_se.values, se)
    np.testing.assert_allclose(cmp.var_u_rel_err.values, (mean - 1.05) / 1.05)
    # spread from the sample: two-sided Student-t with R - 1 = 11 degrees of freedom
    t_stat = (mean - 1.05) / se
    p = 2 * stats.t(11).sf(np.abs(t_stat))
    np.testing.assert_allclose(cmp.var_u_p.values, p, rtol=1e-10)
    # z is the p-value on the normal scale (|z| > 2 iff p < 0.0455), signed like the difference
    np.testing.assert_allclose(cmp.var_u_z.values, np.sign(t_stat) * stats.norm.isf(p / 2))
    assert cmp.attrs["reps"] == 12
    assert set(cmp.dims) == {"layer", "time"}


def test_theory_spread_and_own_error_are_used():
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 1.0, size=(16, 3, 1))
    sd = np.full((3, 1), 2.0)
    se_th = np.full((3, 1), 0.3)
    cmp = compare(_theory(np.zeros((3, 1)), var_u_sd=sd, var_u_se=se_th), _sim(x))
    # the predicted spread across networks replaces the sample SD ...
    np.testing.assert_allclose(cmp.var_u_sim_se.values, 2.0 / 4.0)
    # ... and the prediction's own sampling error adds in quadrature
    np.testing.assert_allclose(cmp.var_u_se.values, np.hypot(0.5, 0.3))


def test_zero_spread_cells():
    x = np.zeros((10, 3, 1))
    x[:, 2, 0] = 0.5
    th = _theory(np.array([[0.0], [1e-3], [0.5]]))
    cmp = compare(th, _sim(x))
    # identical repetitions equal to the prediction: perfect agreement
    assert cmp.var_u_z.values[0, 0] == 0 and cmp.var_u_p.values[0, 0] == 1
    assert cmp.var_u_z.values[2, 0] == 0
    # identical repetitions away from a prediction that says nothing about the spread:
    # the sample SD is 0, the t statistic undefined, so the cell is untested, not infinite
    assert cmp.var_u_tested.values[:, 0].tolist() == [True, False, True]
    assert np.isnan(cmp.var_u_z.values[1, 0]) and cmp.var_u_p.values[1, 0] == 1
    summary = agreement_summary(cmp)["var_u"]
    assert summary["cells"] == 2 and summary["untested"] == 1
    assert_agrees(th, _sim(x))
    # the same data against a prediction that states its spread across networks is 0:
    # certain disagreement
    th0 = _theory(np.array([[0.0], [1e-3], [0.5]]), var_u_sd=np.zeros((3, 1)))
    cmp0 = compare(th0, _sim(x))
    assert cmp0.var_u_z.values[1, 0] == -np.inf and cmp0.var_u_p.values[1, 0] == 0
    assert not np.isnan(cmp0.var_u_rel_err.values).any()
    with pytest.raises(AssertionError, match="layer=1"):
        assert_agrees(th0, _sim(x))


def test_identical_spike_counts_are_tested_against_their_counting_noise():
    reps, n = 10, 1000
    rate = np.zeros((reps, 3, 1))
    rate[:, 0, 0] = 0.16  # layer 0 identical in every network and equal to the prediction
    sim = xr.Dataset(
        {"rate": (("rep", "layer", "time"), rate), "spikes": (("rep", "layer", "time"), rate * n)},
        coords={"layer": np.arange(3), "time": [0]},
        attrs={"width": n},
    )
    # layer 1: every network dead where the theory says the layer is active (160 spikes);
    # layer 2: dead where the theory predicts 0.04 spikes per network, well within counting noise
    pred = np.array([[0.16], [0.16], [0.04 / n]])
    th = xr.Dataset(
        {"rate": (("layer", "time"), pred), "spikes": (("layer", "time"), pred * n)},
        coords={"layer": np.arange(3), "time": [0]},
    )
    cmp = compare(th, sim, variables=["rate", "spikes"])
    for v in ("rate", "spikes"):
        assert cmp[f"{v}_tested"].values[:, 0].tolist() == [True, True, True]
        # the floor: SE = sqrt(k (1 - k/n) / reps), k the predicted spike count
        k = pred[:, 0] * n
        se = np.sqrt(k * (1 - k / n) / reps) / (n if v == "rate" else 1)
        np.testing.assert_allclose(cmp[f"{v}_sim_se"].values[:, 0], se)
        assert cmp[f"{v}_z"].values[1, 0] < -40  # dead vs alive: certain disagreement
        assert abs(cmp[f"{v}_z"].values[2, 0]) < 1  # 0 vs 0.04 spikes: agreement
    with pytest.raises(AssertionError, match="layer=1"):
        assert_agrees(th, sim, variables=["rate"])


def test_extinction_is_an_exact_binomial_test():
    reps = 20
    spikes = np.ones((reps, 4, 1))
    spikes[:3, 2, 0] = 0  # 3 of 20 networks silent at layer 2
    sim = xr.Dataset(
        {"spikes": (("rep", "layer", "time"), spikes)},
        coords={"layer": np.arange(4), "time": [0]},
    )
    p = np.array([[0.0], [0.01], [0.05], [0.5]])
    th = xr.Dataset(
        {"p_extinct": (("layer", "time"), p), "spikes": (("layer", "time"), np.ones((4, 1)))},
        coords={"layer": np.arange(4), "time": [0]},
    )
    cmp = compare(th, sim, variables=["p_extinct"])
    np.testing.assert_allclose(cmp.p_extinct_sim_mean.values[:, 0], [0, 0, 0.15, 0])
    np.testing.assert_allclose(cmp.p_extinct_sim_se.values, np.sqrt(p * (1 - p) / reps))
    expected = stats.binomtest(3, reps, 0.05).pvalue
    # scipy's binomtest uses the likelihood-ordering two-sided rule; ours doubles the
    # smaller tail, which is never smaller (more conservative)
    assert cmp.p_extinct_p.values[2, 0] >= expected - 1e-12
    tail = 2 * stats.binom.sf(2, reps, 0.05)
    np.testing.assert_allclose(cmp.p_extinct_p.values[2, 0], tail)
    # 0 of 20 silent where p = 0.5: P[X <= 0] = 2**-20, doubled
    np.testing.assert_allclose(cmp.p_extinct_p.values[3, 0], 2 * 0.5**20)


def test_alignment_selects_the_simulated_cell_of_a_swept_theory():
    rng = np.random.default_rng(3)
    x = rng.normal(1.0, 0.1, size=(20, 6, 1))
    sim = _sim(x, theta=0.8, width=100)
    th = xr.Dataset(
        {"var_u": (("theta", "layer", "time"), np.stack([np.ones((6, 1)), 3 * np.ones((6, 1))]))},
        coords={"theta": [0.8, 1.0], "layer": np.arange(6), "time": [0]},
        attrs={"width": 100},
    )
    cmp = compare(th, sim)
    assert float(cmp.theta) == 0.8
    np.testing.assert_allclose(cmp.var_u_theory.values, 1.0)
    # theory over fewer layers: compared on the shared layers only
    cmp = compare(th.isel(layer=slice(0, 3)), sim)
    assert cmp.sizes["layer"] == 3


def test_alignment_errors_are_readable():
    x = np.ones((5, 3, 1)) + np.arange(5)[:, None, None] * 0.01
    th = xr.Dataset(
        {"var_u": (("theta", "layer", "time"), np.ones((2, 3, 1)))},
        coords={"theta": [0.8, 1.0], "layer": np.arange(3), "time": [0]},
    )
    with pytest.raises(ValueError, match="theta"):
        compare(th, _sim(x))  # simulation does not say its theta
    with pytest.raises(ValueError, match=r"theta=0\.9"):
        compare(th, _sim(x, theta=0.9))
    with pytest.raises(ValueError, match="width"):
        compare(_theory(np.ones((3, 1))).assign_attrs(width=100), _sim(x, width=1000))
    with pytest.raises(ValueError, match="at least 2 repetitions"):
        compare(_theory(np.ones((3, 1))), _sim(x[:1]))
    with pytest.raises(ValueError, match="no variable in common"):
        compare(_theory(np.ones((3, 1))).rename(var_u="skew"), _sim(x))
    with pytest.raises(ValueError, match="alpha"):
        assert_agrees(_theory(np.ones((3, 1))), _sim(x), alpha=1.5)


def test_assert_agrees_false_failure_rate_and_power():
    """Bonferroni keeps the family-wise false-failure rate below alpha.

    200 null experiments of 40 cells (10 repetitions, normal data) at
    alpha = 0.1: the number of failures is Binomial(200, q) with q <= 0.1;
    the bound 0.1 * 200 + 3.5 sd (3.5 sd: false-failure rate of this test
    about 2e-4) is 34.
    """
    rng = np.random.default_rng(4)
    th = _theory(np.zeros((20, 2)))
    failures = 0
    for _ in range(200):
        try:
            assert_agrees(th, _sim(rng.standard_normal((10, 20, 2))), alpha=0.1)
        except AssertionError:
            failures += 1
    assert failures <= 20 + 3.5 * np.sqrt(200 * 0.1 * 0.9)
    # and Bonferroni is not vacuous: at alpha = 0.5 some null experiments do fail
    failures_half = 0
    for _ in range(40):
        try:
            assert_agrees(th, _sim(rng.standard_normal((10, 20, 2))), alpha=0.5)
        except AssertionError:
            failures_half += 1
    # expected about 40 * 0.4; P(0 failures) < 1e-6
    assert failures_half > 0
    # a shift of 3 standard deviations per network (9.5 standard errors) is always caught
    for _ in range(20):
        with pytest.raises(AssertionError, match="Bonferroni"):
            assert_agrees(th, _sim(rng.standard_normal((10, 20, 2)) + 3.0), alpha=1e-3)


def test_failure_message_lists_worst_cells_first():
    rng = np.random.default_rng(5)
    x = rng.normal(1.0, 0.05, size=(15, 8, 1))
    x[:, 5, 0] += 0.5
    with pytest.raises(AssertionError) as info:
        assert_agrees(_theory(np.ones((8, 1))), _sim(x), show=3)
    text = str(info.value)
    first_row = text.splitlines()[3]
    assert "layer=5" in first_row
    assert "1 of 8 cells" in text
    cmp = compare(_theory(np.ones((8, 1))), _sim(x))
    assert worst_cells(cmp, k=1)[0]["where"]["layer"] == 5
    summary = agreement_summary(cmp)
    assert summary["var_u"]["rejected"] == 1 and not summary["var_u"]["agrees"]
    assert summary["var_u"]["worst_where"]["layer"] == 5
    # re-testing a compare() result gives the same verdict
    with pytest.raises(AssertionError):
        assert_agrees(cmp)


def test_holm_counts_match_bonferroni_verdict():
    rng = np.random.default_rng(6)
    x = rng.normal(0, 1, size=(20, 30, 1))
    x[:, :4, 0] += 4.0  # 4 truly shifted cells, each ~18 standard errors away
    cmp = compare(_theory(np.zeros((30, 1))), _sim(x))
    assert agreement_summary(cmp, alpha=1e-3)["var_u"]["rejected"] == 4


def test_shape_statistics_use_the_repetitions_where_they_are_defined():
    rng = np.random.default_rng(7)
    skew = rng.normal(-0.3, 0.1, size=(10, 4, 1))
    skew[:6, 2, 0] = np.nan  # 4 of 10 networks define the skewness of layer 2
    skew[:, 3, 0] = np.nan  # layer 3 silent in every network: untestable
    sim = xr.Dataset(
        {"skew": (("rep", "layer", "time"), skew)}, coords={"layer": np.arange(4), "time": [0]}
    )
    th = xr.Dataset(
        {"skew": (("layer", "time"), np.full((4, 1), -0.3))},
        coords={"layer": np.arange(4), "time": [0]},
    )
    cmp = compare(th, sim)
    np.testing.assert_allclose(cmp.skew_sim_mean.values[2, 0], skew[6:, 2, 0].mean())
    se = skew[6:, 2, 0].std(ddof=1) / 2.0
    z = (skew[6:, 2, 0].mean() + 0.3) / se
    np.testing.assert_allclose(cmp.skew_p.values[2, 0], 2 * stats.t(3).sf(abs(z)))
    assert cmp.skew_tested.values.tolist() == [[True], [True], [True], [False]]
    assert cmp.skew_p.values[3, 0] == 1.0 and np.isnan(cmp.skew_z.values[3, 0])
    summary = agreement_summary(cmp)["skew"]
    assert summary["cells"] == 3 and summary["untested"] == 1
    assert_agrees(cmp)
    # NaN in any other variable is an error, never silently skipped
    with pytest.raises(ValueError, match="NaN"):
        compare(th.rename(skew="var_u"), sim.rename(skew="var_u"))


def _hurdle_theory(p0: float, alive_mean: float, alive_sd: float | None = None) -> xr.Dataset:
    """One cell of a bimodal law: 0 with probability p0, else N(alive_mean, alive_sd)."""
    extra = {"var_u_given_alive": np.array([[alive_mean]])}
    if alive_sd is not None:
        extra["var_u_sd_given_alive"] = np.array([[alive_sd]])
    return _theory(np.array([[(1 - p0) * alive_mean]]), **extra)


def test_two_part_test_near_extinction():
    """A sample that misses the rare extinct mode is no evidence against the mixture."""
    rng = np.random.default_rng(5)
    # no network of 20 extinct: probability 0.95**20 = 0.36 under the mixture
    alive = rng.normal(1.0, 0.02, size=(20, 1, 1))
    th = _hurdle_theory(p0=0.05, alive_mean=1.0)
    # the one-sample t test on the overall mean, the old cell test: a false rejection
    t_stat = (alive.mean() - 0.95) / (alive.std(ddof=1) / np.sqrt(20))
    assert 2 * stats.t(19).sf(abs(t_stat)) < 1e-4
    cmp = compare(th, _sim(alive))
    # two parts: 0 of 20 extinct vs p0 = 0.05 (binomial p = 1) and the survivors'
    # mean vs 1.0; Bonferroni over the two
    p_alive = cmp["var_u_given_alive_p"].item()
    assert cmp["var_u_p"].item() == pytest.approx(min(1.0, 2 * p_alive))
    assert cmp["var_u_p"].item() > 0.01
    assert cmp["var_u_sim_mean"].item() == pytest.approx(alive.mean())  # display: whole sample


def test_two_part_test_rejects_each_part():
    rng = np.random.default_rng(6)
    x = rng.normal(1.0, 0.05, size=(20, 1, 1))
    x[:10] = 0.0  # half the networks extinct
    # wrong extinct fraction (0.05 predicted), right survivors
    cmp = compare(_hurdle_theory(0.05, 1.0, 0.05), _sim(x))
    assert cmp["var_u_p"].item() < 1e-6
    assert cmp["var_u_given_alive_p"].item() > 1e-3
    # right extinct fraction, survivors 10 % too low in the prediction
    cmp = compare(_hurdle_theory(0.5, 0.9, 0.05), _sim(x))
    assert cmp["var_u_p"].item() < 1e-6
    # the survivors' cell uses only the networks with var_u > 0, with the stated SD
    assert cmp["var_u_given_alive_sim_mean"].item() == pytest.approx(x[10:].mean())
    assert cmp["var_u_given_alive_sim_se"].item() == pytest.approx(0.05 / np.sqrt(10))
    z = (x[10:].mean() - 0.9) / (0.05 / np.sqrt(10))
    assert cmp["var_u_given_alive_z"].item() == pytest.approx(z)  # normal law: z itself


def test_stated_spread_uses_the_normal_law():
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 1.0, size=(10, 4, 1))
    cmp = compare(_theory(np.zeros((4, 1)), var_u_sd=np.ones((4, 1))), _sim(x))
    z = x.mean(0) * np.sqrt(10)
    np.testing.assert_allclose(cmp.var_u_z.values, z)
    np.testing.assert_allclose(cmp.var_u_p.values, 2 * stats.norm.sf(np.abs(z)))


def test_survivors_cells_untested_without_survivors():
    x = np.zeros((10, 1, 1))
    x[:2] = 1.0  # two survivors: too few for a test of their mean
    cmp = compare(_hurdle_theory(0.8, 1.0), _sim(x))
    assert not cmp["var_u_given_alive_tested"].item()
    assert cmp["var_u_tested"].item()  # the extinct count alone is still a test
    th = _hurdle_theory(0.8, 1.0).assign(var_u_given_alive=(("layer", "time"), [[np.nan]]))
    cmp = compare(th, _sim(x))  # NaN survivors' prediction: no survivor possible
    assert not cmp["var_u_given_alive_tested"].item()


def test_survivors_derived_from_p_extinct_match_the_chain():
    """Means and p_extinct only: compare derives E[v | alive] = E[v] / (1 - P0) exactly."""
    import snninit as si
    from snninit.validation.celltests import _with_extinct_modes

    th = si.theory.finite_size(si.NetworkConfig(width=100, layers=30, theta=0.9))
    stripped = th.drop_vars([v for v in th.data_vars if v.endswith("_given_alive")])
    derived = _with_extinct_modes(stripped)
    for v in ("var_u", "mean_u", "spikes", "rate"):
        np.testing.assert_allclose(
            derived[f"{v}_given_alive"], th[f"{v}_given_alive"], rtol=1e-9, atol=1e-12
        )
    for name in ("var_u_sd_given_alive", "spikes_sd_given_alive"):
        np.testing.assert_allclose(derived[name], th[name], rtol=1e-6, atol=1e-9)
    # the membranes' extinct mode is the layer below's silence, the counts' their own
    np.testing.assert_allclose(
        derived["mean_u__p_zero"].isel(layer=slice(1, None)),
        th["p_extinct"].isel(layer=slice(None, -1)).values,
    )
    assert float(derived["var_u__p_zero"].isel(layer=0, time=0)) == 0.0


def test_width_one_membranes_extinct_mode_is_the_layer_below():
    """A single neuron has var_u = 0 in every network; mean_u is 0 exactly when the layer
    below is silent (not when var_u is 0). Null test: 40 seeds at alpha = 0.05."""
    import snninit as si

    cfg = si.NetworkConfig(width=1, layers=6, steps=1, theta=0.5)
    th = si.theory.finite_size(cfg)
    seeds, alpha, rejected = 40, 0.05, 0
    for s in range(seeds):
        try:
            assert_agrees(th, si.montecarlo.simulate(cfg, reps=20, seed=s), alpha=alpha)
        except AssertionError:
            rejected += 1
    assert rejected <= stats.binom.ppf(1 - 1e-3, seeds, alpha)


def test_extinction_law_is_chosen_per_cell():
    """A theory error in one cell does not switch the others from the exact binomial law."""
    spikes = np.ones((20, 2, 1))
    spikes[:3, 0] = 0.0  # layer 0: 3 of 20 silent
    sim = xr.Dataset(
        {"spikes": (("rep", "layer", "time"), spikes)},
        coords={"rep": np.arange(20), "layer": [0, 1], "time": [0]},
        attrs={"width": 10},
    )
    th = xr.Dataset(
        {
            "p_extinct": (("layer", "time"), [[0.1], [0.1]]),
            "p_extinct_se": (("layer", "time"), [[0.0], [0.05]]),
        },
        coords={"layer": [0, 1], "time": [0]},
    )
    cmp = compare(th, sim, variables=["p_extinct"])
    k, p = 3, 0.1
    exact = min(1.0, 2 * min(stats.binom.cdf(k, 20, p), stats.binom.sf(k - 1, 20, p)))
    assert cmp["p_extinct_p"].isel(layer=0).item() == pytest.approx(exact)
    se = np.sqrt(0.1 * 0.9 / 20 + 0.05**2)
    normal = 2 * stats.norm.sf(0.1 / se)
    assert cmp["p_extinct_p"].isel(layer=1).item() == pytest.approx(normal)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda c: agreement_summary(None), "cmp must be an xarray.Dataset"),
        (lambda c: worst_cells(None), "cmp must be an xarray.Dataset"),
        (lambda c: worst_cells(c, k=-1), "k must be"),
        (lambda c: worst_cells(c, k="a"), "k must be"),
        (lambda c: assert_agrees(xr.Dataset()), "the result of snninit.validation.compare"),
        (lambda c: agreement_summary(c, negligible=2.0), "negligible"),
    ],
    ids=["summary-None", "worst-None", "worst-k-neg", "worst-k-str", "assert-not-cmp", "negl"],
)
def test_comparison_consumers_refuse_bad_input(call, match):
    from snninit.validation import family_pvalues

    x = np.ones((5, 3, 1)) + np.arange(5)[:, None, None] * 0.01
    cmp = compare(_theory(np.ones((3, 1))), _sim(x))
    with pytest.raises(ValueError, match=match):
        call(cmp)
    with pytest.raises(ValueError, match="cmp must be an xarray"):
        family_pvalues(None)
    with pytest.raises(ValueError, match=r"among the compared ones \['var_u'\]; got 'bogus'"):
        family_pvalues(cmp, variables=["bogus"])


def test_null_summary_refuses_bad_input():
    from snninit.validation.nulltest import format_null_summary, null_summary

    with pytest.raises(ValueError, match="null_rejections"):
        null_summary(None)
    with pytest.raises(ValueError, match="null_summary"):
        format_null_summary(None)


def test_agrees_is_the_verdict_of_assert_agrees():
    cfg = si.NetworkConfig(width=200, layers=5, steps=1)
    theory = si.theory.finite_size(cfg)
    sim = si.montecarlo.simulate(cfg, reps=20, seed=3, method="gram")
    wrong = theory.assign(var_u=theory["var_u"] * 1.5,
                          var_u_given_alive=theory["var_u_given_alive"] * 1.5)
    for th in (theory, wrong):
        try:
            si.validation.assert_agrees(th, sim, variables=["var_u"])
            raised = False
        except AssertionError:
            raised = True
        assert si.validation.agrees(th, sim, variables=["var_u"]) is (not raised)
    assert not si.validation.agrees(wrong, sim, variables=["var_u"])
