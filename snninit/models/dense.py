"""The dense (fully connected) layer type, defined once.

* :func:`matrix_drive`: the drive ``W s^t`` of a dense layer from the 0/1
  spikes of the layer below, event-driven and summed in a fixed order (no
  BLAS), so the same weights and spikes give the same bits on any machine
  and thread count. The Monte Carlo engine's dense method with materialised
  weights (:mod:`snninit.montecarlo.kernels` re-exports it) and the
  data-driven stacks run it.
* :func:`dense_stack`: one network of DESIGN.md 1b, the encoding layer on
  ``c I`` followed by ``layers`` dense layers of the config's feed-forward neuron
  model (:func:`~snninit.models.neurons.neuron_layer`), whose
  weights a callback chooses layer by layer from the activity below (the
  data-driven protocol: :func:`snninit.theory.rules.data_driven_network`,
  :mod:`snninit.montecarlo.datadriven`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit

from .leaky import RESET_CODES
from .neurons import neuron_layer

__all__ = ["matrix_drive", "dense_stack"]


@njit(nogil=True, cache=True, fastmath=False, error_model="numpy")
def matrix_drive(weights, s_prev, out):
    """Deterministic drive ``out[t] = weights @ s_prev[t]`` (event-driven).

    ``weights`` is ``(n_out, n_in)``, ``s_prev`` ``(T, n_in)``: 0/1 spikes, or
    any real values (a graded input fed straight into the first weight layer,
    :mod:`snninit.models.inputs`). Only the non-zero entries at ``t`` are
    summed, ``weights[i, j] * s_prev[t, j]`` in increasing ``j``; for spikes
    the product is ``weights[i, j]`` exactly, so 0/1 inputs give the bits of
    a plain column sum.
    """
    T, n_in = s_prev.shape
    n_out = weights.shape[0]
    out[:, :] = 0.0
    for t in range(T):
        for i in range(n_out):
            acc = 0.0
            for j in range(n_in):
                if s_prev[t, j] != 0:
                    acc += weights[i, j] * s_prev[t, j]
            out[t, i] = acc


def dense_stack(cfg, rng: np.random.Generator, choose: Callable) -> np.ndarray:
    """Run one network of ``cfg`` whose weights ``choose`` sets from the activity below.

    Layer 0 (encoding) is driven by the constant ``c I``, ``I ~ N(0, 1)^width``
    drawn first from ``rng``. Then for ``l = 1..L``: if layer ``l - 1`` is
    silent (no spike at any step) the network ends (no input can drive the
    layers above: they stay silent); otherwise ``W_l = choose(l - 1, s)``
    with ``s`` the ``(steps, width)`` 0/1 spikes of layer ``l - 1``; ``None``
    ends the network as well, else ``W_l`` (``(width, width)``, row ``i``
    feeds neuron ``i``) drives layer ``l`` through :func:`matrix_drive` and
    the neuron model's layer kernel (``neuron="recurrent"``: ValueError).
    ``choose`` draws the weights from the same ``rng``, so one generator fixes
    the whole network.

    ``cfg`` is a :class:`~snninit.config.NetworkConfig` (assumed valid: the
    callers check it); only ``width``, ``layers``, ``steps``, ``beta``,
    ``theta``, ``reset``, ``reset_decay``, ``input_factor`` and the neuron
    model with its parameters are read.

    Returns
    -------
    ndarray of int64, shape (layers + 1, steps)
        Spike count of every layer at every step (0 above a layer that ended
        the network).
    """
    if cfg.neuron == "recurrent":
        raise ValueError(
            "the data-driven stack has feed-forward layers only; neuron='recurrent' is "
            "not supported here"
        )
    reset = RESET_CODES[cfg.reset]
    code, neuron_params = cfg.neuron_code, cfg.neuron_params
    n, T, L = cfg.width, cfg.steps, cfg.layers
    counts = np.zeros((L + 1, T), dtype=np.int64)
    u = np.empty((T, n))
    s = np.zeros((T, n), dtype=np.uint8)
    u[:, :] = cfg.input_factor * rng.standard_normal(n)[None, :]
    neuron_layer(u, s, code, cfg.beta, cfg.theta, reset, cfg.reset_decay, *neuron_params)
    for layer in range(L):
        counts[layer] = s.sum(axis=1)
        if not s.any():
            return counts
        w = choose(layer, s)
        if w is None:
            return counts
        s_next = np.zeros((T, n), dtype=np.uint8)
        u = np.empty((T, n))
        matrix_drive(w, s, u)
        neuron_layer(u, s_next, code, cfg.beta, cfg.theta, reset, cfg.reset_decay,
                     *neuron_params)
        s = s_next
    counts[L] = s.sum(axis=1)
    return counts
