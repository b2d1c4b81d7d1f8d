"""The trainer's exact BPTT gradients at initialisation, as statistics per layer and step.

The Monte Carlo side of :func:`snninit.theory.backward_mean_field`, with the
same interface: ``reps`` independent networks of ``cfg`` (the trainer's
:class:`~snninit.training.SNN` with ``n_inputs = width``, float64, weights
from ``cfg.init`` with the generator ``[seed, rep, 0]``, a data-driven rule calibrated on
64 inputs of the same law: the theory's network, a readout appended and
unused), each fed one standard-normal input for ``cfg.steps``
steps, and BPTT (:meth:`SNN.backward`) started at the last hidden layer's
spikes with ``dL/ds_L^t`` i.i.d. standard normal. Per network: the variance
across neurons of ``dL/du_l^t`` and ``dL/ds_l^t``, and across the entries of
``dL/dW_l``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .._checks import check_bool, check_int, check_real
from ..config import NetworkConfig, check_config, check_limit

__all__ = ["measure_backward"]


def measure_backward(
    cfg: NetworkConfig,
    *,
    reps: int = 20,
    alpha: float = 2.0,
    detach_reset: bool = True,
    seed: int = 0,
) -> xr.Dataset:
    """Measure the error's variance through layers and time in ``reps`` networks.

    Returns
    -------
    xarray.Dataset
        ``var_delta``, ``var_grad_spikes`` over ``(rep, layer, time)`` and
        ``var_grad_w`` over ``(rep, layer)``, hidden layers ``1..L`` (the
        names of :func:`snninit.theory.backward_mean_field`).
    """
    from .._dataset import finish_dataset
    from ..theory.rules import get_rule
    from .model import SNN

    cfg = check_config(cfg)
    reps = check_int("reps", reps, low=2, high=100_000)
    alpha = check_real("alpha", alpha, low=0.0, high=1e6, low_open=True)
    detach_reset = check_bool("detach_reset", detach_reset)
    seed = check_limit("seed", seed)
    n, L, T = cfg.width, cfg.layers, cfg.steps
    from .._resources import check_work

    # per network: L n^2 weights drawn, and about 4 L T n^2 flops forward and back
    check_work("measure_backward", reps * L * n * n * (1 / 1e8 + 4 * T / 1e9),
               8.0 * (L + 1) * n * n + 8.0 * 4 * (L + 1) * T * n,
               f"{reps} networks x {L} layers x {n}^2 weights x {T} steps",
               "use fewer reps, layers, steps or a smaller width")
    var_delta = np.empty((reps, L, T))
    var_gs = np.empty((reps, L, T))
    var_w = np.empty((reps, L))
    needs_data = get_rule(cfg.init).needs_data
    for r in range(reps):
        net = SNN(cfg, n_inputs=n, n_classes=2, alpha=alpha, detach_reset=detach_reset,
                  dtype=np.float64)
        rng = np.random.default_rng([seed, r, 1])
        # a data-driven rule calibrates on a batch of the same inputs
        batch = rng.standard_normal((64, n)) if needs_data else None
        net.initialize(np.random.default_rng([seed, r, 0]), x=batch)
        x = rng.standard_normal((1, n))
        rec = net.forward(x, record=True, upto=L)
        G = rng.standard_normal((T, 1, n))
        grads, dus = net.backward(rec, G, top=L)
        # dL/ds_{l-1} = dU_l W_l^T, the error the layer below receives
        for layer in range(1, L + 1):
            var_delta[r, layer - 1] = dus[layer][:, 0, :].var(axis=1)
            var_w[r, layer - 1] = grads[layer - 1].var()
            if layer == L:
                var_gs[r, layer - 1] = G[:, 0, :].var(axis=1)
            else:
                up = dus[layer + 1][:, 0, :] @ net.weights[layer].T
                var_gs[r, layer - 1] = up.var(axis=1)
    dims = ("rep", "layer", "time")
    ds = xr.Dataset(
        {"var_delta": (dims, var_delta), "var_grad_spikes": (dims, var_gs),
         "var_grad_w": (("rep", "layer"), var_w)},
        coords={"rep": np.arange(reps), "layer": np.arange(1, L + 1), "time": np.arange(T)},
    )
    return finish_dataset(ds, cfg, kind="simulation", alpha=alpha,
                          detach_reset=int(detach_reset), seed=seed,
                          method="the trainer's BPTT (float64), one input per network")
