"""Variance-propagation theory: rules, mean-field map, finite-size chain, dynamic mean field."""

from __future__ import annotations

from .._lazy import lazy_exports
from .rules import (
    InitRule,
    get_rule,
    layer_weight_moments,
    recurrent_weight_moments,
    register_rule,
    rule_names,
    survival,
    weight_mean,
    weight_variance,
)

_EXPORTS = {
    # one-step mean field (DESIGN 3a); module names differ from the function
    # names, else importing the module would shadow the function on the package
    "mean_field": "meanfield",
    "mean_field_map": "meanfield",
    "fixed_points": "meanfield",
    "stability_slope": "meanfield",
    "critical_threshold": "meanfield",
    "depth_scale": "meanfield",
    "bottleneck_depth": "meanfield",
    # exact finite-size chain and 1/n expansion (DESIGN 3b)
    "finite_size": "finitesize",
    "first_volley_extinction": "finitesize",
    "finite_size_expansion": "expansion",
    "transition_matrix": "finitesize",
    # dynamic mean field over time (DESIGN 3c)
    "dynamic_mean_field": "dmft",
    "correlation_map": "correlation",
    "correlation_depth_scale": "correlation",
    "unstable_layer": "breakup",
    # break-up of the time-homogeneous state (DESIGN 3e)
    "breakup_layer": "breakup",
    "breakup_analysis": "breakup",
    "breakup_outcome": "breakup",
    "dmft_layer_variances": "dmft_rule",
    # surrogate gradients through layers and time (issue 18)
    "backward_mean_field": "backward",
    "trainability": "backward",
    "balanced_surrogate": "backward",
    # self-sustained activity of recurrent layers (issue 17)
    "sustained_activity": "sustained",
    "critical_gain": "sustained",
    "recurrent_gain": "sustained",
    "CriticalGain": "sustained",
    # one interface to every prediction (issue 14)
    "predict": "predictions",
    "PREDICTIONS": "predictions",
    "Prediction": "predictions",
    "register_prediction": "predictions",
    "get_prediction": "predictions",
    # predictions on a parameter grid (module name differs from the function's)
    "sweep": "gridsweep",
    # peers' schemes (issue 7)
    "fluctuation_layer_moments": "fluctuation",
    "fluctuation_calibration": "fluctuation",
    "psp_kernel_sums": "fluctuation",
    "psp_kernel_sums_symbolic": "fluctuation",
    "lif_rate": "single_neuron",
    "shot_noise_rate": "single_neuron",
    "siegert_rate": "single_neuron",
    "membrane_distribution": "single_neuron",
    "collapse_expected_spikes": "single_neuron",
    "simulate_single_neuron": "single_neuron",
    "encoding_rate": "diffusion",
    "diffusion_layer_variances": "diffusion",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "InitRule",
    "get_rule",
    "layer_weight_moments",
    "recurrent_weight_moments",
    "register_rule",
    "rule_names",
    "survival",
    "weight_mean",
    "weight_variance",
    *_EXPORTS,
]
