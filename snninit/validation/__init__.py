"""snninit.validation (see DESIGN.md section 5)."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "compare": "compare",
    "assert_agrees": "compare",
    "agreement_summary": "compare",
    "worst_cells": "compare",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
