"""Speed of every neuron model against the leaky neuron, measured in the same run.

Protocol: ``simulate`` of one shape (default n = 1000, L = 10, T = 20, theta 1,
beta 0.7, Micheli's rule, ``--reps`` networks) for every model of
:mod:`snninit.models`, with each sampler that applies (``dense`` for all,
``gram`` for the feed-forward models), after a warm-up that compiles every
kernel. The models are timed in interleaved rounds (``--rounds``, default 5:
leaky, synaptic, adaptive, recurrent, leaky, ...) so that a change of machine
load hits them alike; each line prints the median time and its ratio to the
leaky neuron's median with the same sampler. Goal (issue 17): ratio <= 1.5.
A recurrent layer draws its ``n x n`` matrix ``V`` on top of the ``n x n``
feed-forward matrix, so with ``dense`` it does about twice the leaky layer's
random numbers; the line says so. Usage::

    NUMBA_NUM_THREADS=1 python benchmarks/bench_models.py [--width 1000] [--reps 4] [--write-doc]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numba

import snninit as si

ROOT = Path(__file__).resolve().parents[1]

MODELS = {  # fmt: skip
    "leaky": {},
    "synaptic": dict(neuron="synaptic", alpha=0.6),
    "adaptive": dict(neuron="adaptive", rho=0.8, adaptation=0.3),
    "recurrent": dict(neuron="recurrent", recurrent_fraction=0.5),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=1000)
    ap.add_argument("--layers", type=int, default=10)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reps", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--write-doc", action="store_true",
                    help="also rewrite the block models-benchmark of docs/neuron_models.md")
    args = ap.parse_args(argv)
    base = dict(width=args.width, layers=args.layers, steps=args.steps, beta=0.7, theta=1.0)
    cases = [(m, meth) for meth in ("dense", "gram") for m in MODELS
             if not (meth == "gram" and m == "recurrent")]
    cfgs = {m: si.NetworkConfig(**base, **extra) for m, extra in MODELS.items()}
    for m, meth in cases:  # warm-up: compile and load every kernel
        si.montecarlo.simulate(cfgs[m].replace(width=20, layers=2), reps=1, method=meth)
    times = {case: [] for case in cases}
    for _ in range(args.rounds):
        for m, meth in cases:
            t0 = time.perf_counter()
            si.montecarlo.simulate(cfgs[m], reps=args.reps, seed=1, method=meth)
            times[(m, meth)].append(time.perf_counter() - t0)
    lines = [f"simulate, n={args.width} L={args.layers} T={args.steps} reps={args.reps}, "
             f"{numba.get_num_threads()} numba thread(s), median of {args.rounds} interleaved "
             "rounds"]
    for m, meth in cases:
        med = statistics.median(times[(m, meth)])
        ref = statistics.median(times[("leaky", meth)])
        note = " (draws V, n x n, as well as W)" if m == "recurrent" else ""
        lines.append(f"  {meth:5s} {m:9s} {med:8.3f} s   ratio to leaky {med / ref:5.2f}{note}")
    print("\n".join(lines))
    if args.write_doc:
        sys.path.insert(0, str(ROOT / "docs" / "scripts"))
        from update_validation_tables import rewrite  # the one block rewriter

        doc = ROOT / "docs" / "neuron_models.md"
        block = "```text\n" + "\n".join(lines) + "\n```"
        doc.write_text(rewrite(doc.read_text(), {"models-benchmark": block}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
