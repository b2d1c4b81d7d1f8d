"""Trainer: learns, resumes to identical results, writes its outputs; CLI and study."""

from __future__ import annotations

import numpy as np
import pytest

from snninit._dataset import load_dataset
from snninit.cli import main
from snninit.config import NetworkConfig
from snninit.training.data import synthetic_dataset
from snninit.training.study import run_study, study_figure
from snninit.training.trainer import TrainConfig, train

CFG = NetworkConfig(width=40, layers=3, steps=3, theta=1.0, beta=0.5, init="micheli")
DATA = synthetic_dataset(n_train=300, n_test=200, n_features=64, n_classes=4, seed=0)


def test_tiny_network_learns():
    tcfg = TrainConfig(epochs=4, batch=32, lr=5e-3, dataset="synthetic", seed=0)
    ds = train(CFG, tcfg, progress=False, data=DATA)
    assert ds.sizes["epoch"] == 4 and ds.rate.shape == (4, CFG.layers + 2)
    # chance is 1/4; with 200 test samples its SD is 0.031, so 0.6 is > 10 SD above chance
    assert float(ds.test_acc[-1]) > 0.6
    assert float(ds.train_loss[-1]) < float(ds.train_loss[0])
    np.testing.assert_allclose(ds.lr, [tcfg.lr_at(e) for e in range(4)])


def test_resume_gives_identical_results(tmp_path):
    tcfg = TrainConfig(epochs=4, batch=50, lr=3e-3, dataset="synthetic", seed=3)
    full = train(CFG, tcfg, tmp_path / "full", progress=False, data=DATA)
    # "killed" after 2 epochs, then resumed
    part = train(CFG, tcfg, tmp_path / "part", progress=False, data=DATA, stop_after=2)
    assert part.sizes["epoch"] == 2
    resumed = train(CFG, tcfg, tmp_path / "part", resume=True, progress=False, data=DATA)
    assert resumed.attrs["weights_sha256"] == full.attrs["weights_sha256"]
    for name in ("train_loss", "train_acc", "test_acc", "test_loss", "rate", "lr"):
        np.testing.assert_array_equal(resumed[name].values, full[name].values)
    on_disk = load_dataset(tmp_path / "part" / "metrics.nc")
    np.testing.assert_array_equal(on_disk.test_acc.values, full.test_acc.values)
    csv = (tmp_path / "part" / "metrics.csv").read_text().splitlines()
    assert len(csv) == 5 and csv[0].startswith("epoch,train_loss")
    with pytest.raises(ValueError, match="--resume"):
        train(CFG, tcfg, tmp_path / "part", progress=False, data=DATA)
    other = TrainConfig(epochs=5, batch=50, lr=3e-3, dataset="synthetic", seed=3)
    with pytest.raises(ValueError, match="different settings"):
        train(CFG, other, tmp_path / "part", resume=True, progress=False, data=DATA)


def test_seed_reproducible_and_matters():
    tcfg = TrainConfig(epochs=1, batch=64, dataset="synthetic", seed=1)
    a = train(CFG, tcfg, progress=False, data=DATA)
    b = train(CFG, tcfg, progress=False, data=DATA)
    c = train(
        CFG, TrainConfig(epochs=1, batch=64, dataset="synthetic", seed=2), progress=False, data=DATA
    )
    assert a.attrs["weights_sha256"] == b.attrs["weights_sha256"] != c.attrs["weights_sha256"]


def test_train_config_validation():
    with pytest.raises(ValueError, match="batch must be"):
        TrainConfig(batch=0)
    with pytest.raises(ValueError, match="dataset must be one of"):
        TrainConfig(dataset="imagenet")
    with pytest.raises(ValueError, match="lr_min must be"):
        TrainConfig(lr=1e-3, lr_min=1e-2)


def test_cli_train_synthetic(tmp_path, capsys):
    args = [
        "train",
        "--dataset",
        "synthetic",
        "--layers",
        "2",
        "--width",
        "30",
        "--epochs",
        "2",
        "--batch",
        "64",
        "--out",
        str(tmp_path / "run"),
        "--no-progress",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "after 2 epoch(s) test acc" in out
    assert (tmp_path / "run" / "checkpoint.npz").exists()
    ds = load_dataset(tmp_path / "run" / "metrics.nc")
    assert ds.attrs["kind"] == "training" and ds.attrs["layers"] == 2
    assert main(args) == 2  # refuses to overwrite without --resume
    assert "--resume" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0
    assert main(["train", "--dataset", "synthetic", "--batch", "0", "--no-progress"]) == 2
    assert "batch must be" in capsys.readouterr().err


def test_study_runs_and_draws(tmp_path):
    tcfg = TrainConfig(epochs=2, batch=64, lr=3e-3, dataset="synthetic")
    base = CFG.replace(width=30, layers=2)
    axes = {"layers": [1, 2], "theta": [1.0]}
    ds = run_study(base, tcfg, axes, ["micheli", "kaiming"], tmp_path, progress=False, data=DATA)
    assert ds.sizes == {"run": 6, "epoch": 2}
    # base network (layers=2, theta=1) is trained once per init and reused
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 4
    m = (ds.axis == "theta") & (ds.init == "micheli")
    m2 = (ds.axis == "layers") & (ds.value == 2) & (ds.init == "micheli")
    np.testing.assert_array_equal(ds.test_acc.where(m, drop=True), ds.test_acc.where(m2, drop=True))
    png = study_figure(ds, tmp_path / "study.png")
    assert png.stat().st_size > 10_000
    again = run_study(base, tcfg, axes, ["micheli", "kaiming"], tmp_path, progress=False, data=DATA)
    np.testing.assert_array_equal(again.test_acc.values, ds.test_acc.values)


def _leftover(folder, target, age=3600.0):
    """The temporary file a writer killed mid-write leaves (``atomic_write``'s naming)."""
    import os
    import tempfile
    import time
    from pathlib import Path

    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target}.", suffix=".tmp", dir=folder)
    os.close(fd)
    if age:
        os.utime(name, (time.time() - age, time.time() - age))
    return Path(name)


def test_finished_run_removes_a_killed_runs_temp_files(tmp_path):
    tcfg = TrainConfig(epochs=2, batch=50, lr=3e-3, dataset="synthetic", seed=3)
    out = tmp_path / "run"
    train(CFG, tcfg, out, progress=False, data=DATA, stop_after=1)  # "killed" after epoch 1 ...
    stale = [_leftover(out, n) for n in ("checkpoint.npz", "metrics.nc", "metrics.csv")]
    fresh = _leftover(out, "checkpoint.npz", age=0)  # ... and a writer busy right now
    train(CFG, tcfg, out, resume=True, progress=False, data=DATA)
    assert [p for p in stale if p.exists()] == [] and fresh.exists()


def test_study_removes_temp_files_in_its_folders(tmp_path):
    tcfg = TrainConfig(epochs=1, batch=64, lr=3e-3, dataset="synthetic")
    base = CFG.replace(width=20, layers=1)
    args = (base, tcfg, {"theta": [1.0]}, ["micheli"], tmp_path)
    run_study(*args, progress=False, data=DATA)
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    stale = [_leftover(tmp_path, "study.png"), _leftover(run_dir, "metrics.nc")]
    fresh = _leftover(tmp_path, "study.nc", age=0)
    run_study(*args, progress=False, data=DATA)  # every run finished: nothing retrained
    assert [p for p in stale if p.exists()] == [] and fresh.exists()


# ---- refused before any work (docs/reliability.md) -------------------------------------


def test_resume_with_nothing_to_resume_is_refused(tmp_path):
    tcfg = TrainConfig(epochs=1, batch=64, dataset="synthetic")
    with pytest.raises(FileNotFoundError) as info:
        train(CFG, tcfg, tmp_path / "nothere", resume=True, progress=False, data=DATA)
    message = str(info.value)
    assert f"--resume: no checkpoint in {tmp_path / 'nothere'}" in message
    assert "drop --resume" in message and "\n" not in message
    assert not (tmp_path / "nothere").exists()
    with pytest.raises(ValueError, match=r"^resume must be True or False; got 'yes'$"):
        train(CFG, tcfg, tmp_path / "x", resume="yes", progress=False, data=DATA)


def test_study_validates_the_whole_grid_before_training(tmp_path, monkeypatch):
    import snninit.training.study as study

    def refuse(*args, **kwargs):
        raise AssertionError("a run started before the grid was checked")

    monkeypatch.setattr(study, "train", refuse)
    tcfg = TrainConfig(epochs=1, batch=64, dataset="synthetic")
    cases = {
        "width=0: width must be an integer in [1, 1000000]; got 0": {"width": [30, 0]},
        "theta=nan: theta must be a finite number": {"layers": [2], "theta": [1.0, np.nan]},
        "axes['beta'] must be a list of values": {"beta": 0.5},
        "axis must be one of": {"depth": [2]},
    }
    for fragment, axes in cases.items():
        with pytest.raises(ValueError) as info:
            run_study(CFG, tcfg, axes, ["micheli"], tmp_path / "st", progress=False, data=DATA)
        assert fragment in str(info.value), str(info.value)
    with pytest.raises(ValueError, match="init must be one of"):
        run_study(CFG, tcfg, {"width": [30]}, ["micheli", "bogus"], tmp_path / "st", data=DATA)
    with pytest.raises(ValueError, match="tcfg must be a snninit.training.TrainConfig"):
        run_study(CFG, None, {"width": [30]}, ["micheli"], tmp_path / "st", data=DATA)
    assert not (tmp_path / "st").exists()


def test_study_figure_needs_a_study_result(tmp_path):
    import xarray as xr

    with pytest.raises(ValueError, match=r"^ds must be an xarray.Dataset \(a run_study result\)"):
        study_figure(None, tmp_path / "f.png")
    with pytest.raises(ValueError, match="holding 'train_acc', 'test_acc'"):
        study_figure(xr.Dataset(), tmp_path / "f.png")
    assert not (tmp_path / "f.png").exists()


def test_resume_refuses_a_damaged_checkpoint(tmp_path):
    tcfg = TrainConfig(epochs=3, batch=50, lr=3e-3, dataset="synthetic", seed=3)
    out = tmp_path / "run"
    train(CFG, tcfg, out, progress=False, data=DATA, stop_after=1)
    ckpt = out / "checkpoint.npz"
    with np.load(ckpt) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["w1"] = arrays["w1"].copy()
    arrays["w1"].flat[7] += 1e-3  # one weight changed on disk, the file still well-formed
    with open(ckpt, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(ValueError, match="fails its checksum"):
        train(CFG, tcfg, out, resume=True, progress=False, data=DATA)


def test_study_with_two_jobs_gives_the_same_numbers(tmp_path):
    tcfg = TrainConfig(epochs=2, batch=64, lr=3e-3, dataset="synthetic")
    base = CFG.replace(width=30, layers=2)
    axes = {"layers": [1, 2]}
    one = run_study(base, tcfg, axes, ["micheli", "kaiming"], tmp_path / "a", progress=False,
                    data=DATA)
    two = run_study(base, tcfg, axes, ["micheli", "kaiming"], tmp_path / "b", progress=False,
                    data=DATA, jobs=2)
    for name in ("train_acc", "test_acc", "train_loss"):
        np.testing.assert_array_equal(one[name].values, two[name].values)


def test_budget_plan_from_costs_scales_epochs_then_the_subset():
    from snninit.training.study import MAX_BUDGET_EPOCHS, MIN_BUDGET_SUBSET, _plan_from_costs

    runs = {"a": {"train_s_per_sample": 1e-3, "eval_s_per_sample": 1e-4},
            "b": {"train_s_per_sample": 3e-3, "eval_s_per_sample": 2e-4}}
    # one epoch: 4e-3 s x 10000 + 3e-4 s x 1000 = 40.3 s; 10 min fit 14 epochs
    assert _plan_from_costs(runs, 10_000, 1_000, 10.0, 1)[:2] == (14, 10_000)
    # two jobs: the longer run (3e-3 x 10000 + 2e-4 x 1000 = 30.2 s an epoch) sets the time
    assert _plan_from_costs(runs, 10_000, 1_000, 10.0, 2)[:2] == (19, 10_000)
    assert _plan_from_costs(runs, 10_000, 1_000, 10.0, 5)[:2] == (19, 10_000)  # 2 runs only
    epochs, subset, seconds = _plan_from_costs(runs, 10_000, 1_000, 10.0, 1)
    assert seconds == pytest.approx(14 * 40.3) and seconds <= 600
    assert _plan_from_costs(runs, 10_000, 1_000, 1e4, 1)[0] == MAX_BUDGET_EPOCHS
    # under four epochs of the whole set: four epochs of a subset ...
    epochs, subset, seconds = _plan_from_costs(runs, 10_000, 1_000, 2.0, 1)
    assert epochs == 4 and abs(subset - (120 / 4 - 0.3) / 4e-3) <= 1 and seconds <= 120
    # ... or fewer epochs where four of MIN_BUDGET_SUBSET do not fit
    epochs, subset, seconds = _plan_from_costs(runs, 10_000, 1_000, 0.2, 1)
    assert epochs == 2 and abs(subset - (12 / 2 - 0.3) / 4e-3) <= 1 and seconds <= 12
    with pytest.raises(ValueError, match="too small for this study"):
        _plan_from_costs(runs, 10_000, 1_000, (0.3 + 4e-3 * (MIN_BUDGET_SUBSET - 1)) / 60, 1)


def test_budget_plan_times_every_distinct_run():
    from snninit.training.study import budget_plan

    tcfg = TrainConfig(epochs=1, batch=32, dataset="synthetic", test_subset=100)
    base = CFG.replace(width=30, layers=2)
    data = synthetic_dataset(n_train=3000, n_test=200, n_features=64, n_classes=4, seed=0)
    planned, info = budget_plan(base, tcfg, {"layers": [1, 2], "theta": [1.0]},
                                ["micheli", "kaiming"], 5.0, data=data)
    assert len(info["runs"]) == 4  # the base network appears on both axes, timed once
    assert all(r["train_s_per_sample"] > 0 and r["eval_s_per_sample"] > 0
               for r in info["runs"].values())
    assert planned.epochs == info["epochs"] >= 1 and planned.test_subset == 100
    assert info["predicted_minutes"] <= 5.0
    with pytest.raises(ValueError, match="minutes"):
        budget_plan(base, tcfg, {"layers": [1]}, ["micheli"], -1.0, data=data)


def _edit_checkpoint_meta(ckpt, edit) -> None:
    """Rewrite ``ckpt`` with ``edit(meta)`` applied to its metadata (arrays unchanged)."""
    import json

    with np.load(ckpt) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"]))
    edit(meta)
    arrays["meta"] = np.array(json.dumps(meta))
    with open(ckpt, "wb") as fh:
        np.savez(fh, **arrays)


def test_resume_of_a_checkpoint_without_checksum_warns_and_continues(tmp_path):
    tcfg = TrainConfig(epochs=2, batch=50, lr=3e-3, dataset="synthetic", seed=3)
    full = train(CFG, tcfg, tmp_path / "full", progress=False, data=DATA)
    out = tmp_path / "old"
    train(CFG, tcfg, out, progress=False, data=DATA, stop_after=1)
    _edit_checkpoint_meta(out / "checkpoint.npz", lambda m: m.pop("data_sha256"))  # as old
    with pytest.warns(UserWarning, match="has no checksum"):
        resumed = train(CFG, tcfg, out, resume=True, progress=False, data=DATA)
    assert resumed.attrs["weights_sha256"] == full.attrs["weights_sha256"]


def test_resume_refuses_damaged_metadata(tmp_path):
    tcfg = TrainConfig(epochs=3, batch=50, lr=3e-3, dataset="synthetic", seed=3)
    out = tmp_path / "run"
    train(CFG, tcfg, out, progress=False, data=DATA, stop_after=1)
    # the metadata changed, the arrays intact
    _edit_checkpoint_meta(out / "checkpoint.npz", lambda m: m.update(adam_t=m["adam_t"] + 1))
    with pytest.raises(ValueError, match="fails its checksum"):
        train(CFG, tcfg, out, resume=True, progress=False, data=DATA)


def test_study_refuses_a_finished_run_of_other_settings(tmp_path):
    base = CFG.replace(width=30, layers=2)
    tcfg = TrainConfig(epochs=1, batch=64, lr=3e-3, dataset="synthetic")
    run_study(base, tcfg, {"layers": [1]}, ["micheli"], tmp_path, progress=False, data=DATA)
    other = TrainConfig(epochs=2, batch=64, lr=3e-3, dataset="synthetic")
    with pytest.raises(ValueError, match="holds a run trained with other settings"):
        run_study(base, other, {"layers": [1]}, ["micheli"], tmp_path, progress=False, data=DATA)


def test_study_cli_keeps_and_reuses_its_budget_plan(tmp_path, capsys):
    import json

    argv = ["study", "--dataset", "synthetic", "--batch", "16", "--width", "12", "--layers",
            "1", "--depths", "1", "--widths", "12", "--betas", "0.5", "--thetas", "1.0",
            "--inits", "micheli", "--budget", "0.5", "--out", str(tmp_path / "st"),
            "--no-progress"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    plan = json.loads((tmp_path / "st" / "budget.json").read_text())
    assert "plan for 0.5 min" in first and plan["epochs"] >= 1 and len(plan["runs"]) == 1
    assert main(argv) == 0  # the same settings: the kept plan, nothing retrained
    assert "the budget plan of" in capsys.readouterr().out
    other = argv[:-4] + ["0.7", "--out", str(tmp_path / "st"), "--no-progress"]
    main(other)  # another budget: a new plan (and then other settings for the finished run)
    out = capsys.readouterr()
    assert "plan for 0.7 min" in out.out
