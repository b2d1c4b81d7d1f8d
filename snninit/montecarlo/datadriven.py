"""Data-driven stacks: networks that set every layer from their own activity.

A data-driven rule (one with the ``from_activity`` hook of
:class:`snninit.theory.rules.InitRule`, e.g. ``init="fluctuation"`` with
``nu=None``) is applied the way its authors describe: layer by layer, the
presynaptic rates are measured with a forward pass before the next layer's
weights are chosen. Here every simulated network does that on its own input
``I ~ N(0, 1)^width`` (the faithful protocol), instead of sharing the moments
of one calibration network as :func:`snninit.montecarlo.simulate` does
through :func:`snninit.theory.layer_weight_moments`.

* :func:`simulate_data_driven`: i.i.d. weights (``cfg.weights``: normal or
  uniform) with the hook's mean and variance; any data-driven rule.
* :func:`simulate_dale_data_driven`: Dale's-law stacks (every layer split
  into excitatory and inhibitory neurons by :func:`dale_split`, exponential
  weights sampled by :func:`dale_weights`) with the scales the hook gives
  for ``inhibitory=n_i``; rules whose hook supports Dale's law.

Each network is one call of :func:`snninit.models.dense.dense_stack` (the
model's :func:`~snninit.models.lif_layer` and dense drive, summed in a fixed
order), network ``r`` drawing everything from
:func:`snninit.montecarlo.engine.rep_generator` ``(seed, r)``: the numbers
depend only on the configuration, ``reps`` and ``seed``.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from .._checks import check_int, check_real
from .._dataset import finish_dataset
from ..config import NetworkConfig, check_config, check_neuron
from ..models.dense import dense_stack
from ..theory.rules import data_driven_network, get_rule, rule_names
from .engine import rep_generator

__all__ = ["simulate_data_driven", "simulate_dale_data_driven", "dale_split", "dale_weights"]


def _data_driven_rule(cfg: NetworkConfig, dale: bool = False):
    rule = get_rule(cfg.init)
    if rule.from_activity is None or (dale and not _takes_inhibitory(rule.from_activity)):
        what = "Dale's-law (inhibitory=) " if dale else ""
        names = [
            n for n in rule_names()
            if get_rule(n).needs_data
            and (not dale or _takes_inhibitory(get_rule(n).from_activity))
        ]
        raise ValueError(
            f"cfg.init must be a data-driven rule with a {what}from_activity hook, one of "
            f"{', '.join(repr(n) for n in names) or 'none'}; got init={cfg.init!r} (simulate "
            "other rules with snninit.montecarlo.simulate)"
        )
    return rule


def _takes_inhibitory(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - a builtin without a signature
        return False
    return "inhibitory" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def simulate_data_driven(cfg: NetworkConfig, reps: int = 10, seed: int = 0):
    """Simulate networks that each set their weights from their own forward pass.

    Network ``r`` (generator :func:`~snninit.montecarlo.engine.rep_generator`
    ``(seed, r)``) is :func:`snninit.theory.rules.data_driven_network`: it
    draws its input ``I ~ N(0, 1)^width``, runs the encoding layer, and for
    ``l = 1..L`` draws ``W_l`` (dense, ``width x width``) with the moments the
    rule's ``from_activity`` gives at the per-neuron rates of its own layer
    ``l - 1``, then runs layer ``l``: the paper's data-dependent protocol with
    the network's input as the data. A layer that falls silent ends the
    network (every later layer silent, weight moments NaN).

    Parameters
    ----------
    cfg : NetworkConfig
        ``cfg.init`` a data-driven rule (``get_rule(cfg.init).needs_data``:
        ``"fluctuation"``), ``init_params`` as for the rule (for
        ``fluctuation`` a given ``nu`` stands in for the measured rates, as
        everywhere the rule is applied).
    reps, seed : int

    Returns
    -------
    xarray.Dataset
        ``spikes``, ``rate`` (rep, layer 0..L, time) as in
        :func:`snninit.montecarlo.simulate`, and ``weight_var`` (rep, layer
        1..L as ``wlayer``); attrs: the configuration (``config_from_attrs``
        rebuilds it), seed, ``calibration``.
    """
    import xarray as xr

    cfg = check_config(cfg)
    check_neuron(cfg, ("leaky", "synaptic", "adaptive"), "simulate_data_driven")
    _data_driven_rule(cfg)
    reps = check_int("reps", reps, low=1)
    seed = check_int("seed", seed, low=0)
    L, T = cfg.layers, cfg.steps
    counts = np.empty((reps, L + 1, T), dtype=np.int64)
    wvar = np.empty((reps, L))
    for r in range(reps):
        _, wvar[r], _, counts[r] = data_driven_network(cfg, rep_generator(seed, r))
    ds = xr.Dataset(
        {
            "spikes": (("rep", "layer", "time"), counts),
            "rate": (("rep", "layer", "time"), counts / cfg.width),
            "weight_var": (("rep", "wlayer"), wvar),
        },
        coords={
            "rep": np.arange(reps),
            "layer": np.arange(L + 1),
            "time": np.arange(T),
            "wlayer": np.arange(1, L + 1),
        },
    )
    return finish_dataset(ds, cfg, kind="simulation", seed=seed, reps=reps,
                          calibration="data-driven, each network on itself")


# --------------------------------------------------------------------------------------
# Dale's-law stacks: excitatory and inhibitory populations, exponential weights
# --------------------------------------------------------------------------------------


def dale_split(n_in, inhibitory_fraction=0.2):
    """Split a fan-in into ``(n_e, n_i)`` excitatory and inhibitory neurons.

    ``n_i = round(inhibitory_fraction * n_in)``, ``n_e = n_in - n_i``; both must
    be at least 1 (the Dale's-law solution needs both populations). The
    default 0.2 is the cortical 4 : 1 ratio.
    """
    n_in = check_int("n_in", n_in, low=2)
    f = check_real("inhibitory_fraction", inhibitory_fraction, low=0.0, high=1.0,
                   low_open=True, high_open=True)
    n_i = int(math.floor(f * n_in + 0.5))  # half up, as the allowed range below says
    n_e = n_in - n_i
    if n_i < 1 or n_e < 1:
        raise ValueError(
            f"inhibitory_fraction={f!r} with n_in={n_in} leaves n_e={n_e}, n_i={n_i}; "
            "both populations need at least one neuron: choose inhibitory_fraction in "
            f"[{0.5 / n_in:.4g}, {1 - 0.5 / n_in:.4g})"
        )
    return n_e, n_i


def dale_weights(rng, n_out, n_e, n_i, scale_e, scale_i):
    """Sample a sign-constrained (Dale's-law) weight matrix.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_out : int
        Number of postsynaptic neurons (rows), >= 1.
    n_e, n_i : int
        Excitatory and inhibitory presynaptic neurons (>= 0 each, together
        >= 1): columns ``0 .. n_e - 1`` are excitatory, ``n_e .. n_e + n_i -
        1`` inhibitory.
    scale_e, scale_i : float
        Exponential scales ``a_E``, ``a_I`` > 0 (e.g. from
        :func:`dale_layer_moments`).

    Returns
    -------
    ndarray, shape (n_out, n_e + n_i)
        ``W[:, :n_e] ~ Exp(a_E)`` (``>= 0``), ``W[:, n_e:] = -Exp(a_I)``
        (``<= 0``), all entries independent.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    n_out = check_int("n_out", n_out, low=1)
    n_e = check_int("n_e", n_e, low=0)
    n_i = check_int("n_i", n_i, low=0)
    if n_e + n_i < 1:
        raise ValueError("n_e + n_i must be >= 1 (at least one presynaptic neuron); got 0")
    scale_e = check_real("scale_e", scale_e, low=0.0, low_open=True)
    scale_i = check_real("scale_i", scale_i, low=0.0, low_open=True)
    w = np.empty((n_out, n_e + n_i))
    w[:, :n_e] = rng.exponential(scale_e, size=(n_out, n_e))
    w[:, n_e:] = -rng.exponential(scale_i, size=(n_out, n_i))
    return w


def _dale_network(cfg: NetworkConfig, rule, params, rng, n_e: int, n_i: int):
    """One Dale's-law stack calibrated on itself; see :func:`simulate_dale_data_driven`."""
    n, L = cfg.width, cfg.layers
    scales = np.full((L, 2), np.nan)

    def choose(layer, s):
        r = s.mean(axis=0, dtype=np.float64)
        if not r[:n_e].any() or not r[n_e:].any():
            return None  # a silent population ends the stack (later layers 0)
        a_e, a_i = rule.from_activity(
            r, n, cfg.theta, cfg.beta, cfg.steps, inhibitory=n_i, **params
        )
        scales[layer] = a_e, a_i
        return dale_weights(rng, n, n_e, n_i, a_e, a_i)

    return dense_stack(cfg, rng, choose), scales


def simulate_dale_data_driven(cfg: NetworkConfig, reps: int = 4, seed: int = 0,
                              inhibitory_fraction: float = 0.2):
    """Simulate Dale's-law stacks that each set their weights from their own forward pass.

    Every layer of width ``n`` is split by :func:`dale_split` into ``n_e``
    excitatory neurons (indices ``0 .. n_e - 1``) and ``n_i`` inhibitory ones.
    Network ``r`` (generator :func:`~snninit.montecarlo.engine.rep_generator`
    ``(seed, r)``) draws its input ``I ~ N(0, 1)^width``, runs the encoding
    layer, and for ``l = 1..L`` measures the per-neuron rates of layer ``l -
    1`` (spikes averaged over the steps), asks the rule's ``from_activity``
    with ``inhibitory=n_i`` for the scales ``a_E``, ``a_I`` (for
    ``fluctuation``: :func:`snninit.theory.fluctuation.dale_layer_moments`)
    and draws ``W_l`` with :func:`dale_weights`. A layer whose excitatory or
    inhibitory population is silent ends the network (later layers silent,
    scales NaN).

    Parameters
    ----------
    cfg : NetworkConfig
        ``cfg.init`` a data-driven rule whose hook supports Dale's law
        (``"fluctuation"``; ``init_params`` ``mu_u``, ``xi``, ``horizon``,
        ``bernoulli`` as for the rule, a given ``nu`` standing in for the
        measured rates of both populations). ``cfg.weights`` is ignored
        (weights are exponential).
    reps, seed : int
    inhibitory_fraction : float
        Fraction of inhibitory neurons per layer, in (0, 1).

    Returns
    -------
    xarray.Dataset
        ``spikes``, ``rate`` (rep, layer 0..L, time) and ``scale_e``,
        ``scale_i`` (rep, wlayer 1..L); attrs: configuration, seed, ``n_e``,
        ``n_i``, ``calibration``.
    """
    import xarray as xr

    cfg = check_config(cfg)
    check_neuron(cfg, ("leaky",), "simulate_dale_data_driven")
    rule = _data_driven_rule(cfg, dale=True)
    reps = check_int("reps", reps, low=1)
    seed = check_int("seed", seed, low=0)
    n_e, n_i = dale_split(cfg.width, inhibitory_fraction)
    params = rule.resolve_params(cfg.init_params)
    L, T = cfg.layers, cfg.steps
    counts = np.empty((reps, L + 1, T), dtype=np.int64)
    scales = np.empty((reps, L, 2))
    for r in range(reps):
        counts[r], scales[r] = _dale_network(cfg, rule, params, rep_generator(seed, r), n_e, n_i)
    ds = xr.Dataset(
        {
            "spikes": (("rep", "layer", "time"), counts),
            "rate": (("rep", "layer", "time"), counts / cfg.width),
            "scale_e": (("rep", "wlayer"), scales[:, :, 0]),
            "scale_i": (("rep", "wlayer"), scales[:, :, 1]),
        },
        coords={
            "rep": np.arange(reps), "layer": np.arange(L + 1), "time": np.arange(T),
            "wlayer": np.arange(1, L + 1),
        },
    )
    return finish_dataset(
        ds, cfg, kind="simulation", seed=seed, reps=reps, n_e=n_e, n_i=n_i,
        inhibitory_fraction=float(inhibitory_fraction),
        calibration="Dale's law, exponential weights, data-driven, each network on itself",
    )
