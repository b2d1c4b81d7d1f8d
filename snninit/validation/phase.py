"""The (theta, beta) phase diagram per rule: is the variance conserved, is the input kept apart?

Two questions for every rule, threshold and leak of one network shape:

* *variance*: ``var_ratio``, the last layer's time-averaged ``Var[u]`` over the
  encoding layer's (:func:`~snninit.theory.dynamic_mean_field`); conserved
  where it lies in [1/2, 2];
* *correlation*: ``gap_ratio``, how much of the difference between two input
  pairs survives to the last layer, ``(c_L(0.95) - c_L(0)) / (c_0(0.95) -
  c_0(0))`` with ``c_l(rho)`` the ``corr_counts`` of a pair of ``N(0, 1)`` inputs of
  correlation ``rho`` (:func:`~snninit.theory.correlation_map`): 1 where the
  network keeps the two pairs as far apart as at its input, 0 where every
  pair of inputs ends at the same correlation (the map's fixed point).

The grid is a :func:`~snninit.grid.make_grid` grid over ``(init, beta,
theta)``, each cell cached (:func:`~snninit.grid.cached`) and combined
(:func:`~snninit.grid.combine`). Cells listed in ``simulated`` are also
measured (:func:`~snninit.montecarlo.simulate`,
:func:`~snninit.montecarlo.simulate_correlation`): ``sim_var_ratio`` and
``sim_gap_ratio`` with their standard errors, NaN elsewhere;
:func:`plot_phase` overlays them on the predicted maps, in the same colours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from .._checks import check_dataset, show
from ..config import NetworkConfig
from ..grid import cached, cell_name, cell_seeds, combine, make_grid, protocol_tag

__all__ = ["phase_diagram", "plot_phase", "PHASE_VARIABLES"]

#: What each cell reports (each with ``_se``; ``sim_`` for the measured ones).
PHASE_VARIABLES = ("var_ratio", "gap_ratio")
_RHOS = (0.0, 0.95)
_LOG_GAP_FLOOR = -2.5  # plot_phase: gap ratios below 10**-2.5 share the bottom colour


def _ratio(num, num_se, den, den_se):
    """``num / den`` and its delta-method standard error (independent errors)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = num / den
        se = abs(r) * math.hypot(num_se / num if num else 0.0, den_se / den if den else math.inf)
    return (float(r), float(se)) if np.isfinite(r) else (math.nan, math.nan)


def _predicted(cfg: NetworkConfig, paths: int, seed: int) -> dict:
    from ..theory import correlation_map, dynamic_mean_field

    out = dict.fromkeys(("var_ratio", "var_ratio_se", "gap_ratio", "gap_ratio_se"), math.nan)
    try:
        th = dynamic_mean_field(cfg, paths=paths, seed=seed)
    except ValueError:  # the rule has no solution here (dmft at an extreme threshold)
        return out
    v, se = th["var_u"].mean("time"), th["var_u_se"].mean("time")  # se: correlated bound
    out["var_ratio"], out["var_ratio_se"] = _ratio(
        float(v.isel(layer=-1)), float(se.isel(layer=-1)), float(v.sel(layer=0)),
        float(se.sel(layer=0)))
    lo, hi = (correlation_map(cfg, input_correlation=r, paths=paths, seed=seed + k)
              for k, r in enumerate(_RHOS))
    c = [(float(m["corr_counts"].isel(layer=layer)), float(m["corr_counts_se"].isel(layer=layer)))
         for m in (lo, hi) for layer in (0, -1)]
    (c0_lo, e0_lo), (cl_lo, el_lo), (c0_hi, e0_hi), (cl_hi, el_hi) = c
    out["gap_ratio"], out["gap_ratio_se"] = _ratio(
        cl_hi - cl_lo, math.hypot(el_hi, el_lo), c0_hi - c0_lo, math.hypot(e0_hi, e0_lo))
    return out


def _measured(cfg: NetworkConfig, reps: int, seed: int) -> dict:
    from ..montecarlo import simulate, simulate_correlation

    sim = simulate(cfg, reps=reps, seed=seed)
    v = sim["var_u"].mean("time")
    ratio = (v.isel(layer=-1) / v.sel(layer=0)).values
    out = {"sim_var_ratio": float(ratio.mean()),
           "sim_var_ratio_se": float(ratio.std(ddof=1) / math.sqrt(reps))}
    runs = [simulate_correlation(cfg, input_correlation=r, reps=reps, seed=seed + 1 + k)
            for k, r in enumerate(_RHOS)]
    stats = []
    for layer in (0, -1):
        cells = [m["corr_counts"].isel(layer=layer).values for m in runs]
        gap = float(np.mean(cells[1]) - np.mean(cells[0]))
        gap_se = math.hypot(*(np.std(x, ddof=1) / math.sqrt(reps) for x in cells))
        stats.append((gap, gap_se))
    (g0, e0), (gl, el) = stats
    out["sim_gap_ratio"], out["sim_gap_ratio_se"] = _ratio(gl, el, g0, e0)
    return out


def phase_diagram(
    base: NetworkConfig,
    rules: Sequence[str],
    thetas: Sequence[float],
    betas: Sequence[float],
    *,
    simulated: Sequence[tuple[float, float]] = (),
    paths: int = 4096,
    reps: int = 6,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    cached_only: bool = False,
) -> xr.Dataset | None:
    """``var_ratio`` and ``gap_ratio`` over ``(init, beta, theta)`` (module docstring).

    ``simulated``: ``(theta, beta)`` points measured for every rule with
    ``reps`` networks (a silent network gives NaN ratios). ``cache_dir``:
    one cached file per cell (a killed run resumes); ``cached_only``: None
    unless every cell is cached there (nothing is computed).
    """
    for name, values in (("rules", rules), ("thetas", thetas), ("betas", betas)):
        if isinstance(values, str) or np.ndim(values) != 1 or not len(values):
            raise ValueError(f"{name} must be a non-empty sequence; got {show(values)}")
    grid = make_grid(base, {"init": list(rules), "beta": list(betas), "theta": list(thetas)})
    seeds = cell_seeds(grid, seed)
    cells = {(float(t), float(b)) for t in thetas for b in betas}
    try:
        wanted = {(float(t), float(b)) for t, b in simulated}
    except (TypeError, ValueError):
        raise ValueError("simulated must be a sequence of (theta, beta) pairs; got "
                         f"{show(simulated)}") from None
    if wanted - cells:
        raise ValueError(f"simulated must name (theta, beta) points of the grid; "
                         f"{sorted(wanted - cells)[0]} is not one")
    parts = []
    for i in range(grid.size):
        coords = grid.coords(i)
        cfg = grid.config(base, i)
        measure = (float(coords["theta"]), float(coords["beta"])) in wanted

        def compute(cfg=cfg, i=i, measure=measure):
            values = _predicted(cfg, paths, seeds[i] % 2**31)
            names = [f"sim_{v}{s}" for v in PHASE_VARIABLES for s in ("", "_se")]
            values.update(dict.fromkeys(names, math.nan))
            if measure:
                try:
                    values.update(_measured(cfg, reps, seeds[i] % 2**31))
                except ValueError:
                    pass  # a network the simulator refuses: no point drawn
            return xr.Dataset({k: ((), v) for k, v in values.items()})

        path = None if cache_dir is None else Path(cache_dir) / f"{cell_name(coords)}.nc"
        tag = protocol_tag(cfg, paths=paths, reps=reps, measure=measure, kind="phase")
        ds, _ = cached(path, tag, None if cached_only else compute)
        if ds is None:
            return None
        parts.append(ds)
    ds = combine(parts, grid, seeds=seeds)
    ds.attrs.update(kind="phase_diagram", config=base.to_json(), paths=paths, reps=reps,
                    input_correlations=str(_RHOS))
    ds["var_ratio"].attrs["long_name"] = "last layer's Var[u] / the encoding layer's (time mean)"
    ds["gap_ratio"].attrs["long_name"] = (
        "share of the input pairs' correlation difference (rho 0 vs 0.95) left at the last layer")
    return ds


def plot_phase(ds: xr.Dataset):
    """Two rows (variance, correlation) x one column per rule; measured points overlaid."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    check_dataset("ds", ds, what="a phase_diagram result", kind="phase_diagram",
                  variables=("init", "theta", "beta", *PHASE_VARIABLES))

    rules = list(ds["init"].values)
    thetas, betas = ds["theta"].values, ds["beta"].values
    fig, axes = plt.subplots(2, len(rules), figsize=(3.6 * len(rules) + 1.2, 6.4),
                             squeeze=False, constrained_layout=True)
    # the gap ratio ~ exp(-L / xi) is small past a few depth scales: a log scale shows it
    norms = (Normalize(-3, 3), Normalize(_LOG_GAP_FLOOR, 0))
    cmaps = ("RdBu_r", "viridis")
    labels = ("log2 Var[u_L] / Var[u_0]", "log10 input difference kept (gap ratio)")
    for col, rule in enumerate(rules):
        cell = ds.sel(init=rule)
        for row, (var, norm, cmap) in enumerate(zip(PHASE_VARIABLES, norms, cmaps)):
            ax = axes[row, col]
            values = cell[var].values
            sim = cell[f"sim_{var}"].values
            with np.errstate(divide="ignore", invalid="ignore"):
                if var == "var_ratio":  # a collapsed variance (ratio 0) at the scale's bottom
                    values, sim = (np.clip(np.log2(x), -3.0, 3.0) for x in (values, sim))
                else:  # a gap within 2 SE of 0 (unresolved) or below the floor: the bottom
                    values, sim = (np.where(np.isnan(x), np.nan, np.log10(np.clip(
                        np.where(x < 2 * se, 0.0, x), 10 ** _LOG_GAP_FLOOR, 1.0)))
                        for x, se in ((values, cell[f"{var}_se"].values),
                                      (sim, cell[f"sim_{var}_se"].values)))
            ax.set_facecolor("0.8")  # grey: undefined (a silent network has no correlation)
            mesh = ax.pcolormesh(thetas, betas, values, cmap=cmap, norm=norm, shading="nearest")
            level = (-1.0, 1.0) if var == "var_ratio" else (math.log10(0.5),)
            finite = values[np.isfinite(values)]
            if (finite.size >= 4 and len(thetas) > 1 and len(betas) > 1
                    and any(finite.min() < x < finite.max() for x in level)):
                ax.contour(thetas, betas, values, levels=level, colors="k", linewidths=0.8)
            bb, tt = np.meshgrid(betas, thetas, indexing="ij")
            ok = np.isfinite(sim)
            ax.scatter(tt[ok], bb[ok], c=sim[ok], cmap=cmap, norm=norm, s=70, edgecolors="k",
                       linewidths=1.2, zorder=3, label="simulated" if ok.any() else None)
            ax.set_title(f"{rule}", fontsize=10)
            ax.set_xlabel("theta")
            if col == 0:
                ax.set_ylabel("beta")
            if col == len(rules) - 1:
                fig.colorbar(mesh, ax=ax, label=labels[row])
    cfg = NetworkConfig.from_json(ds.attrs["config"]) if "config" in ds.attrs else None
    shape = (f"width {cfg.width}, {cfg.layers} layers, {cfg.steps} steps: " if cfg else "")
    fig.suptitle(f"{shape}contours at var ratio 1/2 and 2, gap ratio 1/2; gap ratio within "
                 "2 SE of 0: bottom colour; circles: simulated networks; grey: silent",
                 fontsize=10)
    return fig
