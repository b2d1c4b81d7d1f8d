"""The SNN: forward pass against eq. 13 written out, BPTT against finite differences.

Why the gradient test is sound without torch: the backward kernel multiplies
by the arctan surrogate g(u) = (alpha/2) / (1 + (pi alpha (u - theta)/2)^2)
wherever the forward pass has the step H(u - theta). ``g`` is the exact
derivative of the smooth step sigma(u) = 1/2 + arctan(pi alpha (u - theta)/2)/pi.
So running the *same* forward code with ``activation="smooth"`` gives a
differentiable function whose true gradient is what BPTT must return, and
central finite differences in float64 check it to ~1e-8. A detached reset
means the gradient with the reset signal held fixed; the test holds it fixed
(``reset_signals`` = the spikes of the unperturbed pass) while differencing.
The Heaviside forward pass itself is checked against a plain-loop reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from snninit.config import NetworkConfig
from snninit.theory.rules import weight_variance
from snninit.training.model import SNN, softmax_cross_entropy
from snninit.training.surrogate import arctan_step, arctan_surrogate


def _reference_forward(model: SNN, x: np.ndarray) -> np.ndarray:
    """Eq. 13 with the previous step's spike as reset, one neuron array at a time."""
    cfg = model.cfg
    T = cfg.steps
    c = 1 - cfg.beta if cfg.input_scale == "1-beta" else 1.0
    k = cfg.beta if cfg.reset_decay else 1.0

    def lif(currents):
        u = np.zeros_like(currents[0])
        s = np.zeros_like(currents[0])
        out = []
        for t in range(T):
            if cfg.reset == "subtract":
                u = cfg.beta * u + currents[t] - k * cfg.theta * s
            elif cfg.reset == "zero":
                u = cfg.beta * (1 - s) * u + currents[t]
            else:
                u = cfg.beta * u + currents[t]
            s = (u > cfg.theta).astype(u.dtype)
            out.append(s)
        return out

    spikes = lif([c * x] * T)
    for w in model.weights:
        spikes = lif([s @ w for s in spikes])
    return np.sum(spikes, axis=0)


@pytest.mark.parametrize(
    "reset,reset_decay,input_scale",
    [
        ("subtract", False, "1"),
        ("subtract", True, "1-beta"),
        ("zero", False, "1"),
        ("none", False, "1"),
    ],
)
def test_forward_matches_plain_loop(reset, reset_decay, input_scale):
    cfg = NetworkConfig(
        width=30,
        layers=3,
        steps=5,
        theta=0.8,
        beta=0.7,
        reset=reset,
        reset_decay=reset_decay,
        input_scale=input_scale,
        init="micheli",
    )
    model = SNN(cfg, n_inputs=20, n_classes=4, dtype=np.float64, seed=3)
    x = np.random.default_rng(4).standard_normal((16, 20)) * 1.5
    np.testing.assert_array_equal(model.forward(x), _reference_forward(model, x))
    rec = model.forward(x, record=True)
    assert [s.shape for s in rec.spikes] == [(5, 16, n) for n in (20, 30, 30, 30, 4)]
    assert rec.rates()[1] > 0  # activity reaches the hidden layers


def _fd_check(cfg, detach, alpha=1.0, seed=1):
    model = SNN(
        cfg, n_inputs=5, n_classes=3, detach_reset=detach, alpha=alpha, dtype=np.float64, seed=seed
    )
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((6, 5)) * 1.3
    y = rng.integers(0, 3, 6)
    rs = model.forward(x, record=True, activation="smooth").spikes if detach else None
    loss, grads, _ = model.loss_and_grad(x, y, activation="smooth", reset_signals=rs)

    def f():
        logits = model.forward(x, activation="smooth", reset_signals=rs)
        return softmax_cross_entropy(logits, y)[0]

    assert loss == pytest.approx(f(), rel=1e-14)
    h = 1e-6
    for W, g in zip(model.weights, grads, strict=True):
        num = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            old = W[idx]
            W[idx] = old + h
            up = f()
            W[idx] = old - h
            down = f()
            W[idx] = old
            num[idx] = (up - down) / (2 * h)
        # central differences: truncation O(h^2 f''') ~ 1e-12, rounding ~1e-16/h ~ 1e-10
        np.testing.assert_allclose(g, num, rtol=0, atol=1e-7 * max(1.0, np.abs(num).max()))
        assert np.abs(num).max() > 1e-4  # the check is not vacuous


@pytest.mark.parametrize("detach", [True, False])
@pytest.mark.parametrize(
    "reset,reset_decay", [("subtract", False), ("subtract", True), ("zero", False), ("none", False)]
)
def test_bptt_equals_finite_differences_of_smooth_network(reset, reset_decay, detach):
    cfg = NetworkConfig(
        width=7,
        layers=2,
        steps=4,
        theta=0.7,
        beta=0.6,
        reset=reset,
        reset_decay=reset_decay,
        init="micheli",
    )
    _fd_check(cfg, detach)


def test_detaching_changes_the_gradient():
    # guards against a backward pass that silently ignores detach_reset
    cfg = NetworkConfig(width=7, layers=2, steps=4, theta=0.7, beta=0.6, init="micheli")
    x = np.random.default_rng(0).standard_normal((6, 5))
    y = np.arange(6) % 3
    g = [
        SNN(cfg, 5, 3, detach_reset=d, dtype=np.float64, seed=0).loss_and_grad(x, y)[1][0]
        for d in (True, False)
    ]
    assert np.abs(g[0] - g[1]).max() > 1e-6


def test_surrogate_is_derivative_of_smooth_step():
    u = np.linspace(-3, 3, 101)
    h = 1e-6
    num = (arctan_step(u + h, 0.5, 2.0) - arctan_step(u - h, 0.5, 2.0)) / (2 * h)
    np.testing.assert_allclose(arctan_surrogate(u, 0.5, 2.0), num, rtol=1e-7)
    assert arctan_surrogate(0.5, 0.5, 2.0) == pytest.approx(1.0)  # alpha / 2 at threshold


def test_initial_weights_use_each_layers_fan_in():
    cfg = NetworkConfig(width=200, layers=2, steps=3, theta=1.0, beta=0.5, init="micheli")
    model = SNN(cfg, n_inputs=300, n_classes=10, seed=0)
    assert model.layer_fan_in == (300, 200, 200)
    for w, n_in in zip(model.weights, model.layer_fan_in, strict=True):
        expected = weight_variance("micheli", n_in, 1.0)
        # sample variance has relative SE sqrt(2/(N-1)); 5 SE -> false failure ~6e-7
        tol = 5 * np.sqrt(2 / (w.size - 1))
        assert abs(float(np.var(w, dtype=np.float64)) / expected - 1) < tol
        assert w.dtype == np.float32
    kai = SNN(cfg.replace(init="kaiming"), n_inputs=300, n_classes=10, seed=0)
    ratio = np.var(kai.weights[0], dtype=np.float64) / (2 / 300)
    assert abs(ratio - 1) < 5 * np.sqrt(2 / (kai.weights[0].size - 1))


def test_same_seed_same_weights_and_uniform_option():
    cfg = NetworkConfig(width=50, layers=2, steps=2, init="micheli", weights="uniform")
    a, b = SNN(cfg, 20, 3, seed=7), SNN(cfg, 20, 3, seed=7)
    for wa, wb in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(wa, wb)
    bound = np.sqrt(3 * weight_variance("micheli", 20, cfg.theta))
    assert np.abs(a.weights[0]).max() <= bound


def test_data_driven_hook_sees_previous_layer():
    cfg = NetworkConfig(width=40, layers=3, steps=2, init="micheli")
    model = SNN(cfg, n_inputs=20, n_classes=3)
    x = np.random.default_rng(0).standard_normal((32, 20))
    seen = []

    def moments(layer, n_in, rec):
        assert len(rec.spikes) == layer  # layers 0..layer-1 were run
        rate = float(rec.spikes[-1].mean())
        seen.append((layer, n_in, rate))
        return 0.0, 1.0 / (n_in * max(rate, 1e-3))

    model.init_from_data(x, moments, np.random.default_rng(1))
    assert [s[:2] for s in seen] == [(1, 20), (2, 40), (3, 40), (4, 40)]
    assert all(np.all(w != 0) for w in model.weights)
    assert model.forward(x, record=True).rates()[-2] > 0


def test_bad_input_is_rejected():
    cfg = NetworkConfig(width=10, layers=1, steps=2)
    model = SNN(cfg, n_inputs=4, n_classes=3, seed=0)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 4\)"):
        model.forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="finite"):
        model.forward(np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="labels must be in"):
        model.loss_and_grad(np.zeros((2, 4)), np.array([0, 3]))
    with pytest.raises(ValueError, match="alpha must be"):
        SNN(cfg, alpha=0)


def test_data_driven_rules_are_initialised_from_their_from_activity_hook():
    """The trainer's data-driven init is init_from_data with the rule's hook, bit for bit."""
    from snninit.theory.rules import get_rule

    cfg = NetworkConfig(width=40, layers=2, steps=3, beta=0.8, init="fluctuation",
                        init_params={"xi": 1.5})
    x = np.random.default_rng(0).standard_normal((24, 20))
    model = SNN(cfg, n_inputs=20, n_classes=3)
    model.initialize(np.random.default_rng(5), x=x)
    rule = get_rule("fluctuation")
    params = rule.resolve_params(cfg.init_params)
    by_hand = SNN(cfg, n_inputs=20, n_classes=3)

    def moments(layer, n_in, rec):
        rates = rec.spikes[layer - 1].mean(axis=(0, 1), dtype=np.float64)
        return rule.from_activity(rates, n_in, cfg.theta, cfg.beta, cfg.steps, **params)

    by_hand.init_from_data(x, moments, np.random.default_rng(5))
    for a, b in zip(model.weights, by_hand.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="needs a data batch x"):
        SNN(cfg, n_inputs=20, n_classes=3).initialize(np.random.default_rng(0))


def test_register_data_initializer_is_a_deprecated_no_op():
    from snninit.training import register_data_initializer

    called = []
    with pytest.warns(DeprecationWarning, match="no effect.*from_activity"):
        register_data_initializer("fluctuation", lambda *a: called.append(a))
    cfg = NetworkConfig(width=20, layers=1, steps=2, init="fluctuation")
    SNN(cfg, n_inputs=8, n_classes=2).initialize(
        np.random.default_rng(0), x=np.random.default_rng(1).standard_normal((8, 8))
    )
    assert not called  # the rule's own hook initialised the model
    with pytest.raises(ValueError, match="does not need data"):
        register_data_initializer("micheli", lambda *a: None)
