"""The independent verifier over many random small instances (acceptance: >= 200 plans per run)."""

from __future__ import annotations

import pytest

import optimizer
from generate import random_instance
from helpers import solve_and_verify
from verifier import verify

SEEDS = range(280)
CHUNKS = 8


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_random_plans_verify(chunk):
    solve_and_verify(list(SEEDS)[chunk::CHUNKS], random_instance, verify)


def test_enough_random_plans_verified():
    """At least 200 of the random instances must have a plan (else the sweep proves little)."""
    plans = sum(1 for seed in SEEDS if optimizer.solve(random_instance(seed)).has_plan)
    assert plans >= 200, plans
