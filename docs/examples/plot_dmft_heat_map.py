"""
The dynamic mean field over layers and time
===========================================

The predicted rate of every layer at every step of a 20-step network (beta
0.9, Micheli's rule), next to the simulated one: a transient over the first
steps, then a steady rate carried through all 20 layers, alike in theory and
simulation.
"""

import matplotlib.pyplot as plt

import snninit as si

cfg = si.NetworkConfig(width=500, layers=20, steps=20, beta=0.9)
theory = si.theory.dynamic_mean_field(cfg, paths=2**12)
sim = si.montecarlo.simulate(cfg, reps=5, seed=0)
fig, axes = plt.subplots(1, 2, figsize=(8, 3.5), sharey=True)
for ax, rate, title in ((axes[0], theory["rate"], "dynamic mean field"),
                        (axes[1], sim["rate"].mean("rep"), "5 simulated networks")):
    mesh = ax.pcolormesh(rate["time"], rate["layer"], rate, vmin=0, vmax=0.5, shading="nearest")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("time step")
axes[0].set_ylabel("layer")
fig.colorbar(mesh, ax=axes, label="rate")
