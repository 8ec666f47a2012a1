"""The independent verifier over many random small instances (acceptance: >= 200 plans per run)."""

from __future__ import annotations

import pytest

import optimizer
from generate import random_instance
from verifier import verify

SEEDS = range(280)
CHUNKS = 8


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_random_plans_verify(chunk):
    for seed in list(SEEDS)[chunk::CHUNKS]:
        data = random_instance(seed)
        inst = optimizer.load_instance(data)
        sol = optimizer.solve(inst)
        assert sol.status in ("optimal", "infeasible"), (seed, sol.status, sol.message)
        if sol.has_plan:
            try:
                verify(inst, sol.model_dump(mode="json"))
            except AssertionError as exc:
                raise AssertionError(f"seed {seed} ({data['objective']}): {exc}") from None
        else:
            assert sol.metrics is None and sol.racks == [] and sol.objective.value is None


def test_enough_random_plans_verified():
    """At least 200 of the random instances must have a plan (else the sweep proves little)."""
    plans = sum(1 for seed in SEEDS if optimizer.solve(random_instance(seed)).has_plan)
    assert plans >= 200, plans
