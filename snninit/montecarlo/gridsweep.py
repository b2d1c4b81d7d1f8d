"""Parameter sweeps: a grid of networks, run in-process or on dask.distributed,
written to a resumable Zarr store.

Design (issue 8)
----------------
*Tasks.* A sweep over ``over = {"theta": [...], "init": [...]}`` is the
Cartesian product of the values (C order, first key slowest). Every grid
point is split into chunks of ``chunk_reps`` repetitions; one (point, chunk)
is one task. Theory sweeps (:func:`snninit.theory.sweep`) have one task per
point.

*Seeds.* The grid point with swept coordinates ``c`` gets the seed
``point_seed(seed, c)`` (63 bits of ``SeedSequence(seed, spawn_key=key(c))``,
``key(c)`` two 32-bit words of the SHA-256 of the canonical JSON of ``c``),
and its repetition ``r`` is repetition ``r`` of
``simulate(cfg_c, reps, seed=point_seed(seed, c))``: the engine draws every
repetition from its own generator ``PCG64(SeedSequence(point_seed,
spawn_key=(r,)))``. So the numbers depend on (seed, point, rep) only -- not on
the task that runs them, the worker, a retry, nor on ``chunk_reps``: the
issue asks for identical results "however the tasks are scheduled, chunked
or retried", hence seeds per repetition rather than per chunk. Every cell of
a sweep can be reproduced with the public ``simulate``. Keying by the
point's *values* rather than its index leaves every point unchanged when the
grid is extended by more values.

*Store.* A Zarr v3 group, one array per variable with dims
``(*swept, rep, layer, time)`` and one Zarr chunk per task (chunk shape
``(1, ..., 1, chunk_reps, L+1, T)``), so every task writes exactly one chunk
file per variable and no two tasks ever touch the same file. Zarr instead
of netCDF/HDF5 because a chunked directory store is append-safe: a process
killed while writing can damage at most the chunk being written, while a
killed HDF5 writer can leave the whole file unreadable. Only the calling
process writes (workers return arrays, which for per-layer summaries are
small), so a cluster needs no shared file system and the store no locks.
A task counts as done only when its *marker* ``_snninit_done/p<i>_c<j>.json``
exists; the marker is written atomically (temporary file, fsync, rename)
*after* the task's data and holds the SHA-256 of that data, checked again
whenever the store is read. A chunk whose write was interrupted therefore
has no marker (and is recomputed), and a chunk that does not match its
marker is never returned as valid. The group's attributes hold the sweep's
definition (base config, grid, reps, seed, method, engine, version); a store
written by a different definition is refused.

*Ragged grids.* The observables are summaries over the neurons of a layer,
so sweeping ``width`` changes no array shape. Only sweeping ``layers`` or
``steps`` makes points ragged; then the ``layer``/``time`` axes are padded
to the largest value with NaN and a boolean ``valid`` variable marks the
cells that exist. One padded array per variable (rather than one variable
per width or depth) keeps ``.sel``, plotting and
:func:`snninit.validation.compare` working on the whole sweep, and
``valid`` keeps padding apart from a genuine NaN (e.g. the skewness of an
extinct layer). All variables are stored as float64 (exact for spike counts
below 2**53) so that NaN padding is possible.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_choice, check_int
from .._dataset import atomic_write, finish_dataset, layer_coord, time_coord
from ..config import NetworkConfig

__all__ = ["sweep", "open_sweep", "sweep_status", "point_seed", "simulate_chunk", "SWEEPABLE"]

#: Store format tag (bump when the layout changes).
STORE_FORMAT = "snninit-sweep/1"
#: NetworkConfig fields that can be swept, and ``n`` (an alias of width whose dim is ``n``).
SWEEPABLE = (
    "theta",
    "beta",
    "width",
    "n",
    "layers",
    "steps",
    "init",
    "reset",
    "input_scale",
    "reset_decay",
    "weights",
)
_ALIASES = {"n": "width"}
_DONE_DIR = "_snninit_done"
_DEFAULT_CHUNK_REPS = 100
_RESULT_DIMS = ("rep", "layer", "time")


# ---------------------------------------------------------------------------
# the grid


@dataclasses.dataclass(frozen=True)
class Grid:
    """The swept dims, the config field each one sets and their canonical values."""

    dims: tuple[str, ...]
    fields: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.values)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def coords(self, index: int) -> dict[str, Any]:
        """Swept coordinates ``{dim: value}`` of point ``index`` (C order)."""
        multi = np.unravel_index(index, self.shape) if self.dims else ()
        return {d: v[int(i)] for d, v, i in zip(self.dims, self.values, multi)}

    def config(self, base: NetworkConfig, index: int) -> NetworkConfig:
        changes = {f: v for f, v in zip(self.fields, self.coords(index).values())}
        return base.replace(**changes) if changes else base

    def multi_index(self, index: int) -> tuple[int, ...]:
        return tuple(int(i) for i in np.unravel_index(index, self.shape)) if self.dims else ()


def make_grid(cfg: NetworkConfig, over: Mapping[str, Iterable[Any]] | None) -> Grid:
    """Validate ``over`` and canonicalise its values through :class:`NetworkConfig`.

    Every value is applied to ``cfg`` (so a bad value raises ``ValueError``
    naming the field before any work starts) and stored as the config
    normalises it (``theta=1`` becomes ``1.0``).
    """
    if not isinstance(cfg, NetworkConfig):
        raise ValueError(f"cfg must be a snninit.NetworkConfig; got {type(cfg).__name__}")
    if over is None:
        over = {}
    if not isinstance(over, Mapping):
        raise ValueError(
            f"over must be a mapping {{name: values}} with names in {', '.join(SWEEPABLE)}; "
            f"got {type(over).__name__}"
        )
    dims, fields, values = [], [], []
    for dim, raw in over.items():
        check_choice("over key", dim, SWEEPABLE)
        field = _ALIASES.get(dim, dim)
        if field in fields:
            raise ValueError(f"over sweeps {field!r} twice (as {dim!r} and an alias)")
        if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
            raise ValueError(f"over[{dim!r}] must be a list of values; got {raw!r}")
        canon = []
        for v in raw:
            if isinstance(v, np.generic):
                v = v.item()
            canon.append(getattr(cfg.replace(**{field: v}), field))
        if not canon:
            raise ValueError(f"over[{dim!r}] must have at least 1 value; got none")
        if len(set(canon)) != len(canon):
            raise ValueError(f"over[{dim!r}] has repeated values: {canon!r}")
        dims.append(dim)
        fields.append(field)
        values.append(tuple(canon))
    return Grid(tuple(dims), tuple(fields), tuple(values))


# ---------------------------------------------------------------------------
# seeds


def _point_key(coords: Mapping[str, Any]) -> tuple[int, int]:
    text = json.dumps({k: coords[k] for k in sorted(coords)}, sort_keys=True)
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:8], "little")


def _seed_from(entropy: int, spawn_key: tuple[int, ...]) -> int:
    ss = np.random.SeedSequence(entropy, spawn_key=spawn_key)
    # 63 bits: a non-negative int64, accepted by every seeding API we call
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def point_seed(seed: int, coords: Mapping[str, Any]) -> int:
    """Seed of the grid point with swept coordinates ``coords``.

    63 bits of ``SeedSequence(seed, spawn_key=(k0, k1))``, ``(k0, k1)`` two
    words of the SHA-256 of the canonical JSON of ``coords``: a pure function
    of the master seed and the point's values (not of its index, the task,
    the worker or the chunking).
    """
    return _seed_from(seed, _point_key(coords))


# ---------------------------------------------------------------------------
# tasks


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

    @property
    def has_rep(self) -> bool:
        return self.reps is not None

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


def _definition_hash(definition: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()


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


def _block(spec: SweepSpec, task: Task, arrays: Mapping[str, np.ndarray], Lmax: int, Tmax: int):
    """Pad a task's arrays to the store's ``(…, L+1, T)`` and give its region."""
    region = spec.grid.multi_index(task.point)
    if spec.has_rep:
        region = (*region, slice(task.rep_start, task.rep_stop))
    padded = {}
    for name, arr in arrays.items():
        shape = (*arr.shape[:-2], Lmax + 1, Tmax)
        if arr.shape == shape:
            padded[name] = arr
        else:
            full = np.full(shape, np.nan)
            full[..., : arr.shape[-2], : arr.shape[-1]] = arr
            padded[name] = full
    return region, padded


def _digest(arrays: Mapping[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name], dtype="<f8")
        h.update(name.encode() + b"\0" + repr(a.shape).encode() + b"\0")
        h.update(a.tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------
# the store


def _require_zarr():
    try:
        import zarr
    except ModuleNotFoundError:
        raise ImportError(
            "a sweep store needs zarr (>= 3): pip install 'snninit[distributed]', "
            "or run without store="
        ) from None
    return zarr


class SweepStore:
    """A Zarr v3 group holding one sweep, with per-task completion markers."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.zarr = _require_zarr()
        self._group = None
        self._arrays: dict[str, Any] = {}  # opened arrays (opening reads metadata)

    # --- opening -----------------------------------------------------------
    def exists(self) -> bool:
        return (self.path / "zarr.json").is_file()

    def group(self):
        if self._group is None:
            try:
                self._group = self.zarr.open_group(str(self.path), mode="r+")
            except Exception as exc:
                raise ValueError(
                    f"{self.path} is not a readable sweep store ({type(exc).__name__}: {exc})"
                ) from None
        return self._group

    def attrs(self) -> dict[str, Any]:
        attrs = dict(self.group().attrs)
        if attrs.get("format") != STORE_FORMAT or "definition" not in attrs:
            raise ValueError(
                f"{self.path} is a Zarr store but not an snninit sweep store "
                f"(format {attrs.get('format')!r}); choose another store path"
            )
        return attrs

    def create_or_check(self, definition: dict, layout: dict) -> dict:
        """Create the store, or check that an existing one holds ``definition``.

        Returns the layout in use (an existing store keeps its ``chunk_reps``).
        """
        digest = _definition_hash(definition)
        if self.exists():
            attrs = self.attrs()
            if attrs["definition_sha256"] != digest:
                why = _explain_mismatch(attrs["definition"], definition)
                raise ValueError(
                    f"store {self.path} holds a different sweep ({why}); refusing to mix "
                    "results: use another store path, or delete this one"
                )
            return attrs["layout"]
        if self.path.exists() and any(self.path.iterdir()):
            raise ValueError(
                f"store path {self.path} exists and is not a sweep store; choose another path"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        attrs = {
            "format": STORE_FORMAT,
            "definition": definition,
            "definition_sha256": digest,
            "layout": layout,
        }
        self.zarr.create_group(str(self.path), attributes=attrs, overwrite=False)
        return layout

    # --- arrays -------------------------------------------------------------
    def ensure_array(self, name: str, shape, chunks, dims, dtype="float64", fill=np.nan, data=None):
        """Create array ``name`` atomically (built aside, then renamed in) if missing."""
        target = self.path / name
        if name in self._arrays or (target / "zarr.json").is_file():
            return
        if target.exists():  # a rename cannot leave this, but a hand-made dir can
            shutil.rmtree(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.path))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # zarr warns that str dtypes are not in the v3 spec
                arr = self.zarr.create_array(
                    str(tmp),
                    shape=shape,
                    chunks=chunks,
                    dtype=dtype,
                    fill_value=fill,
                    dimension_names=list(dims),
                    overwrite=True,
                )
                if data is not None:
                    arr[...] = data
            try:
                os.replace(tmp, target)
            except OSError:
                # another process running the same sweep created it first: same array
                if not (target / "zarr.json").is_file():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        self._group = None  # re-open to see the new member

    def array(self, name: str):
        if name not in self._arrays:
            self._arrays[name] = self.zarr.open_array(str(self.path / name), mode="r+")
        return self._arrays[name]

    def variables(self) -> list[str]:
        attrs = self.attrs()
        coord_names = set(attrs["layout"]["coords"])
        return sorted(
            p.name
            for p in self.path.iterdir()
            if p.name not in coord_names and not p.name.startswith((".", "_")) and _is_array(p)
        )

    # --- markers ------------------------------------------------------------
    def marker_path(self, task: Task) -> Path:
        return self.path / _DONE_DIR / f"{task.id}.json"

    def read_marker(self, task: Task, digest: str) -> dict | None:
        path = self.marker_path(task)
        try:
            marker = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(marker, dict) or marker.get("definition_sha256") != digest:
            return None
        return marker

    def write_task(self, spec: SweepSpec, task: Task, arrays, layout: dict, digest: str) -> None:
        """Write the task's data chunk(s), then its marker (atomically)."""
        Lmax, Tmax = layout["layers"], layout["steps"]
        region, padded = _block(spec, task, arrays, Lmax, Tmax)
        for name, block in padded.items():
            self.ensure_array(name, layout["shape"], layout["chunks"], layout["dims"])
            self.array(name)[region] = block
        marker = {
            "task": task.id,
            "definition_sha256": digest,
            "data_sha256": _digest(padded),
            "variables": sorted(padded),
            "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self._ensure_marker_group()
        path = self.marker_path(task)
        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(marker)))

    def _ensure_marker_group(self) -> None:
        # an (empty) Zarr group, so that Zarr and xarray readers skip it quietly
        if not (self.path / _DONE_DIR / "zarr.json").is_file():
            try:
                self.zarr.create_group(str(self.path / _DONE_DIR), overwrite=False)
            except Exception:  # created meanwhile by a concurrent run of the same sweep
                if not (self.path / _DONE_DIR / "zarr.json").is_file():
                    raise

    def read_region(self, spec: SweepSpec, task: Task, names: Sequence[str], layout: dict):
        region = spec.grid.multi_index(task.point)
        if spec.has_rep:
            region = (*region, slice(task.rep_start, task.rep_stop))
        out = {}
        for name in names:
            if not (self.path / name / "zarr.json").is_file():
                return None
            out[name] = np.asarray(self.array(name)[region], dtype=np.float64)
        return out


def _is_array(path: Path) -> bool:
    try:
        return json.loads((path / "zarr.json").read_text()).get("node_type") == "array"
    except (OSError, ValueError):
        return False


def _explain_mismatch(stored: Mapping[str, Any], asked: Mapping[str, Any]) -> str:
    diffs = []
    for key in sorted(set(stored) | set(asked)):
        a, b = stored.get(key), asked.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for sub in sorted(set(a) | set(b)):
                if a.get(sub) != b.get(sub):
                    diffs.append(
                        f"{key}.{sub}: {a.get(sub)!r} in the store vs {b.get(sub)!r} asked"
                    )
        else:
            diffs.append(f"{key}: {a!r} in the store vs {b!r} asked")
    return "; ".join(diffs[:4]) + ("; ..." if len(diffs) > 4 else "")


def _layout(spec: SweepSpec, chunk_reps: int) -> dict[str, Any]:
    Lmax, Tmax = spec.max_layers(), spec.max_steps()
    dims = list(spec.grid.dims)
    shape = list(spec.grid.shape)
    chunks = [1] * len(dims)
    if spec.has_rep:
        dims.append("rep")
        shape.append(spec.reps)
        chunks.append(chunk_reps)
    dims += ["layer", "time"]
    shape += [Lmax + 1, Tmax]
    chunks += [Lmax + 1, Tmax]
    coords = list(spec.grid.dims) + (["rep"] if spec.has_rep else []) + ["layer", "time"]
    return {
        "dims": dims,
        "shape": shape,
        "chunks": chunks,
        "chunk_reps": chunk_reps if spec.has_rep else None,
        "layers": Lmax,
        "steps": Tmax,
        "coords": coords,
    }


def _write_coords(store: SweepStore, spec: SweepSpec, layout: dict) -> None:
    for dim, values in zip(spec.grid.dims, spec.grid.values):
        data = np.asarray(values)
        dtype = str if data.dtype.kind in "US" else data.dtype
        store.ensure_array(
            dim,
            [len(values)],
            [len(values)],
            [dim],
            dtype=dtype,
            fill=None if dtype is str else 0,
            data=data,
        )
    extra = [("layer", layer_coord(layout["layers"])), ("time", time_coord(layout["steps"]))]
    if spec.has_rep:
        extra.insert(0, ("rep", np.arange(spec.reps)))
    for dim, data in extra:
        store.ensure_array(dim, [len(data)], [len(data)], [dim], dtype="int64", fill=0, data=data)


# ---------------------------------------------------------------------------
# running


def _resolve_client(client, workers):
    """Return ``(client, close)`` for the requested engine; ``(None, noop)`` in-process."""
    if client is not None and workers is not None:
        raise ValueError(
            "give either client= (an existing cluster) or workers= (a local one), not both"
        )
    if client is None and workers is None:
        return None, lambda: None
    try:
        from distributed import Client, LocalCluster
    except ModuleNotFoundError:
        raise ImportError(
            "client=/workers= need dask.distributed: pip install 'snninit[distributed]'"
        ) from None
    if workers is not None:
        workers = check_int("workers", workers, low=1, high=4096)
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
    """Run ``spec`` (skipping tasks already in ``store``) and return the whole sweep."""
    definition = spec.definition()
    digest = _definition_hash(definition)
    if chunk_reps is not None:
        if not spec.has_rep:
            raise ValueError("chunk_reps applies to simulations only")
        chunk_reps = check_int("chunk_reps", chunk_reps, low=1, high=spec.reps)
    st = SweepStore(store) if store is not None else None
    if st is not None:
        layout = _layout(spec, chunk_reps or min(spec.reps or 1, _DEFAULT_CHUNK_REPS))
        if st.exists():
            layout_in_store = st.create_or_check(definition, layout)
            if chunk_reps is not None and layout_in_store["chunk_reps"] != chunk_reps:
                raise ValueError(
                    f"store {st.path} was written with chunk_reps={layout_in_store['chunk_reps']}; "
                    f"got chunk_reps={chunk_reps} (results do not depend on it: omit it to resume)"
                )
            layout = layout_in_store
        else:
            st.create_or_check(definition, layout)
        _write_coords(st, spec, layout)
    else:
        layout = _layout(spec, chunk_reps or min(spec.reps or 1, _DEFAULT_CHUNK_REPS))
    tasks = spec.tasks(layout["chunk_reps"] or 1)

    memory: dict[str, np.ndarray] = {}
    done: set[str] = set()
    if st is not None:
        done = _verified_done(st, spec, tasks, layout, digest)
    pending = [t for t in tasks if t.id not in done]

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
    extra = {
        "seed": spec.seed,
        "reps": spec.reps,
        "sweep_dims": ",".join(spec.grid.dims),
        "sweep_definition": json.dumps(definition, sort_keys=True),
        "sweep_definition_sha256": digest,
        **spec.options,
        **(attrs or {}),
    }
    return _finish(ds, spec, extra)


def _verified_done(st: SweepStore, spec, tasks, layout, digest) -> set[str]:
    """Tasks whose marker exists and whose data still hashes to the marker's digest."""
    done = set()
    for task in tasks:
        marker = st.read_marker(task, digest)
        if marker is None:
            continue
        data = st.read_region(spec, task, marker["variables"], layout)
        if data is not None and _digest(data) == marker["data_sha256"]:
            done.add(task.id)
        else:
            warnings.warn(
                f"sweep store {st.path}: task {task.id} does not match its completion "
                "marker; recomputing it",
                RuntimeWarning,
                stacklevel=3,
            )
            st.marker_path(task).unlink(missing_ok=True)
    return done


def _read_verified(st: SweepStore, spec, tasks, layout, digest, partial=False):
    names = st.variables()
    memory = {name: np.asarray(st.array(name)[...], dtype=np.float64) for name in names}
    missing = []
    for task in tasks:
        marker = st.read_marker(task, digest)
        region = spec.grid.multi_index(task.point)
        if spec.has_rep:
            region = (*region, slice(task.rep_start, task.rep_stop))
        ok = marker is not None and all(n in memory for n in marker["variables"])
        if ok:
            data = {n: memory[n][region] for n in marker["variables"]}
            ok = _digest(data) == marker["data_sha256"]
            if not ok and marker is not None:
                raise ValueError(
                    f"sweep store {st.path}: task {task.id} was changed after it was written "
                    "(data does not match its completion marker); rerun the sweep to recompute it"
                )
        if not ok:
            missing.append(task)
            for arr in memory.values():
                arr[region] = np.nan
    if missing and not partial:
        raise ValueError(
            f"sweep store {st.path} is incomplete: {len(missing)} of {len(tasks)} tasks not done "
            "(rerun the sweep to finish it, or open it with partial=True)"
        )
    return memory


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


# ---------------------------------------------------------------------------
# the simulation sweep


def simulate_chunk(
    cfg: NetworkConfig, seed: int, reps: Sequence[int], method: str = "dense"
) -> xr.Dataset:
    """Repetitions ``reps`` (a range) of ``simulate(cfg, reps=..., seed=seed, method=method)``.

    The engine gives repetition ``r`` its own generator
    (``rep_generator(seed, r)``), so repetitions ``a..b-1`` can be drawn
    without the ones before ``a``: the result equals
    ``simulate(cfg, reps=b, seed=seed, method=method).isel(rep=slice(a, b))``
    (a test checks this), at the cost of ``b - a`` repetitions
    (:func:`snninit.montecarlo.engine.simulate_range`).
    """
    from . import engine as E

    start, stop = int(reps[0]), int(reps[-1]) + 1
    if method == "gram" and cfg.weights != "normal":
        E.simulate(cfg, reps=1, seed=seed, method=method)  # raises the engine's ValueError
    return E.simulate_range(cfg, start, stop, seed, method)


def _qualname(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def sweep(
    cfg: NetworkConfig,
    over: Mapping[str, Iterable[Any]],
    *,
    reps: int,
    seed: int = 0,
    method: str = "dense",
    store: str | os.PathLike | None = None,
    client: Any = None,
    workers: int | None = None,
    chunk_reps: int | None = None,
    progress: bool = False,
    task: Callable[..., xr.Dataset] | None = None,
) -> xr.Dataset:
    """Simulate ``cfg`` on every point of a parameter grid, resumably and optionally distributed.

    Parameters
    ----------
    cfg : NetworkConfig
        The base network; every grid point replaces the swept fields.
    over : mapping of str to list
        Swept fields and their values, e.g. ``{"theta": [0, 0.5, 1],
        "init": ["micheli", "kaiming"]}``; keys from :data:`SWEEPABLE`
        (``n`` is an alias of ``width`` whose dim is called ``n``). The
        result has one dim per key, in this order.
    reps : int
        Independent networks per grid point (the ``rep`` dim).
    seed : int
        Master seed. Point ``c`` is ``simulate(cfg_c, reps,
        seed=point_seed(seed, c), method=method)`` exactly, whatever the
        chunking, scheduling, retries or resumption.
    method : {"dense", "gram"}
        Passed to :func:`snninit.montecarlo.simulate`.
    store : path, optional
        Zarr directory. Finished tasks are written as they complete; rerunning
        the same sweep skips them. A store written by a different sweep
        definition raises ``ValueError``. Needs ``zarr``.
    client : dask.distributed.Client, str or cluster, optional
        Run the tasks on this cluster: a ``Client``, a scheduler address
        (``"tcp://host:8786"``), or a cluster object (``LocalCluster``,
        ``dask_jobqueue.SLURMCluster``...). ``None`` (default) runs in-process
        without importing dask.
    workers : int, optional
        Start a ``LocalCluster`` with this many single-threaded worker
        processes for the duration of the call (instead of ``client``).
    chunk_reps : int, optional
        Repetitions per task (default ``min(reps, 100)``, or the store's value
        when resuming). Affects scheduling granularity only, never the numbers.
    progress : bool
        Show a progress bar (tqdm) over tasks.
    task : callable, optional
        Replace the engine: ``task(cfg, seed, reps, method=method)`` gets the
        point's seed and a ``range`` of repetition indices and must return a
        Dataset over ``(rep, layer, time)`` with ``len(reps)`` repetitions,
        repetition ``r`` depending on ``(cfg, seed, r)`` only. Its qualified
        name is part of the sweep definition.

    Returns
    -------
    xarray.Dataset
        Variables of :func:`~snninit.montecarlo.simulate` (float64) over
        ``(*over, rep, layer, time)``; with ``valid`` when ``layers`` or
        ``steps`` is swept (NaN padding elsewhere). attrs: the base config,
        ``seed``, ``reps``, ``method``, ``sweep_dims`` and the full
        definition (``sweep_definition``, JSON).
    """
    grid = make_grid(cfg, over)
    reps = check_int("reps", reps, low=1, high=10_000_000)
    seed = check_int("seed", seed, low=0)
    method = check_choice("method", method, ("dense", "gram"))
    fn = simulate_chunk if task is None else task
    spec = SweepSpec(
        kind="simulation",
        base=cfg,
        grid=grid,
        reps=reps,
        seed=seed,
        options={"method": method},
        engine="snninit.montecarlo.simulate" if task is None else _qualname(task),
        fn=fn,
    )
    return run_sweep(
        spec, store=store, client=client, workers=workers, chunk_reps=chunk_reps, progress=progress
    )


# ---------------------------------------------------------------------------
# reading a store


def _spec_from_store(st: SweepStore, fn=None) -> tuple[SweepSpec, dict]:
    attrs = st.attrs()
    d = attrs["definition"]
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
    return spec, attrs


def open_sweep(store: str | os.PathLike, *, partial: bool = False) -> xr.Dataset:
    """Read a sweep store into memory, verifying every chunk against its marker.

    ``partial=True`` returns an unfinished sweep with NaN where tasks are
    missing; otherwise an unfinished store raises ``ValueError``.
    """
    st = SweepStore(store)
    if not st.exists():
        raise FileNotFoundError(f"no sweep store at {store}")
    spec, attrs = _spec_from_store(st)
    layout = attrs["layout"]
    digest = attrs["definition_sha256"]
    tasks = spec.tasks(layout["chunk_reps"] or 1)
    memory = _read_verified(st, spec, tasks, layout, digest, partial=partial)
    ds = _assemble(spec, layout, memory)
    d = attrs["definition"]
    extra = {
        "seed": spec.seed,
        "reps": spec.reps,
        "sweep_dims": ",".join(spec.grid.dims),
        "sweep_definition": json.dumps(d, sort_keys=True),
        "sweep_definition_sha256": digest,
        **spec.options,
    }
    return _finish(ds, spec, extra)


def sweep_status(store: str | os.PathLike) -> dict[str, Any]:
    """What a sweep store holds: definition, tasks done, points complete, what is missing.

    Markers are counted, not verified (cheap); :func:`open_sweep` verifies.
    """
    st = SweepStore(store)
    if not st.exists():
        raise FileNotFoundError(f"no sweep store at {store}")
    spec, attrs = _spec_from_store(st)
    layout = attrs["layout"]
    digest = attrs["definition_sha256"]
    tasks = spec.tasks(layout["chunk_reps"] or 1)
    done_ids = {t.id for t in tasks if st.read_marker(t, digest) is not None}
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
        "points_total": spec.grid.size,
        "points_done": spec.grid.size - len(incomplete),
        "incomplete": incomplete,
        "complete": len(done_ids) == len(tasks),
    }
