"""Error of the first-order 1/n expansion against the exact chain's survivors.

    python3 benchmarks/expansion_error_table.py               # docs/theory.md: the expansion
    python3 benchmarks/expansion_error_table.py --bottleneck  # docs/theory.md: bottleneck depth

For theta in {0.8, 0.9, 1.0, 1.1} (Micheli, one step) and widths 100 to 10000,
compares ``finite_size_expansion`` with the exact chain (``finite_size``) over
layers ``0..50``: the error of E[var_u] against the survivors'
``var_u_given_alive`` (max over layers <= 5 and <= 50), against the plain E
of all networks, and the mean field's error against the survivors (the size
of the correction the expansion has to get right). Then the convergence of
``n^2 err`` (second order: it settles) per doubling of the width, and the
check of the stated error (``<name>_error``) on the layers the expansion
calls valid, for theta in {0.9, 1.0, 1.1} and n in {100, 1000, 4000}.

The expansion is run with ``tol`` huge so that its values past the breakdown
are shown too; ``eps`` is its breakdown criterion (``correction``, max over
layers), ``valid`` the number of layers within the default ``EXPANSION_TOL``.
"""

from __future__ import annotations

import sys

import numpy as np

import snninit as si
from snninit.theory import meanfield
from snninit.theory.expansion import EXPANSION_OUTPUTS, EXPANSION_TOL

THETAS = (0.8, 0.9, 1.0, 1.1)
WIDTHS = (100, 200, 400, 1000, 2000, 4000, 8000, 10000)
DOUBLINGS = (500, 1000, 2000, 4000, 8000)  # widths of the convergence table
LAYERS = 50
SHALLOW = 5  # "a few layers"
NO_BREAKDOWN = 1e12  # tol: never flag, to show the error past the breakdown
STATED = ((0.9, 1.0, 1.1), (100, 1000, 4000))  # the stated-error check (issue 13)


def _errors(theta: float, n: int) -> dict[str, float]:
    cfg = si.NetworkConfig(width=n, layers=LAYERS, theta=theta, init="micheli")
    exact = si.theory.finite_size(cfg, distribution=True)
    approx = si.theory.finite_size_expansion(cfg, tol=NO_BREAKDOWN)
    default = si.theory.finite_size_expansion(cfg, on_breakdown="truncate")
    mf = si.theory.mean_field(cfg)

    def one(ds, name):
        return ds[name].isel(time=0).values

    alive = one(exact, "var_u_given_alive")
    err = np.abs(one(approx, "var_u_given_alive") - alive)
    err_sd = np.abs(one(approx, "var_u_sd_given_alive") - one(exact, "var_u_sd_given_alive"))
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
        "err_all": float(np.max(np.abs(one(approx, "var_u_given_alive") - one(exact, "var_u")))),
        "mf_err": float(np.nanmax(np.abs(one(mf, "var_u") - alive))),
        "p_extinct": float(one(exact, "p_extinct")[-1]),
        "eps": float(eps.max()),
        "valid": int(default.attrs["valid_layers"]),
        "in_basin": in_basin,
    }


def main() -> None:
    print(
        f"1/n expansion vs exact chain, Micheli, one step, layers 0..{LAYERS}; "
        f"errors in E[var_u] are max over layers (<= {SHALLOW} or <= {LAYERS})\n"
    )
    print(
        "| theta | n | err l<=5 | n^2 err l<=5 | err l<=50 | n^2 err l<=50 | err vs all l<=50 "
        f"| mean-field err | P(extinct) l=50 | basin share of survivors l=50 | eps | valid "
        f"(of {LAYERS + 1}) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    table = {}
    for theta in THETAS:
        for n in WIDTHS:
            r = table[theta, n] = _errors(theta, n)
            print(
                f"| {theta} | {n} | {r['err_shallow']:.2e} | {r['err_shallow'] * n * n:.3g} "
                f"| {r['err']:.2e} "
                f"| {r['err'] * n * n:.3g} | {r['err_all']:.2e} | {r['mf_err']:.2e} "
                f"| {r['p_extinct']:.1e} | {r['in_basin']:.1e} | {r['eps']:.3f} | {r['valid']} |"
            )
    full = [r["err"] / r["mf_err"] for r in table.values() if r["valid"] == LAYERS + 1]
    print(
        f"\nvalid at every layer (eps <= {EXPANSION_TOL}): expansion error / mean-field error "
        f"<= {max(full):.2f} (median {np.median(full):.3f}, {len(full)} of {len(table)} cells)"
    )
    convergence()
    stated()
    basin()
    issue_cases()


def convergence() -> None:
    """Second order, deterministically: n^2 err settles, by shrinking steps per doubling."""
    print(
        "\nconvergence: relative change of n^2 err (of E[var_u]; n^(3/2) err of SD[var_u]) "
        f"per doubling of the width, {' -> '.join(map(str, DOUBLINGS))}\n"
    )
    print("| theta | E[var_u], l<=5 | E[var_u], l<=50 | SD[var_u], l<=50 |")
    print("|---|---|---|---|")
    ns = np.array(DOUBLINGS, dtype=float)
    for theta in THETAS:
        rows = np.array(
            [
                [_errors(theta, int(n))[k] for k in ("err_shallow", "err", "err_sd")]
                for n in DOUBLINGS
            ]
        )
        cells = []
        for col, power in zip(rows.T, (2.0, 2.0, 1.5)):
            scaled = col * ns**power
            change = scaled[1:] / scaled[:-1] - 1.0
            cells.append(", ".join(f"{c:+.1%}" for c in change))
        print(f"| {theta} | " + " | ".join(cells) + " |")


def stated() -> None:
    """Where the expansion calls itself valid, its error is within its stated error."""
    print(
        "\nstated error (<name>_error = 2 |second-order term|) against the exact chain's "
        f"survivors, layers 0..{LAYERS}: max over the five outputs and the layers of "
        "|error| / stated error\n"
    )
    print("| theta | n | valid layers | within the valid layers | past them (criterion off) |")
    print("|---|---|---|---|---|")
    for theta in STATED[0]:
        for n in STATED[1]:
            cfg = si.NetworkConfig(width=n, layers=LAYERS, theta=theta, init="micheli")
            exact = si.theory.finite_size(cfg)
            loose = si.theory.finite_size_expansion(cfg, tol=NO_BREAKDOWN)
            valid = si.theory.finite_size_expansion(cfg, on_breakdown="truncate").sizes["layer"]
            inside, outside = 0.0, 0.0
            for name in EXPANSION_OUTPUTS:
                err = np.abs(loose[name] - exact[name]).isel(time=0).values
                bound = loose[f"{name}_error"].isel(time=0).values
                with np.errstate(divide="ignore", invalid="ignore"):
                    q = np.where(
                        err > 1e-12 * np.abs(exact[name].isel(time=0).values), err / bound, 0.0
                    )
                inside = max(inside, float(np.max(q[:valid], initial=0.0)))
                outside = max(outside, float(np.max(q[valid:], initial=0.0)))
            past = f"{outside:.2f}" if valid <= LAYERS else "(none)"
            print(f"| {theta} | {n} | {valid} | {inside:.2f} | {past} |")


def basin() -> None:
    """Distance of the mean field to the extinction basin, in SDs of the expansion."""
    print(
        "\ndistance to the extinction basin: z = (mbar - p_lower) / sqrt(S), S = Sigma / n "
        f"at layer {LAYERS} (p_lower: the map's unstable fixed point); the criterion's "
        "basin term is 1 / z^2\n"
    )
    print("| theta | g'(mbar) | v_lower | z / sqrt(n) | z at n = 1000 | 4000 | 10000 |")
    print("|---|---|---|---|---|---|---|")
    for theta in THETAS:
        cfg = si.NetworkConfig(width=1000, layers=LAYERS, theta=theta, init="micheli")
        fp = si.theory.fixed_points(cfg)
        v_lower = float(fp["v_star"].sel(branch="lower"))
        slope = float(fp["slope"].sel(branch="upper"))
        # with the map v = n s2 p at its fixed point v = 1: p / mbar = v
        ds = si.theory.finite_size_expansion(cfg, tol=NO_BREAKDOWN)
        mbar = float(si.theory.mean_field(cfg)["rate"].isel(layer=-1, time=0))
        sigma = float(ds["spikes_sd_given_alive"].isel(layer=-1, time=0)) ** 2 / cfg.width
        z1 = mbar * (1.0 - v_lower) / np.sqrt(sigma)
        zs = " | ".join(f"{z1 * np.sqrt(n):.1f}" for n in (1000, 4000, 10000))
        print(f"| {theta} | {slope:.3f} | {v_lower:.3f} | {z1:.3f} | {zs} |")


def issue_cases() -> None:
    """The cases where the old nonlinear recursion oscillated (issue 13)."""
    print(
        "\nissue 13 cases: E[var_u] of the expansion (criterion off) vs the exact survivors; "
        "valid: layers within the default tol\n"
    )
    print("| n | theta | layer | expansion | exact, survivors | exact, all | P(extinct) | valid |")
    print("|---|---|---|---|---|---|---|---|")
    for n, theta, layers in ((1000, 1.1, (25, 30, 35)), (100, 0.9, (55, 60))):
        cfg = si.NetworkConfig(width=n, layers=max(layers), theta=theta, init="micheli")
        approx = si.theory.finite_size_expansion(cfg, tol=NO_BREAKDOWN)
        exact = si.theory.finite_size(cfg)
        valid = si.theory.finite_size_expansion(cfg, on_breakdown="truncate").sizes["layer"]
        for layer in layers:

            def at(ds, name, layer=layer):
                return float(ds[name].sel(layer=layer).isel(time=0))

            print(
                f"| {n} | {theta} | {layer} | {at(approx, 'var_u_given_alive'):.4f} "
                f"| {at(exact, 'var_u_given_alive'):.4f} | {at(exact, 'var_u'):.4f} "
                f"| {at(exact, 'p_extinct'):.3f} | {valid} |"
            )


def bottleneck() -> None:
    """Bottleneck depth (Kaiming past theta_sn) against the iterated mean field."""
    T = si.theory
    theta_sn = T.critical_threshold("kaiming")
    print(
        "bottleneck depth N (continuum passage time) against the iterated mean field "
        "(first layer with var_u < 1e-3), Kaiming, v_0 = 1\n"
    )
    print("| theta | theta - theta_sn | pi/sqrt(c delta) | N | iterated | iterated - N |")
    print("|---|---|---|---|---|---|")
    rows = [(f"theta_sn + {e:g}", theta_sn + e) for e in (1e-6, 1e-5, 1e-4)]
    rows += [(f"{t:g}", t) for t in (0.576, 0.58, 0.6, 0.65, 0.68, 0.6805, 0.69, 0.8, 1.0, 2.0)]
    for label, theta in rows:
        depth = float(T.bottleneck_depth(theta, "kaiming"))
        _, delta, curvature = meanfield._bottleneck_channel(theta, 2.0)
        form = f"{np.pi / np.sqrt(curvature * delta):.1f}" if delta > 0 else "(no channel)"
        cfg = si.NetworkConfig(width=1000, layers=int(depth) + 40, theta=theta, init="kaiming")
        var = T.mean_field(cfg)["var_u"].isel(time=0).values
        iterated = int(np.flatnonzero(var < 1e-3)[0])
        print(
            f"| {label} | {theta - theta_sn:.3g} | {form} | {depth:.2f} | {iterated} "
            f"| {iterated - depth:.2f} |"
        )


if __name__ == "__main__":
    bottleneck() if "--bottleneck" in sys.argv[1:] else main()
