"""Lazy attribute export for sub-packages (keeps imports light, no numba at import)."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, exports: dict[str, str], owner: str | None = None):
    """Return ``(__getattr__, __dir__)`` resolving ``name`` from ``exports[name]``.

    ``exports`` maps a public name to the submodule (relative to ``package``)
    that defines it. ``owner`` is the module whose ``__getattr__`` this is
    (default: ``package`` itself), named when an attribute is missing.
    """

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {owner or package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        return value

    def __dir__():
        return sorted(exports)

    return __getattr__, __dir__
