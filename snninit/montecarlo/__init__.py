"""snninit.montecarlo (see DESIGN.md section 5)."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # Monte Carlo engine (issue 3)
    "simulate": "engine",
    "run_network": "engine",
    "NetworkRun": "engine",
    "METHODS": "engine",
    # data-driven stacks: every network set from its own activity (issue 14)
    "simulate_data_driven": "datadriven",
    "simulate_dale_data_driven": "datadriven",
    "dale_split": "datadriven",
    "dale_weights": "datadriven",
    # the kicked recurrent layer (self-sustained activity, issue 17)
    "simulate_sustained_activity": "sustained",
    "run_preset": "presets",
    "PRESETS": "presets",
    # two inputs through one network (the correlation map, issue 21)
    "simulate_correlation": "pairs",
    # parameter sweeps (module name differs from `sweep`, which it would shadow)
    "sweep": "gridsweep",
    "open_sweep": "gridsweep",
    "sweep_status": "gridsweep",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
