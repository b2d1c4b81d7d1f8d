"""Activity diagnosis of a user's snntorch model, in the simulations' data model.

:func:`diagnose` runs the model on a sample batch for ``steps`` time steps
(the batch is fed at every step, as the constant input of DESIGN.md 1b) and
reports, per batch element, layer and time step, the statistics over the
layer's neurons that :func:`snninit.montecarlo.simulate` reports:
``var_u`` (``np.var`` of the membrane, ddof=0), ``mean_u``, ``spikes``
(neurons whose output is non-zero), ``rate`` (spikes / neurons), ``skew``
and ``kurt`` (excess) of the membrane.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import torch
import xarray as xr
from torch import nn

from .._checks import check_choice
from .._dataset import finish_dataset, time_coord
from ..config import NetworkConfig, check_limit
from ..theory.rules import get_rule
from ._compat import THEORY_CHOICES
from .snntorch_model import _as_tensor, _layout, _model_dtype, copy_model, network_config, run_model

__all__ = ["diagnose", "split_theory", "THEORY_CHOICES"]

OBSERVED = ("var_u", "mean_u", "rate", "spikes", "skew", "kurt")
_THEORY_PREFIX = "theory_"


def _moments(mem: torch.Tensor) -> tuple[np.ndarray, ...]:
    """mean, var (ddof=0), skew, excess kurtosis over the neurons of each batch row.

    As in the simulations (:func:`snninit.montecarlo.run_network`): when all
    membranes of a row are exactly equal (a silent layer), ``var = 0``,
    ``mean`` is that value, and skewness and kurtosis are undefined: NaN.
    """
    u = mem.detach().reshape(mem.shape[0], -1).to(torch.float64)
    mean = u.mean(dim=1)
    centred = u - mean[:, None]
    m2 = (centred**2).mean(dim=1)
    m3 = (centred**3).mean(dim=1)
    m4 = (centred**4).mean(dim=1)
    lo, hi = u.min(dim=1).values, u.max(dim=1).values
    flat = lo == hi
    nan = torch.full_like(m2, float("nan"))
    safe = torch.where(flat, torch.ones_like(m2), m2)
    mean = torch.where(flat, lo, mean)
    m2 = torch.where(flat, torch.zeros_like(m2), m2)
    skew = torch.where(flat, nan, m3 / safe**1.5)
    kurt = torch.where(flat, nan, m4 / safe**2 - 3.0)
    return tuple(t.cpu().numpy() for t in (mean, m2, skew, kurt))


def _inputs(sample, steps, dtype):
    if steps is None:
        x = _as_tensor(sample, dtype)
        if x.dim() < 3:
            raise ValueError(
                "with steps=None, sample must be (time, batch, *features); "
                f"got shape {tuple(x.shape)}"
            )
        return x.shape[0], x.shape[1], (lambda t: x[t])
    steps = check_limit("steps", steps)
    x = _as_tensor(sample, dtype)
    return steps, x.shape[0], (lambda t: x)


def diagnose(
    model: nn.Module,
    sample,
    steps: int | None = 1,
    *,
    theory: str = "auto",
    rule: str | None = None,
    dtype: torch.dtype | None = None,
    paths: int = 20_000,
    seed: int = 0,
    **rule_params,
) -> xr.Dataset:
    """Run ``model`` on ``sample`` and measure its activity per layer and step.

    Parameters
    ----------
    model : nn.Sequential
        An snntorch model (see :mod:`snninit.torch.snntorch_model`). It is not
        modified: a deep copy runs, in eval mode, with fresh membrane state.
    sample : tensor or array
        Input batch ``(batch, *features)``, fed at every time step; with
        ``steps=None`` a sequence ``(time, batch, *features)``.
    steps : int or None
        Number of time steps ``T``.
    theory : {"auto", "none", "mean_field", "finite_size", "dmft", "data"}
        Which prediction to add (as ``theory_<var>`` over ``(layer, time)``).
        ``"data"``: the dynamic mean field on *this* sample
        (:func:`snninit.theory.dynamic_mean_field` with ``inputs=``, layer 0
        exact per batch element, averaged over the batch, ``average=True``),
        with the weight moments :func:`init_snntorch` recorded (or the rule's
        at each layer's fan-in). ``"auto"``: for a model that starts with an
        encoding Leaky, the exact finite-size chain for ``T = 1`` and the
        dynamic mean field (``I ~ N(0, 1)``) otherwise; for snntorch's
        ``Linear``-first layout (the inputs, e.g. ``spikegen.rate`` trains,
        fed to the first weight layer), ``"data"``, its only prediction. A
        prediction exists only when the model *is* one of our simulated
        networks (:func:`snninit.torch.network_config`: encoding Leaky or a
        first ``Linear(n_0, n)``, square bias-free Linear layers, one neuron
        type) and its weights' law is known (recorded by
        :func:`init_snntorch`, or ``rule=``); otherwise none is added and
        ``attrs["theory"]`` says why. Asking for a specific theory that does
        not exist raises ``ValueError``.
    rule : str, optional
        The rule the weights were drawn with (default: the one recorded by
        :func:`init_snntorch`), with ``**rule_params``.
    dtype : torch.dtype, optional
        Run in this precision (e.g. ``torch.float64`` to compare spike for
        spike with a float64 simulation); default: the model's.
    paths, seed : int
        Sample paths and seed of the dynamic mean field.

    Returns
    -------
    xarray.Dataset
        Variables ``var_u, mean_u, rate, spikes, skew, kurt`` over ``(rep,
        layer, time)``, where ``rep`` is the element of the batch (all share
        the model's one set of weights, so their spread is not the
        across-network spread of :func:`snninit.montecarlo.simulate`);
        coordinates ``layer`` (number of weight layers before the Leaky: 0 is
        an encoding layer, present only if the model starts with a Leaky),
        ``time``, ``rep``, ``module`` (the Leaky's name in the model) and
        ``neurons`` (its size). Skewness and kurtosis of a layer whose
        membranes are all equal (var_u = 0) are NaN, as in the simulations.
        Attrs: the config (when the model is a simulated network),
        ``kind="diagnosis"``, ``architecture`` (JSON) and ``theory``. Use
        :func:`split_theory` to get ``(theory, observed)`` for
        :func:`snninit.validation.compare`.
    """
    check_choice("theory", theory, THEORY_CHOICES)
    check_limit("paths", paths)
    check_limit("seed", seed)
    if rule is not None:
        get_rule(rule, param="rule").resolve_params(rule_params)  # bad name or parameter: error
    elif rule_params:
        raise ValueError(f"rule parameters {sorted(rule_params)} need rule=")
    _layout(model)  # validates before copying
    twin = copy_model(model, dtype)
    layout = _layout(twin)
    steps, batch, inputs = _inputs(sample, steps, _model_dtype(twin))
    neurons = layout.neurons
    layers = [leaf.layer for leaf in neurons]
    index = {id(leaf.module): i for i, leaf in enumerate(neurons)}
    shape = (batch, len(neurons), steps)
    stats = {name: np.zeros(shape) for name in OBSERVED}
    sizes = [0] * len(neurons)

    def record(leaf, t, mem, spk):
        i = index[id(leaf.module)]
        mean, var, skew, kurt = _moments(mem)
        count = (spk.detach().reshape(spk.shape[0], -1) != 0).sum(dim=1).cpu().numpy()
        sizes[i] = mem[0].numel()
        stats["mean_u"][:, i, t] = mean
        stats["var_u"][:, i, t] = var
        stats["skew"][:, i, t] = skew
        stats["kurt"][:, i, t] = kurt
        stats["spikes"][:, i, t] = count
        stats["rate"][:, i, t] = count / sizes[i]

    run_model(layout, inputs, steps, record)
    dims = ("rep", "layer", "time")
    ds = xr.Dataset(
        {name: (dims, values) for name, values in stats.items()},
        coords={
            "rep": np.arange(batch),
            "layer": np.asarray(layers),
            "time": time_coord(steps),
            "module": ("layer", [leaf.name for leaf in neurons]),
            "neurons": ("layer", np.asarray(sizes)),
        },
    )
    ds["spikes"] = ds["spikes"].astype(np.int64)
    ds["rep"].attrs["long_name"] = "element of the input batch (one shared network)"
    from .model_io import model_spec

    architecture = json.dumps(model_spec(model), sort_keys=True)
    cfg, rule_known, why = _config_or_reason(model, steps, rule, rule_params)
    headless = not layout.has_encoding
    extra = dict(kind="diagnosis", architecture=architecture, batch=batch)
    ds = finish_dataset(ds, cfg if cfg is not None else NetworkConfig(steps=steps), **extra)
    if cfg is None:  # keep only what is true of any model
        keep = {"steps", "snninit_version", *extra}
        for key in [k for k in ds.attrs if k not in keep]:
            del ds.attrs[key]
    elif not rule_known:  # a simulated network's structure, weights of unknown origin
        for key in ("init", "init_params", "config"):
            del ds.attrs[key]
    ds["layer"].attrs["long_name"] = "layer (weight layers before the Leaky; 0 = encoding)"
    data = None
    if cfg is not None and rule_known:
        data = _DataInputs(model, cfg, sample_rows(inputs, steps, batch), headless, rule,
                           rule_params)
    ds.attrs["theory"] = _add_theory(ds, cfg if rule_known else None, why, theory, paths, seed,
                                     data)
    return ds


class _DataInputs:
    """What the data-driven prediction needs: the batch as inputs and the weights' law."""

    def __init__(self, model, cfg, rows, headless, rule, rule_params):
        self.rows, self.encode = rows, not headless
        records = getattr(model, "snninit_init", None)
        if rule is None and records and len(records) == cfg.layers:
            # the law each layer was drawn with (a "unit" first layer has no rule)
            self.moments = ([r["mean"] for r in records], [r["var"] for r in records])
        else:
            self.moments = None  # the rule's, at each layer's fan-in


def sample_rows(inputs, steps, batch) -> np.ndarray:
    """The batch as ``(batch, steps, features)`` float64 (what ``inputs=`` takes)."""
    rows = np.stack([inputs(t).detach().to(torch.float64).reshape(batch, -1).cpu().numpy()
                     for t in range(steps)], axis=1)
    return rows


def _config_or_reason(model, steps, rule, rule_params):
    """``(cfg, rule_known, why_no_theory)`` for the model.

    ``cfg`` is None when the model is not one of the simulated networks; when
    it is but its rule is unknown, ``cfg`` carries a stand-in rule (only its
    structure is used) and ``rule_known`` is False.
    """
    try:
        return network_config(model, steps, init=rule, input_layer=True, **rule_params), True, None
    except ValueError as exc:
        if rule is not None:
            return None, False, str(exc)
        try:  # structure alone, with a stand-in rule (no moments to check)
            cfg = network_config(model, steps, init="kaiming", input_layer=True)
        except ValueError as structural:
            return None, False, str(structural)
        return cfg, False, str(exc)


def _theory_dataset(cfg, kind, paths, seed):
    """The registered prediction ``kind`` (``"dmft"`` is an alias) at ``cfg``."""
    from ..theory.predictions import get_prediction, predict

    if get_prediction(kind).sampled:
        return predict(cfg, kind, seed=seed, paths=paths)
    return predict(cfg, kind)


def _data_theory(cfg, data, paths, seed):
    from ..theory.dmft import dynamic_mean_field

    # without recorded moments the rule's, at each layer's fan-in (dynamic_mean_field's own)
    return dynamic_mean_field(cfg, paths=paths, seed=seed, inputs=data.rows,
                              encode=data.encode, average=True, weight_moments=data.moments)


def _add_theory(ds, cfg, why, theory, paths, seed, data=None) -> str:
    if theory == "none":
        return "none (not requested)"
    if cfg is None:
        if theory != "auto":
            raise ValueError(f"theory={theory!r} has no prediction for this model: {why}")
        return f"none: {why}"
    headless = data is not None and not data.encode
    kind = theory
    if theory == "auto":
        kind = "data" if headless else ("finite_size" if cfg.steps == 1 else "dmft")
    if headless and kind != "data":
        raise ValueError(
            f"theory={theory!r} assumes an encoding layer on N(0, 1) inputs; this model feeds "
            "its inputs to the first weight layer: use theory='data' (or 'auto')"
        )
    try:
        if kind == "data":
            pred = _data_theory(cfg, data, paths, seed)
        else:
            pred = _theory_dataset(cfg, kind, paths, seed)
    except ValueError as exc:  # the theory refuses this network (its own check)
        if theory != "auto":
            raise
        warnings.warn(
            f"no theory added: {kind} refuses this network ({exc})", UserWarning, stacklevel=3
        )
        return f"none: {kind} refuses this network ({exc})"
    pred = pred.sel(layer=[lay for lay in ds["layer"].values if lay in pred["layer"].values])
    for name, var in pred.data_vars.items():
        if {"layer"} <= set(var.dims) <= {"layer", "time"}:
            ds[_THEORY_PREFIX + name] = (
                var.broadcast_like(ds["time"]) if "time" not in var.dims else var
            )
    how = pred.attrs.get("method", kind)
    if kind in ("dmft", "data"):
        how = f"{how}; paths={paths}, seed={seed}"
    if kind == "data":
        law = "the recorded weight moments" if data.moments is not None else (
            f"init={cfg.init!r}")
        return (f"data for {law}: on this sample ({pred.attrs['inputs_statistics']}; layer 0 "
                f"{pred.attrs['layer_zero']}), {how}")
    return f"{kind} for init={cfg.init!r}: {how}"


def split_theory(ds: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
    """``(theory, observed)`` from a :func:`diagnose` result, ready for ``compare``.

    ``theory`` has the ``theory_<var>`` variables renamed to ``<var>`` and
    the observed dataset's attrs (same config); ``observed`` has the rest.

    Raises
    ------
    ValueError
        If ``ds`` carries no theory (see ``ds.attrs["theory"]``).
    """
    names = [v for v in ds.data_vars if v.startswith(_THEORY_PREFIX)]
    if not names:
        raise ValueError(f"the diagnosis has no theory: {ds.attrs.get('theory', 'unknown')}")
    theory = ds[names].rename({v: v[len(_THEORY_PREFIX) :] for v in names})
    theory = theory.drop_vars([c for c in ("rep",) if c in theory.coords])
    observed = ds.drop_vars(names)
    theory.attrs = {**ds.attrs, "kind": "theory"}
    return theory, observed
