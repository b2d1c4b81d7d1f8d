"""The arctan surrogate gradient (Fang et al. 2021; snntorch's ``atan``).

The forward pass of a spiking neuron is the Heaviside step
``s = H(u - theta)``; its derivative is replaced in the backward pass by

    dS/dU = (alpha / 2) / (1 + (pi alpha (u - theta) / 2)^2),

the derivative of the smooth step

    sigma(u) = 1/2 + arctan(pi alpha (u - theta) / 2) / pi,

which tends to ``H(u - theta)`` as ``alpha -> inf``. ``alpha = 2`` is the
default (snntorch's). The smooth step is used by the tests: a network whose
forward pass uses ``sigma`` instead of ``H`` has exactly the surrogate as its
true derivative, so the hand-written backward pass can be checked by finite
differences.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_numeric_array, check_real
from ..config import check_limit

__all__ = ["arctan_surrogate", "arctan_step"]


def _args(u, theta, alpha):
    """``u`` as a numeric array and its result dtype; ``theta`` and ``alpha`` checked."""
    arr = check_numeric_array("u", u, "a number or a numeric array (membrane potentials)")
    theta = check_limit("theta", theta)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
    return arr, dtype, theta, alpha


def arctan_surrogate(u, theta: float = 1.0, alpha: float = 2.0):
    """Surrogate derivative ``(alpha/2) / (1 + (pi alpha (u - theta)/2)^2)`` (elementwise).

    ``theta`` finite and >= 0, ``alpha`` finite and > 0 (one-line ``ValueError`` otherwise).
    """
    u, dtype, theta, alpha = _args(u, theta, alpha)
    x = (np.pi * alpha / 2) * (u - theta)
    return ((alpha / 2) / (1 + x * x)).astype(dtype, copy=False)


def arctan_step(u, theta: float = 1.0, alpha: float = 2.0):
    """Smooth step ``1/2 + arctan(pi alpha (u - theta)/2) / pi``: the surrogate integrated.

    Same arguments as :func:`arctan_surrogate`.
    """
    u, dtype, theta, alpha = _args(u, theta, alpha)
    return (0.5 + np.arctan((np.pi * alpha / 2) * (u - theta)) / np.pi).astype(dtype, copy=False)
