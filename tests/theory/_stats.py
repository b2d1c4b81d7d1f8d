"""Tolerances for the statistical tests of the theory package."""

from __future__ import annotations

from scipy import stats


def z_bound(false_failure_rate: float, checks: int) -> float:
    """Two-sided z such that ``checks`` independent |z| tests all pass with prob. 1 - rate."""
    return float(stats.norm.isf(false_failure_rate / (2 * checks)))
