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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._io import atomic_write  # the one atomic writer; re-exported here
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
    "data_digest",
    "dataset_digest",
]

#: Attribute under which :func:`save_dataset` stores :func:`dataset_digest`.
DIGEST_ATTR = "data_sha256"

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


def data_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 (hex) of named arrays: each name, shape and float64 little-endian bytes.

    The one checksum of stored numbers: the sweep store's chunk markers
    (:mod:`snninit.sweeps.store`) and the cached cells of
    :func:`save_dataset` / :func:`load_cached`.
    """
    import hashlib

    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name], dtype="<f8")
        h.update(name.encode() + b"\0" + repr(a.shape).encode() + b"\0")
        h.update(a.tobytes())
    return h.hexdigest()


def dataset_digest(ds: xr.Dataset) -> str:
    """:func:`data_digest` of the numeric data variables of ``ds`` (what a cache must not lose).

    Every NaN is hashed as the one quiet NaN that netCDF's fill-value
    decoding gives back (a computed ``0/0`` may carry another bit pattern).
    """
    arrays = {}
    for name, var in ds.data_vars.items():
        if var.dtype.kind in "biuf":
            a = np.asarray(var.values, dtype=float)
            arrays[str(name)] = np.where(np.isnan(a), np.nan, a)
    return data_digest(arrays)


def save_dataset(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to netCDF-4 (h5netcdf engine) atomically.

    The file's attrs get ``data_sha256``, the :func:`dataset_digest` of its
    data variables, which :func:`load_cached` checks (``ds`` itself is not
    modified).
    """
    out = ds.copy(deep=False)
    out.attrs = {**ds.attrs, DIGEST_ATTR: dataset_digest(ds)}
    return atomic_write(path, lambda tmp: out.to_netcdf(tmp, engine="h5netcdf"))


def load_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Read a Dataset written by :func:`save_dataset` fully into memory.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming
    the file for one that is not a readable netCDF file. The checksum attr
    ``data_sha256`` of :func:`save_dataset` is dropped (a saved and reloaded
    dataset is identical to the original; :func:`load_cached` verifies it).
    """
    ds = _read_dataset(path)
    ds.attrs.pop(DIGEST_ATTR, None)
    return ds


def _read_dataset(path: str | os.PathLike) -> xr.Dataset:
    """:func:`load_dataset` keeping every attr (the stored checksum included)."""
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
    killed run leaves no half-written cell behind). So does a file whose
    data no longer hash to the ``data_sha256`` that :func:`save_dataset`
    stored (values overwritten, attrs intact) or that has no checksum, with a
    one-line :class:`UserWarning` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        ds = _read_dataset(path)
    except (ValueError, FileNotFoundError):
        return None
    if ds.attrs.get("protocol") != protocol:
        return None
    stored = ds.attrs.pop(DIGEST_ATTR, None)
    if not isinstance(stored, str) or dataset_digest(ds) != stored:
        import warnings

        why = (
            "has no data checksum (data_sha256; written by an older version)"
            if not isinstance(stored, str)
            else "fails its data checksum (data_sha256): its values changed after it was written"
        )
        warnings.warn(
            f"cached cell {path} {why}; recomputing it",
            UserWarning,
            stacklevel=2,
        )
        return None
    return ds


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """``"<version>+<sha256 of the package's computing code>"`` (12 hex digits).

    Cached results (reproduce cells, preset cells, compare-rules cells) are
    tagged with it, so a changed implementation never reuses numbers computed
    by an older one even when the version string was not bumped. Code that
    cannot change a cached number is left out (:func:`computing_files`), so
    that editing the report, a figure or a command-line help text does not
    throw away hours of simulation.
    """
    from . import __version__

    return f"{__version__}+{source_hash(Path(__file__).resolve().parent)}"


#: Top-level modules that cannot change a number: the command line, the output
#: plumbing, the resource checks (estimates that refuse a run, never alter one).
_NOT_COMPUTING = (
    "__main__.py",
    "cli.py",
    "_cliutil.py",
    "_io.py",
    "_lazy.py",
    "_resources.py",
    # the protocol table: every setting it holds is in each cached cell's tag
    "protocols.py",
)
#: The modules of ``validation/`` whose numbers are cached: one cell of
#: ``snninit reproduce`` (``cells.py``, with the exact chain's spread from
#: ``celltests.py``) and the compare-rules cells. The rest of ``validation/``
#: (protocols, whose every setting is in a cell's tag; the runner; the report;
#: the figures) is left out.
_CACHED_VALIDATION = ("cells.py", "celltests.py", "rules_comparison.py")


def computing_files(root: Path) -> list[Path]:
    """The ``.py`` files below the package folder ``root`` that :func:`source_hash` hashes.

    Everything that computes a cached number: the configuration, the neuron
    models, the rules, the theory, the Monte Carlo engine and kernels,
    training, the data model (this module) and the cached modules of
    ``validation/`` (:data:`_CACHED_VALIDATION`). Left out: the command line
    (``cli.py``, ``_cliutil.py``, every ``*commands.py``), the output
    plumbing and resource checks (:data:`_NOT_COMPUTING`), the torch
    front-end, and the report side of ``validation/``.
    """
    root = Path(root)
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        top = rel.parts[0]
        if (
            (len(rel.parts) == 1 and rel.name in _NOT_COMPUTING)
            or rel.name.endswith("commands.py")
            or top == "torch"
            or (top == "validation" and rel.name not in _CACHED_VALIDATION)
        ):
            continue
        out.append(path)
    return out


def source_hash(root: Path) -> str:
    """12 hex digits of the sha256 of the computing ``.py`` files below ``root``.

    The files are :func:`computing_files` ``(root)``, each hashed with its
    path relative to ``root``.
    """
    import hashlib

    root = Path(root)
    h = hashlib.sha256()
    for path in computing_files(root):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]
