"""Verification of a sweep store: one function behind ``--status``, every resume and ``open_sweep``.

:func:`verify_store` decodes every chunk of every marked task and hashes it
against the task's completion marker. A task whose chunk does not decode,
does not match, or whose marker or array metadata is damaged is *damaged*:
status lists it, ``open_sweep`` refuses the store naming it, and a rerun
recomputes exactly the damaged tasks (:func:`_repair`), ending bit-identical
to an undamaged run. A store whose definition is damaged is rewritten only
when its completion markers (which carry the definition's checksum) name
the sweep being run (:func:`_open_to_resume`).
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .store import (
    _DEFAULT_CHUNK_REPS,
    _DONE_DIR,
    StoreDamagedError,
    SweepStore,
    _chunk_reps_on_disk,
    _coord_values,
    _definition_hash,
    _digest,
    _layout,
    _layout_problem,
    _one_line,
)

if TYPE_CHECKING:
    from .runner import SweepSpec, Task

__all__ = ["StoreCheck", "verify_store"]


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
