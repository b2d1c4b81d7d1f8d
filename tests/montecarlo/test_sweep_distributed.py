"""Sweeps on real dask.distributed processes, and a sweep killed with SIGKILL then resumed.

* A ``dask scheduler`` and two ``dask worker`` processes are started on
  127.0.0.1 by the fixture (bounded waits, always torn down); a small sweep
  through them, by address and by ``Client``, equals the in-process sweep
  bit for bit, and both workers ran tasks.
* ``snninit sweep`` runs in a subprocess that is killed with SIGKILL once a
  few tasks are in the store; the same command, resumed on the dask
  cluster, ends with the dataset of an uninterrupted in-process run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import snninit as si

distributed = pytest.importorskip("distributed")
pytest.importorskip("zarr")

CFG = si.NetworkConfig(width=120, layers=12, steps=3)
OVER = {"theta": [0.6, 1.0], "init": ["micheli", "kaiming"]}
START_TIMEOUT = 90  # s: two cold worker processes on a busy 2-core machine


def _env() -> dict:
    env = dict(os.environ)
    env["NUMBA_NUM_THREADS"] = "1"  # one core per worker; results do not depend on it
    env.pop("PYTHONWARNINGS", None)
    return env


def _stop(procs: list[subprocess.Popen]) -> None:
    # SIGKILL: a graceful dask shutdown takes seconds and the test needs none
    for p in reversed(procs):
        if p.poll() is None:
            p.kill()
    for p in reversed(procs):
        p.wait(timeout=30)


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory):
    """Start ``dask scheduler`` + 2 ``dask worker`` on loopback; yield the address."""
    tmp = tmp_path_factory.mktemp("dask")
    sched_file = tmp / "scheduler.json"
    procs: list[subprocess.Popen] = []
    log = open(tmp / "dask.log", "w")
    try:
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_scheduler",
                 "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                 "--scheduler-file", str(sched_file)],
                stdout=log, stderr=subprocess.STDOUT, env=_env(), cwd=tmp,
            )
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not sched_file.is_file():
            if time.monotonic() > deadline or procs[0].poll() is not None:
                pytest.fail(f"dask scheduler did not start: {(tmp / 'dask.log').read_text()}")
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written once, but give the writer a moment
        address = json.loads(sched_file.read_text())["address"]
        for i in range(2):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "distributed.cli.dask_worker", address,
                     "--nthreads", "1", "--nworkers", "1", "--no-nanny", "--no-dashboard",
                     "--host", "127.0.0.1", "--name", f"w{i}"],
                    stdout=log, stderr=subprocess.STDOUT, env=_env(), cwd=tmp,
                )
            )  # fmt: skip
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=START_TIMEOUT)
        yield address
    finally:
        _stop(procs)
        log.close()


def test_sweep_on_scheduler_equals_in_process(scheduler_address, tmp_path):
    kw = dict(reps=5, seed=11, chunk_reps=2, method="gram")
    local = si.montecarlo.sweep(CFG, OVER, **kw)
    by_address = si.montecarlo.sweep(CFG, OVER, client=scheduler_address, **kw)
    xr.testing.assert_identical(local, by_address)
    with distributed.Client(scheduler_address) as client:
        with distributed.get_task_stream(client) as stream:
            stored = si.montecarlo.sweep(CFG, OVER, client=client, store=tmp_path / "s.zarr", **kw)
        assert client.status == "running"  # a Client we pass in is not closed by sweep
    xr.testing.assert_identical(local, stored)
    xr.testing.assert_identical(local, si.montecarlo.open_sweep(tmp_path / "s.zarr"))
    ran_on = {t["worker"] for t in stream.data}
    assert len(stream.data) >= 12 and len(ran_on) == 2  # 4 points x 3 chunks, both workers
    # the values are real simulations, not padding
    assert not np.isnan(local["var_u"]).any()


def _done(store: Path) -> int:
    d = store / "_snninit_done"
    return len(list(d.glob("p*_c*.json"))) if d.is_dir() else 0


def test_kill_9_then_resume_equals_uninterrupted(scheduler_address, tmp_path):
    store = tmp_path / "kill.zarr"
    args = [
        sys.executable, "-m", "snninit", "sweep",
        "--over", "theta=0.6,1.0", "--over", "init=micheli,kaiming",
        "--width", "300", "--layers", "20", "--steps", "1",
        "--reps", "8", "--chunk-reps", "1", "--seed", "5", "--method", "dense",
        "--store", str(store), "--no-progress",
    ]  # fmt: skip
    total = 4 * 8
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(), text=True
    )
    try:
        deadline = time.monotonic() + 120
        while _done(store) < 4:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"sweep ended or stalled before the kill: {proc.stdout.read()}")
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    done_at_kill = _done(store)
    assert 4 <= done_at_kill < total, done_at_kill  # killed mid-way

    status = si.montecarlo.sweep_status(store)  # (the CLI --status is tested in test_sweep)
    assert status["tasks_done"] == done_at_kill and not status["complete"]

    # resumed on the dask cluster: the engine does not matter either
    resumed = subprocess.run(
        [*args, "--scheduler", scheduler_address],
        capture_output=True, text=True, timeout=300, env=_env(),
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert "sweep done" in resumed.stdout
    assert _done(store) == total

    uninterrupted = si.montecarlo.sweep(
        si.NetworkConfig(width=300, layers=20, steps=1),
        {"theta": [0.6, 1.0], "init": ["micheli", "kaiming"]},
        reps=8, seed=5, method="dense", chunk_reps=5,
    )  # fmt: skip
    after = si.montecarlo.open_sweep(store)
    for name in uninterrupted.data_vars:
        np.testing.assert_array_equal(after[name].values, uninterrupted[name].values)
    xr.testing.assert_equal(after, uninterrupted)
