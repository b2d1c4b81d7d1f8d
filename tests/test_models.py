"""The neuron model, defined once (snninit.models), against DESIGN.md 1b and its users."""

from __future__ import annotations

import numpy as np
import pytest

from snninit import models
from snninit.models import RESET_CODES, membrane_update, membrane_update_jit, spike

# (reset, reset_decay, the update of DESIGN.md 1b written out by hand)
CASES = {  # fmt: skip
    "subtract": ("subtract", False, lambda u, s, x, b, th: b * u - th * s + x),
    "subtract-decay": ("subtract", True, lambda u, s, x, b, th: b * (u - th * s) + x),
    "zero": ("zero", False, lambda u, s, x, b, th: b * (1 - s) * u + x),
    "zero-decay": ("zero", True, lambda u, s, x, b, th: b * (1 - s) * u + x),
    "none": ("none", False, lambda u, s, x, b, th: b * u + x),
}


@pytest.mark.parametrize("case", CASES)
def test_update_is_design_1b(case):
    reset, decay, by_hand = CASES[case]
    rng = np.random.default_rng(0)
    u, x = rng.normal(size=100), rng.normal(size=100)
    s = (rng.random(100) < 0.5).astype(float)
    for beta, theta in ((0.0, 1.0), (0.5, 0.8), (1.0, 0.0), (0.9, 2.5)):
        got = membrane_update(u, s, x, beta, theta, RESET_CODES[reset], decay)
        np.testing.assert_allclose(got, by_hand(u, s, x, beta, theta), rtol=1e-14, atol=1e-14)
        # the numba twin computes the same bits, scalar by scalar
        jit = [membrane_update_jit(a, b, c, beta, theta, RESET_CODES[reset], decay)
               for a, b, c in zip(u, s, x)]
        np.testing.assert_array_equal(jit, got)


def test_spike_is_strict():
    assert not spike(1.0, 1.0) and spike(np.nextafter(1.0, 2.0), 1.0)
    assert list(spike(np.array([-1.0, 0.0, 0.1]), 0.0)) == [False, False, True]


def test_input_factor():
    assert models.input_factor(0.3, "1") == 1.0
    assert models.input_factor(0.3, "1-beta") == pytest.approx(0.7)
    from snninit import NetworkConfig

    assert NetworkConfig(beta=0.25, input_scale="1-beta").input_factor == 0.75


@pytest.mark.parametrize("case", CASES)
def test_engine_kernel_runs_the_model(case):
    """montecarlo.kernels.lif_layer is membrane_update + spike, step by step, bit for bit."""
    from snninit.montecarlo import kernels

    reset, decay, _ = CASES[case]
    rng = np.random.default_rng(1)
    drive = rng.normal(0.5, 1.0, size=(12, 40))
    u, s = drive.copy(), np.zeros(drive.shape, dtype=np.uint8)
    kernels.lif_layer(u, s, 0.7, 0.8, RESET_CODES[reset], decay)
    u_prev, s_prev = np.zeros(40), np.zeros(40)
    for t in range(drive.shape[0]):
        ref = drive[t] if t == 0 else membrane_update(
            u_prev, s_prev, drive[t], 0.7, 0.8, RESET_CODES[reset], decay
        )
        np.testing.assert_array_equal(u[t], ref)
        np.testing.assert_array_equal(s[t], spike(ref, 0.8))
        u_prev, s_prev = ref, spike(ref, 0.8).astype(float)


@pytest.mark.parametrize("case", CASES)
def test_trainer_runs_the_model(case):
    """The trainer's float32-capable kernel (kept separate for its surrogate and dtype) is
    the same neuron: in float64 it matches membrane_update + spike step by step."""
    from snninit import training

    reset, decay, _ = CASES[case]
    rng = np.random.default_rng(2)
    drive = rng.normal(0.5, 1.0, size=(12, 40))
    u, s = training.lif_forward(drive, beta=0.7, theta=0.8, reset=reset, reset_decay=decay)
    u_prev, s_prev = np.zeros(40), np.zeros(40)
    for t in range(drive.shape[0]):
        ref = membrane_update(u_prev, s_prev, drive[t], 0.7, 0.8, RESET_CODES[reset], decay)
        np.testing.assert_allclose(u[t], ref, rtol=1e-14, atol=1e-14)
        np.testing.assert_array_equal(s[t], spike(ref, 0.8))
        u_prev, s_prev = ref, spike(ref, 0.8).astype(float)


def test_dmft_path_kernel_runs_the_model():
    """The dynamic mean field's path kernel: its membrane moments are those of the model
    run on the same input paths (one group, identity factor: h = z)."""
    from snninit.theory.dmft_paths import _layer_kernel

    rng = np.random.default_rng(3)
    m, T = 64, 6
    z = rng.normal(size=(1, m, T))
    factor_t = np.eye(T)[None]
    drive = np.full((1, T), 0.3)
    inv_scale = np.ones((1, T))
    for reset in ("subtract", "zero", "none"):
        for decay in (False, True):
            raw, corr = np.zeros((1, 4, T)), np.zeros((1, T, T))
            _layer_kernel(z, factor_t, drive, inv_scale, 0.7, 0.8, RESET_CODES[reset], decay,
                          raw, corr, models.LEAKY, 0.0, 0.0, 0.0)
            x = z[0] + drive[0]
            u_prev, s_prev, us = np.zeros(m), np.zeros(m), []
            for t in range(T):
                u_t = membrane_update(u_prev, s_prev, x[:, t], 0.7, 0.8, RESET_CODES[reset],
                                      decay)
                us.append(u_t)
                u_prev, s_prev = u_t, spike(u_t, 0.8).astype(float)
            us = np.array(us)
            np.testing.assert_allclose(raw[0, 0], us.mean(axis=1), rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(raw[0, 1], (us**2).mean(axis=1), rtol=1e-12)
            s = spike(us, 0.8).astype(float)
            np.testing.assert_allclose(corr[0], s @ s.T / m, atol=1e-14)
