"""Cross-checks against torch / snntorch: collected only when they can be selected.

The default run deselects the ``crosscheck`` marker (pyproject addopts); then
these modules are not even imported, so the default run never loads torch.
"""

from __future__ import annotations


def pytest_ignore_collect(collection_path, config):
    if "not crosscheck" in (config.getoption("markexpr") or ""):
        return True
    return None
