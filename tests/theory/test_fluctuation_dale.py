"""Dale's-law fluctuation rule: closed form, defining equation, signs, errors, deep stacks."""

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import snninit as si
from snninit import montecarlo as mc
from snninit.theory import fluctuation as fl
from snninit.theory import fluctuation_dale as fld

from ._stats import free_membranes, z_bound


def _population_sums(nu, n, bernoulli, bar, hat):
    """``(M, S)`` of one population with one rate (independent of the module's helper)."""
    v = n * nu * (1 - nu) if bernoulli else n * nu
    return n * nu * bar, 2 * hat * v


def test_symbolic_solution_matches_closed_form_and_solves_the_targets():
    d = fl.dale_scales_symbolic()
    rng = np.random.default_rng(11)
    for _ in range(20):
        m_e, m_i, s_e, s_i, sigma = rng.uniform(0.1, 5.0, 5)
        lim_hi, lim_lo = sigma * m_e / math.sqrt(s_e), sigma * m_i / math.sqrt(s_i)
        mu = rng.uniform(-0.99 * lim_lo, 0.99 * lim_hi)
        sub = {d["M_E"]: m_e, d["M_I"]: m_i, d["S_E"]: s_e, d["S_I"]: s_i,
               d["sigma"]: sigma, d["mu"]: mu}
        a_e, a_i = float(d["a_e"].subs(sub)), float(d["a_i"].subs(sub))
        assert a_e > 0 and a_i > 0
        assert m_e * a_e - m_i * a_i == pytest.approx(mu, abs=1e-9)
        assert s_e * a_e**2 + s_i * a_i**2 == pytest.approx(sigma**2, rel=1e-9)
        assert fld._dale_solve(mu, sigma, m_e, m_i, s_e, s_i) == pytest.approx((a_e, a_i))
    # the interval's edges are where one scale vanishes (symbolically)
    edge = d["sigma"] * d["M_E"] / sp.sqrt(d["S_E"])
    assert sp.simplify(d["a_i"].subs(d["mu"], edge)) == 0


@pytest.mark.parametrize(("n_e", "n_i", "nu", "beta", "steps", "xi"),
                         [(320, 80, 0.1, 0.9, 10, 1.0), (50, 50, 0.3, 0.5, 3, 2.0),
                          (8, 2, 0.7, 0.0, 1, 0.5)])
def test_balanced_case_by_hand(n_e, n_i, nu, beta, steps, xi):
    # mu_U = 0, one rate: mean drive cancels, a_I / a_E = n_e / n_i, and
    # sigma_U^2 = 2 nu eps_hat (n_e a_E^2 + n_i a_I^2) gives
    # a_E = sigma_U sqrt(n_i / (2 nu eps_hat n_e (n_e + n_i))).
    theta = 1.0
    out = fl.dale_layer_moments(nu, nu, n_e, n_i, theta, beta, steps, 0.0, xi)
    _, hat = fl.psp_kernel_sums(beta, steps)
    sigma = theta / xi
    a_e = sigma * math.sqrt(n_i / (2 * nu * hat * n_e * (n_e + n_i)))
    assert out.scale_e == pytest.approx(a_e, rel=1e-12)
    assert out.scale_i == pytest.approx(a_e * n_e / n_i, rel=1e-12)
    assert out.balance == pytest.approx(1.0, rel=1e-12)


def test_per_neuron_rates_equal_to_one_rate_give_the_same_scales():
    one = fl.dale_layer_moments(0.2, 0.3, 40, 10, 1.0, 0.8, 5, 0.2, 1.5, bernoulli=True)
    arr = fl.dale_layer_moments(np.full(40, 0.2), np.full(10, 0.3), 40, 10, 1.0, 0.8, 5,
                                0.2, 1.5, bernoulli=True)
    assert arr == pytest.approx(one, rel=1e-12)
    # balance < 1 for mu_U > 0 (more excitation), > 1 for mu_U < 0
    assert one.balance < 1
    assert fl.dale_layer_moments(0.2, 0.3, 40, 10, 1.0, 0.8, 5, -0.2, 1.5).balance > 1


# 12 examples x 2 comparisons, all passing with probability 1 - 1e-6
Z_PROP = z_bound(1e-6, 24)


@settings(max_examples=12, deadline=None)
@given(
    n=st.integers(20, 200),
    frac=st.floats(0.1, 0.5),
    nu_e=st.floats(0.05, 0.6),
    nu_i=st.floats(0.05, 0.6),
    beta=st.floats(0.0, 0.95),
    steps=st.integers(1, 6),
    mu_u=st.floats(-1.0, 0.5),
    xi=st.floats(0.5, 3.0),
    bernoulli=st.booleans(),
)
def test_rule_reproduces_target_membrane_statistics(
    n, frac, nu_e, nu_i, beta, steps, mu_u, xi, bernoulli
):
    """Defining equation: E[u] = mu_U and E_w[Var(u | w)] = sigma_U^2 with Dale weights.

    As for the normal rule: per neuron (weights fixed) the sample mean and the
    sample variance over ``reps`` spike realisations are unbiased for E(u | w)
    and Var(u | w); neurons are independent, so the SE of their averages is the
    spread of the per-neuron estimates over sqrt(neurons).
    """
    theta = 1.0
    n_e, n_i = mc.dale_split(n, frac)
    sigma_u = (theta - mu_u) / xi
    try:
        a_e, a_i, _ = fl.dale_layer_moments(
            nu_e, nu_i, n_e, n_i, theta, beta, steps, mu_u, xi, bernoulli=bernoulli
        )
    except ValueError as exc:  # only the documented infeasible interval may refuse
        assert "mu_u must lie in" in str(exc)
        bar, hat = fl.psp_kernel_sums(beta, steps)
        m_e, s_e = _population_sums(nu_e, n_e, bernoulli, bar, hat)
        m_i, s_i = _population_sums(nu_i, n_i, bernoulli, bar, hat)
        assert mu_u >= sigma_u * m_e / math.sqrt(s_e) or mu_u <= -sigma_u * m_i / math.sqrt(s_i)
        return
    rng = np.random.default_rng(2024)
    neurons, reps = 200, 64
    w = mc.dale_weights(rng, neurons, n_e, n_i, a_e, a_i)
    nu = np.r_[np.full(n_e, nu_e), np.full(w.shape[1] - n_e, nu_i)]
    u = free_membranes(rng, w, nu, beta, steps, reps, bernoulli)
    m_i_, v_i = u.mean(axis=1), u.var(axis=1, ddof=1)
    assert abs(m_i_.mean() - mu_u) < Z_PROP * m_i_.std(ddof=1) / math.sqrt(neurons)
    assert abs(v_i.mean() - sigma_u**2) < Z_PROP * v_i.std(ddof=1) / math.sqrt(neurons)


@settings(max_examples=20, deadline=None)
@given(
    n_out=st.integers(1, 50),
    n_e=st.integers(0, 60),
    n_i=st.integers(0, 60),
    scale_e=st.floats(1e-6, 10.0),
    scale_i=st.floats(1e-6, 10.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_sampled_weight_obeys_dale(n_out, n_e, n_i, scale_e, scale_i, seed):
    if n_e + n_i == 0:
        with pytest.raises(ValueError, match="n_e \\+ n_i"):
            mc.dale_weights(np.random.default_rng(seed), n_out, n_e, n_i, scale_e, scale_i)
        return
    w = mc.dale_weights(np.random.default_rng(seed), n_out, n_e, n_i, scale_e, scale_i)
    assert w.shape == (n_out, n_e + n_i)
    assert np.all(w[:, :n_e] >= 0.0)
    assert np.all(w[:, n_e:] <= 0.0)
    assert np.all(np.isfinite(w))


def test_sampled_weights_are_exponential_with_the_scales():
    # Exp(a): mean a, sd a; second moment 2 a^2 with sd of w^2 = a^2 sqrt(20). Four
    # comparisons at a joint false-failure rate 1e-6, plus a KS test at level 1e-6.
    a_e, a_i = 0.03, 0.12
    w = mc.dale_weights(np.random.default_rng(3), 300, 320, 80, a_e, a_i)
    z = z_bound(1e-6, 4)
    for block, a in ((w[:, :320], a_e), (-w[:, 320:], a_i)):
        assert abs(block.mean() - a) < z * a / math.sqrt(block.size)
        assert abs((block**2).mean() - 2 * a * a) < z * a * a * math.sqrt(20 / block.size)
        assert stats.kstest(block.ravel()[:5000], "expon", args=(0, a)).pvalue > 1e-6


def test_bad_input_is_refused_with_the_parameter_named():
    ok = dict(nu_e=0.1, nu_i=0.1, n_e=40, n_i=10, theta=1.0, beta=0.9, steps=5)
    with pytest.raises(ValueError, match="mu_u must lie in"):
        fl.dale_layer_moments(**ok, mu_u=0.9, xi=3.0)
    with pytest.raises(ValueError, match="mu_u must be below theta"):
        fl.dale_layer_moments(**ok, mu_u=1.0)
    with pytest.raises(ValueError, match="xi"):
        fl.dale_layer_moments(**ok, xi=-1.0)
    with pytest.raises(ValueError, match="n_i"):
        fl.dale_layer_moments(**{**ok, "n_i": 0})
    with pytest.raises(ValueError, match="nu_e"):
        fl.dale_layer_moments(**{**ok, "nu_e": 0.0})
    with pytest.raises(ValueError, match="nu_i.*silent"):
        fl.dale_layer_moments(**{**ok, "nu_i": np.zeros(10)})
    with pytest.raises(ValueError, match="nu_i.*length 10"):
        fl.dale_layer_moments(**{**ok, "nu_i": np.full(9, 0.1)})
    with pytest.raises(ValueError, match="nu_e.*no spike-count variance"):
        fl.dale_layer_moments(**{**ok, "nu_e": np.ones(40)}, bernoulli=True)
    with pytest.raises(ValueError, match="bernoulli"):
        fl.dale_layer_moments(**ok, bernoulli=1)
    with pytest.raises(ValueError, match="horizon"):
        fl.dale_layer_moments(**ok, horizon="forever")
    with pytest.raises(ValueError, match="inhibitory_fraction"):
        mc.dale_split(100, 1.0)
    with pytest.raises(ValueError, match="inhibitory_fraction=0.01 with n_in=10"):
        mc.dale_split(10, 0.01)
    with pytest.raises(ValueError, match="scale_i"):
        mc.dale_weights(np.random.default_rng(0), 3, 2, 2, 0.1, 0.0)
    with pytest.raises(ValueError, match="rng"):
        mc.dale_weights(0, 3, 2, 2, 0.1, 0.1)
    with pytest.raises(ValueError, match="Dale's-law .*'fluctuation'.*init='micheli'"):
        mc.simulate_dale_data_driven(si.NetworkConfig(width=10, layers=2, init="micheli"))


def test_deep_dale_stack_keeps_its_activity():
    """Width 400 (320 E + 80 I), 10 layers, T = 10, beta = 0.9, mu_U = 0, xi = 1.

    Every network sets each layer from the rates it measures in the layer below
    (data-driven, on itself). Claims, each at false-failure rate 1e-4 with the
    t distribution over the 8 independent networks (7 dof):

    * no layer of any network is silent;
    * the last layer's rate (time- and neuron-averaged) is above 0.005 and
      below Q(xi) = 0.159 (the probability per step that a free Gaussian
      membrane at the target crosses threshold): neither extinct nor saturated
      (with the E and I scales swapped every layer saturates at rate 1);
    * no decay in the deep half: the paired difference layer 10 - layer 5 is
      zero within its SE.
    """
    reps = 8
    cfg = si.NetworkConfig(width=400, layers=10, steps=10, beta=0.9, theta=1.0,
                           init="fluctuation", init_params={"mu_u": 0.0, "xi": 1.0})
    ds = mc.simulate_dale_data_driven(cfg, reps=reps, seed=0)
    assert (ds.attrs["n_e"], ds.attrs["n_i"]) == (320, 80)
    assert np.all(ds["scale_e"].values > 0) and np.all(ds["scale_i"].values > 0)
    assert np.all(ds["spikes"].sum("time").values > 0)
    r = ds["rate"].mean("time").values  # (rep, layer)
    t = stats.t.isf(1e-4 / 2, reps - 1)
    last = r[:, -1]
    se_last = last.std(ddof=1) / math.sqrt(reps)
    assert last.mean() - t * se_last > 0.005
    assert last.mean() + t * se_last < float(stats.norm.sf(1.0))
    diff = r[:, 10] - r[:, 5]
    assert abs(diff.mean()) < t * diff.std(ddof=1) / math.sqrt(reps)


def test_unusable_spike_variance_is_an_error_not_a_silent_extinction():
    # one step: every measured rate is 0 or 1, so Bernoulli spikes carry no variance
    cfg = si.NetworkConfig(width=100, layers=3, steps=1, beta=0.9, theta=1.0,
                           init="fluctuation", init_params={"bernoulli": True})
    with pytest.raises(ValueError, match="no spike-count variance"):
        mc.simulate_dale_data_driven(cfg, reps=1)


def test_dale_split_rounds_half_up_as_its_error_message_states():
    assert mc.dale_split(10, 0.05) == (9, 1)  # 0.5 inhibitory neurons round up to 1
    with pytest.raises(ValueError, match="inhibitory_fraction"):
        mc.dale_split(10, 0.04)
