"""The neuron models beyond the plain LIF (issue 17): one definition, every user runs it.

Each model's step is checked against its equations written out by hand; every
kernel (the layer loop, the recurrent layer, the engine, the dynamic mean
field's path kernel and its exact encoding layer) against the step; the
engine against the dynamic mean field with Student-t cell tests at a stated
family false-failure rate (Bonferroni), as for the leaky neuron
(tests/theory/test_dmft_agreement.py).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import stats

import snninit as si
from snninit import models as M

RESET = M.RESET_CODES


def by_hand(model, u, aux, s, x, beta, theta, alpha, rho, b):
    """The equations of issue 17 (subtract reset), written out."""
    if model == "synaptic":
        i = alpha * aux + x
        return beta * u + i - theta * s, i, theta
    if model == "adaptive":
        a = rho * aux + s
        return beta * u + x - theta * s, a, theta + b * a
    return beta * u + x - theta * s, 0.0, theta


@pytest.mark.parametrize("model", ["leaky", "synaptic", "adaptive", "recurrent"])
def test_step_is_the_model(model):
    rng = np.random.default_rng(0)
    u, aux, x = rng.normal(size=(3, 200))
    s = (rng.random(200) < 0.4).astype(float)
    code = M.NEURON_CODES[model]
    for beta, theta, alpha, rho, b in ((0.5, 1.0, 0.3, 0.9, 0.5), (0.9, 0.2, 1.0, 0.0, 2.0)):
        got = M.neuron_step(code, u, aux, s, x, beta, theta, RESET["subtract"], False,
                            alpha, rho, b)
        want = by_hand(model, u, aux, s, x, beta, theta, alpha, rho, b)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-14, atol=1e-14)
        # the numba twin gives the same bits, scalar by scalar
        for k in range(0, 200, 17):
            jit = M.neuron_step_jit(code, u[k], aux[k], s[k], x[k], beta, theta,
                                    RESET["subtract"], False, alpha, rho, b)
            ref = [np.broadcast_to(g, u.shape)[k] for g in got]
            assert list(jit) == ref


def _loop(code, drive, beta, theta, reset, decay, params, v=None):
    """The layer by the step, in numpy (v: recurrent weights)."""
    T, n = drive.shape
    u_prev, aux, s_prev = np.zeros(n), np.zeros(n), np.zeros(n)
    us, ss = np.empty((T, n)), np.empty((T, n))
    for t in range(T):
        x = drive[t] if v is None else drive[t] + v @ s_prev
        u_t, aux, thr = M.neuron_step(code, u_prev, aux, s_prev, x, beta, theta, reset, decay,
                                      *params)
        us[t], ss[t] = u_t, M.spike(u_t, thr)
        u_prev, s_prev = u_t, ss[t]
    return us, ss


@pytest.mark.parametrize("model", ["leaky", "synaptic", "adaptive"])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_layer_kernel_runs_the_step(model, reset):
    rng = np.random.default_rng(1)
    drive = rng.normal(0.4, 1.0, size=(15, 60))
    params = (0.6, 0.8, 0.7)
    code = M.NEURON_CODES[model]
    u, s = drive.copy(), np.zeros(drive.shape, dtype=np.uint8)
    M.neuron_layer(u, s, code, 0.7, 0.9, RESET[reset], reset == "subtract", *params)
    us, ss = _loop(code, drive, 0.7, 0.9, RESET[reset], reset == "subtract", params)
    np.testing.assert_allclose(u, us, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(s, ss)
    assert 0 < s.sum() < s.size


def test_recurrent_layer_runs_the_step():
    rng = np.random.default_rng(2)
    drive = rng.normal(0.2, 1.0, size=(15, 60))
    v = rng.normal(0.0, 0.3, size=(60, 60))
    for reset in ("subtract", "zero"):
        u, s = drive.copy(), np.zeros(drive.shape, dtype=np.uint8)
        M.recurrent_layer(u, s, np.ascontiguousarray(v.T), 0.6, 0.8, RESET[reset], False)
        us, ss = _loop(M.LEAKY, drive, 0.6, 0.8, RESET[reset], False, (0, 0, 0), v=v)
        np.testing.assert_allclose(u, us, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(s, ss)


def test_recurrent_layer_draws_only_the_rows_it_uses():
    """Rows of V of neurons that never spike before the last step are never drawn or read.

    The lazily drawn layer leaves them NaN; the plain layer run on that matrix
    gives the same bits (a NaN row read would poison the membranes).
    """
    rng = np.random.default_rng(3)
    n, T = 80, 12
    drive = rng.normal(0.0, 1.0, (T, n))
    drive[:, : n // 2] = -5.0  # half the neurons never fire
    v_t = np.full((n, n), np.nan)
    u1, s1 = drive.copy(), np.zeros((T, n), dtype=np.uint8)
    M.recurrent_layer_drawn(u1, s1, np.random.default_rng(9), 0.0, 0.3, False, v_t, 0.6, 0.8,
                            RESET["subtract"], False)
    unused = np.isnan(v_t).all(axis=1)
    assert unused[: n // 2].all() and not unused.all()
    assert not np.isnan(v_t[~unused]).any()
    u2, s2 = drive.copy(), np.zeros((T, n), dtype=np.uint8)
    M.recurrent_layer(u2, s2, v_t, 0.6, 0.8, RESET["subtract"], False)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(u1, u2)
    assert np.isfinite(u1).all()


def test_run_network_recurrent():
    rng = np.random.default_rng(3)
    cfg = si.NetworkConfig(width=30, layers=2, steps=6, neuron="recurrent")
    w = [rng.normal(0, 0.4, (30, 30)) for _ in range(2)]
    v = [rng.normal(0, 0.3, (30, 30)) for _ in range(2)]
    x = rng.normal(size=30)
    run = si.montecarlo.run_network(w, x, cfg, recurrent_weights=v)
    u0, s0 = _loop(M.LEAKY, np.tile(x, (6, 1)), 0.5, 1.0, 0, False, (0, 0, 0))
    np.testing.assert_array_equal(run.spikes[0][0], s0)
    prev = s0
    for layer in (1, 2):
        ul, sl = _loop(M.LEAKY, prev @ w[layer - 1].T, 0.5, 1.0, 0, False, (0, 0, 0),
                       v=v[layer - 1])
        np.testing.assert_allclose(run.membranes[layer][0], ul, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(run.spikes[layer][0], sl)
        prev = sl
    with pytest.raises(ValueError, match="recurrent_weights must be given exactly"):
        si.montecarlo.run_network(w, x, cfg)


def test_config_fields_and_json():
    cfg = si.NetworkConfig(neuron="adaptive", rho=0.8)
    assert (cfg.rho, cfg.adaptation, cfg.alpha) == (0.8, 0.5, None)
    assert si.NetworkConfig.from_json(cfg.to_json()) == cfg
    # a leaky network's JSON does not mention the models (saved results keep their keys)
    assert "neuron" not in si.NetworkConfig().to_json()
    with pytest.raises(ValueError, match="alpha is a parameter of neuron='synaptic'"):
        si.NetworkConfig(alpha=0.3)
    with pytest.raises(ValueError, match=r"recurrent_fraction must be .* \[0.0, 0.99\]"):
        si.NetworkConfig(neuron="recurrent", recurrent_fraction=1.0)
    with pytest.raises(ValueError, match="init='diffusion' supports neuron in"):
        si.NetworkConfig(neuron="synaptic", init="diffusion", steps=3, layers=2, width=50)


def test_recurrent_split_of_the_rule():
    cfg = si.NetworkConfig(neuron="recurrent", recurrent_fraction=0.25, layers=3, width=100)
    plain = si.theory.layer_weight_moments(cfg.replace(neuron="leaky", recurrent_fraction=None))
    ff = si.theory.layer_weight_moments(cfg)
    rec = si.theory.recurrent_weight_moments(cfg)
    np.testing.assert_allclose(ff[1] + rec[1], plain[1])
    np.testing.assert_allclose(rec[1], 0.25 * plain[1])


def test_gram_refused_for_recurrent():
    cfg = si.NetworkConfig(neuron="recurrent", width=20, layers=2, steps=3)
    with pytest.raises(ValueError, match="method='gram' is not exact for neuron='recurrent'"):
        si.montecarlo.simulate(cfg, reps=2, method="gram")


@pytest.mark.parametrize("model", ["synaptic", "adaptive", "recurrent"])
def test_simulate_is_bit_identical_across_threads(model):
    cfg = si.NetworkConfig(width=200, layers=3, steps=6, neuron=model)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = si.montecarlo.simulate(cfg, reps=4, seed=5)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = si.montecarlo.simulate(cfg, reps=4, seed=5)
    finally:
        numba.set_num_threads(before)
    for v in ("var_u", "rate", "mean_u"):
        np.testing.assert_array_equal(one[v].values, two[v].values)


def _t_bound(false_failure_rate: float, checks: int, dof: int) -> float:
    return float(stats.t.isf(false_failure_rate / (2 * checks), dof))


def _z(th, sim, v):
    values = sim[v]
    sd = values.std("rep", ddof=1)
    se = sd / np.sqrt(values.sizes["rep"])
    z = (values.mean("rep") - th[v]) / np.sqrt(se**2 + th[f"{v}_se"] ** 2)
    return z.where((sd > 0) & np.isfinite(z))


MODELS = {  # fmt: skip
    "synaptic": (dict(neuron="synaptic", alpha=0.6), "gram"),
    "adaptive": (dict(neuron="adaptive", rho=0.8, adaptation=0.3), "gram"),
    "synaptic-zero": (dict(neuron="synaptic", alpha=0.3, reset="zero"), "gram"),
    "recurrent": (dict(neuron="recurrent", recurrent_fraction=0.5), "dense"),
}


@pytest.mark.parametrize("case", MODELS)
def test_engine_agrees_with_dynamic_mean_field(case):
    """Every cell (layer 0 exact, the rest sampled), family false-failure rate 1e-3."""
    extra, method = MODELS[case]
    cfg = si.NetworkConfig(width=2000, layers=3, steps=8, beta=0.7, **extra)
    sim = si.montecarlo.simulate(cfg, reps=20, seed=4, method=method)
    th = si.theory.dynamic_mean_field(cfg, paths=2**14, seed=0)
    variables = ("var_u", "mean_u", "rate")
    zs = {v: _z(th, sim, v) for v in variables}
    checks = sum(int(np.isfinite(z).sum()) for z in zs.values())
    bound = _t_bound(1e-3, checks, 19)
    assert checks > 0.8 * len(variables) * 4 * 8
    for v, z in zs.items():
        assert float(np.abs(z).max()) <= bound, (case, v, float(np.abs(z).max()), bound)


@pytest.mark.parametrize("case", ["synaptic", "adaptive", "recurrent"])
def test_dmft_rule_keeps_the_time_averaged_rate(case):
    """Every hidden layer fires, averaged over time, as the encoding layer does.

    t-test per layer of the simulated time-averaged rate (20 networks) against
    the target, the error of the rule's own path sampling added (the dynamic
    mean field's rate SE at the rule's 8192 paths, averaged over time: an
    upper bound for the SE of a time average); family false-failure rate 1e-3.
    """
    extra = MODELS[case][0]
    cfg = si.NetworkConfig(width=1000, layers=4, steps=8, beta=0.7, init="dmft", **extra)
    sim = si.montecarlo.simulate(cfg, reps=20, seed=11, method="dense")
    th = si.theory.dynamic_mean_field(cfg, paths=8192, seed=3)
    target = float(th["rate"].sel(layer=0).mean("time"))  # exact: the encoding layer
    rule_se = th["rate_se"].sel(layer=slice(1, None)).mean("time")
    per_net = sim["rate"].sel(layer=slice(1, None)).mean("time")
    se = per_net.std("rep", ddof=1) / np.sqrt(per_net.sizes["rep"])
    z = (per_net.mean("rep") - target) / np.sqrt(se**2 + rule_se**2)
    bound = _t_bound(1e-3, cfg.layers, 19)
    assert float(np.abs(z).max()) <= bound, (case, z.values, bound)
    if case == "recurrent":  # the rule's variance, split (1 - f) / f
        total = si.theory.dmft_layer_variances(cfg)
        ff = si.theory.layer_weight_moments(cfg)[1]
        rec = si.theory.recurrent_weight_moments(cfg)[1]
        np.testing.assert_allclose(ff + rec, total)
        np.testing.assert_allclose(rec, cfg.recurrent_fraction * total)
