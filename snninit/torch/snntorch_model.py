"""snntorch models as snninit sees them: layout, neuron parameters, initialisation.

An "nn.Sequential-style snntorch model" is an ``nn.Sequential`` (nested
``nn.Sequential`` blocks are flattened) whose leaves are

* weight layers ``nn.Linear`` / ``nn.Conv1d/2d/3d``,
* neurons ``snntorch.Leaky`` (exactly that class; other neuron models have
  other dynamics and are refused),
* shape-only or pooling layers (``nn.Flatten``, ``nn.Unflatten``,
  ``nn.Identity``, ``nn.Dropout*`` (identity in eval mode), ``nn.MaxPool*``,
  ``nn.AvgPool*``).

Layer numbering follows the simulations (DESIGN.md section 6): a ``Leaky``
preceded by ``l`` weight layers is layer ``l``. So a model that *starts* with
a ``Leaky`` fed by the raw input has an encoding layer 0 (its membrane is the
input, exactly as in :func:`snninit.montecarlo.simulate`); a model that starts
with a weight layer has no layer 0 and its first ``Leaky`` is layer 1.

The neuron dynamics the rules and the theory assume are those of
``snntorch.Leaky(beta, threshold, reset_mechanism=..., reset_delay=True)``:
``u^t = beta u^{t-1} + input^t - theta s^{t-1}`` (subtract), ``u^t = beta
(1 - s^{t-1}) u^{t-1} + input^t`` (zero) or no reset, ``s^t = H(u^t -
theta)``. Settings that change these dynamics are refused
(``inhibition=True``, ``state_quant``, a per-neuron threshold or leak) or
handled exactly (``graded_spikes_factor`` g: a spike is worth g, so the
next layer's weights are divided by g) or warned about (``reset_delay=False``
resets in the same step, which the rules do not model).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from .._checks import check_bool, check_choice
from ..config import NetworkConfig, check_limit
from ..theory.rules import get_rule, layer_weight_moments
from ._compat import require
from .initializers import SUPPORTED_MODULES, _as_float, fan_in, fill_, rule_moments

__all__ = [
    "NeuronParams",
    "describe_model",
    "init_snntorch",
    "network_config",
    "model_weights",
    "neuron_params",
]

_PASS_THROUGH = (
    nn.Flatten,
    nn.Unflatten,
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
)
_SHAPE_ONLY = (
    nn.Flatten,
    nn.Unflatten,
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
)


@dataclasses.dataclass(frozen=True)
class NeuronParams:
    """The parameters of one ``snntorch.Leaky`` that the rules and theory use."""

    theta: float
    beta: float
    reset: str
    reset_delay: bool
    graded: float  # value of one output spike (snntorch's graded_spikes_factor)


@dataclasses.dataclass
class _Leaf:
    name: str
    module: nn.Module
    kind: str  # "weight", "neuron" or "other"
    layer: int  # weight: the layer it feeds; neuron: its layer; other: -1
    params: NeuronParams | None = None


@dataclasses.dataclass
class _Layout:
    leaves: list[_Leaf]

    @property
    def neurons(self) -> list[_Leaf]:
        return [leaf for leaf in self.leaves if leaf.kind == "neuron"]

    @property
    def weights(self) -> list[_Leaf]:
        return [leaf for leaf in self.leaves if leaf.kind == "weight"]

    @property
    def has_encoding(self) -> bool:
        return bool(self.neurons) and self.neurons[0].layer == 0

    def neuron_of_layer(self, layer: int) -> _Leaf | None:
        for leaf in self.neurons:
            if leaf.layer == layer:
                return leaf
        return None

    def between(self, weight: _Leaf) -> list[_Leaf]:
        """The non-weight, non-neuron leaves between ``weight`` and its neuron."""
        i = self.leaves.index(weight) + 1
        out = []
        while i < len(self.leaves) and self.leaves[i].kind == "other":
            out.append(self.leaves[i])
            i += 1
        return out


def _leaky_class():
    return require("snntorch").Leaky


def neuron_params(leaky: nn.Module) -> NeuronParams:
    """Read threshold, leak, reset and spike value of an ``snntorch.Leaky``.

    Raises
    ------
    ValueError
        For neuron settings whose dynamics the rules and theory do not cover:
        ``inhibition=True`` (winner-take-all couples the neurons),
        ``state_quant`` (quantised membrane), a threshold, leak or spike value
        that differs between neurons, or a spike value <= 0.
    """
    Leaky = _leaky_class()
    if type(leaky) is not Leaky:
        raise ValueError(
            f"neuron must be snntorch.Leaky (other neuron models have other dynamics); "
            f"got {type(leaky).__name__}"
        )
    if getattr(leaky, "inhibition", False):
        raise ValueError(
            "snntorch.Leaky(inhibition=True) is not supported: winner-take-all inhibition "
            "couples the neurons of a layer, which every rule assumes independent"
        )
    if getattr(leaky, "state_quant", False):
        raise ValueError(
            "snntorch.Leaky(state_quant=...) is not supported: a quantised membrane is not "
            "the continuous membrane the rules assume"
        )
    theta = float(_as_float("threshold", leaky.threshold))
    # Leaky clamps beta to [0, 1] in its forward pass; so do we.
    beta = float(_as_float("beta", leaky.beta.detach().clamp(0, 1)))
    graded = float(_as_float("graded_spikes_factor", leaky.graded_spikes_factor))
    if not math.isfinite(theta) or theta < 0:
        raise ValueError(f"threshold must be finite and >= 0; got {theta!r}")
    if not math.isfinite(graded) or graded <= 0:
        raise ValueError(f"graded_spikes_factor must be finite and > 0; got {graded!r}")
    # The forward pass dispatches on `state_function`, bound at construction; read
    # the mechanism from it (a loaded state dict can change reset_mechanism_val only).
    functions = {Leaky._base_sub: "subtract", Leaky._base_zero: "zero", Leaky._base_int: "none"}
    reset = functions.get(getattr(leaky.state_function, "__func__", None))
    if reset is None:
        raise ValueError("snntorch.Leaky has an unknown state function (patched?)")
    stored = int(leaky.reset_mechanism_val)
    if stored != {"subtract": 0, "zero": 1, "none": 2}[reset]:
        raise ValueError(
            f"snntorch.Leaky's reset_mechanism_val ({stored}) disagrees with the reset its "
            f"forward pass applies ({reset!r}); construct the Leaky with the reset you want"
        )
    return NeuronParams(theta, beta, reset, bool(getattr(leaky, "reset_delay", True)), graded)


def _flatten(model: nn.Module, prefix: str = "") -> Iterator[tuple[str, nn.Module]]:
    for name, child in model.named_children():
        path = f"{prefix}{name}"
        if type(child) is nn.Sequential:
            yield from _flatten(child, path + ".")
        else:
            yield path, child


def _layout(model: nn.Module) -> _Layout:
    if type(model) is not nn.Sequential:
        raise ValueError(
            "model must be an nn.Sequential of Linear/Conv layers each followed by "
            f"snntorch.Leaky; got {type(model).__name__} (wrap the layers in nn.Sequential)"
        )
    Leaky = _leaky_class()
    leaves: list[_Leaf] = []
    n_weights = 0
    last_neuron_layer = None
    pending_weight: _Leaf | None = None
    for name, module in _flatten(model):
        if isinstance(module, SUPPORTED_MODULES):
            if pending_weight is not None:
                raise ValueError(
                    f"weight layer {pending_weight.name!r} is followed by another weight "
                    f"layer {name!r} without an snntorch.Leaky in between"
                )
            n_weights += 1
            leaf = _Leaf(name, module, "weight", n_weights)
            pending_weight = leaf
        elif isinstance(module, Leaky) or type(module).__module__.startswith("snntorch"):
            params = neuron_params(module)
            if last_neuron_layer is not None and n_weights == last_neuron_layer:
                raise ValueError(
                    f"snntorch.Leaky {name!r} follows another Leaky without a weight layer "
                    "in between"
                )
            leaf = _Leaf(name, module, "neuron", n_weights, params)
            last_neuron_layer = n_weights
            pending_weight = None
        elif isinstance(module, _PASS_THROUGH):
            leaf = _Leaf(name, module, "other", -1)
        else:
            allowed = ", ".join(c.__name__ for c in (*SUPPORTED_MODULES, *_PASS_THROUGH))
            raise ValueError(
                f"model layer {name!r} of type {type(module).__name__} is not supported; "
                f"allowed: snntorch.Leaky, {allowed}"
            )
        leaves.append(leaf)
    layout = _Layout(leaves)
    if not layout.neurons:
        raise ValueError("model has no snntorch.Leaky layer")
    return layout


def describe_model(model: nn.Module) -> list[dict]:
    """The model as snninit reads it: one dict per leaf module, in order.

    Each dict has ``name``, ``type``, ``kind`` ("weight", "neuron", "other")
    and ``layer`` (weights: the layer they feed; neurons: their layer, 0 = the
    encoding layer; others: -1); weights add ``fan_in``; neurons add
    ``theta``, ``beta``, ``reset``, ``reset_delay``, ``graded``.
    """
    out = []
    for leaf in _layout(model).leaves:
        row = {
            "name": leaf.name,
            "type": type(leaf.module).__name__,
            "kind": leaf.kind,
            "layer": leaf.layer,
        }
        if leaf.kind == "weight":
            row["fan_in"] = fan_in(leaf.module)
        if leaf.params is not None:
            row.update(dataclasses.asdict(leaf.params))
        out.append(row)
    return out


# --------------------------------------------------------------------------
# Forward passes
# --------------------------------------------------------------------------


def _as_tensor(sample, dtype, name="sample") -> torch.Tensor:
    if isinstance(sample, torch.Tensor):
        x = sample.detach()
    else:
        try:
            x = torch.as_tensor(np.asarray(sample, dtype=float))
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a tensor or numeric array; got {sample!r}") from None
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    if x.dim() < 2 or x.shape[0] < 1:
        raise ValueError(
            f"{name} must be a batch (batch, *features) with at least one element; "
            f"got shape {tuple(x.shape)}"
        )
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return x.to(dtype)


def _model_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def run_model(
    layout: _Layout,
    inputs: Callable[[int], torch.Tensor],
    steps: int,
    record: Callable[[_Leaf, int, torch.Tensor, torch.Tensor], None],
) -> None:
    """Run the flattened model for ``steps`` time steps, calling ``record`` per neuron.

    ``inputs(t)`` is the input batch at step ``t``; ``record(leaf, t, mem,
    spk)`` receives each Leaky's membrane (as snntorch stores it) and output.
    Every Leaky's state is reset before and after.
    """
    neurons = [leaf.module for leaf in layout.neurons]
    # the dtype the weight layers compute in (None: no weight layer, keep the input's)
    dtype = layout.weights[0].module.weight.dtype if layout.weights else None
    for leaky in neurons:
        leaky.mem = torch.zeros(0)  # Leaky re-creates zeros of the input's shape
    try:
        with torch.no_grad():
            for t in range(steps):
                h = inputs(t)
                dtype = h.dtype if dtype is None else dtype
                for leaf in layout.leaves:
                    if leaf.kind == "neuron":
                        out = leaf.module(h)
                        spk = out[0] if isinstance(out, tuple) else out
                        record(leaf, t, leaf.module.mem, spk)
                        # snntorch's surrogate returns float32 spikes whatever the model's
                        # dtype; 0/1 (times g) cast exactly, so a float64 copy can run
                        h = spk if spk.dtype == dtype else spk.to(dtype)
                    else:
                        h = leaf.module(h)
    finally:
        for leaky in neurons:
            leaky.mem = torch.zeros(0)


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
    **rule_params,
) -> nn.Module:
    """Initialise every weight layer of an snntorch model from the neuron it feeds.

    Each ``nn.Linear`` / ``nn.ConvNd`` is filled (in place) with i.i.d.
    weights whose mean and variance the rule gives for the layer's fan-in and
    the threshold ``theta``, leak ``beta`` and reset of the ``snntorch.Leaky``
    that follows it (see :mod:`snninit.torch.snntorch_model` for the model structure).
    A spike worth ``g`` (``graded_spikes_factor``) of the *presynaptic* Leaky
    divides the weights by ``g`` (exact: ``W (g s) = (W g) s``).

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
        Set the initialised layers' biases to 0 (the rules assume no bias).
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
    r = get_rule(rule)
    steps = check_limit("steps", steps)
    check_choice("first_layer", first_layer, FIRST_LAYER_CHOICES)
    zero_bias = check_bool("zero_bias", zero_bias)
    r.resolve_params(rule_params)  # unknown parameters fail before anything changes
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
        )
    except BaseException:
        model.load_state_dict(backup)
        raise
    model.snninit_init = records
    return model


def _initialise_layers(
    layout, r, rule, rule_params, x, steps, first_layer, distribution, generator, zero_bias
) -> list[dict]:
    """Fill every weight layer that feeds a Leaky; return one record per layer."""
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
                f"weight layer {w.name!r} has no snntorch.Leaky after it (a read-out?): "
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
        if pre is None and first_layer == "unit":
            mean, var, how = *_first_layer_moments(n_in, x), "unit"
        elif r.needs_data:
            try:  # parameters may stand in for the data (fluctuation with nu=...)
                mean, var = rule_moments(
                    rule, n_in, p.theta, p.beta, steps, _allow_data=True, **rule_params
                )
                how = "rule"
            except ValueError as exc:
                if trains is None:
                    trains = _SpikeTrains(layout, x, steps) if x is not None else None
                mean, var = _data_driven_moments(r, trains, w, pre, x, rule_params, exc)
                how = "data"
        elif r.per_layer is not None:
            hidden = w.layer - offset
            key = (n_in, p.theta, p.beta, p.reset)
            if key not in per_layer_cache:
                cfg = NetworkConfig(
                    width=n_in,
                    layers=n_hidden - offset,
                    steps=steps,
                    theta=p.theta,
                    beta=p.beta,
                    reset=p.reset,
                    init=rule,
                    init_params=rule_params,
                )
                per_layer_cache[key] = layer_weight_moments(cfg)
            means, variances = per_layer_cache[key]
            mean, var, how = float(means[hidden - 1]), float(variances[hidden - 1]), "per_layer"
        else:
            mean, var = rule_moments(rule, n_in, p.theta, p.beta, steps, **rule_params)
            how = "rule"
        g = 1.0 if pre is None else pre.params.graded
        mean, var = mean / g, var / g**2
        fill_(w.module.weight, mean, var, distribution, generator)
        if zero_bias and w.module.bias is not None:
            with torch.no_grad():
                w.module.bias.zero_()
        records.append(
            {
                "name": w.name,
                "layer": w.layer,
                "rule": rule if how != "unit" else "unit",
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
        )
    return records


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
        return fired.mean(dim=(0, 1)).cpu().numpy()


def _data_driven_moments(r, trains, w, pre, x, rule_params, why):
    """``r.from_activity`` at the measured rates of the Leaky ``pre`` feeding ``w``.

    The rates are one per presynaptic neuron (length ``n_in``), or their mean
    (a float) when the layer's inputs are not one neuron each (convolutions).
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
    n_in = fan_in(w.module)
    measured = rates if rates.size == n_in else float(rates.mean())
    post = trains.layout.neuron_of_layer(w.layer).params
    return r.from_activity(
        measured, n_in, post.theta, post.beta, trains.steps, **r.resolve_params(rule_params)
    )


# --------------------------------------------------------------------------
# The model as a NetworkConfig and weight matrices (for simulation and theory)
# --------------------------------------------------------------------------


def recorded_rule(model: nn.Module) -> tuple[str, dict] | None:
    """The ``(rule, params)`` :func:`init_snntorch` used for every hidden layer, if one."""
    records = getattr(model, "snninit_init", None)
    if not records:
        return None
    rules = {
        (rec["rule"], tuple(sorted(rec["params"].items())))
        for rec in records
        if rec["rule"] != "unit"
    }
    if len(rules) != 1:
        return None
    name, params = rules.pop()
    return name, dict(params)


def network_config(
    model: nn.Module, steps: int = 1, init: str | None = None, **init_params
) -> NetworkConfig:
    """The :class:`~snninit.config.NetworkConfig` that describes ``model`` exactly.

    Possible when the model is an encoding ``Leaky`` followed by ``L`` pairs
    (``nn.Linear(n, n)`` without bias or with zero bias, ``Leaky``), all
    neurons alike (theta, beta, reset, ``reset_delay=True``, spike value 1).
    ``init`` defaults to the rule recorded by :func:`init_snntorch`.

    Raises
    ------
    ValueError
        Saying which part of the model has no counterpart in the config, or
        that the init rule is unknown.
    """
    layout = _layout(model)
    steps = check_limit("steps", steps)
    if not layout.has_encoding:
        raise ValueError("the model has no encoding layer (it does not start with a Leaky)")
    if len(layout.neurons) != len(layout.weights) + 1:
        raise ValueError("the model does not end with a Leaky after every weight layer")
    for leaf in layout.leaves:
        if leaf.kind == "other" and not isinstance(leaf.module, (nn.Identity, nn.Dropout)):
            raise ValueError(
                f"layer {leaf.name!r} ({type(leaf.module).__name__}) has no "
                "counterpart in the simulated network"
            )
    width = None
    for w in layout.weights:
        if not isinstance(w.module, nn.Linear):
            raise ValueError(f"layer {w.name!r} is not nn.Linear")
        n_in, n_out = w.module.in_features, w.module.out_features
        width = n_in if width is None else width
        if n_in != width or n_out != width:
            raise ValueError(
                f"layer {w.name!r} maps {n_in} -> {n_out} neurons; the simulated network "
                f"has width {width} throughout"
            )
        if w.module.bias is not None and bool(torch.any(w.module.bias != 0)):
            raise ValueError(f"layer {w.name!r} has a non-zero bias")
    params = {n.params for n in layout.neurons}
    if len(params) != 1:
        raise ValueError("the Leaky layers differ in threshold, leak, reset or spike value")
    p = params.pop()
    if not p.reset_delay:
        raise ValueError("reset_delay=False has no counterpart in the simulated network")
    if p.graded != 1.0:
        raise ValueError("graded_spikes_factor != 1 has no counterpart in the simulated network")
    from_record = init is None
    if from_record:
        recorded = recorded_rule(model)
        if recorded is None:
            raise ValueError(
                "the model's init rule is unknown (not set by init_snntorch); pass init="
            )
        init, init_params = recorded[0], {**recorded[1], **init_params}
    cfg = NetworkConfig(
        width=width,
        layers=len(layout.weights),
        steps=steps,
        theta=p.theta,
        beta=p.beta,
        reset=p.reset,
        init=init,
        init_params=init_params,
    )
    if from_record:
        # the config's rule must give the moments the weights were drawn with (a rule
        # may depend on steps, or have measured data the config cannot reproduce)
        mean, var = layer_weight_moments(cfg)
        used = model.snninit_init
        if not (
            np.allclose(var, [r["var"] for r in used], rtol=1e-9, atol=0.0)
            and np.allclose(mean, [r["mean"] for r in used], rtol=1e-9, atol=1e-15)
        ):
            steps_used = sorted({r["steps"] for r in used})
            raise ValueError(
                f"the weights were drawn by init_snntorch(rule={init!r}, steps={steps_used}) "
                f"with moments that the config (steps={steps}) does not reproduce (a rule "
                "that depends on the number of steps, or one that measured data)"
            )
    return cfg


def model_weights(model: nn.Module) -> list[np.ndarray]:
    """The weight matrices ``W_l`` (shape ``(n_out, n_in)``, float64) of the Linear layers.

    Each is multiplied by the presynaptic spike value (``graded_spikes_factor``)
    so that ``u_l = W_l s_{l-1}`` with 0/1 spikes, as in the simulations.
    """
    layout = _layout(model)
    out = []
    for w in layout.weights:
        if not isinstance(w.module, nn.Linear):
            raise ValueError(f"layer {w.name!r} is not nn.Linear")
        pre = layout.neuron_of_layer(w.layer - 1)
        g = 1.0 if pre is None else pre.params.graded
        out.append(w.module.weight.detach().to(torch.float64).cpu().numpy() * g)
    return out


def copy_model(model: nn.Module, dtype: torch.dtype | None = None) -> nn.Module:
    """A deep copy in eval mode (optionally converted to ``dtype``) for diagnosis."""
    twin = copy.deepcopy(model)
    twin.eval()
    if dtype is not None:
        twin.to(dtype)
    return twin
