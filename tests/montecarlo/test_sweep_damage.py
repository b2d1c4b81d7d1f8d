"""A damaged sweep store is reported, refused and repaired; a refused sweep leaves no store.

Issue 15, items 1 and 2. ``--status``, a resume and ``open_sweep`` share one
verification (``snninit.sweeps.verify_store``): every chunk of every finished task
is decoded and hashed against its completion marker. A damaged task is named
(one line), and rerunning the sweep recomputes exactly the damaged tasks,
ending bit-identical to an undamaged run. A damaged definition is described,
never reported as fact. Everything a run checks is checked before the store
is created.

The API tests use a stand-in task (a few normals per seed); the CLI tests run
``python -m snninit sweep`` in subprocesses with the real engine (tiny
networks), and check the exit status and that stderr is one line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import snninit as si
from snninit.montecarlo import gridsweep as gs
from snninit.sweeps import runner as sweeprunner
from snninit.sweeps import verify as sweepverify

pytest.importorskip("zarr")

CALLS: list[tuple[int, int]] = []


def fake_task(cfg, seed, reps, method="dense"):
    """Stand-in engine: repetition r depends on (config, seed, r) only."""
    CALLS.append((reps[0], len(reps)))
    parts = []
    for r in reps:
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(r,)))
        parts.append(cfg.theta + cfg.beta * rng.standard_normal((cfg.layers + 1, cfg.steps)))
    var = np.stack(parts)
    dims = ("rep", "layer", "time")
    return xr.Dataset({"var_u": (dims, var), "mean_u": (dims, var / 2)})


CFG = si.NetworkConfig(width=50, layers=4, steps=2)
OVER = {"theta": [0.5, 1.0], "init": ["micheli", "kaiming"]}


def run(store=None, **kw):
    args = dict(reps=7, seed=3, task=fake_task, chunk_reps=3)
    args.update(kw)
    return si.montecarlo.sweep(CFG, args.pop("over", OVER), store=store, **args)


@pytest.fixture(autouse=True)
def _no_calls_yet():
    CALLS.clear()


@pytest.fixture(scope="module")
def reference():
    return run()


@pytest.fixture()
def store(tmp_path, reference):
    path = tmp_path / "s.zarr"
    xr.testing.assert_identical(run(store=path), reference)
    CALLS.clear()
    return path


def _chunk(store: Path, name: str, point: tuple[int, ...], chunk: int) -> Path:
    return store.joinpath(name, "c", *map(str, point), str(chunk), "0", "0")


def _damage(path: Path, how: str) -> None:
    if how == "truncate":
        os.truncate(path, 10)
    elif how == "random":
        path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))
    elif how == "delete":
        path.unlink()
    else:
        raise AssertionError(how)


def _one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text and text.strip(), text
    return text


# --- damaged chunks: reported, refused, recomputed ----------------------------------


@pytest.mark.parametrize(
    "how, why",
    [
        ("truncate", "its var_u chunk does not decode (RuntimeError: Zstd decompression error"),
        ("random", "its var_u chunk does not decode"),
        ("delete", "its data were changed or deleted after it was written"),
    ],
)
def test_damaged_chunk_is_reported_refused_and_recomputed(store, reference, how, why):
    # task p1_c1: point 1 = (theta=0.5, init=kaiming), reps 3-5
    _damage(_chunk(store, "var_u", (0, 1), 1), how)

    status = si.montecarlo.sweep_status(store)
    assert not status["complete"]
    assert (status["tasks_done"], status["tasks_total"], status["tasks_damaged"]) == (11, 12, 1)
    assert status["points_done"] == 3
    [row] = status["damaged"]
    assert row["task"] == "p1_c1" and row["coords"] == {"theta": 0.5, "init": "kaiming"}
    assert row["why"].startswith("(theta=0.5, init=kaiming, reps 3-5) does not match its")
    assert why in row["why"]

    for partial in (False, True):  # damage is not "unfinished": refused either way
        with pytest.raises(ValueError) as err:
            si.montecarlo.open_sweep(store, partial=partial)
        text = _one_line(err)
        assert "is damaged: task p1_c1 (theta=0.5, init=kaiming, reps 3-5)" in text
        assert why in text and text.endswith("rerun the sweep to repair it (the damaged tasks "
                                             "are recomputed)")  # fmt: skip

    with pytest.warns(RuntimeWarning, match=r"recomputing 1 damaged task: task p1_c1") as rec:
        resumed = run(store=store, chunk_reps=None)
    assert len(rec) == 1
    assert CALLS == [(3, 3)]  # exactly the damaged task
    xr.testing.assert_identical(resumed, reference)
    xr.testing.assert_identical(si.montecarlo.open_sweep(store), reference)
    assert si.montecarlo.sweep_status(store)["complete"]


def test_status_open_and_resume_share_one_verification(store, monkeypatch):
    seen = []
    real = gs.verify_store

    def spy(*args, **kw):
        seen.append(len(args[2]))
        return real(*args, **kw)

    monkeypatch.setattr(sweeprunner, "verify_store", spy)  # status, resume
    monkeypatch.setattr(sweepverify, "verify_store", spy)  # every read of a store
    si.montecarlo.sweep_status(store)
    si.montecarlo.open_sweep(store)
    run(store=store)
    assert seen == [12, 12, 12, 12]  # status, open, resume (before) and resume (final read)


def test_several_damaged_tasks_are_all_named_and_all_recomputed(store, reference):
    _damage(_chunk(store, "var_u", (1, 0), 0), "truncate")
    _damage(_chunk(store, "mean_u", (1, 1), 2), "random")
    (store / "_snninit_done" / "p0_c0.json").write_text('{"task": "p0_c0", "defin')
    status = si.montecarlo.sweep_status(store)
    assert sorted(r["task"] for r in status["damaged"]) == ["p0_c0", "p2_c0", "p3_c2"]
    damaged = {r["task"]: r["why"] for r in status["damaged"]}
    assert (
        "has a damaged completion marker (its completion marker is not valid JSON)"
        in (damaged["p0_c0"])
    )
    with pytest.raises(ValueError, match="is damaged: task p0_c0 .*; task p2_c0 .*; task p3_c2"):
        si.montecarlo.open_sweep(store)
    with pytest.warns(RuntimeWarning, match="recomputing 3 damaged tasks"):
        resumed = run(store=store)
    assert sorted(CALLS) == [(0, 3), (0, 3), (6, 1)]
    xr.testing.assert_identical(resumed, reference)


def test_damaged_array_metadata_is_rebuilt(store, reference):
    (store / "var_u" / "zarr.json").write_text("{not json")
    status = si.montecarlo.sweep_status(store)
    assert "its metadata cannot be read" in status["damaged_arrays"]["var_u"]
    assert status["tasks_done"] == 0 and status["tasks_damaged"] == 12
    with pytest.raises(ValueError, match=r"is damaged: array var_u: its metadata cannot be read"):
        si.montecarlo.open_sweep(store)
    rebuilt = "recomputing 12 damaged tasks and rebuilding 1 damaged array: array var_u"
    with pytest.warns(RuntimeWarning, match=rebuilt):
        resumed = run(store=store)
    assert sum(n for _, n in CALLS) == 4 * 7
    xr.testing.assert_identical(resumed, reference)
    assert si.montecarlo.sweep_status(store)["complete"]


def test_damaged_coordinate_is_rewritten_without_recomputing(store, reference):
    import zarr

    zarr.open_array(str(store / "theta"), mode="r+")[0] = 0.75
    status = si.montecarlo.sweep_status(store)
    assert status["damaged_arrays"] == {"theta": "coordinate values differ from the sweep's"}
    assert status["tasks_done"] == 12 and not status["complete"]
    with pytest.raises(ValueError, match="array theta: coordinate values differ"):
        si.montecarlo.open_sweep(store)
    with pytest.warns(
        RuntimeWarning, match=r"sweep store .*: rebuilding 1 damaged array: array theta"
    ):
        run(store=store)
    assert CALLS == []
    assert si.montecarlo.sweep_status(store)["complete"]
    raw = xr.open_zarr(store, consolidated=False)
    np.testing.assert_array_equal(raw["theta"].values, [0.5, 1.0])


# --- a damaged definition: described, never reported as fact ------------------------


def _edit_definition(store: Path, how: str) -> None:
    path = store / "zarr.json"
    if how == "truncate":
        os.truncate(path, 40)
        return
    if how == "delete":
        path.unlink()
        return
    meta = json.loads(path.read_text())
    attrs = meta["attributes"]
    if how == "edit":
        attrs["definition"]["seed"] = 4  # exactly the definition of the seed=4 sweep
    elif how == "checksum":
        attrs["definition_sha256"] = "0" * 64
    elif how == "layout":
        attrs["layout"]["chunk_reps"] = 2
    else:
        raise AssertionError(how)
    path.write_text(json.dumps(meta))


DEFINITION_DAMAGE = [
    ("edit", "checksum mismatch: the definition was edited or corrupted"),
    ("checksum", "checksum mismatch: the definition was edited or corrupted"),
    ("truncate", "zarr.json is not valid JSON: JSONDecodeError: "),
    ("delete", "zarr.json is missing"),
    ("layout", "the layout's chunks do not follow from the definition"),
]


@pytest.mark.parametrize("how, why", DEFINITION_DAMAGE)
def test_damaged_definition_is_described_and_repaired_by_its_own_sweep(store, reference, how, why):
    _edit_definition(store, how)
    markers = sorted(p.read_text() for p in (store / "_snninit_done").glob("p*.json"))
    for reader in (si.montecarlo.sweep_status, si.montecarlo.open_sweep):
        with pytest.raises(ValueError) as err:
            reader(store)
        text = _one_line(err)
        assert f"its definition is damaged ({why}" in text and "()" not in text
        assert text.endswith("rerun the sweep that wrote it to repair it, or delete the store")
    # another sweep (here: the one the edited definition now describes) is refused,
    # and the finished work of the store's own sweep is left alone
    with pytest.raises(ValueError) as err:
        run(store=store, seed=4)
    text = _one_line(err)
    assert "()" not in text and ("damaged" in text or "holds a different sweep (seed" in text)
    assert sorted(p.read_text() for p in (store / "_snninit_done").glob("p*.json")) == markers
    assert CALLS == []
    # the sweep that wrote it repairs it, recomputing nothing
    with pytest.warns(RuntimeWarning, match=r"its definition was damaged \(.*rewrote it"):
        resumed = run(store=store, chunk_reps=None)
    assert CALLS == []
    xr.testing.assert_identical(resumed, reference)
    xr.testing.assert_identical(si.montecarlo.open_sweep(store), reference)


def test_damaged_definition_of_a_store_without_finished_work(tmp_path):
    """No marker to identify the store: its checksum or its definition must match."""
    store = tmp_path / "s.zarr"
    with pytest.raises(RuntimeError):
        run(store=store, task=_fail_after_first)
    for marker in (store / "_snninit_done").glob("p*.json"):
        marker.unlink()
    _edit_definition(store, "checksum")
    with pytest.raises(ValueError, match="neither its checksum nor its definition is this sweep"):
        run(store=store, seed=4)
    with pytest.warns(RuntimeWarning, match="rewrote it"):
        xr.testing.assert_identical(run(store=store), run())


def _fail_after_first(cfg, seed, reps, method="dense"):
    if CALLS:
        raise RuntimeError("stop")
    return fake_task(cfg, seed, reps, method)


_fail_after_first.__qualname__ = fake_task.__qualname__  # the same sweep definition


def test_explain_mismatch_is_never_empty():
    d = run().attrs["sweep_definition"]
    assert gs._explain_mismatch(json.loads(d), json.loads(d)) != ""


# --- a refused sweep leaves no store ------------------------------------------------------


def fake_theory(cfg, seed, what, paths):
    return xr.Dataset({"var_u": ("layer", np.full(cfg.layers + 1, cfg.theta + seed % 7))})


def test_refused_theory_sweep_creates_no_store_and_the_corrected_one_runs(tmp_path):
    store = tmp_path / "sw.zarr"
    kw = dict(what="dynamic_mean_field", store=store, task=fake_theory)
    with pytest.raises(ValueError, match=r"paths must be an integer in \[16, 1000000000\]; got 5"):
        si.theory.sweep(CFG, {"beta": [0.5, 0.9]}, paths=5, **kw)
    assert not store.exists()
    ds = si.theory.sweep(CFG, {"beta": [0.5, 0.9]}, paths=64, **kw)
    assert ds.attrs["paths"] == 64 and si.montecarlo.sweep_status(store)["complete"]


def test_damaged_theory_store_is_recomputed(tmp_path):
    """Theory sweeps (one task per point, no rep dim) are verified the same way."""
    store = tmp_path / "th.zarr"
    kw = dict(what="mean_field", store=store, task=_counted_theory)
    ref = si.theory.sweep(CFG, OVER, **kw)
    _damage(_chunk(store, "var_u", (1,), 0), "truncate")  # var_u/c/1/0/0/0: point 2
    [row] = si.montecarlo.sweep_status(store)["damaged"]
    assert row["task"] == "p2_c0" and row["why"].startswith("(theta=1.0, init=micheli) does")
    with pytest.raises(ValueError, match=r"is damaged: task p2_c0 \(theta=1.0, init=micheli\)"):
        si.montecarlo.open_sweep(store)
    CALLS.clear()
    with pytest.warns(RuntimeWarning, match="recomputing 1 damaged task: task p2_c0"):
        again = si.theory.sweep(CFG, OVER, **kw)
    assert CALLS == [(2, 1)]
    xr.testing.assert_identical(again, ref)


def _counted_theory(cfg, seed, what, paths):
    CALLS.append((int(cfg.theta * 2), 1))
    return xr.Dataset({"var_u": ("layer", np.full(cfg.layers + 1, cfg.theta))})


def test_one_step_theory_on_a_multi_step_grid_is_refused_before_the_store(tmp_path):
    store = tmp_path / "th.zarr"
    with pytest.raises(ValueError, match="grid point steps=2: .*one-step theory"):
        si.theory.sweep(CFG.replace(steps=1), {"steps": [1, 2]}, what="mean_field", store=store)
    assert not store.exists()


@pytest.mark.parametrize(
    "over, base, match",
    [
        ({"theta": [0.5, 1.0]}, {"weights": "uniform"}, "method='gram' samples Gaussian"),
        ({"weights": ["normal", "uniform"]}, {}, "grid point weights=uniform: method='gram'"),
    ],
)
def test_gram_with_uniform_weights_is_refused_before_the_store(tmp_path, over, base, match):
    store = tmp_path / "sw.zarr"
    cfg = si.NetworkConfig(width=20, layers=2, **base)
    with pytest.raises(ValueError, match=match):
        si.montecarlo.sweep(cfg, over, reps=2, method="gram", store=store)
    assert not store.exists()
    ds = si.montecarlo.sweep(cfg, over, reps=2, method="dense", store=store)
    assert ds.attrs["method"] == "dense" and si.montecarlo.sweep_status(store)["complete"]


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(workers=0), "workers must be an integer"),
        (dict(client=3.5), "client must be"),
        (dict(client="tcp://127.0.0.1:1", workers=2), "not both"),
        (dict(chunk_reps=8), "chunk_reps must be an integer"),
        (dict(method="sparse"), "method must be one of"),
    ],
)
def test_bad_arguments_create_no_store(tmp_path, kw, match):
    store = tmp_path / "sw.zarr"
    with pytest.raises(ValueError, match=match):
        run(store=store, **kw)
    assert not store.exists() and CALLS == []


def test_a_first_task_that_fails_leaves_no_store(tmp_path):
    """The store is created when the first result is ready to be written."""
    store = tmp_path / "sw.zarr"

    def boom(cfg, seed, reps, method="dense"):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run(store=store, task=boom)
    assert not store.exists()


def test_non_sweep_folder_is_refused_before_any_work(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "file.txt").write_text("x")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="exists and is not a sweep store"):
        run(store=tmp_path / "d")
    with pytest.raises(ValueError, match="is a file"):
        run(store=tmp_path / "f")
    assert CALLS == []


# --- the command line, in subprocesses ----------------------------------------------------

SWEEP = [sys.executable, "-m", "snninit", "sweep", "--no-progress"]
GRID = ["--over", "theta=0:1:3", "--width", "50", "--layers", "5", "--reps", "6"]
GRID += ["--chunk-reps", "2"]


def _env() -> dict:
    env = dict(os.environ)
    env.update(NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env.pop("PYTHONWARNINGS", None)
    return env


def _cli(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SWEEP, *args], capture_output=True, text=True, cwd=cwd, env=_env(), timeout=300
    )


def _err_line(proc, status: int) -> str:
    assert proc.returncode == status, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory):
    """An undamaged store written by the CLI, and its content."""
    tmp = tmp_path_factory.mktemp("cli")
    proc = _cli(*GRID, "--store", "good.zarr", cwd=tmp)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return tmp / "good.zarr", si.montecarlo.open_sweep(tmp / "good.zarr")


def test_cli_damaged_chunks_status_then_rerun_repairs(cli_store, tmp_path):
    good, content = cli_store
    for how in ("truncate", "random", "delete"):
        case = tmp_path / how
        case.mkdir()
        shutil.copytree(good, case / "s.zarr")
        _damage(_chunk(case / "s.zarr", "var_u", (1,), 1), how)

        status = _cli("--status", "--store", "s.zarr", cwd=case)
        assert status.returncode == 0 and status.stderr == "", status.stderr
        out = status.stdout
        assert "tasks done: 8/9 (88.9%); points complete: 2/3" in out
        assert "  damaged: task p1_c1 (theta=0.5, reps 2-3) does not match its completion " in out
        assert "rerun the same sweep command to recompute the damaged tasks" in out
        assert "complete (every chunk" not in out

        rerun = _cli(*GRID, "--store", "s.zarr", cwd=case)
        line = _err_line(rerun, 0)
        assert line.startswith(
            "snninit sweep: warning: sweep store s.zarr: recomputing 1 damaged task: task p1_c1"
        )
        assert "sweep done" in rerun.stdout
        after = _cli("--status", "--store", "s.zarr", cwd=case)
        assert "complete (every chunk decoded and matches its completion marker)" in after.stdout
        xr.testing.assert_identical(si.montecarlo.open_sweep(case / "s.zarr"), content)


def test_cli_damaged_definition(cli_store, tmp_path):
    good, content = cli_store
    shutil.copytree(good, tmp_path / "s.zarr")
    _edit_definition(tmp_path / "s.zarr", "edit")  # seed 0 -> 4 in the definition
    status = _cli("--status", "--store", "s.zarr", cwd=tmp_path)
    assert _err_line(status, 2) == (
        "snninit sweep: error: sweep store s.zarr: its definition is damaged (checksum "
        "mismatch: the definition was edited or corrupted); rerun the sweep that wrote it "
        "to repair it, or delete the store"
    )
    other = _cli(*GRID, "--seed", "4", "--store", "s.zarr", cwd=tmp_path)
    assert "its completion markers belong to another sweep" in _err_line(other, 2)
    same = _cli(*GRID, "--store", "s.zarr", cwd=tmp_path)
    assert "its definition was damaged (checksum mismatch" in _err_line(same, 0)
    xr.testing.assert_identical(si.montecarlo.open_sweep(tmp_path / "s.zarr"), content)


@pytest.mark.parametrize(
    "refused, fragment, corrected",
    [
        (
            ["--kind", "dynamic_mean_field", "--paths", "5"],
            "paths must be an integer in [16, 1000000000]; got 5",
            ["--kind", "dynamic_mean_field", "--paths", "64"],
        ),
        (
            ["--method", "gram", "--weights", "uniform", "--reps", "2"],
            "grid point beta=0.5: ",
            ["--method", "dense", "--weights", "uniform", "--reps", "2"],
        ),
    ],
    ids=["dmft-paths", "gram-uniform"],
)
def test_cli_refused_sweep_leaves_no_store_then_the_corrected_one_runs(
    tmp_path, refused, fragment, corrected
):
    net = ["--over", "beta=0.5,0.9", "--width", "40", "--layers", "2", "--steps", "2"]
    proc = _cli(*net, *refused, "--store", "sw.zarr", cwd=tmp_path)
    line = _err_line(proc, 2)
    assert line.startswith("snninit sweep: error: ") and fragment in line
    assert not (tmp_path / "sw.zarr").exists()
    proc = _cli(*net, *corrected, "--store", "sw.zarr", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "sweep done" in proc.stdout
    assert si.montecarlo.sweep_status(tmp_path / "sw.zarr")["complete"]
