"""The same network in PyTorch (autograd), for cross-checks and the benchmark only.

Imports torch lazily; nothing in the package imports this module. The
network is written the way an autograd user would write it (snntorch style:
a loop over time steps, each layer a ``Leaky``-like update with the arctan
surrogate and the reset taken from the previous step's spike, detached by
default), with the same order of floating-point operations as
:mod:`snninit.training.model`, so that losses and gradients agree to
rounding.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TorchSNN", "torch_loss_and_grad"]


def _atan_spike():
    import torch

    class ATan(torch.autograd.Function):
        @staticmethod
        def forward(ctx, v, theta, alpha):
            ctx.save_for_backward(v)
            ctx.theta, ctx.alpha = theta, alpha
            return (v > theta).to(v.dtype)

        @staticmethod
        def backward(ctx, grad):
            (v,) = ctx.saved_tensors
            x = (np.pi * ctx.alpha / 2) * (v - ctx.theta)
            return grad * (ctx.alpha / 2) / (1 + x * x), None, None

    return ATan.apply


class TorchSNN:
    """Encoding LIF layer, hidden LIF layers and LIF readout, as :class:`SNN`.

    Parameters
    ----------
    model : snninit.training.SNN
        Source of the configuration and (copied) weights.
    """

    def __init__(self, model):
        import torch

        self.torch = torch
        self.cfg = model.cfg
        self.alpha = model.alpha
        self.detach_reset = model.detach_reset
        dtype = torch.float64 if model.dtype == np.float64 else torch.float32
        self.dtype = dtype
        self.weights = [
            torch.tensor(np.asarray(w), dtype=dtype, requires_grad=True) for w in model.weights
        ]
        self.spike = _atan_spike()

    def _step(self, u, s, current):
        cfg = self.cfg
        r = s.detach() if self.detach_reset else s
        if cfg.reset == "subtract":
            k = cfg.beta if cfg.reset_decay else 1.0
            u = cfg.beta * u + current - k * cfg.theta * r
        elif cfg.reset == "zero":
            u = cfg.beta * (1 - r) * u + current
        else:
            u = cfg.beta * u + current
        return u, self.spike(u, cfg.theta, self.alpha)

    def logits(self, x):
        torch = self.torch
        cfg = self.cfg
        x = torch.as_tensor(np.asarray(x), dtype=self.dtype)
        c = cfg.input_factor
        drive = c * x
        n_layers = len(self.weights) + 1
        u = [None] * n_layers
        s = [None] * n_layers
        total = 0
        for _ in range(cfg.steps):
            for layer in range(n_layers):
                current = drive if layer == 0 else s[layer - 1] @ self.weights[layer - 1]
                if u[layer] is None:
                    u[layer] = torch.zeros_like(current)
                    s[layer] = torch.zeros_like(current)
                u[layer], s[layer] = self._step(u[layer], s[layer], current)
            total = total + s[-1]
        return total

    def loss(self, x, y):
        torch = self.torch
        logits = self.logits(x)
        return torch.nn.functional.cross_entropy(logits, torch.as_tensor(np.asarray(y)))


def torch_loss_and_grad(model, x, y):
    """Loss and weight gradients of ``model``'s network computed by torch autograd."""
    ref = TorchSNN(model)
    loss = ref.loss(x, y)
    loss.backward()
    return float(loss.detach()), [w.grad.numpy() for w in ref.weights]
