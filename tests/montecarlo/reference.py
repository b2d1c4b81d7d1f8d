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


def dense_weights_from_stream(gen, mean, var, width, uniform=False):
    """Rebuild the weights that method='dense' draws after the inputs.

    Column j of W_l (the weights leaving neuron j) is drawn as width numbers.
    """
    out = []
    for mu, s2 in zip(mean, var):
        if uniform:  # same operation order as the kernel, for bit equality
            w = mu + (np.sqrt(s2) * np.sqrt(3.0)) * (2.0 * gen.random((width, width)) - 1.0)
        else:
            w = mu + np.sqrt(s2) * gen.standard_normal((width, width))
        out.append(w.T)  # row j of the draw = column j of W
    return out
