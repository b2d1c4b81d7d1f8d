"""The `snninit theory` command: tables, saving, and one-line errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr

import snninit as si
from snninit import cli
from snninit._dataset import finish_dataset, layer_coord, load_dataset, time_coord
from snninit.theory import PREDICTIONS, commands, dmft


def run(capsys, *argv):
    code = cli.main(["theory", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_plain_theory_command_works_with_defaults(capsys):
    code, out, err = run(capsys)
    assert code == 0 and err == ""
    assert "mean-field map" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["layer"])
    rows = [line.split() for line in lines[header + 1 :] if line.split()[0].isdigit()]
    assert len(rows) == commands.DEFAULT_ROWS
    assert rows[0][0] == "0" and rows[-1][0] == "100"
    # Micheli keeps var_u = 1 in the mean field
    assert all(float(r[1]) == pytest.approx(1.0) for r in rows)
    assert "critical threshold 1.190601" in out


def test_finite_size_table_matches_the_dataset(capsys):
    code, out, _ = run(capsys, "--finite-size", "--width", "100", "--theta", "1", "--rows", "0")
    assert code == 0
    ds = si.theory.finite_size(si.NetworkConfig(width=100, theta=1.0))
    lines = [line.split() for line in out.splitlines()]
    header = next(row for row in lines if row[:1] == ["layer"])
    assert header == ["layer", "var_u", "var_u_sd", "rate", "spikes", "p_extinct"]
    rows = [row for row in lines if row and row[0].isdigit()]
    assert len(rows) == 101
    for row in rows[::17]:
        layer = int(row[0])
        assert float(row[1]) == pytest.approx(ds["var_u"].values[layer, 0], rel=1e-3)
        assert float(row[5]) == pytest.approx(ds["p_extinct"].values[layer, 0], rel=1e-3, abs=1e-4)


def test_out_saves_a_dataset_that_reads_back_identical(capsys, tmp_path):
    path = tmp_path / "sub" / "curve.nc"
    code, out, _ = run(
        capsys, "--finite-size", "--width", "50", "--layers", "7", "--out", str(path)
    )
    assert code == 0 and f"saved {path}" in out
    back = load_dataset(path)
    expected = si.theory.finite_size(si.NetworkConfig(width=50, layers=7))
    xr.testing.assert_identical(back, expected)
    assert si._dataset.config_from_attrs(back.attrs) == si.NetworkConfig(width=50, layers=7)


def test_expansion_and_kaiming(capsys):
    code, out, _ = run(capsys, "--expansion", "--width", "1000", "--layers", "5")
    assert code == 0 and "1/n expansion" in out and "var_u_given_alive" in out
    code, out, _ = run(capsys, "--init", "kaiming", "--theta", "0.8", "--layers", "50")
    assert code == 0
    last = [line.split() for line in out.splitlines() if line.split()[:1] == ["50"]][0]
    assert float(last[1]) < 1e-3  # collapsed: theta above the saddle-node


@pytest.mark.parametrize("layers,rows", [(100, 12), (1000, 8), (5, 12), (3, 2), (2000, 30)])
def test_pick_layers(layers, rows):
    picked = commands.pick_layers(layers, rows)
    assert len(picked) == min(rows, layers + 1)
    assert picked[0] == 0 and picked[-1] == layers
    assert np.all(np.diff(picked) > 0)


def _replace_dmft(monkeypatch, compute):
    """Replace the registered dynamic mean field by ``compute`` (the command uses the registry)."""
    real = PREDICTIONS["dynamic_mean_field"]
    monkeypatch.setitem(PREDICTIONS, real.name, dataclasses.replace(real, compute=compute))


def test_steps_above_one_prints_time_averages(capsys, monkeypatch):
    calls = {}

    def fake_dmft(cfg, paths, seed):
        calls.update(paths=paths, seed=seed)
        shape = (cfg.layers + 1, cfg.steps)
        var = np.arange(np.prod(shape), dtype=float).reshape(shape)
        ds = xr.Dataset(
            {name: (("layer", "time"), var + i) for i, name in enumerate(["var_u", "rate"])},
            coords={"layer": layer_coord(cfg.layers), "time": time_coord(cfg.steps)},
        )
        return finish_dataset(ds, cfg, kind="dmft")

    _replace_dmft(monkeypatch, fake_dmft)
    code, out, _ = run(capsys, "--steps", "4", "--layers", "2", "--paths", "500", "--seed", "3")
    assert code == 0 and calls == {"paths": 500, "seed": 3}
    assert "averaged over the 4 time steps" in out
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["0"], ["2"])]
    assert float(rows[0][1]) == pytest.approx(1.5)  # mean of 0, 1, 2, 3
    assert float(rows[1][2]) == pytest.approx(8 + 1.5 + 1)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--width", "-3"], "width must be an integer in [1,"),
        (["--width", "0"], "width must be an integer in [1,"),
        (["--layers", "0"], "layers must be an integer in [1,"),
        (["--steps", "0"], "steps must be an integer in [1,"),
        (["--theta", "-1"], "theta must be a finite number in [0.0, inf)"),
        (["--theta", "nan"], "theta must be a finite number"),
        (["--theta", "40"], "non-finite weight variance"),
        (["--beta", "1.5"], "beta must be a finite number in [0.0, 1.0]"),
        (["--reset", "hard"], "reset must be one of"),
        (["--init", "xavier"], "init must be one of"),
        (["--input-scale", "2"], "--input-scale must be one of"),
        (["--weights", "cauchy"], "weights must be one of"),
        (["--init-param", "xi"], "--init-param must look like NAME=VALUE"),
        (["--init-param", "xi=1"], "has no parameter(s) ['xi']"),
        (["--rows", "-1"], "--rows must be an integer in [0, inf)"),
        (["--finite-size", "--steps", "3"], "--finite-size is a one-step theory"),
        (["--expansion", "--steps", "3"], "--expansion is a one-step theory"),
        (["--steps", "3", "--paths", "1"], "--paths must be an integer in [16, 1000000000]"),
        (["--paths", "5"], "--paths must be an integer in [16, 1000000000]; got 5"),
        (["--steps", "3", "--seed", "-1"], "--seed must be an integer in [0, inf)"),
        (["--width", "abc"], "invalid int value: 'abc'"),
        (["--theta", "one"], "invalid float value: 'one'"),
        (["--finite-size", "--expansion"], "not allowed with argument"),
        (["--expansion", "--width", "3", "--theta", "3", "--layers", "300"], "breaks down"),
    ],
)
def test_bad_arguments_give_one_line_errors(capsys, monkeypatch, argv, fragment):
    _replace_dmft(monkeypatch, lambda cfg, paths, seed: pytest.fail("must not be reached"))
    try:
        code = cli.main(["theory", *argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1, err
    assert err.startswith("snninit theory: error:")
    assert fragment in err


def test_out_refuses_a_directory(capsys, tmp_path):
    code, _, err = run(capsys, "--layers", "2", "--out", str(tmp_path))
    assert code == 2 and "--out must be a file path, not a directory" in err


def test_steps_above_one_uses_the_dynamic_mean_field(capsys):
    code, out, _ = run(capsys, "--steps", "3", "--layers", "2", "--paths", "400", "--seed", "1")
    assert code == 0
    cfg = si.NetworkConfig(steps=3, layers=2)
    ds = dmft.dynamic_mean_field(cfg, paths=400, seed=1)
    rows = {
        int(r[0]): r for r in (line.split() for line in out.splitlines()) if r and r[0].isdigit()
    }
    assert sorted(rows) == [0, 1, 2]
    for layer, row in rows.items():
        assert float(row[1]) == pytest.approx(float(ds["var_u"].sel(layer=layer).mean()), rel=1e-3)
