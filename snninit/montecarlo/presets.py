"""The paper's simulation protocols as named presets (Figs. 2, 3, 4).

A preset is a base :class:`~snninit.config.NetworkConfig`, a sweep over one
or more config fields, and a number of repetitions. :func:`run_preset`
simulates every cell of the sweep and stacks the results into ONE Dataset:

    dims  = (*sweep dims, rep, layer, time)

in the order of :data:`PRESETS` ``[name].sweep``:

=======  ====================================  ===================================  ====
preset   base                                  sweep                                reps
=======  ====================================  ===================================  ====
fig2     n=1000, L=100, T=1                    init x theta (0, 0.2, ..., 1)        20
fig3     L=100, T=1, micheli                   n (100, 600) x theta (0, ..., 1)     20
fig4     n=1000, L=100, T=20, theta=1          beta (0.5, 0.9) x init               10
=======  ====================================  ===================================  ====

(``init`` is ``("micheli", "kaiming")``; the sweep dim for the width is
``n``.) Cell ``k`` (row-major over the sweep) is simulated with seed
``seed * 1000 + k``, stored as the coordinate ``cell_seed`` over the sweep
dims. Attrs hold the base configuration (swept fields take the values of
the coordinates), ``preset``, ``sweep`` (JSON) and ``method``.

Long presets resume: with ``cache_dir``, every finished cell is written
atomically to ``cache_dir/<preset>-cell<k>.nc`` and a later call with the
same protocol (config, reps, seed, method, version and source hash:
compared verbatim)
reuses it instead of simulating it again.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_choice, check_int
from .._dataset import finish_dataset, load_cached, save_dataset
from ..config import NetworkConfig, check_limit
from .engine import METHODS, simulate

__all__ = ["Preset", "PRESETS", "run_preset", "preset_configs"]

PAPER_THETAS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
INITS = ("micheli", "kaiming")

#: sweep dim name -> NetworkConfig field
_FIELD = {"n": "width", "theta": "theta", "beta": "beta", "init": "init"}


@dataclass(frozen=True)
class Preset:
    """A named protocol: ``base`` config, ``sweep`` ((dim, values), ...), ``reps``."""

    name: str
    title: str
    base: NetworkConfig
    sweep: tuple[tuple[str, tuple[Any, ...]], ...]
    reps: int

    def cells(self) -> list[tuple[dict[str, Any], NetworkConfig]]:
        """Every ``(coords, config)`` of the sweep, row-major."""
        dims = [d for d, _ in self.sweep]
        out = []
        for values in itertools.product(*(v for _, v in self.sweep)):
            coords = dict(zip(dims, values))
            changes = {_FIELD[d]: v for d, v in coords.items()}
            out.append((coords, self.base.replace(**changes)))
        return out


PRESETS: dict[str, Preset] = {
    "fig2": Preset(
        name="fig2",
        title="Fig. 2: one step, n=1000, L=100, six thresholds, both inits",
        base=NetworkConfig(width=1000, layers=100, steps=1),
        sweep=(("init", INITS), ("theta", PAPER_THETAS)),
        reps=20,
    ),
    "fig3": Preset(
        name="fig3",
        title="Fig. 3: finite-size effect, n=100 and 600, Micheli, one step",
        base=NetworkConfig(width=100, layers=100, steps=1, init="micheli"),
        sweep=(("n", (100, 600)), ("theta", PAPER_THETAS)),
        reps=20,
    ),
    "fig4": Preset(
        name="fig4",
        title="Fig. 4: n=1000, L=100, T=20, theta=1, beta 0.5/0.9, both inits",
        base=NetworkConfig(width=1000, layers=100, steps=20, theta=1.0, reset="subtract"),
        sweep=(("beta", (0.5, 0.9)), ("init", INITS)),
        reps=10,
    ),
}


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
    """Simulate every cell of preset ``name`` and stack them (see module docs).

    Parameters
    ----------
    name : {"fig2", "fig3", "fig4"}
    method : {"dense", "gram"}
    reps : int, optional
        Repetitions per cell (default: the preset's).
    seed : int
        Base seed; cell ``k`` uses ``seed * 1000 + k``.
    progress : bool
        One tqdm bar over all cells x repetitions.
    cache_dir : path, optional
        Folder for per-cell results; cells already there with the same
        protocol are reused (resume after an interruption).

    Returns
    -------
    xarray.Dataset
        Dims ``(*sweep dims, rep, layer, time)``.
    """
    check_choice("preset", name, tuple(PRESETS))
    method = check_choice("method", method, METHODS)
    preset = PRESETS[name]
    reps = preset.reps if reps is None else check_limit("reps", reps)
    seed = check_int("seed", seed, low=0, high=2**53 // 1000)
    cells = preset.cells()
    bar = None
    tick = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(cells) * reps, desc=f"{name} ({method})", unit="rep")
        tick = bar.update
    results = []
    try:
        for k, (_, cfg) in enumerate(cells):
            cell_seed = seed * 1000 + k
            path = tag = None
            if cache_dir is not None:
                path = Path(cache_dir) / f"{name}-cell{k}.nc"
                tag = _cell_tag(cfg, reps, cell_seed, method)
                ds = load_cached(path, tag)
                if ds is not None:
                    results.append(ds)
                    if tick is not None:
                        tick(reps)
                    continue
            ds = simulate(cfg, reps=reps, seed=cell_seed, method=method, progress=tick)
            if path is not None:
                ds.attrs["protocol"] = tag
                save_dataset(ds, path)
            results.append(ds)
    finally:
        if bar is not None:
            bar.close()
    return _stack(preset, cells, results, reps, seed, method)


def _cell_tag(cfg: NetworkConfig, reps: int, seed: int, method: str) -> str:
    from .._dataset import code_fingerprint

    info = dict(config=cfg.to_dict(), reps=reps, seed=seed, method=method,
                version=code_fingerprint())
    return json.dumps(info, sort_keys=True)


def _stack(preset, cells, results, reps, seed, method) -> xr.Dataset:
    dims = [d for d, _ in preset.sweep]
    sizes = [len(v) for _, v in preset.sweep]
    first = results[0]
    data = {}
    for var in first.data_vars:
        arr = np.stack([r[var].values for r in results]).reshape(*sizes, *first[var].shape)
        data[var] = ((*dims, *first[var].dims), arr)
        data[var] = xr.Variable(data[var][0], data[var][1], attrs=dict(first[var].attrs))
    coords = {d: np.asarray(v) for d, v in preset.sweep}
    coords.update({c: first[c].values for c in ("rep", "layer", "time")})
    cell_seeds = np.array([seed * 1000 + k for k in range(len(cells))]).reshape(sizes)
    coords["cell_seed"] = (tuple(dims), cell_seeds)
    ds = xr.Dataset(data, coords=coords)
    sweep_json = json.dumps({d: list(v) for d, v in preset.sweep})
    return finish_dataset(
        ds,
        preset.base,
        kind="simulation",
        preset=preset.name,
        sweep=sweep_json,
        seed=seed,
        method=method,
        reps=reps,
    )
