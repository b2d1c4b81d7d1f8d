"""``init="dmft"``: per-layer weight variances chosen with the dynamic mean field.

Micheli's rule keeps ``Var[u] = 1`` for one time step. Over many steps leak
and reset change the statistics of the input paths, so one variance for all
layers no longer holds the activity constant. This rule walks down the
network with the dynamic mean field (:mod:`snninit.theory.dmft`) and picks,
for each hidden layer ``l``, the weight variance ``s2_l`` for which the
layer's time-averaged firing rate ``(1/T) sum_t C_l(t, t)`` equals a target:
by default the time-averaged rate of the encoding layer, i.e. every hidden
layer fires as much as the input layer does (``target`` overrides it).

Why the time-averaged rate: it is what a downstream layer integrates over the
``T`` steps, it is bounded (so the target is always meaningful), and with one
step it reduces to Micheli's condition (``rate = Q(theta)`` is ``Var[u] = 1``):
with ``steps=1`` the rule returns Micheli's variance.

The rule is deterministic: it uses a fixed internal seed and a fixed number of
sampled paths (``paths``), so the same configuration always gives the same
variances.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from threadpoolctl import threadpool_limits

from ..config import NetworkConfig, check_config
from ..models import RESET_CODES
from .dmft_paths import (
    _encoding_layer,
    _firing_probability,
    _layer_kernel,
    _path_normals,
    _recurrent_layer_kernel,
)
from .rules import InitRule, recurrent_split, register_rule, survival, widen_and_solve

__all__ = ["dmft_layer_variances"]

#: Internal seed of the path sampling: fixed so that the rule is deterministic.
_RULE_SEED = 20240613


def _check(cfg: NetworkConfig) -> None:
    params = {"target": None, "paths": 8192, **cfg.init_params}
    target = params["target"]
    if target is not None and (
        isinstance(target, bool)
        or not isinstance(target, (int, float))
        or not (0.0 < float(target) < 1.0)
    ):
        raise ValueError(f"init_params['target'] must be a number in (0, 1); got {target!r}")
    paths = params["paths"]
    if isinstance(paths, bool) or not isinstance(paths, int) or not 256 <= paths <= 1_000_000:
        raise ValueError(
            f"init_params['paths'] must be an integer in [256, 1000000]; got {paths!r}"
        )


def _layer_rate(log_s2, prev_corr, n, cfg, z, raw, corr_out):
    """Time-averaged rate of the next layer for weight variance ``exp(log_s2)``.

    ``exp(log_s2)`` is the rule's variance; for ``neuron="recurrent"`` the
    feed-forward weights get the share ``1 - f`` of it and the recurrent ones
    ``f`` (:func:`~snninit.theory.rules.recurrent_split`), and the layer's
    paths run through the causal recurrent kernel.
    """
    s2 = math.exp(log_s2)
    T = cfg.steps
    s2_rec = 0.0
    if cfg.neuron == "recurrent":
        (_, s2), (_, s2_rec) = recurrent_split(0.0, s2, cfg.recurrent_fraction)
    # t = 0 exactly for every model: no synaptic history, adaptation or recurrent input yet
    r0 = _firing_probability(0.0, n * s2 * prev_corr[0, 0], cfg.theta)
    if T == 1:
        return r0, np.array([[r0]])
    dynamics = (cfg.beta, cfg.theta, RESET_CODES[cfg.reset], cfg.reset_decay)
    ones = np.ones((1, T))  # no rescaling of the moments (only the rate is read)
    if cfg.neuron == "recurrent":
        ff = (n * s2 * prev_corr)[None].copy()
        _recurrent_layer_kernel(
            z, ff, np.zeros((1, T)), n * s2_rec, 0.0, ones, *dynamics, raw, corr_out
        )
    else:
        w, v = np.linalg.eigh(n * s2 * prev_corr)
        order = np.argsort(w)[::-1]
        factor_t = (v[:, order] * np.sqrt(np.clip(w[order], 0.0, None))).T
        _layer_kernel(
            z, factor_t[None].copy(), np.zeros((1, T)), ones, *dynamics, raw, corr_out,
            cfg.neuron_code, *cfg.neuron_params,
        )
    corr = corr_out[0].copy()
    corr[0, 0] = r0  # exact at t = 0
    return float(np.trace(corr)) / T, corr


def _solve(excess, x0, layer, target, cfg):
    """Root of ``excess(log s2)`` near ``x0``: secant steps, Brent as fallback.

    The previous layer's solution is an excellent start (the variances change
    slowly with depth), so the secant usually converges in 3-5 evaluations.
    """
    # rate tolerance far below the path-sampling error of the rate (~1e-3)
    tol = 1e-5
    x_prev, x = x0, x0 + 0.02
    f_prev, f = excess(x_prev), excess(x)
    for _ in range(12):
        if abs(f) <= tol:
            return x
        if f == f_prev:
            break
        x_prev, f_prev, x = x, f, x - f * (x - x_prev) / (f - f_prev)
        if not abs(x - x0) < 20.0:
            break
        f = excess(x)
    root = widen_and_solve(excess, x0 - 0.1, x0 + 0.1, step=0.5, tries=60, rtol=1e-12)
    if root is not None:
        return root
    raise ValueError(
        f"init='dmft': no weight variance gives hidden layer {layer} the target "
        f"time-averaged rate {target:.4g} (theta={cfg.theta}, beta={cfg.beta}, "
        f"steps={cfg.steps}, reset={cfg.reset!r}); choose another init_params['target']"
    )


@functools.lru_cache(maxsize=64)
def _variances(cfg: NetworkConfig) -> tuple[float, ...]:
    params = {"target": None, "paths": 8192, **cfg.init_params}
    n, T = cfg.width, cfg.steps
    _, _, rate0, _, _, corr = _encoding_layer(cfg)
    target = float(np.mean(rate0)) if params["target"] is None else float(params["target"])
    z = _path_normals(T, int(params["paths"]), 1, _RULE_SEED) if T > 1 else None
    raw = np.empty((1, 4, T))
    corr_out = np.empty((1, T, T))
    # start from Micheli's variance scaled by the layer below's mean rate
    log_s2 = math.log(1.0 / (n * max(float(survival(cfg.theta)), 1e-300)))
    out = []
    with threadpool_limits(1):
        for layer in range(1, cfg.layers + 1):

            def excess(x, corr=corr):
                return _layer_rate(x, corr, n, cfg, z, raw, corr_out)[0] - target

            log_s2 = _solve(excess, log_s2, layer, target, cfg)
            corr = _layer_rate(log_s2, corr, n, cfg, z, raw, corr_out)[1]
            out.append(math.exp(log_s2))
    return tuple(out)


def dmft_layer_variances(cfg: NetworkConfig) -> np.ndarray:
    """Weight variances ``s2_l`` (l = 1..L) of the ``dmft`` rule for ``cfg``.

    Solves, layer by layer, ``(1/T) sum_t C_l(t, t) = target`` for ``s2_l``
    with the dynamic mean field of the layer below (zero-mean weights),
    using ``init_params['paths']`` scrambled-Sobol paths (default 8192) with a
    fixed seed; secant steps on ``log s2`` (Brent's method as fallback) until
    the rate is within 1e-5 of the target. With one step the solution is
    Micheli's ``1 / (n Q(theta))`` when the target is ``Q(theta)``.
    """
    cfg = check_config(cfg)
    _check(cfg)
    return np.array(_variances(cfg))


def _per_layer(cfg: NetworkConfig):
    var = dmft_layer_variances(cfg)
    return np.zeros(cfg.layers), var


def _broadcast_variance(n_in, theta, beta, steps, **params):
    # The variance depends on the layer; outside a NetworkConfig the rule gives
    # its first hidden layer's value for a deep network of the given neuron.
    n_in_arr, theta_arr = np.broadcast_arrays(np.asarray(n_in, float), np.asarray(theta, float))
    out = np.empty(n_in_arr.shape)
    for idx in np.ndindex(out.shape):
        cfg = NetworkConfig(
            width=int(n_in_arr[idx]),
            layers=1,
            steps=int(steps),
            theta=float(theta_arr[idx]),
            beta=float(beta),
            init="dmft",
            init_params=params,
        )
        out[idx] = dmft_layer_variances(cfg)[0]
    return out


register_rule(
    InitRule(
        name="dmft",
        variance=_broadcast_variance,
        params={"target": None, "paths": 8192},
        per_layer=_per_layer,
        check=_check,
        assumptions=(
            "Time-aware rule from the dynamic mean field (n -> infinity, Gaussian i.i.d. "
            "zero-mean weights, constant N(0, 1) input to the encoding layer): each hidden "
            "layer's weight variance is chosen so that its firing rate averaged over the T "
            "time steps equals the encoding layer's (or init_params['target']), for the "
            "network's neuron model, beta, theta, T, reset and input convention (a "
            "recurrent layer's variance split by recurrent_fraction between its "
            "feed-forward and recurrent weights, the recurrent input causal in time). "
            "Deterministic (fixed internal seed). Depends on the layer; weight_variance() "
            "outside a network returns the first hidden layer's value."
        ),
    )
)
