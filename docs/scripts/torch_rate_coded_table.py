"""snntorch's tutorial layout on rate-coded MNIST, predicted and measured per layer (docs/torch.md).

``Linear(784, 1000) -> Leaky`` then ``Linear(1000, 1000) -> Leaky`` up to
``LAYERS`` weight layers, beta 0.95, threshold 1, fed ``spikegen.rate``
trains of 25 steps of ``BATCH`` MNIST test images (pixels in [0, 1]), as
snntorch's tutorials do. For PyTorch's default ``nn.Linear`` and for
``init_snntorch(model, sample=x[0], steps=25)`` (Micheli; the first layer
``"unit"``, from the sample): the spikes per neuron and step of every layer,
mean over ``NETS`` independently initialised networks on the same trains,
next to ``diagnose``'s data-driven prediction (``theory="data"``, the
dynamic mean field on that batch with the weight moments ``init_snntorch``
recorded). The verdict is :func:`snninit.validation.agrees` on the rate and
``Var[u]`` of every (layer, step) cell, each network's batch average one
repetition, at family false-failure rate 1e-3. Rewrites the block
``torch-rate-coded`` of docs/torch.md. Usage, from the repository root
(needs torch, snntorch and ``snninit data mnist``)::

    python docs/scripts/torch_rate_coded_table.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import snntorch as snn
import torch
import xarray as xr
from snntorch import spikegen
from torch import nn

import snninit as si
import snninit.torch as st
from snninit.training.data import load_dataset_arrays

sys.path.insert(0, str(Path(__file__).resolve().parent))
from update_validation_tables import rewrite  # noqa: E402  (one block rewriter)

DOC = Path(__file__).resolve().parents[1] / "torch.md"
WIDTH, STEPS, BATCH, BETA, NETS, ALPHA = 1000, 25, 32, 0.95, 8, 1e-3
DEPTHS = (1, 8)


def tutorial_mlp(layers: int) -> nn.Sequential:
    """snntorch's tutorial network, ``layers`` weight layers deep (PyTorch defaults)."""
    mods, fan_in = [], 784
    for _ in range(layers):
        mods += [nn.Linear(fan_in, WIDTH), snn.Leaky(beta=BETA, init_hidden=True)]
        fan_in = WIDTH
    return nn.Sequential(*mods)


def trains() -> torch.Tensor:
    """``(STEPS, BATCH, 784)`` rate-coded spike trains of the first MNIST test images."""
    data = load_dataset_arrays("mnist")
    pixels = np.asarray(data.x_test[:BATCH], dtype=np.float32).reshape(BATCH, -1)
    pixels = pixels / max(float(pixels.max()), 1.0)  # [0, 1] as torchvision's ToTensor
    torch.manual_seed(0)
    return spikegen.rate(torch.tensor(pixels), num_steps=STEPS)


def ensemble(layers: int, init: bool, x: torch.Tensor):
    """Per-network diagnoses stacked along ``rep``, and the prediction (or None)."""
    parts, theory = [], None
    for r in range(NETS):
        torch.manual_seed(1000 * layers + r)
        model = tutorial_mlp(layers)
        if init:
            st.init_snntorch(model, sample=x[0], steps=STEPS)
        ds = st.diagnose(model, x, steps=None, theory="auto" if r == 0 else "none")
        if r == 0 and any(v.startswith("theory_") for v in ds.data_vars):
            theory, _ = st.split_theory(ds)
        parts.append(ds[["rate", "var_u", "mean_u"]].mean("rep"))
    sim = xr.concat(parts, dim="rep")
    if theory is not None:
        sim.attrs = theory.attrs
    return sim, theory


def main() -> int:
    x = trains()
    shown = sorted({1, 2, 3, 4, 8} | set(DEPTHS))
    head = "| depth | initialisation | " + " | ".join(f"layer {lay}" for lay in shown) + \
        " | verdict (1e-3) |"
    lines = [head, "|" + "---|" * (len(shown) + 3)]
    for layers in DEPTHS:
        for name, init in (("PyTorch default `nn.Linear`", False),
                           ("`init_snntorch(m, sample=x[0], steps=25)`", True)):
            sim, theory = ensemble(layers, init, x)
            rate = sim["rate"].mean(("rep", "time"))
            cells = []
            for lay in shown:
                if lay > layers:
                    cells.append("")
                    continue
                cell = f"{float(rate.sel(layer=lay)):.4f}"
                if theory is not None:
                    cell += f" / {float(theory['rate'].sel(layer=lay).mean('time')):.4f}"
                cells.append(cell)
            if theory is None:
                verdict = "no prediction"
            else:
                ok = si.validation.agrees(theory, sim, alpha=ALPHA, variables=["rate", "var_u"])
                verdict = "agrees" if ok else "**rejected**"
            lines.append(f"| {layers} | {name} | " + " | ".join(cells) + f" | {verdict} |")
    text = (
        f"snntorch's tutorial layout: `Linear(784, {WIDTH})` then `Linear({WIDTH}, {WIDTH})`, "
        f"each into `Leaky(beta={BETA})`, threshold 1, fed `spikegen.rate` trains of {STEPS} "
        f"steps of the first {BATCH} MNIST test images (torch {torch.__version__}, snntorch "
        f"{snn.__version__}). Spikes per neuron and step by layer (mean over steps, images "
        f"and {NETS} independently initialised networks): measured / predicted by `diagnose` "
        "(`theory=\"data\"`, n -> infinity). Defaults get no prediction: their weights are "
        "not ones `init_snntorch` recorded.\n\n" + "\n".join(lines)
    )
    print(text)
    DOC.write_text(rewrite(DOC.read_text(), {"torch-rate-coded": text}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
