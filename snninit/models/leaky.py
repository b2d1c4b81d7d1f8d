"""The leaky integrate-and-fire neuron of DESIGN.md 1b, defined once.

Everything that runs this neuron (the Monte Carlo kernels, the dynamic mean
field, the diffusion rule, the trainer) calls :func:`membrane_update` and
:func:`spike` from here, so the model has one definition. Both are plain
arithmetic on scalars or numpy arrays; ``*_jit`` are the same functions
compiled by numba with ``inline="always"`` for use inside numba kernels (the
inlined code is the same expression, so a kernel and a numpy caller compute
the same bits).

One step, with ``x^t`` the layer's input at step ``t`` and ``u^{-1} = s^{-1}
= 0``::

    subtract: u^t = beta u^{t-1} + x^t - k theta s^{t-1}   (k = beta with reset_decay, else 1)
    zero:     u^t = beta (1 - s^{t-1}) u^{t-1} + x^t
    none:     u^t = beta u^{t-1} + x^t
    s^t = H(u^t - theta) = 1[u^t > theta]

This is snntorch's ``Leaky(beta, threshold, reset_mechanism)`` with its
default ``reset_delay=True`` (the reset uses the previous step's spike);
``reset_decay=True`` is spikingjelly's soft reset ``u = beta (u - theta s) +
x`` (written ``beta u + x - (beta theta) s``: one expression for both).
"""

from __future__ import annotations

from numba import njit

__all__ = [
    "RESETS",
    "RESET_SUBTRACT",
    "RESET_ZERO",
    "RESET_NONE",
    "RESET_CODES",
    "INPUT_SCALES",
    "input_factor",
    "membrane_update",
    "membrane_update_jit",
    "spike",
    "spike_jit",
    "lif_layer",
]

#: Reset variants (DESIGN.md 1b) and their integer codes inside numba kernels.
RESETS = ("subtract", "zero", "none")
RESET_SUBTRACT, RESET_ZERO, RESET_NONE = 0, 1, 2
RESET_CODES = {"subtract": RESET_SUBTRACT, "zero": RESET_ZERO, "none": RESET_NONE}

#: How the constant input enters the encoding layer's membrane each step.
INPUT_SCALES = ("1", "1-beta")


def input_factor(beta: float, input_scale: str) -> float:
    """Factor ``c`` on the constant input of the encoding layer: 1, or ``1 - beta``."""
    return 1.0 - beta if input_scale == "1-beta" else 1.0


def membrane_update(u_prev, s_prev, drive, beta, theta, reset, reset_decay):
    """``u^t`` from ``u^{t-1}``, ``s^{t-1}`` and the input ``drive = x^t`` (module docstring).

    ``reset`` is an integer code of :data:`RESET_CODES`; arguments may be
    scalars or broadcastable numpy arrays (``s_prev`` 0/1 of any numeric or
    bool dtype).
    """
    if reset == RESET_SUBTRACT:
        k = beta if reset_decay else 1.0
        return beta * u_prev + drive - (k * theta) * s_prev
    if reset == RESET_ZERO:
        return beta * (1.0 - s_prev) * u_prev + drive
    return beta * u_prev + drive


def spike(u, theta):
    """``s = H(u - theta)``, strict: a membrane exactly at threshold does not fire."""
    return u > theta


membrane_update_jit = njit(inline="always", cache=True)(membrane_update)
spike_jit = njit(inline="always", cache=True)(spike)


@njit(nogil=True, cache=True, fastmath=False, error_model="numpy")
def lif_layer(u, s, beta, theta, reset, reset_decay):
    """Turn the drive ``u`` (T, n) into membranes in place and fill spikes ``s``.

    The neuron of :mod:`snninit.models.leaky` (DESIGN 1b): with ``x^t`` the
    drive (``u`` on entry) and ``u^{-1} = s^{-1} = 0``, ``u^t =``
    ``membrane_update(u^{t-1}, s^{t-1}, x^t, ...)`` and ``s^t = spike(u^t,
    theta)``; at ``t = 0`` the membrane is the drive itself.
    """
    T, n = u.shape
    for t in range(T):
        if t == 0:
            for i in range(n):
                s[0, i] = 1 if spike_jit(u[0, i], theta) else 0
            continue
        # the reset code as a literal in each branch: after inlining, the compiler drops
        # the other variants from the inner loop and vectorises it
        if reset == RESET_SUBTRACT:
            _lif_row(u, s, t, beta, theta, RESET_SUBTRACT, reset_decay)
        elif reset == RESET_ZERO:
            _lif_row(u, s, t, beta, theta, RESET_ZERO, reset_decay)
        else:
            _lif_row(u, s, t, beta, theta, RESET_NONE, reset_decay)


@njit(inline="always", cache=True)
def _lif_row(u, s, t, beta, theta, reset, reset_decay):
    for i in range(u.shape[1]):
        v = membrane_update_jit(u[t - 1, i], s[t - 1, i], u[t, i], beta, theta, reset,
                                reset_decay)
        u[t, i] = v
        s[t, i] = 1 if spike_jit(v, theta) else 0
