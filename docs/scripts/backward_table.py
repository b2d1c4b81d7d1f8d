"""The backward mean field against the trainer's BPTT gradients (docs/training.md).

For each case: ``theory.backward_mean_field`` (8192 paths) against
``training.measure_backward`` (30 networks of width 500 unless stated, one
input each, ``dL/ds_L`` i.i.d. N(0, 1)), compared cell by cell with
``validation.compare``; verdict of ``assert_agrees`` at family false-failure
rate 1e-3. Rewrites the block
``backward-agreement`` of docs/training.md. Usage, from the repository root::

    python docs/scripts/backward_table.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import snninit as si

sys.path.insert(0, str(Path(__file__).resolve().parent))
from update_validation_tables import rewrite  # noqa: E402  (one block rewriter)

DOC = Path(__file__).resolve().parents[1] / "training.md"
REPS, ALPHA = 30, 1e-3
CASES = {  # name: (config fields, detach_reset[, networks])
    "T 1, 6 layers": (dict(steps=1, layers=6), True),
    "T 5, beta 0.5": (dict(steps=5, layers=4, beta=0.5), True),
    "T 5, zero reset": (dict(steps=5, layers=4, beta=0.5, reset="zero"), True),
    "T 5, reset kept in the graph": (dict(steps=5, layers=4, beta=0.5), False),
    "T 10, beta 0.9": (dict(steps=10, layers=4, beta=0.9), True),
    "T 20, beta 0.95, 8 layers": (dict(steps=20, layers=8, beta=0.95), True),
    "T 5, Kaiming": (dict(steps=5, layers=4, beta=0.5, init="kaiming"), True),
    "T 20, beta 0.9, 30 layers": (dict(steps=20, layers=30, beta=0.9), True),
    "same, width 100": (dict(width=100, steps=20, layers=30, beta=0.9), True),
    "T 5, mean weights (fluctuation, mu_u 0.5, nu 0.15)": (
        dict(steps=5, layers=4, beta=0.5, init="fluctuation",
             init_params={"nu": 0.15, "mu_u": 0.5}), True, 200),
}


def row(name, fields, detach, reps=REPS):
    cfg = si.NetworkConfig(**{"width": 500, **fields})
    th = si.theory.backward_mean_field(cfg, detach_reset=detach, paths=2**13)
    sim = si.training.measure_backward(cfg, reps=reps, detach_reset=detach)
    cmp = si.validation.compare(th, sim, ["var_delta", "var_grad_w"])
    summary = si.validation.agreement_summary(cmp)
    cells = sum(summary[v]["cells"] for v in ("var_delta", "var_grad_w"))
    ratio = sim["var_delta"].mean("rep") / th["var_delta"]
    rel = float(np.nanmedian(np.abs(ratio.values - 1)))
    first = float(ratio.isel(layer=0, time=0))

    def ratio_text(w):
        top = float(w.isel(layer=-1))
        return f"{float(w.isel(layer=0)) / top:.3g}" if top > 0 else "inf (silent below L)"

    verdict = "agrees" if si.validation.agrees(cmp, alpha=ALPHA) else "**rejected**"
    zd, zw = (abs(summary[v]["worst_z"]) for v in ("var_delta", "var_grad_w"))
    return (f"| {name} | {cfg.width} | {rel:.3f} | {first:.2f} | {zd:.2f} | {zw:.2f} | "
            f"{cells} | {ratio_text(th['var_grad_w'])} | "
            f"{ratio_text(sim['var_grad_w'].mean('rep'))} | {reps} | {verdict} |")


def main() -> int:
    head = (
        f"{REPS} networks per case unless stated (one standard-normal input each) against "
        "`backward_mean_field(paths=8192)`; theta 1, Micheli's rule unless stated; 'first "
        "layer' is measured / predicted `var_delta` at layer 1, t = 0 (the end of the "
        "backward pass); the gradient ratio is `Var[dL/dW_1] / Var[dL/dW_L]`; verdict of "
        "`assert_agrees(alpha=1e-3)`.\n\n"
        "| case | width | var_delta: median rel. error | first layer: measured / predicted | "
        "var_delta: max abs z | var_grad_w: max abs z | cells | gradient ratio, "
        "theory | gradient ratio, measured | networks | verdict |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = [row(name, *spec) for name, spec in CASES.items()]
    text = head + "\n" + "\n".join(rows)
    print(text)
    DOC.write_text(rewrite(DOC.read_text(), {"backward-agreement": text}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
