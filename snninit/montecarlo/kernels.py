"""Small, pure numba kernels of the Monte Carlo engine (arrays in, arrays out).

Layout: every per-layer array is ``(T, n)`` (time major), so the inner loops
run over neurons on contiguous memory. Spikes are ``uint8`` (0/1). Nothing
here validates its input: :mod:`snninit.montecarlo.engine` does that at the
public boundary. All kernels release the GIL (``nogil=True``) so the engine
can run independent repetitions on several threads, and compile once into
numba's on-disk cache (``cache=True``).

Random numbers come from a :class:`numpy.random.Generator` passed in by the
caller (numba supports its ``standard_normal`` / ``random`` methods in
nopython mode). Each repetition owns one generator, consumed in a fixed
order, so the numbers never depend on which thread runs the repetition.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..models.dense import matrix_drive
from ..models.leaky import RESET_NONE, RESET_SUBTRACT, RESET_ZERO, lif_layer
from ..models.neurons import RECURRENT, neuron_layer
from ..models.recurrent import recurrent_layer_drawn
from ..models.statistics import layer_moments

__all__ = [
    "RESET_SUBTRACT",
    "RESET_ZERO",
    "RESET_NONE",
    "lif_layer",
    "layer_moments",
    "dense_drive",
    "matrix_drive",
    "gram_drive",
    "pivoted_cholesky",
    "draw_matrix",
    "simulate_rep",
]


METHOD_DENSE = 0
METHOD_GRAM = 1

_NOPY = dict(nogil=True, cache=True, fastmath=False, error_model="numpy")


@njit(**_NOPY)
def dense_drive(gen, s_prev, mu, sd, uniform, out):
    """Drive ``out[t] = W s_prev[t]`` with a freshly drawn ``W`` (n_out, n_in).

    ``W`` is drawn column by column (column ``j`` = the ``n_out`` weights
    leaving presynaptic neuron ``j``), each column added only into the time
    steps at which neuron ``j`` spiked (event-driven); one column is held at a
    time, never the whole matrix. The column of a neuron that spikes at no
    step is not drawn at all: it multiplies only zeros, so skipping it leaves
    the distribution of everything else unchanged (and saves the random
    numbers). Weights: ``mu + sd z``, ``z`` standard normal, or
    ``mu + (sd sqrt(3)) (2U - 1)`` (uniform, same variance) when ``uniform``.
    """
    T, n_in = s_prev.shape
    n_out = out.shape[1]
    out[:, :] = 0.0
    col = np.empty(n_out)
    times = np.empty(T, dtype=np.int64)
    half_width = sd * math.sqrt(3.0)
    for j in range(n_in):
        m = 0
        for t in range(T):
            if s_prev[t, j] != 0:
                times[m] = t
                m += 1
        if m == 0:
            continue
        if uniform:
            for i in range(n_out):
                col[i] = mu + half_width * (2.0 * gen.random() - 1.0)
        else:
            for i in range(n_out):
                col[i] = mu + sd * gen.standard_normal()
        for q in range(m):
            t = times[q]
            for i in range(n_out):
                out[t, i] += col[i]


@njit(**_NOPY)
def draw_matrix(gen, mu, sd, uniform, out):
    """Fill ``out`` with iid weights, row by row (``dense_drive``'s law)."""
    half_width = sd * math.sqrt(3.0)
    n_out, n_in = out.shape
    for i in range(n_out):
        for j in range(n_in):
            if uniform:
                out[i, j] = mu + half_width * (2.0 * gen.random() - 1.0)
            else:
                out[i, j] = mu + sd * gen.standard_normal()


@njit(**_NOPY)
def pivoted_cholesky(a, rel_tol):
    """Factor a symmetric PSD ``a`` (d, d) as ``a ~= F F^T`` with diagonal pivoting.

    Returns ``(F, rank)``: ``F`` is ``(d, d)`` with only its first ``rank``
    columns used, rows in the original order. Elimination stops when the
    largest remaining Schur-complement pivot is ``<= rel_tol * max(diag a)``,
    so an exactly singular ``a`` gets its exact rank instead of a square root
    of rounding noise.
    """
    d = a.shape[0]
    f = np.zeros((d, d))
    resid = np.empty(d)
    for i in range(d):
        resid[i] = a[i, i]
    used = np.zeros(d, dtype=np.bool_)
    scale = 0.0
    for i in range(d):
        scale = max(scale, a[i, i])
    tol = rel_tol * scale
    rank = 0
    for k in range(d):
        p = -1
        best = tol
        for i in range(d):
            if not used[i] and resid[i] > best:
                best = resid[i]
                p = i
        if p < 0:
            break
        used[p] = True
        root = math.sqrt(resid[p])
        f[p, k] = root
        for i in range(d):
            if used[i]:
                continue
            acc = a[i, p]
            for m in range(k):
                acc -= f[i, m] * f[p, m]
            f[i, k] = acc / root
            resid[i] -= f[i, k] * f[i, k]
        rank = k + 1
    return f, rank


@njit(**_NOPY)
def gram_drive(gen, s_prev, mu, s2, rel_tol, out):
    """Sample the drive of ``n_out`` neurons exactly in distribution (Gaussian W).

    With ``S = s_prev`` (T, n_in), the input path of a neuron,
    ``h^t = sum_j W_j s_j^t`` with ``W_j`` iid ``N(mu, s2)``, is Gaussian with
    mean ``mu c_t`` (``c_t = sum_j s_j^t``) and covariance ``s2 K``,
    ``K = S S^T`` (T, T), independently across neurons. Time steps with no
    spike get ``h^t = 0`` exactly; time steps whose spike sets are identical
    (``K_tt = K_t't' = K_tt'``, exact in integers) share one value; the
    remaining ``d`` distinct rows are factored by :func:`pivoted_cholesky`
    (``K_D = F F^T``, rank ``r <= d``) and ``h = mu c + sqrt(s2) F z``,
    ``z ~ N(0, I_r)``. Cost ``O(n_in T^2 + n_out T r)`` instead of
    ``O(n_in n_out)``; for ``T = 1`` it is ``O(n)``.
    """
    T, n_in = s_prev.shape
    n_out = out.shape[1]
    gram = np.zeros((T, T))
    for j in range(n_in):
        for t in range(T):
            if s_prev[t, j] != 0:
                for q in range(t + 1):
                    if s_prev[q, j] != 0:
                        gram[t, q] += 1.0
    for t in range(T):
        for q in range(t):
            gram[q, t] = gram[t, q]
    # representative of each time step: -1 silent, else first identical row
    rep = np.full(T, -1, dtype=np.int64)
    distinct = np.empty(T, dtype=np.int64)
    d = 0
    for t in range(T):
        if gram[t, t] == 0.0:
            continue
        rep[t] = t
        for q in range(d):
            p = distinct[q]
            if gram[p, p] == gram[t, t] and gram[p, t] == gram[t, t]:
                rep[t] = p
                break
        if rep[t] == t:
            distinct[d] = t
            d += 1
    out[:, :] = 0.0
    if d == 0:
        return
    sub = np.empty((d, d))
    for a in range(d):
        for b in range(d):
            sub[a, b] = gram[distinct[a], distinct[b]]
    f, rank = pivoted_cholesky(sub, rel_tol)
    sd = math.sqrt(s2)
    z = np.empty(n_out)
    for m in range(rank):
        for i in range(n_out):
            z[i] = gen.standard_normal()
        for a in range(d):
            c = sd * f[a, m]
            if c == 0.0:
                continue
            t = distinct[a]
            for i in range(n_out):
                out[t, i] += c * z[i]
    for a in range(d):
        t = distinct[a]
        shift = mu * gram[t, t]  # c_t = K_tt for 0/1 spikes
        if shift != 0.0:
            for i in range(n_out):
                out[t, i] += shift
    for t in range(T):
        p = rep[t]
        if p >= 0 and p != t:
            for i in range(n_out):
                out[t, i] = out[p, i]


@njit(**_NOPY)
def simulate_rep(
    gen,
    width,
    steps,
    theta,
    beta,
    reset,
    reset_decay,
    input_factor,
    mu,
    s2,
    method,
    uniform,
    rel_tol,
    model,
    alpha,
    rho,
    adaptation,
    mu_rec,
    s2_rec,
    mean_out,
    var_out,
    skew_out,
    kurt_out,
    spikes_out,
):
    """One independent network (one repetition): all layers, all time steps.

    Draw order from ``gen``: the ``width`` inputs ``I ~ N(0, 1)``, then per
    layer ``1..L`` in order its weights (dense) or input paths (gram) and,
    for ``model == RECURRENT``, its recurrent weights ``V_l`` (``width x
    width``, row by row as its neurons first spike:
    :func:`~snninit.models.recurrent.recurrent_layer_drawn`; dense only). Layer 0 is a layer of the
    neuron ``model`` (:func:`~snninit.models.neurons.neuron_layer`; without
    recurrence) driven by ``input_factor * I`` at every step; layer ``l`` by
    the spikes of layer ``l - 1`` at the same step (and, recurrent, its own
    at the step before). Layers are processed one after another over all
    ``T`` steps, which equals the step-by-step order because nothing feeds
    back from a layer to the one below. Outputs are ``(L+1, T)``.
    """
    layers = mu.shape[0]
    u = np.empty((steps, width))
    s = np.zeros((steps, width), dtype=np.uint8)
    s_prev = np.zeros((steps, width), dtype=np.uint8)
    inputs = np.empty(width)
    for i in range(width):
        inputs[i] = gen.standard_normal()
    for t in range(steps):
        for i in range(width):
            u[t, i] = input_factor * inputs[i]
    neuron_layer(u, s, model, beta, theta, reset, reset_decay, alpha, rho, adaptation)
    layer_moments(u, s, mean_out[0], var_out[0], skew_out[0], kurt_out[0], spikes_out[0])
    rec = np.empty((width, width) if model == RECURRENT else (0, 0))
    for layer in range(1, layers + 1):
        s_prev, s = s, s_prev
        if method == METHOD_GRAM:
            gram_drive(gen, s_prev, mu[layer - 1], s2[layer - 1], rel_tol, u)
        else:
            dense_drive(gen, s_prev, mu[layer - 1], math.sqrt(s2[layer - 1]), uniform, u)
        if model == RECURRENT:
            # V^T row by row as the layer's neurons first spike (a silent one feeds no one)
            recurrent_layer_drawn(u, s, gen, mu_rec[layer - 1], math.sqrt(s2_rec[layer - 1]),
                                  uniform, rec, beta, theta, reset, reset_decay)
        else:
            neuron_layer(u, s, model, beta, theta, reset, reset_decay, alpha, rho, adaptation)
        layer_moments(
            u,
            s,
            mean_out[layer],
            var_out[layer],
            skew_out[layer],
            kurt_out[layer],
            spikes_out[layer],
        )
