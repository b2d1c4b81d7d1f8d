"""Adam and cosine annealing, written out (no autograd framework).

Both follow the conventions of ``torch.optim.Adam`` and
``torch.optim.lr_scheduler.CosineAnnealingLR`` so that runs are comparable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np

from .._checks import check_int, check_real
from .products import in_row_blocks

__all__ = ["Adam", "cosine_lr"]


@numba.njit(cache=True, nogil=True)
def _adam_kernel(p, g, m, v, c, start, stop):
    # One pass over the flat arrays; c = [b1, 1 - b1, b2, 1 - b2, 1/sqrt(bc2), eps, lr/bc1]
    # in the arrays' dtype, and each element's operations are those of the numpy form
    # (Adam._step_numpy) in the same order, so the result is the same to the bit.
    for i in range(start, stop):
        gi = g[i]
        mi = m[i] * c[0] + c[1] * gi
        vi = v[i] * c[2] + c[3] * (gi * gi)
        m[i] = mi
        v[i] = vi
        p[i] = p[i] - c[6] * (mi / (np.sqrt(vi) * c[4] + c[5]))


class Adam:
    """Adam (Kingma & Ba 2015) with bias correction, updating arrays in place.

    For each parameter ``p`` with gradient ``g`` at step ``k = 1, 2, ...``::

        m <- b1 m + (1 - b1) g
        v <- b2 v + (1 - b2) g^2
        p <- p - lr * (m / (1 - b1^k)) / (sqrt(v / (1 - b2^k)) + eps)

    (eps added after the square root, as in torch). Moments are kept in the
    parameters' dtype.

    Parameters
    ----------
    params : sequence of ndarray
        Arrays updated in place by :meth:`step`.
    lr : float
        Learning rate (> 0); the schedule changes it through :attr:`lr`.
    betas : (float, float)
        Decay rates of the first and second moments, each in [0, 1).
    eps : float
        Denominator floor (> 0).
    """

    def __init__(
        self,
        params: Sequence[np.ndarray],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        self.lr = check_real("lr", lr, low=0.0, low_open=True)
        self.beta1 = check_real("betas[0]", betas[0], low=0.0, high=1.0, high_open=True)
        self.beta2 = check_real("betas[1]", betas[1], low=0.0, high=1.0, high_open=True)
        self.eps = check_real("eps", eps, low=0.0, low_open=True)
        self.params = list(params)
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self, grads: Sequence[np.ndarray]) -> None:
        """Apply one update with ``grads`` (same shapes as the parameters).

        Every gradient is checked before any parameter changes: a list of the
        wrong length or an array of the wrong shape is a one-line
        ``ValueError`` naming ``grads[i]``, and nothing is updated.
        """
        if isinstance(grads, (str, bytes)) or not hasattr(grads, "__len__"):
            raise ValueError(
                f"grads must be a sequence of {len(self.params)} arrays; got {type(grads).__name__}"
            )
        if len(grads) != len(self.params):
            raise ValueError(f"grads must have {len(self.params)} arrays; got {len(grads)}")
        for i, (g, p) in enumerate(zip(grads, self.params, strict=True)):
            shape = np.shape(g)
            if shape != p.shape:
                raise ValueError(
                    f"grads[{i}] must have the shape of params[{i}], {p.shape}; got {shape}"
                )
        self.t += 1
        bc1 = 1.0 - self.beta1**self.t
        bc2 = 1.0 - self.beta2**self.t
        step_size = self.lr / bc1
        inv_sqrt_bc2 = 1.0 / math.sqrt(bc2)
        consts = (
            self.beta1,
            1.0 - self.beta1,
            self.beta2,
            1.0 - self.beta2,
            inv_sqrt_bc2,
            self.eps,
            step_size,
        )
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            g = np.asarray(g)
            flat = [
                a.reshape(-1) if a.flags.c_contiguous and a.dtype == p.dtype else None
                for a in (p, g, m, v)
            ]
            if any(a is None for a in flat):  # a strided view or another dtype: numpy form
                self._step_numpy(p, g, m, v, consts)
                continue
            in_row_blocks(_adam_kernel, p.size, *flat, np.array(consts, dtype=p.dtype))

    @staticmethod
    def _step_numpy(p, g, m, v, consts) -> None:
        b1, c1, b2, c2, inv_sqrt_bc2, eps, step_size = consts
        m *= b1
        m += c1 * g
        v *= b2
        v += c2 * (g * g)
        denom = np.sqrt(v)
        denom *= inv_sqrt_bc2
        denom += eps
        p -= step_size * (m / denom)

    def state_dict(self) -> dict:
        """Moments, step count and hyper-parameters (for checkpoints)."""
        return {
            "t": self.t,
            "lr": self.lr,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "eps": self.eps,
            "m": [a.copy() for a in self.m],
            "v": [a.copy() for a in self.v],
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output (shapes must match the parameters)."""
        for name in ("m", "v"):
            arrays = state[name]
            if len(arrays) != len(self.params) or any(
                a.shape != p.shape for a, p in zip(arrays, self.params, strict=True)
            ):
                raise ValueError(f"optimizer state {name!r} does not match the parameters")
            getattr(self, name)[:] = [
                np.array(a, dtype=p.dtype) for a, p in zip(arrays, self.params, strict=True)
            ]
        self.t = int(state["t"])
        self.lr = float(state["lr"])
        self.beta1, self.beta2, self.eps = (float(state[k]) for k in ("beta1", "beta2", "eps"))


def cosine_lr(epoch: int, epochs: int, lr0: float, lr_min: float = 0.0) -> float:
    """Cosine-annealed learning rate for (0-based) ``epoch`` of ``epochs``.

    ``lr = lr_min + (lr0 - lr_min) (1 + cos(pi epoch / epochs)) / 2``: epoch 0
    trains at ``lr0`` and the rate falls towards ``lr_min`` over the run, as
    torch's ``CosineAnnealingLR(T_max=epochs)`` stepped once per epoch.
    """
    epochs = check_int("epochs", epochs, low=1)
    epoch = check_int("epoch", epoch, low=0, high=epochs)
    lr0 = check_real("lr0", lr0, low=0.0)
    lr_min = check_real("lr_min", lr_min, low=0.0, high=lr0)
    return lr_min + (lr0 - lr_min) * (1.0 + math.cos(math.pi * epoch / epochs)) / 2.0
