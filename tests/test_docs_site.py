"""The documentation site's contents, checked without building it (``nox -s docs`` builds).

* the API reference lists every public name of every package (it is written
  from the packages' ``__all__`` at build time: ``docs/conf.py``);
* every gallery example runs (each in a fresh process, Agg backend), so the
  examples cannot rot; the snntorch one only where torch is installed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
EXAMPLES = sorted((DOCS / "examples").glob("plot_*.py"))


def _conf():
    spec = importlib.util.spec_from_file_location("snninit_docs_conf", DOCS / "conf.py")
    module = importlib.util.module_from_spec(spec)
    # the module writes the pages on import; point it at a scratch folder instead
    source = (DOCS / "conf.py").read_text()
    assert "\nwrite_api_pages()\n" in source
    source = source.replace("\nwrite_api_pages()\n", "\n")
    exec(compile(source, str(DOCS / "conf.py"), "exec"), module.__dict__)
    return module


def test_the_reference_lists_every_public_name(tmp_path):
    conf = _conf()
    pages = conf.write_api_pages(tmp_path)
    assert {p.stem for p in pages} == set(conf.PACKAGES) >= {
        "snninit", "snninit.theory", "snninit.montecarlo", "snninit.training",
        "snninit.validation", "snninit.torch"}
    for page in pages:
        listed = {line.strip() for line in page.read_text().splitlines()
                  if line.startswith("   ") and not line.strip().startswith(":")}
        want = set(conf.public_names(page.stem)) - conf._NOT_OBJECTS
        assert want <= listed, (page.stem, sorted(want - listed))
    # the site's index reaches the reference and the gallery
    index = (DOCS / "index.md").read_text()
    assert "api" in index and "auto_examples/index" in index


def test_the_gallery_has_the_six_examples():
    names = {p.stem for p in EXAMPLES}
    assert names == {
        "plot_variance_through_depth", "plot_finite_width_extinction", "plot_dmft_heat_map",
        "plot_rules_head_to_head", "plot_snntorch_before_after", "plot_training_curve"}
    for path in EXAMPLES:  # sphinx-gallery's header: a title in the docstring
        text = path.read_text()
        assert text.startswith('"""\n') and "\n====" in text.split('"""')[1], path.name


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_each_example_runs(example, tmp_path):
    if "snntorch" in example.stem:
        pytest.importorskip("torch")
        pytest.importorskip("snntorch")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, str(example)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]


@pytest.mark.validation
def test_the_readme_example_runs(capsys):
    """The README's ten-line example (about a minute: advise evaluates 24 cells)."""
    import re

    readme = (DOCS.parent / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", readme, flags=re.S)[0]
    assert len(code.strip().splitlines()) <= 10
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    assert "recommended:" in capsys.readouterr().out
