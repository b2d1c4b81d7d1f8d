"""The one data model: xarray Datasets whose attrs explain themselves.

Theory and Monte Carlo return Datasets with the same variable names
(``var_u``, ``mean_u``, ``rate``, ``spikes``, ``p_extinct``, ``skew``,
``kurt``) and dims (``layer``, ``time``, plus ``rep`` for simulations and any
swept parameter). The configuration, seed and package version live in attrs
as netCDF-safe scalars and one JSON string (``config``) that rebuilds the
:class:`~snninit.config.NetworkConfig`.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .config import NetworkConfig

__all__ = [
    "layer_coord",
    "time_coord",
    "config_attrs",
    "config_from_attrs",
    "finish_dataset",
    "save_dataset",
    "load_dataset",
    "atomic_write",
]

#: Human-readable description of the shared variables (attrs of each DataArray).
VARIABLE_DOCS = {
    "var_u": ("variance over neurons of the membrane potential u (ddof=0)", "1"),
    "mean_u": ("mean over neurons of the membrane potential u", "1"),
    "rate": ("fraction of the layer's neurons that spike", "spikes/neuron/step"),
    "spikes": ("number of output spikes of the layer", "spikes"),
    "p_extinct": ("probability that the layer emits no spike at all", "1"),
    "skew": ("skewness over neurons of u", "1"),
    "kurt": ("excess kurtosis over neurons of u", "1"),
    "var_u_sd": ("standard deviation of var_u across independent networks", "1"),
}


def layer_coord(layers: int) -> np.ndarray:
    """Layer coordinate ``0..L``: 0 is the encoding layer, ``l >= 1`` hidden layers."""
    return np.arange(layers + 1)


def time_coord(steps: int) -> np.ndarray:
    """Time coordinate ``0..T-1`` (present, of length 1, even for one step)."""
    return np.arange(steps)


def _version() -> str:
    from . import __version__

    return __version__


def config_attrs(cfg: NetworkConfig, **extra: Any) -> dict[str, Any]:
    """netCDF-safe attrs: each config field, the config as JSON, version, extras.

    ``extra`` values that are not str/int/float are stored as JSON strings.
    """
    attrs: dict[str, Any] = {}
    for key, value in cfg.to_dict().items():
        if isinstance(value, bool):
            attrs[key] = int(value)
        elif isinstance(value, (int, float, str)):
            attrs[key] = value
        else:
            attrs[key] = json.dumps(value, sort_keys=True)
    attrs["config"] = cfg.to_json()
    attrs["snninit_version"] = _version()
    for key, value in extra.items():
        if value is None:
            continue
        if isinstance(value, bool):
            attrs[key] = int(value)
        elif isinstance(value, (int, float, str, np.integer, np.floating)):
            attrs[key] = value
        else:
            attrs[key] = json.dumps(value, sort_keys=True, default=str)
    return attrs


def config_from_attrs(attrs: Mapping[str, Any]) -> NetworkConfig:
    """Rebuild the :class:`NetworkConfig` stored by :func:`config_attrs`."""
    if "config" not in attrs:
        raise ValueError("dataset has no 'config' attribute: it was not written by snninit")
    return NetworkConfig.from_json(attrs["config"])


def finish_dataset(ds: xr.Dataset, cfg: NetworkConfig, *, kind: str, **extra: Any) -> xr.Dataset:
    """Attach coordinate and variable docs and the configuration attrs to ``ds``."""
    for name, (doc, units) in VARIABLE_DOCS.items():
        if name in ds:
            ds[name].attrs.setdefault("long_name", doc)
            ds[name].attrs.setdefault("units", units)
    if "layer" in ds.coords:
        ds["layer"].attrs.update(long_name="layer (0 = encoding layer)")
    if "time" in ds.coords:
        ds["time"].attrs.update(long_name="time step")
    ds.attrs.update(config_attrs(cfg, kind=kind, **extra))
    return ds


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(tmp_path)`` then atomically rename the file to ``path``.

    A reader sees either the previous file or the complete new one, never a
    partial file, even if the process is killed mid-write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_dataset(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to netCDF-4 (h5netcdf engine) atomically."""
    return atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))


def load_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Read a Dataset written by :func:`save_dataset` fully into memory.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming
    the file for one that is not a readable netCDF file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such dataset file: {path}")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            return ds.load()
    except Exception as exc:  # h5py raises OSError, xarray ValueError, ...
        raise ValueError(
            f"{path} is not a readable netCDF dataset ({type(exc).__name__}: {exc}); "
            "re-create it with the command that wrote it"
        ) from None


def load_cached(path: str | os.PathLike, protocol: str) -> xr.Dataset | None:
    """The dataset cached at ``path`` if its ``attrs["protocol"]`` is ``protocol``, else None.

    A missing, unreadable or foreign file gives None: the caller recomputes
    the cell (files are written with :func:`save_dataset`, atomically, so a
    killed run leaves no half-written cell behind).
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        ds = load_dataset(path)
    except (ValueError, FileNotFoundError):
        return None
    return ds if ds.attrs.get("protocol") == protocol else None


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """``"<version>+<sha256 of the package's computing code>"`` (12 hex digits).

    Cached results (reproduce cells, preset cells, compare-rules cells) are
    tagged with it, so a changed implementation never reuses numbers computed
    by an older one even when the version string was not bumped. Code that
    cannot change a cached number is left out, so that editing a figure or a
    command-line help text does not throw away hours of simulation: the
    command-line modules (``cli.py``, ``_cliutil.py``, ``*commands.py``),
    ``validation/figures.py`` and the torch front-end.
    """
    from . import __version__

    return f"{__version__}+{source_hash(Path(__file__).resolve().parent)}"


def source_hash(root: Path) -> str:
    """12 hex digits of the sha256 of the computing ``.py`` files below ``root``."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if (
            rel.name in ("cli.py", "_cliutil.py", "figures.py")
            or rel.name.endswith("commands.py")
            or rel.parts[0] == "torch"
        ):
            continue
        h.update(str(rel).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]
