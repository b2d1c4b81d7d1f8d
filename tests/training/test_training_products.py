"""Event-driven products of the trainer: exact, in a fixed order, and used where they should be.

The event-driven product sums the picked rows in increasing index; BLAS sums
in its own order. Both are exact sums rounded differently, so they may differ
by at most the classical bound of recursive summation, ``|fl(sum) - sum| <=
(k - 1) u sum |terms|`` (``u`` the unit roundoff, ``k`` the number of terms),
for each of the two: the tolerance below is twice that bound, not a tuned one.
"""

import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from snninit.config import NetworkConfig
from snninit.models.dense import matrix_drive
from snninit.training.model import SNN
from snninit.training.optim import Adam
from snninit.training.products import EVENT_MAX_RATE, spike_index, spike_matmul

RNG = np.random.default_rng(0)


def _spikes(rows, n, rate, dtype, rng=RNG):
    return (rng.random((rows, n)) < rate).astype(dtype)


def _bound(S, other, transpose, dtype):
    # twice the recursive-summation error bound, element by element
    u = np.finfo(dtype).eps / 2
    a = S.T if transpose else S
    terms = a.astype(np.float64) @ np.abs(other.astype(np.float64))
    k = a.sum(axis=1, keepdims=True)
    return 2 * np.maximum(k - 1, 0) * u * terms


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("rate", [0.0, 0.03, 0.15, 0.6, 1.0])
def test_event_product_is_the_product(dtype, transpose, rate):
    S = _spikes(45, 37, rate, dtype)
    other = RNG.standard_normal((45 if transpose else 37, 29)).astype(dtype)
    out, event = spike_matmul(S, other, transpose=transpose, products="event")
    assert event and out.dtype == dtype
    exact = (S.T if transpose else S).astype(np.float64) @ other.astype(np.float64)
    assert np.all(np.abs(out - exact) <= _bound(S, other, transpose, dtype))
    dense, event = spike_matmul(S, other, transpose=transpose, products="dense")
    assert not event
    assert np.all(np.abs(dense - exact) <= _bound(S, other, transpose, dtype))


def test_event_product_sums_as_the_engines_drive():
    # one order for one idea: the engine's event-driven drive (models.dense.matrix_drive)
    # and the trainer's give the same bits on the same weights and spikes
    for rate in (0.05, 0.3, 0.9):
        S = _spikes(6, 300, rate, np.float64)
        w = RNG.standard_normal((300, 41))
        out, _ = spike_matmul(S, w, products="event")
        drive = np.empty((6, 41))
        matrix_drive(np.ascontiguousarray(w.T), S.astype(np.uint8), drive)
        np.testing.assert_array_equal(out, drive)


def test_event_product_same_bits_for_any_thread_count():
    from snninit.training.products import _blas_threads

    with threadpool_limits(limits=2):
        if _blas_threads() < 2:
            pytest.skip("threadpoolctl finds no BLAS to allow 2 threads: one worker only")
    S = _spikes(384, 600, 0.1, np.float32)
    w = RNG.standard_normal((600, 600)).astype(np.float32)
    d = RNG.standard_normal((384, 600)).astype(np.float32)
    runs = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads):
            runs.append((spike_matmul(S, w)[0], spike_matmul(S, d, transpose=True)[0]))
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_auto_chooses_by_rate_and_falls_back_for_non_spikes():
    w = RNG.standard_normal((200, 10))
    assert spike_matmul(_spikes(50, 200, EVENT_MAX_RATE / 2, np.float64), w)[1]
    assert not spike_matmul(_spikes(50, 200, min(1.0, 2 * EVENT_MAX_RATE), np.float64), w)[1]
    smooth = RNG.random((50, 200)) * (RNG.random((50, 200)) < 0.05)  # sparse but not 0/1
    out, event = spike_matmul(smooth, w, products="event")
    assert not event
    np.testing.assert_allclose(out, smooth @ w, rtol=1e-12, atol=1e-12)
    assert spike_index(smooth) is None


def test_spike_index_rows_and_columns():
    S = np.array([[0, 1, 1], [0, 0, 0], [1, 0, 1]], dtype=np.float32)
    ptr, idx = spike_index(S)
    assert ptr.tolist() == [0, 2, 2, 4] and idx.tolist() == [1, 2, 0, 2]
    ptr, idx = spike_index(S, columns=True)
    assert ptr.tolist() == [0, 1, 2, 4] and idx.tolist() == [2, 0, 0, 2]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(products="sparse"), "products must be one of"),
        (dict(max_rate=1.5), "max_rate"),
        (dict(transpose=True), r"spike_matmul needs S \(R, n\) and other \(R, m\)"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        spike_matmul(np.zeros((4, 3)), np.zeros((3, 2)), **kwargs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_trainer_gradients_event_equal_dense_to_rounding(dtype):
    cfg = NetworkConfig(width=80, layers=4, steps=4, theta=1.0, beta=0.6, init="micheli")
    x = RNG.standard_normal((16, 50)).astype(dtype)
    y = RNG.integers(0, 5, 16)
    out = {}
    for products in ("dense", "event"):
        m = SNN(cfg, n_inputs=50, n_classes=5, dtype=dtype, seed=3, products=products)
        rec = m.forward(x, record=True)
        out[products] = (m.loss_and_grad(x, y), rec)
    (ld, gd, _), rd = out["dense"]
    (le, ge, _), re_ = out["event"]
    # the same spikes (a flip needs a membrane within rounding of theta: none here)
    for a, b in zip(rd.spikes, re_.spikes, strict=True):
        np.testing.assert_array_equal(a, b)
    assert ld == pytest.approx(le, rel=10 * np.finfo(dtype).eps)
    # each gradient is a product of the same factors up to the rounding of the
    # layers above; the bound grows with depth, so compare with the scale of the
    # gradient at a few hundred ulps (a float32 loss of one bit per product and step)
    for a, b in zip(gd, ge, strict=True):
        scale = np.abs(a).max()
        assert scale > 0
        np.testing.assert_allclose(b, a, rtol=0, atol=500 * np.finfo(dtype).eps * scale)


def test_snn_rejects_unknown_products():
    cfg = NetworkConfig(width=10, layers=1, steps=2)
    with pytest.raises(ValueError, match="products must be one of 'auto', 'dense', 'event'"):
        SNN(cfg, n_inputs=5, n_classes=2, products="fast")


def test_adam_kernel_equals_the_numpy_form_bit_for_bit():
    for dtype in (np.float32, np.float64):
        params = [RNG.standard_normal((30, 20)).astype(dtype), RNG.standard_normal(7).astype(dtype)]
        copy = [p.copy() for p in params]
        opt = Adam(params, lr=1e-2)
        m = [np.zeros_like(p) for p in copy]
        v = [np.zeros_like(p) for p in copy]
        for t in range(1, 6):
            grads = [RNG.standard_normal(p.shape).astype(dtype) for p in params]
            opt.step(grads)
            bc1, bc2 = 1 - 0.9**t, 1 - 0.999**t
            consts = (0.9, 1 - 0.9, 0.999, 1 - 0.999, 1 / math.sqrt(bc2), 1e-8, 1e-2 / bc1)
            for p, g, mm, vv in zip(copy, grads, m, v, strict=True):
                Adam._step_numpy(p, g, mm, vv, consts)
        for a, b in zip(params, copy, strict=True):
            np.testing.assert_array_equal(a, b)


def test_adam_on_a_strided_parameter_uses_the_numpy_form():
    base = RNG.standard_normal((10, 10))
    view = base[:, ::2]  # not contiguous: updated in place through the numpy form
    before = view.copy()
    ref = view.copy()
    g = RNG.standard_normal(view.shape)
    Adam([view], lr=1e-2).step([g])
    Adam([ref], lr=1e-2).step([g])
    np.testing.assert_array_equal(view, ref)
    assert np.all(view != before)  # every entry moved (Adam's first step is lr sign(g))
    assert np.array_equal(base[:, ::2], view)  # ... in the array the view belongs to


def test_adam_takes_array_like_gradients():
    p = [np.zeros(3)]
    Adam(p, lr=0.1).step([[1.0, -1.0, 2.0]])
    np.testing.assert_allclose(p[0], [-0.1, 0.1, -0.1])


def test_event_product_dtype_is_the_dense_products():
    S = _spikes(20, 30, 0.05, np.float64)
    w = RNG.standard_normal((30, 4)).astype(np.float32)
    event, used = spike_matmul(S, w, products="event")
    dense, _ = spike_matmul(S, w, products="dense")
    assert used and event.dtype == dense.dtype == np.float64


def test_one_dimensional_spikes_are_a_clear_error():
    with pytest.raises(ValueError, match="spike_matmul needs S"):
        spike_matmul(np.zeros(3), np.zeros((3, 2)))
