"""Seconds per MNIST epoch: the numpy BPTT trainer vs the same network in torch (CPU).

Both train the paper's network (encoding LIF layer + 10 x 600 hidden LIF
layers + LIF readout of 10, T = 3, theta = 1, beta = 0.5, Micheli init,
arctan surrogate, detached reset, Adam) on the same float32 mini-batches of
128, with the same number of threads (numpy's BLAS limited by threadpoolctl,
torch by ``torch.set_num_threads``). Both are timed on the same batches in
interleaved rounds after a warm-up (minimum per side, robust to the load of a
shared machine); the epoch time is extrapolated to 50,000 images (391
batches). The ratio numpy / torch is printed (target <= 1.0).

``--plain-blas`` also times the numpy trainer with plain ``a @ b`` products
(BLAS's own threading, whose summation order depends on the thread count)
in the same interleaved rounds, and prints the cost of the thread-count
independent products (:func:`snninit.training.model.fixed_matmul`) as the
ratio fixed / plain.

Usage: python benchmarks/bench_training.py [--threads 1] [--batches 40] [--plain-blas]
Uses the MNIST cache if present (``snninit data mnist``), else standard
normal inputs (the spike statistics then differ slightly from MNIST's).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from snninit.config import NetworkConfig
from snninit.training.model import SNN
from snninit.training.optim import Adam


def _batches(n_batches, batch, seed=0):
    rng = np.random.default_rng(seed)
    try:
        from snninit.training.data import load_dataset_arrays, standardise

        ds = load_dataset_arrays("mnist")
        (x,) = standardise(ds.x_train)
        y = ds.y_train
        source = "MNIST"
    except (FileNotFoundError, ValueError):
        x = rng.standard_normal((n_batches * batch, 784)).astype(np.float32)
        y = rng.integers(0, 10, len(x))
        source = "standard normal inputs"
    idx = rng.permutation(len(x))[: n_batches * batch].reshape(n_batches, batch)
    return [(x[i], y[i]) for i in idx], source


def numpy_stepper(model, plain=False):
    from snninit.training import model as model_mod

    opt = Adam(model.weights, lr=1e-3)
    fixed = model_mod.fixed_matmul

    def step(xb, yb):
        model_mod.fixed_matmul = (lambda a, b: a @ b) if plain else fixed
        try:
            _, grads, _ = model.loss_and_grad(xb, yb)
        finally:
            model_mod.fixed_matmul = fixed
        opt.step(grads)

    return step


def torch_stepper(model):
    import torch

    from snninit.training.torch_reference import TorchSNN

    ref = TorchSNN(model)
    opt = torch.optim.Adam(ref.weights, lr=1e-3)

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        ref.loss(xb, yb).backward()
        opt.step()

    return step


def interleaved_times(steppers, batches, rounds):
    """Per-batch seconds of each stepper: the minimum over ``rounds`` interleaved rounds.

    Rounds alternate between the implementations so that a change of load on
    a shared machine hits both alike; the minimum is the least-disturbed round.
    """
    for step in steppers:  # warm-up (numba kernels, BLAS buffers, allocator)
        for xb, yb in batches[:2]:
            step(xb, yb)
    best = [float("inf")] * len(steppers)
    for _ in range(rounds):
        for i, step in enumerate(steppers):
            t0 = time.perf_counter()
            for xb, yb in batches:
                step(xb, yb)
            best[i] = min(best[i], (time.perf_counter() - t0) / len(batches))
    return best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batches", type=int, default=10, help="batches per round")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (min is kept)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--layers", type=int, default=10)
    p.add_argument("--width", type=int, default=600)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument(
        "--plain-blas",
        action="store_true",
        help="also time plain BLAS products (thread-count dependent sums) for comparison",
    )
    args = p.parse_args(argv)
    cfg = NetworkConfig(
        width=args.width, layers=args.layers, steps=args.steps, theta=1.0, beta=0.5, init="micheli"
    )
    batches, source = _batches(args.batches, args.batch)
    per_epoch = -(-50_000 // args.batch)
    try:
        import torch
    except ImportError:
        print("bench_training: torch not installed; numpy timing only")
        torch = None
    with threadpool_limits(limits=args.threads, user_api="blas"):
        steppers = [numpy_stepper(SNN(cfg, seed=0))]
        if args.plain_blas:
            steppers.append(numpy_stepper(SNN(cfg, seed=0), plain=True))
        if torch is not None:
            torch.set_num_threads(args.threads)
            steppers.append(torch_stepper(SNN(cfg, seed=0)))
        times = interleaved_times(steppers, batches, args.rounds)
    t_np = times[0]
    t_torch = times[-1]
    print(
        f"bench_training: {args.layers}x{args.width}, T={args.steps}, batch {args.batch}, "
        f"{args.threads} thread(s), min over {args.rounds} interleaved rounds of "
        f"{args.batches} batches of {source}"
    )
    print(f"  numpy BPTT : {t_np * 1e3:7.1f} ms/batch = {t_np * per_epoch:6.1f} s/epoch")
    if args.plain_blas:
        t_plain = times[1]
        print(
            f"  numpy, plain BLAS products: {t_plain * 1e3:7.1f} ms/batch; "
            f"ratio fixed/plain = {t_np / t_plain:.3f}"
        )
    if torch is not None:
        print(
            f"  torch {torch.__version__} : {t_torch * 1e3:7.1f} ms/batch = "
            f"{t_torch * per_epoch:6.1f} s/epoch"
        )
        print(f"  ratio numpy/torch = {t_np / t_torch:.3f}  (target <= 1.0)")


if __name__ == "__main__":
    main()
