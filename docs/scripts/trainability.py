"""Does the theory at initialisation predict which networks train? (docs/training.md)

Part 1 (``STUDY`` given): for every run of a ``snninit study`` output folder,
the forward activity at initialisation (the dynamic mean field's time-mean
rate of the last hidden layer) and the backward one (``trainability``: the
weight gradient's variance ratio, first layer over last) against the run's
final test accuracy, and their Spearman rank correlations. Rewrites the block
``trainability-ranks``.

Part 2: the phase diagram over (theta, beta) of the backward gain per layer
for Micheli's and Kaiming's rule at the study's network (width 600, 10
layers, 3 steps), with the forward activity as contours and measured points
(``training.measure_backward``, 10 networks each). Writes
docs/trainability.png and rewrites the block ``trainability-points``.

Usage, from the repository root::

    python docs/scripts/trainability.py [STUDY]
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from scipy import stats  # noqa: E402

import snninit as si  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from update_validation_tables import rewrite  # noqa: E402  (one block rewriter)

DOCS = Path(__file__).resolve().parents[1]
DOC = DOCS / "training.md"
FIGURE = DOCS / "trainability.png"
AXES = {"depths": "layers", "widths": "width", "betas": "beta", "thetas": "theta"}


def study_runs(folder: Path):
    """``([(init, fields, final test accuracy)], epochs)``: each distinct run of a study once."""
    ds = xr.open_dataset(folder / "study.nc")
    base = json.loads(ds.attrs["config"])
    rows, seen = [], set()
    for run in range(ds.sizes["run"]):
        init = str(ds["init"].values[run])
        axis = str(ds["axis"].values[run])
        value = float(ds["value"].values[run])
        field = AXES.get(axis, axis)
        fields = {**{k: base[k] for k in ("width", "layers", "steps", "theta", "beta")},
                  field: int(value) if field in ("layers", "width") else value}
        key = (init, tuple(sorted(fields.items())))
        if key in seen:  # the baseline appears on every axis: once
            continue
        seen.add(key)
        rows.append((init, fields, float(ds["test_acc"].isel(run=run, epoch=-1))))
    return rows, ds.sizes["epoch"]


def study_rows(folder: Path):
    runs, epochs = study_runs(folder)
    rows = [(init, fields, si.theory.trainability(si.NetworkConfig(init=init, **fields)), acc)
            for init, fields, acc in runs]
    return rows, epochs


def ranks_block(folder: Path) -> str:
    rows, epochs = study_rows(folder)
    acc = np.array([r[3] for r in rows])
    rate = np.array([r[2]["last_rate"] for r in rows])
    # distance from balanced gradients; a silent network has no gradient at all: worst
    ratio = np.array([r[2]["gradient_ratio"] for r in rows])
    off = np.where(np.isfinite(ratio) & (ratio > 0), np.abs(np.log10(ratio)), np.inf)
    rho_f = stats.spearmanr(rate, acc)
    rho_b = stats.spearmanr(-off, acc)
    lines = [
        f"`{folder.name}`: {len(rows)} distinct runs, test accuracy after {epochs} epochs; "
        "the theory at initialisation (dynamic mean field and backward mean field, N(0, 1) "
        "inputs, width for every layer).",
        "",
        "| init | layers | width | beta | theta | test acc | last-layer rate at init | "
        "gradient ratio W_1 / W_L |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (init, f, tr, a), r in sorted(zip(rows, ratio), key=lambda x: -x[0][3]):
        rtxt = f"{r:.3g}" if np.isfinite(r) else "no gradient (silent)"
        lines.append(f"| {init} | {f['layers']} | {f['width']} | {f['beta']} | {f['theta']} | "
                     f"{a:.4f} | {tr['last_rate']:.4f} | {rtxt} |")
    lines += [
        "",
        f"Spearman rank correlation with the accuracy: forward activity {rho_f.statistic:.2f} "
        f"(p = {rho_f.pvalue:.2g}); closeness of the gradient ratio to 1, `-|log10 ratio|` "
        f"(silent networks last) {rho_b.statistic:.2f} (p = {rho_b.pvalue:.2g}).",
    ]
    return "\n".join(lines)


def phase_diagram() -> str:
    thetas = np.linspace(0.25, 2.0, 8)
    betas = np.array([0.0, 0.25, 0.5, 0.75, 0.9, 0.95])
    base = dict(width=600, layers=10, steps=3)
    fig = plt.figure(figsize=(17, 4.4))
    grid = fig.add_gridspec(1, 4, width_ratios=[1, 1, 0.05, 0.9], wspace=0.3)
    axes = [fig.add_subplot(grid[0])]
    axes.append(fig.add_subplot(grid[1], sharey=axes[0]))
    lines = []
    points = [(0.5, 0.5), (1.0, 0.5), (1.5, 0.5), (1.0, 0.9), (1.0, 0.0)]
    for ax, init in zip(axes, ("micheli", "kaiming")):
        gain = np.full((betas.size, thetas.size), np.nan)
        rate = np.zeros_like(gain)
        for i, b in enumerate(betas):
            for j, t in enumerate(thetas):
                tr = si.theory.trainability(si.NetworkConfig(init=init, theta=t, beta=b, **base),
                                            paths=2**12)
                gain[i, j] = tr["backward_gain"]
                rate[i, j] = tr["last_rate"]
        mesh = ax.pcolormesh(thetas, betas, np.log10(gain), cmap="coolwarm", vmin=-0.5,
                             vmax=0.5, shading="nearest")
        cs = ax.contour(thetas, betas, rate, levels=[1e-3, 0.05, 0.15], colors="k",
                        linewidths=0.8)
        ax.clabel(cs, fmt="rate %.3g", fontsize=7)
        for t, b in points:
            cfg = si.NetworkConfig(init=init, theta=t, beta=b, **base)
            tr = si.theory.trainability(cfg, paths=2**12)
            sim = si.training.measure_backward(cfg, reps=10)
            w = sim["var_grad_w"].mean("rep").values
            measured = (w[0] / w[-1]) ** (1 / (cfg.layers - 1)) if w[-1] > 0 else math.nan
            ax.plot(t, b, "ko", mfc="none")
            ax.annotate(f"{measured:.2f}" if np.isfinite(measured) else "silent", (t, b),
                        textcoords="offset points", xytext=(4, 4), fontsize=7)
            pred = tr["backward_gain"]
            lines.append(
                f"| {init} | {t} | {b} | "
                f"{(f'{pred:.3f}' if np.isfinite(pred) else 'silent')} | "
                f"{(f'{measured:.3f}' if np.isfinite(measured) else 'silent')} |"
            )
        ax.set_title(f"{init} (white: silent, no gradient)", fontsize=10)
        ax.set_xlabel("theta")
    axes[0].set_ylabel("beta")
    alpha_lines = _alpha_panel(fig.add_subplot(grid[3]), base)
    lines += alpha_lines
    fig.suptitle("backward gain per layer at initialisation (width 600, 10 layers, 3 steps); "
                 "contours: last layer's rate; points: measured gain", fontsize=10)
    fig.colorbar(mesh, cax=fig.add_subplot(grid[2]),
                 label="log10 backward gain per layer (0: balanced)")
    fig.savefig(FIGURE, dpi=110, bbox_inches="tight")
    head = ("| init | theta | beta | backward gain, theory | backward gain, measured (10 "
            "networks) |\n|---|---|---|---|---|")
    return head + "\n" + "\n".join(lines)


def _alpha_panel(ax, base) -> list[str]:
    """Backward gain against the surrogate's sharpness alpha (Micheli, beta 0.5)."""
    alphas = np.geomspace(0.5, 8.0, 13)
    rows = []
    for theta, color in ((0.5, "C0"), (1.0, "C1"), (1.5, "C2")):
        cfg = si.NetworkConfig(init="micheli", theta=theta, beta=0.5, **base)
        gains = [si.theory.trainability(cfg, alpha=a, paths=2**12)["backward_gain"]
                 for a in alphas]
        ax.plot(alphas, gains, "-", color=color, label=f"theta {theta}: theory")
        if theta == 1.0:
            for a in (1.0, 2.0, 4.0):
                w = si.training.measure_backward(cfg, reps=10, alpha=a)["var_grad_w"]
                w = w.mean("rep").values
                measured = (w[0] / w[-1]) ** (1 / (cfg.layers - 1))
                pred = si.theory.trainability(cfg, alpha=a, paths=2**12)["backward_gain"]
                ax.plot(a, measured, "o", color=color, mfc="none")
                rows.append(f"| micheli (alpha {a:g}) | {theta} | 0.5 | {pred:.3f} | "
                            f"{measured:.3f} |")
    ax.axhline(1.0, color="grey", ls=":")
    ax.set_xscale("log")
    ax.set_xticks([0.5, 1, 2, 4, 8], ["0.5", "1", "2", "4", "8"])
    ax.minorticks_off()
    ax.set_xlabel("surrogate sharpness alpha")
    ax.set_ylabel("backward gain per layer")
    ax.yaxis.set_label_position("right")  # clear of the colour bar on its left
    ax.yaxis.tick_right()
    ax.set_title("micheli, beta 0.5: the gain against alpha (points: measured)", fontsize=10)
    ax.legend(fontsize=8)
    return rows


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    blocks = {"trainability-points": phase_diagram()}
    if argv:
        blocks["trainability-ranks"] = ranks_block(Path(argv[0]))
    for text in blocks.values():
        print(text, "\n")
    DOC.write_text(rewrite(DOC.read_text(), blocks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
