"""Mean-field (n -> infinity) theory of one time step (DESIGN.md section 3a).

With i.i.d. Gaussian weights of mean ``mu`` and variance ``s2`` fed by a
layer whose neurons fire with probability ``p``, a neuron's membrane is
``N(n mu p, n s2 p)`` as ``n -> infinity``. For zero-mean weights the
variance obeys the map

    v_l = F(v_{l-1}) = n s2_l Q(theta / sqrt(v_{l-1})),   v_0 = 1

(``c^2`` instead of 1 when the input is scaled by ``c = 1 - beta``).

Fixed points. Writing ``x = theta / sqrt(v)`` (theta > 0), ``v = F(v)``
becomes ``h(x) := x^2 Q(x) = theta^2 / (n s2)``. ``h`` rises from 0 to its
maximum at ``x = theta*`` (the root of ``x phi(x) = 2 Q(x)``, 1.19060...)
and falls back to 0, so besides the collapsed state ``v = 0`` (always a
stable fixed point for theta > 0: F is flat there) the map has two positive
fixed points when ``theta^2 / (n s2) < h(theta*)``, one at equality (a
saddle-node), none above. The slope of the map at a positive fixed point is

    F'(v*) = chi(x*) = x* phi(x*) / (2 Q(x*)),   x* = theta / sqrt(v*),

below 1 on the upper branch (``x* < theta*``, stable) and above 1 on the
lower one (unstable: the separatrix between activity and collapse).

- Micheli (``n s2 = 1 / Q(theta)``): ``v = 1`` is a fixed point for every
  theta, with slope ``chi(theta)``; it is the stable upper branch for
  ``theta < theta*`` and the unstable lower one above (then a stable
  ``v > 1`` exists and deep layers settle there).
- Kaiming (``n s2 = 2``): positive fixed points exist only up to the
  saddle-node ``theta_sn = theta* sqrt(2 Q(theta*)) = 0.57570...``; below
  it the variance converges to the upper, nonzero fixed point (it does
  *not* collapse), above it it decays to 0.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import xarray as xr
from scipy import optimize, special

from .._checks import check_finite_array
from .._dataset import finish_dataset, layer_coord, time_coord
from .._renamed import renamed_arguments
from ..config import DEFAULT_BETA, NetworkConfig, check_config, check_limit
from .rules import get_rule, layer_weight_moments, survival, weight_variance

__all__ = [
    "mean_field",
    "mean_field_map",
    "fixed_points",
    "stability_slope",
    "critical_threshold",
    "depth_scale",
    "bottleneck_depth",
    "input_scale_factor",
]

_SQRT2 = np.sqrt(2.0)
_SQRT2F = math.sqrt(2.0)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
#: Relative change of the firing rate below which the mean-field iteration
#: treats a layer as sitting on a fixed point (a few hundred ulps).
_SNAP = 1e-13


def input_scale_factor(cfg: NetworkConfig) -> float:
    """Factor ``c`` on the input of the encoding layer: 1, or ``1 - beta``."""
    return check_config(cfg).input_factor


def _one_step_only(cfg: NetworkConfig, what: str) -> None:
    if cfg.steps != 1:
        raise ValueError(
            f"{what} is a one-step theory (steps=1); got steps={cfg.steps}: "
            "use snninit.theory.dynamic_mean_field for several time steps"
        )


def _firing_probability(mean, var, theta):
    """``P(u > theta)`` for ``u ~ N(mean, var)``; 0 when ``var == 0`` (u = mean <= theta)."""
    mean = np.asarray(mean, dtype=float)
    var = np.asarray(var, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (theta - mean) / np.sqrt(var)
    # var == 0: u equals its mean exactly; H is strict, so it fires iff mean > theta
    return np.where(var > 0, survival(np.where(var > 0, z, 0.0)), (mean > theta) * 1.0)


def mean_field_map(v, theta, s2, n):
    """The mean-field map ``F(v) = n s2 Q(theta / sqrt v)`` (``F(0) = 0``).

    Parameters
    ----------
    v : array_like
        Membrane variance of the layer below, >= 0.
    theta : array_like
        Threshold, >= 0.
    s2 : array_like
        Weight variance, > 0.
    n : array_like
        Fan-in, >= 1.

    Returns
    -------
    ndarray or float
        Variance of the next layer's membranes (all arguments broadcast).
        At ``v = 0`` no neuron fires (the threshold is strict), so ``F(0) = 0``.
    """
    v = check_finite_array("v", v, low=0.0)
    theta = check_finite_array("theta", theta, low=0.0)
    s2 = check_finite_array("s2", s2, low=0.0)
    n = check_finite_array("n", n, low=1.0)
    out = n * s2 * _firing_probability(0.0, v, theta)
    return out[()] if out.ndim == 0 else out


def mean_field(cfg: NetworkConfig) -> xr.Dataset:
    """Mean-field prediction of one time step, layer by layer.

    Iterates ``mean_l = n mu_l p_{l-1}``, ``var_l = n s2_l p_{l-1}``,
    ``p_l = P(N(mean_l, var_l) > theta)`` with the per-layer weight moments
    of :func:`~snninit.theory.layer_weight_moments` (for zero-mean weights
    this is the map ``v_l = n s2 Q(theta / sqrt v_{l-1})``). Layer 0 is the
    encoding layer: ``u_0 = c I``, ``I ~ N(0, 1)``, ``c`` = 1 or ``1 - beta``.
    A firing rate that changes by less than 1e-13 (relative) from one layer
    to the next is kept exactly: the iteration has reached a fixed point up
    to rounding, and at an unstable one (Micheli above theta*) rounding
    errors would otherwise grow by ``chi`` per layer. Where finite networks
    actually go from there is the finite-size chain's business.

    Returns
    -------
    xarray.Dataset
        ``var_u``, ``mean_u``, ``rate`` (firing probability) and ``spikes``
        (``n * rate``) over ``(layer, time)`` with ``time`` of length 1.

    Raises
    ------
    ValueError
        If ``cfg.steps != 1`` (use the dynamic mean field).
    """
    cfg = check_config(cfg)
    _one_step_only(cfg, "mean_field")
    mu, s2 = layer_weight_moments(cfg)
    n, L, theta = cfg.width, cfg.layers, cfg.theta
    c = cfg.input_factor
    var = np.empty(L + 1)
    mean = np.empty(L + 1)
    rate = np.empty(L + 1)
    var[0], mean[0] = c * c, 0.0
    rate[0] = _firing_probability(0.0, c * c, theta)
    mu_list, s2_list = mu.tolist(), s2.tolist()
    p = float(rate[0])
    for layer in range(1, L + 1):
        # plain floats: numpy scalar overhead dominates for deep stacks
        m = n * mu_list[layer - 1] * p
        v = n * s2_list[layer - 1] * p
        if v > 0:
            p_new = 0.5 * math.erfc((theta - m) / math.sqrt(2.0 * v))
        else:
            p_new = 1.0 if m > theta else 0.0
        # At a fixed point up to rounding, stay there exactly: at an unstable fixed
        # point (Micheli above theta*) rounding errors would otherwise grow as chi^l.
        if abs(p_new - p) > _SNAP * p:
            p = p_new
        mean[layer], var[layer], rate[layer] = m, v, p
    dims = ("layer", "time")
    ds = xr.Dataset(
        {
            "var_u": (dims, var[:, None]),
            "mean_u": (dims, mean[:, None]),
            "rate": (dims, rate[:, None]),
            "spikes": (dims, n * rate[:, None]),
        },
        coords={"layer": layer_coord(L), "time": time_coord(1)},
    )
    return finish_dataset(
        ds,
        cfg,
        kind="mean_field",
        method="mean-field map v_l = n s2 Q(theta / sqrt v_{l-1}) (n -> infinity, one step)",
    )


# --------------------------------------------------------------------------
# fixed points and stability
# --------------------------------------------------------------------------


def _chi(x):
    """``x phi(x) / (2 Q(x))`` for x >= 0, computed as ``x exp(log phi - log Q) / 2``."""
    x = np.asarray(x, dtype=float)
    log_phi = -0.5 * x * x - 0.5 * np.log(2.0 * np.pi)
    return 0.5 * x * np.exp(log_phi - special.log_ndtr(-x))


@functools.lru_cache(maxsize=1)
def _theta_star() -> float:
    """Root of ``x phi(x) = 2 Q(x)``: the maximiser of ``x^2 Q(x)``."""
    return float(
        optimize.brentq(lambda x: _chi(x) - 1.0, 0.5, 2.0, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    )


def _log_h(x):
    """``log(x^2 Q(x))``."""
    return 2.0 * np.log(x) + special.log_ndtr(-x)


def _solve_branches(log_c):
    """Roots ``x_up <= theta* <= x_lo`` of ``log h(x) = log_c`` (NaN where none).

    Vectorised bisection (``h`` is monotone on each side of ``theta*``).
    """
    ts = _theta_star()
    log_c = np.asarray(log_c, dtype=float)
    exists = log_c <= _log_h(ts)
    out = []
    for lo0, hi0, rising in ((1e-300, ts, True), (ts, 1e4, False)):
        lo = np.full(log_c.shape, lo0)
        hi = np.full(log_c.shape, hi0)
        for _ in range(200):
            # geometric bisection on the rising side: x* can be tiny (theta << sqrt(n s2))
            mid = np.sqrt(lo * hi) if rising else 0.5 * (lo + hi)
            above = _log_h(mid) > log_c
            go_left = above if rising else ~above
            hi = np.where(go_left, mid, hi)
            lo = np.where(go_left, lo, mid)
        out.append(np.where(exists, 0.5 * (lo + hi), np.nan))
    return out[0], out[1]


def _gain(init, theta, width, beta, steps, params):
    """``a = n s2`` of a rule, as an array over ``theta``."""
    return width * np.asarray(
        weight_variance(init, width, theta, beta=beta, steps=steps, **params), dtype=float
    )


def _fixed_point_table(theta, a):
    """Fixed points ``(zero, upper, lower)`` of ``v -> a Q(theta / sqrt v)`` and slopes."""
    theta = np.asarray(theta, dtype=float)
    a = np.broadcast_to(np.asarray(a, dtype=float), theta.shape)
    pos = theta > 0
    safe_theta = np.where(pos, theta, 1.0)
    with np.errstate(divide="ignore"):
        log_c = np.where(pos, 2.0 * np.log(safe_theta) - np.log(a), -np.inf)
    x_up, x_lo = _solve_branches(np.where(pos, log_c, 0.0))
    v_up = np.where(pos, safe_theta**2 / x_up**2, a / 2.0)  # theta = 0: F(v) = a / 2
    s_up = np.where(pos, _chi(np.where(pos, x_up, 0.0)), 0.0)
    v_lo = np.where(pos, safe_theta**2 / x_lo**2, np.nan)
    s_lo = np.where(pos, _chi(np.where(np.isfinite(x_lo), x_lo, 0.0)), np.nan)
    s_lo = np.where(np.isfinite(v_lo), s_lo, np.nan)
    s_up = np.where(np.isfinite(v_up), s_up, np.nan)
    # v = 0: F is flat there for theta > 0; for theta = 0 F jumps to a/2 (slope inf).
    v_zero = np.zeros(theta.shape)
    s_zero = np.where(pos, 0.0, np.inf)
    v = np.stack([v_zero, v_up, v_lo], axis=-1)
    slope = np.stack([s_zero, s_up, s_lo], axis=-1)
    return v, slope


def fixed_points(cfg: NetworkConfig, theta=None) -> xr.Dataset:
    """All fixed points of the mean-field map of ``cfg``, with slopes and stability.

    Parameters
    ----------
    cfg : NetworkConfig
        Network and init rule (``steps`` must be 1). The rule must give the
        same zero-mean weights to every layer.
    theta : array_like, optional
        Thresholds to evaluate instead of ``cfg.theta`` (vectorised; the rule's
        weight variance is recomputed for each).

    Returns
    -------
    xarray.Dataset
        Over ``branch`` = ``("zero", "upper", "lower")`` (and ``theta`` if
        given): ``v_star`` (the fixed point; NaN where the branch does not
        exist), ``slope`` (``F'(v_star)``), ``stable`` (``|slope| < 1``).
        ``zero`` is the collapsed state ``v = 0`` (slope 0 for theta > 0;
        at theta = 0 the map jumps from 0 to ``n s2 / 2`` and the slope is
        reported as ``inf``). ``upper`` and ``lower`` are the two positive
        fixed points (see the module docstring); at theta = 0 ``upper`` is
        ``n s2 / 2`` and ``lower`` does not exist.
    """
    cfg = check_config(cfg)
    _one_step_only(cfg, "fixed_points")
    mu, s2 = layer_weight_moments(cfg)
    if np.any(mu != 0):
        raise NotImplementedError(
            "fixed_points covers zero-mean weights only; with a nonzero weight mean the "
            "one-step map acts on the firing rate, iterate it with mean_field(cfg)"
        )
    if theta is None:
        if np.ptp(s2) > 1e-12 * np.max(s2):
            raise ValueError(
                f"init {cfg.init!r} gives different weight variances per layer: the map "
                "changes with depth and has no fixed points; use a layer-independent rule"
            )
        th = np.asarray(cfg.theta, dtype=float)
        a = cfg.width * s2[0]
    else:
        th = check_finite_array("theta", theta, low=0.0)
        if th.ndim > 1:
            raise ValueError(f"theta must be a scalar or 1-D array; got shape {th.shape}")
        a = _gain(cfg.init, th, cfg.width, cfg.beta, cfg.steps, dict(cfg.init_params))
    v, slope = _fixed_point_table(th, a)
    dims = ("branch",) if th.ndim == 0 else ("theta", "branch")
    coords = {"branch": ["zero", "upper", "lower"]}
    if th.ndim == 0:
        coords["theta"] = float(th)
    else:
        coords["theta"] = th
    ds = xr.Dataset(
        {
            "v_star": (dims, v),
            "slope": (dims, slope),
            "stable": (dims, np.abs(np.nan_to_num(slope, nan=np.inf)) < 1),
        },
        coords=coords,
    )
    ds["v_star"].attrs["long_name"] = "fixed point of v -> n s2 Q(theta / sqrt v)"
    ds["slope"].attrs["long_name"] = "derivative of the map at the fixed point"
    return finish_dataset(ds, cfg, kind="fixed_points")


def _check_rule_args(rule, width, beta, steps):
    get_rule(rule, param="rule")  # unknown or non-string names: ValueError listing the rules
    # NetworkConfig's validators and limits (config.LIMITS)
    return check_limit("width", width), check_limit("beta", beta), check_limit("steps", steps)


def _reached_branch(theta, a):
    """Fixed point reached from ``v_0 = 1`` and its slope, elementwise."""
    v, slope = _fixed_point_table(theta, a)
    v_up, v_lo = v[..., 1], v[..., 2]
    s_up, s_lo = slope[..., 1], slope[..., 2]
    # v = 1 is itself a fixed point (Micheli, for example): it stays there.
    at_lo = np.isfinite(v_lo) & (np.abs(v_lo - 1.0) <= 1e-9)
    at_up = np.isfinite(v_up) & (np.abs(v_up - 1.0) <= 1e-9)
    # F is increasing: from v_0 = 1 above the separatrix v_lo it goes to v_up, else to 0.
    to_up = np.isfinite(v_up) & (~np.isfinite(v_lo) | (1.0 > v_lo))
    v_star = np.where(at_up, v_up, np.where(at_lo, v_lo, np.where(to_up, v_up, 0.0)))
    s = np.where(at_up, s_up, np.where(at_lo, s_lo, np.where(to_up, s_up, 0.0)))
    return v_star, s


@renamed_arguments(init="rule")
def stability_slope(
    theta=1.0, rule: str = "micheli", *, width=1000, beta=DEFAULT_BETA, steps=1, **params
):
    """Slope ``chi`` of the mean-field map at the fixed point that ``v_0 = 1`` settles on.

    For ``micheli`` the fixed point is ``v = 1`` and
    ``chi(theta) = theta phi(theta) / (2 Q(theta))`` (< 1 stable, > 1
    unstable). For other rules it is ``F'(v*)`` at the fixed point reached
    by iterating from ``v = 1``: the upper branch while it exists and lies
    above the separatrix, else the collapsed state (slope 0).

    Parameters
    ----------
    theta : float or array_like
        Threshold(s), >= 0 (vectorised).
    rule : str
        Rule name; ``width``, ``beta``, ``steps`` and ``params`` are passed
        to :func:`~snninit.theory.weight_variance` (irrelevant for the
        paper's rules, whose ``n s2`` does not depend on them).
    """
    width, beta, steps = _check_rule_args(rule, width, beta, steps)
    th = check_finite_array("theta", theta, low=0.0)
    a = _gain(rule, th, width, beta, steps, params)
    if rule == "micheli":
        out = _chi(th)
    else:
        out = _reached_branch(th, a)[1]
    return out[()] if np.ndim(out) == 0 else out


@renamed_arguments(init="rule")
def depth_scale(theta=1.0, rule: str = "micheli", **kwargs):
    """Depth scale ``xi = 1 / |ln chi|`` of the fixed point reached from ``v_0 = 1``.

    A deviation from the fixed point changes by the factor ``chi`` per layer,
    i.e. as ``exp(-l / xi)`` when ``chi < 1`` (this is ``-1 / ln chi``) and
    grows as ``exp(+l / xi)`` when ``chi > 1``. ``inf`` at ``chi = 1``
    (the critical threshold), 0 where ``chi = 0`` (theta = 0 or collapse).
    Arguments as for :func:`stability_slope`.

    A collapsing map (Kaiming above its saddle-node ``theta_sn``) has no
    fixed point to relax to, so ``xi = 0`` there says nothing about how long
    the collapse takes: just above ``theta_sn`` it is a slow passage past the
    ghost of the saddle-node, whose length in layers is
    :func:`bottleneck_depth`.
    """
    chi = np.asarray(stability_slope(theta, rule, **kwargs), dtype=float)
    with np.errstate(divide="ignore"):
        out = np.where(chi > 0, 1.0 / np.abs(np.log(np.where(chi > 0, chi, 1.0))), 0.0)
    return out[()] if out.ndim == 0 else out


def _bottleneck_channel(theta, a):
    """Narrowest point of the channel of a collapsing map ``F(v) = a Q(theta / sqrt v)``.

    Returns ``(v_c, delta, curvature)`` with ``v_c`` the maximiser of
    ``F(v) - v`` (where ``F'(v_c) = 1``), ``delta = v_c - F(v_c)`` (the step
    per layer there; <= 0 where fixed points exist) and
    ``curvature = -F''(v_c) / 2``; NaN where ``F' < 1`` everywhere (no channel).
    In ``x = theta / sqrt v``: ``F'(v) = a x^3 phi(x) / (2 theta^2)``, which
    rises on ``(0, sqrt 3)``, so ``F' = 1`` there is solved by bisection, and
    ``F''(v) = a phi(x) x (x^2 - 3) / (4 v^2)``.
    """
    theta = np.asarray(theta, dtype=float)
    a = np.broadcast_to(np.asarray(a, dtype=float), theta.shape)
    target = 2.0 * theta**2 / a

    def slope_term(x):  # x^3 phi(x)
        return x**3 * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)

    exists = (theta > 0) & (target < slope_term(math.sqrt(3.0)))
    lo = np.zeros(theta.shape)
    hi = np.full(theta.shape, math.sqrt(3.0))
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        below = slope_term(mid) < target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    x = np.where(exists, 0.5 * (lo + hi), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        v_c = theta**2 / x**2
        delta = v_c - a * survival(x)
        phi = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        curvature = a * phi * x * (3.0 - x * x) / (8.0 * v_c**2)
    return v_c, delta, curvature


def _log_gain(a: float, theta: float) -> float:
    """``ln(a / (2 theta^2 sqrt(2 pi)))``: ``ln F'(v) - 3 ln x + x^2 / 2`` (no overflow)."""
    return math.log(a) - math.log(2.0) - 2.0 * math.log(theta) - _HALF_LOG_2PI


def _passage_integrand(v: float, theta: float, a: float) -> float:
    """``(1 - F'(v)) / ((v - F(v)) (-ln F'(v)))`` for ``F(v) = a Q(theta / sqrt v)``, ``v > 0``.

    ``ln F'(v) = ln(a x^3 phi(x) / (2 theta^2))`` with ``x = theta / sqrt v`` is
    computed directly and the factor as ``expm1(ln F') / ln F'`` (1 at
    ``F' = 1``, no 0/0; ``~ 2 v / theta^2`` as ``v -> 0``, where ``F'`` vanishes
    faster than any power). Plain floats: quad calls it a few hundred times.
    """
    x = theta / math.sqrt(v)
    log_slope = _log_gain(a, theta) + 3.0 * math.log(x) - 0.5 * x * x
    factor = 1.0 + 0.5 * log_slope if abs(log_slope) < 1e-8 else math.expm1(log_slope) / log_slope
    return factor / (v - a * 0.5 * math.erfc(x / _SQRT2F))


def _passage_time(theta: float, a: float, v0: float = 1.0) -> float:
    """``N = ∫_0^v0 dv (1 - F') / ((v - F) (-ln F'))`` of one collapsing map (bottleneck_depth).

    Where the map has a channel below ``v0`` (``F'(v_c) = 1`` at ``v_c < v0``,
    step ``delta = v_c - F(v_c) > 0``, curvature ``c = -F''(v_c) / 2``), the
    integral is taken in ``phi`` with ``v = v_c + s tan(phi)``, ``s = sqrt(delta / c)``:
    the integrand's peak ``~ 1 / (delta + c w^2)`` of width ``s`` becomes the
    constant ``1 / sqrt(c delta)``, so the quadrature resolves it whatever
    ``theta - theta_sn`` (the depth grows like ``pi / sqrt(c delta)``).
    """
    import warnings

    from scipy import integrate

    v_c, delta, curvature = (float(x) for x in _bottleneck_channel(theta, a))
    if np.isfinite(v_c) and 0.0 < v_c < v0 and delta > 0.0 and curvature > 0.0:
        s = math.sqrt(delta / curvature)

        def integrand(phi):
            t = math.tan(phi)
            v = v_c + s * t
            return _passage_integrand(v, theta, a) * s * (1.0 + t * t) if v > 0 else 0.0

        lo, hi, points = math.atan(-v_c / s), math.atan((v0 - v_c) / s), [0.0]
    else:

        def integrand(v):
            return _passage_integrand(v, theta, a)

        lo, hi, points = 0.0, v0, None
    # v - F(v) carries a rounding error ~ ulp(v) next to delta, so the integrand's
    # relative noise is ~1e-16 / delta and quad may say it cannot reach 1e-9
    # relative; 1e-6 layers absolute is far below the O(1) accuracy of N itself
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        value = integrate.quad(
            integrand, lo, hi, points=points, limit=400, epsabs=1e-6, epsrel=1e-9
        )
    return float(value[0])


@renamed_arguments(init="rule")
def bottleneck_depth(theta=1.0, rule: str = "kaiming", **kwargs):
    """Layers the collapse of the variance takes, through the ghost of a saddle-node if any.

    Above a saddle-node (Kaiming: ``theta > theta_sn = 0.57570...``) the map
    ``F(v) = n s2 Q(theta / sqrt v)`` has no positive fixed point: from
    ``v_0 = 1`` the variance falls to 0, and just above ``theta_sn`` it
    lingers where ``v - F(v)`` is small (the ghost). The depth is the
    continuum passage time of the iteration ``v_{l+1} = F(v_l)`` from ``v_0 = 1``
    to the fixed point it reaches, 0:

        N = ∫_0^1 dv / (v - F(v)) * k(F'(v)),   k(λ) = (1 - λ) / (-ln λ).

    ``∫ dv / (v - F(v))`` is the time of the flow ``dv/dl = F(v) - v``; the
    factor ``k`` makes each step exact where ``F`` is linear (a map with slope
    ``λ`` towards a fixed point needs ``ln(w_b / w_a) / ln λ`` steps, and
    ``(F - v) = (λ - 1) w``). In the channel ``F' ≈ 1`` and ``k ≈ 1``: there ``N`` is
    the plain passage time, ``π / sqrt(c delta)`` for the normal form
    ``v_{l+1} - v_l ≈ -delta - c w^2`` (``delta = v_c - F(v_c)``,
    ``c = -F''(v_c) / 2``, ``F'(v_c) = 1``), which diverges like
    ``(theta - theta_sn)^(-1/2)``. Near ``v = 0`` ``F' -> 0`` faster than any power
    (``k ~ 2 v / theta^2``) and the integral converges, where the plain
    ``∫ dv / (v - F)`` diverges like ``ln(1 / v)`` although the map falls from any
    small ``v`` to about 0 in one step. It needs no channel: it is the length of
    the whole collapse, also above ``theta ≈ 0.6805`` where ``F' < 1``
    everywhere (Kaiming: ``theta^2 > 3 sqrt 3 phi(sqrt 3)``), continuous there.

    Error: the first layer with ``var_u`` below a small threshold is the
    ceiling of the exact number of steps (``+[0, 1)``); the linearised step is
    exact on linear stretches and in the channel (steps of size ``delta``), so
    the remaining error comes from the few large steps outside it (the entry
    from ``v_0 = 1`` and the final fall). Against the iterated
    :func:`mean_field` (first layer with ``var_u < 1e-3``) the count exceeds
    ``N`` by 0.67 to 1.75 layers on 150 thresholds from ``theta_sn + 1e-7``
    (``N = 8472``) to ``theta = 3`` (``N = 0.25``); tested within ``[0, 2]``
    (docs/theory.md, tests/theory/test_bottleneck.py).

    Parameters
    ----------
    theta : float or array_like
        Threshold(s), >= 0 (vectorised).
    rule : str
        Rule name; ``width``, ``beta``, ``steps`` and rule parameters in
        ``kwargs`` as for :func:`stability_slope`.

    Returns
    -------
    float or ndarray
        ``N`` (> 0, finite) where the variance collapses from ``v_0 = 1``;
        ``inf`` where it does not (the iteration settles on a positive fixed
        point: below the saddle-node, or Micheli's ``v = 1``).
    """
    params = dict(kwargs)
    width = params.pop("width", 1000)
    beta = params.pop("beta", 0.0)
    steps = params.pop("steps", 1)
    width, beta, steps = _check_rule_args(rule, width, beta, steps)
    th = check_finite_array("theta", theta, low=0.0)
    a = np.broadcast_to(_gain(rule, th, width, beta, steps, params), th.shape)
    v_star, _ = _reached_branch(th, a)
    out = np.full(th.shape, np.inf)
    for i in np.ndindex(th.shape):
        # collapses (v_star = 0) needs theta > 0: F(v) = a / 2 for every v > 0 at theta = 0
        if v_star[i] == 0 and th[i] > 0 and a[i] > 0:
            out[i] = _passage_time(float(th[i]), float(a[i]))
    return out[()] if out.ndim == 0 else out


@renamed_arguments(init="rule")
def critical_threshold(
    rule: str = "micheli", *, width=1000, beta=DEFAULT_BETA, steps=1, **params
) -> float:
    """Threshold at which the fixed point reached from ``v_0 = 1`` reaches slope 1.

    - ``micheli``: the root ``theta*`` of ``theta phi(theta) = 2 Q(theta)``
      (1.19060...), where ``v = 1`` turns unstable.
    - ``kaiming``: the saddle-node ``theta_sn = theta* sqrt(2 Q(theta*))``
      (0.57570...), above which the only fixed point is ``v = 0``.
    - other rules: the smallest theta in [0, 8] where
      ``theta^2 / (n s2) = max_x x^2 Q(x)`` (the active fixed point meets
      ``x* = theta*``, slope 1), found numerically.

    Raises
    ------
    ValueError
        If the rule has no such threshold in [0, 8].
    """
    width, beta, steps = _check_rule_args(rule, width, beta, steps)
    ts = _theta_star()
    if rule == "micheli":
        return ts
    if rule == "kaiming":
        return float(ts * np.sqrt(2.0 * survival(ts)))
    log_hmax = float(_log_h(ts))

    def excess(th):
        th = np.atleast_1d(np.asarray(th, dtype=float))
        a = _gain(rule, th, width, beta, steps, params)
        return 2.0 * np.log(th) - np.log(a) - log_hmax

    grid = np.linspace(1e-6, 8.0, 4001)
    try:
        e = excess(grid)
    except ValueError:
        grid = grid[grid <= 6.0]
        e = excess(grid)
    hit = np.flatnonzero(e >= -1e-12)
    if hit.size == 0:
        raise ValueError(
            f"rule {rule!r} has no critical threshold in [0, 8]: the active fixed point "
            "stays stable there"
        )
    i = int(hit[0])
    if i == 0 or e[i] <= 0:
        return float(grid[i])
    return float(optimize.brentq(lambda t: float(excess(t)[0]), grid[i - 1], grid[i], xtol=1e-14))
