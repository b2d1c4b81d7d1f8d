"""One LIF layer of the trainer over time, forward and backward, and the loss.

The trainer's form of the neuron of :mod:`snninit.models` (float32 or
float64, with the arctan surrogate; ``tests/test_models.py`` checks it is the
same neuron step by step), as numba kernels over arrays ``(T, M)`` with ``M =
batch * neurons``. The matrix products between layers are in
:mod:`snninit.training.products` (re-exported here from their old home).
"""

from __future__ import annotations

import numba
import numpy as np

from .._checks import check_bool, check_choice, check_numeric_array, check_real
from ..config import RESETS, check_limit
from ..models import RESET_CODES, arctan_slope_jit, membrane_grad_jit
from .products import fixed_matmul, row_blocks  # noqa: F401  (their old home)

__all__ = ["lif_forward", "lif_backward", "fixed_matmul", "row_blocks"]

_ACTIVATIONS = ("heaviside", "smooth")


# --------------------------------------------------------------------------
# numba kernels: one LIF layer over time, arrays (T, M) with M = batch * neurons
# --------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _lif_forward_kernel(I, p, reset_code, smooth, R, use_r, U, S):  # noqa: E741
    # p = [beta, theta, k, alpha_half_pi, one, zero, half, inv_pi] in the arrays' dtype,
    # so that float32 arrays are updated in float32 arithmetic (as torch does).
    # Time outside, neurons inside: each step is a contiguous, vectorisable sweep; the
    # arithmetic of each element is that of the model's update (tests/test_models.py).
    T, M = I.shape
    beta, theta, k, api, one, zero, half, inv_pi = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
    kt = k * theta
    rest = np.zeros(M, dtype=I.dtype)  # u^{-1} = s^{-1} = 0
    for t in range(T):
        up = U[t - 1] if t > 0 else rest
        rp = (R[t - 1] if use_r else S[t - 1]) if t > 0 else rest
        it = I[t]
        ut = U[t]
        st = S[t]
        if reset_code == 0:
            for i in range(M):
                ut[i] = beta * up[i] + it[i] - kt * rp[i]
        elif reset_code == 1:
            for i in range(M):
                ut[i] = beta * (one - rp[i]) * up[i] + it[i]
        else:
            for i in range(M):
                ut[i] = beta * up[i] + it[i]
        if smooth:
            for i in range(M):
                st[i] = half + np.arctan(api * (ut[i] - theta)) * inv_pi
        else:
            for i in range(M):
                st[i] = one if ut[i] > theta else zero


@numba.njit(cache=True, nogil=True)
def _lif_backward_kernel(U, R, G, p, reset_code, keep_reset, dU):
    # dU[t, i] = dL/du^t; G[t, i] = dL/ds^t from the layer above. Time outside (backwards),
    # neurons inside, as in the forward kernel. The step is the model's
    # (snninit.models.gradients), with the reset and keep_reset as literals in each branch
    # so that the compiler drops the others from the inner loop.
    T, M = U.shape
    beta, theta, k, api, one, alpha_half = p[0], p[1], p[2], p[3], p[4], p[8]
    kt = k * theta
    for t in range(T - 1, -1, -1):
        ut = U[t]
        gt = G[t]
        dut = dU[t]
        if t == T - 1:
            for i in range(M):
                dut[i] = arctan_slope_jit(ut[i], theta, api, alpha_half, one) * gt[i]
            continue
        dn = dU[t + 1]
        rt = R[t]
        if keep_reset and reset_code == 0:
            for i in range(M):
                g = arctan_slope_jit(ut[i], theta, api, alpha_half, one)
                dut[i] = membrane_grad_jit(g, gt[i], dn[i], ut[i], rt[i], beta, kt, one, 0, True)
        elif keep_reset and reset_code == 1:
            for i in range(M):
                g = arctan_slope_jit(ut[i], theta, api, alpha_half, one)
                dut[i] = membrane_grad_jit(g, gt[i], dn[i], ut[i], rt[i], beta, kt, one, 1, True)
        elif reset_code == 1:
            for i in range(M):
                g = arctan_slope_jit(ut[i], theta, api, alpha_half, one)
                dut[i] = membrane_grad_jit(g, gt[i], dn[i], ut[i], rt[i], beta, kt, one, 1, False)
        else:
            for i in range(M):
                g = arctan_slope_jit(ut[i], theta, api, alpha_half, one)
                dut[i] = membrane_grad_jit(g, gt[i], dn[i], ut[i], rt[i], beta, kt, one, 2, False)


def _params(dtype, beta, theta, reset_decay, alpha):
    k = beta if reset_decay else 1.0
    return np.array(
        [beta, theta, k, np.pi * alpha / 2, 1.0, 0.0, 0.5, 1 / np.pi, alpha / 2], dtype=dtype
    )


def lif_forward(
    I,
    *,
    beta,
    theta,
    reset="subtract",
    reset_decay=False,
    alpha=2.0,  # noqa: E741
    activation="heaviside",
    reset_signal=None,
):
    """Run one LIF layer over time.

    Parameters
    ----------
    I : ndarray, shape (T, ...)
        Input current of every step (float32 or float64).
    beta, theta : float
        Leak and threshold.
    reset, reset_decay : str, bool
        Reset mechanism (see the module docstring).
    alpha : float
        Sharpness of the arctan step (used only by ``activation="smooth"``).
    activation : {"heaviside", "smooth"}
        ``H(u - theta)``, or the smooth step whose derivative is the surrogate.
    reset_signal : ndarray like ``I``, optional
        Use these values of ``s^t`` in the reset term instead of the layer's
        own output (to differentiate with the reset held fixed).

    Returns
    -------
    U, S : ndarray like ``I``
        Membranes and outputs.

    Raises
    ------
    ValueError
        For an ``I`` that is not a numeric array of at least 2 dims (time and
        neurons), or ``beta``, ``theta``, ``alpha``, ``reset``, ``activation``
        outside their ranges (those of :class:`~snninit.config.NetworkConfig`).
    """
    I = _current("I", I)  # noqa: E741
    _check_lif(beta, theta, reset, reset_decay, alpha)
    check_choice("activation", activation, _ACTIVATIONS)
    shape = I.shape
    flat = I.reshape(shape[0], -1)
    U = np.empty_like(flat)
    S = np.empty_like(flat)
    p = _params(I.dtype, beta, theta, reset_decay, alpha)
    use_r = reset_signal is not None
    if use_r:
        R = _current("reset_signal", reset_signal, dtype=I.dtype)
        if R.shape != shape:
            raise ValueError(f"reset_signal must have the shape of I, {shape}; got {R.shape}")
        R = R.reshape(flat.shape)
    else:
        R = flat
    _lif_forward_kernel(flat, p, RESET_CODES[reset], activation == "smooth", R, use_r, U, S)
    return U.reshape(shape), S.reshape(shape)


def lif_backward(
    U, R, G, *, beta, theta, reset="subtract", reset_decay=False, alpha=2.0, detach_reset=True
):
    """Backward pass of :func:`lif_forward`: ``dL/du^t`` (= ``dL/dI^t``) from ``G = dL/ds^t``.

    ``R`` is the reset signal used in the forward pass (normally the output
    ``S``); ``ds/du`` is the arctan surrogate with sharpness ``alpha``.
    ``U``, ``R`` and ``G`` must have the same shape, of at least 2 dims.
    """
    U = _current("U", U)
    _check_lif(beta, theta, reset, reset_decay, alpha)
    check_bool("detach_reset", detach_reset)
    R = _current("R", R, dtype=U.dtype)
    for name, got in (("R", R.shape), ("G", np.shape(G))):
        if got != U.shape:
            raise ValueError(f"{name} must have the shape of U, {U.shape}; got {got}")
    shape = U.shape
    Uf = U.reshape(shape[0], -1)
    dU = np.empty_like(Uf)
    p = _params(U.dtype, beta, theta, reset_decay, alpha)
    _lif_backward_kernel(
        Uf,
        R.reshape(Uf.shape),
        np.ascontiguousarray(G, dtype=U.dtype).reshape(Uf.shape),
        p,
        RESET_CODES[reset],
        not detach_reset,
        dU,
    )
    return dU.reshape(shape)


def _current(name: str, value, dtype=None) -> np.ndarray:
    """A numeric array of >= 2 dims (time, then neurons), C-contiguous, float32/float64."""
    a = check_numeric_array(name, value, "a numeric array of shape (T, ...) (time, then neurons)")
    if a.ndim < 2:
        raise ValueError(
            f"{name} must have shape (T, ...) with at least one neuron axis (T, n) or "
            f"(T, batch, n); got shape {a.shape}"
        )
    if dtype is None:
        dtype = a.dtype if a.dtype in (np.float32, np.float64) else np.float64
    return np.ascontiguousarray(a, dtype=dtype)


def _check_lif(beta, theta, reset, reset_decay, alpha) -> None:
    """The LIF parameters in NetworkConfig's ranges (a NaN must not reach the kernel)."""
    check_limit("beta", beta)
    check_limit("theta", theta)
    check_choice("reset", reset, RESETS)
    check_bool("reset_decay", reset_decay)
    check_real("alpha", alpha, low=0.0, low_open=True)


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray):
    """Mean softmax cross-entropy and its gradient with respect to ``logits``.

    ``L = mean_b [logsumexp(z_b) - z_{b, y_b}]``, ``dL/dz = (softmax(z) - onehot(y)) / B``.
    ``logits`` is a finite ``(B, K)`` array, ``labels`` ``B`` integers in ``[0, K - 1]``.
    """
    try:
        arr = np.asarray(logits)
    except Exception:
        arr = None
    if arr is None or arr.dtype.kind not in "biuf" or arr.ndim != 2 or arr.shape[0] < 1:
        raise ValueError(
            "logits must be a numeric (batch, classes) array; got "
            f"{type(logits).__name__} of shape {getattr(arr, 'shape', None)}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError("logits must be finite; got a NaN or infinite entry")
    logits = arr if arr.dtype.kind == "f" else arr.astype(np.float64)
    B, K = logits.shape
    y = np.asarray(labels)
    if y.shape != (B,) or y.dtype.kind not in "iu":
        raise ValueError(
            f"labels must be {B} integers (one per row of logits), shape ({B},); got "
            f"{y.dtype} of shape {y.shape}"
        )
    if y.min() < 0 or y.max() >= K:
        bad = int(y[(y < 0) | (y >= K)][0])
        raise ValueError(f"labels must be in [0, {K - 1}] (the {K} classes of logits); got {bad}")
    labels = y
    z = logits - logits.max(axis=1, keepdims=True)
    expz = np.exp(z)
    total = expz.sum(axis=1, keepdims=True)
    b = np.arange(len(labels))
    loss = float(np.mean(np.log(total[:, 0]) - z[b, labels]))
    grad = expz / total
    grad[b, labels] -= 1
    grad /= len(labels)
    return loss, grad.astype(logits.dtype, copy=False)
