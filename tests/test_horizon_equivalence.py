"""Multi-year: the verifier over random horizons, and v1 equivalence (MODEL.md section 11: one
period of one year gives exactly the v1 answer).

The equivalence runs three ways: every shipped one-period instance, random v1 instances, and
every hand-worked test of test_objectives/test_families re-run with ``optimizer.solve``
replaced by a function that also solves each instance under an explicit one-period horizon and
requires the same answer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import optimizer
import test_families
import test_objectives
from generate import random_horizon_instance, random_instance
from helpers import hand_worked, rerun_with_twin, solve_and_verify
from optimizer.model.schema import Instance
from optimizer.solving.results import MARKET_FIELDS
from verifier import verify, verify_horizon

ROOT = Path(__file__).resolve().parent.parent
SEEDS = range(150)
CHUNKS = 6


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_random_horizons_verify(chunk):
    solve_and_verify(list(SEEDS)[chunk::CHUNKS], random_horizon_instance, verify_horizon)


def test_enough_random_horizon_plans():
    """Acceptance: the verifier passes on at least 100 random multi-year instances per run."""
    plans = sum(1 for seed in SEEDS if optimizer.solve(random_horizon_instance(seed)).has_plan)
    assert plans >= 100, plans


# --------------------------------------------------------------------------- equivalence


def one_period(inst: Instance) -> dict:
    doc = inst.model_dump(mode="json", exclude_none=True)
    doc["horizon"] = {"start_year": 2026, "period_years": [1]}
    return doc


def assert_same(v1, v2, gap: float) -> None:
    """Same status, same objective, and the same value of the second stage's tie-break (COST, or
    F for profit and min_cost): the figures section 7 fixes. Other figures (revenue under the
    tokens objective, say) may differ between equally good plans."""
    assert v2.status == v1.status, (v1.message, v2.message)
    if not v1.has_plan:
        return
    rel = max(2 * gap, 1e-7)
    assert v2.objective.value == pytest.approx(v1.objective.value, rel=rel, abs=1e-9)
    m1, m2 = v1.metrics, v2.metrics
    if v1.objective.name in ("profit", "min_cost"):
        assert m2.mean_facility_power_mw == pytest.approx(m1.facility_power_mw, rel=max(rel, 1e-5), abs=1e-6)
    else:
        assert m2.discounted_cost_usd == pytest.approx(m1.cost_usd_per_year, rel=max(rel, 1e-5), abs=1e-3)


def period_as_v1(sol) -> dict:
    """The single period of a one-period horizon solution, in the v1 JSON shape."""
    p = sol.periods[0]
    m = sol.metrics
    doc = sol.model_dump(mode="json")
    # v1's power figures are the year's hours-weighted means with slices (12.3), the period's
    # power its busiest slice's (12.4)
    mean = (lambda key: sum(sl.hours * getattr(sl.power, key) for sl in p.slices) / 8760) if p.slices else \
        (lambda key: getattr(p.power, key))
    doc.update(
        racks=[{"hardware": r.hardware, "hall": r.hall, "count": r.alive} for r in p.racks],
        replicas=[r.model_dump() for r in p.replicas], allocation=[a.model_dump() for a in p.allocation],
        tiers=[t.model_dump() for t in p.tiers], fabric=p.fabric.model_dump() if p.fabric else None,
        metrics={"revenue_usd_per_year": m.discounted_revenue_usd, "cost_usd_per_year": m.discounted_cost_usd,
                 "profit_usd_per_year": m.npv_usd, "tokens_per_s": m.mean_tokens_per_s, "tokens_per_joule": m.tokens_per_joule,
                 "facility_power_mw": mean("total_mw"), "it_power_mw": mean("it_mw"), "network_power_mw": mean("network_mw"),
                 "capex_usd": m.capex_usd, "racks": p.racks_alive,
                 **{k: getattr(p, k) for k in MARKET_FIELDS}},
        market=[r.model_dump() for r in p.market],
        slices=[sl.model_dump(mode="json") for sl in p.slices],
    )
    return doc


# one period and one future each (a stochastic instance's equivalences are test_stochastic_equivalence's)
SHIPPED = sorted(p for p in (ROOT / "instances").glob("*.yaml")
                 if optimizer.load_instance(p).horizon is None and optimizer.load_instance(p).uncertainty is None)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_instances_same_with_one_period(path):
    inst = optimizer.load_instance(path)
    v1 = optimizer.solve(inst)
    v2 = optimizer.solve(one_period(inst))
    assert_same(v1, v2, 1e-4)
    verify(inst, period_as_v1(v2))


@pytest.mark.parametrize("chunk", range(4))
def test_random_instances_same_with_one_period(chunk):
    for seed in range(60)[chunk::4]:
        inst = optimizer.load_instance(random_instance(seed))
        v1 = optimizer.solve(inst, mip_gap=1e-9)
        v2 = optimizer.solve(one_period(inst), mip_gap=1e-9)
        assert_same(v1, v2, 1e-9)
        if v2.has_plan:
            verify(inst, period_as_v1(v2))


HAND = hand_worked(test_objectives, test_families)


@pytest.mark.parametrize("test", [fn for _, fn in HAND], ids=[name for name, _ in HAND])
def test_hand_worked_tests_same_with_one_period(test, monkeypatch):
    rerun_with_twin(test, monkeypatch, lambda inst: one_period(inst) if inst.horizon is None else None,
                    lambda sol, twin, kw: assert_same(sol, twin, kw.get("mip_gap") or 1e-4))
