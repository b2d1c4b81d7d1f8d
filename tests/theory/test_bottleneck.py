"""Bottleneck depth of the collapse past a saddle-node (Kaiming above theta_sn)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import snninit as si
from snninit.theory import meanfield, symbolic

T = si.theory
THETA_SN = T.critical_threshold("kaiming")
#: Where the channel closes: F' < 1 everywhere once theta^2 > 3 sqrt 3 phi(sqrt 3) (Kaiming).
THETA_NO_CHANNEL = math.sqrt(3.0 * math.sqrt(3.0) * math.exp(-1.5) / math.sqrt(2.0 * math.pi))

#: Bound on (iterated count) - N, in layers. The count (first layer with var_u < 1e-3)
#: is the ceiling of the exact number of steps, exact = N + e: the ceiling adds [0, 1).
#: e is the error of the linearised step k(F') / (v - F): it is exact on linear
#: stretches of F, and in the channel the steps are small (the flow dv/dl = F - v is
#: the map's continuum limit there), so e comes from the few large steps outside it
#: (the entry from v_0 = 1 and the fall to 0), a fraction of a layer each, and from
#: the part of the integral below var_u = 1e-3 (~2e-3 / theta^2). Hence
#: 0 <= count - N <= 2, with no term growing with N: the channel, where N diverges,
#: is where the approximation is best.
OFFSET = (0.0, 2.0)


def _collapse_layer(theta: float, layers: int) -> int:
    """First layer of the iterated mean field (Kaiming, v_0 = 1) with var_u < 1e-3."""
    cfg = si.NetworkConfig(width=1000, layers=layers, steps=1, theta=theta, init="kaiming")
    var = T.mean_field(cfg)["var_u"].values[:, 0]
    hit = np.flatnonzero(var < 1e-3)
    assert hit.size, f"no collapse within {layers} layers at theta={theta}"
    return int(hit[0])


def _fine_grid() -> np.ndarray:
    """theta_sn+ (geometric), the channel up to 0.69 (fine, across 0.6805), and beyond."""
    return np.concatenate(
        [
            THETA_SN + np.geomspace(1e-7, 1e-3, 9),
            np.linspace(0.577, 0.69, 114),
            [THETA_NO_CHANNEL - 1e-9, THETA_NO_CHANNEL, THETA_NO_CHANNEL + 1e-9],
            np.linspace(0.7, 3.0, 24),
        ]
    )


def test_passage_time_against_the_iterated_mean_field_on_a_fine_grid():
    theta = np.sort(_fine_grid())
    depth = T.bottleneck_depth(theta, "kaiming")
    # no blow-up, no zero, anywhere: finite, positive, decreasing as theta grows
    assert np.all(np.isfinite(depth)) and np.all(depth > 0)
    assert np.all(np.diff(depth) <= 0)
    iterated = np.array([_collapse_layer(t, int(d) + 40) for t, d in zip(theta, depth)])
    offset = iterated - depth
    bad = (offset < OFFSET[0]) | (offset > OFFSET[1])
    assert not bad.any(), list(zip(theta[bad], iterated[bad], depth[bad]))


def test_continuous_where_the_channel_closes():
    # the old normal-form formula blew up at 0.6805 and returned 0 beyond
    eps = 1e-6
    theta = THETA_NO_CHANNEL + np.array([-eps, 0.0, eps])
    depth = T.bottleneck_depth(theta, "kaiming")
    assert 5.9 < depth[1] < 6.1  # the map takes 7 layers there (test above: offset <= 2)
    # |dN/dtheta| is about 35 layers per unit theta there: a 1e-6 step moves N by ~4e-5
    assert np.max(np.abs(np.diff(depth))) < 1e-4


def test_diverges_as_inverse_square_root_at_the_saddle_node():
    excess = np.array([1e-8, 1e-6, 1e-4, 1e-2])
    depth = T.bottleneck_depth(THETA_SN + excess, "kaiming")
    assert np.all(np.diff(depth) < 0) and depth[0] > 2e4
    # N = pi / sqrt(c delta) + O(1) with delta linear in theta - theta_sn: N sqrt(excess)
    # is constant up to the O(1) offset relative to N (1/N = 4e-5, 4e-4, 4e-3)
    scaled = depth * np.sqrt(excess)
    assert scaled[0] == pytest.approx(scaled[1], rel=1e-3)
    assert scaled[1] == pytest.approx(scaled[2], rel=1e-2)


def test_reduces_to_the_normal_form_passage_time_in_the_channel():
    # in the channel F' ~ 1: the integral is the plain passage time pi / sqrt(c delta),
    # plus the O(1) layers of the entry and the fall
    theta = THETA_SN + np.array([1e-8, 1e-6, 1e-4])
    _, delta, curvature = meanfield._bottleneck_channel(theta, 2.0)
    normal_form = np.pi / np.sqrt(curvature * delta)
    depth = T.bottleneck_depth(theta, "kaiming")
    assert np.all(np.abs(depth - normal_form) < 3.0), (depth, normal_form)


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


def test_integrand_is_the_linearised_step():
    # k(F') / (v - F) against F' and F from the symbolic map; exactly 1 / (v - F) at F' = 1
    theta, a, n = 0.6, 2.0, 1000.0
    v = np.array([0.05, 0.2, 0.5, 0.9])
    slope = symbolic.numeric("map_d1")(v, theta, a / n, n)
    step = v - meanfield.mean_field_map(v, theta, a / n, n)
    expected = (1.0 - slope) / (-np.log(slope)) / step
    got = [meanfield._passage_integrand(float(x), theta, a) for x in v]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    v_c, delta, _ = meanfield._bottleneck_channel(theta, a)
    assert meanfield._passage_integrand(float(v_c), theta, a) == pytest.approx(1.0 / delta)


def test_no_collapse_no_bottleneck_and_depth_scale_unchanged():
    assert T.bottleneck_depth(0.5, "kaiming") == math.inf  # below theta_sn: stable fixed point
    assert T.bottleneck_depth(THETA_SN - 1e-9, "kaiming") == math.inf
    assert T.bottleneck_depth(1.0, "micheli") == math.inf  # v = 1 is a fixed point
    assert T.bottleneck_depth(0.0, "kaiming") == math.inf  # F(v) = 1 for every v > 0
    # F' < 1 everywhere (no channel): the fast collapse still takes ~2 layers (3 iterated)
    assert 1.0 < T.bottleneck_depth(1.0, "kaiming") < 3.0
    assert T.depth_scale(0.58, "kaiming") == 0.0  # the collapse's xi stays 0
    out = T.bottleneck_depth([0.5, 0.58, 1.0], "kaiming")
    assert out.shape == (3,) and out[0] == math.inf and np.all(np.isfinite(out[1:]))


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(theta=-0.1), "theta"), (dict(rule="nope"), "rule"), (dict(width=0), "width")],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        T.bottleneck_depth(**{"theta": 0.6, **kwargs})
