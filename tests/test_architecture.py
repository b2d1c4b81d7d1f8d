"""Layers point one way (DESIGN.md 5): an import graph of snninit, checked edge by edge.

Ranks, bottom to top: the shared core (checks, I/O, config, the neuron models,
the rule registry) < theory, montecarlo (side by side: neither imports the
other) < training, torch (side by side) < validation (experiments and reports,
which also train networks) < the command line (``cli`` and every
``*commands`` module, which wire the layers below to argparse). A module may
import its own sub-package and anything of a lower rank, never upwards or
sideways. Imports inside functions count too: a lazy import is still a
dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "snninit"

#: The shared core: imported by everything, imports nothing above itself.
CORE = {
    "snninit",  # the root package: NetworkConfig and __version__, sub-packages lazily
    "snninit._checks",
    "snninit._io",
    "snninit._lazy",
    "snninit._renamed",
    "snninit._dataset",
    "snninit._resources",
    "snninit._cliutil",
    "snninit.config",
    "snninit.models",
    "snninit.theory.rules",  # the rule registry (DESIGN 5: rules sit with config)
    "snninit.grid",  # one grid of configurations: cells, seeds, cache, combine
    "snninit.protocols",  # the paper's experiments, once (presets and reproduce)
    # the sweep runner and its verified store: given the task function, they import
    # nothing of theory or montecarlo, whose sweep entry points pass theirs down
    "snninit.sweeps",
}
RANKS = {"theory": 1, "montecarlo": 1, "training": 2, "torch": 2, "validation": 3}
TOP = 4

#: Known edges that break the rule, each to be removed (issue 14); a new one fails.
KNOWN: set[tuple[str, str]] = set()


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    mod = _module(path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "snninit" or target.startswith("snninit."):
                # `from . import kernels` names a module: count the module itself
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    out.add(sub if (ROOT.parent / sub.replace(".", "/")).exists()
                            or (ROOT.parent / (sub.replace(".", "/") + ".py")).exists()
                            else target)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("snninit")}
    return out


def _rank(mod: str) -> tuple[int, str]:
    """(rank, group) of a module."""
    if mod == "snninit.__main__" or mod == "snninit.cli" or mod.rsplit(".", 1)[-1].endswith(
        "commands"
    ):
        return TOP, "cli"
    for core in CORE:
        if mod == core or (core != "snninit" and mod.startswith(core + ".")):
            return 0, "core"
    group = mod.split(".")[1]
    return RANKS[group], group


EDGES = sorted(
    (_module(p), target) for p in ROOT.rglob("*.py") for target in _imports(p)
)


def _bad(edge) -> bool:
    (ra, ga), (rb, gb) = _rank(edge[0]), _rank(edge[1])
    return rb > ra or (rb == ra and ga != gb and ra > 0)


def test_graph_was_read():
    assert len(EDGES) > 100
    assert ("snninit.montecarlo.engine", "snninit.montecarlo.kernels") in EDGES


def test_layers_point_one_way():
    bad = sorted(e for e in EDGES if _bad(e) and e not in KNOWN)
    assert not bad, "imports against DESIGN.md 5 (lower layer -> higher or sideways):\n" + (
        "\n".join(f"  {a} -> {b}" for a, b in bad)
    )


def test_known_exceptions_still_exist():
    """A fixed exception must leave the list, so that it cannot come back unnoticed."""
    stale = sorted(e for e in KNOWN if e not in EDGES or not _bad(e))
    assert not stale, stale


def test_the_rule_can_fail():
    assert _bad(("snninit.theory.dmft", "snninit.validation.comparison"))
    assert _bad(("snninit.theory.dmft", "snninit.montecarlo.engine"))
    assert _bad(("snninit.config", "snninit.theory.dmft"))
    assert not _bad(("snninit.validation.comparison", "snninit.theory.dmft"))
    assert not _bad(("snninit.theory.commands", "snninit.cli"))
