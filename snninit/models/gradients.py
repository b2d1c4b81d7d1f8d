"""The leaky neuron's backward step (BPTT) and the arctan surrogate, defined once.

The trainer's backward kernel (:mod:`snninit.training.layers`) and the
backward mean field (:mod:`snninit.theory.backward`) both run these, so the
gradient of the neuron of :mod:`snninit.models.leaky` has one definition.

With ``g^t = ds^t/du^t`` the surrogate at ``u^t``, ``G^t = dL/ds^t`` from the
layer above and ``d^{t+1} = dL/du^{t+1}``::

    d^t = g^t G^t + lambda^t d^{t+1}                       (detached reset, default)
    d^t = g^t (G^t + rho^t d^{t+1}) + lambda^t d^{t+1}     (reset kept in the graph)

``lambda^t = du^{t+1}/du^t`` at fixed spikes: ``beta`` (subtract, none) or
``beta (1 - s^t)`` (zero); ``rho^t = du^{t+1}/ds^t``: ``-k theta`` (subtract,
``k = beta`` with ``reset_decay``), ``-beta u^t`` (zero), ``0`` (none). The
arctan surrogate (snntorch's ``atan``) is ``g = (alpha / 2) / (1 + (pi alpha
(u - theta) / 2)^2)``. The ``*_jit`` forms are inlined into numba kernels;
``one`` is 1 in the arrays' dtype, so that float32 arrays are updated in
float32 arithmetic.
"""

from __future__ import annotations

from numba import njit

from .leaky import RESET_SUBTRACT, RESET_ZERO

__all__ = ["arctan_slope", "arctan_slope_jit", "membrane_grad", "membrane_grad_jit"]


def arctan_slope(u, theta, api, alpha_half, one):
    """The arctan surrogate ``alpha_half / (one + (api (u - theta))^2)``.

    ``api = pi alpha / 2``, ``alpha_half = alpha / 2`` (precomputed in the
    arrays' dtype by the caller).
    """
    x = api * (u - theta)
    return alpha_half / (one + x * x)


def membrane_grad(g, grad_s, grad_next, u, r, beta, kt, one, reset, keep_reset):
    """``dL/du^t`` of one step (module docstring).

    ``g`` the surrogate at ``u = u^t``, ``grad_s = dL/ds^t``, ``grad_next =
    dL/du^{t+1}``, ``r`` the reset signal ``s^t``, ``kt = k theta``, ``reset``
    an integer code of :data:`~snninit.models.leaky.RESET_CODES`.
    """
    if keep_reset and reset == RESET_SUBTRACT:
        return g * (grad_s - kt * grad_next) + beta * grad_next
    if keep_reset and reset == RESET_ZERO:
        return g * (grad_s - beta * u * grad_next) + beta * (one - r) * grad_next
    if reset == RESET_ZERO:
        return g * grad_s + beta * (one - r) * grad_next
    return g * grad_s + beta * grad_next


arctan_slope_jit = njit(inline="always", cache=True)(arctan_slope)
membrane_grad_jit = njit(inline="always", cache=True)(membrane_grad)
