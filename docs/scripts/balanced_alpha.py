"""Short MNIST runs: the default surrogate (alpha 2) against the balanced one.

For networks of the study whose forward-conserving (Micheli) weights give
vanishing or exploding gradients at initialisation, ``snninit train`` with
``--alpha 2`` and with ``--alpha balanced`` (``theory.balanced_surrogate``):
the same weights, data and seed, 3 epochs on the first 10,000 training
images, tested on 2,000. Rewrites the block ``balanced-alpha`` of
docs/training.md. Needs the MNIST cache (``snninit data mnist``). Usage::

    python docs/scripts/balanced_alpha.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import snninit as si
from snninit.training import TrainConfig, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from update_validation_tables import rewrite  # noqa: E402  (one block rewriter)

DOC = Path(__file__).resolve().parents[1] / "training.md"
BASE = dict(width=600, layers=10, steps=3, theta=1.0, beta=0.5, init="micheli")
CASES = {"theta 0.5": dict(theta=0.5), "20 layers": dict(layers=20),
         "theta 1.5": dict(theta=1.5)}
EPOCHS, SUBSET, TEST = 3, 10_000, 2_000


def main() -> int:
    lines = [
        f"Micheli's rule, width 600, 3 steps, beta 0.5; {EPOCHS} epochs on {SUBSET} images, "
        f"test on {TEST}; seed 0 for both.",
        "",
        "| network | backward gain at alpha 2 | balanced alpha | test acc, alpha 2 | "
        "test acc, balanced |",
        "|---|---|---|---|---|",
    ]
    for name, change in CASES.items():
        cfg = si.NetworkConfig(**{**BASE, **change})
        gain = si.theory.trainability(cfg)["backward_gain"]
        alpha = si.theory.balanced_surrogate(cfg)
        accs = []
        for a in (2.0, alpha):
            tcfg = TrainConfig(epochs=EPOCHS, train_subset=SUBSET, test_subset=TEST, alpha=a)
            accs.append(float(train(cfg, tcfg, progress=False)["test_acc"][-1]))
        lines.append(f"| {name} | {gain:.3f} | {alpha:.3f} | {accs[0]:.4f} | {accs[1]:.4f} |")
    text = "\n".join(lines)
    print(text)
    DOC.write_text(rewrite(DOC.read_text(), {"balanced-alpha": text}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
