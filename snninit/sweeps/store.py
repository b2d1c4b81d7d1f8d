"""The verified Zarr store of a sweep: one array per variable, one chunk and one marker per task.

A Zarr v3 group, one array per variable with dims ``(*swept, rep, layer,
time)`` and one Zarr chunk per task (chunk shape ``(1, ..., 1, chunk_reps,
L+1, T)``), so every task writes exactly one chunk file per variable and no
two tasks ever touch the same file; a task counts as done only when its
completion marker exists and its chunks hash to the marker's digest
(:mod:`snninit.sweeps.verify`). See :mod:`snninit.sweeps` for the design.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._dataset import atomic_write, data_digest, layer_coord, time_coord

if TYPE_CHECKING:
    from .runner import SweepSpec, Task

__all__ = ["SweepStore", "StoreDamagedError", "STORE_FORMAT"]

#: Store format tag (bump when the layout changes).
STORE_FORMAT = "snninit-sweep/1"
_DONE_DIR = "_snninit_done"
_DEFAULT_CHUNK_REPS = 100


def _definition_hash(definition: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()


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
