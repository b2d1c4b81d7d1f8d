"""Verdicts on a :func:`~snninit.validation.compare` result: the family test and summaries.

:func:`assert_agrees` (Bonferroni over every tested cell: a stated
family-wise false-failure rate), :func:`family_pvalues` (the family it tests),
:func:`worst_cells` and :func:`agreement_summary` (per variable, for reports).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_dataset, check_int, check_real
from .comparison import _fmt_coord, _variable_list, compare

__all__ = ["assert_agrees", "agrees", "agreement_summary", "family_pvalues", "worst_cells"]

#: Variables whose relative error means nothing (probabilities near 0, statistics
#: centred on 0 for a Gaussian): summaries report their absolute error only.
_NO_RELATIVE_ERROR = ("p_extinct", "skew", "kurt", "mean_u", "mean_u_given_alive")


def _check_comparison(cmp, name: str = "cmp") -> xr.Dataset:
    """``cmp`` if it is a :func:`compare` result, else a one-line ValueError."""
    return check_dataset(
        name, cmp, what="the result of snninit.validation.compare", kind="comparison"
    )


def _chosen_variables(cmp: xr.Dataset, variables) -> list[str]:
    """``variables`` (default: all of the comparison), each checked to be in ``cmp``."""
    if variables is None:
        return _variables_of(cmp)
    chosen = _variable_list(variables)
    missing = [v for v in chosen if f"{v}_z" not in cmp]
    if missing:
        raise ValueError(
            f"variables must be among the compared ones {_variables_of(cmp)}; got {missing[0]!r}"
        )
    return chosen


def _variables_of(cmp: xr.Dataset) -> list[str]:
    names = cmp.attrs.get("variables", "")
    if names:
        return [v for v in str(names).split(",") if f"{v}_z" in cmp]
    return [k[: -len("_z")] for k in cmp.data_vars if k.endswith("_z")]


def _cells(cmp: xr.Dataset, variables: Sequence[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for v in variables:
        z = cmp[f"{v}_z"]
        frame = xr.Dataset(
            {
                "sim": cmp[f"{v}_sim_mean"],
                "se": cmp[f"{v}_se"],
                "theory": cmp[f"{v}_theory"],
                "z": z,
                "p": cmp[f"{v}_p"],
                "rel": cmp[f"{v}_rel_err"],
            }
        )
        dims = list(z.dims)
        flat = {k: np.asarray(frame[k].transpose(*dims).values).ravel() for k in frame}
        index = np.indices(z.shape).reshape(len(dims), -1) if dims else np.zeros((0, 1), int)
        for i in range(flat["z"].size):
            where = {
                d: z[d].values[index[j, i]].item() for j, d in enumerate(dims) if d in z.coords
            }
            rows.append({"variable": v, "where": where, **{k: float(flat[k][i]) for k in flat}})
    return rows


def worst_cells(cmp: xr.Dataset, k: int = 10, variables: Sequence[str] | None = None) -> list:
    """The ``k`` cells with the smallest p-values (largest ``|z|`` breaking ties)."""
    cmp = _check_comparison(cmp)
    k = check_int("k", k, low=0)
    variables = _chosen_variables(cmp, variables)
    # untested cells (z undefined) are no evidence either way: never listed
    rows = [r for r in _cells(cmp, variables) if not math.isnan(r["z"])]
    rows.sort(key=lambda r: (r["p"], -abs(r["z"])))
    return rows[:k]


def _holm_rejections(pvalues: np.ndarray, alpha: float) -> np.ndarray:
    """Holm's step-down procedure: boolean mask of rejected hypotheses."""
    m = pvalues.size
    order = np.argsort(pvalues, kind="stable")
    thresholds = alpha / (m - np.arange(m))
    passed = pvalues[order] <= thresholds
    # reject the first run of passes, stop at the first acceptance
    n_reject = m if passed.all() else int(np.argmin(passed))
    mask = np.zeros(m, dtype=bool)
    mask[order[:n_reject]] = True
    return mask


def _format_table(rows: list[dict[str, Any]], m: int, alpha: float) -> str:
    header = f"{'variable':<10} {'cell':<28} {'simulation':>24} {'theory':>12} {'z':>9} {'p':>9}"
    lines = [header, "-" * len(header)]
    for r in rows:
        where = ", ".join(f"{d}={_fmt_coord(x)}" for d, x in r["where"].items())
        sim = f"{r['sim']:.5g} ± {r['se']:.2g}"
        lines.append(
            f"{r['variable']:<10} {where:<28} {sim:>24} {r['theory']:>12.5g} "
            f"{r['z']:>9.3g} {r['p']:>9.2g}"
        )
    lines.append(
        f"({m} cells; Bonferroni threshold alpha/m = {alpha / m:.3g}; ± is the total "
        "standard error)"
    )
    return "\n".join(lines)


def family_pvalues(
    cmp: xr.Dataset, variables: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """The p-values of the tested cells of a :func:`compare` result, flattened.

    Returns the p-values (the family :func:`assert_agrees` tests) and the
    variables they come from.
    """
    cmp = _check_comparison(cmp)
    chosen = _chosen_variables(cmp, variables)
    pvals = [
        np.asarray(cmp[f"{v}_p"].values).ravel()[np.asarray(cmp[f"{v}_tested"].values).ravel()]
        if f"{v}_tested" in cmp
        else np.asarray(cmp[f"{v}_p"].values).ravel()
        for v in chosen
    ]
    return (np.concatenate(pvals) if pvals else np.zeros(0)), chosen


def _family_verdict(theory, simulation, alpha, variables):
    """``(cmp, variables, rejected cells, cells)``: the Bonferroni test of ``assert_agrees``."""
    alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
    if simulation is None:
        cmp = _check_comparison(theory, "theory (alone)")
        chosen = _chosen_variables(cmp, variables)
    else:
        cmp = compare(theory, simulation, variables)
        chosen = _variables_of(cmp)
    pvals, _ = family_pvalues(cmp, chosen)
    m = pvals.size
    if m == 0:
        raise ValueError("the comparison has no cells")
    return cmp, chosen, int((pvals < alpha / m).sum()), m


def agrees(
    theory: xr.Dataset,
    simulation: xr.Dataset | None = None,
    alpha: float = 1e-3,
    variables: Iterable[str] | None = None,
) -> bool:
    """The verdict of :func:`assert_agrees` as a bool (same test, same arguments).

    For reports and tables that show the verdict instead of failing on it.
    """
    return _family_verdict(theory, simulation, alpha, variables)[2] == 0


def assert_agrees(
    theory: xr.Dataset,
    simulation: xr.Dataset | None = None,
    alpha: float = 1e-3,
    variables: Iterable[str] | None = None,
    show: int = 10,
) -> xr.Dataset:
    """Fail if the simulation rejects the prediction at false-failure rate ``alpha``.

    Parameters
    ----------
    theory, simulation : xarray.Dataset
        As for :func:`compare`. Alternatively pass the result of
        :func:`compare` as ``theory`` and leave ``simulation`` out.
    alpha : float
        Family-wise false-failure rate, in (0, 1): the probability that this
        assertion fails although the prediction is exact (up to the stated
        approximations of the cell tests).
    variables : iterable of str, optional
        Restrict the test to these variables.
    show : int
        Number of worst cells listed in the error message.

    Returns
    -------
    xarray.Dataset
        The comparison (so a test can go on inspecting it).

    Raises
    ------
    AssertionError
        With a table of the worst cells when the prediction is rejected.

    Notes
    -----
    Multiple testing: **Bonferroni over all cells** of all compared
    variables. With ``m`` cells the prediction is rejected if any cell
    p-value is below ``alpha / m``; this bounds the family-wise false-failure
    rate by ``alpha`` whatever the correlation between cells (layers of one
    network are strongly correlated). Holm's step-down procedure rejects the
    same global hypothesis (its first step is Bonferroni's), so it would not
    change the verdict; the table reports the Bonferroni threshold. Cell
    p-values are those of :func:`compare` (normal law for a stated spread,
    Student t for a sample one, exact binomial for extinction, two-part tests
    near extinction); the false-failure rate is measured on the simulator
    near extinction by :func:`snninit.validation.null_rejections` (both
    paths, tested in the suite).
    """
    cmp, chosen, rejected, m = _family_verdict(theory, simulation, alpha, variables)
    if rejected:
        rows = worst_cells(cmp, k=show, variables=chosen)
        raise AssertionError(
            f"simulation rejects the prediction in {rejected} of {m} cells at family-wise "
            f"false-failure rate alpha={alpha:g} (Bonferroni); worst cells:\n"
            + _format_table(rows, m, alpha)
        )
    return cmp


def agreement_summary(
    cmp: xr.Dataset, alpha: float = 1e-3, negligible: float = 1e-3
) -> dict[str, dict[str, Any]]:
    """Per-variable summary of a :func:`compare` result, for reports.

    For each variable: ``cells`` (tested), ``untested``, ``worst_z`` (signed z of the cell with the
    smallest p-value), ``worst_where`` (its coordinates), ``min_p``,
    ``max_abs_err`` (largest ``|sim_mean - theory|``), ``rejected`` (cells
    rejected by Holm's step-down procedure at family-wise rate ``alpha``
    over the cells of *all* variables), ``max_rel_err`` (largest
    ``|rel_err|`` over cells whose prediction exceeds ``negligible`` times
    the variable's largest ``|prediction|``, so that layers predicted to be
    essentially silent do not dominate; NaN for ``p_extinct``, whose
    relative error near 0 means nothing, and where every prediction is 0)
    and ``agrees`` (no rejected cell).

    Untested cells (see :func:`compare`) enter none of these numbers, only
    ``untested``; a variable with no tested cell has ``worst_z``,
    ``max_rel_err`` and ``max_abs_err`` NaN, ``min_p`` 1 and ``agrees`` True
    (nothing rejected it). ``worst_z`` is ``+-inf`` only for a tested cell of
    zero standard error whose values differ (a certain disagreement). Relative
    errors are also NaN for ``skew`` and ``kurt``, which are 0 for a Gaussian.
    """
    cmp = _check_comparison(cmp)
    alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
    negligible = check_real("negligible", negligible, low=0.0, high=1.0)
    variables = _variables_of(cmp)
    pvals = {v: np.asarray(cmp[f"{v}_p"].values).ravel() for v in variables}
    masks = {
        v: (
            np.asarray(cmp[f"{v}_tested"].values).ravel()
            if f"{v}_tested" in cmp
            else np.ones(pvals[v].size, dtype=bool)
        )
        for v in variables
    }
    # Holm over the tested cells only (untested ones carry p = 1 and no information)
    allp = np.concatenate([pvals[v][masks[v]] for v in variables]) if pvals else np.zeros(0)
    rejected_all = _holm_rejections(allp, alpha) if allp.size else allp.astype(bool)
    summary: dict[str, dict[str, Any]] = {}
    start = 0
    for v in variables:
        p = pvals[v]
        ntest = int(masks[v].sum())
        rej = rejected_all[start : start + ntest]
        start += ntest
        z = cmp[f"{v}_z"]
        zflat = np.asarray(z.values).ravel()
        tested = (
            np.asarray(cmp[f"{v}_tested"].values).ravel()
            if f"{v}_tested" in cmp
            else np.ones(zflat.size, dtype=bool)
        )
        # the worst cell is the least probable one under the prediction (ties: largest |z|)
        absz = np.where(tested, np.abs(np.nan_to_num(zflat, nan=0.0)), -1.0)
        i = int(np.lexsort((-absz, p))[0]) if zflat.size else 0
        unr = np.unravel_index(i, z.shape) if z.ndim else ()
        where = {d: z[d].values[unr[j]].item() for j, d in enumerate(z.dims) if d in z.coords}
        pred = np.abs(np.asarray(cmp[f"{v}_theory"].values).ravel())
        rel = np.abs(np.asarray(cmp[f"{v}_rel_err"].values).ravel())
        absdiff = np.abs(np.asarray((cmp[f"{v}_sim_mean"] - cmp[f"{v}_theory"]).values).ravel())
        pred, rel, absdiff = pred[tested], rel[tested], absdiff[tested]
        scale = pred.max() if pred.size else 0.0
        keep = pred > negligible * scale if scale > 0 else np.ones_like(pred, dtype=bool)
        any_tested = bool(tested.any())
        summary[v] = {
            "cells": int(tested.sum()),
            "untested": int((~tested).sum()),
            # NaN (and no location) when no cell of the variable could be tested
            "worst_z": float(zflat[i]) if any_tested else float("nan"),
            "worst_where": where if any_tested else {},
            "min_p": float(p[tested].min()) if any_tested else 1.0,
            "rejected": int(rej.sum()),
            # a probability's or a centred statistic's relative error is meaningless
            # near 0: report |difference| only
            "max_rel_err": (
                float("nan")
                if v in _NO_RELATIVE_ERROR or scale == 0 or not any_tested
                else (float(rel[keep].max()) if keep.any() else 0.0)
            ),
            "max_abs_err": float(absdiff.max()) if any_tested else float("nan"),
            "agrees": bool(not rej.any()),
        }
    return summary
