"""Presets and the ``snninit simulate`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import snninit as si
from snninit._dataset import load_dataset, save_dataset
from snninit.cli import main
from snninit.grid import point_seed
from snninit.montecarlo.presets import PRESETS, preset_configs


def test_presets_are_the_paper_protocols():
    fig2, fig3, fig4 = PRESETS["fig2"], PRESETS["fig3"], PRESETS["fig4"]
    assert (fig2.base.width, fig2.base.layers, fig2.base.steps, fig2.reps) == (1000, 100, 1, 20)
    assert dict(fig2.sweep) == {
        "init": ("micheli", "kaiming"),
        "theta": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    }
    # Fig. 3 is the paper's figure (theta > 0.85 and theta = 1), as `snninit reproduce` runs it
    assert fig3.over == {"n": (100, 600), "theta": (0.8, 0.85, 0.9, 1.0)}
    assert fig3.reps == 20 and fig3.base.init == "micheli"
    b = fig4.base
    assert (b.width, b.layers, b.steps, b.theta, b.reset, fig4.reps) == (
        1000,
        100,
        20,
        1.0,
        "subtract",
        10,
    )
    assert dict(fig4.sweep) == {"beta": (0.5, 0.9), "init": ("micheli", "kaiming")}
    cells = preset_configs("fig3")
    assert len(cells) == 8
    coords, cfg = cells[6]
    assert coords == {"n": 600, "theta": 0.9}
    assert cfg.width == coords["n"] and cfg.theta == coords["theta"]


def test_presets_and_reproduce_run_one_table():
    from snninit.protocols import PROTOCOLS
    from snninit.validation.protocols import experiments

    full = {e.name: e for e in experiments(quick=False)}
    for name, preset in PRESETS.items():
        assert preset is PROTOCOLS[name]
        exp = full[name]
        assert (exp.base, exp.sweep, exp.reps) == (preset.base, preset.sweep, preset.reps)


def test_run_preset_stacks_cells_with_their_seeds(tmp_path):
    ds = si.montecarlo.run_preset("fig2", method="gram", reps=2, seed=1)
    assert ds["var_u"].dims == ("init", "theta", "rep", "layer", "time")
    assert ds.sizes == {"init": 2, "theta": 6, "rep": 2, "layer": 101, "time": 1}
    assert ds.attrs["preset"] == "fig2" and json.loads(ds.attrs["sweep"])["init"] == [
        "micheli",
        "kaiming",
    ]
    # each cell is exactly simulate() of its config with its recorded seed, the grid's rule
    cell = ds.sel(init="kaiming", theta=0.4)
    assert int(cell["cell_seed"]) == point_seed(1, {"init": "kaiming", "theta": 0.4})
    assert len(set(ds["cell_seed"].values.ravel())) == 12
    cfg = si.NetworkConfig(width=1000, layers=100, steps=1, init="kaiming", theta=0.4)
    one = si.montecarlo.simulate(cfg, reps=2, seed=int(cell["cell_seed"]), method="gram")
    np.testing.assert_array_equal(cell["var_u"].values, one["var_u"].values)
    assert ds["var_u"].attrs["long_name"] == one["var_u"].attrs["long_name"]
    # a netCDF round trip reads back identical
    path = save_dataset(ds, tmp_path / "fig2.nc")
    xr.testing.assert_identical(load_dataset(path), ds)


def test_simulate_command_preset_writes_netcdf(tmp_path, capsys):
    out = tmp_path / "fig3.nc"
    args = ["simulate", "--preset", "fig3", "--method", "gram", "--reps", "2", "--seed", "3"]
    assert main([*args, "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "preset fig3 (gram)" in text and "wrote" in text
    ds = load_dataset(out)
    ref = si.montecarlo.run_preset("fig3", method="gram", reps=2, seed=3)
    xr.testing.assert_identical(ds, ref)


def test_simulate_command_plain_flags(tmp_path, capsys):
    out = tmp_path / "one.nc"
    argv = ["simulate", "--width", "50", "--layers", "3", "--steps", "4", "--beta", "0.9"]
    argv += ["--reps", "3", "--method", "dense", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    ds = load_dataset(out)
    assert ds.sizes == {"rep": 3, "layer": 4, "time": 4}
    cfg = si._dataset.config_from_attrs(ds.attrs)
    assert (cfg.width, cfg.beta, ds.attrs["method"]) == (50, 0.9, "dense")
    ref = si.montecarlo.simulate(cfg, reps=3, seed=0, method="dense")
    np.testing.assert_array_equal(ds["var_u"].values, ref["var_u"].values)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--weights", "uniform", "--method", "gram"], "Gaussian weights only"),
        (["--reps", "0"], "reps must be"),
    ],
)
def test_simulate_command_bad_input_is_one_line(extra, message, capsys):
    assert main(["simulate", "--width", "10", "--layers", "2", *extra, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_run_preset_resumes_from_cached_cells(tmp_path, monkeypatch):
    import snninit.montecarlo.presets as presets

    first = si.montecarlo.run_preset("fig3", method="gram", reps=1, seed=2, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("fig3-*.nc"))) == 8
    # a damaged cell is recomputed; the others are reused without simulating
    (tmp_path / "fig3-n=100_theta=1.0.nc").write_bytes(b"not netcdf")
    calls = []
    real = presets.simulate

    def counting(cfg, **kw):
        calls.append(cfg)
        return real(cfg, **kw)

    monkeypatch.setattr(presets, "simulate", counting)
    again = si.montecarlo.run_preset("fig3", method="gram", reps=1, seed=2, cache_dir=tmp_path)
    assert len(calls) == 1
    assert (calls[0].width, calls[0].theta) == (100, 1.0)
    xr.testing.assert_identical(first, again)
    # another protocol (seed) does not reuse the cells
    calls.clear()
    si.montecarlo.run_preset("fig3", method="gram", reps=1, seed=3, cache_dir=tmp_path)
    assert len(calls) == 8
