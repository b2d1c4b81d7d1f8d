"""Dynamic mean field over time steps (DESIGN.md section 3c).

For ``n -> infinity`` a layer is described by its spike correlation
``C_l(t, t') = E[s^t s^t']`` (a ``T x T`` matrix; its diagonal is the firing
rate). Given ``C_l``, the inputs ``h^t = sum_j W_ij s_j^t`` of the neurons of
layer ``l + 1`` are, across neurons, Gaussian paths with mean
``n mu_{l+1} C_l(t, t)`` and covariance ``n s2_{l+1} C_l``; every neuron's
membrane is a deterministic function of its input path (leak and reset
included), so

    C_{l+1} = E_{h ~ N(n mu r_l, n s2 C_l)} [ s(h) s(h)^T ]

and the across-neuron moments of ``u_{l+1}^t`` are path expectations too.

How each expectation is computed
--------------------------------
* Layer 0 (the encoding layer, ``u_0^t`` driven by ``c I`` with
  ``I ~ N(0, 1)``): exactly. On every interval of ``I`` on which the spike
  train is constant all ``u^t`` are affine in ``I``; the intervals are found by
  splitting at each threshold crossing, and the moments are truncated-Gaussian
  integrals in closed form. No sampling error.
* Time step 0 of every layer: exactly (``u^0 = h^0`` is Gaussian), so
  ``steps=1`` reproduces :func:`snninit.theory.mean_field`.
* Everything else: randomised quasi-Monte Carlo. The ``paths`` Gaussian paths
  are split into ``replicates`` independent groups, each a scrambled Sobol
  sequence mapped to normals (principal-component order: the first Sobol
  coordinate drives the largest eigen-direction of ``C``). Each group runs the
  whole layer recursion on its own (common random numbers across layers), so
  the spread of the group results is an honest standard error of the final
  average, including the error propagated from the layers below.

The moments are those of ``u`` over the (infinitely many) neurons at a fixed
time step: ``var_u = E[u^2] - E[u]^2`` (the across-neuron mean ``E[u]`` need
not vanish after resets), as ``np.var`` over the neurons of a simulation.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import xarray as xr
from threadpoolctl import threadpool_limits

from .._checks import check_bool
from .._dataset import finish_dataset, layer_coord, time_coord
from .._lazy import lazy_exports
from .._resources import check_resources, check_work, inputs_work
from ..config import NetworkConfig, check_config, check_limit
from ..models import RESET_CODES as MODEL_RESET_CODES
from ..models.inputs import check_inputs, input_statistics, inputs_attrs
from .dmft_paths import (
    _encoding_layer,
    _firing_probability,
    _layer_kernel,
    _path_normals,
    _pca_factor,
    _pow2_scale,
    _recurrent_layer_kernel,
    _shape_from_raw,
)
from .rules import layer_weight_moments, recurrent_weight_moments

__all__ = ["dynamic_mean_field", "RESET_CODES"]

#: Integer codes of the reset variants passed to the numba kernel (the model's own;
#: kept here as a public name of this module).
RESET_CODES = MODEL_RESET_CODES

_MOMENT_VARS = ("var_u", "mean_u", "rate", "skew", "kurt")


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------


def dynamic_mean_field(
    cfg: NetworkConfig,
    paths: int = 100_000,
    seed: int = 0,
    *,
    replicates: int = 8,
    check_paths: bool = True,
    inputs=None,
    encode: bool = True,
    average: bool = False,
    weight_moments=None,
) -> xr.Dataset:
    """Dynamic mean-field prediction for every (layer, time step).

    Parameters
    ----------
    cfg : NetworkConfig
        Network; every reset variant, ``reset_decay`` and ``input_scale`` of
        DESIGN.md section 1b is supported, with the per-layer weight moments of
        :func:`~snninit.theory.layer_weight_moments` (non-zero weight means
        shift the input path by ``n mu E[s^t]``). ``cfg.width`` enters only as
        the fan-in ``n`` in ``n s2`` and ``n mu`` (the theory is ``n -> inf``).
    paths : int
        Total number of sampled input paths per layer (>= 2 * replicates),
        split evenly between the replicate groups.
    seed : int
        Seed of the Sobol scramblings; same seed, same numbers (the path
        recursion is serial, so the thread count does not matter).
    replicates : int
        Independent randomised-QMC groups (>= 2) used for the standard errors.
    check_paths : bool
        Check the convergence in ``paths`` (default True, 1/8 more work):
        the recursion is run a second time on the first eighth of every
        group's paths, and the layers whose estimate still depends on the
        number of paths are reported (see Notes). With False no layer is
        checked and ``converged`` is not returned.
    inputs : array_like, optional
        Real inputs instead of ``I ~ N(0, 1)`` (DESIGN.md 1d,
        :mod:`snninit.models.inputs`): ``(samples, n_0)``, constant over time,
        or ``(samples, steps, n_0)``, one row per step. Layer 0 of every
        sample is then computed exactly from the data (its statistics over
        its ``n_0`` neurons, as a simulation of that sample reports them),
        the first hidden layer has fan-in ``n_0`` (weights with the rule's
        moments there, :func:`~snninit.theory.layer_weight_moments`) and
        sees, for Gaussian weights, exactly the Gaussian path of mean ``n_0
        mu m^t`` and covariance ``n_0 s2 C_0(t, t')`` of the sample's
        layer-0 output; the recursion continues from there with fan-in
        ``width``. The same replicate groups (common random numbers) serve
        every sample.
    encode : bool
        With ``inputs``: layer 0 is the encoding layer on ``c x`` (default),
        or the inputs themselves fed to the first weight layer (snntorch's
        ``Linear``-first layout, e.g. rate-coded spike trains; the result
        then has layers ``1..L``).
    average : bool
        With ``inputs``: return the prediction averaged over the samples
        (dims ``(layer, time)``; each replicate group's value is averaged
        over the samples before the error is taken, so ``<var>_se`` is the
        error of the average) instead of per sample (default: dim
        ``sample`` first).
    weight_moments : (mean, var), optional
        With ``inputs``: the feed-forward weights' mean and variance per
        hidden layer (two sequences of ``cfg.layers`` floats) instead of the
        rule's, e.g. the moments a model's layers were drawn with
        (:func:`snninit.torch.diagnose`); the recurrence keeps the config's.

    Returns
    -------
    xarray.Dataset
        Over ``(layer, time)``: ``var_u``, ``mean_u``, ``rate``, ``spikes``
        (``n * rate``), ``skew``, ``kurt`` and each one's standard error
        ``<var>_se`` (error of the path expectation, 0 where the value is
        exact: layer 0 and time step 0); ``corr`` and ``corr_se`` over
        ``(layer, time, time2)``, the spike correlation ``C_l(t, t')``.
        Skewness and kurtosis are NaN where ``var_u == 0``. With
        ``check_paths``: ``<var>_se`` includes the estimated ``O(1/m)`` bias
        (Notes), ``converged`` (bool over ``layer``), ``spread_ratio`` and
        ``drift_t`` (the check's statistics, over ``layer``; finite
        everywhere: where they are undefined, ``check_defined`` (bool over
        ``layer``) is False and they hold ``F`` and 0, see Notes); in
        layers that are not converged every ``<var>_se`` with ``time >= 1`` is
        NaN (the value is kept; see Notes) and ``attrs["unconverged_from_layer"]``
        is the first such layer (absent if all are converged).
        ``attrs["se_dof"] = replicates - 1``: a ``1 - a`` interval is
        ``value +- t_{K-1}(1 - a/2) * se`` (2.36 se for 95 % with 8 groups).

    Notes
    -----
    Assumes Gaussian i.i.d. weights, fresh per layer, and ``n -> infinity``
    (so ``K / n -> C``). With ``weights="uniform"`` the prediction is that of
    Gaussian weights of the same mean and variance (the input is a sum of
    ``n`` weights, Gaussian in the limit). A network whose dynamics are
    unstable in time (finite-size fluctuations grow with depth) is still
    predicted cell by cell here; :func:`unstable_layer` says from which layer
    such a prediction stops describing a single finite network.

    Standard error. With ``K`` groups of ``m`` paths and group values
    ``x_g``, ``value = mean_g x_g`` and ``se_s = sd_g(x_g) / sqrt(K)`` (ddof 1):
    the groups are i.i.d., so ``E[se_s^2] = Var(value)`` for every statistic,
    linear (``rate``, ``mean_u``, ``corr``) or not (``var_u``, ``skew``,
    ``kurt``: each group's value is its own ratio of moments). ``se`` itself
    has ``K - 1`` degrees of freedom; the group values of ``kurt`` are
    heavy-tailed (excess kurtosis 5-10 measured), so a single ``kurt_se`` is
    typically below the spread over seeds although calibrated in mean square
    (docs/dmft.md, "Convergence in paths and the honest error"). With
    ``check_paths`` the stated error also covers the ``O(1/m)`` bias of the
    finite groups (the per-group ratio of moments, the nonlinear layer map):
    ``se = sqrt(se_s^2 + bias^2)``, ``bias^2 = max(mean_g(d)^2 - Var_g(d) / K,
    0) / (F - 1)^2`` with ``d_g = x_g - y_g`` below (Richardson's estimate
    for the bias law ``E[x_m] = x + b / m``, its own noise subtracted).

    Convergence in paths (``check_paths``). A group of ``m`` paths is, in
    distribution, a width-``m`` network: where the layer map amplifies
    perturbations (the temporally unstable regime, DESIGN 3e) its own
    ``1/sqrt(m)`` fluctuations grow with depth until the groups break up into
    volleys, and from there on the value depends on ``m`` by much more than
    ``se`` (it drifts with ``log m`` towards a different ``n -> infinity``
    state). Let ``x_g`` and ``y_g`` be group ``g``'s values from all ``m`` and
    from the first ``m / F`` of its paths, ``F = 8`` (for ``m < 16`` the
    coarse run keeps 2 paths, or 1 when ``m <= 2``, so that its shape
    statistics are defined; nested: the start of a
    scrambled Sobol sequence is itself a randomised net; the check costs
    ``1/F`` more work). Per hidden layer, from the rate at ``t >= 1``:

    * ``spread_ratio``: the group variance ``sum_t Var_g`` of ``y`` over that
      of ``x``, or the same ratio of the relative spreads ``sum_t Var_g / sum_t
      mean_g^2`` if smaller (a broken-up coarse run can sit at another level
      or be more erratic; both ratios are ``F`` under the sampling law):
      about ``F`` or more while the spread is sampling error (``Var ~ 1/m``,
      QMC faster), about 1 once the groups have broken up (spread
      independent of ``m``); undefined in layer 0 (exact), where the rate
      does not vary between the groups (a silent or saturated layer) and
      where the coarse run is silent (a dying layer whose last spikes
      ``m / F`` paths miss is not a break-up): there ``check_defined`` is
      False and the value is ``F``, which the rule below reads as converged;
    * ``drift_t = mean_g(d) / se_d``, ``se_d = sd_g(d) / sqrt K``, with
      ``d_g`` the time-averaged ``x_g - y_g`` (a diagnostic: under an
      ``O(1/m)`` bias, ``E[d] = -(F - 1) bias(value)``, which the stated
      ``se`` already includes, see above); 0 where the differences do not
      vary between the groups (layer 0, exact layers).

    The first unconverged layer is the first ``l`` with
    ``spread_ratio_l < sqrt F`` (nearer to 1 than to ``F`` in log scale) and
    ``median(spread_ratio_l .. spread_ratio_L) < sqrt F``: the groups have
    broken up, and it persists. (A flag on a significant drift as well was
    tried and dropped: the ``O(1/m)`` bias is resolved in stable networks
    too, where it is small and covered by ``se``; such a flag marked 5 of
    300 runs of 12 layers, beta 0.5 and 0.9, as unconverged from layers
    1-12; the rule above marked none.)
    Layers from there on are not converged: their cells are an
    ``m``-dependent sample, not the ``n -> infinity`` limit, so their ``se``
    is NaN (no error can be stated; :func:`snninit.validation.compare` skips
    such cells) while the values stay (they are the time course of a
    broken-up width-``~m`` ensemble and what a figure may show, marked as
    such). Time step 0 is exact in every layer and keeps ``se = 0``.
    """
    cfg = check_config(cfg)
    replicates = check_limit("replicates", replicates)
    paths = check_limit("paths", paths, low=2 * replicates)
    seed = check_limit("seed", seed)
    check_paths = check_bool("check_paths", check_paths)
    # memory and time before anything is allocated (issue 15)
    check_resources(
        "dynamic_mean_field", cfg, paths=paths, replicates=replicates, check_paths=check_paths
    )
    x = None
    if inputs is not None:
        x = check_inputs(inputs, cfg.steps)
        encode = check_bool("encode", encode)
        average = check_bool("average", average)
        check_work(*inputs_work("dynamic_mean_field", cfg, x.shape[0], x.shape[-1],
                                paths=paths, replicates=replicates))
    elif not (encode is True and average is False and weight_moments is None):
        raise ValueError("encode=, average= and weight_moments= apply with inputs= only")
    per_group = paths // replicates
    used_paths = per_group * replicates
    z = _path_normals(cfg.steps, per_group, replicates, seed) if cfg.steps > 1 else None
    extra = {}
    if inputs is None:
        neurons = np.array([cfg.width] * (cfg.layers + 1))
        ds, first_bad = _dataset_from_groups(cfg, z, replicates, per_group, check_paths, [None],
                                             neurons)
    else:
        ds, first_bad, extra = _with_inputs(cfg, z, replicates, per_group, check_paths, x,
                                            inputs, encode, average, weight_moments)
    convergence = (
        "not checked"
        if "converged" not in ds
        else (
            "every layer converged in paths"
            if first_bad is None
            else f"layers >= {first_bad} depend on paths (the replicate groups break up "
            "like width-m networks, DESIGN 3e): values are m-dependent samples, "
            "their SE (time >= 1) is NaN"
        )
    )
    return finish_dataset(
        ds,
        cfg,
        kind="dmft",
        paths=used_paths,
        seed=seed,
        replicates=replicates,
        se_dof=replicates - 1,
        unconverged_from_layer=first_bad,
        convergence=convergence,
        method=(
            "dynamic mean field (n -> infinity): exact layer 0 and t = 0, randomised "
            "scrambled-Sobol path sampling elsewhere, SE from independent replicate groups, "
            "convergence in paths checked against 1/8 of the paths per group"
        ),
        **extra,
    )


def _with_inputs(cfg, z, replicates, per_group, check_paths, x, inputs, encode, average,
                 weight_moments=None):
    """The prediction on real inputs: per sample (dim ``sample``) or averaged over them."""
    S, _, n0 = x.shape
    L = cfg.layers
    fan_in = np.array([n0] + [cfg.width] * (L - 1), dtype=np.int64)
    if weight_moments is None:
        mu, s2 = layer_weight_moments(cfg, fan_in=fan_in)
    else:
        mu, s2 = _given_moments(weight_moments, L)
    _check_weights(cfg, mu, s2)
    neurons = np.array([n0] + [cfg.width] * L)
    starts = [_data_start(cfg, x[i], encode, mu, s2) for i in range(S)]
    if average:
        ds, first_bad = _dataset_from_groups(cfg, z, replicates, per_group, check_paths, starts,
                                             neurons)
        how = f"averaged over the {S} samples (each group's value averaged first)"
    else:
        parts, bad = [], []
        for start in starts:
            one, first = _dataset_from_groups(cfg, z, replicates, per_group, check_paths,
                                              [start], neurons)
            parts.append(one)
            bad.append(first)
        ds = xr.concat(parts, dim="sample", coords="minimal", compat="override")
        ds = ds.assign_coords(sample=np.arange(S))
        ds["sample"].attrs["long_name"] = "input sample (row of inputs)"
        found = [b for b in bad if b is not None]
        first_bad = min(found) if found else None
        how = "per sample (dim sample); average them with ds.mean('sample') for the values"
    ds = ds.assign_coords(neurons=("layer", neurons))
    if not encode:  # layer 0 is the data itself: no membrane, nothing to predict
        ds = ds.sel(layer=slice(1, None))
    for v in ds.data_vars:
        ds[v].attrs["inputs"] = how
    extra = {**inputs_attrs(inputs, x, encode), "inputs_statistics": how}
    return ds, first_bad, extra


def _given_moments(weight_moments, layers: int):
    try:
        mu, s2 = (np.asarray(a, dtype=float) for a in weight_moments)
    except (TypeError, ValueError):
        mu = s2 = None
    if mu is None or mu.shape != (layers,) or s2.shape != (layers,):
        raise ValueError(
            f"weight_moments must be (mean, var), each {layers} floats (one per hidden layer)"
        )
    return mu, s2


def _check_weights(cfg, mu, s2) -> None:
    bad = ~np.isfinite(mu) | ~np.isfinite(s2) | (s2 < 0)
    if np.any(bad):
        layer = int(np.argmax(bad)) + 1
        raise ValueError(
            f"init={cfg.init!r} gives weights feeding layer {layer} with mean {mu[layer - 1]!r} "
            f"and variance {s2[layer - 1]!r}; both must be finite and the variance >= 0"
        )


def _dataset_from_groups(cfg, z, replicates, per_group, check_paths, starts, neurons):
    """The prediction's dataset over ``(layer, time)`` from the replicate groups.

    ``starts``: the layer-0 starts (:func:`_group_values`) whose group values
    are averaged (one: a plain prediction; several: the average over samples,
    each group's value averaged first, so the groups stay i.i.d. and their
    spread is the error of the average). ``neurons`` (L + 1,): layer sizes.
    Returns ``(ds, first_unconverged_layer)``.
    """
    val, corr = _averaged_groups(cfg, z, replicates, starts)
    L, T = cfg.layers, cfg.steps
    check = coarse = None
    if check_paths and z is not None and per_group >= 2:
        # at least 2 paths where possible: the shape statistics of one path are undefined
        # (its variance is 0), which would leave their bias, and so their SE, unknown
        m_coarse = max(per_group // _COARSE, min(2, per_group - 1))
        coarse = _averaged_groups(cfg, np.ascontiguousarray(z[:, :m_coarse]), replicates, starts)
        factor = per_group / m_coarse
        check = _path_convergence(val, coarse[0], factor)
    first_bad = None if check is None else check["unconverged_from_layer"]
    # sampled cells (t >= 1) of unconverged layers have no statable error
    bad = np.zeros((L + 1, T), dtype=bool)
    if first_bad is not None:
        bad[first_bad:, 1:] = True

    def estimate(groups, coarse_groups):
        est, se = _mean_and_se(groups)
        if coarse_groups is not None:
            se = np.hypot(se, _bias_estimate(groups, coarse_groups, factor))
        return est, se

    dims = ("layer", "time")
    data = {}
    for v in _MOMENT_VARS:
        est, se = estimate(val[v], None if coarse is None else coarse[0][v])
        data[v] = (dims, est)
        data[f"{v}_se"] = (dims, np.where(bad, np.nan, se))
    data["spikes"] = (dims, neurons[:, None] * data["rate"][1])
    data["spikes_se"] = (dims, neurons[:, None] * data["rate_se"][1])
    c_est, c_se = estimate(corr, None if coarse is None else coarse[1])
    c_se = np.where(bad[:, :, None] | bad[:, None, :], np.nan, c_se)
    if check is not None:
        data["converged"] = (
            ("layer",),
            np.arange(L + 1) < (L + 1 if first_bad is None else first_bad),
        )
        # undefined in exact, silent or saturated layers (layer 0 always): a finite fill
        # that reads as "no break-up" (the sampling law's ratio, no drift) and a mask
        defined = np.isfinite(check["spread_ratio"])
        data["check_defined"] = (("layer",), defined)
        data["spread_ratio"] = (("layer",), np.where(defined, check["spread_ratio"], factor))
        drift = check["drift_t"]
        data["drift_t"] = (("layer",), np.where(np.isfinite(drift), drift, 0.0))
    data["corr"] = (("layer", "time", "time2"), c_est)
    data["corr_se"] = (("layer", "time", "time2"), c_se)
    ds = xr.Dataset(
        data,
        coords={"layer": layer_coord(L), "time": time_coord(T), "time2": time_coord(T)},
    )
    ds["corr"].attrs.update(long_name="spike correlation C_l(t, t') = E[s^t s^t']", units="1")
    for v in [*_MOMENT_VARS, "spikes", "corr"]:
        ds[f"{v}_se"].attrs.update(
            long_name=f"standard error of {v} from path sampling, incl. the O(1/m) bias "
            "when checked (0 where exact, NaN where not converged in paths)"
        )
    if check is not None:
        ds["converged"].attrs.update(
            long_name="estimate converged in paths (the replicate groups follow the "
            "sampling law from m/8 to m paths, not broken up)"
        )
        ds["check_defined"].attrs.update(
            long_name="the convergence statistics are defined in this layer (a sampled layer "
            "whose rate varies between the groups, with all paths and with 1/8 of them); "
            "elsewhere (layer 0, exact; silent or saturated layers) spread_ratio holds "
            f"the sampling-law value {factor:g} and drift_t 0"
        )
        ds["spread_ratio"].attrs.update(
            long_name="group variance of rate (t >= 1, absolute or relative to the level, "
            "the smaller) with 1/8 / with all paths: ~8 sampling-limited, ~1 broken up "
            "(where not check_defined: the sampling-law value)",
            units="1",
        )
        ds["drift_t"].attrs.update(
            long_name="t statistic of the time-averaged rate change from m/8 to m paths per group "
            "(0 where the change does not vary between the groups, e.g. exact layers)",
            units="1",
        )
    return ds, first_bad


def _averaged_groups(cfg, z, replicates, starts):
    """:func:`_group_values` averaged over ``starts`` (group by group)."""
    total = None
    for start in starts:
        val, corr = _group_values(cfg, z, replicates, start)
        if total is None:
            total = val, corr
        else:
            for v in _MOMENT_VARS:
                total[0][v] += val[v]
            total[1][...] += corr
    if len(starts) > 1:
        for v in _MOMENT_VARS:
            total[0][v] /= len(starts)
        total[1][...] /= len(starts)
    return total


def _default_start(cfg: NetworkConfig) -> dict:
    """Layer 0 of the paper's networks, exactly (``I ~ N(0, 1)^width``), and the weights."""
    mean0, var0, rate0, skew0, kurt0, corr0 = _encoding_layer(cfg)
    mu, s2 = layer_weight_moments(cfg)
    return {
        "layer0": {"mean_u": mean0, "var_u": var0, "rate": rate0, "skew": skew0, "kurt": kurt0},
        "first": rate0, "corr": corr0, "fan_in": np.full(cfg.layers, cfg.width),
        "mu": mu, "s2": s2,
    }


def _data_start(cfg: NetworkConfig, x: np.ndarray, encode: bool, mu, s2) -> dict:
    """Layer 0 of one real sample ``x`` (T, n_0), exactly (:func:`input_statistics`)."""
    stats = input_statistics(x, cfg, encode)
    layer0 = {v: stats[v] for v in _MOMENT_VARS} if encode else None
    fan_in = np.array([stats["fan_in"]] + [cfg.width] * (cfg.layers - 1))
    return {"layer0": layer0, "first": stats["first"], "corr": stats["corr"],
            "fan_in": fan_in, "mu": mu, "s2": s2}


def _group_values(cfg: NetworkConfig, z: np.ndarray | None, replicates: int,
                  start: dict | None = None):
    """Per-group results of the layer recursion (section "How each expectation...").

    Parameters
    ----------
    cfg : NetworkConfig
        The network.
    z : ndarray or None
        Standard normals of shape ``(replicates, m, T)`` (``m`` paths per group),
        e.g. from :func:`_path_normals`; None for ``T == 1`` (everything exact).
    replicates : int
        Number of groups ``K``.
    start : dict, optional
        Layer 0 and the weights (:func:`_default_start`, the default, or
        :func:`_data_start`): ``layer0`` (its moments over ``(T,)``, or None
        when layer 0 has no membrane; then its rows stay 0), ``first``
        ``m^t`` and ``corr`` ``C_0`` (the first weight layer sees a path of
        mean ``fan_in[0] mu_1 m^t``, covariance ``fan_in[0] s2_1 C_0``),
        ``fan_in``, ``mu``, ``s2`` per hidden layer.

    Returns
    -------
    val : dict of ndarray
        ``val[v][g, l, t]`` for ``v`` in ``_MOMENT_VARS``: group ``g``'s value.
    corr : ndarray
        ``corr[g, l, t, t']``, group ``g``'s spike correlation.
    """
    start = _default_start(cfg) if start is None else start
    mu, s2, fan_in = start["mu"], start["s2"], start["fan_in"]
    L, T = cfg.layers, cfg.steps
    theta, beta = cfg.theta, cfg.beta

    # per (group, layer, time) results; layer 0 and t = 0 are exact (no spread)
    val = {v: np.zeros((replicates, L + 1, T)) for v in _MOMENT_VARS}
    corr = np.zeros((replicates, L + 1, T, T))
    if start["layer0"] is not None:
        for v in _MOMENT_VARS:
            val[v][:, 0] = start["layer0"][v]
    corr[:, 0] = start["corr"]
    # the first moment of what each layer emits: m^t of layer 0, the rate above
    first = np.broadcast_to(start["first"], (replicates, T)).copy()

    factor_t = np.empty((replicates, T, T))
    drive = np.empty((replicates, T))
    raw = np.empty((replicates, 4, T))
    corr_new = np.empty((replicates, T, T))
    reset_code = RESET_CODES[cfg.reset]
    recurrent = cfg.neuron == "recurrent"
    mu_rec, s2_rec = recurrent_weight_moments(cfg)
    alpha = cfg.neuron_params[0]
    n = cfg.width  # the recurrence's fan-in (the layer's own width)
    for layer in range(1, L + 1):
        prev = corr[:, layer - 1]
        k = float(fan_in[layer - 1])
        # time step 0 exactly: u^0 = h^0 ~ N(k mu m^0, k s2 C(0, 0)), the same in every group
        # (every model: no synaptic history, no adaptation, no recurrent input yet)
        m0 = k * mu[layer - 1] * first[0, 0]
        v0 = k * s2[layer - 1] * prev[0, 0, 0]
        r0 = _firing_probability(m0, v0, theta)
        if T > 1:
            for g in range(replicates):
                drive[g] = k * mu[layer - 1] * first[g]
                if recurrent:
                    # the bound of the membrane scale: the recurrent input's variance is
                    # at most n s2_V (C <= 1), its mean at most n |mu_V|
                    cov_ff = k * s2[layer - 1] * prev
                    sd = np.sqrt(np.diagonal(cov_ff[g]) + n * s2_rec[layer - 1])
                    factor_t[g] = np.diag(sd)
                else:
                    factor_t[g] = _pca_factor(k * s2[layer - 1] * prev[g]).T
            _check_finite_drive(cfg, layer, factor_t, drive)
            rec_mean = n * mu_rec[layer - 1]
            scale = _membrane_scale(factor_t, np.abs(drive) + abs(rec_mean), beta, theta, alpha)
            with threadpool_limits(1):  # BLAS runs inside the kernel's threads
                if recurrent:
                    _recurrent_layer_kernel(
                        z, np.ascontiguousarray(cov_ff), drive, n * s2_rec[layer - 1],
                        rec_mean, 1.0 / scale, beta, theta, reset_code, cfg.reset_decay, raw,
                        corr_new,
                    )
                else:
                    _layer_kernel(
                        z,
                        factor_t,
                        drive,
                        1.0 / scale,
                        beta,
                        theta,
                        reset_code,
                        cfg.reset_decay,
                        raw,
                        corr_new,
                        cfg.neuron_code,
                        *cfg.neuron_params,
                    )
            var, skew, kurt = _shape_from_raw(raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3])
            with np.errstate(over="ignore"):  # refused just below
                var = var * (scale * scale)
                mean = raw[:, 0] * scale
            _check_finite_moments(cfg, layer, mean, var)
            val["mean_u"][:, layer] = mean
            val["var_u"][:, layer] = var
            val["skew"][:, layer] = skew
            val["kurt"][:, layer] = kurt
            val["rate"][:, layer] = np.diagonal(corr_new, axis1=1, axis2=2)
            corr[:, layer] = corr_new
        val["mean_u"][:, layer, 0] = m0
        val["var_u"][:, layer, 0] = v0
        val["rate"][:, layer, 0] = r0
        val["skew"][:, layer, 0] = 0.0 if v0 > 0 else np.nan
        val["kurt"][:, layer, 0] = 0.0 if v0 > 0 else np.nan
        corr[:, layer, 0, 0] = r0
        first = np.diagonal(corr[:, layer], axis1=1, axis2=2).copy()

    return val, corr


def _membrane_scale(factor_t: np.ndarray, drive: np.ndarray, beta: float, theta: float,
                    alpha: float = 0.0):
    """Power-of-two size of the membranes ``u^t`` of every group, shape ``(K, T)``.

    ``|u^t| <~ b_t = sum_{s <= t} beta^(t-s) (sd(h^s) + |drive^s| + theta)`` (leak,
    a reset of at most theta per step), ``sd(h^s)`` the norm of column ``s``
    of the factor the paths are drawn with; for the synaptic neuron the input
    first passes the current's filter (``alpha > 0``: ``sd + |drive|`` summed
    with weights ``alpha^(t-s)``); :func:`_pow2_scale` of it. Per
    time step, since the sizes may differ by a hundred decades between steps
    (a nearly silent step next to one driven by weights of variance 1e196).
    """
    with np.errstate(over="ignore"):
        sd = np.sqrt(np.einsum("kjt,kjt->kt", factor_t, factor_t))
    step = sd + np.abs(drive) + theta
    bound = np.empty_like(step)
    acc = np.zeros(step.shape[0])
    with np.errstate(over="ignore"):  # an infinite bound just means "scale as far as possible"
        if alpha > 0:
            current = np.zeros(step.shape[0])
            for t in range(step.shape[1]):
                current = alpha * current + sd[:, t] + np.abs(drive[:, t])
                step[:, t] = current + theta
        for t in range(step.shape[1]):
            acc = beta * acc + step[:, t]
            bound[:, t] = acc
    return _pow2_scale(bound)


def _overflow_error(cfg: NetworkConfig, layer: int, what: str) -> ValueError:
    return ValueError(
        f"dynamic_mean_field: {what} of layer {layer} exceeds the float range for "
        f"init={cfg.init!r}, theta={cfg.theta!r}, width={cfg.width}, steps={cfg.steps}, "
        f"beta={cfg.beta!r}; use a smaller theta or another init"
    )


def _check_finite_drive(cfg: NetworkConfig, layer: int, factor_t, drive) -> None:
    if not (np.all(np.isfinite(factor_t)) and np.all(np.isfinite(drive))):
        raise _overflow_error(cfg, layer, "the input-path covariance")


def _check_finite_moments(cfg: NetworkConfig, layer: int, mean, var) -> None:
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var))):
        raise _overflow_error(cfg, layer, "the membrane variance")


#: The convergence check reruns every group on its first ``m / _COARSE`` paths.
_COARSE = 8


def _path_convergence(full: dict, coarse: dict, factor: float) -> dict:
    """Convergence in paths from the per-group values with all / fewer paths.

    Parameters
    ----------
    full, coarse : dict of ndarray
        ``val[v][g, l, t]`` (:func:`_group_values`) of every group with ``m``
        and with the first ``m / factor`` of its paths (nested normals).
    factor : float
        Ratio of the path counts (``_COARSE`` unless ``m < _COARSE``).

    Returns
    -------
    dict
        ``spread_ratio[l]`` (from the rate), coarse over full, the smaller of
        the ratios of the group variances ``sum_{t>=1} Var_g`` and of the
        relative spreads ``sum_{t>=1} Var_g / sum_{t>=1} mean_g^2`` (NaN
        where the full-path spread is 0, exact or silent layers, or the
        coarse run is silent); ``drift_t[l]``, the one-sample t statistic of the
        group differences of the time-averaged (``t >= 1``) rate, full minus
        coarse (NaN where they are all equal; a diagnostic); and
        ``unconverged_from_layer`` (int or None) by the rule in
        :func:`dynamic_mean_field`'s Notes, with the split ``sqrt(factor)``
        between the sampling law (ratio ``factor``) and a spread that does not
        depend on the paths (ratio 1).
    """
    rate, rate_coarse = full["rate"][:, :, 1:], coarse["rate"][:, :, 1:]
    k, n_layers = rate.shape[0], rate.shape[1] - 1
    # the spread law, absolute and relative to the level (variance over squared mean):
    # a broken-up coarse run may sit at another level (absolute ratio misleads) or
    # have more erratic volleys (relative ratio misleads); broken up is when either
    # ratio has left the sampling law. A silent coarse run says nothing (NaN): a
    # dying layer whose last spikes the m / factor paths miss is not a break-up.
    v_full = rate.var(axis=0, ddof=1).sum(axis=-1)
    v_coarse = rate_coarse.var(axis=0, ddof=1).sum(axis=-1)
    level_full = (rate.mean(axis=0) ** 2).sum(axis=-1)
    level_coarse = (rate_coarse.mean(axis=0) ** 2).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        absolute = v_coarse / v_full
        relative = absolute * level_full / level_coarse
        ratio = np.where((v_full > 0) & (level_coarse > 0), np.minimum(absolute, relative), np.nan)
    ratio[0] = np.nan  # layer 0 is exact
    # diagnostic: drift of the time-averaged rate from m / factor to m paths
    d = rate.mean(axis=-1) - rate_coarse.mean(axis=-1)
    d_se = d.std(axis=0, ddof=1) / math.sqrt(k)
    with np.errstate(divide="ignore", invalid="ignore"):
        drift = np.where(d_se > 0, d.mean(axis=0) / np.where(d_se > 0, d_se, 1.0), np.nan)
    drift[0] = np.nan
    split = math.sqrt(factor)
    first = None
    for layer in range(1, n_layers + 1):
        tail = ratio[layer:]
        tail = tail[np.isfinite(tail)]
        if ratio[layer] < split and tail.size > 0 and np.median(tail) < split:
            first = layer
            break
    return {"spread_ratio": ratio, "drift_t": drift, "unconverged_from_layer": first}


def _bias_estimate(full: np.ndarray, coarse: np.ndarray, factor: float) -> np.ndarray:
    """Size of the O(1/m) bias of the group mean, from the nested coarse run.

    With ``d_g = full_g - coarse_g`` (``m`` vs ``m / factor`` paths, same
    scrambling) and the bias law ``E[x_m] = x + b / m``, ``E[d] = -(factor -
    1) b / m``, so ``|bias| = |E d| / (factor - 1)``, estimated without the
    noise of ``mean_g d`` as

        bias^2 = max(mean_g(d)^2 - Var_g(d) / K, 0) / (factor - 1)^2

    (0 where it is not resolved; NaN propagates from undefined cells).
    """
    d = full - coarse
    k = d.shape[0]
    scale = _cell_scale(d)  # var_u ~ 1e197 would overflow when squared
    d = d / scale
    resolved = d.mean(axis=0) ** 2 - d.var(axis=0, ddof=1) / k
    return np.sqrt(np.maximum(resolved, 0.0)) * scale / (factor - 1.0)


def _cell_scale(groups: np.ndarray) -> np.ndarray:
    """:func:`_pow2_scale` of each cell's largest ``|value|`` over the groups (axis 0)."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells
        size = np.nanmax(np.abs(groups), axis=0)
    return _pow2_scale(size)


def _mean_and_se(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over axis 0 and its standard error ``sd / sqrt(K)``.

    Cells where any group is NaN (undefined shape statistics) are NaN in both.
    """
    k = groups.shape[0]
    scale = _cell_scale(groups)  # squares of var_u ~ 1e197 would overflow
    scaled = groups / scale
    est = scaled.mean(axis=0) * scale
    se = scaled.std(axis=0, ddof=1) * scale / math.sqrt(k)
    # exact cells are identical in every group: their value exactly, the SE exactly 0
    same = np.all(groups == groups[:1], axis=0)
    est = np.where(same, groups[0], est)
    se = np.where(same, 0.0, se)
    se = np.where(np.isnan(est), np.nan, se)
    return est, se


# unstable_layer lives with the break-up theory; its old path keeps working
__getattr__, _ = lazy_exports(__package__, {"unstable_layer": "breakup"}, __name__)
