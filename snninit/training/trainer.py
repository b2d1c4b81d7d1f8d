"""Training loop: mini-batch Adam with cosine annealing, metrics, checkpoints, resume.

Reproducibility. Everything random derives from the seed through
``numpy.random.SeedSequence``: the weights from ``(seed, 0)``, the shuffle of
epoch ``e`` from ``(seed, 1, e)``. A run resumed from the checkpoint of epoch
``e`` therefore continues exactly as the uninterrupted run would (weights and
Adam state are restored bit for bit), and ends with identical results.

Outputs in ``out``: ``checkpoint.npz`` (weights, Adam moments, metrics so
far; rewritten atomically after every epoch), ``metrics.nc`` (xarray Dataset,
dims ``epoch`` and ``layer``) and ``metrics.csv`` (one row per epoch). A run
that finishes removes the temporary files (``.<name>.<random>.tmp``) that a
killed earlier run left in ``out`` (only files older than its own start, so a
concurrent writer is never hurt; :func:`snninit._io.remove_stale_temps`).

Thread counts. The matrix products go through
:func:`~snninit.training.model.fixed_matmul`, so the weights, the Adam state
and every metric but ``seconds`` are bit-identical for any number of BLAS
threads (``--threads``) as well as for any resume point.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import xarray as xr

from .._checks import check_bool, check_choice, check_int, check_real
from .._dataset import data_digest, finish_dataset, save_dataset
from .._io import atomic_write, check_writable, remove_stale_temps, save_or_rescue
from ..config import NetworkConfig, check_config, check_limit
from .data import DATASETS, Dataset, load_dataset_arrays, standardise
from .model import SNN, softmax_cross_entropy
from .optim import Adam, cosine_lr

__all__ = ["TrainConfig", "train", "CHECKPOINT", "METRICS_NC", "METRICS_CSV", "MAX_EPOCHS"]

#: Most epochs of one run (a cosine period of 10**12 epochs is a typo, not a schedule).
MAX_EPOCHS = 100_000

CHECKPOINT = "checkpoint.npz"
METRICS_NC = "metrics.nc"
METRICS_CSV = "metrics.csv"
_METRICS = ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training settings (everything but the network).

    Parameters
    ----------
    epochs : int
        Epochs of this run (also the period of the cosine schedule), in
        ``[1, MAX_EPOCHS]``.
    batch : int
        Mini-batch size, >= 1 (the last, smaller batch of an epoch is kept).
    lr : float
        Adam's initial learning rate, > 0.
    lr_min : float
        Final learning rate of the cosine schedule, in [0, lr].
    schedule : {"cosine", "constant"}
        Per-epoch learning-rate schedule.
    seed : int
        Seeds the weights and the shuffles.
    dataset : {"mnist", "fashion-mnist", "synthetic"}
        Data set (cache built by ``snninit data``).
    train_subset, test_subset : int or None
        Use only the first so many training / test samples (None: all).
    alpha : float
        Sharpness of the arctan surrogate.
    detach_reset : bool
        Detach the reset from the gradient (default True).
    rate_batch : int
        Number of (fixed, first) test images on which layer spike rates are measured.
    """

    epochs: int = 1
    batch: int = 128
    lr: float = 1e-3
    lr_min: float = 0.0
    schedule: str = "cosine"
    seed: int = 0
    dataset: str = "mnist"
    train_subset: int | None = None
    test_subset: int | None = None
    alpha: float = 2.0
    detach_reset: bool = True
    rate_batch: int = 256

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, low=1, high=MAX_EPOCHS)
        check_int("batch", self.batch, low=1)
        check_real("lr", self.lr, low=0.0, low_open=True)
        check_real("lr_min", self.lr_min, low=0.0, high=self.lr)
        check_choice("schedule", self.schedule, ("cosine", "constant"))
        check_limit("seed", self.seed)
        check_choice("dataset", self.dataset, DATASETS)
        for name in ("train_subset", "test_subset"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), low=1)
        check_real("alpha", self.alpha, low=0.0, high=1e6, low_open=True)
        # frozen: store the normalised bool (numpy's would not go into to_json)
        object.__setattr__(self, "detach_reset", check_bool("detach_reset", self.detach_reset))
        check_int("rate_batch", self.rate_batch, low=1)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    def lr_at(self, epoch: int) -> float:
        """Learning rate of (0-based) ``epoch``."""
        if self.schedule == "constant":
            return self.lr
        return cosine_lr(epoch, self.epochs, self.lr, self.lr_min)


def _prepare(data: Dataset, tcfg: TrainConfig):
    x_tr, y_tr, x_te, y_te = data.x_train, data.y_train, data.x_test, data.y_test
    if tcfg.train_subset is not None:
        x_tr, y_tr = x_tr[: tcfg.train_subset], y_tr[: tcfg.train_subset]
    if tcfg.test_subset is not None:
        x_te, y_te = x_te[: tcfg.test_subset], y_te[: tcfg.test_subset]
    x_tr, x_te = standardise(x_tr, x_te)
    return x_tr, y_tr, x_te, y_te


def model_for(cfg: NetworkConfig, tcfg: TrainConfig, n_inputs: int, n_classes: int) -> SNN:
    """The (uninitialised) network that :func:`train` trains for these settings."""
    return SNN(
        cfg, n_inputs=n_inputs, n_classes=n_classes, alpha=tcfg.alpha,
        detach_reset=tcfg.detach_reset,
    )


def _evaluate(model: SNN, x, y, batch: int = 1000):
    loss_sum, correct = 0.0, 0
    for i in range(0, len(x), batch):
        logits = model.forward(x[i : i + batch])
        loss, _ = softmax_cross_entropy(logits, y[i : i + batch])
        loss_sum += loss * len(logits)
        correct += int(np.sum(np.argmax(logits, axis=1) == y[i : i + batch]))
    return loss_sum / len(x), correct / len(x)


def _metrics_dataset(cfg, tcfg, model, hist, rates, rate0) -> xr.Dataset:
    epochs = np.arange(1, len(hist["train_loss"]) + 1)
    layer = np.arange(cfg.layers + 2)
    ds = xr.Dataset(
        {name: ("epoch", np.asarray(hist[name], dtype=float)) for name in _METRICS},
        coords={"epoch": epochs, "layer": layer},
    )
    ds["rate"] = (("epoch", "layer"), np.asarray(rates, dtype=float).reshape(len(epochs), -1))
    ds["rate_initial"] = ("layer", np.asarray(rate0, dtype=float))
    docs = {
        "train_loss": "mean cross-entropy over the epoch's mini-batches (while training)",
        "train_acc": "accuracy on the epoch's mini-batches (while training)",
        "test_loss": "cross-entropy on the test set after the epoch",
        "test_acc": "accuracy on the test set after the epoch",
        "lr": "learning rate used during the epoch",
        "seconds": "wall-clock seconds of the epoch (training only)",
        "rate": "spike rate of each layer on a fixed test batch after the epoch",
        "rate_initial": "spike rate of each layer on the fixed test batch at initialisation",
    }
    for name, doc in docs.items():
        ds[name].attrs["long_name"] = doc
    ds = finish_dataset(
        ds,
        cfg,
        kind="training",
        train_config=tcfg.to_json(),
        dataset=tcfg.dataset,
        n_parameters=model.n_parameters(),
    )
    ds["layer"].attrs["long_name"] = (
        f"layer (0 = encoding, 1..{cfg.layers} hidden, {cfg.layers + 1} = readout)"
    )
    return ds


def _write_csv(path: Path, ds: xr.Dataset) -> None:
    cols = list(_METRICS) + [f"rate_{int(layer)}" for layer in ds.layer.values]

    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write("epoch," + ",".join(cols) + "\n")
            for i, e in enumerate(ds.epoch.values):
                vals = [float(ds[m].values[i]) for m in _METRICS]
                vals += [float(v) for v in ds["rate"].values[i]]
                fh.write(f"{int(e)}," + ",".join(f"{v:.6g}" for v in vals) + "\n")

    atomic_write(path, write)


def _checkpoint_digest(arrays, meta: dict) -> str:
    """sha256 of a checkpoint: its arrays (:func:`data_digest`) and its metadata."""
    import hashlib

    rest = {k: v for k, v in meta.items() if k != "data_sha256"}
    text = data_digest(arrays) + json.dumps(rest, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _save_checkpoint(path: Path, cfg, tcfg, model, opt, hist, rates, rate0) -> None:
    arrays = {f"w{i}": w for i, w in enumerate(model.weights)}
    state = opt.state_dict()
    arrays.update({f"m{i}": a for i, a in enumerate(state["m"])})
    arrays.update({f"v{i}": a for i, a in enumerate(state["v"])})
    arrays.update({k: np.asarray(hist[k], dtype=float) for k in _METRICS})
    arrays["rates"] = np.asarray(rates, dtype=float).reshape(len(hist["train_loss"]), -1)
    arrays["rate_initial"] = np.asarray(rate0, dtype=float)
    meta = {
        "config": cfg.to_json(),
        "train_config": tcfg.to_json(),
        "adam_t": state["t"],
        "epochs_done": len(hist["train_loss"]),
    }
    # verified on resume: a checkpoint damaged on disk must not train on silently
    meta["data_sha256"] = _checkpoint_digest(arrays, meta)
    arrays["meta"] = np.array(json.dumps(meta))

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_write(path, write)


def _save_epoch(out: Path, cfg, tcfg, model, opt, hist, rates, rate0) -> None:
    """Checkpoint and metrics into ``out``; if that fails, into a temp folder (and say so)."""

    def write(folder: Path) -> None:
        _save_checkpoint(folder / CHECKPOINT, cfg, tcfg, model, opt, hist, rates, rate0)
        ds = _metrics_dataset(cfg, tcfg, model, hist, rates, rate0)
        save_dataset(ds, folder / METRICS_NC)
        _write_csv(folder / METRICS_CSV, ds)

    epochs = len(hist["train_loss"])
    save_or_rescue(
        write,
        out,
        "--out",
        prefix="train",
        kind="dir",
        hint=f"it holds epoch {epochs}'s checkpoint and metrics; continue with "
        "--out {kept} --resume",
    )


def _load_checkpoint(path: Path, cfg, tcfg, model, opt):
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            n = len(model.weights)
            weights = [npz[f"w{i}"] for i in range(n)]
            m = [npz[f"m{i}"] for i in range(n)]
            v = [npz[f"v{i}"] for i in range(n)]
            hist = {k: list(npz[k]) for k in _METRICS}
            rates = list(npz["rates"])
            rate0 = npz["rate_initial"]
            digest = _checkpoint_digest({k: npz[k] for k in npz.files if k != "meta"}, meta)
    except Exception as exc:
        raise ValueError(
            f"checkpoint {path} is unreadable ({exc}); delete it to start afresh"
        ) from None
    if "data_sha256" not in meta:
        import warnings

        # written before checkpoints carried a checksum: resumable, but unverified
        warnings.warn(
            f"checkpoint {path} has no checksum (written by an older snninit): resuming "
            "without verifying it; the next checkpoint will carry one",
            UserWarning,
            stacklevel=3,
        )
    elif meta["data_sha256"] != digest:
        raise ValueError(
            f"checkpoint {path} fails its checksum (damaged on disk): delete it to start "
            "afresh, or restore it from a copy"
        )
    if meta["config"] != cfg.to_json() or meta["train_config"] != tcfg.to_json():
        raise ValueError(
            f"checkpoint {path} was written with different settings "
            f"(network {meta['config']}, training {meta['train_config']}); use the same "
            "options as the interrupted run, or another --out"
        )
    model.set_weights(weights)
    opt.load_state_dict(
        {
            "t": meta["adam_t"],
            "lr": tcfg.lr,
            "beta1": opt.beta1,
            "beta2": opt.beta2,
            "eps": opt.eps,
            "m": m,
            "v": v,
        }
    )
    return hist, rates, rate0


def train(
    cfg: NetworkConfig,
    tcfg: TrainConfig,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
    data: Dataset | None = None,
    stop_after: int | None = None,
) -> xr.Dataset:
    """Train an :class:`~snninit.training.model.SNN` and return its per-epoch metrics.

    Parameters
    ----------
    cfg : NetworkConfig
        The network (width, layers, steps, theta, beta, reset, init, ...).
    tcfg : TrainConfig
        Training settings.
    out : path, optional
        Output folder for checkpoint and metrics (nothing written if None).
    resume : bool
        Continue from ``out/checkpoint.npz`` (same settings required); an
        error if ``out`` holds no checkpoint (nothing to resume: a typo in
        ``out`` must not start a new run silently). Without ``resume`` an
        existing checkpoint is an error, so that a finished run is never
        silently overwritten.
    progress : bool
        Show a tqdm bar per epoch.
    data : Dataset, optional
        Arrays to use instead of loading ``tcfg.dataset`` from the cache.
    stop_after : int, optional
        Stop (as if killed) after this many epochs in total, >= 1 (tests of resume).

    Returns
    -------
    xarray.Dataset
        ``train_loss, train_acc, test_loss, test_acc, lr, seconds`` over
        ``epoch`` (1-based) and ``rate`` over ``(epoch, layer)``, layer 0 =
        encoding, ``L+1`` = readout; configuration in attrs.
    """
    started = time.time()
    cfg = check_config(cfg)
    from tqdm.auto import tqdm

    if not isinstance(tcfg, TrainConfig):
        raise ValueError(f"tcfg must be a snninit.training.TrainConfig; got {type(tcfg).__name__}")
    resume = check_bool("resume", resume)
    if stop_after is not None:
        stop_after = check_int("stop_after", stop_after, low=1, high=MAX_EPOCHS)
    # before any work: an output folder that cannot be written fails now
    out = None if out is None else check_writable(out, "--out", kind="dir")
    ckpt = None if out is None else out / CHECKPOINT
    if resume and ckpt is None:
        raise ValueError("resume=True (--resume) needs out (--out), the folder of the run")
    if resume and not ckpt.exists():
        raise FileNotFoundError(
            f"--resume: no checkpoint in {out} ({ckpt} does not exist): nothing to resume; "
            "check --out, or drop --resume to start a new run"
        )
    if ckpt is not None and ckpt.exists() and not resume:
        raise ValueError(
            f"{ckpt} exists: pass --resume to continue that run, or choose another --out"
        )
    data = load_dataset_arrays(tcfg.dataset) if data is None else data
    x_tr, y_tr, x_te, y_te = _prepare(data, tcfg)
    init_rng = np.random.default_rng(np.random.SeedSequence([tcfg.seed, 0]))
    model = model_for(cfg, tcfg, x_tr.shape[1], data.n_classes)
    model.initialize(init_rng, x=x_tr[: max(tcfg.batch, 256)])
    opt = Adam(model.weights, lr=tcfg.lr)
    x_rate = x_te[: tcfg.rate_batch]
    hist: dict[str, list] = {k: [] for k in _METRICS}
    rates: list = []
    rate0 = model.forward(x_rate, record=True).rates()
    if resume:
        hist, rates, rate0 = _load_checkpoint(ckpt, cfg, tcfg, model, opt)
    n = len(x_tr)
    last = tcfg.epochs if stop_after is None else min(tcfg.epochs, stop_after)
    for epoch in range(len(hist["train_loss"]), last):
        opt.lr = tcfg.lr_at(epoch)
        perm = np.random.default_rng(np.random.SeedSequence([tcfg.seed, 1, epoch])).permutation(n)
        loss_sum, correct = 0.0, 0
        t0 = time.perf_counter()
        bar = tqdm(
            range(0, n, tcfg.batch),
            desc=f"epoch {epoch + 1}/{tcfg.epochs}",
            disable=not progress,
            leave=True,
            mininterval=1.0,
        )
        for i in bar:
            idx = perm[i : i + tcfg.batch]
            loss, grads, logits = model.loss_and_grad(x_tr[idx], y_tr[idx])
            if not np.isfinite(loss):
                raise FloatingPointError(f"loss became {loss} in epoch {epoch + 1}")
            opt.step(grads)
            loss_sum += loss * len(idx)
            correct += int(np.sum(np.argmax(logits, axis=1) == y_tr[idx]))
            bar.set_postfix(
                loss=f"{loss_sum / (i + len(idx)):.4f}",
                acc=f"{correct / (i + len(idx)):.4f}",
                refresh=False,
            )
        seconds = time.perf_counter() - t0
        # an event-driven product never reads the weights of a neuron that stays silent,
        # so a non-finite weight need not reach the loss: check them once an epoch
        bad = [i for i, w in enumerate(model.weights) if not np.all(np.isfinite(w))]
        if bad:
            raise FloatingPointError(
                f"weights W_{bad[0] + 1} became non-finite in epoch {epoch + 1}: lower --lr"
            )
        test_loss, test_acc = _evaluate(model, x_te, y_te)
        for key, value in zip(
            _METRICS, (loss_sum / n, correct / n, test_loss, test_acc, opt.lr, seconds), strict=True
        ):
            hist[key].append(value)
        rates.append(model.forward(x_rate, record=True).rates())
        if progress:
            bar.write(
                f"epoch {epoch + 1}: train loss {loss_sum / n:.4f} acc {correct / n:.4f}"
                f" | test acc {test_acc:.4f} | {seconds:.1f} s"
            )
        if out is not None:
            _save_epoch(out, cfg, tcfg, model, opt, hist, rates, rate0)
    if out is not None:
        # what a killed earlier run left (.checkpoint.npz.<random>.tmp, ...): older than
        # this run's start, so never the temporary file of a writer still at work
        remove_stale_temps([out], started)
    ds = _metrics_dataset(cfg, tcfg, model, hist, rates, rate0)
    ds.attrs["weights_sha256"] = _weights_digest(model)
    return ds


def _weights_digest(model: SNN) -> str:
    import hashlib

    h = hashlib.sha256()
    for w in model.weights:
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()
