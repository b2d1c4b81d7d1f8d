"""snntorch models as snninit sees them: layout, neuron parameters, initialisation.

An "nn.Sequential-style snntorch model" is an ``nn.Sequential`` (nested
``nn.Sequential`` blocks are flattened) whose leaves are

* weight layers ``nn.Linear`` / ``nn.Conv1d/2d/3d``,
* neurons ``snntorch.Leaky``, ``snntorch.Synaptic`` (our ``synaptic`` model)
  or ``snntorch.RLeaky(all_to_all=True, linear_features=n)`` (our
  ``recurrent`` model, its ``recurrent`` ``nn.Linear`` the weights ``V``);
  exactly those classes, other neuron models have other dynamics and are
  refused,
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
resets in the same step, which the rules do not model). ``Synaptic`` adds
the synaptic current ``I^t = alpha I^{t-1} + input^t`` in place of the input
and ``RLeaky`` the recurrent input ``V s^{t-1}`` (:mod:`snninit.models`).
Their "zero" reset differs from ``Leaky``'s (it zeroes the whole new
membrane, the step's input included): such models are initialised, with a
warning, but have no simulated counterpart.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from .._lazy import lazy_exports
from ..config import NetworkConfig, check_limit
from ..theory.rules import layer_weight_moments, recurrent_weight_moments
from ._compat import require
from .initializers import SUPPORTED_MODULES, _as_float, fan_in

__all__ = [
    "NeuronParams",
    "describe_model",
    "network_config",
    "model_weights",
    "model_recurrent_weights",
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
#: The state buffers of snntorch's Leaky (mem), Synaptic (syn, mem) and RLeaky (spk, mem).
_STATE_BUFFERS = ("mem", "syn", "spk")

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
    """The parameters of one snntorch neuron that the rules and theory use.

    ``neuron`` is the model's name in :data:`snninit.models.NEURONS`
    (``Leaky``: "leaky", ``Synaptic``: "synaptic", ``RLeaky``: "recurrent");
    ``alpha`` the synaptic decay of a ``Synaptic`` (None otherwise).
    """

    theta: float
    beta: float
    reset: str
    reset_delay: bool
    graded: float  # value of one output spike (snntorch's graded_spikes_factor)
    neuron: str = "leaky"
    alpha: float | None = None


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


def _neuron_classes() -> dict[type, str]:
    """snntorch's neuron classes that we model, and our model's name for each."""
    snn = require("snntorch")
    return {snn.Leaky: "leaky", snn.Synaptic: "synaptic", snn.RLeaky: "recurrent"}


def _check_recurrence(rleaky: nn.Module) -> None:
    # our recurrent model is all-to-all through one square weight matrix V
    recurrent = getattr(rleaky, "recurrent", None)
    if not getattr(rleaky, "all_to_all", False):
        raise ValueError(
            "snntorch.RLeaky(all_to_all=False) is not supported: its one-to-one recurrence "
            "(V s per neuron) is not the all-to-all recurrent weights the recurrent model "
            "has; use all_to_all=True, linear_features=n"
        )
    if type(recurrent) is not nn.Linear or recurrent.in_features != recurrent.out_features:
        raise ValueError(
            "snntorch.RLeaky must have an all-to-all nn.Linear(n, n) recurrence "
            f"(linear_features=n); got {type(recurrent).__name__} (convolutional "
            "recurrence is not modelled)"
        )


def recurrent_module(neuron: nn.Module) -> nn.Linear | None:
    """The recurrent ``nn.Linear`` of an ``snntorch.RLeaky`` (None for other neurons)."""
    if _neuron_classes().get(type(neuron)) != "recurrent":
        return None
    _check_recurrence(neuron)
    return neuron.recurrent


def neuron_params(leaky: nn.Module) -> NeuronParams:
    """Read model, threshold, leak, reset and spike value of an snntorch neuron.

    ``Leaky``, ``Synaptic`` (its ``alpha`` too) or ``RLeaky`` with an
    all-to-all ``nn.Linear`` recurrence.

    Raises
    ------
    ValueError
        For neuron settings whose dynamics the rules and theory do not cover:
        another neuron class, ``inhibition=True`` (winner-take-all couples the
        neurons), ``state_quant`` (quantised membrane), a threshold, leak,
        synaptic decay or spike value that differs between neurons, a spike
        value <= 0, or an ``RLeaky`` with one-to-one or convolutional recurrence.
    """
    classes = _neuron_classes()
    neuron = classes.get(type(leaky))
    if neuron is None:
        raise ValueError(
            "neuron must be snntorch.Leaky, Synaptic or RLeaky (other neuron models have "
            f"other dynamics); got {type(leaky).__name__}"
        )
    Leaky = type(leaky)
    kind = Leaky.__name__
    if neuron == "recurrent":
        _check_recurrence(leaky)
    if getattr(leaky, "inhibition", False):
        raise ValueError(
            f"snntorch.{kind}(inhibition=True) is not supported: winner-take-all inhibition "
            "couples the neurons of a layer, which every rule assumes independent"
        )
    if getattr(leaky, "state_quant", False):
        raise ValueError(
            f"snntorch.{kind}(state_quant=...) is not supported: a quantised membrane is not "
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
        raise ValueError(f"snntorch.{kind} has an unknown state function (patched?)")
    stored = int(leaky.reset_mechanism_val)
    if stored != {"subtract": 0, "zero": 1, "none": 2}[reset]:
        raise ValueError(
            f"snntorch.{kind}'s reset_mechanism_val ({stored}) disagrees with the reset its "
            f"forward pass applies ({reset!r}); construct the {kind} with the reset you want"
        )
    alpha = None
    if neuron == "synaptic":
        # Synaptic clamps alpha to [0, 1] in its forward pass; so do we.
        alpha = float(_as_float("alpha", leaky.alpha.detach().clamp(0, 1)))
    delay = bool(getattr(leaky, "reset_delay", True))
    return NeuronParams(theta, beta, reset, delay, graded, neuron, alpha)


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
    classes = _neuron_classes()
    leaves: list[_Leaf] = []
    n_weights = 0
    last_neuron_layer = None
    pending_weight: _Leaf | None = None
    for name, module in _flatten(model):
        if isinstance(module, SUPPORTED_MODULES):
            if pending_weight is not None:
                raise ValueError(
                    f"weight layer {pending_weight.name!r} is followed by another weight "
                    f"layer {name!r} without an snntorch neuron (Leaky) in between"
                )
            n_weights += 1
            leaf = _Leaf(name, module, "weight", n_weights)
            pending_weight = leaf
        elif type(module) in classes or type(module).__module__.startswith("snntorch"):
            params = neuron_params(module)
            if last_neuron_layer is not None and n_weights == last_neuron_layer:
                raise ValueError(
                    f"snntorch neuron {name!r} follows another neuron without a weight layer "
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
                f"allowed: snntorch.Leaky, Synaptic, RLeaky, {allowed}"
            )
        leaves.append(leaf)
    layout = _Layout(leaves)
    if not layout.neurons:
        raise ValueError("model has no snntorch neuron (Leaky, Synaptic or RLeaky) layer")
    return layout


def describe_model(model: nn.Module) -> list[dict]:
    """The model as snninit reads it: one dict per leaf module, in order.

    Each dict has ``name``, ``type``, ``kind`` ("weight", "neuron", "other")
    and ``layer`` (weights: the layer they feed; neurons: their layer, 0 = the
    encoding layer; others: -1); weights add ``fan_in``; neurons add
    ``neuron`` (our model's name), ``theta``, ``beta``, ``reset``,
    ``reset_delay``, ``graded`` (and ``alpha`` for a ``Synaptic``).
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
            row.update({k: v for k, v in dataclasses.asdict(leaf.params).items() if v is not None})
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
    spk)`` receives each neuron's membrane (as snntorch stores it) and output.
    Every neuron's state (membrane, synaptic current, last spikes) is reset
    before and after.
    """
    neurons = [leaf.module for leaf in layout.neurons]
    # the dtype the weight layers compute in (None: no weight layer, keep the input's)
    dtype = layout.weights[0].module.weight.dtype if layout.weights else None

    def clear():
        for leaky in neurons:
            for state in _STATE_BUFFERS:  # snntorch re-creates zeros of the input's shape
                if hasattr(leaky, state):
                    setattr(leaky, state, torch.zeros(0))

    clear()
    try:
        with torch.no_grad():
            for t in range(steps):
                h = inputs(t)
                dtype = h.dtype if dtype is None else dtype
                for leaf in layout.leaves:
                    if leaf.kind == "neuron":
                        out = leaf.module(h)
                        spk = out[0] if isinstance(out, tuple) else out
                        if leaf.params.neuron == "recurrent":
                            # RLeaky keeps its float32 spikes for V s^{t-1}; the 0/1 cast
                            # to the recurrence's dtype is exact
                            rec = leaf.module.recurrent.weight.dtype
                            leaf.module.spk = leaf.module.spk.to(rec)
                        record(leaf, t, leaf.module.mem, spk)
                        # snntorch's surrogate returns float32 spikes whatever the model's
                        # dtype; 0/1 (times g) cast exactly, so a float64 copy can run
                        h = spk if spk.dtype == dtype else spk.to(dtype)
                    else:
                        h = leaf.module(h)
    finally:
        clear()


# --------------------------------------------------------------------------
# The model as a NetworkConfig and weight matrices (for simulation and theory)
# --------------------------------------------------------------------------


def recorded_rule(model: nn.Module) -> tuple[str, dict] | None:
    """The ``(rule, params)`` :func:`init_snntorch` used for every hidden layer, if one.

    A model whose only weight layer got ``first_layer="unit"`` has no layer
    set by a rule: then the rule asked for (the prediction uses the
    recorded weight moments, not the rule).
    """
    records = getattr(model, "snninit_init", None)
    if not records:
        return None
    rules = {
        (rec["rule"], tuple(sorted(rec["params"].items())))
        for rec in records
        if rec["rule"] != "unit"
    }
    if not rules:  # one weight layer, set to unit variance from the data: the rule asked for
        rules = {(rec.get("requested", "unit"), tuple(sorted(rec["params"].items())))
                 for rec in records}
        if any(name == "unit" for name, _ in rules):  # recorded before "requested" existed
            return None
    if len(rules) != 1:
        return None
    name, params = rules.pop()
    return name, dict(params)


def network_config(
    model: nn.Module,
    steps: int = 1,
    init: str | None = None,
    *,
    recurrent_fraction: float | None = None,
    input_layer: bool = False,
    **init_params,
) -> NetworkConfig:
    """The :class:`~snninit.config.NetworkConfig` that describes ``model`` exactly.

    Possible when the model is an encoding neuron followed by ``L`` pairs
    (``nn.Linear(n, n)`` without bias or with zero bias, neuron), all
    neurons alike (theta, beta, reset, ``reset_delay=True``, spike value 1,
    one neuron model): ``Leaky`` (``neuron="leaky"``), ``Synaptic``
    (``"synaptic"``, one ``alpha``, subtract or no reset) or, after an
    encoding ``Leaky`` (our recurrent networks' encoding layer has no
    recurrence), ``RLeaky`` (``"recurrent"``, all-to-all ``nn.Linear``
    recurrence with zero bias, subtract or no reset).
    ``init`` defaults to the rule recorded by :func:`init_snntorch`;
    ``recurrent_fraction`` (``RLeaky`` models) to the one recorded there
    (else the config's default): the share of the rule's variance the
    recurrent weights got.

    ``input_layer=True`` also accepts snntorch's ``Linear``-first layout: no
    encoding neuron, the first ``nn.Linear(n_0, n)`` fed by the inputs
    themselves (any ``n_0``), then square layers; the config (``layers`` =
    number of weight layers, ``width = n``) then describes the network of
    ``simulate(..., inputs=X, encode=False)``, and its rule only stands in
    for the structure (the recorded moments are not checked against it: a
    ``"unit"`` first layer has none of the rule's).

    Raises
    ------
    ValueError
        Saying which part of the model has no counterpart in the config, or
        that the init rule is unknown.
    """
    layout = _layout(model)
    steps = check_limit("steps", steps)
    headless = input_layer and not layout.has_encoding
    if not layout.has_encoding and not headless:
        raise ValueError(
            "the model has no encoding layer (it does not start with a neuron, e.g. a Leaky)"
        )
    if len(layout.neurons) != len(layout.weights) + (0 if headless else 1):
        raise ValueError("the model does not end with a neuron after every weight layer")
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
        if headless and width is None:
            n_in = width = n_out  # the input layer: any n_0 -> width
        width = n_in if width is None else width
        if n_in != width or n_out != width:
            raise ValueError(
                f"layer {w.name!r} maps {n_in} -> {n_out} neurons; the simulated network "
                f"has width {width} throughout"
            )
        if w.module.bias is not None and bool(torch.any(w.module.bias != 0)):
            raise ValueError(f"layer {w.name!r} has a non-zero bias")
    p = _one_neuron_model(layout)
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
    if p.neuron == "recurrent":
        if recurrent_fraction is None and from_record:
            recurrent_fraction = model.snninit_init[-1].get("recurrent_fraction")
    elif recurrent_fraction is not None:
        raise ValueError("recurrent_fraction is for models of snntorch.RLeaky layers only")
    cfg = neuron_config(
        p,
        width=width,
        layers=len(layout.weights),
        steps=steps,
        init=init,
        init_params=init_params,
        recurrent_fraction=recurrent_fraction,
    )
    if from_record and not headless:
        # the config's rule must give the moments the weights were drawn with (a rule
        # may depend on steps, or have measured data the config cannot reproduce)
        mean, var = layer_weight_moments(cfg)
        rec_mean, rec_var = recurrent_weight_moments(cfg)
        used = model.snninit_init
        drawn = [(r["mean"], r["var"], r.get("recurrent_mean", 0.0), r.get("recurrent_var", 0.0))
                 for r in used]
        if not (
            np.allclose(var, [d[1] for d in drawn], rtol=1e-9, atol=0.0)
            and np.allclose(mean, [d[0] for d in drawn], rtol=1e-9, atol=1e-15)
            and np.allclose(rec_var, [d[3] for d in drawn], rtol=1e-9, atol=0.0)
            and np.allclose(rec_mean, [d[2] for d in drawn], rtol=1e-9, atol=1e-15)
        ):
            steps_used = sorted({r["steps"] for r in used})
            raise ValueError(
                f"the weights were drawn by init_snntorch(rule={init!r}, steps={steps_used}) "
                f"with moments that the config (steps={steps}) does not reproduce (a rule "
                "that depends on the number of steps, or one that measured data)"
            )
    return cfg


def neuron_config(p: NeuronParams, *, recurrent_fraction=None, **fields) -> NetworkConfig:
    """The :class:`NetworkConfig` of neurons ``p`` (model, threshold, leak, reset) and ``fields``.

    ``recurrent_fraction`` is used for ``RLeaky`` neurons only (None: the
    config's default).
    """
    model = {"neuron": p.neuron}
    if p.alpha is not None:
        model["alpha"] = p.alpha
    if p.neuron == "recurrent":
        model["recurrent_fraction"] = recurrent_fraction
    return NetworkConfig(theta=p.theta, beta=p.beta, reset=p.reset, **model, **fields)


def _one_neuron_model(layout: _Layout) -> NeuronParams:
    """The neurons' one parameter set; or ValueError."""
    enc, hidden = layout.neurons[0].params, [n.params for n in layout.neurons[1:]]
    params = set(hidden) or {enc}
    if len(params) != 1:
        raise ValueError(
            "the neuron layers differ in model, threshold, leak, reset, alpha or spike value"
        )
    p = params.pop()
    if p.neuron == "recurrent":
        # our recurrent networks feed the input to a plain leaky encoding layer
        if enc != dataclasses.replace(p, neuron="leaky"):
            raise ValueError(
                "a model of RLeaky layers is one of our recurrent networks only after an "
                "encoding snntorch.Leaky with the same threshold, leak and reset (the "
                "encoding layer has no recurrence)"
            )
        for leaf in layout.neurons[1:]:
            bias = leaf.module.recurrent.bias
            if bias is not None and bool(torch.any(bias != 0)):
                raise ValueError(f"the recurrent layer of {leaf.name!r} has a non-zero bias")
    elif enc != p:
        raise ValueError(
            "the neuron layers differ in model, threshold, leak, reset, alpha or spike value"
        )
    if p.neuron != "leaky" and p.reset == "zero":
        raise ValueError(
            f"the zero reset of snntorch's {'Synaptic' if p.neuron == 'synaptic' else 'RLeaky'} "
            "zeroes the whole new membrane (the step's input too), unlike Leaky's and ours: "
            "no simulated counterpart (use reset_mechanism='subtract' or 'none')"
        )
    return p


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


def model_recurrent_weights(model: nn.Module) -> list[np.ndarray]:
    """The recurrent weights ``V_l`` (``(n, n)``, float64) of the model's ``RLeaky`` layers.

    One per hidden neuron layer, in order (the ``recurrent_weights`` of
    :func:`snninit.montecarlo.run_network`); each multiplied by the layer's
    own spike value, as :func:`model_weights` does.

    Raises
    ------
    ValueError
        If a hidden neuron layer is not an ``RLeaky``.
    """
    out = []
    for leaf in _layout(model).neurons:
        if leaf.layer == 0:
            continue
        rec = recurrent_module(leaf.module)
        if rec is None:
            raise ValueError(f"neuron layer {leaf.name!r} is not an snntorch.RLeaky")
        weight = rec.weight.detach().to(torch.float64).cpu().numpy()
        out.append(weight * leaf.params.graded)
    return out


def copy_model(model: nn.Module, dtype: torch.dtype | None = None) -> nn.Module:
    """A deep copy in eval mode (optionally converted to ``dtype``) for diagnosis."""
    twin = copy.deepcopy(model)
    twin.eval()
    if dtype is not None:
        twin.to(dtype)
    return twin


# initialisation has its own module (which imports this one); the old path still works
__getattr__, _ = lazy_exports(
    __package__,
    dict.fromkeys(("init_snntorch", "FIRST_LAYER_CHOICES"), "snntorch_init"),
    __name__,
)
