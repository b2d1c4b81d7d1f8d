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

import math
import numbers
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import xarray as xr

from .._checks import check_bool, check_choice
from .._dataset import finish_dataset, layer_coord, time_coord
from .._resources import check_resources, check_work, inputs_work
from ..config import NetworkConfig, check_config, check_limit
from ..models import RESET_CODES, neuron_layer, recurrent_layer
from ..models.inputs import check_inputs, encoding_layer, inputs_attrs, layer_zero_name
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


def _weight_moments(
    cfg: NetworkConfig, recurrent: bool = False, fan_in=None
) -> tuple[np.ndarray, np.ndarray]:
    from ..theory.rules import layer_weight_moments, recurrent_weight_moments

    if recurrent:
        mean, var = recurrent_weight_moments(cfg)
    else:
        mean, var = layer_weight_moments(cfg, fan_in=fan_in)
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
    n_in = cfg.width if fan_in is None else np.asarray(fan_in, dtype=float)
    scale = n_in * np.abs(mean) + np.sqrt(n_in * var)
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
    *,
    inputs=None,
    encode: bool = True,
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
    inputs : array_like, optional
        Real inputs instead of ``I ~ N(0, 1)^n`` (DESIGN.md 1d,
        :mod:`snninit.models.inputs`): ``(samples, n_0)``, constant over time,
        or ``(samples, steps, n_0)``. Every network (repetition) is run on
        every sample; the first hidden layer has fan-in ``n_0`` (its weights
        ``(width, n_0)`` with the rule's moments at that fan-in,
        :func:`snninit.theory.layer_weight_moments`), the others ``width``.
        Repetition ``r`` draws ``W_1, (V_1,) W_2, ...`` row by row from
        ``rep_generator(seed, r)`` (:func:`kernels.draw_matrix`): the same
        numbers for any thread count and sample subset order. ``dense``
        only.
    encode : bool
        With ``inputs``: layer 0 is the encoding layer on ``c x`` (default)
        or the inputs themselves, fed to ``W_1`` (snntorch's ``Linear``-first
        layout; the result then has layers ``1..L``).

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
        ``reps`` and the package version. With ``inputs``: dims ``(sample,
        rep, layer, time)``, coordinate ``neurons`` (layer size) and attrs
        ``samples``, ``input_size``, ``inputs_vary`` (1 if the inputs change
        over time), ``inputs_sha256`` and ``layer_zero``.

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
    if inputs is not None:
        if method != "dense":
            raise ValueError(f"inputs= is simulated with method='dense' only; got {method!r}")
        return _simulate_inputs(cfg, inputs, reps, seed, check_bool("encode", encode), progress)
    check_resources("simulate", cfg, reps=reps, method=method)
    ds = simulate_range(cfg, 0, reps, seed, method, progress=progress)
    ds = ds.assign_coords(
        rep=np.arange(reps), layer=layer_coord(cfg.layers), time=time_coord(cfg.steps)
    )
    ds["rep"].attrs["long_name"] = "independent network (inputs and weights)"
    return finish_dataset(ds, cfg, kind="simulation", seed=seed, method=method, reps=reps)


def _simulate_inputs(cfg, inputs, reps, seed, encode, progress) -> xr.Dataset:
    """:func:`simulate` on real inputs: every repetition's network on every sample."""
    x = check_inputs(inputs, cfg.steps)
    S, T, n0 = x.shape
    L, n = cfg.layers, cfg.width
    fan_in = np.array([n0] + [n] * (L - 1), dtype=np.int64)
    check_work(*inputs_work("simulate", cfg, S, n0, reps=reps))
    mean, var = _weight_moments(cfg, fan_in=fan_in)
    mean_rec, var_rec = _weight_moments(cfg, recurrent=True)
    first = 0 if encode else 1
    sizes = np.array([n0] + [n] * L)[first:]
    shape = (S, reps, L + 1 - first, T)
    stats = {name: np.zeros(shape) for name in ("mean_u", "var_u", "skew", "kurt")}
    counts = np.zeros(shape, dtype=np.int64)

    def one(r: int) -> int:
        gen = rep_generator(seed, r)
        mats, recs = rep_weights(cfg, gen, fan_in, (mean, var), (mean_rec, var_rec))
        membranes = [np.empty((T, m)) for m in [n0] + [n] * L]
        spikes = [np.zeros((T, m), dtype=np.uint8) for m in [n0] + [n] * L]
        for b in range(S):
            if not encode:
                spikes[0] = np.ascontiguousarray(x[b])
            forward_sample(x[b], mats, recs, cfg, encode, membranes, spikes,
                           {k: v[b, r] for k, v in stats.items()}, counts[b, r])
        return r

    _run_parallel(one, reps, progress, desc="simulate (inputs)")
    # no overflow check needed here: _weight_moments refused drive scales near the float range
    dims = ("sample", "rep", "layer", "time")
    ds = xr.Dataset(
        {
            "var_u": (dims, stats["var_u"]),
            "mean_u": (dims, stats["mean_u"]),
            "spikes": (dims, counts),
            "rate": (dims, counts / sizes[None, None, :, None]),
            "skew": (dims, stats["skew"]),
            "kurt": (dims, stats["kurt"]),
        },
        coords={
            "sample": np.arange(S),
            "rep": np.arange(reps),
            "layer": np.arange(first, L + 1),
            "time": time_coord(T),
            "neurons": ("layer", sizes),
        },
    )
    ds["rep"].attrs["long_name"] = "independent network (weights; the inputs are the samples)"
    ds["sample"].attrs["long_name"] = "input sample (row of inputs)"
    return finish_dataset(
        ds, cfg, kind="simulation", seed=seed, method="dense", reps=reps,
        **inputs_attrs(inputs, x, encode),
    )


def rep_weights(cfg: NetworkConfig, gen, fan_in, moments, recurrent_moments):
    """One repetition's matrices from its generator: ``(mats, recs)``.

    ``mats[l]`` ``(width, fan_in[l])`` with the layer's ``moments = (mean,
    var)``; for a recurrent network also ``recs[l]``, ``V_l^T`` (what
    :func:`~snninit.models.recurrent_layer` takes), drawn right after
    ``mats[l]``. The order of the draws is part of the seed's meaning.
    """
    n, uniform = cfg.width, cfg.weights == "uniform"
    (mean, var), (mean_rec, var_rec) = moments, recurrent_moments
    mats, recs = [], []
    for layer in range(cfg.layers):
        w = np.empty((n, int(fan_in[layer])))
        K.draw_matrix(gen, mean[layer], math.sqrt(var[layer]), uniform, w)
        mats.append(w)
        if cfg.neuron == "recurrent":
            v = np.empty((n, n))
            K.draw_matrix(gen, mean_rec[layer], math.sqrt(var_rec[layer]), uniform, v)
            recs.append(np.ascontiguousarray(v.T))  # recurrent_layer takes V^T
    return mats, recs


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


def run_network(
    weights, inputs, cfg: NetworkConfig, recurrent_weights=None, *, encode: bool = True
) -> NetworkRun:
    """Run given weight matrices on given inputs (deterministic forward pass).

    Same model and kernels as :func:`simulate` (``cfg`` supplies ``steps``,
    ``theta``, ``beta``, ``reset``, ``reset_decay``, ``input_scale`` and the
    number of hidden layers ``layers``; its ``width``, ``init`` and
    ``weights`` are ignored, the layer sizes come from the matrices): layer 0
    is driven by ``c x^t`` (:func:`snninit.models.encoding_layer`), layer ``l``
    by ``weights[l-1] @ s_{l-1}^t`` (sum over the presynaptic neurons that
    spiked, in index order). With ``encode=False`` there is no encoding
    layer: ``x^t`` itself (spikes or any real values) feeds ``weights[0]``
    (snntorch's ``Linear``-first layout, :mod:`snninit.models.inputs`).

    Parameters
    ----------
    weights : sequence of array_like
        ``cfg.layers`` matrices; ``weights[l-1]`` has shape ``(n_l, n_{l-1})``
        (torch's ``nn.Linear`` layout), finite; ``n_0`` is the input size.
    inputs : array_like
        ``(n_0,)`` or ``(batch, n_0)``: the constant input; ``(batch, steps,
        n_0)``: one row per step. Finite.
    cfg : NetworkConfig
        Its ``neuron`` (and the model's parameters) choose the neuron of every layer.
    recurrent_weights : sequence of array_like, optional
        For ``cfg.neuron == "recurrent"`` (required there, an error elsewhere):
        ``cfg.layers`` matrices, ``recurrent_weights[l-1]`` of shape ``(n_l,
        n_l)``, finite: layer ``l``'s ``V_l`` (:mod:`snninit.models.recurrent`).
    encode : bool
        Layer 0 is an encoding neuron layer on ``c x`` (default) or the
        input itself.

    Returns
    -------
    NetworkRun
        With ``encode=False`` its layers are ``1..L`` (``membranes[0]`` is
        None and ``spikes[0]`` holds the inputs).
    """
    cfg = check_config(cfg)
    encode = check_bool("encode", encode)
    recurrent = cfg.neuron == "recurrent"
    if recurrent != (recurrent_weights is not None):
        raise ValueError(
            "recurrent_weights must be given exactly when cfg.neuron == 'recurrent' "
            f"(one (n_l, n_l) matrix per hidden layer); got neuron={cfg.neuron!r} and "
            f"recurrent_weights {'given' if recurrent_weights is not None else 'None'}"
        )
    x = np.asarray(inputs, dtype=float) if _is_numeric(inputs) else None
    if x is None or x.ndim not in (1, 2, 3) or x.size == 0:
        raise ValueError(
            "inputs must be a non-empty numeric array of shape (n_0,), (batch, n_0) or "
            f"(batch, steps, n_0); got {type(inputs).__name__} of shape "
            f"{getattr(x, 'shape', None)}"
        )
    if x.ndim == 1:
        x = x[None, :]
    x = check_inputs(x, cfg.steps)
    mats = _checked_weights(weights, cfg, x.shape[-1])
    recs = _checked_recurrent(recurrent_weights, mats, cfg) if recurrent else []
    batch, T = x.shape[0], cfg.steps
    sizes = [x.shape[-1]] + [w.shape[0] for w in mats]
    membranes = [np.empty((batch, T, m)) for m in sizes]
    spk = [np.zeros((batch, T, m), dtype=np.uint8) for m in sizes]
    if not encode:
        membranes[0] = None
        spk[0] = np.ascontiguousarray(x)
    first = 0 if encode else 1
    shape = (batch, len(sizes) - first, T)
    stats = {name: np.zeros(shape) for name in ("mean_u", "var_u", "skew", "kurt")}
    counts = np.zeros(shape, dtype=np.int64)
    for b in range(batch):
        forward_sample(
            x[b], mats, recs, cfg, encode,
            [None if m is None else m[b] for m in membranes], [s[b] for s in spk],
            {k: v[b] for k, v in stats.items()}, counts[b],
        )
    _refuse_overflow(stats, membranes[first:], mats, x, first)
    ds = _stats_dataset(stats, counts, np.asarray(sizes[first:]), first)
    ds = ds.assign_coords(rep=np.arange(batch))
    ds["rep"].attrs["long_name"] = "element of the input batch (one shared network)"
    ds = finish_dataset(ds, cfg, kind="network_run", layer_zero=layer_zero_name(encode))
    return NetworkRun(membranes=membranes, spikes=spk, stats=ds)


def forward_sample(x, mats, recs, cfg, encode, membranes, spikes, stats, counts) -> None:
    """One sample through given weights, in place (:func:`run_network`'s inner loop).

    ``x`` (T, n_0); ``membranes[l]``, ``spikes[l]`` (T, n_l) buffers (with
    ``encode=False``: ``membranes[0]`` unused, ``spikes[0]`` must hold ``x``);
    ``stats[name]`` (layers reported, T) and ``counts`` (layers reported, T)
    receive the across-neuron statistics of layers ``0..L`` (``1..L``
    without encoding).
    """
    reset = RESET_CODES[cfg.reset]
    if encode:
        u, s = encoding_layer(x, cfg)
        membranes[0][:] = u
        spikes[0][:] = s
    for layer, w in enumerate(mats, start=1):
        u = membranes[layer]
        K.matrix_drive(w, spikes[layer - 1], u)
        if recs:
            recurrent_layer(u, spikes[layer], recs[layer - 1], cfg.beta, cfg.theta, reset,
                            cfg.reset_decay)
        else:
            neuron_layer(u, spikes[layer], cfg.neuron_code, cfg.beta, cfg.theta, reset,
                         cfg.reset_decay, *cfg.neuron_params)
    first = 0 if encode else 1
    for row, layer in enumerate(range(first, len(mats) + 1)):
        K.layer_moments(
            membranes[layer], spikes[layer], stats["mean_u"][row], stats["var_u"][row],
            stats["skew"][row], stats["kurt"][row], counts[row],
        )


def _stats_dataset(stats, counts, sizes, first) -> xr.Dataset:
    """The per-(rep, layer, time) statistics as a dataset (layers ``first..L``)."""
    dims = ("rep", "layer", "time")
    T = counts.shape[-1]
    return xr.Dataset(
        {
            "var_u": (dims, stats["var_u"]),
            "mean_u": (dims, stats["mean_u"]),
            "spikes": (dims, counts),
            "rate": (dims, counts / sizes[None, :, None]),
            "skew": (dims, stats["skew"]),
            "kurt": (dims, stats["kurt"]),
        },
        coords={
            "layer": np.arange(first, first + len(sizes)),
            "time": time_coord(T),
            "neurons": ("layer", sizes),
        },
    )


def _checked_weights(weights, cfg, n_prev) -> list:
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
    return mats


def _checked_recurrent(recurrent_weights, mats, cfg) -> list:
    try:
        recurrent_weights = list(recurrent_weights)
    except TypeError:
        raise ValueError("recurrent_weights must be a sequence of (n_l, n_l) arrays") from None
    if len(recurrent_weights) != cfg.layers:
        raise ValueError(
            f"recurrent_weights must hold one matrix per hidden layer, cfg.layers = "
            f"{cfg.layers}; got {len(recurrent_weights)}"
        )
    recs = []
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
    return recs


def _refuse_overflow(stats: dict, membranes: list, mats: list, x: np.ndarray,
                     first: int = 0) -> None:
    """One-line ValueError if a membrane or its variance left the float range.

    The moment kernel is scaled (finite skew and kurt for any finite ``var_u >
    0``), so a non-finite statistic can only come from membranes that are
    themselves too large: name the weights' scale that made them so.
    """
    bad = ~(np.isfinite(stats["var_u"]) & np.isfinite(stats["mean_u"]))
    if not bad.any():
        return
    layer = int(np.argwhere(bad)[0][1]) + first
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
