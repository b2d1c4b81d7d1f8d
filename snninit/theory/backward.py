"""Backward mean field: how surrogate gradients propagate through layers and time.

The forward theory (:func:`~snninit.theory.dynamic_mean_field`) gives the
law of every layer's membrane paths. BPTT sends the error back through the
same network (:mod:`snninit.models.gradients`, the trainer's step): with
``G_l^t = dL/ds_l^t`` arriving at layer ``l``'s spikes and ``delta_l^t =
dL/du_l^t``,

    delta_l^t = g_l^t G_l^t + lambda_l^t delta_l^{t+1}   (+ g rho delta^{t+1}, kept reset)
    G_{l-1}^t = sum_i W_l[j, i] delta_{l, i}^t
    dL/dW_l[j, i] = sum_t s_{l-1, j}^t delta_{l, i}^t

so that per neuron ``delta_l = A_l G_l`` with ``A_l`` (T x T, upper
triangular) a function of the neuron's own forward path: ``A[t, q] = g^q
prod_{t <= m < q} c^m``, ``c^m = lambda^m (+ g^m rho^m)``.

Assumptions (the usual gradient-independence assumption of backward mean
fields, Schoenholz et al. 2017 for ANNs): the weights the error meets on its
way back are independent of those that made the forward activity, and the
error arriving at a layer is independent of that layer's forward paths. Then,
with the loss's gradient at the last hidden layer's spikes i.i.d. with unit
variance (``K_L = I``),

    D_l = E[A_l K_l A_l^T]                 (the error's covariance over time)
    K_{l-1} = n (s2_l + mu_l^2) D_l        (n the fan-in, W_l's moments)
    Var[dL/dW_l] = sum_{t, t'} C_{l-1}(t, t') D_l(t, t')

``C_{l-1}`` the forward spike correlation of the layer below. ``E`` is over
Gaussian paths of the layer's input (covariance ``n s2_l C_{l-1}``, mean
``n mu_l r_{l-1}``), sampled as in the forward field, in replicate groups
that each carry their own chain ``K_L -> D_L -> K_{L-1} -> ...``: their
spread is the standard error of the backward sampling. The forward
correlations come from one :func:`~snninit.theory.dynamic_mean_field` run;
their own sampling error (``corr_se``, about 1e-3) is not propagated.

With one step the map is a closed form: ``D_l = E[g_l^2] K_l``, ``u_l ~
N(n mu_l r_{l-1}, n s2_l r_{l-1})`` exactly, so ``var_delta_l = E[g_l^2]
prod_{k > l} n (s2_k + mu_k^2) E[g_k^2]`` with ``E[g^2]`` the Faddeeva-function
expression of :func:`surrogate_second_moment_symbolic`.

Where it fails: the weights are the same forward and backward, so a neuron
whose input is large (it fires often, its surrogate is small) also sends its
error through large weights; and in a volley (a layer firing together in
time) the forward paths are strongly correlated across neurons. Both are
``O(1/sqrt(n))`` corrections to independence for i.i.d. weights, and
:func:`backward_mean_field` is validated against the trainer's exact
gradients (``tests/theory/test_backward.py``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import xarray as xr
from numba import njit
from threadpoolctl import threadpool_limits

from .._checks import check_bool, check_real
from ..config import NetworkConfig, check_config, check_limit, check_neuron
from ..models import (
    RESET_CODES,
    arctan_slope_jit,
    membrane_grad_jit,
    membrane_update_jit,
    spike_jit,
)
from .dmft_paths import _path_normals, _pca_factor
from .rules import layer_weight_moments

__all__ = [
    "backward_mean_field",
    "trainability",
    "balanced_surrogate",
    "surrogate_second_moment",
    "surrogate_second_moment_symbolic",
]

#: Replicate groups of backward paths (their spread gives the standard errors).
_GROUPS = 8


def surrogate_second_moment_symbolic():
    """``E[(1 + a^2 x^2)^-2]`` for ``x ~ N(mu, sigma^2)``, derived with sympy.

    The arctan surrogate is ``g = (alpha / 2) / (1 + a^2 (u - theta)^2)``,
    ``a = pi alpha / 2``, so ``E[g^2] = (alpha / 2)^2 E[(1 + a^2 x^2)^-2]``
    with ``x = u - theta``. Derivation: the Gaussian average of a Lorentzian
    is the Voigt profile, ``E[1 / (lambda + a^2 x^2)] = (1 / lambda) (gamma /
    sigma) sqrt(pi / 2) Re w(z)``, ``gamma = sqrt(lambda) / a``, ``z = (mu + i
    gamma) / (sigma sqrt 2)``, with ``w`` the Faddeeva function (``w'(z) = 2i /
    sqrt(pi) - 2 z w(z)``); then ``E[(1 + a^2 x^2)^-2] = -d/dlambda`` of it at
    ``lambda = 1``.

    Returns
    -------
    (expr, symbols, W)
        The sympy expression (its real part is the moment), the symbols
        ``(mu, sigma, a)`` and the sympy function ``W`` standing for ``w``.
    """
    import sympy as sp

    lam, a, sig = sp.symbols("lambda a sigma", positive=True)
    mu = sp.Symbol("mu", real=True)

    class W(sp.Function):  # the Faddeeva function, by its derivative
        def fdiff(self, argindex=1):
            z = self.args[0]
            return 2 * sp.I / sp.sqrt(sp.pi) - 2 * z * W(z)

    gam = sp.sqrt(lam) / a
    z = (mu + sp.I * gam) / (sig * sp.sqrt(2))
    first = (1 / lam) * (gam / sig) * sp.sqrt(sp.pi / 2) * W(z)
    expr = sp.simplify(-sp.diff(first, lam).subs(lam, 1))
    return expr, (mu, sig, a), W


@functools.lru_cache(maxsize=1)
def _second_moment_function():
    import sympy as sp
    from scipy.special import wofz

    expr, symbols, w = surrogate_second_moment_symbolic()
    return sp.lambdify(symbols, expr, modules=[{w.__name__: wofz}, "numpy"])


def surrogate_second_moment(mean, var, theta=1.0, alpha=2.0):
    """``E[g(u)^2]`` of the arctan surrogate for ``u ~ N(mean, var)`` (closed form).

    From :func:`surrogate_second_moment_symbolic` (the Faddeeva function,
    ``scipy.special.wofz``) where it is well conditioned, else (a Gaussian
    narrow against the surrogate's width ``2 / (pi alpha)``, or more than 10 sd
    from threshold) by 120-node Gauss-Hermite quadrature; ``var = 0`` gives
    ``g(mean)^2``. Arguments broadcast; ``var >= 0``, ``alpha > 0``.
    """
    mean, var = np.broadcast_arrays(np.asarray(mean, float), np.asarray(var, float))
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var)) and np.all(var >= 0)):
        raise ValueError("mean must be finite and var finite and >= 0")
    alpha = check_real("alpha", alpha, low=0.0, high=1e6, low_open=True)
    theta = check_real("theta", theta, low=0.0, high=1e6)
    a = math.pi * alpha / 2
    x = mean - theta
    sd = np.sqrt(var)
    out = 1.0 / (1.0 + (a * x) ** 2) ** 2  # the deterministic case
    # The closed form cancels badly where the Gaussian is narrow against the Lorentzian
    # (a sd small) or far from it (|x| >> sd); there the integrand is smooth over the
    # Gaussian and 120-node Gauss-Hermite is exact to rounding (both checked against
    # adaptive quadrature: tests/theory/test_backward.py).
    smooth = (var > 0) & ((a * sd < 0.7) | (np.abs(x) > 10.0 * sd))
    closed = (var > 0) & ~smooth
    if np.any(closed):
        f = _second_moment_function()
        out = np.where(closed, np.real(f(x, np.where(closed, sd, 1.0), a)), out)
    if np.any(smooth):
        nodes, weights = np.polynomial.hermite_e.hermegauss(120)
        u = x[..., None] + sd[..., None] * nodes
        gh = np.sum(weights / (1.0 + (a * u) ** 2) ** 2, axis=-1) / math.sqrt(2 * math.pi)
        out = np.where(smooth, gh, out)
    out = (alpha / 2) ** 2 * out
    return out[()] if out.ndim == 0 else out


@njit(nogil=True, cache=True, fastmath=False, error_model="numpy")
def _backward_layer_kernel(z, factor_t, drive, cov_grad, beta, theta, reset, reset_decay, api,
                           alpha_half, keep_reset, out):
    """Per group ``k``: ``out[k] = mean over paths of A K_k A^T`` (T, T).

    Paths ``h = drive + z[k] @ factor_t`` (z (K, m, T)) run through the leaky
    neuron; ``A`` from the model's backward step
    (:func:`~snninit.models.gradients.membrane_grad`), ``K_k = cov_grad[k]``.
    """
    n_groups, m, steps = z.shape
    kt = (beta if reset_decay else 1.0) * theta
    u = np.empty(steps)
    s = np.empty(steps)
    g = np.empty(steps)
    a = np.zeros((steps, steps))
    ak = np.empty((steps, steps))
    for k in range(n_groups):
        h = np.dot(z[k], factor_t)
        acc = np.zeros((steps, steps))
        cov = cov_grad[k]
        for p in range(m):
            u_prev = 0.0
            s_prev = 0.0
            for t in range(steps):
                v = membrane_update_jit(u_prev, s_prev, h[p, t] + drive[t], beta, theta, reset,
                                        reset_decay)
                u[t] = v
                s[t] = 1.0 if spike_jit(v, theta) else 0.0
                g[t] = arctan_slope_jit(v, theta, api, alpha_half, 1.0)
                u_prev = v
                s_prev = s[t]
            # row t of A: d delta^t / d G^q, from the step d^t = step(g^t, G^t, d^{t+1})
            for q in range(steps):
                a[steps - 1, q] = 0.0
            a[steps - 1, steps - 1] = g[steps - 1]
            for t in range(steps - 2, -1, -1):
                for q in range(steps):
                    unit = 1.0 if q == t else 0.0
                    a[t, q] = membrane_grad_jit(g[t], unit, a[t + 1, q], u[t], s[t], beta, kt,
                                                1.0, reset, keep_reset)
            for t in range(steps):
                for q in range(steps):
                    x = 0.0
                    for r in range(steps):
                        x += a[t, r] * cov[r, q]
                    ak[t, q] = x
            for t in range(steps):
                for q in range(t + 1):
                    x = 0.0
                    for r in range(steps):
                        x += ak[t, r] * a[q, r]
                    acc[t, q] += x
        for t in range(steps):
            for q in range(t + 1):
                out[k, t, q] = acc[t, q] / m
                out[k, q, t] = acc[t, q] / m


#: Measured speed of the backward kernel: path x step^3 x layer units per second (2 cores).
_BACKWARD_UNITS_PER_SECOND = 5e8


def _backward_seconds(cfg: NetworkConfig, paths: int) -> float:
    steps = cfg.steps
    return 0.0 if steps == 1 else paths * steps**3 * cfg.layers / _BACKWARD_UNITS_PER_SECOND


def _check_backward_work(cfg: NetworkConfig, paths: int, calls: int = 1, what: str = "") -> None:
    from .._resources import check_work

    steps = cfg.steps
    check_work(
        what or "backward_mean_field",
        calls * _backward_seconds(cfg, paths),
        8.0 * paths * steps * 2 + 8.0 * 8 * steps * steps * 4,
        f"{calls} x {paths} paths x {steps}^3 steps x {cfg.layers} layers",
        "use fewer paths, steps or layers",
    )


def backward_mean_field(
    cfg: NetworkConfig,
    *,
    alpha: float = 2.0,
    detach_reset: bool = True,
    paths: int = 2**13,
    seed: int = 0,
) -> xr.Dataset:
    """The surrogate-gradient error's variance through layers and time, at initialisation.

    Parameters
    ----------
    cfg : NetworkConfig
        A feed-forward network of the leaky neuron (``neuron="leaky"``).
    alpha : float
        Sharpness of the arctan surrogate (> 0; snntorch's and the trainer's
        default 2).
    detach_reset : bool
        Whether the reset carries no gradient (True: the trainer's and
        snntorch's default) or is kept in the graph.
    paths, seed : int
        Sampled paths per layer (8 replicate groups) and seed, for the forward
        field and the backward sampling alike.

    Returns
    -------
    xarray.Dataset
        Over ``(layer, time)`` for hidden layers ``1..L``: ``var_delta`` (the
        variance of ``dL/du_l^t`` across neurons) and ``var_grad_spikes``
        (of ``dL/ds_l^t``; 1 at layer ``L`` by construction); over ``layer``:
        ``var_grad_w``, the variance of one entry of ``dL/dW_l`` (the
        weights *feeding* layer ``l``) for one input; each with ``*_se``. For
        a loss whose gradient at the last hidden layer's spikes is i.i.d.
        with unit variance (scale everything by that gradient's variance
        otherwise). Attrs: the config, ``alpha``, ``detach_reset``, the method.

    Raises
    ------
    ValueError
        For a recurrent or other non-leaky network, bad ``alpha``, ``paths``
        or ``seed``.
    """
    from .dmft import dynamic_mean_field

    cfg = check_config(cfg)
    check_neuron(cfg, ("leaky",), "backward_mean_field")
    alpha = check_real("alpha", alpha, low=0.0, high=1e6, low_open=True)
    detach_reset = check_bool("detach_reset", detach_reset)
    paths = check_limit("paths", paths)
    seed = check_limit("seed", seed)
    n, L, T = cfg.width, cfg.layers, cfg.steps
    _check_backward_work(cfg, paths)
    forward = dynamic_mean_field(cfg, paths=paths, seed=seed)
    corr = forward["corr"].values  # (L + 1, T, T): E[s^t s^t'] of every layer
    mean, var = layer_weight_moments(cfg)
    per_group = -(-paths // _GROUPS)
    reset = RESET_CODES[cfg.reset]
    cov_grad = np.broadcast_to(np.eye(T), (_GROUPS, T, T)).copy()  # K_L = I
    d = np.empty((_GROUPS, T, T))
    var_delta = np.empty((_GROUPS, L, T))
    var_gs = np.empty((_GROUPS, L, T))
    var_w = np.empty((_GROUPS, L))
    # the forward law at T = 1 is exact (t = 0 of the dynamic mean field), and so is this
    with threadpool_limits(1):
        for layer in range(L, 0, -1):
            prev = corr[layer - 1]
            if T == 1:
                # one step, exactly: u_l ~ N(n mu r, n s2 r), r = r_{l-1}; D_l = E[g^2] K_l
                r = prev[0, 0]
                g2 = surrogate_second_moment(n * mean[layer - 1] * r, n * var[layer - 1] * r,
                                             cfg.theta, alpha)
                d[:] = g2 * cov_grad
            else:
                factor_t = np.ascontiguousarray(_pca_factor(n * var[layer - 1] * prev).T)
                drive = n * mean[layer - 1] * np.diagonal(prev).copy()
                z = _path_normals(T, per_group, _GROUPS, seed + 7919 * layer)
                _backward_layer_kernel(z, factor_t, drive, cov_grad, cfg.beta, cfg.theta, reset,
                                       cfg.reset_decay, math.pi * alpha / 2, alpha / 2,
                                       not detach_reset, d)
            var_gs[:, layer - 1] = np.diagonal(cov_grad, axis1=1, axis2=2)
            var_delta[:, layer - 1] = np.diagonal(d, axis1=1, axis2=2)
            var_w[:, layer - 1] = np.einsum("tq,gtq->g", prev, d)
            cov_grad = n * (var[layer - 1] + mean[layer - 1] ** 2) * d

    def stat(x):
        return x.mean(axis=0), x.std(axis=0, ddof=1) / math.sqrt(_GROUPS)

    out = {}
    for name, values, dims in (("var_delta", var_delta, ("layer", "time")),
                               ("var_grad_spikes", var_gs, ("layer", "time")),
                               ("var_grad_w", var_w, ("layer",))):
        m_, se = stat(values)
        out[name] = (dims, m_)
        out[f"{name}_se"] = (dims, se)
    ds = xr.Dataset(out, coords={"layer": np.arange(1, L + 1), "time": np.arange(T)})
    from .._dataset import finish_dataset

    ds = finish_dataset(
        ds, cfg, kind="theory", alpha=alpha, detach_reset=int(detach_reset),
        method=(
            "backward mean field (gradient independence; forward: dynamic mean field, "
            f"paths={paths}, seed={seed}); {per_group * _GROUPS} backward paths per layer in "
            f"{_GROUPS} replicate groups"
        ),
    )
    return ds


def trainability(
    cfg: NetworkConfig,
    *,
    alpha: float = 2.0,
    detach_reset: bool = True,
    paths: int = 2**13,
    seed: int = 0,
) -> dict:
    """Forward and backward gains per layer at initialisation, and their depth scales.

    From :func:`~snninit.theory.dynamic_mean_field` (the forward rate) and
    :func:`backward_mean_field` (the weight gradient), for ``cfg.layers >=
    2``:

    * ``forward_gain``: ``(r_L / r_1)^(1 / (L - 1))``, ``r_l`` the time-mean
      rate of layer ``l`` (1: conserved; < 1: activity dies);
    * ``backward_gain``: ``(Var[dL/dW_1] / Var[dL/dW_L])^(1 / (L - 1))``, the
      factor by which the weight gradient's variance grows per layer on the
      way back (> 1: exploding, < 1: vanishing);
    * ``forward_depth``, ``backward_depth``: ``1 / |ln gain|`` (layers over
      which the quantity changes by a factor e; ``inf`` when the gain is 1);
    * ``gradient_ratio``: ``Var[dL/dW_1] / Var[dL/dW_L]`` (inf where only the
      last weights get no gradient, NaN where neither does); ``last_rate``:
      ``r_L``;
    * ``backward_gain_se``: the backward gain's standard error from the path
      sampling (the replicate groups, by the delta method; 0 for one step,
      which is exact).

    A gain is NaN where its quantity is 0 (a silent layer: no activity, no
    gradient) or not finite (a gradient ratio beyond float64, e.g. about a
    thousand layers that each shrink it by half: see the per-layer variances
    of :func:`backward_mean_field` there).
    """
    from .dmft import dynamic_mean_field

    cfg = check_config(cfg)
    if cfg.layers < 2:
        raise ValueError(f"trainability needs layers >= 2 (a gain per layer); got {cfg.layers}")
    back = backward_mean_field(cfg, alpha=alpha, detach_reset=detach_reset, paths=paths,
                               seed=seed)
    rate = dynamic_mean_field(cfg, paths=paths, seed=seed)["rate"].mean("time").values
    w = back["var_grad_w"].values
    steps = cfg.layers - 1

    def gain(top, bottom):
        if not (top > 0 and bottom > 0):
            return float("nan")
        return float((top / bottom) ** (1.0 / steps))

    def depth(g):
        if not np.isfinite(g):
            return float("nan")
        return float("inf") if g == 1.0 else float(1.0 / abs(math.log(g)))

    fwd, bwd = gain(rate[-1], rate[1]), gain(w[0], w[-1])
    # the backward gain's SE from the replicate groups' spread (delta method on the log)
    w_se = back["var_grad_w_se"].values
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = math.sqrt((w_se[0] / w[0]) ** 2 + (w_se[-1] / w[-1]) ** 2)
    bwd_se = bwd * rel / steps if np.isfinite(bwd) else float("nan")
    return {
        "forward_gain": fwd,
        "backward_gain": bwd,
        "backward_gain_se": float(bwd_se),
        "forward_depth": depth(fwd),
        "backward_depth": depth(bwd),
        "gradient_ratio": (float(w[0] / w[-1]) if w[-1] > 0
                           else float("inf") if w[0] > 0 else float("nan")),
        "last_rate": float(rate[-1]),
    }


def balanced_surrogate(
    cfg: NetworkConfig,
    *,
    detach_reset: bool = True,
    paths: int = 2**13,
    seed: int = 0,
    bounds: tuple[float, float] = (0.05, 50.0),
) -> float:
    """The arctan surrogate's sharpness ``alpha`` at which the backward gain is 1.

    The forward weights stay those of ``cfg.init`` (the activity the rule
    conserves); only the backward pass changes. The gain of
    :func:`trainability` is evaluated on 17 values of ``alpha`` spaced
    evenly in ``log alpha`` over ``bounds``; every bracket where it crosses 1
    is refined by bisection, and the root nearest the default ``alpha = 2``
    (in ``log alpha``) is returned. The gain is not monotone in ``alpha`` in
    general: ``E[g^2]`` grows like ``alpha^2 / 4`` for small ``alpha`` but
    peaks and falls again for a membrane far from threshold relative to its
    spread. Trade-off: a wider surrogate (smaller ``alpha``) also sends
    gradient through neurons far from threshold, a less faithful derivative
    of the spike; a sharper one concentrates it on the few near threshold,
    and its sampled gain is noisier.

    Raises
    ------
    ValueError
        If the gain does not cross 1 on the grid, or the network is silent
        (no gradient to balance).
    """
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
        raise ValueError(f"bounds must be a pair (low, high) of alphas; got {bounds!r}")
    lo, hi = (check_real("bounds", b, low=1e-4, high=1e4) for b in bounds)
    if not lo < hi:
        raise ValueError(f"bounds must be (low, high) with low < high; got {bounds!r}")
    # 17 grid points and about 12 bisection steps per crossing: refuse before starting
    _check_backward_work(check_config(cfg), paths, calls=30, what="balanced_surrogate")

    def excess(log_alpha):
        g = trainability(cfg, alpha=math.exp(log_alpha), detach_reset=detach_reset,
                         paths=paths, seed=seed)["backward_gain"]
        if not np.isfinite(g):
            raise ValueError(
                "balanced_surrogate: the network is silent at some layer (no gradient to "
                "balance); choose another init or threshold"
            )
        return math.log(g)

    grid = np.linspace(math.log(lo), math.log(hi), 17)
    values = [excess(x) for x in grid]
    brackets = [(grid[k], grid[k + 1], values[k]) for k in range(len(grid) - 1)
                if values[k] == 0 or values[k] * values[k + 1] < 0]
    if not brackets:
        side = "above" if values[0] > 0 else "below"
        raise ValueError(
            f"balanced_surrogate: the backward gain stays {side} 1 for every alpha in "
            f"{bounds}; the surrogate cannot balance this network"
        )
    roots = []
    for a, b, fa in brackets:
        for _ in range(30):
            if b - a < 1e-3 or fa == 0:
                break
            mid = 0.5 * (a + b)
            fm = excess(mid)
            if fm == 0:
                a = b = mid
                break
            if (fm > 0) == (fa > 0):
                a, fa = mid, fm
            else:
                b = mid
        roots.append(0.5 * (a + b))
    best = min(roots, key=lambda r: abs(r - math.log(2.0)))
    return float(math.exp(best))
