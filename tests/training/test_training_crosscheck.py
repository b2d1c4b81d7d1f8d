"""Hand-written BPTT, Adam and cosine schedule against torch (crosscheck session)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from snninit.config import NetworkConfig  # noqa: E402
from snninit.training.model import SNN  # noqa: E402
from snninit.training.optim import Adam, cosine_lr  # noqa: E402
from snninit.training.torch_reference import torch_loss_and_grad  # noqa: E402

pytestmark = pytest.mark.crosscheck


@pytest.mark.parametrize("products", ["dense", "event"])
@pytest.mark.parametrize("detach", [True, False])
@pytest.mark.parametrize(
    "reset,reset_decay,input_scale",
    [
        ("subtract", False, "1"),
        ("subtract", True, "1-beta"),
        ("zero", False, "1"),
        ("none", False, "1"),
    ],
)
def test_bptt_equals_autograd_float64(reset, reset_decay, input_scale, detach, products):
    cfg = NetworkConfig(
        width=64,
        layers=4,
        steps=5,
        theta=1.0,
        beta=0.7,
        reset=reset,
        reset_decay=reset_decay,
        input_scale=input_scale,
        init="micheli",
    )
    model = SNN(
        cfg, n_inputs=30, n_classes=5, detach_reset=detach, dtype=np.float64, seed=0,
        products=products,
    )
    rng = np.random.default_rng(1)
    x = rng.standard_normal((24, 30))
    y = rng.integers(0, 5, 24)
    loss, grads, _ = model.loss_and_grad(x, y)
    ref_loss, ref_grads = torch_loss_and_grad(model, x, y)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for g, r in zip(grads, ref_grads, strict=True):
        assert np.abs(r).max() > 0
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12 * np.abs(r).max())


@pytest.mark.parametrize("products", ["dense", "event"])
def test_bptt_equals_autograd_float32_paper_shape(products):
    # float32, the paper's T=3 / theta=1 / beta=0.5 at a small width: a spike can flip
    # only if a membrane lies within float32 rounding (~1e-7) of theta, so with a fixed
    # seed the comparison is deterministic; tolerance is float32 accumulation error.
    cfg = NetworkConfig(width=100, layers=5, steps=3, theta=1.0, beta=0.5, init="micheli")
    model = SNN(cfg, n_inputs=784, n_classes=10, seed=2, products=products)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((32, 784)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    loss, grads, _ = model.loss_and_grad(x, y)
    ref_loss, ref_grads = torch_loss_and_grad(model, x, y)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    for g, r in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-3, atol=1e-4 * np.abs(r).max())


def test_adam_and_cosine_equal_torch():
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(8)]
    p = p0.copy()
    opt = Adam([p], lr=1e-2)
    tp = torch.tensor(p0, requires_grad=True)
    topt = torch.optim.Adam([tp], lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=4)
    for epoch in range(4):
        opt.lr = cosine_lr(epoch, 4, 1e-2)
        assert math.isclose(opt.lr, topt.param_groups[0]["lr"], rel_tol=1e-12, abs_tol=1e-15)
        for g in grads[2 * epoch : 2 * epoch + 2]:
            opt.step([g])
            tp.grad = torch.tensor(g)
            topt.step()
        sched.step()
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)
