"""The recurrent layer (snntorch's ``RLeaky`` with all-to-all recurrence), defined once.

The leaky neuron of :mod:`snninit.models.leaky` whose drive adds the
previous step's spikes of its own layer through recurrent weights ``V``
(``n x n``, row ``i`` feeds neuron ``i``, the diagonal included as in
``RLeaky(all_to_all=True)``'s ``nn.Linear``)::

    u^t = membrane_update(u^{t-1}, s^{t-1}, x^t + V s^{t-1})
        = beta u^{t-1} + x^t + V s^{t-1} - theta s^{t-1}     (subtract)
    s^t = H(u^t - theta)

with ``x^t`` the feed-forward drive ``W s_{l-1}^t``. Unlike the feed-forward
models, a neuron's input path now depends on the layer's own spikes, which
depend on ``V``: given the presynaptic raster the paths are not Gaussian with a
known covariance, so the ``gram`` sampler does not apply (the engine refuses
it), and the dynamic mean field is causal in time (the recurrent input at
``t`` has the covariance of the layer's own spikes at ``t - 1``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._checks import check_bool, check_choice, check_int, check_real
from .leaky import RESETS, membrane_update_jit, spike_jit

__all__ = ["recurrent_layer", "recurrent_layer_drawn", "check_kicked_layer",
           "KICKED_LAYER_DEFAULTS"]

#: The kicked layer's default neuron and protocol, once for the prediction and the
#: simulation (and the critical gain): their signatures take these values.
KICKED_LAYER_DEFAULTS = {"beta": 0.5, "theta": 1.0, "reset": "subtract", "reset_decay": False,
                         "steps": 100, "kick": 2.0}


def check_kicked_layer(gain, beta, theta, reset, reset_decay, steps, kick):
    """Validate the kicked recurrent layer's parameters (one definition of the protocol).

    The protocol of :mod:`snninit.theory.sustained` (the prediction) and
    :mod:`snninit.montecarlo.sustained` (the simulation): one recurrent layer,
    ``u^0 ~ N(0, kick^2)`` per neuron, then only the recurrent input ``V
    s^{t-1}`` with ``V`` i.i.d., mean 0, variance ``gain / n``. Returns the
    values (``gain`` in [0, 1e6], ``beta`` in [0, 1], ``theta`` >= 0, a reset
    of ``RESETS``, ``steps`` in [2, 2000], ``kick`` > 0) or raises a one-line
    ``ValueError`` naming the parameter.
    """
    gain = check_real("gain", gain, low=0.0, high=1e6)
    beta = check_real("beta", beta, low=0.0, high=1.0)
    theta = check_real("theta", theta, low=0.0, high=1e6)
    check_choice("reset", reset, RESETS)
    reset_decay = check_bool("reset_decay", reset_decay)
    steps = check_int("steps", steps, low=2, high=2000)
    kick = check_real("kick", kick, low=0.0, high=1e6, low_open=True)
    return gain, beta, theta, reset, reset_decay, steps, kick


@njit(nogil=True, cache=True, fastmath=False, error_model="numpy")
def recurrent_layer(u, s, v_t, beta, theta, reset, reset_decay):
    """Turn the feed-forward drive ``u`` (T, n) into membranes in place and fill ``s``.

    ``v_t`` is ``V`` transposed: row ``j`` holds the weights leaving neuron
    ``j`` (contiguous, so a spike adds one row). At ``t >= 1`` neuron ``i``'s
    drive is ``u[t, i] + sum_j V[i, j] s[t-1, j]``, the sum over the neurons that
    spiked at ``t - 1`` in increasing ``j`` (event-driven, a fixed order: the
    same bits on any machine).
    """
    T, n = u.shape
    acc = np.empty(n)
    _first_step(u, s, theta)
    for t in range(1, T):
        _step(u, s, t, v_t, acc, beta, theta, reset, reset_decay)


@njit(nogil=True, cache=True, fastmath=False, error_model="numpy")
def recurrent_layer_drawn(u, s, gen, mu, sd, uniform, v_t, beta, theta, reset, reset_decay):
    """:func:`recurrent_layer` with ``V`` drawn i.i.d. from ``gen`` as it is needed.

    Row ``j`` of ``v_t`` (the weights leaving neuron ``j``: ``mu + sd z``, or
    uniform of the same mean and variance) is drawn when neuron ``j`` first
    spikes at a step before the last, in increasing ``j`` within a step. A
    neuron that never does so feeds no one, so its row is never drawn: the
    same law for everything else, and no random numbers spent on it (as the
    engine's feed-forward ``dense_drive`` skips silent columns). ``v_t``
    (n, n) is work space.
    """
    T, n = u.shape
    acc = np.empty(n)
    drawn = np.zeros(n, dtype=np.uint8)
    half_width = sd * np.sqrt(3.0)
    _first_step(u, s, theta)
    for t in range(1, T):
        for j in range(n):
            if s[t - 1, j] != 0 and drawn[j] == 0:
                drawn[j] = 1
                if uniform:
                    for i in range(n):
                        v_t[j, i] = mu + half_width * (2.0 * gen.random() - 1.0)
                else:
                    for i in range(n):
                        v_t[j, i] = mu + sd * gen.standard_normal()
        _step(u, s, t, v_t, acc, beta, theta, reset, reset_decay)


@njit(inline="always", cache=True)
def _first_step(u, s, theta):
    # no recurrent input yet: the membrane is the drive
    for i in range(u.shape[1]):
        s[0, i] = 1 if spike_jit(u[0, i], theta) else 0


@njit(inline="always", cache=True)
def _step(u, s, t, v_t, acc, beta, theta, reset, reset_decay):
    """Step ``t >= 1`` of the recurrent layer: add the rows of last step's spikes, update."""
    n = u.shape[1]
    acc[:] = 0.0
    for j in range(n):
        if s[t - 1, j] != 0:
            for i in range(n):
                acc[i] += v_t[j, i]
    for i in range(n):
        val = membrane_update_jit(u[t - 1, i], s[t - 1, i], u[t, i] + acc[i], beta, theta,
                                  reset, reset_decay)
        u[t, i] = val
        s[t, i] = 1 if spike_jit(val, theta) else 0
