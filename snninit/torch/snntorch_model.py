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
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from .._lazy import lazy_exports
from ..config import NetworkConfig, check_limit
from ..theory.rules import layer_weight_moments
from ._compat import require
from .initializers import SUPPORTED_MODULES, _as_float, fan_in

__all__ = [
    "NeuronParams",
    "describe_model",
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


# initialisation has its own module (which imports this one); the old path still works
__getattr__, _ = lazy_exports(
    __package__,
    dict.fromkeys(("init_snntorch", "FIRST_LAYER_CHOICES"), "snntorch_init"),
    __name__,
)
