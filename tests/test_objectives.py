"""Every objective of MODEL.md section 7 on instances whose optimum is worked out by hand
(or by brute-force enumeration), asserted within the MIP tolerance."""

from __future__ import annotations

import itertools
import random

import pytest

import optimizer
from helpers import YEAR_MTOK, gpu, tier, tiny
from verifier import verify

GAP = 1e-4  # the default relative MIP gap


def close(value, expected, rel=GAP):
    return abs(value - expected) <= rel * max(abs(expected), 1.0)


def two_tier():
    """1 MW, 100 kW racks: 10 racks. cheap @10 tok/s/user: 10,000 tok/s per rack at $1/Mtok;
    fast @100: 2,000 tok/s per rack at $10/Mtok, capped at 1,000 tok/s (half a rack)."""
    inst = tiny()
    inst["hardware"] = [gpu()]
    inst["tiers"] = [tier("cheap", 10, 1.0), tier("fast", 100, 10.0, max_tokens_per_s=1000)]
    return inst


def test_revenue_hand_optimum():
    sol = optimizer.solve(two_tier(), objective="revenue")
    # 0.5 rack on fast (1,000 tok/s x $10) + 9.5 racks on cheap (95,000 tok/s x $1)
    expected = (1000 * 10 + 95_000 * 1) * YEAR_MTOK
    assert sol.status == "optimal"
    assert close(sol.objective.value, expected), sol.objective.value
    assert sol.objective.unit == "USD/yr"
    assert [(r.hardware, r.count) for r in sol.racks] == [("g", 10)]
    verify(optimizer.load_instance(two_tier()), sol.model_dump(mode="json"))


def profit_case():
    inst = two_tier()
    inst["facility"]["electricity_usd_per_mwh"] = 100.0
    inst["tiers"][0]["max_tokens_per_s"] = 45_000
    return inst


def test_profit_hand_optimum():
    """Per rack: annuity 1e6/5 = 200,000 (r = 0), energy 0.1 MW x 8,760 h x $100 = 87,600.
    Demand needs 4.5 racks on cheap + 0.5 on fast = 5 racks: revenue (45,000 + 10,000) x 31.536
    = 1,734,480, cost 5 x 287,600 = 1,438,000. 4 racks earn 1,419,120 - 1,150,400 less."""
    sol = optimizer.solve(profit_case(), objective="profit")
    assert close(sol.objective.value, 1_734_480 - 1_438_000)
    assert sum(r.count for r in sol.racks) == 5
    assert close(sol.metrics.cost_usd_per_year, 1_438_000)


def test_revenue_tie_break_buys_no_spare_racks():
    """Revenue is the same with 5..10 racks; the second stage keeps the cheapest: 5."""
    sol = optimizer.solve(profit_case(), objective="revenue")
    assert close(sol.objective.value, 1_734_480)
    assert sum(r.count for r in sol.racks) == 5


def test_tokens_hand_optimum():
    inst = tiny()
    inst["hardware"] = [gpu()]
    inst["tiers"] = [tier("cheap", 10, 1.0)]
    sol = optimizer.solve(inst, objective="tokens")
    assert close(sol.objective.value, 100_000)
    assert sol.objective.unit == "tokens/s"


def test_tokens_per_watt_dinkelbach_hand_optimum():
    """b (50 kW, 2,000 tok/s) must serve t2's floor of 2,000 tok/s; a (100 kW, 10,000 tok/s) is
    better per watt, so the ratio (2,000 + 10,000 nA) / (1e6 (0.05 + 0.1 nA)) grows with nA up to
    the 1 MW grid: nA = 9, ratio 92,000 / 950,000 tokens/J."""
    inst = tiny()
    inst["workloads"].append({"name": "w2", "model": "m", "input_tokens_per_output_token": 1.0})
    a = gpu("a", kw=100, curve=((10, 10000),))
    b = gpu("b", kw=50, curve=((10, 2000),))
    b["performance"] = {"w2": {"aggregated": [[10, 2000]]}}
    inst["hardware"] = [a, b]
    inst["tiers"] = [tier("t1", 10, 1.0), tier("t2", 10, 1.0, workload="w2", min_tokens_per_s=2000)]
    sol = optimizer.solve(inst, objective="tokens_per_watt")
    assert sol.objective.unit == "tokens/J"
    assert close(sol.objective.value, 92_000 / 950_000, rel=1e-6)
    assert {r.hardware: r.count for r in sol.racks} == {"a": 9, "b": 1}
    assert sol.dinkelbach_iterations >= 2
    verify(optimizer.load_instance(inst), sol.model_dump(mode="json"))


def test_tokens_per_watt_reports_a_plan_with_tokens():
    """With no floor, every plan of a's racks has the same ratio; the tie-break (min COST) keeps
    the cheapest plan with TOK > 0: one rack at 10,000 / 1e5 = 0.1 tokens/J."""
    inst = tiny()
    inst["hardware"] = [gpu("a", kw=100, curve=((10, 10000),))]
    inst["tiers"] = [tier("t1", 10, 1.0)]
    sol = optimizer.solve(inst, objective="tokens_per_watt")
    assert close(sol.objective.value, 0.1, rel=1e-6)
    assert sol.metrics.tokens_per_s > 0
    assert sum(r.count for r in sol.racks) == 1


def min_cost_case():
    inst = tiny()
    inst["hardware"] = [
        gpu("a", kw=100, capex=1e6, curve=((10, 10000),)),
        gpu("b", kw=50, capex=3e5, curve=((10, 4000),)),
    ]
    inst["tiers"] = [tier("t1", 10, 1.0, min_tokens_per_s=25_000)]
    return inst


def test_min_cost_hand_optimum():
    """Annuities (r = 0, 5 years): a 200,000/yr for 10,000 tok/s, b 60,000/yr for 4,000 tok/s.
    Meeting 25,000 tok/s: (3,0) 600k, (2,1) short, (2,2) 520k, (1,4) 440k, (0,7) 420k -> (0,7)."""
    sol = optimizer.solve(min_cost_case(), objective="min_cost")
    assert close(sol.objective.value, 420_000)
    assert {r.hardware: r.count for r in sol.racks} == {"b": 7}


def test_min_cost_by_enumeration():
    inst = min_cost_case()
    best = min(
        200_000 * na + 60_000 * nb
        for na, nb in itertools.product(range(11), range(21))
        if 10_000 * na + 4_000 * nb >= 25_000 and 0.1 * na + 0.05 * nb <= 1.0
    )
    sol = optimizer.solve(inst, objective="min_cost")
    assert close(sol.objective.value, best)


# --------------------------------------------------------------------------- brute force


def knapsack_revenue(racks: float, tiers: list[tuple[float, float, float]]) -> float:
    """Revenue of `racks` rack-equivalents of one hardware over its own tiers (price, A, cap):
    a fractional knapsack, exact by greedy on revenue per rack."""
    total, left = 0.0, racks
    for price, A, cap in sorted(tiers, key=lambda t: -t[0] * t[1]):
        if A <= 0 or left <= 0:
            continue
        use = min(left, cap / A)
        total += price * A * use * YEAR_MTOK
        left -= use
    return total


def random_two_hardware(seed: int):
    """Two hardware systems, each serving its own workload's tiers, coupled by power and slots."""
    rng = random.Random(seed)
    inst = tiny(grid_power_mw=round(rng.uniform(0.3, 1.5), 3), electricity_usd_per_mwh=rng.choice([0.0, 81.0]))
    inst["facility"]["halls"][0]["rack_slots"] = rng.randint(3, 12)
    inst["workloads"] = [
        {"name": "w0", "model": "m", "input_tokens_per_output_token": 1.0},
        {"name": "w1", "model": "m", "input_tokens_per_output_token": 1.0},
    ]
    hw, spec = [], []
    for i in range(2):
        kw = round(rng.uniform(40, 200), 1)
        curve = [[10, round(rng.uniform(5e3, 5e4))], [200, round(rng.uniform(1e2, 4e3))]]
        h = gpu(f"h{i}", kw=kw, capex=round(rng.uniform(1e5, 2e6)), curve=curve, opex_usd_per_year=rng.choice([0.0, 3e4]))
        h["performance"] = {f"w{i}": {"aggregated": curve}}
        hw.append(h)
        spec.append((kw, h["capex_usd"], h["opex_usd_per_year"], curve))
    tiers = []
    for i in range(2):
        for j in range(2):
            inter = rng.choice([10, 50, 150])
            tiers.append(tier(f"t{i}{j}", inter, rng.choice([0.5, 1.0, 3.0]), workload=f"w{i}", max_tokens_per_s=round(rng.uniform(1e3, 6e4))))
    inst["hardware"], inst["tiers"] = hw, tiers
    return inst, spec


@pytest.mark.parametrize("seed", range(12))
def test_profit_matches_enumeration(seed):
    inst, spec = random_two_hardware(seed)
    fac = inst["facility"]

    def A(curve, i):
        (x0, y0), (x1, y1) = curve
        return y0 if i <= x0 else (y0 + (y1 - y0) * (i - x0) / (x1 - x0) if i <= x1 else 0.0)

    best = -float("inf")
    slots = fac["halls"][0]["rack_slots"]
    for n0, n1 in itertools.product(range(slots + 1), repeat=2):
        if n0 + n1 > slots or (spec[0][0] * n0 + spec[1][0] * n1) / 1000 > fac["grid_power_mw"] + 1e-12:
            continue
        profit = 0.0
        for i, n in enumerate((n0, n1)):
            kw, capex, opex, curve = spec[i]
            mine = [(t["price_usd_per_mtok"], A(curve, t["min_interactivity"]), t["max_tokens_per_s"]) for t in inst["tiers"] if t["workload"] == f"w{i}"]
            energy = fac["electricity_usd_per_mwh"] * 8760 * kw / 1000
            profit += knapsack_revenue(n, mine) - n * (capex / 5 + opex + energy)
        best = max(best, profit)
    sol = optimizer.solve(inst, objective="profit", mip_gap=1e-9)
    assert abs(sol.objective.value - best) <= 1e-6 * max(abs(best), 1.0) + 1e-3, (sol.objective.value, best)
    verify(optimizer.load_instance(inst), sol.model_dump(mode="json"))
