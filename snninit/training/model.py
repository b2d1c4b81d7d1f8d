"""A deep feed-forward LIF network with hand-written BPTT (numpy + small numba kernels).

Architecture (paper section 5, DESIGN.md section 1b)
-----------------------------------------------------
* layer 0, the **encoding layer**: ``D`` LIF neurons (one per pixel), no
  weights; its membrane receives the standardised pixels ``c x`` every time
  step (``c = 1``, or ``1 - beta`` with ``input_scale="1-beta"``);
* layers ``1..L``: hidden LIF layers of ``width`` neurons, input
  ``I_l^t = s_{l-1}^t W_l`` with ``W_l`` of shape ``(n_{l-1}, n_l)``;
* layer ``L+1``, the **readout**: ``K`` LIF neurons (classes) whose spikes are
  summed over the ``T`` steps, ``z = sum_t s_{L+1}^t``, and fed to softmax
  cross-entropy (mean over the batch). No biases anywhere.

Every LIF layer follows eq. 13 with the previous step's spike as reset
(snntorch's convention, ``u^{-1} = s^{-1} = 0``)::

    subtract:  u^t = beta u^{t-1} + I^t - k theta s^{t-1}   (k = 1, or beta with reset_decay)
    zero:      u^t = beta (1 - s^{t-1}) u^{t-1} + I^t
    none:      u^t = beta u^{t-1} + I^t
    s^t = H(u^t - theta)

Backward pass (BPTT)
--------------------
With ``g^t = dS/dU`` the arctan surrogate at ``u^t`` and ``G^t = dL/ds^t``
arriving from the layer above, the error on the membrane runs backwards in
time::

    du^t = g^t (G^t + [kept reset] d u^{t+1}/d s^t du^{t+1}) + d u^{t+1}/d u^t|_s du^{t+1}

where ``d u^{t+1}/d s^t`` is ``-k theta`` (subtract) or ``-beta u^t`` (zero),
and the direct leak term is ``beta`` (``beta (1 - s^t)`` for zero reset). By
default the reset is detached (the reset spike carries no gradient, as in
snntorch); ``detach_reset=False`` keeps it. Then ``dL/dW_l = S_{l-1}^T dU_l``
and ``G_{l-1} = dU_l W_l^T``, where the time steps are stacked into the rows
so that each layer costs one product forward and two backward, whatever ``T``
(the two with the spikes ``S`` event-driven where they are sparse).

Same numbers for any thread count
---------------------------------
A multithreaded BLAS sums a matrix product in an order that depends on its
thread count (OpenBLAS: ``1.2e-6`` apart in the weights after two epochs
between 1 and 2 threads). Every product here goes through
:mod:`snninit.training.products` instead: the products with a 0/1 factor
(``S W`` forward, ``S^T dU`` for the weights) are event-driven where the
spikes are sparse, each output row summed on one thread in increasing index;
the others go through :func:`fixed_matmul`, whose output is cut into row
blocks that depend only on the shapes (:func:`row_blocks`), each block one
single-threaded BLAS call (BLAS pinned to one thread with threadpoolctl for
the duration of the product), shared out among as many Python threads as BLAS
was allowed (``threadpool_limits``, ``snninit train --threads``). Which of the
two a product takes depends on its spikes only. Each output element is
therefore always computed by the same code on the same data, so forward,
backward, the trainer's weights and metrics are bit-identical whatever the
thread count (tested in ``tests/training/test_training_threads.py``). What
still differs: another BLAS build or CPU (a different kernel), and numbers
from before a change of the products (the event-driven products and the
192-row minimum block of the release that added them changed the last bits).

Initialisation hook
-------------------
Weights come from the rule registry with each layer's own fan-in
(:attr:`SNN.layer_fan_in`). Data-driven rules (those with the
``from_activity`` hook of :class:`~snninit.theory.rules.InitRule`) are applied
layer by layer through :meth:`SNN.init_from_data`: it runs
``forward(x, record=True, upto=l - 1)`` and draws ``W_l`` with the mean and
variance that ``rule.from_activity`` gives at the recorded per-neuron rates of
layer ``l - 1``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .._checks import (
    check_bool,
    check_callable,
    check_choice,
    check_finite_array,
    check_int,
    check_real,
    show,
)
from ..config import NetworkConfig, check_config, check_limit, check_neuron
from .layers import (
    fixed_matmul,
    lif_backward,
    lif_forward,
    row_blocks,
    softmax_cross_entropy,
)
from .products import PRODUCTS, _spike_product

__all__ = [
    "SNN",
    "Record",
    "lif_forward",
    "lif_backward",
    "softmax_cross_entropy",
    "register_data_initializer",
    "fixed_matmul",
    "row_blocks",
]

_ACTIVATIONS = ("heaviside", "smooth")


# --------------------------------------------------------------------------
# the network
# --------------------------------------------------------------------------


@dataclass
class Record:
    """Activity of every layer from :meth:`SNN.forward` with ``record=True``.

    ``membranes[l]`` and ``spikes[l]`` have shape ``(T, B, n_l)`` for layers
    ``l = 0`` (encoding), ``1..L`` (hidden) and ``L+1`` (readout);
    ``reset_signals[l]`` is what the reset term used (the spikes themselves
    unless overridden). ``logits`` = readout spikes summed over time, ``(B, K)``.
    """

    membranes: list[np.ndarray]
    spikes: list[np.ndarray]
    reset_signals: list[np.ndarray]
    logits: np.ndarray | None
    #: where each layer's spikes are 1 (built by the forward products, reused by the
    #: weight gradients); None where the products are always dense
    spike_index: list | None = field(default=None, repr=False)

    def rates(self) -> np.ndarray:
        """Mean spike rate of each recorded layer (spikes per neuron per step)."""
        return np.array([float(s.mean(dtype=np.float64)) for s in self.spikes])


def register_data_initializer(rule: str, fn: Callable) -> None:
    """Deprecated, and without effect: data-driven rules bring their own hook.

    The trainer initialises every data-driven rule (one with
    ``InitRule.from_activity``) layer by layer from that hook
    (:meth:`SNN.initialize`), so there is nothing left to register: give the
    rule ``from_activity=`` when building it (:func:`snninit.theory.register_rule`).
    The arguments are still checked as before (``rule`` a registered
    data-driven rule, ``fn`` callable); then a ``DeprecationWarning`` says that
    ``fn`` is not used.
    """
    import warnings

    from ..theory.rules import get_rule, rule_names

    if not isinstance(rule, str) or rule not in rule_names():
        choices = ", ".join(repr(n) for n in rule_names())
        raise ValueError(f"rule must be a registered rule, one of {choices}; got {show(rule)}")
    check_callable("fn", fn, "fn(model, x, rng)")
    if not get_rule(rule, param="rule").needs_data:
        raise ValueError(
            f"rule {rule!r} does not need data (its weights come from its formula): a data "
            "initialiser for it would never be called; data-driven rules have a "
            "from_activity hook"
        )
    warnings.warn(
        "register_data_initializer is deprecated and has no effect: SNN.initialize applies "
        f"every data-driven rule through its from_activity hook (rule {rule!r} has one); "
        "fn is not called",
        DeprecationWarning,
        stacklevel=2,
    )


def _check_dtype(dtype) -> np.dtype:
    """``dtype`` as numpy's float32 or float64 dtype (a name, a type or a dtype)."""
    allowed = ("float32", "float64")
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        dt = None
    if dt is None or dtype is None or dt.name not in allowed:
        raise ValueError(
            f"dtype must be one of {', '.join(repr(a) for a in allowed)} (or numpy.float32, "
            f"numpy.float64); got {show(dtype)}"
        )
    return dt


class SNN:
    """Feed-forward LIF network: encoding layer, ``cfg.layers`` hidden layers, readout.

    Parameters
    ----------
    cfg : NetworkConfig
        ``width``, ``layers``, ``steps``, ``theta``, ``beta``, ``reset``,
        ``reset_decay``, ``input_scale``, ``init``, ``init_params``, ``weights``.
    n_inputs : int
        Pixels per image, the size of the encoding layer (784 for MNIST).
    n_classes : int
        Readout neurons (10 for MNIST).
    alpha : float
        Sharpness of the arctan surrogate (> 0).
    detach_reset : bool
        If True (default) the reset carries no gradient.
    dtype : {numpy.float32, numpy.float64}
        Precision of weights and activity.
    seed : int or None
        If given, initialise the weights from ``cfg.init`` with this seed
        (rules without data only; see :meth:`initialize`).
    products : {"auto", "dense", "event"}
        How the products with a 0/1 factor (forward drive ``S W``, weight
        gradient ``S^T dU``) are computed (:func:`~snninit.training.products.spike_matmul`):
        event-driven where the spikes are sparse (``auto``, the default), or
        always dense, or always event-driven. The results agree to float32
        rounding (another summation order).

    Attributes
    ----------
    weights : list of ndarray
        ``weights[l - 1]`` is ``W_l`` of shape ``(n_{l-1}, n_l)`` for
        ``l = 1..L+1``.
    """

    def __init__(
        self,
        cfg: NetworkConfig,
        n_inputs: int = 784,
        n_classes: int = 10,
        *,
        alpha: float = 2.0,
        detach_reset: bool = True,
        dtype=np.float32,
        seed: int | None = None,
        products: str = "auto",
    ):
        cfg = check_config(cfg)
        check_neuron(cfg, ("leaky",), "the numpy trainer")
        self.products = check_choice("products", products, PRODUCTS)
        self.cfg = cfg
        self.n_inputs = check_int("n_inputs", n_inputs, low=1)
        self.n_classes = check_int("n_classes", n_classes, low=2)
        self.alpha = check_real("alpha", alpha, low=0.0, low_open=True)
        self.detach_reset = check_bool("detach_reset", detach_reset)
        self.dtype = _check_dtype(dtype)
        if seed is not None:
            seed = check_limit("seed", seed)
        sizes = self.layer_sizes
        # the weights, allocated next, must fit (n_inputs=10**12 is a typo, not a network)
        from .._resources import check_memory

        n_weights = sum(float(a) * b for a, b in zip(sizes[:-1], sizes[1:]))
        check_memory(
            "SNN",
            n_weights * self.dtype.itemsize,
            f"{n_weights:.3g} {self.dtype.name} weights for n_inputs={self.n_inputs}, "
            f"width={cfg.width}, layers={cfg.layers}, n_classes={self.n_classes}",
            "use a smaller n_inputs, width, layers or n_classes",
        )
        self.weights = [np.zeros((a, b), dtype=self.dtype) for a, b in zip(sizes[:-1], sizes[1:])]
        if seed is not None:
            self.initialize(np.random.default_rng(seed))

    # ---- shape ---------------------------------------------------------
    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Neurons per layer: ``(D, width, ..., width, K)``, length ``L + 2``."""
        return (self.n_inputs,) + (self.cfg.width,) * self.cfg.layers + (self.n_classes,)

    @property
    def layer_fan_in(self) -> tuple[int, ...]:
        """Fan-in of the weights ``W_1..W_{L+1}``: ``(D, width, ..., width)``."""
        return self.layer_sizes[:-1]

    def n_parameters(self) -> int:
        return int(sum(w.size for w in self.weights))

    # ---- initialisation ------------------------------------------------
    def layer_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of ``W_1..W_{L+1}`` from ``cfg.init`` (rules without data).

        Rules with a closed form get ``weight_variance(rule, n_in_l, theta,
        beta=, steps=, **init_params)`` with each layer's own fan-in. Rules
        with ``per_layer`` get ``per_layer(cfg.replace(layers=L+1))`` (fan-in
        ``width``) with the first layer's moments rescaled by ``width / D``,
        which keeps ``n_in E[w]`` and ``n_in Var[w]``, the only combinations
        the mean-field input statistics depend on.
        """
        from ..theory.rules import get_rule, weight_mean, weight_variance

        cfg = self.cfg
        rule = get_rule(cfg.init)
        rule.check_params(cfg)
        if rule.needs_data:
            raise ValueError(
                f"init rule {cfg.init!r} needs data: use SNN.initialize(rng, x=batch) "
                "or SNN.init_from_data"
            )
        fan_in = np.array(self.layer_fan_in, dtype=float)
        if rule.per_layer is not None:
            mean, var = rule.per_layer(cfg.replace(layers=cfg.layers + 1))
            mean = np.array(mean, dtype=float)
            var = np.array(var, dtype=float)
            if mean.shape != (cfg.layers + 1,) or var.shape != (cfg.layers + 1,):
                raise RuntimeError(f"rule {cfg.init!r} returned per-layer arrays of a wrong shape")
            mean[0] *= cfg.width / self.n_inputs
            var[0] *= cfg.width / self.n_inputs
        else:
            kw = dict(beta=cfg.beta, steps=cfg.steps, **cfg.init_params)
            var = np.asarray(weight_variance(cfg.init, fan_in, cfg.theta, **kw), dtype=float)
            mean = np.asarray(weight_mean(cfg.init, fan_in, cfg.theta, **kw), dtype=float)
            mean = np.broadcast_to(mean, fan_in.shape).copy()
        return mean, var

    def draw_weights(self, layer: int, mean: float, var: float, rng: np.random.Generator):
        """Set ``W_layer`` (1-based) to i.i.d. weights with this mean and variance."""
        layer = check_int("layer", layer, low=1, high=len(self.weights))
        mean = check_real("mean", mean)
        var = check_real("var", var, low=0.0)
        shape = self.weights[layer - 1].shape
        if self.cfg.weights == "uniform":
            half = np.sqrt(3.0 * var)
            w = rng.uniform(mean - half, mean + half, size=shape)
        else:
            w = mean + np.sqrt(var) * rng.standard_normal(shape)
        self.weights[layer - 1] = w.astype(self.dtype)

    def initialize(self, rng: np.random.Generator, x: np.ndarray | None = None) -> None:
        """Draw every weight from ``cfg.init``.

        A data-driven rule (``from_activity``) is applied to the batch ``x``
        layer by layer (:meth:`init_from_data`): ``W_l`` gets
        ``rule.from_activity(rates, n_in, theta, beta, steps, **params)`` at
        the per-neuron rates of layer ``l - 1`` on ``x`` (spikes averaged over
        batch and steps), ``params`` the rule's resolved ``cfg.init_params``.
        """
        from ..theory.rules import get_rule

        cfg = self.cfg
        rule = get_rule(cfg.init)
        if rule.needs_data:
            if x is None:
                raise ValueError(f"init rule {cfg.init!r} needs a data batch x")
            params = rule.resolve_params(cfg.init_params)

            def moments(layer, n_in, rec):
                rates = rec.spikes[layer - 1].mean(axis=(0, 1), dtype=np.float64)
                return rule.from_activity(rates, n_in, cfg.theta, cfg.beta, cfg.steps, **params)

            self.init_from_data(x, moments, rng)
            return
        mean, var = self.layer_moments()
        for layer in range(1, len(self.weights) + 1):
            self.draw_weights(layer, mean[layer - 1], var[layer - 1], rng)

    def init_from_data(self, x: np.ndarray, moments: Callable, rng: np.random.Generator) -> None:
        """Initialise layer by layer from measured activity (the data-driven hook).

        For ``l = 1..L+1``: run ``forward(x, record=True, upto=l-1)`` with the
        weights set so far, call ``moments(l, n_in, record) -> (mean, var)``
        where ``record.spikes[l-1]`` (shape ``(T, B, n_{l-1})``) is the
        activity feeding ``W_l``, and draw ``W_l`` with that mean and variance.
        """
        x = self._check_input(x)
        for layer in range(1, len(self.weights) + 1):
            rec = self.forward(x, record=True, upto=layer - 1)
            mean, var = moments(layer, self.layer_fan_in[layer - 1], rec)
            self.draw_weights(layer, float(mean), float(var), rng)

    # ---- passes ----------------------------------------------------------
    def _check_input(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"x must have shape (batch, {self.n_inputs}); got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("x must be finite (standardised pixels)")
        return np.ascontiguousarray(x, dtype=self.dtype)

    def _lif(self, I, layer, activation, reset_signal=None):  # noqa: E741
        cfg = self.cfg
        return lif_forward(
            I,
            beta=cfg.beta,
            theta=cfg.theta,
            reset=cfg.reset,
            reset_decay=cfg.reset_decay,
            alpha=self.alpha,
            activation=activation,
            reset_signal=reset_signal,
        )

    def forward(
        self,
        x,
        *,
        record: bool = False,
        upto: int | None = None,
        activation: str = "heaviside",
        reset_signals: Sequence | None = None,
    ):
        """Forward pass.

        Parameters
        ----------
        x : ndarray, shape (B, D)
            Standardised inputs.
        record : bool
            Return a :class:`Record` of every layer instead of the logits.
        upto : int, optional
            Stop after layer ``upto`` (0 = encoding layer only); implies
            ``record=True`` is useful (logits are None unless the readout ran).
        activation : {"heaviside", "smooth"}
            ``smooth`` replaces H by the arctan step (tests only).
        reset_signals : list of ndarray, optional
            Per-layer fixed reset signals (tests only).

        Returns
        -------
        logits (B, K) or Record
        """
        check_choice("activation", activation, _ACTIVATIONS)
        x = self._check_input(x)
        last = (
            len(self.weights)
            if upto is None
            else check_int("upto", upto, low=0, high=len(self.weights))
        )
        T = self.cfg.steps
        c = self.cfg.input_factor
        drive = np.broadcast_to(self.dtype.type(c) * x, (T, *x.shape))
        rs = reset_signals or [None] * (len(self.weights) + 1)
        U, S = self._lif(drive, 0, activation, rs[0])
        mems, spikes, index = [U], [S], []
        for layer in range(1, last + 1):
            prev = spikes[-1]
            T_, B, n = prev.shape
            current, _, rows = _spike_product(
                prev.reshape(T_ * B, n), self.weights[layer - 1], False, self.products
            )
            index.append(rows)
            current = current.reshape(T_, B, -1)
            U, S = self._lif(current, layer, activation, rs[layer])
            mems.append(U)
            spikes.append(S)
        logits = spikes[-1].sum(axis=0) if last == len(self.weights) else None
        if not record:
            return logits
        resets = [
            s if r is None else np.asarray(r, dtype=self.dtype)
            for s, r in zip(spikes, rs, strict=False)
        ]
        return Record(mems, spikes, resets, logits, index + [None])

    def loss_and_grad(
        self, x, labels, *, activation: str = "heaviside", reset_signals: Sequence | None = None
    ):
        """Cross-entropy loss, gradients ``dL/dW_l`` (list like ``weights``) and logits.

        BPTT as in the module docstring; the surrogate is the arctan one with
        ``self.alpha``. ``activation``/``reset_signals`` as in :meth:`forward`.
        """
        labels = np.asarray(labels)
        rec = self.forward(x, record=True, activation=activation, reset_signals=reset_signals)
        if labels.shape != (rec.logits.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be integers of shape ({rec.logits.shape[0]},)")
        if labels.min() < 0 or labels.max() >= self.n_classes:
            raise ValueError(f"labels must be in [0, {self.n_classes - 1}]")
        loss, dlogits = softmax_cross_entropy(rec.logits, labels)
        G = np.broadcast_to(dlogits, (self.cfg.steps, *dlogits.shape))
        grads, _ = self.backward(rec, G)
        return loss, grads, rec.logits

    def backward(self, rec: Record, G, top: int | None = None):
        """BPTT from ``G = dL/ds_top`` (T, batch, n_top) down to the first weights.

        ``rec`` is a recorded forward pass (:meth:`forward` with ``record=True``);
        ``top`` the layer whose spikes ``G`` belongs to (default: the readout,
        ``L + 1``). Returns ``(grads, dU)``: ``grads[l - 1] = dL/dW_l`` for
        ``l = 1..top`` (None above) and ``dU[l] = dL/du_l`` (T, batch, n_l)
        for ``l = 1..top`` (``dU[0]`` None).
        """
        cfg = self.cfg
        T = cfg.steps
        top = len(self.weights) if top is None else check_int("top", top, low=1,
                                                                high=len(self.weights))
        if len(rec.membranes) <= top:
            raise ValueError(
                f"rec must record layers 0..{top} (forward(..., record=True, upto={top}) or "
                f"more); it has {len(rec.membranes)} layers"
            )
        grads: list[np.ndarray] = [None] * len(self.weights)  # type: ignore[list-item]
        dus: list[np.ndarray] = [None] * (top + 1)  # type: ignore[list-item]
        for layer in range(top, 0, -1):
            dU = lif_backward(
                rec.membranes[layer],
                rec.reset_signals[layer],
                G,
                beta=cfg.beta,
                theta=cfg.theta,
                reset=cfg.reset,
                reset_decay=cfg.reset_decay,
                alpha=self.alpha,
                detach_reset=self.detach_reset,
            )
            dus[layer] = dU
            prev = rec.spikes[layer - 1]
            _, B, n_prev = prev.shape
            dU2 = dU.reshape(T * B, -1)
            grads[layer - 1], _, _ = _spike_product(
                prev.reshape(T * B, n_prev), dU2, True, self.products,
                rows_index=rec.spike_index[layer - 1],
            )
            if layer > 1:
                G = fixed_matmul(dU2, self.weights[layer - 1].T).reshape(T, B, n_prev)
        return grads, dus

    def predict(self, x, batch: int = 1000) -> np.ndarray:
        """Predicted class (argmax of the summed readout spikes; ties -> lowest index)."""
        x = np.asarray(x)
        out = [np.argmax(self.forward(x[i : i + batch]), axis=1) for i in range(0, len(x), batch)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Replace all weights (shapes must match :attr:`layer_sizes`)."""
        if len(weights) != len(self.weights):
            raise ValueError(f"weights must be {len(self.weights)} arrays; got {len(weights)}")
        new = []
        for i, (w, old) in enumerate(zip(weights, self.weights, strict=True)):
            w = check_finite_array(f"weights[{i}]", w)
            if w.shape != old.shape:
                raise ValueError(f"weights[{i}] must have shape {old.shape}; got {w.shape}")
            new.append(w)
        # in place, so that an optimiser holding these arrays keeps working
        for old, w in zip(self.weights, new, strict=True):
            old[...] = w
