"""Dynamic mean field: is the stated ``_se`` honest? (docs/dmft.md, "Convergence
in paths and the honest error").

    NUMBA_NUM_THREADS=1 python3 benchmarks/dmft_convergence.py   # both tables (~4 min, 1 core)
    NUMBA_NUM_THREADS=1 python3 benchmarks/dmft_convergence.py calibration \
        [--seeds 300 --seed0 1000 --beta 0.9]
    NUMBA_NUM_THREADS=1 python3 benchmarks/dmft_convergence.py paths
    NUMBA_NUM_THREADS=1 python3 benchmarks/dmft_convergence.py deep   # m = 2^18, 2^19 (~4 min)

``calibration``: over ``SEEDS`` seeds, the seed-to-seed SD of each estimate
against the stated SE (its mean, its root mean square, and the coverage of the
Student-t interval ``+- t_7(0.975) se``), for hidden cells ``t >= 1`` of the
layers reported converged; the excess kurtosis of the group values says why
a single SE can be small although ``E[se^2]`` is right.

``paths``: the time-averaged rate per layer as a function of the paths per
group ``m`` (the audit's drift), with the seed SD and the mean stated SE, and
the first unconverged layer the check reports (the same computation as
``dynamic_mean_field``, with the group values kept). ``deep``: ``m = 2^18,
2^19`` (one seed) for the ``n -> infinity`` limit.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from scipy import stats

import snninit as si
from snninit.theory import dmft

BASE = dict(width=1000, steps=20, theta=1.0, init="micheli")
SEEDS = 40
REPLICATES = 8


def _groups(cfg, per_group, seed):
    """Per-group values (the estimate is their mean) with the public seed streams."""
    z = dmft._path_normals(cfg.steps, per_group, REPLICATES, seed)
    return dmft._group_values(cfg, z, REPLICATES)[0]


def calibration(beta: float, layers: int, paths: int = 2**14, seed0: int = 0) -> None:
    cfg = si.NetworkConfig(**BASE, layers=layers, beta=beta)
    seeds = range(seed0, seed0 + SEEDS)
    runs = [dmft.dynamic_mean_field(cfg, paths=paths, seed=s) for s in seeds]
    # the SE as stated before the check existed: sd over groups / sqrt(K) only
    old = [dmft.dynamic_mean_field(cfg, paths=paths, seed=s, check_paths=False) for s in seeds]
    assert all(
        np.array_equal(o["kurt"].values, r["kurt"].values, equal_nan=True)
        for o, r in zip(old, runs)
    )
    ref = dmft.dynamic_mean_field(cfg, paths=16 * paths, seed=10**6)
    groups = [_groups(cfg, paths // REPLICATES, s) for s in seeds]
    first = [r.attrs.get("unconverged_from_layer") for r in runs]
    q = stats.t.ppf(0.975, REPLICATES - 1)
    print(
        f"\nbeta {beta}, {layers} layers, {paths} paths, {SEEDS} seeds from {seed0}; "
        "flagged unconverged "
        f"from layer: {sorted(set(first), key=lambda x: (x is None, x))}; hidden cells t >= 1 "
        f"with a stated SE in every seed; reference: {16 * paths} paths, another seed"
    )
    print(
        "| var | SE | seed SD / mean SE | seed SD / rms SE | rms error about ref / rms SE "
        "| t7 95% coverage of ref | group excess kurtosis |"
    )
    print("|---|---|---|---|---|---|---|")
    cells = dict(layer=slice(1, None), time=slice(1, None))
    for v in ("var_u", "rate", "skew", "kurt"):
        est = np.stack([r[v].sel(**cells).values for r in runs])
        target = ref[v].sel(**cells).values
        g = np.stack([gr[v][:, 1:, 1:] for gr in groups])  # seed, group, layer, time
        dev = (g - g.mean(axis=1, keepdims=True)).reshape(-1, *g.shape[2:])
        for label, source in (("before (groups only)", old), ("stated", runs)):
            se = np.stack([r[f"{v}_se"].sel(**cells).values for r in source])
            sd = est.std(axis=0, ddof=1)
            ok = np.isfinite(sd) & np.isfinite(target) & np.all(np.isfinite(se) & (se > 0), axis=0)
            ms_se = (se**2).mean(axis=0)[ok]
            ratio_mean = np.median((sd / se.mean(axis=0))[ok])
            ratio_rms = np.sqrt(np.mean(sd[ok] ** 2) / np.mean(ms_se))
            err = np.sqrt(np.mean(((est - target) ** 2).mean(axis=0)[ok]) / np.mean(ms_se))
            cover = np.mean((np.abs(est - target) <= q * se)[:, ok])
            kurt = np.nanmedian(stats.kurtosis(dev, axis=0)[ok])
            print(
                f"| {v} | {label} | {ratio_mean:.3f} | {ratio_rms:.3f} | {err:.3f} "
                f"| {cover:.3f} | {kurt:.1f} |"
            )


def paths_table(beta: float, layers: int, shown: list[int], plan: list[tuple[int, int]]) -> None:
    cfg = si.NetworkConfig(**BASE, layers=layers, beta=beta)
    print(
        f"\nbeta {beta}, {layers} layers: time-averaged rate (t >= 1), mean over seeds "
        "(seed SD / mean group SE of the time average)"
    )
    print(
        "| m per group | seeds | unconverged from | "
        + " | ".join(f"layer {layer}" for layer in shown)
        + " |"
    )
    print("|---|---|---|" + "---|" * len(shown))
    for k, n_seeds in plan:
        t0 = time.perf_counter()
        ests, ses, flags = [], [], []
        for s in range(n_seeds):
            # what dynamic_mean_field(cfg, paths=8 * 2**k, seed=s) computes, with the
            # group values kept: the full run and the check's coarse run
            z = dmft._path_normals(cfg.steps, 2**k, REPLICATES, s)
            full = dmft._group_values(cfg, z, REPLICATES)[0]
            m_coarse = max(2**k // dmft._COARSE, 1)
            coarse = dmft._group_values(cfg, np.ascontiguousarray(z[:, :m_coarse]), REPLICATES)[0]
            check = dmft._path_convergence(full, coarse, 2**k / m_coarse)
            g = full["rate"][:, :, 1:].mean(axis=-1)  # group, layer
            ests.append(g.mean(axis=0))
            ses.append(g.std(axis=0, ddof=1) / np.sqrt(REPLICATES))
            flags.append(check["unconverged_from_layer"])
        ests, ses = np.array(ests), np.array(ses)
        sd = ests.std(axis=0, ddof=1) if n_seeds > 1 else np.full(layers + 1, np.nan)
        cells = " | ".join(
            f"{ests[:, layer].mean():.4f} ({sd[layer]:.4f}/{ses[:, layer].mean():.4f})"
            for layer in shown
        )
        print(f"| 2^{k} | {n_seeds} | {flags} | {cells} |  ({time.perf_counter() - t0:.0f} s)")


def main(argv: list[str]) -> None:
    global SEEDS
    what = argv[0] if argv and not argv[0].startswith("-") else "all"
    if "--seeds" in argv:
        SEEDS = int(argv[argv.index("--seeds") + 1])
    unstable = [10, 20, 25, 30, 40, 50, 100]
    seed0 = int(argv[argv.index("--seed0") + 1]) if "--seed0" in argv else 0
    betas = [float(argv[argv.index("--beta") + 1])] if "--beta" in argv else [0.9, 0.5]
    if what in ("all", "calibration"):
        for beta in betas:
            calibration(beta, 12, seed0=seed0)
    if what in ("all", "paths"):
        paths_table(0.9, 40, [5, 10, 20, 40], [(k, 3) for k in range(9, 17)])
        paths_table(0.5, 100, unstable, [(k, 3) for k in range(9, 17)] + [(17, 1)])
    if what == "deep":
        paths_table(0.5, 100, unstable, [(18, 1), (19, 1)])


if __name__ == "__main__":
    main(sys.argv[1:])
