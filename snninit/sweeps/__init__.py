"""Parameter sweeps: the runner (in-process or dask.distributed) and the verified Zarr store.

The machinery behind :func:`snninit.montecarlo.sweep` and
:func:`snninit.theory.sweep`. It is given the task function (a chunk of
simulations, or a prediction), so it imports nothing of the theory or the
Monte Carlo engine: the entry points live in their own layers and pass their
functions down; the grid, its values and its seeds are :mod:`snninit.grid`.

* :mod:`~snninit.sweeps.runner` -- :class:`SweepSpec`, tasks, running
  (:func:`run_sweep`) and reading (:func:`open_sweep`, :func:`sweep_status`);
* :mod:`~snninit.sweeps.store` -- :class:`SweepStore`, the Zarr group;
* :mod:`~snninit.sweeps.verify` -- :func:`verify_store`, repair and resume.

Design (issue 8)
----------------
*Tasks.* A sweep over ``over = {"theta": [...], "init": [...]}`` is the
Cartesian product of the values (C order, first key slowest). Every grid
point is split into chunks of ``chunk_reps`` repetitions; one (point, chunk)
is one task. Theory sweeps (:func:`snninit.theory.sweep`) have one task per
point.

*Seeds.* The grid point with swept coordinates ``c`` gets the seed
:func:`snninit.grid.point_seed` ``(seed, c)``, and its repetition ``r`` is
repetition ``r`` of ``simulate(cfg_c, reps, seed=point_seed(seed, c))``: the
engine draws every repetition from its own generator ``PCG64(SeedSequence(
point_seed, spawn_key=(r,)))``. So the numbers depend on (seed, point, rep)
only -- not on the task that runs them, the worker, a retry, nor on
``chunk_reps``: the issue asks for identical results "however the tasks are
scheduled, chunked or retried", hence seeds per repetition rather than per
chunk. Every cell of a sweep can be reproduced with the public
``simulate``. Keying by the point's *values* rather than its index leaves
every point unchanged when the grid is extended by more values.

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

from .runner import SweepSpec, Task, execute_task, open_sweep, run_sweep, sweep_status
from .store import STORE_FORMAT, StoreDamagedError, SweepStore
from .verify import StoreCheck, verify_store

__all__ = [
    "SweepSpec",
    "Task",
    "execute_task",
    "run_sweep",
    "open_sweep",
    "sweep_status",
    "SweepStore",
    "StoreDamagedError",
    "STORE_FORMAT",
    "StoreCheck",
    "verify_store",
]
