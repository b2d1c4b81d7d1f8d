"""
An snntorch model before and after init_snntorch
================================================

A 12-layer snntorch MLP with PyTorch's default ``nn.Linear`` initialisation goes
silent; ``init_snntorch`` keeps every layer firing, close to ``diagnose``'s
prediction (n -> infinity; one network of width 300 loses a little more with
depth). (Needs torch and snntorch: ``pip install torch==2.13.0 snntorch``.)
"""

import matplotlib.pyplot as plt
import snntorch as snn
import torch
from torch import nn

import snninit.torch as st

width, depth, steps = 300, 12, 10


def mlp():
    layers = [snn.Leaky(beta=0.5, init_hidden=True)]
    for _ in range(depth):
        layers += [nn.Linear(width, width), snn.Leaky(beta=0.5, init_hidden=True)]
    return nn.Sequential(*layers)


x = torch.randn(8, width, generator=torch.Generator().manual_seed(0))
torch.manual_seed(0)
before = st.diagnose(mlp(), x, steps=steps)
torch.manual_seed(0)
after = st.diagnose(st.init_snntorch(mlp()), x, steps=steps)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(before["layer"], before["rate"].mean(("rep", "time")), "o-", label="nn.Linear default")
ax.plot(after["layer"], after["rate"].mean(("rep", "time")), "s-", label="init_snntorch")
ax.plot(after["layer"], after["theory_rate"].mean("time"), "k:", label="theory (diagnose)")
ax.set_xlabel("layer")
ax.set_ylabel("rate")
ax.legend(fontsize=8)
fig.tight_layout()
