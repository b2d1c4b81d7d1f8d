"""The protocols of ``snninit reproduce``: what is simulated and predicted, once.

:func:`experiments` runs the table :data:`snninit.protocols.PROTOCOLS` (the
paper's Figs. 2, 3, 4 and 7, which ``snninit simulate --preset`` runs too,
and two that the paper does not show: stability past ``theta*`` and the
approach of the exact chain to the mean-field map), adding what reproduce
does with each: its master seed and its predictions. :data:`CONVENTIONS`
are the other conventions of the multi-step model held against Fig. 4
(:func:`convention_experiments`); :func:`rules_settings` the head to head
of the initialisation rules. An :class:`Experiment`'s :meth:`~Experiment.tag`
is the exact protocol of one cached cell (:mod:`snninit.validation.runs`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .._checks import check_bool
from ..config import NetworkConfig
from ..grid import Grid, make_grid, point_seed, protocol_tag
from ..protocols import FIG3_THETAS, FIG3_WIDTHS, PAPER_THETAS, PROTOCOLS

__all__ = [
    "Experiment",
    "experiments",
    "PAPER_THETAS",
    "FIG3_THETAS",
    "FIG3_WIDTHS",
    "CONVENTIONS",
    "convention_experiments",
    "RULES",
    "PHASE",
    "phase_settings",
    "rules_settings",
]

# Family-wise false-failure rate of every verdict in the report.
ALPHA = 1e-3


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One protocol: a base network swept over a grid, simulated and predicted.

    Attributes
    ----------
    name : str
        File stem of its datasets (``OUT/data/<name>_simulation.nc``).
    title : str
        One line for the report.
    base : NetworkConfig
        The network every cell starts from.
    sweep : tuple of (dim, values)
        Grid (:attr:`over` is the mapping); ``dim`` is a NetworkConfig field,
        or ``n`` for the width.
    reps : int
        Independent networks per cell (0: theory only).
    seed : int
        Master seed; the cell with coordinates ``c`` uses
        :func:`snninit.grid.point_seed` ``(seed, c)`` (:meth:`cell_seed`).
    method : str
        Monte Carlo method (``gram`` is exact for Gaussian weights).
    theories : tuple of str
        Predictions computed per cell: names in :data:`snninit.theory.PREDICTIONS`
        or their aliases (``finite_size``, ``mean_field``, ``dmft``); a cell's
        cache file and tag carry the name as written here.
    dmft_paths : int
        Sampled input paths of the dynamic mean field.
    """

    name: str
    title: str
    base: NetworkConfig
    sweep: tuple[tuple[str, tuple], ...]
    reps: int
    seed: int = 0
    method: str = "gram"
    theories: tuple[str, ...] = ("finite_size",)
    dmft_paths: int = 100_000

    @property
    def over(self) -> dict[str, tuple]:
        """The grid as ``over={dim: values}`` (:func:`snninit.grid.make_grid`)."""
        return dict(self.sweep)

    def grid(self) -> Grid:
        return make_grid(self.base, self.over)

    def cells(self) -> list[dict[str, Any]]:
        """The coordinates of every cell, in C order."""
        return self.grid().cells()

    def config(self, cell: Mapping[str, Any]) -> NetworkConfig:
        changes = {("width" if k == "n" else k): v for k, v in cell.items()}
        return self.base.replace(**changes)

    def cell_seed(self, index: int) -> int:
        """:func:`snninit.grid.point_seed` of cell ``index`` (of its values, not the run order)."""
        return point_seed(self.seed, self.grid().coords(index))

    def seeded(self, what: str) -> bool:
        """Whether ``what`` (``simulation`` or a prediction) draws random numbers."""
        from ..theory.predictions import get_prediction

        return what == "simulation" or get_prediction(what).sampled

    def tag(self, what: str, cell: Mapping[str, Any], index: int) -> str:
        """The exact protocol of one cached cell (compared verbatim on resume)."""
        info: dict[str, Any] = {"what": what}
        if what == "simulation":
            info.update(reps=self.reps, seed=self.cell_seed(index), method=self.method)
        elif self.seeded(what):
            info.update(paths=self.dmft_paths, seed=self.cell_seed(index))
        return protocol_tag(self.config(cell), **info)


def _experiment(name: str, quick: bool, **reproduce: Any) -> Experiment:
    """The protocol ``name`` of :data:`snninit.protocols.PROTOCOLS`, with reproduce's settings."""
    p = PROTOCOLS[name]
    base = p.quick_base() if quick else p.base
    return Experiment(
        name=p.name, title=p.title, base=base, sweep=p.sweep, reps=p.reps, **reproduce
    )


def experiments(quick: bool = False) -> list[Experiment]:
    """The protocols of ``snninit reproduce`` (``quick``: reduced sizes).

    The networks, grids and repetitions are :data:`snninit.protocols.PROTOCOLS`
    (``quick``: at its :attr:`~snninit.protocols.Protocol.quick` sizes); the
    master seeds and predictions are reproduce's. Full sizes are the paper's:
    width 1000, 100 layers, 20 repetitions for one time step (Figs. 2 and 3,
    widths 100 and 600 in Fig. 3), 20 time steps and 10 repetitions for
    Fig. 4. Quick mode keeps the widths and thresholds of Figs. 2-3 but fewer
    layers, and a smaller Fig. 4, so the whole job takes about a minute on
    two cores.
    """
    quick = check_bool("quick", quick)
    return [
        _experiment("fig2", quick, seed=2, theories=("finite_size", "mean_field")),
        _experiment("fig3", quick, seed=3, theories=("finite_size",)),
        _experiment("beyond", quick, seed=5, theories=("finite_size", "mean_field")),
        _experiment(
            "fig4", quick, seed=4, theories=("dmft",), dmft_paths=20_000 if quick else 100_000
        ),
        # dense: the one sampler that is exact for the recurrent layer too
        _experiment(
            "neurons", quick, seed=6, method="dense", theories=("dmft",),
            dmft_paths=20_000 if quick else 100_000,
        ),
    ]


# ---------------------------------------------------------------------------
# where our results and the paper differ (Fig. 4)

#: Conventions of the multi-step model tried against the paper's Fig. 4
#: (DESIGN 1b): name, NetworkConfig changes. The first is eq. 13 as written.
CONVENTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("eq. 13 as written (reset `subtract`, delayed)", {}),
    ('reset to zero (`reset="zero"`)', {"reset": "zero"}),
    ("reset before the leak (`reset_decay=True`, spikingjelly)", {"reset_decay": True}),
    ('input scaled by 1 − β (`input_scale="1-beta"`)', {"input_scale": "1-beta"}),
)


def convention_experiments(fig4: Experiment) -> list[Experiment]:
    """The Fig. 4 protocol (its base, Micheli, both leaks) under each other convention.

    One :class:`Experiment` per entry of :data:`CONVENTIONS` after the first
    (eq. 13 as written is ``fig4`` itself): same width, depth, steps,
    repetitions and method, simulations only, named ``fig4_<field>``. Its
    master seed is :func:`snninit.grid.point_seed` ``(fig4.seed, changes)``
    (the same rule one level up), so every convention draws its own networks.
    """
    betas = next((tuple(v) for d, v in fig4.sweep if d == "beta"), (fig4.base.beta,))
    out = []
    for _label, changes in CONVENTIONS[1:]:
        out.append(
            dataclasses.replace(
                fig4,
                name=_convention_name(changes),
                title=f"Fig. 4 protocol with {changes}",
                base=fig4.base.replace(init="micheli", **changes),
                sweep=(("beta", betas),),
                seed=point_seed(fig4.seed, changes),
                theories=(),
            )
        )
    return out


def _convention_name(changes: Mapping[str, Any]) -> str:
    return "fig4_" + "_".join(changes)


# ---------------------------------------------------------------------------
# the head to head of the initialisation rules (snninit.validation.rules_comparison)

#: Name of the rules experiment (for ``--only``).
RULES = "rules"


def rules_settings(quick: bool = False) -> dict[str, Any]:
    """Keyword arguments of :func:`~snninit.validation.compare_rules` for ``reproduce``.

    Full: its defaults (n = 1000, L = 100, T in {1, 20}, beta in {0.5, 0.9},
    theta in {0.5, 1}, 10 networks per cell, and the short MNIST run of every
    rule). Quick: n = 200, L = 20, T in {1, 10}, 4 networks, no training (a
    few seconds).
    """
    if quick:
        return dict(width=200, layers=20, steps=(1, 10), reps=4, seed=7, train=False)
    return dict(seed=7, train=True)


# ---------------------------------------------------------------------------
# the (theta, beta) phase diagram per rule (snninit.validation.phase)

#: Name of the phase-diagram experiment (for ``--only``).
PHASE = "phase"


def phase_settings(quick: bool = False) -> dict[str, Any]:
    """Keyword arguments of :func:`~snninit.validation.phase.phase_diagram` for ``reproduce``.

    Full: n = 1000, L = 10, T = 10, the rules micheli, dmft and kaiming over 8
    thresholds x 6 leaks, 4096 paths, four points per rule simulated (6
    networks each). Quick: n = 300, L = 6, T = 5, micheli and kaiming over 4 x
    2, 2048 paths, two points (4 networks).
    """
    if quick:
        return dict(base=NetworkConfig(width=300, layers=6, steps=5),
                    rules=("micheli", "kaiming"), thetas=(0.5, 1.0, 1.5, 2.0),
                    betas=(0.5, 0.9), simulated=((1.0, 0.9), (0.5, 0.5)), paths=2048,
                    reps=4, seed=11)
    return dict(base=NetworkConfig(width=1000, layers=10, steps=10),
                rules=("micheli", "dmft", "kaiming"),
                thetas=(0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0),
                betas=(0.0, 0.25, 0.5, 0.75, 0.9, 0.95),
                simulated=((0.5, 0.5), (1.0, 0.9), (1.5, 0.75), (2.0, 0.95)), paths=4096,
                reps=6, seed=11)
