"""Benchmark of the Monte Carlo engine against references measured in the same run.

Protocol: the paper's Fig. 4 cell beta = 0.5, Micheli (n = 1000, L = 100,
T = 20, theta = 1, subtract reset), ``reps`` networks. Timed, each once after
a warm-up that compiles/loads every kernel:

* ``dense``   -- :func:`snninit.montecarlo.simulate` (method="dense"; it skips
  the weight columns of neurons that never spike, so it may beat the floor)
* ``gram``    -- the same with method="gram"
* ``numpy``   -- a plain numpy dense reference of the same protocol
  (``Generator.standard_normal`` for W, ``S @ W.T`` with BLAS pinned to one
  thread, LIF loop over T), one thread
* ``rng``     -- the RNG floor: drawing the ``L n^2 reps`` standard normals
  that dense needs, with the generator dense uses (numba-compiled
  ``Generator(PCG64)``), on the same number of threads
* ``snntorch`` -- ``snntorch.Leaky(reset_mechanism="subtract")`` +
  ``nn.Linear(bias=False)`` stack on CPU (float32, snntorch's default;
  the faster of 1 and torch's default threads), weights drawn with ``nn.init.normal_`` per
  repetition, batch 1, when installed
* ``fig2 gram`` -- the whole fig2 preset (12 cells x 20 reps) with gram

The two references run ``--ref-reps`` repetitions (default 2) and their time
is scaled to ``reps`` (each repetition does the same work); the line says so.
Every line prints the time and the ratio to the reference it is judged by.
Targets on 2 cores: dense <= 1.5x rng, snntorch/dense >= 4, snntorch/gram
>= 50, fig2 gram < 2 s. Usage: ``python3 benchmarks/bench_montecarlo.py
[--reps 10] [--layers 100]``. The numbers depend on machine load: note it.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit
from threadpoolctl import threadpool_limits

import snninit as si
from snninit.montecarlo.engine import rep_generator
from snninit.montecarlo.presets import run_preset


@njit(nogil=True, cache=True)
def _draw_normals(gen, buf, rounds):
    acc = 0.0
    for _ in range(rounds):
        for i in range(buf.shape[0]):
            buf[i] = gen.standard_normal()
        acc += buf[0]
    return acc


def rng_floor(total: int, chunk: int, threads: int) -> float:
    """Seconds to draw ``total`` normals in ``chunk``-sized rounds on ``threads`` threads."""
    rounds = total // chunk
    per = [rounds // threads + (1 if i < rounds % threads else 0) for i in range(threads)]
    bufs = [np.empty(chunk) for _ in range(threads)]
    _draw_normals(rep_generator(0, 0), bufs[0][:10], 1)  # warm-up
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(
            pool.map(lambda i: _draw_normals(rep_generator(1, i), bufs[i], per[i]), range(threads))
        )
    return time.perf_counter() - start


def numpy_dense(cfg, reps: int, seed: int = 0) -> float:
    """Plain numpy dense reference of ``cfg``; returns seconds."""
    mean, var = si.theory.layer_weight_moments(cfg)
    n, T = cfg.width, cfg.steps
    start = time.perf_counter()
    with threadpool_limits(limits=1):
        for r in range(reps):
            rng = np.random.default_rng([seed, r])
            x = rng.standard_normal(n)
            drive = np.broadcast_to(x, (T, n))
            s = _lif_numpy(drive, cfg)
            for layer in range(cfg.layers):
                w = mean[layer] + np.sqrt(var[layer]) * rng.standard_normal((n, n))
                s = _lif_numpy(s @ w.T, cfg)
    return time.perf_counter() - start


def _lif_numpy(drive, cfg):
    u = np.zeros(drive.shape[1])
    s = np.zeros(drive.shape[1])
    out = np.empty_like(drive)
    for t in range(drive.shape[0]):
        u = cfg.beta * u + drive[t] - cfg.theta * s
        s = (u > cfg.theta).astype(float)
        out[t] = s
    return out


def snntorch_time(cfg, reps: int) -> tuple[float, int] | None:
    """Seconds for ``reps`` networks in snntorch: the faster of torch on 1 thread
    and on its default thread count (oversubscribed threads stall on a busy
    machine, which would flatter our ratio). Returns (seconds, threads)."""
    try:
        import snntorch as snn
        import torch
        from torch import nn
    except ImportError:
        return None
    mean, var = si.theory.layer_weight_moments(cfg)
    n, T = cfg.width, cfg.steps
    torch.manual_seed(0)
    linears = [nn.Linear(n, n, bias=False) for _ in range(cfg.layers)]
    leakies = [
        snn.Leaky(beta=cfg.beta, threshold=cfg.theta, reset_mechanism="subtract")
        for _ in range(cfg.layers + 1)
    ]

    def run() -> float:
        start = time.perf_counter()
        with torch.no_grad():
            for _ in range(reps):
                for layer, lin in enumerate(linears):
                    nn.init.normal_(lin.weight, float(mean[layer]), float(np.sqrt(var[layer])))
                x = torch.randn(1, n)
                mems = [torch.zeros(1, n) for _ in leakies]
                for _t in range(T):
                    spk, mems[0] = leakies[0](x, mems[0])
                    for layer, lin in enumerate(linears, start=1):
                        spk, mems[layer] = leakies[layer](lin(spk), mems[layer])
        return time.perf_counter() - start

    default_threads = torch.get_num_threads()
    timings = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        timings[threads] = run()
    torch.set_num_threads(default_threads)
    best = min(timings, key=timings.get)
    return timings[best], best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--layers", type=int, default=100)
    ap.add_argument(
        "--ref-reps",
        type=int,
        default=2,
        help="reps actually run for the numpy and snntorch references (their time is "
        "scaled linearly to --reps: every rep costs the same)",
    )
    ap.add_argument("--skip-numpy", action="store_true")
    args = ap.parse_args()
    threads = numba.get_num_threads()
    cfg = si.NetworkConfig(
        width=1000, layers=args.layers, steps=20, theta=1.0, beta=0.5, init="micheli"
    )
    load = os.getloadavg()
    print(
        f"# fig4 cell beta=0.5 micheli: n={cfg.width} L={cfg.layers} T={cfg.steps} "
        f"reps={args.reps}; numba threads={threads}; cpus={os.cpu_count()}; "
        f"loadavg before={load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    tiny = cfg.replace(width=20, layers=2, steps=3)
    for method in ("dense", "gram"):  # compile / load the kernels
        si.montecarlo.simulate(tiny, reps=2, method=method)
    run_preset("fig2", method="gram", reps=1)

    t0 = time.perf_counter()
    si.montecarlo.simulate(cfg, reps=args.reps, method="dense")
    dense = time.perf_counter() - t0
    t0 = time.perf_counter()
    si.montecarlo.simulate(cfg, reps=args.reps, method="gram")
    gram = time.perf_counter() - t0
    normals = cfg.layers * cfg.width**2 * args.reps
    floor = rng_floor(normals, cfg.width**2, threads)
    k = min(args.ref_reps, args.reps)
    scale = args.reps / k
    ref = None if args.skip_numpy else numpy_dense(cfg, k) * scale
    torch_res = snntorch_time(cfg, k)
    torch_s = None if torch_res is None else torch_res[0] * scale
    note = "" if k == args.reps else f" (ran {k} reps, x{scale:g})"
    t0 = time.perf_counter()
    run_preset("fig2", method="gram")
    fig2 = time.perf_counter() - t0

    print(f"rng floor  {floor:8.3f} s  ({normals:.3g} normals, {normals / floor / 1e6:.0f} M/s)")
    print(f"dense      {dense:8.3f} s  dense/rng floor = {dense / floor:.2f}  (target <= 1.5)")
    print(f"gram       {gram:8.3f} s  dense/gram = {dense / gram:.1f}")
    if ref is not None:
        print(f"numpy      {ref:8.3f} s  numpy/dense = {ref / dense:.1f}{note}")
    if torch_s is None:
        print("snntorch   not installed")
    else:
        print(
            f"snntorch   {torch_s:8.3f} s  snntorch/dense = {torch_s / dense:.1f} "
            f"(target >= 4){note}, best of torch threads 1/default: {torch_res[1]}"
        )
        print(f"           snntorch/gram = {torch_s / gram:.1f} (target >= 50)")
    print(f"fig2 gram  {fig2:8.3f} s  (12 cells x 20 reps; target < 2 s)")
    load = os.getloadavg()
    print(f"# loadavg after={load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
