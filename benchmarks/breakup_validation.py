"""Predicted vs simulated break-up layer of the time-homogeneous state (DESIGN 3e).

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python3 benchmarks/breakup_validation.py
    python3 benchmarks/breakup_validation.py --quick     # widths 250, 1000 only

Setting: beta = 0.5, Micheli's rule, theta = 1, T = 20, reset "subtract".
Prediction: ``si.theory.breakup_layer`` (one analysis, whose ``growth`` curve
does not depend on the width, read at every width). Simulation: the gram
sampler, ``groups`` seed groups of ``reps`` networks each; the break-up layer
of a group is ``si.theory.unstable_layer`` of its simulation. The table gives
the groups' mean, SD and range, and the prediction's ceiling (the first
integer layer past the predicted crossing, what ``unstable_layer`` reports)
and the constant-growth closed form ``l*(n) = l*(1000) + ln(n / 1000) / (2 ln Lambda)``
with ``Lambda = g_l / g_{l-1}`` at the width-1000 crossing.

A second table checks the linear-noise theory below the break-up: the
simulated median relative excess spread of the rate (the quantity that
``unstable_layer`` thresholds, written out here per layer) against the
predicted ``g_l / sqrt(n)``.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

import snninit as si
from snninit.theory.breakup import breakup_analysis, crossing_layer

SETTING = dict(steps=20, theta=1.0, beta=0.5, init="micheli", reset="subtract")
WIDTHS = (250, 1000, 4000, 16000)


def simulated(width: int, layers: int, reps: int, groups: int) -> list[int | None]:
    """Break-up layer of each seed group (``unstable_layer`` of its simulation)."""
    cfg = si.NetworkConfig(width=width, layers=layers, **SETTING)
    out = []
    for g in range(groups):
        sim = si.montecarlo.simulate(cfg, reps=reps, seed=1000 + g, method="gram")
        out.append(si.theory.unstable_layer(sim))
    return out


def relative_spread(sim) -> np.ndarray:
    """Per layer: median over time of the excess across-network SD of the rate over its level.

    The quantity that :func:`~snninit.theory.unstable_layer` compares with its
    tolerance (the spread beyond binomial counting noise, over the layer's
    time-averaged rate), for every layer instead of the first crossing.
    """
    width = int(sim.attrs["width"])
    rate = sim["rate"]
    cell = rate.mean("rep")
    excess = np.sqrt(np.maximum(rate.var("rep", ddof=1) - cell * (1 - cell) / width, 0.0))
    return (excess / rate.mean(("rep", "time"))).median("time").values


def main(quick: bool = False) -> None:
    widths = WIDTHS[:2] if quick else WIDTHS
    layers = 40
    t0 = time.perf_counter()
    cfg = si.NetworkConfig(width=max(widths), layers=32, **SETTING)
    analysis = breakup_analysis(cfg)
    t_theory = time.perf_counter() - t0
    lam = analysis["lam"].values
    print(
        f"theory: {t_theory:.1f} s ({analysis.attrs['paths']} paths/layer, 32 layers); "
        "lambda_l (layers 5, 10, 15, 20, 25): "
        + ", ".join(f"{lam[i]:.3f}" for i in (5, 10, 15, 20, 25))
    )
    print(
        f"{'width':>6} {'predicted':>9} {'ceil':>5} {'simulated mean':>15} {'sd':>5} "
        f"{'range':>9} {'groups x reps':>14} {'sim s':>6} {'closed form':>11}"
    )
    ref = crossing_layer(analysis, 1000)
    growth = analysis["growth"].values
    k = math.ceil(ref)
    big_lambda = growth[k] / growth[k - 1]
    for width in widths:
        pred = crossing_layer(analysis, width)
        closed = ref + math.log(width / 1000) / (2 * math.log(big_lambda))
        groups, reps = (4, 40) if width <= 4000 else (3, 30)
        t0 = time.perf_counter()
        hits = simulated(width, layers, reps, groups)
        t_sim = time.perf_counter() - t0
        vals = np.array([h if h is not None else np.nan for h in hits], dtype=float)
        print(
            f"{width:>6} {pred:>9.2f} {math.ceil(pred):>5} {np.nanmean(vals):>15.2f} "
            f"{np.nanstd(vals, ddof=1):>5.2f} {f'{np.nanmin(vals):.0f}-{np.nanmax(vals):.0f}':>9} "
            f"{f'{groups} x {reps}':>14} {t_sim:>6.1f} {closed:>11.2f}"
        )
    print(f"(closed form: Lambda = {big_lambda:.3f} at layer {k})")
    print("linear-noise check: simulated relative excess spread vs predicted g_l / sqrt(n)")
    for width in widths[:3]:
        cfg = si.NetworkConfig(width=width, layers=24, **SETTING)
        sim = si.montecarlo.simulate(cfg, reps=80, seed=5, method="gram")
        rel = relative_spread(sim)
        pred = growth[: rel.size] / math.sqrt(width)
        print(f"  n = {width} (80 reps), layers 2, 4, ..., 24")
        print("    simulated " + " ".join(f"{x:5.3f}" for x in rel[2::2]))
        print("    predicted " + " ".join(f"{x:5.3f}" for x in pred[2::2]))


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
