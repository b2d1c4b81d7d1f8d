"""The main job: run the paper's protocols, predict them, compare, draw, report.

``snninit reproduce`` (see :func:`reproduce`) runs each experiment of
:func:`experiments` — the paper's Figs. 2, 3, 4 and 7 and two that the paper
does not show (stability past ``theta*`` and the approach of the exact chain
to the mean-field map) — writes the simulated and predicted datasets as
netCDF under ``OUT/data``, the figures as PNG and PDF under ``OUT/figures``
and a summary ``OUT/report.md``, with a section *where our results and the
paper differ* (:func:`paper_differences`: Fig. 4 against eq. 13 as written
and the other conventions of :data:`CONVENTIONS`, simulated for the report).

Resumable: every simulated or predicted cell (one configuration) is cached
as its own netCDF file tagged with the exact protocol (configuration,
repetitions, seed, method, package version and a hash of its source,
:func:`snninit._dataset.code_fingerprint`); a rerun reuses cells whose tag
matches and recomputes the others, so an interrupted run continues where it
stopped and a changed protocol never reuses stale numbers.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_bool
from .._dataset import load_cached, save_dataset
from ..config import NetworkConfig

__all__ = ["Experiment", "experiments", "reproduce", "PAPER_THETAS"]

#: Thresholds of the paper's Fig. 2 (six values; the paper's text names
#: theta = 0 and theta = 1, the figure's legend the four in between).
PAPER_THETAS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
#: Fig. 3 thresholds and widths (paper section 4.1).
FIG3_THETAS = (0.8, 0.85, 0.9, 1.0)
FIG3_WIDTHS = (100, 600)

# Family-wise false-failure rate of every verdict in the report.
ALPHA = 1e-3


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One protocol: a base network swept over a grid, simulated and predicted.

    Attributes
    ----------
    name : str
        File stem of its datasets (``OUT/data/<name>_simulation.nc``).
    title : str
        One line for the report.
    base : NetworkConfig
        The network every cell starts from.
    sweep : tuple of (dim, values)
        Grid; ``dim`` is a NetworkConfig field, or ``n`` for the width.
    reps : int
        Independent networks per cell (0: theory only).
    seed : int
        Base seed; each cell's seed is derived from it and the cell's index.
    method : str
        Monte Carlo method (``gram`` is exact for Gaussian weights).
    theories : tuple of str
        Predictions computed per cell: ``finite_size``, ``mean_field``, ``dmft``.
    dmft_paths : int
        Sampled input paths of the dynamic mean field.
    """

    name: str
    title: str
    base: NetworkConfig
    sweep: tuple[tuple[str, tuple], ...]
    reps: int
    seed: int = 0
    method: str = "gram"
    theories: tuple[str, ...] = ("finite_size",)
    dmft_paths: int = 100_000

    def cells(self) -> list[dict[str, Any]]:
        grid: list[dict[str, Any]] = [{}]
        for dim, values in self.sweep:
            grid = [{**g, dim: v} for g in grid for v in values]
        return grid

    def config(self, cell: Mapping[str, Any]) -> NetworkConfig:
        changes = {("width" if k == "n" else k): v for k, v in cell.items()}
        return self.base.replace(**changes)

    def cell_seed(self, index: int) -> int:
        # independent, reproducible stream per cell, whatever the run order
        ss = np.random.SeedSequence([self.seed, _stable_hash(self.name), index])
        return int(ss.generate_state(1, dtype=np.uint32)[0])

    def tag(self, what: str, cell: Mapping[str, Any], index: int) -> str:
        """The exact protocol of one cached cell (compared verbatim on resume)."""
        from .._dataset import code_fingerprint

        info: dict[str, Any] = {"what": what, "config": self.config(cell).to_dict()}
        if what == "simulation":
            info.update(reps=self.reps, seed=self.cell_seed(index), method=self.method)
        if what == "dmft":
            info.update(paths=self.dmft_paths, seed=self.cell_seed(index))
        info["version"] = code_fingerprint()
        return json.dumps(info, sort_keys=True)


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def experiments(quick: bool = False) -> list[Experiment]:
    """The protocols of ``snninit reproduce`` (``quick``: reduced sizes).

    Full sizes are the paper's: width 1000, 100 layers, 20 repetitions for
    one time step (Figs. 2 and 3, widths 100 and 600 in Fig. 3), 20 time
    steps and 10 repetitions for Fig. 4. Quick mode keeps the widths and
    thresholds of Figs. 2-3 but fewer layers, and a smaller Fig. 4, so the
    whole job takes about a minute on two cores.
    """
    quick = check_bool("quick", quick)
    one = NetworkConfig(width=1000, layers=100, steps=1, init="micheli")
    L = 40 if quick else 100
    out = [
        Experiment(
            name="fig2",
            title="Fig. 2: Var[u_l] over depth, one step, six thresholds, both inits",
            base=one.replace(layers=L),
            sweep=(("init", ("micheli", "kaiming")), ("theta", PAPER_THETAS)),
            reps=20,
            seed=2,
            theories=("finite_size", "mean_field"),
        ),
        Experiment(
            name="fig3",
            title="Fig. 3: finite-size effect, n = 100 and 600, Micheli",
            base=one.replace(layers=L),
            sweep=(("n", FIG3_WIDTHS), ("theta", FIG3_THETAS)),
            reps=20,
            seed=3,
            theories=("finite_size",),
        ),
        Experiment(
            name="beyond",
            title="Near and past theta* ≈ 1.19: Micheli where Var[u] = 1 loses stability",
            base=one.replace(layers=L),
            sweep=(("theta", (1.0, 1.15, 1.25, 1.5)),),
            reps=20,
            seed=5,
            theories=("finite_size", "mean_field"),
        ),
        Experiment(
            name="fig4",
            title="Fig. 4: Var[u_l^t] and spikes over layer x time, beta 0.5 / 0.9, both inits",
            base=NetworkConfig(
                width=300 if quick else 1000,
                layers=30 if quick else 100,
                steps=10 if quick else 20,
                init="micheli",
                theta=1.0,
                reset="subtract",
            ),
            sweep=(("beta", (0.5, 0.9)), ("init", ("micheli", "kaiming"))),
            reps=10,
            seed=4,
            theories=("dmft",),
            dmft_paths=20_000 if quick else 100_000,
        ),
    ]
    return out


# ---------------------------------------------------------------------------
# computing one cell, with the cache


def _cache_path(root: Path, exp: Experiment, what: str, cell: Mapping[str, Any]) -> Path:
    key = "_".join(f"{k}={v}" for k, v in cell.items()) or "base"
    return root / "cache" / exp.name / f"{what}__{key}.nc"


def _simulate(cfg: NetworkConfig, exp: Experiment, seed: int) -> xr.Dataset:
    from ..montecarlo import simulate

    return simulate(cfg, reps=exp.reps, seed=seed, method=exp.method)


def _predict(what: str, cfg: NetworkConfig, exp: Experiment, seed: int) -> xr.Dataset:
    from .. import theory

    if what == "finite_size":
        from .comparison import _spread_from_distribution

        try:
            # the full spike-count law gives the exact spread of spikes and rate
            return _spread_from_distribution(theory.finite_size(cfg, distribution=True))
        except TypeError:
            return theory.finite_size(cfg)
    if what == "mean_field":
        return theory.mean_field(cfg)
    if what == "dmft":
        return theory.dynamic_mean_field(cfg, paths=exp.dmft_paths, seed=seed)
    raise ValueError(f"unknown prediction {what!r}")


def _strip(ds: xr.Dataset) -> xr.Dataset:
    """Keep data and coords of the dims we stack; attrs move to the combined file."""
    ds = ds.copy()
    ds.attrs = {}
    return ds


def _stack(cells: list[dict[str, Any]], data: list[xr.Dataset], sweep) -> xr.Dataset:
    """Stack per-cell datasets along the sweep's dims, in the sweep's order."""
    dims = [d for d, _ in sweep]
    if not dims:
        return data[0]

    def build(level: int, prefix: dict[str, Any]) -> xr.Dataset:
        dim, values = sweep[level]
        parts = []
        for v in values:
            key = {**prefix, dim: v}
            if level + 1 == len(dims):
                i = next(j for j, c in enumerate(cells) if c == key)
                part = data[i]
            else:
                part = build(level + 1, key)
            parts.append(part)
        return xr.concat(
            parts,
            dim=xr.DataArray(list(values), dims=dim, name=dim),
            coords="minimal",
            compat="override",
            combine_attrs="drop",
            join="outer",
        )

    return build(0, {})


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
    cells = exp.cells()
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
                ds = load_cached(path, tag)
                if ds is None and cached_only:
                    if what == "simulation":
                        return None
                    errors.append(f"{what}: not in the cache of an earlier run")
                    skip.add(what)
                    bar.update()
                    continue
                if ds is None:
                    cfg = exp.config(cell)
                    try:
                        if what == "simulation":
                            ds = _simulate(cfg, exp, exp.cell_seed(i))
                        else:
                            ds = _predict(what, cfg, exp, exp.cell_seed(i))
                    except Exception as exc:
                        if what == "simulation" and not isinstance(exc, ImportError):
                            raise
                        # a prediction that fails must not cost the whole job: the
                        # report names it, the figures are drawn without it
                        errors.append(
                            f"{what} failed for {dict(cell)} ({type(exc).__name__}: {exc})"
                        )
                        skip.add(what)
                        bar.update()
                        continue
                    ds = ds.copy()
                    ds.attrs["protocol"] = tag
                    save_dataset(ds, path)
                    computed += 1
                else:
                    reused += 1
                results[what][i] = ds
                bar.update()
    finally:
        bar.close()

    base_attrs = config_attrs(exp.base, experiment=exp.name, sweep=dict(exp.sweep))
    stacked: dict[str, xr.Dataset] = {}
    for what, parts in results.items():
        if what in skip or any(p is None for p in parts):
            continue
        ds = _stack(cells, [_strip(p) for p in parts], exp.sweep)
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


# ---------------------------------------------------------------------------
# the head to head of the initialisation rules (snninit.validation.rules_comparison)

#: Name of the rules experiment (for ``--only``).
RULES = "rules"


def rules_settings(quick: bool = False) -> dict[str, Any]:
    """Keyword arguments of :func:`~snninit.validation.compare_rules` for ``reproduce``.

    Full: its defaults (n = 1000, L = 100, T in {1, 20}, beta in {0.5, 0.9},
    theta in {0.5, 1}, 10 networks per cell, and the short MNIST run of every
    rule). Quick: n = 200, L = 20, T in {1, 10}, 4 networks, no training (a
    few seconds).
    """
    if quick:
        return dict(width=200, layers=20, steps=(1, 10), reps=4, seed=7, train=False)
    return dict(seed=7, train=True)


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
    quick: bool,
    data_dir: Path,
    fig_dir: Path,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
    cached_only: bool = False,
) -> RulesResult | None:
    """Every registered rule on one grid (:func:`compare_rules`), cached as one file.

    Writes ``data/rules/rules.{nc,csv,md,png}`` (:func:`write_rules_outputs`)
    and copies the figure to ``figures/rules_head_to_head.png``. The dataset
    is reused when its recorded protocol (settings, package version and source hash)
    matches. If the training part fails (no MNIST data offline, no torch-free
    trainer), the simulations are kept and the failure is reported.
    ``cached_only``: return None unless the cached dataset matches (nothing
    is computed).
    """
    import shutil

    from .._dataset import code_fingerprint
    from . import rules_comparison
    from .rules_comparison import compare_rules, rules_markdown, write_rules_outputs

    t0 = time.perf_counter()
    settings = rules_settings(quick)
    from ..theory import rule_names

    # the protocol also depends on the registered rules and on the default training
    tag = json.dumps(
        {
            "settings": settings,
            "rules": list(rule_names()),
            "training": getattr(rules_comparison, "DEFAULT_TRAINING", None),
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
# figures


def _stability_data(theta_max: float = 2.0):
    from .. import theory

    thetas = np.linspace(0.0, theta_max, 401)
    chi = np.asarray(theory.stability_slope(theta=thetas, init="micheli"), dtype=float)
    theta_star = float(theory.critical_threshold(init="micheli"))
    fp = _fixed_point_table(np.linspace(0.05, theta_max, 80))
    return thetas, chi, theta_star, fp


def _fixed_point_table(thetas: np.ndarray) -> xr.Dataset | None:
    """Fixed points of the Micheli map against theta, as (theta, branch) arrays."""
    from .. import theory

    cfg = NetworkConfig(width=1000, layers=1, steps=1, theta=1.0, init="micheli")
    try:
        fp = theory.fixed_points(cfg, theta=thetas)
        if "branch" in fp.dims and "theta" in fp.dims:
            return fp[["v_star", "slope"]].transpose("theta", "branch")
    except TypeError:  # a fixed_points without the vectorised theta argument
        pass
    rows = []
    for th in thetas:
        cfg = NetworkConfig(width=1000, layers=1, steps=1, theta=float(th), init="micheli")
        fps = theory.fixed_points(cfg)
        v, s = _fixed_point_arrays(fps)
        rows.append((v, s))
    width = max(len(v) for v, _ in rows)
    if width == 0:
        return None
    V = np.full((len(thetas), width), np.nan)
    S = np.full((len(thetas), width), np.nan)
    for i, (v, s) in enumerate(rows):
        order = np.argsort(v)
        V[i, : len(v)] = np.asarray(v)[order]
        S[i, : len(v)] = np.asarray(s)[order]
    return xr.Dataset(
        {"v_star": (("theta", "branch"), V), "slope": (("theta", "branch"), S)},
        coords={"theta": thetas, "branch": np.arange(width)},
    )


def _fixed_point_arrays(fps) -> tuple[np.ndarray, np.ndarray]:
    """Accept the fixed-point result as a Dataset/dict/sequence of (v, slope)."""
    if isinstance(fps, xr.Dataset):
        vname = next(
            (n for n in ("v_star", "fixed_point", "var_u", "v") if n in fps.variables), None
        )
        sname = next((n for n in ("slope", "chi", "derivative") if n in fps.variables), None)
        if vname is None or sname is None:
            raise ValueError(f"unrecognised fixed_points dataset: {list(fps.variables)}")
        v = np.asarray(fps[vname].values, dtype=float).ravel()
        s = np.asarray(fps[sname].values, dtype=float).ravel()
    elif isinstance(fps, Mapping):
        v = np.asarray(fps.get("v_star", fps.get("fixed_points")), dtype=float).ravel()
        s = np.asarray(fps.get("slope", fps.get("slopes")), dtype=float).ravel()
    else:
        arr = np.asarray(list(fps), dtype=float).reshape(-1, 2)
        v, s = arr[:, 0], arr[:, 1]
    keep = np.isfinite(v)
    return v[keep], s[keep]


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
    try:
        thetas, chi, theta_star, fp = _stability_data()
        save("stability", lambda: F.plot_stability(thetas, chi, theta_star, fp))
    except (ImportError, AttributeError, ValueError) as exc:
        log(f"stability figure skipped: {type(exc).__name__}: {exc}")
    return written


# ---------------------------------------------------------------------------
# comparisons and the report


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


def _fmt_where(where: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in where.items())


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
        th = r.predictions["finite_size"]
        L = int(th["layer"].max())
        pe = th["p_extinct"].isel(layer=-1)
        pe = pe.isel(time=0) if "time" in pe.dims else pe
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
        th = r.predictions["finite_size"]
        L = int(th["layer"].max())
        pe = th["p_extinct"].isel(layer=-1)
        pe = pe.isel(time=0) if "time" in pe.dims else pe
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

        ts = float(theory.critical_threshold(init="micheli"))
        chi1 = float(theory.stability_slope(theta=1.0, init="micheli"))
        notes.setdefault("beyond", [])[:0] = [
            f"χ(θ) = 1 at θ* = {ts:.5f}: for θ > θ* the variance-conserving fixed point of "
            "Micheli's rule is unstable and Var[u_l] leaves 1 (the paper stops at θ = 1).",
            f"At θ = 1, χ = {chi1:.4f}: perturbations of Var[u] decay like χ^l "
            f"(depth scale -1/ln χ = {-1.0 / math.log(chi1):.2f} layers)."
            if 0 < chi1 < 1
            else "",
        ]
    except (ImportError, AttributeError, ValueError):
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


# ---------------------------------------------------------------------------
# where our results and the paper differ (Fig. 4)

#: Conventions of the multi-step model tried against the paper's Fig. 4
#: (DESIGN 1b): name, NetworkConfig changes. The first is eq. 13 as written.
CONVENTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("eq. 13 as written (reset `subtract`, delayed)", {}),
    ('reset to zero (`reset="zero"`)', {"reset": "zero"}),
    ("reset before the leak (`reset_decay=True`, spikingjelly)", {"reset_decay": True}),
    ('input scaled by 1 − β (`input_scale="1-beta"`)', {"input_scale": "1-beta"}),
)


def convention_experiments(fig4: Experiment) -> list[Experiment]:
    """The Fig. 4 protocol (its base, Micheli, both leaks) under each other convention.

    One :class:`Experiment` per entry of :data:`CONVENTIONS` after the first
    (eq. 13 as written is ``fig4`` itself): same width, depth, steps,
    repetitions and method, simulations only, named ``fig4_<field>``.
    """
    betas = next((tuple(v) for d, v in fig4.sweep if d == "beta"), (fig4.base.beta,))
    out = []
    for _label, changes in CONVENTIONS[1:]:
        out.append(
            dataclasses.replace(
                fig4,
                name=_convention_name(changes),
                title=f"Fig. 4 protocol with {changes}",
                base=fig4.base.replace(init="micheli", **changes),
                sweep=(("beta", betas),),
                theories=(),
            )
        )
    return out


def _convention_name(changes: Mapping[str, Any]) -> str:
    return "fig4_" + "_".join(changes)


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


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _fmt_num(x: float, spec: str) -> str:
    return format(x, spec) if np.isfinite(x) else "—"


def _fmt_z(z: float, spec: str = "+.2f") -> str:
    """A z-score for the report: ±∞ spelled out, undefined as a dash."""
    if math.isnan(z):
        return "—"
    if math.isinf(z):
        return "+∞" if z > 0 else "−∞"
    return format(z, spec)


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
    with_rules = True
    if only is not None:
        names = [e.name for e in every] + [RULES]
        if isinstance(only, str):
            only = [only]  # one name, not its letters
        for n in only:
            if n not in names:
                raise ValueError(f"only must name experiments among {names}; got {n!r}")
        exps = [e for e in every if e.name in only]
        with_rules = RULES in only
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
        rules = run_rules(quick, data_dir, fig_dir, progress=progress, log=log)
    elif keep_others:
        rules = run_rules(quick, data_dir, fig_dir, progress=False, log=log, cached_only=True)
        if rules is not None:
            kept.append(RULES)
    else:
        rules = None
    figures = make_figures(results, fig_dir, log, keep=kept)
    if rules is not None and rules.figure is not None:
        figures.append(rules.figure)
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
