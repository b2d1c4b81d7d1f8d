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
definition (base config, grid, reps, seed, method, engine, version) and its
SHA-256; a store written by a different definition is refused.

*Verification (issue 15).* One function, :func:`verify_store`, is behind
``--status``/:func:`sweep_status`, every resume and :func:`open_sweep`: it
decodes every chunk of every marked task and hashes it against the marker. A
task whose chunk does not decode, does not match, or whose marker or array
metadata is damaged is *damaged*: status lists it, ``open_sweep`` refuses the
store naming it, and a rerun recomputes exactly the damaged tasks (damaged
arrays and coordinates are rebuilt), ending bit-identical to an undamaged
run. A definition that no longer hashes to its checksum (or an unreadable or
missing ``zarr.json``) is described as damaged, never reported; a rerun of
the sweep that wrote it rewrites it, provided the completion markers (which
carry the definition's checksum) name that sweep.

*Nothing before validation.* Every grid point's config and the task
function's own checks (``check``) run before the store is touched, and a new
store is created only when the first result is written, so a refused or
failed run leaves no store that would refuse the corrected command.

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
import itertools
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

from .._checks import check_choice, check_int, check_path
from .._dataset import atomic_write, data_digest, finish_dataset, layer_coord, time_coord
from ..config import NetworkConfig, check_config, check_limit

__all__ = [
    "sweep",
    "open_sweep",
    "sweep_status",
    "verify_store",
    "point_seed",
    "simulate_chunk",
    "SWEEPABLE",
    "MAX_GRID_POINTS",
]

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
#: Most points a grid may have (the product of the numbers of swept values), checked
#: before any configuration is built: ``theta=0:1:100000000`` is a typo, not a sweep.
MAX_GRID_POINTS = 100_000
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
    cfg = check_config(cfg)
    if over is None:
        over = {}
    if not isinstance(over, Mapping):
        raise ValueError(
            f"over must be a mapping {{name: values}} with names in {', '.join(SWEEPABLE)}; "
            f"got {type(over).__name__}"
        )
    dims, fields, values = [], [], []
    points = 1
    for dim, raw in over.items():
        check_choice("over key", dim, SWEEPABLE)
        field = _ALIASES.get(dim, dim)
        if field in fields:
            raise ValueError(f"over sweeps {field!r} twice (as {dim!r} and an alias)")
        if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
            raise ValueError(f"over[{dim!r}] must be a list of values; got {raw!r}")
        # the size first (an iterator is read only up to the limit): no config is built
        # for a grid that is refused anyway
        if not hasattr(raw, "__len__"):
            raw = list(itertools.islice(raw, MAX_GRID_POINTS + 1))
        points *= max(len(raw), 1)
        if points > MAX_GRID_POINTS:
            counts = [str(len(v)) for v in values] + [str(len(raw))]
            size = f"{' x '.join(counts)} = {points}" if values else str(points)
            raise ValueError(
                f"over has at least {size} grid points; at most "
                f"{MAX_GRID_POINTS} are allowed: sweep fewer values, or split the grid "
                "into several sweeps"
            )
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


#: sha256 of named arrays (shared with the dataset cache of :mod:`snninit._dataset`).
_digest = data_digest


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


class StoreDamagedError(ValueError):
    """The store's own metadata (definition, checksum, layout) is unreadable or inconsistent."""


class SweepStore:
    """A Zarr v3 group holding one sweep, with per-task completion markers."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.zarr = _require_zarr()
        self._arrays: dict[str, Any] = {}  # opened arrays (opening reads metadata)

    # --- opening -----------------------------------------------------------
    def exists(self) -> bool:
        """A sweep store is here: its metadata, or (metadata lost) its completion markers."""
        return (self.path / "zarr.json").is_file() or (self.path / _DONE_DIR).is_dir()

    def check_creatable(self) -> None:
        """Refuse (before any work) a path that is neither absent, empty nor a sweep store."""
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"store path {self.path} is a file; choose another path")
        # a kill while the first zarr.json was being written can leave only its temporary file
        if self.path.is_dir() and any(
            not (p.name.startswith(".zarr.json.") and p.name.endswith(".tmp"))
            for p in self.path.iterdir()
        ):
            raise ValueError(
                f"store path {self.path} exists and is not a sweep store; choose another path"
            )

    def inspect(self) -> tuple[dict | None, str | None]:
        """The group's attributes as stored, and what is wrong with them (``None``: intact).

        Reads ``zarr.json`` itself (not through Zarr) so that a damaged file
        is described rather than raised from deep inside Zarr. The definition
        must hash to the stored ``definition_sha256``: an edited or corrupted
        definition is never reported as fact.
        """
        try:
            text = (self.path / "zarr.json").read_bytes()
        except FileNotFoundError:
            return None, "zarr.json is missing"
        except OSError as exc:
            raise ValueError(
                f"{self.path} is not a readable sweep store ({_one_line(exc)})"
            ) from None
        try:
            meta = json.loads(text)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            return None, f"zarr.json is not valid JSON: {_one_line(exc)}"
        attrs = meta.get("attributes") if isinstance(meta, dict) else None
        if not isinstance(attrs, dict) or not (
            attrs.get("format") == STORE_FORMAT or "definition" in attrs
        ):
            if (self.path / _DONE_DIR).is_dir():  # our completion markers: our store, damaged
                return None, "zarr.json holds no snninit sweep attributes"
            fmt = attrs.get("format") if isinstance(attrs, dict) else None
            raise ValueError(
                f"{self.path} is a Zarr store but not an snninit sweep store "
                f"(format {fmt!r}); choose another store path"
            )
        if meta.get("node_type") != "group" or meta.get("zarr_format") != 3:
            return attrs, "zarr.json is not the metadata of a Zarr v3 group"
        if attrs.get("format") != STORE_FORMAT:
            return attrs, f"format tag {attrs.get('format')!r}, expected {STORE_FORMAT!r}"
        definition, digest = attrs.get("definition"), attrs.get("definition_sha256")
        if not isinstance(definition, dict):
            return attrs, "the definition is missing or not a JSON object"
        if not isinstance(digest, str):
            return attrs, "its checksum definition_sha256 is missing"
        if _definition_hash(definition) != digest:
            return attrs, "checksum mismatch: the definition was edited or corrupted"
        if not isinstance(attrs.get("layout"), dict):
            return attrs, "the layout is missing or not a JSON object"
        return attrs, None

    def attrs(self) -> dict[str, Any]:
        attrs, problem = self.inspect()
        if problem is not None:
            raise StoreDamagedError(
                f"sweep store {self.path}: its definition is damaged ({problem}); rerun the "
                "sweep that wrote it to repair it, or delete the store"
            )
        return attrs

    def write_attrs(self, definition: dict, layout: dict) -> None:
        """(Re)write the group's metadata atomically (a new store, or a repaired one)."""
        self.path.mkdir(parents=True, exist_ok=True)
        meta = {
            "zarr_format": 3,
            "node_type": "group",
            "attributes": {
                "format": STORE_FORMAT,
                "definition": definition,
                "definition_sha256": _definition_hash(definition),
                "layout": layout,
            },
        }
        atomic_write(
            self.path / "zarr.json",
            lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)),
        )

    def check_definition(self, definition: dict) -> dict:
        """Check that this (existing) store holds ``definition``; return its layout."""
        attrs = self.attrs()
        if attrs["definition_sha256"] != _definition_hash(definition):
            why = _explain_mismatch(attrs["definition"], definition)
            raise ValueError(
                f"store {self.path} holds a different sweep ({why}); refusing to mix "
                "results: use another store path, or delete this one"
            )
        return attrs["layout"]

    def create(self, definition: dict, layout: dict) -> dict:
        """Create the store (called when the first result is ready to be written).

        Returns the layout in use: a concurrent run of the same sweep may have
        created it meanwhile, and then its layout is kept.
        """
        if (self.path / "zarr.json").is_file():
            return self.check_definition(definition)
        self.check_creatable()
        self.write_attrs(definition, layout)
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

    def remove_array(self, name: str) -> None:
        """Delete a damaged array (its tasks are recomputed and it is rebuilt)."""
        self._arrays.pop(name, None)
        target = self.path / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()

    def array(self, name: str):
        if name not in self._arrays:
            self._arrays[name] = self.zarr.open_array(str(self.path / name), mode="r+")
        return self._arrays[name]

    def variables(self, layout: dict) -> list[str]:
        coord_names = set(layout["coords"])
        return sorted(
            p.name
            for p in self.path.iterdir()
            if p.name not in coord_names and not p.name.startswith((".", "_")) and _is_array(p)
        )

    # --- markers ------------------------------------------------------------
    def marker_path(self, task: Task) -> Path:
        return self.path / _DONE_DIR / f"{task.id}.json"

    def read_marker(self, task: Task, digest: str) -> tuple[dict | None, str | None]:
        """``(marker, problem)``: ``(None, None)`` if the task has no marker of this sweep."""
        path = self.marker_path(task)
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            return None, f"its completion marker cannot be read ({_one_line(exc)})"
        try:
            marker = json.loads(text)
        except ValueError:
            return None, "its completion marker is not valid JSON"
        if not isinstance(marker, dict):
            return None, "its completion marker is not a JSON object"
        if marker.get("definition_sha256") != digest:
            return None, None  # another sweep's marker: this task is simply not done
        names = marker.get("variables")
        if (
            marker.get("task") != task.id
            or not isinstance(marker.get("data_sha256"), str)
            or not isinstance(names, list)
            or not names
            or not all(isinstance(n, str) and n and not n.startswith((".", "_")) for n in names)
        ):
            return None, "its completion marker is damaged (fields missing or wrong)"
        return marker, None

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


def _one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (messages from Zarr/numcodecs can span lines)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


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
    if not diffs:  # equal definitions with unequal checksums are caught as damage first
        return "same definition, different checksum"
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


def _coord_values(spec: SweepSpec, layout: dict) -> dict[str, np.ndarray]:
    """The store's coordinate arrays as the sweep defines them."""
    out = {dim: np.asarray(values) for dim, values in zip(spec.grid.dims, spec.grid.values)}
    if spec.has_rep:
        out["rep"] = np.arange(spec.reps)
    out["layer"] = np.asarray(layer_coord(layout["layers"]))
    out["time"] = np.asarray(time_coord(layout["steps"]))
    return out


def _write_coords(store: SweepStore, spec: SweepSpec, layout: dict) -> None:
    for dim, data in _coord_values(spec, layout).items():
        if dim in spec.grid.dims:
            dtype = str if data.dtype.kind in "US" else data.dtype
            fill = None if dtype is str else 0
        else:
            dtype, fill = "int64", 0
        store.ensure_array(dim, [len(data)], [len(data)], [dim], dtype=dtype, fill=fill, data=data)


def _layout_problem(spec: SweepSpec, layout: Any) -> str | None:
    """What is wrong with a stored layout attribute, given the definition (None: intact)."""
    if not isinstance(layout, dict):
        return "the layout is missing or not a JSON object"
    chunk_reps = layout.get("chunk_reps")
    if spec.has_rep and not (
        isinstance(chunk_reps, int)
        and not isinstance(chunk_reps, bool)
        and 1 <= chunk_reps <= spec.reps
    ):
        return f"the layout's chunk_reps is {chunk_reps!r}"
    want = _layout(spec, chunk_reps or 1)
    bad = sorted(k for k in set(want) | set(layout) if layout.get(k) != want.get(k))
    if bad:
        return f"the layout's {', '.join(bad)} do not follow from the definition"
    return None


def _stored_layout(st: SweepStore, spec: SweepSpec, layout: Any) -> dict:
    """The store's layout attribute, checked against the one its definition implies."""
    problem = _layout_problem(spec, layout)
    if problem is not None:
        raise StoreDamagedError(
            f"sweep store {st.path}: its definition is damaged ({problem}); rerun the sweep "
            "that wrote it to repair it, or delete the store"
        )
    return layout


def _chunk_reps_on_disk(st: SweepStore, spec: SweepSpec) -> int | None:
    """``chunk_reps`` as the variable arrays' own metadata records it (for a repair)."""
    axis = len(spec.grid.dims)
    for path in sorted(st.path.iterdir()):
        try:
            meta = json.loads((path / "zarr.json").read_text())
            chunk = meta["chunk_grid"]["configuration"]["chunk_shape"]
            if meta.get("node_type") == "array" and len(chunk) == axis + 3:
                value = int(chunk[axis])
                if 1 <= value <= spec.reps:
                    return value
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            continue
    return None


# ---------------------------------------------------------------------------
# verification: one function behind --status, resume and open_sweep


@dataclasses.dataclass
class StoreCheck:
    """What :func:`verify_store` found."""

    done: list[Task]  # marker present, every chunk decodes and hashes to the marker's digest
    missing: list[Task]  # no marker of this sweep: never finished (a kill, an error)
    damaged: dict[str, str]  # task id -> why its marker or chunks do not check out
    arrays: dict[str, str]  # array name -> why its metadata (or a coordinate's values) is wrong

    @property
    def ok(self) -> bool:
        return not self.damaged and not self.arrays


def _check_variable(st: SweepStore, name: str, layout: dict) -> str | None:
    """Why variable array ``name`` cannot hold this sweep's chunks (None: it can)."""
    if not (st.path / name / "zarr.json").is_file():
        return "missing"
    try:
        arr = st.array(name)
    except Exception as exc:
        return f"its metadata cannot be read ({_one_line(exc)})"
    if (
        list(arr.shape) != list(layout["shape"])
        or list(arr.chunks) != list(layout["chunks"])
        or arr.dtype != np.float64
    ):
        return (
            f"shape {list(arr.shape)}, chunks {list(arr.chunks)}, dtype {arr.dtype}; the layout "
            f"says {layout['shape']}, {layout['chunks']}, float64"
        )
    return None


def _check_coordinates(st: SweepStore, spec: SweepSpec, layout: dict) -> dict[str, str]:
    bad = {}
    for dim, want in _coord_values(spec, layout).items():
        if not (st.path / dim / "zarr.json").is_file():
            bad[dim] = "coordinate missing"
            continue
        try:
            got = np.asarray(st.array(dim)[...])
        except Exception as exc:
            bad[dim] = f"coordinate does not decode ({_one_line(exc)})"
            continue
        if got.shape != want.shape or not all(a == b for a, b in zip(got.tolist(), want.tolist())):
            bad[dim] = "coordinate values differ from the sweep's"
    return bad


def verify_store(
    st: SweepStore,
    spec: SweepSpec,
    tasks: Sequence[Task],
    layout: dict,
    digest: str,
    sink: Callable[[Task, dict[str, np.ndarray]], None] | None = None,
) -> StoreCheck:
    """Decode every chunk of every finished task and check it against its completion marker.

    The one verification behind :func:`sweep_status`, resuming and
    :func:`open_sweep`. A task is *done* only if its marker (of this
    definition) is readable, every variable it lists has intact array
    metadata, every chunk decodes, and the chunks hash to the marker's
    ``data_sha256``; a task with a marker that fails any of these is
    *damaged*; a task without a marker is *missing*. ``sink(task, data)``
    receives the decoded arrays of every done task.
    """
    coord_names = set(layout["coords"])
    arrays = _check_coordinates(st, spec, layout)
    checked: dict[str, str | None] = {}

    def variable_problem(name: str) -> str | None:
        if name not in checked:
            checked[name] = _check_variable(st, name, layout)
            if checked[name] is not None:
                arrays[name] = checked[name]
        return checked[name]

    if st.path.is_dir():  # arrays on disk, referenced by a marker or not (a rerun writes them)
        for path in st.path.iterdir():
            if (path / "zarr.json").is_file() and not path.name.startswith((".", "_")):
                if path.name not in coord_names:
                    variable_problem(path.name)
    done, missing, damaged = [], [], {}
    for task in tasks:
        marker, problem = st.read_marker(task, digest)
        if marker is None:
            if problem is None:
                missing.append(task)
            else:
                damaged[task.id] = (
                    f"({_task_where(spec, task)}) has a damaged completion marker ({problem})"
                )
            continue
        region = spec.grid.multi_index(task.point)
        if spec.has_rep:
            region = (*region, slice(task.rep_start, task.rep_stop))
        data, why = {}, None
        for name in marker["variables"]:
            if name in coord_names:
                why = f"its completion marker lists {name}, a coordinate"
            elif variable_problem(name) is not None:
                why = f"its {name} array is damaged ({checked[name]})"
            else:
                try:
                    data[name] = np.asarray(st.array(name)[region], dtype=np.float64)
                    continue
                except Exception as exc:
                    why = f"its {name} chunk does not decode ({_one_line(exc)})"
            break
        if why is None and _digest(data) != marker["data_sha256"]:
            why = "its data were changed or deleted after it was written"
        if why is not None:
            damaged[task.id] = (
                f"({_task_where(spec, task)}) does not match its completion marker: {why}"
            )
            continue
        done.append(task)
        if sink is not None:
            sink(task, data)
    return StoreCheck(done, missing, damaged, arrays)


def _task_where(spec: SweepSpec, task: Task) -> str:
    parts = [f"{k}={v}" for k, v in spec.grid.coords(task.point).items()]
    if spec.has_rep:
        parts.append(f"reps {task.rep_start}-{task.rep_stop - 1}")
    return ", ".join(parts) or "the base point"


def _damage(check: StoreCheck, limit: int = 3) -> str:
    """One line naming what :func:`verify_store` found damaged (the first ``limit`` items)."""
    items = [f"array {name}: {why}" for name, why in sorted(check.arrays.items())]
    items += [f"task {tid} {why}" for tid, why in check.damaged.items()]
    head = "; ".join(items[:limit])
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    return head + more


# ---------------------------------------------------------------------------
# running


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


def _open_to_resume(st: SweepStore, spec: SweepSpec, definition: dict, chunk_reps) -> dict:
    """Check an existing store against ``definition`` and return its layout.

    A store whose own metadata is damaged is repaired only when this sweep is
    provably the one that wrote it. Finished work is identified by its
    completion markers, each of which carries the checksum of the definition
    that wrote it: if the store has markers, this sweep must be theirs (so an
    edited definition can never hand the finished work of one sweep to
    another); without markers (nothing finished) the stored checksum or the
    stored definition must match this sweep's. The metadata is then rewritten
    atomically and every chunk verified as usual.
    """
    digest = _definition_hash(definition)
    attrs, problem = st.inspect()
    if problem is None:
        layout = st.check_definition(definition)
        problem = _layout_problem(spec, layout)
        if problem is None:
            return layout
        ours = True  # the definition is intact and is this one: only the layout is damaged
    else:
        stored = attrs if isinstance(attrs, dict) else {}
        marks = _marker_digests(st)
        if marks:
            ours = digest in marks
            why = "its completion markers belong to another sweep"
        else:
            ours = digest == stored.get("definition_sha256") or (
                isinstance(stored.get("definition"), dict)
                and digest == _definition_hash(stored["definition"])
            )
            why = "neither its checksum nor its definition is this sweep's"
        if not ours:
            raise StoreDamagedError(
                f"sweep store {st.path}: its definition is damaged ({problem}) and {why}; "
                "rerun the sweep that wrote it to repair it, use another store path, or "
                "delete this one"
            )
    layout = attrs.get("layout") if isinstance(attrs, dict) else None
    if _layout_problem(spec, layout) is not None:
        found = _chunk_reps_on_disk(st, spec) if spec.has_rep else None
        layout = _layout(spec, found or chunk_reps or min(spec.reps or 1, _DEFAULT_CHUNK_REPS))
    st.write_attrs(definition, layout)
    warnings.warn(
        f"sweep store {st.path}: its definition was damaged ({problem}); rewrote it from this "
        "sweep, which its completion markers (or its checksum) identify",
        RuntimeWarning,
        stacklevel=3,
    )
    return layout


def _marker_digests(st: SweepStore) -> set[str]:
    """The definition checksums that the store's completion markers carry."""
    folder = st.path / _DONE_DIR
    found = set()
    for path in folder.glob("p*_c*.json") if folder.is_dir() else ():
        try:
            value = json.loads(path.read_text()).get("definition_sha256")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, str):
            found.add(value)
    return found


def _repair(st: SweepStore, spec: SweepSpec, check: StoreCheck) -> None:
    """Before a resume: drop what verification found damaged, so that it is recomputed."""
    if check.ok:
        return
    n, k = len(check.damaged), len(check.arrays)
    what = [f"recomputing {n} damaged task{'s' if n != 1 else ''}"] if n else []
    what += [f"rebuilding {k} damaged array{'s' if k != 1 else ''}"] if k else []
    warnings.warn(
        f"sweep store {st.path}: {' and '.join(what)}: {_damage(check)}",
        RuntimeWarning,
        stacklevel=3,
    )
    for name in check.arrays:
        st.remove_array(name)  # every task that lists it is damaged too, so recomputed
    for tid in check.damaged:
        (st.path / _DONE_DIR / f"{tid}.json").unlink(missing_ok=True)


def _read_verified(st: SweepStore, spec, tasks, layout, digest, partial=False):
    """Every task's data, verified; NaN where a task is missing (``partial``)."""
    memory: dict[str, np.ndarray] = {}

    def sink(task: Task, data: dict[str, np.ndarray]) -> None:
        region = spec.grid.multi_index(task.point)
        if spec.has_rep:
            region = (*region, slice(task.rep_start, task.rep_stop))
        for name, block in data.items():
            if name not in memory:
                memory[name] = np.full(layout["shape"], np.nan)
            memory[name][region] = block

    check = verify_store(st, spec, tasks, layout, digest, sink=sink)
    if not check.ok:
        raise ValueError(
            f"sweep store {st.path} is damaged: {_damage(check)}; rerun the sweep to repair "
            "it (the damaged tasks are recomputed)"
        )
    if check.missing and not partial:
        raise ValueError(
            f"sweep store {st.path} is incomplete: {len(check.missing)} of {len(tasks)} tasks "
            "not done (rerun the sweep to finish it, or open it with partial=True)"
        )
    for name in st.variables(layout):  # an unfinished store: all-NaN variables too
        memory.setdefault(name, np.full(layout["shape"], np.nan))
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


def check_simulation(cfg: NetworkConfig, method: str) -> None:
    """The engine's own refusals of ``(cfg, method)``, without simulating anything.

    ``method='gram'`` with non-Gaussian weights (raised by
    :func:`~snninit.montecarlo.simulate` itself, before any work) and weights
    whose scale would overflow the membranes (the engine's weight-moment check).
    """
    cfg = check_config(cfg)
    from . import engine as E

    if method == "gram" and cfg.weights != "normal":
        E.simulate(cfg, reps=1, seed=0, method=method)  # raises the engine's ValueError first
    E._weight_moments(cfg)


def check_chunk_resources(
    points: Sequence[tuple[Mapping[str, Any], NetworkConfig]],
    chunk_reps: int,
    method: str,
    *,
    reps: int | None = None,
    parallel: int = 1,
    threads: int | None = None,
    resumable: bool = True,
    total: bool = True,
) -> None:
    """:func:`~snninit._resources.check_runs` of the tasks of a simulation sweep.

    A task simulates ``chunk_reps`` repetitions of one grid point through
    :func:`~snninit.montecarlo.engine.simulate_range`, which skips the checks
    inside ``simulate``; so, before any task runs: one chunk of the largest
    grid point (by estimated memory; ``points`` are ``(coords, cfg)``) must
    fit in the free memory, the slowest chunk must stay within the time of
    one run (:func:`snninit._resources.max_seconds`), and the whole sweep
    (``ceil(reps / chunk_reps)`` tasks per point, ``parallel`` at a time,
    each on ``threads`` threads) within the total a resumable job may take
    (only what one run may when ``resumable`` is False: no store; not
    checked with ``total=False``, a cluster of unknown size). Raises a
    one-line ``ValueError`` naming the grid point, or the sweep's estimate
    and how to shorten it.
    """
    from .._resources import check_runs

    if not points:
        return
    per_point = 1 if reps is None else -(-int(reps) // int(chunk_reps))
    runs = []
    for coords, cfg in points:
        where = ", ".join(f"{k}={v}" for k, v in coords.items())
        runs.append((f"grid point {where}" if coords else "", cfg, per_point))
    options: dict[str, Any] = {"reps": chunk_reps, "method": method}
    if threads is not None:
        options["threads"] = threads
    check_runs(
        "simulate",
        runs,
        parallel=parallel,
        resumable=resumable,
        job="the sweep",
        total_knob=(
            "sweep fewer points or reps"
            + (", use method='gram' (--method gram)" if method == "dense" else "")
            + ", or spread it over more workers (workers=/--workers, a dask cluster)"
        ),
        run_knob="smaller chunks (--chunk-reps)",
        total_limit=None if total else math.inf,
        **options,
    )


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
    check_simulation(cfg, method)
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
        the same sweep skips them, after verifying every chunk against its
        completion marker: damaged tasks are recomputed (with a
        ``RuntimeWarning`` naming them) and a damaged definition is rewritten
        when the store's markers identify this sweep. A store written by a
        different sweep definition raises ``ValueError``. The store is
        created only when the first result is written, after everything
        (every grid point included) has been validated. Needs ``zarr``.
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
        It sets the memory of a task: one chunk of the largest grid point must
        fit in the free memory (:func:`snninit._resources.check_resources`,
        checked with everything else before the store is touched).
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
    cfg = check_config(cfg)
    grid = make_grid(cfg, over)
    reps = check_limit("reps", reps)
    seed = check_limit("seed", seed)
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
        check=(lambda c: check_simulation(c, method)) if task is None else None,
        resources=(
            (
                lambda c, n: check_chunk_resources(
                    c,
                    n,
                    method,
                    reps=reps,
                    # a local cluster: single-threaded workers; a given cluster: its size
                    # is unknown, so only each task is checked, not the total
                    parallel=1 if workers is None else int(workers),
                    threads=None if client is None and workers is None else 1,
                    resumable=store is not None,
                    total=client is None,
                )
            )
            if task is None
            else None
        ),
    )
    return run_sweep(
        spec, store=store, client=client, workers=workers, chunk_reps=chunk_reps, progress=progress
    )


# ---------------------------------------------------------------------------
# reading a store


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
    d = st.attrs()["definition"]
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
