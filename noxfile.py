"""nox sessions: `nox` runs the default test suite; see `nox -l` for the rest."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = None  # the interpreter nox runs under
# torch must come from the CPU build present on these machines: pin it exactly
# and install it before anything that depends on it, so no resolver pulls CUDA.
TORCH = "torch==2.13.0"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Default test suite (fast subset of the validation included)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and format check."""
    session.install("ruff>=0.4")
    session.run("ruff", "check", "snninit", "tests", "benchmarks", "noxfile.py")


@nox.session(python=PYTHON)
def validate(session: nox.Session) -> None:
    """Full statistical validation of theory against simulation (minutes)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "validation", "-v", *session.posargs)


@nox.session(python=PYTHON)
def figures(session: nox.Session) -> None:
    """Regenerate every figure into ./figures (or the folder given after --)."""
    session.install("-e", ".")
    out = session.posargs[0] if session.posargs else "figures"
    session.run("snninit", "reproduce", "--figures-only", "--out", out)


@nox.session(python=PYTHON)
def crosscheck(session: nox.Session) -> None:
    """Cross-checks against torch autograd and snntorch (CPU torch 2.13.0)."""
    session.install(TORCH)
    session.install("-e", ".[test,crosscheck]")
    session.run("pytest", "-m", "crosscheck", "-v", *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """The documentation site: API reference from the code, gallery executed, -W."""
    session.install(TORCH)
    session.install("-e", ".[docs,torch]")
    # warnings are errors: a broken internal link (MyST cross-reference), a docstring
    # that does not parse or a gallery example that fails stops the build
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html",
                *session.posargs)


@nox.session(python=PYTHON)
def study(session: nox.Session) -> None:
    """The MNIST initialisation study (paper Figs. 5 and 6) at a laptop budget."""
    session.install("-e", ".")
    session.run("snninit", "study", *session.posargs)


@nox.session(python=PYTHON)
def real_inputs(session: nox.Session) -> None:
    """Theory vs simulation on MNIST inputs (docs/inputs.md's table); fetches MNIST once."""
    session.install("-e", ".")
    session.run("snninit", "data", "mnist")
    session.run("python", "docs/scripts/real_inputs_table.py", *session.posargs)


@nox.session(python=PYTHON)
def benchmarks(session: nox.Session) -> None:
    """Speed benchmarks; each prints ratios against a reference run alongside."""
    session.install("-e", ".")
    for script in sorted(__import__("pathlib").Path("benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)
