"""The paper's experiments, once: what is simulated (network, grid, repetitions).

:data:`PROTOCOLS` is the one table that both ``snninit simulate --preset``
(:mod:`snninit.montecarlo.presets`, the paper's figures) and ``snninit
reproduce`` (:func:`snninit.validation.protocols.experiments`, which adds
its seeds and predictions) run:

=======  ===========================  ======================================  ====
name     base                         grid ``over``                           reps
=======  ===========================  ======================================  ====
fig2     n=1000, L=100, T=1           init x theta (0, 0.2, ..., 1)           20
fig3     L=100, T=1, Micheli          n (100, 600) x theta (0.8, .85, .9, 1)  20
beyond   n=1000, L=100, T=1, Micheli  theta (1, 1.15, 1.25, 1.5)              20
fig4     n=1000, L=100, T=20, theta=1 beta (0.5, 0.9) x init                  10
neurons  n=1000, L=30, T=20, beta=0.7 neuron (leaky, synaptic, adaptive,      10
                                      recurrent)
=======  ===========================  ======================================  ====

(``init`` is ``("micheli", "kaiming")``; the dim of the width is ``n``;
``beyond`` is not a figure of the paper: stability past ``theta*``; nor is
``neurons``: every neuron model of :mod:`snninit.models` at its default
parameters, Micheli's rule, theta 1.)
Fig. 3's thresholds are the paper's (section 4.1 and the caption of its
Fig. 3: theta > 0.85, and theta = 1, for n = 100 and 600). ``reproduce
--quick`` runs every protocol at the sizes of :attr:`Protocol.quick`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .config import NetworkConfig
from .grid import Grid, make_grid

__all__ = [
    "Protocol",
    "PROTOCOLS",
    "PAPER_FIGURES",
    "PAPER_THETAS",
    "FIG3_THETAS",
    "FIG3_WIDTHS",
    "INITS",
]

#: Thresholds of the paper's Fig. 2 (six values; the paper's text names
#: theta = 0 and theta = 1, the figure's legend the four in between).
PAPER_THETAS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
#: Fig. 3 thresholds and widths (paper section 4.1 and the caption of Fig. 3).
FIG3_THETAS = (0.8, 0.85, 0.9, 1.0)
FIG3_WIDTHS = (100, 600)
#: The two initialisations the paper compares.
INITS = ("micheli", "kaiming")


@dataclasses.dataclass(frozen=True)
class Protocol:
    """One experiment: a ``base`` network run over a grid ``sweep``, ``reps`` networks per cell.

    Attributes
    ----------
    name, title : str
        Short name (preset and file stem) and one line for help texts and reports.
    base : NetworkConfig
        The network every cell starts from.
    sweep : tuple of (dim, values)
        The grid, in order (the first dim slowest); :attr:`over` is the mapping.
    reps : int
        Independent networks per cell.
    quick : mapping
        Changes of ``base`` for ``reproduce --quick`` (fewer layers, a smaller Fig. 4).
    """

    name: str
    title: str
    base: NetworkConfig
    sweep: tuple[tuple[str, tuple[Any, ...]], ...]
    reps: int
    quick: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "quick", MappingProxyType(dict(self.quick)))

    @property
    def over(self) -> dict[str, tuple[Any, ...]]:
        """The grid as ``over={dim: values}`` (:func:`snninit.grid.make_grid`)."""
        return dict(self.sweep)

    def grid(self) -> Grid:
        return make_grid(self.base, self.over)

    def cells(self) -> list[tuple[dict[str, Any], NetworkConfig]]:
        """Every ``(coords, config)`` of the grid, in C order."""
        grid = self.grid()
        return [(grid.coords(i), grid.config(self.base, i)) for i in range(grid.size)]

    def quick_base(self) -> NetworkConfig:
        """``base`` at the sizes of ``reproduce --quick``."""
        return self.base.replace(**self.quick)


_ONE_STEP = NetworkConfig(width=1000, layers=100, steps=1, init="micheli")
_QUICK_ONE_STEP = {"layers": 40}

PROTOCOLS: Mapping[str, Protocol] = MappingProxyType(
    {
        "fig2": Protocol(
            name="fig2",
            title="Fig. 2: Var[u_l] over depth, one step, six thresholds, both inits",
            base=_ONE_STEP,
            sweep=(("init", INITS), ("theta", PAPER_THETAS)),
            reps=20,
            quick=_QUICK_ONE_STEP,
        ),
        "fig3": Protocol(
            name="fig3",
            title="Fig. 3: finite-size effect, n = 100 and 600, Micheli",
            base=_ONE_STEP,
            sweep=(("n", FIG3_WIDTHS), ("theta", FIG3_THETAS)),
            reps=20,
            quick=_QUICK_ONE_STEP,
        ),
        "beyond": Protocol(
            name="beyond",
            title="Near and past theta* ≈ 1.19: Micheli where Var[u] = 1 loses stability",
            base=_ONE_STEP,
            sweep=(("theta", (1.0, 1.15, 1.25, 1.5)),),
            reps=20,
            quick=_QUICK_ONE_STEP,
        ),
        "fig4": Protocol(
            name="fig4",
            title="Fig. 4: Var[u_l^t] and spikes over layer x time, beta 0.5 / 0.9, both inits",
            base=NetworkConfig(
                width=1000, layers=100, steps=20, init="micheli", theta=1.0, reset="subtract"
            ),
            sweep=(("beta", (0.5, 0.9)), ("init", INITS)),
            reps=10,
            quick={"width": 300, "layers": 30, "steps": 10},
        ),
        "neurons": Protocol(
            name="neurons",
            title="Neuron models: Var[u_l^t] and rate over layer x time for leaky, synaptic, "
            "adaptive and recurrent neurons (beta 0.7, Micheli)",
            base=NetworkConfig(
                width=1000, layers=30, steps=20, init="micheli", theta=1.0, beta=0.7
            ),
            sweep=(("neuron", ("leaky", "synaptic", "adaptive", "recurrent")),),
            reps=10,
            quick={"width": 300, "layers": 15, "steps": 10},
        ),
    }
)

#: The protocols that are figures of the paper (the presets).
PAPER_FIGURES = ("fig2", "fig3", "fig4")
