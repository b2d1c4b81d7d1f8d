"""The protocols of ``snninit reproduce``: what is simulated and predicted, once.

:func:`experiments` lists the paper's Figs. 2, 3, 4 and 7 and two that the
paper does not show (stability past ``theta*`` and the approach of the exact
chain to the mean-field map); :data:`CONVENTIONS` the other conventions of
the multi-step model held against Fig. 4 (:func:`convention_experiments`);
:func:`rules_settings` the head to head of the initialisation rules. An
:class:`Experiment`'s :meth:`~Experiment.tag` is the exact protocol of one
cached cell (:mod:`snninit.validation.runs`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._checks import check_bool
from ..config import NetworkConfig

__all__ = [
    "Experiment",
    "experiments",
    "PAPER_THETAS",
    "CONVENTIONS",
    "convention_experiments",
    "RULES",
    "rules_settings",
]

#: Thresholds of the paper's Fig. 2 (six values; the paper's text names
#: theta = 0 and theta = 1, the figure's legend the four in between).
PAPER_THETAS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
#: Fig. 3 thresholds and widths (paper section 4.1).
FIG3_THETAS = (0.8, 0.85, 0.9, 1.0)
FIG3_WIDTHS = (100, 600)

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
        Grid; ``dim`` is a NetworkConfig field, or ``n`` for the width.
    reps : int
        Independent networks per cell (0: theory only).
    seed : int
        Base seed; each cell's seed is derived from it and the cell's index.
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

    def cells(self) -> list[dict[str, Any]]:
        grid: list[dict[str, Any]] = [{}]
        for dim, values in self.sweep:
            grid = [{**g, dim: v} for g in grid for v in values]
        return grid

    def config(self, cell: Mapping[str, Any]) -> NetworkConfig:
        changes = {("width" if k == "n" else k): v for k, v in cell.items()}
        return self.base.replace(**changes)

    def cell_seed(self, index: int) -> int:
        # independent, reproducible stream per cell, whatever the run order
        ss = np.random.SeedSequence([self.seed, _stable_hash(self.name), index])
        return int(ss.generate_state(1, dtype=np.uint32)[0])

    def tag(self, what: str, cell: Mapping[str, Any], index: int) -> str:
        """The exact protocol of one cached cell (compared verbatim on resume)."""
        from .._dataset import code_fingerprint
        from ..theory.predictions import get_prediction

        info: dict[str, Any] = {"what": what, "config": self.config(cell).to_dict()}
        if what == "simulation":
            info.update(reps=self.reps, seed=self.cell_seed(index), method=self.method)
        elif get_prediction(what).sampled:
            info.update(paths=self.dmft_paths, seed=self.cell_seed(index))
        info["version"] = code_fingerprint()
        return json.dumps(info, sort_keys=True)


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def experiments(quick: bool = False) -> list[Experiment]:
    """The protocols of ``snninit reproduce`` (``quick``: reduced sizes).

    Full sizes are the paper's: width 1000, 100 layers, 20 repetitions for
    one time step (Figs. 2 and 3, widths 100 and 600 in Fig. 3), 20 time
    steps and 10 repetitions for Fig. 4. Quick mode keeps the widths and
    thresholds of Figs. 2-3 but fewer layers, and a smaller Fig. 4, so the
    whole job takes about a minute on two cores.
    """
    quick = check_bool("quick", quick)
    one = NetworkConfig(width=1000, layers=100, steps=1, init="micheli")
    L = 40 if quick else 100
    out = [
        Experiment(
            name="fig2",
            title="Fig. 2: Var[u_l] over depth, one step, six thresholds, both inits",
            base=one.replace(layers=L),
            sweep=(("init", ("micheli", "kaiming")), ("theta", PAPER_THETAS)),
            reps=20,
            seed=2,
            theories=("finite_size", "mean_field"),
        ),
        Experiment(
            name="fig3",
            title="Fig. 3: finite-size effect, n = 100 and 600, Micheli",
            base=one.replace(layers=L),
            sweep=(("n", FIG3_WIDTHS), ("theta", FIG3_THETAS)),
            reps=20,
            seed=3,
            theories=("finite_size",),
        ),
        Experiment(
            name="beyond",
            title="Near and past theta* ≈ 1.19: Micheli where Var[u] = 1 loses stability",
            base=one.replace(layers=L),
            sweep=(("theta", (1.0, 1.15, 1.25, 1.5)),),
            reps=20,
            seed=5,
            theories=("finite_size", "mean_field"),
        ),
        Experiment(
            name="fig4",
            title="Fig. 4: Var[u_l^t] and spikes over layer x time, beta 0.5 / 0.9, both inits",
            base=NetworkConfig(
                width=300 if quick else 1000,
                layers=30 if quick else 100,
                steps=10 if quick else 20,
                init="micheli",
                theta=1.0,
                reset="subtract",
            ),
            sweep=(("beta", (0.5, 0.9)), ("init", ("micheli", "kaiming"))),
            reps=10,
            seed=4,
            theories=("dmft",),
            dmft_paths=20_000 if quick else 100_000,
        ),
    ]
    return out


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
    repetitions and method, simulations only, named ``fig4_<field>``.
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
