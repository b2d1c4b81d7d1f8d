"""Self-sustained activity of a recurrent layer: the dynamic mean field after a kick.

A recurrent layer (:mod:`snninit.models.recurrent`) whose feed-forward input
stops after the first step keeps firing only if its own recurrent input can
carry the activity. The protocol (its parameters checked once, by
:func:`snninit.models.recurrent.check_kicked_layer`), predicted here and
simulated by :func:`snninit.montecarlo.simulate_sustained_activity`:

* at ``t = 0`` every neuron gets an independent kick ``x_i ~ N(0, kick^2)``
  (its membrane, as the encoding layer's is its input);
* for ``t >= 1`` the only input is the recurrent one, ``u^t = beta u^{t-1} +
  V s^{t-1} - theta s^{t-1}`` (subtract reset; zero and none as elsewhere),
  ``V`` i.i.d. with mean 0 and variance ``gain / n`` (``gain = n Var[V]``, the
  recurrent input variance per unit of presynaptic rate).

Dynamic mean field (n -> infinity): the recurrent input is a Gaussian path
with covariance ``gain C(t-1, t'-1)``, ``C`` the layer's own spike
correlation, so the map is causal in time (the kernel of the recurrent
layers of :func:`~snninit.theory.dynamic_mean_field`, fed the kick as a
feed-forward input at ``t = 0`` only). ``r = 0`` is always a stable fixed
point (a silent layer gets no input: the rate map falls faster than linearly
at 0); an active fixed point ``r* > 0`` appears, in a jump, at a critical
gain (a saddle-node bifurcation). A kick that lands above the unstable
branch then reaches ``r*``: activity is self-sustained. Below the critical
gain every kick dies out. :func:`critical_gain` finds it by bisection, with
an error that covers the number of steps, of paths and the seed.

Finite networks part from the limit near the critical gain: their rate
fluctuates by ``O(1 / sqrt(n))`` around ``r*``, so an active state close to
the bifurcation is metastable and dies after a time that grows with ``n``
(docs/neuron_models.md measures it).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import xarray as xr
from threadpoolctl import threadpool_limits

from .._checks import check_int, check_real
from ..config import NetworkConfig, check_config, check_limit
from ..models import RESET_CODES
from ..models.recurrent import KICKED_LAYER_DEFAULTS as _KICK
from ..models.recurrent import check_kicked_layer
from .dmft_paths import _path_normals, _recurrent_layer_kernel, _shape_from_raw
from .rules import recurrent_weight_moments

__all__ = ["sustained_activity", "critical_gain", "recurrent_gain", "CriticalGain"]

#: Replicate groups of paths (their spread gives the standard errors).
_GROUPS = 8


def sustained_activity(
    gain,
    *,
    beta: float = _KICK["beta"],
    theta: float = _KICK["theta"],
    reset: str = _KICK["reset"],
    reset_decay: bool = _KICK["reset_decay"],
    steps: int = _KICK["steps"],
    kick: float = _KICK["kick"],
    paths: int = 2**13,
    seed: int = 0,
) -> xr.Dataset:
    """The kicked recurrent layer's rate and membrane over time, n -> infinity.

    Parameters
    ----------
    gain : float
        ``n Var[V]`` in [0, 1e6]: the recurrent input's variance per unit of
        presynaptic rate (for a network's layers: :func:`recurrent_gain`).
    beta, theta, reset, reset_decay
        The neuron (as in :class:`~snninit.config.NetworkConfig`).
    steps : int
        Time steps ``T`` in [2, 2000], the kick at ``t = 0``.
    kick : float
        Standard deviation of the kick, > 0.
    paths, seed : int
        Sampled paths (split into 8 replicate groups; >= 64) and seed.

    Returns
    -------
    xarray.Dataset
        Over ``time``: ``rate``, ``mean_u``, ``var_u``, each with ``*_se``
        (the spread of the 8 groups' estimates over sqrt(8)); attrs the
        protocol's parameters. ``t = 0`` is exact (``rate = Q(theta /
        kick)``, ``u ~ N(0, kick^2)``).
    """
    gain, beta, theta, reset, reset_decay, steps, kick = check_kicked_layer(
        gain, beta, theta, reset, reset_decay, steps, kick
    )
    paths = check_int("paths", paths, low=64, high=2**24)
    seed = check_limit("seed", seed)
    from .._resources import check_work

    # the causal kernel: O(t) per path and step (its row of the Cholesky factor)
    check_work("sustained_activity", paths * steps * steps / 2 / 1e8,
               paths * steps * 9.0 + _GROUPS * steps * steps * 16.0,
               f"{paths} paths x {steps}^2 steps", "use fewer paths or steps")
    per_group = -(-paths // _GROUPS)
    z = _path_normals(steps, per_group, _GROUPS, seed)
    cov = np.zeros((_GROUPS, steps, steps))
    cov[:, 0, 0] = kick * kick
    raw = np.empty((_GROUPS, 4, steps))
    corr = np.empty((_GROUPS, steps, steps))
    # the membrane stays O(kick + sqrt(gain) + theta): no rescaling of the moments needed
    with threadpool_limits(1):
        _recurrent_layer_kernel(
            z, cov, np.zeros((_GROUPS, steps)), gain, 0.0, np.ones((_GROUPS, steps)), beta,
            theta, RESET_CODES[reset], reset_decay, raw, corr,
        )
    rate = np.diagonal(corr, axis1=1, axis2=2)
    var, _, _ = _shape_from_raw(raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3])
    values = {"rate": rate, "mean_u": raw[:, 0], "var_u": var}
    # t = 0 exactly: u^0 = kick x
    exact = {"rate": 0.5 * math.erfc(theta / (kick * math.sqrt(2.0))), "mean_u": 0.0,
             "var_u": kick * kick}
    data = {}
    for name, groups in values.items():
        mean = groups.mean(axis=0)
        se = groups.std(axis=0, ddof=1) / math.sqrt(_GROUPS)
        mean[0], se[0] = exact[name], 0.0
        data[name] = ("time", mean)
        data[f"{name}_se"] = ("time", se)
    ds = xr.Dataset(data, coords={"time": np.arange(steps)})
    ds.attrs.update(
        kind="theory",
        protocol="sustained_activity",
        method="dynamic mean field of a recurrent layer after a kick (n -> infinity), "
        f"{per_group * _GROUPS} scrambled-Sobol paths in {_GROUPS} replicate groups",
        gain=gain, beta=beta, theta=theta, reset=reset, reset_decay=int(reset_decay),
        steps=steps, kick=kick, paths=per_group * _GROUPS, seed=seed,
    )
    return ds


@dataclasses.dataclass(frozen=True)
class CriticalGain:
    """The critical recurrent gain of :func:`critical_gain` and its error.

    Attributes
    ----------
    gain : float
        The smallest ``n Var[V]`` at which a kick's activity lasts to the last
        step (midpoint of the final bracket).
    error : float
        Half the bracket plus the largest change of ``gain`` when the steps
        are doubled, the paths quartered or the seed changed: it covers the
        dependence on all three.
    bracket : tuple of float
        The final bisection bracket.
    variants : dict
        ``gain`` of each variant ("steps x2", "paths / 4", "seed + 1").
    rate : float
        The predicted rate at the last step at the bracket's upper end (gain
        0 and an empty ``variants``: activity lasts without any recurrence,
        e.g. at threshold 0). Near
        the bifurcation the approach to the active state is slow (the ghost
        of the saddle-node), so this is below the active state's rate.
    """

    gain: float
    error: float
    bracket: tuple[float, float]
    variants: dict
    rate: float


def _bisect(persists, lo, hi, tol):
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if persists(mid):
            hi = mid
        else:
            lo = mid
    return lo, hi


def critical_gain(
    *,
    beta: float = _KICK["beta"],
    theta: float = _KICK["theta"],
    reset: str = _KICK["reset"],
    reset_decay: bool = _KICK["reset_decay"],
    steps: int = _KICK["steps"],
    kick: float = _KICK["kick"],
    paths: int = 2**13,
    seed: int = 0,
    rate_floor: float = 1e-3,
    tol: float = 0.01,
    max_gain: float = 1e3,
) -> CriticalGain:
    """The gain above which a kick's activity sustains itself (the saddle-node).

    "Sustained": the predicted rate at the last step exceeds ``rate_floor``
    (far below the active state's rate, which jumps to O(0.1) at the
    bifurcation, and far above the silent state's, which falls faster than
    exponentially). Bisection on ``gain`` in [0, ``max_gain``] to a bracket of
    relative width ``tol``; repeated with twice the steps, a quarter of the
    paths and another seed, whose spread enters ``error``.

    Raises
    ------
    ValueError
        For bad input, or if even ``max_gain`` does not sustain activity.
    """
    check_kicked_layer(0.0, beta, theta, reset, reset_decay, steps, kick)
    if steps > 1000:
        raise ValueError(
            f"steps must be an integer in [2, 1000] for critical_gain (its check runs twice "
            f"the steps, at most 2000); got {steps}"
        )
    rate_floor = check_real("rate_floor", rate_floor, low=0.0, high=0.5, low_open=True)
    tol = check_real("tol", tol, low=1e-4, high=0.5)
    max_gain = check_real("max_gain", max_gain, low=0.0, high=1e6, low_open=True)
    base = dict(beta=beta, theta=theta, reset=reset, reset_decay=reset_decay, kick=kick)

    def run(gain, steps_, paths_, seed_):
        ds = sustained_activity(gain, steps=steps_, paths=paths_, seed=seed_, **base)
        return float(ds["rate"].values[-1])

    def solve(steps_, paths_, seed_):
        if run(max_gain, steps_, paths_, seed_) <= rate_floor:
            raise ValueError(
                f"critical_gain: no gain up to max_gain={max_gain} sustains the activity of a "
                f"kick of sd {kick} (beta={beta}, theta={theta}, reset={reset!r}); raise "
                "max_gain or the kick"
            )
        hi = 1.0
        while run(hi, steps_, paths_, seed_) <= rate_floor:
            hi = min(2.0 * hi, max_gain)
        lo = 0.0 if hi == 1.0 else hi / 2.0
        return _bisect(lambda g: run(g, steps_, paths_, seed_) > rate_floor, lo, hi, tol * hi)

    if run(0.0, steps, paths, seed) > rate_floor:  # no recurrence needed (theta 0, no reset)
        rate = run(0.0, steps, paths, seed)
        return CriticalGain(0.0, 0.0, (0.0, 0.0), {}, rate)
    from .._resources import check_work

    check_work("critical_gain", 4 * 25 * paths * (2 * steps) ** 2 / 2 / 1e8, 0.0,
               f"about 100 runs of {paths} paths x up to {2 * steps}^2 steps",
               "use fewer paths or steps")
    lo, hi = solve(steps, paths, seed)
    gain = 0.5 * (lo + hi)
    variants = {}
    for name, args in (
        ("steps x2", (2 * steps, paths, seed)),
        ("paths / 4", (steps, max(paths // 4, 64), seed)),
        ("seed + 1", (steps, paths, seed + 1)),
    ):
        v_lo, v_hi = solve(*args)
        variants[name] = 0.5 * (v_lo + v_hi)
    error = 0.5 * (hi - lo) + max(abs(v - gain) for v in variants.values())
    return CriticalGain(gain, error, (lo, hi), variants, run(hi, steps, paths, seed))


def recurrent_gain(cfg: NetworkConfig) -> np.ndarray:
    """``n Var[V_l]`` of every hidden layer of a recurrent network (l = 1..L).

    The gain of :func:`sustained_activity` that the network's rule and
    ``recurrent_fraction`` give its recurrent weights (zeros for the
    feed-forward models).
    """
    cfg = check_config(cfg)
    return cfg.width * recurrent_weight_moments(cfg)[1]
