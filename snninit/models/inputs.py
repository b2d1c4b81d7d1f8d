"""Real inputs: the data-driven layer 0, defined once (DESIGN.md 1d).

The paper's networks see ``I ~ N(0, 1)^n``. Real data is a set of samples
``X`` (``samples x n_0``, e.g. 784 standardised MNIST pixels, a third of them
one background value), constant over time as the paper feeds it, or a
sequence ``(samples, steps, n_0)`` that changes at every step (rate-coded
spike trains, event streams). Layer 0 of a sample is then known exactly,
in one of two layouts:

* ``encode=True`` (the paper's layout, an encoding neuron layer first):
  ``n_0`` neurons of the config's model driven by ``c x^t``
  (:func:`encoding_layer`); their spikes ``s_0^t`` feed the first weight
  layer.
* ``encode=False`` (snntorch's ``Linear`` first, fed with spike trains):
  the rows ``x^t`` themselves are what the first weight layer sees
  (0/1 spikes or any real values); layer 0 has no membrane.

Given a sample's layer-0 output ``y^t`` (``s_0^t`` or ``x^t``), the input
``h^t = sum_j W_ij y_j^t`` of the first hidden layer's neurons is, across
neurons and for Gaussian i.i.d. weights of mean ``mu`` and variance ``s2``,
*exactly* a Gaussian path with mean ``n_0 mu m^t`` and covariance
``n_0 s2 C(t, t')``, where (:func:`input_statistics`)

    m^t = (1 / n_0) sum_j y_j^t,      C(t, t') = (1 / n_0) sum_j y_j^t y_j^t'.

That is the start of the dynamic mean field with data
(:func:`snninit.theory.dynamic_mean_field` with ``inputs=``); the Monte
Carlo engine runs the same layer 0 (:func:`snninit.montecarlo.run_network`).
"""

from __future__ import annotations

import hashlib
import numbers

import numpy as np

from .._checks import check_real
from .leaky import RESET_CODES
from .neurons import neuron_layer
from .statistics import layer_moments

__all__ = [
    "check_inputs", "encoding_layer", "layer_zero_output", "input_statistics", "layer_zero_name",
    "inputs_attrs",
    "check_pair",
]

#: Most samples accepted in one call (a guard against passing a whole dataset by mistake).
MAX_SAMPLES = 100_000


def check_inputs(inputs, steps: int, *, param: str = "inputs") -> np.ndarray:
    """Validated real inputs as a float64 array ``(samples, steps, n_0)``.

    Parameters
    ----------
    inputs : array_like
        ``(samples, n_0)``: constant over time (returned as a read-only
        broadcast view over the steps); ``(samples, steps, n_0)``: one row per
        step. Finite real numbers, ``1 <= samples <= MAX_SAMPLES``,
        ``n_0 >= 1``.
    steps : int
        The network's number of time steps ``T``.
    param : str
        Name used in the error messages.

    Raises
    ------
    ValueError
        Naming ``param``, the shape or value received and what is allowed.
    """
    x = _numeric(inputs)
    if x is None:
        raise ValueError(
            f"{param} must be a numeric array (samples, n_0) or (samples, steps, n_0); "
            f"got {type(inputs).__name__}"
        )
    if x.ndim not in (2, 3) or x.size == 0:
        raise ValueError(
            f"{param} must have shape (samples, n_0) (constant over time) or (samples, "
            f"steps={steps}, n_0) (one row per step), non-empty; got shape {x.shape}"
        )
    if x.ndim == 3 and x.shape[1] != steps:
        raise ValueError(
            f"{param} has {x.shape[1]} time steps (shape {x.shape}) but the network runs "
            f"steps={steps}: give (samples, {steps}, n_0) or constant (samples, n_0)"
        )
    if x.shape[0] > MAX_SAMPLES:
        raise ValueError(
            f"{param} has {x.shape[0]} samples; at most {MAX_SAMPLES} per call (pass a subset)"
        )
    if not np.all(np.isfinite(x)):
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(f"{param} must be finite; entry {tuple(int(i) for i in bad)} is not")
    if np.max(np.abs(x)) > 1e100:
        raise ValueError(f"{param} must have |x| <= 1e100 (membranes would overflow)")
    if x.ndim == 2:
        x = np.broadcast_to(x[:, None, :], (x.shape[0], steps, x.shape[1]))
    return x


def _numeric(value) -> np.ndarray | None:
    try:
        arr = np.asarray(value)
    except Exception:
        return None
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64, copy=False)
    if arr.dtype == object and arr.size and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in arr.flat
    ):
        return arr.astype(np.float64)
    return None


def encoding_layer(x: np.ndarray, cfg) -> tuple[np.ndarray, np.ndarray]:
    """The encoding layer on one sample: membranes and spikes ``(T, n_0)``.

    ``u_0^t`` is driven by ``c x^t`` (``c = cfg.input_factor``) through the
    config's neuron model (:func:`~snninit.models.neurons.neuron_layer`; a
    recurrent network's encoding layer is the leaky neuron, without
    recurrence), from a zero state.

    Parameters
    ----------
    x : ndarray, shape (T, n_0)
        One sample's input at every step (validated by :func:`check_inputs`).
    cfg : NetworkConfig
    """
    u = np.array(x, dtype=np.float64, order="C") * cfg.input_factor
    s = np.zeros(u.shape, dtype=np.uint8)
    neuron_layer(u, s, cfg.neuron_code, cfg.beta, cfg.theta, RESET_CODES[cfg.reset],
                 cfg.reset_decay, *cfg.neuron_params)
    return u, s


def inputs_attrs(inputs, x: np.ndarray, encode: bool) -> dict:
    """Attributes that make a dataset computed on ``inputs`` say what they were.

    ``samples``, ``input_size`` (``n_0``), ``inputs_vary`` (1 when the inputs
    change over time, 0 when constant), ``inputs_sha256`` (of the float64
    array as given, so two results on the same data are recognisably so) and
    ``layer_zero`` (:func:`layer_zero_name`).
    """
    given = np.ascontiguousarray(np.asarray(inputs, dtype=np.float64))
    return {
        "samples": int(x.shape[0]),
        "input_size": int(x.shape[-1]),
        "inputs_vary": int(given.ndim == 3),
        "inputs_sha256": hashlib.sha256(given.tobytes()).hexdigest(),
        "layer_zero": layer_zero_name(encode),
    }


def layer_zero_name(encode: bool) -> str:
    """What layer 0 is, as the ``layer_zero`` attribute of a dataset says it."""
    if encode:
        return "encoding layer (the config's neuron on c x)"
    return "the inputs themselves, fed to the first weight layer (no membrane)"


def layer_zero_output(x: np.ndarray, cfg, encode: bool) -> np.ndarray:
    """What the first weight layer sees from one sample: ``s_0`` or ``x`` itself, ``(T, n_0)``."""
    if encode:
        return encoding_layer(x, cfg)[1]
    return np.ascontiguousarray(x, dtype=np.float64)


def input_statistics(x: np.ndarray, cfg, encode: bool) -> dict:
    """Layer 0 of one sample, exactly: what the first hidden layer's input law needs.

    Parameters
    ----------
    x : ndarray, shape (T, n_0)
        One sample (:func:`check_inputs`).
    cfg : NetworkConfig
    encode : bool
        Layer 0 is the encoding layer on ``c x`` (True) or ``x`` itself (False).

    Returns
    -------
    dict
        ``first`` (T,): ``m^t = mean_j y_j^t``; ``corr`` (T, T): ``C(t, t') =
        mean_j y_j^t y_j^t'`` (module docstring, ``y`` the layer-0 output);
        ``fan_in``: ``n_0``. With ``encode``: also the layer's statistics over
        its ``n_0`` neurons (:func:`~snninit.models.statistics.layer_moments`,
        as a simulation reports them), ``mean_u``, ``var_u``, ``skew``,
        ``kurt``, ``rate`` (T,) and ``spikes`` (T,, int64).
    """
    if encode:
        u, y = encoding_layer(x, cfg)
    else:
        y = np.ascontiguousarray(x, dtype=np.float64)
    n0 = y.shape[1]
    yf = y.astype(np.float64)
    out = {"first": yf.mean(axis=1), "corr": yf @ yf.T / n0, "fan_in": n0}
    if encode:
        T = y.shape[0]
        stats = {k: np.zeros(T) for k in ("mean_u", "var_u", "skew", "kurt")}
        spikes = np.zeros(T, dtype=np.int64)
        layer_moments(u, y, stats["mean_u"], stats["var_u"], stats["skew"], stats["kurt"],
                      spikes)
        out.update(stats, spikes=spikes, rate=spikes / n0)
    return out


def check_pair(cfg, inputs, input_correlation, encode):
    """``(x, rho)``: a validated pair ``(2, T, n_0)`` of real inputs, or ``rho``.

    Exactly one of ``inputs`` (two samples, as for :func:`check_inputs`) and
    ``input_correlation`` (``rho`` in [-1, 1] of a synthetic ``N(0, 1)``
    pair, which has an encoding layer: ``encode`` must be True); the other
    is returned as None. Used by the correlation map and its simulation.
    """
    if (inputs is None) == (input_correlation is None):
        raise ValueError("give exactly one of inputs= (a pair of inputs) and "
                         "input_correlation= (rho of a synthetic N(0, 1) pair)")
    if input_correlation is not None:
        if encode is not True:
            raise ValueError("encode=False needs inputs= (the inputs feed the first weight "
                             "layer themselves)")
        rho = check_real("input_correlation", input_correlation, low=-1.0, high=1.0)
        return None, rho
    x = check_inputs(inputs, cfg.steps)
    if x.shape[0] != 2:
        raise ValueError(f"inputs must hold exactly 2 samples (a pair); got {x.shape[0]}")
    return x, None
