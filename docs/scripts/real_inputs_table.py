"""Real inputs: the data-driven dynamic mean field against simulations on MNIST (docs/inputs.md).

For each network: ``simulate(cfg, inputs=X)`` (``REPS`` independent networks,
each run on every image) against ``dynamic_mean_field(cfg, inputs=X)``
(``PATHS`` paths): the prediction averaged over the images
(``average=True``) against the networks' image-averaged statistics, cell by
cell with ``validation.compare``, verdict of ``assert_agrees`` at family
false-failure rate 1e-3; and the paper's ``I ~ N(0, 1)`` prediction for the
same network, to show what the data change. ``X``: MNIST test images,
standardised with the training set's pixel mean and SD as the trainer does
(``training.data.standardise``; a third of the pixels sit at the background
value -0.42); the rate-coded row feeds
Bernoulli spike trains (pixel intensity = probability per step, snntorch's
``spikegen.rate``) straight into the first weight layer (``encode=False``).
Needs ``snninit data mnist``. Rewrites the block ``real-inputs-agreement`` of
docs/inputs.md. Usage, from the repository root::

    python docs/scripts/real_inputs_table.py [--images 1000] [--reps 8]
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
ALPHA, PATHS = 1e-3, 2**14
BASE = dict(width=1000, layers=6, steps=10, theta=1.0, beta=0.9, init="micheli")
CASES = {  # name: (config fields, encode)
    "Micheli, beta 0.9": ({}, True),
    "Micheli, beta 0.5": (dict(beta=0.5), True),
    "Kaiming, beta 0.9": (dict(init="kaiming"), True),
    "synaptic (alpha 0.8), Micheli": (dict(neuron="synaptic", alpha=0.8), True),
    "rate-coded into Linear, Kaiming, beta 0.95, T 25": (
        dict(init="kaiming", beta=0.95, steps=25), False),
}


def mnist(images: int):
    data = load_dataset_arrays("mnist")
    _, x = standardise(data.x_train, data.x_test[:images])  # as the trainer does
    return np.asarray(x, dtype=np.float64), np.asarray(data.x_test[:images], dtype=np.float64)


def rate_coded(raw, steps, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((raw.shape[0], steps, raw.shape[1])) < raw[:, None, :]).astype(float)


def row(name, fields, encode, x, raw, reps):
    cfg = si.NetworkConfig(**{**BASE, **fields})
    inputs = x if encode else rate_coded(raw, cfg.steps)
    t0 = time.perf_counter()
    th = si.theory.dynamic_mean_field(cfg, paths=PATHS, inputs=inputs, encode=encode,
                                      average=True)
    t1 = time.perf_counter()
    sim = si.montecarlo.simulate(cfg, reps=reps, seed=1, inputs=inputs, encode=encode)
    t2 = time.perf_counter()
    avg = sim.mean("sample")
    avg.attrs = sim.attrs
    cmp = si.validation.compare(th, avg, ["rate", "var_u"])
    summary = si.validation.agreement_summary(cmp)
    verdict = "agrees" if si.validation.agrees(cmp, alpha=ALPHA) else "**rejected**"
    last = dict(layer=cfg.layers)
    r_sim = float(avg["rate"].sel(**last).mean())
    r_th = float(th["rate"].sel(**last).mean())
    # the paper's assumption for the same network (encoding layer on N(0, 1))
    r_gauss, v_gauss = "-", "-"
    if encode:
        g = si.theory.dynamic_mean_field(cfg, paths=PATHS)
        r_gauss = f"{float(g['rate'].sel(**last).mean()):.4f}"
        # the same test of the paper's prediction on the hidden layers (layer 0 differs
        # by construction): does the data change what the deep layers do, detectably?
        hidden = dict(layer=slice(1, None))
        cmp_g = si.validation.compare(g.sel(**hidden), avg.sel(**hidden), ["rate", "var_u"])
        pvals, _ = si.validation.family_pvalues(cmp_g)
        bad = int((pvals < ALPHA / pvals.size).sum())  # cells rejected (assert_agrees' test)
        v_gauss = "agrees" if bad == 0 else f"**rejected** ({bad} cells)"
    l0 = "-"
    if encode:
        gauss0 = si.theory.dynamic_mean_field(cfg, paths=256)["rate"].sel(layer=0).mean()
        l0 = f"{float(th['rate'].sel(layer=0).mean()):.4f} / {float(gauss0):.4f}"
    cells = sum(summary[v]["cells"] for v in ("rate", "var_u"))
    worst = max(abs(summary[v]["worst_z"]) for v in ("rate", "var_u"))
    print(f"{name}: theory {t1 - t0:.1f} s, simulation {t2 - t1:.1f} s", file=sys.stderr)
    return (f"| {name} | {l0} | {r_sim:.4f} | {r_th:.4f} | {r_gauss} | {cells} | "
            f"{worst:.2f} | {verdict} | {v_gauss} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--reps", type=int, default=8)
    p.add_argument("--only", default=None, help="run one case (its name) and print the row")
    args = p.parse_args(argv)
    x, raw = mnist(args.images)
    cases = {k: v for k, v in CASES.items() if args.only in (None, k)}
    rows = [row(name, *spec, x, raw, args.reps) for name, spec in cases.items()]
    head = (
        f"{args.images} MNIST test images, {args.reps} networks each (width {BASE['width']}, "
        f"{BASE['layers']} hidden layers, theta {BASE['theta']}, {BASE['steps']} steps unless "
        f"stated); prediction: {PATHS} paths, averaged over the images. Rates are means over "
        "the steps. Layer 0: the encoding layer's rate on the data (exact, identical to the "
        "simulation's) / under the paper's N(0, 1) assumption.\n\n"
        "| network | layer-0 rate: data / N(0, 1) | last-layer rate, simulated | "
        "predicted from the data | predicted for N(0, 1) inputs | cells | max abs z | "
        "verdict (1e-3) | N(0, 1) prediction, layers 1-L: verdict (1e-3) |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    table = head + "\n".join(rows) + "\n"
    if args.only is not None:
        print(table)
        return 0
    DOC.write_text(rewrite(DOC.read_text(), {"real-inputs-agreement": table}))
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
