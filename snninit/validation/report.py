"""The report of ``snninit reproduce``: comparisons, verdicts, notes, ``report.md``.

:func:`write_report` writes ``report.md``: the summary table (one
:func:`summary_row` per comparison of :func:`_comparisons`), the section
*where our results and the paper differ* (:mod:`snninit.validation.paper`),
and per experiment its comparisons' details and what the predictions say
that the paper's figures do not show (:func:`_insights`).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ._format import _fmt_num, _fmt_where, _fmt_z, _markdown_table
from .paper import paper_differences
from .protocols import ALPHA
from .runs import ExperimentResult, RulesResult

__all__ = ["SUMMARY_HEADER", "summary_row", "write_report"]


def _comparisons(
    results: Mapping[str, ExperimentResult],
) -> list[tuple[str, str, xr.Dataset | str]]:
    """(experiment, prediction, compare() result or the error text) for every pair."""
    from .comparison import compare

    out = []
    plan = {
        "fig2": [("finite_size", None), ("mean_field", ["var_u"])],
        "fig3": [("finite_size", None)],
        "beyond": [("finite_size", None), ("mean_field", ["var_u"])],
        "fig4": [("dmft", None)],
        "neurons": [("dmft", ["var_u", "mean_u", "rate"])],
    }
    for name, pairs in plan.items():
        r = results.get(name)
        if r is None or r.simulation is None:
            continue
        for what, variables in pairs:
            th = r.predictions.get(what)
            if th is None:
                continue
            try:
                out.append((name, what, compare(th, r.simulation, variables)))
            except ValueError as exc:
                # one malformed prediction must not cost the report: it names the failure
                out.append((name, what, f"{type(exc).__name__}: {exc}"))
    return out



def _deepest_extinction(r):
    """``(chain, L, P(layer L silent))`` of an experiment's exact-chain prediction."""
    th = r.predictions["finite_size"]
    pe = th["p_extinct"].isel(layer=-1)
    return th, int(th["layer"].max()), pe.isel(time=0) if "time" in pe.dims else pe

def _insights(results: Mapping[str, ExperimentResult]) -> dict[str, list[str]]:
    """What the predictions say that the paper's figures do not show."""
    notes: dict[str, list[str]] = {}
    r = results.get("fig2")
    if r is not None and "finite_size" in r.predictions:
        th = r.predictions["finite_size"]
        L = int(th["layer"].max())
        lines = []
        for theta in th["theta"].values:
            v = th["var_u"].sel(init="kaiming", theta=theta)
            v = v.isel(time=0) if "time" in v.dims else v
            below = np.flatnonzero(np.asarray(v.values)[1:] < 1e-3)
            depth = f"layer {below[0] + 1}" if below.size else f"never within {L} layers"
            lines.append(f"θ={float(theta):g}: {depth}")
        notes["fig2"] = [
            "Kaiming: first layer where the exact E[Var u_l] falls below 1e-3 — " + "; ".join(lines)
        ]
        if "p_extinct" in th:
            pe = th["p_extinct"].sel(init="micheli").isel(layer=-1)
            pe = pe.isel(time=0) if "time" in pe.dims else pe
            notes["fig2"].append(
                f"Micheli, n={th.attrs.get('width', '')}: probability that layer {L} is silent: "
                + ", ".join(
                    f"θ={float(t):g}: {float(p):.2g}" for t, p in zip(pe["theta"].values, pe.values)
                )
            )
    r = results.get("fig3")
    if r is not None and "finite_size" in r.predictions:
        th, L, pe = _deepest_extinction(r)
        parts = []
        for n in pe["n"].values:
            vals = ", ".join(
                f"θ={float(t):g}: {float(p):.3f}"
                for t, p in zip(pe["theta"].values, pe.sel(n=n).values)
            )
            parts.append(f"n={int(n)}: {vals}")
        notes["fig3"] = [
            f"Exact probability that the whole network is silent by layer {L} — "
            + "; ".join(parts),
            "The finite-size effect is extinction of an absorbing Markov chain on the spike "
            "count, so it is predicted, not only observed.",
        ]
    r = results.get("beyond")
    if r is not None and "finite_size" in r.predictions:
        th, L, pe = _deepest_extinction(r)
        alive = "var_u_given_alive" in th
        v = th["var_u_given_alive" if alive else "var_u"].isel(layer=-1)
        v = v.isel(time=0) if "time" in v.dims else v
        sd = th["var_u_sd_given_alive"].isel(layer=-1) if alive else None
        sd = sd.isel(time=0) if sd is not None and "time" in sd.dims else sd
        notes.setdefault("beyond", []).append(
            f"Exact chain at n={th.attrs.get('width', '')}, layer {L}: "
            + "; ".join(
                f"θ={float(t):g}: P(silent)={float(p):.3f}, "
                + (
                    f"survivors' Var u = {_fmt_num(float(x), '.3g')} ± {_fmt_num(float(d), '.2g')}"
                    if sd is not None
                    else f"E[Var u]={float(x):.3g}"
                )
                for t, p, x, d in zip(
                    pe["theta"].values,
                    pe.values,
                    v.values,
                    sd.values if sd is not None else v.values,
                )
            )
            + ". Near θ* the lower (unstable) fixed point approaches 1, so finite-size "
            "fluctuations push networks into extinction even below θ*."
        )
    try:
        from .. import theory

        ts = float(theory.critical_threshold(rule="micheli"))
        chi1 = float(theory.stability_slope(theta=1.0, rule="micheli"))
        notes.setdefault("beyond", [])[:0] = [
            f"χ(θ) = 1 at θ* = {ts:.5f}: for θ > θ* the variance-conserving fixed point of "
            "Micheli's rule is unstable and Var[u_l] leaves 1 (the paper stops at θ = 1).",
            f"At θ = 1, χ = {chi1:.4f}: perturbations of Var[u] decay like χ^l "
            f"(depth scale -1/ln χ = {-1.0 / math.log(chi1):.2f} layers)."
            if 0 < chi1 < 1
            else "",
        ]
    except ValueError:
        pass
    r = results.get("fig4")
    if r is not None and "dmft" in r.predictions:
        th = r.predictions["dmft"]
        lines = []
        for beta in th["beta"].values:
            v = th["var_u"].sel(beta=beta, init="micheli").isel(layer=-1)
            lines.append(
                f"β={float(beta):g}: deepest layer Var[u] from {float(v.isel(time=0)):.3g} at t=0 "
                f"to {float(v.isel(time=-1)):.3g} at t={int(v['time'][-1])}"
            )
        notes["fig4"] = [
            "Dynamic mean field (n → ∞) with leak and reset, Micheli init — " + "; ".join(lines)
        ]
        sim = r.simulation
        if sim is not None:
            notes["fig4"].append(_unstable_note(sim))
    return notes


def _unstable_note(sim: xr.Dataset) -> str:
    """Where cell-wise prediction stops: the temporally unstable (volley) regime.

    The simulated break-up (:func:`~snninit.theory.unstable_layer` on the
    networks) next to the predicted one (:func:`~snninit.theory.breakup_layer`
    for the simulated width, DESIGN 3e).
    """
    from .._dataset import config_from_attrs
    from ..theory import breakup_layer, unstable_layer

    width = int(sim.attrs.get("width", 0)) or None
    base = config_from_attrs(sim.attrs)
    parts = []
    for beta in sim["beta"].values:
        for init in sim["init"].values:
            cell = {"beta": beta, "init": init}
            one = sim.sel(cell)
            if float(one["rate"].isel(layer=-1).mean()) == 0.0:
                continue  # the activity dies out with depth: a front, not volleys
            ls = unstable_layer(one, width=width)
            lt = breakup_layer(base.replace(beta=float(beta), init=str(init)), paths=2**14)
            if ls is None and not math.isfinite(lt):
                continue
            parts.append(
                f"β={float(beta):g} {init}: from layer {ls if ls is not None else '—'} "
                f"(simulation), {f'{lt:.1f}' if math.isfinite(lt) else '—'} predicted for "
                f"width {base.width} (`breakup_layer`)"
            )
    if not parts:
        return (
            "No temporally unstable regime: the networks' rates agree from network to network "
            "in every (layer, time) cell, so cell-wise comparison is meaningful throughout."
        )
    return (
        "Temporally unstable regime (deep layers fire in isolated volleys whose timing differs "
        "between networks; `snninit.theory.unstable_layer`): "
        + "; ".join(parts)
        + ". Up to that layer the dynamic mean field (n → ∞) describes each network cell by "
        "cell; beyond it finite networks break into volleys that the n → ∞ theory does not "
        "have, single cells scatter as much as their mean and "
        "rejections of cell-wise agreement are expected: compare time-averaged quantities "
        "there (docs/dmft.md, 'Break-up of the time-homogeneous state')."
    )


#: Columns of the report's summary table (one row per comparison).
SUMMARY_HEADER = (
    "experiment",
    "prediction",
    "cells",
    "untested",
    "worst z (where)",
    "max rel err",
    "verdict",
)


def summary_row(name: str, what: str, cmp: xr.Dataset, alpha: float = ALPHA) -> list[str]:
    """One row of the report's summary for a :func:`compare` result (NaN-free text).

    The worst variable is the one whose least probable tested cell has the
    smallest p-value; variables without a tested cell count only as
    ``untested``. The largest relative error is taken over the variables
    where it is defined (finite).
    """
    from .comparison import agreement_summary

    summ = agreement_summary(cmp, alpha=alpha)
    total = sum(s["cells"] for s in summ.values())
    untested = sum(s["untested"] for s in summ.values())
    rejected = sum(s["rejected"] for s in summ.values())
    tested_vars = [v for v in summ if summ[v]["cells"] > 0]
    if tested_vars:
        worst_v = min(tested_vars, key=lambda v: (summ[v]["min_p"], -abs(summ[v]["worst_z"])))
        w = summ[worst_v]
        worst = f"{_fmt_z(w['worst_z'])} ({worst_v}; {_fmt_where(w['worst_where'])})"
    else:
        worst = "—"
    rel_vars = [v for v in summ if np.isfinite(summ[v]["max_rel_err"])]
    if rel_vars:
        rel_v = max(rel_vars, key=lambda v: summ[v]["max_rel_err"])
        max_rel = f"{summ[rel_v]['max_rel_err']:.3g} ({rel_v})"
    else:
        max_rel = "—"
    if total == 0:
        verdict = "untested"
    elif rejected == 0:
        verdict = "consistent"
    else:
        verdict = f"**rejected** ({rejected} cells)"
    return [
        name,
        _PREDICTION_NAMES.get(what, what),
        str(total),
        str(untested),
        worst,
        max_rel,
        verdict,
    ]


_PREDICTION_NAMES = {
    "finite_size": "exact finite-n chain",
    "mean_field": "mean field (n→∞)",
    "dmft": "dynamic mean field (n→∞)",
}


def write_report(
    path: Path,
    results: Mapping[str, ExperimentResult],
    comparisons: list[tuple[str, str, xr.Dataset | str]],
    figures: Sequence[Path],
    *,
    quick: bool,
    seconds: float,
    alpha: float = ALPHA,
    rules: RulesResult | None = None,
    conventions: Mapping[str, ExperimentResult] | None = None,
    kept: Sequence[str] = (),
) -> tuple[str, list[list[str]]]:
    """Write ``report.md``; return its text and the summary rows.

    ``conventions`` (:func:`run_conventions`) feed the section *where our
    results and the paper differ* (:func:`paper_differences`). ``kept``
    names the sections rebuilt from the cache of an earlier run (``reproduce
    --only``); the report says so.
    """
    from .. import __version__
    from .._io import atomic_write
    from .comparison import agreement_summary, worst_cells

    summary_rows: list[list[str]] = []
    details: dict[str, list[str]] = {}
    for name, what, cmp in comparisons:
        if isinstance(cmp, str):  # the comparison itself failed: say so, go on
            summary_rows.append(
                [name, _PREDICTION_NAMES.get(what, what), "0", "0", "—", "—", "not compared"]
            )
            details.setdefault(name, []).append(
                f"Against the {_PREDICTION_NAMES.get(what, what)}: not compared ({cmp})."
            )
            continue
        summary_rows.append(summary_row(name, what, cmp, alpha=alpha))
        summ = agreement_summary(cmp, alpha=alpha)
        rows = [
            [
                v,
                str(s["cells"]),
                str(s["untested"]),
                _fmt_z(s["worst_z"]),
                _fmt_where(s["worst_where"]) or "—",
                f"{s['min_p']:.2g}",
                _fmt_num(s["max_rel_err"], ".3g"),
                _fmt_num(s["max_abs_err"], ".3g"),
                str(s["rejected"]),
            ]
            for v, s in summ.items()
        ]
        worst = [
            [
                r["variable"],
                _fmt_where(r["where"]),
                f"{r['sim']:.4g} ± {r['se']:.2g}",
                f"{r['theory']:.4g}",
                _fmt_z(r["z"], ".3g"),
                f"{r['p']:.2g}",
            ]
            for r in worst_cells(cmp, k=5)
        ]
        details.setdefault(name, []).append(
            f"Against the {_PREDICTION_NAMES.get(what, what)}:\n\n"
            + _markdown_table(
                [
                    "variable",
                    "cells",
                    "untested",
                    "worst z",
                    "at",
                    "min p",
                    "max rel err",
                    "max abs err",
                    "rejected",
                ],
                rows,
            )
            + "\n\nLeast probable cells under the prediction (simulation mean ± total SE):\n\n"
            + (
                _markdown_table(["variable", "cell", "simulation", "prediction", "z", "p"], worst)
                if worst
                else "(no tested cell)"
            )
        )
    insights = _insights(results)
    lines = [
        "# snninit reproduce — report",
        "",
        f"- mode: {'quick (reduced sizes)' if quick else 'full (paper sizes)'}",
        f"- snninit {__version__}, written "
        f"{_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, "
        f"{seconds:.0f} s",
        *(
            [
                "- kept from an earlier run into this folder (its cached cells, not rerun "
                "this time): " + ", ".join(kept)
            ]
            if kept
            else []
        ),
        f"- verdicts: Holm over all cells of a comparison at family-wise false-failure rate "
        f"{alpha:g}; cell tests on the mean over repetitions use the normal law where the "
        "prediction states the spread across networks and Student t where the sample gives "
        "it (exact binomial for extinction), with the prediction's own sampling error "
        "added in quadrature; where the prediction gives the survivors' moments (exact "
        "chain), a cell is tested in two parts, the extinct networks (binomial) and the "
        "survivors' mean (`*_given_alive`), since near extinction the law across networks "
        "is bimodal. Every z is the cell's p-value as a signed normal score "
        "(docs/validation.md, 'Cell tests near extinction'). "
        "`consistent` means the simulation does not reject the prediction at that rate "
        "(a weak statement when there are few repetitions: read it with the relative "
        "error); `rejected` counts the cells Holm rejects. "
        "The worst cell is the one with the smallest p-value. `max rel err` ignores cells "
        "predicted below 1e-3 of the variable's maximum, extinction probabilities, skewness "
        "and kurtosis (0 for a Gaussian: see their absolute errors). `untested` counts cells "
        "without a defined test: shape statistics where fewer than 3 networks define them "
        "(silent layers), and cells where every network gave the same value and the "
        "prediction states no spread (sample SD 0: the t statistic is undefined; spike "
        "counts and rates are tested even then, against their binomial counting noise). "
        "A z of ±∞ is a tested cell whose p-value is 0 in double precision (e.g. zero "
        "standard error and values that differ).",
        "",
        "## Summary",
        "",
        _markdown_table(SUMMARY_HEADER, summary_rows)
        if summary_rows
        else "(no comparison could be made)",
        "",
        *paper_differences(results, conventions),
    ]
    for name, r in results.items():
        exp = r.experiment
        lines += [f"## {name}: {exp.title}", ""]
        sweep = "; ".join(f"{d} ∈ {{{', '.join(str(v) for v in vals)}}}" for d, vals in exp.sweep)
        b = exp.base
        swept = {d for d, _ in exp.sweep}
        fixed = [
            (sym, val)
            for sym, key, val in (
                ("n", "n", b.width),
                ("L", "layers", b.layers),
                ("T", "steps", b.steps),
                ("θ", "theta", f"{b.theta:g}"),
                ("β", "beta", f"{b.beta:g}"),
                ("reset", "reset", b.reset),
                ("init", "init", b.init),
            )
            if key not in swept and not (key == "beta" and b.steps == 1)
        ]
        lines.append(
            "Network: "
            + ", ".join(f"{sym}={val}" for sym, val in fixed)
            + f"; sweep {sweep}; {exp.reps} repetitions "
            f"(`{exp.method}`), seed {exp.seed}. Cells computed {r.computed}, reused "
            f"{r.reused}; {r.seconds:.1f} s."
        )
        lines.append("")
        for e in r.errors:
            lines += [f"- not available: {e}", ""]
        for block in details.get(name, []):
            lines += [block, ""]
        for note in insights.get(name, []):
            if note:
                lines.append(f"- Not in the paper: {note}")
        lines.append("")
    if rules is not None:
        st = rules.settings
        lines += [
            "## rules: the initialisation rules head to head",
            "",
            "Every registered rule (`snninit.theory.rule_names()`) simulated on one grid by "
            "`snninit.validation.compare_rules` ("
            + ", ".join(f"{k}={v}" for k, v in st.items())
            + f"); {'reused from the cache' if rules.reused else 'computed'} in "
            f"{rules.seconds:.1f} s. Files: `data/rules/rules.{{nc,csv,md,png}}`.",
            "",
        ]
        for e in rules.errors:
            lines += [f"- not available: {e}", ""]
        if rules.markdown:
            lines += [rules.markdown.rstrip(), ""]
        if rules.figure is not None:
            lines += [f"![rules head to head](figures/{rules.figure.name})", ""]
    if figures:
        lines += ["## Figures", ""]
        for p in figures:
            if p.suffix == ".png":
                lines.append(f"- [{p.stem}](figures/{p.name})")
        lines.append("")
    text = "\n".join(lines)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return text, summary_rows
