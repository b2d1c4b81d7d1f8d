"""Neuron models, each defined once (DESIGN.md 1b, 1c) and used by every layer above.

The models (:mod:`~snninit.models.neurons` names them and their parameters):
``leaky`` (:mod:`~snninit.models.leaky`), ``synaptic`` (current-based,
:mod:`~snninit.models.synaptic`), ``adaptive`` (adaptive threshold,
:mod:`~snninit.models.adaptive`) and ``recurrent`` (the leaky neuron with
all-to-all recurrence, :mod:`~snninit.models.recurrent`). The leaky neuron
provides, in one file of this package:

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

from . import adaptive, gradients, inputs, leaky, neurons, recurrent, statistics, synaptic
from .adaptive import *  # noqa: F403  (each model's public names, listed once in its file)
from .gradients import *  # noqa: F403
from .inputs import *  # noqa: F403
from .leaky import *  # noqa: F403
from .neurons import *  # noqa: F403
from .recurrent import *  # noqa: F403
from .statistics import *  # noqa: F403
from .synaptic import *  # noqa: F403

__all__ = [
    *leaky.__all__, *neurons.__all__, *synaptic.__all__, *adaptive.__all__, *recurrent.__all__,
    *gradients.__all__, *inputs.__all__, *statistics.__all__,
]
