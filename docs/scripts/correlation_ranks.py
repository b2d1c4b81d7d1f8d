"""Does the predicted correlation at initialisation rank trained networks? (docs/inputs.md)

For every distinct run of a ``snninit study`` output folder (the network,
rule and final test accuracy, via trainability.py's ``study_runs``), the
two-input correlation map at initialisation on MNIST pairs (correlation_table.py's
``mnist_pairs``, standardised as the trainer does): ``PAIRS`` pairs of test
images of the same digit and ``PAIRS`` of different digits, the same pairs
for every run. Two predictors of "the classes are still told apart at the
last layer":

* ``separation``: mean ``corr_counts`` of same-digit pairs minus that of
  different-digit pairs, at the last hidden layer;
* ``kept``: that separation over the same difference at layer 0 (the share
  of the input's class structure left).

* ``depth / xi``: the depth over the correlation depth scale ``xi`` of
  synthetic pairs (input correlation 0 vs 0.95,
  :func:`~snninit.theory.correlation_depth_scale`), the ANN criterion of
  deep information propagation (trainable while ``L`` is a few ``xi``).

A silent last layer (rate below 1e-4 under some input) has no correlation:
it ranks last. Spearman rank correlations with the accuracy, whatever they
are. Rewrites the block ``correlation-ranks``. Usage, from the repository
root::

    python docs/scripts/correlation_ranks.py STUDY
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import stats

import snninit as si

sys.path.insert(0, str(Path(__file__).resolve().parent))
from correlation_table import mnist_pairs  # noqa: E402  (one way to draw the pairs)
from trainability import study_runs  # noqa: E402  (one reader of a study's runs)
from update_validation_tables import rewrite  # noqa: E402  (one block rewriter)

DOC = Path(__file__).resolve().parents[1] / "inputs.md"
PAIRS, PATHS = 8, 2**14
SILENT = 1e-4  # a last-layer rate below this under some input: no correlation to rank


def _alive(m) -> bool:
    """Both responses fire at the last layer and their correlation is defined."""
    return (float(m["rate"].isel(layer=-1).mean("time").min()) >= SILENT
            and bool(np.isfinite(m["corr_counts"].isel(layer=-1))))


def predictors(cfg, same, diff):
    """``(pairs used, separation, its SE, kept, depth / xi)``; NaN where undefined.

    The separation averages the pairs whose last layer responds to both
    images (a faint image can leave a deep layer silent, or a group of paths
    can lose a weak response); ``pairs used`` counts them (of ``2 PAIRS``);
    its standard error is that of a mean over image pairs.
    """
    def mean_corr(group):
        maps = [si.theory.correlation_map(cfg, p, paths=PATHS, seed=k)
                for k, p in enumerate(group)]
        live = [m for m in maps if _alive(m)]
        if not live:
            return 0, np.nan, np.nan, np.nan
        last = [float(m["corr_counts"].isel(layer=-1)) for m in live]
        # the SE of a mean over image pairs: their spread holds each pair's path noise too
        se = np.std(last, ddof=1) / np.sqrt(len(last)) if len(last) > 1 else np.nan
        return (len(live), np.mean(last), se,
                np.mean([float(m["corr_counts"].sel(layer=0)) for m in live]))
    (ns, s_last, s_se, s_0), (nd, d_last, d_se, d_0) = mean_corr(same), mean_corr(diff)
    synthetic = [si.theory.correlation_map(cfg, input_correlation=r, paths=PATHS, seed=100 + k)
                 for k, r in enumerate((0.0, 0.95))]
    if not all(_alive(m) for m in synthetic):
        ratio = np.nan
    else:
        lo, hi = (m["corr_counts"].values for m in synthetic)
        err = np.hypot(*(m["corr_counts_se"].values for m in synthetic))
        ratio = cfg.layers / si.theory.correlation_depth_scale(hi, lo, err)
    return (ns + nd, s_last - d_last, np.hypot(s_se, d_se),
            (s_last - d_last) / (s_0 - d_0), ratio)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python docs/scripts/correlation_ranks.py STUDY")
    folder = Path(argv[0])
    runs, epochs = study_runs(folder)
    same, diff = mnist_pairs(PAIRS)
    rows = []
    for init, fields, acc in runs:
        rows.append((init, fields, acc,
                     *predictors(si.NetworkConfig(init=init, **fields), same, diff)))
    acc = np.array([r[2] for r in rows])
    ranked = {}
    # larger separation and kept, smaller depth / xi: better; undefined (NaN) last
    for k, name, sign in ((4, "separation", 1), (6, "kept", 1), (7, "depth / xi", -1)):
        v = sign * np.array([r[k] for r in rows])
        live = np.isfinite(v)
        ranked[name] = (stats.spearmanr(np.where(live, v, -np.inf), acc),
                        stats.spearmanr(v[live], acc[live]), int(live.sum()))
    lines = [
        f"`{folder.name}`: {len(rows)} distinct runs, test accuracy after {epochs} epochs; "
        f"the correlation map at initialisation on {PAIRS} same-digit and {PAIRS} "
        f"different-digit MNIST test pairs (pairs used: those whose last layer responds to "
        f"both images), and on synthetic N(0, 1) pairs of input correlation 0 and 0.95 for "
        f"the depth scale xi ({PATHS} paths each).",
        "",
        "| init | layers | width | beta | theta | test acc | pairs used | separation at the "
        "last layer (SE) | kept (of layer 0's) | depth / xi |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for init, f, a, used, sep, se, kept, ratio in sorted(rows, key=lambda r: -r[2]):
        cells = [f"{used} of {2 * PAIRS}",
                 f"{sep:.4f} ({se:.4f})" if np.isfinite(sep) else "silent",
                 f"{kept:.3f}" if np.isfinite(kept) else "silent",
                 f"{ratio:.1f}" if np.isfinite(ratio) else "silent"]
        lines.append(f"| {init} | {f['layers']} | {f['width']} | {f['beta']} | {f['theta']} | "
                     f"{a:.4f} | " + " | ".join(cells) + " |")
    lines += ["", "Spearman rank correlation with the accuracy: "
              + "; ".join(f"{k} {r.statistic:.2f} (p = {r.pvalue:.2g}) with silent networks "
                          f"last, {q.statistic:.2f} (p = {q.pvalue:.2g}) over the {n} where "
                          "it is defined"
                          for k, (r, q, n) in ranked.items()) + "."]
    # depth alone ranks the runs too: the same statistic at one depth
    depths = [r[1]["layers"] for r in rows]
    depth = max(set(depths), key=depths.count)
    one = [r for r in rows if r[1]["layers"] == depth and np.isfinite(r[7])]
    q = stats.spearmanr([-r[7] for r in one], [r[2] for r in one])
    xi = [r[1]["layers"] / r[7] for r in rows if np.isfinite(r[7]) and r[7] > 0]
    lines += ["", f"At one depth ({depth} layers, the {len(one)} runs that are not silent): "
              f"depth / xi {q.statistic:.2f} (p = {q.pvalue:.2g}). xi of the runs that are "
              f"not silent: {min(xi):.1f} to {max(xi):.1f} layers. The separation's SE is "
              "that of a mean over the image pairs used."]
    block = "\n".join(lines)
    DOC.write_text(rewrite(DOC.read_text(), {"correlation-ranks": block}))
    print(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
