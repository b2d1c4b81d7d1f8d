"""Statistics over the neurons of a layer, defined once.

:func:`layer_moments` turns a layer's membranes and spikes (``(T, n)``, time
major) into the per-step statistics every dataset of the package reports:
the across-neuron mean, variance (ddof=0), skewness, excess kurtosis and
spike count. The Monte Carlo engine (:mod:`snninit.montecarlo.kernels`
re-exports it) and the exact data-driven encoding layer of the dynamic mean
field (:mod:`snninit.models.inputs`) run it, so a simulated and a predicted
layer 0 are the same numbers.

:func:`pair_statistics` turns the spike moments of one layer under two
inputs (the rates ``m`` and the joint second moments ``C`` over a ``2T``
path: input ``a``'s steps, then input ``b``'s) into the correlations of the
two responses; the two-input correlation map of the theory
(:func:`snninit.theory.correlation_map`) and its simulation
(:func:`snninit.montecarlo.simulate_correlation`) both call it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["layer_moments", "pair_statistics", "pair_moments", "PAIR_VARIABLES"]

#: The statistics of a pair of responses (:func:`pair_statistics`).
PAIR_VARIABLES = ("similarity", "corr_spikes", "corr_counts")


@njit(nogil=True, cache=True, fastmath=False, error_model="numpy")
def layer_moments(u, s, mean_out, var_out, skew_out, kurt_out, spikes_out):
    """Moments over neurons of each time row of ``u`` (T, n), and spike counts.

    ``var`` uses ddof=0 (two passes, for accuracy); ``skew = m3 / m2^1.5``,
    ``kurt = m4 / m2^2 - 3`` (excess). When all ``n`` membranes of a row are
    exactly equal, ``var = 0`` and skew/kurt are undefined: NaN.

    The centred deviations are scaled by a power of two near ``1 / max|u - mean|``
    before they are raised to the 3rd and 4th power, so ``m4`` neither
    overflows (membranes of 1e90: ``d^4 = 1e360``) nor underflows (1e-90)
    and skew/kurt are finite wherever ``var > 0``. Multiplying by a power of
    two is exact, and the scale is 1 for ``max|u - mean|`` in
    ``[2^-100, 2^100]``, so ordinary rows give the same bits as unscaled.
    """
    T, n = u.shape
    for t in range(T):
        total = 0.0
        lo = u[t, 0]
        hi = u[t, 0]
        count = 0
        for i in range(n):
            v = u[t, i]
            total += v
            lo = min(lo, v)
            hi = max(hi, v)
            count += s[t, i]
        mean = total / n
        spikes_out[t] = count
        mean_out[t] = mean
        if lo == hi:
            # identical values: exactly zero spread (avoid rounding noise in mean)
            mean_out[t] = lo
            var_out[t] = 0.0
            skew_out[t] = np.nan
            kurt_out[t] = np.nan
            continue
        spread = max(hi - mean, mean - lo)
        inv = 1.0
        scale2 = 1.0
        if spread > 2.0**100 or spread < 2.0**-100:
            e = math.frexp(spread)[1]
            inv = math.ldexp(1.0, -e)
            scale2 = math.ldexp(1.0, 2 * e)
        m2 = 0.0
        m3 = 0.0
        m4 = 0.0
        for i in range(n):
            d = (u[t, i] - mean) * inv
            d2 = d * d
            m2 += d2
            m3 += d2 * d
            m4 += d2 * d2
        m2 /= n
        m3 /= n
        m4 /= n
        var_out[t] = m2 * scale2
        skew_out[t] = m3 / (m2 * math.sqrt(m2))
        kurt_out[t] = m4 / (m2 * m2) - 3.0


def pair_moments(spikes_a: np.ndarray, spikes_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(m, C)`` over the neurons of one layer's spikes under two inputs.

    ``spikes_a``, ``spikes_b``: ``(T, n)`` (0/1 or graded). ``m`` (2T,): the
    mean over neurons of ``y = [y_a; y_b]`` at each of the ``2T`` steps;
    ``C`` (2T, 2T): ``mean_j y^t_j y^t'_j`` (uncentred, as in the dynamic
    mean field, where it is the next layer's drive covariance per unit fan-in).
    """
    y = np.concatenate([np.asarray(spikes_a, float), np.asarray(spikes_b, float)], axis=0)
    n = y.shape[1]
    return y.mean(axis=1), (y @ y.T) / n


def pair_statistics(m: np.ndarray, c: np.ndarray) -> dict[str, np.ndarray]:
    """The correlations of two responses from their joint spike moments.

    Parameters
    ----------
    m : ndarray, shape (..., 2T)
        Mean over neurons of the spikes, input ``a``'s ``T`` steps then ``b``'s.
    c : ndarray, shape (..., 2T, 2T)
        Uncentred second moments ``E_j[y^t_j y^t'_j]``.

    Returns
    -------
    dict of ndarray
        - ``similarity`` (..., T): ``C_ab(t, t) / sqrt(C_aa(t, t) C_bb(t, t))``,
          the cosine of the two spike patterns at step ``t``; with Gaussian
          weights it is the correlation of the two drives of the *next*
          layer (their covariance is ``n s2 C``), the spiking network's
          normalised NNGP kernel;
        - ``corr_spikes`` (..., T): the Pearson correlation over neurons of
          the two spike patterns at step ``t``, ``(C_ab - m_a m_b) / sqrt((C_aa
          - m_a^2)(C_bb - m_b^2))``;
        - ``corr_counts`` (...): the Pearson correlation over neurons of the
          spike counts summed over the ``T`` steps (what a rate read-out sees).

        NaN where a response has no spread (a silent layer, or every neuron alike).
    """
    m = np.asarray(m, float)
    c = np.asarray(c, float)
    T = m.shape[-1] // 2
    a, b = slice(0, T), slice(T, 2 * T)
    diag = np.diagonal(c, axis1=-2, axis2=-1)
    cab = np.diagonal(c[..., a, b], axis1=-2, axis2=-1)
    ma, mb = m[..., a], m[..., b]
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = cab / np.sqrt(diag[..., a] * diag[..., b])
        va, vb = diag[..., a] - ma * ma, diag[..., b] - mb * mb
        spikes = (cab - ma * mb) / np.sqrt(va * vb)
        ca = c[..., a, a].sum(axis=(-2, -1)) - ma.sum(-1) ** 2
        cb = c[..., b, b].sum(axis=(-2, -1)) - mb.sum(-1) ** 2
        cross = c[..., a, b].sum(axis=(-2, -1)) - ma.sum(-1) * mb.sum(-1)
        counts = cross / np.sqrt(ca * cb)
    tiny = 1e-12  # a spread below rounding: no correlation can be stated
    spikes = np.where((va > tiny) & (vb > tiny), spikes, np.nan)
    counts = np.where((ca > tiny) & (cb > tiny), counts, np.nan)
    sim = np.where((diag[..., a] > tiny) & (diag[..., b] > tiny), sim, np.nan)
    return {"similarity": sim, "corr_spikes": spikes, "corr_counts": counts}
