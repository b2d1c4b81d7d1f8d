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


def _linear_first(n_in, width, layers, beta):
    mods, d = [], n_in
    for _ in range(layers):
        mods += [nn.Linear(d, width, bias=False), snn.Leaky(beta=beta, init_hidden=True)]
        d = width
    return nn.Sequential(*mods)


@pytest.mark.parametrize("first_layer", ["unit", "rule"])
def test_rate_coded_linear_first_model_gets_the_data_prediction(first_layer):
    """snntorch's tutorial layout: Linear(n_0, n) first, fed rate-coded spike trains.

    Independent networks (reps) all see the same batch of spike trains; the
    prediction is the data-driven dynamic mean field averaged over the batch,
    with the weight moments init_snntorch recorded; each network's measured
    batch average is one repetition.
    """
    steps, batch, n_in = 8, 6, 300
    rng = np.random.default_rng(3)
    p = rng.uniform(0.0, 0.8, (batch, n_in)) * (rng.random((batch, n_in)) < 0.6)
    x = torch.tensor((rng.random((steps, batch, n_in)) < p[None]).astype(np.float32))
    parts, theory = [], None
    for r in range(16):
        torch.manual_seed(100 + r)
        model = st.init_snntorch(_linear_first(n_in, 500, 4, 0.9), rule="micheli",
                                 sample=x[0], steps=steps, first_layer=first_layer)
        ds = st.diagnose(model, x, steps=None, theory="auto" if r == 0 else "none")
        if r == 0:
            assert ds.attrs["theory"].startswith("data for the recorded weight moments")
            theory, _ = st.split_theory(ds)
        parts.append(ds[["rate", "var_u", "mean_u"]].mean("rep"))
    sim = xr.concat(parts, dim="rep")
    sim.attrs = theory.attrs
    assert list(theory["layer"].values) == [1, 2, 3, 4]
    cmp = si.validation.assert_agrees(theory, sim, alpha=ALPHA, variables=["rate", "var_u"])
    assert int(cmp["rate_tested"].sum()) >= 4 * (steps - 1)  # the sampled cells are tested


def test_advise_for_a_linear_first_model_needs_and_uses_its_inputs(tmp_path, capsys):
    """``snninit advise --for-model`` on snntorch's tutorial layout: the theory starts
    from the given spike trains (fan-in n_0 = 90), the width and depth from the model."""
    from snninit.cli import main

    path = tmp_path / "m.pt"
    st.save_model(_linear_first(90, 120, 2, 0.8), path)
    rng = np.random.default_rng(2)
    trains = tmp_path / "trains.npy"
    np.save(trains, (rng.random((4, 6, 90)) < 0.3).astype(np.float32))
    args = ["advise", "--for-model", str(path), "--rules", "micheli", "--thetas", "0.5,1"]
    assert main(args) != 0
    assert "give --sample" in capsys.readouterr().err
    assert main([*args, "--sample", str(trains), "--sequence"]) == 0
    out = capsys.readouterr().out
    assert "on your data" in out and "at width 120" in out
    np.save(trains, np.zeros((4, 6, 50), np.float32))
    assert main([*args, "--sample", str(trains), "--sequence"]) != 0
    assert "the model takes 90" in capsys.readouterr().err


def test_a_single_linear_first_layer_gets_the_data_prediction():
    """One weight layer, set to unit variance from the sample: no layer was set by a
    rule, yet the recorded weight moments are all the prediction needs."""
    rng = np.random.default_rng(5)
    x = torch.tensor((rng.random((6, 4, 80)) < 0.3).astype(np.float32))
    torch.manual_seed(0)
    model = st.init_snntorch(_linear_first(80, 300, 1, 0.9), sample=x[0], steps=6)
    assert [rec["rule"] for rec in model.snninit_init] == ["unit"]
    ds = st.diagnose(model, x, steps=None)
    assert ds.attrs["theory"].startswith("data for the recorded weight moments")
    assert "theory_rate" in ds and np.isfinite(ds["theory_rate"].values).all()
