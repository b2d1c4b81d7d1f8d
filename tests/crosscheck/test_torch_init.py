"""snninit.torch.init_: fan-in as torch computes it, moments as the rule says."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
import snninit.torch as st  # noqa: E402
from snninit import theory  # noqa: E402
from snninit.theory import rules as rules_module  # noqa: E402

pytestmark = pytest.mark.crosscheck

# Every statistical check below is two-sided at false-failure rate 1e-6
# (|z| <= 4.89); the seeds are fixed, so a failure is a real change.
Z = 4.89


def _data_free_rules():
    return [
        name
        for name in theory.rule_names()
        if not theory.get_rule(name).needs_data and theory.get_rule(name).per_layer is None
    ]


def _assert_moments(w, mean, var, distribution="normal"):
    x = w.detach().double().reshape(-1).numpy()
    n = x.size
    # SE of the sample mean: sd / sqrt(n); of the sample variance:
    # sqrt((mu4 - var^2) / n), mu4 = 3 var^2 (normal) or 9/5 var^2 (uniform).
    kurt_factor = 2.0 if distribution == "normal" else 0.8
    se_mean = math.sqrt(var / n)
    se_var = var * math.sqrt(kurt_factor / n)
    assert abs(x.mean() - mean) <= Z * se_mean, (x.mean(), mean, se_mean)
    assert abs(x.var() - var) <= Z * se_var, (x.var(), var, se_var)


@pytest.mark.parametrize("rule", ["micheli", "kaiming"])
@pytest.mark.parametrize("theta", [0.5, 1.0, 1.5])
def test_linear_weights_have_the_rules_moments(rule, theta):
    gen = torch.Generator().manual_seed(1)
    layer = nn.Linear(400, 300)
    out = st.init_(layer, rule, theta=theta, generator=gen)
    assert out is layer
    var = theory.weight_variance(rule, 400, theta)
    _assert_moments(layer.weight, 0.0, var)
    assert torch.count_nonzero(layer.bias) == 0  # the rules assume no bias


@pytest.mark.parametrize("rule", _data_free_rules())
def test_every_data_free_rule_is_supported(rule):
    n_in = 256
    w = torch.empty(200, n_in)
    params = {}
    try:
        mean, var = st.rule_moments(rule, n_in, theta=1.0, beta=0.5, steps=4, **params)
    except ValueError as exc:  # a rule may refuse theta=1 / beta=0.5 as out of its range
        pytest.skip(f"{rule}: {exc}")
    st.init_(w, rule, theta=1.0, beta=0.5, steps=4, generator=torch.Generator().manual_seed(2))
    assert mean == pytest.approx(
        float(theory.weight_mean(rule, n_in, 1.0, beta=0.5, steps=4)), rel=1e-12, abs=0
    )
    assert var == pytest.approx(
        float(theory.weight_variance(rule, n_in, 1.0, beta=0.5, steps=4)), rel=1e-12
    )
    _assert_moments(w, mean, var)


@pytest.mark.parametrize(
    "layer",
    [
        nn.Conv1d(6, 10, kernel_size=5),
        nn.Conv2d(8, 12, kernel_size=(3, 5), groups=2),
        nn.Conv3d(4, 6, kernel_size=3),
    ],
    ids=["conv1d", "conv2d-groups", "conv3d"],
)
def test_conv_fan_in_matches_torch_and_weights_match_the_rule(layer):
    torch_fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
    assert st.fan_in(layer) == torch_fan_in == st.fan_in(layer.weight)
    assert torch_fan_in == layer.in_channels // layer.groups * math.prod(layer.kernel_size)
    # enough weights for a sharp check: repeat the draw into a big tensor of the same fan-in
    big = torch.empty(20_000, *layer.weight.shape[1:])
    st.init_(big, "micheli", theta=1.0, generator=torch.Generator().manual_seed(3))
    _assert_moments(big, 0.0, theory.weight_variance("micheli", torch_fan_in, 1.0))
    st.init_(layer, "micheli", theta=1.0)
    assert torch.count_nonzero(layer.bias) == 0


def test_uniform_distribution_has_the_same_moments():
    w = torch.empty(500, 400)
    st.init_(w, theta=0.8, distribution="uniform", generator=torch.Generator().manual_seed(4))
    var = theory.weight_variance("micheli", 400, 0.8)
    half_width = math.sqrt(3 * var)
    assert float(w.abs().max()) <= half_width
    _assert_moments(w, 0.0, var, distribution="uniform")


def test_same_generator_seed_gives_the_same_weights():
    a, b = torch.empty(50, 60), torch.empty(50, 60)
    st.init_(a, generator=torch.Generator().manual_seed(7))
    st.init_(b, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_theta_may_be_a_one_valued_tensor_like_snntorchs_threshold():
    w = torch.empty(300, 300)
    st.init_(w, theta=torch.tensor(1.0), generator=torch.Generator().manual_seed(5))
    _assert_moments(w, 0.0, theory.weight_variance("micheli", 300, 1.0))


@pytest.mark.parametrize(
    "arg, match",
    [
        (lambda: torch.empty(10), "at least 2 dimensions"),
        (lambda: nn.LSTM(4, 4), "LSTM"),
        (lambda: nn.ConvTranspose2d(3, 3, 3), "ConvTranspose2d"),
        (lambda: torch.zeros(4, 4, dtype=torch.int64), "floating point"),
        (lambda: np.zeros((3, 3)), "torch.Tensor or an nn.Module"),
    ],
    ids=["bias", "lstm", "conv-transpose", "int", "numpy"],
)
def test_unsupported_arguments_are_refused(arg, match):
    with pytest.raises(ValueError, match=match):
        st.init_(arg())


def test_bad_parameters_are_refused_with_their_name():
    w = torch.empty(4, 4)
    with pytest.raises(ValueError, match="theta"):
        st.init_(w, theta=-1.0)
    with pytest.raises(ValueError, match="beta"):
        st.init_(w, beta=1.5)
    with pytest.raises(ValueError, match="rule must be one of"):
        st.init_(w, rule="no-such-rule")
    with pytest.raises(ValueError, match="no parameter"):
        st.init_(w, rule="micheli", xi=2.0)
    with pytest.raises(ValueError, match="distribution"):
        st.init_(w, distribution="cauchy")
    with pytest.raises(ValueError, match="one value"):
        st.init_(w, theta=torch.tensor([1.0, 2.0]))


def test_a_rule_that_depends_on_beta_needs_beta(monkeypatch):
    leaky_rule = rules_module.InitRule(
        name="test-leak-dependent",
        variance=lambda n_in, theta, beta, steps: (1.0 - beta) / n_in + 0.0 * theta,
    )
    monkeypatch.setitem(rules_module._REGISTRY, leaky_rule.name, leaky_rule)
    w = torch.empty(100, 100)
    with pytest.raises(ValueError, match="pass beta="):
        st.init_(w, rule=leaky_rule.name)
    st.init_(w, rule=leaky_rule.name, beta=0.5, generator=torch.Generator().manual_seed(6))
    _assert_moments(w, 0.0, 0.5 / 100)


def test_rules_that_need_data_or_the_whole_network_point_to_init_snntorch(monkeypatch):
    def needs_rates(n_in, theta, beta, steps):
        raise ValueError("measured rates needed")

    for name, kw, variance in [
        ("test-data", {"from_activity": lambda *a, **k: (0.0, 1.0)}, needs_rates),
        ("test-per-layer", {"per_layer": lambda cfg: (None, None)}, lambda n, t, b, s: 1.0 / n),
    ]:
        rule = rules_module.InitRule(name=name, variance=variance, **kw)
        monkeypatch.setitem(rules_module._REGISTRY, name, rule)
        with pytest.raises(ValueError, match="init_snntorch"):
            st.init_(torch.empty(3, 3), rule=name)


def test_fluctuation_with_a_given_rate_is_closed_form():
    if "fluctuation" not in theory.rule_names():
        pytest.skip("the fluctuation rule is not registered")
    w = torch.empty(400, 300)
    st.init_(
        w,
        "fluctuation",
        theta=1.0,
        beta=0.8,
        steps=5,
        nu=0.1,
        mu_u=0.2,
        xi=2.0,
        generator=torch.Generator().manual_seed(8),
    )
    kw = dict(beta=0.8, steps=5, nu=0.1, mu_u=0.2, xi=2.0)
    mean = float(theory.weight_mean("fluctuation", 300, 1.0, **kw))
    var = float(theory.weight_variance("fluctuation", 300, 1.0, **kw))
    assert mean > 0  # mu_u > 0 needs excitatory mean weight
    _assert_moments(w, mean, var)
    with pytest.raises(ValueError, match="init_snntorch"):
        st.init_(w, "fluctuation", theta=1.0, beta=0.8)  # nu=None: data-driven
