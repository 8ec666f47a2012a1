"""Slices of the year (MODEL.md section 12), hand-worked: every figure below is worked out in the
docstring from the instance alone, then compared with the solver's plan.

Common units: one token/s sold all year at 1 USD per million tokens earns 31.536 USD/yr
(``YEAR_MTOK``); a slice of H hours weighs H / 8,760 of that. The GPU of ``helpers.gpu`` draws
100 kW and serves 10,000 output tokens/s per rack at an interactivity floor of 10.
"""

from __future__ import annotations

import pytest

import optimizer
from helpers import YEAR_MTOK, gpu, tier, tiny
from verifier import verify


def sliced(names_hours, **facility) -> dict:
    inst = tiny(**facility)
    inst["slices"] = [{"name": n, "hours": h} for n, h in names_hours]
    return inst


def solve(inst, objective=None):
    sol = optimizer.solve(inst, objective=objective, mip_gap=1e-9)
    assert sol.status == "optimal", sol.message
    verify(optimizer.load_instance(inst), sol.model_dump(mode="json"))
    return sol


def racks(sol, hardware=None) -> int:
    return sum(r.count for r in sol.racks if hardware is None or r.hardware == hardware)


def by_name(rows, name):
    return next(r for r in rows if r.name == name)


def tier_in(sol, slice_name, tier_name):
    return next(t for t in by_name(sol.slices, slice_name).tiers if t.tier == tier_name)


def test_the_peak_sets_the_rack_count():
    """Peak 2,190 h (a quarter of the year), off-peak 6,570 h. The paid tier may sell 50,000
    tokens/s in the peak and 20,000 off it; the 1 MW grid could feed 10 racks. Maximising revenue,
    the peak's demand sets the fleet: 5 racks (the cost tie-break buys no more). Off-peak 2 of them
    are busy: utilisation 5/5 in the peak, 2/5 off it.

    Revenue: peak 50,000 x 1 USD x 31.536 x 0.25 = 394,200; off 20,000 x 31.536 x 0.75 = 473,040;
    the year 867,240 USD/yr. Mean tokens/s 0.25 x 50,000 + 0.75 x 20,000 = 27,500."""
    inst = sliced([("peak", 2190), ("off", 6570)])
    inst["hardware"] = [gpu(capex=1e6)]
    inst["tiers"] = [tier("paid", 10, 1.0, max_tokens_per_s={"peak": 50_000, "off": 20_000})]
    sol = solve(inst, "revenue")
    assert racks(sol) == 5
    assert tier_in(sol, "peak", "paid").tokens_per_s == pytest.approx(50_000)
    assert tier_in(sol, "off", "paid").tokens_per_s == pytest.approx(20_000)
    assert by_name(sol.slices, "peak").revenue_usd_per_year == pytest.approx(50_000 * YEAR_MTOK * 0.25)
    assert by_name(sol.slices, "off").revenue_usd_per_year == pytest.approx(20_000 * YEAR_MTOK * 0.75)
    assert sol.metrics.revenue_usd_per_year == pytest.approx(867_240)
    assert sol.metrics.tokens_per_s == pytest.approx(27_500)
    assert sol.tiers[0].tokens_per_s == pytest.approx(27_500)  # the year's row
    assert by_name(sol.slices, "peak").utilisation[0].utilisation == pytest.approx(1.0)
    assert by_name(sol.slices, "off").utilisation[0].utilisation == pytest.approx(0.4)
    names = {b.constraint for b in sol.binding}
    assert {"demand_cap[paid,peak]", "demand_cap[paid,off]"} <= names
    assert by_name(sol.slices, "peak").binding[0].constraint == "demand_cap[paid,peak]"


def test_a_shiftable_tier_fills_the_night():
    """Day and night, 4,380 h each. The live tier (2 USD/Mtok) may sell 80,000 tokens/s by day and
    20,000 at night; the batch tier (1 USD/Mtok, shiftable) 30,000 tokens/s on the year's mean,
    i.e. day + night <= 60,000 over the two equal halves. The grid feeds at most 10 racks.

    Live needs 8 racks by day. Those 8 racks (80,000 tokens/s) are idle at night but for 20,000
    of live: the batch work runs there, 60,000 tokens/s at night and none by day, and 8 racks
    suffice (the tie-break buys no more). Revenue: live 31.536 x 2 x (0.5 x 80,000 + 0.5 x 20,000)
    = 3,153,600; batch 30,000 x 31.536 = 946,080; the year 4,099,680 USD/yr.

    Not shiftable (30,000 in each slice), day would need 11 racks: 10 racks sell only 20,000 of
    batch by day, 30,000 at night: batch 31.536 x 25,000 = 788,400, the year 3,942,000 USD/yr."""
    inst = sliced([("day", 4380), ("night", 4380)])
    inst["hardware"] = [gpu(capex=1e6)]
    inst["tiers"] = [
        tier("live", 10, 2.0, max_tokens_per_s={"day": 80_000, "night": 20_000}),
        tier("batch", 10, 1.0, max_tokens_per_s=30_000, shiftable=True),
    ]
    sol = solve(inst, "revenue")
    assert racks(sol) == 8
    assert tier_in(sol, "day", "batch").tokens_per_s == pytest.approx(0, abs=1e-6)
    assert tier_in(sol, "night", "batch").tokens_per_s == pytest.approx(60_000)
    assert sol.metrics.revenue_usd_per_year == pytest.approx(4_099_680)
    assert "demand_cap[batch]" in {b.constraint for b in sol.binding}  # the year's cap: no slice index
    assert by_name(sol.slices, "night").utilisation[0].utilisation == pytest.approx(1.0)

    inst["tiers"][1]["shiftable"] = False
    fixed = solve(inst, "revenue")
    assert racks(fixed) == 10
    assert fixed.metrics.revenue_usd_per_year == pytest.approx(3_942_000)


def test_idle_power_lets_the_site_hold_more_racks_than_it_can_run():
    """Two hardware systems that each serve one tier, and each tier sells in one slice only (A and B,
    4,380 h each): x up to 80,000 tokens/s in A, y up to 80,000 in B. Both draw 100 kW busy and 20%
    (idle_power_fraction 0.2) idle. Grid 1 MW.

    8 racks of each: in A, 8 busy gx (0.8 MW) + 8 idle gy (0.16 MW) = 0.96 MW; B likewise. So 16
    racks stand, 1.6 MW of nameplate on a 1 MW grid, and both tiers sell in full: 2 x 80,000 x
    31.536 x 0.5 = 2,522,880 USD/yr. With idle_power_fraction 1 only 10 racks fit, selling 100,000
    tokens/s-halves: 31.536 x 0.5 x 100,000 = 1,576,800 USD/yr."""
    inst = sliced([("A", 4380), ("B", 4380)])
    gx = gpu("gx", idle_power_fraction=0.2)
    gy = gpu("gy", idle_power_fraction=0.2)
    inst["workloads"].append({"name": "other", "model": "m", "input_tokens_per_output_token": 1.0})
    gy["performance"] = {"other": gy["performance"]["chat"]}
    inst["hardware"] = [gx, gy]
    inst["tiers"] = [
        tier("x", 10, 1.0, max_tokens_per_s={"A": 80_000, "B": 0}),
        tier("y", 10, 1.0, workload="other", max_tokens_per_s={"A": 0, "B": 80_000}),
    ]
    sol = solve(inst, "revenue")
    assert (racks(sol, "gx"), racks(sol, "gy")) == (8, 8)
    assert by_name(sol.slices, "A").power.total_mw == pytest.approx(0.96)
    assert by_name(sol.slices, "B").power.total_mw == pytest.approx(0.96)
    assert sol.metrics.revenue_usd_per_year == pytest.approx(2_522_880)
    for h in inst["hardware"]:
        h["idle_power_fraction"] = 1.0
    full = solve(inst, "revenue")
    assert racks(full) == 10
    assert full.metrics.revenue_usd_per_year == pytest.approx(1_576_800)


def test_input_and_cached_input_are_billed_and_cached_input_skips_prefill():
    """Four input tokens per output token, half of them from the prefix cache. Output 6 USD/Mtok,
    input 1.0, cached input 0.1: each output token earns 6 + 4 x (0.5 x 1.0 + 0.5 x 0.1) = 8.2
    USD/Mtok. 10,000 tokens/s sold: 10,000 x 8.2 x 31.536 = 2,585,952 USD/yr, of which input
    10,000 x 2.2 x 31.536 = 693,792.

    Disaggregated serving: a decode-only rack makes 10,000 tokens/s, a prefill rack 20,000 input
    tokens/s. Only uncached input is prefilled: 4 x 0.5 x 10,000 = 20,000, one prefill
    rack-equivalent, so 2 racks in all (3 without the cache)."""
    inst = tiny()
    inst["workloads"][0].update(input_tokens_per_output_token=4.0, cached_input_fraction=0.5)
    h = gpu(capex=1e6)
    h["performance"]["chat"] = {"prefill_tokens_per_s": 20_000, "decode": [[10, 10_000]]}
    inst["hardware"] = [h]
    inst["tiers"] = [tier("api", 10, 6.0, input_price_usd_per_mtok=1.0, cached_input_price_usd_per_mtok=0.1,
                          max_tokens_per_s=10_000)]
    sol = solve(inst, "revenue")
    row = sol.tiers[0]
    assert row.revenue_usd_per_year == pytest.approx(2_585_952)
    assert row.input_revenue_usd_per_year == pytest.approx(693_792)
    assert row.input_tokens_per_s == pytest.approx(40_000)
    assert racks(sol) == 2
    prefill = sum(a.racks for a in sol.allocation if a.role == "prefill")
    assert prefill == pytest.approx(1.0)
    inst["workloads"][0]["cached_input_fraction"] = 0.0
    assert racks(solve(inst, "revenue")) == 3


def test_an_electricity_price_by_slice_moves_work_to_cheap_hours():
    """Cheap hours (4,380 h at 20 USD/MWh) and dear ones (4,380 h at 500 USD/MWh). A rack that
    serves nothing draws nothing (idle_power_fraction 0). A busy rack-hour earns 10,000 x 3,600 x
    1 USD/1e6 = 36 USD and costs 0.1 MW x the price: 2 USD cheap, 50 USD dear. Maximising profit,
    5 racks serve the 50,000 tokens/s cap in the cheap hours and none in the dear ones.

    Profit: 5 x (36 - 2) x 4,380 = 744,600 USD/yr less the racks' annuity 5 x 1,000/5 = 1,000:
    743,600 USD/yr. Energy: 0.5 MW x 20 x 4,380 = 43,800 USD/yr."""
    inst = sliced([("cheap", 4380), ("dear", 4380)], electricity_usd_per_mwh={"cheap": 20, "dear": 500})
    inst["hardware"] = [gpu(capex=1_000, idle_power_fraction=0.0)]
    inst["tiers"] = [tier("paid", 10, 1.0, max_tokens_per_s=50_000)]
    sol = solve(inst, "profit")
    assert racks(sol) == 5
    assert tier_in(sol, "cheap", "paid").tokens_per_s == pytest.approx(50_000)
    assert tier_in(sol, "dear", "paid").tokens_per_s == pytest.approx(0, abs=1e-6)
    assert by_name(sol.slices, "dear").power.total_mw == pytest.approx(0, abs=1e-9)
    assert by_name(sol.slices, "cheap").energy_usd_per_year == pytest.approx(43_800)
    assert sol.metrics.profit_usd_per_year == pytest.approx(743_600)


def test_air_cooling_costs_more_power_in_a_hot_slice():
    """Air-cooled racks (100 kW, no liquid). Cooling power per MW of heat: 0.1 in the cool slice,
    0.6 in the hot one. Grid 1 MW, racks draw full power in every slice: the hot slice allows
    IT <= 1 / 1.6 = 0.625 MW, 6 racks (the cool one would take 9). Facility power 0.6 x 1.6 = 0.96 MW
    hot and 0.6 x 1.1 = 0.66 MW cool; revenue 60,000 tokens/s x 31.536 = 1,892,160 USD/yr."""
    inst = sliced([("cool", 5000), ("hot", 3760)], air_cooling_overhead={"cool": 0.1, "hot": 0.6})
    inst["hardware"] = [gpu(liquid_cooled_fraction=0.0)]
    inst["tiers"] = [tier("paid", 10, 1.0)]
    sol = solve(inst, "revenue")
    assert racks(sol) == 6
    assert by_name(sol.slices, "hot").power.total_mw == pytest.approx(0.96)
    assert by_name(sol.slices, "cool").power.total_mw == pytest.approx(0.66)
    assert by_name(sol.slices, "hot").power.cooling_mw == pytest.approx(0.36)
    assert sol.metrics.revenue_usd_per_year == pytest.approx(1_892_160)
    assert sol.metrics.facility_power_mw == pytest.approx((5000 * 0.66 + 3760 * 0.96) / 8760)  # the year's mean
    assert sol.power.total_mw == pytest.approx(0.96)  # the busiest slice's chain


def test_grid_power_by_slice_names_the_slice_when_infeasible():
    """A floor of 50,000 tokens/s in every slice needs 5 racks, 0.5 MW; the night's grid gives
    0.3 MW: the diagnosis needs 0.2 MW more grid power in the night slice."""
    inst = sliced([("day", 4380), ("night", 4380)], grid_power_mw={"day": 1.0, "night": 0.3})
    inst["hardware"] = [gpu()]
    inst["tiers"] = [tier("paid", 10, 1.0, min_tokens_per_s=50_000)]
    sol = optimizer.solve(inst)
    assert sol.status == "infeasible"
    needs = sol.diagnosis.needs
    assert [(e.constraint, e.slice) for e in needs] == [("facility_power[night]", "night")]
    assert needs[0].missing == pytest.approx(0.2)
    assert "needs 0.2 MW more grid power in the night slice" in sol.diagnosis.sentence


def test_shadow_prices_are_read_per_slice():
    """With the racks fixed at 5 (the peak's cap, 50,000 tokens/s), one more token/s of off-peak
    cap earns 0.75 x 31.536 = 23.652 USD/yr (a quarter of the year is peak): the dual of
    demand_cap[paid,off], listed in the off slice."""
    inst = sliced([("peak", 2190), ("off", 6570)])
    inst["hardware"] = [gpu(capex=1e6)]
    inst["tiers"] = [tier("paid", 10, 1.0, max_tokens_per_s={"peak": 50_000, "off": 20_000})]
    sol = solve(inst, "revenue")
    off = {s.constraint: s.value for s in by_name(sol.slices, "off").shadow_prices}
    assert off["demand_cap[paid,off]"] == pytest.approx(0.75 * YEAR_MTOK)
    assert all(s.constraint.endswith(",off]") or s.constraint.endswith("[off]") for s in by_name(sol.slices, "off").shadow_prices)


def test_explain_reads_limits_per_slice():
    """The peak-and-off instance above: in the peak all 5 racks' 50,000 tokens/s meet the cap (use
    1.0, binding), off it 20,000 of 20,000; the grid (1 MW) is half used (0.5 MW) in both."""
    from optimizer.analysis.explain import limits

    inst = sliced([("peak", 2190), ("off", 6570)])
    inst["hardware"] = [gpu(capex=1e6)]
    inst["tiers"] = [tier("paid", 10, 1.0, max_tokens_per_s={"peak": 50_000, "off": 20_000})]
    sol = solve(inst, "revenue")
    rows = {r.constraint: r for r in limits(optimizer.load_instance(inst), sol)}
    assert rows["demand_cap[paid,peak]"].limit == 50_000 and rows["demand_cap[paid,peak]"].binding
    assert rows["demand_cap[paid,off]"].usage == pytest.approx(20_000)
    for s in ("peak", "off"):
        assert rows[f"facility_power[{s}]"].use == pytest.approx(0.5)
        assert not rows[f"facility_power[{s}]"].binding
    assert "facility_power" not in rows


def test_an_unchosen_system_is_explained_on_a_sliced_instance():
    """A second GPU, twice the price for the same work, is left out; forcing one rack of it in
    costs its annuity: 2e6 / 5 = 400,000 USD/yr of profit against buying the cheaper one (which
    the plan then needs one fewer of: 200,000 back), so the loss is 200,000 USD/yr."""
    from optimizer.analysis.explain import explain

    inst = sliced([("peak", 2190), ("off", 6570)])
    inst["hardware"] = [gpu("cheap", capex=1e6), gpu("dear", capex=2e6)]
    inst["tiers"] = [tier("paid", 10, 1.0, max_tokens_per_s={"peak": 50_000, "off": 50_000})]
    inst["objective"] = "profit"
    exp = explain(inst)
    (entry,) = exp.not_chosen
    assert entry.hardware == "dear" and entry.forced_racks == 1
    assert entry.forced_loss == pytest.approx(200_000, rel=1e-6)
    assert {"demand_cap[paid,peak]", "demand_cap[paid,off]"} <= {r.constraint for r in exp.limits}


def test_a_sliced_horizon_names_the_year_and_the_slice_when_infeasible():
    """Two one-year periods; the night's grid is 0.3 MW in 2026 and 1 MW from 2027. A floor of
    50,000 tokens/s in every slice needs 0.5 MW: 0.2 MW more grid power in 2026 in the night slice."""
    inst = sliced([("day", 4380), ("night", 4380)],
                  grid_power_mw={2026: {"day": 1.0, "night": 0.3}, 2027: 1.0})
    inst["horizon"] = {"start_year": 2026, "period_years": [1, 1]}
    inst["hardware"] = [gpu(lifetime_years=5)]
    inst["tiers"] = [tier("paid", 10, 1.0, min_tokens_per_s=50_000)]
    sol = optimizer.solve(inst)
    assert sol.status == "infeasible"
    assert [(e.constraint, e.slice) for e in sol.diagnosis.needs] == [("period[2026].facility_power[night]", "night")]
    assert "needs 0.2 MW more grid power in 2026 in the night slice" in sol.diagnosis.sentence
