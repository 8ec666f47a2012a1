"""Planning under uncertainty (MODEL.md section 13), hand-worked: one purchase plan against
several weighted futures. Every figure below is worked out in the docstring from the instance
alone, then compared with the solver's plan, its scenarios, the regret table, EVPI and VSS. Then
the validation of section 13.1: a bad scenario names itself and its path, on the API and on the
command line.

Common units: one token/s sold all year at 1 USD per million tokens earns 31.536 USD/yr
(``YEAR_MTOK``). The racks below draw 100 kW (``helpers.gpu``); the 1 MW grid of
``helpers.tiny`` feeds 10 of them. Discount rate 0, so a horizon's money is the plain sum of its
years.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import yaml

import optimizer
from helpers import YEAR_MTOK, gpu, tier, tiny
from optimizer.model.schema import scenario_instances
from verifier import verify, verify_horizon

C = YEAR_MTOK


def racks(sol) -> dict[str, int]:
    return {r.hardware: r.count for r in sol.racks if r.count}


def row(sol, plan):
    return next(r for r in sol.uncertainty.regret if r.plan == plan)


def cells(sol, plan) -> dict[str, float | None]:
    return {c.scenario: c.value for c in row(sol, plan).cells}


def values(sol) -> dict[str, float]:
    return {o.name: o.value for o in sol.uncertainty.scenarios}


def solve(inst, objective="revenue", **kw):
    """Solve exactly and check every scenario's plan against its own instance, here as well as
    inside the solve (the verifier is independent of the model code)."""
    sol = optimizer.solve(inst, objective=objective, mip_gap=1e-9, **kw)
    assert sol.status == "optimal", sol.message
    loaded = optimizer.load_instance(inst)
    for (name, _, inst_w), o in zip(scenario_instances(loaded), sol.uncertainty.scenarios):
        assert o.name == name
        (verify_horizon if o.solution.periods else verify)(inst_w, o.solution.model_dump(mode="json"))
    return sol


def two_workloads(flexible: float | None = None) -> dict:
    """Two tiers on two workloads of one model, x (chat) and y (code), both at 1 USD/Mtok; a
    serves only x, b only y, 10,000 tokens/s per rack each; f (when ``flexible`` is given) serves
    either at ``flexible`` tokens/s per rack. All three draw 100 kW: at most 10 racks."""
    inst = tiny()
    inst["workloads"].append({"name": "code", "model": "m", "input_tokens_per_output_token": 1.0})
    a = gpu("a", curve=((10, 10_000),))
    b = gpu("b", curve=((10, 10_000),))
    b["performance"] = {"code": b["performance"].pop("chat")}
    inst["hardware"] = [a, b]
    if flexible is not None:
        f = gpu("f", curve=((10, flexible),))
        f["performance"]["code"] = {"aggregated": [[10, flexible]]}
        inst["hardware"].append(f)
    inst["tiers"] = [tier("x", 10, 1.0), tier("y", 10, 1.0, workload="code")]
    return inst


def demand_futures(inst: dict, p_x: float = 0.5) -> dict:
    """hi-x: only tier x has demand (y capped at 0); hi-y: only y."""
    inst["uncertainty"] = {"scenarios": [
        {"name": "hi-x", "probability": p_x, "set": {"tiers[y].max_tokens_per_s": 0}},
        {"name": "hi-y", "probability": round(1 - p_x, 12), "set": {"tiers[x].max_tokens_per_s": 0}},
    ]}
    return inst


# --------------------------------------------------------------------------- the hedge


def test_the_hedge_buys_what_neither_future_would():
    """Each future alone wants its specialist: hi-x 10 a racks, 100,000 tokens/s, 3,153,600
    USD/yr; hi-y 10 b racks, the same. The flexible f serves either tier at 6,000 tokens/s.

    Bought once for both (probability 1/2 each), a plan (na, nb, nf) earns in hi-x
    C (10,000 na + 6,000 nf) and in hi-y C (10,000 nb + 6,000 nf): E = C (5,000 na + 5,000 nb +
    6,000 nf), so every one of the 10 racks is an f: E = 60,000 C = 1,892,160 USD/yr, the same in
    both futures. Neither future's own optimum buys a single f.

    Regret table: hi-x's plan (10 a) earns 3,153,600 in hi-x and 0 in hi-y, E = 1,576,800;
    hi-y's likewise. Wait-and-see: 3,153,600 (each future its own optimum). EVPI = 3,153,600 -
    1,892,160 = 1,261,440; VSS = 1,892,160 - 1,576,800 = 315,360."""
    sol = solve(demand_futures(two_workloads(flexible=6_000)))
    unc = sol.uncertainty
    assert racks(sol) == {"f": 10}
    assert sol.objective.value == pytest.approx(1_892_160)
    assert unc.expected == pytest.approx(60_000 * C) == pytest.approx(1_892_160)
    assert values(sol) == pytest.approx({"hi-x": 1_892_160, "hi-y": 1_892_160})
    assert [o.probability for o in unc.scenarios] == [0.5, 0.5]
    for o in unc.scenarios:  # every scenario's plan is the one purchase plan
        assert racks(o.solution) == {"f": 10}
    assert [r.plan for r in unc.regret] == ["stochastic", "hi-x", "hi-y"]
    assert row(sol, "stochastic").racks == {"f": 10}
    assert row(sol, "hi-x").racks == {"a": 10}
    assert row(sol, "hi-y").racks == {"b": 10}
    assert cells(sol, "stochastic") == pytest.approx({"hi-x": 1_892_160, "hi-y": 1_892_160})
    assert cells(sol, "hi-x") == pytest.approx({"hi-x": 3_153_600, "hi-y": 0})
    assert cells(sol, "hi-y") == pytest.approx({"hi-x": 0, "hi-y": 3_153_600})
    assert row(sol, "hi-x").expected == pytest.approx(1_576_800)
    assert row(sol, "hi-x").worst == pytest.approx(0, abs=1e-6)
    assert all(c.status == "optimal" for r in unc.regret for c in r.cells)
    assert unc.wait_and_see == pytest.approx(3_153_600)
    assert unc.evpi == pytest.approx(1_261_440)
    assert unc.vss == pytest.approx(315_360)
    assert sol.metrics.revenue_usd_per_year == pytest.approx(1_892_160)  # metrics are expectations


def test_without_the_flexible_rack_the_hedge_is_worth_nothing():
    """Drop f: every plan (na, nb) with na + nb = 10 earns E = 50,000 C = 1,576,800, as both own
    plans do, so VSS = 0 and EVPI = 3,153,600 - 1,576,800 = 1,576,800."""
    sol = solve(demand_futures(two_workloads()))
    assert sum(racks(sol).values()) == 10
    assert sol.objective.value == pytest.approx(1_576_800)
    assert sol.uncertainty.vss == pytest.approx(0, abs=1e-6)
    assert sol.uncertainty.evpi == pytest.approx(1_576_800)


def test_a_scenario_named_stochastic_is_not_the_stochastic_plan():
    """The hedge of test_the_hedge_buys_what_neither_future_would with hi-x named 'stochastic':
    the same plan (10 f) and figures. The stochastic plan earns 1,892,160 in every future, so its
    row's E[Z] is 1,892,160, EVPI 1,261,440 and VSS 315,360 (rows told apart by name once gave
    2,522,880, 630,720 and 946,080: the row took 'stochastic''s own 3,153,600 for its cell there)."""
    inst = demand_futures(two_workloads(flexible=6_000))
    inst["uncertainty"]["scenarios"][0]["name"] = "stochastic"
    sol = solve(inst)
    assert racks(sol) == {"f": 10}
    assert sol.objective.value == pytest.approx(1_892_160)
    first = sol.uncertainty.regret[0]
    assert first.racks == {"f": 10}
    assert {c.scenario: c.value for c in first.cells} == pytest.approx({"stochastic": 1_892_160, "hi-y": 1_892_160})
    assert sol.uncertainty.evpi == pytest.approx(1_261_440)
    assert sol.uncertainty.vss == pytest.approx(315_360)
    assert [r.scenario for r in sol.uncertainty.regret] == [None, "stochastic", "hi-y"]


@pytest.mark.parametrize("name", ["hi-x", "slow premium", "2027", "a,b", "it's"])  # Pyomo quotes the last three
def test_a_scenarios_limits_carry_their_deterministic_names(name):
    """The hedge with hi-x renamed. In hi-x the y tier's cap of 0 and the 1 MW grid bind; its
    plan names them as its own deterministic plan would (demand_cap[y], facility_power), with no
    scenario prefix, whatever the scenario's name."""
    inst = demand_futures(two_workloads(flexible=6_000))
    inst["uncertainty"]["scenarios"][0]["name"] = name
    sol = solve(inst)
    mine = sol.uncertainty.scenarios[0].solution
    assert {"demand_cap[y]", "facility_power"} <= {b.constraint for b in mine.binding}
    assert not [b.constraint for b in mine.binding + mine.shadow_prices if "scenario" in b.constraint]


# --------------------------------------------------------------------------- risk


def risky(weight: float) -> dict:
    inst = demand_futures(two_workloads(), p_x=0.6)
    inst["uncertainty"]["risk"] = {"alpha": 0.5, "weight": weight}
    return inst


def test_cvar_weight_buys_safety_at_a_stated_cost():
    """hi-x has probability 0.6, hi-y 0.4; no flexible rack. A plan (na, nb), na + nb = 10, earns
    Zx = 10,000 C na and Zy = 10,000 C nb.

    Weight 0: E = C (6,000 na + 4,000 nb), so 10 a: E = 60,000 C = 1,892,160, but hi-y earns 0.
    CVaR at alpha 0.5 (the worst half of the probability): hi-y's 0.4 and 0.1 of hi-x,
    (0.4 x 0 + 0.1 x 3,153,600) / 0.5 = 630,720.

    Weight w, nb <= na: CVaR = 0.8 Zy + 0.2 Zx, the objective (1 - w) E + w CVaR =
    (0.6 - 0.4 w) Zx + (0.4 + 0.4 w) Zy; a rack moved from a to b changes it by
    10,000 C (0.8 w - 0.2): worth it for w > 1/4, up to nb = na (past it hi-x is the tail and the
    move loses). So w = 0.5 buys 5 a and 5 b: 50,000 C = 1,576,800 in both futures, objective,
    E, CVaR and worst all 1,576,800.

    The worst case improves by 1,576,800 (0 -> 1,576,800) and the expectation falls by 315,360
    (1,892,160 -> 1,576,800). At w = 0.2 the move does not pay: still 10 a, objective
    0.8 x 1,892,160 + 0.2 x 630,720 = 1,639,872."""
    plain, safe = solve(risky(0.0)), solve(risky(0.5))
    assert racks(plain) == {"a": 10}
    assert plain.objective.value == pytest.approx(1_892_160)
    assert plain.uncertainty.expected == pytest.approx(1_892_160)
    assert plain.uncertainty.cvar == pytest.approx(630_720)
    assert plain.uncertainty.worst == pytest.approx(0, abs=1e-6)
    assert plain.uncertainty.worst_scenario == "hi-y"

    assert racks(safe) == {"a": 5, "b": 5}
    unc = safe.uncertainty
    assert (unc.alpha, unc.weight) == (0.5, 0.5)
    assert safe.objective.value == pytest.approx(1_576_800)
    assert unc.expected == pytest.approx(1_576_800)
    assert unc.cvar == pytest.approx(1_576_800)
    assert unc.worst == pytest.approx(1_576_800)
    assert unc.worst - plain.uncertainty.worst == pytest.approx(1_576_800)
    assert plain.uncertainty.expected - unc.expected == pytest.approx(315_360)
    # the own plans are those of the expectation: VSS (on E[Z]) is the price of the safety
    assert unc.vss == pytest.approx(-315_360)
    assert unc.evpi == pytest.approx(3_153_600 - 1_576_800)

    mild = solve(risky(0.2))
    assert racks(mild) == {"a": 10}
    assert mild.objective.value == pytest.approx(1_639_872)


def power_price_futures(weight: float) -> dict:
    """min_cost: 50,000 tokens/s must be sold (a floor), by 5 racks of a (100 kW, capex 1e6) or b
    (50 kW, capex 1.5e6), each 10,000 tokens/s. cheap (0.8): electricity free; dear (0.2): 250
    USD/MWh. CVaR at alpha 0.8 of the cost: the upper 20%, which is dear."""
    inst = tiny()
    inst["hardware"] = [gpu("a", kw=100, capex=1e6, curve=((10, 10_000),)), gpu("b", kw=50, capex=1.5e6, curve=((10, 10_000),))]
    inst["tiers"] = [tier("x", 10, 1.0, min_tokens_per_s=50_000)]
    inst["uncertainty"] = {"scenarios": [
        {"name": "cheap", "probability": 0.8},
        {"name": "dear", "probability": 0.2, "set": {"facility.electricity_usd_per_mwh": 250.0}},
    ], "risk": {"alpha": 0.8, "weight": weight}}
    return inst


def test_min_cost_cvar_guards_the_upper_tail():
    """Per rack and year (r = 0, 5 years): a 200,000 of annuity, b 300,000; energy in dear
    0.1 MW x 8,760 h x 250 = 219,000 for a, 109,500 for b. So a costs 200,000 / 419,000 (cheap /
    dear), b 300,000 / 409,500; E per rack a 243,800, b 321,900.

    Weight 0: 5 a, E[COST] = 1,219,000, dear (the worst) 2,095,000. dear is the costlier future for
    every plan and holds exactly the upper 20%, so CVaR_0.8 is dear's cost: weight 1 minimises it,
    5 b: dear 2,047,500, E = 1,609,500. The worst case falls by 47,500; the expectation rises by
    390,500. (The move pays only for w (9,500) > (1 - w) 78,100: w > 0.8916; at 0.5, still 5 a.)"""
    plain, safe, half = (solve(power_price_futures(w), "min_cost") for w in (0.0, 1.0, 0.5))
    assert racks(plain) == {"a": 5} and racks(half) == {"a": 5}
    assert plain.objective.value == pytest.approx(1_219_000)
    assert values(plain) == pytest.approx({"cheap": 1_000_000, "dear": 2_095_000})
    assert plain.uncertainty.worst_scenario == "dear" and plain.uncertainty.worst == pytest.approx(2_095_000)
    assert plain.uncertainty.cvar == pytest.approx(2_095_000)
    assert racks(safe) == {"b": 5}
    assert values(safe) == pytest.approx({"cheap": 1_500_000, "dear": 2_047_500})
    assert safe.objective.value == pytest.approx(2_047_500) == pytest.approx(safe.uncertainty.cvar)
    assert safe.uncertainty.expected == pytest.approx(1_609_500)
    assert plain.uncertainty.worst - safe.uncertainty.worst == pytest.approx(47_500)
    assert safe.uncertainty.expected - plain.uncertainty.expected == pytest.approx(390_500)
    assert half.objective.value == pytest.approx(0.5 * 1_219_000 + 0.5 * 2_095_000)
    # min_cost: EVPI = E[Z] - wait-and-see (cheap's own plan is 5 a, dear's 5 b)
    assert row(safe, "dear").racks == {"b": 5} and row(safe, "cheap").racks == {"a": 5}
    assert safe.uncertainty.wait_and_see == pytest.approx(0.8 * 1_000_000 + 0.2 * 2_047_500)
    assert safe.uncertainty.evpi == pytest.approx(1_609_500 - 1_209_500)
    assert safe.uncertainty.vss == pytest.approx(1_219_000 - 1_609_500)  # cheap's plan is cheaper on average


# --------------------------------------------------------------------------- infeasible regret cells


def test_a_plan_that_misses_a_floor_is_infeasible_in_the_regret_table():
    """x pays 2 USD/Mtok, y 1. base: no floors, so its own plan is 10 a: 200,000 C = 6,307,200.
    contract: y must sell 30,000 tokens/s (min_tokens_per_s), 3 b racks: its own plan 7 a + 3 b,
    C (140,000 + 30,000) = 5,361,120. The stochastic plan must meet the contract's floor too, and
    an a earns twice a b in both futures: 7 a + 3 b, 5,361,120 in both.

    base's plan (10 a) cannot sell y in contract: that cell is infeasible, its row has no
    expectation, and no VSS is found (a note says why). Wait-and-see (6,307,200 + 5,361,120) / 2
    = 5,834,160; EVPI = 5,834,160 - 5,361,120 = 473,040."""
    inst = two_workloads()
    inst["tiers"][0]["price_usd_per_mtok"] = 2.0
    inst["uncertainty"] = {"scenarios": [
        {"name": "base", "probability": 0.5},
        {"name": "contract", "probability": 0.5, "set": {"tiers[y].min_tokens_per_s": 30_000}},
    ]}
    sol = solve(inst)
    unc = sol.uncertainty
    assert racks(sol) == {"a": 7, "b": 3}
    assert sol.objective.value == pytest.approx(5_361_120)
    assert row(sol, "base").racks == {"a": 10}
    assert row(sol, "contract").racks == {"a": 7, "b": 3}
    base_row = row(sol, "base")
    assert {c.scenario: c.status for c in base_row.cells} == {"base": "optimal", "contract": "infeasible"}
    assert cells(sol, "base") == {"base": pytest.approx(6_307_200), "contract": None}
    assert base_row.expected is None and base_row.cvar is None and base_row.worst is None
    assert cells(sol, "contract") == pytest.approx({"base": 5_361_120, "contract": 5_361_120})
    assert unc.wait_and_see == pytest.approx(5_834_160)
    assert unc.evpi == pytest.approx(473_040)
    assert unc.vss is None
    assert any("VSS" in n and "contract" in n for n in unc.notes), unc.notes


def test_a_floor_no_plan_meets_in_every_future_is_infeasible():
    """Each future alone is feasible: one needs 10 a (x floor 100,000), the other 10 b (y floor
    100,000); the 1 MW grid holds 10 racks, so no one plan serves both."""
    inst = two_workloads()
    inst["uncertainty"] = {"scenarios": [
        {"name": "x-contract", "probability": 0.5, "set": {"tiers[x].min_tokens_per_s": 100_000}},
        {"name": "y-contract", "probability": 0.5, "set": {"tiers[y].min_tokens_per_s": 100_000}},
    ]}
    sol = optimizer.solve(inst, objective="revenue")
    assert sol.status == "infeasible"
    assert not sol.has_plan and sol.uncertainty is None
    assert "no one capacity decision" in sol.message, sol.message


def test_a_future_infeasible_on_its_own_is_named_with_its_diagnosis():
    """x-contract asks 200,000 tokens/s of x: 20 a racks, 2 MW, on a 1 MW grid, infeasible even
    alone; the diagnosis names that scenario and the 1 MW of grid it lacks (20 x 100 kW - 1 MW)."""
    inst = two_workloads()
    inst["uncertainty"] = {"scenarios": [
        {"name": "x-contract", "probability": 0.5, "set": {"tiers[x].min_tokens_per_s": 200_000}},
        {"name": "plain", "probability": 0.5},
    ]}
    sol = optimizer.solve(inst, objective="revenue")
    assert sol.status == "infeasible"
    assert sol.message.startswith("infeasible: scenario x-contract is infeasible on its own: "), sol.message
    assert "1 MW more grid power" in sol.message, sol.message


def test_the_smallest_grid_sets_the_fleet():
    """One hardware a (100 kW, 10,000 tokens/s), one tier at 1 USD/Mtok, no cap. full: the 1 MW
    grid, 10 racks, 100,000 C = 3,153,600 alone. half: 0.5 MW, 5 racks, 1,576,800 alone. Racks
    draw their nameplate power in every future, so the one plan holds 5 racks: 1,576,800 in both.

    full's plan (10 racks) cannot stand on half's grid: infeasible there, no VSS. Wait-and-see
    (3,153,600 + 1,576,800) / 2 = 2,365,200; EVPI 788,400."""
    inst = tiny()
    inst["hardware"] = [gpu("a", curve=((10, 10_000),))]
    inst["tiers"] = [tier("x", 10, 1.0)]
    inst["uncertainty"] = {"scenarios": [
        {"name": "full", "probability": 0.5},
        {"name": "half", "probability": 0.5, "set": {"facility.grid_power_mw": 0.5}},
    ]}
    sol = solve(inst)
    assert racks(sol) == {"a": 5}
    assert values(sol) == pytest.approx({"full": 1_576_800, "half": 1_576_800})
    assert row(sol, "full").racks == {"a": 10}
    assert cells(sol, "full") == {"full": pytest.approx(3_153_600), "half": None}
    assert sol.uncertainty.wait_and_see == pytest.approx(2_365_200)
    assert sol.uncertainty.evpi == pytest.approx(788_400)
    assert sol.uncertainty.vss is None


def test_hardware_that_serves_in_one_future_only_is_bought():
    """The tier's interactivity floor is 100 in strict and 20 in lax. a's curve (10, 10,000),
    (50, 5,000) cannot reach 100 (0 tokens/s) and gives 10,000 - 5,000 x 10/40 = 8,750 at 20; b's
    (10, 2,000), (200, 1,000) gives 2,000 - 1,000 x 90/190 = 1,526.32 at 100 and 1,947.37 at 20.

    Per rack E: a (0 + 8,750) / 2 = 4,375; b (1,526.32 + 1,947.37) / 2 = 1,736.84: 10 a, E =
    43,750 C = 1,379,700, though a serves nothing in strict (the base instance). strict's own plan
    is 10 b: 481,338.95 there and 614,122.11 in lax, E 547,730.53; lax's own is 10 a, 2,759,400.
    VSS = 1,379,700 - 547,730.53 = 831,969.47; wait-and-see (481,338.95 + 2,759,400) / 2 =
    1,620,369.47, EVPI 240,669.47."""
    inst = tiny()
    inst["hardware"] = [gpu("a", curve=((10, 10_000), (50, 5_000))), gpu("b", curve=((10, 2_000), (200, 1_000)))]
    inst["tiers"] = [tier("x", 100, 1.0)]
    inst["uncertainty"] = {"scenarios": [
        {"name": "strict", "probability": 0.5},
        {"name": "lax", "probability": 0.5, "set": {"tiers[x].min_interactivity": 20}},
    ]}
    sol = solve(inst)
    b100, b20 = 2_000 - 1_000 * 90 / 190, 2_000 - 1_000 * 10 / 190
    assert racks(sol) == {"a": 10}
    assert values(sol) == pytest.approx({"strict": 0, "lax": 2_759_400}, abs=1e-6)
    assert sol.objective.value == pytest.approx(1_379_700)
    assert row(sol, "strict").racks == {"b": 10}
    assert cells(sol, "strict") == pytest.approx({"strict": 10 * b100 * C, "lax": 10 * b20 * C})
    assert sol.uncertainty.vss == pytest.approx(1_379_700 - 5 * (b100 + b20) * C) == pytest.approx(831_969.47)
    assert sol.uncertainty.evpi == pytest.approx((10 * b100 * C + 2_759_400) / 2 - 1_379_700) == pytest.approx(240_669.47)


def test_a_scenario_may_change_one_slice():
    """Peak (2,190 h, a quarter) and off-peak; the tier may sell 80,000 tokens/s in the peak and
    40,000 off it; racks draw nothing idle. brownout sets only the peak's grid to 0.5 MW
    (``facility.grid_power_mw.peak``): 5 busy racks there, the off-peak keeps 1 MW.

    8 racks: base sells 0.25 x 80,000 + 0.75 x 40,000 = 50,000 C = 1,576,800; brownout
    0.25 x 50,000 + 0.75 x 40,000 = 42,500 C = 1,340,280. A 9th rack earns nothing in either:
    8 racks, E = 1,458,540. brownout alone needs only 5 racks (42,500 C in both futures).

    Shadow prices, racks fixed: one more token/s of off-peak demand sells on a spare rack, 0.75 C
    = 23.652 USD/yr in either future's own terms (its plan's), 0.5 x 23.652 = 11.826 of E[Z] on the
    top level. One more MW of brownout's peak grid runs 10 more busy racks' worth (3 idle of the 8
    are there), 100,000 tokens/s x 0.25 C = 788,400 USD/yr per MW there, 394,200 of E[Z]."""
    inst = tiny()
    inst["slices"] = [{"name": "peak", "hours": 2190}, {"name": "off", "hours": 6570}]
    inst["hardware"] = [gpu("a", curve=((10, 10_000),), idle_power_fraction=0.0)]
    inst["tiers"] = [tier("x", 10, 1.0, max_tokens_per_s={"peak": 80_000, "off": 40_000})]
    inst["uncertainty"] = {"scenarios": [
        {"name": "base", "probability": 0.5},
        {"name": "brownout", "probability": 0.5, "set": {"facility.grid_power_mw.peak": 0.5}},
    ]}
    (_, _, base), (_, _, brownout) = scenario_instances(optimizer.load_instance(inst))
    assert brownout.facility.grid_power_mw == {"peak": 0.5, "off": 1.0} and base.facility.grid_power_mw == 1.0
    sol = solve(inst)
    assert racks(sol) == {"a": 8}
    assert values(sol) == pytest.approx({"base": 1_576_800, "brownout": 1_340_280})
    assert sol.objective.value == pytest.approx(1_458_540)
    assert row(sol, "brownout").racks == {"a": 5}
    assert cells(sol, "brownout") == pytest.approx({"base": 1_340_280, "brownout": 1_340_280})
    assert sol.uncertainty.evpi == pytest.approx(0, abs=1e-6)
    top = {p.constraint: p.value for p in sol.shadow_prices}
    own = {o.name: {p.constraint: p.value for p in o.solution.shadow_prices} for o in sol.uncertainty.scenarios}
    assert own["base"]["demand_cap[x,off]"] == pytest.approx(0.75 * C)
    assert own["brownout"]["demand_cap[x,off]"] == pytest.approx(0.75 * C)
    assert top["scenario[base].demand_cap[x,off]"] == pytest.approx(0.5 * 0.75 * C)
    assert own["brownout"]["facility_power[peak]"] == pytest.approx(788_400)
    assert own["base"]["facility_power[peak]"] == pytest.approx(0, abs=1e-6)
    assert top["scenario[brownout].facility_power[peak]"] == pytest.approx(394_200)


# --------------------------------------------------------------------------- a horizon


def test_a_horizon_hedges_its_second_year_only():
    """Two years (2026, 2027), discount 0, early retirement allowed; lifetimes of 5 years. In
    2026 only x sells (y capped at 0), in both futures. In 2027 hi-x sells only x, hi-y only y.
    a, b, f as in the hedge (f: 6,000 tokens/s on either tier); the grid holds 10 racks a year.

    hi-x alone: 10 a bought in 2026 and kept: 2 x 100,000 C = 6,307,200 USD. hi-y alone: 10 a in
    2026, retired for 10 b in 2027: the same 6,307,200. Wait-and-see: 6,307,200.

    The whole build-out is decided before the future is known. 2026 is certain: 10 a (100,000 C).
    2027's fleet earns per rack E = 5,000 C for a or b and 6,000 C for f: the 10 a are retired
    for 10 f, 60,000 C. E = 160,000 C = 5,045,760 (the same in both futures); keeping 10 f both
    years would earn only 120,000 C.

    Regret: hi-x's plan (10 a) earns 6,307,200 in hi-x and 3,153,600 in hi-y (nothing in 2027):
    E = 4,730,400; hi-y's plan (10 a, then 10 b) the mirror image. EVPI = 6,307,200 - 5,045,760 =
    1,261,440; VSS = 5,045,760 - 4,730,400 = 315,360."""
    inst = two_workloads(flexible=6_000)
    inst["horizon"] = {"start_year": 2026, "period_years": [1, 1], "allow_early_retirement": True}
    inst["tiers"][1]["max_tokens_per_s"] = {2026: 0, 2027: 1e6}
    inst["uncertainty"] = {"scenarios": [
        {"name": "hi-x", "probability": 0.5, "set": {"tiers[y].max_tokens_per_s": 0}},
        {"name": "hi-y", "probability": 0.5, "set": {"tiers[x].max_tokens_per_s": {2026: 1e6, 2027: 0}}},
    ]}
    sol = solve(inst)
    unc = sol.uncertainty
    assert sorted((v.hardware, v.vintage, v.bought) for v in sol.vintages if v.bought) == [("a", "2026", 10), ("f", "2027", 10)]
    assert [(e.year, e.hardware, e.racks) for e in sol.refresh] == [(2027, "a", 10)]
    assert sol.objective.value == pytest.approx(5_045_760)
    assert values(sol) == pytest.approx({"hi-x": 5_045_760, "hi-y": 5_045_760})
    assert row(sol, "stochastic").racks == {"a": 10, "f": 10}
    assert row(sol, "hi-x").racks == {"a": 10}
    assert row(sol, "hi-y").racks == {"a": 10, "b": 10}
    assert cells(sol, "hi-x") == pytest.approx({"hi-x": 6_307_200, "hi-y": 3_153_600})
    assert cells(sol, "hi-y") == pytest.approx({"hi-x": 3_153_600, "hi-y": 6_307_200})
    assert row(sol, "hi-x").expected == pytest.approx(4_730_400)
    assert unc.wait_and_see == pytest.approx(6_307_200)
    assert unc.evpi == pytest.approx(1_261_440)
    assert unc.vss == pytest.approx(315_360)


# --------------------------------------------------------------------------- tokens per watt


def test_tokens_per_watt_evpi_can_be_negative():
    """docs/model.md's choice: for tokens_per_watt a row's value and the wait-and-see value are
    E[TOK] / E[F] (of the cells, of the own optima), and EVPI can be negative.

    One hardware a (100 kW, 10,000 tokens/s per rack), the objective tokens per joule.
    floor: the tier must sell 50,000 tokens/s, so at least 5 racks, 0.1 tokens/J each. fast: a's
    performance_multiplier is 2, 0.2 tokens/J, no floor.

    Own optima (the cheapest plan at the best ratio): floor 5 racks (50,000 tokens/s, 0.5 MW),
    fast 1 rack (20,000 tokens/s, 0.1 MW), which cannot meet floor's floor. The stochastic plan,
    5 racks (any n >= 5 has the same ratio; the tie-break buys the fewest): E[TOK] / E[F] =
    (25,000 + 50,000) / 500,000 W = 0.15 tokens/J; floor's plan is the same, VSS 0.

    Wait-and-see, E[TOK] / E[F] of the own optima: (25,000 + 10,000) / 300,000 W = 0.11667,
    below the stochastic optimum: EVPI = -1/30. (With each future's plan free and the ratio of
    expectations maximised, floor 5 racks and fast 10, (25,000 + 100,000) / 750,000 W = 0.16667:
    perfect foresight would be worth 1/60.)"""
    inst = tiny()
    inst["hardware"] = [gpu("a", curve=((10, 10_000),))]
    inst["tiers"] = [tier("x", 10, 1.0)]
    inst["uncertainty"] = {"scenarios": [
        {"name": "floor", "probability": 0.5, "set": {"tiers[x].min_tokens_per_s": 50_000}},
        {"name": "fast", "probability": 0.5, "set": {"hardware[a].performance_multiplier": 2.0}},
    ]}
    sol = solve(inst, "tokens_per_watt")
    unc = sol.uncertainty
    assert racks(sol) == {"a": 5}
    assert sol.objective.value == pytest.approx(0.15)
    assert values(sol) == pytest.approx({"floor": 0.1, "fast": 0.2})
    assert unc.cvar is None
    assert row(sol, "fast").racks == {"a": 1}
    assert cells(sol, "fast") == {"floor": None, "fast": pytest.approx(0.2)}
    assert row(sol, "floor").racks == {"a": 5}
    assert unc.wait_and_see == pytest.approx(35_000 / 300_000)
    assert unc.evpi == pytest.approx(-1 / 30)
    assert unc.vss == pytest.approx(0, abs=1e-9)


# --------------------------------------------------------------------------- validation (section 13.1)


def base_doc() -> dict:
    inst = tiny()
    inst["hardware"] = [gpu()]
    inst["tiers"] = [tier("x", 10, 1.0)]
    return inst


def refused(scenarios: list[dict], **uncertainty) -> list:
    doc = base_doc()
    doc["uncertainty"] = {"scenarios": scenarios, **uncertainty}
    with pytest.raises(optimizer.InputError) as exc:
        optimizer.load_instance(doc)
    return exc.value.issues


RULE = "MODEL.md section 13.1"


def test_an_invalid_override_names_the_scenario_and_the_path():
    issues = refused([{"name": "ok", "probability": 0.5},
                      {"name": "bust", "probability": 0.5, "set": {"tiers[x].max_tokens_per_s": -5}}])
    assert [i.path for i in issues] == ["uncertainty.scenarios[1] (bust).set[tiers[x].max_tokens_per_s]"]
    assert "greater than or equal to 0" in issues[0].rule and "tiers[0] (x).max_tokens_per_s" in issues[0].rule


def test_an_override_of_an_unknown_element_names_it():
    issues = refused([{"name": "typo", "probability": 1.0, "set": {"tiers[nope].price_usd_per_mtok": 3.0}}])
    assert [i.path for i in issues] == ["uncertainty.scenarios[0] (typo).set[tiers[nope].price_usd_per_mtok]"]
    assert "no element named 'nope'" in issues[0].rule


@pytest.mark.parametrize("path, value", [
    ("hardware[g].capex_usd", 5.0),
    ("hardware[0].rack_power_kw", 50.0),
    ("hardware[g].max_racks", 3),
    ("facility.halls", []),
    ("facility.capex_budget_usd", 1e6),
    ("facility.discount_rate", 0.1),
    ("constraints.kind_power_share", {"gpu": {"max": 0.5}}),
    ("horizon", None),
])
def test_what_defines_the_capacity_may_not_change(path, value):
    issues = refused([{"name": "a", "probability": 0.5}, {"name": "b", "probability": 0.5, "set": {path: value}}])
    assert [i.path for i in issues] == [f"uncertainty.scenarios[1] (b).set[{path}]"]
    assert RULE in issues[0].rule and "capacity decision" in issues[0].rule


def test_what_the_allocation_reads_may_change():
    """Every kind of field section 13.1 allows, at once, validates."""
    doc = base_doc()
    doc["uncertainty"] = {"scenarios": [{"name": "all", "probability": 1.0, "set": {
        "tiers[x].price_usd_per_mtok": 2.0, "tiers[x].min_interactivity": 20, "tiers[x].max_tokens_per_s": 5e4,
        "workloads[chat].input_tokens_per_output_token": 2.0, "hardware[g].performance_multiplier": 1.5,
        "hardware[g].availability": 0.9, "hardware[g].opex_usd_per_year": 1e4, "facility.grid_power_mw": 0.5,
        "facility.electricity_usd_per_mwh": 80.0, "constraints.min_revenue_usd_per_year": 1.0,
    }}]}
    (name, p, one), = scenario_instances(optimizer.load_instance(doc))
    assert (name, p) == ("all", 1.0)
    assert one.facility.grid_power_mw == 0.5 and one.hardware[0].availability == 0.9


def test_probabilities_must_sum_to_one():
    issues = refused([{"name": "a", "probability": 0.5}, {"name": "b", "probability": 0.4}])
    assert [i.path for i in issues] == ["uncertainty.scenarios"]
    assert "sum to 1" in issues[0].rule and "0.9" in issues[0].rule


def test_probabilities_within_1e9_of_one_are_accepted():
    doc = base_doc()
    doc["uncertainty"] = {"scenarios": [{"name": f"s{i}", "probability": 0.1} for i in range(10)]}  # 0.9999999999999999
    assert len(scenario_instances(optimizer.load_instance(doc))) == 10


def test_scenario_names_are_unique():
    issues = refused([{"name": "a", "probability": 0.5}, {"name": "a", "probability": 0.5}])
    assert [i.path for i in issues] == ["uncertainty.scenarios[1] (a).name"]
    assert "not unique" in issues[0].rule


@pytest.mark.parametrize("scenario, where", [
    ({"name": "a", "probability": 0}, "uncertainty.scenarios[0] (a).probability"),
    ({"name": "a.b", "probability": 1.0}, "uncertainty.scenarios[0] (a.b).name"),
    ({"name": "a", "probability": 1.0, "sett": {}}, "uncertainty.scenarios[0] (a).sett"),
])
def test_a_malformed_scenario_names_its_field(scenario, where):
    assert [i.path for i in refused([scenario])] == [where]


def test_cvar_is_refused_for_tokens_per_watt():
    doc = base_doc()
    doc["objective"] = "tokens_per_watt"
    doc["uncertainty"] = {"scenarios": [{"name": "a", "probability": 1.0}], "risk": {"alpha": 0.5, "weight": 0.5}}
    with pytest.raises(optimizer.InputError) as exc:
        optimizer.load_instance(doc)
    assert [i.path for i in exc.value.issues] == ["uncertainty.risk"]
    doc["objective"] = "revenue"  # valid as a revenue instance, refused when solved for tokens per joule
    with pytest.raises(optimizer.InputError) as exc:
        optimizer.solve(doc, objective="tokens_per_watt")
    assert [i.path for i in exc.value.issues] == ["uncertainty.risk"]


def cli(tmp_path, doc) -> subprocess.CompletedProcess:
    path = tmp_path / "inst.yaml"
    path.write_text(yaml.safe_dump(doc))
    return subprocess.run([sys.executable, "-m", "optimizer", "solve", str(path)], capture_output=True, text=True, timeout=120)


def test_the_command_line_refuses_a_bad_scenario_with_exit_2(tmp_path):
    doc = base_doc()
    doc["uncertainty"] = {"scenarios": [
        {"name": "ok", "probability": 0.5},
        {"name": "dear", "probability": 0.5, "set": {"hardware[g].capex_usd": 2e6}},
    ]}
    proc = cli(tmp_path, doc)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out
    assert "uncertainty.scenarios[1] (dear).set[hardware[g].capex_usd]" in out and RULE in out

    doc["uncertainty"]["scenarios"][1] = {"name": "ok", "probability": 0.4}
    proc = cli(tmp_path, doc)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "Traceback" not in out
    assert "not unique" in out and "sum to 1" in out


def test_the_command_line_solves_a_stochastic_instance(tmp_path):
    doc = demand_futures(two_workloads(flexible=6_000))
    path = tmp_path / "inst.yaml"
    path.write_text(yaml.safe_dump(doc))
    proc = subprocess.run([sys.executable, "-m", "optimizer", "solve", str(path), "--json"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    sol = json.loads(proc.stdout)
    assert sol["objective"]["value"] == pytest.approx(1_892_160, rel=1e-4)
    assert sol["uncertainty"]["vss"] == pytest.approx(315_360, rel=1e-3)
    assert [r["plan"] for r in sol["uncertainty"]["regret"]] == ["stochastic", "hi-x", "hi-y"]


def test_the_command_line_refuses_cvar_for_tokens_per_watt(tmp_path):
    """A revenue instance with a CVaR weight is valid; --objective tokens_per_watt makes it not."""
    path = tmp_path / "inst.yaml"
    path.write_text(yaml.safe_dump(risky(0.5)))
    proc = subprocess.run([sys.executable, "-m", "optimizer", "solve", str(path), "--objective", "tokens_per_watt"],
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "Traceback" not in out
    assert "uncertainty.risk" in out and "tokens_per_watt" in out


def test_no_regret_skips_the_table():
    """regret=False: the plan and its scenarios, but no table, wait-and-see, EVPI or VSS."""
    sol = optimizer.solve(demand_futures(two_workloads(flexible=6_000)), regret=False)
    unc = sol.uncertainty
    assert racks(sol) == {"f": 10} and sol.objective.value == pytest.approx(1_892_160)
    assert unc.regret == [] and unc.wait_and_see is None and unc.evpi is None and unc.vss is None


def test_overrides_leave_the_base_untouched():
    """scenario_instances copies the base: its own values stay, and each scenario has only its own."""
    doc = demand_futures(two_workloads(flexible=6_000))
    inst = optimizer.load_instance(copy.deepcopy(doc))
    (_, _, hx), (_, _, hy) = scenario_instances(inst)
    assert [t.max_tokens_per_s for t in inst.tiers] == [None, None]
    assert [t.max_tokens_per_s for t in hx.tiers] == [None, 0]
    assert [t.max_tokens_per_s for t in hy.tiers] == [0, None]
