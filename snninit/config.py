"""The network configuration shared by theory, Monte Carlo, training and validation."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ._checks import check_bool, check_choice, check_finite_array, check_int, check_real, show
from .models import INPUT_SCALES, NEURON_CODES, NEURON_PARAMS, NEURONS, RESETS, input_factor

__all__ = [
    "NetworkConfig",
    "RESETS",
    "INPUT_SCALES",
    "WEIGHT_DISTRIBUTIONS",
    "LIMITS",
    "check_limit",
    "check_limit_array",
    "check_config",
    "DEFAULT_BETA",
    "NEURONS",
    "check_neuron",
]

#: The leak every function takes when none is given (NetworkConfig's default too).
DEFAULT_BETA = 0.5
#: Distributions the dense Monte Carlo sampler can draw weights from.
WEIGHT_DISTRIBUTIONS = ("normal", "uniform")

#: The allowed range ``(low, high)`` of every bounded parameter, defined once here.
#: NetworkConfig, the rule functions (``weight_variance``...), the engine, the
#: dynamic mean field, ``diagnose`` and the CLI all validate through
#: :func:`check_limit`, so a value accepted in one place is accepted in all.
#: Integer bounds make an integer parameter, float bounds a real one; ``None``
#: is unbounded (reals must still be finite). The upper bounds keep a typo from
#: allocating terabytes or looping for days (the resource check of
#: :mod:`snninit._resources` then sizes the actual run against the machine).
LIMITS: Mapping[str, tuple[Any, Any]] = MappingProxyType(
    {
        "width": (1, 1_000_000),  # neurons per layer = fan-in n_in of a hidden layer
        "layers": (1, 100_000),
        "steps": (1, 10_000),
        "theta": (0.0, None),
        "beta": (0.0, 1.0),
        "reps": (1, 10_000_000),
        "seed": (0, None),
        # dynamic mean field: total sampled paths, split into `replicates` groups
        "paths": (16, 10**9),
        "replicates": (2, 4096),
        # the neuron models' own parameters, ranges defined with the models
        **{name: (lo, hi) for params in NEURON_PARAMS.values()
           for name, (_, lo, hi) in params.items()},
    }
)
#: Every neuron model's parameter, and the model it belongs to.
_NEURON_PARAM_OWNER = {name: model for model, params in NEURON_PARAMS.items() for name in params}
#: Parameters whose limits apply under another name (the fan-in is a width).
_ALIASES = {"n_in": "width", "n": "width"}

MAX_WIDTH = LIMITS["width"][1]
MAX_LAYERS = LIMITS["layers"][1]
MAX_STEPS = LIMITS["steps"][1]


def _bounds(name: str, limit: str | None):
    bare = name.lstrip("-").replace("-", "_")  # "--steps" -> "steps"
    key = limit or _ALIASES.get(bare, bare)
    try:
        return LIMITS[key]
    except KeyError:
        raise KeyError(f"no limits defined for {key!r}; known: {sorted(LIMITS)}") from None


def check_limit(name: str, value, *, limit: str | None = None, low=None):
    """Validate ``value`` against ``LIMITS[limit or name]``; return it as int or float.

    ``name`` is what the message calls the parameter (``"steps"``,
    ``"--steps"``, ``"n_in"``); the limits are looked up under ``limit``, or
    under ``name`` without leading dashes (``n_in`` uses ``width``'s). ``low``
    raises the lower bound for this call (e.g. ``paths >= 2 * replicates``).
    The error is a one-line :class:`ValueError` naming the parameter, the
    value and the allowed range.
    """
    lo, hi = _bounds(name, limit)
    if low is not None:
        lo = low if lo is None else max(lo, low)
    if isinstance(lo, float) or isinstance(hi, float):
        return check_real(name, value, low=lo, high=hi)
    return check_int(name, value, low=lo, high=hi)


def check_limit_array(name: str, value, *, limit: str | None = None):
    """:func:`check_limit` elementwise for array-valued arguments (float array back)."""
    lo, hi = _bounds(name, limit)
    integer = not (isinstance(lo, float) or isinstance(hi, float))
    return check_finite_array(name, value, low=lo, high=hi, integer=integer)


def check_config(cfg, name: str = "cfg") -> NetworkConfig:
    """Return ``cfg`` if it is a :class:`NetworkConfig`, else a one-line ValueError.

    Every public function that takes a configuration calls this first, so a
    dict, a path or None gives the same message everywhere (not an
    AttributeError from deep inside).
    """
    if isinstance(cfg, NetworkConfig):
        return cfg
    hint = ""
    if isinstance(cfg, Mapping):
        hint = ": build one with snninit.NetworkConfig(**d) or NetworkConfig.from_dict(d)"
    elif isinstance(cfg, str):
        hint = ": parse JSON with snninit.NetworkConfig.from_json(text)"
    raise ValueError(
        f"{name} must be a snninit.NetworkConfig; got {type(cfg).__name__} {show(cfg)}{hint}"
    )


def check_neuron(cfg, supported, what: str) -> None:
    """One-line ValueError unless ``cfg.neuron`` is one of ``supported``.

    ``what`` names the function or rule that is limited (``"unstable_layer"``).
    """
    if cfg.neuron not in supported:
        allowed = ", ".join(repr(m) for m in supported)
        raise ValueError(
            f"{what} supports neuron in ({allowed}); got neuron={cfg.neuron!r}"
        )


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
    neuron : {"leaky", "synaptic", "adaptive", "recurrent"}
        The neuron model of every layer (:mod:`snninit.models`): the plain LIF
        (default), the current-based LIF (snntorch ``Synaptic``), the
        adaptive-threshold LIF (LSNN) or the LIF with all-to-all recurrence
        within each hidden layer (snntorch ``RLeaky``; the encoding layer has
        no recurrence).
    alpha : float or None
        ``synaptic`` only: the synaptic current's decay in [0, 1] (default 0.5).
    rho : float or None
        ``adaptive`` only: the adaptation's decay in [0, 1] (default 0.9).
    adaptation : float or None
        ``adaptive`` only: the threshold increment ``b >= 0`` per unit of
        adaptation (default 0.5).
    recurrent_fraction : float or None
        ``recurrent`` only: the share in [0, 0.99] of a neuron's input
        variance that the rule gives the recurrent weights (default 0.5); the
        feed-forward weights get the rest (:func:`snninit.theory.layer_weight_moments`).

    The parameters of the models not chosen must be left at None (a value
    there is an error: it would have no effect); the chosen model's are
    filled with their defaults. :meth:`to_dict` lists ``neuron`` and its
    parameters only for a model other than ``leaky``, so a leaky network's
    JSON (and every saved result and checkpoint keyed by it) is unchanged.
    """

    width: int = 1000
    layers: int = 100
    steps: int = 1
    theta: float = 1.0
    beta: float = DEFAULT_BETA
    reset: str = "subtract"
    init: str = "micheli"
    input_scale: str = "1"
    reset_decay: bool = False
    weights: str = "normal"
    init_params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    neuron: str = "leaky"
    alpha: float | None = None
    rho: float | None = None
    adaptation: float | None = None
    recurrent_fraction: float | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise values once, here
        for name in ("width", "layers", "steps", "theta", "beta"):
            # + 0 turns -0.0 into 0.0: equal configs must hash (and serialise) alike
            set_(self, name, check_limit(name, getattr(self, name)) + 0)
        check_choice("reset", self.reset, RESETS)
        check_choice("input_scale", self.input_scale, INPUT_SCALES)
        check_choice("weights", self.weights, WEIGHT_DISTRIBUTIONS)
        set_(self, "reset_decay", check_bool("reset_decay", self.reset_decay))
        if not isinstance(self.init_params, Mapping):
            raise ValueError(
                f"init_params must be a mapping of parameter names to values; "
                f"got {show(self.init_params)}"
            )
        set_(self, "init_params", MappingProxyType(dict(self.init_params)))
        check_choice("neuron", self.neuron, NEURONS)
        for name, owner in _NEURON_PARAM_OWNER.items():
            value = getattr(self, name)
            if owner != self.neuron:
                if value is not None:
                    raise ValueError(
                        f"{name} is a parameter of neuron={owner!r}; got {name}={show(value)} "
                        f"with neuron={self.neuron!r} (leave it None)"
                    )
                continue
            default = NEURON_PARAMS[owner][name][0]
            set_(self, name, check_limit(name, default if value is None else value))
        from .theory.rules import get_rule  # local: rules import nothing from here

        get_rule(self.init).check_params(self)

    @property
    def input_factor(self) -> float:
        """Factor ``c`` on the constant input of the encoding layer (1 or ``1 - beta``)."""
        return input_factor(self.beta, self.input_scale)

    @property
    def neuron_code(self) -> int:
        """The neuron model's integer code inside numba kernels (``models.NEURON_CODES``)."""
        return NEURON_CODES[self.neuron]

    @property
    def neuron_params(self) -> tuple[float, float, float]:
        """``(alpha, rho, adaptation)`` as the kernels take them (0 where not the model's)."""
        return tuple(float(getattr(self, p) or 0.0) for p in ("alpha", "rho", "adaptation"))

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
        # the neuron model only where it is not the leaky default (module docstring)
        for name in ("neuron", *_NEURON_PARAM_OWNER):
            if out[name] is None or (name == "neuron" and out[name] == "leaky"):
                del out[name]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def __reduce__(self):
        # pickled through its JSON form (the read-only init_params view does not pickle),
        # so configurations travel to worker processes; floats round-trip exactly
        return (type(self).from_json, (self.to_json(),))

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
