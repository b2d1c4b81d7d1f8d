"""snninit.validation (see DESIGN.md section 5)."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # module names differ from function names: a submodule `compare` would shadow
    # the function `compare` on the package once imported
    "compare": "comparison",
    "assert_agrees": "comparison",
    "agrees": "comparison",
    "agreement_summary": "comparison",
    "worst_cells": "comparison",
    "family_pvalues": "comparison",
    # the measured false-failure rate of the cell tests (issue 13)
    "null_rejections": "nulltest",
    "null_summary": "nulltest",
    "format_null_summary": "nulltest",
    "reproduce": "pipeline",
    "experiments": "pipeline",
    # head to head of the initialisation rules (issue 7)
    "compare_rules": "rules_comparison",
    "rules_table": "rules_comparison",
    "rules_markdown": "rules_comparison",
    "write_rules_outputs": "rules_comparison",
    # which rule and threshold for a network (issue 20)
    "advise": "advice",
    # the (theta, beta) phase diagram per rule (issue 21)
    "phase_diagram": "phase",
    "plot_phase": "phase",
    "Advice": "advice",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
