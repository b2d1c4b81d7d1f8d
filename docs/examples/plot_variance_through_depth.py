"""
Predicted and simulated variance through depth
==============================================

The membrane variance of every layer of a one-step network under Micheli's and
Kaiming's rules: the mean-field prediction against 10 simulated networks.
"""

import matplotlib.pyplot as plt

import snninit as si

fig, ax = plt.subplots(figsize=(6, 3.5))
for init, color in (("micheli", "C0"), ("kaiming", "C1")):
    cfg = si.NetworkConfig(width=300, layers=30, steps=1, init=init)
    theory = si.theory.predict(cfg, "mean_field")
    sim = si.montecarlo.simulate(cfg, reps=10, seed=0)
    ax.plot(theory["layer"], theory["var_u"].isel(time=0), color=color, label=f"{init}: theory")
    ax.plot(sim["layer"], sim["var_u"].isel(time=0).mean("rep"), "o", color=color, ms=3,
            label=f"{init}: simulated")
ax.set_xlabel("layer")
ax.set_ylabel("Var[u]")
ax.set_yscale("log")
ax.legend(fontsize=8)
fig.tight_layout()
