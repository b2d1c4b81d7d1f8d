"""Parameter sweeps in-process: seeding, store, resume, refusal, ragged grids, CLI parsing.

Most tests use a stand-in task (a few normals per seed) so that they check
the runner, not the engine; ``test_real_engine_*`` run the real simulator.
Distributed execution and kill -9 are in ``test_sweep_distributed.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import snninit as si
from snninit.montecarlo import gridsweep as gs
from snninit.sweeps import store as sweepstore

pytest.importorskip("zarr")

CALLS: list[int] = []


def fake_task(cfg, seed, reps, method="dense"):
    """Stand-in engine: repetition r depends on (config, seed, r) only."""
    CALLS.append(len(reps))
    parts = []
    for r in reps:
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(r,)))
        parts.append(cfg.theta + cfg.beta * rng.standard_normal((cfg.layers + 1, cfg.steps)))
    var = np.stack(parts)
    spikes = (var > cfg.theta).astype(np.int64) * cfg.width
    dims = ("rep", "layer", "time")
    return xr.Dataset({"var_u": (dims, var), "spikes": (dims, spikes)})


class Boom(RuntimeError):
    pass


def failing_after(k):
    """A task that behaves like fake_task for k calls, then raises (an interrupted run)."""
    count = {"n": 0}

    def task(cfg, seed, reps, method="dense"):
        count["n"] += 1
        if count["n"] > k:
            raise Boom("interrupted")
        return fake_task(cfg, seed, reps, method)

    # same qualified name as fake_task, so that it is the same sweep definition
    task.__qualname__ = fake_task.__qualname__
    task.__module__ = fake_task.__module__
    return task


CFG = si.NetworkConfig(width=50, layers=4, steps=2)
OVER = {"theta": [0.5, 1.0], "init": ["micheli", "kaiming"]}


def run(store=None, **kw):
    args = dict(reps=7, seed=3, task=fake_task, chunk_reps=3)
    args.update(kw)
    over = args.pop("over", OVER)
    return si.montecarlo.sweep(CFG, over, store=store, **args)


def test_result_shape_coords_and_attrs():
    ds = run()
    assert dict(ds.sizes) == {"theta": 2, "init": 2, "rep": 7, "layer": 5, "time": 2}
    assert list(ds["init"].values) == ["micheli", "kaiming"]
    assert ds["var_u"].dtype == np.float64
    assert ds.attrs["kind"] == "simulation" and ds.attrs["seed"] == 3 and ds.attrs["reps"] == 7
    assert ds.attrs["sweep_dims"] == "theta,init"
    assert "theta" not in ds.attrs and "init" not in ds.attrs  # swept: the dims say it
    assert json.loads(ds.attrs["config"])["width"] == 50
    # each point ran its own config
    one = ds["var_u"].sel(theta=1.0, init="kaiming")
    assert float(abs(one - 1.0).max()) < 10 * CFG.beta


def test_seeds_are_per_rep_so_chunking_does_not_matter():
    a = run(chunk_reps=1)
    b = run(chunk_reps=3)
    c = run(chunk_reps=7)
    xr.testing.assert_identical(a, b)
    xr.testing.assert_identical(a, c)
    # and every (point, rep) has its own stream: no two reps share numbers
    flat = a["var_u"].isel(layer=0, time=0).values.ravel()
    assert len(np.unique(flat)) == flat.size


def test_existing_points_unchanged_when_the_grid_grows():
    small = run(over={"theta": [0.5, 1.0]})
    big = run(over={"theta": [0.5, 0.8, 1.0]})
    np.testing.assert_array_equal(small["var_u"].values, big["var_u"].sel(theta=[0.5, 1.0]).values)


def test_seed_changes_numbers():
    a, b = run(seed=3), run(seed=4)
    assert not np.array_equal(a["var_u"].values, b["var_u"].values)


def test_point_seed_is_a_pure_function_of_seed_and_values():
    s1 = gs.point_seed(0, {"theta": 1.0, "init": "micheli"})
    assert s1 == gs.point_seed(0, {"init": "micheli", "theta": 1.0})  # key order irrelevant
    assert s1 != gs.point_seed(0, {"theta": 0.5, "init": "micheli"})
    assert s1 != gs.point_seed(1, {"theta": 1.0, "init": "micheli"})
    assert 0 <= s1 < 2**63


def test_store_equals_in_memory_and_rerun_skips(tmp_path):
    mem = run()
    CALLS.clear()
    first = run(store=tmp_path / "s.zarr")
    assert sum(CALLS) == 4 * 7  # every rep computed once
    xr.testing.assert_identical(mem, first)
    CALLS.clear()
    again = run(store=tmp_path / "s.zarr", chunk_reps=None)
    assert CALLS == []  # nothing recomputed
    xr.testing.assert_identical(mem, again)
    xr.testing.assert_identical(mem, si.montecarlo.open_sweep(tmp_path / "s.zarr"))
    # the store is a plain Zarr store that xarray opens too
    raw = xr.open_zarr(tmp_path / "s.zarr", consolidated=False)
    np.testing.assert_array_equal(raw["var_u"].values, mem["var_u"].values)


def test_interrupted_run_resumes_to_the_same_result(tmp_path):
    mem = run()
    store = tmp_path / "s.zarr"
    with pytest.raises(Boom):
        run(store=store, task=failing_after(5))
    status = si.montecarlo.sweep_status(store)
    assert status["tasks_done"] == 5 and status["tasks_total"] == 12
    assert not status["complete"]
    with pytest.raises(ValueError, match="incomplete: 7 of 12"):
        si.montecarlo.open_sweep(store)
    part = si.montecarlo.open_sweep(store, partial=True)
    # tasks run in order: point 0 complete, point 1 reps 0-5, nothing of points 2-3
    missing = np.isnan(part["var_u"]).all(["layer", "time"])
    assert int(missing.sum()) == 1 + 2 * 7
    assert not bool(missing.isel(theta=0, init=0).any())
    assert bool(missing.isel(theta=0, init=1, rep=6)) and not bool(
        missing.isel(theta=0, init=1, rep=5)
    )
    CALLS.clear()
    resumed = run(store=store)
    assert len(CALLS) == 7  # only the missing tasks
    xr.testing.assert_identical(mem, resumed)


def test_chunk_written_without_marker_is_not_trusted(tmp_path, monkeypatch):
    """Data written, process dies before the marker: the chunk is recomputed."""
    store = tmp_path / "s.zarr"
    real_atomic = sweepstore.atomic_write
    seen = {"n": 0}

    def dying_marker(path, write):
        if Path(path).parent.name != "_snninit_done":  # the group's zarr.json, written atomically
            return real_atomic(path, write)
        seen["n"] += 1
        if seen["n"] == 3:  # the 3rd task's data is in the store, its marker never lands
            raise Boom("killed between data and marker")
        return real_atomic(path, write)

    monkeypatch.setattr(sweepstore, "atomic_write", dying_marker)
    with pytest.raises(Boom):
        run(store=store)
    monkeypatch.setattr(sweepstore, "atomic_write", real_atomic)
    assert si.montecarlo.sweep_status(store)["tasks_done"] == 2
    CALLS.clear()
    resumed = run(store=store)
    assert len(CALLS) == 10
    xr.testing.assert_identical(run(), resumed)


def test_tampered_chunk_is_detected_and_recomputed(tmp_path):
    store = tmp_path / "s.zarr"
    mem = run(store=store)
    import zarr

    arr = zarr.open_array(str(store / "var_u"), mode="r+")
    arr[1, 0, 0, 0, 0] = 123.0  # point (theta=1.0, init=micheli), chunk 0
    with pytest.raises(ValueError, match="damaged: task p2_c0 .* does not match its completion"):
        si.montecarlo.open_sweep(store)
    CALLS.clear()
    with pytest.warns(RuntimeWarning, match="recomputing 1 damaged task: task p2_c0"):
        again = run(store=store)
    assert CALLS == [3]
    xr.testing.assert_identical(mem, again)


def test_marker_of_another_definition_is_ignored(tmp_path):
    store = tmp_path / "s.zarr"
    run(store=store)
    marker = store / "_snninit_done" / "p0_c0.json"
    data = json.loads(marker.read_text())
    data["definition_sha256"] = "0" * 64
    marker.write_text(json.dumps(data))
    assert si.montecarlo.sweep_status(store)["tasks_done"] == 11


@pytest.mark.parametrize(
    "change, where",
    [
        (dict(reps=8), "reps: 7 in the store vs 8 asked"),
        (dict(seed=4), "seed: 3 in the store vs 4 asked"),
        (dict(over={"theta": [0.5, 0.9], "init": ["micheli", "kaiming"]}), "over"),
        (dict(method="gram"), "options.method"),
    ],
)
def test_store_of_another_sweep_is_refused(tmp_path, change, where):
    store = tmp_path / "s.zarr"
    run(store=store)
    before = sorted(p.name for p in (store / "_snninit_done").iterdir())
    with pytest.raises(ValueError, match="holds a different sweep") as err:
        run(store=store, **change)
    assert where in str(err.value)
    assert sorted(p.name for p in (store / "_snninit_done").iterdir()) == before


def test_store_of_another_base_config_is_refused(tmp_path):
    store = tmp_path / "s.zarr"
    run(store=store)
    with pytest.raises(ValueError, match=r"config.width: 50 in the store vs 60 asked"):
        si.montecarlo.sweep(
            CFG.replace(width=60), OVER, reps=7, seed=3, task=fake_task, store=store
        )
    # the base value of a swept field does not matter
    same = si.montecarlo.sweep(
        CFG.replace(theta=0.7), OVER, reps=7, seed=3, task=fake_task, store=store
    )
    xr.testing.assert_equal(same, run())  # data; attrs carry the caller's base config


def test_other_chunking_on_resume_is_refused(tmp_path):
    store = tmp_path / "s.zarr"
    run(store=store, chunk_reps=3)
    with pytest.raises(ValueError, match="written with chunk_reps=3; got chunk_reps=2"):
        run(store=store, chunk_reps=2)


def test_non_sweep_directory_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="not a sweep store"):
        run(store=tmp_path / "d")


def test_ragged_layers_are_padded_and_masked():
    ds = run(over={"layers": [2, 4], "theta": [1.0]})
    assert ds.sizes["layer"] == 5
    assert ds["valid"].dims == ("layers", "theta", "layer", "time")
    short = ds.sel(layers=2)
    assert bool(short["valid"].sel(layer=2).all()) and not bool(short["valid"].sel(layer=3).any())
    assert np.isnan(short["var_u"].sel(layer=[3, 4])).all()
    assert not np.isnan(short["var_u"].sel(layer=[0, 1, 2])).any()
    alone = run(over={"theta": [1.0]}, reps=7)
    # layers=4 alone equals its slice (CFG has 4 layers); layers is part of the point key
    # so only the shapes, not the numbers, are comparable across the two grids
    assert alone["var_u"].shape[-2:] == ds["var_u"].sel(layers=4).shape[-2:]


@pytest.mark.parametrize(
    "over, match",
    [
        ({"depth": [1]}, "over key must be one of"),
        ({"theta": [-1.0]}, "theta must be a finite number"),
        ({"theta": []}, "at least 1 value"),
        ({"theta": [1.0, 1]}, "repeated values"),
        ({"theta": "1.0"}, "must be a list"),
        ({"init": ["nope"]}, "nope"),
        ({"n": [10], "width": [20]}, "twice"),
    ],
)
def test_bad_grid_is_refused_before_any_work(over, match):
    CALLS.clear()
    with pytest.raises(ValueError, match=match):
        run(over=over)
    assert CALLS == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="reps must be an integer"):
        run(reps=0)
    with pytest.raises(ValueError, match="chunk_reps must be an integer"):
        run(chunk_reps=8)
    with pytest.raises(ValueError, match="method must be one of"):
        run(method="sparse")
    with pytest.raises(ValueError, match="not both"):
        run(client="tcp://127.0.0.1:1", workers=2)
    with pytest.raises(ValueError, match="client must be"):
        run(client=3.5)


def test_width_alias_n_names_the_dim():
    ds = run(over={"n": [20, 40]})
    assert "n" in ds.dims and "width" not in ds.attrs
    assert (ds["spikes"].sel(n=40).max() <= 40).all()


def test_theory_sweep_same_dims():
    def fake_theory(cfg, seed, what, paths):
        return xr.Dataset(
            {"var_u": ("layer", np.full(cfg.layers + 1, cfg.theta)), "rate": 0.5 + 0 * cfg.beta}
        )

    th = si.theory.sweep(CFG, OVER, what="mean_field", task=fake_theory)
    assert dict(th.sizes) == {"theta": 2, "init": 2, "layer": 5, "time": 2}
    assert th.attrs["kind"] == "theory" and th.attrs["theory"] == "mean_field"
    np.testing.assert_array_equal(th["var_u"].sel(theta=0.5).values, 0.5)
    np.testing.assert_array_equal(th["rate"].values, 0.5)  # scalar broadcast over the grid
    with pytest.raises(ValueError, match="what must be one of"):
        si.theory.sweep(CFG, OVER, what="chaos")


def test_in_process_path_does_not_need_dask_or_zarr():
    code = textwrap.dedent(
        """
        import sys
        for name in ("dask", "distributed", "zarr"):
            sys.modules[name] = None  # as if not installed: import raises ModuleNotFoundError
        import numpy as np, xarray as xr, snninit as si
        def task(cfg, seed, reps, method):
            v = np.stack([np.random.default_rng([seed, r]).random((cfg.layers + 1, 1))
                          for r in reps])
            return xr.Dataset({"var_u": (("rep", "layer", "time"), v)})
        ds = si.montecarlo.sweep(si.NetworkConfig(width=5, layers=2), {"theta": [0.5, 1]},
                                 reps=3, task=task)
        assert ds.sizes["theta"] == 2
        try:
            si.montecarlo.sweep(si.NetworkConfig(width=5, layers=2), {"theta": [1]}, reps=1,
                                task=task, workers=2)
        except ImportError as e:
            print("IMPORT-ERROR:", e)
        loaded = [m for m, mod in sys.modules.items() if mod is not None
                  and m.split(".")[0] in ("dask", "distributed", "zarr")]
        assert not loaded, loaded
        print("OK")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "OK" in out.stdout
    assert "IMPORT-ERROR: client=/workers= need dask.distributed" in out.stdout


# --- command line -------------------------------------------------------------


def test_parse_over():
    from snninit.montecarlo.sweep_commands import parse_over

    over = parse_over(["theta=0:1.2:13", "init=micheli,kaiming", "width=100:300:3"])
    assert over["theta"][3] == 0.3 and over["theta"][-1] == 1.2 and len(over["theta"]) == 13
    assert over["init"] == ["micheli", "kaiming"]
    assert over["width"] == [100, 200, 300]
    assert parse_over(["reset_decay=true,false"]) == {"reset_decay": [True, False]}
    for bad, match in [
        (["theta"], "NAME=START"),
        (["theta=0:1"], "START:STOP:NUM"),
        (["theta=a,b"], "must be numbers"),
        (["width=1:2:3"], "integers"),
        (["init=0:1:2"], "numbers only"),
        (["theta=1", "theta=2"], "twice"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_over(bad)


def test_cli_status(tmp_path, capsys):
    from snninit.cli import main

    store = tmp_path / "s.zarr"
    with pytest.raises(Boom):
        run(store=store, task=failing_after(5))
    assert main(["sweep", "--status", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "simulation sweep over theta (2) x init (2)" in out
    assert "tasks done: 5/12 (41.7%); points complete: 1/4" in out
    assert "not complete: theta=0.5 init=kaiming (2/3 tasks)" in out
    assert main(["sweep", "--status", "--store", str(tmp_path / "none.zarr")]) == 2


def test_cli_bad_over_is_one_line(capsys):
    from snninit.cli import main

    assert main(["sweep", "--store", "x.zarr", "--over", "theta=0:1"]) == 2
    assert "START:STOP:NUM" in capsys.readouterr().err


def _engine_available() -> bool:
    try:
        from snninit.montecarlo import simulate  # noqa: F401
    except (ImportError, AttributeError):
        return False
    return True


@pytest.mark.skipif(not _engine_available(), reason="Monte Carlo engine not available")
@pytest.mark.parametrize("method", ["dense", "gram"])
def test_real_engine_point_equals_direct_simulation(method):
    """Point c of a sweep is simulate(cfg_c, reps, seed=point_seed(seed, c)), bit for bit."""
    cfg = si.NetworkConfig(width=40, layers=3, steps=2)
    over = {"theta": [0.5, 1.0], "init": ["micheli", "kaiming"]}
    ds = si.montecarlo.sweep(cfg, over, reps=5, seed=9, chunk_reps=2, method=method)
    for theta in over["theta"]:
        for init in over["init"]:
            c = {"theta": theta, "init": init}
            direct = si.montecarlo.simulate(
                cfg.replace(**c), reps=5, seed=gs.point_seed(9, c), method=method
            )
            for name in direct.data_vars:
                np.testing.assert_array_equal(
                    ds[name].sel(c).values, direct[name].values.astype(float)
                )


def _theory_available(name: str) -> bool:
    try:
        getattr(si.theory, name)
    except (ImportError, AttributeError):
        return False
    return True


@pytest.mark.skipif(not _theory_available("finite_size"), reason="finite_size not available")
def test_theory_sweep_equals_pointwise_and_compares_with_a_simulation_sweep(tmp_path):
    cfg = si.NetworkConfig(width=100, layers=6, steps=1)
    over = {"theta": [0.6, 1.0], "init": ["micheli", "kaiming"]}
    th = si.theory.sweep(cfg, over, what="finite_size", store=tmp_path / "th.zarr")
    for theta in over["theta"]:
        for init in over["init"]:
            point = si.theory.finite_size(cfg.replace(theta=theta, init=init))
            for name in th.data_vars:
                np.testing.assert_array_equal(
                    th[name].sel(theta=theta, init=init).values,
                    point[name].broadcast_like(point["var_u"]).transpose("layer", "time").values,
                )
    sim = si.montecarlo.sweep(cfg, over, reps=40, seed=2, method="gram")
    # whole sweeps compare cell by cell; family-wise false-failure rate 1e-3 (Holm)
    cmp = si.validation.assert_agrees(th, sim, alpha=1e-3)
    assert {"theta", "init", "layer"} <= set(cmp.dims)


@pytest.mark.skipif(
    not _theory_available("dynamic_mean_field"), reason="dynamic_mean_field not available"
)
def test_dmft_sweep_uses_the_point_seed():
    cfg = si.NetworkConfig(width=100, layers=3, steps=3)
    over = {"beta": [0.5, 0.9]}
    th = si.theory.sweep(cfg, over, what="dynamic_mean_field", paths=2000, seed=4)
    direct = si.theory.dynamic_mean_field(
        cfg.replace(beta=0.9), paths=2000, seed=gs.point_seed(4, {"beta": 0.9})
    )
    np.testing.assert_array_equal(
        th["var_u"].sel(beta=0.9).values, direct["var_u"].transpose("layer", "time").values
    )


def test_no_warnings_from_zarr_on_write(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(store=tmp_path / "s.zarr")
        xr.open_zarr(tmp_path / "s.zarr", consolidated=False).load()


def test_store_listing(tmp_path):
    run(store=tmp_path / "s.zarr")
    names = sorted(p.name for p in Path(tmp_path / "s.zarr").iterdir())
    assert names == [
        "_snninit_done",
        "init",
        "layer",
        "rep",
        "spikes",
        "theta",
        "time",
        "var_u",
        "zarr.json",
    ]


def test_sweeps_that_would_take_days_are_refused_before_the_store(tmp_path):
    """Each task within the time of one run, the whole sweep within the limit of a job."""
    store = tmp_path / "s.zarr"
    # one task: 100 reps x 1000 layers x 10^10 dense weights (days on any machine)
    with pytest.raises(ValueError) as info:
        si.montecarlo.sweep(
            si.NetworkConfig(width=100_000, layers=1000),
            {"theta": [0.5, 1.0]},
            reps=1000,
            store=store,
        )
    message = str(info.value)
    assert message.startswith("grid point theta=0.5: simulate would take ~"), message
    assert "smaller chunks (--chunk-reps)" in message and "\n" not in message
    # every task ~2.5 min (one rep each, whatever the thread count), 2000 of them: ~3.5 days
    with pytest.raises(ValueError) as info:
        si.montecarlo.sweep(
            si.NetworkConfig(width=30_000, layers=100),
            {"theta": [0.5, 1.0]},
            reps=1000,
            chunk_reps=1,
            store=store,
        )
    message = str(info.value)
    assert message.startswith("the sweep (simulate) would take ~"), message
    assert "2000 run(s) of simulate" in message and "over the 2 days limit" in message
    assert "SNNINIT_MAX_TOTAL_SECONDS=" in message
    # no store: a killed sweep keeps nothing, so the total is held to one run's limit
    with pytest.raises(ValueError, match="cannot resume"):
        si.montecarlo.sweep(
            si.NetworkConfig(width=30_000, layers=100), {"theta": [0.5, 1.0]}, reps=20, chunk_reps=1
        )
    assert not store.exists()


def test_a_huge_grid_is_refused_before_any_config_is_built():
    import time

    from snninit.montecarlo.sweep_commands import parse_over

    start = time.perf_counter()
    with pytest.raises(
        ValueError, match=r"over has at least 100000000 grid points; at most 100000"
    ):
        gs.make_grid(CFG, {"theta": range(10**8)})
    with pytest.raises(ValueError, match=r"over has at least 2 x 100001 = 200002 grid points"):
        gs.make_grid(CFG, {"init": ["micheli", "kaiming"], "theta": iter(range(10**8))})
    assert time.perf_counter() - start < 5.0
    with pytest.raises(ValueError, match=r"--over theta: NUM must be an integer in \[1, 100000\]"):
        parse_over(["theta=0:1:100000000"])
    with pytest.raises(ValueError, match="store must be a path"):
        si.montecarlo.open_sweep(None)
