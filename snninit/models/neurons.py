"""The registry of neuron models and the one step every user runs (DESIGN.md 1b, issue 17).

A neuron model is one file of this package (:mod:`~snninit.models.leaky`,
:mod:`~snninit.models.synaptic`, :mod:`~snninit.models.adaptive`); the
recurrent layer (:mod:`~snninit.models.recurrent`) is the leaky neuron with
an extra drive from its own layer's previous spikes. This module names them,
gives their parameters and ranges once (``NEURON_PARAMS``, which
:class:`~snninit.config.NetworkConfig` validates through), and dispatches
one step and one layer's time loop to the model's own definition:

``neuron_step(model, u_prev, aux_prev, s_prev, drive, beta, theta, reset,
reset_decay, alpha, rho, adaptation) -> (u, aux, threshold)``
    ``aux`` is the model's second state variable (the synaptic current ``I``
    of ``synaptic``, the adaptation ``a`` of ``adaptive``, 0 otherwise) and
    ``threshold`` the one the spike is tested against, ``s = spike(u,
    threshold)``. For ``leaky`` (and ``recurrent``) it is exactly
    :func:`~snninit.models.leaky.membrane_update` and ``theta``, so every
    kernel built on it computes the leaky neuron's bits.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
from numba import njit

from .adaptive import adaptive_step, adaptive_step_jit
from .leaky import (
    RESET_NONE,
    RESET_SUBTRACT,
    RESET_ZERO,
    lif_layer,
    membrane_update,
    membrane_update_jit,
    spike_jit,
)
from .synaptic import synaptic_step, synaptic_step_jit

__all__ = [
    "NEURONS",
    "NEURON_CODES",
    "NEURON_PARAMS",
    "FEED_FORWARD_NEURONS",
    "LEAKY",
    "SYNAPTIC",
    "ADAPTIVE",
    "RECURRENT",
    "neuron_step",
    "neuron_step_jit",
    "neuron_layer",
]

#: Neuron models, in the order of their integer codes inside numba kernels.
NEURONS = ("leaky", "synaptic", "adaptive", "recurrent")
LEAKY, SYNAPTIC, ADAPTIVE, RECURRENT = 0, 1, 2, 3
NEURON_CODES = MappingProxyType({name: code for code, name in enumerate(NEURONS)})
#: Models whose membrane is a deterministic function of the layer's input path.
FEED_FORWARD_NEURONS = ("leaky", "synaptic", "adaptive")

#: The parameters of each model: ``name -> (default, low, high)`` (``None``: unbounded).
NEURON_PARAMS = MappingProxyType(
    {
        "leaky": MappingProxyType({}),
        "synaptic": MappingProxyType({"alpha": (0.5, 0.0, 1.0)}),
        "adaptive": MappingProxyType({"rho": (0.9, 0.0, 1.0), "adaptation": (0.5, 0.0, None)}),
        # the share of a neuron's input variance from its own layer (a fraction < 1:
        # the layer must be driven from below)
        "recurrent": MappingProxyType({"recurrent_fraction": (0.5, 0.0, 0.99)}),
    }
)


def neuron_step(model, u_prev, aux_prev, s_prev, drive, beta, theta, reset, reset_decay,
                alpha, rho, adaptation):
    """One step of ``model`` (an integer code): ``(u, aux, threshold)``; module docstring."""
    if model == SYNAPTIC:
        u, i = synaptic_step(u_prev, aux_prev, s_prev, drive, beta, theta, reset, reset_decay,
                             alpha)
        return u, i, theta
    if model == ADAPTIVE:
        return adaptive_step(u_prev, aux_prev, s_prev, drive, beta, theta, reset, reset_decay,
                             rho, adaptation)
    return membrane_update(u_prev, s_prev, drive, beta, theta, reset, reset_decay), 0.0, theta


@njit(inline="always", cache=True)
def neuron_step_jit(model, u_prev, aux_prev, s_prev, drive, beta, theta, reset, reset_decay,
                    alpha, rho, adaptation):
    if model == SYNAPTIC:
        u, i = synaptic_step_jit(u_prev, aux_prev, s_prev, drive, beta, theta, reset,
                                 reset_decay, alpha)
        return u, i, theta
    if model == ADAPTIVE:
        return adaptive_step_jit(u_prev, aux_prev, s_prev, drive, beta, theta, reset,
                                 reset_decay, rho, adaptation)
    return (membrane_update_jit(u_prev, s_prev, drive, beta, theta, reset, reset_decay), 0.0,
            theta)


@njit(nogil=True, cache=True, fastmath=False, error_model="numpy")
def neuron_layer(u, s, model, beta, theta, reset, reset_decay, alpha, rho, adaptation):
    """Turn the drive ``u`` (T, n) into membranes in place and fill spikes ``s``.

    The feed-forward layer of any model: ``u^t, aux^t, thr^t = neuron_step(...,
    u^{t-1}, aux^{t-1}, s^{t-1}, x^t)`` from a zero state and ``s^t =
    spike(u^t, thr^t)``. The leaky neuron (and the leaky neuron of a
    recurrent layer, whose recurrence :func:`~snninit.models.recurrent.recurrent_layer`
    adds) runs :func:`~snninit.models.leaky.lif_layer` itself.
    """
    if model != SYNAPTIC and model != ADAPTIVE:
        lif_layer(u, s, beta, theta, reset, reset_decay)
        return
    # the model's code as a literal in each branch: after inlining, the compiler drops
    # the other model from the inner loop
    if model == SYNAPTIC:
        _model_layer(u, s, SYNAPTIC, beta, theta, reset, reset_decay, alpha, rho, adaptation)
    else:
        _model_layer(u, s, ADAPTIVE, beta, theta, reset, reset_decay, alpha, rho, adaptation)


@njit(inline="always", cache=True)
def _model_layer(u, s, model, beta, theta, reset, reset_decay, alpha, rho, adaptation):
    T, n = u.shape
    aux = np.zeros(n)
    for t in range(T):
        # and the reset code likewise (as in leaky.lif_layer)
        if reset == RESET_SUBTRACT:
            _row(u, s, aux, t, model, beta, theta, RESET_SUBTRACT, reset_decay, alpha, rho,
                 adaptation)
        elif reset == RESET_ZERO:
            _row(u, s, aux, t, model, beta, theta, RESET_ZERO, reset_decay, alpha, rho,
                 adaptation)
        else:
            _row(u, s, aux, t, model, beta, theta, RESET_NONE, reset_decay, alpha, rho,
                 adaptation)


@njit(inline="always", cache=True)
def _row(u, s, aux, t, model, beta, theta, reset, reset_decay, alpha, rho, adaptation):
    for i in range(u.shape[1]):
        if t == 0:
            u_prev, s_prev = 0.0, 0.0
        else:
            u_prev, s_prev = u[t - 1, i], float(s[t - 1, i])
        v, a, thr = neuron_step_jit(model, u_prev, aux[i], s_prev, u[t, i], beta, theta, reset,
                                    reset_decay, alpha, rho, adaptation)
        u[t, i] = v
        aux[i] = a
        s[t, i] = 1 if spike_jit(v, thr) else 0
