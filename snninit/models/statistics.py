"""Statistics over the neurons of a layer, defined once.

:func:`layer_moments` turns a layer's membranes and spikes (``(T, n)``, time
major) into the per-step statistics every dataset of the package reports:
the across-neuron mean, variance (ddof=0), skewness, excess kurtosis and
spike count. The Monte Carlo engine (:mod:`snninit.montecarlo.kernels`
re-exports it) and the exact data-driven encoding layer of the dynamic mean
field (:mod:`snninit.models.inputs`) run it, so a simulated and a predicted
layer 0 are the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["layer_moments"]


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
