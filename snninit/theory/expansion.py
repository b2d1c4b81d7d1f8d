"""The 1/n expansion of the one-step chain about the mean field (DESIGN.md 3b).

:func:`finite_size_expansion`: the survivors' moments of every layer to first
order in ``1/n``, linearised about the mean-field trajectory, with a stated
error (twice the first neglected, O(n^-2), term) and a breakdown criterion
measured from the map's unstable fixed point (Notes there). The exact chain it
expands is :func:`snninit.theory.finite_size` (:mod:`.finitesize`).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import xarray as xr
from scipy import special

from .._checks import check_choice, check_real
from .._dataset import finish_dataset, layer_coord, time_coord
from ..config import NetworkConfig, check_config
from .finitesize import _assumptions, _describe_sd, _var_u_moments
from .meanfield import _one_step_only
from .rules import layer_weight_moments

__all__ = ["finite_size_expansion", "EXPANSION_TOL", "ERROR_FACTOR", "EXPANSION_OUTPUTS"]


#: Default largest value of the breakdown criterion ``eps_l`` (see
#: :func:`finite_size_expansion`, Notes) at which a layer still counts as described.
EXPANSION_TOL = 0.1

#: The stated error bound of each value of :func:`finite_size_expansion` is this
#: many times the first neglected term of its series (the O(n^-2) term; Notes there).
ERROR_FACTOR = 2.0

#: The survivors' moments that :func:`finite_size_expansion` gives (each with ``<name>_error``).
EXPANSION_OUTPUTS = (
    "var_u_given_alive",
    "var_u_sd_given_alive",
    "rate_given_alive",
    "spikes_given_alive",
    "spikes_sd_given_alive",
)

_BREAKDOWN_CHOICES = ("raise", "truncate", "mask")


@functools.cache
def _g_higher_derivatives():
    """Third and fourth derivatives in ``p`` of ``g`` (:func:`symbolic.expansion_exprs`).

    Lambdified with the arguments of ``symbolic.numeric("g_d1")``:
    ``(p, theta, s2, n, mu)``.
    """
    import sympy as sp

    from . import symbolic

    S = symbolic.symbols()
    g3 = sp.diff(symbolic.expansion_exprs()[2], S["p"])
    g4 = sp.diff(g3, S["p"])
    args = [S[a] for a in ("p", "theta", "s2", "n", "mu")]
    return tuple(sp.lambdify(args, e, modules=["scipy", "numpy"]) for e in (g3, g4))


def _g_derivatives(cfg: NetworkConfig, mbar: np.ndarray, mu, s2) -> list[list[float]]:
    """``g_l^(k)(mbar_l)`` for ``k = 1..4`` and the maps ``l = 0..L-1``, as lists of floats."""
    from . import symbolic

    fns = (symbolic.numeric("g_d1"), symbolic.numeric("g_d2"), *_g_higher_derivatives())
    args = (mbar[:-1], cfg.theta, s2, cfg.width, mu)
    with np.errstate(all="ignore"):  # an extinct mean field (p = 0) gives NaN: a breakdown
        return [np.broadcast_to(np.asarray(f(*args), dtype=float), s2.shape).tolist() for f in fns]


def _expansion_terms(cfg: NetworkConfig, mbar: np.ndarray, mu, s2) -> dict[str, np.ndarray]:
    """Coefficients of the 1/n series of the chain about the mean field, layers ``0..L``.

    With ``p_l = mbar_l + x``, ``E[x] = delta / n + delta2 / n^2``,
    ``Var[x] = sigma / n + sigma2 / n^2`` and third cumulant ``kappa / n^2``
    (each up to ``O(n^-3)``; the fourth central moment is ``3 sigma^2 / n^2``),
    the chain's ``E[p_{l+1} | p_l] = g(p_l)`` and
    ``Var[p_{l+1} | p_l] = G(p_l) / n``, ``G = g (1 - g)``, give, with
    ``a, b, c, d = g', g'', g''', g''''`` at ``mbar_l``, ``q = mbar_{l+1}``,
    ``G' = a (1 - 2q)`` and ``G'' = b (1 - 2q) - 2 a^2``,

        delta'  = a delta + b sigma / 2
        sigma'  = a^2 sigma + q (1 - q)
        delta2' = a delta2 + b (sigma2 + delta^2) / 2 + c (kappa + 3 sigma delta) / 6
                  + d sigma^2 / 8
        sigma2' = a^2 sigma2 + a b (kappa + 2 sigma delta) + b^2 sigma^2 / 2 + a c sigma^2
                  + G' delta + G'' sigma / 2
        kappa'  = a^3 kappa + 3 a^2 b sigma^2 + 3 a G' sigma + q (1 - q) (1 - 2q)

    (Taylor expansions of ``E[g(p)]``, ``Var[g(p)]`` and ``E[G(p)] / n``, and
    the law of total cumulance for ``kappa``), from layer 0's exact
    ``Bin(n, mbar_0)``: ``delta = delta2 = sigma2 = 0``,
    ``sigma = mbar_0 (1 - mbar_0)``, ``kappa = sigma (1 - 2 mbar_0)``. The
    first two lines are the first order (DESIGN 3b), the others its first
    neglected term. NaN propagates from a layer whose mean field is extinct.
    """
    d1, d2, d3, d4 = _g_derivatives(cfg, mbar, mu, s2)
    m0 = float(mbar[0])
    delta, sigma, delta2, sigma2 = [0.0], [m0 * (1.0 - m0)], [0.0], [0.0]
    kappa = [sigma[0] * (1.0 - 2.0 * m0)]
    # plain floats, a linear recursion over L layers; products, not powers (no OverflowError)
    for a, b, c, d, q in zip(d1, d2, d3, d4, mbar[1:].tolist()):
        x, S, x2, S2, K = delta[-1], sigma[-1], delta2[-1], sigma2[-1], kappa[-1]
        G = q * (1.0 - q)
        G1 = a * (1.0 - 2.0 * q)
        G2 = b * (1.0 - 2.0 * q) - 2.0 * a * a
        delta.append(a * x + 0.5 * b * S)
        sigma.append(a * a * S + G)
        delta2.append(
            a * x2 + 0.5 * b * (S2 + x * x) + c * (K + 3.0 * S * x) / 6.0 + d * S * S / 8.0
        )
        sigma2.append(
            a * a * S2
            + a * b * (K + 2.0 * S * x)
            + 0.5 * b * b * S * S
            + a * c * S * S
            + G1 * x
            + 0.5 * G2 * S
        )
        kappa.append(
            a * a * a * K + 3.0 * a * a * b * S * S + 3.0 * a * G1 * S + G * (1.0 - 2.0 * q)
        )
    names = ("delta", "sigma", "delta2", "sigma2", "kappa")
    return {k: np.array(v) for k, v in zip(names, (delta, sigma, delta2, sigma2, kappa))}


def _upcrossing(theta: float, n: int, mu, s2, top) -> np.ndarray:
    """Largest ``p`` in ``(0, top)`` where ``g(p) - p`` crosses 0 upwards, per row; NaN if none.

    ``g(p) = Q((theta - n mu p) / sqrt(n s2 p))``, for weight means ``mu != 0``
    (no closed form): ``g(p) - p`` on a geometric grid of 400 points in
    ``(1e-12 top, top)``, the last sign change from negative to positive refined
    by bisection. A pair of fixed points closer than the grid's spacing (7 %
    relative) can be missed, as next to a saddle-node.
    """
    mu, s2, top = (np.asarray(x, dtype=float).ravel() for x in (mu, s2, top))

    def h(p, m, v):
        with np.errstate(all="ignore"):
            z = (theta - n * m * p) / np.sqrt(n * v * p)
        return special.ndtr(-z) - p

    grid = top[:, None] * np.geomspace(1e-12, 1.0 - 1e-9, 400)[None, :]
    hv = h(grid, mu[:, None], s2[:, None])
    up = (hv[:, :-1] < 0) & (hv[:, 1:] > 0)
    out = np.full(top.shape, np.nan)
    rows = np.flatnonzero(up.any(axis=1))
    if rows.size:
        last = up.shape[1] - 1 - np.argmax(up[rows, ::-1], axis=1)
        lo, hi = grid[rows, last], grid[rows, last + 1]
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            below = h(mid, mu[rows], s2[rows]) < 0
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        out[rows] = 0.5 * (lo + hi)
    return out


def _basin_boundary(cfg: NetworkConfig, mbar: np.ndarray, mu, s2) -> np.ndarray:
    """``p_lower`` of the maps ``g_l`` (``l = 0..L-1``): the extinction basin's edge.

    The unstable fixed point of ``g_l`` (where ``g_l(p) - p`` crosses 0
    upwards) strictly below ``mbar_l``: a network of layer ``l`` whose firing
    fraction is below it is driven towards extinction by the next layers.
    0 where there is none (then only ``p = 0`` bounds the survivors). Zero-mean
    weights: the map's lower branch in closed form (:func:`meanfield.fixed_points`'
    ``v_lower / (n s2)``); otherwise :func:`_upcrossing`.
    """
    from .meanfield import _fixed_point_table

    n, theta = cfg.width, float(cfg.theta)
    m = mbar[:-1]
    out = np.full(m.shape, np.nan)
    zero = mu == 0
    if zero.any():
        v, _ = _fixed_point_table(np.full(int(zero.sum()), theta), n * s2[zero])
        out[zero] = v[:, 2] / (n * s2[zero])
    if (~zero).any():
        out[~zero] = _upcrossing(theta, n, mu[~zero], s2[~zero], m[~zero])
    with np.errstate(invalid="ignore"):
        below = np.isfinite(out) & (out < m * (1.0 - 1e-9))
    return np.where(below, out, 0.0)


def _breakdown_criterion(n: int, mbar, p_lower, terms) -> dict[str, np.ndarray]:
    """The parts of ``eps_l`` and ``eps_l`` itself (layers ``0..L``), inf where undefined.

    See :func:`finite_size_expansion`, Notes. Layer 0 (exactly ``Bin(n, mbar_0)``)
    is described exactly unless it is silent (``mbar_0 = 0``: no survivors).
    """
    delta, sigma, delta2 = terms["delta"], terms["sigma"], terms["delta2"]
    with np.errstate(all="ignore"):  # mbar = 0, overflow past a breakdown
        first = np.abs(delta) / (n * mbar)
        # the layer below's fluctuation reaching the basin of the map that made this
        # layer, and the layer's own reaching p = 0
        basin = np.concatenate([[0.0], sigma[:-1] / (n * (mbar[:-1] - p_lower) ** 2)])
        own = sigma / (n * mbar * mbar)
        ratio = np.where(delta2 == 0, 0.0, np.abs(delta2) / (n * np.abs(delta)))
        eps = np.maximum.reduce([first, basin, own, ratio])
    eps = np.where(np.isfinite(eps) & (mbar > 0), eps, np.inf)
    return {"first": first, "basin": basin, "own": own, "ratio": ratio, "eps": eps}


def _alive_layer_zero(n: int, m0: float) -> tuple[float, float]:
    """``E[p_0 | k_0 > 0]`` and ``Var[p_0 | k_0 > 0]`` of layer 0's exact ``k_0 ~ Bin(n, m0)``.

    The zero-truncated binomial: with ``P0 = (1 - m0)^n``,
    ``E = m0 / (1 - P0)`` and ``Var = m0 (1 - m0) / (n (1 - P0)) - m0^2 P0 / (1 - P0)^2``
    (no cancellation: the second term is the smaller one). NaN if ``m0 = 0``.
    """
    if m0 <= 0.0:
        return math.nan, math.nan
    log_p0 = n * math.log1p(-m0) if m0 < 1.0 else -math.inf
    p0, alive = math.exp(log_p0), -math.expm1(log_p0)
    var = m0 * (1.0 - m0) / (n * alive) - m0 * m0 * p0 / (alive * alive)
    return m0 / alive, max(var, 0.0)


def _expansion_moments(n: int, c: float, s2, m, S) -> dict[str, np.ndarray]:
    """The survivors' moments from ``E[p] = m``, ``Var[p] = S`` (layers ``0..L``).

    Layer 0 (``m[0]``, ``S[0]``: the exact ``Bin(n, mbar_0)``) is conditioned on
    ``k_0 > 0`` exactly (:func:`_alive_layer_zero`), as are the ``var_u`` of
    layer 1 it drives; deeper layers' survivors differ from the series by the
    non-perturbative weight of the extinct networks (Notes of
    :func:`finite_size_expansion`).
    """
    m, S = np.array(m, dtype=float), np.array(S, dtype=float)
    m[0], S[0] = _alive_layer_zero(n, float(m[0]))
    e_k, var_k = n * m, n * n * S
    var_mean, var_sd = _var_u_moments(n, c, s2, e_k[:-1], var_k[:-1])
    return {
        "var_u_given_alive": var_mean,
        "var_u_sd_given_alive": var_sd,
        "rate_given_alive": m,
        "spikes_given_alive": e_k,
        "spikes_sd_given_alive": np.sqrt(var_k),
    }


def finite_size_expansion(
    cfg: NetworkConfig, *, tol: float = EXPANSION_TOL, on_breakdown: str = "raise"
) -> xr.Dataset:
    """First-order 1/n expansion of the chain about the mean field: surviving networks.

    With ``p_l = k_l / n`` (the layer's firing fraction) and
    ``g_l(p) = Q((theta - n mu_l p) / sqrt(n s2_l p))`` (derived and
    differentiated symbolically in :mod:`snninit.theory.symbolic`), the
    mean-field trajectory is ``mbar_0 = Q(theta / c)``,
    ``mbar_{l+1} = g_l(mbar_l)`` (:func:`~snninit.theory.mean_field`'s
    ``rate``, n -> infinity). Expanding ``E[p_{l+1}] = E[g_l(p_l)]`` and
    ``Var[p_{l+1}] = E[g_l (1 - g_l)] / n + Var[g_l(p_l)]`` about it and
    keeping exactly the terms of order 1/n,

        E[p_l] = mbar_l + delta_l / n + O(n^-2),   Var[p_l] = Sigma_l / n + O(n^-2),
        delta_{l+1} = g_l'(mbar_l) delta_l + g_l''(mbar_l) Sigma_l / 2,
        Sigma_{l+1} = g_l'(mbar_l)^2 Sigma_l + mbar_{l+1} (1 - mbar_{l+1}),

    from ``delta_0 = 0``, ``Sigma_0 = mbar_0 (1 - mbar_0)``. The recursion is
    linear in ``(delta, Sigma)`` with coefficients on the n-independent mean
    field, so it cannot oscillate: at a mean-field fixed point it converges
    where ``|g'| < 1`` and grows like ``g'^l`` where the fixed point is
    unstable (Micheli above theta*).
    ``E[k] = n m``, ``E[k^2] = n^2 (S + m^2)`` with ``m = mbar + delta / n``,
    ``S = Sigma / n`` give E and SD of ``var_u`` through the exact chi-square
    mixture of :func:`finite_size`. The O(n^-2) terms ``delta2 / n^2`` and
    ``Sigma2 / n^2`` are computed too (they need ``g'''``, ``g''''`` and the
    third cumulant): not added to the values, they give each value's stated
    error and the breakdown criterion.

    Extinction is not a power series in 1/n (its probability is
    ``exp(-O(n))``), so the series is that of the *surviving* networks, and
    its values carry finite_size's survivors' names: ``var_u_given_alive``,
    ``rate_given_alive``, ... (DESIGN 3d; compare them with ``finite_size``'s
    or a simulation's, see :func:`snninit.validation.compare`). It has no
    ``p_extinct``, so it gives no all-network ``var_u`` or ``rate``
    (``E[v] = E[v | alive] (1 - p_extinct)`` needs it). Its difference from the
    exact survivors is O(n^-2) plus the non-perturbative weight of networks
    crossing into the extinction basin, which the criterion bounds.

    Parameters
    ----------
    cfg : NetworkConfig
        ``steps`` must be 1; per-layer weight moments from
        :func:`~snninit.theory.layer_weight_moments`.
    tol : float
        Largest breakdown criterion ``eps_l`` at which a layer counts as
        described (default ``EXPANSION_TOL = 0.1``), see Notes.
    on_breakdown : {"raise", "truncate", "mask"}
        What to do if some layer exceeds ``tol`` (every layer from the first
        such one on is past the breakdown): raise a ``ValueError`` (default);
        ``"truncate"``: return only the layers before it (the ``layer``
        coordinate stops there; :func:`snninit.validation.compare` aligns on
        the shared layers, so the missing ones are simply not compared);
        ``"mask"``: keep every layer (a fixed grid, as a sweep needs), with the
        survivors' values and their errors NaN from the breakdown on (``compare``
        leaves NaN survivors' cells untested).

    Returns
    -------
    xarray.Dataset
        Over ``(layer, time)`` (time of length 1), the survivors' moments, with
        :func:`finite_size`'s names and attrs: ``var_u_given_alive``,
        ``var_u_sd_given_alive`` (E and SD of ``var_u`` over networks whose layer
        below fired), ``rate_given_alive`` (= ``m``), ``spikes_given_alive``
        (= ``n m``), ``spikes_sd_given_alive`` (= ``sqrt(n Sigma)``); for each,
        ``<name>_error``, its stated error bound (Notes); ``correction``, the
        criterion ``eps_l`` (never masked); ``valid``, True on the layers within
        ``tol``. Attrs: ``valid_layers`` (layers ``0 .. valid_layers - 1`` are
        within ``tol``; ``layers + 1`` when all are), ``breakdown_layer`` (the
        first layer past it, only if there is one), ``expansion_tol`` and
        ``error_factor``.

    Raises
    ------
    ValueError
        If ``cfg.steps != 1``; if ``tol`` or ``on_breakdown`` is invalid; with
        ``on_breakdown="raise"``, if the expansion breaks down at some layer.

    Notes
    -----
    Breakdown criterion: ``eps_l <= tol`` with ``eps_l`` the largest of

    - ``|delta_l| / (n mbar_l)``, the relative first-order correction of the mean;
    - ``Sigma_{l-1} / (n (mbar_{l-1} - p_lower)^2)``: the spread of the layer
      below, in units of its distance to the extinction basin, whose edge
      ``p_lower`` is the unstable (lower) fixed point of the map ``g_{l-1}``
      that made layer ``l`` (0 if there is none). Below ``p_lower`` a network is
      driven to extinction, so the survivors are not the Gaussian ``N(m, S)``
      the series describes once it reaches there; ``Sigma_l / (n mbar_l^2)`` (the
      layer's own spread against ``p = 0``) counts too. ``1 / sqrt(eps)`` is the
      number of SDs between the mean and the basin;
    - ``|delta2_l| / (n |delta_l|)``, the second-order correction of the mean
      against the first-order one: the series must still be shrinking.

    ``eps`` is infinite where the mean field is extinct (``mbar_l = 0``);
    layer 0 is exact (``Bin(n, mbar_0)``). Stated error of each value ``y``:
    ``y_error = ERROR_FACTOR |y^(2) - y|``, twice its first neglected term
    (``y^(2)`` is ``y`` from ``m + delta2 / n^2``, ``S + Sigma2 / n^2``). Twice:
    the remainder of a series whose terms fall at least by half is below its
    first term; where ``eps <= tol`` the ratio of the second- to the
    first-order term is at most ``tol``. Checked against the exact chain
    (``tests/theory/test_expansion.py``, ``benchmarks/expansion_error_table.py``):
    within the valid layers, the error is within ``y_error``.
    """
    cfg = check_config(cfg)
    from .meanfield import mean_field

    tol = check_real("tol", tol, low=0.0, low_open=True)
    on_breakdown = check_choice("on_breakdown", on_breakdown, _BREAKDOWN_CHOICES)
    _one_step_only(cfg, "finite_size_expansion")
    mu, s2 = layer_weight_moments(cfg)
    n, L = cfg.width, cfg.layers
    c = cfg.input_factor
    mbar = mean_field(cfg)["rate"].values[:, 0]
    terms = _expansion_terms(cfg, mbar, mu, s2)
    crit = _breakdown_criterion(n, mbar, _basin_boundary(cfg, mbar, mu, s2), terms)
    eps = crit["eps"]
    bad = np.flatnonzero(eps > tol)
    valid = int(bad[0]) if bad.size else L + 1
    if valid <= L and on_breakdown == "raise":
        raise ValueError(
            f"the 1/n expansion breaks down at layer {valid}: {_why(crit, valid, tol)}; use "
            "finite_size(cfg), the exact chain, or on_breakdown='truncate' (or 'mask')"
        )
    with np.errstate(all="ignore"):  # past a breakdown: dropped or masked below
        first = _expansion_moments(n, c, s2, mbar + terms["delta"] / n, terms["sigma"] / n)
        second = _expansion_moments(
            n,
            c,
            s2,
            mbar + terms["delta"] / n + terms["delta2"] / (n * n),
            np.maximum(terms["sigma"] / n + terms["sigma2"] / (n * n), 0.0),
        )
    kept = np.arange(L + 1) < valid
    keep = slice(0, valid) if on_breakdown == "truncate" else slice(None)
    data = {}
    for name in EXPANSION_OUTPUTS:
        error = ERROR_FACTOR * np.abs(second[name] - first[name])
        data[name] = np.where(kept, first[name], np.nan)
        data[f"{name}_error"] = np.where(kept, error, np.nan)
    dims = ("layer", "time")
    ds = xr.Dataset(
        {name: (dims, x[keep, None]) for name, x in data.items()},
        coords={"layer": layer_coord(L)[keep], "time": time_coord(1)},
    )
    ds["correction"] = (dims, eps[keep, None])
    ds["valid"] = (dims, kept[keep, None])
    _describe_sd(ds)
    for name in EXPANSION_OUTPUTS:
        ds[f"{name}_error"].attrs["long_name"] = (
            f"stated error bound of {name}: {ERROR_FACTOR:g} x its O(n^-2) term"
        )
    ds["correction"].attrs["long_name"] = (
        "breakdown criterion eps: max(|delta|/(n m), Sigma/(n (m - p_lower)^2), "
        "|delta2|/(n |delta|))"
    )
    ds["valid"].attrs["long_name"] = "layer within the expansion's tolerance (correction <= tol)"
    return finish_dataset(
        ds,
        cfg,
        kind="finite_size_expansion",
        method="first-order 1/n expansion about the mean field (DESIGN 3b, 3d)",
        assumptions=(
            f"{_assumptions(cfg)}; first order in 1/n about the mean field, of surviving "
            "networks (extinction is not a power series in 1/n)"
        ),
        expansion_tol=tol,
        error_factor=ERROR_FACTOR,
        valid_layers=valid,
        breakdown_layer=valid if valid <= L else None,
    )


def _why(crit: dict[str, np.ndarray], layer: int, tol: float) -> str:
    """Which part of the criterion ``eps`` exceeded ``tol`` at ``layer``, in words."""
    if not np.isfinite(crit["eps"][layer]):
        return "the mean field is extinct there (firing fraction 0)"
    parts = {
        "first": "its first-order correction is {:.3g} of the leading term",
        "basin": (
            "the fluctuation reaches the extinction basin (its variance is {:.3g} of the "
            "squared distance to the basin's edge)"
        ),
        "own": (
            "the layer's fluctuation reaches zero firing (its variance is {:.3g} of the "
            "squared mean)"
        ),
        "ratio": "its second-order term is {:.3g} of the first-order one",
    }
    name = max(parts, key=lambda k: float(np.nan_to_num(crit[k][layer], nan=np.inf)))
    return parts[name].format(float(crit[name][layer])) + f", > tol = {tol:g}"
