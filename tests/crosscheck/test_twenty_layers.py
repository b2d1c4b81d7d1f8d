"""The issue's acceptance checks on a 20-layer snntorch MLP (theta = 1, beta = 0.5).

* default ``nn.Linear`` initialisation: the deep layers go silent;
* ``init_snntorch`` (Micheli's rule): the last layer still spikes;
* ``diagnose`` reports exactly what our simulation of the same weights does.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
nn = torch.nn
import snninit as si  # noqa: E402
import snninit.torch as st  # noqa: E402

pytestmark = pytest.mark.crosscheck

WIDTH, LAYERS, STEPS, BATCH = 1000, 20, 20, 16
THETA, BETA = 1.0, 0.5


def _model(bias=True):
    """Encoding Leaky (its membrane is the input) + 20 x (Linear, Leaky), snntorch defaults."""
    mods = [snn.Leaky(beta=BETA, threshold=THETA, init_hidden=True)]
    for _ in range(LAYERS):
        mods += [nn.Linear(WIDTH, WIDTH, bias=bias), snn.Leaky(beta=BETA, init_hidden=True)]
    return nn.Sequential(*mods)


@pytest.fixture(scope="module")
def sample():
    # standardised inputs: every feature ~ N(0, 1)
    return torch.randn(BATCH, WIDTH, generator=torch.Generator().manual_seed(2024))


@pytest.fixture(scope="module")
def before_after(sample):
    torch.manual_seed(0)
    default = _model()
    torch.manual_seed(0)
    ours = st.init_snntorch(_model())
    return (
        st.diagnose(default, sample, steps=STEPS, theory="none"),
        st.diagnose(ours, sample, steps=STEPS, theory="none"),
        ours,
    )


def test_default_init_goes_silent_and_init_snntorch_keeps_the_last_layer_spiking(before_after):
    before, after, _ = before_after
    total_before = before["spikes"].sum(("rep", "time"))
    total_after = after["spikes"].sum(("rep", "time"))
    # same input, same encoding layer
    assert int(total_before.sel(layer=0)) == int(total_after.sel(layer=0)) > 0
    # default init: nothing at all reaches the last layer, for any input or step
    assert int(total_before.sel(layer=LAYERS)) == 0
    # snninit: the last layer spikes for every input of the batch
    last = after["spikes"].sel(layer=LAYERS).sum("time")
    assert int(last.min()) > 0, last.values
    # and its membranes keep an O(1) spread instead of collapsing
    assert float(after["var_u"].sel(layer=LAYERS).mean()) > 0.1
    assert float(before["var_u"].sel(layer=LAYERS).max()) < 1e-2


def _reference(weights, inputs, theta, beta, steps):
    """DESIGN.md 1b written out in numpy (subtract reset, delayed): spikes and var_u."""
    batch = inputs.shape[0]
    layers = len(weights)
    u = [np.zeros_like(inputs) for _ in range(layers + 1)]
    s = [np.zeros_like(inputs) for _ in range(layers + 1)]
    spikes = np.zeros((batch, layers + 1, steps), dtype=np.int64)
    var_u = np.zeros((batch, layers + 1, steps))
    for t in range(steps):
        drive = inputs
        for l in range(layers + 1):
            if l > 0:
                drive = s[l - 1] @ weights[l - 1].T
            u[l] = beta * u[l] + drive - theta * s[l]
            s[l] = (u[l] > theta).astype(float)
            spikes[:, l, t] = s[l].sum(axis=1)
            var_u[:, l, t] = u[l].var(axis=1)
    return spikes, var_u


def test_diagnose_agrees_with_a_simulation_of_the_same_weights(before_after, sample):
    _, _, ours = before_after
    ds = st.diagnose(ours, sample, steps=STEPS, theory="none", dtype=torch.float64)
    spikes, var_u = _reference(st.model_weights(ours), sample.double().numpy(), THETA, BETA, STEPS)
    # float64 both sides: only summation order differs (~1e-15), far below the
    # distance of any membrane from the threshold, so spike for spike equality
    np.testing.assert_array_equal(ds["spikes"].values, spikes)
    np.testing.assert_allclose(ds["var_u"].values, var_u, rtol=1e-9, atol=1e-12)


def test_diagnose_agrees_with_snninit_montecarlo_run_network(before_after, sample):
    run_network = si.montecarlo.run_network
    _, _, ours = before_after
    cfg = st.network_config(ours, steps=STEPS)
    ds = st.diagnose(ours, sample, steps=STEPS, theory="none", dtype=torch.float64)
    sim = run_network(st.model_weights(ours), sample.double().numpy(), cfg)
    for name in ("spikes", "var_u", "mean_u", "rate", "skew", "kurt"):
        np.testing.assert_allclose(
            ds[name].values,
            sim[name].transpose(*ds[name].dims).values,
            rtol=1e-9,
            atol=1e-9,
            err_msg=name,
        )
