"""snninit.training (see DESIGN.md section 5)."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "SNN": "model",
    "Record": "model",
    "register_data_initializer": "model",
    "lif_forward": "model",
    "lif_backward": "model",
    "softmax_cross_entropy": "model",
    "measure_backward": "backward_stats",
    "arctan_surrogate": "surrogate",
    "arctan_step": "surrogate",
    "spike_matmul": "products",
    "Adam": "optim",
    "cosine_lr": "optim",
    "TrainConfig": "trainer",
    "train": "trainer",
    "run_study": "study",
    "study_figure": "study",
    "budget_plan": "study",
    "prepare_mnist": "data",
    "prepare_from_idx": "data",
    "read_idx": "data",
    "load_dataset_arrays": "data",
    "synthetic_dataset": "data",
    "standardise": "data",
    "cache_path": "data",
    "data_dir": "data",
    "DataError": "data",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
