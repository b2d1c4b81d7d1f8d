"""Head to head: every registered initialisation rule on the same grid.

:func:`compare_rules` simulates (exact Monte Carlo, :func:`snninit.montecarlo.simulate`)
each rule of :func:`snninit.theory.rule_names` on the grid ``steps x beta x
theta`` at fixed width and depth and, optionally, trains each rule briefly
on MNIST (:func:`snninit.training.train`). It returns one
:class:`xarray.Dataset`; :func:`rules_table` turns it into rows,
:func:`rules_markdown` / :func:`write_rules_outputs` into markdown, CSV and
a figure.

Measured per cell (``reps`` independent networks):

``activity``
    Rate of the last hidden layer at the last time step (spikes per neuron),
    mean over networks.
``extinct``
    Fraction of the networks whose last hidden layer emits no spike at the
    last time step.
``rate_layer``
    Rate of every layer at the last time step (mean over networks), for the figure.
``activity_mean``, ``rate_layer_mean``
    The same averaged over the time steps (less noisy where deep layers fire
    in volleys at random steps, e.g. beta = 0.5 with many steps).
``accuracy``
    Test accuracy after the short training run (dims ``init`` only), NaN if
    training was not run or failed.
A rule that refuses a cell (``ValueError``, e.g. no weights reach its
target) gets NaN there and its message in ``attrs["errors"]``.

The grid is one :class:`snninit.grid.Grid` over ``init x steps x beta x
theta``; every rule is run on the same random networks at a grid point (its
seed, the coordinate ``cell_seed``, is :func:`snninit.grid.point_seed` of
``(steps, beta, theta)``: common random numbers, so that differences between
rules are not sampling noise between networks).

Data-driven rules (``init="fluctuation"`` without a given ``nu``) are run as
the method prescribes: every network measures its own layers' rates with a
forward pass before setting the next layer's weights
(:func:`snninit.montecarlo.simulate_data_driven`, dense weights), not
with moments from one shared calibration network (``data_driven="shared"``,
which penalises the rule with the calibration network's finite-size noise).
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import xarray as xr

from .._checks import check_dataset, check_path, show
from .._dataset import code_fingerprint, load_cached, save_dataset
from ..config import NetworkConfig, check_limit
from ..grid import cached, cell_seeds, combine, make_grid, protocol_tag

__all__ = [
    "compare_rules",
    "rules_table",
    "rules_markdown",
    "rules_figure",
    "write_rules_outputs",
    "DEFAULT_TRAINING",
]

#: The short MNIST run of each rule: network and training settings.
#: The network is the one of docs/training.md (10 hidden layers, theta = 1, beta = 0.5,
#: T = 3) at half its width, on the first 10,000 training images for 2 epochs: there
#: one epoch separates a rule that keeps deep activity alive (Micheli, ~0.9) from one
#: that does not (Kaiming, ~0.2). At beta = 0.9 every rule sits at chance after a short
#: run (dead readout, docs/training.md), which would compare nothing.
DEFAULT_TRAINING = {
    "network": dict(width=300, layers=10, steps=3, theta=1.0, beta=0.5),
    "train": dict(
        epochs=2, batch=128, lr=1e-3, train_subset=10000, test_subset=2000, rate_batch=256
    ),
}


def compare_rules(
    rules=None,
    *,
    width: int = 1000,
    layers: int = 100,
    steps=(1, 20),
    betas=(0.5, 0.9),
    thetas=(0.5, 1.0),
    reps: int = 10,
    seed: int = 0,
    method: str = "gram",
    train: bool = True,
    training: dict | None = None,
    progress: bool = False,
    data_driven: str = "self",
    cache_dir=None,
) -> xr.Dataset:
    """Run every rule on the grid and (optionally) a short MNIST training each.

    Parameters
    ----------
    rules : sequence of str, optional
        Rule names (default: every registered rule).
    width, layers : int
        Network size of the simulations.
    steps, betas, thetas : sequences
        The grid. With one step the leak plays no role (the cells repeat).
    reps, seed, method
        Passed to :func:`snninit.montecarlo.simulate`: the cell ``(init, steps,
        beta, theta)`` is simulated with seed :func:`snninit.grid.point_seed`
        ``(seed, {steps, beta, theta})``, the same for every rule, so that the
        rules are compared on the same random networks (coordinate
        ``cell_seed``). ``seed`` is also the seed of the training runs.
    train : bool
        Also train each rule (settings ``training``, default :data:`DEFAULT_TRAINING`).
    progress : bool
        Print one line per cell.
    data_driven : {"self", "shared"}
        How a data-driven rule (``needs_data`` and no given ``nu``) is simulated:
        each network calibrated on its own forward pass, or
        :func:`snninit.montecarlo.simulate` with the moments of one shared
        calibration network.
    cache_dir : path, optional
        Resume: every finished cell (and every training run) is written there
        atomically, tagged with its exact protocol (configuration, reps, seed,
        method, mode, source hash); a rerun reuses matching cells, so a killed
        comparison continues where it stopped and gives the same numbers.

    Returns
    -------
    xarray.Dataset
        ``activity``, ``extinct``, ``activity_mean`` (init, steps, beta,
        theta), ``rate_layer``, ``rate_layer_mean`` (init, steps, beta, theta,
        layer), ``accuracy`` (init); coordinate ``cell_seed`` (init, steps,
        beta, theta); attrs: ``errors`` (JSON list), settings.
    """
    from .._checks import check_bool, check_choice
    from ..montecarlo.engine import METHODS
    from ..theory import rule_names

    check_choice("data_driven", data_driven, ("self", "shared"))
    known = rule_names()
    if isinstance(rules, str):
        rules = [rules]
    rules = list(known if rules is None else _sequence("rules", rules))
    for r in rules:
        if not isinstance(r, str) or r not in known:
            raise ValueError(f"rules: unknown rule {r!r}; registered: {', '.join(known)}")
    width = check_limit("width", width)
    layers = check_limit("layers", layers)
    reps = check_limit("reps", reps)
    seed = check_limit("seed", seed)
    method = check_choice("method", method, METHODS)
    train = check_bool("train", train)
    # the grid itself must be valid (a bad beta, theta or steps is the caller's error, not a
    # rule refusing a cell): NetworkConfig's limits name the parameter and its range
    steps = [check_limit("steps", T) for T in _sequence("steps", steps)]
    betas = [check_limit("beta", b) for b in _sequence("betas", betas)]
    thetas = [check_limit("theta", t) for t in _sequence("thetas", thetas)]
    # one grid (snninit.grid): the rules are compared on the same networks, so every
    # rule's cell at (steps, beta, theta) has that point's seed (common random numbers)
    base = NetworkConfig(width=width, layers=layers)
    grid = make_grid(base, {"init": rules, "steps": steps, "beta": betas, "theta": thetas})
    seeds = cell_seeds(grid, seed, common=("init",))
    # memory and time of every cell, and of the whole grid, before the first cell runs
    # (a cell a rule refuses is left to the loop, which records why)
    _check_cells(grid, base, reps, method, data_driven, resumable=cache_dir is not None)
    parts, errors = [], []
    for i, coords in enumerate(grid.cells()):
        t0 = time.perf_counter()
        try:
            cell = _cell(grid.config(base, i), reps, seeds[i], method, data_driven, cache_dir)
        except ValueError as exc:
            errors.append({**coords, "error": str(exc)})
            parts.append(_refused_cell(layers))
            continue
        parts.append(cell)
        if progress:
            a, e = float(cell["rate_last"].isel(layer=-1)), float(cell["extinct"])
            print(
                f"{coords['init']:<12} T={coords['steps']:<3} beta={coords['beta']} "
                f"theta={coords['theta']}: activity {a:.4f} extinct {e:.2f} "
                f"({time.perf_counter() - t0:.1f}s)",
                flush=True,
            )
    cells = combine(parts, grid, seeds=seeds)
    accuracy = np.full(len(rules), np.nan)
    training = {**DEFAULT_TRAINING, **(training or {})}
    if train:
        accuracy = _train_all(rules, training, seed, errors, progress, cache_dir)
    last = {"layer": -1}
    ds = xr.Dataset(
        {
            "activity": cells["rate_last"].isel(last, drop=True),
            "extinct": cells["extinct"],
            "rate_layer": cells["rate_last"],
            "activity_mean": cells["rate_mean"].isel(last, drop=True),
            "rate_layer_mean": cells["rate_mean"],
            "accuracy": (("init",), accuracy),
        },
        attrs={
            "width": width,
            "layers": layers,
            "reps": reps,
            "seed": seed,
            "method": method,
            "trained": int(bool(train)),
            "training": json.dumps(training),
            "errors": json.dumps(errors),
            "data_driven": data_driven,
        },
    )
    ds["activity"].attrs["long_name"] = "rate of the last layer at the last time step"
    ds["extinct"].attrs["long_name"] = (
        "fraction of networks with a silent last layer at the last step"
    )
    ds["accuracy"].attrs["long_name"] = "MNIST test accuracy after the short run"
    return ds


def _sequence(name: str, values) -> list:
    """``values`` as a non-empty list (a list, tuple, array...; not a string or a number)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name} must be a list of values; got {show(values)}")
    out = list(values)
    if not out:
        raise ValueError(f"{name} must hold at least one value; got none")
    return out


def _check_cells(grid, base, reps, method, data_driven, *, resumable):
    """:func:`snninit._resources.check_runs` of every simulated cell of the comparison."""
    from .._resources import check_runs

    runs = []
    for i, c in enumerate(grid.cells()):
        try:
            cfg = grid.config(base, i)
        except ValueError:
            continue  # the rule refuses this cell: recorded by the loop
        # a self-calibrated data-driven network draws dense weights
        cell_method = "dense" if _self_calibrated(cfg, data_driven) else method
        where = (
            f"cell init={c['init']}, steps={c['steps']}, beta={c['beta']:g}, "
            f"theta={c['theta']:g}"
        )
        runs.append((where, cfg, 1, {"method": cell_method}))
    check_runs(
        "simulate",
        runs,
        resumable=resumable,
        job="the rule comparison",
        total_knob="compare fewer rules or grid values, or use smaller width, layers or reps",
        reps=reps,
        method=method,
    )


def _self_calibrated(cfg, data_driven: str) -> bool:
    from ..theory.rules import get_rule

    return (
        data_driven == "self"
        and get_rule(cfg.init).needs_data
        and cfg.init_params.get("nu") is None
    )


def _cell(cfg, reps, seed, method, data_driven, cache_dir) -> xr.Dataset:
    """One grid cell: per-layer rate at the last step and over time, and extinction."""
    from ..montecarlo import simulate, simulate_data_driven

    tag = protocol_tag(cfg, reps=reps, seed=seed, method=method, data_driven=data_driven)

    def compute() -> xr.Dataset:
        if _self_calibrated(cfg, data_driven):
            ds = simulate_data_driven(cfg, reps=reps, seed=seed)
        else:
            ds = simulate(cfg, reps=reps, seed=seed, method=method)
        rate = ds["rate"]
        return xr.Dataset(
            {
                "rate_last": rate.isel(time=-1, drop=True).mean("rep"),
                "rate_mean": rate.mean("time").mean("rep"),
                "extinct": (ds["spikes"].isel(time=-1, layer=-1, drop=True) == 0).mean("rep"),
            }
        )

    return cached(_cache_path(cache_dir, f"cell-{cfg.init}", tag), tag, compute)[0]


def _refused_cell(layers: int) -> xr.Dataset:
    """The cell of a rule that refuses it: NaN everywhere (its reason is in ``errors``)."""
    nan = np.full(layers + 1, np.nan)
    return xr.Dataset(
        {"rate_last": ("layer", nan), "rate_mean": ("layer", nan.copy()), "extinct": np.nan},
        coords={"layer": np.arange(layers + 1)},
    )


def _cache_path(cache_dir, prefix: str, tag: str) -> Path | None:
    """Where the result tagged ``tag`` is cached (None: no cache)."""
    if cache_dir is None:
        return None
    return Path(cache_dir) / f"{prefix}-{hashlib.sha256(tag.encode()).hexdigest()[:16]}.nc"


def _train_all(rules, training, seed, errors, progress, cache_dir=None):
    from ..config import NetworkConfig
    from ..training import TrainConfig, train
    from ..training.data import load_dataset_arrays

    tcfg = TrainConfig(seed=seed, **training["train"])
    data = None
    data_error = None
    out = np.full(len(rules), np.nan)
    for i, rule in enumerate(rules):
        t0 = time.perf_counter()
        tag = json.dumps({"rule": rule, "training": training, "seed": seed,
                          "version": code_fingerprint()}, sort_keys=True, default=str)
        path = _cache_path(cache_dir, f"train-{rule}", tag)
        cached = load_cached(path, tag) if path is not None else None
        if cached is not None:
            out[i] = float(cached["test_acc"])
            continue
        if data is None and data_error is None:
            try:  # once for all rules: a missing or corrupt cache fails the same way for each
                data = load_dataset_arrays(tcfg.dataset)
            except (FileNotFoundError, ValueError) as exc:
                data_error = str(exc)
        if data_error is not None:
            errors.append({"init": rule, "training": True, "error": data_error})
            continue
        try:
            cfg = NetworkConfig(init=rule, **training["network"])
            metrics = train(cfg, tcfg, None, progress=False, data=data)
        except ValueError as exc:
            errors.append({"init": rule, "training": True, "error": str(exc)})
            continue
        out[i] = float(metrics["test_acc"].isel(epoch=-1))
        if path is not None:
            save_dataset(xr.Dataset({"test_acc": out[i]}, attrs={"protocol": tag}), path)
        if progress:
            print(
                f"{rule:<12} MNIST accuracy {out[i]:.4f} ({time.perf_counter() - t0:.0f}s)",
                flush=True,
            )
    return out


#: What every function reading a :func:`compare_rules` result needs.
_RESULT_VARIABLES = ("activity", "extinct", "rate_layer", "accuracy", "init", "steps", "beta",
                     "theta", "layer")


def _check_result(ds) -> xr.Dataset:
    return check_dataset("ds", ds, what="a compare_rules result", variables=_RESULT_VARIABLES)


def rules_table(ds: xr.Dataset) -> list[dict]:
    """One row per (init, steps, beta, theta): activity, extinct, accuracy."""
    ds = _check_result(ds)
    rows = []
    for init in ds["init"].values:
        for T in ds["steps"].values:
            for beta in ds["beta"].values:
                for theta in ds["theta"].values:
                    cell = ds.sel(init=init, steps=T, beta=beta, theta=theta)
                    rows.append(
                        {
                            "init": str(init),
                            "steps": int(T),
                            "beta": float(beta),
                            "theta": float(theta),
                            "activity": float(cell["activity"]),
                            "extinct": float(cell["extinct"]),
                            "activity_mean": float(cell["activity_mean"])
                            if "activity_mean" in cell
                            else float("nan"),
                            "accuracy": float(ds["accuracy"].sel(init=init)),
                        }
                    )
    return rows


def _fmt(x, spec):
    return "—" if not np.isfinite(x) else format(x, spec)


def rules_markdown(ds: xr.Dataset) -> str:
    """Markdown: activity / extinction per cell (one column per rule), then accuracies."""
    ds = _check_result(ds)
    inits = [str(i) for i in ds["init"].values]
    head = "| T | beta | theta | layer 0 | " + " | ".join(inits) + " |"
    lines = [
        f"Activity at the last layer (L={ds.attrs['layers']}) and last time step, width "
        f"{ds.attrs['width']}, {ds.attrs['reps']} networks per cell; in brackets the "
        "fraction of networks whose last layer is silent then; `layer 0`: the encoding "
        "layer's rate at that step (the activity a rule should carry to depth)."
        + (
            " Data-driven rules: every network calibrated on its own forward pass."
            if ds.attrs.get("data_driven", "self") == "self"
            else " Data-driven rules: moments of one shared calibration network."
        ),
        "",
        head,
        "|" + "---|" * (4 + len(inits)),
    ]
    for T in ds["steps"].values:
        for beta in ds["beta"].values:
            for theta in ds["theta"].values:
                cells = []
                for init in inits:
                    c = ds.sel(init=init, steps=T, beta=beta, theta=theta)
                    a, e = float(c["activity"]), float(c["extinct"])
                    cells.append("failed" if not np.isfinite(a) else f"{a:.4f} ({e:.2f})")
                r0 = ds["rate_layer"].sel(steps=T, beta=beta, theta=theta, layer=0).values
                r0 = r0[np.isfinite(r0)]
                enc = f"{float(np.mean(r0)):.4f}" if r0.size else "—"
                lines.append(
                    f"| {int(T)} | {float(beta):g} | {float(theta):g} | {enc} | "
                    + " | ".join(cells)
                    + " |"
                )
    multi = [T for T in ds["steps"].values if int(T) > 1]
    if "activity_mean" in ds and multi:
        lines += [
            "",
            "Time-averaged rate of the last layer (the same networks; with many steps the "
            "last step alone can hide a layer that fires only late or in volleys):",
            "",
            "| T | beta | theta | layer 0 | " + " | ".join(inits) + " |",
            "|" + "---|" * (4 + len(inits)),
        ]
        for T in multi:
            for beta in ds["beta"].values:
                for theta in ds["theta"].values:
                    c = ds.sel(steps=T, beta=beta, theta=theta)
                    r0 = c["rate_layer_mean"].sel(layer=0).values
                    r0 = r0[np.isfinite(r0)]
                    enc = f"{float(np.mean(r0)):.4f}" if r0.size else "—"
                    cells = [_fmt(float(c["activity_mean"].sel(init=i)), ".4f") for i in inits]
                    lines.append(
                        f"| {int(T)} | {float(beta):g} | {float(theta):g} | {enc} | "
                        + " | ".join(cells)
                        + " |"
                    )
    if bool(ds.attrs.get("trained", 0)):
        tr = json.loads(ds.attrs["training"])
        lines += [
            "",
            f"MNIST test accuracy after a short run ({json.dumps(tr)}):",
            "",
            "| init | accuracy |",
            "|---|---|",
        ]
        lines += [f"| {i} | {_fmt(float(ds['accuracy'].sel(init=i)), '.4f')} |" for i in inits]
    errs = json.loads(ds.attrs.get("errors", "[]"))
    if errs:
        lines += ["", "Refused cells:", ""]
        lines += [f"- {e}" for e in errs]
    return "\n".join(lines) + "\n"


_STYLES = ["-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1))]


def rules_figure(ds: xr.Dataset, path):
    """Rate of every layer at the last step, one panel per (steps, beta, theta).

    With more than one step a further row shows the time-averaged rate.

    Solid/dashed/dotted styles and decreasing widths keep rules that coincide
    (e.g. micheli, dmft and diffusion with one step) visible; the grey band
    is the encoding layer's rate. Symmetric-log y axis, identical in every
    panel (0 and 1e-3..1), so that silent layers show as 0.
    """
    ds = _check_result(ds)
    path = check_path("path", path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, betas, thetas = ds["steps"].values, ds["beta"].values, ds["theta"].values
    inits = [str(i) for i in ds["init"].values]
    ncol = len(betas) * len(thetas)
    # one row per T at the last step, plus one time-averaged row per T > 1
    rows = [(T, "rate_layer") for T in steps]
    if "rate_layer_mean" in ds:
        rows += [(T, "rate_layer_mean") for T in steps if int(T) > 1]
    fig, axes = plt.subplots(
        len(rows), ncol, figsize=(3.3 * ncol, 2.9 * len(rows) + 0.5), sharex=True,
        sharey=True, squeeze=False,
    )
    for a, (T, var) in enumerate(rows):
        for b, (beta, theta) in enumerate([(x, y) for x in betas for y in thetas]):
            ax = axes[a, b]
            r0 = ds[var].sel(steps=T, beta=beta, theta=theta, layer=0).values
            r0 = r0[np.isfinite(r0)]
            if r0.size:
                ax.axhline(float(np.mean(r0)), color="0.8", lw=4, zorder=0)
            for q, init in enumerate(inits):
                r = ds[var].sel(init=init, steps=T, beta=beta, theta=theta).values
                ax.plot(
                    ds["layer"].values, r, label=init, ls=_STYLES[q % len(_STYLES)],
                    lw=2.2 - 0.3 * (q % 5), color=f"C{q}",
                )
            ax.set_yscale("symlog", linthresh=1e-3, linscale=0.5)
            ax.set_ylim(-1e-4, 1.0)
            ax.set_yticks([0, 1e-3, 1e-2, 1e-1, 1])
            ax.set_title(f"T={int(T)}, beta={beta:g}, theta={theta:g}", fontsize=9)
            if b == 0:
                ax.set_ylabel("rate, last step" if var == "rate_layer" else "rate, time average")
            if a == len(rows) - 1:
                ax.set_xlabel("layer")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(inits), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    from .._io import atomic_write

    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=120))
    plt.close(fig)
    return path


def write_rules_outputs(ds: xr.Dataset, out) -> dict:
    """Write ``rules.nc``, ``.csv``, ``.md`` and ``.png`` into ``out`` (atomically)."""
    from .._io import atomic_write

    ds = _check_result(ds)
    out = check_path("out", out)
    rows = rules_table(ds)
    out.mkdir(parents=True, exist_ok=True)

    def write_csv(path):
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)

    atomic_write(out / "rules.csv", write_csv)
    md = rules_markdown(ds)
    atomic_write(out / "rules.md", lambda p: Path(p).write_text(md))
    atomic_write(out / "rules.nc", lambda p: ds.to_netcdf(p, engine="h5netcdf"))
    fig = rules_figure(ds, out / "rules.png")
    return {
        "csv": out / "rules.csv",
        "markdown": out / "rules.md",
        "netcdf": out / "rules.nc",
        "figure": fig,
    }
