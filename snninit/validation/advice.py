"""``snninit advise``: which initialisation rule and threshold for a given network?

The question users ask most ("how do I set Vth and beta?"), answered from the
theory alone, with a short simulation on request. For a network shape
(width, depth, steps, leak, reset, neuron model) every rule that needs no
data is evaluated on a grid of thresholds:

* ``last_rate``: the dynamic mean field's rate of the last layer, averaged
  over the steps (n -> infinity), against the target (the time-averaged rate
  of the first layer of neurons at that threshold, the encoding layer's or,
  for inputs fed straight to the first weight layer, layer 1's, unless
  ``target_rate`` is given);
* ``p_extinct``: the exact probability, at the network's own width, that the
  first step's volley dies before the last layer (the one-step chain of
  :func:`~snninit.theory.finite_size`: at ``t = 0`` every layer is exactly
  the one-step network); it decides viability for one-step networks only;
* ``breakup``: the layer at which width-``n`` networks are predicted to break
  into volleys (:func:`~snninit.theory.breakup_layer`, leaky neurons, more
  than one step; ``inf``: not within the depth);
* ``backward_gain``: the surrogate gradient's gain per layer
  (:func:`~snninit.theory.trainability`, leaky neurons; 1 is balanced).

A cell is *viable* when the last layer's rate is within a factor 2 of the
target, the volley survives (``p_extinct < 0.01``) and no break-up is
predicted within the depth. Among viable cells the recommendation is the one
whose backward gain is closest to 1 (then whose rate is closest to the
target; a cell without a gain, such as a non-leaky network, after every cell
with one); a silent cell (rate or target 0) is never viable. The viable
thresholds of the recommended rule are listed. Where even that gain is far
from 1 (outside [0.8, 1.25]) the advice adds the surrogate sharpness that
balances it
(:func:`~snninit.theory.balanced_surrogate`, ``snninit train --alpha
balanced``). ``check=True`` simulates the recommended network and compares it with
the prediction (:func:`~snninit.validation.assert_agrees`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import xarray as xr

from .._checks import check_real
from ..config import NetworkConfig, check_config

__all__ = ["advise", "Advice", "phase_figure"]

#: Rules evaluated by default (data-free; the data-driven ones need the user's data).
DEFAULT_RULES = ("micheli", "dmft", "kaiming")
DEFAULT_THETAS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
_NAN = float("nan")


@dataclasses.dataclass
class Advice:
    """The result of :func:`advise`.

    Attributes
    ----------
    cfg : NetworkConfig or None
        The recommended network (rule and threshold set), None if no cell is viable.
    theta_range : tuple of float or None
        The smallest and largest viable threshold of the recommended rule.
    table : xarray.Dataset
        ``last_rate``, ``target_rate``, ``p_extinct``, ``breakup``,
        ``backward_gain`` and ``viable`` over ``(rule, theta)``.
    check : dict or None
        With ``check=True``: the simulation's agreement summary and verdict.
    balanced_alpha : float or None
        Where the recommendation's backward gain is far from 1: the surrogate
        sharpness that balances it (NaN if none in range).
    viable_thetas : tuple of float
        Every viable threshold of the recommended rule (``theta_range`` spans
        them; a threshold inside the range may still be not viable).
    inputs : tuple or None
        ``(rows, encode)``: the samples the advice was computed on, if any
        (:func:`phase_figure` draws its rates on them too).
    """

    cfg: NetworkConfig | None
    theta_range: tuple[float, float] | None
    table: xr.Dataset
    check: dict | None = None
    balanced_alpha: float | None = None
    viable_thetas: tuple[float, ...] = ()
    inputs: tuple | None = dataclasses.field(default=None, repr=False)

    def summary(self) -> str:
        """The answer in a few lines, every number from the table."""
        t = self.table
        lines = [
            f"{'rule':9s} {'theta':>6s} {'last rate':>10s} {'target':>8s} {'P(extinct)':>11s} "
            f"{'break-up':>9s} {'grad gain':>10s}  viable"
        ]
        for rule in t["rule"].values:
            for theta in t["theta"].values:
                c = t.sel(rule=rule, theta=theta)
                lines.append(
                    f"{rule:9s} {theta:6.2f} {float(c.last_rate):10.4f} "
                    f"{float(c.target_rate):8.4f} "
                    f"{float(c.p_extinct):11.3g} {_layer(float(c.breakup)):>9s} "
                    f"{_number(float(c.backward_gain)):>10s}  {'yes' if bool(c.viable) else 'no'}"
                )
        if self.cfg is None:
            lines.append("no rule and threshold of the grid keeps this network alive (the last "
                         "layer's rate within a factor 2 of the target, no break-up, a one-step "
                         "volley that survives); try fewer layers, more width, another "
                         "threshold or --target-rate")
            return "\n".join(lines)
        c = t.sel(rule=self.cfg.init, theta=self.cfg.theta)
        viable = ", ".join(f"{t:g}" for t in self.viable_thetas)
        lines.append(
            f"recommended: init={self.cfg.init!r}, theta={self.cfg.theta:g} (viable theta "
            f"with this rule: {viable}): last layer's rate {float(c.last_rate):.4f} per "
            f"step (target {float(c.target_rate):.4f}), P(first volley extinct) "
            f"{float(c.p_extinct):.3g} at width {self.cfg.width}, break-up "
            f"{_layer(float(c.breakup))}, backward gain {_number(float(c.backward_gain))} per "
            "layer"
        )
        if float(c.p_extinct) > 0.5:
            lines.append(
                f"caution: at width {self.cfg.width} the first volley dies with probability "
                f"{float(c.p_extinct):.3g}; the rates above are the n -> infinity limit"
            )
        if self.balanced_alpha is not None:
            g = float(c.backward_gain)
            way = "explode" if g > 1 else "vanish"
            factor = g ** (self.cfg.layers - 1)
            fix = (f"surrogate alpha {self.balanced_alpha:.3g} balances them (snninit train "
                   "--alpha balanced)" if np.isfinite(self.balanced_alpha)
                   else "no surrogate alpha in [0.05, 50] balances them (or a layer is "
                   "silent in the limit)")
            lines.append(f"gradients {way} (x{factor:.3g} in variance over the depth); {fix}")
        if self.inputs is not None:
            lines.append(f"on your data: {self.table.attrs['inputs_statistics']}")
        if self.check is not None:
            lines.append(f"check: {self.check['text']}")
        return "\n".join(lines)


def _number(value: float) -> str:
    """A gain for the table: ``n/a`` where there is none (silent, non-leaky, one layer)."""
    return "n/a" if not math.isfinite(value) else f"{value:.3f}"


def _layer(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return "none" if math.isinf(value) else f"{value:.1f}"


def _cell(cfg: NetworkConfig, paths: int, seed: int, target_rate, data=None) -> dict:
    from ..theory import (
        breakup_layer,
        dynamic_mean_field,
        finite_size,
        first_volley_extinction,
        trainability,
    )

    if data is None:
        th = dynamic_mean_field(cfg, paths=paths, seed=seed)
        p_ext = float(finite_size(cfg.replace(steps=1))["p_extinct"].isel(layer=-1, time=0))
    else:  # the user's sample: the data-driven prediction, averaged over the samples
        x, encode = data
        th = dynamic_mean_field(cfg, paths=paths, seed=seed, inputs=x, encode=encode,
                                average=True)
        p_ext = float(first_volley_extinction(cfg, x, encode=encode).isel(layer=-1).mean())
    rate = th["rate"].mean("time")
    last = float(rate.isel(layer=-1))
    if target_rate is not None:
        target = target_rate
    else:  # the first layer of neurons: the encoding layer, or layer 1 fed the inputs
        target = float(rate.isel(layer=0))
    breakup, gain = _NAN, _NAN
    if cfg.neuron == "leaky":
        breakup = math.inf if cfg.steps == 1 else float(breakup_layer(cfg, paths=max(paths,
                                                                                     1024)))
        if cfg.layers >= 2:
            gain = trainability(cfg, paths=paths, seed=seed)["backward_gain"]
    # the first step's volley matters on its own only with one step: over many steps the
    # encoding layer keeps driving, and the rate and the break-up say whether it arrives
    survives = p_ext < 0.01 if cfg.steps == 1 else True
    alive = last > 0 and target > 0  # a silent network is never the answer
    viable = (alive and target / 2 <= last <= 2 * target and survives
              and not breakup <= cfg.layers)
    return dict(last_rate=last, target_rate=target, p_extinct=p_ext, breakup=breakup,
                backward_gain=gain, viable=viable)


def advise(
    cfg: NetworkConfig,
    *,
    target_rate: float | None = None,
    rules: Sequence[str] = DEFAULT_RULES,
    thetas: Sequence[float] = DEFAULT_THETAS,
    check: bool = False,
    paths: int = 4096,
    seed: int = 0,
    inputs=None,
    encode: bool = True,
    samples: int = 50,
) -> Advice:
    """Recommend a rule and threshold range for the network shape of ``cfg``.

    ``cfg`` gives width, layers, steps, beta, reset, input scale and the
    neuron model; its ``init`` and ``theta`` are what is chosen (ignored).
    ``rules`` must be data-free rules supporting the neuron model; a rule
    that refuses a cell (e.g. no dmft solution at an extreme threshold)
    marks it not viable. See the module docstring for the criteria.

    With ``inputs`` (a sample of the user's data, ``(samples, n_0)`` constant
    or ``(samples, steps, n_0)`` one row per step, e.g. rate-coded spike
    trains) the rates are the data-driven dynamic mean field averaged over
    the first ``samples`` rows (``dynamic_mean_field(cfg, inputs=...,
    average=True)``: layer 0 exact on the data, the first layer's fan-in
    ``n_0``), ``p_extinct`` the chain started from each sample
    (:func:`~snninit.theory.first_volley_extinction`), and the default
    target the rate of the first layer of neurons on the data (the encoding
    layer; with ``encode=False``, the inputs fed straight to the first weight
    layer, layer 1). The break-up depth and the
    backward gain stay those of ``N(0, 1)`` inputs (deep-layer properties;
    the table's attrs say so). ``check=True`` simulates on the same rows.

    Raises
    ------
    ValueError
        For a bad target rate, an unknown or data-driven rule, or an empty grid.
    """
    from .._checks import check_bool
    from ..config import check_limit, check_neuron
    from ..theory.rules import get_rule

    cfg = check_config(cfg)
    if target_rate is not None:
        target_rate = check_real("target_rate", target_rate, low=0.0, high=1.0, low_open=True)
    check = check_bool("check", check)
    paths = check_limit("paths", paths)
    seed = check_limit("seed", seed)
    for name, values in (("rules", rules), ("thetas", thetas)):
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise ValueError(f"{name} must be a list or tuple of values; got {values!r}")
    rules = list(rules)
    thetas = [check_real("thetas", t, low=0.0, high=10.0) for t in thetas]
    if not rules or not thetas:
        raise ValueError("rules and thetas must each name at least one value")
    for name, values in (("rules", rules), ("thetas", thetas)):
        if len(set(values)) != len(values):
            raise ValueError(f"{name} must not repeat a value; got {values!r}")
    for name in rules:
        rule = get_rule(name, param="rules")
        if rule.needs_data:
            raise ValueError(
                f"rules: {name!r} is data-driven (its weights come from the user's data); "
                "advise evaluates data-free rules"
            )
        if rule.neurons is not None:
            check_neuron(cfg, rule.neurons, f"rules: init={name!r}")
    data = None
    if inputs is not None:
        data = _advice_inputs(cfg, inputs, encode, samples)
    _check_advise_work(cfg, len(rules) * len(thetas), paths, data)
    fields = ("last_rate", "target_rate", "p_extinct", "breakup", "backward_gain", "viable")
    values = {f: np.full((len(rules), len(thetas)), _NAN) for f in fields}
    refusals = []
    for i, name in enumerate(rules):
        for j, theta in enumerate(thetas):
            try:
                cell = _cell(cfg.replace(init=name, init_params={}, theta=theta), paths, seed,
                             target_rate, data)
            except ValueError as exc:  # the rule has no solution at this cell (dmft, ...)
                refusals.append(str(exc))
                cell = dict.fromkeys(fields, _NAN)
                cell["viable"] = False
            for f in fields:
                values[f][i, j] = cell[f]
    if len(refusals) == len(rules) * len(thetas):  # nothing was evaluated: say why
        raise ValueError(f"advise: no cell of the grid could be evaluated: {refusals[0]}")
    table = xr.Dataset(
        {f: (("rule", "theta"), v if f != "viable" else v.astype(bool))
         for f, v in values.items()},
        coords={"rule": rules, "theta": thetas},
    )
    table.attrs.update(kind="advice", config=cfg.to_json(), paths=paths, seed=seed)
    if target_rate is not None:
        table.attrs["target_rate"] = target_rate
    if data is not None:
        from ..models.inputs import inputs_attrs

        table.attrs.update(inputs_attrs(data[0], data[0], data[1]))
        table.attrs["inputs_statistics"] = (
            f"last_rate, target_rate, p_extinct: on the first {data[0].shape[0]} samples "
            "(averaged); breakup, backward_gain: for N(0, 1) inputs")
    viable = table["viable"].values
    if not viable.any():
        return Advice(None, None, table, inputs=data)
    # order: the gradient gain's distance from 1 first (a cell without one, e.g. not a
    # leaky network, after every cell with one), then the rate's distance from the target
    g = table["backward_gain"].values
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(np.isfinite(g) & (g > 0), np.abs(np.log(np.where(g > 0, g, 1.0))),
                        np.inf)
        closeness = np.abs(np.log(table["last_rate"].values / table["target_rate"].values))
    candidates = [(gain[i, j], closeness[i, j], i, j) for i in range(len(rules))
                  for j in range(len(thetas)) if viable[i, j]]
    _, _, i, j = min(candidates)
    best = cfg.replace(init=rules[i], init_params={}, theta=thetas[j])
    ok = [t for t, v in zip(thetas, viable[i]) if v]
    advice = Advice(best, (min(ok), max(ok)), table, viable_thetas=tuple(ok), inputs=data)
    g = float(table["backward_gain"].values[i, j])
    if np.isfinite(g) and not 0.8 <= g <= 1.25:
        from ..theory import balanced_surrogate

        try:
            advice.balanced_alpha = balanced_surrogate(best, paths=paths, seed=seed)
        except ValueError:  # no alpha in range balances it
            advice.balanced_alpha = _NAN
    if check:
        advice.check = _check(best, paths, seed, data)
    return advice


def _advice_inputs(cfg: NetworkConfig, inputs, encode, samples: int):
    """The validated first ``samples`` rows of ``inputs`` and ``encode``."""
    from .._checks import check_bool, check_int
    from ..models.inputs import MAX_SAMPLES, check_inputs

    encode = check_bool("encode", encode)
    samples = check_int("samples", samples, low=1, high=MAX_SAMPLES)
    check_inputs(inputs, cfg.steps)
    x = np.asarray(inputs, dtype=np.float64)[:samples]  # as given: constant or time-varying
    return x, encode


def _check_advise_work(cfg: NetworkConfig, cells: int, paths: int, data=None) -> None:
    """Refuse a grid whose backward (and data-driven) mean fields would exceed the time limit."""
    from .._resources import check_work, inputs_work
    from ..theory.backward import _backward_seconds

    seconds = _backward_seconds(cfg, paths)
    cost = f"the backward mean field of {cfg.layers} layers x {cfg.steps} steps x {paths} paths"
    knob = "use fewer steps, layers, rules or thetas"
    if data is not None:
        x = data[0]
        _, sec, _, what, _ = inputs_work("dynamic_mean_field", cfg, x.shape[0], x.shape[-1],
                                         paths=paths)
        seconds += sec
        cost += f" + {what}"
        knob = "use fewer samples, steps, layers, rules or thetas"
    check_work("advise", cells * seconds, 0.0, f"{cells} cells x ({cost})", knob)


def _check(cfg: NetworkConfig, paths: int, seed: int, data=None) -> dict:
    """Simulate the recommended network and test the prediction (family rate 1e-3)."""
    from ..montecarlo import simulate
    from ..theory import dynamic_mean_field
    from .comparison import compare
    from .verdicts import agreement_summary, agrees

    if data is None:
        method = "dense" if cfg.neuron == "recurrent" else "gram"
        sim = simulate(cfg, reps=10, seed=seed + 1, method=method)
        th = dynamic_mean_field(cfg, paths=max(paths, 2**14), seed=seed)
        what = f"10 simulated networks ({method})"
    else:  # each network runs on every sample; compared on the sample average
        x, encode = data
        method = "dense"
        runs = simulate(cfg, reps=10, seed=seed + 1, inputs=x, encode=encode)
        sim = runs.mean("sample")
        sim.attrs = runs.attrs
        th = dynamic_mean_field(cfg, paths=max(paths, 2**14), seed=seed, inputs=x,
                                encode=encode, average=True)
        what = f"10 simulated networks (dense) on the {x.shape[0]} samples"
    cmp = compare(th, sim, ["rate", "var_u"])
    summary = agreement_summary(cmp)
    verdict = "agrees" if agrees(cmp, alpha=1e-3) else "rejected"
    measured = float(sim["rate"].isel(layer=-1).mean())
    predicted = float(th["rate"].isel(layer=-1).mean())
    text = (
        f"{what}: last layer's rate {measured:.4f} vs predicted "
        f"{predicted:.4f}; {verdict} at family false-failure rate 1e-3 (worst |z| rate "
        f"{abs(summary['rate']['worst_z']):.2f}, var_u {abs(summary['var_u']['worst_z']):.2f})"
    )
    return {"summary": summary, "verdict": verdict, "text": text}


def phase_figure(advice: Advice, path,
                 betas: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 0.9, 0.95)):
    """Draw the (theta, beta) phase diagram of the recommended rule, the advice marked.

    Color: the last layer's time-averaged rate over the target (log2; the
    viable band is [-1, 1]); contour: a backward gain of 1 per layer (leaky
    neurons); the star: the recommendation at the network's own beta. From
    the dynamic mean field and :func:`~snninit.theory.trainability` (paths as
    in the advice; on the advice's samples where it has them); the break-up
    and extinction criteria are in the table.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..theory import dynamic_mean_field, trainability

    if advice.cfg is None:
        raise ValueError("the advice has no recommendation to draw")
    cfg = advice.cfg
    thetas = np.sort(advice.table["theta"].values)
    if thetas.size < 2:
        raise ValueError("the figure needs at least two thresholds (--thetas)")
    betas = np.unique(np.append(np.asarray(betas, float), cfg.beta))
    paths = int(advice.table.attrs.get("paths", 4096))
    ratio = np.full((len(betas), len(thetas)), np.nan)
    gain = np.full_like(ratio, np.nan)
    target = advice.table.attrs.get("target_rate")
    data = advice.inputs
    extra = {}
    if data is not None:
        from .._resources import check_work, inputs_work

        x, encode = data
        what, sec, nbytes, cost, knob = inputs_work("dynamic_mean_field", cfg, x.shape[0],
                                                    x.shape[-1], paths=paths)
        check_work("phase_figure", ratio.size * sec, nbytes, f"{ratio.size} cells x ({cost})",
                   knob)
        extra = dict(inputs=x, encode=encode, average=True)
        if target is None and not encode:
            target = float(np.mean(x))
    for i, b in enumerate(betas):
        for j, t in enumerate(thetas):
            c = cfg.replace(beta=float(b), theta=float(t))
            try:
                rate = dynamic_mean_field(c, paths=paths, **extra)["rate"].mean("time")
            except ValueError:
                continue
            want = float(rate.sel(layer=0)) if target is None else float(target)
            with np.errstate(divide="ignore"):
                ratio[i, j] = np.log2(float(rate.isel(layer=-1)) / want)
            if c.neuron == "leaky" and c.layers >= 2:
                gain[i, j] = trainability(c, paths=paths)["backward_gain"]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    mesh = ax.pcolormesh(thetas, betas, np.clip(ratio, -4, 4), cmap="RdBu_r", vmin=-4, vmax=4,
                         shading="nearest")
    fig.colorbar(mesh, ax=ax, label="log2(last layer's rate / target)")
    if np.isfinite(gain).sum() >= 4:
        cs = ax.contour(thetas, betas, np.log(gain), levels=[0.0], colors="k")
        ax.clabel(cs, fmt={0.0: "gradient gain 1"}, fontsize=8)
    ax.plot([cfg.theta], [cfg.beta], "*", ms=16, mfc="gold", mec="k", label="recommended")
    ax.set_xlabel("theta")
    ax.set_ylabel("beta")
    on = "" if data is None else f", on {data[0].shape[0]} samples"
    ax.set_title(f"init={cfg.init!r}: width {cfg.width}, {cfg.layers} layers, {cfg.steps} steps"
                 f"{on}", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
