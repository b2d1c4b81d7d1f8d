"""One interface to every prediction: ``predict(cfg, name, **options) -> Dataset``.

In the style of neural-tangents, where ``kernel_fn`` and
``monte_carlo_kernel_fn`` compute the same quantity by two routes with one
signature: a prediction here and :func:`snninit.montecarlo.simulate` both take
a :class:`~snninit.NetworkConfig` (and a seed) and return a Dataset over
``(layer, time)`` with the same variable names, so one comparison
(:func:`snninit.validation.compare`) serves all of them, and one conformance
test (``tests/theory/test_predictions.py``) runs every registered prediction
against ``simulate``.

Each prediction is registered once, in :data:`PREDICTIONS`, with what the
dispatchers (the theory sweep, ``snninit reproduce``, ``diagnose``, the CLI)
need to know about it: whether it is a one-step theory, whether it samples
(takes ``seed`` and ``paths``), which options it accepts and its other names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import xarray as xr

from .._checks import check_bool, check_callable, show
from ..config import NetworkConfig, check_config

__all__ = ["Prediction", "PREDICTIONS", "register_prediction", "get_prediction", "predict"]


@dataclasses.dataclass(frozen=True)
class Prediction:
    """A registered prediction.

    Attributes
    ----------
    name : str
        Canonical name (also the function's name in :mod:`snninit.theory`).
    compute : callable
        ``compute(cfg, **options) -> xarray.Dataset``; a sampled prediction
        also takes ``seed`` and ``paths``.
    kind : str
        ``attrs["kind"]`` of its datasets.
    one_step : bool
        Defined for ``steps == 1`` only.
    sampled : bool
        Estimated from random paths (takes ``seed`` and ``paths``; its
        datasets carry ``<var>_se``).
    options : tuple of str
        Keyword options accepted besides ``seed``/``paths``.
    aliases : tuple of str
        Other names accepted for it (``"dmft"``).
    summary : str
        One line for listings.
    """

    name: str
    compute: Callable[..., xr.Dataset]
    kind: str
    one_step: bool
    sampled: bool = False
    options: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    summary: str = ""

    def __post_init__(self) -> None:
        for field in ("name", "kind"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value.isidentifier():
                raise ValueError(f"{field} must be an identifier such as 'mean_field'; "
                                 f"got {show(value)}")
        check_callable("compute", self.compute, "compute(cfg, **options) -> Dataset")
        for field in ("one_step", "sampled"):
            check_bool(field, getattr(self, field))
        for field in ("options", "aliases"):
            value = getattr(self, field)
            if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{field} must be a tuple of names; got {show(value)}")

    def check(self, cfg: NetworkConfig) -> NetworkConfig:
        """The refusals that depend on the configuration alone, before any work."""
        cfg = check_config(cfg)
        if self.one_step and cfg.steps != 1:
            raise ValueError(
                f"{self.name} is a one-step theory (steps=1); got steps={cfg.steps}: "
                "use snninit.theory.dynamic_mean_field for several time steps"
            )
        return cfg


#: Every prediction, by canonical name (see :func:`get_prediction` for aliases).
PREDICTIONS: dict[str, Prediction] = {}


def register_prediction(prediction: Prediction) -> Prediction:
    """Add ``prediction`` to :data:`PREDICTIONS` (its name and aliases must be new)."""
    if not isinstance(prediction, Prediction):
        raise ValueError(
            f"prediction must be a snninit.theory.Prediction; got {show(prediction)}"
        )
    taken = {n for p in PREDICTIONS.values() for n in (p.name, *p.aliases)}
    clash = [n for n in (prediction.name, *prediction.aliases) if n in taken]
    if clash:
        raise ValueError(f"prediction name {clash[0]!r} is already registered")
    PREDICTIONS[prediction.name] = prediction
    return prediction


def get_prediction(name: str) -> Prediction:
    """The registered prediction called ``name`` (canonical or alias)."""
    for p in PREDICTIONS.values():
        if name == p.name or name in p.aliases:
            return p
    names = sorted(n for p in PREDICTIONS.values() for n in (p.name, *p.aliases))
    raise ValueError(f"prediction must be one of {names}; got {show(name)}")


def predict(cfg: NetworkConfig, name: str, *, seed: int = 0, **options: Any) -> xr.Dataset:
    """Evaluate prediction ``name`` at ``cfg``.

    ``seed`` (and ``paths`` among ``options``) go to sampled predictions
    only; a deterministic one ignores ``seed`` and refuses ``paths``.
    Unknown options are refused with the list of accepted ones.
    """
    p = get_prediction(name)
    cfg = p.check(cfg)
    allowed = set(p.options) | ({"paths"} if p.sampled else set())
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"{p.name} takes the options {sorted(allowed) or 'none'}; got {unknown[0]!r}"
        )
    if p.sampled:
        options["seed"] = seed
    return p.compute(cfg, **options)


def _lazy(module: str, function: str) -> Callable[..., xr.Dataset]:
    """``module.function``, imported when first called (``import snninit.theory`` stays light)."""

    def call(cfg, **options):
        import importlib

        return getattr(importlib.import_module(f"snninit.theory.{module}"), function)(
            cfg, **options
        )

    call.__name__ = call.__qualname__ = function
    return call


for _p in (
    Prediction(
        "mean_field", _lazy("meanfield", "mean_field"), kind="mean_field", one_step=True,
        summary="n -> infinity map of the one-step variance (DESIGN 3a)",
    ),
    Prediction(
        "finite_size", _lazy("finitesize", "finite_size"), kind="finite_size", one_step=True,
        options=("distribution",),
        summary="exact finite-width spike-count chain, with survivors (DESIGN 3b, 3d)",
    ),
    Prediction(
        "finite_size_expansion", _lazy("expansion", "finite_size_expansion"),
        kind="finite_size_expansion", one_step=True, options=("tol", "on_breakdown"),
        aliases=("expansion",),
        summary="1/n expansion of the chain about the mean field (DESIGN 3b)",
    ),
    Prediction(
        "dynamic_mean_field", _lazy("dmft", "dynamic_mean_field"), kind="dmft",
        one_step=False, sampled=True, options=("replicates", "check_paths"),
        aliases=("dmft",),
        summary="dynamic mean field over time steps, sampled paths (DESIGN 3c)",
    ),
):
    register_prediction(_p)
del _p
