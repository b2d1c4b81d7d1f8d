"""snninit: weight initialisation for deep spiking neural networks.

Sub-packages
------------
theory
    variance-propagation predictions (init rules, mean-field map, exact
    finite-size chain, dynamic mean field over time steps, backward mean field)
montecarlo
    exact numba-parallel simulation of deep multi-step LIF stacks
training
    a numpy BPTT trainer with arctan surrogate gradients (MNIST)
validation
    theory-vs-simulation comparison, figures, reports and ``advise``
torch
    the snntorch front-end (optional: torch and snntorch)

Sub-packages are imported on first attribute access, so ``import snninit``
stays fast and does not compile numba kernels.
"""

from __future__ import annotations

import importlib

from .config import NetworkConfig

__version__ = "0.1.0"
__all__ = [
    "NetworkConfig", "theory", "montecarlo", "training", "validation", "advise", "__version__"
]

_SUBPACKAGES = ("theory", "montecarlo", "training", "validation")


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    if name == "advise":  # the answer to "which rule and threshold?", validation.advice
        return importlib.import_module(".validation.advice", __name__).advise
    raise AttributeError(f"module 'snninit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES) | {"advise"})
