"""
Finite-width extinction
=======================

The exact one-step chain gives the probability that a network of finite width
has gone silent by each layer; simulated networks agree. Narrow networks die
first, even under Micheli's rule, which keeps the n -> infinity variance fixed.
"""

import matplotlib.pyplot as plt

import snninit as si

fig, ax = plt.subplots(figsize=(6, 3.5))
for width, color in ((50, "C0"), (100, "C1"), (200, "C2")):
    cfg = si.NetworkConfig(width=width, layers=60, steps=1, theta=1.0)
    p = si.theory.finite_size(cfg)["p_extinct"].isel(time=0)
    sim = si.montecarlo.simulate(cfg, reps=40, seed=1)
    silent = (sim["spikes"].isel(time=0) == 0).mean("rep")
    ax.plot(p["layer"], p, color=color, label=f"width {width}: exact chain")
    ax.plot(silent["layer"], silent, ".", color=color, label=f"width {width}: 40 networks")
ax.set_xlabel("layer")
ax.set_ylabel("P(silent)")
ax.legend(fontsize=7)
fig.tight_layout()
