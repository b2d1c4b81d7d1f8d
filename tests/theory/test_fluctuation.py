"""Fluctuation-driven rule: kernel sums, defining equation, errors, data-driven mode."""

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import snninit as si
from snninit import montecarlo as mc
from snninit.theory import fluctuation as fl
from snninit.theory.rules import survival, weight_mean, weight_variance

from ._stats import free_membranes, z_bound

# two-sided normal quantile for a false-failure rate of 1e-5 per comparison
Z = 4.42


@pytest.mark.parametrize("beta", [0.0, 0.3, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("steps", [1, 2, 7, 20])
def test_symbolic_kernel_sums_match_numeric(beta, steps):
    d = fl.psp_kernel_sums_symbolic()
    sub = {d["beta"]: sp.nsimplify(beta), d["T"]: steps}
    bar, hat = fl.psp_kernel_sums(beta, steps)
    assert float(d["eps_bar_T"].subs(sub)) == pytest.approx(bar, rel=1e-12)
    assert float(d["eps_hat_T"].subs(sub)) == pytest.approx(hat, rel=1e-12)
    if beta < 1:
        sbar, shat = fl.psp_kernel_sums(beta, steps, "stationary")
        assert float(d["eps_bar_inf"].subs(sub)) == pytest.approx(sbar, rel=1e-12)
        assert float(d["eps_hat_inf"].subs(sub)) == pytest.approx(shat, rel=1e-12)


@pytest.mark.parametrize("alpha, beta", [(0.3, 0.6), (0.8, 0.5), (0.5, 0.5), (0.9, 0.95)])
def test_synaptic_kernel_sums(alpha, beta):
    """Finite sums by brute force; stationary limits symbolic (a != b) and as T -> infinity."""
    for steps in (1, 2, 9):
        eps = [sum(alpha**j * beta ** (m - j) for j in range(m + 1)) for m in range(steps)]
        bar, hat = fl.psp_kernel_sums(beta, steps, alpha=alpha)
        assert bar == pytest.approx(sum(eps), rel=1e-12)
        assert hat == pytest.approx(sum(e * e for e in eps), rel=1e-12)
    sbar, shat = fl.psp_kernel_sums(beta, 1, "stationary", alpha)
    long = fl.psp_kernel_sums(beta, 3000, alpha=alpha)
    assert (sbar, shat) == pytest.approx(long, rel=1e-10)
    if alpha != beta:
        d = fl.psp_kernel_sums_symbolic()
        sub = {d["alpha"]: sp.nsimplify(alpha), d["beta"]: sp.nsimplify(beta)}
        assert float(d["eps_bar_inf_synaptic"].subs(sub)) == pytest.approx(sbar, rel=1e-12)
        assert float(d["eps_hat_inf_synaptic"].subs(sub)) == pytest.approx(shat, rel=1e-12)
    assert fl.psp_kernel_sums(beta, 7, alpha=0.0) == fl.psp_kernel_sums(beta, 7)
    with pytest.raises(ValueError, match="alpha < 1"):
        fl.psp_kernel_sums(beta, 7, "stationary", 1.0)


@pytest.mark.parametrize("theta", [0.5, 1.0, 1.5])
def test_one_step_unit_target_is_micheli_at_theta_one_sigma(theta):
    # T = 1, mu_U = 0, xi = 1 -> sigma_U = theta; with nu = Q(theta) and theta = 1 this is eq. 10
    nu = float(survival(theta))
    mean, var = fl.fluctuation_layer_moments(nu, 1000, theta, 0.5, 1, 0.0, 1.0)
    assert mean == 0.0
    assert var == pytest.approx(theta**2 * weight_variance("micheli", 1000, theta), rel=1e-12)


# 12 examples x 2 comparisons, all passing with probability 1 - 1e-6
Z_PROP = z_bound(1e-6, 24)


@settings(max_examples=12, deadline=None)
@given(
    n=st.integers(20, 200),
    nu=st.floats(0.05, 0.6),
    beta=st.floats(0.0, 0.95),
    steps=st.integers(1, 6),
    mu_u=st.floats(-1.0, 0.5),
    xi=st.floats(0.5, 3.0),
    bernoulli=st.booleans(),
    alpha=st.sampled_from([0.0, 0.0, 0.4, 0.9]),
)
def test_rule_reproduces_target_membrane_statistics(n, nu, beta, steps, mu_u, xi, bernoulli,
                                                    alpha):
    """Defining equation: E[u] = mu_U and E_w[Var(u | w)] = sigma_U^2 (Campbell).

    sigma_U^2 is the variance over spike realisations at fixed weights, averaged
    over neurons; each neuron's sample variance over ``reps`` realisations is
    unbiased for it, and the neurons are independent, so the SE of the average is
    the spread of the per-neuron estimates over sqrt(neurons).
    """
    theta = 1.0
    sigma_u = (theta - mu_u) / xi
    try:
        mean, var = fl.fluctuation_layer_moments(
            nu, n, theta, beta, steps, mu_u, xi, bernoulli=bernoulli, alpha=alpha
        )
    except ValueError as exc:  # only the documented infeasible case may refuse
        assert "negative weight variance" in str(exc)
        bar, hat = fl.psp_kernel_sums(beta, steps, alpha=alpha)
        v = n * nu * (1 - nu) if bernoulli else n * nu
        assert mu_u**2 * v * hat > sigma_u**2 * (n * nu * bar) ** 2
        return
    rng = np.random.default_rng(1234)
    neurons, reps = 200, 64
    w = mean + math.sqrt(var) * rng.standard_normal((neurons, n))
    u = free_membranes(rng, w, nu, beta, steps, reps, bernoulli, alpha)
    m_i = u.mean(axis=1)
    v_i = u.var(axis=1, ddof=1)
    assert abs(m_i.mean() - mu_u) < Z_PROP * m_i.std(ddof=1) / math.sqrt(neurons)
    assert abs(v_i.mean() - sigma_u**2) < Z_PROP * v_i.std(ddof=1) / math.sqrt(neurons)


def test_variance_across_neurons_adds_the_quenched_part():
    # The example that a pooled (neurons x spikes) variance got "wrong": n=20, nu=0.5,
    # T=1, mu_U=0, xi=1. The rule targets E_w[Var(u|w)] = 1; the pooled variance is
    # larger by Var_w[E(u|w)] = n sigma_w^2 nu^2 eps_bar^2 = 0.5.
    n, nu, theta = 20, 0.5, 1.0
    mean, var = fl.fluctuation_layer_moments(nu, n, theta, 0.0, 1, 0.0, 1.0)
    rng = np.random.default_rng(5)
    w = mean + math.sqrt(var) * rng.standard_normal((4000, n))
    u = free_membranes(rng, w, nu, 0.0, 1, 1, False).ravel()
    expected = 1.0 + n * var * nu**2
    assert expected == pytest.approx(1.5)
    m4 = np.mean((u - u.mean()) ** 4)
    se = math.sqrt((m4 - u.var() ** 2) / u.size)
    assert abs(u.var() - expected) < z_bound(1e-6, 1) * se
    assert abs(u.var() - 1.0) > z_bound(1e-6, 1) * se  # and the conditional target is not it


def test_negative_variance_is_refused_with_clear_message():
    with pytest.raises(ValueError, match="negative weight variance"):
        fl.fluctuation_layer_moments(0.01, 1, 1.0, 0.5, 1, mu_u=0.5, xi=10.0)
    with pytest.raises(ValueError, match="mu_u must be below theta"):
        fl.fluctuation_layer_moments(0.1, 100, 1.0, 0.5, 1, mu_u=1.0)
    with pytest.raises(ValueError, match="xi"):
        fl.fluctuation_layer_moments(0.1, 100, 1.0, 0.5, 1, xi=0.0)
    with pytest.raises(ValueError, match=r"rates_in must be a finite number in \(0.0, 1.0\]"):
        fl.fluctuation_layer_moments(1.5, 100, 1.0, 0.5, 1)
    with pytest.raises(ValueError, match="silent"):
        fl.fluctuation_layer_moments(np.zeros(10), 10, 1.0, 0.5, 1)
    with pytest.raises(ValueError, match="horizon"):
        fl.psp_kernel_sums(1.0, 5, "stationary")


def test_registry_closed_form_with_given_rate_and_refusal_without():
    v = weight_variance("fluctuation", [100, 1000], 1.0, beta=0.9, steps=20, nu=0.1, mu_u=0.2)
    m = weight_mean("fluctuation", [100, 1000], 1.0, beta=0.9, steps=20, nu=0.1, mu_u=0.2)
    bar, hat = fl.psp_kernel_sums(0.9, 20)
    assert np.allclose(m, 0.2 / (np.array([100, 1000]) * 0.1 * bar))
    assert np.allclose(v, 0.8**2 / (np.array([100, 1000]) * 0.1 * hat) - m**2)
    with pytest.raises(ValueError, match="data-driven"):
        weight_variance("fluctuation", 100, 1.0)


def test_data_driven_first_layer_uses_encoding_rates():
    cfg = si.NetworkConfig(width=200, layers=4, steps=5, beta=0.9, theta=1.0, init="fluctuation",
                           init_params={"mu_u": 0.3, "xi": 2.0})
    mean, var = si.theory.layer_weight_moments(cfg)
    assert mean.shape == var.shape == (4,)
    _, _, rates = fl.fluctuation_calibration(cfg)
    for layer in range(4):  # each layer's moments follow from its measured input rate
        m, v = fl.fluctuation_layer_moments(rates[layer], 200, 1.0, 0.9, 5, 0.3, 2.0)
        assert mean[layer] == pytest.approx(m)
        assert var[layer] == pytest.approx(v)
    # same configuration, same numbers
    assert np.array_equal(si.theory.layer_weight_moments(cfg)[1], var)


def test_training_initialiser_is_data_driven():
    from snninit.training import SNN
    from snninit.training.data import synthetic_dataset

    data = synthetic_dataset()
    cfg = si.NetworkConfig(width=300, layers=2, steps=4, beta=0.9, theta=1.0, init="fluctuation")
    model = SNN(cfg, n_inputs=data.x_train.shape[1], n_classes=4, dtype=np.float64)
    x = data.x_train[:128]
    model.initialize(np.random.default_rng(0), x=x)
    rec = model.forward(x, record=True, upto=1)
    rates = rec.spikes[1].mean(axis=(0, 1))
    m, v = fl.fluctuation_layer_moments(rates, 300, 1.0, 0.9, 4)
    w = model.weights[1]
    # empirical weight moments of W_2 (300 x 300) within the standard error (rate 1e-5)
    assert abs(w.mean() - m) < Z * math.sqrt(v / w.size)
    assert abs(w.var() - v) < Z * v * math.sqrt(2.0 / w.size)


@pytest.mark.parametrize(("theta", "xi"), [(1.0, 1.0), (0.5, 1.0), (1.0, 2.0)])
def test_self_calibrated_networks_hold_rate_q_xi_in_every_layer(theta, xi):
    # T = 1, mu_U = 0: a network calibrated on itself draws Var[w_l] = sigma_U^2 / k_{l-1}
    # from its own spike count k_{l-1}, so u_l | k_{l-1} ~ N(0, sigma_U^2) exactly and
    # every layer's spike count is Bin(n, Q(xi)), independent of the layers below.
    # Pooled over 20 layers x 4 networks (independent binomials): SE, rate 1e-6 over 3.
    n, layers, reps = 200, 20, 4
    cfg = si.NetworkConfig(width=n, layers=layers, steps=1, theta=theta, beta=0.5,
                           init="fluctuation", init_params={"xi": xi})
    ds = mc.simulate_data_driven(cfg, reps=reps, seed=3)
    assert ds["rate"].dims == ("rep", "layer", "time")
    assert ds.attrs["calibration"].startswith("data-driven")
    assert si._dataset.config_from_attrs(ds.attrs) == cfg  # the dataset explains itself
    k = ds["spikes"].isel(time=0).sel(layer=slice(1, layers)).values
    q = float(survival(xi))
    se = math.sqrt(q * (1 - q) / (n * k.size))
    assert abs(k.mean() / n - q) < z_bound(1e-6, 3) * se
    # each network's weight variance follows its own counts: sigma_U^2 / k_{l-1}
    sigma_u2 = (theta / xi) ** 2
    k_all = ds["spikes"].isel(time=0).values
    assert np.allclose(ds["weight_var"].values, sigma_u2 / k_all[:, :-1])


def test_simulate_data_driven_refuses_other_rules():
    with pytest.raises(ValueError, match="data-driven rule .*'fluctuation'.*init='micheli'"):
        mc.simulate_data_driven(si.NetworkConfig(width=10, layers=2, init="micheli"))
    cfg = si.NetworkConfig(width=10, layers=2, init="fluctuation")
    with pytest.raises(ValueError, match="reps"):
        mc.simulate_data_driven(cfg, reps=0)


def test_data_driven_stacks_do_not_depend_on_the_blas_thread_count():
    from threadpoolctl import threadpool_limits

    cfg = si.NetworkConfig(width=150, layers=6, steps=4, beta=0.9, theta=1.0, init="fluctuation")
    runs = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads):
            runs.append((mc.simulate_data_driven(cfg, reps=2, seed=4),
                         mc.simulate_dale_data_driven(cfg, reps=2, seed=4)))
    for a, b in zip(runs[0], runs[1]):
        assert a.identical(b)  # same seed, same spikes and weights, bit for bit


def test_the_rule_has_one_data_hook_and_a_given_rate_stands_in_for_the_data():
    rule = si.theory.get_rule("fluctuation")
    assert rule.needs_data and rule.from_activity is not None  # needs_data is derived
    assert not si.theory.get_rule("micheli").needs_data
    rates = np.random.default_rng(0).uniform(0.0, 0.3, 100)
    params = rule.resolve_params({"mu_u": 0.2, "xi": 1.5})
    assert rule.from_activity(rates, 100, 1.0, 0.9, 5, **params) == (
        fl.fluctuation_layer_moments(rates, 100, 1.0, 0.9, 5, 0.2, 1.5)
    )
    # nu=: the measured rates are not used, and the hook is the closed form, bit for bit
    params = rule.resolve_params({"nu": 0.1, "mu_u": 0.2})
    got = rule.from_activity(rates, 100, 1.0, 0.9, 5, **params)
    kw = dict(beta=0.9, steps=5, nu=0.1, mu_u=0.2)
    assert got == (weight_mean("fluctuation", 100, 1.0, **kw),
                   weight_variance("fluctuation", 100, 1.0, **kw))
    cfg = si.NetworkConfig(width=60, layers=3, steps=3, beta=0.9, init="fluctuation",
                           init_params={"nu": 0.1, "mu_u": 0.2})
    ds = mc.simulate_data_driven(cfg, reps=2, seed=0)
    want = weight_variance("fluctuation", 60, 1.0, beta=0.9, steps=3, nu=0.1, mu_u=0.2)
    assert np.all(ds["weight_var"].values == want)
    # the Dale's-law form of the same hook: the two exponential scales
    a_e, a_i = rule.from_activity(rates, 100, 1.0, 0.9, 5, inhibitory=20,
                                  **rule.resolve_params({}))
    want = fl.dale_layer_moments(rates[:80], rates[80:], 80, 20, 1.0, 0.9, 5)
    assert (a_e, a_i) == (want.scale_e, want.scale_i)
    with pytest.raises(ValueError, match="inhibitory"):
        rule.from_activity(rates, 100, 1.0, 0.9, 5, inhibitory=100, **rule.resolve_params({}))


def test_calibration_is_the_data_driven_network_with_a_fixed_seed():
    from snninit.theory.rules import data_driven_network

    cfg = si.NetworkConfig(width=80, layers=4, steps=3, beta=0.8, init="fluctuation")
    rng = np.random.Generator(np.random.PCG64(fl._CALIBRATION_SEED))
    mean, var, rate, counts = data_driven_network(cfg, rng)
    got = fl.fluctuation_calibration(cfg)
    for a, b in zip(got, (mean, var, rate), strict=True):
        np.testing.assert_array_equal(a, b)
    assert counts.shape == (5, 3) and counts[0].sum() > 0


def test_any_rule_with_from_activity_is_simulated_and_trained_from_its_hook(monkeypatch):
    """A toy data-driven rule: Var[w] = gain / sum_j nu_j (zero mean), registered once."""
    from snninit.theory import rules
    from snninit.training import SNN

    calls = []

    def hook(rates_in, n_in, theta, beta, steps, gain=1.0):
        calls.append(n_in)
        return 0.0, gain / float(np.sum(rates_in))

    def no_closed_form(n_in, theta, beta, steps, gain=1.0):
        raise ValueError("toy: data-driven only")

    rule = rules.InitRule("toy-data", no_closed_form, params={"gain": 1.0}, from_activity=hook)
    monkeypatch.setitem(rules._REGISTRY, rule.name, rules.register_rule(rule))
    assert rule.needs_data
    cfg = si.NetworkConfig(width=50, layers=4, steps=1, theta=0.5, init="toy-data",
                           init_params={"gain": 2.0})
    ds = mc.simulate_data_driven(cfg, reps=3, seed=1)
    k = ds["spikes"].isel(time=0).values[:, :-1]  # T = 1: sum_j nu_j is the spike count
    np.testing.assert_allclose(ds["weight_var"].values, np.where(k > 0, 2.0 / k, np.nan))
    with pytest.raises(ValueError, match="Dale's-law"):  # the toy hook has no inhibitory=
        mc.simulate_dale_data_driven(cfg, reps=1)
    calls.clear()
    model = SNN(cfg, n_inputs=12, n_classes=3, dtype=np.float64)
    model.initialize(np.random.default_rng(0), x=np.random.default_rng(1).normal(size=(16, 12)))
    assert calls == [12, 50, 50, 50, 50]  # every weight layer, readout included
    with pytest.raises(ValueError, match="callable from_activity"):
        rules.register_rule(rules.InitRule("toy-bad", no_closed_form, from_activity=3))
