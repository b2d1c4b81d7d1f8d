"""Initialisation rules: one registry, one signature.

A rule maps the fan-in ``n_in`` and the neuron's parameters to the mean and
variance of the i.i.d. weights of a hidden layer. Rules that depend on the
layer (because they track how activity evolves with depth) provide
``per_layer``; everything else is broadcast over the layers.

A data-driven rule (one that sets a layer from the measured activity of the
layer below) provides one hook, ``from_activity(rates_in, n_in, theta, beta,
steps, **params) -> (mean, var)``. Everything that applies a rule to data
derives from it: the trainer (:meth:`snninit.training.SNN.initialize`, on a
batch), the snntorch front end (:func:`snninit.torch.init_snntorch`, on a
sample), the data-driven simulations (:mod:`snninit.montecarlo.datadriven`,
every network on its own activity) and a rule's ``per_layer`` for theory
(one calibration network, :func:`data_driven_network`).

Adding a rule is one call to :func:`register_rule`, next to the rule's
implementation; nothing else in the package needs to change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special

from .._checks import show
from ..config import DEFAULT_BETA

if TYPE_CHECKING:  # pragma: no cover
    from ..config import NetworkConfig

__all__ = [
    "InitRule",
    "register_rule",
    "get_rule",
    "rule_names",
    "weight_variance",
    "weight_mean",
    "layer_weight_moments",
    "recurrent_weight_moments",
    "recurrent_split",
    "data_driven_network",
    "survival",
]


def widen_and_solve(excess, lo, hi, *, step, tries, rtol):
    """Root of an increasing ``excess(x)`` (e.g. rate - target over log Var[w]), or None.

    Widens ``[lo, hi]`` by ``step`` on the side that does not yet straddle the
    target, at most ``tries`` times, then solves with Brent's method
    (``xtol=1e-6``). Per-layer rules (``dmft``, ``diffusion``) share it and
    raise their own error when it returns None.
    """
    from scipy import optimize

    f_lo, f_hi = excess(lo), excess(hi)
    for _ in range(tries):
        if f_lo != f_lo or f_hi != f_hi:  # NaN: a broken rate model, not "no solution"
            raise ValueError(
                f"the rate model returned NaN while solving for the weight variance "
                f"(log Var[w] in [{lo:.3g}, {hi:.3g}]); check theta, beta and steps"
            )
        if f_lo < 0.0 < f_hi:
            return optimize.brentq(excess, lo, hi, xtol=1e-6, rtol=rtol)
        if f_lo >= 0.0:
            lo -= step
            f_lo = excess(lo)
        if f_hi <= 0.0:
            hi += step
            f_hi = excess(hi)
    return None


def survival(x):
    """Standard normal tail ``Q(x) = P(Z > x) = erfc(x / sqrt 2) / 2``.

    Uses :func:`scipy.special.ndtr` of ``-x``, accurate deep into the tail
    (no cancellation for large ``x``).
    """
    return special.ndtr(-np.asarray(x, dtype=float))


@dataclasses.dataclass(frozen=True)
class InitRule:
    """An initialisation rule.

    Attributes
    ----------
    name : str
        Registry key, also ``NetworkConfig.init``.
    variance : callable
        ``variance(n_in, theta, beta, steps, **params) -> Var[w]``, vectorised
        over array arguments (numpy broadcasting).
    mean : callable or None
        ``mean(n_in, theta, beta, steps, **params) -> E[w]``; None means 0.
    params : mapping
        Allowed extra parameters and their defaults.
    per_layer : callable or None
        ``per_layer(cfg) -> (mean, var)`` arrays of shape ``(layers,)`` for
        rules whose weights differ between layers; replaces the broadcast.
    from_activity : callable or None
        The hook of a data-driven rule: ``from_activity(rates_in, n_in, theta,
        beta, steps, **params) -> (mean, var)``, the mean and variance of the
        i.i.d. weights of a layer with fan-in ``n_in`` feeding neurons with
        threshold ``theta`` and leak ``beta`` over ``steps`` steps, given the
        measured presynaptic rates ``rates_in`` (spikes per step: one per
        presynaptic neuron, an array of length ``n_in``, or their mean, a
        float, where the inputs are not one neuron each, e.g. convolutions;
        None where the rule's parameters stand in for the data, else a
        ``ValueError``), the rule's resolved parameters ``params``
        (:meth:`resolve_params`) and, for ``synaptic`` neurons, their
        ``alpha`` (:func:`psp_params`).
        A rule may also accept ``inhibitory=n_i`` (an int in ``[1, n_in)``):
        then the layer obeys Dale's law, its last ``n_i`` inputs inhibitory
        (weights ``-Exp(a_I)``), the others excitatory (``Exp(a_E)``), and the
        hook returns the two scales ``(a_E, a_I)``
        (:func:`snninit.montecarlo.simulate_dale_data_driven`). Raises
        ``ValueError`` where no weights reach the rule's targets (e.g. a
        silent input).
    assumptions : str
        One paragraph: what the rule assumes about the network and input.
    check : callable or None
        ``check(cfg)``: further validation of a configuration using the rule.
    neurons : tuple of str or None
        The neuron models (``NetworkConfig.neuron``) the rule is derived for;
        None: any (a rule of the fan-in and the one-step statistics only, which
        are the same for every model at ``t = 0``).
    """

    name: str
    variance: Callable[..., Any]
    mean: Callable[..., Any] | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    per_layer: Callable[[NetworkConfig], tuple[np.ndarray, np.ndarray]] | None = None
    from_activity: Callable[..., tuple[float, float]] | None = None
    assumptions: str = ""
    check: Callable[[NetworkConfig], None] | None = None
    neurons: tuple[str, ...] | None = None

    @property
    def needs_data(self) -> bool:
        """True for a data-driven rule (one with :attr:`from_activity`)."""
        return self.from_activity is not None

    def resolve_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(params) - set(self.params)
        if unknown:
            allowed = ", ".join(sorted(self.params)) or "none"
            raise ValueError(
                f"init rule {self.name!r} has no parameter(s) {sorted(unknown)}; "
                f"allowed: {allowed}"
            )
        return {**self.params, **params}

    def check_params(self, cfg: NetworkConfig) -> None:
        """Validate ``cfg.init_params`` (and anything else the rule needs)."""
        self.resolve_params(cfg.init_params)
        if self.neurons is not None:
            from ..config import check_neuron

            check_neuron(cfg, self.neurons, f"init={self.name!r}")
        if self.check is not None:
            self.check(cfg)


_REGISTRY: dict[str, InitRule] = {}


def register_rule(rule: InitRule) -> InitRule:
    """Add ``rule`` to the registry (replacing a rule of the same name).

    Raises
    ------
    ValueError
        If ``rule`` is not an :class:`InitRule` (a rule's name, say), or its
        name is not a non-empty string, its ``variance`` not callable or its
        ``from_activity`` neither None nor callable.
    """
    from .._checks import check_callable, show

    if not isinstance(rule, InitRule):
        hint = (
            f": it is a name; build the rule with snninit.theory.rules.InitRule({rule!r}, "
            "variance=...), or use get_rule(name) for a registered one"
            if isinstance(rule, str)
            else ""
        )
        raise ValueError(
            f"rule must be a snninit.theory.rules.InitRule; got {type(rule).__name__} "
            f"{show(rule)}{hint}"
        )
    if not isinstance(rule.name, str) or not rule.name.strip():
        raise ValueError(f"rule.name must be a non-empty string; got {show(rule.name)}")
    check_callable("rule.variance", rule.variance, "variance(n_in, theta, beta, steps, **params)")
    if rule.from_activity is not None:
        check_callable(
            "rule.from_activity",
            rule.from_activity,
            "from_activity(rates_in, n_in, theta, beta, steps, **params) -> (mean, var)",
        )
    _REGISTRY[rule.name] = rule
    return rule


def _ensure_loaded() -> None:
    # Rules defined in other modules register themselves on import; importing
    # them here keeps `rule_names()` complete without import cycles at load.
    import importlib

    for module in _EXTERNAL_RULE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # only tolerate the module itself missing
            if exc.name != module:
                raise


#: Modules that register further rules when imported (peers' schemes, dmft).
_EXTERNAL_RULE_MODULES: list[str] = [
    "snninit.theory.dmft_rule",
    "snninit.theory.fluctuation",
    "snninit.theory.diffusion",
]


def rule_names() -> tuple[str, ...]:
    """Names of every registered initialisation rule."""
    _ensure_loaded()
    return tuple(_REGISTRY)


def get_rule(name: str, *, param: str = "init") -> InitRule:
    """Return the rule called ``name`` or raise ``ValueError`` listing the choices.

    ``param`` is what the message calls the argument: ``"init"`` for a
    configuration's field, ``"rule"`` for a function's rule argument.
    """
    # test the type first: an unhashable name (a list) must not reach the dict
    if isinstance(name, str) and name not in _REGISTRY:
        _ensure_loaded()
    if not isinstance(name, str) or name not in _REGISTRY:
        _ensure_loaded()
        choices = ", ".join(repr(n) for n in _REGISTRY)
        raise ValueError(f"{param} must be one of {choices}; got {show(name)}")
    return _REGISTRY[name]


def _check_common(n_in, theta, beta, steps):
    # the same validators and limits as NetworkConfig (n_in is a width)
    from ..config import check_limit, check_limit_array

    n_in = check_limit_array("n_in", n_in)
    theta = check_limit_array("theta", theta)
    beta = check_limit("beta", beta)
    steps = check_limit("steps", steps)
    return n_in, theta, beta, steps


def _finite_or_raise(name: str, value, theta):
    value = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(value)) or np.any(value < 0):
        bad = np.broadcast_to(np.asarray(theta, dtype=float), value.shape)[~np.isfinite(value)]
        where = f" (at theta={float(bad.flat[0])!r})" if bad.size else ""
        raise ValueError(
            f"init rule {name!r} gives a non-finite weight variance{where}: "
            "the firing probability underflows; use a smaller theta"
        )
    return value[()] if value.ndim == 0 else value


def weight_variance(rule: str, n_in, theta=1.0, *, beta=DEFAULT_BETA, steps=1, **params):
    """Weight variance ``Var[w]`` of ``rule`` for fan-in ``n_in``.

    Parameters
    ----------
    rule : str
        A name from :func:`rule_names`.
    n_in : int or array_like
        Fan-in (number of presynaptic neurons), >= 1.
    theta : float or array_like
        Firing threshold, >= 0. Broadcasts with ``n_in``.
    beta, steps : float, int
        Leak and number of time steps, for rules that use them.
    **params
        The rule's own parameters (see ``get_rule(rule).params``).

    Returns
    -------
    float or ndarray
        ``Var[w]``, finite and >= 0; a float when all inputs are scalars.

    Raises
    ------
    ValueError
        For an unknown rule or parameter, out-of-range input, or a result
        that would not be finite (e.g. ``micheli`` at extreme thresholds).
    """
    r = get_rule(rule, param="rule")
    n_in, theta, beta, steps = _check_common(n_in, theta, beta, steps)
    values = r.variance(n_in, theta, beta, steps, **r.resolve_params(params))
    return _finite_or_raise(rule, values, theta)


def weight_mean(rule: str, n_in, theta=1.0, *, beta=DEFAULT_BETA, steps=1, **params):
    """Weight mean ``E[w]`` of ``rule`` (0 for the zero-mean rules)."""
    r = get_rule(rule, param="rule")
    n_in, theta, beta, steps = _check_common(n_in, theta, beta, steps)
    resolved = r.resolve_params(params)
    if r.mean is None:
        values = np.zeros(np.broadcast(n_in, theta).shape)
    else:
        values = np.asarray(r.mean(n_in, theta, beta, steps, **resolved), dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"init rule {rule!r} gives a non-finite weight mean")
    return values[()] if values.ndim == 0 else values


def layer_weight_moments(cfg: NetworkConfig, fan_in=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer weight mean and variance for the hidden layers ``1..L`` of ``cfg``.

    ``fan_in`` (optional, ``L`` positive ints): the number of inputs of each
    hidden layer's neurons when it is not ``cfg.width`` (real inputs,
    :mod:`snninit.models.inputs`: the first layer sees ``n_0`` pixels). A rule
    given in closed form is evaluated at that fan-in; a rule with a
    ``per_layer`` hook (chosen for width-``cfg.width`` layers) keeps its
    per-input drive: mean and variance times ``cfg.width / fan_in`` (every
    rule here scales as ``1 / n_in`` at given presynaptic rates).

    For ``neuron="recurrent"`` these are the feed-forward weights' moments:
    the rule's mean and variance times ``1 - f`` (``f =
    cfg.recurrent_fraction``); the recurrent weights get the share ``f``
    (:func:`recurrent_weight_moments`). With equal presynaptic rates in the
    layer below and in the layer itself (what a rate-conserving rule aims at),
    the share ``f`` of each neuron's input variance then comes from its own
    layer, as stork splits it.

    Returns
    -------
    mean, var : ndarray, shape (cfg.layers,)
        Entry ``l - 1`` belongs to the weights feeding hidden layer ``l``.
    """
    mean, var = _rule_moments(cfg)
    if fan_in is not None:
        mean, var = _at_fan_in(cfg, fan_in, mean, var)
    if cfg.neuron == "recurrent":
        return recurrent_split(mean, var, cfg.recurrent_fraction)[0]
    return mean, var


def _at_fan_in(cfg: NetworkConfig, fan_in, mean, var):
    fan_in = np.asarray(fan_in)
    if fan_in.shape != (cfg.layers,) or fan_in.dtype.kind not in "iu" or np.any(fan_in < 1):
        raise ValueError(
            f"fan_in must hold one positive int per hidden layer (cfg.layers = {cfg.layers}); "
            f"got {fan_in.tolist()!r}"
        )
    mean, var = mean.copy(), var.copy()
    r = get_rule(cfg.init)
    for layer in np.flatnonzero(fan_in != cfg.width):
        k = int(fan_in[layer])
        if r.per_layer is not None:
            mean[layer] *= cfg.width / k
            var[layer] *= cfg.width / k
        else:
            kwargs = dict(beta=cfg.beta, steps=cfg.steps, **cfg.init_params)
            var[layer] = float(weight_variance(cfg.init, k, cfg.theta, **kwargs))
            mean[layer] = float(weight_mean(cfg.init, k, cfg.theta, **kwargs))
    return mean, var


def recurrent_split(mean, var, fraction):
    """Split a rule's weight moments between feed-forward and recurrent weights.

    ``((1 - f) mean, (1 - f) var), (f mean, f var)`` for ``f = fraction``: with
    equal presynaptic rates in the layer below and in the layer itself, a
    neuron's input mean and variance then come in the shares ``1 - f`` from
    the layer below and ``f`` from its own layer (stork's split). The one
    definition of the split, used by the rules, the dynamic-mean-field rule
    and :func:`snninit.torch.init_snntorch`.
    """
    f = float(fraction)
    keep = 1.0 - f
    return (keep * mean, keep * var), (f * mean, f * var)


def recurrent_weight_moments(cfg: NetworkConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer mean and variance of the recurrent weights ``V_l`` (``neuron="recurrent"``).

    The share ``f = cfg.recurrent_fraction`` of the rule's mean and variance
    (:func:`layer_weight_moments`); zeros for the feed-forward models.
    """
    mean, var = _rule_moments(cfg)
    if cfg.neuron != "recurrent":
        return np.zeros_like(mean), np.zeros_like(var)
    return recurrent_split(mean, var, cfg.recurrent_fraction)[1]


def _rule_moments(cfg: NetworkConfig) -> tuple[np.ndarray, np.ndarray]:
    from ..config import check_config

    cfg = check_config(cfg)
    r = get_rule(cfg.init)
    if r.per_layer is not None:
        mean, var = r.per_layer(cfg)
        mean = np.asarray(mean, dtype=float)
        var = np.asarray(var, dtype=float)
        if mean.shape != (cfg.layers,) or var.shape != (cfg.layers,):
            raise RuntimeError(f"rule {cfg.init!r} returned per-layer arrays of the wrong shape")
        _finite_or_raise(cfg.init, var, cfg.theta)
        return mean, var
    kwargs = dict(beta=cfg.beta, steps=cfg.steps, **cfg.init_params)
    var = weight_variance(cfg.init, cfg.width, cfg.theta, **kwargs)
    mean = weight_mean(cfg.init, cfg.width, cfg.theta, **kwargs)
    return np.full(cfg.layers, float(mean)), np.full(cfg.layers, float(var))


def psp_params(cfg: NetworkConfig) -> dict:
    """The neuron parameters that shape a free membrane's PSP kernel, as keywords.

    ``{"alpha": cfg.alpha}`` for ``neuron="synaptic"`` (the synaptic
    filter), ``{}`` for the others (the leaky kernel ``beta^k``). A rule that
    supports ``synaptic`` neurons takes them in its ``from_activity`` hook.
    """
    return {"alpha": float(cfg.alpha)} if cfg.neuron == "synaptic" else {}


def data_driven_network(cfg: NetworkConfig, rng: np.random.Generator):
    """One network of ``cfg`` whose rule sets every layer from the activity below.

    The data-driven protocol with the model's own input as the data: the
    encoding layer runs on ``c I``, ``I ~ N(0, 1)^width`` (drawn first from
    ``rng``), and for ``l = 1..L`` the per-neuron rates ``nu_j`` of layer
    ``l - 1`` (spikes averaged over the steps) give ``W_l``'s moments through
    ``get_rule(cfg.init).from_activity(nu, width, theta, beta, steps,
    **params)``; ``W_l`` (dense, ``width x width``, ``cfg.weights``: normal or
    uniform) is drawn from ``rng`` and layer ``l`` is run
    (:func:`snninit.models.dense.dense_stack`). A layer that falls silent ends
    the network: from it on every layer is silent and the moments are NaN.

    The calibration network of a rule's ``per_layer`` and every network of
    :func:`snninit.montecarlo.simulate_data_driven` are this function with
    their own generators.

    Parameters
    ----------
    cfg : NetworkConfig
        ``cfg.init`` a data-driven rule (with ``from_activity``); assumed valid.
    rng : numpy.random.Generator

    Returns
    -------
    mean, var, rate_in : ndarray, shape (layers,)
        Moments of ``W_1..W_L`` (NaN from a silent layer on) and the mean
        presynaptic rate each was computed from (0 there).
    counts : ndarray of int64, shape (layers + 1, steps)
        Spike count of every layer at every step.
    """
    from ..models.dense import dense_stack

    rule = get_rule(cfg.init)
    if rule.from_activity is None:
        data_driven = ", ".join(repr(r) for r in rule_names() if get_rule(r).needs_data)
        raise ValueError(
            f"init rule {cfg.init!r} is not data-driven (it has no from_activity hook); "
            f"data-driven rules: {data_driven or 'none'}"
        )
    params = {**rule.resolve_params(cfg.init_params), **psp_params(cfg)}
    n, L = cfg.width, cfg.layers
    means, vars_, rates = np.full(L, np.nan), np.full(L, np.nan), np.zeros(L)

    def choose(layer, s):
        r = s.mean(axis=0, dtype=np.float64)
        m, v = rule.from_activity(r, n, cfg.theta, cfg.beta, cfg.steps, **params)
        means[layer], vars_[layer], rates[layer] = m, v, r.mean()
        if cfg.weights == "uniform":
            half = np.sqrt(3.0 * v)
            return rng.uniform(m - half, m + half, size=(n, n))
        return m + np.sqrt(v) * rng.standard_normal((n, n))

    counts = dense_stack(cfg, rng, choose)
    return means, vars_, rates, counts


# --------------------------------------------------------------------------
# The two rules of the paper
# --------------------------------------------------------------------------


def _kaiming_variance(n_in, theta, beta, steps):
    return 2.0 / n_in + 0.0 * theta


def _micheli_variance(n_in, theta, beta, steps):
    with np.errstate(divide="ignore", over="ignore"):
        return 1.0 / (n_in * survival(theta))


register_rule(
    InitRule(
        name="kaiming",
        variance=_kaiming_variance,
        assumptions=(
            "He et al. (2015) for ReLU: Var[w] = 2 / n_in keeps Var[u] constant when "
            "E[x^2] = Var[u] / 2. A Heaviside neuron with threshold theta > 0 has "
            "E[x^2] = Q(theta / sd(u)) < 1/2, so activity decays with depth."
        ),
    )
)

register_rule(
    InitRule(
        name="micheli",
        variance=_micheli_variance,
        assumptions=(
            "Micheli et al. (2024), eq. 10: Var[w] = 1 / (n_in Q(theta)) with Q the "
            "standard normal tail. Assumes one time step, zero-mean symmetric i.i.d. "
            "weights, membranes u ~ N(0, 1) (the standard normal input) and i.i.d. "
            "spikes, so that E[x^2] = P(u > theta) = Q(theta) and Var[u_l] = 1 for "
            "every layer. Ignores leak and reset over time steps."
        ),
    )
)
