"""compare_rules / snninit compare-rules on tiny grids: shapes, values, files, refusals."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import xarray as xr

import snninit as si
from snninit.cli import main
from snninit.validation.rules_comparison import (
    compare_rules,
    rules_markdown,
    rules_table,
    write_rules_outputs,
)

RULES = ["kaiming", "micheli", "dmft", "fluctuation", "diffusion"]


@pytest.fixture(scope="module")
def tiny():
    return compare_rules(
        RULES, width=60, layers=4, steps=(1, 3), betas=(0.5,), thetas=(1.0,), reps=3,
        seed=1, train=False,
    )


def test_every_rule_runs_on_the_grid(tiny):
    assert set(tiny.data_vars) == {
        "activity", "extinct", "rate_layer", "activity_mean", "rate_layer_mean", "accuracy"
    }
    assert tiny["activity"].dims == ("init", "steps", "beta", "theta")
    assert tiny["rate_layer"].sizes["layer"] == 5
    assert list(tiny["init"].values) == RULES
    assert np.all(np.isfinite(tiny["activity"].values))
    assert np.all((tiny["extinct"] >= 0) & (tiny["extinct"] <= 1))
    assert np.all(np.isnan(tiny["accuracy"].values))  # not trained
    assert json.loads(tiny.attrs["errors"]) == []
    assert tiny.attrs["trained"] == 0 and tiny.attrs["data_driven"] == "self"


def test_cells_are_the_simulations_they_claim(tiny):
    # activity / extinct / rate_layer are the last-step statistics of simulate() with
    # the cell's seed and reps (for the data-driven rule: simulate_data_driven); the seed
    # is the grid point's, the same for every rule (the same networks)
    from snninit.grid import point_seed

    seed = point_seed(1, {"steps": 3, "beta": 0.5, "theta": 1.0})
    assert (tiny["cell_seed"].sel(steps=3, beta=0.5, theta=1.0) == seed).all()
    assert tiny["cell_seed"].sel(steps=1, init="micheli").item() != seed
    cfg = si.NetworkConfig(width=60, layers=4, steps=3, theta=1.0, beta=0.5, init="micheli")
    ds = si.montecarlo.simulate(cfg, reps=3, seed=seed, method="gram")
    last = ds["rate"].isel(time=-1)
    cell = tiny.sel(init="micheli", steps=3, beta=0.5, theta=1.0)
    assert float(cell["activity"]) == pytest.approx(float(last.isel(layer=-1).mean()))
    assert np.allclose(cell["rate_layer"].values, last.mean("rep").values)
    avg = ds["rate"].mean("time")
    assert np.allclose(cell["rate_layer_mean"].values, avg.mean("rep").values)
    assert float(cell["activity_mean"]) == pytest.approx(float(avg.isel(layer=-1).mean()))
    silent = float((ds["spikes"].isel(time=-1, layer=-1) == 0).mean())
    assert float(cell["extinct"]) == pytest.approx(silent)
    fcfg = cfg.replace(init="fluctuation")
    fds = si.montecarlo.simulate_data_driven(fcfg, reps=3, seed=seed)
    fcell = tiny.sel(init="fluctuation", steps=3, beta=0.5, theta=1.0)
    assert float(fcell["activity"]) == pytest.approx(
        float(fds["rate"].isel(time=-1, layer=-1).mean())
    )


def test_one_step_rules_that_coincide_give_identical_cells(tiny):
    # with T = 1, micheli, dmft and diffusion all give Var[w] = 1 / (n Q(theta)):
    # same seed (the grid point's, common to every rule), same networks, same numbers
    one = tiny.sel(steps=1)
    for rule in ("dmft", "diffusion"):
        assert np.array_equal(one["rate_layer"].sel(init=rule), one["rate_layer"].sel(
            init="micheli"))


def test_refused_cells_are_nan_with_the_reason():
    # theta = 40: the encoding layer is silent (Q(40) underflows), so rules that scale
    # with 1 / Q(theta) or with the encoding rate refuse; the grid goes on
    ds = compare_rules(["kaiming", "diffusion"], width=30, layers=2, steps=(1,),
                       betas=(0.5,), thetas=(1.0, 40.0), reps=2, train=False)
    errs = json.loads(ds.attrs["errors"])
    assert any(e["init"] == "diffusion" and e["theta"] == 40.0 for e in errs)
    assert all("error" in e and e["error"] for e in errs)
    assert np.isnan(float(ds["activity"].sel(init="diffusion", theta=40.0, steps=1, beta=0.5)))
    assert np.isfinite(float(ds["activity"].sel(init="diffusion", theta=1.0, steps=1, beta=0.5)))
    # kaiming does not refuse: its networks are simply silent
    assert float(ds["activity"].sel(init="kaiming", theta=40.0, steps=1, beta=0.5)) == 0.0
    md = rules_markdown(ds)
    assert "failed" in md and "Refused cells" in md
    rows = rules_table(ds)
    assert len(rows) == 4
    bad = [r for r in rows if r["init"] == "diffusion" and r["theta"] == 40.0][0]
    assert math.isnan(bad["activity"]) and math.isnan(bad["extinct"])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown rule"):
        compare_rules(["nope"], train=False)
    with pytest.raises(ValueError, match="width"):
        compare_rules(["micheli"], width=0, train=False)
    with pytest.raises(ValueError, match="data_driven"):
        compare_rules(["micheli"], width=10, layers=1, data_driven="both", train=False)
    # a bad grid is the caller's error, not a cell that a rule refuses (no silent NaN table)
    with pytest.raises(ValueError, match="beta must be"):
        compare_rules(["micheli"], width=10, layers=1, betas=[0.5, 1.5], train=False)
    with pytest.raises(ValueError, match="theta must be"):
        compare_rules(["micheli"], width=10, layers=1, thetas=[float("nan")], train=False)
    with pytest.raises(ValueError, match="steps must be"):
        compare_rules(["micheli"], width=10, layers=1, steps=[0], train=False)


def test_training_on_synthetic_data_gives_an_accuracy_per_rule():
    training = {
        "network": dict(width=32, layers=2, steps=2, theta=1.0, beta=0.5),
        "train": dict(epochs=1, batch=64, lr=1e-3, dataset="synthetic", rate_batch=64),
    }
    ds = compare_rules(RULES, width=20, layers=2, steps=(1,), betas=(0.5,), thetas=(1.0,),
                       reps=1, train=True, training=training)
    acc = ds["accuracy"].values
    assert np.all(np.isfinite(acc)) and np.all((acc >= 0) & (acc <= 1))
    assert ds.attrs["trained"] == 1
    assert json.loads(ds.attrs["training"])["train"]["dataset"] == "synthetic"
    assert "MNIST test accuracy" in rules_markdown(ds)


def test_missing_training_data_is_reported_once_per_rule_not_raised(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNINIT_DATA", str(tmp_path / "empty-cache"))
    training = {
        "network": dict(width=32, layers=2, steps=2, theta=1.0, beta=0.5),
        "train": dict(epochs=1, batch=64, lr=1e-3, dataset="mnist", rate_batch=64),
    }
    ds = compare_rules(["micheli", "kaiming"], width=20, layers=2, steps=(1,), betas=(0.5,),
                       thetas=(1.0,), reps=1, train=True, training=training)
    assert np.isnan(ds["accuracy"].values).all()
    assert np.isfinite(ds["activity"].values).all()  # the simulations are kept
    errors = [e for e in json.loads(ds.attrs["errors"]) if e.get("training")]
    assert [e["init"] for e in errors] == ["micheli", "kaiming"]
    assert all("snninit data mnist" in e["error"] for e in errors)  # says how to fix it


def test_write_outputs(tiny, tmp_path):
    paths = write_rules_outputs(tiny, tmp_path / "out")
    assert set(paths) == {"csv", "markdown", "netcdf", "figure"}
    with open(paths["csv"]) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(RULES) * 2
    back = xr.open_dataset(paths["netcdf"], engine="h5netcdf")
    assert np.allclose(back["activity"].values, tiny["activity"].values)
    back.close()
    assert paths["figure"].stat().st_size > 10_000
    assert paths["markdown"].read_text() == rules_markdown(tiny)


def test_cli_writes_its_files(tmp_path, capsys):
    out = tmp_path / "rules"
    rc = main(["compare-rules", "--rules", "micheli,diffusion", "--width", "40", "--layers",
               "3", "--steps", "1,2", "--beta", "0.5", "--theta", "1.0", "--reps", "2",
               "--no-train", "--out", str(out)])
    assert rc == 0
    for name in ("rules.csv", "rules.md", "rules.nc", "rules.png"):
        assert (out / name).exists()
    text = capsys.readouterr().out
    assert "| T | beta | theta | layer 0 | micheli | diffusion |" in text
    assert "wrote" in text
    # a rerun removes what a killed run left (.<name>.<random>.tmp, older than the
    # rerun's start), not a concurrent writer's fresh temporary file
    import os
    import tempfile
    import time

    def leftover(folder, target, age):
        fd, name = tempfile.mkstemp(prefix=f".{target}.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.utime(name, (time.time() - age, time.time() - age))
        return name

    stale = [leftover(out, "rules.png", 3600), leftover(out / "cache", "cell-micheli-x.nc", 3600)]
    fresh = leftover(out, "rules.nc", 0)
    assert main(["compare-rules", "--rules", "micheli,diffusion", "--width", "40", "--layers",
                 "3", "--steps", "1,2", "--beta", "0.5", "--theta", "1.0", "--reps", "2",
                 "--no-train", "--out", str(out)]) == 0
    assert not any(os.path.exists(p) for p in stale) and os.path.exists(fresh)


def test_cli_reports_bad_input(tmp_path, capsys):
    rc = main(["compare-rules", "--rules", "micheli", "--beta", "x", "--no-train",
               "--out", str(tmp_path)])
    assert rc == 2
    assert "comma-separated" in capsys.readouterr().err


def test_a_killed_comparison_resumes_from_its_cells(tmp_path, monkeypatch):
    from snninit.validation import rules_comparison as rc

    grid = dict(width=40, layers=4, steps=(1, 3), betas=(0.5,), thetas=(1.0,), reps=3, seed=5,
                train=False)
    reference = compare_rules(["micheli", "dmft"], **grid)
    calls = []
    real_simulate = si.montecarlo.simulate

    def failing_after_two(cfg, **kw):
        calls.append(cfg)
        if len(calls) > 2:
            raise KeyboardInterrupt  # the kill, half-way through the grid
        return real_simulate(cfg, **kw)

    monkeypatch.setattr(si.montecarlo, "simulate", failing_after_two)
    with pytest.raises(KeyboardInterrupt):
        compare_rules(["micheli", "dmft"], **grid, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("cell-*.nc"))) == 2
    calls.clear()
    monkeypatch.setattr(si.montecarlo, "simulate", lambda cfg, **kw: (calls.append(cfg),
                                                                      real_simulate(cfg, **kw))[1])
    resumed = compare_rules(["micheli", "dmft"], **grid, cache_dir=tmp_path)
    assert len(calls) == 2  # only the two unfinished cells were simulated again
    for var in ("activity", "extinct", "rate_layer", "rate_layer_mean"):
        np.testing.assert_array_equal(resumed[var].values, reference[var].values)
    # the protocol tag names the source hash: changed code never reuses these cells
    cell = xr.open_dataset(next(tmp_path.glob("cell-*.nc")), engine="h5netcdf")
    assert json.loads(cell.attrs["protocol"])["version"] == rc.code_fingerprint()
    cell.close()
