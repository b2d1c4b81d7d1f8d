"""The snntorch front-end for ``Synaptic`` and ``RLeaky`` stacks (issue 17, item 5).

* ``network_config`` recognises them (``neuron="synaptic"`` / ``"recurrent"``)
  and refuses what has no simulated counterpart, in one line;
* ``init_snntorch`` gives the feed-forward and recurrent weights the rule's
  split (``recurrent_fraction``), the fluctuation rule the model's PSP kernel,
  and refuses rules derived for other models;
* ``diagnose`` in float64 equals our simulation of the same weights spike
  for spike, and its prediction agrees with independently initialised
  networks (family false-failure rate 1e-3);
* deep stacks silent with ``nn.Linear`` defaults keep spiking after
  ``init_snntorch``; save / load keeps the model.
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

ALPHA = 1e-3


def synaptic_mlp(width, layers, alpha=0.5, beta=0.5, theta=1.0, bias=True, reset="subtract"):
    kw = dict(alpha=alpha, beta=beta, threshold=theta, reset_mechanism=reset, init_hidden=True)
    mods = [snn.Synaptic(**kw)]
    for _ in range(layers):
        mods += [nn.Linear(width, width, bias=bias), snn.Synaptic(**kw)]
    return nn.Sequential(*mods)


def rleaky_mlp(width, layers, beta=0.5, theta=1.0, bias=True):
    kw = dict(beta=beta, threshold=theta, init_hidden=True)
    mods = [snn.Leaky(**kw)]
    for _ in range(layers):
        mods += [
            nn.Linear(width, width, bias=bias),
            snn.RLeaky(linear_features=width, **kw),
        ]
    return nn.Sequential(*mods)


def test_network_config_recognises_the_models():
    torch.manual_seed(0)
    syn = st.init_snntorch(synaptic_mlp(40, 3, alpha=0.25))
    cfg = st.network_config(syn, steps=4)
    assert (cfg.neuron, cfg.layers, cfg.width) == ("synaptic", 3, 40)
    assert cfg.alpha == pytest.approx(0.25)
    rec = st.init_snntorch(rleaky_mlp(40, 2), recurrent_fraction=0.3)
    cfg = st.network_config(rec, steps=4)
    assert (cfg.neuron, cfg.recurrent_fraction) == ("recurrent", 0.3)
    # the theory's moments are the ones the weights were drawn with
    ff, rec_var = si.theory.layer_weight_moments(cfg)[1], si.theory.recurrent_weight_moments(cfg)[1]
    plain = si.theory.weight_variance("micheli", n_in=40, theta=1.0)
    np.testing.assert_allclose(ff, 0.7 * plain)
    np.testing.assert_allclose(rec_var, 0.3 * plain)
    assert [r["recurrent_var"] for r in rec.snninit_init] == pytest.approx(list(rec_var))
    # the recorded split is read back; a different one does not reproduce the weights
    with pytest.raises(ValueError, match="does not reproduce"):
        st.network_config(rec, steps=4, recurrent_fraction=0.5, init=None)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: nn.Sequential(snn.Leaky(beta=0.5), nn.Linear(8, 8),
                               snn.RLeaky(beta=0.5, all_to_all=False)), "all_to_all=False"),
        (lambda: nn.Sequential(snn.RLeaky(beta=0.5, linear_features=8), nn.Linear(8, 8),
                               snn.RLeaky(beta=0.5, linear_features=8)), "encoding snntorch.Leaky"),
        (lambda: synaptic_mlp(8, 2, reset="zero"), "zero reset of snntorch's Synaptic"),
        (lambda: nn.Sequential(snn.Leaky(beta=0.5), nn.Linear(8, 8),
                               snn.Synaptic(alpha=0.5, beta=0.5)), "differ in model"),
    ],
)
def test_network_config_refuses_what_has_no_counterpart(build, message):
    model = build()
    with pytest.warns(UserWarning) if "zero" in message else _nothing():
        try:
            st.init_snntorch(model)
        except ValueError as exc:  # refused already at initialisation
            assert message in str(exc)
            return
    with pytest.raises(ValueError, match=message):
        st.network_config(model, steps=3)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_non_zero_recurrent_bias_has_no_counterpart():
    model = st.init_snntorch(rleaky_mlp(16, 2))
    with torch.no_grad():
        model[2].recurrent.bias.fill_(0.1)
    with pytest.raises(ValueError, match="recurrent layer of '2' has a non-zero bias"):
        st.network_config(model, steps=3)


def test_rules_derived_for_the_leaky_model_refuse_the_others():
    with pytest.raises(ValueError, match="init='diffusion' supports neuron in"):
        st.init_snntorch(synaptic_mlp(16, 2), rule="diffusion", steps=4)
    with pytest.raises(ValueError, match="recurrent_fraction is for models with"):
        st.init_snntorch(synaptic_mlp(16, 2), recurrent_fraction=0.2)
    with pytest.raises(ValueError, match="recurrent_fraction must be"):
        st.init_snntorch(rleaky_mlp(16, 2), recurrent_fraction=1.5)


@pytest.mark.parametrize("kind", ["synaptic", "recurrent"])
def test_diagnose_in_float64_equals_our_simulation_spike_for_spike(kind):
    width, layers, steps = 120, 5, 12
    torch.manual_seed(3)
    model = synaptic_mlp(width, layers, alpha=0.6) if kind == "synaptic" else rleaky_mlp(
        width, layers
    )
    st.init_snntorch(model, steps=steps)
    x = torch.randn(3, width, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    ds = st.diagnose(model, x, steps=steps, dtype=torch.float64, theory="none")
    cfg = st.network_config(model, steps=steps)
    extra = {}
    if kind == "recurrent":
        extra["recurrent_weights"] = st.model_recurrent_weights(model)
    ours = si.montecarlo.run_network(st.model_weights(model), x.numpy(), cfg, **extra)
    assert int(ours["spikes"].sel(layer=layers).sum()) > 0
    np.testing.assert_array_equal(ds["spikes"].values, ours["spikes"].values)
    np.testing.assert_allclose(ds["var_u"].values, ours["var_u"].values, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["synaptic", "recurrent"])
def test_diagnosis_of_initialised_networks_agrees_with_the_dynamic_mean_field(kind):
    """30 independently initialised networks, one input each: the theory's ensemble."""
    width, layers, steps, reps = 300, 3, 6, 30
    parts = []
    for r in range(reps):
        torch.manual_seed(100 + r)
        make = synaptic_mlp if kind == "synaptic" else rleaky_mlp
        model = st.init_snntorch(make(width, layers, bias=False), rule="dmft", steps=steps)
        x = torch.randn(1, width, generator=torch.Generator().manual_seed(900 + r))
        parts.append(st.diagnose(model, x, steps=steps, theory="dmft" if r == 0 else "none",
                                 paths=2**13))
    theory, _ = st.split_theory(parts[0])
    observed = xr.concat(
        [p.drop_vars([v for v in p.data_vars if v.startswith("theory_")]) for p in parts],
        dim="rep",
        combine_attrs="override",
    ).assign_coords(rep=np.arange(reps))
    si.validation.assert_agrees(theory, observed, alpha=ALPHA, variables=("rate", "var_u"))


@pytest.mark.parametrize("kind, layers", [("synaptic", 20), ("recurrent", 10)])
def test_deep_stacks_silent_with_defaults_keep_spiking_after_init_snntorch(kind, layers):
    width, steps = 500, 20
    make = synaptic_mlp if kind == "synaptic" else rleaky_mlp
    x = torch.randn(8, width, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    before = st.diagnose(make(width, layers), x, steps=steps, theory="none")
    torch.manual_seed(0)
    after = st.diagnose(st.init_snntorch(make(width, layers), steps=steps), x, steps=steps,
                        theory="none")
    assert int(before["spikes"].sel(layer=layers).sum()) == 0
    assert int(after["spikes"].sel(layer=layers).sum("time").min()) > 0


@pytest.mark.parametrize("kind", ["synaptic", "recurrent"])
def test_save_and_load_keep_the_model(tmp_path, kind):
    torch.manual_seed(2)
    model = synaptic_mlp(20, 2, alpha=0.3) if kind == "synaptic" else rleaky_mlp(20, 2)
    st.init_snntorch(model, steps=5)
    path = st.save_model(model, tmp_path / "m.pt")
    back = st.load_model(path)
    assert st.describe_model(back) == st.describe_model(model)
    for (k, a), (_, b) in zip(model.state_dict().items(), back.state_dict().items()):
        assert torch.equal(a, b), k
    assert st.network_config(back, steps=5) == st.network_config(model, steps=5)


def test_fluctuation_rule_uses_the_synaptic_kernel_and_the_recurrent_split():
    """With a given rate the weights are the config's closed form; measured rates work too."""
    torch.manual_seed(4)
    syn = st.init_snntorch(synaptic_mlp(60, 2, alpha=0.5), rule="fluctuation", nu=0.2, steps=6)
    cfg = si.NetworkConfig(width=60, layers=2, steps=6, neuron="synaptic", alpha=0.5,
                           init="fluctuation", init_params={"nu": 0.2}, beta=0.5)
    alpha = syn[0].alpha.item()  # snntorch keeps alpha in float32
    want = si.theory.fluctuation_layer_moments(0.2, 60, 1.0, syn[0].beta.item(), 6, alpha=alpha)
    assert [r["var"] for r in syn.snninit_init] == pytest.approx([want[1]] * 2, rel=1e-12)
    # the synaptic kernel is larger than the leaky one: smaller weights
    assert want[1] < si.theory.layer_weight_moments(cfg.replace(neuron="leaky", alpha=None))[1][0]
    rec = st.init_snntorch(rleaky_mlp(60, 2), rule="fluctuation", nu=0.2, steps=6,
                           recurrent_fraction=0.25)
    first = rec.snninit_init[0]
    assert first["recurrent_var"] == pytest.approx(first["var"] / 3, rel=1e-12)
    x = torch.randn(16, 60, generator=torch.Generator().manual_seed(0))
    for model in (synaptic_mlp(60, 3), rleaky_mlp(60, 3)):
        st.init_snntorch(model, x, rule="fluctuation", steps=6)
        assert {r["rule"] for r in model.snninit_init} == {"fluctuation"}
        assert all(r["var"] > 0 for r in model.snninit_init)


@pytest.mark.parametrize("kw", [dict(rule="micheli"), dict(rule="dmft", steps=4),
                                dict(rule="fluctuation", nu=0.1)])
def test_a_linear_first_rleaky_stack_is_initialised(kw):
    """No encoding Leaky: the first RLeaky plays it (unit first layer); its recurrence: the rule."""
    model = nn.Sequential(nn.Linear(20, 30), snn.RLeaky(beta=0.5, linear_features=30),
                          nn.Linear(30, 30), snn.RLeaky(beta=0.5, linear_features=30))
    x = torch.randn(8, 20, generator=torch.Generator().manual_seed(0))
    st.init_snntorch(model, x, recurrent_fraction=0.4, **kw)
    first, second = model.snninit_init
    assert first["rule"] == "unit" and second["rule"] == kw["rule"]
    # the recurrence of the first RLeaky gets the rule's share, as the second's does
    assert first["recurrent_var"] == pytest.approx(second["recurrent_var"], rel=1e-12)
    assert second["recurrent_var"] == pytest.approx(second["var"] * 0.4 / 0.6, rel=1e-12)
    with pytest.raises(ValueError, match="needs the layer's own rates"):
        st.init_snntorch(model, x, rule="fluctuation")
