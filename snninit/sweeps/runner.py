"""Running a sweep: its tasks, in-process or on dask.distributed, into memory or a store.

A sweep is a :class:`SweepSpec`: a base config, a grid
(:func:`snninit.grid.make_grid`), a task function and its options. Every
grid point is split into chunks of ``chunk_reps`` repetitions; one (point,
chunk) is one :class:`Task`. :func:`run_sweep` runs the tasks that a store
does not hold yet and returns the whole sweep; :func:`open_sweep` and
:func:`sweep_status` read a store. The task function is given, so this
module imports nothing of the theory or the Monte Carlo engine: the entry
points (:func:`snninit.montecarlo.sweep`, :func:`snninit.theory.sweep`)
pass theirs. See :mod:`snninit.sweeps` for the design.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_int, check_path
from .._dataset import finish_dataset, layer_coord, time_coord
from ..config import NetworkConfig
from ..grid import Grid, make_grid, point_seed
from .store import (
    _DEFAULT_CHUNK_REPS,
    STORE_FORMAT,
    SweepStore,
    _block,
    _definition_hash,
    _layout,
    _one_line,
    _stored_layout,
    _write_coords,
)
from .verify import _open_to_resume, _read_verified, _repair, verify_store

__all__ = ["SweepSpec", "Task", "run_sweep", "open_sweep", "sweep_status", "execute_task"]

_RESULT_DIMS = ("rep", "layer", "time")


@dataclasses.dataclass(frozen=True)
class Task:
    """One unit of work: a grid point and a chunk of its repetitions."""

    point: int
    chunk: int
    rep_start: int
    rep_stop: int

    @property
    def id(self) -> str:
        return f"p{self.point}_c{self.chunk}"


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """Everything that defines a sweep (what the store's definition records)."""

    kind: str  # "simulation" or the theory function's name
    base: NetworkConfig
    grid: Grid
    reps: int | None  # None: no rep dim (theory)
    seed: int
    options: dict[str, Any]  # passed to the task function (method, paths, ...)
    engine: str  # qualified name of the task function
    fn: Callable[..., xr.Dataset]  # fn(cfg, seed, reps_range, **options) or fn(cfg, seed, **opt)
    #: check(cfg) raises ValueError where the task function would refuse a grid point
    check: Callable[[NetworkConfig], None] | None = None
    #: resources(points, chunk_reps) raises ValueError where one task (a chunk of
    #: chunk_reps repetitions at any grid point, given as (coords, cfg)) cannot fit
    #: in memory
    resources: Callable[[list[tuple[dict, NetworkConfig]], int], None] | None = None

    @property
    def has_rep(self) -> bool:
        return self.reps is not None

    def validate(self) -> None:
        """Build every grid point's config and run ``check`` on it: refuse before any work."""
        for i in range(self.grid.size):
            coords = self.grid.coords(i)
            try:
                cfg = self.grid.config(self.base, i)
                if self.check is not None:
                    self.check(cfg)
            except ValueError as exc:
                if not coords:
                    raise
                where = ", ".join(f"{k}={v}" for k, v in coords.items())
                raise ValueError(f"grid point {where}: {exc}") from None

    def check_resources(self, chunk_reps: int | None) -> None:
        """Refuse a sweep one of whose tasks cannot fit in memory (``resources``)."""
        if self.resources is not None and self.has_rep:
            points = [
                (self.grid.coords(i), self.grid.config(self.base, i)) for i in range(self.grid.size)
            ]
            self.resources(points, int(chunk_reps or 1))

    def max_layers(self) -> int:
        return max(self.grid.config(self.base, i).layers for i in range(self.grid.size))

    def max_steps(self) -> int:
        return max(self.grid.config(self.base, i).steps for i in range(self.grid.size))

    def definition(self) -> dict[str, Any]:
        from .. import __version__

        base = self.base.to_dict()
        for field in self.grid.fields:
            base[field] = None  # the grid sets it; the base value is irrelevant
        return {
            "format": STORE_FORMAT,
            "kind": self.kind,
            "engine": self.engine,
            "config": base,
            "over": [[d, list(v)] for d, v in zip(self.grid.dims, self.grid.values)],
            "reps": self.reps,
            "seed": self.seed,
            "options": self.options,
            "snninit_version": __version__,
        }

    def tasks(self, chunk_reps: int) -> list[Task]:
        out = []
        for p in range(self.grid.size):
            if not self.has_rep:
                out.append(Task(p, 0, 0, 0))
                continue
            for c, start in enumerate(range(0, self.reps, chunk_reps)):
                out.append(Task(p, c, start, min(self.reps, start + chunk_reps)))
        return out


def execute_task(fn: Callable[..., xr.Dataset], payload: dict[str, Any]) -> dict[str, np.ndarray]:
    """Run one task (on a worker or in-process) and return its float64 arrays.

    ``payload`` holds the point's config (JSON), its seed, the rep range and the options;
    the result maps variable name to an array of shape ``(reps, L+1, T)``
    (simulations) or ``(L+1, T)`` (theory).
    """
    cfg = NetworkConfig.from_json(payload["config"])
    if payload["has_rep"]:
        ds = fn(cfg, payload["seed"], range(*payload["reps"]), **payload["options"])
    else:
        ds = fn(cfg, payload["seed"], **payload["options"])
    if not isinstance(ds, xr.Dataset):
        raise TypeError(
            f"sweep task {payload['engine']} returned {type(ds).__name__}, not a Dataset"
        )
    want = {"layer": cfg.layers + 1, "time": cfg.steps}
    dims = _RESULT_DIMS if payload["has_rep"] else _RESULT_DIMS[1:]
    if payload["has_rep"]:
        want["rep"] = payload["reps"][1] - payload["reps"][0]
    out = {}
    for name, da in ds.data_vars.items():
        if not set(da.dims) <= set(dims):
            continue  # e.g. per-rep scalars of another shape: not part of the grid layout
        for d in da.dims:
            if da.sizes[d] != want[d]:
                raise RuntimeError(
                    f"sweep task {payload['engine']} returned {name} with {d}={da.sizes[d]}, "
                    f"expected {want[d]} for {cfg.to_json()}"
                )
        full = da.astype(np.float64)
        missing = {d: want[d] for d in dims if d not in da.dims}
        if missing:  # e.g. a theory variable constant over time
            full = full.expand_dims(missing)
        arr = full.transpose(*dims).values
        out[name] = np.ascontiguousarray(arr, dtype=np.float64)
    if not out:
        raise RuntimeError(f"sweep task {payload['engine']} returned no variable over {dims}")
    return out


def _payload(spec: SweepSpec, task: Task) -> dict[str, Any]:
    coords = spec.grid.coords(task.point)
    cfg = spec.grid.config(spec.base, task.point)
    return {
        "config": cfg.to_json(),
        "seed": point_seed(spec.seed, coords),
        "reps": [task.rep_start, task.rep_stop] if spec.has_rep else None,
        "options": dict(spec.options),
        "has_rep": spec.has_rep,
        "engine": spec.engine,
    }


def _check_client(client, workers) -> int | None:
    """Validate ``client=``/``workers=`` without connecting or starting anything."""
    if client is not None and workers is not None:
        raise ValueError(
            "give either client= (an existing cluster) or workers= (a local one), not both"
        )
    if workers is not None:
        return check_int("workers", workers, low=1, high=4096)
    if client is None or isinstance(client, str) or hasattr(client, "scheduler_address"):
        return None
    if type(client).__name__ == "Client" and type(client).__module__.startswith("distributed"):
        return None
    raise ValueError(
        "client must be a dask.distributed Client, a scheduler address such as "
        f"'tcp://host:8786', or a cluster object; got {type(client).__name__}"
    )


def _resolve_client(client, workers):
    """Return ``(client, close)`` for the requested engine; ``(None, noop)`` in-process."""
    workers = _check_client(client, workers)
    if client is None and workers is None:
        return None, lambda: None
    try:
        from distributed import Client, LocalCluster
    except ModuleNotFoundError:
        raise ImportError(
            "client=/workers= need dask.distributed: pip install 'snninit[distributed]'"
        ) from None
    if workers is not None:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
            # one core per worker: the engine's numba threads would oversubscribe
            env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        )
        c = Client(cluster)

        def close():
            c.close()
            cluster.close()

        return c, close
    if isinstance(client, str):
        from .._io import check_scheduler

        # Client(address) waits its whole timeout where nothing answers: fail in seconds
        client = check_scheduler(client, "client")
        c = Client(client, timeout="30s")
        return c, c.close
    if isinstance(client, Client):
        return client, lambda: None
    if hasattr(client, "scheduler_address"):  # a cluster object (LocalCluster, dask-jobqueue)
        c = Client(client)
        return c, c.close
    raise ValueError(
        "client must be a dask.distributed Client, a scheduler address such as "
        f"'tcp://host:8786', or a cluster object; got {type(client).__name__}"
    )


def _iterate(spec: SweepSpec, tasks: list[Task], client) -> Iterable[tuple[Task, dict]]:
    """Yield ``(task, arrays)`` as tasks complete (in task order in-process)."""
    if client is None:
        for task in tasks:
            yield task, execute_task(spec.fn, _payload(spec, task))
        return
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    futures = {}
    for task in tasks:
        fut = client.submit(
            execute_task,
            spec.fn,
            _payload(spec, task),
            key=f"snninit-sweep-{token}-{task.id}",
            pure=False,
            retries=2,
        )
        futures[fut.key] = (task, fut)
    try:
        for fut in as_completed([f for _, f in futures.values()]):
            task, _ = futures.pop(fut.key)
            result = fut.result()
            fut.release()
            yield task, result
    finally:
        for _, fut in futures.values():
            fut.cancel()


def run_sweep(
    spec: SweepSpec,
    *,
    store=None,
    client=None,
    workers=None,
    chunk_reps=None,
    progress: bool = False,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Run ``spec`` (skipping tasks already in ``store``) and return the whole sweep.

    Everything is validated before the store is touched: the arguments, the
    engine (``client``/``workers``), every grid point (``spec.check``) and an
    existing store's definition. A new store is created only when the first
    result is ready to be written, so a run refused or failing before that
    leaves no store behind.
    """
    definition = spec.definition()
    digest = _definition_hash(definition)
    if chunk_reps is not None:
        if not spec.has_rep:
            raise ValueError("chunk_reps applies to simulations only")
        chunk_reps = check_int("chunk_reps", chunk_reps, low=1, high=spec.reps)
    _check_client(client, workers)
    store = None if store is None else check_path("store", store)
    spec.validate()
    layout = _layout(spec, chunk_reps or min(spec.reps or 1, _DEFAULT_CHUNK_REPS))
    # memory is per task: the engine's own check (inside simulate) is skipped by the
    # tasks, which call simulate_range; check the largest chunk before the store is touched
    spec.check_resources(layout["chunk_reps"])
    st = SweepStore(store) if store is not None else None
    done: set[str] = set()
    if st is not None and st.exists():
        in_store = _open_to_resume(st, spec, definition, chunk_reps)
        if chunk_reps is not None and in_store["chunk_reps"] != chunk_reps:
            raise ValueError(
                f"store {st.path} was written with chunk_reps={in_store['chunk_reps']}; "
                f"got chunk_reps={chunk_reps} (results do not depend on it: omit it to resume)"
            )
        if in_store["chunk_reps"] != layout["chunk_reps"]:  # resuming the store's chunking
            spec.check_resources(in_store["chunk_reps"])
        layout = in_store
        check = verify_store(st, spec, spec.tasks(layout["chunk_reps"] or 1), layout, digest)
        _repair(st, spec, check)
        _write_coords(st, spec, layout)
        done = {t.id for t in check.done}
    elif st is not None:
        st.check_creatable()
    tasks = spec.tasks(layout["chunk_reps"] or 1)
    pending = [t for t in tasks if t.id not in done]
    created = st is not None and st.exists()

    memory: dict[str, np.ndarray] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tasks), initial=len(tasks) - len(pending), unit="task", desc="sweep")
    c, close = _resolve_client(client, workers) if pending else (None, lambda: None)
    try:
        if bar is not None and c is not None and getattr(c, "dashboard_link", None):
            bar.write(f"dask dashboard: {c.dashboard_link}")
        for task, arrays in _iterate(spec, pending, c):
            if st is not None:
                if not created:
                    if st.create(definition, layout) != layout:
                        raise ValueError(
                            f"store {st.path} was created meanwhile by another run of this "
                            "sweep with another chunk_reps; rerun without chunk_reps to resume it"
                        )
                    _write_coords(st, spec, layout)
                    created = True
                st.write_task(spec, task, arrays, layout, digest)
            else:
                region, padded = _block(spec, task, arrays, layout["layers"], layout["steps"])
                for name, block in padded.items():
                    if name not in memory:
                        memory[name] = np.full(layout["shape"], np.nan)
                    memory[name][region] = block
            if bar is not None:
                bar.update(1)
    finally:
        close()
        if bar is not None:
            bar.close()
    if st is not None:
        memory = _read_verified(st, spec, tasks, layout, digest)
    ds = _assemble(spec, layout, memory)
    return _finish(ds, spec, {**_sweep_attrs(spec, definition, digest), **(attrs or {})})


def _sweep_attrs(spec: SweepSpec, definition: Mapping, digest: str) -> dict[str, Any]:
    """The attrs that make a swept dataset explain itself: seed, reps, dims, definition."""
    return {
        "seed": spec.seed,
        "reps": spec.reps,
        "sweep_dims": ",".join(spec.grid.dims),
        "sweep_definition": json.dumps(definition, sort_keys=True),
        "sweep_definition_sha256": digest,
        **spec.options,
    }


def _assemble(spec: SweepSpec, layout: dict, memory: Mapping[str, np.ndarray]) -> xr.Dataset:
    coords: dict[str, Any] = {d: list(v) for d, v in zip(spec.grid.dims, spec.grid.values)}
    if spec.has_rep:
        coords["rep"] = np.arange(spec.reps)
    coords["layer"] = layer_coord(layout["layers"])
    coords["time"] = time_coord(layout["steps"])
    data = {name: (tuple(layout["dims"]), arr) for name, arr in sorted(memory.items())}
    ds = xr.Dataset(data, coords=coords)
    ragged = {"layers", "steps"} & set(spec.grid.fields)
    if ragged:
        pts = spec.grid.shape
        n_layers = np.empty(pts, dtype=int)
        n_steps = np.empty(pts, dtype=int)
        for i in range(spec.grid.size):
            cfg = spec.grid.config(spec.base, i)
            n_layers.flat[i], n_steps.flat[i] = cfg.layers, cfg.steps
        gd = spec.grid.dims
        valid = (xr.DataArray(n_layers, dims=gd) >= ds["layer"]) & (
            xr.DataArray(n_steps, dims=gd) > ds["time"]
        )
        ds["valid"] = valid.transpose(*gd, "layer", "time").assign_attrs(
            long_name="cell exists at this grid point (layer <= layers, time < steps); "
            "elsewhere the variables are NaN padding"
        )
    return ds


def _finish(ds: xr.Dataset, spec: SweepSpec, extra: dict) -> xr.Dataset:
    kind = "simulation" if spec.kind == "simulation" else "theory"
    ds = finish_dataset(ds, spec.base, kind=kind, **extra)
    if kind == "theory":
        ds.attrs["theory"] = spec.kind
    for field in spec.grid.fields:
        ds.attrs.pop(field, None)  # swept: the dim, not the base config, says the value
    return ds


def _qualname(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _spec_from_store(st: SweepStore, fn=None) -> tuple[SweepSpec, dict]:
    """The sweep a store holds, from its (checksum-verified) definition and layout."""
    attrs = st.attrs()
    d = attrs["definition"]
    try:
        over = {dim: values for dim, values in d["over"]}
        base_dict = dict(d["config"])
        defaults = NetworkConfig().to_dict()
        for k, v in base_dict.items():
            if v is None:
                base_dict[k] = defaults[k]
        base = NetworkConfig.from_dict(base_dict)
        grid = make_grid(base, over)
        spec = SweepSpec(
            kind=d["kind"],
            base=base,
            grid=grid,
            reps=d["reps"],
            seed=d["seed"],
            options=d["options"],
            engine=d["engine"],
            fn=fn,
        )
    except (KeyError, TypeError, ValueError) as exc:  # intact checksum: another version's format
        raise ValueError(
            f"sweep store {st.path}: its definition cannot be read by snninit "
            f"{_version()} ({_one_line(exc)}); open it with the version that wrote it "
            f"({d.get('snninit_version')!r})"
        ) from None
    _stored_layout(st, spec, attrs["layout"])
    return spec, attrs


def _version() -> str:
    from .. import __version__

    return __version__


def _open_store(store) -> tuple[SweepStore, SweepSpec, dict, list[Task], str]:
    st = SweepStore(check_path("store", store))
    if not st.exists():
        raise FileNotFoundError(f"no sweep store at {store}")
    spec, attrs = _spec_from_store(st)
    layout = attrs["layout"]
    return st, spec, layout, spec.tasks(layout["chunk_reps"] or 1), attrs["definition_sha256"]


def open_sweep(store: str | os.PathLike, *, partial: bool = False) -> xr.Dataset:
    """Read a sweep store into memory, verifying every chunk against its marker.

    Every chunk of every finished task is decoded and hashed against its
    completion marker (:func:`verify_store`, as ``--status`` and a resume
    do). A damaged store (a chunk that does not decode or does not match its
    marker, a damaged marker, array or definition) raises ``ValueError``
    naming the damaged tasks: rerun the sweep to recompute them.
    ``partial=True`` returns an unfinished sweep with NaN where tasks are
    missing; otherwise an unfinished store raises ``ValueError``.
    """
    st, spec, layout, tasks, digest = _open_store(store)
    memory = _read_verified(st, spec, tasks, layout, digest, partial=partial)
    ds = _assemble(spec, layout, memory)
    return _finish(ds, spec, _sweep_attrs(spec, st.attrs()["definition"], digest))


def sweep_status(store: str | os.PathLike) -> dict[str, Any]:
    """What a sweep store holds, verified: definition, tasks done, what is missing or damaged.

    A task counts as done only if every chunk of it decodes and matches its
    completion marker (:func:`verify_store`, the check that resuming and
    :func:`open_sweep` use), so this reads the whole store once. ``damaged``
    lists the tasks (and arrays) that do not check out: rerunning the sweep
    recomputes them. ``complete`` is true only with every task done and
    nothing damaged.
    """
    st, spec, layout, tasks, digest = _open_store(store)
    check = verify_store(st, spec, tasks, layout, digest)
    done_ids = {t.id for t in check.done}
    per_point: dict[int, list[int]] = {}
    for t in tasks:
        per_point.setdefault(t.point, [0, 0])
        per_point[t.point][1] += 1
        per_point[t.point][0] += t.id in done_ids
    incomplete = [
        {"coords": spec.grid.coords(p), "done": d, "total": n}
        for p, (d, n) in per_point.items()
        if d < n
    ]
    by_id = {t.id: t for t in tasks}
    damaged = [
        {"task": tid, "coords": spec.grid.coords(by_id[tid].point), "why": why}
        for tid, why in check.damaged.items()
    ]
    return {
        "store": str(st.path),
        "kind": spec.kind,
        "dims": dict(zip(spec.grid.dims, (list(v) for v in spec.grid.values))),
        "reps": spec.reps,
        "chunk_reps": layout["chunk_reps"],
        "seed": spec.seed,
        "options": spec.options,
        "engine": spec.engine,
        "tasks_total": len(tasks),
        "tasks_done": len(done_ids),
        "tasks_damaged": len(check.damaged),
        "points_total": spec.grid.size,
        "points_done": spec.grid.size - len(incomplete),
        "incomplete": incomplete,
        "damaged": damaged,
        "damaged_arrays": dict(check.arrays),
        "complete": len(done_ids) == len(tasks) and check.ok,
    }
