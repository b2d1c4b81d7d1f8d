"""Sphinx configuration of the snninit documentation site (``nox -s docs``).

The API reference is written from the code at every build (:func:`write_api_pages`):
one page per package listing every name of its ``__all__``, so it cannot drift
from what the package exports (``tests/test_docs_site.py`` checks the list).
"""

from __future__ import annotations

import importlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

project = "snninit"
author = "the snninit developers"
extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "scripts", "examples", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip"]
myst_heading_anchors = 4
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autosummary_generate = True
autodoc_default_options = {"members": False}
html_theme = "alabaster"
suppress_warnings = ["config.cache"]  # sphinx-gallery's callables in the config

#: The packages whose public names (``__all__``) the reference lists.
PACKAGES = (
    "snninit",
    "snninit.theory",
    "snninit.montecarlo",
    "snninit.training",
    "snninit.validation",
    "snninit.torch",
)
#: Names that are sub-packages or plain data, listed without an autodoc entry.
_NOT_OBJECTS = {"theory", "montecarlo", "training", "validation", "__version__"}


def public_names(package: str) -> list[str]:
    """The names a package exports (its ``__all__``), sorted."""
    return sorted(importlib.import_module(package).__all__)


def write_api_pages(out: Path = HERE / "api") -> list[Path]:
    """Write ``api/<package>.rst`` with an autosummary of every public name; return the pages."""
    out.mkdir(exist_ok=True)
    pages = []
    for package in PACKAGES:
        names = [n for n in public_names(package) if n not in _NOT_OBJECTS]
        title = f"``{package}``"
        lines = [title, "=" * len(title), "", f".. automodule:: {package}", "   :no-members:",
                 "", ".. autosummary::", "   :toctree: generated", ""]
        lines += [f"   {name}" for name in names]
        page = out / f"{package}.rst"
        text = "\n".join(lines) + "\n"
        if not page.exists() or page.read_text() != text:
            page.write_text(text)
        pages.append(page)
    return pages


write_api_pages()

sphinx_gallery_conf = {
    "examples_dirs": str(HERE / "examples"),
    "gallery_dirs": str(HERE / "auto_examples"),
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
}
