"""The paper's figures, redrawn from our simulations with the theory overlaid.

Every ``plot_*`` function takes datasets (simulation and prediction) and
returns a :class:`matplotlib.figure.Figure`; :func:`save_figure` writes it as
PNG and PDF. Nothing here simulates: :mod:`snninit.validation.pipeline`
computes the data and calls these functions.

Conventions: simulations are drawn as their mean over repetitions with a
band of +-1 standard deviation across repetitions (the paper's shading);
predictions as lines in the same colour, the exact chain with long dashes,
the mean field dotted; every threshold has its own colour. Populations that
are bimodal near extinction (Fig. 3, beyond ``theta*``) are drawn as the
survivors' mean +- SD and the extinct fraction, each with its prediction,
never as one band over both modes (DESIGN 3d). Symbols follow the paper: ``Var[u_l]``, layer ``l``,
time step ``t``, threshold ``theta``, leak ``beta``, width ``n``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = [
    "figure_style",
    "save_figure",
    "plot_fig2",
    "plot_fig3",
    "plot_fig4",
    "plot_fig4_profiles",
    "plot_fig7",
    "plot_stability",
    "survivors_stat",
]

_RC = {
    "figure.dpi": 110,
    "savefig.dpi": 160,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.3,
    "image.cmap": "viridis",
    "pdf.fonttype": 42,
}

INIT_LABELS = {"micheli": "Micheli et al. (variance-conserving)", "kaiming": "Kaiming"}


def _mpl():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo"):
        with contextlib.suppress(Exception):
            matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """Context manager applying the package's matplotlib style."""
    plt = _mpl()
    with plt.rc_context(_RC):
        yield


def save_figure(fig, out_dir: str | os.PathLike, name: str) -> list[Path]:
    """Write ``fig`` as ``name.png`` and ``name.pdf`` into ``out_dir`` and close it."""
    from .._io import atomic_write

    plt = _mpl()
    out_dir = Path(out_dir)
    paths = []
    for ext in ("png", "pdf"):
        path = out_dir / f"{name}.{ext}"
        atomic_write(path, lambda tmp, ext=ext: fig.savefig(tmp, format=ext, bbox_inches="tight"))
        paths.append(path)
    plt.close(fig)
    return paths


def _colors(n: int, cmap: str = "viridis") -> list:
    plt = _mpl()
    cm = plt.get_cmap(cmap)
    return [cm(x) for x in np.linspace(0.0, 0.88, max(n, 1))]


#: Okabe-Ito colours (colour-blind safe, yellow left out: unreadable on white).
_DISTINCT = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")

#: Line styles: simulation mean (with its band), exact chain, mean field.
_SIM_LS, _CHAIN_LS, _MF_LS = "-", (0, (5, 2)), (0, (1, 1.5))


def _distinct_colors(n: int) -> list:
    """``n`` colours that tell every curve apart (one per threshold)."""
    if n <= len(_DISTINCT):
        return list(_DISTINCT[:n])
    return _colors(n, "turbo")


def _stat(sim: xr.Dataset, var: str) -> tuple[xr.DataArray, xr.DataArray]:
    """Mean and standard deviation (ddof=1) over repetitions of ``var``."""
    da = _squeeze_time(sim[var])
    return da.mean("rep"), da.std("rep", ddof=1)


def _squeeze_time(da: xr.DataArray) -> xr.DataArray:
    """Drop a ``time`` dim of length 1 (one time step)."""
    if "time" in da.dims and da.sizes["time"] == 1:
        return da.isel(time=0)
    return da


def survivors_stat(sim: xr.Dataset, var: str = "var_u") -> tuple[xr.DataArray, ...]:
    """Mean, SD (ddof=1) and number of the repetitions not in the extinct mode, per cell.

    The survivors of a bimodal population (DESIGN 3d): for ``var_u`` the
    networks whose layer below emitted at least one spike, for ``spikes`` or
    ``rate`` those whose layer did. NaN where no repetition survives (the
    SD also where only one does).

    Parameters
    ----------
    sim : Dataset
        Simulation with ``var`` over ``rep`` (and ``time`` of length 1, dropped).
    var : str
        The variable.

    Returns
    -------
    mean, sd, count : DataArray
        Over the remaining dims of ``sim[var]``.
    """
    from .celltests import survivors_sample

    alive = survivors_sample(_squeeze_time(sim[var]))  # the comparison's survivors
    count = alive.notnull().sum("rep")
    return alive.mean("rep", skipna=True), alive.std("rep", ddof=1, skipna=True), count


def _one_step(da: xr.DataArray) -> xr.DataArray:
    if "time" in da.dims:
        return da.isel(time=0)
    return da


def _band(ax, x, mean, sd, color, label=None, lower=None, gid=None, alpha=0.22):
    """Mean as a thin solid line with a +-SD band (opacity ``alpha``); returns the line."""
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    lo = mean - sd if lower is None else np.maximum(mean - sd, lower)
    ax.fill_between(x, lo, mean + sd, color=color, alpha=alpha, linewidth=0)
    (line,) = ax.plot(x, mean, color=color, alpha=0.9, linewidth=1.0, ls=_SIM_LS, label=label)
    if gid is not None:
        line.set_gid(gid)
    return line


def _fmt(x) -> str:
    return f"{float(x):g}"


def plot_fig2(
    sim: xr.Dataset,
    theory: xr.Dataset | None = None,
    mean_field: xr.Dataset | None = None,
    title: str = "Fig. 2",
):
    """Fig. 2: ``Var[u_l]`` against depth, six thresholds, Micheli vs Kaiming.

    Every threshold has its own colour; the simulation (mean, solid, with a
    +-SD band), the exact chain (long dashes) and the mean field (dots) are
    drawn in it (gids ``sim``, ``chain``, ``mean-field`` followed by
    ``init=<init> theta=<theta>``).

    Parameters
    ----------
    sim : Dataset
        ``var_u`` over ``(init, theta, rep, layer[, time])``.
    theory : Dataset, optional
        Exact finite-size prediction ``var_u`` over ``(init, theta, layer)``.
    mean_field : Dataset, optional
        The ``n -> infinity`` map.
    title : str
        Prefix of the figure's title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _mpl()
    inits = list(sim["init"].values)
    thetas = list(sim["theta"].values)
    colors = _distinct_colors(len(thetas))
    with figure_style():
        fig, axes = plt.subplots(1, len(inits), figsize=(4.2 * len(inits), 3.4), sharey=True)
        axes = np.atleast_1d(axes)
        for ax, init in zip(axes, inits):
            s = sim.sel(init=init)
            layer = s["layer"].values
            for color, theta in zip(colors, thetas):
                tag = f"init={init} theta={_fmt(theta)}"
                mean, sd = _stat(s.sel(theta=theta), "var_u")
                _band(
                    ax,
                    layer,
                    mean,
                    sd,
                    color,
                    label=f"θ = {_fmt(theta)}",
                    lower=0.0,
                    gid=f"sim {tag}",
                )
                if theory is not None:
                    th = _one_step(theory["var_u"].sel(init=init, theta=theta))
                    ax.plot(th["layer"], th, color=color, lw=1.4, ls=_CHAIN_LS, gid=f"chain {tag}")
                if mean_field is not None:
                    mf = _one_step(mean_field["var_u"].sel(init=init, theta=theta))
                    ax.plot(
                        mf["layer"], mf, color=color, lw=1.2, ls=_MF_LS, gid=f"mean-field {tag}"
                    )
            ax.set_title(INIT_LABELS.get(str(init), str(init)))
            ax.set_xlabel("layer l")
            ax.set_xlim(layer.min(), layer.max())
        axes[0].set_ylabel(r"Var$[u_l]$")
        handles, labels = axes[0].get_legend_handles_labels()
        extra = [plt.Line2D([], [], color="grey", lw=1.0, ls=_SIM_LS, label="simulation mean ± SD")]
        if theory is not None:
            extra.append(
                plt.Line2D([], [], color="grey", lw=1.4, ls=_CHAIN_LS, label="exact finite-n chain")
            )
        if mean_field is not None:
            extra.append(
                plt.Line2D([], [], color="grey", lw=1.2, ls=_MF_LS, label="mean field (n→∞)")
            )
        n = sim.attrs.get("width", "")
        reps = sim.sizes["rep"]
        fig.suptitle(
            f"{title} — one time step, n = {n}: simulation mean ± SD over {reps} networks (bands), "
            "theory (lines in the threshold's colour)",
            fontsize=9,
        )
        fig.tight_layout()
        fig.legend(
            handles=handles + extra, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False
        )
    return fig


def _theory_band(ax, x, mean, sd, color, gid=None):
    """A prediction (long dashes) with its +-SD across networks (dotted, clipped at 0)."""
    (line,) = ax.plot(x, mean, color=color, lw=1.5, ls=_CHAIN_LS)
    if gid is not None:
        line.set_gid(gid)
    if sd is not None:
        for sign in (-1, 1):
            ax.plot(x, np.maximum(mean + sign * sd, 0), color=color, lw=0.6, ls=":", alpha=0.8)
    return line


def plot_fig3(
    sim: xr.Dataset,
    theory: xr.Dataset | None = None,
    title: str = "Fig. 3 — finite-size effect (Micheli init)",
):
    """Fig. 3: the finite-size effect as survivors and the extinct, each predicted.

    Near extinction a layer's population of networks is bimodal (silent
    networks and survivors), so one mean +- SD over both describes neither
    (DESIGN 3d). Top row: ``Var[u_l]`` of the survivors, the repetitions with
    ``Var[u_l] > 0`` (simulation mean +- SD, solid with a band; gid
    ``survivors-sim n=<n> theta=<theta>`` on the mean's line), against the
    exact chain's ``var_u_given_alive`` +- ``var_u_sd_given_alive`` (dashed,
    dotted; gid ``survivors-chain ...``). Bottom row: the extinct fraction,
    the simulated share of networks whose layer emits no spike (markers)
    against ``P(k_l = 0)`` of the chain (``p_extinct``, lines).

    Parameters
    ----------
    sim : Dataset
        ``var_u`` and ``spikes`` over ``(n, theta, rep, layer[, time])``.
    theory : Dataset, optional
        Exact chain (:func:`snninit.theory.finite_size`) over ``(n, theta,
        layer[, time])`` with ``var_u_given_alive``, ``var_u_sd_given_alive``
        and ``p_extinct``; a prediction without the survivors' moments draws
        only the extinct fraction.
    title : str
        First line of the figure's title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _mpl()
    widths = list(sim["n"].values)
    thetas = list(sim["theta"].values)
    colors = _distinct_colors(len(thetas))
    with figure_style():
        fig, axes = plt.subplots(
            2,
            len(widths),
            figsize=(4.3 * len(widths) if len(widths) > 1 else 6.0, 5.6),
            sharex=True,
            gridspec_kw={"height_ratios": [3, 2]},
            squeeze=False,
        )
        for ax in axes[0, 1:]:
            ax.sharey(axes[0, 0])  # one Var scale: the widths compare at a glance
        for j, n in enumerate(widths):
            ax, axp = axes[0, j], axes[1, j]
            s = sim.sel(n=n)
            layer = s["layer"].values
            for color, theta in zip(colors, thetas):
                st = s.sel(theta=theta)
                tag = f"n={int(n)} theta={_fmt(theta)}"
                mean, sd, _ = survivors_stat(st, "var_u")
                _band(
                    ax,
                    layer,
                    mean,
                    sd,
                    color,
                    label=f"θ = {_fmt(theta)}",
                    lower=0.0,
                    gid=f"survivors-sim {tag}",
                    alpha=0.14,  # several thresholds' bands overlap near Var = 1
                )
                frac = (_one_step(st["spikes"]) == 0).mean("rep")
                axp.plot(layer, frac, ls="none", marker="o", ms=2.2, color=color, alpha=0.8)
                if theory is None:
                    continue
                th = theory.sel(n=n, theta=theta)
                if "var_u_given_alive" in th:
                    ev = _one_step(th["var_u_given_alive"])
                    sdv = (
                        _one_step(th["var_u_sd_given_alive"])
                        if "var_u_sd_given_alive" in th
                        else None
                    )
                    _theory_band(ax, ev["layer"], ev, sdv, color, gid=f"survivors-chain {tag}")
                pe = _one_step(th["p_extinct"])
                axp.plot(pe["layer"], pe, color=color, lw=1.4, ls=_CHAIN_LS)
            ax.set_title(f"n = {int(n)}")
            ax.set_ylabel(r"survivors' Var$[u_l]$ (Var$[u_l] > 0$)")
            axp.set_ylabel(r"extinct fraction $P(k_l = 0)$")
            axp.set_xlabel("layer l")
            axp.set_ylim(-0.03, 1.03)
            ax.set_xlim(layer.min(), layer.max())
        handles, labels = axes[0, 0].get_legend_handles_labels()
        extra = [
            plt.Line2D([], [], color="grey", lw=1.0, label="simulated survivors' mean ± SD"),
            plt.Line2D([], [], color="grey", lw=1.5, ls=_CHAIN_LS, label="exact chain"),
            plt.Line2D([], [], color="grey", lw=0.7, ls=":", label="exact chain ± SD"),
            plt.Line2D(
                [],
                [],
                color="grey",
                ls="none",
                marker="o",
                ms=3,
                label="simulated extinct fraction",
            ),
        ]
        reps = sim.sizes["rep"]
        fig.suptitle(
            f"{title}\nsurvivors among {reps} simulated networks (bands) and extinct fraction "
            "(markers) vs the exact finite-n chain (dashed)",
            fontsize=9,
        )
        fig.tight_layout()
        fig.legend(
            handles=handles + extra, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False
        )
    return fig


def _heat(ax, da: xr.DataArray, title: str, cbar_label: str, fig, vmin=None, vmax=None):
    da = da.transpose("layer", "time")
    t = da["time"].values
    layer = da["layer"].values
    im = ax.imshow(
        np.asarray(da.values, dtype=float),
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        extent=(t.min() - 0.5, t.max() + 0.5, layer.min() - 0.5, layer.max() + 0.5),
        vmin=vmin,
        vmax=vmax,
    )
    ax.set_title(title)
    ax.set_xlabel("time step t")
    ax.set_ylabel("layer l")
    ax.grid(False)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.03)
    cb.set_label(cbar_label)
    return im


def plot_fig4(sim: xr.Dataset, beta: float, theory: xr.Dataset | None = None):
    """Fig. 4: ``Var[u_l^t]`` and spike count over layer x time at leak ``beta``.

    Columns: one per initialisation (simulation mean over repetitions) and,
    when ``theory`` (dynamic mean field over ``(beta, init, layer, time)``) is
    given, the prediction next to it (spike count predicted as ``n * rate``).
    """
    plt = _mpl()
    s = sim.sel(beta=beta)
    inits = list(s["init"].values)
    cols = []
    for init in inits:
        cols.append(("sim", init))
        if theory is not None:
            cols.append(("theory", init))
    n = int(sim.attrs.get("width", 0)) or None
    with figure_style():
        fig, axes = plt.subplots(2, len(cols), figsize=(3.3 * len(cols), 5.6), squeeze=False)
        for j, (kind, init) in enumerate(cols):
            name = INIT_LABELS.get(str(init), str(init)).split(" (")[0]
            if kind == "sim":
                var = s["var_u"].sel(init=init).mean("rep")
                spk = s["spikes"].sel(init=init).mean("rep")
                tag = "simulation"
            else:
                th = theory.sel(beta=beta, init=init)
                var = th["var_u"]
                spk = th["rate"] * (n if n else 1)
                tag = "dynamic mean field"
            vv = s["var_u"].sel(init=init).mean("rep")
            ss = s["spikes"].sel(init=init).mean("rep")
            vmax_v = float(max(vv.max(), var.max()))
            vmax_s = float(max(ss.max(), spk.max()))
            _heat(axes[0, j], var, f"{name}: {tag}", r"Var$[u_l^t]$", fig, 0.0, vmax_v or None)
            _heat(
                axes[1, j], spk, f"{name}: {tag}", r"spike count $k_l^t$", fig, 0.0, vmax_s or None
            )
        reps = sim.sizes["rep"]
        fig.suptitle(
            f"Fig. 4 — β = {_fmt(beta)}, n = {n}, soft reset: mean over {reps} networks"
            + (" and the n→∞ dynamic mean field" if theory is not None else ""),
            fontsize=9,
        )
        fig.tight_layout()
    return fig


def plot_fig4_profiles(
    sim: xr.Dataset,
    beta: float | None,
    theory: xr.Dataset | None = None,
    layers: Sequence[int] | None = None,
    column: str = "init",
    title: str | None = None,
):
    """Time courses of ``Var[u_l^t]`` and the spike count at a few layers.

    Simulation mean +- SD over repetitions (bands) with the dynamic mean
    field (lines, with its sampling standard error if it carries
    ``var_u_se``) — the quantitative version of Fig. 4. One column per value
    of the dimension ``column`` (the rule; ``neuron`` for the neuron models'
    experiment, whose datasets have no ``beta`` dimension: ``beta=None``).
    """
    plt = _mpl()

    def at_beta(ds):
        return ds.sel(beta=beta) if beta is not None and "beta" in ds.dims else ds

    s = at_beta(sim)
    inits = list(s[column].values)
    L = int(s["layer"].max())
    if layers is None:
        layers = sorted({1, max(1, L // 10), max(1, L // 2), L})
    colors = _colors(len(layers), "cividis")
    n = int(sim.attrs.get("width", 0)) or 1
    t = s["time"].values
    with figure_style():
        fig, axes = plt.subplots(2, len(inits), figsize=(4.2 * len(inits), 5.4), squeeze=False)
        for j, init in enumerate(inits):
            si_ = s.sel({column: init})
            for color, layer in zip(colors, layers):
                cell = si_.sel(layer=layer)
                for i, var in enumerate(("var_u", "spikes")):
                    mean = cell[var].mean("rep")
                    sd = cell[var].std("rep", ddof=1)
                    _band(axes[i, j], t, mean, sd, color, label=f"l = {layer}", lower=0.0)
                if theory is not None:
                    th = at_beta(theory).sel({column: init, "layer": layer})
                    axes[0, j].plot(t, th["var_u"], color=color, ls="--", lw=1.2)
                    axes[1, j].plot(t, th["rate"] * n, color=color, ls="--", lw=1.2)
            axes[0, j].set_title(INIT_LABELS.get(str(init), str(init)).split(" (")[0])
            axes[0, j].set_ylabel(r"Var$[u_l^t]$")
            axes[1, j].set_ylabel(r"spike count $k_l^t$")
            axes[1, j].set_xlabel("time step t")
        handles, _ = axes[0, 0].get_legend_handles_labels()
        if theory is not None:
            handles.append(
                plt.Line2D([], [], color="k", ls="--", lw=1.2, label="dynamic mean field")
            )
        axes[0, -1].legend(handles=handles, loc="best")
        head = title if title is not None else f"Fig. 4 profiles — β = {_fmt(beta)}"
        fig.suptitle(
            f"{head}: simulation mean ± SD (bands)"
            + (", n→∞ dynamic mean field (dashed)" if theory is not None else ""),
            fontsize=9,
        )
        fig.tight_layout()
    return fig


def plot_fig7(
    sim: xr.Dataset,
    theory: xr.Dataset | None = None,
    beta: float = 0.9,
    init: str = "micheli",
):
    """Fig. 7: skewness and excess kurtosis of ``u_l^t`` over layer x time.

    Cells where the statistic is undefined (a layer whose membranes are all
    equal, e.g. silent deep layers) are left blank.
    """
    plt = _mpl()
    s = sim.sel(beta=beta, init=init)
    rows = [("simulation", s["skew"].mean("rep", skipna=True), s["kurt"].mean("rep", skipna=True))]
    if theory is not None and "skew" in theory:
        th = theory.sel(beta=beta, init=init)
        rows.append(("dynamic mean field", th["skew"], th["kurt"]))
    with figure_style():
        fig, axes = plt.subplots(len(rows), 2, figsize=(7.4, 2.9 * len(rows)), squeeze=False)
        for j, (label, symbol) in enumerate((("skew", "skewness"), ("kurt", "excess kurtosis"))):
            vals = [np.asarray(r[1 + j].values, dtype=float) for r in rows]
            finite = np.concatenate([v[np.isfinite(v)].ravel() for v in vals])
            lim = float(np.quantile(np.abs(finite), 0.99)) if finite.size else 1.0
            vmin, vmax = (-lim, lim)
            for i, row in enumerate(rows):
                da = row[1 + j]
                im = _heat(axes[i, j], da, f"{symbol}: {row[0]}", symbol, fig, vmin, vmax)
                im.set_cmap("RdBu_r")
            del label
        fig.suptitle(
            f"Fig. 7 — shape of the membrane distribution, β = {_fmt(beta)}, "
            f"{INIT_LABELS.get(init, init).split(' (')[0]} init (0 = Gaussian)",
            fontsize=9,
        )
        fig.tight_layout()
    return fig


def plot_stability(
    thetas: np.ndarray,
    chi: np.ndarray,
    theta_star: float,
    fixed_points: xr.Dataset | None = None,
):
    """Stability of the variance-conserving fixed point of the mean-field map.

    Left: ``chi(theta) = theta phi(theta) / (2 Q(theta))``, the slope of the
    map at ``v = 1`` under Micheli's rule, with ``chi = 1`` and ``theta*``
    marked. Right (if ``fixed_points`` is given, with ``v_star`` and
    ``slope`` over ``(theta, branch)``): fixed points of the map against
    ``theta``, solid where stable (|slope| < 1), dotted where unstable.
    """
    plt = _mpl()
    ncols = 2 if fixed_points is not None else 1
    with figure_style():
        fig, axes = plt.subplots(1, ncols, figsize=(4.2 * ncols, 3.3), squeeze=False)
        ax = axes[0, 0]
        ax.plot(thetas, chi, color="C0", label=r"$\chi(\theta)$")
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.axvline(theta_star, color="C3", lw=0.9, ls=":")
        ax.annotate(
            rf"$\theta^* \approx {theta_star:.4f}$",
            xy=(theta_star, 1.0),
            xytext=(8, -28),
            textcoords="offset points",
            color="C3",
            fontsize=8,
            arrowprops={"arrowstyle": "->", "color": "C3", "lw": 0.7},
        )
        ax.fill_between(thetas, 0, 1, color="C2", alpha=0.06, linewidth=0)
        ax.text(0.03, 0.04, "stable (χ < 1)", transform=ax.transAxes, fontsize=7, color="C2")
        ax.set_xlabel(r"threshold $\theta$")
        ax.set_ylabel(r"slope $\chi$ at $v = 1$")
        ax.set_title(r"Micheli init: stability of Var$[u_l] = 1$")
        ax.set_xlim(float(np.min(thetas)), float(np.max(thetas)))
        ax.set_ylim(0, max(1.6, float(np.nanmax(chi)) * 1.05))
        if fixed_points is not None:
            ax2 = axes[0, 1]
            fp = fixed_points
            th = fp["theta"].values
            branches = fp["branch"].values if "branch" in fp.dims else [None]
            for b in branches:
                sel = fp if b is None else fp.sel(branch=b)
                v = np.asarray(sel["v_star"].values, dtype=float)
                slope = np.asarray(sel["slope"].values, dtype=float)
                stable = np.abs(slope) < 1
                for mask, ls in ((stable, "-"), (~stable, ":")):
                    vv = np.where(mask & np.isfinite(v), v, np.nan)
                    ax2.plot(th, vv, color="C0", ls=ls, lw=1.4)
            ax2.axvline(theta_star, color="C3", lw=0.9, ls=":")
            ax2.set_xlabel(r"threshold $\theta$")
            ax2.set_ylabel(r"fixed point $v^*$ of $v \mapsto n\sigma_w^2 Q(\theta/\sqrt{v})$")
            ax2.set_yscale("symlog", linthresh=1e-2)
            ax2.set_ylim(bottom=0.0)
            ax2.text(
                0.98,
                0.03,
                "v* = 0: silent network",
                transform=ax2.transAxes,
                ha="right",
                fontsize=7,
                color="C0",
            )
            ax2.set_title("Micheli init: fixed points (solid stable, dotted unstable)")
            ax2.set_xlim(float(th.min()), float(th.max()))
        fig.tight_layout()
    return fig
