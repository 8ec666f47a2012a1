"""Shadow prices are the duals of the LP with the integers fixed: checked against finite
differences of that LP's optimum, re-solved with the limit moved, in planner units."""

from __future__ import annotations

import copy
from pathlib import Path

import pyomo.environ as pyo
import pytest

import optimizer
from helpers import gpu, tier, tiny
from optimizer.model.families import SENSE, build_model, objective_expr, set_objective
from optimizer.model.preprocess import preprocess
from optimizer.solving.highs import HighsAdapter, SolverOptions

GTC = Path(__file__).resolve().parents[1] / "instances" / "gtc2026-1gw.yaml"


def fixed_lp_value(inst: dict, sol) -> float:
    """The primary objective's LP optimum with racks, replicas and fabric fixed to `sol`'s (USD/yr)."""
    d = preprocess(optimizer.load_instance(inst))
    m = build_model(d)
    racks = {(r.hardware, r.hall): r.count for r in sol.racks}
    reps = {(r.hardware, r.model): r.count for r in sol.replicas}
    for idx in m.n:
        m.n[idx].domain = pyo.Reals
        m.n[idx].fix(racks.get(idx, 0))
    for idx in m.k:
        m.k[idx].domain = pyo.Reals
        m.k[idx].fix(reps.get(idx, 0))
    for idx in m.y:
        m.y[idx].domain = pyo.Reals
        built = sol.fabric is not None and idx == f"{sol.fabric.option}:{sol.fabric.switch_tiers}"
        m.y[idx].fix(1 if built else 0)
    set_objective(m, objective_expr(m, sol.objective.name), SENSE[sol.objective.name])
    res = HighsAdapter(SolverOptions()).solve(m, None)
    assert res.status == "optimal"
    return res.objective * d.scale.money  # internal money/yr -> USD/yr


def set_tier(inst, name, field, value):
    for t in inst["tiers"]:
        if t["name"] == name:
            t[field] = value


def check(inst, sol, constraint, tier_name, field, delta):
    price = next(s.value for s in sol.shadow_prices if s.constraint == constraint)
    base = next(t for t in inst["tiers"] if t["name"] == tier_name)[field]
    up, down = copy.deepcopy(inst), copy.deepcopy(inst)
    set_tier(up, tier_name, field, base + delta)
    set_tier(down, tier_name, field, base - delta)
    right = (fixed_lp_value(up, sol) - fixed_lp_value(inst, sol)) / delta
    left = (fixed_lp_value(inst, sol) - fixed_lp_value(down, sol)) / delta
    lo, hi = min(left, right), max(left, right)
    assert lo - 1e-6 * abs(price) - 1e-6 <= price <= hi + 1e-6 * abs(price) + 1e-6, (constraint, price, left, right)
    return price


def test_demand_cap_shadow_price_hand_value():
    """One more token/s of the $10 tier takes 1/2,000 rack from the $1 tier (10,000 tok/s per
    rack): (10 - 5 x 1) x 31.536 = 157.68 USD/yr per token/s."""
    inst = tiny()
    inst["hardware"] = [gpu()]
    inst["tiers"] = [tier("cheap", 10, 1.0), tier("fast", 100, 10.0, max_tokens_per_s=1000)]
    sol = optimizer.solve(inst)
    price = check(inst, sol, "demand_cap[fast]", "fast", "max_tokens_per_s", 10.0)
    assert price == pytest.approx(157.68, rel=1e-9)
    assert next(s.unit for s in sol.shadow_prices if s.constraint == "demand_cap[fast]") == "USD/yr per token/s"


def test_shipped_instance_shadow_prices_match_finite_differences():
    inst = optimizer.model.schema.read_document(GTC)
    sol = optimizer.solve(inst)
    check(inst, sol, "demand_cap[ultra]", "ultra", "max_tokens_per_s", 1e4)
    check(inst, sol, "demand_cap[pro]", "pro", "max_tokens_per_s", 1e5)
    floor = check(inst, sol, "demand_floor[free]", "free", "min_tokens_per_s", 1e5)
    assert floor < 0  # serving more free tokens costs revenue


def test_shipped_instance_zero_prices_are_zero_by_finite_differences():
    """Limits only racks consume have a 0 price with the racks fixed, and moving them changes
    the fixed-integer LP by nothing: grid power, cooling, slots."""
    inst = optimizer.model.schema.read_document(GTC)
    sol = optimizer.solve(inst)
    base = fixed_lp_value(inst, sol)
    for path, delta in ((("facility", "grid_power_mw"), 5.0), (("facility", "liquid_cooling_mw"), 5.0)):
        moved = copy.deepcopy(inst)
        moved[path[0]][path[1]] += delta
        assert fixed_lp_value(moved, sol) == pytest.approx(base, rel=1e-12)
    prices = {s.constraint: s.value for s in sol.shadow_prices}
    assert prices["facility_power"] == 0 and prices["liquid_cooling"] == 0 and prices["hall_slots[hall-a]"] == 0
