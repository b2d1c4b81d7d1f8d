"""Four questions users asked, answered by ``snninit advise`` (docs/advise.md).

Runs the command for each question and rewrites the blocks ``advise-q1`` ...
``advise-q4`` of docs/advise.md with its output, and docs/advise_q3.png.
Question 4 runs on 50 MNIST test images rate coded over 25 steps (pixel
intensity = spike probability per step, seed 0: snntorch's ``spikegen.rate``),
written to a temporary ``rate_mnist.npy``; it needs ``snninit data mnist``.
Usage, from the repository root::

    python docs/scripts/advise_examples.py
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from pathlib import Path

import numpy as np

from snninit.cli import main as cli

sys.path.insert(0, str(Path(__file__).resolve().parent))
from update_validation_tables import rewrite  # noqa: E402  (one block rewriter)

DOCS = Path(__file__).resolve().parents[1]
DOC = DOCS / "advise.md"
QUESTIONS = {
    "advise-q1": ["advise", "--width", "128", "--layers", "3", "--steps", "25", "--beta",
                  "0.9", "--check"],
    "advise-q2": ["advise", "--width", "256", "--layers", "4", "--steps", "10", "--beta",
                  "0.5", "--thetas", "0,0.1,0.25,0.5,1"],
    "advise-q3": ["advise", "--width", "512", "--layers", "20", "--steps", "4", "--beta",
                  "0.5", "--check", "--figure", str(DOCS / "advise_q3.png")],
    "advise-q4": ["advise", "--width", "1000", "--layers", "8", "--beta", "0.95",
                  "--sample", "SAMPLE", "--sequence", "--no-encoding-layer", "--thetas",
                  "0.5,1,1.5,2", "--check"],
}


def rate_coded_mnist(path: Path, images: int = 50, steps: int = 25, seed: int = 0) -> Path:
    """(time, batch, 784) Bernoulli trains of the first MNIST test images."""
    from snninit.training.data import load_dataset_arrays

    raw = np.asarray(load_dataset_arrays("mnist").x_test[:images], dtype=np.float64)
    rng = np.random.default_rng(seed)
    np.save(path, (rng.random((steps, images, raw.shape[1])) < raw[None]).astype(np.float32))
    return path


def main() -> int:
    blocks = {}
    tmp = tempfile.TemporaryDirectory()
    sample = str(rate_coded_mnist(Path(tmp.name) / "rate_mnist.npy"))
    for key, argv in QUESTIONS.items():
        argv = [sample if a == "SAMPLE" else a for a in argv]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = cli(argv)
        if rc != 0:
            raise SystemExit(f"{key}: snninit {' '.join(argv)} failed ({rc})")
        shown = " ".join(a if "/" not in a else Path(a).name for a in argv)
        text = out.getvalue().replace(str(DOCS) + "/", "")
        blocks[key] = f"```text\n$ snninit {shown}\n{text.rstrip()}\n```"
        print(blocks[key])
    DOC.write_text(rewrite(DOC.read_text(), blocks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
