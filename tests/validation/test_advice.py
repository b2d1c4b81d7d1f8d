"""``snninit advise`` / ``si.advise``: the recommendation follows its stated criteria."""

from __future__ import annotations

import math

import numpy as np
import pytest

import snninit as si
from snninit.cli import main

SMALL = dict(width=200, layers=4, steps=3, beta=0.5)


@pytest.fixture(scope="module")
def advice():
    return si.advise(si.NetworkConfig(**SMALL), rules=("micheli", "kaiming"),
                     thetas=(0.5, 1.0, 2.0), check=True)


def test_the_recommendation_follows_the_criteria(advice):
    t = advice.table
    assert dict(t.sizes) == {"rule": 2, "theta": 3}
    for rule in t["rule"].values:
        for theta in t["theta"].values:
            c = t.sel(rule=rule, theta=theta)
            rate_ok = float(c.target_rate) / 2 <= float(c.last_rate) <= 2 * float(c.target_rate)
            assert bool(c.viable) == (rate_ok and not float(c.breakup) <= SMALL["layers"])
    cfg = advice.cfg
    assert bool(t["viable"].sel(rule=cfg.init, theta=cfg.theta))
    gains = np.where(t["viable"].values, np.abs(np.log(t["backward_gain"].values)), np.inf)
    best = float(np.abs(np.log(t["backward_gain"].sel(rule=cfg.init, theta=cfg.theta))))
    assert best == pytest.approx(float(gains.min()))
    lo, hi = advice.theta_range
    assert lo <= cfg.theta <= hi
    text = advice.summary()
    row = t.sel(rule=cfg.init, theta=cfg.theta)
    assert f"recommended: init={cfg.init!r}" in text
    assert f"{float(row.last_rate):.4f}" in text
    # the check: 10 simulated networks against the prediction (false-failure rate 1e-3)
    assert advice.check["verdict"] == "agrees" and "simulated networks" in text


def test_a_hopeless_network_gets_no_recommendation():
    out = si.advise(si.NetworkConfig(width=20, layers=30, steps=1), rules=("kaiming",),
                    thetas=(1.5, 2.0))
    assert out.cfg is None and out.theta_range is None
    assert "no rule and threshold" in out.summary()
    assert not out.table["viable"].values.any()


def test_bad_input_is_refused():
    cfg = si.NetworkConfig(**SMALL)
    with pytest.raises(ValueError, match="data-driven"):
        si.advise(cfg, rules=("fluctuation",))
    with pytest.raises(ValueError, match="target_rate"):
        si.advise(cfg, target_rate=1.5)
    with pytest.raises(ValueError, match="at least one"):
        si.advise(cfg, thetas=())


def test_the_command_line(tmp_path, capsys):
    png = tmp_path / "advice.png"
    rc = main(["advise", "--width", "150", "--layers", "3", "--steps", "2", "--rules",
               "micheli,kaiming", "--thetas", "0.5,1", "--figure", str(png)])
    out = capsys.readouterr().out
    assert rc == 0 and "recommended:" in out and png.stat().st_size > 10_000
    assert main(["advise", "--theta", "1"]) != 0
    err = capsys.readouterr().err
    assert "advise chooses theta and init" in err and len(err.strip().splitlines()) == 1


def test_gain_far_from_one_adds_the_balanced_surrogate():
    out = si.advise(si.NetworkConfig(width=200, layers=4, steps=10, beta=0.9),
                    rules=("micheli",), thetas=(1.0,))
    assert out.balanced_alpha is not None and math.isfinite(out.balanced_alpha)
    assert "--alpha balanced" in out.summary()


def test_a_silent_network_is_never_recommended():
    """Rate and target both 0 (an input scaled to nothing) is not 'within a factor 2'."""
    out = si.advise(si.NetworkConfig(width=100, layers=3, steps=2, beta=0.999,
                                     input_scale="1-beta"), rules=("micheli",), thetas=(0.25,))
    assert out.cfg is None and not out.table["viable"].values.any()


def test_bad_grids_and_unfit_networks_are_refused_up_front(tmp_path, capsys):
    cfg = si.NetworkConfig(**SMALL)
    with pytest.raises(ValueError, match="must not repeat"):
        si.advise(cfg, thetas=(0.5, 0.5))
    with pytest.raises(ValueError, match="list or tuple"):
        si.advise(cfg, rules="micheli")
    with pytest.raises(ValueError, match="supports neuron in"):
        si.advise(cfg.replace(neuron="synaptic", alpha=0.5), rules=("diffusion",))
    with pytest.raises(ValueError, match="paths"):
        si.advise(cfg, paths=0)
    with pytest.raises(ValueError, match="advise would take"):
        si.advise(cfg.replace(steps=1000, layers=3))
    assert main(["advise", "--width", "100", "--layers", "3", "--steps", "2", "--thetas", "1",
                 "--figure", str(tmp_path / "f.png")]) != 0
    assert "at least two --thetas" in capsys.readouterr().err
    assert main(["advise", "--for-model", str(tmp_path / "m.pt"), "--width", "50"]) != 0
    err = capsys.readouterr().err
    assert "no such file" in err or "do not also give --width" in err


def _image_like(samples=12, pixels=120, seed=0):
    """Standardised image-like rows: a third of the pixels at one background value."""
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 1.0, size=(samples, pixels))
    x[:, : pixels // 3] = 0.0
    return (x - x.mean()) / x.std()


def test_advice_on_a_sample_of_inputs_uses_the_data_driven_theory():
    x = _image_like()
    cfg = si.NetworkConfig(width=150, layers=3, steps=3, beta=0.5)
    out = si.advise(cfg, rules=("micheli",), thetas=(0.5, 1.0), inputs=x, samples=8,
                    check=True)
    t = out.table
    assert t.attrs["samples"] == 8 and t.attrs["input_size"] == 120
    for theta in (0.5, 1.0):
        c = cfg.replace(init="micheli", theta=theta)
        th = si.theory.dynamic_mean_field(c, paths=4096, inputs=x[:8], average=True)
        rate = th["rate"].mean("time")
        cell = t.sel(rule="micheli", theta=theta)
        assert float(cell.last_rate) == float(rate.isel(layer=-1))
        assert float(cell.target_rate) == float(rate.sel(layer=0))
        p = si.theory.first_volley_extinction(c.replace(steps=1), x[:8])
        assert float(cell.p_extinct) == pytest.approx(float(p.isel(layer=-1).mean()))
    assert "on your data" in out.summary()
    assert out.check is not None and "on the 8 samples" in out.check["text"]
    assert out.check["verdict"] == "agrees"


def test_spike_trains_into_the_first_weight_layer(tmp_path, capsys):
    """--sequence (time, batch, features), --no-encoding-layer: target layer 1's rate."""
    rng = np.random.default_rng(2)
    trains = (rng.random((4, 6, 90)) < 0.3).astype(np.float32)  # (time, batch, features)
    path = tmp_path / "trains.npy"
    np.save(path, trains)
    rc = main(["advise", "--width", "120", "--layers", "2", "--beta", "0.8", "--rules",
               "kaiming", "--thetas", "0.5,1", "--sample", str(path), "--sequence",
               "--no-encoding-layer"])
    out = capsys.readouterr().out
    assert rc == 0 and "on your data" in out
    rows = np.moveaxis(trains, 0, 1).astype(float)
    cfg = si.NetworkConfig(width=120, layers=2, steps=4, beta=0.8, init="kaiming", theta=0.5)
    th = si.theory.dynamic_mean_field(cfg, paths=4096, inputs=rows, encode=False, average=True)
    target = float(th["rate"].sel(layer=1).mean("time"))  # the first layer of neurons
    assert f"kaiming     0.50     {float(th['rate'].sel(layer=2).mean('time')):.4f}   " \
        f"{target:.4f}" in out
    assert main(["advise", "--sequence"]) != 0
    assert "need --sample" in capsys.readouterr().err
    np.save(tmp_path / "flat.npy", np.zeros(5))
    assert main(["advise", "--sample", str(tmp_path / "flat.npy")]) != 0
    assert "(batch, *features)" in capsys.readouterr().err
    with pytest.raises(ValueError, match="samples"):
        si.advise(si.NetworkConfig(width=50, layers=2, steps=2), inputs=np.ones((3, 10)),
                  samples=0)
