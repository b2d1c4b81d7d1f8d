"""Simulating the kicked recurrent layer (:mod:`snninit.theory.sustained`'s protocol).

One network per repetition: the kick ``x ~ N(0, kick^2)^width`` from the
repetition's own generator (:func:`~.engine.rep_generator`), then the
recurrent layer kernel of :mod:`snninit.models.recurrent` with the kick as
the drive at ``t = 0`` and no drive after, ``V`` (``width x width``, i.i.d.
mean 0, variance ``gain / width``) drawn from the same generator row by row as
the neurons first spike (:func:`~snninit.models.recurrent.recurrent_layer_drawn`,
as in :func:`~snninit.montecarlo.simulate`). Serial and event-driven in a
fixed order: the same seed gives the same bits whatever the thread count.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from .._checks import check_int
from ..config import check_limit
from ..models import RESET_CODES
from ..models.recurrent import KICKED_LAYER_DEFAULTS as _KICK
from ..models.recurrent import check_kicked_layer, recurrent_layer_drawn
from .engine import rep_generator

__all__ = ["simulate_sustained_activity"]

#: Largest V held in memory (bytes): refused before any work.
_MAX_BYTES = 4 * 2**30


def simulate_sustained_activity(
    gain,
    *,
    width: int = 1000,
    beta: float = _KICK["beta"],
    theta: float = _KICK["theta"],
    reset: str = _KICK["reset"],
    reset_decay: bool = _KICK["reset_decay"],
    steps: int = _KICK["steps"],
    kick: float = _KICK["kick"],
    reps: int = 20,
    seed: int = 0,
) -> xr.Dataset:
    """Simulate ``reps`` kicked recurrent layers; the Monte Carlo side of
    :func:`snninit.theory.sustained_activity` (same parameters, plus ``width``,
    ``reps`` and ``seed``).

    Returns
    -------
    xarray.Dataset
        Over ``(rep, time)``: ``rate``, ``mean_u``, ``var_u`` (over the
        neurons, ddof 0, as :func:`~snninit.montecarlo.simulate`); ``alive``
        (rep): the network still spikes at the last step.
    """
    gain, beta, theta, reset, reset_decay, steps, kick = check_kicked_layer(
        gain, beta, theta, reset, reset_decay, steps, kick
    )
    width = check_limit("width", width)
    reps = check_int("reps", reps, low=1, high=100_000)
    seed = check_limit("seed", seed)
    need = 8 * width * width + 9 * steps * width
    if need > _MAX_BYTES:
        raise ValueError(
            f"width={width} needs {need / 2**30:.1f} GiB for V and the membranes; allowed "
            f"up to {_MAX_BYTES / 2**30:.0f} GiB (width <= about 23000)"
        )
    from .._resources import check_work

    # per network: width^2 weights drawn (numba, ~1e8/s) and a row added per spike
    check_work("simulate_sustained_activity", reps * width * width * (1 + 0.3 * steps) / 1e8,
               0.0, f"{reps} networks x {width}^2 weights x {steps} steps",
               "use fewer reps, steps or a smaller width")
    rate = np.empty((reps, steps))
    mean_u = np.empty((reps, steps))
    var_u = np.empty((reps, steps))
    v_t = np.empty((width, width))
    sd = math.sqrt(gain / width)
    for r in range(reps):
        gen = rep_generator(seed, r)
        u = np.zeros((steps, width))
        u[0] = kick * gen.standard_normal(width)
        s = np.zeros((steps, width), dtype=np.uint8)
        recurrent_layer_drawn(u, s, gen, 0.0, sd, False, v_t, beta, theta, RESET_CODES[reset],
                              reset_decay)
        rate[r] = s.mean(axis=1)
        mean_u[r] = u.mean(axis=1)
        var_u[r] = u.var(axis=1)
    dims = ("rep", "time")
    ds = xr.Dataset(
        {"rate": (dims, rate), "mean_u": (dims, mean_u), "var_u": (dims, var_u),
         "alive": ("rep", rate[:, -1] > 0)},
        coords={"rep": np.arange(reps), "time": np.arange(steps)},
    )
    ds.attrs.update(
        kind="simulation", protocol="sustained_activity", gain=gain, width=width, beta=beta,
        theta=theta, reset=reset, reset_decay=int(reset_decay), steps=steps, kick=kick,
        reps=reps, seed=seed,
    )
    return ds
