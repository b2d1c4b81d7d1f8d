"""Tolerances for the statistical tests of the theory package."""

from __future__ import annotations

import numpy as np
from scipy import stats


def z_bound(false_failure_rate: float, checks: int) -> float:
    """Two-sided z such that ``checks`` independent |z| tests all pass with prob. 1 - rate."""
    return float(stats.norm.isf(false_failure_rate / (2 * checks)))


def free_membranes(rng, w, nu, beta, steps, reps, bernoulli, alpha=0.0):
    """``u^{T-1}``, shape (neurons, reps), of the free membrane ``u = sum_j w_j y_j``.

    ``y_j = sum_k eps[T-1-k] c_j^k``: each row of ``w`` (neurons, n) is fixed,
    the spike counts ``c`` (Bernoulli or Poisson of rate ``nu``, one number or
    one per input) are fresh per repetition. ``eps[k] = beta^k`` (leaky) or,
    with ``alpha > 0``, ``sum_{j<=k} alpha^j beta^(k-j)`` (the synaptic
    current ``I = alpha I + c`` into ``u = beta u + I``), written out here
    independently of the package.
    """
    k = np.arange(steps)
    eps = np.array([sum(alpha**j * beta ** (m - j) for j in range(m + 1)) for m in k])
    kernel = eps[::-1]
    neurons, n = w.shape
    rate = np.broadcast_to(np.asarray(nu, dtype=float), (n,))[None, :, None]
    u = np.empty((neurons, reps))
    for i in range(neurons):
        shape = (reps, n, steps)
        counts = rng.binomial(1, rate, shape) if bernoulli else rng.poisson(rate, shape)
        u[i] = (counts @ kernel) @ w[i]
    return u
