"""PyTorch / snntorch front-end: ``torch.nn.init``-style initialisers and diagnosis.

Nothing here is imported by the rest of snninit, and importing this package
does not import torch either: each public name loads its module (and torch,
snntorch) on first use and, if they are missing, raises ``ImportError`` with
the install command (``pip install torch==2.13.0 && pip install
'snninit[torch]'``).

Public API
----------
``init_(tensor_or_module, rule="micheli", theta=1.0, beta=None, steps=1, **params)``
    Fill a weight in place with a rule of the registry (fan-in as torch computes it).
init_snntorch(model, sample=None, rule="micheli", ...)
    Initialise every Linear/Conv layer of an nn.Sequential-style snntorch model
    from the threshold, leak and reset of the ``snntorch.Leaky`` that follows it.
diagnose(model, sample, steps=T)
    Run the model and return var_u, mean_u, rate, spikes, skew, kurt per
    (rep, layer, time) as an xarray Dataset, with the theory's prediction.
save_model / load_model
    The file format of ``snninit diagnose`` (architecture spec + state dict).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "init_": "initializers",
    "fan_in": "initializers",
    "rule_moments": "initializers",
    "init_snntorch": "snntorch_init",
    "describe_model": "snntorch_model",
    "network_config": "snntorch_model",
    "model_weights": "snntorch_model",
    "model_recurrent_weights": "snntorch_model",
    "diagnose": "diagnosis",
    "split_theory": "diagnosis",
    "save_model": "model_io",
    "load_model": "model_io",
    "model_from_spec": "model_io",
    "model_spec": "model_io",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'snninit.torch' has no attribute {name!r}")
    from ._compat import require

    require("torch")  # a clear ImportError before the submodule's own `import torch`
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__():
    return sorted(_EXPORTS)
