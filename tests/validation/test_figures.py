"""The figures of bimodal populations draw survivors and the extinct separately (DESIGN 3d)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import snninit as si
from snninit.validation import figures as F


@pytest.fixture(scope="module")
def near_extinction():
    """Width-40 networks at theta 1: by layer 12 a good share of them is silent."""
    thetas = (0.9, 1.0)
    sims, preds = [], []
    for theta in thetas:
        cfg = si.NetworkConfig(width=40, layers=12, steps=1, theta=theta, init="micheli")
        sims.append(si.montecarlo.simulate(cfg, reps=16, seed=5, method="gram"))
        preds.append(si.theory.finite_size(cfg))
    coord = xr.DataArray(list(thetas), dims="theta", name="theta")
    sim = xr.concat(sims, coord, combine_attrs="drop_conflicts").expand_dims(n=[40])
    th = xr.concat(preds, coord, combine_attrs="drop_conflicts").expand_dims(n=[40])
    return sim, th


def _line(fig, gid):
    lines = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_gid() == gid]
    assert len(lines) == 1, gid
    return lines[0]


def test_survivors_panel_uses_survivors_only(near_extinction):
    sim, th = near_extinction
    var = sim["var_u"].sel(n=40, theta=1.0).isel(time=0)
    dead = (var == 0).any("rep")
    assert bool(dead.any()) and not bool((var == 0).all("rep").any())  # bimodal, not all dead
    fig = F.plot_fig3(sim, th)
    y = np.asarray(_line(fig, "survivors-sim n=40 theta=1").get_ydata(), dtype=float)
    expected = [float(v[v > 0].mean()) for v in var.transpose("layer", "rep").values]
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    # where a network died, the survivors' mean is above the mean over all networks
    everyone = var.mean("rep").values
    assert np.all(y[dead.values] > everyone[dead.values])
    chain = np.asarray(_line(fig, "survivors-chain n=40 theta=1").get_ydata(), dtype=float)
    np.testing.assert_allclose(
        chain, th["var_u_given_alive"].sel(n=40, theta=1.0).isel(time=0).values, rtol=1e-12
    )
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_survivors_stat_counts_and_nan_where_none_survives():
    var = np.array([[1.0, 0.0, 0.0], [3.0, 2.0, 0.0], [0.0, 0.0, 0.0]])  # rep x layer
    sim = xr.Dataset({"var_u": (("rep", "layer"), var)})
    mean, sd, count = F.survivors_stat(sim)
    np.testing.assert_allclose(mean.values[:2], [2.0, 2.0])
    assert np.isnan(mean.values[2]) and np.isnan(sd.values[1])  # one survivor: no SD
    np.testing.assert_allclose(sd.values[0], np.std([1.0, 3.0], ddof=1))
    assert count.values.tolist() == [2, 1, 0]


def test_fig2_gives_every_theta_its_own_colour_for_every_line():
    thetas = (0.0, 0.5, 1.0)
    layers = np.arange(4)
    rng = np.random.default_rng(0)
    sim = xr.Dataset(
        {
            "var_u": (
                ("init", "theta", "rep", "layer"),
                1 + 0.01 * rng.standard_normal((1, 3, 5, 4)),
            )
        },
        coords={"init": ["micheli"], "theta": list(thetas), "layer": layers},
    )
    theory = xr.Dataset(
        {"var_u": (("init", "theta", "layer"), np.ones((1, 3, 4)))},
        coords={"init": ["micheli"], "theta": list(thetas), "layer": layers},
    )
    fig = F.plot_fig2(sim, theory, theory)
    colour = {}
    for theta in ("0", "0.5", "1"):
        lines = {
            k: _line(fig, f"{k} init=micheli theta={theta}") for k in ("sim", "chain", "mean-field")
        }
        # simulation, chain and mean field of one threshold share its colour ...
        assert len({ln.get_color() for ln in lines.values()}) == 1
        colour[theta] = lines["sim"].get_color()
        # ... and differ in their line style
        assert lines["sim"].get_linestyle() == "-"
        assert lines["chain"].get_linestyle() != "-" and lines["mean-field"].get_linestyle() != "-"
    assert len(set(colour.values())) == 3  # no exact-chain line is black: colours tell thetas apart
    import matplotlib.pyplot as plt

    plt.close(fig)
