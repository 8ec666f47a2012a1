"""The solver status is mapped completely, and each outcome reaches the user correctly."""

from __future__ import annotations

import random

import pytest
from pyomo.contrib.solver.common.results import TerminationCondition

import optimizer
import optimizer.solving.engine as solve_mod
from helpers import gpu, tier, tiny
from optimizer.solving.highs import STATUS_MAP, HighsAdapter, SolveResult
from verifier import verify


def instance():
    inst = tiny()
    inst["hardware"] = [gpu()]
    inst["tiers"] = [tier("t", 10, 1.0)]
    return inst


def test_every_termination_condition_is_mapped():
    assert set(TerminationCondition) == set(STATUS_MAP)
    assert set(STATUS_MAP.values()) == {"optimal", "time_limit", "infeasible", "infeasible_or_unbounded", "unbounded", "error"}


class Relabel(HighsAdapter):
    """A real HiGHS run whose first result is relabelled, to reach paths no tiny model hits."""

    outcome: tuple[str, bool] = ("time_limit", True)
    gap: float | None = 0.01

    def solve(self, model, time_limit, **kw):
        res = super().solve(model, time_limit, **kw)
        if getattr(self, "_done", False):
            return res
        self._done = True
        status, keep = self.outcome
        if not keep:
            return SolveResult(status, False, None, None, None, res.seconds, status)
        bound = None if self.gap is None else res.objective * (1 + self.gap)
        return SolveResult(status, True, res.objective, bound, self.gap, res.seconds, status)


@pytest.fixture
def relabel(monkeypatch):
    def use(status, keep, gap=0.01):
        cls = type("R", (Relabel,), {"outcome": (status, keep), "gap": gap})
        monkeypatch.setattr(solve_mod, "HighsAdapter", cls)

    return use


def test_time_limit_with_incumbent_reports_plan_and_gap(relabel):
    relabel("time_limit", True)
    sol = optimizer.solve(instance())
    assert sol.status == "time_limit" and sol.has_plan
    assert sol.mip_gap == pytest.approx(0.01)
    assert "gap" in sol.message


def test_time_limit_with_incumbent_but_no_bound(relabel):
    relabel("time_limit", True, gap=None)
    sol = optimizer.solve(instance())
    assert sol.status == "time_limit" and sol.has_plan and sol.mip_gap is None
    assert "gap unknown" in sol.message


def test_time_limit_without_incumbent(relabel):
    relabel("time_limit", False)
    sol = optimizer.solve(instance())
    assert sol.status == "time_limit" and not sol.has_plan and "before any plan" in sol.message


def test_error_is_reported(relabel):
    relabel("error", False)
    sol = optimizer.solve(instance())
    assert sol.status == "error" and not sol.has_plan


def test_infeasible_or_unbounded_is_resolved(relabel):
    relabel("infeasible_or_unbounded", False)
    assert optimizer.solve(instance()).status == "unbounded"  # the probe finds a feasible plan
    inst = instance()
    inst["tiers"][0]["min_tokens_per_s"] = 1e12
    relabel("infeasible_or_unbounded", False)
    assert optimizer.solve(inst).status == "infeasible"


def hard_knapsack() -> dict:
    """120 rack types, a budget and a grid: a two-constraint integer knapsack that HiGHS needs
    ~0.3 s to prove optimal at zero gap on this machine."""
    rng = random.Random(7)
    inst = tiny(grid_power_mw=7.777, capex_budget_usd=5.55e7)
    inst["facility"]["halls"][0]["rack_slots"] = 500
    inst["hardware"] = [
        gpu(f"h{i}", kw=round(rng.uniform(50, 150), 3), capex=round(rng.uniform(5e5, 2e6)),
            curve=((10, round(rng.uniform(5e3, 2e4))),), max_racks=rng.randint(1, 9))
        for i in range(120)
    ]
    inst["tiers"] = [tier("t", 10, 1.0)]
    return inst


def test_real_time_limit_reports_incumbent_and_gap():
    inst = hard_knapsack()
    sol = optimizer.solve(inst, objective="tokens", time_limit=0.01, mip_gap=0.0)
    assert sol.status == "time_limit"
    if sol.has_plan:  # the incumbent is a real plan, with its gap
        assert sol.mip_gap is not None and sol.mip_gap > 0
        verify(optimizer.load_instance(inst), sol.model_dump(mode="json"))
    else:
        assert sol.metrics is None and "before any plan" in sol.message
    full = optimizer.solve(inst, objective="tokens", mip_gap=0.0)
    assert full.status == "optimal" and full.mip_gap == 0.0
