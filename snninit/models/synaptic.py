"""The current-based LIF neuron (snntorch's ``Synaptic``), defined once.

A synaptic current filters the drive before it reaches the membrane; the
membrane, its resets and the spike rule are the leaky neuron's
(:mod:`snninit.models.leaky`). With ``x^t`` the layer's input and
``I^{-1} = u^{-1} = s^{-1} = 0``::

    I^t = alpha I^{t-1} + x^t
    u^t = membrane_update(u^{t-1}, s^{t-1}, I^t)   (subtract: beta u^{t-1} + I^t - theta s^{t-1})
    s^t = H(u^t - theta)

``alpha`` in [0, 1] is snntorch's name (the current's decay); ``alpha = 0`` is
the leaky neuron. The input path that reaches the membrane, ``I``, is a fixed
linear filter of ``x``, so given the presynaptic spikes a neuron's membrane is
still a deterministic function of its input path: the ``gram`` sampler and the
dynamic mean field apply unchanged.
"""

from __future__ import annotations

from numba import njit

from .leaky import membrane_update, membrane_update_jit

__all__ = ["current_update", "synaptic_step", "synaptic_step_jit"]


def current_update(i_prev, drive, alpha):
    """``I^t = alpha I^{t-1} + x^t`` (scalars or arrays)."""
    return alpha * i_prev + drive


def synaptic_step(u_prev, i_prev, s_prev, drive, beta, theta, reset, reset_decay, alpha):
    """One step: ``(u^t, I^t)`` from the previous state and the input (module docstring)."""
    i = current_update(i_prev, drive, alpha)
    return membrane_update(u_prev, s_prev, i, beta, theta, reset, reset_decay), i


_current_update_jit = njit(inline="always", cache=True)(current_update)


@njit(inline="always", cache=True)
def synaptic_step_jit(u_prev, i_prev, s_prev, drive, beta, theta, reset, reset_decay, alpha):
    i = _current_update_jit(i_prev, drive, alpha)
    return membrane_update_jit(u_prev, s_prev, i, beta, theta, reset, reset_decay), i
