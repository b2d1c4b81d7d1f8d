import math

import pytest

import snninit as si


def test_defaults_are_valid_and_round_trip_through_json():
    cfg = si.NetworkConfig(width=100, init_params={})
    assert si.NetworkConfig.from_json(cfg.to_json()) == cfg
    assert hash(cfg) == hash(si.NetworkConfig.from_json(cfg.to_json()))


def test_config_is_frozen():
    cfg = si.NetworkConfig()
    with pytest.raises(AttributeError):
        cfg.width = 5


def test_integral_float_width_is_normalised_to_int():
    assert si.NetworkConfig(width=100.0).width == 100
    assert isinstance(si.NetworkConfig(width=100.0).width, int)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("width", -1, "width must be an integer in [1,"),
        ("width", 0, "width must be an integer in [1,"),
        ("width", 10.5, "width must be an integer"),
        ("width", "100", "width must be an integer"),
        ("width", True, "width must be an integer"),
        ("layers", 0, "layers must be an integer in [1,"),
        ("steps", 0, "steps must be an integer in [1,"),
        ("theta", -0.1, "theta must be a finite number in [0.0, inf)"),
        ("theta", math.nan, "theta must be a finite number"),
        ("theta", math.inf, "theta must be a finite number"),
        ("beta", 1.5, "beta must be a finite number in [0.0, 1.0]"),
        ("beta", -0.01, "beta must be a finite number in [0.0, 1.0]"),
        ("beta", math.nan, "beta must be a finite number in [0.0, 1.0]"),
        ("reset", "hard", "reset must be one of 'subtract', 'zero', 'none'"),
        ("init", "xavier", "init must be one of"),
        ("input_scale", "2", "input_scale must be one of"),
        ("weights", "cauchy", "weights must be one of"),
        ("reset_decay", 1, "reset_decay must be True or False"),
        ("init_params", {"nope": 1.0}, "has no parameter(s) ['nope']"),
    ],
)
def test_bad_config_values_name_the_parameter_value_and_range(field, value, fragment):
    with pytest.raises(ValueError) as info:
        si.NetworkConfig(**{field: value})
    assert fragment in str(info.value)
    assert repr(value) in str(info.value) or field == "init_params"


def test_unknown_field_in_dict_is_refused():
    with pytest.raises(ValueError, match="unknown NetworkConfig field"):
        si.NetworkConfig.from_dict({"width": 10, "depth": 3})


def test_code_fingerprint_names_version_and_source_hash():
    import re

    from snninit import __version__
    from snninit._dataset import code_fingerprint

    fp = code_fingerprint()
    assert re.fullmatch(re.escape(__version__) + r"\+[0-9a-f]{12}", fp)
    code_fingerprint.cache_clear()
    assert code_fingerprint() == fp  # a hash of the files, not of the moment


def test_source_hash_follows_the_computing_code_only(tmp_path):
    import shutil
    from pathlib import Path

    import snninit
    from snninit._dataset import source_hash

    root = tmp_path / "snninit"
    shutil.copytree(Path(snninit.__file__).parent, root,
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = source_hash(root)
    for name in ("validation/figures.py", "validation/commands.py", "cli.py"):
        with open(root / name, "a") as f:
            f.write("\n# a label or a help text changed\n")
    assert source_hash(root) == before  # cached numbers stay valid
    with open(root / "montecarlo" / "engine.py", "a") as f:
        f.write("\n# the simulator changed\n")
    assert source_hash(root) != before  # cached numbers are recomputed


def test_config_pickles_through_its_json_form():
    import pickle

    cfg = si.NetworkConfig(width=7, layers=2, theta=0.1 + 0.2, init="fluctuation",
                        init_params={"mu_u": 0.1, "xi": 1.5})
    again = pickle.loads(pickle.dumps(cfg))
    assert again == cfg and again.to_json() == cfg.to_json()
