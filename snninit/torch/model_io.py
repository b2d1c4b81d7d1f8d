"""The saved-model format of ``snninit diagnose``: architecture spec + state dict.

One file written by :func:`save_model` (``torch.save`` of a plain dict)::

    {"format": "snninit-snntorch/1",
     "spec": [ {"type": "Leaky", "beta": 0.5, "threshold": 1.0, ...},  # or Synaptic, RLeaky
               {"type": "Linear", "in_features": 784, "out_features": 1000, "bias": False},
               ... ],
     "state_dict": {"0.beta": tensor, "1.weight": tensor, ...},
     "snninit_init": [...]}            # what init_snntorch recorded, if anything

It holds only tensors, numbers, strings, lists and dicts, so
:func:`load_model` reads it with ``torch.load(weights_only=True)``: loading
runs no code from the file. The model is rebuilt as a flat ``nn.Sequential``
of the same leaves (nested ``nn.Sequential`` blocks are flattened, so
state-dict keys are ``"<position>.<name>"``).

Why not ``torch.save(model)``: unpickling a module can execute arbitrary code,
and snntorch 1.0's ``Leaky`` with its default surrogate gradient (a local
function) cannot be pickled at all. A module that *was* pickled (e.g. with a
module-level ``spike_grad``) can still be read with ``trust_pickle=True``
(``weights_only=False``) — only for files you made yourself.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ._compat import require
from .snntorch_model import _layout

__all__ = ["FORMAT", "model_spec", "model_from_spec", "save_model", "load_model"]

FORMAT = "snninit-snntorch/1"

_LINEAR_KEYS = ("in_features", "out_features")
_CONV_KEYS = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "padding_mode",
)
_POOL_KEYS = {
    "MaxPool1d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "MaxPool2d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "MaxPool3d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "AvgPool1d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
    "AvgPool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
    "AvgPool3d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
}
_OTHER_KEYS = {
    "Flatten": ("start_dim", "end_dim"),
    "Unflatten": ("dim", "unflattened_size"),
    "Identity": (),
    "Dropout": ("p",),
    "Dropout1d": ("p",),
    "Dropout2d": ("p",),
    "Dropout3d": ("p",),
    **_POOL_KEYS,
}


#: snntorch's neuron classes a spec may name (those :mod:`.snntorch_model` reads).
_NEURONS = ("Leaky", "Synaptic", "RLeaky")


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Size):
        return list(value)
    return value


def _tuple(value):
    return tuple(value) if isinstance(value, list) else value


def model_spec(model: nn.Module) -> list[dict]:
    """The architecture of an snntorch model as a JSON-serialisable list of layers."""
    spec = []
    for leaf in _layout(model).leaves:
        m = leaf.module
        kind = type(m).__name__
        if leaf.kind == "neuron":
            p = leaf.params
            row = {
                "type": kind,
                "beta": p.beta,
                "threshold": p.theta,
                "reset_mechanism": p.reset,
                "reset_delay": p.reset_delay,
                "graded_spikes_factor": p.graded,
                "learn_beta": isinstance(m.beta, nn.Parameter),
                "learn_threshold": isinstance(m.threshold, nn.Parameter),
            }
            if p.neuron == "synaptic":
                row.update(alpha=p.alpha, learn_alpha=isinstance(m.alpha, nn.Parameter))
            elif p.neuron == "recurrent":
                row.update(
                    all_to_all=True,
                    linear_features=m.recurrent.in_features,
                    learn_recurrent=bool(m.recurrent.weight.requires_grad),
                )
        elif isinstance(m, nn.Linear):
            row = {
                "type": kind,
                **{k: getattr(m, k) for k in _LINEAR_KEYS},
                "bias": m.bias is not None,
            }
        elif leaf.kind == "weight":
            row = {
                "type": kind,
                **{k: _plain(getattr(m, k)) for k in _CONV_KEYS},
                "bias": m.bias is not None,
            }
        else:
            row = {"type": kind, **{k: _plain(getattr(m, k)) for k in _OTHER_KEYS[kind]}}
        spec.append(row)
    return spec


def model_from_spec(spec: list[dict]) -> nn.Sequential:
    """Build the flat ``nn.Sequential`` that :func:`model_spec` describes.

    Raises
    ------
    ValueError
        For a malformed spec or an unknown layer type.
    """
    snn = require("snntorch")
    if not isinstance(spec, list) or not spec:
        raise ValueError("spec must be a non-empty list of layer dicts")
    layers = []
    for i, row in enumerate(spec):
        if not isinstance(row, dict) or "type" not in row:
            raise ValueError(f"spec[{i}] must be a dict with a 'type'; got {row!r}")
        kind = row["type"]
        args = {k: _tuple(v) for k, v in row.items() if k != "type"}
        try:
            if kind in _NEURONS:
                # only Leaky takes graded_spikes_factor in its constructor (snntorch 1.0)
                graded = args.pop("graded_spikes_factor", 1.0) if kind != "Leaky" else None
                neuron = getattr(snn, kind)(init_hidden=True, **args)
                if graded is not None:
                    neuron.graded_spikes_factor = torch.as_tensor(float(graded))
                layers.append(neuron)
            elif kind in ("Linear", "Conv1d", "Conv2d", "Conv3d", *_OTHER_KEYS):
                layers.append(getattr(nn, kind)(**args))
            else:
                raise ValueError(f"unknown layer type {kind!r}")
        except TypeError as exc:
            raise ValueError(f"spec[{i}] ({kind}) has bad arguments: {exc}") from None
    model = nn.Sequential(*layers)
    _layout(model)  # the same checks as for a live model
    return model


def save_model(model: nn.Module, path: str | os.PathLike) -> Path:
    """Write ``model`` in the format above (atomically)."""
    from .._dataset import atomic_write

    layout = _layout(model)
    flat = nn.Sequential(*[leaf.module for leaf in layout.leaves])
    payload = {
        "format": FORMAT,
        "spec": model_spec(model),
        "state_dict": {k: v.detach().cpu() for k, v in flat.state_dict().items()},
        "snninit_init": list(getattr(model, "snninit_init", []) or []),
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_model(path: str | os.PathLike, *, trust_pickle: bool = False) -> nn.Sequential:
    """Read a model written by :func:`save_model` (or, trusted, a pickled module).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is neither format, or is a pickled module and
        ``trust_pickle`` is False.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such model file: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, ...
        if not trust_pickle:
            raise ValueError(
                f"{path} is not an snninit model file ({type(exc).__name__}); if it is a "
                "module saved with torch.save(model) and you trust it, load it with "
                "trust_pickle=True (--trust-pickle), which can run code from the file"
            ) from None
        try:
            payload = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc2:
            raise ValueError(f"{path} cannot be read by torch.load: {exc2}") from None
    if isinstance(payload, nn.Module):
        _layout(payload)
        return payload
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not an snninit model file (expected format {FORMAT!r}; write it with "
            "snninit.torch.save_model)"
        )
    model = model_from_spec(payload["spec"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise ValueError(f"{path}: state dict does not match the spec: {exc}") from None
    if payload.get("snninit_init"):
        model.snninit_init = list(payload["snninit_init"])
    return model
