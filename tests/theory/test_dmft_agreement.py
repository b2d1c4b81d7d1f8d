"""Dynamic mean field against exact simulation (gram and dense samplers).

The DMFT is the ``n -> infinity`` limit; a finite network deviates from it by
O(1/n) in its mean (tested to shrink with n) and by its own fluctuations
(the simulation's standard error). Cell tests use Student's t with
``reps - 1`` degrees of freedom on ``(sim_mean - dmft) / sqrt(sim_se^2 +
dmft_se^2)`` and a Bonferroni bound for the stated family false-failure rate.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import snninit as si

T = si.theory


def _t_bound(false_failure_rate: float, checks: int, dof: int) -> float:
    return float(stats.t.isf(false_failure_rate / (2 * checks), dof))


def _z_cells(th, sim, v, sel):
    values = sim[v].sel(**sel)
    mean = values.mean("rep")
    sd = values.std("rep", ddof=1)
    se = sd / np.sqrt(values.sizes["rep"])
    z = (mean - th[v].sel(**sel)) / np.sqrt(se**2 + th[f"{v}_se"].sel(**sel) ** 2)
    # a cell where every network gave the same value (e.g. all silent) has no
    # sampling spread to test against; it is reported by the caller
    testable = (sd > 0) & np.isfinite(z)
    return z.where(testable), int(testable.sum()), int((~testable).sum())


VARIANTS = [
    dict(reset="subtract"),
    dict(reset="subtract", reset_decay=True),
    dict(reset="zero"),
    dict(reset="none", input_scale="1-beta"),
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_small_network_agrees_cell_by_cell(variant):
    cfg = si.NetworkConfig(width=2000, layers=3, steps=10, beta=0.7, **variant)
    sim = si.montecarlo.simulate(cfg, reps=20, seed=4, method="gram")
    th = T.dynamic_mean_field(cfg, paths=2**14, seed=0)
    sel = dict(layer=slice(0, None))
    variables = ("var_u", "mean_u", "rate", "skew")
    checks = sum(_z_cells(th, sim, v, sel)[1] for v in variables)
    # family false-failure rate 1e-3
    bound = _t_bound(1e-3, checks, 19)
    for v in variables:
        z, tested, _ = _z_cells(th, sim, v, sel)
        assert tested > 0
        assert float(np.abs(z).max()) <= bound, (v, float(np.abs(z).max()), bound)


# ---------------------------------------------------------------- fig4 protocol

FIG4 = dict(width=1000, layers=100, steps=20, theta=1.0)


@pytest.mark.validation
@pytest.mark.parametrize("method", ["gram", "dense"])
@pytest.mark.parametrize("beta, init", [(b, i) for b in (0.5, 0.9) for i in ("micheli", "kaiming")])
def test_fig4_protocol_agreement(beta, init, method):
    cfg = si.NetworkConfig(**FIG4, beta=beta, init=init)
    reps = 10
    sim = si.montecarlo.simulate(cfg, reps=reps, seed=21, method=method)
    th = T.dynamic_mean_field(cfg, paths=2**17, seed=0)
    stop = T.unstable_layer(sim)
    last = cfg.layers if stop is None else stop - 1
    cells = dict(layer=slice(1, last))
    variables = ("var_u", "rate", "mean_u")
    checks = sum(_z_cells(th, sim, v, cells)[1] for v in variables)
    bound = _t_bound(1e-3, checks, reps - 1)  # family false-failure rate 1e-3
    for v in variables:
        z, tested, _ = _z_cells(th, sim, v, cells)
        assert tested > 0, v
        assert float(np.abs(z).max()) <= bound, (v, float(np.abs(z).max()), bound)
    # cells where every network was silent (Kaiming's dying layers) cannot be
    # z-tested; there the DMFT must expect less than one spike in the layer
    # (10 silent networks at an expected count >= 1 would happen w.p. < e^-10)
    rate = sim["rate"].sel(**cells)
    silent = (rate.max("rep") == 0).values
    expected = (cfg.width * th["rate"].sel(**cells)).values
    assert np.all(expected[silent] < 1.0), float(expected[silent].max())
    if stop is not None:
        # beyond the unstable layer only time-averaged quantities are predicted
        deep = dict(layer=slice(stop, None))
        for v in ("var_u", "rate"):
            per_rep = sim[v].sel(**deep).mean("time")
            se = per_rep.std("rep", ddof=1) / np.sqrt(reps)
            pred = th[v].sel(**deep).mean("time")
            pred_se = th[f"{v}_se"].sel(**deep).mean("time")  # bound on the SE of a mean
            z = (per_rep.mean("rep") - pred) / np.sqrt(se**2 + pred_se**2)
            z = z.where(se > 0)
            deep_bound = _t_bound(1e-3, int(z.notnull().sum()) * 2, reps - 1)
            assert float(np.abs(z).max()) <= deep_bound, (v, float(np.abs(z).max()))


@pytest.mark.validation
def test_unstable_regime_is_detected_at_beta_half_micheli():
    cfg = si.NetworkConfig(**FIG4, beta=0.5, init="micheli")
    sim = si.montecarlo.simulate(cfg, reps=10, seed=2, method="gram")
    th = T.dynamic_mean_field(cfg, paths=2**15, seed=0)
    stop_sim, stop_th = T.unstable_layer(sim), T.unstable_layer(th)
    assert stop_sim is not None and stop_th is not None
    assert abs(stop_sim - stop_th) <= 10  # same onset depth to within 10 layers
    assert T.unstable_layer(si.montecarlo.simulate(cfg.replace(beta=0.9), reps=10)) is None


@pytest.mark.validation
def test_residual_shrinks_with_width():
    # a network's residual against the n -> infinity theory: the rms over cells
    # of its relative deviation; fluctuations make it ~ 1/sqrt(n), bias ~ 1/n
    cfg = si.NetworkConfig(width=1000, layers=20, steps=20, beta=0.9, init="micheli")
    th = T.dynamic_mean_field(cfg, paths=2**17, seed=0)
    cells = dict(layer=slice(1, None), time=slice(1, None))
    reps = 20
    for v in ("var_u", "rate"):
        means, ses = [], []
        for n in (250, 1000, 4000):
            sim = si.montecarlo.simulate(cfg.replace(width=n), reps=reps, seed=5, method="gram")
            rel = ((sim[v] - th[v]) / th[v]).sel(**cells)
            per_network = np.sqrt((rel**2).mean(("layer", "time")))
            means.append(float(per_network.mean()))
            ses.append(float(per_network.std(ddof=1)) / np.sqrt(reps))
        # one-sided, 3 sigma per comparison (false failure ~1.3e-3 each)
        for i in range(2):
            assert means[i] - means[i + 1] > 3.0 * np.hypot(ses[i], ses[i + 1]), (v, means, ses)


@pytest.mark.validation
@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_dmft_rule_preserves_activity_over_100_layers(beta):
    cfg = si.NetworkConfig(**FIG4, beta=beta, init="dmft")
    reps = 10
    sim = si.montecarlo.simulate(cfg, reps=reps, seed=3, method="gram")
    rate = sim["rate"].mean("time")  # time-averaged rate per (rep, layer)
    target = rate.sel(layer=0)
    deep = rate.sel(layer=slice(50, None))
    diff = (deep - target).mean("rep")
    se = (deep - target).std("rep", ddof=1) / np.sqrt(reps)
    bound = _t_bound(1e-3, deep.sizes["layer"], reps - 1)
    assert float(np.abs(diff / se).max()) <= bound
    assert T.unstable_layer(sim) is None
    if beta == 0.5:
        # contrast: Micheli's rule loses most of the activity at this leak
        mich = si.montecarlo.simulate(cfg.replace(init="micheli"), reps=reps, seed=3)
        deep_m = mich["rate"].mean("time").sel(layer=slice(50, None)).mean()
        assert float(deep_m) < 0.5 * float(target.mean())
