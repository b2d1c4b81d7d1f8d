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

from .._checks import check_choice, check_dataset, check_int, check_path, check_real, show
from .._dataset import finish_dataset, load_dataset, save_dataset
from ..config import NetworkConfig, check_config
from .trainer import CHECKPOINT, METRICS_NC, TrainConfig, train

__all__ = ["run_study", "study_figure", "study_configs", "budget_plan", "AXES"]

#: Most epochs a budget plan gives a run (the paper's protocol).
MAX_BUDGET_EPOCHS = 150
#: Epochs a budget plan gives a run before it grows the subset to the whole set.
MIN_BUDGET_EPOCHS = 4
#: Fewest training samples a budget plan gives a run (fewer says nothing about a rule).
MIN_BUDGET_SUBSET = 1_000
BUDGET_PLAN = "budget.json"

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
    jobs: int = 1,
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
    jobs : int
        Runs trained at once, each in its own process with one BLAS thread
        (``jobs=1``: one after the other in this process, with the caller's
        threads). A run's numbers do not depend on ``jobs`` (the trainer's are
        the same for any thread count).

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
    jobs = check_int("jobs", jobs, low=1)
    cache: dict[str, xr.Dataset] = {}
    todo = {}
    for *_, cfg in plan:
        name = _run_name(cfg)
        if name not in cache and name not in todo:
            ds = _finished(out / name, tcfg)
            if ds is None:
                todo[name] = cfg
            else:
                cache[name] = ds
    if jobs == 1 or len(todo) <= 1:
        for name, cfg in todo.items():
            cache[name] = _train_run(cfg, tcfg, out / name, progress, data)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork (no threads of this process are copied into a child); the data
        # go to each worker once, through its initializer
        with ProcessPoolExecutor(
            jobs, mp_context=mp.get_context("spawn"), initializer=_set_worker_data,
            initargs=(data,),
        ) as pool:
            futures = {
                name: pool.submit(_train_run, cfg, tcfg, out / name, progress, None, threads=1)
                for name, cfg in todo.items()
            }
            for name, future in futures.items():
                cache[name] = future.result()  # the first failure is raised here
    rows = [(axis, value, init, cache[_run_name(cfg)]) for axis, value, init, cfg in plan]
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


def _finished(folder: Path, tcfg: TrainConfig) -> xr.Dataset | None:
    """The metrics of a finished run of these settings in ``folder``, or None (train it).

    A run of the same settings that stopped early is None (``train`` resumes
    it); a finished or stopped run of other settings is an error, not reused.
    """
    path = folder / METRICS_NC
    if not path.exists():
        return None
    ds = load_dataset(path)
    if ds.attrs.get("train_config") != tcfg.to_json():
        raise ValueError(
            f"{folder} holds a run trained with other settings "
            f"({ds.attrs.get('train_config')}, not {tcfg.to_json()}): use another --out, "
            "or the settings of that study"
        )
    return ds if ds.sizes["epoch"] == tcfg.epochs else None


_WORKER_DATA: dict = {}


def _set_worker_data(data) -> None:
    _WORKER_DATA["data"] = data


def _train_run(cfg, tcfg, folder: Path, progress: bool, data, threads: int | None = None):
    """Train one run of a study into ``folder`` (continuing a killed one); its metrics."""
    import contextlib

    from threadpoolctl import threadpool_limits

    if progress:
        print(f"study: training {folder.name}", flush=True)
    if data is None:
        data = _WORKER_DATA.get("data")
    resume = (folder / CHECKPOINT).exists()
    limit = contextlib.nullcontext() if threads is None else threadpool_limits(threads)
    with limit:
        return train(
            cfg, tcfg, folder, resume=resume, progress=progress and threads is None, data=data
        )


def budget_plan(
    base: NetworkConfig,
    tcfg: TrainConfig,
    axes: Mapping[str, Sequence],
    inits: Sequence[str],
    minutes: float,
    *,
    jobs: int = 1,
    data=None,
    batches: int = 5,
) -> tuple[TrainConfig, dict]:
    """Epochs and training subset that make a study take about ``minutes`` of wall time.

    Each distinct network of the study is timed on this machine, now: a few
    training steps (``loss_and_grad`` and Adam on batches of ``tcfg.batch``,
    after three warm-up steps; the median step), one evaluation pass, its
    initialisation and what each epoch adds (rates on ``rate_batch`` images,
    the checkpoint written), giving seconds per training and per test sample
    and per run and epoch. Run ``r`` then costs ``a_r + E c_r`` for ``E``
    epochs, ``c_r = N_train s_r + N_test e_r + o_r`` (setup ``a_r``, epoch
    overhead ``o_r``), and the study ``sum_r (a_r + E c_r) / jobs``. The plan
    first scales the epochs, the largest ``E`` in ``[1, MAX_BUDGET_EPOCHS]``
    whose predicted time fits the budget, of the whole training set
    (``tcfg.train_subset`` is replaced), if that is at least
    ``MIN_BUDGET_EPOCHS`` = 4 (a curve needs epochs); else 4 epochs (or, if
    even that is over budget, fewer) of the largest training subset that fits,
    not below ``MIN_BUDGET_SUBSET``. The test subset stays.
    The time the timing itself took is taken off the budget first (it is
    part of the study's wall time).

    Assumptions: a run's time is linear in its samples. The step is timed
    with the dense products, which bound the cost of the event-driven ones
    that a run chooses where they are faster. The rates change with training,
    and with them the event-driven cost: timed at initialisation, the
    event-driven cost predicted Kaiming's runs 2-3 times too short. ``jobs``
    runs in parallel share the machine without slowing each other. On a
    2-core machine two runs at once each took about 1.4 times their timed
    cost (a 60-minute plan, docs/training.md), so the plan is optimistic
    there by that factor.

    Returns
    -------
    (TrainConfig, dict)
        ``tcfg`` with the planned ``epochs`` and ``train_subset``, and the
        plan: budget, jobs, epochs, subsets, the measured seconds per sample
        of every run and the predicted wall time.
    """
    import dataclasses
    import tempfile
    import time

    from .optim import Adam
    from .trainer import _prepare, model_for

    started = time.perf_counter()
    minutes = check_real("minutes", minutes, low=0.0, low_open=True)
    jobs = check_int("jobs", jobs, low=1)
    plan = study_configs(base, axes, inits)
    if data is None:
        from .data import load_dataset_arrays

        data = load_dataset_arrays(tcfg.dataset)
    # the whole training set is the plan's starting point (test subset as given)
    x_tr, y_tr, x_te, _ = _prepare(data, dataclasses.replace(tcfg, train_subset=None))
    b = tcfg.batch
    if len(x_tr) < (batches + 3) * b:
        raise ValueError(
            f"budget: timing a run needs {(batches + 3) * b} training samples ({batches + 3} "
            f"batches of {b}); the training set has {len(x_tr)}: use a smaller batch"
        )
    runs = {}
    for *_, cfg in plan:
        name = _run_name(cfg)
        if name in runs:
            continue
        model = model_for(cfg, tcfg, x_tr.shape[1], data.n_classes)
        t0 = time.perf_counter()
        model.initialize(np.random.default_rng(0), x=x_tr[: max(b, 256)])
        setup_s = time.perf_counter() - t0
        # timed with the dense products: the runs choose the event-driven ones only where
        # they are faster, at the rates of the moment, and training raises the rates (a
        # Kaiming network's event-driven cost at initialisation is 2-3 times below what its
        # runs took), so the dense cost bounds every epoch's
        model.products = "dense"
        opt = Adam(model.weights, lr=tcfg.lr)
        times = []
        for i in range(batches + 3):  # three warm-up steps load every kernel (numba's cache)
            t0 = time.perf_counter()
            _, grads, _ = model.loss_and_grad(x_tr[i * b : (i + 1) * b], y_tr[i * b : (i + 1) * b])
            opt.step(grads)
            times.append(time.perf_counter() - t0)
        train_s = float(np.median(times[3:])) / b
        n_eval = min(len(x_te), 1000)
        t0 = time.perf_counter()
        model.predict(x_te[:n_eval])
        eval_s = (time.perf_counter() - t0) / n_eval
        # what every epoch also does: the rates on rate_batch test images, and the
        # checkpoint (weights and Adam's two moments) written to disk
        t0 = time.perf_counter()
        model.forward(x_te[: tcfg.rate_batch], record=True)
        with tempfile.TemporaryFile() as fh:
            np.savez(fh, *model.weights, *opt.m, *opt.v)
        epoch_s = time.perf_counter() - t0
        runs[name] = {
            "train_s_per_sample": train_s, "eval_s_per_sample": eval_s,
            "setup_s": setup_s, "epoch_overhead_s": epoch_s,
        }
    # the timing itself is part of the study's wall time: plan the rest of the budget
    timing = (time.perf_counter() - started) / 60.0
    if timing >= minutes:
        raise ValueError(
            f"budget={minutes:g} min is too small for this study: timing its {len(runs)} "
            f"networks alone took {timing:.2g} min here; give a larger --budget"
        )
    epochs, subset, predicted = _plan_from_costs(
        runs, len(x_tr), len(x_te), minutes - timing, jobs
    )
    planned = dataclasses.replace(
        tcfg, epochs=epochs, train_subset=None if subset == len(x_tr) else subset
    )
    info = {
        "budget_minutes": minutes, "jobs": jobs, "epochs": epochs, "train_subset": subset,
        "n_train_full": len(x_tr), "test_subset": len(x_te), "runs": runs,
        "timing_minutes": timing, "predicted_minutes": timing + predicted / 60.0,
    }
    return planned, info


def _plan_from_costs(runs: Mapping, n_train: int, n_test: int, minutes: float, jobs: int):
    """``(epochs, train samples, predicted seconds)`` of :func:`budget_plan` from its timings.

    Run ``r`` costs ``a_r + E (N s_r + N_test e_r + o_r)``; ``jobs`` runs at a
    time take at least the sum over runs divided by ``min(jobs, runs)`` and at
    least the longest run: the prediction is the larger of the two. The whole
    training set for as many epochs as fit, if that is at least
    ``MIN_BUDGET_EPOCHS`` (curves need epochs); else the largest subset (>=
    ``MIN_BUDGET_SUBSET``) for the most epochs up to ``MIN_BUDGET_EPOCHS``
    that fit.
    """
    cost = [
        (r.get("setup_s", 0.0), r["train_s_per_sample"],
         r["eval_s_per_sample"] * n_test + r.get("epoch_overhead_s", 0.0))
        for r in runs.values()
    ]
    lanes = min(jobs, len(cost))
    budget_s = 60.0 * minutes

    def seconds(epochs, subset):
        each = [a + epochs * (subset * s + o) for a, s, o in cost]
        return max(sum(each) / lanes, max(each))

    def largest(fits, lo, hi):  # the largest integer in [lo, hi] with fits(k), or lo - 1
        if not fits(lo):
            return lo - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
        return lo

    epochs = largest(lambda e: seconds(e, n_train) <= budget_s, 1, MAX_BUDGET_EPOCHS)
    if epochs >= MIN_BUDGET_EPOCHS:
        return epochs, n_train, seconds(epochs, n_train)
    for epochs in range(MIN_BUDGET_EPOCHS, 0, -1):
        subset = largest(lambda k, e=epochs: seconds(e, k) <= budget_s, MIN_BUDGET_SUBSET, n_train)
        if subset >= MIN_BUDGET_SUBSET:
            return epochs, subset, seconds(epochs, subset)
    need = seconds(1, MIN_BUDGET_SUBSET) / 60.0
    raise ValueError(
        f"budget={minutes:g} min is too small for this study: {len(runs)} runs need "
        f"about {need:.2g} min for one epoch of {MIN_BUDGET_SUBSET} samples here; "
        "give a larger --budget, fewer axis values or more --jobs"
    )


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
