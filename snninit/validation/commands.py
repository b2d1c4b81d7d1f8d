"""Sub-commands of the validation package: ``snninit reproduce``."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers) -> None:
    """Add ``reproduce`` to the ``snninit`` command."""
    p = subparsers.add_parser(
        "reproduce",
        help="run the paper's experiments, compare them with the theory, draw and report",
        description=(
            "Run the paper's protocols (Figs. 2, 3, 4, 7 and three beyond the paper, among them "
            "the (theta, beta) phase diagram per rule), compute "
            "the predictions, run the initialisation rules head to head, write netCDF "
            "datasets, PNG/PDF figures and report.md into OUT. "
            "Resumable: cells whose cached dataset matches the protocol are reused."
        ),
    )
    p.add_argument("--quick", action="store_true", help="reduced sizes (about a minute on 2 cores)")
    p.add_argument(
        "--out",
        default="snninit-reproduce",
        metavar="DIR",
        help="output folder (default: %(default)s)",
    )
    p.add_argument(
        "--figures-only",
        action="store_true",
        help="compute (or reuse) the data and write only the figures, no report",
    )
    p.add_argument(
        "--only",
        action="append",
        default=None,
        metavar="NAME",
        help="run only this experiment (repeatable): fig2, fig3, beyond, fig4, neurons, rules, "
        "phase; the "
        "report keeps the experiments an earlier run left in OUT (from their cached cells)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_run_reproduce)


def _run_reproduce(args: argparse.Namespace) -> int:
    from .._io import check_writable
    from .pipeline import reproduce

    check_writable(args.out, "--out", kind="dir")  # before the work, not after it
    result = reproduce(
        args.out,
        quick=args.quick,
        figures_only=args.figures_only,
        only=args.only,
        progress=not args.no_progress,
    )
    print(f"figures: {len(result['figures'])} files in {args.out}/figures")
    if result["report"] is not None:
        print(f"report:  {result['report']}")
        for row in result["summary"]:
            print(f"  {row[0]:<7} vs {row[1]:<26} {row[-1]}")
    return 0
