"""Regenerate the null-harness table of docs/validation.md ("Cell tests near extinction").

Runs :func:`snninit.validation.null_rejections` at the settings of
``tests/validation/test_null_harness.py`` (every path, 400 seeds from 10000,
as ``nox -s validate``; about 15 minutes on two cores) and rewrites the block
``<!-- generated: null-harness -->`` of docs/validation.md. Usage, from the
repository root::

    NUMBA_NUM_THREADS=1 python docs/scripts/null_harness_table.py [--seeds 400]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "validation"))

from update_validation_tables import DOC, rewrite  # noqa: E402

import snninit as si  # noqa: E402
from snninit.validation.nulltest import null_rejections, null_summary  # noqa: E402

ALPHAS = (0.05, 1e-2, 1e-3)
#: What the theory of each path states besides the means and p_extinct.
_WHAT = {
    "stated": "spread, survivors",
    "sample": "survivors",
    "p_extinct-only": "neither (derived)",
}


def _rate(c: dict) -> str:
    return f"{100 * c['rate']:.2f} ± {100 * c['se']:.2f} %"


def table(seeds: int, first_seed: int = 10_000, level: float = 0.999) -> str:
    """Markdown table of the family-wise and per-cell rates, one row per setting and path."""
    from test_null_harness import PATHS, SETTINGS

    head = (
        "| width | theta | theory states | "
        + " | ".join(f"rejected at α={a:g} (allowed ≤)" for a in ALPHAS)
        + " | \\|z\\|>2, survivors' cells | \\|z\\|>2, two-part var_u | \\|z\\|>2, p_extinct |"
    )
    lines = [head, "|" + "---|" * (3 + len(ALPHAS) + 3)]
    start = time.perf_counter()
    for width, theta, layers in SETTINGS:
        cfg = si.NetworkConfig(width=width, layers=layers, steps=1, theta=theta, init="micheli")
        for path, (spread, survivors) in PATHS.items():
            ds = null_rejections(
                cfg, seeds, spread=spread, survivors=survivors, alphas=ALPHAS,
                first_seed=first_seed,
            )
            s = null_summary(ds, level=level)
            fam = " | ".join(
                f"{s['family'][a]['rejected']}/{seeds} (≤ {s['family'][a]['bound']})"
                for a in ALPHAS
            )
            cells = s["cells"]
            lines.append(
                f"| {width} | {theta:g} | {_WHAT[path]} | {fam} | "
                f"{_rate(cells['var_u_given_alive'])} | {_rate(cells['var_u'])} | "
                f"{_rate(cells['p_extinct'])} |"
            )
    minutes = (time.perf_counter() - start) / 60
    lines.append("")
    lines.append(
        f"({seeds} seeds of 20 networks per row, seeds {first_seed}–{first_seed + seeds - 1}, "
        f"100 layers; nominal per-cell rate 4.55 %; ± is the cluster-robust SE; "
        f"snninit {si.__version__}, {dt.date.today().isoformat()}, {minutes:.1f} min.)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=400)
    args = parser.parse_args(argv)
    text = table(args.seeds)
    print(text)
    DOC.write_text(rewrite(DOC.read_text(), {"null-harness": text}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
