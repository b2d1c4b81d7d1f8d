"""The engine against the dynamic mean field for every neuron model (docs/neuron_models.md).

For each model of :mod:`snninit.models` one network (width 1000, 10 hidden
layers, 20 steps, beta 0.7, theta 1, Micheli's rule) is simulated (20
independent networks; ``gram`` for the feed-forward models, ``dense`` for the
recurrent one) and predicted (``dynamic_mean_field``, 2^15 paths), and
:func:`snninit.validation.compare` tests every cell. Rewrites the block
``neuron-agreement`` of docs/neuron_models.md. Usage, from the repository root::

    NUMBA_NUM_THREADS=1 python docs/scripts/neuron_models_table.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import snninit as si

sys.path.insert(0, str(Path(__file__).resolve().parent))
from update_validation_tables import rewrite  # noqa: E402  (one block rewriter)

DOC = Path(__file__).resolve().parents[1] / "neuron_models.md"
BASE = dict(width=1000, layers=10, steps=20, beta=0.7, theta=1.0)
CASES = {  # fmt: skip
    "leaky": dict(),
    "synaptic (alpha 0.6)": dict(neuron="synaptic", alpha=0.6),
    "adaptive (rho 0.8, b 0.3)": dict(neuron="adaptive", rho=0.8, adaptation=0.3),
    "recurrent (f 0.5)": dict(neuron="recurrent", recurrent_fraction=0.5),
    "recurrent (f 0.7, zero reset)": dict(neuron="recurrent", recurrent_fraction=0.7,
                                          reset="zero"),
}
REPS, PATHS, ALPHA = 20, 2**15, 1e-3


def row(name: str, extra: dict) -> str:
    cfg = si.NetworkConfig(**BASE, **extra)
    method = "dense" if cfg.neuron == "recurrent" else "gram"
    sim = si.montecarlo.simulate(cfg, reps=REPS, seed=11, method=method)
    th = si.theory.dynamic_mean_field(cfg, paths=PATHS, seed=0)
    cmp = si.validation.compare(th, sim, ["rate", "var_u"])
    cells = []
    for v in ("rate", "var_u"):
        tested = cmp[f"{v}_tested"].values & (cmp["layer"].values[:, None] > 0)
        rel = np.abs(cmp[f"{v}_rel_err"].values[tested])
        cells.append(f"{np.median(rel):.3f}")
        cells.append(f"{np.max(np.abs(cmp[f'{v}_z'].values[tested])):.2f}")
        cells.append(str(int(tested.sum())))
    verdict = "agrees" if si.validation.agrees(cmp, alpha=ALPHA) else "**rejected**"
    rate = float(th["rate"].isel(layer=-1).mean())
    return (f"| {name} | {method} | {rate:.3f} | " + " | ".join(cells)
            + f" | {verdict} |")


def main() -> int:
    head = (
        f"Width {BASE['width']}, {BASE['layers']} hidden layers, {BASE['steps']} steps, "
        f"beta {BASE['beta']}, theta {BASE['theta']}, Micheli's rule; {REPS} simulated "
        f"networks against `dynamic_mean_field(paths={PATHS})`; every hidden cell (layer >= 1) "
        f"that `compare` can test; verdict of `assert_agrees(alpha={ALPHA:g})` over all cells.\n\n"
        "| model | sampler | DMFT rate, last layer (time mean) | rate: median rel. error | "
        "rate: max abs z | rate: cells | var_u: median rel. error | var_u: max abs z | "
        "var_u: cells | verdict |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = [row(name, extra) for name, extra in CASES.items()]
    text = head + "\n" + "\n".join(rows)
    print(text)
    DOC.write_text(rewrite(DOC.read_text(), {"neuron-agreement": text}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
