"""The engine against a small, obvious pure-numpy implementation (item 5a)."""

from __future__ import annotations

import numpy as np
import pytest

import snninit as si
from snninit.montecarlo.engine import rep_generator

from .reference import dense_network_from_stream, lif_stack

VARIANTS = [
    dict(reset="subtract"),
    dict(reset="subtract", reset_decay=True),
    dict(reset="zero"),
    dict(reset="none"),
    dict(reset="subtract", input_scale="1-beta"),
]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())))
@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_run_network_equals_numpy_reference(variant, beta):
    rng = np.random.default_rng(11)
    sizes = [30, 25, 40, 20]
    theta = 0.7
    weights = [rng.normal(0.0, 1.5 / np.sqrt(a), size=(b, a)) for a, b in zip(sizes, sizes[1:])]
    x = rng.standard_normal((3, sizes[0]))
    cfg = si.NetworkConfig(width=30, layers=3, steps=12, theta=theta, beta=beta, **variant)
    run = si.montecarlo.run_network(weights, x, cfg)
    c = 1.0 - beta if cfg.input_scale == "1-beta" else 1.0
    assert run["var_u"].dims == ("rep", "layer", "time")
    total_spikes = 0
    for b in range(x.shape[0]):
        u_ref, s_ref = lif_stack(
            weights,
            x[b],
            steps=12,
            theta=theta,
            beta=beta,
            reset=cfg.reset,
            reset_decay=cfg.reset_decay,
            c=c,
        )
        for layer in range(len(sizes)):
            np.testing.assert_array_equal(run.spikes[layer][b], s_ref[layer])
            # same operations in the same order: bit-identical membranes
            np.testing.assert_array_equal(run.membranes[layer][b], u_ref[layer])
            np.testing.assert_allclose(
                run["var_u"].values[b, layer], u_ref[layer].var(axis=1), rtol=1e-12, atol=1e-15
            )
            np.testing.assert_allclose(
                run["mean_u"].values[b, layer], u_ref[layer].mean(axis=1), rtol=1e-12, atol=1e-14
            )
            np.testing.assert_array_equal(run["spikes"].values[b, layer], s_ref[layer].sum(axis=1))
            total_spikes += s_ref[layer][:, :].sum()
    assert total_spikes > 0  # the comparison exercised spiking and resets


@pytest.mark.parametrize("weights_kind", ["normal", "uniform"])
@pytest.mark.parametrize("steps", [1, 6])
def test_dense_simulation_equals_reference_on_its_own_weights(weights_kind, steps):
    """simulate(dense) draws inputs, then the columns of W of spiking neurons, from the
    rep's stream."""
    cfg = si.NetworkConfig(
        width=40, layers=4, steps=steps, theta=0.8, beta=0.9, weights=weights_kind
    )
    seed, reps = 5, 3
    ds = si.montecarlo.simulate(cfg, reps=reps, seed=seed, method="dense")
    mean, var = si.theory.layer_weight_moments(cfg)
    for r in range(reps):
        gen = rep_generator(seed, r)
        x, weights = dense_network_from_stream(gen, cfg, mean, var)
        u_ref, s_ref = lif_stack(weights, x, steps=steps, theta=cfg.theta, beta=cfg.beta)
        for layer in range(cfg.layers + 1):
            np.testing.assert_array_equal(ds["spikes"].values[r, layer], s_ref[layer].sum(axis=1))
            np.testing.assert_allclose(
                ds["var_u"].values[r, layer], u_ref[layer].var(axis=1), rtol=1e-12, atol=1e-15
            )
        # and run_network on those weights gives the same statistics
        run = si.montecarlo.run_network(weights, x, cfg)
        for name in ("var_u", "mean_u", "spikes", "skew", "kurt"):
            np.testing.assert_array_equal(run[name].values[0], ds[name].values[r])


def test_run_network_accepts_one_input_vector_and_checks_shapes():
    cfg = si.NetworkConfig(width=4, layers=1, steps=2, theta=0.1)
    w = [np.ones((3, 4))]
    run = si.montecarlo.run_network(w, np.ones(4), cfg)
    assert run.membranes[1].shape == (1, 2, 3)
    assert list(run.stats["neurons"].values) == [4, 3]
    with pytest.raises(ValueError, match=r"weights\[0\] must have shape \(n_out, 5\)"):
        si.montecarlo.run_network(w, np.ones(5), cfg)
    with pytest.raises(ValueError, match="inputs must be finite"):
        si.montecarlo.run_network(w, [np.nan, 0, 0, 0], cfg)
    with pytest.raises(ValueError, match=r"weights\[0\] must be finite"):
        si.montecarlo.run_network([np.full((3, 4), np.inf)], np.ones(4), cfg)
    with pytest.raises(ValueError, match="inputs must be"):
        si.montecarlo.run_network(w, np.ones((2, 2, 2, 4)), cfg)
    with pytest.raises(ValueError, match="inputs has 3 time steps"):
        si.montecarlo.run_network(w, np.ones((2, 3, 4)), cfg)
    # time-varying inputs (batch, steps, n_0): row t drives step t
    varying = si.montecarlo.run_network(w, np.stack([np.ones((2, 4)), np.zeros((2, 4))], 1), cfg)
    # beta 0.5, subtract reset 0.1
    np.testing.assert_array_equal(varying.membranes[0][0], [[1.0] * 4, [0.5 * 1.0 - 0.1] * 4])
