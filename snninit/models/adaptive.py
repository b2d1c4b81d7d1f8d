"""The adaptive-threshold LIF neuron (Bellec et al.'s LSNN, discrete time), defined once.

Each spike raises the neuron's threshold, which relaxes back with factor
``rho``. With ``x^t`` the layer's input and ``a^{-1} = u^{-1} = s^{-1} = 0``::

    a^t = rho a^{t-1} + s^{t-1}
    u^t = membrane_update(u^{t-1}, s^{t-1}, x^t)    (the leaky neuron's, base threshold theta)
    s^t = H(u^t - (theta + b a^t))

``rho`` in [0, 1], ``b >= 0`` (``NetworkConfig.adaptation``). The reset
subtracts the *base* threshold ``theta``, as in e-prop's LSNN
(``v^{t+1} = alpha v^t + ... - z^t v_th``); ``b = 0`` is the leaky neuron.
The threshold depends only on the neuron's own spike history, so the membrane
and spikes are still a deterministic function of the input path.
"""

from __future__ import annotations

from numba import njit

from .leaky import membrane_update, membrane_update_jit

__all__ = ["adaptation_update", "adaptive_threshold", "adaptive_step", "adaptive_step_jit"]


def adaptation_update(a_prev, s_prev, rho):
    """``a^t = rho a^{t-1} + s^{t-1}``."""
    return rho * a_prev + s_prev


def adaptive_threshold(theta, a, adaptation):
    """The threshold at step ``t``: ``theta + b a^t``."""
    return theta + adaptation * a


def adaptive_step(u_prev, a_prev, s_prev, drive, beta, theta, reset, reset_decay, rho,
                  adaptation):
    """One step: ``(u^t, a^t, threshold^t)`` (module docstring)."""
    a = adaptation_update(a_prev, s_prev, rho)
    u = membrane_update(u_prev, s_prev, drive, beta, theta, reset, reset_decay)
    return u, a, adaptive_threshold(theta, a, adaptation)


_adaptation_update_jit = njit(inline="always", cache=True)(adaptation_update)
_adaptive_threshold_jit = njit(inline="always", cache=True)(adaptive_threshold)


@njit(inline="always", cache=True)
def adaptive_step_jit(u_prev, a_prev, s_prev, drive, beta, theta, reset, reset_decay, rho,
                      adaptation):
    a = _adaptation_update_jit(a_prev, s_prev, rho)
    u = membrane_update_jit(u_prev, s_prev, drive, beta, theta, reset, reset_decay)
    return u, a, _adaptive_threshold_jit(theta, a, adaptation)
