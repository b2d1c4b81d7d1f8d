"""The same seed gives the same training whatever the number of BLAS threads.

A multithreaded BLAS sums a product in an order that depends on its thread
count (OpenBLAS: 1.2e-6 apart in the weights after two epochs, 1 vs 2
threads); the trainer's products go through ``fixed_matmul`` (row blocks fixed
by the shapes, each one single-threaded BLAS call), so they must agree bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from snninit.config import NetworkConfig
from snninit.training import products as layers_mod
from snninit.training.data import synthetic_dataset
from snninit.training.model import fixed_matmul, row_blocks
from snninit.training.trainer import TrainConfig, train

# 784 inputs and 3 x 128 stacked rows: shapes where OpenBLAS's 1- and 2-thread
# products differ on the test machine (the reduction is longer than the rows)
CFG = NetworkConfig(width=100, layers=2, steps=3, theta=1.0, beta=0.5, init="micheli")
DATA = synthetic_dataset(n_train=256, n_test=128, n_features=784, n_classes=4, seed=0)
TCFG = TrainConfig(epochs=2, batch=128, lr=3e-3, dataset="synthetic", seed=0)


def _blas_threads() -> int:
    return max([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] or [1])


def _need_threads(n: int) -> None:
    with threadpool_limits(limits=n, user_api="blas"):
        if _blas_threads() < n:
            pytest.skip(f"BLAS cannot run {n} threads here")


def test_row_blocks_depend_on_the_shape_only():
    for rows in (1, 15, 16, 17, 96, 384, 600, 1000):
        blocks = row_blocks(rows)
        assert blocks[0][0] == 0 and blocks[-1][1] == rows
        assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:], strict=False))
        assert len(blocks) <= layers_mod.MATMUL_BLOCKS
        assert all((r1 - r0) % 16 == 0 for r0, r1 in blocks[:-1])


@pytest.mark.parametrize("shape", [(384, 600, 600), (600, 384, 600), (384, 784, 10), (5, 7, 3)])
def test_fixed_matmul_bit_identical_for_any_thread_count(shape):
    _need_threads(3)
    m, k, n = shape
    rng = np.random.default_rng(1)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    results = []
    for threads in (1, 2, 3):
        with threadpool_limits(limits=threads, user_api="blas"):
            results.append(fixed_matmul(a, b))
            assert _blas_threads() == threads  # restored after the product
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    # transposed operands (the backward pass) and float64 too
    with threadpool_limits(limits=1, user_api="blas"):
        t1 = fixed_matmul(b.T.astype(np.float64), a.T.astype(np.float64))
    with threadpool_limits(limits=2, user_api="blas"):
        t2 = fixed_matmul(b.T.astype(np.float64), a.T.astype(np.float64))
    np.testing.assert_array_equal(t1, t2)
    np.testing.assert_allclose(results[0], a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


def test_training_bit_identical_with_one_and_two_threads():
    _need_threads(2)
    runs = {}
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            runs[threads] = train(CFG, TCFG, progress=False, data=DATA)
    one, two = runs[1], runs[2]
    assert one.attrs["weights_sha256"] == two.attrs["weights_sha256"]
    for name in ("train_loss", "train_acc", "test_loss", "test_acc", "rate", "lr"):
        np.testing.assert_array_equal(one[name].values, two[name].values)
