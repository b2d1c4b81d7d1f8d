"""Issue 15 item 5: size and time checks before huge allocations or long runs.

The machine's free memory is fixed at 22 GiB here (``available_memory`` is
patched), so the outcome does not depend on where the tests run.
"""

from __future__ import annotations

import time
import tracemalloc
import warnings

import numpy as np
import pytest

import snninit as si
from snninit import _resources as R
from snninit.montecarlo import engine, simulate

GiB = 2**30
FREE = 22 * GiB


@pytest.fixture
def free_22gib(monkeypatch):
    monkeypatch.setattr(R, "available_memory", lambda: FREE)


@pytest.fixture
def no_run(monkeypatch):
    """Fail instead of starting the simulation: a missed check must not run for hours."""

    def refuse(*args, **kwargs):
        raise AssertionError("the run started: the resource check did not stop it")

    monkeypatch.setattr(engine, "simulate_range", refuse)


def _fast(fn):
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"took {elapsed:.2f} s"


# --- the three cases of the issue ------------------------------------------


@pytest.mark.parametrize(
    ("steps", "needs"),
    [(2000, r"~5\d\.\d GiB"), (10_000, r"~1\.\d+ TiB")],
)
def test_dynamic_mean_field_of_many_steps_is_refused(free_22gib, steps, needs):
    cfg = si.NetworkConfig(steps=steps)  # `snninit theory --steps N --paths 16`

    def call():
        with pytest.raises(ValueError) as info:
            R.check_resources("dynamic_mean_field", cfg, paths=16)
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith("dynamic_mean_field needs ~")
        assert "8 x 101 x" in message and "but 22 GiB are free" in message
        assert message.endswith("use fewer steps or layers (memory grows as layers x steps^2)")
        import re

        assert re.search(needs, message), message

    _fast(call)


def test_dynamic_mean_field_calls_the_check():
    from snninit.theory import dmft

    # sized against this machine: 1.4 TiB fits nowhere
    with pytest.raises(ValueError, match="dynamic_mean_field needs ~"):
        dmft.dynamic_mean_field(si.NetworkConfig(steps=10_000), paths=16)


def test_simulate_too_large_for_memory_is_refused(free_22gib, no_run):
    cfg = si.NetworkConfig(width=10, layers=100_000, steps=100)

    def call():
        with pytest.raises(ValueError) as info:
            simulate(cfg, reps=1000)
        assert str(info.value) == (
            "simulate needs ~447 GiB (6 result arrays of reps x (layers+1) x steps = "
            "1000 x 100001 x 100 = 1e+10 cells, 8 bytes each) but 22 GiB are free: "
            "use fewer reps/layers/steps, or sweep with --chunk-reps"
        )

    _fast(call)


def test_long_dense_simulation_is_refused_with_estimate_and_knob(free_22gib, no_run):
    """~9 h (20 reps) or ~1 h (1 rep) of the dense sampler at width 10**6: refused, not run."""
    cfg = si.NetworkConfig(width=10**6, layers=2)
    for reps in (20, 1):

        def call(reps=reps):
            with pytest.raises(ValueError) as info:
                simulate(cfg, reps=reps, method="dense")
            message = str(info.value)
            assert "\n" not in message
            assert message.startswith("simulate would take ~")
            assert " h " in message or " min " in message
            assert "over the 30 min limit" in message
            assert "dense sampler" in message and "use method='gram'" in message
            assert "set SNNINIT_MAX_SECONDS=" in message

        _fast(call)


def test_the_time_limit_can_be_raised(free_22gib, no_run, monkeypatch):
    cfg = si.NetworkConfig(width=10**6, layers=2)
    monkeypatch.setenv("SNNINIT_MAX_SECONDS", "inf")
    with pytest.warns(R.LongRunWarning, match="simulate may take ~"):
        with pytest.raises(AssertionError, match="the run started"):
            simulate(cfg, reps=1)
    monkeypatch.setenv("SNNINIT_MAX_SECONDS", "soon")
    with pytest.raises(ValueError, match=r"^SNNINIT_MAX_SECONDS must be a number of seconds"):
        simulate(cfg, reps=1)
    monkeypatch.delenv("SNNINIT_MAX_SECONDS")
    with pytest.warns(R.LongRunWarning):
        assert R.check_resources("simulate", cfg, reps=1, limit=1e6).seconds > R.MAX_RUN_SECONDS


def test_long_dense_simulation_warns_with_estimate_and_knob(free_22gib, no_run):
    cfg = si.NetworkConfig(width=500_000, layers=2)  # ~14 min: long, within the limit

    def call():
        with warnings.catch_warnings():
            warnings.simplefilter("error", R.LongRunWarning)
            with pytest.raises(R.LongRunWarning) as info:
                simulate(cfg, reps=1, method="dense")
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith("simulate may take ~")
        assert " min " in message
        assert "dense sampler" in message and "use method='gram'" in message

    _fast(call)


def test_the_warning_points_at_the_callers_line(free_22gib, no_run):
    cfg = si.NetworkConfig(width=500_000, layers=2)
    with pytest.warns(R.LongRunWarning) as record:
        with pytest.raises(AssertionError, match="the run started"):
            simulate(cfg, reps=1)
    assert record[0].filename == __file__


def test_uniform_weights_are_not_told_to_use_gram(free_22gib):
    cfg = si.NetworkConfig(width=10**6, layers=2, weights="uniform")
    with pytest.raises(ValueError) as info:
        R.check_resources("simulate", cfg, reps=20, method="dense")
    assert "gram" not in str(info.value)
    with pytest.warns(R.LongRunWarning) as record:
        R.check_resources("simulate", cfg.replace(width=500_000), reps=1, method="dense")
    assert "gram" not in str(record[0].message)


def test_finite_size_estimate_bounds_the_measured_cost():
    """The kind other modules call before finite_size: generous, and refuses the huge case."""
    from snninit.theory import finite_size

    cfg = si.NetworkConfig(width=20_000, layers=4, theta=3.0)  # the slowest theta measured
    finite_size(cfg.replace(width=10, layers=1))  # compile first
    start = time.perf_counter()
    finite_size(cfg)
    elapsed = time.perf_counter() - start
    est = R.estimate("finite_size", cfg)
    assert elapsed / 20 <= est.seconds <= 20 * elapsed + 1.0
    huge = si.NetworkConfig(width=10**6, layers=10**5)
    with pytest.raises(ValueError, match=r"^finite_size would take ~.* days .*layers x width\^1.5"):
        R.check_resources("finite_size", huge)
    big = R.estimate("finite_size", huge.replace(layers=10), distribution=True).bytes
    assert big > 2 * 11 * (10**6 + 1) * 8
    with pytest.raises(ValueError, match="distribution must be True or False"):
        R.estimate("finite_size", huge, distribution="yes")


# --- many runs: a sweep, a rule comparison ----------------------------------------------


def test_check_runs_refuses_the_slowest_run_and_the_total(free_22gib):
    small = si.NetworkConfig(width=1000, layers=100)
    slow = si.NetworkConfig(width=10**6, layers=2)
    with pytest.raises(
        ValueError, match=r"^point b: simulate would take ~.*, or smaller chunks; or set"
    ):
        R.check_runs(
            "simulate",
            [("point a", small, 1), ("point b", slow, 1)],
            reps=20,
            run_knob="smaller chunks",
        )
    one = R.estimate("simulate", small, reps=20).seconds
    runs = [("", small, 10)]
    with pytest.raises(ValueError, match=r"^the job \(simulate\) would take .*MAX_TOTAL_SECONDS"):
        R.check_runs("simulate", runs, reps=20, total_limit=5 * one)
    with pytest.raises(ValueError, match=r"cannot resume.*SNNINIT_MAX_SECONDS="):
        R.check_runs("simulate", runs, reps=20, resumable=False, limit=5 * one)
    with pytest.warns(R.LongRunWarning, match="^the job may take"):
        est = R.check_runs("simulate", runs, reps=20, parallel=2, long_run=one)
    assert est.seconds == pytest.approx(5 * one)
    assert R.check_runs("simulate", [], reps=20) == (0.0, 0.0)


def test_check_memory():
    R.check_memory("x", 10, "ten bytes", "use fewer", available=100)
    with pytest.raises(
        ValueError, match=r"^x needs ~1 KiB \(a kibibyte\) but 100 B are free: less$"
    ):
        R.check_memory("x", 1024, "a kibibyte", "less", available=100)


# --- normal sizes pass silently ---------------------------------------------


@pytest.mark.parametrize(
    ("kind", "cfg", "options"),
    [
        ("simulate", si.NetworkConfig(), {}),
        ("simulate", si.NetworkConfig(width=1000, layers=100, steps=20), dict(reps=10)),
        ("simulate", si.NetworkConfig(width=100, layers=100), dict(reps=1000)),
        ("simulate", si.NetworkConfig(width=10**6, layers=2), dict(method="gram")),
        ("dynamic_mean_field", si.NetworkConfig(steps=20, layers=40), dict(paths=2**14)),
        ("dynamic_mean_field", si.NetworkConfig(steps=20), dict(paths=20_000)),
        ("dynamic_mean_field", si.NetworkConfig(steps=100, layers=100), {}),
    ],
)
def test_normal_sizes_pass_silently(free_22gib, kind, cfg, options):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = R.check_resources(kind, cfg, **options)
    assert est.bytes < 4 * GiB and est.seconds < R.LONG_RUN_SECONDS


def test_small_simulation_runs_silently(free_22gib):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = simulate(si.NetworkConfig(width=30, layers=3, steps=2), reps=2)
    assert ds.sizes["rep"] == 2


# --- the estimates follow what the code allocates -----------------------------


def test_simulate_estimate_covers_the_result_arrays():
    cfg = si.NetworkConfig(width=10, layers=3000, steps=5)
    est = R.estimate("simulate", cfg, reps=4)
    simulate(cfg.replace(layers=2), reps=1)  # compile first: numba's compiler allocates too
    tracemalloc.start()
    try:
        ds = simulate(cfg, reps=4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    data = sum(ds[v].nbytes for v in ds.data_vars)
    assert data <= est.bytes <= 2 * data + 2**20
    assert peak <= est.bytes * 1.2


def test_dynamic_mean_field_estimate_is_generous_but_not_wild():
    from snninit.theory import dmft

    cfg = si.NetworkConfig(steps=60, layers=4)
    est = R.estimate("dynamic_mean_field", cfg, paths=2048)
    dmft.dynamic_mean_field(cfg.replace(steps=3, layers=1), paths=32)  # compile first
    tracemalloc.start()
    try:
        start = time.perf_counter()
        dmft.dynamic_mean_field(cfg, paths=2048)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak / 2 <= est.bytes <= 4 * peak
    assert elapsed / 20 <= est.seconds <= 20 * elapsed + 1.0


def test_estimate_scales_with_the_shapes():
    cfg = si.NetworkConfig(steps=100, layers=100)
    small = R.estimate("dynamic_mean_field", cfg, paths=1024).bytes
    steps2 = R.estimate("dynamic_mean_field", cfg.replace(steps=200), paths=1024).bytes
    assert 3.5 < steps2 / small < 4.5  # the correlations are steps^2
    sim = si.NetworkConfig(width=10, layers=1000, steps=10)
    one = R.estimate("simulate", sim, reps=100, threads=1)
    two = R.estimate("simulate", sim, reps=200, threads=1)
    assert two.bytes == pytest.approx(2 * one.bytes, rel=0.01)
    assert two.seconds == pytest.approx(2 * one.seconds, rel=0.01)
    assert R.estimate("simulate", sim, reps=200, threads=2).seconds == pytest.approx(
        one.seconds, rel=0.01
    )


# --- free memory and bad arguments ---------------------------------------------


def test_available_memory_reads_meminfo_or_falls_back(monkeypatch):
    free = R.available_memory()
    assert free is None or free > 0
    monkeypatch.setattr(R, "_meminfo_available", lambda: None)
    monkeypatch.setattr(R, "_cgroup_available", lambda: None)
    monkeypatch.setattr(R, "_sysconf_available", lambda: 123)
    assert R.available_memory() == 123
    monkeypatch.setattr(R, "_cgroup_available", lambda: 100)
    assert R.available_memory() == 100
    monkeypatch.setattr(R, "_cgroup_available", lambda: None)
    monkeypatch.setattr(R, "_sysconf_available", lambda: None)
    assert R.available_memory() is None


def test_unknown_free_memory_skips_only_the_memory_check(monkeypatch):
    monkeypatch.setattr(R, "available_memory", lambda: None)
    cfg = si.NetworkConfig(width=10, layers=100_000, steps=100)
    # (the time estimate scales with the thread count: the threshold is set below
    # it for any count, so the warning shows that the time check still ran)
    with pytest.warns(R.LongRunWarning):
        est = R.check_resources("simulate", cfg, reps=1000, long_run=1.0)
    assert est.bytes > 400 * GiB


def test_explicit_free_memory_and_threshold():
    cfg = si.NetworkConfig(width=100, layers=10)
    est = R.estimate("simulate", cfg, reps=10)
    with pytest.raises(ValueError, match="are free: use fewer reps"):
        R.check_resources("simulate", cfg, reps=10, available=int(est.bytes))
    with pytest.warns(R.LongRunWarning, match="simulate may take"):
        R.check_resources("simulate", cfg, reps=10, available=10 * GiB, long_run=0.0)


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: R.estimate("train", si.NetworkConfig()), "kind must be one of"),
        (lambda: R.estimate("simulate", {"width": 3}), "cfg must be a snninit.NetworkConfig"),
        (lambda: R.estimate("simulate", si.NetworkConfig(), reps=0), "reps must be an integer"),
        (
            lambda: R.estimate("dynamic_mean_field", si.NetworkConfig(), paths=8),
            "paths must be an integer in [16,",
        ),
        (
            lambda: R.estimate("dynamic_mean_field", si.NetworkConfig(), replicates=100, paths=100),
            "paths must be an integer in [200,",
        ),
    ],
)
def test_bad_estimate_arguments(call, fragment):
    with pytest.raises(ValueError) as info:
        call()
    assert fragment in str(info.value)


def test_formatting():
    assert R.format_bytes(512) == "512 B"
    assert R.format_bytes(1.5 * GiB) == "1.5 GiB"
    assert R.format_seconds(30) == "30 s"
    assert R.format_seconds(600) == "10 min"
    assert R.format_seconds(5 * 3600) == "5 h"
    assert R.format_seconds(10 * 86400) == "10 days"
    assert np.isfinite(R.estimate("simulate", si.NetworkConfig()).seconds)
