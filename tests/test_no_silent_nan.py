"""No silent NaN or inf from the theory, the kernels, compare or the cache (issue 15, item 3).

Each case is a row of a table: the configuration or input that used to give
a NaN/inf with at most a RuntimeWarning, and what it must give now, either
finite values (computed stably at the source) or a one-line ValueError. NaN
stays where it is documented: shape statistics where ``var_u == 0``,
survivors' moments where no survivor can exist, ``_se`` of dynamic-mean-field
layers not converged in paths, fixed-point branches that do not exist.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings

import h5py
import numpy as np
import pytest
import xarray as xr

from snninit import NetworkConfig
from snninit._dataset import load_cached, save_dataset
from snninit.montecarlo import kernels as K
from snninit.montecarlo import run_network, simulate
from snninit.theory import (
    depth_scale,
    dynamic_mean_field,
    finite_size,
    mean_field,
    stability_slope,
    weight_variance,
)
from snninit.theory.finitesize import spike_distribution
from snninit.theory.rules import layer_weight_moments
from snninit.validation import agreement_summary, compare


@pytest.fixture(autouse=True)
def _runtime_warnings_are_errors():
    """A RuntimeWarning (overflow, invalid value) is the symptom itself: fail on it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def _alive_names(ds):
    return [v for v in ds.data_vars if v.endswith("_given_alive")]


def _assert_finite(ds, names=None, where=None):
    for v in names if names is not None else ds.data_vars:
        a = ds[v] if where is None else ds[v].where(where(ds))
        values = np.asarray(a.values, dtype=float)
        mask = np.ones(values.shape, bool) if where is None else np.asarray(where(ds).values)
        assert np.all(np.isfinite(values[mask])), f"{v} not finite: {values}"


# --------------------------------------------------------------------------
# 1. the exact finite-size chain
# --------------------------------------------------------------------------

FINITE_SIZE_CASES = {
    # (width, layers, theta): var_u_sd was inf at layer 1, NaN below (issue 15)
    "theta27-width100": (100, 4, 27.0),
    "theta37-width1000": (1000, 4, 37.0),  # `snninit theory --finite-size --theta 37`
    "theta37-width1": (1, 3, 37.0),
    "theta30-width2": (2, 3, 30.0),
    "theta0-width1": (1, 3, 0.0),
    "theta1-width1000": (1000, 5, 1.0),
}


@pytest.mark.parametrize("case", FINITE_SIZE_CASES)
def test_finite_size_is_finite(case):
    width, layers, theta = FINITE_SIZE_CASES[case]
    cfg = NetworkConfig(width=width, layers=layers, theta=theta)
    ds = finite_size(cfg)
    plain = [v for v in ds.data_vars if v not in _alive_names(ds)]
    _assert_finite(ds, plain)
    # survivors' moments: NaN exactly where the conditioning event has probability 0
    alive_prob = ds["spikes"].values[:, 0] > 0  # P(k > 0) > 0 <=> E[k] > 0
    for v in ("spikes_given_alive", "spikes_sd_given_alive", "rate_given_alive"):
        np.testing.assert_array_equal(np.isnan(ds[v].values[:, 0]), ~alive_prob, err_msg=v)
    below = np.concatenate([[True], alive_prob[:-1]])
    for v in ("var_u_given_alive", "var_u_sd_given_alive", "mean_u_sd_given_alive"):
        np.testing.assert_array_equal(np.isnan(ds[v].values[:, 0]), ~below, err_msg=v)


def test_finite_size_sd_matches_the_mixture_formula():
    """var_u_sd = s2 sqrt(a2 E[k^2] - a1^2 E[k]^2), evaluated on a rescaled distribution."""
    cfg = NetworkConfig(width=100, layers=3, theta=27.0)
    ds = finite_size(cfg)
    dist = spike_distribution(cfg)
    _, s2 = layer_weight_moments(cfg)
    n = cfg.width
    a1, a2 = (n - 1.0) / n, (n * n - 1.0) / (n * n)
    k = np.arange(n + 1.0)
    scale = 1e150  # E[k] ~ 7e-159: moments of dist * scale stay far from underflow
    e1 = (dist[0] * scale * k).sum()
    e2 = (dist[0] * scale * k * k).sum()
    sd = s2[0] * math.sqrt(a2 * e2 - a1 * a1 * e1 * e1 / scale) / math.sqrt(scale)
    assert ds["var_u_sd"].values[1, 0] == pytest.approx(sd, rel=1e-10)
    assert ds["var_u_sd"].values[1, 0] > 1e70  # the rare surviving networks' huge var_u
    np.testing.assert_array_equal(ds["var_u_sd"].values[2:, 0], 0.0)  # certainly extinct


def test_finite_size_ordinary_values_unchanged():
    """Where nothing overflowed, the centred formulas give the raw-moment values."""
    cfg = NetworkConfig(width=200, layers=6, theta=1.0)
    ds = finite_size(cfg)
    dist = spike_distribution(cfg)
    _, s2 = layer_weight_moments(cfg)
    n = cfg.width
    a1, a2 = (n - 1.0) / n, (n * n - 1.0) / (n * n)
    k = np.arange(n + 1.0)
    e1, e2 = dist @ k, dist @ (k * k)
    old = np.sqrt(np.maximum(s2 * s2 * e2[:-1] * a2 - (s2 * e1[:-1] * a1) ** 2, 0.0))
    np.testing.assert_allclose(ds["var_u_sd"].values[1:, 0], old, rtol=1e-9)
    np.testing.assert_allclose(ds["spikes_sd"].values[:, 0], np.sqrt(e2 - e1 * e1), rtol=1e-9)


def test_cli_finite_size_theta37_prints_no_nan(tmp_path):
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONWARNINGS="error")
    proc = subprocess.run(
        [sys.executable, "-m", "snninit", "theory", "--finite-size", "--theta", "37",
         "--layers", "6"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "nan" not in proc.stdout.lower() and "inf" not in proc.stdout.lower(), proc.stdout
    assert "RuntimeWarning" not in proc.stderr, proc.stderr


# --------------------------------------------------------------------------
# 2. the dynamic mean field
# --------------------------------------------------------------------------


DMFT_CASES = {
    # theta=30: var_u ~ 1e197, so u^4 ~ 1e394: kurt was NaN and var_u_se inf (issue 15)
    "theta30-width100": (dict(width=100, layers=5, steps=5, theta=30.0), 4096),
    # var_u 0.25 at t=1 next to 1e299 at t=2: one scale for all steps made u^4 underflow
    "theta37-beta0.5": (dict(width=1000, layers=3, steps=3, theta=37.0, beta=0.5), 256),
    "theta30-beta1-zero": (dict(width=10**6, layers=3, steps=3, theta=30.0, beta=1.0,
                                reset="zero"), 256),
}  # fmt: skip


@pytest.mark.parametrize("case", DMFT_CASES)
def test_dmft_huge_variance_has_finite_shape_statistics(case):
    kwargs, paths = DMFT_CASES[case]
    ds = dynamic_mean_field(NetworkConfig(**kwargs), paths=paths)
    assert float(ds["var_u"].max()) > 1e170
    defined = ds["var_u"].values > 0
    converged = np.asarray(ds["converged"].values)
    for v in ("var_u", "mean_u", "rate", "skew", "kurt"):
        a = ds[v].values
        assert np.isfinite(a[defined]).all(), (v, a)
        np.testing.assert_array_equal(np.isnan(a), ~defined, err_msg=v)
        se = ds[f"{v}_se"].values
        assert not np.isinf(se).any(), (v, se)
        assert np.isfinite(se[converged][defined[converged]]).all(), (v, se)
    assert np.nanmin(ds["kurt"].values) >= -2.0  # excess kurtosis of any law: not garbage


DMFT_CHECK_CASES = {
    # docs/reliability.md: spread_ratio and drift_t were NaN at layer 0 (exact), and in
    # every layer where the rate does not vary between the groups (theta=0: all fire)
    "width1": dict(width=1, layers=3, steps=3),
    "beta1": dict(width=20, layers=3, steps=3, beta=1.0),
    "theta30": dict(width=100, layers=5, steps=5, theta=30.0),
    "theta0": dict(width=20, layers=3, steps=3, theta=0.0),
}


@pytest.mark.parametrize("case", DMFT_CHECK_CASES)
def test_dmft_convergence_statistics_are_finite(case):
    ds = dynamic_mean_field(NetworkConfig(**DMFT_CHECK_CASES[case]), paths=1024)
    defined = ds["check_defined"].values
    assert ds["check_defined"].dtype == bool and not defined[0]  # layer 0 is exact
    for v in ("spread_ratio", "drift_t", "converged", "check_defined"):
        assert np.all(np.isfinite(ds[v].values.astype(float))), (v, ds[v].values)
    # undefined: the sampling law's ratio (read as converged) and no drift
    np.testing.assert_array_equal(ds["spread_ratio"].values[~defined], 8.0)
    np.testing.assert_array_equal(ds["drift_t"].values[0], 0.0)
    assert bool(ds["converged"].all())
    if case == "theta0":  # every layer fires always: nothing to check anywhere
        assert not defined.any()
    else:
        assert defined[1:].all()
    assert "sampling-law value 8" in ds["check_defined"].attrs["long_name"]


def test_dmft_refuses_a_variance_beyond_the_float_range():
    cfg = NetworkConfig(width=1, layers=2, steps=20, theta=37.5, beta=1.0)
    with pytest.raises(ValueError, match=r"exceeds the float range.*theta=37\.5") as info:
        dynamic_mean_field(cfg, paths=256, check_paths=False)
    assert "\n" not in str(info.value)


def test_dmft_scaled_kernel_moments_are_exact():
    """Scaling by a power of two inside the kernel changes no bit of the moments."""
    from snninit import models
    from snninit.theory.dmft_paths import _layer_kernel, _pow2_scale

    rng = np.random.default_rng(1)
    k, m, steps = 2, 64, 4
    z = rng.standard_normal((k, m, steps))
    factor_t = np.ascontiguousarray(np.broadcast_to(np.eye(steps), (k, steps, steps)))
    drive = np.zeros((k, steps))
    out = []
    for inv in (np.ones((k, steps)), np.full((k, steps), 2.0**-150)):
        raw = np.empty((k, 4, steps))
        corr = np.empty((k, steps, steps))
        _layer_kernel(z, factor_t, drive, inv, 0.5, 1.0, 0, False, raw, corr,
                      models.LEAKY, 0.0, 0.0, 0.0)
        out.append((raw, corr))
    for j in range(4):
        np.testing.assert_array_equal(out[1][0][:, j] * 2.0 ** (150 * (j + 1)), out[0][0][:, j])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    assert _pow2_scale(3.0) == 1.0 and _pow2_scale(0.0) == 1.0 and _pow2_scale(np.inf) == 1.0
    assert _pow2_scale(1e98) == 2.0**326


# --------------------------------------------------------------------------
# 3. the Monte Carlo kernels
# --------------------------------------------------------------------------

WEIGHT_SCALE_CASES = {"1e90": 1e90, "1e-90": 1e-90, "1e150": 1e150, "1": 1.0}


@pytest.mark.parametrize("case", WEIGHT_SCALE_CASES)
def test_run_network_shape_statistics_defined_wherever_var_positive(case):
    scale = WEIGHT_SCALE_CASES[case]
    rng = np.random.default_rng(0)
    n = 40
    weights = [rng.standard_normal((n, n)) * scale for _ in range(2)]
    cfg = NetworkConfig(width=n, layers=2, steps=3, theta=0.0 if scale < 1 else 0.5)
    run = run_network(weights, rng.standard_normal((3, n)), cfg)
    var = run["var_u"].values
    assert np.all(np.isfinite(var)) and np.all(np.isfinite(run["mean_u"].values))
    for v in ("skew", "kurt"):
        a = run[v].values
        np.testing.assert_array_equal(np.isnan(a), var == 0, err_msg=v)
    assert (var > 0).sum() > var.size // 2


def test_run_network_refuses_membranes_beyond_the_float_range():
    rng = np.random.default_rng(0)
    n = 20
    weights = [rng.standard_normal((n, n)) * 1e300]
    with pytest.raises(ValueError, match=r"overflow.*weights\[0\].*max\|w\|") as info:
        run_network(weights, rng.standard_normal(n), NetworkConfig(width=n, layers=1, theta=0.1))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("exp", [200, -200, 600])
def test_layer_moments_scale_exactly(exp):
    """skew/kurt of u * 2^e equal those of u bit for bit; var scales by 4^e."""
    rng = np.random.default_rng(2)
    u = rng.standard_normal((3, 50)) * 2.0 + 0.3
    s = np.zeros(u.shape, np.uint8)
    res = []
    for x in (u, u * 2.0**exp):
        outs = [np.empty(3) for _ in range(4)] + [np.empty(3, np.int64)]
        K.layer_moments(np.ascontiguousarray(x), s, *outs)
        res.append(outs)
    if exp != 600:  # at 2^600, var_u itself is beyond the float range (run_network refuses it)
        np.testing.assert_array_equal(res[1][1], res[0][1] * 4.0**exp)
    np.testing.assert_array_equal(res[1][2], res[0][2])
    np.testing.assert_array_equal(res[1][3], res[0][3])


def test_membranes_at_simulates_drive_limit_have_finite_kurtosis():
    """simulate accepts drives up to 1e100 (``_MAX_DRIVE``): u^4 = 1e400 made kurt NaN there."""
    from snninit.montecarlo.engine import _MAX_DRIVE

    rng = np.random.default_rng(3)
    n = 50
    w = [rng.standard_normal((n, n)) * (_MAX_DRIVE / math.sqrt(n)) for _ in range(2)]
    run = run_network(w, rng.standard_normal((2, n)), NetworkConfig(width=n, layers=2, theta=0.5))
    alive = run["var_u"].values > 0
    assert alive[:, 1:].any() and np.isfinite(run["kurt"].values[alive]).all()


# --------------------------------------------------------------------------
# 4. compare refuses inf (and undocumented NaN), naming the variable and a cell
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair():
    cfg = NetworkConfig(width=60, layers=3, theta=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return finite_size(cfg), simulate(cfg, reps=8, seed=0)


def _poke(ds, name, value, layer=1):
    out = ds.copy(deep=True)
    a = out[name].values
    index = [slice(None)] * a.ndim
    index[list(out[name].dims).index("layer")] = layer
    a[tuple(index)] = value
    return out


COMPARE_CASES = {  # fmt: skip
    # (side, variable, value, expected fragment)
    "theory-var_u-inf": ("theory", "var_u", np.inf, "theory variable 'var_u' is infinite at"),
    "theory-var_u-neginf": ("theory", "mean_u", -np.inf, "'mean_u' is infinite at layer=1"),
    "theory-sd-inf": ("theory", "var_u_sd", np.inf, "'var_u_sd' is infinite at layer=1"),
    "theory-sd-nan": ("theory", "var_u_sd", np.nan, "'var_u_sd' is NaN at layer=1"),
    "theory-alive-inf": ("theory", "var_u_given_alive", np.inf, "'var_u_given_alive' is infinite"),
    "theory-p_extinct-nan": ("theory", "p_extinct", np.nan, "'p_extinct' is NaN at layer=1"),
    "sim-var_u-inf": ("simulation", "var_u", np.inf, "simulation variable 'var_u' is infinite"),
    "sim-mean_u-neginf": ("simulation", "mean_u", -np.inf, "simulation variable 'mean_u'"),
}


@pytest.mark.parametrize("case", COMPARE_CASES)
def test_compare_refuses_infinite_values(pair, case):
    side, name, value, fragment = COMPARE_CASES[case]
    theory, sim = pair
    if side == "theory":
        theory = _poke(theory, name, value)
    else:
        sim = _poke(sim, name, value)
    with pytest.raises(ValueError) as info:
        compare(theory, sim)
    assert fragment in str(info.value) and "\n" not in str(info.value), str(info.value)


def test_compare_keeps_documented_nan(pair):
    theory, sim = pair
    # survivors' moments NaN where no survivor can exist, a theory's _se NaN (unconverged)
    theory = _poke(theory, "spikes_given_alive", np.nan, layer=2)
    theory["var_u_se"] = xr.full_like(theory["var_u"], np.nan)
    cmp = compare(theory, sim)
    summary = agreement_summary(cmp)
    assert not summary["var_u"]["cells"] or np.isfinite(summary["var_u"]["max_abs_err"])


def test_agreement_summary_no_longer_reports_zero_error_for_inf(pair):
    """The issue's case: an inf prediction gave max_rel_err 0.0 ("perfect")."""
    theory, sim = pair
    with pytest.raises(ValueError, match="infinite"):
        agreement_summary(compare(_poke(theory, "spikes", np.inf), sim))


# --------------------------------------------------------------------------
# 5. cached cells are checksummed
# --------------------------------------------------------------------------


def _cell():
    return xr.Dataset(
        {
            "var_u": (("layer",), np.array([1.0, 0.5, np.nan])),
            "spikes": (("layer",), np.array([3, 2, 0])),
            "ok": (("layer",), np.array([True, False, True])),
        },
        attrs={"protocol": "tag-1"},
    )


CACHE_CASES = {
    "intact": (None, True),
    "value-overwritten": ("var_u", False),
    "int-overwritten": ("spikes", False),
    "no-checksum": ("strip", False),
}


@pytest.mark.parametrize("case", CACHE_CASES)
def test_load_cached_verifies_the_data_checksum(tmp_path, case):
    damage, reused = CACHE_CASES[case]
    path = tmp_path / "cell.nc"
    ds = _cell()
    if damage == "strip":
        ds.to_netcdf(path, engine="h5netcdf")  # an old cell: written without a checksum
    else:
        save_dataset(ds, path)
        assert "data_sha256" not in ds.attrs  # the caller's dataset is untouched
    if damage in ("var_u", "spikes"):
        with h5py.File(path, "r+") as fh:
            fh[damage][1] = 7  # values overwritten, attrs intact
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = load_cached(path, "tag-1")
    if reused:
        assert got is not None and not [w for w in caught if issubclass(w.category, UserWarning)]
        xr.testing.assert_identical(got, ds)  # the checksum attr is not handed on
    else:
        assert got is None
        msgs = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        assert len(msgs) == 1 and str(path) in msgs[0] and "\n" not in msgs[0], msgs
    assert load_cached(path, "other-tag") is None  # a foreign protocol: silently None


def test_the_cache_and_the_sweep_store_share_one_digest():
    from snninit._dataset import data_digest
    from snninit.montecarlo import gridsweep

    assert gridsweep._digest is data_digest


# --------------------------------------------------------------------------
# 6. the rest of the public theory at extreme but allowed values
# --------------------------------------------------------------------------

THETAS = (0.0, 1e-8, 1.0, 10.0, 30.0, 37.0)
WIDTHS = (1, 2, 1000, 1_000_000)
BETAS = (0.0, 0.5, 1.0)


@pytest.mark.parametrize("init", ["micheli", "kaiming"])
def test_theory_extremes_are_finite(init):
    """mean_field, weight_variance, stability_slope, depth_scale: finite or a ValueError.

    (``depth_scale`` is inf exactly at chi = 1, ``bottleneck_depth`` inf where the
    variance does not collapse and ``fixed_points`` NaN for a branch that does
    not exist: all documented, not tested here.)
    """
    for theta in THETAS:
        for width in WIDTHS:
            for beta in BETAS:
                kw = dict(width=width, beta=beta)
                try:
                    cfg = NetworkConfig(width=width, layers=6, theta=theta, beta=beta, init=init)
                    var = weight_variance(init, width, theta, beta=beta)
                except ValueError:
                    continue
                assert np.isfinite(var)
                assert np.isfinite(stability_slope(theta, init, **kw))
                assert not np.isnan(depth_scale(theta, init, **kw))
                _assert_finite(mean_field(cfg))
                if width <= 1000:
                    ds = finite_size(cfg)
                    _assert_finite(ds, [v for v in ds.data_vars if v not in _alive_names(ds)])


def test_dmft_path_factor_keeps_small_variances():
    """A step of variance 2e165 next to one of 3e200: the factor must not drop it.

    (theta=37 above sampled it with variance 0, so var_u came out 0.25 instead
    of ~2e165, and one scale for all steps then made kurt NaN.)
    """
    from snninit.theory.dmft_paths import _pca_factor

    cov = np.array([[1.0, 0.0, 1.0], [0.0, 2.1e165, 0.0], [1.0, 0.0, 2.8e200]])
    f = _pca_factor(cov)
    np.testing.assert_allclose(np.diag(f @ f.T), np.diag(cov), rtol=1e-12)
    ordinary = np.array([[1.0, 0.3], [0.3, 0.5]])  # the plain eigen path, unchanged
    w, v = np.linalg.eigh(ordinary)
    np.testing.assert_array_equal(_pca_factor(ordinary), v[:, ::-1] * np.sqrt(w[::-1]))
