"""The dynamic mean field's stated ``_se`` is honest (issue 13, section 4).

* Calibration over seeds: the mean squared error of an estimate about a
  reference with 16x the paths (another seed) against the mean stated
  ``se^2`` (+ the reference's own ``se^2``). The stated SE includes the
  estimated O(1/m) bias, so the comparison is with the error about the
  limit, not only the spread over seeds. Under the null both are variance
  estimates, their ratio ~ ``F(nu_1, nu_2)``; the group values of ``kurt``
  (and a little ``var_u``, ``skew``) are heavy-tailed, so each side gets the
  Satterthwaite degrees of freedom of a mean of squares of data of excess
  kurtosis ``kappa``: ``Var(s^2) / sigma^4 = 2 / (n - 1) + kappa / n``, i.e.
  ``nu = 2 / (2 / (n - 1) + kappa / n)`` (``2 n / (2 + kappa)`` about a
  known centre), with ``kappa`` measured from the pooled group values.
  Nothing is tuned: the bounds follow from ``S``, ``K``, ``kappa`` and the
  stated false-failure rate.
* Convergence in paths: the layers whose value depends on ``paths`` are
  flagged at beta 0.5 (Micheli, the temporally unstable regime) and not at
  beta 0.9, their SE is NaN and the values are untouched.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import snninit as si
from snninit.theory import dmft

T = si.theory
K = 8


def _f_bounds(false_failure_rate, checks, nu1, nu2):
    a = false_failure_rate / (2 * checks)
    return float(stats.f.ppf(a, nu1, nu2)), float(stats.f.isf(a, nu1, nu2))


def _satterthwaite(n, kappa):
    """Degrees of freedom of a sample variance of ``n`` values of excess kurtosis ``kappa``."""
    return 2.0 / (2.0 / (n - 1) + max(kappa, 0.0) / n)


def _calibration_checks(cfg, paths, seeds, cells, variables, rate=1e-3):
    runs = [T.dynamic_mean_field(cfg, paths=paths, seed=s) for s in range(seeds)]
    ref = T.dynamic_mean_field(cfg, paths=16 * paths, seed=10**6)
    groups = [
        dmft._group_values(cfg, dmft._path_normals(cfg.steps, paths // K, K, s), K)[0]
        for s in range(seeds)
    ]
    checks = len(cells) * len(variables)
    out = []
    for v in variables:
        for layer, t in cells:
            est = np.array([r[v].sel(layer=layer, time=t).item() for r in runs])
            se = np.array([r[f"{v}_se"].sel(layer=layer, time=t).item() for r in runs])
            target = ref[v].sel(layer=layer, time=t).item()
            se_ref = ref[f"{v}_se"].sel(layer=layer, time=t).item()
            g = np.array([gr[v][:, layer, t] for gr in groups])  # (seed, group)
            # the estimate is the mean of the groups (to rounding of the summation order)
            np.testing.assert_allclose(g.mean(axis=1), est, rtol=1e-13)
            kappa_g = float(stats.kurtosis((g - g.mean(axis=1, keepdims=True)).ravel()))
            # squares about a (nearly) known centre; the mean of K groups has kurtosis kappa_g / K
            nu_err = 2.0 * seeds / (2.0 + max(kappa_g / K, 0.0))
            nu_se = seeds * _satterthwaite(K, kappa_g)
            lo, hi = _f_bounds(rate, checks, nu_err, nu_se)
            ratio = np.mean((est - target) ** 2) / (np.mean(se**2) + se_ref**2)
            out.append((v, layer, t, ratio, lo, hi))
    return out


def test_se_is_calibrated_over_seeds_for_var_u_rate_kurt():
    cfg = si.NetworkConfig(width=1000, layers=3, steps=10, theta=1.0, beta=0.9)
    results = _calibration_checks(
        cfg, paths=2048, seeds=40, cells=[(1, 6), (3, 9)], variables=("var_u", "rate", "kurt")
    )
    for v, layer, t, ratio, lo, hi in results:
        assert lo <= ratio <= hi, (v, layer, t, ratio, lo, hi)


@pytest.mark.validation
def test_se_is_calibrated_over_many_seeds_in_both_regimes():
    # beta 0.5: only layers converged in paths (well before the break-up near 20;
    # with 2048 paths per group its bias reaches ~1 SE by layer 10 and is flagged)
    for beta, layers, cells in (
        (0.9, 10, [(2, 5), (6, 12), (10, 19)]),
        (0.5, 6, [(2, 5), (4, 12), (6, 19)]),
    ):
        cfg = si.NetworkConfig(width=1000, layers=layers, steps=20, theta=1.0, beta=beta)
        results = _calibration_checks(
            cfg, paths=2**14, seeds=150, cells=cells, variables=("var_u", "rate", "skew", "kurt")
        )
        for v, layer, t, ratio, lo, hi in results:
            assert np.isfinite(ratio), (beta, v, layer, t, "cell flagged unconverged")
            assert lo <= ratio <= hi, (beta, v, layer, t, ratio, lo, hi)


def _dmft(beta, layers=40, paths=2**14, seed=0, **kw):
    cfg = si.NetworkConfig(width=1000, layers=layers, steps=20, theta=1.0, beta=beta)
    return T.dynamic_mean_field(cfg, paths=paths, seed=seed, **kw)


def test_unconverged_layers_are_flagged_at_beta_half_and_not_at_beta_09():
    stable = _dmft(0.9)
    assert "unconverged_from_layer" not in stable.attrs
    assert bool(stable["converged"].all())
    assert np.all(np.isfinite(stable["var_u_se"].values))
    assert stable.attrs["convergence"] == "every layer converged in paths"

    unstable = _dmft(0.5)
    first = unstable.attrs["unconverged_from_layer"]
    # the groups of 2048 paths break up like networks of that width (DESIGN 3e: ~20)
    assert 10 <= first <= 30
    conv = unstable["converged"].values
    assert conv[:first].all() and not conv[first:].any()
    for v in ("var_u", "mean_u", "rate", "skew", "kurt", "spikes"):
        se = unstable[f"{v}_se"]
        assert bool(se.sel(layer=slice(first, None), time=slice(1, None)).isnull().all()), v
        assert bool((se.sel(time=0) == 0).all()), v  # t = 0 is exact everywhere
        assert bool(se.sel(layer=slice(1, first - 1), time=slice(1, None)).notnull().all()), v
    corr_se = unstable["corr_se"].sel(layer=first).values
    assert corr_se[0, 0] == 0 and np.isnan(corr_se[1:, :]).all() and np.isnan(corr_se[0, 1:]).all()
    assert "depend on paths" in unstable.attrs["convergence"]
    # the unconverged layers' values are reported, unchanged
    plain = _dmft(0.5, check_paths=False)
    for v in ("var_u", "mean_u", "rate", "skew", "kurt", "corr"):
        np.testing.assert_array_equal(unstable[v].values, plain[v].values)
    # and a width-1000 network is not predicted cell by cell beyond that layer either
    assert T.unstable_layer(unstable) <= first


def test_converged_cells_do_not_drift_with_paths_beyond_their_se():
    # the audit's failure: values that move with `paths` by far more than their SE.
    # Cells that both runs report as converged must agree within the stated errors
    # (Student t, 7 dof, Bonferroni over the cells, 1e-3 false failures).
    small = _dmft(0.5, paths=2**14, seed=3)
    large = _dmft(0.5, paths=2**17, seed=4)
    cells = dict(layer=slice(1, None), time=slice(1, None))
    for v in ("var_u", "rate", "kurt"):
        z = ((small[v] - large[v]) / np.hypot(small[f"{v}_se"], large[f"{v}_se"])).sel(**cells)
        z = z.values[np.isfinite(z.values)]
        assert z.size > 200, v  # layers 1..~20 of 40, 19 steps each
        bound = float(stats.t.isf(1e-3 / (2 * z.size), K - 1))
        assert np.abs(z).max() <= bound, (v, float(np.abs(z).max()), bound)
    # and the cells without a stated error are exactly those of the flagged layers
    assert small.attrs["unconverged_from_layer"] < large.attrs["unconverged_from_layer"]


def test_more_paths_push_the_unconverged_layer_deeper():
    shallow = _dmft(0.5, layers=60, paths=2**11).attrs["unconverged_from_layer"]
    deep = _dmft(0.5, layers=60, paths=2**15).attrs["unconverged_from_layer"]
    assert shallow < deep


def test_check_paths_off_and_exact_cases():
    ds = _dmft(0.5, layers=30, check_paths=False)
    assert "converged" not in ds and "unconverged_from_layer" not in ds.attrs
    assert ds.attrs["convergence"] == "not checked" and ds.attrs["se_dof"] == K - 1
    assert np.all(np.isfinite(ds["rate_se"].values))
    # one time step: everything exact, nothing to check
    one = T.dynamic_mean_field(si.NetworkConfig(layers=5, steps=1), paths=64)
    assert "converged" not in one and one.attrs["convergence"] == "not checked"
    with pytest.raises(ValueError, match="check_paths"):
        T.dynamic_mean_field(si.NetworkConfig(layers=2, steps=3), paths=64, check_paths="yes")
    # tiny groups still work (the check uses one path per group)
    tiny = T.dynamic_mean_field(si.NetworkConfig(layers=3, steps=4, beta=0.9), paths=64)
    assert tiny["converged"].dtype == bool and tiny["spread_ratio"].dims == ("layer",)


@pytest.mark.validation
def test_flags_over_seeds():
    # no stable run flagged, every unstable run flagged by layer 30
    for seed in range(20):
        assert "unconverged_from_layer" not in _dmft(0.9, seed=seed).attrs, seed
        assert _dmft(0.5, seed=seed).attrs["unconverged_from_layer"] <= 30, seed
