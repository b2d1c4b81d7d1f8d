"""Null-test harness: the false-failure rate of the cell tests, measured on the real simulator.

Every verdict of :func:`~snninit.validation.assert_agrees` states a
family-wise false-failure rate ``alpha``, and every cell's ``z`` is meant to
be a normal score (``|z| > 2`` in 4.55 % of cells when the prediction is
exact). Neither is true by construction near extinction, where a layer's
law across networks is bimodal (silent networks and survivors) and skewed.
This module *measures* both: it simulates many independent seeds of a
configuration whose exact law is known (the one-step spike-count chain of
:func:`~snninit.theory.finite_size` is exact for Gaussian weights) and
counts how often the comparison rejects it.

Over many time steps (``steps > 1``) the exact law known for every neuron
model (:mod:`snninit.models`) is that of the encoding layer: the dynamic mean
field computes its statistics exactly from ``I ~ N(0, 1)``
(:func:`~snninit.theory.dynamic_mean_field`, layer 0). The harness then tests
the encoding layer's cells at every step: skewed, non-Gaussian membranes of
each model, with the spread estimated from the sample.

Two paths are measured, as the comparison has two:

* ``spread=True``: the theory states the spread across networks (``*_sd``
  companions), the cell tests use it (normal reference law);
* ``spread=False``: the same theory with every ``*_sd`` companion dropped, as
  for a prediction that states only means (the cell tests estimate the
  spread from the sample, Student t).

Independently, ``survivors=False`` drops the survivors' moments
(``*_given_alive``) too, as for a theory that states means and ``p_extinct``
only: the comparison derives them from ``p_extinct`` (see
:func:`~snninit.validation.compare`), and this measures that path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from .._checks import check_bool, check_int, check_real
from ..config import NetworkConfig, check_config
from .comparison import compare, family_pvalues

__all__ = ["null_rejections", "null_summary", "format_null_summary", "CONTINUOUS_CELLS"]

#: Variables whose cells are one test on a continuous statistic (the survivors'
#: means): their ``|z| > 2`` rate must be 4.55 %.
#: The other cells (two-part tests, exact binomial counts) are discrete or
#: combined with Bonferroni, so their rate is at most 4.55 % (valid, not exact).
CONTINUOUS_CELLS = (
    "var_u_given_alive",
    "mean_u_given_alive",
    "spikes_given_alive",
    "rate_given_alive",
)

#: Nominal per-cell rate of ``|z| > 2`` for a normal score.
Z2_RATE = float(2.0 * stats.norm.sf(2.0))


def _stripped(theory: xr.Dataset, spread: bool, survivors: bool) -> xr.Dataset:
    """The theory without its stated spread (``*_sd``) and/or its survivors' moments."""
    drop = [
        v
        for v in theory.data_vars
        if (not spread and "_sd" in v) or (not survivors and v.endswith("_given_alive"))
    ]
    return theory.drop_vars(drop)


def null_rejections(
    cfg: NetworkConfig,
    seeds: int = 400,
    *,
    reps: int = 20,
    alphas: Sequence[float] = (0.05, 1e-3),
    spread: bool | None = None,
    survivors: bool | None = None,
    first_seed: int = 0,
    method: str = "gram",
) -> xr.Dataset:
    """Simulate ``seeds`` independent experiments of an exact null and test each.

    Parameters
    ----------
    cfg : NetworkConfig
        One-step configuration (``steps == 1``) with Gaussian weights, so that
        :func:`~snninit.theory.finite_size` is the exact law; or a multi-step
        one of any neuron model, whose encoding layer is tested (exact there).
    seeds : int
        Number of independent experiments (simulation seeds
        ``first_seed .. first_seed + seeds - 1``), in [1, 100000].
    reps : int
        Networks per experiment, in [3, 10000].
    alphas : sequence of float
        Family-wise false-failure rates at which each experiment's verdict is
        taken (Bonferroni over its tested cells, as :func:`assert_agrees`).
    spread : bool, optional
        Whether the theory states its spread across networks (see the module
        docstring). Default: True for one step; for ``steps > 1`` it must be
        False (the encoding layer's prediction states means only).
    survivors : bool, optional
        Whether the theory states the survivors' moments (``*_given_alive``);
        without them the comparison derives them from ``p_extinct``. Default:
        True for one step; ``steps > 1``: False (none are stated).
    first_seed : int
        First simulation seed.
    method : str
        Simulation sampler (``"gram"``, exact and O(n) per layer, or ``"dense"``).

    Returns
    -------
    xarray.Dataset
        Over ``seed`` (and ``alpha`` / ``variable``): ``rejected`` (seed,
        alpha), ``z_exceed`` (seed, variable), the number of tested cells with
        ``|z| > 2``, and ``tested`` (seed, variable), the number of tested cells.
    """
    cfg = check_config(cfg)
    from ..montecarlo import simulate

    one_step = cfg.steps == 1
    if one_step and cfg.weights != "normal":
        raise ValueError(
            "null_rejections needs an exact null: with steps=1, cfg.weights must be "
            f"'normal' (the exact chain's weights); got weights={cfg.weights!r}"
        )
    for name, flag in (("spread", spread), ("survivors", survivors)):
        if not one_step and flag:
            raise ValueError(
                f"{name} must be False for steps > 1: the encoding layer's exact prediction "
                "states means only"
            )
    seeds = check_int("seeds", seeds, low=1, high=100_000)
    reps = check_int("reps", reps, low=3, high=10_000)
    first_seed = check_int("first_seed", first_seed, low=0)
    alphas = [
        check_real("alphas", a, low=0.0, high=1.0, low_open=True, high_open=True) for a in alphas
    ]
    if not alphas:
        raise ValueError("alphas must hold at least one rate in (0, 1)")
    spread = check_bool("spread", one_step if spread is None else spread)
    survivors = check_bool("survivors", one_step if survivors is None else survivors)
    theory, truth = _exact_null(cfg, spread, survivors)
    rejected = np.zeros((seeds, len(alphas)), dtype=bool)
    exceed: list[dict[str, int]] = []
    tested: list[dict[str, int]] = []
    for i in range(seeds):
        sim = simulate(cfg, reps=reps, seed=first_seed + i, method=method)
        cmp = compare(theory, sim)
        pvals, variables = family_pvalues(cmp)
        m = pvals.size
        rejected[i] = [bool((pvals < a / m).any()) for a in alphas]
        ex, te = {}, {}
        for v in variables:
            mask = np.asarray(cmp[f"{v}_tested"].values).ravel()
            z = np.asarray(cmp[f"{v}_z"].values).ravel()[mask]
            ex[v], te[v] = int((np.abs(z) > 2.0).sum()), int(mask.sum())
        exceed.append(ex)
        tested.append(te)
    names = list(exceed[0])
    ds = xr.Dataset(
        {
            "rejected": (("seed", "alpha"), rejected),
            "z_exceed": (("seed", "variable"), np.array([[e[v] for v in names] for e in exceed])),
            "tested": (("seed", "variable"), np.array([[t[v] for v in names] for t in tested])),
        },
        coords={
            "seed": np.arange(first_seed, first_seed + seeds),
            "alpha": np.asarray(alphas, dtype=float),
            "variable": names,
        },
    )
    ds.attrs.update(
        kind="null_test",
        config=repr(cfg),
        reps=reps,
        spread=int(spread),
        survivors=int(survivors),
        method=method,
        theory=truth,
    )
    return ds


def _exact_null(cfg: NetworkConfig, spread: bool, survivors: bool) -> tuple[xr.Dataset, str]:
    """The exact prediction the null test compares with, and its description."""
    from ..theory import dynamic_mean_field, finite_size

    if cfg.steps == 1:
        truth = (
            "finite_size (exact chain)"
            + ("" if spread else " without *_sd companions")
            + ("" if survivors else ", survivors' moments derived from p_extinct")
        )
        return _stripped(finite_size(cfg), spread, survivors), truth
    # layer 0 and its SEs are exact whatever the paths (a fixed small number suffices)
    theory = dynamic_mean_field(cfg, paths=256, seed=0).sel(layer=[0])
    theory = theory[[v for v in theory.data_vars if "time" in theory[v].dims
                     and set(theory[v].dims) <= {"layer", "time"}]]
    return theory, f"dynamic_mean_field, encoding layer (exact; neuron={cfg.neuron!r})"


def _clopper_pearson(k: int, n: int, level: float) -> tuple[float, float]:
    lo = 0.0 if k == 0 else float(stats.beta.ppf((1 - level) / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf((1 + level) / 2, k + 1, n - k))
    return lo, hi


def null_summary(ds: xr.Dataset, level: float = 0.999) -> dict[str, Any]:
    """Rates and confidence intervals of a :func:`null_rejections` result.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`null_rejections`.
    level : float
        Confidence level of the intervals, in (0, 1).

    Returns
    -------
    dict
        ``family``: per alpha, the number and fraction of rejected seeds with
        its Clopper-Pearson interval, and ``bound``: the largest count
        compatible with a rate of ``alpha`` (the ``level`` quantile of
        ``Bin(seeds, alpha)``); ``cells``: per variable, the pooled fraction of
        tested cells with ``|z| > 2`` and its standard error. Cells of one seed
        are correlated (layers of one network), so the SE is the
        cluster-robust one of a ratio estimator over seeds, ``sqrt(S / (S - 1)
        sum_s (e_s - F t_s)^2) / sum_s t_s``, not the binomial one over cells.
    """
    if not isinstance(ds, xr.Dataset) or ds.attrs.get("kind") != "null_test":
        raise ValueError(
            "ds must be the result of snninit.validation.null_rejections(...); "
            f"got {type(ds).__name__}"
        )
    level = check_real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    seeds = int(ds.sizes["seed"])
    family = {}
    for a in ds["alpha"].values:
        k = int(ds["rejected"].sel(alpha=a).sum())
        family[float(a)] = {
            "rejected": k,
            "seeds": seeds,
            "rate": k / seeds,
            "ci": _clopper_pearson(k, seeds, level),
            "bound": int(stats.binom.ppf(level, seeds, float(a))),
        }
    cells = {}
    for v in ds["variable"].values:
        e = ds["z_exceed"].sel(variable=v).values.astype(float)
        t = ds["tested"].sel(variable=v).values.astype(float)
        total = t.sum()
        frac = e.sum() / total if total > 0 else float("nan")
        if total > 0 and seeds > 1:
            se = float(np.sqrt(seeds / (seeds - 1) * ((e - frac * t) ** 2).sum()) / total)
        else:
            se = float("nan")
        cells[str(v)] = {"rate": float(frac), "se": se, "cells": int(total)}
    return {"family": family, "cells": cells, "level": level, "nominal_z2": Z2_RATE}


def format_null_summary(summary: dict[str, Any], title: str = "") -> str:
    """A plain-text table of :func:`null_summary` (for notes and the validate log)."""
    if not isinstance(summary, dict) or not {"family", "cells", "level"} <= set(summary):
        raise ValueError(
            "summary must be the dict of snninit.validation.null_summary(...); "
            f"got {type(summary).__name__}"
        )
    lines = [title] if title else []
    for a, f in summary["family"].items():
        lo, hi = f["ci"]
        lines.append(
            f"  family-wise alpha={a:g}: {f['rejected']}/{f['seeds']} rejected "
            f"(rate {f['rate']:.4f}, {summary['level']:.1%} CI [{lo:.4f}, {hi:.4f}]; "
            f"allowed <= {f['bound']})"
        )
    for v, c in summary["cells"].items():
        lines.append(
            f"  {v:<20} |z|>2 in {c['rate']:.4f} ± {c['se']:.4f} of {c['cells']} tested cells "
            f"(nominal {summary['nominal_z2']:.4f})"
        )
    return "\n".join(lines)
