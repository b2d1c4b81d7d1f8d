"""Memory and time estimates, checked before a large run starts.

Every value of a :class:`~snninit.config.NetworkConfig` can be inside its
range and the run still be impossible: ``simulate`` of ``reps x layers x
steps`` cells, or the dynamic mean field's ``layers x steps^2`` spike
correlations, can need more memory than the machine has, or days of CPU.
:func:`estimate` sizes a run from the shapes of the arrays the code really
allocates; :func:`check_resources` refuses one that does not fit in the free
memory or is estimated to take longer than :func:`max_seconds` (one-line
:class:`ValueError` with the estimate and the knob to turn) and warns
(:class:`LongRunWarning`) when one is estimated to take long.
:func:`check_runs` does the same for a job of many runs (a sweep, a rule
comparison) and its total time, :func:`check_memory` for any allocation whose
size is known (a network's weights, a data set).

Time limits
-----------
A run that cannot resume (one ``simulate``, ``dynamic_mean_field`` or
``finite_size`` call) is refused when its estimate exceeds
:data:`MAX_RUN_SECONDS` (30 min): a typo such as ``width=10**6`` with the
dense sampler must not look like a hang. A resumable job of many runs (a
sweep with a store, a rule comparison with a cache) may take up to
:data:`MAX_TOTAL_SECONDS` (2 days) in all, each of its runs up to
:data:`MAX_RUN_SECONDS`. The environment variables ``SNNINIT_MAX_SECONDS``
and ``SNNINIT_MAX_TOTAL_SECONDS`` (seconds, or ``inf``) raise either limit
for a run that is meant to be long; the message names the one to set.

The estimates are deliberately generous (an upper bound within a small
factor, never an under-estimate by orders of magnitude): they must refuse
what cannot work, not predict to the second.

Throughput constants
--------------------
Measured on one core of a shared 2-core x86-64 machine (numba 0.6x, numpy 2,
OpenBLAS; ``NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1``), then rounded up:

* ``simulate(method="dense")``: 1.0 ns per ``width^2`` weight slot per layer
  and repetition at ``T = 1`` (``n = 1000, 2000``, rate ~0.15), 4.4 ns at
  ``T = 20``, 10 ns at ``T = 100`` (drawing a presynaptic column is ~6 ns per
  weight, adding it at each step it spiked ~1 ns); used: ``1.5 + 0.2 T`` ns.
  Per layer and repetition a fixed ~4 us (``n = 10, L = 10**4``).
* ``simulate(method="gram")``: ~30 ns per ``width x steps`` (``n = 10**5``,
  ``T = 1``), ~0.4-0.8 ns per ``width x steps^2`` (``T = 50, 200``); used:
  ``30 n T + 1 n T^2 + 1 T^3`` ns per layer and repetition.
* ``dynamic_mean_field``: per hidden layer ``0.7 ns x paths x T^2`` (the
  path products and the LIF recursion), ``10 ns x paths x T``, and per
  replicate group ``5 ns x T^3 + 0.5 ms`` (eigen-decomposition, kernel call);
  the convergence check adds 1/8 of the path work and repeats the group work.
  Measured: ``T=50, L=20, paths=2**15``: 1.1 s (estimate 1.8 s);
  ``T=100, L=5, paths=4096``: 0.7 s (0.8 s); ``T=10, L=100, paths=4096``:
  1.2 s (1.0 s).
* The dynamic mean field's exact encoding layer holds one row of ``T``
  floats per distinct spike train; their number grows like ``T^2 / 3`` until
  it saturates near ``1000 / (1 - beta)^2`` (measured: 3.6e3 at beta=0.5,
  6e3 at 0.7, 1.6e4 at 0.8 and still growing at 0.9, T <= 400), at most
  ~2e6 (the code stops past 1e6); time ~3 ns per row and ``T^2``.

Memory is measured against :func:`available_memory` (``MemAvailable`` of
``/proc/meminfo``, capped by a cgroup v2 limit; ``os.sysconf`` elsewhere);
where it cannot be read the memory check is skipped, never guessed.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import NamedTuple

from .config import NetworkConfig, check_config, check_limit

__all__ = [
    "Estimate",
    "LongRunWarning",
    "KINDS",
    "LONG_RUN_SECONDS",
    "MAX_RUN_SECONDS",
    "MAX_TOTAL_SECONDS",
    "estimate",
    "check_resources",
    "check_runs",
    "check_memory",
    "max_seconds",
    "available_memory",
    "format_bytes",
    "format_seconds",
]

#: Kinds of run :func:`estimate` knows.
KINDS = ("simulate", "dynamic_mean_field", "finite_size")

#: A run estimated to take longer than this (seconds) warns before it starts.
LONG_RUN_SECONDS = 600.0

#: A run that cannot resume, estimated to take longer than this (seconds), is refused
#: (environment variable ``SNNINIT_MAX_SECONDS`` overrides; see "Time limits").
MAX_RUN_SECONDS = 1800.0
#: The total of a resumable job of many runs (sweep, rule comparison) is refused beyond
#: this (``SNNINIT_MAX_TOTAL_SECONDS`` overrides).
MAX_TOTAL_SECONDS = 2 * 86400.0
MAX_SECONDS_ENV = "SNNINIT_MAX_SECONDS"
MAX_TOTAL_SECONDS_ENV = "SNNINIT_MAX_TOTAL_SECONDS"

#: Fraction of the free memory a run may plan to use (the rest: the
#: interpreter, xarray's copies when saving, other processes).
MEMORY_FRACTION = 0.9

# throughput constants (seconds), see the module docstring
_DENSE_SLOT = 1.5e-9  # per width^2 weight slot, layer and repetition
_DENSE_SLOT_PER_STEP = 0.2e-9  # ... and per time step
_SIM_LAYER = 4e-6  # fixed per layer and repetition
_SIM_NT = 5e-9  # per neuron and step (LIF update, moments)
_GRAM_NT = 30e-9
_GRAM_NT2 = 1e-9
_GRAM_T3 = 1e-9
_DMFT_PT2 = 0.7e-9
_DMFT_PT = 10e-9
_DMFT_T3 = 5e-9
_DMFT_GROUP = 1e-3
_ENC_ROW_T2 = 3e-9
_ENC_STEP = 3e-3
_ENC_MAX_ROWS = 2_000_000
_FS_N15 = 30e-9  # finite_size: per width^1.5 and layer (worst measured 15.5 ns, theta=3)
_FS_N = 1e-9  # ... and per width and layer (the moment loops)
_FS_LAYER = 5e-6

_F8 = 8  # bytes of a float64 / int64


class LongRunWarning(UserWarning):
    """A run is estimated to take long (see :func:`check_resources`)."""


class Estimate(NamedTuple):
    """Estimated peak memory (bytes) and wall time (seconds) of a run."""

    bytes: float
    seconds: float


def format_bytes(n: float) -> str:
    """``1.5 GiB``-style size."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def format_seconds(s: float) -> str:
    """``40 s``, ``12 min``, ``3.5 h``, ``2.1 days``."""
    s = float(s)
    if s < 120:
        return f"{s:.2g} s"
    if s < 7200:
        return f"{s / 60:.3g} min"
    if s < 2 * 86400:
        return f"{s / 3600:.3g} h"
    return f"{s / 86400:.3g} days"


# --------------------------------------------------------------------------
# free memory
# --------------------------------------------------------------------------


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available() -> int | None:
    # cgroup v2: the container's own limit, which MemAvailable does not show
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            limit = fh.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current") as fh:
            used = int(fh.read().strip())
        return max(int(limit) - used, 0)
    except (OSError, ValueError):
        return None


def _sysconf_available() -> int | None:
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None
    if pages <= 0 or size <= 0:
        return None
    return int(pages) * int(size)


def available_memory() -> int | None:
    """Bytes of memory a new allocation can use now, or None if unknown.

    ``MemAvailable`` (Linux; falls back to ``os.sysconf`` free pages), capped
    by the cgroup v2 limit of a container when there is one.
    """
    free = _meminfo_available()
    if free is None:
        free = _sysconf_available()
    cap = _cgroup_available()
    if cap is not None:
        free = cap if free is None else min(free, cap)
    return free


# --------------------------------------------------------------------------
# per-kind formulas
# --------------------------------------------------------------------------


def _simulate(cfg: NetworkConfig, reps=20, method="dense", threads=None, **_):
    """Peak bytes, seconds, what the memory is, and the knobs (engine.simulate_range)."""
    reps = check_limit("reps", reps)
    n, L, T = cfg.width, cfg.layers, cfg.steps
    workers = max(1, min(_threads(threads), reps))
    cells = reps * (L + 1) * T
    # var_u, mean_u, skew, kurt, rate (float64) and spikes (int64)
    results = 6 * cells * _F8
    # per worker (kernels.simulate_rep): u (T, n) float64, two (T, n) uint8 spike
    # arrays, inputs and one weight column (n); gram also its T x T matrices
    work = T * n * (_F8 + 2) + 2 * n * _F8 + T * _F8
    if method == "gram":
        work += 3 * T * T * _F8 + n * _F8
    recurrent = cfg.neuron == "recurrent"
    if recurrent:
        work += float(n) * n * _F8  # the layer's recurrent weights V (n, n)
    nbytes = results + workers * work + 4 * L * _F8
    per_layer = _SIM_LAYER + _SIM_NT * n * T
    if method == "gram":
        per_layer += _GRAM_NT * n * T + _GRAM_NT2 * n * T * T + _GRAM_T3 * T**3
    else:
        per_layer += float(n) * n * (_DENSE_SLOT + _DENSE_SLOT_PER_STEP * T)
    if recurrent:  # every recurrent weight drawn, then summed at each step it is used
        per_layer += float(n) * n * (_DENSE_SLOT + _DENSE_SLOT_PER_STEP * T)
    seconds = math.ceil(reps / workers) * L * per_layer
    what = (
        f"6 result arrays of reps x (layers+1) x steps = {reps} x {L + 1} x {T} "
        f"= {cells:.3g} cells, 8 bytes each"
        + (f", and a {n} x {n} recurrent weight matrix per thread" if recurrent else "")
    )
    memory_knob = "use fewer reps/layers/steps, or sweep with --chunk-reps"
    if method == "dense":
        cost = f"{reps} reps x {L} layers x {n}^2 weights, dense sampler"
        gram = "method='gram', "
        time_knob = f"use {gram if cfg.weights == 'normal' else ''}fewer reps or layers"
    else:
        cost = f"{reps} reps x {L} layers x width x steps^2, gram sampler"
        time_knob = "use fewer reps, layers or steps"
    time_knob += ", or more threads (NUMBA_NUM_THREADS)"
    return nbytes, seconds, what, memory_knob, f"{cost}, {workers} thread(s)", time_knob


def _encoding_rows(cfg: NetworkConfig) -> float:
    """Distinct spike trains of the exact encoding layer (dmft_paths._encoding_layer), bound."""
    T = cfg.steps
    grow = T * T / 3.0 + 2.0
    if cfg.beta < 1.0:
        grow = min(grow, 1000.0 / (1.0 - cfg.beta) ** 2)
    return min(grow, _ENC_MAX_ROWS)


def _dynamic_mean_field(cfg: NetworkConfig, paths=100_000, replicates=8, check_paths=True, **_):
    """Peak bytes, seconds, what, knobs of theory.dmft.dynamic_mean_field."""
    replicates = check_limit("replicates", replicates)
    paths = check_limit("paths", paths, low=2 * replicates)
    K, L, T = replicates, cfg.layers, cfg.steps
    m = paths // K
    P = m * K
    check = bool(check_paths) and T > 1 and m >= 2
    # corr[g, l, t, t'] of every group (dmft._group_values); the convergence
    # check holds a second one, and _mean_and_se a same-size temporary
    corr = K * (L + 1) * T * T * _F8
    val = 5 * K * (L + 1) * T * _F8  # five moments per group, layer, time
    z = P * T * _F8 if T > 1 else 0  # path normals (groups, m, T)
    z_tmp = 3 * m * T * _F8  # Sobol draws, clipped, mapped (per group)
    per_layer = 4 * K * T * T * _F8 + 3 * T * T * _F8 + m * T * _F8  # factors, eigh, h
    out = 3 * (L + 1) * T * T * _F8  # corr estimate, its SE, the masked SE
    rows = _encoding_rows(cfg)
    encoding = 2 * rows * T * _F8 + 2 * T * T * _F8
    nbytes = (
        2 * corr
        + (2 if check else 1) * val
        + z * (1.125 if check else 1.0)
        + z_tmp
        + max(per_layer, out, encoding)
    )
    path_work = _DMFT_PT2 * P * T * T + _DMFT_PT * P * T if T > 1 else 0.0
    group_work = K * (_DMFT_T3 * T**3 + _DMFT_GROUP) if T > 1 else 0.0
    seconds = L * (path_work * (1.125 if check else 1.0) + group_work * (2 if check else 1))
    seconds += _ENC_STEP * T + _ENC_ROW_T2 * rows * T * T
    what = (
        f"spike correlations of replicates x (layers+1) x steps^2 = {K} x {L + 1} x {T}^2 "
        f"float64, twice, and {P} x {T} path normals"
    )
    if corr >= z:
        memory_knob = "use fewer steps or layers (memory grows as layers x steps^2)"
    else:
        memory_knob = "use fewer paths or steps (the path normals are paths x steps)"
    cost = f"{L} layers x ({P} paths x {T}^2 steps + {K} groups x {T}^3), one thread"
    time_knob = "use fewer steps, layers or paths, or check_paths=False"
    return nbytes, seconds, what, memory_knob, cost, time_knob


def _finite_size(cfg: NetworkConfig, distribution=False, **_):
    """Peak bytes, seconds, what, knobs of theory.finitesize.finite_size.

    Measured (one core, numba): per layer ~0.3-16 ns x width^1.5 (the
    binomial rows of the spike counts that carry probability, ~24 sd wide
    each; worst at theta ~3 with Micheli's rule), so ``30 ns x width^1.5``
    per layer bounds it; memory is the distribution of every layer when
    ``distribution=True`` (twice: the chain's array and the dataset's).
    """
    from ._checks import check_bool

    distribution = check_bool("distribution", distribution)
    n, L = cfg.width, cfg.layers
    buffers = 6 * (n + 1) * _F8  # p, next, buf, up, down, p0
    moments = 6 * (L + 1) * _F8 + 30 * (L + 1) * _F8  # chain moments, ~30 output variables
    dist = 2 * (L + 1) * (n + 1) * _F8 if distribution else 0.0
    nbytes = buffers + moments + dist + 2 * L * _F8
    seconds = L * (_FS_N15 * float(n) ** 1.5 + _FS_N * n + _FS_LAYER)
    what = (
        f"the spike-count distribution of (layers+1) x (width+1) = {L + 1} x {n + 1} float64, twice"
        if distribution
        else f"{n + 1}-long buffers and {L + 1} layers of moments"
    )
    memory_knob = (
        "use distribution=False (the moments need no distribution), or fewer layers / a "
        "smaller width"
        if distribution
        else "use fewer layers or a smaller width"
    )
    cost = f"{L} layers x width^1.5 = {n}^1.5 binomial terms, one thread"
    time_knob = (
        "use fewer layers or a smaller width (the cost grows as layers x width^1.5), or "
        "finite_size_expansion / mean_field for a wide network"
    )
    return nbytes, seconds, what, memory_knob, cost, time_knob


_FORMULAS = {
    "simulate": _simulate,
    "dynamic_mean_field": _dynamic_mean_field,
    "finite_size": _finite_size,
}


def _threads(threads) -> int:
    if threads is not None:
        from ._checks import check_int

        return check_int("threads", threads, low=1, high=4096)
    try:
        import numba

        return max(1, int(numba.get_num_threads()))
    except Exception:  # pragma: no cover - numba is a hard dependency
        return 1


def _details(kind: str, cfg, options):
    from ._checks import check_choice

    check_choice("kind", kind, KINDS)
    cfg = check_config(cfg)
    return _FORMULAS[kind](cfg, **options)


def estimate(kind: str, cfg: NetworkConfig, **options) -> Estimate:
    """Estimated peak memory (bytes) and wall time (seconds) of a run.

    Parameters
    ----------
    kind : {"simulate", "dynamic_mean_field", "finite_size"}
        The function that will run.
    cfg : NetworkConfig
    **options
        That function's size arguments: ``reps``, ``method`` (and
        ``threads``, default numba's thread count) for ``simulate``;
        ``paths``, ``replicates``, ``check_paths`` for ``dynamic_mean_field``;
        ``distribution`` for ``finite_size``. Defaults are the functions' own.

    Returns
    -------
    Estimate
        ``(bytes, seconds)``; generous upper estimates (module docstring).
        The weight rule's own cost (``init="dmft"`` solves a dynamic mean
        field per layer) is not included.
    """
    nbytes, seconds, *_ = _details(kind, cfg, options)
    return Estimate(float(nbytes), float(seconds))


def max_seconds(total: bool = False) -> float:
    """The time limit of one run (``total=False``) or of a resumable job's total.

    :data:`MAX_RUN_SECONDS` / :data:`MAX_TOTAL_SECONDS`, or the value of
    ``SNNINIT_MAX_SECONDS`` / ``SNNINIT_MAX_TOTAL_SECONDS`` when set (a number
    of seconds > 0, or ``inf``).
    """
    env = MAX_TOTAL_SECONDS_ENV if total else MAX_SECONDS_ENV
    text = os.environ.get(env, "").strip()
    if not text:
        return MAX_TOTAL_SECONDS if total else MAX_RUN_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:  # NaN too
        raise ValueError(f"{env} must be a number of seconds > 0 (or inf); got {text!r}")
    return value


def _allow(seconds: float) -> str:
    """A limit just above ``seconds``, to quote in a message (``3600``, ``1.8e+06``)."""
    up = math.ceil(seconds * 1.1)
    return str(up) if up < 10**7 else f"{up:.2g}"


def check_memory(
    what: str, nbytes: float, detail: str, knob: str, *, available: int | None = None
) -> None:
    """Refuse (one-line ValueError) an allocation of ``nbytes`` that cannot fit in memory.

    ``what`` names the thing allocated (``"SNN weights"``), ``detail`` what the
    bytes are made of, ``knob`` how to make it smaller. Checked against
    ``MEMORY_FRACTION`` of :func:`available_memory` (skipped where unknown).
    """
    free = available_memory() if available is None else available
    if free is not None and nbytes > MEMORY_FRACTION * free:
        raise ValueError(
            f"{what} needs ~{format_bytes(nbytes)} ({detail}) but {format_bytes(free)} "
            f"are free: {knob}"
        )


def _refuse_slow(
    what: str, seconds: float, cost: str, knob: str, limit: float, env: str, extra: str = ""
):
    if seconds > limit:
        knob = f"{knob}, or {extra}" if extra else knob
        raise ValueError(
            f"{what} would take ~{format_seconds(seconds)} ({cost}), over the "
            f"{format_seconds(limit)} limit: {knob}; or set {env}={_allow(seconds)}"
        )


def check_resources(
    kind: str,
    cfg: NetworkConfig,
    *,
    available: int | None = None,
    long_run: float | None = None,
    limit: float | None = None,
    **options,
) -> Estimate:
    """Refuse a run that cannot fit in memory or takes too long; warn for one that takes long.

    Parameters
    ----------
    kind, cfg, **options
        As :func:`estimate`.
    available : int, optional
        Free memory in bytes (default :func:`available_memory`; where that
        is unknown the memory is not checked).
    long_run : float, optional
        Seconds above which to warn (default :data:`LONG_RUN_SECONDS`).
    limit : float, optional
        Seconds above which to refuse (default :func:`max_seconds`, i.e.
        :data:`MAX_RUN_SECONDS` or ``SNNINIT_MAX_SECONDS``).

    Returns
    -------
    Estimate

    Raises
    ------
    ValueError
        One line: the estimate, what it is made of, the free memory (or the
        time limit) and the knob to turn, when the estimate exceeds
        ``MEMORY_FRACTION`` of the free memory or the time limit.

    Warns
    -----
    LongRunWarning
        One line with the time estimate and how to shorten it.
    """
    nbytes, seconds, what, memory_knob, cost, time_knob = _details(kind, cfg, options)
    check_memory(kind, nbytes, what, memory_knob, available=available)
    cap = max_seconds() if limit is None else float(limit)
    _refuse_slow(kind, seconds, cost, time_knob, cap, MAX_SECONDS_ENV)
    warn_at = LONG_RUN_SECONDS if long_run is None else float(long_run)
    if seconds > warn_at:
        warnings.warn(
            f"{kind} may take ~{format_seconds(seconds)} ({cost}; a generous estimate): "
            f"{time_knob}",
            LongRunWarning,
            stacklevel=3,
        )
    return Estimate(float(nbytes), float(seconds))


def check_runs(
    kind: str,
    runs,
    *,
    parallel: int = 1,
    resumable: bool = True,
    job: str = "the job",
    total_knob: str = "run fewer or smaller runs",
    run_knob: str = "",
    available: int | None = None,
    long_run: float | None = None,
    limit: float | None = None,
    total_limit: float | None = None,
    **options,
) -> Estimate:
    """Refuse a job of many runs of ``kind`` before the first one starts.

    Parameters
    ----------
    kind : str
        As :func:`estimate`.
    runs : iterable of tuples
        ``(where, cfg, count)`` or ``(where, cfg, count, opts)``: ``count``
        runs of ``cfg`` (with ``opts`` over ``**options``); ``where`` labels
        them in a message (``"grid point theta=0.5"``; ``""`` for none).
    parallel : int
        Runs executed at the same time (the total time is divided by it; the
        memory of one run is checked, as each runs on its own machine or in turn).
    resumable : bool
        Whether a killed job keeps its finished runs. A resumable job may take
        :func:`max_seconds` ``(total=True)`` in all, one that is not only
        what a single run may (:func:`max_seconds`).
    job : str
        What the whole job is called in a message (``"the sweep"``).
    total_knob, run_knob : str
        How to shorten the whole job; extra advice for a run that is too
        large or long by itself (``"use a smaller chunk_reps"``).
    available, long_run, limit, total_limit
        As :func:`check_resources`; ``total_limit`` overrides the total's limit.

    Returns
    -------
    Estimate
        The largest run's bytes and the job's total seconds.

    Raises
    ------
    ValueError
        One line naming the run (``where``) that does not fit in memory or
        takes longer than one run may, or the total and its limit.

    Warns
    -----
    LongRunWarning
        Once, when the total is estimated to take long.
    """
    parallel = max(1, int(parallel))
    rows = []
    for item in runs:
        where, cfg, count = item[:3]
        opts = {**options, **(item[3] if len(item) > 3 else {})}
        rows.append((where, int(count), _details(kind, cfg, opts)))
    if not rows:
        return Estimate(0.0, 0.0)

    def prefixed(where: str, exc: ValueError) -> ValueError:
        return ValueError(f"{where}: {exc}" if where else str(exc))

    where, _, d = max(rows, key=lambda r: r[2][0])
    try:
        check_memory(kind, d[0], d[2], d[3], available=available)
    except ValueError as exc:
        raise prefixed(where, exc) from None
    cap = max_seconds() if limit is None else float(limit)
    where, _, d = max(rows, key=lambda r: r[2][1])
    try:
        _refuse_slow(kind, d[1], d[4], d[5], cap, MAX_SECONDS_ENV, run_knob)
    except ValueError as exc:
        raise prefixed(where, exc) from None
    count = sum(r[1] for r in rows)
    total = sum(r[1] * r[2][1] for r in rows) / parallel
    if resumable:
        total_cap, env = max_seconds(total=True), MAX_TOTAL_SECONDS_ENV
    else:
        total_cap, env = cap, MAX_SECONDS_ENV
        total_knob += " (a job that cannot resume is held to the limit of one run)"
    if total_limit is not None:
        total_cap = float(total_limit)
    cost = f"{count} run(s) of {kind}" + (f", {parallel} at a time" if parallel > 1 else "")
    _refuse_slow(f"{job} ({kind})", total, cost, total_knob, total_cap, env)
    warn_at = LONG_RUN_SECONDS if long_run is None else float(long_run)
    if total > warn_at:
        warnings.warn(
            f"{job} may take ~{format_seconds(total)} ({cost}; a generous estimate): {total_knob}",
            LongRunWarning,
            stacklevel=3,
        )
    return Estimate(float(max(r[2][0] for r in rows)), float(total))


def inputs_work(kind: str, cfg: NetworkConfig, samples: int, n_in: int, *, reps: int = 1,
                paths: int = 0, replicates: int = 8) -> tuple:
    """``(what, seconds, nbytes, cost, knob)`` of a run on real inputs, for :func:`check_work`.

    ``kind="simulate"``: every repetition's weights (``width x n_0`` and
    ``L - 1`` times ``width^2``, drawn and held per thread) run on every
    sample, the dense sum bounded as if every input spiked. ``kind=
    "dynamic_mean_field"``: one path recursion of ``paths`` paths per
    sample (:func:`_dynamic_mean_field`'s formula, times ``samples``).
    """
    n, L, T = cfg.width, cfg.layers, cfg.steps
    if kind == "simulate":
        slots = float(n) * n_in + (L - 1) * float(n) * n
        if cfg.neuron == "recurrent":
            slots += L * float(n) * n
        workers = max(1, min(_threads(None), reps))
        seconds = math.ceil(reps / workers) * (
            slots * _DENSE_SLOT + samples * slots * _DENSE_SLOT_PER_STEP * T
        )
        results = 6 * samples * reps * (L + 1) * T * _F8
        nbytes = results + workers * (slots + 2 * T * (n_in + L * n)) * _F8
        cost = (f"{reps} reps x {samples} samples x ({n} x {n_in} + {L - 1} x {n}^2 weights) "
                f"x {T} steps, {workers} thread(s)")
        return ("simulate with inputs", seconds, nbytes, cost,
                "use fewer samples, reps, layers or steps")
    nbytes, seconds, _, _, cost, _ = _dynamic_mean_field(cfg, paths=paths, replicates=replicates)
    return ("dynamic_mean_field with inputs", samples * seconds, nbytes + samples * (L + 1) * T
            * (T + 12) * _F8, f"{samples} samples x ({cost})",
            "use fewer samples, paths, layers or steps")


def check_work(what: str, seconds: float, nbytes: float, cost: str, knob: str) -> None:
    """Refuse, before it starts, work estimated to exceed the memory or the time limit.

    For the functions whose cost is a simple count (``seconds`` and ``nbytes``
    from their own operation counts): one-line ``ValueError`` naming ``what``,
    the ``cost`` it was estimated from and the ``knob`` that makes it smaller.
    The time limit is :func:`max_seconds` (``SNNINIT_MAX_SECONDS``).
    """
    check_memory(what, nbytes, cost, knob)
    _refuse_slow(what, seconds, cost, knob, max_seconds(), MAX_SECONDS_ENV)
