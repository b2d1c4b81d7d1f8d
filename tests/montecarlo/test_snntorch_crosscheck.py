"""Our kernels against snntorch: Leaky(reset_mechanism=...) + nn.Linear(bias=False).

snntorch 1.0.0's ``Leaky.forward`` (read in its source): ``reset =
H(mem_prev - threshold)`` (detached), then ``mem = beta * mem_prev + input -
reset * threshold`` ("subtract") or ``mem = beta * (1 - reset) * mem_prev +
input`` ("zero"), ``spk = H(mem - threshold)`` with a strict Heaviside; the
membrane starts at 0. That is eq. 13 with ``reset_delay=True``. Both sides
run in float64, so spikes must agree exactly and membranes to rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")

import snninit as si  # noqa: E402
from snninit.montecarlo.engine import rep_generator  # noqa: E402

from .reference import dense_network_from_stream  # noqa: E402

pytestmark = pytest.mark.crosscheck


def _snntorch_run(weights, x, *, steps, theta, beta, reset):
    """Membranes and spikes (batch, T, n) per layer from an snntorch stack."""
    linears = []
    for w in weights:
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
        linears.append(lin)
    # snntorch stores a float beta/threshold as a float32 tensor (0.9 -> 0.89999998);
    # float64 tensors keep the comparison at float64 precision
    beta_t = torch.tensor(beta, dtype=torch.float64)
    theta_t = torch.tensor(theta, dtype=torch.float64)
    leakies = [
        snn.Leaky(beta=beta_t, threshold=theta_t, reset_mechanism=reset)
        for _ in range(len(weights) + 1)
    ]
    xt = torch.from_numpy(np.atleast_2d(x))
    mems = [lk.reset_mem() for lk in leakies]
    mem_rec = [[] for _ in leakies]
    spk_rec = [[] for _ in leakies]
    with torch.no_grad():
        for _ in range(steps):
            cur = xt
            for layer, lk in enumerate(leakies):
                if layer > 0:
                    cur = linears[layer - 1](cur.to(torch.float64))
                spk, mems[layer] = lk(cur, mems[layer])
                mem_rec[layer].append(mems[layer].clone())
                spk_rec[layer].append(spk.clone())
                cur = spk
    mem = [torch.stack(m, dim=1).double().numpy() for m in mem_rec]
    spk = [torch.stack(s, dim=1).double().numpy() for s in spk_rec]
    return mem, spk


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_run_network_matches_snntorch(beta, reset):
    rng = np.random.default_rng(int(beta * 10) + (reset == "zero"))
    n, layers, steps, theta = 200, 8, 20, 1.0
    s2 = si.theory.weight_variance("micheli", n_in=n, theta=theta)
    weights = [rng.normal(0.0, np.sqrt(s2), size=(n, n)) for _ in range(layers)]
    x = rng.standard_normal((4, n))
    cfg = si.NetworkConfig(width=n, layers=layers, steps=steps, theta=theta, beta=beta, reset=reset)
    ours = si.montecarlo.run_network(weights, x, cfg)
    mem, spk = _snntorch_run(weights, x, steps=steps, theta=theta, beta=beta, reset=reset)
    assert sum(s.sum() for s in spk[1:]) > 0  # deep layers are active
    for layer in range(layers + 1):
        np.testing.assert_array_equal(ours.spikes[layer], spk[layer])
        np.testing.assert_allclose(ours.membranes[layer], mem[layer], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_dense_simulation_matches_snntorch_on_the_same_network(beta):
    """simulate(dense) statistics equal snntorch's on the weights that rep drew."""
    cfg = si.NetworkConfig(width=100, layers=6, steps=15, theta=1.0, beta=beta)
    seed, reps = 7, 2
    ds = si.montecarlo.simulate(cfg, reps=reps, seed=seed, method="dense")
    mean, var = si.theory.layer_weight_moments(cfg)
    for r in range(reps):
        gen = rep_generator(seed, r)
        x, weights = dense_network_from_stream(gen, cfg, mean, var)
        mem, spk = _snntorch_run(
            weights, x, steps=cfg.steps, theta=cfg.theta, beta=beta, reset="subtract"
        )
        for layer in range(cfg.layers + 1):
            np.testing.assert_array_equal(ds["spikes"].values[r, layer], spk[layer][0].sum(axis=1))
            np.testing.assert_allclose(
                ds["var_u"].values[r, layer], mem[layer][0].var(axis=1), rtol=1e-9, atol=1e-12
            )
