"""The README section's snippet (docs/torch.md) runs and prints what it claims."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("snntorch")

pytestmark = pytest.mark.crosscheck

DOC = Path(__file__).resolve().parents[2] / "docs" / "torch.md"
NUMBERS = re.compile(r"layer 1:\s+([\d.]+)\s+layer 20:\s+([\d.]+)")


def _blocks(kind):
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_snntorch_snippet_runs_and_its_output_is_current(capsys):
    if not DOC.is_file():
        pytest.skip("docs/torch.md is not in this checkout")
    exec(compile(_blocks("python")[0], str(DOC), "exec"), {"__name__": "__snippet__"})
    printed = capsys.readouterr().out.splitlines()
    documented = _blocks("text")[0].strip().splitlines()
    for got, want in zip(printed[:2], documented):
        assert got.split()[0] == want.split()[0]
        got_n = [float(v) for v in NUMBERS.search(got).groups()]
        want_n = [float(v) for v in NUMBERS.search(want).groups()]
        # float32 sums may round differently with another BLAS / thread count, and one
        # flipped spike changes a deep network's counts; the documented numbers must
        # stay within 10 % (and the silent last layer exactly silent).
        assert got_n == pytest.approx(want_n, rel=0.1)
        assert (got_n[1] == 0) == (want_n[1] == 0)
    assert printed[2]  # the theory note
