"""Theory against simulation: per-cell z-scores, p-values and a global test.

A *cell* is one value of the shared coordinates (``layer``, ``time`` and any
swept parameter) of one variable. For every cell :func:`compare` puts the
Monte Carlo mean over repetitions next to the prediction and asks whether
their difference is compatible with the sampling error; :func:`assert_agrees`
turns that into one hypothesis test over all cells with a stated false-failure
rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import xarray as xr

from ..models.statistics import PAIR_VARIABLES
from .celltests import (
    _HURDLE_VARIABLES,
    _P_ZERO,
    _SHAPE_VARIABLES,
    ALIVE,
    _cell_test,
    _scalar_value,
    _sd_names,
    _split_alive,
    _spread_from_distribution,
    _with_extinct_modes,
)

__all__ = [
    "COMPARED_VARIABLES",
    "compare",
    "assert_agrees",
    "agrees",
    "agreement_summary",
    "family_pvalues",
    "worst_cells",
]

#: Variables compared when both datasets carry them (``p_extinct`` is special:
#: the simulation side is derived from ``spikes``).
COMPARED_VARIABLES = (
    "var_u",
    "mean_u",
    "rate",
    "spikes",
    "skew",
    "kurt",
    "var_u_given_alive",
    "mean_u_given_alive",
    "spikes_given_alive",
    "rate_given_alive",
    "p_extinct",
    # the backward mean field's (theory.backward_mean_field / training.measure_backward)
    "var_delta",
    "var_grad_spikes",
    "var_grad_w",
    # the two-input correlation map's (theory.correlation_map / montecarlo.simulate_correlation)
    *PAIR_VARIABLES,
)


#: Configuration fields that must agree between theory and simulation unless
#: one of the datasets sweeps them as a dimension.
_CONFIG_KEYS = ("width", "theta", "beta", "steps", "init", "reset", "input_scale", "reset_decay")



def _variable_list(variables) -> list[str]:
    """``variables`` as a list of names: one name (a string) is one variable, not its letters."""
    if isinstance(variables, str):
        return [variables]
    out = list(variables)
    bad = [v for v in out if not isinstance(v, str)]
    if bad:
        raise ValueError(f"variables must be names (strings) such as 'var_u'; got {bad[0]!r}")
    return out


def _rep_count(simulation: xr.Dataset) -> int:
    if "rep" not in simulation.dims:
        raise ValueError(
            "simulation must have a 'rep' dimension (independent networks); "
            f"got dims {tuple(simulation.dims)}"
        )
    reps = int(simulation.sizes["rep"])
    if reps < 2:
        raise ValueError(
            f"simulation must have at least 2 repetitions to estimate a standard error; got {reps}"
        )
    return reps


def _select_value(ds: xr.Dataset, dim: str, value, other_label: str) -> xr.Dataset:
    coord = ds[dim].values
    if np.issubdtype(coord.dtype, np.number):
        try:
            value_f = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"cannot align dimension {dim!r}: {other_label} has {dim}={value!r}"
            ) from None
        close = np.isclose(coord.astype(float), value_f, rtol=1e-9, atol=1e-12)
        if not close.any():
            raise ValueError(
                f"cannot align dimension {dim!r}: {other_label} is at {dim}={value!r}, "
                f"which is not among {coord.tolist()}"
            )
        return ds.isel({dim: int(np.flatnonzero(close)[0])})
    if value not in coord.tolist():
        raise ValueError(
            f"cannot align dimension {dim!r}: {other_label} is at {dim}={value!r}, "
            f"which is not among {coord.tolist()}"
        )
    return ds.sel({dim: value})


def _align(theory: xr.Dataset, simulation: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
    """Reduce both datasets to the same cells.

    A dimension present in only one of them is resolved by the other's scalar
    coordinate or attribute of the same name (a theory swept over ``theta``
    against a simulation at ``theta=0.8``); shared dimensions are intersected.
    """
    th_dims = set(theory.dims)
    sim_dims = set(simulation.dims) - {"rep"}
    for dim in sorted(th_dims - sim_dims):
        value = _scalar_value(simulation, dim)
        if value is None:
            raise ValueError(
                f"theory has dimension {dim!r} that the simulation lacks, and the simulation "
                f"does not say which {dim} it was run at (no coordinate or attribute {dim!r})"
            )
        theory = _select_value(theory, dim, value, "the simulation")
    for dim in sorted(sim_dims - th_dims):
        value = _scalar_value(theory, dim)
        if value is None:
            raise ValueError(
                f"simulation has dimension {dim!r} that the theory lacks, and the theory "
                f"does not say which {dim} it describes (no coordinate or attribute {dim!r})"
            )
        simulation = _select_value(simulation, dim, value, "the theory")
    shared = sorted(set(theory.dims) & (set(simulation.dims) - {"rep"}))
    for dim in shared:
        if dim not in theory.coords or dim not in simulation.coords:
            if theory.sizes[dim] != simulation.sizes[dim]:
                raise ValueError(
                    f"dimension {dim!r} has no coordinate and different lengths "
                    f"({theory.sizes[dim]} vs {simulation.sizes[dim]})"
                )
    theory, simulation = xr.align(theory, simulation, join="inner", exclude={"rep"})
    for dim in shared:
        if theory.sizes[dim] == 0:
            raise ValueError(f"theory and simulation share no {dim!r} values")
    return theory, simulation


def _check_configs(theory: xr.Dataset, simulation: xr.Dataset, swept: set[str]) -> None:
    for key in _CONFIG_KEYS:
        if key in swept or key not in theory.attrs or key not in simulation.attrs:
            continue
        a, b = theory.attrs[key], simulation.attrs[key]
        same = (
            math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
            if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number))
            else a == b
        )
        if not same:
            raise ValueError(
                f"theory and simulation describe different networks: {key} = {a!r} (theory) "
                f"vs {b!r} (simulation)"
            )


def _nan_allowed(name: str, side: str) -> bool:
    """Where a NaN is documented (not an error): see :func:`compare`'s Notes.

    Shape statistics (undefined where a layer's membranes are all equal), the
    theory's survivors' moments (no network can be alive) and the theory's own
    ``_se`` (NaN in dynamic-mean-field layers not converged in paths: no error
    can be stated, the cell is not tested).
    """
    base = name[: -len(ALIVE)] if name.endswith(ALIVE) else name
    for suffix in ("_sd", "_se"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    if base in _SHAPE_VARIABLES:
        return True
    if side == "simulation":
        return False
    return ALIVE in name or name.endswith("_se")


def _check_finite(ds: xr.Dataset, side: str) -> None:
    """One-line ValueError naming the variable and a cell holding +-inf (or an undocumented NaN).

    An infinite prediction, spread or error has no test (``z`` would be NaN or
    0 and the summary would report a perfect agreement), so it is refused
    wherever it occurs, like NaN outside the places where NaN is documented.
    """
    # the user's variables first: a NaN in p_extinct is reported as such, not as the NaN
    # it puts into the internal extinct-mode probabilities derived from it
    for name in sorted(ds.data_vars, key=lambda n: _P_ZERO in str(n)):
        values = ds[name]
        if values.dtype.kind not in "fc":
            continue
        arr = np.asarray(values.values)
        inf = np.isinf(arr)
        nan = np.zeros_like(inf) if _nan_allowed(name, side) else np.isnan(arr)
        for mask, what in ((inf, "infinite"), (nan, "NaN")):
            if not mask.any():
                continue
            first = np.argwhere(mask)[0] if arr.ndim else ()
            cell = ", ".join(
                f"{d}={_fmt_coord(values[d].values[i].item()) if d in values.coords else i}"
                for d, i in zip(values.dims, first)
            )
            raise ValueError(
                f"{side} variable {name!r} is {what} at {cell or 'its only cell'} "
                f"({int(mask.sum())} of {mask.size} cells): compare needs finite values "
                "(NaN only in skew/kurt, the two-input correlations, *_given_alive and a "
                "theory's *_se)"
            )


def _used_dims(ds: xr.Dataset) -> set[str]:
    return {d for name in ds.data_vars for d in ds[name].dims}


def compare(
    theory: xr.Dataset,
    simulation: xr.Dataset,
    variables: Iterable[str] | None = None,
) -> xr.Dataset:
    r"""Compare a prediction with a Monte Carlo simulation, cell by cell.

    Parameters
    ----------
    theory : xarray.Dataset
        Prediction over ``(layer, time)`` and possibly swept dimensions
        (``theta``, ``init``, ``n`` ...). Optional companions per variable
        ``v``: ``v_sd`` (the spread of ``v`` across independent networks, as
        ``var_u_sd`` of the exact finite-size chain) and ``v_se`` (the
        prediction's own sampling error, as in the dynamic mean field). A
        full spike-count distribution ``p_spikes`` over ``count`` (from
        ``finite_size(cfg, distribution=True)``) supplies ``spikes_sd``.
    simulation : xarray.Dataset
        Monte Carlo result with dims ``(rep, layer, time, ...)``.
    variables : iterable of str, optional
        Variables to compare; default: every name of
        :data:`COMPARED_VARIABLES` available on both sides (``p_extinct``
        needs ``p_extinct`` in the theory and ``spikes`` in the simulation).

    Returns
    -------
    xarray.Dataset
        On the shared cells, for each variable ``v``: ``v_sim_mean``,
        ``v_sim_se``, ``v_theory``, ``v_se`` (total standard error), ``v_z``,
        ``v_p`` (two-sided p-value of the cell), ``v_rel_err`` and
        ``v_tested`` (False for the untestable cells described below); the
        ``z`` of every cell is a normal score (Notes). Attrs:
        ``reps`` and the list ``variables`` (JSON-free: comma-separated).

    Notes
    -----
    With ``R`` repetitions, ``sim_mean`` is the mean over ``rep`` and
    ``sim_se`` the standard error of that mean: ``sd / sqrt(R)`` where ``sd``
    is the theory's ``v_sd`` when provided (the exact spread under the null
    hypothesis, which stays informative when every repetition gives the same
    value, e.g. all extinct) and the sample standard deviation (ddof=1)
    otherwise. The total error adds the prediction's own error in quadrature,
    ``se = sqrt(sim_se**2 + theory_se**2)``. Reference law of ``(sim_mean -
    theory) / se``: the normal law when the spread is stated (a known
    variance: Student t would be conservative), Student t with the
    Welch-Satterthwaite degrees of freedom ``se**4 / (sim_se**4 / (R - 1))``
    when it comes from the sample (``R - 1`` for an exact prediction).

    ``z`` is reported on one scale for every cell: the two-sided p-value as a
    signed normal score, ``z = sign(sim_mean - theory) Phi^{-1}(1 - p/2)``
    (equal to ``(sim_mean - theory) / se`` where the law is normal), so
    ``|z| > 2`` means ``p < 0.0455`` whatever the cell's test.

    Extinction: ``p_extinct_sim_mean`` is the fraction of repetitions in
    which the layer emitted no spike in that time step; its standard error is
    the binomial ``sqrt(p (1 - p) / R)`` at the predicted ``p`` and its
    p-value is the exact two-sided binomial one, ``2 min(P[X <= k],
    P[X >= k])``.

    Survivors and the extinct (DESIGN 3d). ``var_u_given_alive``,
    ``mean_u_given_alive``, ``spikes_given_alive`` and ``rate_given_alive``
    compare the theory's survivors' moments with the repetitions in which the
    variable is not in its extinct mode (exactly 0). When a theory gives them,
    the cells of ``var_u``, ``mean_u``, ``spikes`` and ``rate`` themselves are
    tested in two parts, the number of extinct repetitions (exact binomial)
    and the survivors' mean, combined by Bonferroni (see
    :func:`_two_part_test`): near extinction the law across networks is a
    point mass at 0 plus the survivors' law, and a test of the overall mean
    over 10-20 repetitions does not have its stated level there (a sample
    with no extinct network has a small SD and a biased mean). A theory that
    states only means and no extinct mode gets the one-sample t test, valid
    for unimodal cells; no test of a mean from a few samples is valid for
    every law (Bahadur & Savage 1956), so near extinction give the theory
    ``p_extinct`` and the survivors' moments. The measured false-failure rates
    of both paths are in docs/validation.md ("Cell tests near extinction",
    :mod:`snninit.validation.nulltest`).

    Skewness and kurtosis are undefined (NaN) where all membranes of a
    layer are equal (a silent layer below): they are averaged over the
    repetitions where they are defined, with ``n_ok - 1`` degrees of
    freedom. A cell with fewer than 3 such repetitions, or whose prediction
    is NaN, is *not tested*: ``v_tested`` is False, ``z`` and ``rel_err`` are
    NaN and ``p`` is 1. Survivors' predictions are NaN where no network can
    be alive; such cells are untested too. Any other NaN is an error.

    Degenerate samples are not tested either: when the standard error comes
    from the sample (no ``v_sd`` in the theory), every repetition gave the
    same value (sample SD 0, e.g. a layer silent in all networks), the
    prediction carries no error of its own and differs from that value, the
    t statistic is undefined rather than infinite (a prediction of 0.04
    spikes per layer is compatible with 10 silent networks), so the cell is
    untested. With the theory's own spread, or a prediction of exactly the
    common value, such cells stay tested. Spike counts and rates are always
    tested: a count cannot spread less than its counting noise, so identical
    repetitions get the binomial floor ``SE = sqrt(k (1 - k/n) / R)`` (``k``
    the predicted spikes, ``n`` the width) with the normal law: ten silent
    networks agree with a prediction of 0.04 spikes (z = -0.6) and reject one
    of 160 (z = -40).

    A cell whose total standard error is exactly 0 (a deterministic
    quantity) gets ``z = 0`` and ``p = 1`` if ``|sim - theory| <= 1e-12 +
    1e-9 |theory|`` and ``z = +-inf``, ``p = 0`` otherwise. ``rel_err =
    (sim_mean - theory) / |theory|`` follows the same rule where the
    prediction is 0.
    """
    if not isinstance(theory, xr.Dataset) or not isinstance(simulation, xr.Dataset):
        raise ValueError(
            "theory and simulation must be xarray.Dataset objects; got "
            f"{type(theory).__name__} and {type(simulation).__name__}"
        )
    reps = _rep_count(simulation)
    theory = _with_extinct_modes(_spread_from_distribution(theory))

    available = [
        v
        for v in COMPARED_VARIABLES
        if v in theory.data_vars
        and (
            _split_alive(v)[0] in simulation.data_vars
            or (v == "p_extinct" and "spikes" in simulation)
        )
    ]
    if variables is None:
        chosen = available
    else:
        chosen = _variable_list(variables)
        for v in chosen:
            if v not in available:
                raise ValueError(
                    f"variables must be among those present on both sides {available}; got {v!r}"
                )
    if not chosen:
        raise ValueError(
            "theory and simulation have no variable in common among "
            f"{COMPARED_VARIABLES}: theory has {sorted(theory.data_vars)}, "
            f"simulation has {sorted(simulation.data_vars)}"
        )
    # keep only what the comparison reads, so that unrelated variables with dims of
    # their own (a two-time correlation, a spike-count law) do not enter the alignment
    theory_vars = [
        name
        for v in chosen
        for w in (
            (v, f"{v}{ALIVE}", f"{v}{_P_ZERO}")
            if v in _HURDLE_VARIABLES
            else (v,)
        )
        for name in (w, *_sd_names(w), f"{w}_se")
        if name in theory.data_vars
    ]
    sim_vars = sorted({"spikes" if v == "p_extinct" else _split_alive(v)[0] for v in chosen})
    theory = theory[list(dict.fromkeys(theory_vars))]
    simulation = simulation[sim_vars]
    theory = theory.drop_dims([d for d in theory.dims if d not in _used_dims(theory)])
    simulation = simulation.drop_dims(
        [d for d in simulation.dims if d not in _used_dims(simulation) and d != "rep"]
    )
    swept = (set(theory.dims) | set(simulation.dims)) - {"rep", "layer", "time"}
    if "n" in swept:  # the width swept under its paper symbol
        swept.add("width")
    theory, simulation = _align(theory, simulation)
    _check_configs(theory, simulation, swept)
    _check_finite(theory, "theory")
    _check_finite(simulation, "simulation")

    out: dict[str, xr.DataArray] = {}
    for v in chosen:
        cell = _cell_test(v, theory, simulation, reps)
        for key in ("sim_mean", "sim_se", "theory", "se", "z", "p", "rel_err", "tested"):
            out[f"{v}_{key}"] = cell[key]
    result = xr.Dataset(out)
    result.attrs.update(
        reps=reps,
        variables=",".join(chosen),
        kind="comparison",
    )
    for key in ("config", "snninit_version"):
        if key in simulation.attrs:
            result.attrs[f"simulation_{key}"] = simulation.attrs[key]
    if "kind" in theory.attrs:
        result.attrs["theory_kind"] = theory.attrs["kind"]
    return result


def _fmt_coord(x) -> str:
    if isinstance(x, float):
        return f"{x:g}"
    return str(x)


# the verdicts on a comparison live in their own module; their names stay here too
from .verdicts import (  # noqa: E402
    agreement_summary,
    agrees,
    assert_agrees,
    family_pvalues,
    worst_cells,
)
