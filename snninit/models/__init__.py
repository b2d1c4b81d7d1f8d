"""Neuron models, each defined once (DESIGN.md 1b, 1c) and used by every layer above.

A neuron model provides, in one file of this package:

* its reset variants and their integer codes (``RESETS``, ``RESET_CODES``);
* the input factor of the encoding layer (``input_factor(beta, input_scale)``);
* the state update as plain arithmetic on scalars or arrays
  (``membrane_update(u_prev, s_prev, drive, *params)``) and the spike rule
  (``spike(u, theta)``), with numba ``inline="always"`` twins (``*_jit``) so
  that the Monte Carlo kernels and the dynamic mean field's path kernel run
  the very same expression as the numpy callers (diffusion rule, trainer);
* the layer's time loop as a numba kernel (``lif_layer(u, s, ...)``: drive in,
  membranes and spikes out, in place), which the Monte Carlo engine, the
  data-driven stacks and the direct simulations of the rules run.

The Monte Carlo engine (:mod:`snninit.montecarlo.kernels`), the dynamic mean
field (:mod:`snninit.theory.dmft`), the diffusion rule and the trainer call
these functions; a test runs each of them against :func:`membrane_update` step
by step (``tests/test_models.py``).
"""

from . import leaky
from .leaky import *  # noqa: F403  (the neuron's public names, listed once in leaky)

__all__ = list(leaky.__all__)
