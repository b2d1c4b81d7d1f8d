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
    "show",
]

#: Longest repr of an offending value put into a message (keeps errors one short line).
_MAX_SHOWN = 60


def show(value) -> str:
    """``repr(value)`` on one line, cut to ``_MAX_SHOWN`` characters (``10**400``, long lists)."""
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    return text


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[low, high]``.

    Integral floats (``1000.0``) are accepted; booleans, non-integral
    numbers, NaN and strings are refused.
    """
    rng = _describe_range(low, high, integer=True)
    message = f"{name} must be an integer {rng}; got {show(value)}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(message)
    if isinstance(value, numbers.Integral):
        ivalue = int(value)
    else:
        try:
            fvalue = float(value)
        except (OverflowError, ValueError, TypeError):
            raise ValueError(message) from None
        if not math.isfinite(fvalue) or fvalue != int(fvalue):
            raise ValueError(message)
        ivalue = int(fvalue)
    if (low is not None and ivalue < low) or (high is not None and ivalue > high):
        raise ValueError(message)
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
    message = f"{name} must be a finite number {rng}; got {show(value)}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(message)
    try:
        fvalue = float(value)  # an int beyond float range (10**400) overflows here
    except (OverflowError, ValueError, TypeError):
        raise ValueError(message) from None
    bad = not math.isfinite(fvalue)
    if low is not None:
        bad |= fvalue <= low if low_open else fvalue < low
    if high is not None:
        bad |= fvalue >= high if high_open else fvalue > high
    if bad:
        raise ValueError(message)
    return fvalue


def check_choice(name: str, value, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed`` (case-sensitive strings)."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {choices}; got {show(value)}")
    return value


def check_finite_array(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
) -> np.ndarray:
    """Return ``value`` as a float array if every element is finite and in bounds.

    Like :func:`check_real` (or :func:`check_int` with ``integer=True``)
    elementwise: booleans, strings and other non-numbers are refused, not
    converted (``True`` is not ``1``, ``"100"`` is not ``100``).
    """
    kind = "an integer" if integer else "a finite number"
    rng = _describe_range(low, high, integer=integer)
    numeric = f"{name} must be numeric: {kind} {rng} or an array of them; got "
    try:
        raw = np.asarray(value)
    except Exception:
        raise ValueError(numeric + show(value)) from None
    if raw.dtype.kind == "O" or (raw.ndim and not isinstance(value, np.ndarray)):
        # a list may mix True or "3" into numbers that numpy silently converts
        try:
            items = np.asarray(value, dtype=object).flat
        except Exception:
            raise ValueError(numeric + show(value)) from None
        if not all(_is_real(v) for v in items):
            raise ValueError(numeric + show(value))
    if raw.dtype.kind not in "iufO":  # bool, str, bytes, complex, datetime...
        raise ValueError(numeric + show(value))
    try:
        arr = raw.astype(float)
    except (OverflowError, TypeError, ValueError):  # an int beyond float range
        raise ValueError(f"{name} must be finite {rng}; got {show(value)}") from None
    bad = ~np.isfinite(arr)
    if low is not None:
        bad |= arr < low
    if high is not None:
        bad |= arr > high
    if np.any(bad):
        raise ValueError(f"{name} must be finite {rng}; got {show(_first(raw, arr, bad))}")
    if integer:
        frac = arr != np.round(arr)
        if np.any(frac):
            what = "a positive integer" if low is not None and low >= 1 else "an integer"
            raise ValueError(f"{name} must be {what} {rng}; got {show(_first(raw, arr, frac))}")
    return arr


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _first(raw: np.ndarray, arr: np.ndarray, mask: np.ndarray):
    """First offending element as a plain Python number (its original value)."""
    item = raw[mask].flat[0] if raw.shape == arr.shape else arr[mask].flat[0]
    return item.item() if hasattr(item, "item") else item


def _describe_range(low, high, *, integer=False, low_open=False, high_open=False) -> str:
    if low is None and high is None:
        return "(any finite value)"
    lo = "-inf" if low is None else repr(low)
    hi = "inf" if high is None else repr(high)
    left = "(" if (low_open or low is None) else "["
    right = ")" if (high_open or high is None) else "]"
    return f"in {left}{lo}, {hi}{right}"
