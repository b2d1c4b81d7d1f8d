"""Markdown formatting shared by the report's sections (NaN-free text)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _fmt_where(where: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in where.items())


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _fmt_num(x: float, spec: str) -> str:
    return format(x, spec) if np.isfinite(x) else "—"


def _fmt_z(z: float, spec: str = "+.2f") -> str:
    """A z-score for the report: ±∞ spelled out, undefined as a dash."""
    if math.isnan(z):
        return "—"
    if math.isinf(z):
        return "+∞" if z > 0 else "−∞"
    return format(z, spec)
