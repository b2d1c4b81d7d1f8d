"""The main job: run the paper's protocols, predict them, compare, draw, report.

``snninit reproduce`` (see :func:`reproduce`) runs each experiment of
:func:`~snninit.validation.protocols.experiments` — the paper's Figs. 2, 3,
4 and 7 and two that the paper does not show (stability past ``theta*`` and
the approach of the exact chain to the mean-field map) — writes the
simulated and predicted datasets as netCDF under ``OUT/data``, the figures
as PNG and PDF under ``OUT/figures`` and a summary ``OUT/report.md``, with a
section *where our results and the paper differ*
(:func:`~snninit.validation.paper.paper_differences`: Fig. 4 against eq. 13
as written and the other conventions of
:data:`~snninit.validation.protocols.CONVENTIONS`, simulated for the report).

This module is the wiring only; one job per module:

* :mod:`~snninit.validation.protocols` — what is run (:class:`Experiment`,
  :func:`experiments`, the conventions, the rules' settings);
* :mod:`~snninit.validation.cells` — the computation of one cached cell;
* :mod:`~snninit.validation.runs` — running the protocols with the cache
  (resumable: :func:`run_experiment`, :func:`run_conventions`,
  :func:`run_rules`);
* :mod:`~snninit.validation.report` and :mod:`~snninit.validation.paper` —
  the comparisons and ``report.md``;
* :mod:`~snninit.validation.figures` — the figures (:func:`make_figures`
  here chooses them).

Every public name of those modules is importable from here too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_bool
from .._dataset import save_dataset
from ..config import NetworkConfig
from .paper import _dissipation, _dmft_words, fig4_numbers, paper_differences  # noqa: F401
from .protocols import (
    ALPHA,
    CONVENTIONS,
    FIG3_THETAS,
    FIG3_WIDTHS,
    PAPER_THETAS,
    PHASE,
    RULES,
    Experiment,
    convention_experiments,
    experiments,
    phase_settings,
    rules_settings,
)
from .report import (  # noqa: F401 - the report's helpers, importable from here as before
    SUMMARY_HEADER,
    _comparisons,
    _insights,
    _unstable_note,
    summary_row,
    write_report,
)
from .runs import (
    ExperimentResult,
    RulesResult,
    run_conventions,
    run_experiment,
    run_phase,
    run_rules,
)

__all__ = [
    "Experiment",
    "experiments",
    "reproduce",
    "PAPER_THETAS",
    "FIG3_THETAS",
    "FIG3_WIDTHS",
    "ALPHA",
    "CONVENTIONS",
    "convention_experiments",
    "RULES",
    "rules_settings",
    "ExperimentResult",
    "run_experiment",
    "run_conventions",
    "RulesResult",
    "run_rules",
    "make_figures",
    "fig4_numbers",
    "paper_differences",
    "SUMMARY_HEADER",
    "summary_row",
    "write_report",
]


# ---------------------------------------------------------------------------
# figures


def _stability_data(theta_max: float = 2.0):
    from .. import theory

    thetas = np.linspace(0.0, theta_max, 401)
    chi = np.asarray(theory.stability_slope(theta=thetas, rule="micheli"), dtype=float)
    theta_star = float(theory.critical_threshold(rule="micheli"))
    fp = _fixed_point_table(np.linspace(0.05, theta_max, 80))
    return thetas, chi, theta_star, fp


def _fixed_point_table(thetas: np.ndarray) -> xr.Dataset:
    """Fixed points of the Micheli map against theta, as (theta, branch) arrays."""
    from .. import theory

    cfg = NetworkConfig(width=1000, layers=1, steps=1, theta=1.0, init="micheli")
    fp = theory.fixed_points(cfg, theta=thetas)
    return fp[["v_star", "slope"]].transpose("theta", "branch")


def make_figures(
    results: Mapping[str, ExperimentResult],
    fig_dir: Path,
    log: Callable[[str], None],
    *,
    keep: Sequence[str] = (),
) -> list[Path]:
    """Draw every figure the available data allows; return the written paths.

    The figures of the experiments named in ``keep`` (kept from an earlier
    run by ``reproduce --only``, their data unchanged) are not redrawn when
    their PNG and PDF are already there; their paths are returned all the same.
    """
    from . import figures as F

    written: list[Path] = []

    def save(name, make, exp=None):
        paths = [fig_dir / f"{name}.{ext}" for ext in ("png", "pdf")]
        if exp in keep and all(p.is_file() for p in paths):
            written.extend(paths)
            return
        written.extend(F.save_figure(make(), fig_dir, name))

    r = results.get("fig2")
    if r is not None and r.simulation is not None:
        save(
            "fig2_variance_vs_depth",
            lambda r=r: F.plot_fig2(
                r.simulation, r.predictions.get("finite_size"), r.predictions.get("mean_field")
            ),
            "fig2",
        )
    r = results.get("fig3")
    if r is not None and r.simulation is not None:
        save(
            "fig3_finite_size",
            lambda r=r: F.plot_fig3(r.simulation, r.predictions.get("finite_size")),
            "fig3",
        )
    r = results.get("beyond")
    if r is not None and r.simulation is not None:

        def beyond(r=r):
            width = int(r.simulation.attrs.get("width", 0))
            th = r.predictions.get("finite_size")
            return F.plot_fig3(
                r.simulation.expand_dims(n=[width]),
                th.expand_dims(n=[width]) if th is not None else None,
                title="Beyond the paper — Micheli init near and past θ* ≈ 1.19",
            )

        save("beyond_theta_star", beyond, "beyond")
    r = results.get("fig4")
    if r is not None and r.simulation is not None:
        dmft = r.predictions.get("dmft")
        sim = r.simulation
        for beta in sim["beta"].values:
            b, beta = f"{float(beta):g}", float(beta)
            save(f"fig4_beta{b}", lambda beta=beta: F.plot_fig4(sim, beta, dmft), "fig4")
            save(
                f"fig4_profiles_beta{b}",
                lambda beta=beta: F.plot_fig4_profiles(sim, beta, dmft),
                "fig4",
            )
        if 0.9 in [float(b) for b in sim["beta"].values] and "skew" in sim:
            save(
                "fig7_skew_kurtosis",
                lambda: F.plot_fig7(sim, dmft, beta=0.9, init="micheli"),
                "fig4",
            )
    r = results.get("neurons")
    if r is not None and r.simulation is not None:
        sim, dmft = r.simulation, r.predictions.get("dmft")
        beta = float(sim.attrs.get("beta", 0.0))
        save(
            "neurons_profiles",
            lambda: F.plot_fig4_profiles(
                sim, None, dmft, column="neuron",
                title=f"Neuron models — β = {beta:g}, Micheli, n = {sim.attrs.get('width')}",
            ),
            "neurons",
        )
    try:
        thetas, chi, theta_star, fp = _stability_data()
        save("stability", lambda: F.plot_stability(thetas, chi, theta_star, fp))
    except ValueError as exc:
        log(f"stability figure skipped: {type(exc).__name__}: {exc}")
    return written


# ---------------------------------------------------------------------------
# the job


def reproduce(
    out: str | os.PathLike = "snninit-reproduce",
    *,
    quick: bool = False,
    figures_only: bool = False,
    only: Sequence[str] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the protocols, predictions, comparisons, figures and report.

    Parameters
    ----------
    out : path
        Output folder: ``data/`` (netCDF, plus ``cache/`` per cell),
        ``figures/`` (PNG + PDF) and ``report.md``.
    quick : bool
        Reduced sizes (about a minute on two cores).
    figures_only : bool
        Compute (or reuse) the data and write only the figures: no
        comparison and no report.
    only : sequence of str, optional
        Run only these experiments (names of :func:`experiments`, and
        ``rules`` for the head to head of the initialisation rules). The
        report still covers every experiment of the same mode (quick or
        full) that an earlier run left in ``out``: it is rebuilt from the
        data, never merged as text. An experiment not in ``only`` whose
        cells are all in ``out/data/cache`` under the current protocol
        (:func:`run_experiment` with ``cached_only``; same for ``rules`` and
        the Fig. 4 conventions) is reloaded, compared and reported again,
        marked "kept from an earlier run"; its figures are reused when
        present. Nothing is computed for it, and an experiment with a
        missing or stale cell (another mode, another version of the code)
        is left out of the report. So ``--only fig2`` then ``--only fig3``
        into one folder gives a report with both.
    progress : bool
        Show tqdm progress bars.

    Returns
    -------
    dict
        ``results`` (per experiment, those run and those kept), ``rules``
        (the head to head of the rules, or None), ``figures`` (paths),
        ``summary`` (the report's rows), ``report`` (path or None) and
        ``kept`` (names kept from an earlier run).

    Notes
    -----
    A successful run ends by removing the temporary files
    (``.<name>.<random>.tmp``) that a killed earlier run left in ``out``,
    ``out/data`` (with the cache) and ``out/figures``: only files older
    than this run's start (:func:`snninit._io.remove_stale_temps`), so the
    temporary file of a run writing concurrently into the same folder is
    not touched.
    """
    from .._io import remove_stale_temps

    started = time.time()
    t0 = time.perf_counter()
    out = Path(out)
    data_dir = out / "data"
    fig_dir = out / "figures"
    quick = check_bool("quick", quick)
    figures_only = check_bool("figures_only", figures_only)
    progress = check_bool("progress", progress)
    every = experiments(quick=quick)
    exps = every
    with_rules = with_phase = True
    if only is not None:
        names = [e.name for e in every] + [RULES, PHASE]
        if isinstance(only, str):
            only = [only]  # one name, not its letters
        for n in only:
            if n not in names:
                raise ValueError(f"only must name experiments among {names}; got {n!r}")
        exps = [e for e in every if e.name in only]
        with_rules = RULES in only
        with_phase = PHASE in only
    # the others, from the cache of an earlier run (only where a report is written)
    keep_others = bool(only) and not figures_only
    results: dict[str, ExperimentResult] = {}
    kept: list[str] = []
    for exp in every:  # the report's order, whatever the order of --only
        if exp.name in {e.name for e in exps}:
            results[exp.name] = run_experiment(exp, data_dir, progress=progress)
            for e in results[exp.name].errors:
                log(f"{exp.name}: {e}")
        elif keep_others:
            r = run_experiment(exp, data_dir, progress=False, cached_only=True)
            if r is not None:
                results[exp.name] = r
                kept.append(exp.name)
    if with_rules:
        rules = run_rules(rules_settings(quick), data_dir, fig_dir, progress=progress, log=log)
    elif keep_others:
        rules = run_rules(
            rules_settings(quick), data_dir, fig_dir, progress=False, log=log, cached_only=True
        )
        if rules is not None:
            kept.append(RULES)
    else:
        rules = None
    figures = make_figures(results, fig_dir, log, keep=kept)
    if rules is not None and rules.figure is not None:
        figures.append(rules.figure)
    if with_phase or keep_others:
        try:
            phase = run_phase(phase_settings(quick), data_dir, fig_dir,
                              cached_only=not with_phase)
        except ValueError as exc:  # reported, never fatal to the job
            log(f"{PHASE}: {type(exc).__name__}: {exc}")
            phase = None
        if phase is not None:
            figures.extend(phase[1])
            if not with_phase:
                kept.append(PHASE)
    summary: list[list[str]] = []
    report_path = None
    if not figures_only:
        conventions = run_conventions(
            results, data_dir, progress=progress, cached_only="fig4" in kept
        )
        comps = _comparisons(results)
        for name, what, cmp in comps:
            if isinstance(cmp, str):
                log(f"{name}: comparison with {what} failed: {cmp}")
            else:
                save_dataset(cmp, data_dir / f"{name}_vs_{what}.nc")
        report_path = out / "report.md"
        _, summary = write_report(
            report_path,
            results,
            comps,
            figures,
            quick=quick,
            seconds=time.perf_counter() - t0,
            rules=rules,
            conventions=conventions,
            kept=kept,
        )
    # leftovers of a killed earlier run, never those of a concurrent writer
    remove_stale_temps([out], started)
    remove_stale_temps([data_dir, fig_dir], started, recursive=True)
    return {
        "results": results,
        "rules": rules,
        "figures": figures,
        "summary": summary,
        "report": report_path,
        "kept": kept,
    }
