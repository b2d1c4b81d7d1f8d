"""Validation helpers used at the public boundary.

Every check raises :class:`ValueError` whose message names the parameter,
the offending value and the allowed range, so that bad input never reaches a
numba kernel or turns into a silent NaN.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = [
    "check_int",
    "check_real",
    "check_choice",
    "check_bool",
    "check_finite_array",
    "check_numeric_array",
    "check_path",
    "check_callable",
    "check_dataset",
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


def check_bool(name: str, value) -> bool:
    """``value`` as a bool; only ``True``/``False`` (also numpy's) are accepted.

    A string such as ``"no"`` or a number would be truthy and silently mean yes.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name} must be True or False; got {show(value)}")


def check_choice(name: str, value, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed`` (case-sensitive strings)."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {choices}; got {show(value)}")
    return value


def check_numeric_array(name: str, value, what: str) -> np.ndarray:
    """``value`` as a numpy array of a numeric dtype (bool, int, float), else a ValueError.

    ``what`` is the expected value in words, the message's ``{name} must be
    {what}`` (``"a number or a numeric array (membrane potentials)"``). Values are
    not checked (NaN passes): use :func:`check_finite_array` for that.
    """
    try:
        arr = np.asarray(value)
    except Exception:  # a ragged list or an object whose __array__ fails
        arr = None
    if arr is None or arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be {what}; got {type(value).__name__} {show(value)}")
    return arr


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


def check_path(name: str, value) -> Path:
    """Return ``value`` as a :class:`~pathlib.Path` if it is a non-empty ``str`` or path-like."""
    if isinstance(value, (str, os.PathLike)) and not isinstance(value, bytes):
        text = os.fspath(value)
        if isinstance(text, str) and text.strip():
            return Path(text)
    raise ValueError(
        f"{name} must be a path (a non-empty str or os.PathLike); got "
        f"{type(value).__name__} {show(value)}"
    )


def check_callable(name: str, value, signature: str = "") -> object:
    """Return ``value`` if it can be called (``signature`` describes the expected call)."""
    if callable(value):
        return value
    what = f" {signature}" if signature else ""
    raise ValueError(f"{name} must be a callable{what}; got {type(value).__name__} {show(value)}")


def check_dataset(
    name: str,
    value,
    *,
    what: str = "",
    kind: str | Iterable[str] | None = None,
    variables: Iterable[str] = (),
):
    """Return ``value`` if it is an :class:`xarray.Dataset` of the expected sort.

    ``what`` says which result is expected (``"a compare_rules result"``);
    ``kind`` (one or several) is checked against ``attrs["kind"]`` when given,
    and every name in ``variables`` must be a data variable or coordinate.
    """
    import xarray as xr

    hint = f" ({what})" if what else ""
    if not isinstance(value, xr.Dataset):
        raise ValueError(
            f"{name} must be an xarray.Dataset{hint}; got {type(value).__name__} {show(value)}"
        )
    if kind is not None:
        kinds = (kind,) if isinstance(kind, str) else tuple(kind)
        got = value.attrs.get("kind")
        if got not in kinds:
            raise ValueError(
                f"{name} must be an xarray.Dataset{hint} with attrs['kind'] in "
                f"{', '.join(repr(k) for k in kinds)}; got kind {show(got)}"
            )
    missing = [v for v in variables if v not in value.variables]
    if missing:
        raise ValueError(
            f"{name} must be an xarray.Dataset{hint} holding {', '.join(map(repr, missing))}; "
            f"got one with {', '.join(map(str, value.data_vars)) or 'no variables'}"
        )
    return value
