"""Self-sustained activity of a recurrent layer: the kicked-layer theory against simulation.

Every comparison is a t-test per cell with Bonferroni over the family, at
family false-failure rate 1e-3; the transition test uses fixed seeds, with
margins of 10 % of the critical gain (the simulated transition at width 2000
is a few percent wide, docs/neuron_models.md).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

import snninit as si

ALPHA = 1e-3


def _t_cells(th, sim, variables):
    zs, checks = [], 0
    for v in variables:
        x = sim[v]
        sd = x.std("rep", ddof=1)
        se = sd / np.sqrt(x.sizes["rep"])
        z = ((x.mean("rep") - th[v]) / np.sqrt(se**2 + th[f"{v}_se"] ** 2)).where(sd > 0)
        zs.append(z)
        checks += int(np.isfinite(z).sum())
    return zs, checks


@pytest.mark.parametrize("gain", [3.0, 5.0, 10.0])
def test_theory_agrees_with_simulation(gain):
    """Below the transition (activity dies, slowly at 5) and above it (sustained)."""
    th = si.theory.sustained_activity(gain, steps=30, paths=2**14)
    sim = si.montecarlo.simulate_sustained_activity(gain, width=2000, steps=30, reps=20, seed=1)
    zs, checks = _t_cells(th, sim, ("rate", "var_u"))
    bound = stats.t.isf(ALPHA / (2 * checks), 19)
    assert checks >= 30
    for z in zs:
        assert float(np.abs(z).max()) <= bound
    if gain == 10.0:
        assert bool(sim["alive"].all()) and float(th["rate"][-1]) > 0.2
    else:
        assert not bool(sim["alive"].any()) and float(th["rate"][-1]) < 1e-6


def test_without_recurrence_the_kicked_neuron_is_exact():
    """gain 0: each neuron is alone, its spike train a function of its kick x.

    The rate at t is the probability (over x ~ N(0, kick^2)) that the
    deterministic neuron fires at t: a one-dimensional integral, on a fine
    grid of quantiles here, against the sampled theory within its SE.
    """
    kick, beta, theta, steps = 3.0, 0.9, 1.0, 12
    th = si.theory.sustained_activity(0.0, beta=beta, theta=theta, steps=steps, kick=kick,
                                      paths=2**14)
    q = (np.arange(2_000_000) + 0.5) / 2_000_000
    u = kick * special.ndtri(q)
    s = np.zeros_like(u)
    exact = []
    for t in range(steps):
        if t > 0:
            u = beta * u - theta * s
        s = (u >= theta).astype(float)
        exact.append(s.mean())
    se = th["rate_se"].values
    tested = se > 0
    z = (th["rate"].values[tested] - np.array(exact)[tested]) / se[tested]
    assert tested.sum() >= steps // 2
    assert np.all(np.abs(z) <= stats.t.isf(ALPHA / (2 * tested.sum()), 7))
    assert th["rate"].values[0] == pytest.approx(0.5 * math.erfc(theta / (kick * 2**0.5)))


def test_the_transition_is_where_predicted():
    cg = si.theory.critical_gain(steps=100)
    assert 0.0 < cg.error < 0.05 * cg.gain
    assert cg.bracket[0] < cg.gain < cg.bracket[1]
    assert set(cg.variants) == {"steps x2", "paths / 4", "seed + 1"}
    below = si.montecarlo.simulate_sustained_activity(0.9 * cg.gain, width=2000, steps=100,
                                                      reps=10, seed=2)
    above = si.montecarlo.simulate_sustained_activity(1.1 * cg.gain, width=2000, steps=100,
                                                      reps=10, seed=2)
    assert not bool(below["alive"].any())
    assert bool(above["alive"].all())
    # a larger leak integrates longer: less recurrent gain is needed
    assert si.theory.critical_gain(beta=0.9, steps=100).gain < cg.gain


def test_recurrent_gain_of_a_network():
    cfg = si.NetworkConfig(width=400, layers=3, neuron="recurrent", recurrent_fraction=0.5)
    gain = si.theory.recurrent_gain(cfg)
    np.testing.assert_allclose(gain, 0.5 / float(si.theory.survival(1.0)))
    assert not si.theory.recurrent_gain(si.NetworkConfig(width=400, layers=3)).any()


def test_simulation_is_reproducible_and_checks_its_input():
    a = si.montecarlo.simulate_sustained_activity(7.0, width=300, steps=20, reps=3, seed=5)
    b = si.montecarlo.simulate_sustained_activity(7.0, width=300, steps=20, reps=3, seed=5)
    np.testing.assert_array_equal(a["rate"].values, b["rate"].values)
    with pytest.raises(ValueError, match="gain must be"):
        si.theory.sustained_activity(-1.0)
    with pytest.raises(ValueError, match="steps must be"):
        si.theory.sustained_activity(1.0, steps=1)
    with pytest.raises(ValueError, match="kick must be"):
        si.montecarlo.simulate_sustained_activity(1.0, kick=0.0)
    with pytest.raises(ValueError, match="GiB for V"):
        si.montecarlo.simulate_sustained_activity(1.0, width=30_000, steps=2)
    with pytest.raises(ValueError, match="no gain up to max_gain"):
        si.theory.critical_gain(max_gain=2.0, steps=20)
