"""Initialising an snntorch model by a rule of :mod:`snninit.theory.rules` (``init_snntorch``).

Layer by layer over the model's layout (:mod:`snninit.torch.snntorch_model`):
each weight layer gets the rule's mean and variance for its own fan-in and
the neurons after it, a data-driven rule its moments from the activity of a
sample batch (``InitRule.from_activity``), and the model records the rule it
was initialised with (read back by ``network_config``).
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import torch
from torch import nn

from .._checks import check_bool, check_choice
from ..config import check_limit
from ..models import NEURON_PARAMS
from ..theory.rules import (
    get_rule,
    layer_weight_moments,
    recurrent_split,
    recurrent_weight_moments,
)
from .initializers import fan_in, fill_, rule_moments
from .snntorch_model import (
    _SHAPE_ONLY,
    _as_tensor,
    _Layout,
    _layout,
    _Leaf,
    _model_dtype,
    neuron_config,
    recurrent_module,
    run_model,
)

__all__ = ["init_snntorch", "FIRST_LAYER_CHOICES"]


# --------------------------------------------------------------------------
# Initialisation
# --------------------------------------------------------------------------

FIRST_LAYER_CHOICES = ("auto", "unit", "rule")


def _first_layer_moments(n_in: int, sample: torch.Tensor | None) -> tuple[float, float]:
    # Var[w] = 1 / (n_in E[x^2]) makes the first membranes u = W x of variance
    # E[x^2] n_in Var[w] = 1: the N(0, 1) membrane the rules assume for layer 0.
    m2 = 1.0 if sample is None else float((sample.double() ** 2).mean())
    if not m2 > 0:
        raise ValueError("sample is all zeros: the first layer's input has no power")
    return 0.0, 1.0 / (n_in * m2)


def init_snntorch(
    model: nn.Module,
    sample=None,
    rule: str = "micheli",
    *,
    steps: int = 1,
    first_layer: str = "auto",
    distribution: str = "normal",
    generator: torch.Generator | None = None,
    zero_bias: bool = True,
    recurrent_fraction: float | None = None,
    **rule_params,
) -> nn.Module:
    """Initialise every weight layer of an snntorch model from the neuron it feeds.

    Each ``nn.Linear`` / ``nn.ConvNd`` is filled (in place) with i.i.d.
    weights whose mean and variance the rule gives for the layer's fan-in and
    the threshold ``theta``, leak ``beta`` and reset of the ``snntorch.Leaky``
    that follows it (see :mod:`snninit.torch.snntorch_model` for the model structure).
    A spike worth ``g`` (``graded_spikes_factor``) of the *presynaptic* Leaky
    divides the weights by ``g`` (exact: ``W (g s) = (W g) s``).

    Neurons may be ``snntorch.Leaky``, ``Synaptic`` or ``RLeaky`` (all-to-all
    ``nn.Linear`` recurrence): a rule derived for particular neuron models
    (``get_rule(rule).neurons``) refuses the others. A weight layer feeding an
    ``RLeaky`` gets the share ``1 - f`` of the rule's mean and variance and the
    ``RLeaky``'s recurrent weights the share ``f`` (``f = recurrent_fraction``,
    default 0.5; :func:`snninit.theory.rules.recurrent_split`), so that with
    equal rates the recurrent input carries the share ``f`` of the variance.

    The rules model spiking inputs whose source membranes are ~ N(0, 1). The
    first weight layer of a model *without* an encoding Leaky sees the raw
    data instead; ``first_layer`` says what it gets:

    * ``"unit"``: ``Var[w] = 1 / (n_in E[x^2])`` (mean 0), so that its
      membranes have variance 1 — the first Leaky then plays the encoding
      layer. ``E[x^2]`` is measured on ``sample`` if given, else taken as 1
      (standardised inputs).
    * ``"rule"``: the rule, as if the data were spikes.
    * ``"auto"`` (default): ``"unit"`` without an encoding layer, else the
      rule for every layer.

    Rules that set each layer differently (``get_rule(rule).per_layer``) get a
    :class:`~snninit.config.NetworkConfig` with the layer's fan-in as width,
    the neuron's theta, beta and reset, and ``steps``; the weights feeding
    model layer ``l`` take the rule's entry for hidden layer ``l`` (``l - 1``
    when the first Leaky plays the encoding layer). Data-driven rules
    (``get_rule(rule).from_activity``; parameters may stand in for the data,
    e.g. ``fluctuation`` with ``nu=``) get the presynaptic rates measured on
    ``sample`` with forward passes through the layers initialised so far.

    Parameters
    ----------
    model : nn.Sequential
        The snntorch model; modified in place.
    sample : tensor or array, optional
        An input batch ``(batch, *features)``, fed at every time step.
    rule : str
        A rule of :func:`snninit.theory.rule_names`.
    steps : int
        Number of time steps, for rules that use it (and data-driven passes).
    first_layer : {"auto", "unit", "rule"}
        See above.
    distribution : {"normal", "uniform"}
        Weight distribution.
    generator : torch.Generator, optional
        Random source.
    zero_bias : bool
        Set the initialised layers' biases to 0 (the rules assume no bias),
        the recurrent layers' too.
    recurrent_fraction : float, optional
        ``RLeaky`` models: the share in [0, 0.99] of the rule's variance that
        the recurrent weights get (default 0.5, the config's).
    **rule_params
        The rule's own parameters.

    Returns
    -------
    nn.Sequential
        ``model`` itself. ``model.snninit_init`` then lists, per weight layer,
        the rule, fan-in, neuron parameters and the mean and variance used
        (:func:`diagnose` reads it to choose the theory).

    Warns
    -----
    UserWarning
        ``reset_delay=False`` (a same-step reset the rules do not model), a
        pooling layer between a weight layer and its Leaky, a weight layer
        with no Leaky after it (left as it is), or neurons whose threshold,
        leak or reset differ from the layer before (the rules assume one
        neuron type).
    """
    layout = _layout(model)
    r = get_rule(rule, param="rule")
    steps = check_limit("steps", steps)
    check_choice("first_layer", first_layer, FIRST_LAYER_CHOICES)
    zero_bias = check_bool("zero_bias", zero_bias)
    r.resolve_params(rule_params)  # unknown parameters fail before anything changes
    recurrent_fraction = _check_models(layout, r, recurrent_fraction)
    dtype = _model_dtype(model)
    x = None if sample is None else _as_tensor(sample, dtype)
    if first_layer == "auto":
        first_layer = "rule" if layout.has_encoding else "unit"

    _warn_dynamics(layout)
    # all or nothing: a rule that fails half-way (e.g. a silent layer for a
    # data-driven rule) must not leave the model partly re-initialised
    backup = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        records = _initialise_layers(
            layout,
            r,
            rule,
            rule_params,
            x,
            steps,
            first_layer,
            distribution,
            generator,
            zero_bias,
            recurrent_fraction,
        )
    except BaseException:
        model.load_state_dict(backup)
        raise
    model.snninit_init = records
    return model


def _check_models(layout: _Layout, r, recurrent_fraction) -> float | None:
    """The rule supports every neuron model of the layout; the checked recurrent share."""
    models = {leaf.params.neuron for leaf in layout.neurons}
    if r.neurons is not None and not models <= set(r.neurons):
        allowed = ", ".join(repr(m) for m in r.neurons)
        raise ValueError(
            f"init={r.name!r} supports neuron in ({allowed}); the model has "
            f"{', '.join(sorted(repr(m) for m in models - set(r.neurons)))} neurons "
            "(snntorch Synaptic: 'synaptic', RLeaky: 'recurrent')"
        )
    if "recurrent" not in models:
        if recurrent_fraction is not None:
            raise ValueError("recurrent_fraction is for models with snntorch.RLeaky layers only")
        return None
    if recurrent_fraction is None:
        return float(NEURON_PARAMS["recurrent"]["recurrent_fraction"][0])
    return check_limit("recurrent_fraction", recurrent_fraction)


def _initialise_layers(
    layout, r, rule, rule_params, x, steps, first_layer, distribution, generator, zero_bias,
    recurrent_fraction,
) -> list[dict]:
    """Fill every weight layer that feeds a neuron; return one record per layer."""
    offset = 1 if (first_layer == "unit" and not layout.has_encoding) else 0
    per_layer_cache: dict = {}
    trains = None  # spike trains on `sample`, for data-driven rules
    # hidden layers of the equivalent simulated network: weight layers with a Leaky after
    n_hidden = sum(layout.neuron_of_layer(w.layer) is not None for w in layout.weights)
    records = []
    for w in layout.weights:
        post = layout.neuron_of_layer(w.layer)
        if post is None:
            warnings.warn(
                f"weight layer {w.name!r} has no snntorch neuron after it (a read-out?): "
                "left as it is",
                UserWarning,
                stacklevel=3,
            )
            continue
        if any(not isinstance(o.module, _SHAPE_ONLY) for o in layout.between(w)):
            warnings.warn(
                f"pooling between {w.name!r} and its Leaky: the rule assumes the Leaky "
                "receives the layer's output directly; the weights are approximate",
                UserWarning,
                stacklevel=3,
            )
        pre = layout.neuron_of_layer(w.layer - 1)
        n_in = fan_in(w.module)
        p = post.params
        recurrence = recurrent_module(post.module)
        per_layer = functools.partial(
            _per_layer_moments,
            per_layer_cache,
            params=p,
            rule=rule,
            rule_params=rule_params,
            steps=steps,
            layers=n_hidden - offset,
            hidden=w.layer - offset,
            recurrent_fraction=recurrent_fraction if recurrence is not None else None,
        )

        # a data-driven rule gets the neuron's PSP kernel (Synaptic: alpha) through its hook
        hook_params = ({**r.resolve_params(rule_params), **_psp_params(p)} if r.needs_data
                       else {})
        if pre is None and first_layer == "unit":
            mean, var, how = *_first_layer_moments(n_in, x), "unit"
        elif r.needs_data:
            try:  # parameters may stand in for the data (fluctuation with nu=...)
                mean, var = _stand_in_moments(r, rule, n_in, p, steps, rule_params, hook_params)
                how = "rule"
            except ValueError as exc:
                if trains is None:
                    trains = _SpikeTrains(layout, x, steps) if x is not None else None
                mean, var = _data_driven_moments(r, trains, w, pre, x, hook_params, exc)
                how = "data"
        elif r.per_layer is not None:
            (mean, var), _ = per_layer(n_in)
            how = "per_layer"
        else:
            mean, var = rule_moments(rule, n_in, p.theta, p.beta, steps, **rule_params)
            how = "rule"
        rec_mean = rec_var = None
        if recurrence is not None:
            # the split of DESIGN's recurrent model: (1 - f) to the feed-forward weights
            # (their own moments were for the layer's whole input), f to the recurrence,
            # the rule evaluated at the recurrence's own fan-in
            n_rec = recurrence.in_features
            if how == "per_layer":
                _, (rec_mean, rec_var) = per_layer(n_rec)
            else:
                (mean, var), _ = recurrent_split(mean, var, recurrent_fraction)
                if how == "data":  # the layer's own rates: the split assumes the same
                    total = _data_driven_moments(r, trains, w, pre, x, hook_params, None,
                                                 n_in=n_rec)
                    _, (rec_mean, rec_var) = recurrent_split(*total, recurrent_fraction)
                elif r.needs_data:
                    try:
                        total = _stand_in_moments(r, rule, n_rec, p, steps, rule_params,
                                                  hook_params)
                    except ValueError as exc:
                        raise ValueError(
                            f"rule {rule!r}: the recurrence of {post.name!r}, the first neuron "
                            f"layer (fed by the raw input), needs the layer's own rates ({exc}); "
                            "give the rule's stand-in parameter (fluctuation: nu=) or start the "
                            "model with an encoding Leaky"
                        ) from None
                    _, (rec_mean, rec_var) = recurrent_split(*total, recurrent_fraction)
                elif r.per_layer is not None:  # a unit first layer's neurons: the rule's first
                    _, (rec_mean, rec_var) = per_layer(n_rec)
                else:
                    total = rule_moments(rule, n_rec, p.theta, p.beta, steps, **rule_params)
                    _, (rec_mean, rec_var) = recurrent_split(*total, recurrent_fraction)
            # the layer's own spikes, worth g each, feed the recurrence
            own = p.graded
            rec_mean, rec_var = rec_mean / own, rec_var / own**2
            fill_(recurrence.weight, rec_mean, rec_var, distribution, generator)
            if zero_bias and recurrence.bias is not None:
                with torch.no_grad():
                    recurrence.bias.zero_()
        g = 1.0 if pre is None else pre.params.graded
        mean, var = mean / g, var / g**2
        fill_(w.module.weight, mean, var, distribution, generator)
        if zero_bias and w.module.bias is not None:
            with torch.no_grad():
                w.module.bias.zero_()
        record = {
            "name": w.name,
            "layer": w.layer,
            "rule": rule if how != "unit" else "unit",
            "requested": rule,  # the rule asked for, also where this layer got "unit"
            "params": dict(rule_params),
            "fan_in": n_in,
            "mean": mean,
            "var": var,
            "theta": p.theta,
            "beta": p.beta,
            "reset": p.reset,
            "steps": steps,
            "distribution": distribution,
            "zero_bias": zero_bias,
        }
        if p.neuron != "leaky":
            record["neuron"] = p.neuron
        if p.alpha is not None:
            record["alpha"] = p.alpha
        if recurrence is not None:
            record.update(
                recurrent_fraction=recurrent_fraction,
                recurrent_mean=rec_mean,
                recurrent_var=rec_var,
            )
        records.append(record)
    return records


def _per_layer_moments(
    cache, width, *, params, rule, rule_params, steps, layers, hidden, recurrent_fraction
):
    """A per-layer rule's ``((mean, var), (rec_mean, rec_var))`` at hidden layer ``hidden``.

    From a :class:`NetworkConfig` of the neuron ``params`` (its model too) with
    fan-in ``width``; the recurrent moments are zeros but for ``RLeaky``
    neurons. A unit first layer's neurons (``hidden == 0``) take the rule's
    first layer. ``cache`` holds one config's arrays per key.
    """
    p = params
    key = (width, p.theta, p.beta, p.reset, p.neuron, p.alpha)
    if key not in cache:
        cfg = neuron_config(
            p,
            width=width,
            layers=layers,
            steps=steps,
            init=rule,
            init_params=rule_params,
            recurrent_fraction=recurrent_fraction,
        )
        cache[key] = (layer_weight_moments(cfg), recurrent_weight_moments(cfg))
    (means, variances), (rec_means, rec_vars) = cache[key]
    i = max(hidden, 1) - 1
    return (float(means[i]), float(variances[i])), (float(rec_means[i]), float(rec_vars[i]))


def _warn_dynamics(layout: _Layout) -> None:
    neurons = layout.neurons
    if any(not n.params.reset_delay for n in neurons):
        warnings.warn(
            "snntorch.Leaky(reset_delay=False) resets in the step of the spike; the rules "
            "and theory assume the delayed reset (reset_delay=True, DESIGN.md 1b), so the "
            "initialisation is approximate over many time steps",
            UserWarning,
            stacklevel=3,
        )
    if any(n.params.neuron != "leaky" and n.params.reset == "zero" for n in neurons):
        warnings.warn(
            "snntorch's Synaptic and RLeaky zero reset zeroes the whole new membrane (the "
            "step's input too), unlike Leaky's, which the rules assume; the initialisation "
            "is approximate over many time steps and diagnose adds no theory",
            UserWarning,
            stacklevel=3,
        )
    kinds = {(n.params.theta, n.params.beta, n.params.reset) for n in neurons}
    if len(kinds) > 1:
        warnings.warn(
            "the Leaky layers differ in threshold, leak or reset; each weight layer is "
            "initialised for the neuron it feeds, but the rules assume one neuron type "
            "throughout (its input spikes come from a different neuron)",
            UserWarning,
            stacklevel=3,
        )


class _SpikeTrains:
    """Output spike trains of successive Leaky layers on a fixed input, computed once each.

    The trains of layer ``l`` are obtained by running only the leaves between
    layer ``l - 1`` and layer ``l`` on the stored trains of layer ``l - 1``
    (the layers below are already initialised and no longer change), so a
    data-driven initialisation costs one forward pass in all, not one per layer.
    """

    def __init__(self, layout: _Layout, x: torch.Tensor, steps: int):
        self.layout, self.x, self.steps = layout, x, steps
        self.leaf: _Leaf | None = None  # the Leaky whose trains are stored
        self.trains: list[torch.Tensor] = []

    def rates(self, neuron: _Leaf) -> np.ndarray:
        """Per-neuron spike rate of ``neuron`` (mean over batch and steps)."""
        if neuron is self.leaf:  # asked again (an RLeaky's recurrence after its input)
            return self.last_rates
        leaves = self.layout.leaves
        start = 0 if self.leaf is None else leaves.index(self.leaf) + 1
        if self.leaf is not None and leaves.index(neuron) < start:
            raise RuntimeError("spike trains must be requested layer by layer")  # pragma: no cover
        segment = _Layout(leaves[start : leaves.index(neuron) + 1])
        stored = self.trains
        trains: list[torch.Tensor] = []

        def record(leaf, t, mem, spk):
            if leaf is neuron:
                trains.append(spk.detach().clone())

        feed = (lambda t: self.x) if self.leaf is None else (lambda t: stored[t])
        run_model(segment, feed, self.steps, record)
        self.leaf, self.trains = neuron, trains
        fired = torch.stack([(t.reshape(t.shape[0], -1) != 0).double() for t in trains])
        self.last_rates = fired.mean(dim=(0, 1)).cpu().numpy()
        return self.last_rates


def _stand_in_moments(r, rule, n_in, p, steps, rule_params, hook_params):
    """A data-driven rule's moments where its parameters stand in for the data.

    The rule's closed form decides whether they do (it raises ``ValueError``
    when the rule needs the data after all). For a Synaptic the moments then
    come from the rule's hook with no rates, so that the neuron's ``alpha``
    (its PSP kernel) reaches the rule, as the hook's contract says
    (:class:`~snninit.theory.rules.InitRule`). The closed form alone would
    use the leaky kernel: a hook that does not take ``rates_in=None`` and
    ``alpha`` is an error, never a silent fallback to it.
    """
    closed = rule_moments(rule, n_in, p.theta, p.beta, steps, _allow_data=True, **rule_params)
    if not _psp_params(p):
        return closed
    try:
        return r.from_activity(None, n_in, p.theta, p.beta, steps, **hook_params)
    except TypeError as exc:
        raise ValueError(
            f"rule {rule!r}: its from_activity hook must take rates_in=None and alpha= (the "
            f"synaptic decay of snntorch.Synaptic neurons) to initialise them; it raised "
            f"TypeError: {exc}"
        ) from None


def _psp_params(p) -> dict:
    """The PSP-kernel keywords of a data-driven rule's hook for neurons ``p``.

    As :func:`snninit.theory.rules.psp_params` for a config: ``alpha`` for
    ``Synaptic`` neurons, nothing for the others.
    """
    return {"alpha": p.alpha} if p.neuron == "synaptic" else {}


def _data_driven_moments(r, trains, w, pre, x, hook_params, why, n_in=None):
    """``r.from_activity`` at the measured rates of the neuron ``pre`` feeding ``w``.

    The rates are one per presynaptic neuron (length ``n_in``), or their mean
    (a float) when the layer's inputs are not one neuron each (convolutions,
    or ``n_in`` given: another fan-in, the recurrence's). ``hook_params``
    are the rule's resolved parameters and the neuron's PSP keywords.
    """
    if x is None:
        raise ValueError(
            f"rule {r.name!r} needs data ({why}): pass sample= (an input batch) to init_snntorch"
        )
    if pre is None:
        raise ValueError(
            f"rule {r.name!r} measures the spike rate of the layer feeding {w.name!r}, which "
            "is fed by the raw input; use first_layer='unit' (or an encoding Leaky)"
        )
    rates = trains.rates(pre)
    n_in = fan_in(w.module) if n_in is None else n_in
    measured = rates if rates.size == n_in else float(rates.mean())
    post = trains.layout.neuron_of_layer(w.layer).params
    return r.from_activity(measured, n_in, post.theta, post.beta, trains.steps, **hook_params)
