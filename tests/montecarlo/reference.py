"""A small, obvious pure-numpy implementation of the LIF stack (test reference)."""

from __future__ import annotations

import numpy as np


def lif_stack(weights, x, *, steps, theta, beta, reset="subtract", reset_decay=False, c=1.0):
    """Membranes and spikes, layer by layer, step by step (DESIGN.md 1b, eq. 13).

    weights[l-1]: (n_l, n_{l-1}); x: (n_0,). Returns lists u[l], s[l] of shape (T, n_l).
    """
    sizes = [x.shape[0]] + [w.shape[0] for w in weights]
    u = [np.zeros((steps, m)) for m in sizes]
    s = [np.zeros((steps, m)) for m in sizes]
    prev_u = [np.zeros(m) for m in sizes]
    prev_s = [np.zeros(m) for m in sizes]
    for t in range(steps):
        for layer in range(len(sizes)):
            if layer == 0:
                drive = c * x
            else:
                w = weights[layer - 1]
                drive = np.zeros(sizes[layer])
                for j in range(sizes[layer - 1]):  # sum spiking columns in index order
                    if s[layer - 1][t, j] > 0:
                        drive = drive + w[:, j]
            if reset == "subtract":
                k = beta if reset_decay else 1.0
                new = beta * prev_u[layer] + drive - k * theta * prev_s[layer]
            elif reset == "zero":
                new = beta * (1.0 - prev_s[layer]) * prev_u[layer] + drive
            else:
                new = beta * prev_u[layer] + drive
            u[layer][t] = new
            s[layer][t] = (new > theta).astype(float)
            prev_u[layer] = new
            prev_s[layer] = s[layer][t]
    return u, s


def dense_network_from_stream(gen, cfg, mean, var):
    """Rebuild the input and weights that method='dense' draws for one repetition.

    Order: the width inputs, then layer by layer, for each presynaptic neuron j
    in index order that spikes at some step, column j of W_l (width numbers).
    Columns of neurons that never spike are not drawn (set to 0 here: they
    multiply only zeros). Returns (x, weights).
    """
    width, uniform = cfg.width, cfg.weights == "uniform"
    c = 1.0 - cfg.beta if cfg.input_scale == "1-beta" else 1.0
    x = gen.standard_normal(width)
    weights = []
    for mu, s2 in zip(mean, var):
        _, s = lif_stack(
            weights,
            x,
            steps=cfg.steps,
            theta=cfg.theta,
            beta=cfg.beta,
            reset=cfg.reset,
            reset_decay=cfg.reset_decay,
            c=c,
        )
        active = s[-1].any(axis=0)
        w = np.zeros((width, width))
        for j in np.flatnonzero(active):
            if uniform:  # same operation order as the kernel, for bit equality
                w[:, j] = mu + (np.sqrt(s2) * np.sqrt(3.0)) * (2.0 * gen.random(width) - 1.0)
            else:
                w[:, j] = mu + np.sqrt(s2) * gen.standard_normal(width)
        weights.append(w)
    return x, weights
