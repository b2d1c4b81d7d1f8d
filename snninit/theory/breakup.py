"""Break-up of the time-homogeneous state (DESIGN.md section 3e).

A finite network of width ``n`` with Gaussian weights is, exactly, a Markov
chain on the empirical spike correlations ``C^_l = S_l^T S_l / n`` (``S_l``
the ``n x T`` spike matrix of layer ``l``): given ``C^_l`` the inputs of the
``n`` neurons of layer ``l + 1`` are i.i.d. Gaussian paths ``N(m_l, Sigma_l)``,
``Sigma_l = n s2 C^_l``, ``m_l^t = n mu C^_l(t, t)`` (the gram sampler draws
exactly this), so

    C^_{l+1} = (1/n) sum_i s(h_i) s(h_i)^T,      h_i ~ N(m_l, Sigma_l) i.i.d.

Its ``n -> infinity`` limit is the dynamic mean field ``C_{l+1} = F(C_l)``
(:func:`~snninit.theory.dynamic_mean_field`). Writing ``C^_l = C_l + d_l``
and expanding to first order (the linear-noise approximation),

    d_l = J_l d_{l-1} + eta_l,      J_l = dC_l / dC_{l-1} (at the mean field),
    Cov(eta_l) = D_l / n,           D_l = Cov_path[vec s s^T]  (one neuron of layer l),

so the across-network covariance of the ``T(T+1)/2`` entries of ``C^_l`` is
``A_l / n`` with

    A_0 = D_0 (encoding layer, i.i.d. inputs),      A_l = J_l A_{l-1} J_l^T + D_l.

Everything here is computed, nothing is fitted: ``C_l``, ``J_l`` and ``D_l``
from one batch of scrambled-Sobol input paths per layer, with the dynamic
mean field's own path sampler and LIF kernel.

The break-up criterion is that of :func:`~snninit.theory.unstable_layer`:
the across-network SD of the rate ``C^_l(t, t)`` beyond the binomial
counting noise, relative to the layer's time-averaged rate ``rbar_l``, median
over time steps, reaches ``tolerance``. The binomial part is exactly the
fresh noise ``D_l(tt, tt) = r (1 - r)``, so the excess is the propagated
part ``E_l(t) = [J_l A_{l-1} J_l^T]_{tt, tt}`` and

    g_l := median_t sqrt(E_l(t)) / rbar_l,
    l*  = first l with g_l >= tolerance sqrt(n) and lambda_l > 1.

``g_l`` does not depend on ``n``; ``l*`` is where ``ln g_l`` (interpolated
linearly between layers) crosses ``ln(tolerance sqrt n)``. ``lambda_l`` is
the leading eigenvalue of ``J_l`` on the time-inhomogeneous perturbations
(see :func:`breakup_analysis`); a large relative spread while
``lambda_l <= 1`` is a layer dying out, not breaking up. Where the growth is
geometric, ``g_l ~ g_0 Lambda^l`` with ``Lambda = lambda rbar_{l-1} / rbar_l``
(perturbation growth times the decay of the level), this is the closed form

    l* = l_0 + ln(tolerance sqrt n) / ln Lambda,    l_0 = -ln g_0 / ln Lambda,

i.e. ``l*`` moves deeper by ``ln 2 / (2 ln Lambda)`` layers per doubling of
``n``.

Estimating the Jacobian. ``F`` is an expectation over Gaussian paths whose
integrand (a spike pattern) is discontinuous, so ``J`` is estimated with the
score function (likelihood ratio) of the Gaussian path law: for a symmetric
perturbation ``dSigma``

    dE[f(h)] = E[f(h) (tr(G dSigma) / 2 + (P x)^T dm)],
    x = h - m,  P = Sigma^-1,  G = P x x^T P - P,

from the same paths as ``F`` itself (no finite differences). The map is
causal: ``C_{l+1}(t, t')`` depends only on ``C_l`` up to time
``tau = max(t, t')``, so the corresponding block of ``J`` is estimated with
the score of the marginal law of ``h^0..h^tau`` (exact zeros elsewhere,
less variance). ``J`` is therefore block lower triangular in ``tau``; its
eigenvalues are those of the diagonal blocks (row ``tau`` of ``C`` mapped to
row ``tau``).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from threadpoolctl import threadpool_limits

from .._checks import check_dataset, check_int, check_real
from .._dataset import finish_dataset, layer_coord
from ..config import NetworkConfig, check_config, check_limit, check_neuron
from ..models import LEAKY, RESET_CODES
from .dmft_paths import (
    _encoding_layer,
    _layer_kernel,
    _path_normals,
    _pca_factor,
)
from .rules import layer_weight_moments

__all__ = [
    "breakup_layer",
    "breakup_analysis",
    "crossing_layer",
    "breakup_outcome",
    "unstable_layer",
]

#: Paths per kernel call: bounds the (chunk, T, T) work arrays.
_CHUNK = 8192


def _spike_paths(x, cfg: NetworkConfig) -> np.ndarray:
    """Spike trains ``s`` (float 0/1, shape ``(M, T)``) of neurons driven by paths ``x``.

    Runs the dynamic mean field's LIF kernel with one path per group, so the
    membrane "mean" it returns is the path's own membrane.
    """
    m, steps = x.shape
    raw = np.empty((m, 4, steps))
    corr = np.empty((m, steps, steps))
    _layer_kernel(
        np.ascontiguousarray(x[:, None, :]),
        np.ascontiguousarray(np.broadcast_to(np.eye(steps), (m, steps, steps))),
        np.zeros((m, steps)),
        np.ones((m, steps)),  # unscaled: the "mean" is the path's own membrane
        cfg.beta,
        cfg.theta,
        RESET_CODES[cfg.reset],
        cfg.reset_decay,
        raw,
        corr,
        LEAKY,  # _validate admits the leaky neuron only
        0.0,
        0.0,
        0.0,
    )
    return (raw[:, 0, :] > cfg.theta).astype(float)


def _layer_statistics(x, drive, cfg, iu, sigma=None, var_gain=0.0, mean_gain=0.0):
    """Path statistics of one layer: ``C`` (upper triangle), ``D`` and ``J``.

    ``x``: centred input paths (M, T) with covariance ``sigma`` (None: no
    Jacobian, as for the encoding layer), ``drive`` the path mean (T,). With
    ``f = vec(s s^T)`` on the upper triangle ``iu``: ``C = E[f]``,
    ``D = Cov[f]`` and the score-function Jacobian (module docstring)
    ``J[o, ab] = w_ab var_gain Cov[f_o, y_a y_b] + [a = b] mean_gain Cov[f_o, y_a]``,
    ``y = P_tau x``, ``w = 1/2`` on the diagonal and 1 off it, where the
    outputs ``o = (i, tau)``, ``i <= tau``, use the marginal precision
    ``P_tau`` of ``h^0..h^tau`` and only inputs ``a <= b <= tau`` (the map is
    causal). ``f_o = s^i s^tau`` vanishes unless the path spikes at ``tau``,
    so those sums run over the spiking paths only. Accumulated over chunks of
    paths from uncentred sums.
    """
    m_all, steps = x.shape
    d = iu[0].size
    f_sum = np.zeros(d)
    ff_sum = np.zeros((d, d))
    blocks = []
    if sigma is not None:
        for tau in range(steps):
            k = tau + 1
            prec = np.linalg.pinv(sigma[:k, :k], rcond=1e-10, hermitian=True)
            a, b = np.triu_indices(k)
            # sums over paths of s^i s^tau y_a y_b, s^i s^tau y_a, y_a y_b, y_a
            blocks.append(
                [prec, a, b, np.zeros((k, a.size)), np.zeros((k, k)), np.zeros((k, k)), np.zeros(k)]
            )
    for start in range(0, m_all, _CHUNK):
        xc = x[start : start + _CHUNK]
        s = _spike_paths(xc + drive, cfg)
        f = s[:, iu[0]] * s[:, iu[1]]
        f_sum += f.sum(axis=0)
        ff_sum += f.T @ f
        for tau, (prec, a, b, fyy, fy, yy, y1) in enumerate(blocks):
            k = tau + 1
            y = xc[:, :k] @ prec
            yy += y.T @ y
            y1 += y.sum(axis=0)
            fire = s[:, tau] > 0
            ys = y[fire]
            si = s[fire, :k]
            fyy += si.T @ (ys[:, a] * ys[:, b])
            fy += si.T @ ys
    corr = f_sum / m_all
    noise = ff_sum / m_all - np.outer(corr, corr)
    if sigma is None:
        return corr, noise, None
    jac = np.zeros((d, d))
    for tau, (_, a, b, fyy, fy, yy, y1) in enumerate(blocks):
        out_idx = np.flatnonzero(iu[1] == tau)  # (i, tau), i = 0..tau, in iu order
        in_idx = np.flatnonzero(iu[1] <= tau)  # (a, b), a <= b <= tau, in iu order
        c_out = corr[out_idx][:, None]
        # triu_indices(k) lists (a, b) in the same order as iu restricted to b <= tau
        cov_yy = fyy / m_all - c_out * (yy[a, b] / m_all)
        block = var_gain * np.where(a == b, 0.5, 1.0) * cov_yy
        if mean_gain != 0.0:
            cov_y = fy / m_all - c_out * (y1 / m_all)
            block = block + np.where(a == b, mean_gain, 0.0) * cov_y[:, a]
        jac[np.ix_(out_idx, in_idx)] = block
    return corr, noise, jac


def _spectral_radius(jac, iu, skip_first: bool) -> float:
    """Largest ``|eigenvalue|`` over the diagonal blocks of the causal Jacobian.

    ``skip_first`` drops the block of time step 0 (the one-step map's slope).
    """
    tmax = np.maximum(iu[0], iu[1])
    best = 0.0
    for tau in range(1 if skip_first else 0, int(tmax.max()) + 1):
        idx = np.flatnonzero(tmax == tau)
        block = jac[np.ix_(idx, idx)]
        best = max(best, float(np.max(np.abs(np.linalg.eigvals(block)))))
    return best


def _validate(cfg, paths, seed, tolerance):
    check_neuron(cfg, ("leaky",), "the break-up analysis")
    paths = check_int("paths", paths, low=1024, high=2**20)
    seed = check_int("seed", seed, low=0)
    tolerance = check_real("tolerance", tolerance, low=0.0, high=10.0, low_open=True)
    return paths, seed, tolerance


def _symmetric(upper: np.ndarray, iu, steps: int) -> np.ndarray:
    out = np.zeros((steps, steps))
    out[iu] = upper
    return out + np.triu(out, 1).T


def _analyse(cfg: NetworkConfig, paths: int, seed: int, stop_growth: float) -> xr.Dataset:
    """Layer loop of :func:`breakup_analysis`; stops at ``g_l >= stop_growth``, ``lambda_l > 1``."""
    mu, s2 = layer_weight_moments(cfg)
    n, L, T = cfg.width, cfg.layers, cfg.steps
    iu = np.triu_indices(T)
    diag = np.flatnonzero(iu[0] == iu[1])
    z = _path_normals(T, paths, 1, seed)[0]
    out = {v: np.full(L + 1, np.nan) for v in ("rate", "growth", "lam", "lam_level", "chi0")}
    with threadpool_limits(1):
        # encoding layer: i.i.d. inputs, h^t = c I at every t (the first Sobol coordinate)
        x0 = cfg.input_factor * np.repeat(z[:, :1], T, axis=1)
        _, acc, _ = _layer_statistics(x0, np.zeros(T), cfg, iu)  # A_0 = D_0
        corr = _encoding_layer(cfg)[-1][iu]  # the exact background C_0
        out["rate"][0] = corr[diag].mean()
        for layer in range(1, L + 1):
            if out["rate"][layer - 1] * n * T < 1.0:
                break  # collapsed: less than one spike per layer and time step
            c_mat = _symmetric(corr, iu, T)
            var_gain, mean_gain = n * s2[layer - 1], n * mu[layer - 1]
            sigma = var_gain * c_mat
            x = z @ _pca_factor(sigma).T
            corr, noise, jac = _layer_statistics(
                x, mean_gain * np.diagonal(c_mat), cfg, iu, sigma, var_gain, mean_gain
            )
            propagated = jac @ acc @ jac.T  # J A J^T; + D below is the fresh (binomial) part
            acc = propagated + noise
            rate = float(corr[diag].mean())
            out["rate"][layer] = rate
            if rate > 0:
                excess = np.maximum(np.diagonal(propagated)[diag], 0.0)
                out["growth"][layer] = float(np.median(np.sqrt(excess))) / rate
            out["chi0"][layer] = jac[0, 0]
            if T > 1:
                out["lam"][layer] = _spectral_radius(jac, iu, skip_first=True)
            v = c_mat[iu]
            out["lam_level"][layer] = float(v @ jac @ v / (v @ v))
            if out["growth"][layer] >= stop_growth and out["lam"][layer] > 1.0:
                break
    ds = xr.Dataset(
        {name: ("layer", values) for name, values in out.items()},
        coords={"layer": layer_coord(L)},
    )
    docs = {
        "rate": "time-averaged rate rbar_l of the n -> infinity background",
        "growth": "g_l: predicted excess SD of the rate over rbar_l, times sqrt(n)",
        "lam": "lambda_l: leading eigenvalue of dC_l/dC_{l-1}, time-step-0 block excluded",
        "lam_level": "gain v^T J v / v^T v of the level perturbation v = C_{l-1}",
        "chi0": "time-step-0 block of dC_l/dC_{l-1} (the one-step slope chi)",
    }
    for name, doc in docs.items():
        ds[name].attrs["long_name"] = doc
    return ds


def breakup_analysis(
    cfg: NetworkConfig, paths: int = 2**15, seed: int = 0, *, tolerance: float = 0.5
) -> xr.Dataset:
    """Linear-noise analysis of the time-homogeneous state, layer by layer.

    Parameters
    ----------
    cfg : NetworkConfig
        Network (any reset variant, ``reset_decay``, ``input_scale`` and rule;
        Gaussian weights are assumed, as by the gram sampler). Analysed over
        ``cfg.layers`` layers or until the background collapses.
    paths : int
        Scrambled-Sobol input paths per layer (in [1024, 2**20]); the same
        normals drive every layer (common random numbers).
    seed : int
        Seed of the Sobol scrambling.
    tolerance : float
        Relative spread at which a layer counts as broken up (the
        ``tolerance`` of :func:`~snninit.theory.unstable_layer`), in (0, 10].

    Returns
    -------
    xarray.Dataset
        Over ``layer`` (0..L): ``rate`` (``rbar_l``, time-averaged rate of
        the ``n -> infinity`` background), ``growth`` (``g_l`` of the module
        docstring, width-independent; NaN at layer 0 and past a collapse),
        ``lam`` (``lambda_l``: the largest ``|eigenvalue|`` of the Jacobian of
        ``C_{l-1} -> C_l`` on the time-inhomogeneous perturbations, i.e. over
        its diagonal blocks ``tau >= 1``; the block ``tau = 0`` is ``chi0``,
        the one-step slope ``chi`` of the level at ``t = 0``) and ``lam_level``
        (the gain ``v^T J v / v^T v`` of the perturbation ``v = C_{l-1}`` that
        rescales the level). Attrs: the configuration, ``kind="breakup"``,
        ``breakup_layer`` (for ``cfg.width``), ``tolerance``, ``paths``,
        ``seed``. Read other widths off the same analysis with
        :func:`crossing_layer`.
    """
    cfg = check_config(cfg)
    paths, seed, tolerance = _validate(cfg, paths, seed, tolerance)
    ds = _analyse(cfg, paths, seed, stop_growth=math.inf)
    return finish_dataset(
        ds,
        cfg,
        kind="breakup",
        paths=paths,
        seed=seed,
        tolerance=tolerance,
        breakup_layer=crossing_layer(ds, cfg.width, tolerance),
        breakup_outcome=breakup_outcome(ds, cfg.width, tolerance)[1],
        method=(
            "linear-noise theory of the finite-width correlation chain around the dynamic "
            "mean field; score-function Jacobian on scrambled-Sobol paths"
        ),
    )


def crossing_layer(analysis: xr.Dataset, width: int, tolerance: float = 0.5) -> float:
    """Break-up layer of width-``width`` networks read off a :func:`breakup_analysis`.

    The first layer where ``g_l >= tolerance sqrt(width)`` while the
    time-inhomogeneous perturbations grow (``lambda_l > 1``), interpolated
    linearly in ``ln g_l`` from the layer before. A large relative spread
    with ``lambda_l <= 1`` (a layer dying out, e.g. Kaiming above its
    saddle-node) is extinction, not break-up, and does not count; nor does
    anything past a collapsed background. ``inf`` if no layer qualifies.

    Parameters
    ----------
    analysis : xarray.Dataset
        A :func:`breakup_analysis` result (``g_l`` does not depend on the width).
    width : int
        Width ``n`` of the networks, >= 1.
    tolerance : float
        The criterion's relative spread, in (0, 10].

    Returns
    -------
    float
        The (fractional) crossing layer, or ``inf``.
    """
    return breakup_outcome(analysis, width, tolerance)[0]


def breakup_outcome(
    analysis: xr.Dataset, width: int, tolerance: float = 0.5
) -> tuple[float, str]:
    """:func:`crossing_layer` and why: ``(layer, outcome)``.

    ``outcome`` is ``"breaks up"`` (``layer`` finite) or, with ``layer = inf``,
    which of the cases it is:

    * ``"stable"``: the time-inhomogeneous perturbations contract
      (``lambda_l <= 1``) at the deepest analysed layer, so ``g_l`` saturates
      there and networks of every width stay time-homogeneous down to it (an
      amplifying region deeper down cannot be excluded without analysing it);
    * ``"collapses"``: the background dies out (``g_l`` undefined past a
      collapse) before any break-up;
    * ``"deeper"``: still growing (``lambda_l > 1``) at the last analysed
      layer, below the criterion: the break-up, if the growth goes on, lies
      deeper than ``cfg.layers`` (analyse more layers to place it).
    """
    check_dataset(
        "analysis", analysis, what="a breakup_analysis result", variables=("growth", "lam")
    )
    width = check_int("width", width, low=1)
    tolerance = check_real("tolerance", tolerance, low=0.0, high=10.0, low_open=True)
    target = math.log(tolerance * math.sqrt(width))
    growth = analysis["growth"].values
    lam = analysis["lam"].values
    layers = analysis["layer"].values
    prev = None  # (layer, ln g) of the last layer with a finite positive g
    last_lam = math.nan
    for layer, g, lam_l in zip(layers[1:], growth[1:], lam[1:]):
        if not np.isfinite(g):
            return math.inf, "collapses"  # nothing left to break up
        last_lam = float(lam_l)
        if g <= 0:
            continue
        lg = math.log(g)
        if lg >= target and lam_l > 1.0:
            if prev is None or lg <= prev[1] or prev[1] >= target:
                return float(layer), "breaks up"
            return float(prev[0] + (target - prev[1]) / (lg - prev[1])), "breaks up"
        prev = (layer, lg)
    return math.inf, ("deeper" if last_lam > 1.0 else "stable")


def breakup_layer(
    cfg: NetworkConfig, paths: int = 2**15, seed: int = 0, *, tolerance: float = 0.5
) -> float:
    """Predicted layer at which width-``cfg.width`` networks break into volleys.

    Linear-noise theory of the exact finite-width chain of spike correlations
    ``C^_l = S_l^T S_l / n`` around its ``n -> infinity`` limit, the dynamic
    mean field (module docstring): the across-network covariance of
    ``C^_l`` is ``A_l / n`` with ``A_l = J_l A_{l-1} J_l^T + D_l``
    (``J_l = dC_l / dC_{l-1}``, ``D_l`` one neuron's covariance of
    ``s s^T``). With ``g_l = median_t sqrt([J_l A_{l-1} J_l^T]_{tt,tt})
    / rbar_l`` (the spread of the rate beyond binomial noise over the
    time-averaged rate, times ``sqrt(n)``; independent of ``n``)

        l* = first layer with  g_l >= tolerance sqrt(n)  and  lambda_l > 1,

    interpolated linearly in ``ln g_l``. Where the growth is geometric,
    ``g_l ~ g_0 Lambda^l`` with ``Lambda = lambda rbar_{l-1} / rbar_l``,
    this is ``l* = l_0 + ln(tolerance sqrt n) / ln Lambda``: the break-up
    moves ``ln 2 / (2 ln Lambda)`` layers deeper per doubling of the width.
    No constant is fitted: ``tolerance`` is the criterion of
    :func:`~snninit.theory.unstable_layer` (0.5 by default) and everything
    else is computed from the path statistics.

    Parameters
    ----------
    cfg : NetworkConfig
        Network; ``cfg.width`` is the width ``n`` of the finite networks and
        the break-up is searched within ``cfg.layers`` layers.
    paths : int
        Input paths per layer for the path expectations (in [1024, 2**20]).
    seed : int
        Seed of the scrambled Sobol paths.
    tolerance : float
        The break-up criterion of :func:`~snninit.theory.unstable_layer`, in (0, 10].

    Returns
    -------
    float
        The crossing layer (``ceil`` of it is the integer layer
        ``unstable_layer`` reports on simulations), or ``inf`` where no
        break-up is predicted within ``cfg.layers``:

        * ``steps == 1``: no time-inhomogeneous perturbation exists (the
          one-step map's slope ``chi`` only moves the level);
        * a stable time-homogeneous state, ``lambda_l <= 1`` (e.g.
          ``beta = 0.9``, or ``theta = 0.5`` at ``beta = 0.5``): ``g_l``
          saturates at O(1) and networks of every width stay time-homogeneous;
        * collapse: the background's rate falls below one spike per layer and
          time step, ``rbar_l < 1 / (n T)``, before any break-up (e.g. Kaiming
          above its saddle-node): the layer is extinct, not broken up, and a
          large relative spread of a dying layer while ``lambda_l <= 1`` does
          not count either.

    Notes
    -----
    Assumptions: Gaussian i.i.d. weights fresh per layer (for which the
    gram sampler is exact), first-order propagation of the ``1/sqrt n``
    fluctuations, which holds while they are small and is extrapolated up to
    the relative spread ``tolerance`` at which the criterion fires. The
    ``n -> infinity`` background is itself computed with ``paths`` paths
    and carries their (QMC-sized) time-inhomogeneity, which grows with the
    same ``lambda``; the predictions agree to 0.1 layer between 2**14 and
    2**16 paths at widths 250..16000 (docs/dmft.md).
    """
    cfg = check_config(cfg)
    paths, seed, tolerance = _validate(cfg, paths, seed, tolerance)
    if cfg.steps == 1:
        return math.inf
    stop = tolerance * math.sqrt(cfg.width)  # the growth is followed up to the criterion
    return crossing_layer(_analyse(cfg, paths, seed, stop_growth=stop), cfg.width, tolerance)


# --------------------------------------------------------------------------
# the break-up observed: simulations and dynamic mean fields
# --------------------------------------------------------------------------


def unstable_layer(ds: xr.Dataset, *, width: int | None = None, tolerance: float = 0.5):
    """First layer from which a single network's cell is not predictable.

    In the temporally unstable regime (e.g. ``beta = 0.5`` with Micheli's rule,
    DESIGN.md 1b) deep layers fire in isolated volleys at time steps that
    differ from network to network: finite-size fluctuations grow with depth
    until the rate of a cell ``(l, t)`` varies between networks as much as its
    mean. From there on only ensemble or time-averaged quantities can be
    compared with a theory.

    The criterion: the across-network standard deviation of the rate in excess
    of the binomial counting noise ``sqrt(r (1 - r) / width)`` (so that a
    dying layer with few spikes is not mistaken for an unstable one), relative
    to the layer's time-averaged rate and taken as the median over time steps,
    reaches ``tolerance``.

    * Simulation dataset (has a ``rep`` dim): the SD is measured across reps.
    * Dynamic-mean-field dataset (``kind == "dmft"``): the SD a network of
      ``width`` neurons would show is predicted from the replicate groups: a
      group of ``m`` paths is a width-``m`` network in distribution (up to the
      common random numbers), and fluctuations scale as ``1 / sqrt(width)``,
      so ``SD_width ~= rate_se * sqrt(paths / width)``. Randomised QMC makes
      groups less noisy than networks, so this flags only clear growth.
      Layers the dataset reports as not converged in paths
      (``attrs["unconverged_from_layer"]``, NaN ``rate_se``) are not
      predicted cell by cell at all: the result is at most that layer.

    Parameters
    ----------
    ds : xarray.Dataset
        A simulation or a ``dynamic_mean_field`` result.
    width : int, optional
        Network width (default: the config's width in ``ds.attrs``).
    tolerance : float
        Relative spread at which cell-wise prediction stops (in (0, 10]).

    Returns
    -------
    int or None
        The first hidden layer meeting the criterion, or None if none does.
    """
    if not isinstance(ds, xr.Dataset):
        raise ValueError(
            "ds must be an xarray.Dataset (a simulation or dynamic_mean_field result); "
            f"got {type(ds).__name__}"
        )
    tolerance = check_real("tolerance", tolerance, low=0.0, high=10.0, low_open=True)
    if "rate" not in ds:
        raise ValueError("ds must contain 'rate' (a simulation or dynamic_mean_field result)")
    # one configuration: a swept dataset is read point by point (length-1 dims are dropped)
    ds = ds.squeeze([d for d in ds["rate"].dims if d not in ("rep", "layer", "time")
                     and ds.sizes[d] == 1], drop=False)
    extra = [d for d in ds["rate"].dims if d not in ("rep", "layer", "time")]
    if extra:
        raise ValueError(
            f"ds must describe one configuration; it sweeps {', '.join(extra)}: select one "
            f"point first, e.g. ds.sel({extra[0]}=ds.{extra[0]}.values[0])"
        )
    if "rep" in ds.dims:
        if ds.sizes["rep"] < 2:
            raise ValueError(
                f"unstable_layer needs a simulation with >= 2 reps; got {ds.sizes['rep']}"
            )
        width = int(ds.attrs["width"]) if width is None else check_limit("width", width)
        rate = ds["rate"]
        spread = rate.std("rep", ddof=1)
        cell = rate.mean("rep")
        level = rate.mean(("rep", "time"))
    elif ds.attrs.get("kind") == "dmft":
        width = int(ds.attrs["width"]) if width is None else check_limit("width", width)
        spread = ds["rate_se"] * math.sqrt(float(ds.attrs["paths"]) / width)
        cell = ds["rate"]
        level = ds["rate"].mean("time")
    else:
        raise ValueError(
            "ds must be a simulation (dims with 'rep') or a dynamic_mean_field result; "
            f"got kind={ds.attrs.get('kind')!r} with dims {tuple(ds.dims)}"
        )
    # only the spread beyond the binomial counting noise of n neurons counts:
    # a dying layer (few spikes) is noisy, not unstable in time
    excess = np.sqrt(np.maximum(spread**2 - cell * (1.0 - cell) / width, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = (excess / level).median("time").values
    layers = ds["layer"].values
    # a silent layer (level 0) is extinct, not unstable: infinite relative spread is skipped
    hit = np.flatnonzero((layers > 0) & np.isfinite(rel) & (rel >= tolerance))
    first = int(layers[hit[0]]) if hit.size else None
    unconverged = ds.attrs.get("unconverged_from_layer") if "rep" not in ds.dims else None
    if unconverged is not None and (first is None or int(unconverged) < first):
        first = int(unconverged)
    return first
