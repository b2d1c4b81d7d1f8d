"""The test of one cell: a Monte Carlo mean against a prediction, valid near extinction.

The statistics behind :func:`snninit.validation.compare` (its Notes say which
test each cell gets): the one-sample test of a mean with a stated or a sample
spread (normal law / Welch t), the binomial floor of identical spike counts,
the exact binomial test of the extinct fraction, and the two-part test of a
variable with an extinct mode (DESIGN 3d), whose mode probabilities
:func:`_with_extinct_modes` derives once for every variable.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import stats

from ..models.statistics import PAIR_VARIABLES

#: Suffix of the survivors' moments (DESIGN 3d): a variable conditioned on the
#: event that makes it nonzero (see :func:`snninit.theory.finite_size`).
ALIVE = "_given_alive"

#: Variables whose law across networks has an extinct mode, an exact point mass
#: at 0, and the non-negative variable whose mean gives that mode's probability:
#: a silent layer below gives var_u = mean_u = 0; a silent layer gives no spike.
_HURDLE_VARIABLES = ("var_u", "mean_u", "spikes", "rate")
#: Suffix of the (internal) probability of a variable's extinct mode, exactly 0.
_P_ZERO = "__p_zero"

#: Statistics undefined (NaN) where a layer has no spread: the shape statistics where
#: its membranes are all equal, the two-input correlations where a response is flat
#: (a silent layer); averaged over the repetitions where defined.
_SHAPE_VARIABLES = ("skew", "kurt", *PAIR_VARIABLES)

# Cells whose total standard error is exactly 0 (e.g. every repetition extinct
# and no theoretical spread) are judged by equality within this tolerance:
# |sim - theory| <= _ATOL + _RTOL * |theory|.
_ATOL = 1e-12
_RTOL = 1e-9


def _scalar_value(ds: xr.Dataset, name: str):
    """Value of ``name`` as a scalar coordinate or attribute of ``ds`` (or None)."""
    if name in ds.coords and ds[name].ndim == 0:
        return ds[name].item()
    if name in ds.attrs:
        return ds.attrs[name]
    return None


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
        # ... and it is 0: a rounding-level SD must not turn a last-bit difference
        # from an exact prediction into a huge z (e.g. layer 0 on given inputs)
        sim_se = xr.where(degenerate, 0.0, sim_se)
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
