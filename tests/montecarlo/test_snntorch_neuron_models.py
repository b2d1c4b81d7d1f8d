"""Our synaptic and recurrent models against snntorch's ``Synaptic`` and ``RLeaky``.

snntorch 1.0.0 (read in its source), with ``reset = H(mem_prev - threshold)``:

* ``Synaptic``: ``syn = alpha syn_prev + input``, ``mem = beta mem_prev + syn - reset
  threshold`` ("subtract"): our ``synaptic`` neuron. Its "zero" reset sets the whole new
  membrane to 0 (the step's input is lost), unlike ``Leaky``'s ``beta (1 - reset)
  mem_prev + input``, which our models keep for every neuron: not compared here.
* ``RLeaky(all_to_all=True, linear_features=n)``: ``mem = beta mem_prev + input +
  recurrent(spk_prev) - reset threshold``, ``recurrent`` an ``nn.Linear(n, n)``: our
  ``recurrent`` layer with ``V = recurrent.weight`` and the bias set to 0. The
  encoding layer has no recurrence in our model: a ``Leaky`` there.

Both sides in float64: spikes equal exactly, membranes to rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")

import snninit as si  # noqa: E402

pytestmark = pytest.mark.crosscheck

F64 = torch.float64


def _linear(w):
    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False, dtype=F64)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w))
    return lin


def _run(neurons, linears, x, steps, step_fn):
    xt = torch.from_numpy(np.atleast_2d(x))
    states = [None] * len(neurons)
    mem_rec = [[] for _ in neurons]
    spk_rec = [[] for _ in neurons]
    with torch.no_grad():
        for _ in range(steps):
            cur = xt
            for layer, neuron in enumerate(neurons):
                if layer > 0:
                    cur = linears[layer - 1](cur)
                spk, mem, states[layer] = step_fn(layer, neuron, cur, states[layer])
                mem_rec[layer].append(mem.clone())
                spk_rec[layer].append(spk.clone())
                cur = spk.to(F64)
    mem = [torch.stack(m, dim=1).double().numpy() for m in mem_rec]
    spk = [torch.stack(s, dim=1).double().numpy() for s in spk_rec]
    return mem, spk


def _weights(rng, n, layers, theta):
    s2 = si.theory.weight_variance("micheli", n_in=n, theta=theta)
    return [rng.normal(0.0, np.sqrt(s2), size=(n, n)) for _ in range(layers)]


@pytest.mark.parametrize("alpha, beta", [(0.5, 0.5), (0.8, 0.9)])
def test_synaptic_matches_snntorch(alpha, beta):
    rng = np.random.default_rng(7)
    n, layers, steps, theta = 150, 6, 15, 1.0
    weights = _weights(rng, n, layers, theta)
    x = rng.standard_normal((3, n))
    cfg = si.NetworkConfig(width=n, layers=layers, steps=steps, theta=theta, beta=beta,
                           neuron="synaptic", alpha=alpha)
    ours = si.montecarlo.run_network(weights, x, cfg)
    kw = dict(alpha=torch.tensor(alpha, dtype=F64), beta=torch.tensor(beta, dtype=F64),
              threshold=torch.tensor(theta, dtype=F64), reset_mechanism="subtract")
    neurons = [snn.Synaptic(**kw) for _ in range(layers + 1)]

    def step(layer, neuron, cur, state):
        syn, mem = state if state is not None else neuron.reset_mem()
        spk, syn, mem = neuron(cur, syn, mem)
        return spk, mem, (syn, mem)

    mem, spk = _run(neurons, [_linear(w) for w in weights], x, steps, step)
    assert spk[-1].sum() > 0
    for layer in range(layers + 1):
        np.testing.assert_array_equal(ours.spikes[layer], spk[layer])
        np.testing.assert_allclose(ours.membranes[layer], mem[layer], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_recurrent_matches_snntorch_rleaky(beta):
    rng = np.random.default_rng(8)
    n, layers, steps, theta = 150, 6, 15, 1.0
    cfg = si.NetworkConfig(width=n, layers=layers, steps=steps, theta=theta, beta=beta,
                           neuron="recurrent", recurrent_fraction=0.5)
    weights = [0.5**0.5 * w for w in _weights(rng, n, layers, theta)]
    recs = [0.5**0.5 * w for w in _weights(rng, n, layers, theta)]
    x = rng.standard_normal((3, n))
    ours = si.montecarlo.run_network(weights, x, cfg, recurrent_weights=recs)
    b, th = torch.tensor(beta, dtype=F64), torch.tensor(theta, dtype=F64)
    neurons = [snn.Leaky(beta=b, threshold=th, reset_mechanism="subtract")]
    for v in recs:
        rl = snn.RLeaky(beta=b, threshold=th, reset_mechanism="subtract", all_to_all=True,
                        linear_features=n)
        rl.recurrent = rl.recurrent.to(F64)
        with torch.no_grad():
            rl.recurrent.weight.copy_(torch.from_numpy(v))
            rl.recurrent.bias.zero_()
        neurons.append(rl)

    def step(layer, neuron, cur, state):
        if layer == 0:
            mem = state if state is not None else neuron.reset_mem()
            spk, mem = neuron(cur, mem)
            return spk, mem, mem
        spk0, mem0 = state if state is not None else (torch.zeros_like(cur), torch.zeros_like(cur))
        spk, mem = neuron(cur, spk0, mem0)
        return spk, mem, (spk.to(F64), mem)

    mem, spk = _run(neurons, [_linear(w) for w in weights], x, steps, step)
    assert spk[-1].sum() > 0
    for layer in range(layers + 1):
        np.testing.assert_array_equal(ours.spikes[layer], spk[layer])
        np.testing.assert_allclose(ours.membranes[layer], mem[layer], rtol=1e-10, atol=1e-10)
