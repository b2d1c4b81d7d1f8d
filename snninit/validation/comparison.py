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
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from .._checks import check_dataset, check_int, check_real

__all__ = [
    "COMPARED_VARIABLES",
    "compare",
    "assert_agrees",
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
)

#: Suffix of the survivors' moments (DESIGN 3d): a variable conditioned on the
#: event that makes it nonzero (see :func:`snninit.theory.finite_size`).
ALIVE = "_given_alive"
#: Variables whose law across networks has an extinct mode, an exact point mass
#: at 0, and the non-negative variable whose mean gives that mode's probability:
#: a silent layer below gives var_u = mean_u = 0; a silent layer gives no spike.
_HURDLE_VARIABLES = ("var_u", "mean_u", "spikes", "rate")
#: Suffix of the (internal) probability of a variable's extinct mode, exactly 0.
_P_ZERO = "__p_zero"

#: Shape statistics: undefined (NaN) where a layer's membranes are all equal.
_SHAPE_VARIABLES = ("skew", "kurt")
#: Variables whose relative error means nothing (probabilities near 0, statistics
#: centred on 0 for a Gaussian): summaries report their absolute error only.
_NO_RELATIVE_ERROR = ("p_extinct", "skew", "kurt", "mean_u", "mean_u_given_alive")

#: Configuration fields that must agree between theory and simulation unless
#: one of the datasets sweeps them as a dimension.
_CONFIG_KEYS = ("width", "theta", "beta", "steps", "init", "reset", "input_scale", "reset_decay")

# Cells whose total standard error is exactly 0 (e.g. every repetition extinct
# and no theoretical spread) are judged by equality within this tolerance:
# |sim - theory| <= _ATOL + _RTOL * |theory|.
_ATOL = 1e-12
_RTOL = 1e-9


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


def _scalar_value(ds: xr.Dataset, name: str):
    """Value of ``name`` as a scalar coordinate or attribute of ``ds`` (or None)."""
    if name in ds.coords and ds[name].ndim == 0:
        return ds[name].item()
    if name in ds.attrs:
        return ds.attrs[name]
    return None


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
                "(NaN only in skew/kurt, *_given_alive and a theory's *_se)"
            )


def _z_from(diff: xr.DataArray, se: xr.DataArray, theory: xr.DataArray) -> xr.DataArray:
    """diff / se, with cells of zero se judged by equality within tolerance."""
    equal = np.abs(diff) <= _ATOL + _RTOL * np.abs(theory)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / se
    z = xr.where(se > 0, z, xr.where(equal, 0.0, np.sign(diff) * np.inf))
    return z


def _rel_err(sim_mean: xr.DataArray, theory: xr.DataArray) -> xr.DataArray:
    diff = sim_mean - theory
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = diff / np.abs(theory)
    equal = np.abs(diff) <= _ATOL + _RTOL * np.abs(theory)
    return xr.where(theory != 0, rel, xr.where(equal, 0.0, np.sign(diff) * np.inf))


def _binomial_pvalue(count: np.ndarray, n: int, p: np.ndarray) -> np.ndarray:
    """Two-sided exact binomial p-value, 2 min(P[X <= k], P[X >= k]) capped at 1."""
    count = np.asarray(count, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    lower = stats.binom.cdf(count, n, p)
    upper = stats.binom.sf(count - 1, n, p)
    return np.minimum(1.0, 2.0 * np.minimum(lower, upper))


def _used_dims(ds: xr.Dataset) -> set[str]:
    return {d for name in ds.data_vars for d in ds[name].dims}


def _spread_from_distribution(theory: xr.Dataset) -> xr.Dataset:
    """Replace a full spike-count distribution by the spread it implies.

    ``finite_size(cfg, distribution=True)`` returns ``p_spikes`` over
    ``count``; its standard deviation is the exact spread of ``spikes``
    (and, divided by the width, of ``rate``) across networks.
    """
    if "p_spikes" not in theory or "count" not in theory["p_spikes"].dims:
        return theory
    p = theory["p_spikes"].astype(float)
    count = (
        p["count"].astype(float)
        if "count" in p.coords
        else xr.DataArray(np.arange(p.sizes["count"], dtype=float), dims="count")
    )
    mean = (p * count).sum("count")
    var = ((p * count**2).sum("count") - mean**2).clip(min=0.0)
    out = theory.drop_vars("p_spikes")
    if "count" in out.dims or "count" in out.coords:
        out = out.drop_dims("count", errors="ignore").drop_vars("count", errors="ignore")
    if "spikes_sd" not in out:
        out["spikes_sd"] = np.sqrt(var)
    return out


def _counting_se(pred: xr.DataArray, v: str, simulation: xr.Dataset, n_ok) -> xr.DataArray:
    """Binomial floor of the SE of the mean of ``spikes`` / ``rate`` over ``n_ok`` networks."""
    width = _width(simulation)
    k = (pred * width if v == "rate" else pred).clip(min=0.0)
    sd = np.sqrt(k * (1.0 - (k / width).clip(max=1.0)))
    if v == "rate":
        sd = sd / width
    return sd / np.sqrt(n_ok.clip(min=1.0))


def _width(simulation: xr.Dataset):
    """Neurons per layer: a swept ``n``/``width`` coordinate, else the config's width."""
    for name in ("n", "width"):
        if name in simulation.coords:
            return simulation[name].astype(float)
    if "width" not in simulation.attrs:
        raise ValueError(
            "simulation has no width (attrs['width'] or an 'n'/'width' coordinate): "
            "compare needs it to test identical repetitions of spikes or rate"
        )
    return float(simulation.attrs["width"])


def _split_alive(v: str) -> tuple[str, str]:
    """``("var_u", "_given_alive")`` for ``"var_u_given_alive"``, ``(v, "")`` otherwise."""
    if v.endswith(ALIVE):
        return v[: -len(ALIVE)], ALIVE
    return v, ""


def _sd_names(v: str) -> tuple[str, ...]:
    """Names under which a theory may state the spread across networks of ``v``."""
    base, suffix = _split_alive(v)
    names = [f"{base}_sd{suffix}"]
    if base in ("spikes", "rate"):
        names += [f"spikes_sd{suffix}", f"rate_sd{suffix}"]
    return tuple(dict.fromkeys(names))


def _theory_sd(theory: xr.Dataset, v: str) -> xr.DataArray | None:
    """The predicted spread across networks of ``v``, if the theory gives it.

    ``rate`` and ``spikes`` differ by the factor ``n`` (the width), so either
    one's ``_sd`` serves both (also for their survivors' ``_given_alive`` forms).
    """
    base, suffix = _split_alive(v)
    if f"{base}_sd{suffix}" in theory:
        return theory[f"{base}_sd{suffix}"].astype(float)
    width = _scalar_value(theory, "width") if "n" not in theory.dims else theory["n"]
    if width is None:
        return None
    if base == "rate" and f"spikes_sd{suffix}" in theory:
        return theory[f"spikes_sd{suffix}"].astype(float) / width
    if base == "spikes" and f"rate_sd{suffix}" in theory:
        return theory[f"rate_sd{suffix}"].astype(float) * width
    return None


def _normal_score(pval: xr.DataArray, diff: xr.DataArray) -> xr.DataArray:
    """``z = sign(diff) Phi^{-1}(1 - p / 2)``: the two-sided p-value as a normal score.

    Every cell's z is reported on this one scale, whatever its reference law
    (normal, Student t, exact binomial, the two-part test), so that ``|z| > 2``
    means ``p < 0.0455`` in every cell.
    """
    with np.errstate(divide="ignore"):
        score = xr.apply_ufunc(lambda q: stats.norm.isf(np.clip(q, 0.0, 1.0) / 2.0), pval)
    # a difference of exactly 0 has p = 1 and score 0, except where its SE is 0 and
    # the cell is a disagreement of another part (two-part tests): count it as +
    return xr.where(diff < 0, -1.0, 1.0) * score


def survivors_sample(values: xr.DataArray) -> xr.DataArray:
    """The repetitions in which ``values`` is not in its extinct mode (exactly 0); NaN elsewhere.

    A surviving network's value is 0 with probability 0 (continuous membranes;
    a spike count is 0 exactly when the layer is silent).
    """
    return values.where(values != 0)


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


def _mean_test(
    values: xr.DataArray,
    pred: xr.DataArray,
    sd: xr.DataArray | None,
    theory_se: xr.DataArray,
    counting: str | None,
    simulation: xr.Dataset,
) -> dict[str, xr.DataArray]:
    """Test of the mean over ``rep`` of ``values`` (NaN entries are not in the sample).

    Known spread (``sd`` from the theory): ``z = diff / se`` against the
    normal law. Spread from the sample: Student t with the Welch-Satterthwaite
    degrees of freedom of ``se**2 = sim_se**2 + theory_se**2`` (``n_ok - 1``
    when the prediction is exact, the normal law when its error dominates).
    ``counting`` (``"spikes"`` or ``"rate"``) gives identical samples of a
    spike count the binomial floor of :func:`_counting_se`.
    """
    n_ok = values.notnull().sum("rep").astype(float)
    sim_mean = values.mean("rep", skipna=True)
    known = xr.full_like(sim_mean, sd is not None, dtype=bool)
    if sd is not None:
        sim_se = sd / np.sqrt(n_ok.clip(min=1.0))
        degenerate = xr.zeros_like(sim_mean, dtype=bool)
    else:
        sample_sd = values.std("rep", ddof=1, skipna=True)
        sim_se = sample_sd / np.sqrt(n_ok.clip(min=1.0))
        # every repetition gave the same value: the sample says nothing about the
        # spread, so unless the prediction has an error of its own the t statistic
        # is undefined (0/0 or x/0), not infinite
        # (up to rounding: the SD of equal floats can come out as 1e-18)
        degenerate = sample_sd <= _ATOL + _RTOL * np.abs(sim_mean)
        if counting is not None:
            # a spike count cannot spread less than its counting noise: under the
            # prediction, Var[k] >= E[k] (1 - E[k]/n) (binomial), so identical
            # repetitions are still tested, against that floor (all networks dead
            # where the theory says the layer is active is a disagreement)
            floor = _counting_se(pred, counting, simulation, n_ok)
            sim_se = xr.where(degenerate, floor, sim_se)
            known = degenerate  # the floor is a stated spread, not a sample estimate
            degenerate = degenerate & (floor == 0)
    sim_mean, sim_se, pred, theory_se, n_ok, degenerate, known = xr.broadcast(
        sim_mean, sim_se, pred, theory_se, n_ok, degenerate, known
    )
    equal = np.abs(sim_mean - pred) <= _ATOL + _RTOL * np.abs(pred)
    tested = (
        (n_ok >= 3)
        & pred.notnull()
        & theory_se.notnull()
        & ~(degenerate & (theory_se == 0) & ~equal)
    )
    # untested cells are carried with z = NaN, p = 1 and `<v>_tested` False
    sim_mean_t = sim_mean.where(tested, 0.0)
    pred_t = pred.where(tested, 0.0)
    sim_var = sim_se.where(tested, 0.0) ** 2
    se = np.sqrt(sim_var + theory_se.where(tested, 0.0) ** 2)
    diff = sim_mean_t - pred_t
    stat = _z_from(diff, se, pred_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (se**4 / (sim_var**2 / (n_ok - 1).clip(min=1.0))).fillna(np.inf)
    df = xr.where(known, np.inf, df)  # a stated spread: the normal law
    pval = xr.apply_ufunc(
        lambda a, d: np.where(
            np.isinf(d), 2.0 * stats.norm.sf(np.abs(a)), 2.0 * stats.t.sf(np.abs(a), d)
        ),
        stat,
        df,
    )
    pval = pval.fillna(0.0)  # only z = +-inf cells could give NaN; they disagree
    cell = _cell_columns(sim_mean, sim_se, pred, se, diff, pval, tested)
    # where the reference law is the normal one, z is the statistic itself
    cell["normal_z"] = stat.where(np.isinf(df))
    return cell


def _cell_columns(sim_mean, sim_se, pred, se, diff, pval, tested) -> dict:
    """The per-cell columns of :func:`compare` (untested cells: p = 1, rel_err NaN)."""
    return {
        "sim_mean": sim_mean,
        "sim_se": sim_se,
        "theory": pred,
        "se": se,
        "diff": diff,
        "p": pval.where(tested, 1.0),
        "tested": tested,
        "rel_err": _rel_err(sim_mean.where(tested, 0.0), pred.where(tested, 0.0)).where(tested),
    }


def _cell_test(v: str, theory: xr.Dataset, simulation: xr.Dataset, reps: int) -> dict:
    """Per-cell test of variable ``v``: the columns of :func:`compare` for it."""
    base, suffix = _split_alive(v)
    pred = theory[v].astype(float)
    theory_se = theory[f"{v}_se"].astype(float) if f"{v}_se" in theory else xr.zeros_like(pred)
    if v == "p_extinct":
        cell = _extinction_test(pred, simulation, reps, theory_se)
    else:
        values = simulation[base].astype(float)
        if base not in _SHAPE_VARIABLES and bool(values.isnull().any()):
            raise ValueError(f"simulation variable {base!r} contains NaN")
        # survivors' moments and shape statistics may be undefined (NaN) where no
        # network can be alive / a layer's membranes are all equal
        if not suffix and base not in _SHAPE_VARIABLES and bool(pred.isnull().any()):
            raise ValueError(f"theory variable {v!r} contains NaN")
        if suffix:
            values = survivors_sample(values)
        counting = base if base in ("spikes", "rate") else None
        cell = _mean_test(values, pred, _theory_sd(theory, v), theory_se, counting, simulation)
        if not suffix and f"{v}{_P_ZERO}" in theory:
            cell = _two_part_test(v, cell, theory, simulation, reps)
    score = _normal_score(cell["p"], cell["diff"])
    if "normal_z" in cell:  # exact for normal-law cells (no round trip through p)
        score = xr.where(cell["normal_z"].notnull(), cell["normal_z"], score)
    cell["z"] = score.where(cell["tested"])
    cell["se"] = cell["se"].where(cell["tested"])
    return cell


def _extinction_test(pred, simulation, reps, theory_se) -> dict:
    """Extinct fraction against ``p_extinct``: exact two-sided binomial p-value."""
    count = (simulation["spikes"] == 0).sum("rep").astype(float)
    sim_mean = count / reps
    p0 = pred.clip(0.0, 1.0)
    sim_se = np.sqrt(p0 * (1.0 - p0) / reps)
    sim_mean, sim_se, pred, theory_se, count, p0 = xr.broadcast(
        sim_mean, sim_se, pred, theory_se, count, p0
    )
    tested = pred.notnull() & theory_se.notnull()
    se = np.sqrt(sim_se**2 + theory_se**2).where(tested, 0.0)
    diff = (sim_mean - pred).where(tested, 0.0)
    # a cell whose prediction has an error of its own: a normal test on the difference
    # (the binomial law of the count holds only at an exact p); the others: exact binomial
    stat = _z_from(diff, se, pred.where(tested, 0.0))
    normal = xr.apply_ufunc(lambda a: 2.0 * stats.norm.sf(np.abs(a)), stat).fillna(0.0)
    exact = xr.apply_ufunc(_binomial_pvalue, count, reps, p0.fillna(0.0))
    pval = xr.where(theory_se.fillna(0.0) > 0, normal, exact)
    return _cell_columns(sim_mean, sim_se, pred, se, diff, pval, tested)


def _layer_below(p: xr.DataArray) -> xr.DataArray | None:
    """``p`` of layer ``l - 1`` at layer ``l`` (0 at the first layer, fed by the constant input).

    None unless the layer coordinate is ``0, 1, ..., L`` (a gap would pair a
    layer with the wrong one above it).
    """
    if "layer" not in p.dims or "layer" not in p.coords:
        return None
    layers = np.asarray(p["layer"].values)
    if not np.issubdtype(layers.dtype, np.integer) or not np.array_equal(
        layers, np.arange(layers.size)
    ):
        return None
    return p.shift(layer=1, fill_value=0.0)


def _with_extinct_modes(theory: xr.Dataset) -> xr.Dataset:
    """Add the probability of each variable's extinct mode and, if missing, its survivors' moments.

    For each of ``var_u``, ``mean_u``, ``spikes``, ``rate`` in the theory, the
    probability ``P0`` that a network's value is exactly 0 (DESIGN 3d):

    * ``spikes``, ``rate``: the layer is silent, ``p_extinct`` if the theory
      gives it, else ``1 - E[k] / E[k | alive]`` (the silent networks add
      nothing to ``E[k]``);
    * ``var_u``, ``mean_u``: the layer *below* is silent (one time step: a
      layer's membranes are the weighted spikes of the layer below; the first
      layer's input is the constant input, never 0). ``var_u`` of a single
      neuron is 0 in every network, so at width 1 its ``P0`` is 1. When the
      spikes' ``P0`` is not known per layer, ``1 - E[var_u] / E[var_u |
      alive]`` (both variables share that mode).

    Where ``P0`` is known but the theory states no survivors' moments (a
    theory giving means and ``p_extinct`` only), they follow from the same
    identity: ``E[v | alive] = E[v] / (1 - P0)`` and, with a stated spread
    ``v_sd``, ``Var[v | alive] = E[v^2] / (1 - P0) - E[v | alive]^2``; NaN
    where ``P0 = 1`` (no survivor). The two-part test of :func:`compare` then
    applies to such a theory too.
    """
    out = theory.copy()
    p_zero: dict[str, xr.DataArray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for v in ("spikes", "rate"):
            if "p_extinct" in theory:
                p_zero[v] = theory["p_extinct"].astype(float).clip(0.0, 1.0)
        for v in ("spikes", "rate"):
            if v not in p_zero and v in theory and f"{v}{ALIVE}" in theory:
                mean, alive = theory[v].astype(float), theory[f"{v}{ALIVE}"].astype(float)
                p_zero["spikes"] = p_zero["rate"] = xr.where(
                    alive.notnull() & (alive > 0), (1.0 - mean / alive).clip(0.0, 1.0), 1.0
                )
        one_step = "time" not in theory.dims or theory.sizes["time"] == 1
        below = _layer_below(p_zero["spikes"]) if one_step and "spikes" in p_zero else None
        if below is not None:
            width = theory["n"] if "n" in theory.dims else _scalar_value(theory, "width")
            p_zero["mean_u"] = below
            p_zero["var_u"] = below if width is None else xr.where(width == 1, 1.0, below)
        elif "var_u" in theory and f"var_u{ALIVE}" in theory:
            mean, alive = theory["var_u"].astype(float), theory[f"var_u{ALIVE}"].astype(float)
            p_zero["var_u"] = p_zero["mean_u"] = xr.where(
                alive.notnull() & (alive > 0), (1.0 - mean / alive).clip(0.0, 1.0), 1.0
            )
        for v, p0 in p_zero.items():
            if v not in theory:
                continue
            out[f"{v}{_P_ZERO}"] = p0
            if f"{v}{ALIVE}" in theory:
                continue
            alive_frac = xr.where(p0 < 1.0 - _ATOL, 1.0 - p0, np.nan)
            mean = theory[v].astype(float)
            out[f"{v}{ALIVE}"] = mean / alive_frac
            if f"{v}_sd" in theory:
                second = theory[f"{v}_sd"].astype(float) ** 2 + mean**2
                var = (second / alive_frac - out[f"{v}{ALIVE}"] ** 2).clip(min=0.0)
                out[f"{v}_sd{ALIVE}"] = np.sqrt(var)
    return out


def _two_part_test(v: str, whole: dict, theory: xr.Dataset, simulation: xr.Dataset, reps: int):
    """Two-part ("hurdle") test of ``v`` for a theory that predicts its extinct mode.

    Near extinction the law of ``v`` across networks is a point mass at 0 (the
    extinct networks) plus the survivors' law: no test of the overall mean over
    a few repetitions has the stated false-failure rate there (a sample that
    happens to hold no extinct network has a small SD and a biased mean). So
    the cell is tested in two parts, each valid on its own:

    * the number of repetitions with ``v = 0`` against ``P(v = 0) = 1 - E[w] /
      E[w | alive]`` (the extinct networks add nothing to ``E[w]``; ``w`` is
      ``v`` itself, or ``var_u`` for ``mean_u``, whose mean may be 0): exact
      two-sided binomial p-value;
    * the survivors' mean against ``v_given_alive`` (:func:`_mean_test` on the
      repetitions with ``v != 0``; untested with fewer than 3 survivors).

    The cell's p-value is the Bonferroni combination ``min(1, m min(p_0,
    p_alive))`` over its ``m`` tested parts, a valid level for the pair
    whatever their dependence. The displayed mean, SE and relative error stay
    those of the whole sample.
    """
    alive_name = f"{v}{ALIVE}"
    pred = whole["theory"]
    pred_alive = theory[alive_name].astype(float)
    p_zero = theory[f"{v}{_P_ZERO}"]
    values = simulation[v].astype(float)
    zeros = (values == 0).sum("rep").astype(float)
    zeros, p_zero = xr.broadcast(zeros, p_zero)
    p_count = xr.apply_ufunc(_binomial_pvalue, zeros, reps, p_zero)
    alive_se = (
        theory[f"{alive_name}_se"].astype(float)
        if f"{alive_name}_se" in theory
        else xr.zeros_like(pred_alive)
    )
    counting = v if v in ("spikes", "rate") else None
    survivors = _mean_test(
        survivors_sample(values),
        pred_alive,
        _theory_sd(theory, alive_name),
        alive_se,
        counting,
        simulation,
    )
    parts = 1.0 + survivors["tested"].astype(float)
    p_alive = survivors["p"].where(survivors["tested"], 1.0)
    combined = np.minimum(1.0, parts * np.minimum(p_count, p_alive))
    tested = pred.notnull()
    out = dict(whole)
    out["p"] = combined.where(tested, 1.0)
    out["tested"] = tested
    # the sign of z follows the whole sample's difference
    out["diff"] = whole["diff"].where(whole["tested"], (whole["sim_mean"] - pred))
    out.pop("normal_z", None)  # the combined p-value has no statistic of its own
    return out


def _check_comparison(cmp, name: str = "cmp") -> xr.Dataset:
    """``cmp`` if it is a :func:`compare` result, else a one-line ValueError."""
    return check_dataset(
        name, cmp, what="the result of snninit.validation.compare", kind="comparison"
    )


def _chosen_variables(cmp: xr.Dataset, variables) -> list[str]:
    """``variables`` (default: all of the comparison), each checked to be in ``cmp``."""
    if variables is None:
        return _variables_of(cmp)
    chosen = _variable_list(variables)
    missing = [v for v in chosen if f"{v}_z" not in cmp]
    if missing:
        raise ValueError(
            f"variables must be among the compared ones {_variables_of(cmp)}; got {missing[0]!r}"
        )
    return chosen


def _variables_of(cmp: xr.Dataset) -> list[str]:
    names = cmp.attrs.get("variables", "")
    if names:
        return [v for v in str(names).split(",") if f"{v}_z" in cmp]
    return [k[: -len("_z")] for k in cmp.data_vars if k.endswith("_z")]


def _cells(cmp: xr.Dataset, variables: Sequence[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for v in variables:
        z = cmp[f"{v}_z"]
        frame = xr.Dataset(
            {
                "sim": cmp[f"{v}_sim_mean"],
                "se": cmp[f"{v}_se"],
                "theory": cmp[f"{v}_theory"],
                "z": z,
                "p": cmp[f"{v}_p"],
                "rel": cmp[f"{v}_rel_err"],
            }
        )
        dims = list(z.dims)
        flat = {k: np.asarray(frame[k].transpose(*dims).values).ravel() for k in frame}
        index = np.indices(z.shape).reshape(len(dims), -1) if dims else np.zeros((0, 1), int)
        for i in range(flat["z"].size):
            where = {
                d: z[d].values[index[j, i]].item() for j, d in enumerate(dims) if d in z.coords
            }
            rows.append({"variable": v, "where": where, **{k: float(flat[k][i]) for k in flat}})
    return rows


def worst_cells(cmp: xr.Dataset, k: int = 10, variables: Sequence[str] | None = None) -> list:
    """The ``k`` cells with the smallest p-values (largest |z| breaking ties)."""
    cmp = _check_comparison(cmp)
    k = check_int("k", k, low=0)
    variables = _chosen_variables(cmp, variables)
    # untested cells (z undefined) are no evidence either way: never listed
    rows = [r for r in _cells(cmp, variables) if not math.isnan(r["z"])]
    rows.sort(key=lambda r: (r["p"], -abs(r["z"])))
    return rows[:k]


def _holm_rejections(pvalues: np.ndarray, alpha: float) -> np.ndarray:
    """Holm's step-down procedure: boolean mask of rejected hypotheses."""
    m = pvalues.size
    order = np.argsort(pvalues, kind="stable")
    thresholds = alpha / (m - np.arange(m))
    passed = pvalues[order] <= thresholds
    # reject the first run of passes, stop at the first acceptance
    n_reject = m if passed.all() else int(np.argmin(passed))
    mask = np.zeros(m, dtype=bool)
    mask[order[:n_reject]] = True
    return mask


def _format_table(rows: list[dict[str, Any]], m: int, alpha: float) -> str:
    header = f"{'variable':<10} {'cell':<28} {'simulation':>24} {'theory':>12} {'z':>9} {'p':>9}"
    lines = [header, "-" * len(header)]
    for r in rows:
        where = ", ".join(f"{d}={_fmt_coord(x)}" for d, x in r["where"].items())
        sim = f"{r['sim']:.5g} ± {r['se']:.2g}"
        lines.append(
            f"{r['variable']:<10} {where:<28} {sim:>24} {r['theory']:>12.5g} "
            f"{r['z']:>9.3g} {r['p']:>9.2g}"
        )
    lines.append(
        f"({m} cells; Bonferroni threshold alpha/m = {alpha / m:.3g}; ± is the total "
        "standard error)"
    )
    return "\n".join(lines)


def _fmt_coord(x) -> str:
    if isinstance(x, float):
        return f"{x:g}"
    return str(x)


def family_pvalues(
    cmp: xr.Dataset, variables: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """The p-values of the tested cells of a :func:`compare` result, flattened.

    Returns the p-values (the family :func:`assert_agrees` tests) and the
    variables they come from.
    """
    cmp = _check_comparison(cmp)
    chosen = _chosen_variables(cmp, variables)
    pvals = [
        np.asarray(cmp[f"{v}_p"].values).ravel()[np.asarray(cmp[f"{v}_tested"].values).ravel()]
        if f"{v}_tested" in cmp
        else np.asarray(cmp[f"{v}_p"].values).ravel()
        for v in chosen
    ]
    return (np.concatenate(pvals) if pvals else np.zeros(0)), chosen


def assert_agrees(
    theory: xr.Dataset,
    simulation: xr.Dataset | None = None,
    alpha: float = 1e-3,
    variables: Iterable[str] | None = None,
    show: int = 10,
) -> xr.Dataset:
    """Fail if the simulation rejects the prediction at false-failure rate ``alpha``.

    Parameters
    ----------
    theory, simulation : xarray.Dataset
        As for :func:`compare`. Alternatively pass the result of
        :func:`compare` as ``theory`` and leave ``simulation`` out.
    alpha : float
        Family-wise false-failure rate, in (0, 1): the probability that this
        assertion fails although the prediction is exact (up to the stated
        approximations of the cell tests).
    variables : iterable of str, optional
        Restrict the test to these variables.
    show : int
        Number of worst cells listed in the error message.

    Returns
    -------
    xarray.Dataset
        The comparison (so a test can go on inspecting it).

    Raises
    ------
    AssertionError
        With a table of the worst cells when the prediction is rejected.

    Notes
    -----
    Multiple testing: **Bonferroni over all cells** of all compared
    variables. With ``m`` cells the prediction is rejected if any cell
    p-value is below ``alpha / m``; this bounds the family-wise false-failure
    rate by ``alpha`` whatever the correlation between cells (layers of one
    network are strongly correlated). Holm's step-down procedure rejects the
    same global hypothesis (its first step is Bonferroni's), so it would not
    change the verdict; the table reports the Bonferroni threshold. Cell
    p-values are those of :func:`compare` (normal law for a stated spread,
    Student t for a sample one, exact binomial for extinction, two-part tests
    near extinction); the false-failure rate is measured on the simulator
    near extinction by :func:`snninit.validation.null_rejections` (both
    paths, tested in the suite).
    """
    alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
    if simulation is None:
        cmp = _check_comparison(theory, "theory (alone)")
        chosen = _chosen_variables(cmp, variables)
    else:
        cmp = compare(theory, simulation, variables)
        chosen = _variables_of(cmp)
    pvals, _ = family_pvalues(cmp, chosen)
    m = pvals.size
    if m == 0:
        raise ValueError("the comparison has no cells")
    if (pvals < alpha / m).any():
        rows = worst_cells(cmp, k=show, variables=chosen)
        rejected = int((pvals < alpha / m).sum())
        raise AssertionError(
            f"simulation rejects the prediction in {rejected} of {m} cells at family-wise "
            f"false-failure rate alpha={alpha:g} (Bonferroni); worst cells:\n"
            + _format_table(rows, m, alpha)
        )
    return cmp


def agreement_summary(
    cmp: xr.Dataset, alpha: float = 1e-3, negligible: float = 1e-3
) -> dict[str, dict[str, Any]]:
    """Per-variable summary of a :func:`compare` result, for reports.

    For each variable: ``cells`` (tested), ``untested``, ``worst_z`` (signed z of the cell with the
    smallest p-value), ``worst_where`` (its coordinates), ``min_p``,
    ``max_abs_err`` (largest |sim_mean - theory|), ``rejected`` (cells
    rejected by Holm's step-down procedure at family-wise rate ``alpha``
    over the cells of *all* variables), ``max_rel_err`` (largest
    ``|rel_err|`` over cells whose prediction exceeds ``negligible`` times
    the variable's largest |prediction|, so that layers predicted to be
    essentially silent do not dominate; NaN for ``p_extinct``, whose
    relative error near 0 means nothing, and where every prediction is 0)
    and ``agrees`` (no rejected cell).

    Untested cells (see :func:`compare`) enter none of these numbers, only
    ``untested``; a variable with no tested cell has ``worst_z``,
    ``max_rel_err`` and ``max_abs_err`` NaN, ``min_p`` 1 and ``agrees`` True
    (nothing rejected it). ``worst_z`` is ``+-inf`` only for a tested cell of
    zero standard error whose values differ (a certain disagreement). Relative
    errors are also NaN for ``skew`` and ``kurt``, which are 0 for a Gaussian.
    """
    cmp = _check_comparison(cmp)
    alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
    negligible = check_real("negligible", negligible, low=0.0, high=1.0)
    variables = _variables_of(cmp)
    pvals = {v: np.asarray(cmp[f"{v}_p"].values).ravel() for v in variables}
    masks = {
        v: (
            np.asarray(cmp[f"{v}_tested"].values).ravel()
            if f"{v}_tested" in cmp
            else np.ones(pvals[v].size, dtype=bool)
        )
        for v in variables
    }
    # Holm over the tested cells only (untested ones carry p = 1 and no information)
    allp = np.concatenate([pvals[v][masks[v]] for v in variables]) if pvals else np.zeros(0)
    rejected_all = _holm_rejections(allp, alpha) if allp.size else allp.astype(bool)
    summary: dict[str, dict[str, Any]] = {}
    start = 0
    for v in variables:
        p = pvals[v]
        ntest = int(masks[v].sum())
        rej = rejected_all[start : start + ntest]
        start += ntest
        z = cmp[f"{v}_z"]
        zflat = np.asarray(z.values).ravel()
        tested = (
            np.asarray(cmp[f"{v}_tested"].values).ravel()
            if f"{v}_tested" in cmp
            else np.ones(zflat.size, dtype=bool)
        )
        # the worst cell is the least probable one under the prediction (ties: largest |z|)
        absz = np.where(tested, np.abs(np.nan_to_num(zflat, nan=0.0)), -1.0)
        i = int(np.lexsort((-absz, p))[0]) if zflat.size else 0
        unr = np.unravel_index(i, z.shape) if z.ndim else ()
        where = {d: z[d].values[unr[j]].item() for j, d in enumerate(z.dims) if d in z.coords}
        pred = np.abs(np.asarray(cmp[f"{v}_theory"].values).ravel())
        rel = np.abs(np.asarray(cmp[f"{v}_rel_err"].values).ravel())
        absdiff = np.abs(np.asarray((cmp[f"{v}_sim_mean"] - cmp[f"{v}_theory"]).values).ravel())
        pred, rel, absdiff = pred[tested], rel[tested], absdiff[tested]
        scale = pred.max() if pred.size else 0.0
        keep = pred > negligible * scale if scale > 0 else np.ones_like(pred, dtype=bool)
        any_tested = bool(tested.any())
        summary[v] = {
            "cells": int(tested.sum()),
            "untested": int((~tested).sum()),
            # NaN (and no location) when no cell of the variable could be tested
            "worst_z": float(zflat[i]) if any_tested else float("nan"),
            "worst_where": where if any_tested else {},
            "min_p": float(p[tested].min()) if any_tested else 1.0,
            "rejected": int(rej.sum()),
            # a probability's or a centred statistic's relative error is meaningless
            # near 0: report |difference| only
            "max_rel_err": (
                float("nan")
                if v in _NO_RELATIVE_ERROR or scale == 0 or not any_tested
                else (float(rel[keep].max()) if keep.any() else 0.0)
            ),
            "max_abs_err": float(absdiff.max()) if any_tested else float("nan"),
            "agrees": bool(not rej.any()),
        }
    return summary
