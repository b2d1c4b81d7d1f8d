"""Adam and cosine annealing against steps computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snninit.training.optim import Adam, cosine_lr


def test_adam_two_steps_by_hand():
    p = np.array([1.0, -2.0])
    opt = Adam([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    g1 = np.array([0.5, 3.0])
    g2 = np.array([-1.0, 3.0])
    opt.step([g1])
    # step 1: m_hat = g, v_hat = g^2 -> moves by lr g / (|g| + eps), i.e. ~lr sign(g)
    np.testing.assert_allclose(
        p, [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 - 0.1 * 3 / (3 + 1e-8)], rtol=0, atol=1e-15
    )
    p1 = p.copy()
    opt.step([g2])
    # step 2, first coordinate, written out:
    m = 0.9 * (0.1 * 0.5) + 0.1 * (-1.0)  # -0.055
    v = 0.999 * (0.001 * 0.25) + 0.001 * 1.0  # 0.00124975
    m_hat = m / (1 - 0.9**2)
    v_hat = v / (1 - 0.999**2)
    expected0 = p1[0] - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
    assert m == pytest.approx(-0.055) and v == pytest.approx(0.00124975)
    assert p[0] == pytest.approx(expected0, rel=1e-14)
    assert p[0] - p1[0] == pytest.approx(0.1 * 0.289473684 / 0.790688, rel=1e-6)
    # second coordinate: constant gradient -> m_hat = g, v_hat = g^2, step = lr again
    assert p[1] == pytest.approx(p1[1] - 0.1, rel=1e-9)


def test_adam_state_roundtrip_continues_identically():
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(4).astype(np.float32) for _ in range(6)]
    a = np.ones(4, np.float32)
    opt_a = Adam([a], lr=0.01)
    for g in grads:
        opt_a.step([g])
    b = np.ones(4, np.float32)
    opt_b = Adam([b], lr=0.01)
    for g in grads[:3]:
        opt_b.step([g])
    state = opt_b.state_dict()
    c = b.copy()
    opt_c = Adam([c], lr=0.5)
    opt_c.load_state_dict(state)
    for g in grads[3:]:
        opt_c.step([g])
    np.testing.assert_array_equal(a, c)
    assert a.dtype == np.float32


def test_adam_rejects_bad_input():
    with pytest.raises(ValueError, match="lr must be"):
        Adam([np.zeros(1)], lr=0)
    with pytest.raises(ValueError, match="grads must have 1"):
        Adam([np.zeros(1)]).step([])


def test_cosine_by_hand():
    assert cosine_lr(0, 4, 1e-3) == 1e-3
    assert cosine_lr(1, 4, 1e-3) == pytest.approx(1e-3 * (1 + math.sqrt(0.5)) / 2)
    assert cosine_lr(2, 4, 1e-3, 1e-5) == pytest.approx((1e-3 + 1e-5) / 2)
    assert cosine_lr(4, 4, 1e-3, 1e-5) == pytest.approx(1e-5)
    # monotone decreasing over the run
    lrs = [cosine_lr(e, 20, 1e-3) for e in range(21)]
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))
    with pytest.raises(ValueError, match="epoch must be"):
        cosine_lr(5, 4, 1e-3)
