"""The reliability harness of docs/reliability.md (issue 15): its case list and a subset run.

The full run (``python docs/scripts/reliability_table.py``, about 10 minutes)
regenerates docs/reliability.md; here a representative subset (a few cases of
each class, API and CLI, each in a subprocess) runs in well under 30 s and must
give no traceback, no silent NaN/inf and no hang.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "scripts" / "reliability_table.py"


def _load():
    spec = importlib.util.spec_from_file_location("reliability_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


rt = _load()

#: one or two cases per class, API and CLI, that cover the harness's code paths
SUBSET = (
    "config-width-nan",
    "config-init-1",
    "theory-dmft-paths-small",
    "theory-finite_size-width-1",
    "theory-weight_variance-n_in-bool",
    "montecarlo-simulate-reps-huge",
    "montecarlo-simulate-width-1",
    "training-cosine_lr-epochs-0",
    "torch-diagnose-no-torch",
    "validation-compare-theory-nan",
    "cli-theory-width-nan",
    "cli-simulate-reps-negative",
    "cli-train-unknown-flag",
    "cli-theory-out-under-file",
    "cli-simulate-layers-huge",
    "cli-sweep-status-missing",
    "scenario-pipe_theory",
)


def test_the_case_list_covers_every_class():
    ids = [c.id for c in rt.CASES]
    assert len(ids) >= 300
    assert len(set(ids)) == len(ids), "case ids must be unique"
    classes = {c.cls for c in rt.CASES}
    assert classes == set(rt.CLASSES), set(rt.CLASSES) ^ classes
    for cls in rt.CLASSES:
        assert sum(c.cls == cls for c in rt.CASES) >= 3, cls
    assert {c.run for c in rt.CASES} == {"api", "cli", "scenario"}
    for c in rt.CASES:
        assert c.expect in ("ok", "error")
        if c.run == "scenario":
            assert c.scenario in rt.SCENARIOS, c.id
        if c.setup:
            assert hasattr(rt, f"setup_{c.setup}"), c.id


def test_every_public_name_and_subcommand_has_a_case():
    import snninit.montecarlo
    import snninit.theory
    import snninit.training
    import snninit.validation

    text = "\n".join(c.call + " " + " ".join(c.argv) for c in rt.CASES)
    for mod in (snninit.theory, snninit.montecarlo, snninit.validation, snninit.training):
        constants = {"METHODS", "PRESETS", "InitRule", "NetworkRun", "Record", "DataError"}
        for name in set(mod.__all__) - constants:
            assert f"{name}(" in text or f".{name}" in text, f"{mod.__name__}.{name}"
    for cmd in ("theory", "simulate", "reproduce", "data", "train", "study", "sweep",
                "compare-rules", "diagnose"):
        assert any(c.argv[:1] == [cmd] for c in rt.CASES), cmd


def test_classification_of_api_outcomes():
    case = rt.Case(id="x", cls="bad type", run="api", call="f()", match="width")
    value = dict(status="exc", type="ValueError", mro=["ValueError", "Exception"],
                 message="width must be an integer", in_snninit=True, seconds=0.0)
    assert rt.classify_api(case, value)[0] == "clear error"
    assert rt.classify_api(case, {**value, "message": "n must be"})[0] == "wrong kind"
    type_error = {**value, "type": "TypeError", "mro": ["TypeError", "Exception"]}
    assert rt.classify_api(case, type_error)[0] == "wrong kind"
    leak = {**value, "type": "AttributeError", "mro": ["AttributeError", "Exception"]}
    assert rt.classify_api(case, leak)[0] == "traceback"
    assert rt.classify_api(case, dict(status="hang"))[0] == "hang"
    assert rt.classify_api(case, dict(status="ok", value="1", nan=[]))[0] == "wrong kind"
    ok = rt.Case(id="y", cls="extreme but valid", run="api", call="f()", expect="ok")
    assert rt.classify_api(ok, dict(status="ok", value="1", nan=[]))[0] == "ok"
    assert rt.classify_api(ok, dict(status="ok", value="1", nan=["kurt=nan"]))[0] == \
        "silent NaN/inf"


def test_nan_report_knows_the_documented_nans():
    import numpy as np
    import xarray as xr

    ds = xr.Dataset({"var_u": ("layer", [1.0, 0.0]), "kurt": ("layer", [0.5, np.nan])})
    assert rt._nan_report(ds) == []
    ds["kurt"][0] = np.nan
    assert rt._nan_report(ds)
    assert rt._nan_report(xr.Dataset({"x": ("a", [np.inf])}), allow=("x",)) == []


def test_classification_of_cli_outcomes(tmp_path):
    case = rt.Case(id="x", cls="bad type", run="cli", argv=["theory"], match="--width")
    line = "snninit theory: error: --width must be an integer\n"
    assert rt.classify_cli(case, 2, "", line, 0.5, tmp_path)[0] == "clear error"
    assert rt.classify_cli(case, 2, "", line * 2, 0.5, tmp_path)[0] == "wrong kind"
    trace = "Traceback (most recent call last):\n  File x\nKeyError: 1\n"
    assert rt.classify_cli(case, 1, "", trace, 0.5, tmp_path)[0] == "traceback"
    assert rt.classify_cli(case, None, "", "", 60, tmp_path)[0] == "hang"
    warn = "/x/y.py:3: RuntimeWarning: overflow\n  a = b\n" + line
    assert rt.classify_cli(case, 2, "", warn, 0.5, tmp_path)[0] == "clear error"
    ok = rt.Case(id="y", cls="extreme but valid", run="cli", argv=["theory"], expect="ok")
    assert rt.classify_cli(ok, 0, "layer var_u\n1 nan\n", "", 0.5, tmp_path)[0] == \
        "silent NaN/inf"
    assert rt.classify_cli(ok, 0, "layer var_u\n1 0.5\n", "", 0.5, tmp_path)[0] == "ok"


def test_a_representative_subset_runs_clean():
    by_id = {c.id: c for c in rt.CASES}
    missing = [i for i in SUBSET if i not in by_id]
    assert not missing, missing
    cases = [by_id[i] for i in SUBSET]
    results = rt.run_cases(cases, jobs=2, progress=False)
    bad = [r for r in results if r["outcome"] in ("traceback", "silent NaN/inf", "hang")]
    assert not bad, "\n".join(f"{r['id']}: {r['outcome']}: {r['text']}" for r in bad)
    for r in results:
        expected = "ok" if by_id[r["id"]].expect == "ok" else "clear error"
        assert r["outcome"] == expected, r


@pytest.mark.parametrize("marker", [rt.BEGIN, rt.END])
def test_the_document_has_its_generated_block(marker):
    assert marker in rt.DOC.read_text()
