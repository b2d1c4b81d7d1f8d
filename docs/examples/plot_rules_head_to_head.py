"""
The rules head to head
======================

The last layer's time-averaged rate of a 10-layer, 20-step network for every
data-free rule across thresholds (dynamic mean field): Kaiming's activity dies
above small thresholds, Micheli's one-step rule drifts above the encoding
layer's rate at high thresholds, the time-aware dmft rule holds it.
"""

import matplotlib.pyplot as plt
import numpy as np

import snninit as si

thetas = np.linspace(0.25, 1.75, 7)
fig, ax = plt.subplots(figsize=(6, 3.5))
for init in ("kaiming", "micheli", "dmft"):
    rates = []
    for theta in thetas:
        cfg = si.NetworkConfig(width=1000, layers=10, steps=20, beta=0.7, theta=theta, init=init)
        rates.append(float(si.theory.dynamic_mean_field(cfg, paths=2**11)["rate"]
                           .isel(layer=-1).mean()))
    ax.plot(thetas, rates, "o-", label=init)
encoding = [float(si.theory.dynamic_mean_field(si.NetworkConfig(width=1000, layers=1, steps=20,
            beta=0.7, theta=t), paths=2**11)["rate"].isel(layer=0).mean()) for t in thetas]
ax.plot(thetas, encoding, "k:", label="encoding layer")
ax.set_xlabel("theta")
ax.set_ylabel("last layer's rate")
ax.legend(fontsize=8)
fig.tight_layout()
