"""init_snntorch, the model walker and the saved-model format on real snntorch models."""

from __future__ import annotations

import math
import warnings

import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
nn = torch.nn
import snninit.torch as st  # noqa: E402
from snninit import theory  # noqa: E402
from snninit.theory import rules as rules_module  # noqa: E402

pytestmark = pytest.mark.crosscheck

Z = 4.89  # two-sided false-failure rate 1e-6 per check; seeds fixed


def _assert_var(w, var):
    x = w.detach().double().reshape(-1)
    se = var * math.sqrt(2.0 / x.numel())
    assert abs(float(x.var(unbiased=False)) - var) <= Z * se + Z * math.sqrt(var / x.numel()) ** 2
    assert abs(float(x.mean())) <= Z * math.sqrt(var / x.numel())


def _mlp(n=300, layers=3, encoding=True, bias=False, **leaky):
    kw = {"beta": 0.5, "init_hidden": True, **leaky}
    mods = [snn.Leaky(**kw)] if encoding else []
    for _ in range(layers):
        mods += [nn.Linear(n, n, bias=bias), snn.Leaky(**kw)]
    return nn.Sequential(*mods)


def test_each_layer_gets_the_variance_for_the_neuron_it_feeds():
    thetas = [0.5, 1.0, 1.5]
    model = nn.Sequential(
        snn.Leaky(beta=0.5, threshold=1.0),
        nn.Linear(400, 500),
        snn.Leaky(beta=0.5, threshold=thetas[0]),
        nn.Sequential(nn.Linear(500, 600), snn.Leaky(beta=0.5, threshold=thetas[1])),
        nn.Linear(600, 700),
        snn.Leaky(beta=0.5, threshold=thetas[2]),
    )
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="differ in threshold"):
        st.init_snntorch(model)
    weights = [m for m in model.modules() if isinstance(m, nn.Linear)]
    for w, theta in zip(weights, thetas):
        _assert_var(w.weight, theory.weight_variance("micheli", w.in_features, theta))
        assert torch.count_nonzero(w.bias) == 0
    layers = [r["layer"] for r in model.snninit_init]
    assert layers == [1, 2, 3]
    assert [r["theta"] for r in model.snninit_init] == thetas


def test_without_encoding_layer_the_first_layer_gets_unit_membrane_variance():
    model = _mlp(n=400, layers=2, encoding=False)
    sample = 2.0 * torch.randn(64, 400, generator=torch.Generator().manual_seed(11))
    torch.manual_seed(1)  # not 11: weights drawn from the sample's stream would correlate
    st.init_snntorch(model, sample=sample)
    first, second = (m for m in model if isinstance(m, nn.Linear))
    m2 = float((sample.double() ** 2).mean())
    assert model.snninit_init[0]["rule"] == "unit"
    assert model.snninit_init[0]["var"] == pytest.approx(1.0 / (400 * m2), rel=1e-12)
    _assert_var(first.weight, 1.0 / (400 * m2))
    _assert_var(second.weight, theory.weight_variance("micheli", 400, 1.0))
    # and the first Leaky's membranes then have variance ~ 1 (it plays layer 0)
    ds = st.diagnose(model, sample, steps=1, theory="none")
    assert ds["layer"].values.tolist() == [1, 2]
    assert float(ds["var_u"].sel(layer=1).mean()) == pytest.approx(1.0, rel=0.1)


def test_graded_spikes_divide_the_next_layers_weights():
    g = 2.5
    model = nn.Sequential(
        snn.Leaky(beta=0.5, graded_spikes_factor=g),
        nn.Linear(500, 500),
        snn.Leaky(beta=0.5),
    )
    torch.manual_seed(2)
    st.init_snntorch(model)
    _assert_var(model[1].weight, theory.weight_variance("micheli", 500, 1.0) / g**2)


def test_conv_model_is_initialised_with_torch_fan_in():
    model = nn.Sequential(
        nn.Conv2d(1, 8, 5),
        nn.MaxPool2d(2),
        snn.Leaky(beta=0.9, init_hidden=True),
        nn.Conv2d(8, 64, 3),
        snn.Leaky(beta=0.9, init_hidden=True),
        nn.Flatten(),
        nn.Linear(64 * 10 * 10, 10),
        snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )
    torch.manual_seed(3)
    with pytest.warns(UserWarning, match="pooling"):
        st.init_snntorch(model, sample=torch.randn(4, 1, 28, 28))
    conv2 = model[3]
    _assert_var(conv2.weight, theory.weight_variance("micheli", 8 * 9, 1.0))
    ds = st.diagnose(model, torch.randn(3, 1, 28, 28), steps=2, theory="none")
    assert ds["neurons"].values.tolist() == [8 * 12 * 12, 64 * 10 * 10, 10]
    assert ds.attrs["theory"].startswith("none")


@pytest.mark.parametrize(
    "neuron, match",
    [
        (lambda: snn.Leaky(beta=0.5, inhibition=True), "inhibition"),
        (lambda: snn.Leaky(beta=0.5, threshold=torch.tensor([1.0, 2.0])), "one value"),
        (lambda: snn.Lapicque(beta=0.5), "Leaky, Synaptic or RLeaky.*got Lapicque"),
        (lambda: snn.RLeaky(beta=0.5, all_to_all=False), "all_to_all=False"),
        (lambda: nn.ReLU(), "ReLU"),
    ],
    ids=["inhibition", "per-neuron-threshold", "lapicque", "one-to-one-rleaky", "relu"],
)
def test_unsupported_neurons_are_refused(neuron, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # snntorch warns about inhibition itself
        model = nn.Sequential(snn.Leaky(beta=0.5), nn.Linear(2, 2), neuron())
    with pytest.raises(ValueError, match=match):
        st.init_snntorch(model)


def test_structural_errors_are_explained():
    with pytest.raises(ValueError, match="nn.Sequential"):
        st.init_snntorch(nn.Linear(3, 3))
    with pytest.raises(ValueError, match="without an snntorch neuron"):
        st.init_snntorch(nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3), snn.Leaky(beta=0.5)))
    with pytest.raises(ValueError, match="no snntorch neuron"):
        st.init_snntorch(nn.Sequential(nn.Linear(3, 3)))


def test_data_rules_without_data_are_refused(monkeypatch):
    def needs_rates(n_in, theta, beta, steps):
        raise ValueError("this rule needs measured rates")

    rule = rules_module.InitRule(
        "test-needs-data", needs_rates, from_activity=lambda *a, **k: (0.0, 1.0)
    )
    assert rule.needs_data
    monkeypatch.setitem(rules_module._REGISTRY, rule.name, rule)
    with pytest.raises(ValueError, match="pass sample="):
        st.init_snntorch(_mlp(), rule=rule.name)
    with pytest.raises(ValueError, match="first_layer='unit'"):
        st.init_snntorch(
            _mlp(encoding=False), sample=torch.randn(2, 300), rule=rule.name, first_layer="rule"
        )


def test_reset_delay_false_and_readout_layers_warn():
    model = _mlp(layers=1, bias=True, reset_delay=False)
    model.append(nn.Linear(300, 10))
    before = model[-1].weight.detach().clone()
    with pytest.warns(UserWarning) as record:
        st.init_snntorch(model)
    messages = " ".join(str(w.message) for w in record)
    assert "reset_delay=False" in messages and "read-out" in messages
    assert torch.equal(model[-1].weight, before)  # the read-out is left alone


def test_reset_mechanism_is_read_from_the_neuron():
    for reset in ("subtract", "zero", "none"):
        model = _mlp(layers=1, reset_mechanism=reset)
        rows = st.describe_model(model)
        assert {r["reset"] for r in rows if r["kind"] == "neuron"} == {reset}
        assert st.network_config(model, steps=3, init="micheli").reset == reset


def test_per_layer_rules_take_the_entry_of_the_layer(monkeypatch):
    # a stand-in per-layer rule whose hidden layer l gets Var[w] = l / width
    def per_layer(cfg):
        layers = torch.arange(1, cfg.layers + 1, dtype=torch.float64).numpy()
        return 0.0 * layers, layers / cfg.width

    rule = rules_module.InitRule("test-per-layer", lambda n, t, b, s: 1.0 / n, per_layer=per_layer)
    monkeypatch.setitem(rules_module._REGISTRY, rule.name, rule)
    torch.manual_seed(4)
    model = st.init_snntorch(_mlp(n=400, layers=3), rule=rule.name)
    assert [r["var"] for r in model.snninit_init] == pytest.approx([1 / 400, 2 / 400, 3 / 400])
    for w, l in zip((m for m in model if isinstance(m, nn.Linear)), (1, 2, 3)):
        _assert_var(w.weight, l / 400)
    # without an encoding layer the first Leaky plays layer 0: entries shift by one
    model = st.init_snntorch(_mlp(n=400, layers=3, encoding=False), rule=rule.name)
    assert [r["var"] for r in model.snninit_init][1:] == pytest.approx([1 / 400, 2 / 400])


def test_network_config_matches_the_model_and_the_recorded_rule():
    model = st.init_snntorch(_mlp(n=200, layers=4, reset_mechanism="zero"))
    cfg = st.network_config(model, steps=5)
    assert (cfg.width, cfg.layers, cfg.steps, cfg.theta, cfg.beta, cfg.reset, cfg.init) == (
        200,
        4,
        5,
        1.0,
        0.5,
        "zero",
        "micheli",
    )
    weights = st.model_weights(model)
    assert len(weights) == 4 and weights[0].shape == (200, 200)
    assert (weights[2] == model[5].weight.detach().double().numpy()).all()
    with pytest.raises(ValueError, match="init rule is unknown"):
        st.network_config(_mlp(n=200, layers=2))
    with pytest.raises(ValueError, match="encoding layer"):
        st.network_config(_mlp(n=200, layers=2, encoding=False), init="micheli")


def test_saved_model_round_trip_is_exact_and_safe(tmp_path):
    model = st.init_snntorch(_mlp(n=50, layers=2, reset_mechanism="zero"))
    path = st.save_model(model, tmp_path / "m.pt")
    # the file is readable without unpickling code
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "snninit-snntorch/1"
    loaded = st.load_model(path)
    assert st.describe_model(loaded) == st.describe_model(model)
    assert loaded.snninit_init == model.snninit_init
    x = torch.randn(5, 50)
    a = st.diagnose(model, x, steps=4, theory="none")
    b = st.diagnose(loaded, x, steps=4, theory="none")
    assert (a["spikes"] == b["spikes"]).all() and (a["var_u"] == b["var_u"]).all()
    # snntorch's default surrogate is a local function, so a whole snntorch model
    # cannot even be pickled; any pickled module needs explicit trust to be read
    with pytest.raises(AttributeError, match="pickle"):
        torch.save(model, tmp_path / "whole.pt")
    torch.save(nn.Linear(2, 2), tmp_path / "linear.pt")
    with pytest.raises(ValueError, match="trust_pickle"):
        st.load_model(tmp_path / "linear.pt")
    with pytest.raises(ValueError, match="nn.Sequential"):
        st.load_model(tmp_path / "linear.pt", trust_pickle=True)
    with pytest.raises(FileNotFoundError):
        st.load_model(tmp_path / "missing.pt")


def _rates_by_user_loop(model, x, steps):
    """Per-neuron spike rate of every Leaky (mean over batch and steps), run by hand."""
    leakies = [m for m in model if isinstance(m, snn.Leaky)]
    mems = [leaky.init_leaky() for leaky in leakies]
    totals = [0.0] * len(leakies)
    with torch.no_grad():
        for _ in range(steps):
            h, i = x, 0
            for m in model:
                if isinstance(m, snn.Leaky):
                    h, mems[i] = m(h, mems[i])
                    totals[i] = totals[i] + h.double().mean(dim=0)
                    i += 1
                else:
                    h = m(h)
    return [(t / steps).numpy() for t in totals]


def test_data_driven_fluctuation_rule_uses_the_measured_presynaptic_rates():
    from snninit.theory import fluctuation

    steps = 4
    model = _mlp(n=300, layers=3, beta=0.6, init_hidden=False)
    x = torch.randn(8, 300, generator=torch.Generator().manual_seed(12))
    torch.manual_seed(6)
    st.init_snntorch(model, sample=x, rule="fluctuation", steps=steps, xi=1.5)
    rates = _rates_by_user_loop(model, x, steps)
    weights = [m for m in model if isinstance(m, nn.Linear)]
    for layer, (rec, w) in enumerate(zip(model.snninit_init, weights), start=1):
        want_mean, want_var = fluctuation.fluctuation_layer_moments(
            rates[layer - 1], 300, 1.0, float(torch.tensor(0.6)), steps, 0.0, 1.5
        )
        assert rec["rule"] == "fluctuation" and rec["layer"] == layer
        assert rec["mean"] == pytest.approx(want_mean, rel=1e-9, abs=1e-15)
        assert rec["var"] == pytest.approx(want_var, rel=1e-9)
        _assert_var(w.weight, want_var)
    # with a given rate the rule is closed-form and needs no data
    fixed = st.init_snntorch(_mlp(n=300, layers=2), rule="fluctuation", nu=0.2, steps=steps)
    want = theory.weight_variance("fluctuation", 300, 1.0, beta=0.5, steps=steps, nu=0.2)
    assert [r["var"] for r in fixed.snninit_init] == pytest.approx([want, want], rel=1e-12)
    with pytest.raises(ValueError, match="pass sample="):
        st.init_snntorch(_mlp(n=300, layers=2), rule="fluctuation")


def test_the_dmft_rule_gets_the_per_layer_variances_of_the_registry():
    if "dmft" not in theory.rule_names():
        pytest.skip("the dmft rule is not registered")
    model = st.init_snntorch(_mlp(n=200, layers=3), rule="dmft", steps=4)
    cfg = si_config(width=200, layers=3, steps=4, beta=float(torch.tensor(0.5)), init="dmft")
    _, var = theory.layer_weight_moments(cfg)
    assert [r["var"] for r in model.snninit_init] == pytest.approx(list(var), rel=1e-12)
    assert st.network_config(model, steps=4).init == "dmft"
    # the dmft rule depends on the number of steps: a config for 6 steps would
    # describe other weights, so there is no exact config (and no theory) for it
    with pytest.raises(ValueError, match="does not reproduce"):
        st.network_config(model, steps=6)
    assert st.diagnose(model, torch.randn(2, 200), steps=6).attrs["theory"].startswith("none")


def si_config(**kw):
    from snninit import NetworkConfig

    return NetworkConfig(**kw)


def test_a_rule_failing_half_way_leaves_the_model_as_it_was(monkeypatch):
    def needs_rates(n_in, theta, beta, steps):
        raise ValueError("this rule needs measured rates")

    calls = []

    def hook(rates, n_in, theta, beta, steps):
        calls.append(n_in)
        if len(calls) == 2:
            raise ValueError("layer 2 is silent")
        return 0.0, 1.0 / n_in

    rule = rules_module.InitRule("test-fails-late", needs_rates, from_activity=hook)
    monkeypatch.setitem(rules_module._REGISTRY, rule.name, rule)
    model = _mlp(n=50, layers=3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="layer 2 is silent"):
        st.init_snntorch(model, sample=torch.randn(4, 50), rule=rule.name)
    assert len(calls) == 2  # layer 1 was filled before layer 2 failed ...
    for k, v in model.state_dict().items():  # ... and restored
        assert torch.equal(v, before[k]), k
    assert not hasattr(model, "snninit_init")
