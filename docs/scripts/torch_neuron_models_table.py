"""Deep snntorch ``Synaptic`` and ``RLeaky`` stacks before and after ``init_snntorch`` (docs/torch.md).

A 20-layer ``Synaptic`` MLP (alpha 0.5) and a 10-layer ``RLeaky`` MLP
(all-to-all ``nn.Linear`` recurrence; an encoding ``Leaky`` in front), width
1000, beta 0.5, theta 1, 20 steps, fed 16 standard-normal inputs: spikes per
step by layer with ``nn.Linear`` defaults and after ``init_snntorch`` (Micheli,
dmft), measured with ``diagnose``, next to the prediction ``diagnose`` adds.
Rewrites the block ``torch-neuron-models`` of docs/torch.md. Usage, from the
repository root (needs torch and snntorch)::

    python docs/scripts/torch_neuron_models_table.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import snntorch as snn
import torch
from torch import nn

import snninit.torch as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from update_validation_tables import rewrite  # noqa: E402  (one block rewriter)

DOC = Path(__file__).resolve().parents[1] / "torch.md"
WIDTH, STEPS, BATCH, BETA, ALPHA = 1000, 20, 16, 0.5, 0.5


def synaptic_mlp(layers):
    mods = [snn.Synaptic(alpha=ALPHA, beta=BETA, init_hidden=True)]
    for _ in range(layers):
        mods += [nn.Linear(WIDTH, WIDTH), snn.Synaptic(alpha=ALPHA, beta=BETA, init_hidden=True)]
    return nn.Sequential(*mods)


def rleaky_mlp(layers):
    mods = [snn.Leaky(beta=BETA, init_hidden=True)]
    for _ in range(layers):
        mods += [nn.Linear(WIDTH, WIDTH),
                 snn.RLeaky(beta=BETA, linear_features=WIDTH, init_hidden=True)]
    return nn.Sequential(*mods)


MODELS = {"20-layer `Synaptic` (alpha 0.5)": (synaptic_mlp, 20),
          "10-layer `RLeaky` (all-to-all)": (rleaky_mlp, 10)}
INITS = {"PyTorch default `nn.Linear`": None,
         "`init_snntorch(m, steps=20)` (Micheli)": dict(steps=STEPS),
         "`init_snntorch(m, rule=\"dmft\", steps=20)`": dict(rule="dmft", steps=STEPS)}


def row(model_name, make, layers, init_name, kwargs, x):
    torch.manual_seed(0)
    model = make(layers)
    if kwargs is not None:
        st.init_snntorch(model, **kwargs)
    ds = st.diagnose(model, x, steps=STEPS)
    per_step = ds["spikes"].mean(("rep", "time"))
    shown = [lay for lay in (0, 1, 2, 5, 10, 20) if lay <= layers]
    silent = int((ds["spikes"].sel(layer=layers).sum("time") == 0).sum())
    if "theory_rate" in ds:
        theory = f"{float(ds['theory_rate'].sel(layer=layers).mean()) * WIDTH:.1f}"
    else:
        theory = "none (" + ds.attrs["theory"].removeprefix("none: ") + ")"
    cells = " | ".join(f"{float(per_step.sel(layer=lay)):.1f}" for lay in shown)
    head = [f"layer {lay}" for lay in shown]
    return head, f"| {model_name} | {init_name} | {cells} | {silent}/{BATCH} | {theory} |"


def main() -> int:
    x = torch.randn(BATCH, WIDTH, generator=torch.Generator().manual_seed(2024))
    parts = []
    for model_name, (make, layers) in MODELS.items():
        rows = [row(model_name, make, layers, name, kw, x) for name, kw in INITS.items()]
        head = rows[0][0]
        parts.append(
            f"| model | initialisation | {' | '.join(head)} | inputs with a silent last "
            f"layer | theory, last layer |\n|{'---|' * (len(head) + 4)}\n"
            + "\n".join(r[1] for r in rows)
        )
    text = (
        f"Width {WIDTH}, beta {BETA}, theta 1, {STEPS} steps, {BATCH} standard-normal inputs "
        f"(torch {torch.__version__}, snntorch {snn.__version__}); spikes per step, mean over "
        "inputs and steps; the theory is the dynamic mean field `diagnose` adds (n -> "
        "infinity), spikes per step at the last layer.\n\n" + "\n\n".join(parts)
    )
    print(text)
    DOC.write_text(rewrite(DOC.read_text(), {"torch-neuron-models": text}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
