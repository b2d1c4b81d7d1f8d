"""Regenerate the numbers of docs/validation.md from the code (never type them).

Runs ``snninit reproduce --quick`` (about 35 s on two cores) and, unless
``--quick-only``, the paper-size one-step and Fig. 4 experiments
(``snninit reproduce --only fig2 --only fig3 --only beyond --only fig4``,
about 1-2 minutes; the rules head to head with its MNIST runs is left out),
then rewrites every block of ``docs/validation.md`` between

    <!-- generated: NAME -->
    ...
    <!-- end generated: NAME -->

with the matching part of the fresh ``report.md``. Blocks (``quick-*`` from
the quick run, ``full-*`` from the paper-size one):

- ``quick-run``, ``full-run``: which run produced the numbers, when, and
  how long it took;
- ``quick-summary``, ``full-summary``: the report's summary table;
- ``quick-differences``, ``full-differences``: the section *where our
  results and the paper differ* (without its heading);
- ``quick-notes``, ``full-notes``: the report's "Not in the paper" notes,
  per experiment.

Idempotent: text outside the markers is left as it is, a block whose run was
skipped (``full-*`` with ``--quick-only``) keeps its content, and a rerun
on unchanged code gives the same tables (fixed seeds). Usage, from the
repository root::

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python docs/scripts/update_validation_tables.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "validation.md"
FULL_EXPERIMENTS = ("fig2", "fig3", "beyond", "fig4")
_BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end generated: (?P=name) -->)",
    re.DOTALL,
)


def report_section(report: str, heading: str) -> str:
    """The body of the ``## heading`` section of ``report`` (up to the next ``## ``).

    Raises
    ------
    ValueError
        If the report has no such section.
    """
    lines = report.splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip() == f"## {heading}")
    except StopIteration:
        raise ValueError(f"report has no section '## {heading}'") from None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start + 1 : end]).strip("\n")


def report_notes(report: str) -> str:
    """The report's "Not in the paper" notes as one list, each tagged with its experiment."""
    out, experiment = [], None
    for ln in report.splitlines():
        if ln.startswith("## "):
            experiment = ln[3:].split(":", 1)[0]
        elif ln.startswith("- Not in the paper: ") and experiment:
            out.append(f"- **{experiment}**: {ln[len('- Not in the paper: ') :]}")
    return "\n".join(out)


def blocks(report: str, prefix: str) -> dict[str, str]:
    """The generated blocks ``<prefix>-summary``, ``-differences``, ``-notes`` of one report."""
    return {
        f"{prefix}-summary": report_section(report, "Summary"),
        f"{prefix}-differences": report_section(report, "Where our results and the paper differ"),
        f"{prefix}-notes": report_notes(report),
    }


def rewrite(doc: str, new: Mapping[str, str]) -> str:
    """Replace the body of every block of ``doc`` named in ``new``; keep the others.

    Raises
    ------
    ValueError
        If a block of ``new`` has no markers in ``doc``.
    """
    missing = set(new) - {m["name"] for m in _BLOCK.finditer(doc)}
    if missing:
        raise ValueError(f"the document lacks the markers of {sorted(missing)}")

    def body(m: re.Match) -> str:
        name = m["name"]
        if name not in new:
            return m[0]
        return f"{m[1]}{new[name].strip()}\n{m[4]}"

    return _BLOCK.sub(body, doc)


def run_reproduce(out: Path, args: list[str]) -> tuple[str, str]:
    """Run ``snninit reproduce`` (the real command line) into ``out``.

    Returns the report's text and how long it took (wall time, "from
    scratch" or "cells reused from ``out``" when ``out`` held an earlier run).
    """
    from snninit.cli import main

    reused = (out / "data" / "cache").is_dir()
    t0 = time.perf_counter()
    rc = main(["reproduce", "--out", str(out), "--no-progress", *args])
    seconds = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"snninit reproduce {' '.join(args)} failed with exit status {rc}")
    how = f"cells reused from {out}" if reused else "from scratch"
    return (out / "report.md").read_text(encoding="utf-8"), f"{seconds:.0f} s wall ({how})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--doc", type=Path, default=DOC, help="the page to rewrite")
    parser.add_argument(
        "--quick-only", action="store_true", help="skip the paper-size run (full-* blocks kept)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="keep the runs here, reuse their cells (default: a fresh temporary folder)",
    )
    args = parser.parse_args(argv)
    import snninit

    today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")

    def stamp(command: str, took: str) -> str:
        return (
            f"Generated by `python docs/scripts/update_validation_tables.py` on {today} "
            f"(snninit {snninit.__version__}) from `{command}`: {took}."
        )

    new: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="snninit-doc-") as tmp:
        root = args.out or Path(tmp)
        quick, took = run_reproduce(root / "quick", ["--quick"])
        new.update(blocks(quick, "quick"))
        new["quick-run"] = stamp("snninit reproduce --quick", took)
        if not args.quick_only:
            only = [a for e in FULL_EXPERIMENTS for a in ("--only", e)]
            full, took = run_reproduce(root / "full", only)
            new.update(blocks(full, "full"))
            new["full-run"] = stamp(f"snninit reproduce {' '.join(only)}", took)
    doc = args.doc.read_text(encoding="utf-8")
    args.doc.write_text(rewrite(doc, new), encoding="utf-8")
    print(f"rewrote {', '.join(sorted(new))} in {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
