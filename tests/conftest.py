"""Shared pytest configuration: deterministic hypothesis, fixed seeds."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Derandomised so CI is reproducible; `HYPOTHESIS_PROFILE=explore` searches afresh.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
settings.register_profile("explore", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
