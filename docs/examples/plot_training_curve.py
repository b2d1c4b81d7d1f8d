"""
A training curve
================

The numpy BPTT trainer on a small synthetic data set (no download): a 4-layer
network initialised by Micheli's rule against Kaiming's, a few epochs each.
"""

import matplotlib.pyplot as plt

import snninit as si

data = si.training.synthetic_dataset(n_train=512, n_test=256, n_features=64, seed=0)
fig, ax = plt.subplots(figsize=(6, 3.5))
for init in ("micheli", "kaiming"):
    cfg = si.NetworkConfig(width=100, layers=4, steps=3, init=init)
    tcfg = si.training.TrainConfig(epochs=6, batch=32, lr=3e-3, dataset="synthetic")
    ds = si.training.train(cfg, tcfg, data=data, progress=False)
    ax.plot(ds["epoch"], ds["test_acc"], "o-", label=init)
ax.set_xlabel("epoch")
ax.set_ylabel("test accuracy")
ax.legend(fontsize=8)
fig.tight_layout()
