"""Self-sustained activity of a recurrent layer: predicted transition vs simulation.

For the kicked recurrent layer of :mod:`snninit.theory.sustained` (kick sd 2,
100 steps): the critical gain ``n Var[V]`` with its error for a few neurons,
the gain that rule-initialised recurrent networks give their ``V`` (Micheli
at ``recurrent_fraction`` 0.5, and the share ``f`` Micheli would need to reach
the transition), and a figure of the predicted rate at the last step against
the gain with simulated networks of width 500 and 2000 (mean rate and share
still active). Rewrites the block ``sustained-activity`` of
docs/neuron_models.md and writes docs/sustained_activity.png. Usage, from the
repository root::

    python docs/scripts/sustained_activity.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import snninit as si  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from update_validation_tables import rewrite  # noqa: E402  (one block rewriter)

DOCS = Path(__file__).resolve().parents[1]
DOC = DOCS / "neuron_models.md"
FIGURE = DOCS / "sustained_activity.png"
STEPS, KICK, REPS = 100, 2.0, 10
NEURONS = [(0.5, 0.5), (0.5, 1.0), (0.5, 1.5), (0.9, 0.5), (0.9, 1.0), (0.9, 1.5)]


def table() -> str:
    rows = [
        "| beta | theta | critical gain n Var[V] | error | rate at 1.1 x critical, last step | "
        "Micheli's gain at f = 0.5 | f Micheli needs |",
        "|---|---|---|---|---|---|---|",
    ]
    for beta, theta in NEURONS:
        cg = si.theory.critical_gain(beta=beta, theta=theta, steps=STEPS, kick=KICK)
        per_f = 1.0 / float(si.theory.survival(theta))  # Micheli: n Var[w] = 1 / Q(theta)
        need = cg.gain / per_f
        above = si.theory.sustained_activity(1.1 * cg.gain, beta=beta, theta=theta,
                                             steps=STEPS, kick=KICK)
        rows.append(
            f"| {beta} | {theta} | {cg.gain:.2f} | {cg.error:.2f} | "
            f"{float(above['rate'][-1]):.3f} | "
            f"{0.5 * per_f:.2f} | {need:.2f}{' (> 0.99: never)' if need > 0.99 else ''} |"
        )
    return "\n".join(rows)


def figure() -> str:
    beta, theta = 0.5, 1.0
    cg = si.theory.critical_gain(beta=beta, theta=theta, steps=STEPS, kick=KICK)
    gains = np.linspace(0.5, 12.0, 47)
    predicted = [float(si.theory.sustained_activity(g, beta=beta, theta=theta, steps=STEPS,
                                                    kick=KICK)["rate"][-1]) for g in gains]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax.plot(gains, predicted, "k-", label="dynamic mean field (n -> infinity)")
    ax.axvline(cg.gain, color="grey", ls=":", label=f"critical gain {cg.gain:.2f}")
    sim_gains = cg.gain * np.array([0.7, 0.85, 0.95, 1.0, 1.05, 1.15, 1.3, 1.6])
    lines = []
    for width, marker in ((500, "o"), (2000, "s")):
        rates, alive = [], []
        for g in sim_gains:
            sim = si.montecarlo.simulate_sustained_activity(
                g, width=width, beta=beta, theta=theta, steps=STEPS, kick=KICK, reps=REPS,
                seed=3,
            )
            rates.append(float(sim["rate"].isel(time=-1).mean()))
            alive.append(float(sim["alive"].mean()))
        ax.plot(sim_gains, rates, marker, mfc="none", label=f"simulated, width {width}")
        ax2.plot(sim_gains / cg.gain, alive, marker + "-", mfc="none", label=f"width {width}")
        lines.append(
            f"width {width}: share still active at t = {STEPS - 1} for gain / critical "
            + ", ".join(f"{g / cg.gain:.2f}: {a:.1f}" for g, a in zip(sim_gains, alive))
        )
    ax.set_xlabel("recurrent gain n Var[V]")
    ax.set_ylabel(f"rate at t = {STEPS - 1}")
    ax.set_title(f"kicked recurrent layer (beta {beta}, theta {theta}, kick sd {KICK})")
    ax.legend(fontsize=8)
    ax2.axvline(1.0, color="grey", ls=":")
    ax2.set_xlabel("gain / predicted critical gain")
    ax2.set_ylabel(f"share of {REPS} networks active at t = {STEPS - 1}")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=110)
    return "\n".join(f"- {line}" for line in lines)


def main() -> int:
    text = (
        f"Kick sd {KICK}, {STEPS} steps, subtract reset; critical gain from `critical_gain` "
        "(error: half the bisection bracket plus the largest change with twice the steps, a "
        "quarter of the paths or another seed); Micheli's recurrent weights get `n Var[V] = "
        "f / Q(theta)`.\n\n" + table() + "\n\nSimulated (10 networks each, beta 0.5, theta 1; "
        "figure `sustained_activity.png`):\n\n" + figure()
    )
    print(text)
    DOC.write_text(rewrite(DOC.read_text(), {"sustained-activity": text}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
