"""The paper's simulation protocols as named presets (Figs. 2, 3, 4).

A preset is one of the paper's figures in :data:`snninit.protocols.PROTOCOLS`,
the table that ``snninit reproduce`` runs too: a base
:class:`~snninit.config.NetworkConfig`, a grid over one or more config
fields (``over``; the field ``sweep`` holds it as ``(dim, values)`` pairs)
and a number of repetitions. :func:`run_preset` simulates every cell of the
grid and combines the results into ONE Dataset
(:func:`snninit.grid.combine`):

    dims  = (*grid dims, rep, layer, time)

=======  ====================================  ======================================  ====
preset   base                                  grid                                    reps
=======  ====================================  ======================================  ====
fig2     n=1000, L=100, T=1                    init x theta (0, 0.2, ..., 1)           20
fig3     L=100, T=1, micheli                   n (100, 600) x theta (0.8, .85, .9, 1)  20
fig4     n=1000, L=100, T=20, theta=1          beta (0.5, 0.9) x init                  10
=======  ====================================  ======================================  ====

(``init`` is ``("micheli", "kaiming")``; the grid dim for the width is
``n``.) Fig. 3's thresholds are the paper's figure (section 4.1 and the
caption of its Fig. 3 name theta > 0.85 and theta = 1 for n = 100 and 600),
the same as ``snninit reproduce`` runs; an earlier version of this preset
swept theta = 0, 0.2, ..., 1 instead. The cell with coordinates ``c`` is
simulated with seed :func:`snninit.grid.point_seed` ``(seed, c)`` (the rule
of every grid of snninit), stored as the coordinate ``cell_seed`` over the
grid dims. Attrs hold the base configuration (swept fields take the values
of the coordinates), ``preset``, ``sweep`` (JSON) and ``method``.

Long presets resume: with ``cache_dir``, every finished cell is written
atomically to ``cache_dir/<preset>-<cell>.nc`` (:func:`snninit.grid.cell_name`,
e.g. ``fig3-n=100_theta=0.8.nc``) and a later call with the same protocol
(config, reps, seed, method and code fingerprint: compared verbatim) reuses
it instead of simulating it again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import xarray as xr

from .._checks import check_choice
from .._dataset import finish_dataset
from ..config import NetworkConfig, check_limit
from ..grid import cached, cell_name, cell_seeds, combine, protocol_tag
from ..protocols import PAPER_FIGURES, PROTOCOLS, Protocol
from .engine import METHODS, simulate

__all__ = ["Preset", "PRESETS", "run_preset", "preset_configs"]

#: A preset is a protocol of the paper's table.
Preset = Protocol

PRESETS: dict[str, Preset] = {name: PROTOCOLS[name] for name in PAPER_FIGURES}


def preset_configs(name: str) -> list[tuple[dict[str, Any], NetworkConfig]]:
    """The ``(coords, config)`` cells of preset ``name``."""
    check_choice("preset", name, tuple(PRESETS))
    return PRESETS[name].cells()


def run_preset(
    name: str,
    method: str = "gram",
    reps: int | None = None,
    seed: int = 0,
    progress=False,
    cache_dir: str | os.PathLike | None = None,
) -> xr.Dataset:
    """Simulate every cell of preset ``name`` and combine them (see module docs).

    Parameters
    ----------
    name : {"fig2", "fig3", "fig4"}
    method : {"dense", "gram"}
    reps : int, optional
        Repetitions per cell (default: the preset's).
    seed : int
        Master seed; the cell with coordinates ``c`` uses
        :func:`snninit.grid.point_seed` ``(seed, c)``.
    progress : bool
        One tqdm bar over all cells x repetitions.
    cache_dir : path, optional
        Folder for per-cell results; cells already there with the same
        protocol are reused (resume after an interruption).

    Returns
    -------
    xarray.Dataset
        Dims ``(*grid dims, rep, layer, time)``, coordinate ``cell_seed``.
    """
    check_choice("preset", name, tuple(PRESETS))
    method = check_choice("method", method, METHODS)
    preset = PRESETS[name]
    reps = preset.reps if reps is None else check_limit("reps", reps)
    seed = check_limit("seed", seed)
    grid = preset.grid()
    seeds = cell_seeds(grid, seed)
    bar = tick = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=grid.size * reps, desc=f"{name} ({method})", unit="rep")
        tick = bar.update
    results = []
    try:
        for i, coords in enumerate(grid.cells()):
            cfg = grid.config(preset.base, i)
            path = None if cache_dir is None else Path(cache_dir) / f"{name}-{cell_name(coords)}.nc"
            tag = protocol_tag(cfg, reps=reps, seed=seeds[i], method=method)
            ds, reused = cached(
                path,
                tag,
                lambda cfg=cfg, s=seeds[i]: simulate(
                    cfg, reps=reps, seed=s, method=method, progress=tick
                ),
            )
            if reused and tick is not None:
                tick(reps)
            results.append(ds)
    finally:
        if bar is not None:
            bar.close()
    ds = combine(results, grid, seeds=seeds)
    return finish_dataset(
        ds,
        preset.base,
        kind="simulation",
        preset=preset.name,
        sweep=json.dumps(grid.over),
        seed=seed,
        method=method,
        reps=reps,
    )
