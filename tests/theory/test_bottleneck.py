"""Bottleneck depth of the collapse past a saddle-node (Kaiming above theta_sn)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import snninit as si
from snninit.theory import meanfield, symbolic

T = si.theory
THETA_SN = T.critical_threshold("kaiming")


def _collapse_layer(theta: float, layers: int) -> int:
    """First layer of the iterated mean field (Kaiming, v_0 = 1) with var_u < 1e-3."""
    cfg = si.NetworkConfig(width=1000, layers=layers, steps=1, theta=theta, init="kaiming")
    var = T.mean_field(cfg)["var_u"].values[:, 0]
    hit = np.flatnonzero(var < 1e-3)
    assert hit.size, f"no collapse within {layers} layers at theta={theta}"
    return int(hit[0])


@pytest.mark.parametrize("theta", [0.576, 0.58, 0.6, 0.65])
def test_formula_against_iterated_mean_field(theta):
    # N = pi / sqrt(a delta) is the leading term; entry into the channel and the final
    # drop add an O(1) offset (c_0 ~ -1.5 as theta -> theta_sn+) plus O(delta): within
    # 4 layers over the whole channel (theta_sn, 0.65], a relative error -> 0 at theta_sn.
    depth = float(T.bottleneck_depth(theta, "kaiming"))
    iterated = _collapse_layer(theta, layers=400)
    assert abs(iterated - depth) <= 4.0, (theta, iterated, depth)
    assert iterated < depth  # both pieces outside the channel are shorter than its tails


@pytest.mark.parametrize("excess", [1e-6, 1e-5, 1e-4])
def test_offset_tends_to_a_constant_near_the_saddle_node(excess):
    theta = THETA_SN + excess
    depth = float(T.bottleneck_depth(theta, "kaiming"))
    iterated = _collapse_layer(theta, layers=int(depth) + 50)
    assert -2.5 <= iterated - depth <= -0.5, (excess, iterated, depth)


def test_diverges_as_inverse_square_root_at_the_saddle_node():
    excess = np.array([1e-8, 1e-6, 1e-4, 1e-2])
    depth = T.bottleneck_depth(THETA_SN + excess, "kaiming")
    assert np.all(np.diff(depth) < 0) and depth[0] > 2e4
    # delta is linear in theta - theta_sn, so N sqrt(theta - theta_sn) -> constant
    scaled = depth * np.sqrt(excess)
    assert scaled[0] == pytest.approx(scaled[1], rel=1e-3)
    assert scaled[1] == pytest.approx(scaled[2], rel=1e-2)


def test_curvature_matches_the_symbolic_second_derivative():
    theta = np.array([0.576, 0.6, 0.65])
    v_c, delta, curvature = meanfield._bottleneck_channel(theta, 2.0)
    d1 = symbolic.numeric("map_d1")
    d2 = symbolic.numeric("map_d2")
    n = 1000.0
    np.testing.assert_allclose(d1(v_c, theta, 2.0 / n, n), 1.0, atol=1e-10)  # F'(v_c) = 1
    np.testing.assert_allclose(curvature, -0.5 * d2(v_c, theta, 2.0 / n, n), rtol=1e-10)
    np.testing.assert_allclose(
        delta, v_c - meanfield.mean_field_map(v_c, theta, 2.0 / n, n), atol=1e-14
    )


def test_no_collapse_no_bottleneck_and_depth_scale_unchanged():
    assert T.bottleneck_depth(0.5, "kaiming") == math.inf  # below theta_sn: stable fixed point
    assert T.bottleneck_depth(THETA_SN - 1e-9, "kaiming") == math.inf
    assert T.bottleneck_depth(1.0, "micheli") == math.inf  # v = 1 is a fixed point
    assert T.bottleneck_depth(1.0, "kaiming") == 0.0  # F' < 1 everywhere: no channel
    assert T.depth_scale(0.58, "kaiming") == 0.0  # the collapse's xi stays 0
    out = T.bottleneck_depth([0.5, 0.58, 1.0], "kaiming")
    assert out.shape == (3,) and out[0] == math.inf and out[2] == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(theta=-0.1), "theta"), (dict(init="nope"), "init"), (dict(width=0), "width")],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        T.bottleneck_depth(**{"theta": 0.6, **kwargs})
