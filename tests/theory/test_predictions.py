"""One prediction interface: every registered prediction against the simulation.

Conformance in the style of neural-tangents (``kernel_fn`` against
``monte_carlo_kernel_fn``): each entry of :data:`snninit.theory.PREDICTIONS`
is computed through :func:`snninit.theory.predict` and compared with
:func:`snninit.montecarlo.simulate` on a small case inside its claimed
validity, with :func:`snninit.validation.assert_agrees` at family-wise
false-failure rate ``ALPHA`` (fixed seeds: the outcome is deterministic, and
was drawn with that probability of a false failure). A new prediction without
a case here fails ``test_every_prediction_has_a_case``.
"""

from __future__ import annotations

import pytest

import snninit as si
from snninit.theory import PREDICTIONS, get_prediction, predict, register_prediction
from snninit.validation import assert_agrees

ALPHA = 1e-3

#: name -> (config, options, reps): inside the prediction's stated validity
#: (the n -> infinity theories at a width where the 1/n bias is far below the SE)
CASES = {
    "mean_field": (dict(width=2000, layers=6, theta=0.5), {}, 20),
    "finite_size": (dict(width=60, layers=12, theta=0.9), {"distribution": True}, 40),
    "finite_size_expansion": (dict(width=400, layers=8, theta=0.9), {}, 40),
    "dynamic_mean_field": (
        dict(width=2000, layers=3, steps=6, beta=0.7), {"paths": 2**13}, 20
    ),
}


def test_every_prediction_has_a_case():
    assert set(CASES) == set(PREDICTIONS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_prediction_agrees_with_simulation(name):
    fields, options, reps = CASES[name]
    cfg = si.NetworkConfig(**{"steps": 1, **fields})
    th = predict(cfg, name, seed=3, **options)
    assert th.attrs["kind"] == get_prediction(name).kind
    sim = si.montecarlo.simulate(cfg, reps=reps, seed=11, method="gram")
    cmp = assert_agrees(th, sim, alpha=ALPHA)
    assert int(sum(cmp[f"{v}_tested"].sum() for v in cmp.attrs["variables"].split(","))) > 10


def test_aliases_and_refusals():
    assert get_prediction("dmft") is PREDICTIONS["dynamic_mean_field"]
    assert get_prediction("expansion") is PREDICTIONS["finite_size_expansion"]
    cfg = si.NetworkConfig(width=20, layers=2, steps=3)
    with pytest.raises(ValueError, match="mean_field is a one-step theory"):
        predict(cfg, "mean_field")
    with pytest.raises(ValueError, match=r"prediction must be one of \["):
        predict(cfg, "bogus")
    with pytest.raises(ValueError, match="takes the options"):
        predict(cfg.replace(steps=1), "mean_field", paths=100)
    with pytest.raises(ValueError, match="already registered"):
        register_prediction(PREDICTIONS["mean_field"])
    with pytest.raises(ValueError, match="must be a snninit.theory.Prediction"):
        register_prediction("mean_field")


def test_conformance_can_fail():
    """The n -> infinity mean field at width 60 misses extinction over 30 layers: rejected."""
    cfg = si.NetworkConfig(width=60, layers=30, theta=0.9)
    sim = si.montecarlo.simulate(cfg, reps=40, seed=11, method="gram")
    with pytest.raises(AssertionError, match="rejects the prediction"):
        assert_agrees(predict(cfg, "mean_field"), sim, alpha=ALPHA)


def test_a_swept_dynamic_mean_field_is_a_dmft_dataset():
    """The theory sweep runs the registered prediction: same numbers, same kind as unswept.

    So :func:`snninit.theory.unstable_layer`, which reads a dynamic mean field
    by its ``kind``, accepts a (one-point) swept one.
    """
    import numpy as np

    from snninit.montecarlo.gridsweep import point_seed

    cfg = si.NetworkConfig(width=50, layers=6, steps=4, beta=0.5)
    swept = si.theory.sweep(cfg, {"theta": [1.0]}, what="dynamic_mean_field", paths=64)
    assert swept.attrs["kind"] == "dmft" == get_prediction("dmft").kind
    assert swept.attrs["theory"] == "dynamic_mean_field"
    one = predict(cfg, "dmft", seed=point_seed(0, {"theta": 1.0}), paths=64)
    np.testing.assert_array_equal(swept["rate"].isel(theta=0).values, one["rate"].values)
    for tolerance in (0.01, 1.0):
        assert si.theory.unstable_layer(swept, tolerance=tolerance) == si.theory.unstable_layer(
            one, tolerance=tolerance
        )
    assert si.theory.unstable_layer(swept, tolerance=0.01) is not None  # the test can tell


def test_swept_deterministic_predictions_carry_their_kind():
    import numpy as np

    cfg = si.NetworkConfig(width=40, layers=3)
    for name in ("mean_field", "finite_size", "finite_size_expansion"):
        swept = si.theory.sweep(cfg, {"theta": [0.5, 0.9]}, what=name)
        assert swept.attrs["kind"] == get_prediction(name).kind, name
        # the expansion is swept with on_breakdown="mask" (every point keeps its layers)
        options = {"on_breakdown": "mask"} if name == "finite_size_expansion" else {}
        point = predict(cfg.replace(theta=0.9), name, **options)
        for var in point.data_vars:
            if point[var].dtype.kind == "f":
                np.testing.assert_array_equal(swept[var].sel(theta=0.9).values, point[var].values)


def test_unstable_layer_reads_one_point_of_a_sweep():
    cfg = si.NetworkConfig(width=50, layers=6, steps=4, beta=0.5)
    swept = si.theory.sweep(cfg, {"theta": [0.8, 1.0]}, what="dynamic_mean_field", paths=64)
    with pytest.raises(ValueError, match="one configuration; it sweeps theta"):
        si.theory.unstable_layer(swept)
    point = swept.sel(theta=1.0)
    one = si.theory.sweep(cfg, {"theta": [1.0]}, what="dynamic_mean_field", paths=64)
    assert si.theory.unstable_layer(point, tolerance=0.01) == si.theory.unstable_layer(
        one, tolerance=0.01
    )
