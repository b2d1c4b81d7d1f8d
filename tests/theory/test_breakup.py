"""Break-up of the time-homogeneous state (DESIGN 3e): theory and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

import snninit as si
from snninit.theory import breakup, dmft
from snninit.theory.meanfield import stability_slope

UNSTABLE = dict(steps=20, theta=1.0, beta=0.5, init="micheli", reset="subtract")


@pytest.fixture(scope="module")
def unstable_analysis():
    cfg = si.NetworkConfig(width=250, layers=26, **UNSTABLE)
    return si.theory.breakup_analysis(cfg, paths=2**13, seed=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(paths=10), "paths"),
        (dict(paths=2500.5), "paths"),
        (dict(seed=-1), "seed"),
        (dict(tolerance=0.0), "tolerance"),
        (dict(tolerance=float("nan")), "tolerance"),
    ],
)
def test_bad_input_is_one_line_value_error(kwargs, match):
    cfg = si.NetworkConfig(width=250, layers=5, **UNSTABLE)
    with pytest.raises(ValueError, match=match):
        si.theory.breakup_layer(cfg, **kwargs)


def test_cfg_must_be_a_config():
    with pytest.raises(ValueError, match="NetworkConfig"):
        si.theory.breakup_layer({"width": 250})


@pytest.mark.parametrize("mean_gain", [0.0, 0.8])
def test_score_jacobian_matches_closed_form_and_finite_differences(mean_gain):
    # T = 2: with zero-mean weights the t = 0 entry is the one-step slope chi(theta) exactly
    # (C(0,0) = Q(theta) under Micheli); every entry against central differences of the map
    # with common random numbers, including the mean path n mu C(t, t) of nonzero-mean weights.
    cfg = si.NetworkConfig(width=1000, layers=2, steps=2, theta=1.0, beta=0.5, init="micheli")
    _, s2 = si.theory.layer_weight_moments(cfg)
    gain = cfg.width * s2[0]
    iu = np.triu_indices(2)
    z = dmft._path_normals(2, 2**18, 1, 3)[0]

    def layer_map(c_mat, with_jacobian=False):
        sigma = gain * c_mat
        x = z @ np.linalg.cholesky(sigma).T
        drive = mean_gain * np.diagonal(c_mat)
        return breakup._layer_statistics(
            x, drive, cfg, iu, sigma if with_jacobian else None, gain, mean_gain
        )

    c_mat = breakup._symmetric(layer_map(dmft._encoding_layer(cfg)[-1])[0], iu, 2)
    _, _, jac = layer_map(c_mat, with_jacobian=True)
    if mean_gain == 0.0:
        assert jac[0, 0] == pytest.approx(float(stability_slope(1.0, "micheli")), abs=0.005)
    assert jac[0, 1] == 0.0 and jac[0, 2] == 0.0  # causal: t = 0 ignores later times
    fd = np.zeros_like(jac)
    eps = 2e-3
    for k in range(iu[0].size):
        e = np.zeros((2, 2))
        e[iu[0][k], iu[1][k]] = e[iu[1][k], iu[0][k]] = eps
        fd[:, k] = (layer_map(c_mat + e)[0] - layer_map(c_mat - e)[0]) / (2 * eps)
    np.testing.assert_allclose(jac, fd, atol=0.03)


def test_unstable_regime_grows_and_moves_deeper_with_width(unstable_analysis):
    ds = unstable_analysis
    lam = ds["lam"].sel(layer=slice(2, None)).values
    lam = lam[np.isfinite(lam)]
    assert lam[0] < 1.0 < lam[-1]  # contracting near the input, amplifying deep down
    assert ds["lam"].sel(layer=20) > 1.1
    pred = [breakup.crossing_layer(ds, w) for w in (250, 1000, 4000, 16000)]
    assert all(np.isfinite(pred))
    assert np.all(np.diff(pred) > 0)
    # the attr is the crossing for the analysed width, and breakup_layer agrees with it
    assert ds.attrs["breakup_layer"] == pytest.approx(pred[0])
    cfg = si.NetworkConfig(width=250, layers=26, **UNSTABLE)
    assert si.theory.breakup_layer(cfg, paths=2**13) == pytest.approx(pred[0])


@pytest.mark.parametrize(
    "overrides",
    [
        dict(beta=0.9),  # stable time-homogeneous state
        dict(steps=1),  # no time-inhomogeneous perturbation
        dict(init="kaiming"),  # collapse above the saddle-node
    ],
)
def test_stable_or_collapsing_networks_never_break_up(overrides):
    cfg = si.NetworkConfig(width=250, layers=20, **{**UNSTABLE, **overrides})
    assert si.theory.breakup_layer(cfg, paths=2**12) == math.inf


def test_stable_leak_has_lambda_below_one():
    cfg = si.NetworkConfig(width=250, layers=12, **{**UNSTABLE, "beta": 0.9})
    ds = si.theory.breakup_analysis(cfg, paths=2**12)
    assert float(ds["lam"].sel(layer=slice(3, None)).max()) < 1.0
    assert ds.attrs["breakup_layer"] == math.inf
    assert ds.attrs["breakup_outcome"] == "stable"


def test_outcome_tells_stable_collapse_and_deeper_apart(unstable_analysis):
    """inf has three causes; the outcome names which (and a finite layer is a break-up)."""
    layer, outcome = breakup.breakup_outcome(unstable_analysis, 250)
    assert outcome == "breaks up" and layer == breakup.crossing_layer(unstable_analysis, 250)
    # the same unstable analysis cut above the break-up: still growing, so it lies deeper
    shallow = unstable_analysis.sel(layer=slice(0, int(layer) - 1))
    assert float(shallow["lam"].isel(layer=-1)) > 1.0
    assert breakup.breakup_outcome(shallow, 250) == (math.inf, "deeper")
    cfg = si.NetworkConfig(width=250, layers=20, **{**UNSTABLE, "init": "kaiming"})
    ds = si.theory.breakup_analysis(cfg, paths=2**12)
    assert breakup.breakup_outcome(ds, 250) == (math.inf, "collapses")


def test_small_width_simulation_breaks_up_where_predicted(unstable_analysis):
    pred = breakup.crossing_layer(unstable_analysis, 250)
    cfg = si.NetworkConfig(width=250, layers=20, **UNSTABLE)
    sim = si.montecarlo.simulate(cfg, reps=40, seed=11, method="gram")
    observed = si.theory.unstable_layer(sim)
    assert observed is not None and abs(observed - pred) <= 3


@pytest.mark.validation
def test_breakup_layer_matches_simulations_widths_250_to_4000():
    cfg = si.NetworkConfig(width=4000, layers=26, **UNSTABLE)
    ds = si.theory.breakup_analysis(cfg, paths=2**15, seed=0)
    observed = []
    for width in (250, 1000, 4000):
        pred = breakup.crossing_layer(ds, width)
        sim_cfg = si.NetworkConfig(width=width, layers=30, **UNSTABLE)
        hits = [
            si.theory.unstable_layer(
                si.montecarlo.simulate(sim_cfg, reps=40, seed=100 + g, method="gram")
            )
            for g in range(2)
        ]
        assert None not in hits, (width, hits)
        assert all(abs(h - pred) <= 3 for h in hits), (width, pred, hits)
        observed.append(np.mean(hits))
    assert np.all(np.diff(observed) > 0)
