"""The trainer's matrix products: dense ones in a fixed summation order, event-driven ones.

Every product of the trainer is one of three, with the time steps stacked into
the rows (``R = T * batch``):

* forward drive ``I = S W`` (``S`` the ``(R, n_in)`` 0/1 spikes of the layer below);
* weight gradient ``dW = S^T dU``;
* error to the layer below ``G = dU W^T`` (``dU`` dense: the surrogate is never 0).

The first two have a 0/1 factor. At the rates deep SNNs run at (0.01-0.3 spikes
per neuron and step) most of its entries are 0, and the product is a sum of the
rows of the other factor picked by the spikes: :func:`spike_matmul` sums only
those (event-driven), and falls back to the dense product above the rate
:data:`EVENT_MAX_RATE` where BLAS is faster (measured by
``benchmarks/bench_training.py --crossover``) or where the factor is not 0/1
(the smooth activation of the tests). ``G`` is always dense
(:func:`fixed_matmul`).

Same numbers for any thread count. Dense products go through
:func:`fixed_matmul` (row blocks fixed by the shape, each one single-threaded
BLAS call). An event-driven product computes each output row on one thread, as
a sum over the picked rows in increasing index, so its bits do not depend on
the thread count either; it is the order of
:func:`snninit.models.dense.matrix_drive` (the engine's event-driven drive):
the same terms in the same order, so the same bits where both add in the same
precision (float64, tested; ``matrix_drive`` adds float32 weights in float64).
Event-driven and dense products differ in the last bits (another summation
order); which one a product uses is a function of the data only (its rate),
never of the threads.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from .._checks import check_choice, check_numeric_array, check_real

__all__ = [
    "fixed_matmul",
    "row_blocks",
    "spike_matmul",
    "spike_index",
    "EVENT_MAX_RATE",
    "PRODUCTS",
]

#: Choices of how the 0/1 products are computed: by the rate, always dense, always events.
PRODUCTS = ("auto", "dense", "event")
#: Above this share of non-zero entries (spikes per neuron and step) the dense
#: product is used: where the event-driven one stops being faster on one core
#: (``benchmarks/bench_training.py --crossover``: dense/event 1.6 at rate 0.1,
#: 0.96 at 0.2, 0.82 at 0.25 for the trainer's 384 x 600 by 600 x 600).
EVENT_MAX_RATE = 0.2


#: Number of row blocks of every product (fewer for short outputs, see row_blocks):
#: up to this many threads share one product; fixed, so the numbers never depend
#: on how many threads there are.
MATMUL_BLOCKS = 4
#: Rows of a block are a multiple of this (the BLAS kernels' register tile).
_BLOCK_ALIGN = 16
#: ... and at least this many (unless the product is shorter): a BLAS call on 96 rows
#: of the trainer's (384, 600) x (600, 600) runs at about 0.8 of the speed of one on 192
#: (``benchmarks/bench_training.py --crossover`` prints both).
_BLOCK_MIN = 192

_blas_lock = threading.Lock()
_blas_state: dict = {}


def row_blocks(rows: int) -> list[tuple[int, int]]:
    """The ``[start, stop)`` row blocks of a product with ``rows`` output rows.

    A function of ``rows`` only (never of the thread count): at most
    :data:`MATMUL_BLOCKS` blocks of a multiple of 16 rows and at least
    ``_BLOCK_MIN`` = 192 rows each (the last shorter).
    """
    step = -(-rows // MATMUL_BLOCKS)
    step = max(_BLOCK_MIN, -(-step // _BLOCK_ALIGN) * _BLOCK_ALIGN)
    return [(r, min(r + step, rows)) for r in range(0, rows, step)] or [(0, 0)]


def _blas():
    """threadpoolctl's controller of the loaded BLAS libraries (made once, numpy loaded)."""
    ctl = _blas_state.get("controller")
    if ctl is None:
        from threadpoolctl import ThreadpoolController

        ctl = _blas_state["controller"] = ThreadpoolController().select(user_api="blas")
    return ctl


def _pool(workers: int) -> ThreadPoolExecutor:
    pools = _blas_state.setdefault("pools", {})
    key = (os.getpid(), workers)  # a forked child must not reuse the parent's threads
    if key not in pools:
        pools[key] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="snninit-mm")
    return pools[key]


def fixed_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` (2-D) summed in the same order whatever the number of threads.

    The output's rows are cut into :func:`row_blocks` (a function of the
    shape only); each block is one BLAS call made with BLAS pinned to one
    thread, so each element's sum runs in the order of the single-threaded
    kernel. The blocks run concurrently on as many threads as BLAS was
    allowed when the call began (``threadpool_limits(n)``; numpy releases the
    GIL in BLAS). The result is bit-identical for 1, 2, ... threads; it is
    not always bit-identical to a plain ``a @ b`` (which may be multithreaded).
    """
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    blocks = row_blocks(a.shape[0])
    ctl = _blas()
    with _blas_lock:  # one product at a time sets and restores the BLAS thread count
        threads = max([lib.num_threads for lib in ctl.lib_controllers] or [1])
        with ctl.limit(limits=1):
            workers = min(threads, len(blocks))
            if workers <= 1:
                for r0, r1 in blocks:
                    np.matmul(a[r0:r1], b, out=out[r0:r1])
            else:
                jobs = [
                    _pool(workers).submit(np.matmul, a[r0:r1], b, out=out[r0:r1])
                    for r0, r1 in blocks
                ]
                for job in jobs:
                    job.result()
    return out


def _blas_threads() -> int:
    """The number of threads BLAS is allowed now (``threadpool_limits``), at least 1."""
    return max([lib.num_threads for lib in _blas().lib_controllers] or [1])


# --------------------------------------------------------------------------
# event-driven products with a 0/1 factor
# --------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _rows_index(S):
    # CSR of the non-zero entries of S (R, n): row r holds idx[ptr[r]:ptr[r + 1]], increasing.
    # Branch-free fill (write the index, advance only where S != 0); binary is False when an
    # entry is neither 0 nor 1 (the product would then not be a sum of picked rows).
    R, n = S.shape
    ptr = np.empty(R + 1, np.int64)
    idx = np.empty(R * n, np.int32)
    k = 0
    binary = True
    ptr[0] = 0
    for r in range(R):
        row = S[r]
        for j in range(n):
            v = row[j]
            idx[k] = j
            k += v != 0
            binary &= (v == 0) | (v == 1)
        ptr[r + 1] = k
    return ptr, idx[:k], binary


@numba.njit(cache=True, nogil=True)
def _columns_index(ptr, idx, n):
    # CSR of S^T (column j holds the rows r with S[r, j] != 0, increasing) from S's CSR.
    R = ptr.shape[0] - 1
    cptr = np.zeros(n + 1, np.int64)
    for k in range(idx.shape[0]):
        cptr[idx[k] + 1] += 1
    for j in range(n):
        cptr[j + 1] += cptr[j]
    fill = cptr[:-1].copy()
    ridx = np.empty(idx.shape[0], np.int32)
    for r in range(R):
        for k in range(ptr[r], ptr[r + 1]):
            j = idx[k]
            ridx[fill[j]] = r
            fill[j] += 1
    return cptr, ridx


@numba.njit(cache=True, nogil=True)
def _picked_row_sums(ptr, idx, M, out, start, stop):
    # out[i] = sum of the rows M[idx[k]], k in [ptr[i], ptr[i + 1]), added in increasing k.
    # Eight (then four, then one) rows per pass over out[i], so out[i] is loaded and stored
    # once per eight rows; still in order: (((o + a0) + a1) + ...) + a7 is the
    # one-at-a-time sum. Rows [start, stop) of out: each row is the work of one call.
    m = M.shape[1]
    for i in range(start, stop):
        o = out[i]
        for c in range(m):
            o[c] = 0
        k = ptr[i]
        end = ptr[i + 1]
        while k + 8 <= end:
            a0, a1, a2, a3 = M[idx[k]], M[idx[k + 1]], M[idx[k + 2]], M[idx[k + 3]]
            a4, a5, a6, a7 = M[idx[k + 4]], M[idx[k + 5]], M[idx[k + 6]], M[idx[k + 7]]
            for c in range(m):
                x = (((o[c] + a0[c]) + a1[c]) + a2[c]) + a3[c]
                o[c] = (((x + a4[c]) + a5[c]) + a6[c]) + a7[c]
            k += 8
        if k + 4 <= end:
            a0, a1, a2, a3 = M[idx[k]], M[idx[k + 1]], M[idx[k + 2]], M[idx[k + 3]]
            for c in range(m):
                o[c] = (((o[c] + a0[c]) + a1[c]) + a2[c]) + a3[c]
            k += 4
        while k < end:
            a0 = M[idx[k]]
            for c in range(m):
                o[c] = o[c] + a0[c]
            k += 1


def spike_index(S: np.ndarray, *, columns: bool = False):
    """Where the 0/1 matrix ``S`` (2-D) is 1: ``(ptr, idx)``, or None if ``S`` is not 0/1.

    Row ``r`` of ``S`` has its ones at ``idx[ptr[r]:ptr[r + 1]]`` (increasing);
    with ``columns=True`` the same for the columns (the rows of ``S^T``).
    """
    S = np.ascontiguousarray(S)
    ptr, idx, binary = _rows_index(S)
    if not binary:
        return None
    if columns:
        return _columns_index(ptr, idx, S.shape[1])
    return ptr, idx


def in_row_blocks(kernel, rows: int, *args) -> None:
    """Run ``kernel(*args, start, stop)`` over ``[0, rows)`` on the trainer's threads.

    ``kernel`` is a numba ``nogil`` kernel whose rows are independent (each
    row's result does not depend on how the rows are split), so the split may
    follow the thread count: as many contiguous blocks as BLAS is allowed
    threads (``threadpool_limits``), run on the pool of :func:`fixed_matmul`.
    Python threads rather than numba's ``parallel``: no OpenMP runtime (which
    forbids a later ``fork``) and no spinning threads on a shared machine.
    """
    workers = min(_blas_threads(), max(1, rows // 64))
    if workers <= 1:
        kernel(*args, 0, rows)
        return
    step = -(-rows // workers)
    jobs = [
        _pool(workers).submit(kernel, *args, r, min(r + step, rows))
        for r in range(0, rows, step)
    ]
    for job in jobs:
        job.result()


def _event_product(index, other: np.ndarray, rows: int, dtype) -> np.ndarray:
    ptr, idx = index
    out = np.empty((rows, other.shape[1]), dtype=dtype)  # the dense product's dtype
    other = np.ascontiguousarray(other, dtype=dtype)
    in_row_blocks(_picked_row_sums, rows, ptr, idx, other, out)
    return out


def spike_matmul(
    S: np.ndarray,
    other: np.ndarray,
    *,
    transpose: bool = False,
    products: str = "auto",
    max_rate: float = EVENT_MAX_RATE,
):
    """``S @ other`` (or ``S.T @ other``) for a 0/1 matrix ``S``, event-driven where sparse.

    Parameters
    ----------
    S : ndarray, shape (R, n)
        Spikes (0/1) of float32 or float64, time steps stacked into the rows.
    other : ndarray
        ``(n, m)`` (the weights ``W``: forward drive ``S W``) or, with
        ``transpose=True``, ``(R, m)`` (the errors ``dU``: weight gradient ``S^T dU``).
    products : {"auto", "dense", "event"}
        ``auto``: event-driven if the share of ones is at most ``max_rate``,
        else dense; ``dense``: always :func:`fixed_matmul`; ``event``: always
        event-driven. A matrix that is not 0/1 always takes the dense product.
    max_rate : float
        The share of ones above which ``auto`` takes the dense product.

    Returns
    -------
    out : ndarray
        The product, shape ``(R, m)`` (or ``(n, m)``), in ``other``'s dtype.
    event : bool
        Whether it was computed event-driven.

    Notes
    -----
    Event-driven, ``out[r] = sum of other[j]`` over the ones ``S[r, j]`` in
    increasing ``j`` (and ``(S^T other)[j]`` the sum of ``other[r]`` over the
    ones of column ``j`` in increasing ``r``): the exact product, summed in
    an order that depends on neither the thread count nor the machine's BLAS.
    """
    check_choice("products", products, PRODUCTS)
    max_rate = check_real("max_rate", max_rate, low=0.0, high=1.0)
    S = check_numeric_array("S", S, "a 2-D array of 0/1 spikes")
    other = check_numeric_array("other", other, "a 2-D numeric array")
    for name, a in (("S", S), ("other", other)):
        # a NaN must not vanish into a skipped 0 * NaN of the event-driven sum
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} must be finite; got a NaN or infinite entry")
    if S.ndim != 2 or other.ndim != 2 or other.shape[0] != S.shape[0 if transpose else 1]:
        raise ValueError(
            f"spike_matmul needs S (R, n) and other ({'R' if transpose else 'n'}, m); got "
            f"S {S.shape} and other {other.shape}"
        )
    out, event, _ = _spike_product(S, other, transpose, products, max_rate)
    return out, event


def _spike_product(
    S, other, transpose: bool, products: str, max_rate: float = EVENT_MAX_RATE, rows_index=None
):
    # spike_matmul without the argument checks (the trainer's arrays are its own);
    # rows_index: S's _rows_index if already built (the forward pass's, reused backwards).
    # Returns (product, event-driven?, the rows index or None); the index is returned
    # even where the product went dense, so that the backward pass does not scan S again.
    index = rows_index
    if products != "dense":
        S = np.ascontiguousarray(S)
        index = index if index is not None else _rows_index(S)
        ptr, idx, binary = index
        if binary and (products == "event" or idx.shape[0] <= max_rate * S.size):
            picks = _columns_index(ptr, idx, S.shape[1]) if transpose else (ptr, idx)
            rows = S.shape[1] if transpose else S.shape[0]
            dtype = np.result_type(S, other)
            return _event_product(picks, other, rows, dtype), True, index
    return fixed_matmul(S.T if transpose else S, other), False, index
