"""Time per batch of the numpy BPTT trainer, dense and event-driven, against torch (CPU).

All three train the paper's network (encoding LIF layer + 10 x 600 hidden LIF
layers + LIF readout of 10, theta = 1, beta = 0.5, arctan surrogate, detached
reset, Adam 1e-3) on the same float32 mini-batches of 128 MNIST images, with
the same number of threads (numpy's BLAS and numba limited by threadpoolctl,
torch by ``torch.set_num_threads``):

* ``dense``  -- :class:`snninit.training.SNN` with ``products="dense"``: every
  product a thread-count independent BLAS product (``fixed_matmul``);
* ``event``  -- ``products="auto"`` (the default): the forward drive ``S W`` and
  the weight gradient ``S^T dU`` summed over the spikes only, where their rate
  is at most ``EVENT_MAX_RATE`` (:mod:`snninit.training.products`);
* ``torch``  -- the same network with autograd
  (:class:`snninit.training.torch_reference.TorchSNN`), ``torch.optim.Adam``.

Rows: each init (Micheli, Kaiming) at initialisation and after one epoch of
training with the trainer (``snninit.training.train``, constant lr 1e-3;
rates change with learning), for T = 3 (the paper's) and, at initialisation,
T = 20, on each thread count of ``--threads``. Every row times the three on
the same batches in interleaved rounds after a warm-up and keeps the minimum
per side (robust to the load of a shared machine), and prints the ratios
event / torch (goal <= 0.5) and dense / torch, and the mean spike rate of the
layers that feed a product (the rates decide what events can save).

``--crossover`` first prints the time of one product ``S W`` (384 x 600 by
600 x 600) dense and event-driven at a range of spike rates (where
``EVENT_MAX_RATE`` comes from) and of BLAS on 96-, 192- and 384-row blocks
(where the trainer's minimum block of 192 rows comes from).

Usage: python benchmarks/bench_training.py [--threads 1,2] [--steps 3,20]
[--batches 10] [--rounds 4] [--no-trained] [--crossover]
Needs the MNIST cache (``snninit data mnist``) for the trained rows; without
it, standard normal inputs (and no trained rows).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

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


def numpy_stepper(model):
    opt = Adam(model.weights, lr=1e-3)

    def step(xb, yb):
        _, grads, _ = model.loss_and_grad(xb, yb)
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
    a shared machine hits all alike; the minimum is the least-disturbed round.
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


def trained_weights(cfg, workdir: Path):
    """Weights after one epoch of ``snninit.training.train`` (constant lr 1e-3, seed 0)."""
    from snninit.training import TrainConfig, train

    out = workdir / f"train-{cfg.init}-{cfg.steps}"
    t0 = time.perf_counter()
    ds = train(cfg, TrainConfig(epochs=1, schedule="constant"), out=out, progress=False)
    with np.load(out / "checkpoint.npz") as npz:
        weights = [npz[f"w{i}"] for i in range(cfg.layers + 1)]
    print(
        f"  (trained {cfg.init} T={cfg.steps} for one epoch in {time.perf_counter() - t0:.0f} s:"
        f" test accuracy {float(ds['test_acc'][-1]):.3f})",
        flush=True,
    )
    return weights


def _model(cfg, weights, products):
    m = SNN(cfg, seed=0, products=products)
    if weights is not None:
        m.set_weights(weights)
    return m


def _feeding_rate(model, batches):
    rec = model.forward(batches[0][0], record=True)
    return float(np.mean(rec.rates()[:-1]))  # the layers whose spikes feed a product


def time_row(cfg, weights, batches, rounds, threads, torch):
    with threadpool_limits(limits=threads):
        steppers = [numpy_stepper(_model(cfg, weights, p)) for p in ("dense", "auto")]
        if torch is not None:
            torch.set_num_threads(threads)
            steppers.append(torch_stepper(_model(cfg, weights, "dense")))
        rate = _feeding_rate(_model(cfg, weights, "auto"), batches)
        return interleaved_times(steppers, batches, rounds), rate


def crossover(threads: int) -> None:
    from snninit.training.products import fixed_matmul, spike_matmul

    rng = np.random.default_rng(0)
    w = rng.standard_normal((600, 600)).astype(np.float32)

    def best(f, n=20, rounds=3):
        f()
        return min(_elapsed(f, n) for _ in range(rounds)) * 1e3

    print(f"crossover ({threads} thread(s)): one product (384 x 600) @ (600 x 600), float32, ms")
    with threadpool_limits(limits=threads):
        for rate in (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3):
            s = (rng.random((384, 600)) < rate).astype(np.float32)
            td = best(lambda s=s: fixed_matmul(s, w))
            te = best(lambda s=s: spike_matmul(s, w, products="event"))
            print(
                f"  rate {rate:4.2f}: dense {td:5.2f}  event {te:5.2f}  dense/event {td / te:4.2f}"
            )
        d = rng.standard_normal((384, 600)).astype(np.float32)
        out = np.empty((384, 600), np.float32)
        for rows in (96, 192, 384):

            def blocks(rows=rows):
                for r0 in range(0, 384, rows):
                    np.matmul(d[r0 : r0 + rows], w, out=out[r0 : r0 + rows])

            print(f"  BLAS in blocks of {rows:3d} rows: {best(blocks):5.2f}")


def _elapsed(f, n):
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t0) / n


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--steps", default="3,20", help="comma-separated T (trained rows: T=3 only)")
    p.add_argument("--batches", type=int, default=10, help="batches per round")
    p.add_argument("--rounds", type=int, default=4, help="interleaved rounds (min is kept)")
    p.add_argument("--no-trained", action="store_true", help="skip the after-one-epoch rows")
    p.add_argument("--crossover", action="store_true", help="first time single products")
    args = p.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    steps = [int(t) for t in args.steps.split(",")]
    try:
        import torch
    except ImportError:
        print("bench_training: torch not installed; numpy timings only")
        torch = None
    if args.crossover:
        for th in threads:
            crossover(th)
    batches, source = _batches(args.batches, 128)
    print(
        f"bench_training: 10x600, batch 128, {source}; ms per batch, min over {args.rounds} "
        f"interleaved rounds of {args.batches} batches; 'rate' = mean rate of the layers "
        "feeding a product",
        flush=True,
    )
    header = "  init     state    T thr   rate  dense  event  torch  event/torch  dense/torch"
    print(header)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for T in steps:
            for init in ("micheli", "kaiming"):
                cfg = NetworkConfig(width=600, layers=10, steps=T, theta=1.0, beta=0.5, init=init)
                states = [("init", None)]
                if T == 3 and not args.no_trained and source == "MNIST":
                    states.append(("1 epoch", trained_weights(cfg, Path(tmp))))
                for state, weights in states:
                    for th in threads:
                        # fewer batches at long T keep a row near a minute
                        b = batches[: max(3, args.batches * 3 // T)]
                        (td, te, *tt), rate = time_row(cfg, weights, b, args.rounds, th, torch)
                        rows.append((init, state, T, th, rate, td, te, tt[0] if tt else None))
                        line = (
                            f"  {init:8s} {state:8s} {T:2d} {th:3d}  {rate:5.3f} "
                            f"{td * 1e3:6.1f} {te * 1e3:6.1f}"
                        )
                        if tt:
                            line += f" {tt[0] * 1e3:6.1f}  {te / tt[0]:11.3f}  {td / tt[0]:11.3f}"
                        print(line, flush=True)
    if torch is not None:
        ratios = [r[6] / r[7] for r in rows]
        print(
            f"event/torch: best {min(ratios):.3f}, worst {max(ratios):.3f} (goal <= 0.5); "
            f"rows at or under the goal: {sum(r <= 0.5 for r in ratios)} of {len(ratios)}"
        )


if __name__ == "__main__":
    main()
