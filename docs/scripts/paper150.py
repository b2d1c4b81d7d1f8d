"""The paper's section-5 protocol (150 epochs, Adam 1e-3, cosine): figure and table.

Reads the metrics of the two runs made with

    snninit train --init micheli --epochs 150 --threads 1 --out RUNS/micheli
    snninit train --init kaiming --epochs 150 --threads 1 --out RUNS/kaiming

(the paper's network is ``snninit train``'s default: encoding layer + 10 x 600
hidden LIF + LIF readout, T = 3, theta = 1, beta = 0.5, batch 128, full MNIST;
``--resume`` continues a killed run), draws train and test accuracy per epoch
in the layout of the paper's Figs. 5/6 (Micheli solid, Kaiming dashed) to
``docs/training_paper150.png`` and prints the Markdown table of
docs/training.md. Runs still in progress are drawn and tabulated as far as
they got (the table says how far).

Usage: python docs/scripts/paper150.py RUNS [--out docs/training_paper150.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from snninit._dataset import load_dataset

INITS = (("micheli", "-"), ("kaiming", "--"))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", type=Path, help="folder holding micheli/ and kaiming/")
    p.add_argument("--out", type=Path, default=Path("docs/training_paper150.png"))
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    rows = []
    for init, style in INITS:
        path = args.runs / init / "metrics.nc"
        if not path.exists():
            continue
        ds = load_dataset(path)
        epoch = ds.epoch.values
        for ax, var, label in ((axes[0], "train_acc", "train"), (axes[1], "test_acc", "test")):
            ax.plot(epoch, ds[var].values, style, color="k", label=f"{init}")
            ax.set_title(f"{label} accuracy")
        axes[2].plot(epoch, ds.train_loss.values, style, color="k", label=f"{init} train")
        axes[2].set_title("train loss")
        planned = json.loads(ds.attrs["train_config"])["epochs"]
        secs = ds.seconds.values
        best = int(np.argmax(ds.test_acc.values))
        rows.append(
            f"| {init} | {len(epoch)} of {planned} | "
            f"{np.median(secs):.1f} | {secs.sum() / 3600:.2f} | "
            f"{float(ds.test_acc[best]):.4f} (epoch {best + 1}) | "
            f"{float(ds.test_acc[-1]):.4f} | {float(ds.train_acc[-1]):.4f} |"
        )
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        "Paper's protocol: 10 x 600 LIF, T=3, theta=1, beta=0.5, Adam 1e-3, cosine over 150 "
        "epochs, full MNIST (Micheli solid, Kaiming dashed)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"figure: {args.out}")
    print("| init | epochs done | s/epoch (median) | hours | best test acc | final test acc "
          "| final train acc |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
