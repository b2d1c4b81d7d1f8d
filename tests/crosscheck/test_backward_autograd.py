"""The backward mean field against torch autograd on snntorch models (issue 18).

30 snntorch MLPs (an encoding ``Leaky``, then ``Linear`` + ``Leaky`` layers,
snntorch's default ATan surrogate, alpha 2, detached reset) initialised by
``init_snntorch``, each fed one standard-normal input for ``T`` steps; the
loss ``sum_t G^t . s_L^t`` with ``G`` i.i.d. N(0, 1) puts a unit-variance
gradient on the last hidden layer's spikes, as the theory assumes. The
variance of the entries of every ``Linear.weight.grad`` is compared with
``var_grad_w`` cell by cell (``assert_agrees``, family false-failure rate
1e-3).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
nn = torch.nn
import snninit as si  # noqa: E402
import snninit.torch as st  # noqa: E402

pytestmark = pytest.mark.crosscheck


def _mlp(width, layers, beta, theta):
    kw = dict(beta=beta, threshold=theta)
    mods = [snn.Leaky(**kw)]
    for _ in range(layers):
        mods += [nn.Linear(width, width, bias=False, dtype=torch.float64), snn.Leaky(**kw)]
    return mods


def _weight_grad_variances(width, layers, steps, beta, theta, seed):
    torch.manual_seed(seed)
    mods = _mlp(width, layers, beta, theta)
    st.init_snntorch(nn.Sequential(*mods), steps=steps)
    gen = torch.Generator().manual_seed(10_000 + seed)
    x = torch.randn(1, width, generator=gen, dtype=torch.float64)
    g = torch.randn(steps, 1, width, generator=gen, dtype=torch.float64)
    mems = [None] * (layers + 1)
    loss = torch.zeros((), dtype=torch.float64)
    for t in range(steps):
        cur = x
        for layer in range(layers + 1):
            if layer > 0:
                cur = mods[2 * layer - 1](cur)
            neuron = mods[2 * layer] if layer > 0 else mods[0]
            if mems[layer] is None:
                mems[layer] = torch.zeros_like(cur)
            spk, mems[layer] = neuron(cur, mems[layer])
            cur = spk.to(torch.float64)
        loss = loss + (g[t] * cur).sum()
    loss.backward()
    return [float(mods[2 * l - 1].weight.grad.var(unbiased=False)) for l in range(1, layers + 1)]


@pytest.mark.parametrize("steps, beta", [(1, 0.5), (5, 0.5), (10, 0.9)])
def test_weight_gradients_of_snntorch_agree_with_the_backward_mean_field(steps, beta):
    width, layers, theta, reps = 300, 4, 1.0, 30
    cfg = si.NetworkConfig(width=width, layers=layers, steps=steps, beta=beta, theta=theta)
    th = si.theory.backward_mean_field(cfg, paths=2**13)
    w = np.array([_weight_grad_variances(width, layers, steps, beta, theta, s)
                  for s in range(reps)])
    sim = xr.Dataset({"var_grad_w": (("rep", "layer"), w)},
                     coords={"rep": np.arange(reps), "layer": np.arange(1, layers + 1)})
    sim.attrs = {**th.attrs, "kind": "simulation"}
    cmp = si.validation.compare(th, sim, ["var_grad_w"])
    assert int(cmp["var_grad_w_tested"].sum()) == layers
    si.validation.assert_agrees(cmp, alpha=1e-3)
