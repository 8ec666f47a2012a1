"""Properties every optimum must have, on random small instances (hypothesis)."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optimizer
from generate import random_instance

EXACT = 1e-9  # solve to (near) zero gap so that comparisons are exact
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(min_value=0, max_value=100_000)


def revenue(inst):
    sol = optimizer.solve(inst, objective="revenue", mip_gap=EXACT)
    return sol.objective.value if sol.has_plan else None


@SETTINGS
@given(seed=seeds, more=st.floats(min_value=0.0, max_value=2.0))
def test_more_grid_power_never_lowers_revenue(seed, more):
    inst = random_instance(seed)
    base = revenue(inst)
    bigger = copy.deepcopy(inst)
    bigger["facility"]["grid_power_mw"] *= 1 + more
    grown = revenue(bigger)
    if base is None:
        return
    assert grown is not None
    assert grown >= base - 1e-6 * max(abs(base), 1.0)


@SETTINGS
@given(seed=seeds, c=st.floats(min_value=0.1, max_value=10.0))
def test_scaling_prices_scales_revenue(seed, c):
    inst = random_instance(seed)
    inst.pop("constraints", None)  # a revenue floor would not scale with prices
    base = revenue(inst)
    scaled = copy.deepcopy(inst)
    for t in scaled["tiers"]:
        t["price_usd_per_mtok"] *= c
    got = revenue(scaled)
    if base is None:
        assert got is None
        return
    assert abs(got - c * base) <= 1e-6 * max(abs(c * base), 1.0)


@SETTINGS
@given(seed=seeds, which=st.integers(min_value=0, max_value=2), objective=st.sampled_from(["revenue", "profit", "tokens", "tokens_per_watt", "min_cost"]))
def test_dominated_hardware_never_appears(seed, which, objective):
    """A copy of a system that draws more power, costs more and serves less never enters a plan.
    (Side constraints and supply caps are removed: a share or cap can make a worse rack useful.)"""
    inst = random_instance(seed)
    inst.pop("constraints", None)
    h = copy.deepcopy(inst["hardware"][which % len(inst["hardware"])])
    h.pop("max_racks", None)
    for hw in inst["hardware"]:
        hw.pop("max_racks", None)
    worse = copy.deepcopy(h)
    worse["name"] = "dominated"
    worse["rack_power_kw"] = h["rack_power_kw"] * 1.2
    worse["capex_usd"] = h["capex_usd"] * 1.2 + 1000
    worse["installed_racks"] = 0
    for perf in worse["performance"].values():
        for role in ("aggregated", "decode"):
            perf[role] = [[x, y * 0.8] for x, y in perf.get(role, [])]
        if "prefill_tokens_per_s" in perf:
            perf["prefill_tokens_per_s"] *= 0.8
    inst["hardware"].append(worse)
    sol = optimizer.solve(inst, objective=objective, mip_gap=EXACT)
    assert all(r.hardware != "dominated" for r in sol.racks), [r.model_dump() for r in sol.racks]
