"""Running the protocols of ``snninit reproduce``, one cached cell at a time.

Resumable: every simulated or predicted cell (one configuration) is cached
as its own netCDF file tagged with the exact protocol (configuration,
repetitions, seed, method, package version and a hash of the computing code,
:func:`snninit._dataset.code_fingerprint`); a rerun reuses cells whose tag
matches and recomputes the others, so an interrupted run continues where it
stopped and a changed protocol never reuses stale numbers. The cells are
computed by :mod:`snninit.validation.cells`; their seeds, cache and the
combined datasets are the one grid of :mod:`snninit.grid`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from .._dataset import load_cached, save_dataset
from ..grid import cached, cell_name, cell_seeds, combine
from .cells import predict_cell, simulate_cell
from .protocols import PHASE, RULES, Experiment, convention_experiments

__all__ = [
    "ExperimentResult",
    "run_experiment",
    "run_conventions",
    "RulesResult",
    "run_rules",
    "run_phase",
]


def _cache_path(root: Path, exp: Experiment, what: str, cell: Mapping[str, Any]) -> Path:
    return root / "cache" / exp.name / f"{what}__{cell_name(cell)}.nc"


def _strip(ds: xr.Dataset) -> xr.Dataset:
    """Keep data and coords of the dims we stack; attrs move to the combined file."""
    ds = ds.copy()
    ds.attrs = {}
    return ds


@dataclasses.dataclass
class ExperimentResult:
    experiment: Experiment
    simulation: xr.Dataset | None
    predictions: dict[str, xr.Dataset]
    seconds: float
    reused: int
    computed: int
    errors: list[str]


def run_experiment(
    exp: Experiment,
    root: Path,
    *,
    progress: bool = True,
    predictions: bool = True,
    cached_only: bool = False,
) -> ExperimentResult | None:
    """Simulate and predict every cell of ``exp`` (reusing matching cache files).

    ``cached_only``: compute nothing and write nothing; return the result
    rebuilt from the cache files whose protocol matches, or None when a
    simulated cell is missing (a prediction with a missing cell is left out
    and named in ``errors``). ``reproduce --only`` uses it to keep in the
    report the experiments of an earlier run into the same folder.
    """
    from tqdm.auto import tqdm

    from .._dataset import config_attrs

    t0 = time.perf_counter()
    grid = exp.grid()
    cells = grid.cells()
    seeds = cell_seeds(grid, exp.seed)
    whats = (["simulation"] if exp.reps > 0 else []) + (list(exp.theories) if predictions else [])
    results: dict[str, list[xr.Dataset | None]] = {w: [None] * len(cells) for w in whats}
    errors: list[str] = []
    reused = computed = 0
    bar = tqdm(
        total=len(cells) * len(whats),
        desc=f"{exp.name:<7}",
        unit="cell",
        disable=not progress,
        leave=True,
        dynamic_ncols=True,
        mininterval=0.5,
    )
    skip: set[str] = set()
    try:
        for what in whats:
            for i, cell in enumerate(cells):
                bar.set_postfix_str(f"{what} " + " ".join(f"{k}={v}" for k, v in cell.items()))
                if what in skip:
                    bar.update()
                    continue
                path = _cache_path(root, exp, what, cell)
                tag = exp.tag(what, cell, i)
                if cached_only:
                    ds = load_cached(path, tag)
                    if ds is None:
                        if what == "simulation":
                            return None
                        errors.append(f"{what}: not in the cache of an earlier run")
                        skip.add(what)
                        bar.update()
                        continue
                    reused += 1
                else:
                    cell_args = (exp.config(cell), exp, seeds[i])
                    compute = (
                        functools.partial(simulate_cell, *cell_args)
                        if what == "simulation"
                        else functools.partial(predict_cell, what, *cell_args)
                    )
                    try:
                        ds, hit = cached(path, tag, compute)
                    except Exception as exc:
                        if what == "simulation":
                            raise
                        # a prediction that fails must not cost the whole job: the
                        # report names it, the figures are drawn without it
                        errors.append(
                            f"{what} failed for {dict(cell)} ({type(exc).__name__}: {exc})"
                        )
                        skip.add(what)
                        bar.update()
                        continue
                    reused += hit
                    computed += not hit
                results[what][i] = ds
                bar.update()
    finally:
        bar.close()

    base_attrs = config_attrs(exp.base, experiment=exp.name, sweep=dict(exp.sweep))
    stacked: dict[str, xr.Dataset] = {}
    for what, parts in results.items():
        if what in skip or any(p is None for p in parts):
            continue
        parts = [_strip(p) for p in parts]
        ds = combine(parts, grid, seeds=seeds if exp.seeded(what) else None)
        ds.attrs.update(base_attrs)
        ds.attrs["kind"] = what
        if what == "simulation":
            ds.attrs.update(reps=exp.reps, seed=exp.seed, method=exp.method)
        for dim, _values in exp.sweep:
            if dim in ("theta", "beta", "init", "n"):
                ds.attrs.pop("width" if dim == "n" else dim, None)
        if not cached_only:
            save_dataset(ds, root / f"{exp.name}_{what}.nc")
        stacked[what] = ds
    sim = stacked.pop("simulation", None)
    return ExperimentResult(
        experiment=exp,
        simulation=sim,
        predictions=stacked,
        seconds=time.perf_counter() - t0,
        reused=reused,
        computed=computed,
        errors=errors,
    )


def run_phase(
    settings: Mapping[str, Any],
    data_dir: Path,
    fig_dir: Path,
    *,
    cached_only: bool = False,
) -> tuple[xr.Dataset, list[Path]] | None:
    """The (theta, beta) phase diagram (:func:`~snninit.validation.phase.phase_diagram`).

    Every cell cached under ``data/cache/phase`` (a killed run resumes);
    writes ``data/phase.nc`` and ``figures/phase_diagram.{png,pdf}``.
    ``cached_only``: None unless every cell is cached (nothing is computed).
    """
    from .figures import save_figure
    from .phase import phase_diagram, plot_phase

    ds = phase_diagram(**settings, cache_dir=data_dir / "cache" / PHASE,
                       cached_only=cached_only)
    if ds is None:
        return None
    save_dataset(ds, data_dir / "phase.nc")
    return ds, save_figure(plot_phase(ds), fig_dir, "phase_diagram")


# ---------------------------------------------------------------------------


def run_conventions(
    results: Mapping[str, ExperimentResult],
    data_dir: Path,
    *,
    progress: bool = True,
    cached_only: bool = False,
) -> dict[str, ExperimentResult]:
    """Simulate :func:`convention_experiments` of the run's ``fig4`` (cached like any cell).

    Returns an empty dict when the run has no ``fig4``. ``cached_only``: only
    the conventions whose every cell is cached (``fig4`` kept from an earlier
    run by ``reproduce --only``; nothing is simulated).
    """
    r = results.get("fig4")
    if r is None:
        return {}
    out = {}
    for exp in convention_experiments(r.experiment):
        res = run_experiment(exp, data_dir, progress=progress, cached_only=cached_only)
        if res is not None:
            out[exp.name] = res
    return out


@dataclasses.dataclass
class RulesResult:
    dataset: xr.Dataset | None
    markdown: str
    figure: Path | None
    seconds: float
    reused: bool
    errors: list[str]
    settings: dict[str, Any]


def run_rules(
    settings: Mapping[str, Any],
    data_dir: Path,
    fig_dir: Path,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
    cached_only: bool = False,
) -> RulesResult | None:
    """Every registered rule on one grid (:func:`compare_rules`), cached as one file.

    ``settings`` are :func:`compare_rules`' keyword arguments
    (:func:`~snninit.validation.protocols.rules_settings`). Writes
    ``data/rules/rules.{nc,csv,md,png}`` (:func:`write_rules_outputs`) and
    copies the figure to ``figures/rules_head_to_head.png``. The dataset is
    reused when its recorded protocol (settings, package version and source
    hash) matches. If the training part fails (no MNIST data offline, no torch-free
    trainer), the simulations are kept and the failure is reported.
    ``cached_only``: return None unless the cached dataset matches (nothing
    is computed).
    """
    import shutil

    from .._dataset import code_fingerprint
    from .rules_comparison import (
        DEFAULT_TRAINING,
        compare_rules,
        rules_markdown,
        write_rules_outputs,
    )

    t0 = time.perf_counter()
    settings = dict(settings)
    from ..theory import rule_names

    # the protocol also depends on the registered rules and on the default training
    tag = json.dumps(
        {
            "settings": settings,
            "rules": list(rule_names()),
            "training": DEFAULT_TRAINING,
            "version": code_fingerprint(),
        },
        sort_keys=True,
        default=str,
    )
    cache = data_dir / "cache" / RULES / "rules.nc"
    cells = data_dir / "cache" / RULES / "cells"  # per-cell resume of a killed comparison
    errors: list[str] = []
    ds = load_cached(cache, tag)
    reused = ds is not None
    if ds is None and cached_only:
        return None
    if ds is None:
        try:
            ds = compare_rules(**settings, progress=progress, cache_dir=cells)
        except Exception as exc:  # noqa: BLE001 - reported, never fatal to the job
            errors.append(f"compare_rules failed ({type(exc).__name__}: {exc})")
            log(f"{RULES}: {errors[-1]}")
            return RulesResult(None, "", None, time.perf_counter() - t0, False, errors, settings)
        failed_training = [e for e in json.loads(ds.attrs.get("errors", "[]")) if e.get("training")]
        for e in failed_training:
            errors.append(f"training {e['init']}: {e['error']}")
            log(f"{RULES}: {errors[-1]}")
        if not failed_training:  # a failed short run (e.g. no MNIST yet) is retried next time
            ds = ds.copy()
            ds.attrs["protocol"] = tag
            save_dataset(ds, cache)
    paths = write_rules_outputs(ds, data_dir / RULES)
    fig_dir.mkdir(parents=True, exist_ok=True)
    figure = fig_dir / "rules_head_to_head.png"
    shutil.copyfile(paths["figure"], figure)
    return RulesResult(
        ds, rules_markdown(ds), figure, time.perf_counter() - t0, reused, errors, settings
    )


# ---------------------------------------------------------------------------
