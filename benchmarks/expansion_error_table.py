"""Error of the first-order 1/n expansion against the exact chain's survivors.

    python3 benchmarks/expansion_error_table.py          # the table of docs/theory.md

For theta in {0.8, 0.9, 1.0, 1.1} (Micheli, one step) and widths 100 to 4000,
compares ``finite_size_expansion`` with the exact chain (``finite_size``) over
layers ``0..50``: the error of E[var_u] against the survivors'
``var_u_given_alive`` (max over layers <= 5 and <= 50), against the plain E
of all networks, and the mean field's error against the survivors (the size
of the correction the expansion has to get right). Then fits log-log slopes
of the error per theta, over all widths and over n >= 1000, with their
standard errors, for E[var_u] and for SD[var_u] (expected -2 and -3/2).

The expansion is run with ``tol`` huge so that its values past the breakdown
are shown too; ``eps`` is its breakdown criterion (``correction``), ``ok``
says whether it is within the default ``EXPANSION_TOL``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

import snninit as si
from snninit.theory.finitesize import EXPANSION_TOL

THETAS = (0.8, 0.9, 1.0, 1.1)
WIDTHS = (100, 200, 400, 1000, 2000, 4000, 8000, 10000)
FIT_ALL = (100, 4000)  # widths of the first slope fit
LAYERS = 50
SHALLOW = 5  # "a few layers"
FIT_LARGE = (1000, 10000)  # widths of the second slope fit
NO_BREAKDOWN = 1e12  # tol: never mask, to show the error past the breakdown


def _errors(theta: float, n: int) -> dict[str, float]:
    cfg = si.NetworkConfig(width=n, layers=LAYERS, theta=theta, init="micheli")
    exact = si.theory.finite_size(cfg, distribution=True)
    approx = si.theory.finite_size_expansion(cfg, tol=NO_BREAKDOWN)
    mf = si.theory.mean_field(cfg)

    def one(ds, name):
        return ds[name].isel(time=0).values

    alive = one(exact, "var_u_given_alive")
    err = np.abs(one(approx, "var_u") - alive)
    err_sd = np.abs(one(approx, "var_u_sd") - one(exact, "var_u_sd_given_alive"))
    eps = one(approx, "correction")
    # survivors inside the extinction basin: below the unstable fixed point
    # v_lower of the map (k = v / s2), on their way out, at the last layer
    fp = si.theory.fixed_points(cfg)
    v_lower = float(fp["v_star"].sel(branch="lower"))
    _, s2 = si.theory.layer_weight_moments(cfg)
    p_k = exact["p_spikes"].isel(time=0, layer=-2).values  # drives layer LAYERS
    k = np.arange(n + 1)
    in_basin = float(p_k[(k > 0) & (k < v_lower / s2[-1])].sum() / p_k[k > 0].sum())
    return {
        "err_shallow": float(np.nanmax(err[: SHALLOW + 1])),
        "err": float(np.nanmax(err)),
        "err_sd": float(np.nanmax(err_sd)),
        "err_all": float(np.max(np.abs(one(approx, "var_u") - one(exact, "var_u")))),
        "mf_err": float(np.nanmax(np.abs(one(mf, "var_u") - alive))),
        "p_extinct": float(one(exact, "p_extinct")[-1]),
        "eps": float(eps.max()),
        "in_basin": in_basin,
    }


def _slope(ns, errs) -> tuple[float, float]:
    fit = stats.linregress(np.log(ns), np.log(errs))
    return fit.slope, fit.stderr


def main() -> None:
    print(
        f"1/n expansion vs exact chain, Micheli, one step, layers 0..{LAYERS}; "
        f"errors are max over layers (<= {SHALLOW} or <= {LAYERS})\n"
    )
    print(
        "| theta | n | err l<=5 | n^2 err l<=5 | err l<=50 | n^2 err l<=50 | err vs all l<=50 "
        "| mean-field err | P(extinct) l=50 | basin share of survivors l=50 | eps | ok |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    table = {}
    for theta in THETAS:
        for n in WIDTHS:
            r = table[theta, n] = _errors(theta, n)
            ok = "yes" if r["eps"] <= EXPANSION_TOL else "no"
            print(
                f"| {theta} | {n} | {r['err_shallow']:.2e} | {r['err_shallow'] * n * n:.3g} "
                f"| {r['err']:.2e} "
                f"| {r['err'] * n * n:.3g} | {r['err_all']:.2e} | {r['mf_err']:.2e} "
                f"| {r['p_extinct']:.1e} | {r['in_basin']:.1e} | {r['eps']:.3f} | {ok} |"
            )
    print(
        "\nfitted log-log slopes of the error (± standard error of the fit), "
        f"widths {FIT_ALL[0]}-{FIT_ALL[1]} / widths {FIT_LARGE[0]}-{FIT_LARGE[1]}\n"
    )
    print("| theta | E[var_u], l<=5 | E[var_u], l<=50 | SD[var_u], l<=50 |")
    print("|---|---|---|---|")
    for theta in THETAS:
        cells = []
        for key in ("err_shallow", "err", "err_sd"):
            parts = []
            for lo, hi in (FIT_ALL, FIT_LARGE):
                ns = np.array([n for n in WIDTHS if lo <= n <= hi])
                s, se = _slope(ns, [table[theta, n][key] for n in ns])
                parts.append(f"{s:.2f} ± {se:.2f}")
            cells.append(" / ".join(parts))
        print(f"| {theta} | " + " | ".join(cells) + " |")
    ratio = [r["err"] / r["mf_err"] for r in table.values() if r["eps"] <= EXPANSION_TOL]
    print(
        f"\nwhere eps <= {EXPANSION_TOL}: expansion error / mean-field error "
        f"<= {max(ratio):.2f} (median {np.median(ratio):.3f}, {len(ratio)} of {len(table)} cells)"
    )
    bad = [r["err"] / r["mf_err"] for r in table.values() if r["eps"] > EXPANSION_TOL]
    if bad:
        print(
            f"where eps > {EXPANSION_TOL}: the ratio is {min(bad):.2f} to {max(bad):.2f} "
            f"({len(bad)} cells)"
        )
    basin()
    issue_cases()


def basin() -> None:
    """Distance of the mean field to the extinction basin, in SDs of the expansion."""
    print(
        "\ndistance to the extinction basin: z = (mbar - p_lower) / sqrt(S), S = Sigma / n "
        "at layer 50 (p_lower: the map's unstable fixed point)\n"
    )
    print("| theta | g'(mbar) | v_lower | z / sqrt(n) | z at n = 1000 | 4000 | 10000 |")
    print("|---|---|---|---|---|---|---|")
    for theta in THETAS:
        cfg = si.NetworkConfig(width=1000, layers=LAYERS, theta=theta, init="micheli")
        fp = si.theory.fixed_points(cfg)
        v_lower = float(fp["v_star"].sel(branch="lower"))
        slope = float(fp["slope"].sel(branch="upper"))
        # with the map v = n s2 p at its fixed point v = 1: p / mbar = v
        ds = si.theory.finite_size_expansion(cfg)
        mbar = float(si.theory.mean_field(cfg)["rate"].isel(layer=-1, time=0))
        sigma = float(ds["spikes_sd"].isel(layer=-1, time=0)) ** 2 / cfg.width
        z1 = mbar * (1.0 - v_lower) / np.sqrt(sigma)
        zs = " | ".join(f"{z1 * np.sqrt(n):.1f}" for n in (1000, 4000, 10000))
        print(f"| {theta} | {slope:.3f} | {v_lower:.3f} | {z1:.3f} | {zs} |")


def issue_cases() -> None:
    """The cases where the old nonlinear recursion oscillated (issue 13)."""
    print("\nissue 13 cases: E[var_u] of the expansion vs the exact survivors\n")
    print("| n | theta | layer | expansion | exact, survivors | exact, all | P(extinct) |")
    print("|---|---|---|---|---|---|---|")
    for n, theta, layers in ((1000, 1.1, (25, 30, 35)), (100, 0.9, (55, 60))):
        cfg = si.NetworkConfig(width=n, layers=max(layers), theta=theta, init="micheli")
        approx, exact = si.theory.finite_size_expansion(cfg), si.theory.finite_size(cfg)
        for layer in layers:

            def at(ds, name, layer=layer):
                return float(ds[name].sel(layer=layer).isel(time=0))

            print(
                f"| {n} | {theta} | {layer} | {at(approx, 'var_u'):.4f} "
                f"| {at(exact, 'var_u_given_alive'):.4f} | {at(exact, 'var_u'):.4f} "
                f"| {at(exact, 'p_extinct'):.3f} |"
            )


if __name__ == "__main__":
    main()
