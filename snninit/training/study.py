"""The initialisation study: rules compared across depth, width, beta and theta.

The paper's Figs. 5 and 6 vary one of network depth, layer width, leak beta
and threshold theta around the base network (10 x 600, theta = 1, beta = 0.5,
T = 3) and plot the training and test accuracy per epoch for Micheli's rule
(solid) and Kaiming's (dashed). :func:`run_study` trains every (axis, value,
init) combination with :func:`~snninit.training.trainer.train` (each run in
its own folder, resumable) and gathers the curves; :func:`study_figure` draws
them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from .._checks import check_choice, check_dataset, check_path, show
from .._dataset import finish_dataset, load_dataset, save_dataset
from ..config import NetworkConfig, check_config
from .trainer import CHECKPOINT, METRICS_NC, TrainConfig, train

__all__ = ["run_study", "study_figure", "study_configs", "AXES"]

#: Study axes: NetworkConfig field -> label in the figure.
AXES = {"layers": "depth", "width": "width", "beta": "beta", "theta": "theta"}


def _run_name(cfg: NetworkConfig) -> str:
    return f"{cfg.init}_L{cfg.layers}_n{cfg.width}_T{cfg.steps}_theta{cfg.theta:g}_beta{cfg.beta:g}"


def study_configs(
    base: NetworkConfig, axes: Mapping[str, Sequence], inits: Sequence[str]
) -> list[tuple[str, float, str, NetworkConfig]]:
    """Every ``(axis, value, init, cfg)`` of a study, validated before any training.

    Raises a one-line ``ValueError`` for an unknown axis or rule, or a value
    that :class:`~snninit.config.NetworkConfig` refuses, named as
    ``axis=value`` (``width=0: width must be an integer in [1, 1000000]; got 0``).
    """
    from ..theory.rules import get_rule

    base = check_config(base, "base")
    if not isinstance(axes, Mapping):
        raise ValueError(
            f"axes must be a mapping {{field: values}} with fields among "
            f"{', '.join(AXES)}; got {type(axes).__name__} {show(axes)}"
        )
    if isinstance(inits, str) or not hasattr(inits, "__iter__"):
        raise ValueError(f"inits must be a list of rule names; got {show(inits)}")
    inits = list(inits)
    if not inits:
        raise ValueError("inits must name at least one rule; got none")
    for init in inits:
        get_rule(init)
    out = []
    for axis, values in axes.items():
        check_choice("axis", axis, tuple(AXES))
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ValueError(f"axes[{axis!r}] must be a list of values; got {show(values)}")
        for value in values:
            for init in inits:
                try:
                    cfg = base.replace(**{axis: value, "init": init})
                except ValueError as exc:
                    raise ValueError(f"{axis}={show(value)}: {exc}") from None
                out.append((axis, float(getattr(cfg, axis)), init, cfg))
    return out


def run_study(
    base: NetworkConfig,
    tcfg: TrainConfig,
    axes: Mapping[str, Sequence],
    inits: Sequence[str],
    out: str | Path,
    *,
    progress: bool = True,
    data=None,
) -> xr.Dataset:
    """Train every ``(axis, value, init)`` run; return the curves as one Dataset.

    Parameters
    ----------
    base : NetworkConfig
        Values of the axes not being varied.
    tcfg : TrainConfig
        Training settings shared by all runs (budget: epochs, subsets).
    axes : mapping
        ``{field: values}`` with fields among ``layers, width, beta, theta``.
    inits : sequence of str
        Rule names to compare.
    out : path
        Folder; each run writes ``out/<run name>/`` and is skipped if finished.
        The gathered curves go to ``out/study.nc``. At the end, temporary
        files that a killed earlier run left in these folders (older than
        this run's start, :func:`snninit._io.remove_stale_temps`) are removed.

    Returns
    -------
    xarray.Dataset
        ``train_acc, test_acc, train_loss`` over ``(run, epoch)``; coords
        ``axis, value, init`` over ``run``; the training settings in attrs.
    """
    import time

    from .._io import remove_stale_temps

    started = time.time()
    out = check_path("out", out)
    if not isinstance(tcfg, TrainConfig):
        raise ValueError(f"tcfg must be a snninit.training.TrainConfig; got {type(tcfg).__name__}")
    # the whole grid before the first run trains: a bad value must not fail an hour in
    plan = study_configs(base, axes, inits)
    if data is None:
        from .data import load_dataset_arrays

        data = load_dataset_arrays(tcfg.dataset)
    cache: dict[str, xr.Dataset] = {}
    rows = []
    for axis, value, init, cfg in plan:
        name = _run_name(cfg)
        if name not in cache:
            folder = out / name
            done = folder / METRICS_NC
            ds = load_dataset(done) if done.exists() else None
            if ds is None or ds.sizes["epoch"] < tcfg.epochs:
                if progress:
                    print(f"study: training {name}")
                # continue a killed run of this folder; start one where none was saved
                resume = (folder / CHECKPOINT).exists()
                ds = train(cfg, tcfg, folder, resume=resume, progress=progress, data=data)
            cache[name] = ds
        rows.append((axis, value, init, cache[name]))
    epoch = np.arange(1, tcfg.epochs + 1)
    result = xr.Dataset(
        {
            var: (("run", "epoch"), np.array([r[3][var].values for r in rows]))
            for var in ("train_acc", "test_acc", "train_loss")
        },
        coords={
            "run": np.arange(len(rows)),
            "epoch": epoch,
            "axis": ("run", [r[0] for r in rows]),
            "value": ("run", [r[1] for r in rows]),
            "init": ("run", [r[2] for r in rows]),
        },
    )
    result = finish_dataset(result, base, kind="training-study", train_config=tcfg.to_json())
    save_dataset(result, out / "study.nc")
    # leftovers of a killed earlier run (``.<name>.<random>.tmp``) in the study's folder
    # and in every run's folder (a finished run is not retrained, so train() does not
    # clean it); a concurrent writer's fresh temporary file is left alone
    remove_stale_temps([out, *(out / name for name in cache)], started)
    return result


def study_figure(ds: xr.Dataset, path: str | Path) -> Path:
    """Train (top row) and test (bottom row) accuracy per epoch, one column per axis.

    Colour encodes the axis value; solid lines are the first rule (Micheli),
    dashed the second (Kaiming), as in the paper's Figs. 5 and 6.
    """
    ds = check_dataset(
        "ds",
        ds,
        what="a run_study result",
        variables=("train_acc", "test_acc", "axis", "value", "init", "epoch"),
    )
    path = check_path("path", path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes_present = [a for a in AXES if a in set(ds.axis.values)]
    inits = list(dict.fromkeys(ds.init.values))
    styles = ["-", "--", ":", "-."]
    fig, grid = plt.subplots(
        2, len(axes_present), figsize=(3.6 * len(axes_present), 6.2), squeeze=False, sharey="row"
    )
    cmap = plt.get_cmap("viridis")
    for col, axis in enumerate(axes_present):
        sel = ds.where(ds.axis == axis, drop=True)
        values = sorted(set(sel.value.values))
        for row, var in enumerate(("train_acc", "test_acc")):
            ax = grid[row, col]
            for j, value in enumerate(values):
                color = cmap(j / max(1, len(values) - 1) * 0.85)
                for k, init in enumerate(inits):
                    m = (sel.value == value) & (sel.init == init)
                    if not bool(m.any()):
                        continue
                    curve = sel[var].where(m, drop=True).values[0]
                    ax.plot(
                        ds.epoch.values,
                        curve,
                        styles[k % len(styles)],
                        color=color,
                        marker="o",
                        ms=3,
                        label=f"{AXES[axis]}={value:g}" if k == 0 else None,
                    )
            ax.set_xlabel("epoch")
            if col == 0:
                ax.set_ylabel("train accuracy" if var == "train_acc" else "test accuracy")
            if row == 0:
                ax.set_title(f"varying {AXES[axis]}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="lower right")
    styles_txt = ", ".join(f"{i}: '{styles[k % len(styles)]}'" for k, i in enumerate(inits))
    tc = ds.attrs.get("train_config", "")
    fig.suptitle(f"Initialisation study ({styles_txt})\n{tc}", fontsize=8)
    fig.tight_layout()
    from .._io import atomic_write

    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=110))
    plt.close(fig)
    return path
