"""Exact Monte Carlo simulation of deep multi-step LIF stacks (DESIGN.md 1, 4).

:func:`simulate` draws ``reps`` independent networks of a
:class:`~snninit.config.NetworkConfig` and records, per repetition, layer and
time step, the statistics over the layer's neurons. :func:`run_network`
runs given weight matrices on given inputs through the same kernels.

Samplers
--------
``dense``
    Draws every weight of every layer (normal, or uniform with the same mean
    and variance) and propagates only the columns of neurons that spiked.
    Cost ``O(L n^2)`` random numbers per network: RNG bound.
``gram``
    Gaussian weights only. Given the spike trains ``S`` (T, n) of layer
    ``l - 1``, the input paths of layer ``l``'s neurons are iid Gaussian with
    mean ``mu c`` (``c_t`` spikes at ``t``) and covariance ``s2 S S^T``; they
    are drawn through a pivoted Cholesky factor of the ``T x T`` Gram matrix
    (silent and repeated time steps handled exactly, see
    :func:`snninit.montecarlo.kernels.gram_drive`). Exact in distribution,
    ``O(L n T^2)`` per network; for ``T = 1`` it is the ``O(n)`` sampler of
    DESIGN.md 3b. It does not give the *same* numbers as ``dense`` for a seed,
    only the same distribution (tested).

Reproducibility
---------------
Repetition ``r`` of seed ``s`` draws from its own generator
``PCG64(SeedSequence(s, spawn_key=(r,)))``, consumed in a fixed order (the
inputs, then layer by layer). Repetitions run on ``numba.get_num_threads()``
threads (numba kernels release the GIL), each writing only its own rows, so
the result is bit-identical whatever the thread count, and repetition ``r``
is the same whether ``reps`` is 10 or 20.
"""

from __future__ import annotations

import numbers
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import xarray as xr

from .._checks import check_choice
from .._dataset import finish_dataset, layer_coord, time_coord
from .._resources import check_resources
from ..config import NetworkConfig, check_config, check_limit
from ..models import RESET_CODES, neuron_layer, recurrent_layer
from . import kernels as K

__all__ = ["simulate", "run_network", "NetworkRun", "METHODS", "rep_generator"]

#: Sampling methods of :func:`simulate`.
METHODS = ("dense", "gram")

#: Relative pivot tolerance of the Gram factorisation (see kernels.pivoted_cholesky).
GRAM_REL_TOL = 1e-10

#: Largest |drive| scale accepted: keeps every membrane far from float overflow.
_MAX_DRIVE = 1e100

_OBSERVED = ("var_u", "mean_u", "spikes", "rate", "skew", "kurt")


def rep_generator(seed: int, rep: int) -> np.random.Generator:
    """The generator of repetition ``rep`` under ``seed`` (independent streams)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(rep,))))


def _weight_moments(cfg: NetworkConfig, recurrent: bool = False) -> tuple[np.ndarray, np.ndarray]:
    from ..theory.rules import layer_weight_moments, recurrent_weight_moments

    mean, var = (recurrent_weight_moments if recurrent else layer_weight_moments)(cfg)
    mean = np.ascontiguousarray(mean, dtype=np.float64)
    var = np.ascontiguousarray(var, dtype=np.float64)
    bad = ~np.isfinite(mean) | ~np.isfinite(var) | (var < 0)
    if np.any(bad):
        layer = int(np.argmax(bad)) + 1
        raise ValueError(
            f"init={cfg.init!r} gives weights feeding layer {layer} with mean "
            f"{mean[layer - 1]!r} and variance {var[layer - 1]!r}; both must be finite "
            "and the variance >= 0"
        )
    # the largest drive a neuron can see: n |mu| (all inputs spiking) or its sd
    scale = cfg.width * np.abs(mean) + np.sqrt(cfg.width * var)
    if np.any(scale * cfg.steps > _MAX_DRIVE):
        layer = int(np.argmax(scale * cfg.steps > _MAX_DRIVE)) + 1
        raise ValueError(
            f"init={cfg.init!r} with theta={cfg.theta!r}, width={cfg.width} gives weights "
            f"feeding layer {layer} of variance {var[layer - 1]!r} and mean "
            f"{mean[layer - 1]!r}: membranes would overflow; the drive scale "
            f"width*|mean| + sqrt(width*var) must be <= {_MAX_DRIVE:g}/steps"
        )
    return mean, var


def simulate(
    cfg: NetworkConfig,
    reps: int = 20,
    seed: int = 0,
    method: str = "dense",
    progress=False,
) -> xr.Dataset:
    """Simulate ``reps`` independent networks of ``cfg`` exactly.

    Model (DESIGN.md 1b, snntorch's ``Leaky`` with ``reset_delay=True``):
    ``u_0^t = c I + beta u_0^{t-1} - theta s_0^{t-1}`` with ``I ~ N(0, 1)^n``
    fixed over time (``c = 1`` or ``1 - beta``, ``cfg.input_scale``) and
    ``u_l^t = W_l s_{l-1}^t + beta u_l^{t-1} - theta s_l^{t-1}``,
    ``s^t = 1[u^t > theta]``, ``u^{-1} = s^{-1} = 0``; reset variants ``zero``,
    ``none`` and ``reset_decay`` as :func:`kernels.lif_layer`. Each
    repetition draws new inputs and new weights ``W_l`` (n, n) with the
    per-layer mean and variance of :func:`snninit.theory.layer_weight_moments`,
    fixed over time. Other neuron models (``cfg.neuron``, :mod:`snninit.models`):
    ``synaptic`` and ``adaptive`` replace the neuron of every layer;
    ``recurrent`` adds ``V_l s_l^{t-1}`` to the drive of every hidden layer,
    with ``V_l`` (n, n) drawn per repetition with the moments of
    :func:`snninit.theory.recurrent_weight_moments` (``dense`` only: ``gram``
    is not exact there, see :mod:`snninit.models.recurrent`).

    Parameters
    ----------
    cfg : NetworkConfig
        The network.
    reps : int
        Number of independent networks, ``>= 1``.
    seed : int
        Seed, ``>= 0``; the same seed gives the same numbers for any thread count.
    method : {"dense", "gram"}
        Sampler (see module docstring). ``gram`` needs ``cfg.weights == "normal"``.
    progress : bool or callable
        ``True``: a tqdm bar over repetitions. A callable is called with 1
        after each finished repetition (used by presets to share one bar).

    Returns
    -------
    xarray.Dataset
        Dims ``(rep, layer, time)``: ``layer`` 0..L (0 = encoding layer whose
        membrane is the input), ``time`` 0..T-1. Variables (float64 unless
        said): ``var_u`` (np.var over neurons, ddof=0), ``mean_u``, ``spikes``
        (int64, neurons that spiked), ``rate`` = spikes / n, ``skew``,
        ``kurt`` (excess). ``skew`` and ``kurt`` are NaN exactly where all
        membranes of the layer are equal (``var_u == 0``), nowhere else.
        Attrs: the configuration, ``kind="simulation"``, ``seed``, ``method``,
        ``reps`` and the package version.

    Raises
    ------
    ValueError
        For ``reps`` or ``seed`` outside ``config.LIMITS``, an unknown method,
        ``gram`` with uniform weights or a recurrent network, weights whose scale would overflow the
        membranes, or a run whose results would not fit in the free memory
        (:func:`snninit._resources.check_resources`, checked before anything
        is allocated).

    Warns
    -----
    snninit._resources.LongRunWarning
        When the run is estimated to take long (with the estimate and how to
        make it shorter).
    """
    cfg = check_config(cfg)
    reps = check_limit("reps", reps)
    seed = check_limit("seed", seed)
    method = check_choice("method", method, METHODS)
    if method == "gram" and cfg.weights != "normal":
        raise ValueError(
            f"method='gram' samples Gaussian weights only; got weights={cfg.weights!r}: "
            "use method='dense' for uniform weights"
        )
    if method == "gram" and cfg.neuron == "recurrent":
        raise ValueError(
            "method='gram' is not exact for neuron='recurrent': a neuron's input path "
            "depends on its own layer's spikes, which depend on the recurrent weights, so "
            "given the raster below it is not Gaussian with a known covariance; use "
            "method='dense'"
        )
    check_resources("simulate", cfg, reps=reps, method=method)
    ds = simulate_range(cfg, 0, reps, seed, method, progress=progress)
    ds = ds.assign_coords(
        rep=np.arange(reps), layer=layer_coord(cfg.layers), time=time_coord(cfg.steps)
    )
    ds["rep"].attrs["long_name"] = "independent network (inputs and weights)"
    return finish_dataset(ds, cfg, kind="simulation", seed=seed, method=method, reps=reps)


def simulate_range(
    cfg: NetworkConfig, start: int, stop: int, seed: int, method: str, progress=False
) -> xr.Dataset:
    """Repetitions ``start..stop-1`` of :func:`simulate`, without coords or attrs.

    Repetition ``r`` draws from its own generator ``rep_generator(seed, r)``,
    so any range equals the same slice of a full run. Arguments are assumed
    validated by the caller (:func:`simulate`, the sweep runner).
    """
    mean, var = _weight_moments(cfg)
    mean_rec, var_rec = _weight_moments(cfg, recurrent=True)
    count, L, T, n = stop - start, cfg.layers, cfg.steps, cfg.width
    shape = (count, L + 1, T)
    out = {name: np.zeros(shape) for name in ("mean_u", "var_u", "skew", "kurt")}
    spikes = np.zeros(shape, dtype=np.int64)
    args = (
        n,
        T,
        float(cfg.theta),
        float(cfg.beta),
        RESET_CODES[cfg.reset],
        bool(cfg.reset_decay),
        cfg.input_factor,
        mean,
        var,
        K.METHOD_GRAM if method == "gram" else K.METHOD_DENSE,
        cfg.weights == "uniform",
        GRAM_REL_TOL,
        cfg.neuron_code,
        *cfg.neuron_params,
        mean_rec,
        var_rec,
    )

    def one(i: int) -> int:
        K.simulate_rep(
            rep_generator(seed, start + i),
            *args,
            out["mean_u"][i],
            out["var_u"][i],
            out["skew"][i],
            out["kurt"][i],
            spikes[i],
        )
        return i

    _run_parallel(one, count, progress, desc=f"simulate ({method})")
    dims = ("rep", "layer", "time")
    return xr.Dataset(
        {
            "var_u": (dims, out["var_u"]),
            "mean_u": (dims, out["mean_u"]),
            "spikes": (dims, spikes),
            "rate": (dims, spikes / float(n)),
            "skew": (dims, out["skew"]),
            "kurt": (dims, out["kurt"]),
        }
    )


def _run_parallel(fn, count: int, progress, desc: str) -> None:
    """Call ``fn(i)`` for ``i < count`` on numba's thread count, with progress."""
    bar = None
    tick = None
    if callable(progress):
        tick = progress
    elif progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=count, desc=desc, unit="rep")
        tick = bar.update
    workers = max(1, min(numba.get_num_threads(), count))
    try:
        if workers == 1:
            for i in range(count):
                fn(i)
                if tick is not None:
                    tick(1)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for _ in pool.map(fn, range(count)):
                    if tick is not None:
                        tick(1)
    finally:
        if bar is not None:
            bar.close()


@dataclass(frozen=True)
class NetworkRun:
    """Result of :func:`run_network`.

    Attributes
    ----------
    membranes : list of ndarray
        ``membranes[l]`` has shape ``(batch, T, n_l)``: ``u_l^t`` of every
        neuron (layer 0 = encoding layer).
    spikes : list of ndarray
        Same shapes, 0/1 ``uint8``: ``s_l^t``.
    stats : xarray.Dataset
        ``var_u, mean_u, spikes, rate, skew, kurt`` over ``(rep, layer,
        time)`` where ``rep`` is the batch element (all share the weights),
        with coordinate ``neurons`` (layer size). ``run[name]`` is
        ``run.stats[name]``.
    """

    membranes: list
    spikes: list
    stats: xr.Dataset

    def __getitem__(self, name: str) -> xr.DataArray:
        return self.stats[name]


def run_network(weights, inputs, cfg: NetworkConfig, recurrent_weights=None) -> NetworkRun:
    """Run given weight matrices on given inputs (deterministic forward pass).

    Same model and kernels as :func:`simulate` (``cfg`` supplies ``steps``,
    ``theta``, ``beta``, ``reset``, ``reset_decay``, ``input_scale`` and the
    number of hidden layers ``layers``; its ``width``, ``init`` and
    ``weights`` are ignored, the layer sizes come from the matrices): layer 0
    is driven by ``c x`` at every step, layer ``l`` by ``weights[l-1] @ s_{l-1}^t``
    (sum over the presynaptic neurons that spiked, in index order).

    Parameters
    ----------
    weights : sequence of array_like
        ``cfg.layers`` matrices; ``weights[l-1]`` has shape ``(n_l, n_{l-1})``
        (torch's ``nn.Linear`` layout), finite; ``n_0`` is the input size.
    inputs : array_like
        ``(n_0,)`` or ``(batch, n_0)``, finite: the constant input.
    cfg : NetworkConfig
        Its ``neuron`` (and the model's parameters) choose the neuron of every layer.
    recurrent_weights : sequence of array_like, optional
        For ``cfg.neuron == "recurrent"`` (required there, an error elsewhere):
        ``cfg.layers`` matrices, ``recurrent_weights[l-1]`` of shape ``(n_l,
        n_l)``, finite: layer ``l``'s ``V_l`` (:mod:`snninit.models.recurrent`).

    Returns
    -------
    NetworkRun
    """
    cfg = check_config(cfg)
    recurrent = cfg.neuron == "recurrent"
    if recurrent != (recurrent_weights is not None):
        raise ValueError(
            "recurrent_weights must be given exactly when cfg.neuron == 'recurrent' "
            f"(one (n_l, n_l) matrix per hidden layer); got neuron={cfg.neuron!r} and "
            f"recurrent_weights {'given' if recurrent_weights is not None else 'None'}"
        )
    x = np.asarray(inputs, dtype=float) if _is_numeric(inputs) else None
    if x is None or x.ndim not in (1, 2) or x.size == 0:
        raise ValueError(
            "inputs must be a non-empty numeric array of shape (n_0,) or (batch, n_0); "
            f"got {type(inputs).__name__} of shape {getattr(x, 'shape', None)}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("inputs must be finite; got a NaN or infinite entry")
    if x.ndim == 1:
        x = x[None, :]
    mats = []
    try:
        weights = list(weights)
    except TypeError:
        raise ValueError(
            f"weights must be a sequence of (n_out, n_in) arrays; got {type(weights).__name__}"
        ) from None
    if len(weights) != cfg.layers:
        raise ValueError(
            f"weights must hold one matrix per hidden layer, cfg.layers = {cfg.layers}; "
            f"got {len(weights)}"
        )
    n_prev = x.shape[1]
    for idx, w in enumerate(weights):
        if not _is_numeric(w):
            raise ValueError(
                f"weights[{idx}] must be a numeric (n_out, n_in) array; got {type(w).__name__}"
            )
        w = np.ascontiguousarray(w, dtype=np.float64)
        if idx == 0 and w.ndim == 2 and w.shape[0] >= 1 and w.shape[1] != n_prev:
            raise ValueError(
                f"inputs have n_0 = {n_prev} entries per row but weights[0] has shape "
                f"{w.shape}: weights[0] must have shape (n_out, {n_prev}), or inputs "
                f"(..., {w.shape[1]})"
            )
        if w.ndim != 2 or w.shape[1] != n_prev or w.shape[0] < 1:
            raise ValueError(f"weights[{idx}] must have shape (n_out, {n_prev}); got {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError(f"weights[{idx}] must be finite; got a NaN or infinite entry")
        mats.append(w)
        n_prev = w.shape[0]
    recs = []
    if recurrent:
        try:
            recurrent_weights = list(recurrent_weights)
        except TypeError:
            raise ValueError("recurrent_weights must be a sequence of (n_l, n_l) arrays") from None
        if len(recurrent_weights) != cfg.layers:
            raise ValueError(
                f"recurrent_weights must hold one matrix per hidden layer, cfg.layers = "
                f"{cfg.layers}; got {len(recurrent_weights)}"
            )
        for idx, (v, w) in enumerate(zip(recurrent_weights, mats)):
            v = np.ascontiguousarray(v, dtype=np.float64) if _is_numeric(v) else None
            m = w.shape[0]
            if v is None or v.shape != (m, m):
                raise ValueError(
                    f"recurrent_weights[{idx}] must be a numeric ({m}, {m}) array; got "
                    f"shape {getattr(v, 'shape', None)}"
                )
            if not np.all(np.isfinite(v)):
                raise ValueError(
                    f"recurrent_weights[{idx}] must be finite; got a NaN or infinite entry"
                )
            recs.append(np.ascontiguousarray(v.T))  # recurrent_layer takes V^T
    batch, T = x.shape[0], cfg.steps
    sizes = [x.shape[1]] + [w.shape[0] for w in mats]
    membranes = [np.empty((batch, T, m)) for m in sizes]
    spk = [np.zeros((batch, T, m), dtype=np.uint8) for m in sizes]
    shape = (batch, len(sizes), T)
    stats = {name: np.zeros(shape) for name in ("mean_u", "var_u", "skew", "kurt")}
    counts = np.zeros(shape, dtype=np.int64)
    c = cfg.input_factor
    reset = RESET_CODES[cfg.reset]
    for b in range(batch):
        u = membranes[0][b]
        u[:, :] = c * x[b][None, :]
        neuron_layer(u, spk[0][b], cfg.neuron_code, cfg.beta, cfg.theta, reset,
                     cfg.reset_decay, *cfg.neuron_params)
        for layer, w in enumerate(mats, start=1):
            u = membranes[layer][b]
            K.matrix_drive(w, spk[layer - 1][b], u)
            if recurrent:
                recurrent_layer(u, spk[layer][b], recs[layer - 1], cfg.beta, cfg.theta, reset,
                                cfg.reset_decay)
            else:
                neuron_layer(u, spk[layer][b], cfg.neuron_code, cfg.beta, cfg.theta, reset,
                             cfg.reset_decay, *cfg.neuron_params)
        for layer in range(len(sizes)):
            K.layer_moments(
                membranes[layer][b],
                spk[layer][b],
                stats["mean_u"][b, layer],
                stats["var_u"][b, layer],
                stats["skew"][b, layer],
                stats["kurt"][b, layer],
                counts[b, layer],
            )
    _refuse_overflow(stats, membranes, mats, x)
    dims = ("rep", "layer", "time")
    sizes_arr = np.asarray(sizes)
    ds = xr.Dataset(
        {
            "var_u": (dims, stats["var_u"]),
            "mean_u": (dims, stats["mean_u"]),
            "spikes": (dims, counts),
            "rate": (dims, counts / sizes_arr[None, :, None]),
            "skew": (dims, stats["skew"]),
            "kurt": (dims, stats["kurt"]),
        },
        coords={
            "rep": np.arange(batch),
            "layer": np.arange(len(sizes)),
            "time": time_coord(T),
            "neurons": ("layer", sizes_arr),
        },
    )
    ds["rep"].attrs["long_name"] = "element of the input batch (one shared network)"
    ds = finish_dataset(ds, cfg, kind="network_run")
    return NetworkRun(membranes=membranes, spikes=spk, stats=ds)


def _refuse_overflow(stats: dict, membranes: list, mats: list, x: np.ndarray) -> None:
    """One-line ValueError if a membrane or its variance left the float range.

    The moment kernel is scaled (finite skew and kurt for any finite ``var_u >
    0``), so a non-finite statistic can only come from membranes that are
    themselves too large: name the weights' scale that made them so.
    """
    bad = ~(np.isfinite(stats["var_u"]) & np.isfinite(stats["mean_u"]))
    if not bad.any():
        return
    layer = int(np.argwhere(bad)[0][1])
    if layer == 0:
        scale, what = float(np.max(np.abs(x))), "the inputs"
    else:
        scale, what = float(np.max(np.abs(mats[layer - 1]))), f"weights[{layer - 1}]"
    peak = max(float(np.max(np.abs(m[np.isfinite(m)]), initial=0.0)) for m in membranes)
    raise ValueError(
        f"the membranes of layer {layer} overflow the float range (var_u is not finite; "
        f"largest finite |u| {peak:.3g}): {what} have scale max|w| = {scale:.3g}; "
        "scale them down (var_u ~ n max|w|^2 must stay below ~1e308)"
    )


def _is_numeric(value) -> bool:
    try:
        arr = np.asarray(value)
    except Exception:
        return False
    return arr.dtype.kind in "biuf" or (
        arr.dtype == object and all(isinstance(v, numbers.Real) for v in arr.flat)
    )
