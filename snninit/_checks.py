"""Validation helpers used at the public boundary.

Every check raises :class:`ValueError` whose message names the parameter,
the offending value and the allowed range, so that bad input never reaches a
numba kernel or turns into a silent NaN.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np

__all__ = [
    "check_int",
    "check_real",
    "check_choice",
    "check_finite_array",
]


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[low, high]``.

    Integral floats (``1000.0``) are accepted; booleans, non-integral
    numbers, NaN and strings are refused.
    """
    rng = _describe_range(low, high, integer=True)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be an integer {rng}; got {value!r}")
    if isinstance(value, numbers.Integral):
        ivalue = int(value)
    else:
        fvalue = float(value)
        if not math.isfinite(fvalue) or fvalue != int(fvalue):
            raise ValueError(f"{name} must be an integer {rng}; got {value!r}")
        ivalue = int(fvalue)
    if (low is not None and ivalue < low) or (high is not None and ivalue > high):
        raise ValueError(f"{name} must be an integer {rng}; got {value!r}")
    return ivalue


def check_real(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as ``float`` if it is finite and within the bounds."""
    rng = _describe_range(low, high, low_open=low_open, high_open=high_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number {rng}; got {value!r}")
    fvalue = float(value)
    bad = not math.isfinite(fvalue)
    if low is not None:
        bad |= fvalue <= low if low_open else fvalue < low
    if high is not None:
        bad |= fvalue >= high if high_open else fvalue > high
    if bad:
        raise ValueError(f"{name} must be a finite number {rng}; got {value!r}")
    return fvalue


def check_choice(name: str, value, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed`` (case-sensitive strings)."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


def check_finite_array(
    name: str, value, *, low: float | None = None, high: float | None = None
) -> np.ndarray:
    """Return ``value`` as a float array if every element is finite and in bounds."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric; got {value!r}") from None
    rng = _describe_range(low, high)
    bad = ~np.isfinite(arr)
    if low is not None:
        bad |= arr < low
    if high is not None:
        bad |= arr > high
    if np.any(bad):
        first = arr[bad].flat[0]
        raise ValueError(f"{name} must be finite {rng}; got {first!r}")
    return arr


def _describe_range(low, high, *, integer=False, low_open=False, high_open=False) -> str:
    if low is None and high is None:
        return "(any finite value)"
    lo = "-inf" if low is None else repr(low)
    hi = "inf" if high is None else repr(high)
    left = "(" if (low_open or low is None) else "["
    right = ")" if (high_open or high is None) else "]"
    return f"in {left}{lo}, {hi}{right}"
