"""Import torch / snntorch on demand, with an install hint instead of a bare error."""

from __future__ import annotations

import importlib

#: Predictions :func:`snninit.torch.diagnose` can add (here: torch-free, for the CLI too).
THEORY_CHOICES = ("auto", "none", "mean_field", "finite_size", "dmft", "data")

INSTALL_HINT = (
    "install the CPU build of PyTorch first, then the extra: "
    "`pip install torch==2.13.0 && pip install 'snninit[torch]'`"
)


def require(module: str):
    """Return the imported ``module`` (``"torch"`` or ``"snntorch"``).

    Raises
    ------
    ImportError
        Naming the missing package and how to install it.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise ImportError(
            f"snninit.torch needs {module!r}, which is not installed; {INSTALL_HINT}"
        ) from None
