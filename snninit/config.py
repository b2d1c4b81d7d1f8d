"""The network configuration shared by theory, Monte Carlo, training and validation."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ._checks import check_choice, check_int, check_real

__all__ = ["NetworkConfig", "RESETS", "INPUT_SCALES", "WEIGHT_DISTRIBUTIONS"]

#: Reset variants of DESIGN.md section 1b.
RESETS = ("subtract", "zero", "none")
#: How the constant input enters the encoding layer's membrane each step.
INPUT_SCALES = ("1", "1-beta")
#: Distributions the dense Monte Carlo sampler can draw weights from.
WEIGHT_DISTRIBUTIONS = ("normal", "uniform")

# Upper bounds keep a typo from allocating terabytes or looping for days.
MAX_WIDTH = 1_000_000
MAX_LAYERS = 100_000
MAX_STEPS = 10_000


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """A deep feed-forward LIF network and its initialisation, validated at construction.

    Parameters
    ----------
    width : int
        Neurons per layer, which is also the fan-in ``n_in`` of every hidden
        layer (the encoding layer has ``width`` neurons too). In [1, 1e6].
    layers : int
        Number of hidden LIF layers ``L`` (the encoding layer 0 is extra). In [1, 1e5].
    steps : int
        Number of time steps ``T``; ``1`` is the paper's one-step experiment.
    theta : float
        Firing threshold, finite and >= 0 (0 is the ReLU-like limit).
    beta : float
        Membrane leak factor in [0, 1]; irrelevant for ``steps == 1``.
    reset : {"subtract", "zero", "none"}
        Reset mechanism (DESIGN.md section 1b).
    init : str
        Name of an initialisation rule in :func:`snninit.theory.rule_names`.
    input_scale : {"1", "1-beta"}
        Factor on the constant input fed to the encoding layer every step.
    reset_decay : bool
        If True, the soft reset is applied before the leak
        (``u = beta (u - theta s) + input``, spikingjelly's convention);
        otherwise ``u = beta u - theta s + input`` (snntorch, eq. 13).
    weights : {"normal", "uniform"}
        Weight distribution (same mean and variance either way).
    init_params : mapping of str to float
        Extra parameters of the initialisation rule (e.g. ``xi`` for
        ``fluctuation``). Validated by the rule.
    """

    width: int = 1000
    layers: int = 100
    steps: int = 1
    theta: float = 1.0
    beta: float = 0.5
    reset: str = "subtract"
    init: str = "micheli"
    input_scale: str = "1"
    reset_decay: bool = False
    weights: str = "normal"
    init_params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise values once, here
        set_(self, "width", check_int("width", self.width, low=1, high=MAX_WIDTH))
        set_(self, "layers", check_int("layers", self.layers, low=1, high=MAX_LAYERS))
        set_(self, "steps", check_int("steps", self.steps, low=1, high=MAX_STEPS))
        set_(self, "theta", check_real("theta", self.theta, low=0.0))
        set_(self, "beta", check_real("beta", self.beta, low=0.0, high=1.0))
        check_choice("reset", self.reset, RESETS)
        check_choice("input_scale", self.input_scale, INPUT_SCALES)
        check_choice("weights", self.weights, WEIGHT_DISTRIBUTIONS)
        if not isinstance(self.reset_decay, bool):
            raise ValueError(f"reset_decay must be True or False; got {self.reset_decay!r}")
        if not isinstance(self.init_params, Mapping):
            raise ValueError(
                f"init_params must be a mapping of parameter names to values; "
                f"got {self.init_params!r}"
            )
        set_(self, "init_params", MappingProxyType(dict(self.init_params)))
        from .theory.rules import get_rule  # local: rules import nothing from here

        get_rule(self.init).check_params(self)

    # dataclasses' generated hash would fail on the mapping field
    def __hash__(self) -> int:
        return hash(self.to_json())

    def replace(self, **changes: Any) -> NetworkConfig:
        """Return a copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dictionary of every field (JSON-serialisable)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["init_params"] = dict(self.init_params)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(
                f"unknown NetworkConfig field(s) {sorted(unknown)}; allowed: {sorted(names)}"
            )
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> NetworkConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"config is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"config JSON must be an object; got {type(data).__name__}")
        return cls.from_dict(data)
