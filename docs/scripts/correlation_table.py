"""Two inputs, one network: the correlation map against simulations (docs/inputs.md).

Block ``correlation-agreement``: for synthetic pairs of N(0, 1) inputs of a
given correlation and for pairs of MNIST test images (same digit / different
digits, standardised as the trainer does, ``training.data.standardise``) the prediction
``theory.correlation_map`` against ``montecarlo.simulate_correlation``
(``REPS`` networks per pair), every cell of ``similarity``, ``corr_spikes``,
``corr_counts`` and ``rate`` tested with ``validation.compare``; one verdict
per row at family false-failure rate 1e-3 (Bonferroni over every cell of
every pair of the row).

Block ``correlation-fixed-points``: deep networks (``DEEP`` layers) from two
input correlations (0 and 0.95): where the two trajectories of
``corr_counts`` end, and the correlation depth scale
(``theory.correlation_depth_scale``), per rule and (theta, beta).

Needs ``snninit data mnist``. Usage, from the repository root::

    python docs/scripts/correlation_table.py [--pairs 10] [--reps 16]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import snninit as si
from snninit.training.data import load_dataset_arrays, standardise

sys.path.insert(0, str(Path(__file__).resolve().parent))
from update_validation_tables import rewrite  # noqa: E402  (one block rewriter)

DOC = Path(__file__).resolve().parents[1] / "inputs.md"
ALPHA, PATHS, DEEP = 1e-3, 2**14, 30
VARIABLES = ["similarity", "corr_spikes", "corr_counts", "rate"]
BASE = dict(width=1000, layers=6, steps=10, theta=1.0, beta=0.9, init="micheli")
SYNTHETIC = {  # name: (config fields, input correlation)
    "N(0, 1) pair, rho 0": ({}, 0.0),
    "N(0, 1) pair, rho 0.5": ({}, 0.5),
    "N(0, 1) pair, rho 0.9": ({}, 0.9),
    "N(0, 1) pair, rho 0.9, beta 0.5": (dict(beta=0.5), 0.9),
    "N(0, 1) pair, rho 0.5, Kaiming theta 0.5": (dict(init="kaiming", theta=0.5), 0.5),
}
FIXED = [(init, theta, beta) for init in ("micheli", "dmft", "kaiming")
         for theta, beta in ((0.5, 0.9), (1.0, 0.5), (1.0, 0.9), (2.0, 0.9))]


def mnist_pairs(count: int, seed: int = 0):
    """``count`` same-digit and ``count`` different-digit pairs of standardised test images."""
    data = load_dataset_arrays("mnist")
    _, x = standardise(data.x_train, data.x_test)  # as the trainer does
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(data.y_test)
    rng = np.random.default_rng(seed)
    same, diff = [], []
    while len(same) < count or len(diff) < count:
        i, j = rng.choice(len(y), 2, replace=False)
        bucket = same if y[i] == y[j] else diff
        if len(bucket) < count:
            bucket.append(np.stack([x[i], x[j]]))
    return same, diff


def judge(runs):
    """One verdict over every cell of every (theory, simulation) pair of a row."""
    pvals, worst, last = [], 0.0, []
    for th, sim in runs:
        cmp = si.validation.compare(th, sim, VARIABLES)
        p, _ = si.validation.family_pvalues(cmp)
        pvals.append(p)
        worst = max(worst, max(float(np.nanmax(np.abs(cmp[f"{v}_z"].values))) for v in VARIABLES
                               if cmp[f"{v}_tested"].any()))
        top = dict(layer=int(th["layer"].max()))
        last.append((float(th["corr_counts"].sel(**top)),
                     float(sim["corr_counts"].sel(**top).mean("rep")),
                     float(th["corr_counts"].sel(layer=0))))
    pvals = np.concatenate(pvals)
    verdict = "agrees" if (pvals >= ALPHA / pvals.size).all() else "**rejected**"
    last = np.array(last)
    return pvals.size, worst, verdict, last.mean(axis=0)


def agreement(pairs: int, reps: int) -> str:
    rows = []
    for name, (fields, rho) in SYNTHETIC.items():
        cfg = si.NetworkConfig(**{**BASE, **fields})
        th = si.theory.correlation_map(cfg, input_correlation=rho, paths=PATHS)
        sim = si.montecarlo.simulate_correlation(cfg, input_correlation=rho, reps=reps, seed=1)
        rows.append((name, *judge([(th, sim)])))
    same, diff = mnist_pairs(pairs)
    cfg = si.NetworkConfig(**BASE)
    for name, group in ((f"MNIST, same digit ({pairs} pairs)", same),
                        (f"MNIST, different digits ({pairs} pairs)", diff)):
        runs = []
        for k, pair in enumerate(group):
            runs.append((si.theory.correlation_map(cfg, pair, paths=PATHS, seed=k),
                         si.montecarlo.simulate_correlation(cfg, pair, reps=reps, seed=1 + k)))
        rows.append((name, *judge(runs)))
    head = (
        f"Width {BASE['width']}, {BASE['layers']} hidden layers, {BASE['steps']} steps, theta "
        f"{BASE['theta']}, beta {BASE['beta']}, Micheli unless stated; {reps} networks per pair, "
        f"prediction {PATHS} paths. `corr_counts`: the correlation over neurons of the two "
        "responses' spike counts (mean over the row's pairs).\n\n"
        "| pair | layer 0 corr_counts | last layer: predicted | simulated | cells | max abs z "
        "| verdict (1e-3) |\n|---|---|---|---|---|---|---|\n"
    )
    body = "\n".join(f"| {n} | {c0:.3f} | {cp:.3f} | {cs:.3f} | {cells} | {w:.2f} | {v} |"
                     for n, cells, w, v, (cp, cs, c0) in rows)
    return head + body + "\n"


def fixed_points() -> str:
    rows = []
    for init, theta, beta in FIXED:
        cfg = si.NetworkConfig(**{**BASE, "layers": DEEP, "steps": 5, "init": init,
                                  "theta": theta, "beta": beta})
        lo = si.theory.correlation_map(cfg, input_correlation=0.0, paths=2**13)
        hi = si.theory.correlation_map(cfg, input_correlation=0.95, paths=2**13, seed=1)
        a, b = lo["corr_counts"].values, hi["corr_counts"].values
        err = np.hypot(lo["corr_counts_se"].values, hi["corr_counts_se"].values)
        rate = float(lo["rate"].sel(input="a", layer=DEEP).mean())
        if not (np.isfinite(a[-1]) and np.isfinite(b[-1])):  # the deep layers are silent
            rows.append(f"| {init} | {theta:g} | {beta:g} | {rate:.3f} | - | - | silent | - |")
            continue
        xi = si.theory.correlation_depth_scale(hi["corr_counts"], lo["corr_counts"], err)
        met = abs(a[-1] - b[-1]) <= 3 * err[-1]
        rows.append(f"| {init} | {theta:g} | {beta:g} | {rate:.3f} | {a[-1]:.3f} | {b[-1]:.3f} | "
                    f"{'yes' if met else 'no'} | {xi:.1f} |")
    head = (
        f"{DEEP} layers, 5 steps, width {BASE['width']} (the theory is n -> inf), 8192 paths. "
        f"`corr_counts` at layer {DEEP} starting from input correlation 0 and from 0.95; "
        "*met*: the two within 3 standard errors (a common fixed point reached); the depth "
        "scale from the gap between the two trajectories.\n\n"
        f"| rule | theta | beta | rate at layer {DEEP} | from rho 0 | from rho 0.95 | met | "
        "depth scale (layers) |\n|---|---|---|---|---|---|---|---|\n"
    )
    return head + "\n".join(rows) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=10)
    p.add_argument("--reps", type=int, default=16)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    blocks = {"correlation-agreement": agreement(args.pairs, args.reps)}
    t1 = time.perf_counter()
    blocks["correlation-fixed-points"] = fixed_points()
    print(f"agreement {t1 - t0:.0f} s, fixed points {time.perf_counter() - t1:.0f} s",
          file=sys.stderr)
    DOC.write_text(rewrite(DOC.read_text(), blocks))
    for text in blocks.values():
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
