"""The `snninit reproduce` job on tiny protocols: files, resume, figures, report, CLI."""

from __future__ import annotations

import dataclasses

import pytest

import snninit as si
from snninit import cli
from snninit._dataset import load_dataset
from snninit.validation import pipeline

_REAL_EXPERIMENTS = pipeline.experiments


def _tiny(quick: bool = False):
    """The real protocols, shrunk to run in seconds."""
    out = []
    for exp in _REAL_EXPERIMENTS(quick=True):
        base = exp.base.replace(width=60, layers=5)
        sweep = tuple((d, tuple(v)[:2]) for d, v in exp.sweep)
        if exp.name == "fig3":
            sweep = (("n", (30, 60)), ("theta", (0.8, 1.0)))
        if exp.name == "fig4":
            base = base.replace(width=60, layers=4, steps=4)
            sweep = (("beta", (0.5, 0.9)), ("init", ("micheli", "kaiming")))
        out.append(dataclasses.replace(exp, base=base, sweep=sweep, reps=4, dmft_paths=2000))
    return out


def _tiny_rules(quick: bool = False):
    return dict(width=40, layers=4, steps=(1, 3), reps=2, seed=7, train=False)


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(pipeline, "experiments", _tiny)
    monkeypatch.setattr(pipeline, "rules_settings", _tiny_rules)


@pytest.mark.validation
def test_reproduce_writes_everything_and_resumes(tiny, tmp_path):
    res = pipeline.reproduce(tmp_path, quick=True, progress=False, log=lambda s: None)
    names = {p.name for p in res["figures"]}
    for stem in (
        "fig2_variance_vs_depth",
        "fig3_finite_size",
        "beyond_theta_star",
        "fig4_beta0.5",
        "fig4_beta0.9",
        "fig4_profiles_beta0.9",
        "fig7_skew_kurtosis",
        "stability",
    ):
        assert f"{stem}.png" in names and f"{stem}.pdf" in names, stem
        assert (tmp_path / "figures" / f"{stem}.png").stat().st_size > 5000
    assert (tmp_path / "figures" / "rules_head_to_head.png").stat().st_size > 5000
    report = (tmp_path / "report.md").read_text()
    # the rules head to head: its own heading, one column per registered rule
    assert "## rules: the initialisation rules head to head" in report
    header = next(ln for ln in report.splitlines() if ln.startswith("| T | beta | theta |"))
    for rule in si.theory.rule_names():
        assert f" {rule} |" in header
    assert (tmp_path / "data" / "rules" / "rules.nc").is_file()
    assert not res["rules"].reused
    assert "## Summary" in report and "| fig2 | exact finite-n chain |" in report
    assert "Not in the paper" in report
    sim = load_dataset(tmp_path / "data" / "fig2_simulation.nc")
    assert set(sim["var_u"].dims) == {"init", "theta", "rep", "layer", "time"}
    assert sim.sizes["rep"] == 4
    cmp = load_dataset(tmp_path / "data" / "fig2_vs_finite_size.nc")
    assert "var_u_z" in cmp
    first = {k: r.computed for k, r in res["results"].items()}
    assert all(c > 0 for c in first.values())

    # rerun: every cell comes from the cache, numbers identical
    again = pipeline.reproduce(tmp_path, quick=True, progress=False, log=lambda s: None)
    assert all(r.computed == 0 for r in again["results"].values())
    assert again["rules"].reused
    sim2 = load_dataset(tmp_path / "data" / "fig2_simulation.nc")
    assert sim2["var_u"].equals(sim["var_u"])


def test_experiment_cache_resumes_and_tracks_the_protocol(tmp_path):
    exp = next(e for e in _tiny() if e.name == "fig3")
    first = pipeline.run_experiment(exp, tmp_path, progress=False)
    cells = len(exp.cells())
    assert first.computed == 2 * cells and first.reused == 0 and not first.errors
    sim = load_dataset(tmp_path / "fig3_simulation.nc")
    assert dict(sim.sizes) == {"n": 2, "theta": 2, "rep": 4, "layer": 6, "time": 1}
    assert sim["var_u"].sel(n=30, theta=0.8).equals(first.simulation["var_u"].sel(n=30, theta=0.8))
    # an interrupted run: one cached cell lost -> only that one is recomputed
    next((tmp_path / "cache" / "fig3").glob("simulation__*.nc")).unlink()
    again = pipeline.run_experiment(exp, tmp_path, progress=False)
    assert again.computed == 1 and again.reused == 2 * cells - 1
    assert again.simulation["var_u"].equals(first.simulation["var_u"])
    # a changed protocol: simulations recomputed, predictions (unchanged) reused
    more = dataclasses.replace(exp, reps=5)
    third = pipeline.run_experiment(more, tmp_path, progress=False)
    assert third.computed == cells and third.reused == cells
    assert third.simulation.sizes["rep"] == 5
    # a damaged cache file is recomputed, not trusted
    victim = next((tmp_path / "cache" / "fig3").glob("finite_size__*.nc"))
    victim.write_bytes(b"not netcdf")
    fourth = pipeline.run_experiment(more, tmp_path, progress=False)
    assert fourth.computed == 1


def test_figures_only_writes_figures_and_no_report(tiny, tmp_path):
    res = pipeline.reproduce(tmp_path, quick=True, only=["fig3"], progress=False, figures_only=True)
    assert res["report"] is None and not (tmp_path / "report.md").exists()
    assert res["rules"] is None  # not asked for
    for ext in ("png", "pdf"):
        assert (tmp_path / "figures" / f"fig3_finite_size.{ext}").stat().st_size > 5000
        assert (tmp_path / "figures" / f"stability.{ext}").exists()


def test_cells_have_distinct_reproducible_seeds():
    exp = pipeline.experiments(quick=True)[0]
    seeds = [exp.cell_seed(i) for i in range(len(exp.cells()))]
    assert len(set(seeds)) == len(seeds)
    assert seeds == [exp.cell_seed(i) for i in range(len(exp.cells()))]


def test_cli_reproduce_rejects_unknown_experiment(tmp_path, capsys):
    rc = cli.main(["reproduce", "--out", str(tmp_path), "--only", "fig99", "--no-progress"])
    assert rc == 2
    assert "fig99" in capsys.readouterr().err


def test_public_names():
    assert si.validation.compare.__module__ == "snninit.validation.comparison"
    assert callable(si.validation.reproduce)


@pytest.mark.validation
def test_cli_reproduce_quick_end_to_end(tmp_path, capsys):
    """The README's first command, as a user runs it."""
    rc = cli.main(["reproduce", "--quick", "--out", str(tmp_path), "--no-progress"])
    assert rc == 0
    report = (tmp_path / "report.md").read_text()
    for name in ("fig2", "fig3", "beyond", "fig4"):
        assert f"| {name} |" in report
    assert "## rules: the initialisation rules head to head" in report
    # the one-step experiments are exact: the chain must not be rejected (three
    # comparisons at family-wise rate 1e-3 each: false-failure rate <= 3e-3; seeds fixed)
    for line in report.splitlines():
        if "| exact finite-n chain |" in line:
            assert line.rstrip().endswith("| consistent |"), line
    assert len(list((tmp_path / "figures").glob("*.png"))) == 10
    out = capsys.readouterr().out
    assert "report:" in out


def test_report_summary_is_nan_aware(tmp_path):
    """Cells without a defined test are counted as untested, never shown as NaN/inf."""
    import numpy as np
    import xarray as xr

    from snninit.validation import agreement_summary, compare

    reps, layers = 10, 4
    rng = np.random.default_rng(11)
    var_u = rng.normal(1.0, 0.1, size=(reps, layers, 1))
    var_u[:, 2:, 0] = 0.0  # layers 2-3 silent in every network
    skew = np.full((reps, layers, 1), np.nan)  # undefined everywhere (e.g. all silent)
    coords = {"layer": np.arange(layers), "time": [0]}
    sim = xr.Dataset(
        {"var_u": (("rep", "layer", "time"), var_u), "skew": (("rep", "layer", "time"), skew)},
        coords=coords,
    )
    # a prediction that says nothing about the spread: layer 2 slightly active, layer 3 silent
    th = xr.Dataset(
        {
            "var_u": (("layer", "time"), np.array([[1.0], [1.0], [3e-4], [0.0]])),
            "skew": (("layer", "time"), np.zeros((layers, 1))),
        },
        coords=coords,
    )
    cmp = compare(th, sim)
    summ = agreement_summary(cmp)
    # layer 2: sample SD 0 and sim != theory -> untested; layer 3: equal -> tested (z = 0)
    assert summ["var_u"]["cells"] == 3 and summ["var_u"]["untested"] == 1
    assert np.isfinite(summ["var_u"]["worst_z"])
    assert summ["skew"]["cells"] == 0 and summ["skew"]["untested"] == layers
    assert np.isnan(summ["skew"]["worst_z"]) and summ["skew"]["agrees"]
    row = pipeline.summary_row("toy", "finite_size", cmp)
    assert row[2:4] == ["3", "5"] and row[-1] == "consistent"
    # nothing testable at all: verdict 'untested', dashes instead of numbers
    only_skew = pipeline.summary_row("toy", "dmft", compare(th, sim, variables=["skew"]))
    assert only_skew[2:] == ["0", str(layers), "—", "—", "untested"]
    # a tested cell of zero SE whose values differ is a certain disagreement, spelled ±∞
    th0 = th.assign(var_u_sd=(("layer", "time"), np.zeros((layers, 1))))
    certain = pipeline.summary_row("toy", "finite_size", compare(th0, sim, variables=["var_u"]))
    assert certain[4].startswith("−∞") and certain[-1].startswith("**rejected**")
    # the report: failed comparisons are named, no NaN or inf text anywhere
    text, rows = pipeline.write_report(
        tmp_path / "report.md",
        {},
        [("toy", "finite_size", cmp), ("toy", "dmft", "ValueError: theory has NaN")],
        [],
        quick=True,
        seconds=1.0,
    )
    assert [r[-1] for r in rows] == ["consistent", "not compared"]
    for bad in ("nan", "inf"):
        assert bad not in text.lower().replace("information", ""), bad


def test_fig4_note_locates_the_unstable_regime_and_skips_dying_networks():
    import xarray as xr

    import snninit as si
    from snninit.validation.pipeline import _unstable_note

    base = si.NetworkConfig(width=200, layers=30, steps=10, theta=1.0, beta=0.5)
    sims = []
    for init in ("micheli", "kaiming"):
        cfg = base.replace(init=init)
        sims.append(si.montecarlo.simulate(cfg, reps=8, seed=3, method="gram"))
    sim = xr.concat(sims, "init").assign_coords(init=["micheli", "kaiming"]).expand_dims(beta=[0.5])
    sim.attrs = sims[0].attrs
    note = _unstable_note(sim)
    expected = si.theory.unstable_layer(sims[0])
    assert expected is not None  # Micheli at beta 0.5 breaks into volleys within 30 layers
    assert f"β=0.5 micheli: from layer {expected} (simulation)" in note
    predicted = si.theory.breakup_layer(base.replace(init="micheli"), paths=2**14)
    assert f"{predicted:.1f} predicted for width 200 (`breakup_layer`)" in note
    assert "kaiming" not in note  # its activity dies: a front, not volleys


def test_fig4_numbers_on_a_known_dataset():
    """The numbers held against the paper are read off the data, nothing typed."""
    import numpy as np
    import xarray as xr

    var = np.array([[[1.0, 2.0, 3.0], [1.0, 4.0, 2.0]], [[1.0, 2.0, 5.0], [3.0, 6.0, 4.0]]])
    rate = np.array([[[0.2, 0.2, 0.2], [0.1, 0.0, 0.2]], [[0.2, 0.2, 0.2], [0.1, 0.2, 0.0]]])
    dims = ("rep", "layer", "time")
    coords = {"layer": [0, 1], "time": [0, 1, 2]}
    sim = xr.Dataset({"var_u": (dims, var), "rate": (dims, rate)}, coords=coords)
    num = pipeline.fig4_numbers(sim.expand_dims(beta=[0.9]), 0.9)
    assert num["L"] == 1 and num["T"] == 3 and num["layers"] == 1
    assert num["var_first"] == 2.0 and num["var_last"] == 3.0 and num["var_peak"] == 5.0
    assert num["t_peak"] == 1 and num["grows"] == 1
    assert num["var_last_sd"] == pytest.approx(np.std([2.0, 4.0], ddof=1))
    assert num["rate_1"] == pytest.approx(0.1) and num["rate_L"] == pytest.approx(0.1)
    assert pipeline._dissipation(num) == "decays after its peak at t = 1"
    # a prediction (no rep dim): no SD
    pred = sim.mean("rep")
    assert np.isnan(pipeline.fig4_numbers(pred, 0.9)["var_last_sd"])
    assert pipeline.fig4_numbers(pred, 0.9)["unconverged_from"] is None
    # a dynamic mean field not converged in paths at the deep layer: no value quoted
    pred["converged"] = ("layer", [True, False])
    t = pipeline.fig4_numbers(pred, 0.9)
    assert t["unconverged_from"] == 1
    words = pipeline._dmft_words(t, "rate_1", "rate_L")
    assert "not converged in paths from layer 1" in words and "→" not in words
    pred["converged"] = ("layer", [True, True])
    t = pipeline.fig4_numbers(pred, 0.9)
    assert pipeline._dmft_words(t, "rate_1", "rate_L") == "; dynamic mean field: 0.1 → 0.1"


def test_report_says_where_we_differ_from_the_paper(tmp_path):
    """Fig. 4a/4b against the paper, with the run's numbers and every convention simulated."""
    import numpy as np

    fig4 = next(e for e in _tiny() if e.name == "fig4")
    convs = pipeline.convention_experiments(fig4)
    changes = [c for _, c in pipeline.CONVENTIONS[1:]]
    assert len(convs) == len(changes) == 3
    for exp, change in zip(convs, changes):
        cfg = exp.config({"beta": 0.9})
        assert cfg == fig4.base.replace(beta=0.9, init="micheli", **change)
        assert exp.reps == fig4.reps and exp.theories == ()
    results = {"fig4": pipeline.run_experiment(fig4, tmp_path, progress=False)}
    conventions = pipeline.run_conventions(results, tmp_path, progress=False)
    assert set(conventions) == {e.name for e in convs}
    lines = pipeline.paper_differences(results, conventions)
    text = "\n".join(lines)
    assert lines[0] == "## Where our results and the paper differ"
    assert "**Fig. 4b (β = 0.9)**" in text and "**Fig. 4a (β = 0.5)**" in text
    sim = results["fig4"].simulation
    L, T = fig4.base.layers, fig4.base.steps
    deep = sim["var_u"].sel(beta=0.9, init="micheli", layer=L, time=T - 1)
    assert (
        f"{float(deep.mean('rep')):.3g} ± {float(deep.std('rep', ddof=1)):.2g} at t = {T - 1}"
        in (text)
    )
    rate = sim["rate"].sel(beta=0.5, init="micheli", layer=L).mean("time").mean("rep")
    assert f"{float(rate):.3g}" in text
    # one table row per convention; the simulated ones name their data
    rows = [ln for ln in text.splitlines() if ln.startswith("| ")][1:]
    assert len(rows) == len(pipeline.CONVENTIONS)
    for (label, _), row in zip(pipeline.CONVENTIONS, rows):
        assert row.startswith(f"| {label} |")
    reset = conventions["fig4_reset"].simulation
    v = float(reset["var_u"].sel(beta=0.9, layer=L).isel(time=-1).mean("rep"))
    assert f"→ {v:.3g} (peak" in rows[1] and "`fig4_reset`" in rows[1]
    assert "dissipates at β = 0.9 in this run:" in text and "Most activity kept" in text
    for bad in ("nan", "inf"):
        assert bad not in text.lower(), bad
    # the report carries the section after the summary; without fig4 there is none
    report, _ = pipeline.write_report(
        tmp_path / "report.md", results, [], [], quick=True, seconds=1.0, conventions=conventions
    )
    assert report.index("## Summary") < report.index(lines[0]) < report.index("## fig4")
    assert pipeline.paper_differences({}, None) == []
    assert np.isfinite(pipeline.fig4_numbers(sim, 0.5)["rate_1"])


def _doc_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "docs" / "scripts" / "update_validation_tables.py"
    spec = importlib.util.spec_from_file_location("update_validation_tables", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_validation_doc_blocks_are_regenerated_in_place():
    """docs/validation.md carries every block the script writes; rewriting is idempotent."""
    script = _doc_script()
    report = "\n".join(
        [
            "# r",
            "## Summary",
            "",
            "| a |",
            "|---|",
            "| 1 |",
            "",
            "## Where our results and the paper differ",
            "",
            "- Fig. 4b: 69.9",
            "## fig3: Fig. 3",
            "- Not in the paper: P(silent) = 0.78",
        ]
    )
    new = {
        **script.blocks(report, "quick"),
        **script.blocks(report, "full"),
        "quick-run": "q",
        "full-run": "f",
    }
    assert new["quick-summary"] == "| a |\n|---|\n| 1 |"
    assert new["quick-notes"] == "- **fig3**: P(silent) = 0.78"
    doc = script.DOC.read_text(encoding="utf-8")
    once = script.rewrite(doc, new)
    assert script.rewrite(once, new) == once
    assert "<!-- generated: quick-summary -->\n| a |\n|---|\n| 1 |\n<!-- end generated" in once
    # outside the blocks nothing changes; a block not asked for keeps its body
    strip = script._BLOCK.sub("", doc)
    assert script._BLOCK.sub("", once) == strip
    kept = script.rewrite(once, {"quick-run": "again"})
    assert "- Fig. 4b: 69.9" in kept and "again" in kept
    with pytest.raises(ValueError, match="lacks the markers"):
        script.rewrite("no markers", {"quick-run": "x"})
    with pytest.raises(ValueError, match="no section"):
        script.report_section(report, "Nowhere")


def _leftover(folder, target: str, age: float = 3600.0):
    """The temporary file a writer killed mid-write leaves (``atomic_write``'s naming).

    ``age``: seconds since its last change (0: a concurrent writer's, fresh).
    """
    import os
    import tempfile
    import time
    from pathlib import Path

    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target}.", suffix=".tmp", dir=folder)
    os.write(fd, b"half a file")
    os.close(fd)
    if age:
        then = time.time() - age
        os.utime(name, (then, then))
    return Path(name)


def test_only_fig3_after_only_fig2_keeps_both_sections(tiny, tmp_path, capsys):
    """`reproduce --quick --only fig2`, then `--only fig3` into the same folder."""
    args = ["reproduce", "--quick", "--out", str(tmp_path), "--no-progress"]
    assert cli.main([*args, "--only", "fig2"]) == 0
    first = (tmp_path / "report.md").read_text()
    assert "## fig2:" in first and "## fig3:" not in first
    assert cli.main([*args, "--only", "fig3"]) == 0
    report = (tmp_path / "report.md").read_text()
    lines = report.splitlines()
    assert "## fig2:" in report and "## fig3:" in report
    assert report.index("## fig2:") < report.index("## fig3:")  # the experiments' order
    kept = [ln for ln in lines if ln.startswith("- kept from an earlier run")]
    assert len(kept) == 1 and kept[0].endswith(": fig2")
    # fig2's rows are the first run's, rebuilt from its cached cells (not recomputed)
    rows = [ln for ln in first.splitlines() if ln.startswith("| fig2 |")]
    assert rows and all(r in lines for r in rows)
    assert "| fig3 | exact finite-n chain |" in report
    assert "(figures/fig2_variance_vs_depth.png)" in report
    assert "(figures/fig3_finite_size.png)" in report
    out = capsys.readouterr().out
    assert "fig2    vs" in out and "fig3    vs" in out
    # and the API says what was kept, computing nothing for it
    res = pipeline.reproduce(tmp_path, quick=True, only=["fig2"], progress=False, log=print)
    assert res["kept"] == ["fig3"] and res["results"]["fig3"].computed == 0
    assert "## fig3:" in (tmp_path / "report.md").read_text()
    # figures-only writes no report, so it keeps nothing
    res = pipeline.reproduce(
        tmp_path, quick=True, only=["fig2"], figures_only=True, progress=False, log=print
    )
    assert res["kept"] == [] and list(res["results"]) == ["fig2"]


def test_only_leaves_out_experiments_whose_cache_is_stale(tiny, tmp_path):
    """A kept section must come from cells of the current protocol, or not at all."""
    pipeline.reproduce(tmp_path, quick=True, only=["fig2"], progress=False, log=print)
    cell = next((tmp_path / "data" / "cache" / "fig2").glob("simulation__*.nc"))
    cell.unlink()  # one simulated cell missing: fig2 cannot be rebuilt
    res = pipeline.reproduce(tmp_path, quick=True, only=["fig3"], progress=False, log=print)
    assert res["kept"] == []
    assert "## fig2:" not in (tmp_path / "report.md").read_text()


def test_successful_rerun_removes_stale_temp_files_only(tiny, tmp_path):
    """kill -9 during a write leaves `.<name>.<random>.tmp`; the next good run removes it."""
    import os
    import time

    pipeline.reproduce(tmp_path, quick=True, only=["fig2"], progress=False, log=print)
    cache = tmp_path / "data" / "cache" / "fig2"
    cell = next(cache.glob("simulation__*.nc")).name
    stale = [
        _leftover(tmp_path, "report.md"),
        _leftover(cache, cell),
        _leftover(tmp_path / "data", "fig2_simulation.nc"),
        _leftover(tmp_path / "figures", "fig2_variance_vs_depth.png"),
        _leftover(tmp_path / "data" / "rules", "rules.nc"),
    ]
    fresh = _leftover(cache, cell, age=0)  # a concurrent writer's: it is writing now
    foreign = tmp_path / "figures" / ".my-notes.tmp"  # not our naming pattern
    foreign.write_text("keep me")
    then = time.time() - 3600
    os.utime(foreign, (then, then))
    pipeline.reproduce(tmp_path, quick=True, only=["fig2"], progress=False, log=print)
    assert [p for p in stale if p.exists()] == []
    assert fresh.exists() and foreign.exists()
    # and a failed run removes nothing
    old = _leftover(tmp_path, "report.md")
    with pytest.raises(ValueError):
        pipeline.reproduce(tmp_path, quick=True, only=["nope"], progress=False, log=print)
    assert old.exists()


def test_reproduce_and_experiments_refuse_bad_flags(tmp_path):
    with pytest.raises(ValueError, match="quick must be True or False"):
        pipeline.experiments(quick="yes")
    # one name is one experiment, not its letters
    with pytest.raises(ValueError, match="got 'fig2x'"):
        pipeline.reproduce(tmp_path, quick=True, only="fig2x", progress=False)
    with pytest.raises(ValueError, match="progress must be True or False"):
        pipeline.reproduce(tmp_path, quick=True, only="fig2", progress="no")
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_the_cache_fingerprint_covers_the_computing_code_only(tmp_path):
    """Editing the report keeps every cached cell valid; editing what computes a cell does not."""
    import shutil
    from pathlib import Path

    import snninit
    from snninit._dataset import computing_files, source_hash

    pkg = Path(snninit.__file__).parent
    hashed = {p.relative_to(pkg).as_posix() for p in computing_files(pkg)}
    for report_side in (
        "validation/pipeline.py", "validation/report.py", "validation/paper.py",
        "validation/_format.py", "validation/figures.py", "validation/protocols.py",
        "validation/runs.py", "validation/commands.py", "cli.py",
    ):  # fmt: skip
        assert report_side not in hashed, report_side
    for computing in (
        "validation/cells.py", "validation/celltests.py", "montecarlo/engine.py",
        "montecarlo/kernels.py", "models/leaky.py", "config.py", "theory/predictions.py",
        "theory/finitesize.py", "theory/meanfield.py", "theory/dmft.py",
    ):  # fmt: skip
        assert computing in hashed, computing
    root = tmp_path / "snninit"
    shutil.copytree(pkg, root, ignore=shutil.ignore_patterns("__pycache__"))
    before = source_hash(root)
    # one sentence of the report (a function of report.py) changes: every cell stays valid
    report = root / "validation" / "report.py"
    text = report.read_text(encoding="utf-8")
    assert "# snninit reproduce — report" in text
    report.write_text(text.replace("reproduce — report", "reproduce: the report"), "utf-8")
    assert source_hash(root) == before
    # how a cell is computed changes: every cell is recomputed
    cells = root / "validation" / "cells.py"
    text = cells.read_text(encoding="utf-8")
    assert "distribution=True" in text
    cells.write_text(text.replace("distribution=True", "distribution=False"), "utf-8")
    assert source_hash(root) != before


def test_dmft_cells_keep_their_cache_names_and_protocol():
    """``dmft`` (the registry's alias) names the cells as before the registry: caches stay valid."""
    import json
    from pathlib import Path

    from snninit.validation.runs import _cache_path

    fig4 = next(e for e in pipeline.experiments(quick=True) if e.name == "fig4")
    assert fig4.theories == ("dmft",)
    cell = fig4.cells()[0]
    tag = json.loads(fig4.tag("dmft", cell, 0))
    assert set(tag) == {"what", "config", "paths", "seed", "version"}
    assert tag["what"] == "dmft" and tag["paths"] == fig4.dmft_paths
    assert tag["seed"] == fig4.cell_seed(0)
    path = _cache_path(Path("out"), fig4, "dmft", cell)
    assert path == Path("out/cache/fig4/dmft__beta=0.5_init=micheli.nc")
    assert set(json.loads(fig4.tag("finite_size", cell, 0))) == {"what", "config", "version"}
