"""Dynamic mean field: speed, agreement with simulation, and the dmft rule.

    python3 benchmarks/bench_dmft.py            # speed line (fig4 protocol)
    python3 benchmarks/bench_dmft.py agreement  # DMFT vs gram/dense table, width scaling
    python3 benchmarks/bench_dmft.py rule       # dmft rule vs micheli over 100 layers

Speed: the prediction of the fig4 protocol (L=100, T=20, n=1000) is timed
against the reference measured in the same run, the ``gram`` simulation of
the same protocol with 10 repetitions, and the prediction's median sampling
error is compared with the simulation's median standard error.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import snninit as si
from snninit.theory import dynamic_mean_field, unstable_layer

FIG4 = dict(width=1000, layers=100, steps=20, theta=1.0)
SETTINGS = [(beta, init) for beta in (0.5, 0.9) for init in ("micheli", "kaiming")]


def _sim_stats(sim, v):
    values = sim[v]
    n_ok = values.notnull().sum("rep")
    mean = values.mean("rep", skipna=True)
    se = values.std("rep", ddof=1, skipna=True) / np.sqrt(n_ok.clip(min=1))
    return mean, se


def speed(paths: int = 2**15) -> None:
    cfg = si.NetworkConfig(**FIG4, beta=0.9, init="micheli")
    dynamic_mean_field(cfg.replace(layers=2), paths=64)  # compile outside the timing
    si.montecarlo.simulate(cfg.replace(layers=2), reps=1, method="gram")
    t0 = time.perf_counter()
    sim = si.montecarlo.simulate(cfg, reps=10, seed=1, method="gram")
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    th = dynamic_mean_field(cfg, paths=paths, seed=0)
    t_th = time.perf_counter() - t0
    hidden = dict(layer=slice(1, None), time=slice(1, None))
    _, sim_se = _sim_stats(sim, "var_u")
    ratio_se = float((th["var_u_se"] / sim_se).sel(**hidden).median())
    print(
        f"dmft fig4 (L=100, T=20, beta=0.9, micheli, {paths} paths): {t_th:.2f} s; "
        f"gram simulation 10 reps: {t_sim:.2f} s; time ratio dmft/sim = {t_th / t_sim:.2f}; "
        f"median SE ratio dmft/sim (var_u, hidden cells) = {ratio_se:.2f}"
    )


def _cell_summary(th, sim, sel, v):
    mean, se = _sim_stats(sim, v)
    d = (mean - th[v]).sel(**sel)
    tot = np.sqrt(se**2 + th[f"{v}_se"] ** 2).sel(**sel)
    ok = np.isfinite(d) & (tot > 0) & (np.abs(th[v].sel(**sel)) > 1e-12)
    # relative errors only where the layer (for var_u: the layer below, which
    # drives it) is predicted to fire >= 10 spikes per step; in dying layers a
    # relative error of a near-zero prediction says nothing
    n = int(sim.attrs["width"])
    active = n * th["rate"] >= 10
    if v == "var_u":
        active = active.shift(layer=1, fill_value=True)
    rel_ok = ok & active.sel(**sel)
    rel = np.abs(d / th[v].sel(**sel)).where(rel_ok)
    z = np.abs(d / tot).where(ok)
    rel_se = (tot / np.abs(th[v].sel(**sel))).where(rel_ok)
    return (
        float(rel.median()),
        float(rel.max()),
        float(rel_se.median()),
        float(z.median()),
        float(z.max()),
        int(ok.sum()),
        int(rel_ok.sum()),
    )


def _time_avg_summary(th, sim, layers, v):
    """Layer-wise time-averaged quantity: |rel err| and |z| (median, max) over layers."""
    per_rep = sim[v].sel(layer=layers).mean("time")
    mean = per_rep.mean("rep")
    se = per_rep.std("rep", ddof=1) / np.sqrt(per_rep.sizes["rep"])
    # group SEs of a time average are not the mean of per-cell SEs; bound by it
    th_mean = th[v].sel(layer=layers).mean("time")
    th_se = th[f"{v}_se"].sel(layer=layers).mean("time")
    d = mean - th_mean
    rel = np.abs(d / th_mean)
    z = np.abs(d / np.sqrt(se**2 + th_se**2))
    return float(rel.median()), float(rel.max()), float(z.median()), float(z.max())


def agreement(reps: int = 10, paths: int = 2**17) -> None:
    print("# DMFT vs simulation, fig4 protocol (n=1000, L=100, T=20, theta=1), reps =", reps)
    print(
        "setting | method | unstable layer (sim / dmft) | var_u |rel| med, max (med rel SE) "
        "| var_u |z| med, max | rate |rel| med, max (med rel SE) | rate |z| med, max "
        "| cells | time-avg beyond: var_u |rel| med,max |z| med,max; rate |rel| med,max |z| med,max"
    )
    for beta, init in SETTINGS:
        cfg = si.NetworkConfig(**FIG4, beta=beta, init=init)
        th = dynamic_mean_field(cfg, paths=paths, seed=0)
        for method in ("gram", "dense"):
            sim = si.montecarlo.simulate(cfg, reps=reps, seed=11, method=method)
            l_sim = unstable_layer(sim)
            l_th = unstable_layer(th)
            stop = l_sim if l_sim is not None else cfg.layers + 1
            sel = dict(layer=slice(1, stop - 1), time=slice(0, None))
            var = _cell_summary(th, sim, sel, "var_u")
            rate = _cell_summary(th, sim, sel, "rate")
            line = (
                f"beta={beta} {init} | {method} | {l_sim} / {l_th} | "
                f"{var[0]:.3f}, {var[1]:.3f} ({var[2]:.3f}) | {var[3]:.2f}, {var[4]:.2f} | "
                f"{rate[0]:.3f}, {rate[1]:.3f} ({rate[2]:.3f}) | {rate[3]:.2f}, {rate[4]:.2f} | "
                f"{var[5]} ({var[6]}/{rate[6]} with >= 10 spikes)"
            )
            if l_sim is not None:
                beyond = np.arange(l_sim, cfg.layers + 1)
                tv = _time_avg_summary(th, sim, beyond, "var_u")
                tr = _time_avg_summary(th, sim, beyond, "rate")
                line += (
                    f" | {tv[0]:.3f},{tv[1]:.3f} {tv[2]:.2f},{tv[3]:.2f}; "
                    f"{tr[0]:.3f},{tr[1]:.3f} {tr[2]:.2f},{tr[3]:.2f}"
                )
            print(line, flush=True)
    print("# width scaling (beta=0.9 micheli, L=20, T=20, reps=20, gram): residual vs n")
    cfg = si.NetworkConfig(**{**FIG4, "layers": 20}, beta=0.9, init="micheli")
    th = dynamic_mean_field(cfg, paths=paths, seed=0)
    cells = dict(layer=slice(1, None), time=slice(1, None))
    for n in (250, 1000, 4000):
        sim = si.montecarlo.simulate(cfg.replace(width=n), reps=20, seed=5, method="gram")
        for v in ("var_u", "rate"):
            rel = ((sim[v] - th[v]) / th[v]).sel(**cells)
            per_network = np.sqrt((rel**2).mean(("layer", "time")))
            bias = rel.mean(("layer", "time"))
            bias_se = float(bias.std(ddof=1)) / np.sqrt(20)
            print(
                f"n={n} {v}: per-network rms rel residual {float(per_network.mean()):.4f} "
                f"+- {float(per_network.std(ddof=1)) / np.sqrt(20):.4f}; mean signed rel "
                f"residual {float(bias.mean()):+.4f} +- {bias_se:.4f}",
                flush=True,
            )


def rule(reps: int = 10) -> None:
    print("# dmft rule vs micheli, n=1000, L=100, T=20, theta=1, gram, reps =", reps)
    for beta in (0.5, 0.9):
        for init in ("micheli", "dmft"):
            cfg = si.NetworkConfig(**FIG4, beta=beta, init=init)
            t0 = time.perf_counter()
            si.theory.layer_weight_moments(cfg)
            t_rule = time.perf_counter() - t0
            sim = si.montecarlo.simulate(cfg, reps=reps, seed=3, method="gram")
            rate = sim["rate"].mean("time")  # (rep, layer)
            var = sim["var_u"].mean("time")
            picks = [0, 1, 10, 25, 50, 75, 100]
            r = rate.mean("rep").sel(layer=picks).values
            r_sd = rate.std("rep", ddof=1).sel(layer=picks).values
            v = var.mean("rep").sel(layer=picks).values
            dead = int((sim["rate"].sel(layer=100).sum("time") == 0).sum())
            unstable = unstable_layer(sim)
            print(
                f"beta={beta} {init:8s} (rule {t_rule:.1f} s) unstable layer {unstable}; "
                f"time-avg rate at layers {picks}: "
                + " ".join(f"{a:.3f}+-{b:.3f}" for a, b in zip(r, r_sd))
                + " | time-avg var_u: "
                + " ".join(f"{a:.3f}" for a in v)
                + f" | reps silent at layer 100: {dead}/{reps}",
                flush=True,
            )


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "speed"
    {"speed": speed, "agreement": agreement, "rule": rule}[what]()
