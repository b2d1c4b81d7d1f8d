"""Sweep runner overhead: the fig2 grid in-process vs on a 2-worker LocalCluster.

The grid is the paper's Fig. 2 (init in {micheli, kaiming} x theta in
{0, 0.2, ..., 1.0}: 12 points), width 1000, 100 layers, one step, ``gram``
sampler (exact for Gaussian weights, the O(n) sampler at T = 1), REPS
repetitions per point (default 2000) in tasks of CHUNK repetitions.

Timed, in this order, in the same run:
1. reference: ``simulate(cfg_point, reps=REPS, method="gram")`` for every
   point, in-process (the engine alone, numba threads = all cores);
2. ``sweep(..., client=None)`` in-process, no store;
3. the same with a Zarr ``store`` (writes + completion markers);
4. ``sweep(..., workers=W)`` -- a LocalCluster of W single-threaded worker
   processes; cluster start-up is timed separately and excluded.
Overhead per task = (sweep time - reference time) / number of tasks. On a
2-core machine the in-process engine already uses both cores, so parity
between 2 and 4 is the expected outcome. (3) and (4) are checked to equal
(2) bit for bit. On a shared, loaded machine the difference of two ~minute
timings is noise, so the overhead is also measured directly: the same
number of tasks on a network so small (width 10, 1 layer, 1 rep per task)
that the engine's time is negligible, in-process, with a store, and on the
cluster.

Usage: python benchmarks/bench_sweep.py [--reps 2000] [--chunk-reps 100] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np

import snninit as si
from snninit.montecarlo.gridsweep import point_seed

THETAS = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
INITS = ["micheli", "kaiming"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--chunk-reps", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--width", type=int, default=1000)
    ap.add_argument("--layers", type=int, default=100)
    args = ap.parse_args()

    import importlib.util

    import numba

    missing = [m for m in ("distributed", "zarr") if importlib.util.find_spec(m) is None]
    if missing:  # e.g. `nox -s benchmarks` installs the core only
        print(f"bench_sweep: skipped, needs {', '.join(missing)} (pip install -e '.[distributed]')")
        return
    from distributed import Client, LocalCluster

    cfg = si.NetworkConfig(width=args.width, layers=args.layers, steps=1)
    over = {"init": INITS, "theta": THETAS}
    points = len(INITS) * len(THETAS)
    tasks = points * -(-args.reps // args.chunk_reps)
    kw = dict(reps=args.reps, seed=0, method="gram", chunk_reps=args.chunk_reps)
    print(
        f"fig2 grid: {points} points x {args.reps} reps (width {args.width}, "
        f"{args.layers} layers, T=1, gram), {tasks} tasks of {args.chunk_reps} reps; "
        f"{os.cpu_count()} CPUs, numba threads {numba.get_num_threads()}"
    )
    si.montecarlo.simulate(cfg, reps=2, seed=0, method="gram")  # compile / load cache

    t0 = time.perf_counter()
    for init in INITS:
        for theta in THETAS:
            c = {"init": init, "theta": theta}
            si.montecarlo.simulate(
                cfg.replace(**c), reps=args.reps, seed=point_seed(0, c), method="gram"
            )
    t_ref = time.perf_counter() - t0
    print(f"reference (simulate per point)  {t_ref:8.2f} s")

    t0 = time.perf_counter()
    mem = si.montecarlo.sweep(cfg, over, **kw)
    t_mem = time.perf_counter() - t0
    print(
        f"in-process sweep, no store      {t_mem:8.2f} s   "
        f"overhead/task {1e3 * (t_mem - t_ref) / tasks:7.2f} ms"
    )

    tmp = tempfile.mkdtemp(prefix="bench_sweep_")
    try:
        t0 = time.perf_counter()
        stored = si.montecarlo.sweep(cfg, over, store=os.path.join(tmp, "s.zarr"), **kw)
        t_store = time.perf_counter() - t0
        print(
            f"in-process sweep, Zarr store    {t_store:8.2f} s   "
            f"overhead/task {1e3 * (t_store - t_ref) / tasks:7.2f} ms"
        )
        assert all(np.array_equal(stored[v], mem[v], equal_nan=True) for v in mem.data_vars)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    t0 = time.perf_counter()
    cluster = LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=40, env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    client = Client(cluster)
    client.wait_for_workers(args.workers)
    t_start = time.perf_counter() - t0

    def probe(**extra) -> float:
        small = si.NetworkConfig(width=10, layers=1, steps=1)
        grid = {"theta": [0.5 + 0.001 * i for i in range(tasks)]}
        t0 = time.perf_counter()
        si.montecarlo.sweep(small, grid, reps=1, method="gram", **extra)
        return (time.perf_counter() - t0) / tasks

    try:
        # warm the workers (imports, numba cache) outside the timing
        si.montecarlo.sweep(cfg.replace(layers=2), {"theta": [1.0]}, reps=4, client=client,
                            method="gram", chunk_reps=1)  # fmt: skip
        t0 = time.perf_counter()
        dist = si.montecarlo.sweep(cfg, over, client=client, **kw)
        t_dist = time.perf_counter() - t0
        probe()  # warm
        p_mem = probe()
        with tempfile.TemporaryDirectory() as d:
            p_store = probe(store=os.path.join(d, "p.zarr"))
        p_dist = probe(client=client)
    finally:
        client.close()
        cluster.close()
    print(f"LocalCluster start-up           {t_start:8.2f} s   (excluded below)")
    print(
        f"{f'{args.workers}-worker LocalCluster sweep':<32}{t_dist:8.2f} s   "
        f"overhead/task {1e3 * (t_dist - t_ref) / tasks:7.2f} ms"
    )
    assert all(np.array_equal(dist[v], mem[v], equal_nan=True) for v in mem.data_vars)
    print(
        f"per-task overhead probe ({tasks} empty tasks): in-process {1e3 * p_mem:.2f} ms, "
        f"+ Zarr store {1e3 * p_store:.2f} ms, {args.workers}-worker LocalCluster "
        f"{1e3 * p_dist:.2f} ms"
    )
    print(
        f"ratio LocalCluster / in-process: {t_dist / t_mem:.2f}; "
        f"store / no store: {t_store / t_mem:.2f}; results bit-identical: yes"
    )


if __name__ == "__main__":
    main()
