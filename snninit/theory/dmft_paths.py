"""The dynamic mean field's path machinery (DESIGN 3c): layer 0 exactly, hidden layers on paths.

Shared by :func:`~snninit.theory.dynamic_mean_field`, the ``dmft`` rule and the
break-up analysis: the exact piecewise-affine integration of the encoding
layer over ``I ~ N(0, 1)``, the numba kernel that runs the neuron of
:mod:`snninit.models` on Gaussian input paths and accumulates their moments
and spike correlations, the scrambled-Sobol normals and the covariance
factor of the paths.
"""

from __future__ import annotations

import math
import warnings

import numba
import numpy as np
from scipy import special
from scipy.stats import qmc

from ..config import NetworkConfig
from ..models import (
    RESET_CODES,
    membrane_update_jit,
    neuron_step,
    neuron_step_jit,
    spike_jit,
)
from .rules import survival

# --------------------------------------------------------------------------
# small shared pieces
# --------------------------------------------------------------------------


def _firing_probability(mean: float, var: float, theta: float) -> float:
    """``P(N(mean, var) > theta)``; for ``var == 0`` the strict step of ``mean``."""
    if var > 0:
        return float(survival((theta - mean) / math.sqrt(var)))
    return 1.0 if mean > theta else 0.0


def _shape_from_raw(m1, m2, m3, m4):
    """Variance, skewness and excess kurtosis from raw moments ``E[u^k]``.

    Skewness and kurtosis are NaN where the variance is 0 (undefined there,
    as for a simulation whose layer is silent).
    """
    var = np.maximum(m2 - m1 * m1, 0.0)
    c3 = m3 - 3.0 * m1 * m2 + 2.0 * m1**3
    c4 = m4 - 4.0 * m1 * m3 + 6.0 * m1 * m1 * m2 - 3.0 * m1**4
    # relative tolerance: var below rounding of E[u^2] counts as 0
    ok = var > 1e-12 * np.maximum(m2, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = np.where(ok, c3 / np.where(ok, var, 1.0) ** 1.5, np.nan)
        kurt = np.where(ok, c4 / np.where(ok, var, 1.0) ** 2 - 3.0, np.nan)
    return var, skew, kurt


#: Values whose magnitude lies in ``[2^-_SCALE_EXP, 2^_SCALE_EXP]`` are never rescaled.
_SCALE_EXP = 100


def _pow2_scale(size) -> np.ndarray:
    """A power of two near ``size`` (elementwise), 1 where ``size`` is moderate, 0 or not finite.

    Dividing by it before raising to the 4th power keeps raw and central
    moments inside the float range (membranes of 1e98 have ``u^4 = 1e392``).
    A power of two scales exactly, and ordinary magnitudes are left alone, so
    results that did not overflow keep their bits.
    """
    size = np.abs(np.asarray(size, dtype=float))
    exp = np.frexp(np.where(np.isfinite(size) & (size > 0), size, 1.0))[1]
    moderate = np.abs(exp) <= _SCALE_EXP
    return np.ldexp(1.0, np.where(moderate, 0, exp))


# --------------------------------------------------------------------------
# layer 0: exact piecewise-affine integration over I ~ N(0, 1)
# --------------------------------------------------------------------------


def _truncated_moments(lo: np.ndarray, hi: np.ndarray, kmax: int = 4) -> np.ndarray:
    """``M_k = int_lo^hi x^k phi(x) dx`` for ``k = 0..kmax`` (rows), per interval.

    Recursion ``M_k = (k-1) M_{k-2} + lo^{k-1} phi(lo) - hi^{k-1} phi(hi)``.
    Tail masses use ``ndtr`` on the side that avoids cancellation.
    """
    phi_lo = np.where(np.isfinite(lo), np.exp(-0.5 * np.where(np.isfinite(lo), lo, 0) ** 2), 0.0)
    phi_hi = np.where(np.isfinite(hi), np.exp(-0.5 * np.where(np.isfinite(hi), hi, 0) ** 2), 0.0)
    phi_lo = phi_lo / math.sqrt(2 * math.pi)
    phi_hi = phi_hi / math.sqrt(2 * math.pi)
    upper = lo > 0
    mass = np.where(
        upper, special.ndtr(-lo) - special.ndtr(-hi), special.ndtr(hi) - special.ndtr(lo)
    )
    lo_f = np.where(np.isfinite(lo), lo, 0.0)
    hi_f = np.where(np.isfinite(hi), hi, 0.0)
    out = np.empty((kmax + 1, lo.size))
    out[0] = mass
    if kmax >= 1:
        out[1] = phi_lo - phi_hi
    for k in range(2, kmax + 1):
        out[k] = (k - 1) * out[k - 2] + lo_f ** (k - 1) * phi_lo - hi_f ** (k - 1) * phi_hi
    return out


def _encoding_layer(cfg: NetworkConfig):
    """Exact moments and spike correlation of layer 0 over ``I ~ N(0, 1)``.

    Every neuron model of :mod:`snninit.models` (the encoding layer of a
    recurrent network has no recurrence): on an interval of ``I`` on which the
    spike train so far is constant, the membrane and the model's second state
    (the synaptic current, which is affine in ``I`` too, or the adaptation,
    a function of the spike train only) follow :func:`~snninit.models.neuron_step`,
    applied to the slope (drive ``c``, threshold 0) and to the intercept
    (drive 0); the spike threshold (``theta``, or the adaptive one) is the
    intercept run's.

    Returns ``(mean, var, rate, skew, kurt)`` arrays of shape ``(T,)`` and the
    correlation ``C_0`` of shape ``(T, T)``.
    """
    T, theta, beta, c = cfg.steps, cfg.theta, cfg.beta, cfg.input_factor
    model, reset = cfg.neuron_code, RESET_CODES[cfg.reset]
    params = cfg.neuron_params
    lo = np.array([-np.inf])
    hi = np.array([np.inf])
    # membrane of the previous step, affine in I: u = a I + b; the model's second
    # state likewise (aux_a I + aux_b)
    a = np.zeros(1)
    b = np.zeros(1)
    aux_a = np.zeros(1)
    aux_b = np.zeros(1)
    s_prev = np.zeros(1)
    history = np.zeros((1, T))
    raw = np.zeros((5, T))
    for t in range(T):
        a, aux_a, _ = neuron_step(model, a, aux_a, s_prev, c, beta, 0.0, reset, cfg.reset_decay,
                                  *params)
        # the reset term only moves the intercept: apply it to b with drive 0
        b, aux_b, thr = neuron_step(model, b, aux_b, s_prev, 0.0, beta, theta, reset,
                                    cfg.reset_decay, *params)
        a, aux_a, aux_b = (np.broadcast_to(x, lo.shape).copy() for x in (a, aux_a, aux_b))
        thr = np.broadcast_to(thr, lo.shape).copy()
        # split intervals at the crossing a I + b = threshold (a >= 0 always)
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = np.where(a > 0, (thr - b) / np.where(a > 0, a, 1.0), np.nan)
        split = (a > 0) & (cross > lo) & (cross < hi)
        if np.any(split):
            idx = np.flatnonzero(split)
            new_lo = cross[idx]
            new_hi = hi[idx].copy()
            hi = hi.copy()
            hi[idx] = cross[idx]
            lo = np.concatenate([lo, new_lo])
            hi = np.concatenate([hi, new_hi])
            a, b, aux_a, aux_b, thr = (np.concatenate([x, x[idx]]) for x in (a, b, aux_a, aux_b,
                                                                              thr))
            history = np.concatenate([history, history[idx]])
            if lo.size > 1_000_000:
                raise ValueError(
                    f"steps={T} is too many for the exact encoding-layer integration "
                    "(more than 1e6 distinct spike trains)"
                )
        # spike on the interval: decide at an interior point (u is affine there)
        with np.errstate(invalid="ignore"):  # -inf + inf on the unsplit line
            mid = np.where(
                np.isfinite(lo) & np.isfinite(hi),
                0.5 * (lo + hi),
                np.where(np.isfinite(lo), lo + 1.0, np.where(np.isfinite(hi), hi - 1.0, 0.0)),
            )
        s = ((a * mid + b) > thr).astype(float)
        history[:, t] = s
        m = _truncated_moments(lo, hi)
        # E[(a I + b)^k; interval] = sum_j binom(k, j) a^j b^(k-j) M_j
        for k in range(5):
            acc = np.zeros(lo.size)
            for j in range(k + 1):
                acc += math.comb(k, j) * a**j * b ** (k - j) * m[j]
            raw[k, t] = acc.sum()
        s_prev = s
    mass = _truncated_moments(lo, hi, kmax=0)[0]
    corr = (history * mass[:, None]).T @ history
    m1, m2, m3, m4 = raw[1], raw[2], raw[3], raw[4]
    var, skew, kurt = _shape_from_raw(m1, m2, m3, m4)
    rate = np.diag(corr).copy()
    # t = 0 in closed form (u_0^0 = c I) so that steps=1 matches mean_field bit for bit
    var[0], m1[0] = c * c, 0.0
    rate[0] = _firing_probability(0.0, c * c, theta)
    corr[0, 0] = rate[0]
    if c > 0:
        skew[0], kurt[0] = 0.0, 0.0
    return m1, var, rate, skew, kurt, corr


# --------------------------------------------------------------------------
# hidden layers: randomised QMC over Gaussian input paths (numba kernel)
# --------------------------------------------------------------------------


@numba.njit(inline="always", cache=True)
def _add_moments(acc, t, us):
    """Add the powers 1..4 of the scaled membrane ``us`` at step ``t`` to ``acc`` (4, T)."""
    u2 = us * us
    acc[0, t] += us
    acc[1, t] += u2
    acc[2, t] += u2 * us
    acc[3, t] += u2 * u2


@numba.njit(inline="always", cache=True)
def _store_group(k, acc, cnt, m, raw, corr):
    """Group ``k``'s path means: raw moments from ``acc``, the correlation from ``cnt``."""
    steps = acc.shape[1]
    for j in range(4):
        for t in range(steps):
            raw[k, j, t] = acc[j, t] / m
    for t in range(steps):
        for t2 in range(steps):
            corr[k, t, t2] = cnt[t, t2] / m


@numba.njit(cache=True)
def _layer_kernel(z, factor_t, drive, inv_scale, beta, theta, reset, reset_decay, raw, corr,
                  model, alpha, rho, adaptation):
    """Run the neuron ``model`` (:func:`~snninit.models.neuron_step`) on every input path.

    :func:`_periodic_layer_kernel` with one neuron run over all the path's steps.
    """
    _periodic_layer_kernel(z, factor_t, drive, inv_scale, beta, theta, reset, reset_decay, raw,
                           corr, model, alpha, rho, adaptation, z.shape[2])


@numba.njit(cache=True)
def _periodic_layer_kernel(z, factor_t, drive, inv_scale, beta, theta, reset, reset_decay, raw,
                           corr, model, alpha, rho, adaptation, period):
    """Run the neuron ``model`` (:func:`~snninit.models.neuron_step`) on every input path.

    The neuron starts from a zero state every ``period`` steps: a path of
    ``2T`` steps with ``period = T`` is the same neuron under two inputs
    (jointly Gaussian drives, :mod:`~snninit.theory.correlation`).

    Input paths ``h = drive + z @ factor_t`` per group: z (K, m, T) standard
    normals, factor_t (K, T, T) the transposed covariance factor, drive (K, T).
    Writes raw moments of the scaled membrane,
    ``raw[k, j, t] = mean over paths of (inv_scale[k, t] u^t) ** (j + 1)``
    (j = 0..3; ``inv_scale`` (K, T) powers of two, see :func:`_pow2_scale`) and
    ``corr[k] = mean over paths of s s^T``. Serial on purpose:
    on the shared 2-core machines numba's thread pool cost more than it gained
    (measured); the caller pins BLAS to one thread for ``np.dot``.
    """
    n_groups, m, steps = z.shape
    for k in range(n_groups):
        h = np.dot(z[k], factor_t[k])
        spike_times = np.empty(steps, dtype=np.int64)
        acc = np.zeros((4, steps))
        cnt = np.zeros((steps, steps))
        for p in range(m):
            u_prev = 0.0
            aux = 0.0
            s_prev = 0.0
            n_spk = 0
            for t in range(steps):
                if t % period == 0:  # a fresh neuron: zero membrane, state and last spike
                    u_prev = 0.0
                    aux = 0.0
                    s_prev = 0.0
                u, aux, thr = neuron_step_jit(
                    model, u_prev, aux, s_prev, h[p, t] + drive[k, t], beta, theta, reset,
                    reset_decay, alpha, rho, adaptation
                )
                _add_moments(acc, t, u * inv_scale[k, t])
                if spike_jit(u, thr):
                    s_prev = 1.0
                    spike_times[n_spk] = t
                    n_spk += 1
                else:
                    s_prev = 0.0
                u_prev = u
            for i in range(n_spk):
                for j in range(n_spk):
                    cnt[spike_times[i], spike_times[j]] += 1.0
        _store_group(k, acc, cnt, m, raw, corr)


@numba.njit(cache=True)
def _recurrent_layer_kernel(z, cov_ff, drive_ff, rec_var, rec_mean, inv_scale, beta, theta,
                            reset, reset_decay, raw, corr):
    """The recurrent layer's paths, causal in time (``neuron="recurrent"``).

    A neuron's input at ``t`` is its feed-forward path (covariance ``cov_ff``
    (K, T, T), mean ``drive_ff`` (K, T)) plus the recurrent input ``V s^{t-1}``,
    independent of it, with covariance ``rec_var * C(t-1, t'-1)`` and mean
    ``rec_mean * C(t-1, t-1)`` (``rec_var = n s2_V``, ``rec_mean = n mu_V``),
    ``C`` the layer's own spike correlation, estimated from the group's paths
    up to ``t - 1``. So the input covariance is known one row at a time: its
    Cholesky factor is extended row by row (a zero pivot drops its column) and
    the paths ``h^t = mean^t + sum_{q <= t} L[t, q] z^q`` (z (K, m, T), in time
    order) are run one step at a time through the leaky neuron. Outputs as
    :func:`_layer_kernel`.
    """
    n_groups, m, steps = z.shape
    for k in range(n_groups):
        cov = np.zeros((steps, steps))
        chol = np.zeros((steps, steps))
        u = np.zeros(m)
        s = np.zeros(m)
        hist = np.zeros((m, steps), dtype=np.uint8)
        acc = np.zeros((4, steps))
        cnt = np.zeros((steps, steps))
        for t in range(steps):
            for q in range(t + 1):
                c = cov_ff[k, t, q]
                if t >= 1 and q >= 1:
                    c += rec_var * cnt[t - 1, q - 1] / m
                cov[t, q] = c
            for q in range(t + 1):
                rest = cov[t, q]
                for j in range(q):
                    rest -= chol[t, j] * chol[q, j]
                if q < t:
                    chol[t, q] = rest / chol[q, q] if chol[q, q] > 0.0 else 0.0
                else:
                    chol[t, t] = math.sqrt(max(rest, 0.0))
            mean = drive_ff[k, t]
            if t >= 1:
                mean += rec_mean * cnt[t - 1, t - 1] / m
            for p in range(m):
                h = mean
                for q in range(t + 1):
                    h += chol[t, q] * z[k, p, q]
                v = membrane_update_jit(u[p], s[p], h, beta, theta, reset, reset_decay)
                _add_moments(acc, t, v * inv_scale[k, t])
                fired = spike_jit(v, theta)
                s[p] = 1.0 if fired else 0.0
                hist[p, t] = 1 if fired else 0
                u[p] = v
                if fired:
                    for q in range(t + 1):
                        if hist[p, q] != 0:
                            cnt[t, q] += 1.0
        for t in range(steps):
            for q in range(t):
                cnt[q, t] = cnt[t, q]
        _store_group(k, acc, cnt, m, raw, corr)


def _path_normals(steps: int, per_group: int, groups: int, seed: int) -> np.ndarray:
    """Scrambled-Sobol standard normals, shape ``(groups, per_group, steps)``.

    Each group has its own independent scrambling (seeded from ``seed``), so
    group averages are i.i.d. and unbiased.
    """
    children = np.random.SeedSequence(seed).spawn(groups)
    z = np.empty((groups, per_group, steps))
    with warnings.catch_warnings():
        # balance properties want powers of two; any length stays unbiased
        warnings.simplefilter("ignore", UserWarning)
        for g, child in enumerate(children):
            sobol = qmc.Sobol(d=steps, scramble=True, seed=np.random.default_rng(child))
            x = sobol.random(per_group)
            z[g] = special.ndtri(np.clip(x, 1e-16, 1.0 - 1e-16))
    return z


#: Diagonals spanning more than this ratio are factored through the correlation matrix.
_EQUILIBRATE_RATIO = 1e-8


def _pca_factor(cov: np.ndarray) -> np.ndarray:
    """``F`` with ``F F^T = cov`` (PSD part), columns by decreasing eigenvalue.

    When the variances on the diagonal span more than 8 decades (a step with
    rate 1e-134 next to one with 1e-300 at an extreme threshold), an
    eigendecomposition of ``cov`` itself resolves its small directions only
    to ``1e-16 max(diag)`` and would sample those steps with a wrong
    variance (even 0); then ``cov = D R D`` is factored through the
    correlation matrix ``R`` (unit diagonal, accurate), ``F = D F_R``.
    Ordinary covariances take the plain path, unchanged.
    """
    cov = 0.5 * (cov + cov.T)
    d = np.diagonal(cov)
    positive = d[d > 0]
    if positive.size > 1 and positive.min() < _EQUILIBRATE_RATIO * positive.max():
        sd = np.sqrt(np.clip(d, 0.0, None))
        inv = np.where(sd > 0, 1.0 / np.where(sd > 0, sd, 1.0), 0.0)
        return sd[:, None] * _pca_factor(inv[:, None] * cov * inv[None, :])
    w, v = np.linalg.eigh(cov)
    order = np.argsort(w)[::-1]
    w = np.clip(w[order], 0.0, None)
    return v[:, order] * np.sqrt(w)
