"""A budgeted study's plan against what its runs took (docs/training.md).

Reads ``OUT/budget.json`` (the plan of ``snninit study --budget``) and every run's
``metrics.csv`` and prints, per run, the predicted minutes, the measured minutes
(the sum of its epochs' ``seconds``), their ratio and the last test accuracy;
then the sums, and the study's wall time if ``--wall-minutes`` is given (the
study prints it at the end). Usage::

    python docs/scripts/study_timing.py OUT [--wall-minutes M]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--wall-minutes", type=float, default=None)
    args = ap.parse_args(argv)
    plan = json.loads((args.out / "budget.json").read_text())
    epochs, n_train, n_test = plan["epochs"], plan["train_subset"], plan["test_subset"]
    print(f"plan: {plan['budget_minutes']:g} min budget, {plan['jobs']} job(s), {epochs} "
          f"epochs of {n_train} training images, {n_test} test images; predicted "
          f"{plan['predicted_minutes']:.1f} min (timing {plan['timing_minutes']:.1f} min)\n")
    print("| run | predicted min | measured min | measured / predicted | epochs | test acc |")
    print("|---|---|---|---|---|---|")
    total_pred = total_meas = 0.0
    for name, r in plan["runs"].items():
        pred = r["setup_s"] + epochs * (
            r["train_s_per_sample"] * n_train + r["eval_s_per_sample"] * n_test
            + r["epoch_overhead_s"]
        )
        path = args.out / name / "metrics.csv"
        rows = list(csv.DictReader(path.open())) if path.exists() else []
        meas = sum(float(row["seconds"]) for row in rows)
        acc = rows[-1]["test_acc"] if rows else "-"
        total_pred += pred
        total_meas += meas
        ratio = f"{meas / pred:.2f}" if rows else "-"
        print(f"| {name} | {pred / 60:.1f} | {meas / 60:.1f} | {ratio} | {len(rows)} | {acc} |")
    print(f"| sum | {total_pred / 60:.1f} | {total_meas / 60:.1f} | "
          f"{total_meas / total_pred:.2f} | | |")
    if args.wall_minutes is not None:
        print(f"\nwall time {args.wall_minutes:.1f} min against the predicted "
              f"{plan['predicted_minutes']:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
