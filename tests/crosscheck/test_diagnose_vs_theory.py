"""diagnose on snntorch networks initialised by init_snntorch agrees with our theory.

Each repetition is an independently initialised snntorch network fed one
standard-normal input, which is exactly the ensemble the theory describes.
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

# Family-wise false-failure rate of each assert_agrees (Bonferroni over cells).
ALPHA = 1e-3


def _mlp(width, layers, theta, beta, reset="subtract"):
    kw = dict(beta=beta, threshold=theta, reset_mechanism=reset, init_hidden=True)
    mods = [snn.Leaky(**kw)]
    for _ in range(layers):
        mods += [nn.Linear(width, width, bias=False), snn.Leaky(**kw)]
    return nn.Sequential(*mods)


def _ensemble(reps, width, layers, theta, beta, steps, theory, rule="micheli", seed=0):
    """Diagnoses of `reps` independent networks, one input each, stacked along rep."""
    parts = []
    for r in range(reps):
        torch.manual_seed(10_000 * seed + r)
        model = st.init_snntorch(_mlp(width, layers, theta, beta), rule=rule, steps=steps)
        x = torch.randn(1, width, generator=torch.Generator().manual_seed(7 + 10_000 * seed + r))
        ds = st.diagnose(model, x, steps=steps, theory=theory if r == 0 else "none")
        parts.append(ds)
    theory_ds, _ = st.split_theory(parts[0])
    observed = xr.concat(
        [p.drop_vars([v for v in p.data_vars if v.startswith("theory_")]) for p in parts],
        dim="rep",
        combine_attrs="override",
    )
    observed = observed.assign_coords(rep=np.arange(reps))
    return theory_ds, observed


@pytest.mark.parametrize("theta", [0.5, 1.0])
def test_one_step_diagnosis_agrees_with_the_exact_finite_size_chain(theta):
    theory_ds, observed = _ensemble(40, 200, 8, theta, 0.5, 1, "finite_size")
    assert theory_ds.attrs["kind"] == "theory"
    assert "var_u_sd" in theory_ds and "p_extinct" in theory_ds
    si.validation.assert_agrees(theory_ds, observed, alpha=ALPHA)


def test_diagnosis_of_kaiming_networks_shows_the_predicted_decay():
    theory_ds, observed = _ensemble(40, 200, 8, 1.0, 0.5, 1, "finite_size", rule="kaiming")
    # var_u (with the chain's exact spread) and the extinction probability: once
    # every network is silent the sample spread of rate/spikes is 0 and a cell test
    # on them has no standard error to go by
    cmp = si.validation.assert_agrees(
        theory_ds, observed, alpha=ALPHA, variables=["var_u", "p_extinct"]
    )
    # and the decay is real: the predicted var_u falls by more than half over 8 layers
    var = cmp["var_u_theory"].isel(time=0)
    assert float(var.sel(layer=8)) < 0.5 * float(var.sel(layer=1))


@pytest.mark.parametrize("rule", ["micheli", "dmft"])
def test_many_steps_use_the_dynamic_mean_field(rule):
    theory_ds, observed = _ensemble(30, 1000, 3, 1.0, 0.5, 5, "auto", rule=rule, seed=1)
    assert "dmft" in observed.attrs["theory"] or "dmft" in theory_ds.attrs["theory"]
    # the dmft is the n -> infinity limit: compare the rate, whose finite-n bias is
    # O(1/n) and far below the spread of 30 networks at n = 1000
    si.validation.assert_agrees(theory_ds, observed, alpha=ALPHA, variables=["rate"])
