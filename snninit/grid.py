"""One grid of configurations: its cells, their seeds, their cache, and the combined result.

Every job that runs a base :class:`~snninit.config.NetworkConfig` over
several values of its fields builds one :class:`Grid` with
:func:`make_grid` and uses the helpers here: the parameter sweeps
(:func:`snninit.montecarlo.sweep`, :func:`snninit.theory.sweep`), the
presets (:func:`snninit.montecarlo.run_preset`), ``snninit reproduce``
(:mod:`snninit.validation.runs`) and ``snninit compare-rules``
(:func:`snninit.validation.compare_rules`).

*Cells.* A grid is given as ``over={dim: values}``; its cells are the
Cartesian product of the values in C order (the first dim slowest), and
the cell with coordinates ``c`` is ``base.replace(**c)`` (the dim ``n`` sets
``width``).

*Seeds.* The cell with coordinates ``c`` gets the seed
``point_seed(seed, c)``: 63 bits of ``SeedSequence(seed, spawn_key=key(c))``,
``key(c)`` two 32-bit words of the SHA-256 of the canonical JSON of ``c``. A
pure function of the master seed and the cell's *values*, not of its index,
the task or the worker that runs it, so extending a grid by more values
leaves every existing cell unchanged. :func:`cell_seeds` gives every cell's
seed; its ``common`` dims share one seed along them (the same networks for
every value: the rules' head to head).

*Cache.* :func:`cached` returns the cell cached under a protocol tag
(:func:`protocol_tag`) or computes and caches it; :func:`cell_name` is the
name of a cell's file (``theta=0.8_n=100``, ``base`` without dims).

*Combine.* :func:`combine` stacks one Dataset per cell into one Dataset with
the grid's dims first (:func:`xarray.combine_nested`), with the per-cell
seeds as the coordinate ``cell_seed``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ._checks import check_choice
from ._dataset import load_cached, save_dataset
from .config import NetworkConfig, check_config

__all__ = [
    "Grid",
    "make_grid",
    "point_seed",
    "cell_seeds",
    "cell_name",
    "protocol_tag",
    "cached",
    "combine",
    "SWEEPABLE",
    "MAX_GRID_POINTS",
]

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
    "neuron",
    "alpha",
    "rho",
    "adaptation",
    "recurrent_fraction",
)
_ALIASES = {"n": "width"}
#: Most points a grid may have (the product of the numbers of swept values), checked
#: before any configuration is built: ``theta=0:1:100000000`` is a typo, not a sweep.
MAX_GRID_POINTS = 100_000
#: Name of the per-cell seed coordinate of :func:`combine`.
SEED_COORD = "cell_seed"


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

    @property
    def over(self) -> dict[str, list[Any]]:
        """The grid as ``{dim: values}`` (what :func:`make_grid` was given, canonicalised)."""
        return {d: list(v) for d, v in zip(self.dims, self.values)}

    def coords(self, index: int) -> dict[str, Any]:
        """Swept coordinates ``{dim: value}`` of point ``index`` (C order)."""
        multi = np.unravel_index(index, self.shape) if self.dims else ()
        return {d: v[int(i)] for d, v, i in zip(self.dims, self.values, multi)}

    def cells(self) -> list[dict[str, Any]]:
        """The coordinates of every cell, in C order (the first dim slowest)."""
        return [dict(zip(self.dims, vals)) for vals in itertools.product(*self.values)]

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


def cell_seeds(grid: Grid, seed: int, *, common: Sequence[str] = ()) -> list[int]:
    """:func:`point_seed` of every cell of ``grid`` (C order).

    ``common``: dims along which the cells share one seed, i.e. the seed of a
    cell is ``point_seed(seed, c)`` with those dims left out of ``c``, so that
    every value of them is run on the same random networks (common random
    numbers: the rules' head to head compares rules on identical draws).
    """
    unknown = [d for d in common if d not in grid.dims]
    if unknown:
        raise ValueError(f"common dims {unknown} are not dims of the grid {list(grid.dims)}")
    return [point_seed(seed, {k: v for k, v in c.items() if k not in common}) for c in grid.cells()]


# ---------------------------------------------------------------------------
# the cache of cells


def cell_name(coords: Mapping[str, Any]) -> str:
    """File stem of a cell: ``dim=value`` joined by ``_`` in the grid's order (``base``: none)."""
    return "_".join(f"{k}={v}" for k, v in coords.items()) or "base"


def protocol_tag(cfg: NetworkConfig, **info: Any) -> str:
    """The exact protocol of a cached cell: its config, ``info`` and the code's fingerprint.

    Canonical JSON (compared verbatim by :func:`cached`); ``version`` is
    :func:`snninit._dataset.code_fingerprint`, so a cell computed by other
    code is never reused.
    """
    from ._dataset import code_fingerprint

    tag = {"config": cfg.to_dict(), **info, "version": code_fingerprint()}
    return json.dumps(tag, sort_keys=True, default=str)


def cached(
    path: str | os.PathLike | None,
    tag: str,
    compute: Callable[[], xr.Dataset] | None,
) -> tuple[xr.Dataset | None, bool]:
    """``(dataset, reused)``: the cell cached at ``path`` under ``tag``, or ``compute()``.

    A cached file is reused only if its ``attrs["protocol"]`` is ``tag`` and
    its data match their checksum (:func:`snninit._dataset.load_cached`);
    otherwise ``compute()`` runs and its result is written to ``path``
    atomically with ``protocol=tag``. ``path=None``: no cache.
    ``compute=None``: look up only (``(None, False)`` when not cached).
    """
    if path is not None:
        ds = load_cached(path, tag)
        if ds is not None:
            return ds, True
    if compute is None:
        return None, False
    ds = compute()
    if path is not None:
        ds = ds.copy()
        ds.attrs["protocol"] = tag
        save_dataset(ds, path)
    return ds, False


# ---------------------------------------------------------------------------
# combining the cells


def combine(
    parts: Sequence[xr.Dataset],
    grid: Grid,
    *,
    seeds: Sequence[int] | None = None,
) -> xr.Dataset:
    """One Dataset from one per cell (C order): dims ``(*grid.dims, *cell dims)``.

    :func:`xarray.combine_nested` along the grid's dims, whose coordinates
    are the grid's values; cells of different sizes (a swept ``layers``) are
    joined with NaN padding. ``seeds`` (one per cell, e.g. :func:`cell_seeds`)
    become the coordinate ``cell_seed`` over the grid's dims. Variable attrs
    are kept where every cell agrees; the Dataset's own attrs are left empty
    for the caller (the cells' configs differ).
    """
    parts = list(parts)
    if len(parts) != grid.size:
        raise ValueError(f"combine needs one dataset per cell ({grid.size}); got {len(parts)}")
    if not grid.dims:
        ds = parts[0].copy()
    else:
        nested: Any = parts
        for n in reversed(grid.shape[1:]):  # rows of the last dim, then of the one before...
            nested = [nested[i : i + n] for i in range(0, len(nested), n)]
        ds = xr.combine_nested(
            nested,
            concat_dim=list(grid.dims),
            data_vars="all",
            coords="minimal",
            compat="override",
            join="outer",
            combine_attrs="drop_conflicts",
        )
        ds = ds.assign_coords({d: np.asarray(v) for d, v in zip(grid.dims, grid.values)})
        order = [*grid.dims, *(d for d in ds.dims if d not in grid.dims)]
        ds = ds.transpose(*order)
    ds.attrs = {}
    if seeds is not None:
        if len(seeds) != grid.size:
            raise ValueError(f"combine needs one seed per cell ({grid.size}); got {len(seeds)}")
        data = np.asarray(seeds, dtype=np.int64).reshape(grid.shape)
        ds = ds.assign_coords({SEED_COORD: (grid.dims, data)})
        ds[SEED_COORD].attrs["long_name"] = "seed of the cell (snninit.grid.point_seed)"
    return ds
