"""Variance-propagation theory: rules, mean-field map, finite-size chain, dynamic mean field."""

from __future__ import annotations

from .._lazy import lazy_exports
from .rules import (
    InitRule,
    get_rule,
    layer_weight_moments,
    register_rule,
    rule_names,
    survival,
    weight_mean,
    weight_variance,
)

_EXPORTS = {
    # one-step mean field (DESIGN 3a)
    "mean_field": "mean_field",
    "mean_field_map": "mean_field",
    "fixed_points": "mean_field",
    "stability_slope": "mean_field",
    "critical_threshold": "mean_field",
    "depth_scale": "mean_field",
    # exact finite-size chain and 1/n expansion (DESIGN 3b)
    "finite_size": "finite_size",
    "finite_size_expansion": "finite_size",
    "transition_matrix": "finite_size",
    # dynamic mean field over time (DESIGN 3c)
    "dynamic_mean_field": "dmft",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "InitRule",
    "get_rule",
    "layer_weight_moments",
    "register_rule",
    "rule_names",
    "survival",
    "weight_mean",
    "weight_variance",
    *_EXPORTS,
]
