"""The false-failure rate of the cell tests, measured on the real simulator near extinction.

The exact one-step chain is the truth for Gaussian weights, so every
rejection of it by :func:`snninit.validation.compare` is a false failure.
Both paths are measured: the theory with its stated spread (``*_sd``) and the
same theory stripped of it (spread from the sample). Settings sit near
extinction (a large share of the 20 networks goes silent by layer 100), where
a layer's law across networks is bimodal and skewed.

Each check is itself a test with false-failure rate ``DELTA`` (fixed seeds,
so the outcome is deterministic): the family-wise count must not exceed the
``1 - DELTA`` quantile of ``Bin(seeds, alpha)``; the per-cell rate of
``|z| > 2`` must be within ``z_{1 - DELTA/2}`` cluster-robust standard errors
of 4.55 % for the single continuous tests and not above it for the discrete
and two-part ones (valid, conservative by construction).
"""

from __future__ import annotations

import pytest
from scipy import stats

import snninit as si
from snninit.validation.nulltest import (
    CONTINUOUS_CELLS,
    Z2_RATE,
    format_null_summary,
    null_rejections,
    null_summary,
)

DELTA = 1e-3
ZQ = float(stats.norm.isf(DELTA / 2))

#: (width, theta, layers): near extinction (test_settings_are_near_extinction)
SETTINGS = [(100, 0.9, 100), (200, 1.0, 100)]


def _check(ds) -> None:
    summary = null_summary(ds, level=1 - DELTA)
    print(format_null_summary(summary, ds.attrs["theory"]))
    for alpha, fam in summary["family"].items():
        assert fam["rejected"] <= fam["bound"], (
            f"family-wise false-failure rate at alpha={alpha}: {fam['rejected']}/{fam['seeds']}"
        )
    for v, cell in summary["cells"].items():
        if cell["cells"] == 0:
            continue
        if cell["se"] == 0:  # the same share in every seed (e.g. none exceeded anywhere)
            assert cell["rate"] <= Z2_RATE, f"{v}: |z|>2 in {cell['rate']:.4f} of cells, every seed"
            continue
        excess = (cell["rate"] - Z2_RATE) / cell["se"]
        if v in CONTINUOUS_CELLS:
            assert abs(excess) <= ZQ, f"{v}: |z|>2 in {cell['rate']:.4f} ± {cell['se']:.4f}"
        else:
            assert excess <= ZQ, f"{v}: |z|>2 in {cell['rate']:.4f} ± {cell['se']:.4f}"


def _cfg(width, theta, layers):
    return si.NetworkConfig(width=width, layers=layers, steps=1, theta=theta, init="micheli")


#: (spread, survivors): the theory's stated spread across networks and survivors'
#: moments, or neither (a theory of means and p_extinct only: compare derives the
#: survivors' means from p_extinct)
PATHS = {"stated": (True, True), "sample": (False, True), "p_extinct-only": (False, False)}


@pytest.mark.parametrize(
    "setting,path",
    [(SETTINGS[0], "stated"), (SETTINGS[1], "sample"), (SETTINGS[0], "p_extinct-only")],
    ids=["stated", "sample", "p_extinct-only"],
)
def test_null_harness_fast(setting, path):
    """Default run: each path at one setting, 30 seeds (all of them at 400 in validate)."""
    spread, survivors = PATHS[path]
    ds = null_rejections(
        _cfg(*setting), seeds=30, spread=spread, survivors=survivors, alphas=(0.2, 0.05)
    )
    _check(ds)


@pytest.mark.validation
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("width,theta,layers", SETTINGS)
def test_null_harness_400_seeds(width, theta, layers, path):
    spread, survivors = PATHS[path]
    ds = null_rejections(
        _cfg(width, theta, layers), seeds=400, spread=spread, survivors=survivors,
        alphas=(0.05, 1e-2, 1e-3), first_seed=10_000,
    )
    _check(ds)


#: multi-step nulls: the encoding layer of every neuron model is exact (its statistics
#: over neurons are continuous: the |z| > 2 rate is tested two-sided)
MODELS = {  # fmt: skip
    "synaptic": (dict(neuron="synaptic", alpha=0.6), "gram"),
    "adaptive": (dict(neuron="adaptive", rho=0.8, adaptation=0.3), "gram"),
    "recurrent": (dict(neuron="recurrent"), "dense"),
}


def _check_models(ds) -> None:
    _check(ds)
    summary = null_summary(ds, level=1 - DELTA)
    for v in ("var_u", "mean_u", "skew", "kurt"):  # continuous: not too few either
        cell = summary["cells"][v]
        # cells of one seed move together (its networks at all steps): with few seeds
        # a share of 0 is likely, and then the clustered SE is 0 and says nothing
        if cell["se"] > 0:
            assert cell["rate"] - Z2_RATE >= -ZQ * cell["se"], (v, cell)


def _model_cfg(model):
    extra, _ = MODELS[model]
    return si.NetworkConfig(width=1000, layers=1, steps=8, beta=0.7, **extra)


@pytest.mark.parametrize("model", list(MODELS))
def test_null_harness_multi_step_models_fast(model):
    """Default run: 30 seeds of each model's multi-step encoding layer (400 in validate)."""
    ds = null_rejections(_model_cfg(model), seeds=30, alphas=(0.2, 0.05), method=MODELS[model][1])
    assert ds.attrs["theory"].startswith("dynamic_mean_field, encoding layer")
    _check_models(ds)


@pytest.mark.validation
@pytest.mark.parametrize("model", list(MODELS))
def test_null_harness_multi_step_models_400_seeds(model):
    ds = null_rejections(_model_cfg(model), seeds=400, alphas=(0.05, 1e-2, 1e-3),
                         first_seed=10_000, method=MODELS[model][1])
    _check_models(ds)


def test_harness_detects_a_wrong_theory():
    """The harness is not a test that cannot fail: survivors' var_u 15 % too high is caught.

    (One cell's SE is about 9 % of var_u with 20 networks.)
    """
    cfg = _cfg(100, 0.9, 100)
    theory = si.theory.finite_size(cfg)
    wrong = theory.assign(var_u_given_alive=theory["var_u_given_alive"] * 1.15)
    sims = [si.montecarlo.simulate(cfg, reps=20, seed=s, method="gram") for s in range(20)]
    exceed = tested = 0
    for sim in sims:
        cmp = si.validation.compare(wrong, sim, variables=["var_u_given_alive"])
        mask = cmp["var_u_given_alive_tested"].values
        exceed += int((abs(cmp["var_u_given_alive_z"].values[mask]) > 2).sum())
        tested += int(mask.sum())
    # far above the nominal 4.55 % (binomial upper 1 - DELTA bound on the null rate)
    assert exceed / tested > stats.binom.ppf(1 - DELTA, tested, Z2_RATE) / tested


@pytest.mark.parametrize("width,theta,layers", SETTINGS)
def test_settings_are_near_extinction(width, theta, layers):
    """Bimodal cells: a good share of the networks is silent, a good share alive."""
    p = si.theory.finite_size(_cfg(width, theta, layers))["p_extinct"].isel(time=0)
    assert 0.4 < float(p.isel(layer=layers // 2)) < 0.7
    assert 0.7 < float(p.isel(layer=-1)) < 0.9


def test_null_rejections_validates_input():
    with pytest.raises(ValueError, match="spread must be False for steps > 1"):
        null_rejections(si.NetworkConfig(width=50, layers=3, steps=2), seeds=2, spread=True)
    with pytest.raises(ValueError, match="weights must be 'normal'"):
        null_rejections(si.NetworkConfig(width=50, layers=3, weights="uniform"), seeds=2)
    with pytest.raises(ValueError, match="seeds"):
        null_rejections(_cfg(50, 0.9, 3), seeds=0)
    with pytest.raises(ValueError, match="survivors must be True or False"):
        null_rejections(_cfg(50, 0.9, 3), seeds=2, survivors="no")
