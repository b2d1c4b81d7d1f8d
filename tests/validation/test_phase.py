"""The (theta, beta) phase diagram: predicted maps, simulated points, cache, figure."""

from __future__ import annotations

import numpy as np
from scipy import stats

import snninit as si
from snninit.validation.phase import PHASE_VARIABLES, phase_diagram, plot_phase

ALPHA = 1e-3
REPS = 8


def test_simulated_points_agree_with_the_maps_and_the_cache_resumes(tmp_path):
    base = si.NetworkConfig(width=400, layers=5, steps=4)
    kw = dict(rules=("micheli", "kaiming"), thetas=(0.5, 1.0), betas=(0.5, 0.9),
              simulated=((0.5, 0.5), (1.0, 0.9)), paths=4096, reps=REPS, seed=3)
    assert phase_diagram(base, **kw, cache_dir=tmp_path, cached_only=True) is None
    ds = phase_diagram(base, **kw, cache_dir=tmp_path)
    assert dict(ds.sizes) == {"init": 2, "beta": 2, "theta": 2}
    z = []
    for v in PHASE_VARIABLES:
        sim, pred = ds[f"sim_{v}"].values, ds[v].values
        se = np.hypot(ds[f"sim_{v}_se"].values, ds[f"{v}_se"].values)
        ok = np.isfinite(sim) & np.isfinite(pred) & (se > 0)
        z.append(np.abs(sim - pred)[ok] / se[ok])
    z = np.concatenate(z)
    assert z.size >= 6  # the measured points with a defined ratio
    # t with REPS - 1 degrees of freedom (the simulated SE is a sample SE), Bonferroni
    assert z.max() < stats.t.isf(ALPHA / (2 * z.size), REPS - 1)
    again = phase_diagram(base, **kw, cache_dir=tmp_path, cached_only=True)
    for v in ds.data_vars:
        np.testing.assert_array_equal(again[v].values, ds[v].values)
    fig = plot_phase(ds)
    assert len(fig.axes) >= 4


def test_a_collapsing_rule_conserves_no_variance():
    """Kaiming at theta 1 loses the variance (ratio << 1/2), Micheli keeps it within [1/2, 2]."""
    base = si.NetworkConfig(width=400, layers=8, steps=4, beta=0.9)
    ds = phase_diagram(base, ("micheli", "kaiming"), (1.0,), (0.9,), paths=2048)
    ratio = ds["var_ratio"].squeeze(["beta", "theta"])
    assert 0.5 <= float(ratio.sel(init="micheli")) <= 2.0
    assert float(ratio.sel(init="kaiming")) < 0.1
