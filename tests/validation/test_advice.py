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
