"""The ``snninit theory`` sub-command: print (and save) a theory curve."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from .._checks import check_int
from ..config import check_limit

__all__ = ["register", "pick_layers", "format_table"]

#: Default number of table rows (layers shown) when there are more layers.
DEFAULT_ROWS = 12

#: What the table shows of each registered prediction (:data:`snninit.theory.PREDICTIONS`):
#: its heading (formatted with ``paths``, ``seed``, ``steps``) and its columns.
_SHOWN = {
    "mean_field": (
        "mean-field map (n -> infinity, one step)",
        ("var_u", "rate", "spikes"),
    ),
    "finite_size": (
        "exact finite-width chain (one step; E and SD over networks)",
        ("var_u", "var_u_sd", "rate", "spikes", "p_extinct"),
    ),
    "finite_size_expansion": (
        "1/n expansion of the finite-width chain (one step), surviving networks "
        "(*_given_alive: the series has no extinction)",
        ("var_u_given_alive", "var_u_sd_given_alive", "rate_given_alive", "spikes_given_alive"),
    ),
    "dynamic_mean_field": (
        "dynamic mean field (n -> infinity, {paths} paths, seed {seed}); "
        "values averaged over the {steps} time steps",
        ("var_u", "mean_u", "rate", "skew", "kurt"),
    ),
}


def register(subparsers) -> None:
    """Add ``theory`` to the ``snninit`` command."""
    from .._cliutil import add_network_arguments

    p = subparsers.add_parser(
        "theory",
        help="predict var_u, rate and extinction layer by layer (no simulation)",
        description=(
            "Print the theory's prediction for every layer of a deep LIF stack: the "
            "mean-field map (default, n -> infinity), the exact finite-width chain "
            "(--finite-size) or its 1/n expansion (--expansion) for one time step, or "
            "the dynamic mean field (time-averaged) when --steps > 1."
        ),
    )
    add_network_arguments(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--finite-size",
        action="store_true",
        help="exact finite-width spike-count chain: var_u, var_u_sd, p_extinct (steps=1)",
    )
    mode.add_argument(
        "--expansion", action="store_true", help="1/n expansion of the chain (steps=1)"
    )
    p.add_argument("--out", metavar="FILE.nc", default=None, help="also save the Dataset as netCDF")
    p.add_argument(
        "--rows",
        type=int,
        default=DEFAULT_ROWS,
        help="most layers shown in the table (default %(default)s; 0 = all)",
    )
    p.add_argument(
        "--paths",
        type=int,
        default=20_000,
        help="sampled input paths of the dynamic mean field (steps > 1; default %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the dynamic mean field")
    p.set_defaults(func=run_theory)


def pick_layers(layers: int, rows: int) -> np.ndarray:
    """Layers ``0..layers`` to show in at most ``rows`` rows (0 = all).

    Always shows layer 0, layer 1 and the last layer; the rest are spread
    geometrically, so early layers (where things change fastest) are dense.
    """
    all_layers = np.arange(layers + 1)
    if rows == 0 or layers + 1 <= rows:
        return all_layers
    for count in range(rows - 1, 1, -1):
        picked = np.unique(np.round(np.geomspace(1, layers, count)).astype(int))
        picked = np.concatenate([[0], picked])
        if len(picked) <= rows:
            # top up with unused layers spread linearly if rounding merged some
            extra = np.setdiff1d(np.round(np.linspace(0, layers, rows)).astype(int), picked)
            room = rows - len(picked)
            return np.sort(np.concatenate([picked, extra[:room]]))
    return np.array([0, layers])


def format_table(columns: dict[str, np.ndarray], index: np.ndarray, index_name="layer") -> str:
    """Right-aligned table of ``columns`` at the rows ``index``.

    Columns are 11 characters wide, or one more than a longer name.
    """
    widths = [max(11, len(name) + 1) for name in columns]
    head = f"{index_name:>6}" + "".join(f"{name:>{w}}" for name, w in zip(columns, widths))
    lines = [head]
    for i, row in enumerate(index):
        cells = "".join(f"{_fmt(col[i]):>{w}}" for col, w in zip(columns.values(), widths))
        lines.append(f"{int(row):>6}{cells}")
    return "\n".join(lines)


def _fmt(x) -> str:
    x = float(x)
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:  # four significant digits, fixed point
        decimals = max(0, 3 - int(np.floor(np.log10(abs(x)))))
        return f"{x:.{decimals}f}"
    return f"{x:.3e}"


def _check_out(out):
    from .._io import check_writable

    if out is None:
        return None
    path = Path(out)
    if path.is_dir():
        raise ValueError(f"--out must be a file path, not a directory; got {out!r}")
    return check_writable(path, "--out")


def _prediction_name(args: argparse.Namespace, cfg) -> str:
    """The registered prediction the flags ask for."""
    if cfg.steps > 1:
        return "dynamic_mean_field"
    if args.finite_size:
        return "finite_size"
    if args.expansion:
        return "finite_size_expansion"
    return "mean_field"


def _compute(cfg, name: str, paths: int, seed: int):
    """:func:`snninit.theory.predict`; the expansion's breakdown in the command line's terms."""
    from .predictions import get_prediction, predict

    if get_prediction(name).sampled:
        return predict(cfg, name, seed=seed, paths=paths)
    try:
        return predict(cfg, name)
    except ValueError as exc:
        text = str(exc)
        if name != "finite_size_expansion" or "breaks down" not in text:
            raise
        text = re.sub(r";\s*use finite_size\(cfg\).*$", "", text, flags=re.S)
        raise ValueError(
            f"{text}; use --finite-size (the exact chain), a larger --width or fewer --layers"
        ) from None


def run_theory(args: argparse.Namespace) -> int:
    from .._cliutil import config_from_args
    from .._dataset import save_dataset
    from .._io import save_or_rescue

    cfg = config_from_args(args)
    rows = check_int("--rows", args.rows, low=0)
    # checked whatever --steps is: the same ranges as the API's (config.LIMITS)
    paths = check_limit("--paths", args.paths)
    seed = check_limit("--seed", args.seed)
    out = _check_out(args.out)
    if cfg.steps > 1 and (args.finite_size or args.expansion):
        flag = "--finite-size" if args.finite_size else "--expansion"
        raise ValueError(
            f"{flag} is a one-step theory (--steps 1); got --steps {cfg.steps}: "
            "drop the flag to use the dynamic mean field"
        )

    lines = [
        f"init={cfg.init} theta={cfg.theta:g} width={cfg.width} layers={cfg.layers} "
        f"steps={cfg.steps}" + (f" beta={cfg.beta:g} reset={cfg.reset}" if cfg.steps > 1 else "")
    ]
    name = _prediction_name(args, cfg)
    ds = _compute(cfg, name, paths, seed)
    heading, names = _SHOWN[name]
    lines.append(heading.format(paths=paths, seed=seed, steps=cfg.steps))
    if cfg.steps > 1:  # time-averaged
        columns = {v: ds[v].mean("time").values for v in names if v in ds}
    else:
        columns = {v: ds[v].isel(time=0).values for v in names}
    layers = pick_layers(cfg.layers, rows)
    lines.append(format_table({k: v[layers] for k, v in columns.items()}, layers))
    if cfg.steps == 1:
        lines.append(_stability_note(cfg))
    print("\n".join(lines))
    if out is not None:
        save_or_rescue(lambda path: save_dataset(ds, path), out, "--out", prefix="theory")
        print(f"saved {out}")
    return 0


def _stability_note(cfg) -> str:
    """One line: slope and depth scale of the mean-field fixed point, critical threshold."""
    from . import meanfield
    from .rules import get_rule

    rule = get_rule(cfg.init)
    if rule.per_layer is not None or rule.mean is not None:
        # the map changes with depth or acts on the rate: no single fixed point
        return f"(init {cfg.init!r} sets weights per layer or with a mean: no fixed-point summary)"
    kw = dict(width=cfg.width, beta=cfg.beta, steps=cfg.steps, **cfg.init_params)
    chi = float(meanfield.stability_slope(cfg.theta, cfg.init, **kw))
    xi = float(meanfield.depth_scale(cfg.theta, cfg.init, **kw))
    state = "stable" if chi < 1 else ("marginal" if chi == 1 else "unstable")
    note = f"mean-field slope chi = {chi:.4f} ({state}), depth scale {xi:.3g} layers"
    try:
        crit = meanfield.critical_threshold(cfg.init, **kw)
        note += f"; critical threshold {crit:.6f}"
    except ValueError:
        pass
    return note
