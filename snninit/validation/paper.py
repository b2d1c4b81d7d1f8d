"""The report's section *where our results and the paper differ* (Fig. 4).

:func:`fig4_numbers` reads the numbers by which Fig. 4 is held against the
paper off a simulation or a prediction; :func:`paper_differences` writes the
section, with a table of the conventions of
:data:`~snninit.validation.protocols.CONVENTIONS` simulated for the report
(:func:`~snninit.validation.runs.run_conventions`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import xarray as xr

from ._format import _markdown_table
from .protocols import CONVENTIONS, _convention_name
from .runs import ExperimentResult

__all__ = ["fig4_numbers", "paper_differences"]


def _micheli(ds: xr.Dataset, beta: float) -> xr.Dataset:
    """The Micheli, leak-``beta`` slice of a Fig. 4 dataset (whatever its sweep)."""
    sel = {d: v for d, v in (("beta", beta), ("init", "micheli")) if d in ds.dims}
    return ds.sel(sel)


def fig4_numbers(ds: xr.Dataset, beta: float) -> dict[str, Any]:
    """The numbers by which Fig. 4 is compared with the paper, for Micheli at leak ``beta``.

    Parameters
    ----------
    ds : Dataset
        Simulation (``rep`` dim: means and SDs over networks) or prediction
        with ``var_u`` and ``rate`` over ``(layer, time)`` (plus ``beta``,
        ``init`` when swept).
    beta : float
        The leak.

    Returns
    -------
    dict
        ``var_first``, ``var_last``, ``var_peak``, ``t_peak`` (``Var[u_L^t]``
        of the deepest layer at t = 0, t = T-1 and its maximum over t),
        ``grows`` (layers whose ``Var[u_l]`` at T-1 exceeds that at t = 0)
        and ``layers``; ``rate_1``, ``rate_L`` (rate of layer 1 and of the
        deepest layer averaged over time); ``*_sd`` companions (SD across
        networks) for a simulation, NaN otherwise; ``L`` and ``T``.
    """
    one = _micheli(ds, beta)
    L = int(one["layer"].max())
    T = int(one.sizes["time"])

    def stat(da: xr.DataArray) -> tuple[float, float]:
        if "rep" in da.dims:
            return float(da.mean("rep")), float(da.std("rep", ddof=1))
        return float(da), math.nan

    var = one["var_u"]
    deep = var.sel(layer=L)
    mean_deep = deep.mean("rep") if "rep" in deep.dims else deep
    t_peak = int(mean_deep.argmax("time"))
    var_mean = var.mean("rep") if "rep" in var.dims else var
    hidden = var_mean.sel(layer=slice(1, None))
    rate_t = one["rate"].mean("time")
    out: dict[str, Any] = {"L": L, "T": T, "t_peak": t_peak, "layers": int(hidden.sizes["layer"])}
    out["grows"] = int((hidden.isel(time=-1) > hidden.isel(time=0)).sum())
    for key, da in (
        ("var_first", deep.isel(time=0)),
        ("var_last", deep.isel(time=-1)),
        ("var_peak", deep.isel(time=t_peak)),
        ("rate_1", rate_t.sel(layer=min(1, L))),
        ("rate_L", rate_t.sel(layer=L)),
    ):
        out[key], out[f"{key}_sd"] = stat(da)
    # a dynamic mean field's deep layers may not be converged in paths (DESIGN 3c)
    bad = [] if "converged" not in one else one["layer"].values[~one["converged"].values]
    out["unconverged_from"] = int(bad[0]) if len(bad) else None
    return out


def _dmft_words(t: Mapping[str, Any] | None, first: str, last: str) -> str:
    """``"; dynamic mean field: a → b"``, or where it is not converged in paths."""
    if not t:
        return ""
    if t["unconverged_from"] is not None and t["unconverged_from"] <= t["L"]:
        return (
            f"; dynamic mean field: not converged in paths from layer {t['unconverged_from']} "
            "(no value stated there)"
        )
    return f"; dynamic mean field: {t[first]:.3g} → {t[last]:.3g}"


def _pm(x: float, sd: float) -> str:
    return f"{x:.3g}" if math.isnan(sd) else f"{x:.3g} ± {sd:.2g}"


def _dissipation(num: Mapping[str, Any]) -> str:
    """Words for the deepest layer's Var[u] over time (computed, never typed)."""
    if num["var_peak"] == 0.0:
        return "silent at every step"
    if num["var_last"] < num["var_peak"]:
        return f"decays after its peak at t = {num['t_peak']}"
    return "grows to the last step"


def _kept_share(num: Mapping[str, Any]) -> float:
    """Share of layer 1's time-averaged rate left at the deepest layer (0 if layer 1 is silent)."""
    return num["rate_L"] / num["rate_1"] if num["rate_1"] > 0 else 0.0


def _kept(num: Mapping[str, Any]) -> str:
    return f"{100 * _kept_share(num):.0f} %" if num["rate_1"] > 0 else "—"


def paper_differences(
    results: Mapping[str, ExperimentResult],
    conventions: Mapping[str, ExperimentResult] | None = None,
) -> list[str]:
    """The report's section *where our results and the paper differ* (markdown lines).

    Fig. 4b (beta = 0.9: the paper shows the network dissipating) and Fig. 4a
    (beta = 0.5: the paper shows activity conserved over depth and time),
    each with the numbers of this run's ``fig4`` simulation and dynamic mean
    field (:func:`fig4_numbers`), and a table of the conventions of
    :data:`CONVENTIONS` (``conventions``: :func:`run_conventions`). Empty
    when the run has no ``fig4`` simulation.
    """
    from ..theory import unstable_layer

    r = results.get("fig4")
    if r is None or r.simulation is None:
        return []  # e.g. `--only fig3`: nothing of Fig. 4 to hold against the paper
    sim, exp = r.simulation, r.experiment
    dmft = r.predictions.get("dmft")
    betas = [float(b) for b in sim["beta"].values if float(b) in (0.5, 0.9)]
    if not betas:
        return []
    b = exp.base
    lines = [
        "## Where our results and the paper differ",
        "",
        f"Numbers from this run's `fig4` data: Micheli init, n = {b.width}, L = {b.layers}, "
        f"T = {b.steps}, θ = {b.theta:g}, {exp.reps} networks (`{exp.method}`; mean ± SD "
        "across networks)"
        + (f", and the dynamic mean field ({exp.dmft_paths} paths)" if dmft is not None else "")
        + ". The paper's figures use n = 1000, L = 100, T = 20.",
        "",
    ]
    nums = {beta: fig4_numbers(sim, beta) for beta in betas}
    theo = {beta: fig4_numbers(dmft, beta) for beta in betas} if dmft is not None else {}
    if 0.9 in nums:
        s, t = nums[0.9], theo.get(0.9)
        lines.append(
            "- **Fig. 4b (β = 0.9)** — the paper: the network dissipates over the time steps. "
            f"Eq. 13 as written (DESIGN.md 1b): Var[u] of layer {s['L']} goes from "
            f"{_pm(s['var_first'], s['var_first_sd'])} at t = 0 to "
            f"{_pm(s['var_last'], s['var_last_sd'])} at t = {s['T'] - 1}"
            + (f" ({_dmft_words(t, 'var_first', 'var_last')[2:]})" if t else "")
            + f" and {_dissipation(s)}; Var[u_l] is larger at the last step than at t = 0 in "
            f"{s['grows']} of {s['layers']} hidden layers."
        )
    if 0.5 in nums:
        s, t = nums[0.5], theo.get(0.5)
        volleys = unstable_layer(_micheli(sim, 0.5), width=b.width)
        lines.append(
            "- **Fig. 4a (β = 0.5)** — the paper: activity conserved over 100 layers and 20 "
            "steps. Eq. 13 as written: the time-averaged rate "
            + ("falls" if s["rate_L"] < s["rate_1"] else "does not fall")
            + f" from {_pm(s['rate_1'], s['rate_1_sd'])} at layer 1 to "
            f"{_pm(s['rate_L'], s['rate_L_sd'])} at layer {s['L']} ({_kept(s)} kept"
            + _dmft_words(t, "rate_1", "rate_L")
            + ")"
            + (
                f"; from layer {volleys} on the networks fire in volleys whose timing differs "
                "from network to network (`snninit.theory.unstable_layer`)"
                if volleys is not None
                else ""
            )
            + "."
        )
    lines.append("")
    rows = [(CONVENTIONS[0][0], sim, f"the `fig4` protocol ({exp.reps} networks)")]
    labels = {_convention_name(c): label for label, c in CONVENTIONS[1:]}
    for name, cr in (conventions or {}).items():
        if cr.simulation is not None:
            rows.append(
                (
                    labels.get(name, name),
                    cr.simulation,
                    f"simulated for this report (`{name}`, {cr.experiment.reps} networks)",
                )
            )
    if len(rows) == 1:
        return lines + ["(no other convention was simulated in this run)", ""]
    table = {label: {beta: fig4_numbers(ds, beta) for beta in betas} for label, ds, _ in rows}
    L, T = nums[betas[0]]["L"], nums[betas[0]]["T"]
    header = ["convention"]
    if 0.9 in betas:
        header.append(f"β = 0.9: Var[u] of layer {L}, t = 0 → {T - 1}")
    if 0.5 in betas:
        header.append(f"β = 0.5: time-averaged rate, layer 1 → {L}")
    body = []
    for label, _ds, source in rows:
        cells = [label]
        if 0.9 in betas:
            n9 = table[label][0.9]
            cells.append(
                f"{n9['var_first']:.3g} → {n9['var_last']:.3g} "
                f"(peak {n9['var_peak']:.3g} at t = {n9['t_peak']}): {_dissipation(n9)}"
            )
        if 0.5 in betas:
            n5 = table[label][0.5]
            cells.append(f"{n5['rate_1']:.3g} → {n5['rate_L']:.3g} ({_kept(n5)} kept)")
        body.append([*cells, source])
    lines += [
        "Conventions tried (DESIGN.md 1b; Micheli init, the `fig4` sizes and base seed, simulation "
        "means over networks):",
        "",
        _markdown_table([*header, "data"], body),
        "",
    ]
    if 0.9 in betas:
        dissipating = [
            label
            for label in table
            if 0 < table[label][0.9]["var_last"] < table[label][0.9]["var_peak"]
        ]
        lines.append(
            f"Conventions whose layer {L} dissipates at β = 0.9 in this run: "
            + (", ".join(dissipating) if dissipating else "none")
            + "."
        )
    if 0.5 in betas:
        label = max(table, key=lambda k: _kept_share(table[k][0.5]))
        lines.append(
            f"Most activity kept to layer {L} at β = 0.5: {label} "
            f"({_kept(table[label][0.5])} of layer 1's time-averaged rate)."
        )
    lines.append("")
    return lines
