"""One hand-worked instance per constraint family of MODEL.md section 6: the family binds, the
optimum is derived in the docstring, and the plan passes the independent verifier."""

from __future__ import annotations

import optimizer
from helpers import YEAR_MTOK, gpu, tier, tiny
from verifier import verify


def run(inst, objective="tokens", **kw):
    sol = optimizer.solve(inst, objective=objective, mip_gap=1e-9, **kw)
    assert sol.status == "optimal", sol.message
    verify(optimizer.load_instance(inst), sol.model_dump(mode="json"))
    return sol


def racks(sol):
    return {r.hardware: sum(x.count for x in sol.racks if x.hardware == r.hardware) for r in sol.racks}


def binding(sol):
    return {b.constraint for b in sol.binding}


def base(**facility):
    inst = tiny(**facility)
    inst["hardware"] = [gpu(curve=((10, 10000),))]
    inst["tiers"] = [tier("t", 10, 1.0)]
    return inst


def test_supply_cap():
    """6.1: max_racks 3 caps a 10-rack site: 3 x 10,000 tok/s."""
    inst = base()
    inst["hardware"][0]["max_racks"] = 3
    sol = run(inst)
    assert sol.metrics.tokens_per_s == 30_000 and "supply_cap[g]" in binding(sol)


def test_installed_racks_stay_and_cost_no_capex():
    """6.1: 4 installed racks stay even when they earn nothing (price 0, profit objective);
    they carry no capex, only opex 4 x 10,000."""
    inst = base()
    inst["tiers"][0]["price_usd_per_mtok"] = 0.0
    inst["hardware"][0].update(installed_racks=4, opex_usd_per_year=10_000)
    sol = run(inst, "profit")
    assert racks(sol) == {"g": 4}
    assert sol.metrics.capex_usd == 0 and abs(sol.metrics.cost_usd_per_year - 40_000) < 1e-6
    assert "installed[g]" in binding(sol)


def test_replicas_of_several_racks():
    """6.2-6.3: a replica needs 4 racks; 6 racks hold 1 replica, so only 4 racks serve: 40,000."""
    inst = base()
    inst["hardware"][0].update(max_racks=6, racks_per_replica={"m": 4})
    sol = run(inst)
    assert sol.metrics.tokens_per_s == 40_000
    assert [(r.model, r.count) for r in sol.replicas] == [("m", 1)]


def test_availability_derates():
    """6.3: availability 0.9 on 10 racks: 9 rack-equivalents, 90,000 tok/s."""
    inst = base()
    inst["hardware"][0]["availability"] = 0.9
    sol = run(inst)
    assert abs(sol.metrics.tokens_per_s - 90_000) < 1e-6


def disaggregated(rho=4.0):
    inst = tiny()
    inst["workloads"][0]["input_tokens_per_output_token"] = rho
    pre = gpu("pre")
    pre["performance"] = {"chat": {"prefill_tokens_per_s": 1e5}}
    dec = gpu("dec")
    dec["performance"] = {"chat": {"decode": [[10, 20000]]}}
    inst["hardware"] = [pre, dec]
    inst["tiers"] = [tier("t", 10, 1.0)]
    return inst


def test_disaggregated_prefill_and_decode():
    """6.5-6.6: rho = 4. q <= 20,000 nd and 4 q <= 100,000 np with nd + np <= 10 (1 MW):
    the best split gives min(20,000 nd, 25,000 np) = 100,000 tok/s, all disaggregated."""
    sol = run(disaggregated())
    assert abs(sol.metrics.tokens_per_s - 100_000) < 1e-6
    assert abs(sol.tiers[0].disaggregated_tokens_per_s - 100_000) < 1e-6
    assert {a.role for a in sol.allocation} == {"prefill", "decode"}


def test_demand_floor_and_cap():
    """6.7: the cap holds the $1 tier at 25,000 and the $0 tier's floor of 12,000 is met:
    37,000 tok/s need 4 racks (the tie-break buys no more), whose last 15,000 tok/s the free
    tier serves (the reported allocation serves every token its racks can)."""
    inst = base()
    inst["tiers"] = [tier("t", 10, 1.0, max_tokens_per_s=25_000), tier("free", 10, 0.0, min_tokens_per_s=12_000)]
    sol = run(inst, "revenue")
    q = {t.tier: t.tokens_per_s for t in sol.tiers}
    assert racks(sol) == {"g": 4}
    assert abs(q["t"] - 25_000) < 1e-6 and abs(q["free"] - 15_000) < 1e-6
    assert "demand_cap[t]" in binding(sol)
    inst["tiers"][1]["min_tokens_per_s"] = 15_000  # now the floor takes every spare token
    assert "demand_floor[free]" in binding(run(inst, "revenue"))


def test_liquid_cooling_limit():
    """6.8: 0.35 MW of liquid heat, 0.1 MW per fully liquid rack: 3 racks."""
    sol = run(base(liquid_cooling_mw=0.35))
    assert racks(sol) == {"g": 3}


def test_air_cooling_limit():
    """6.8: half the heat to air, 0.05 MW per rack against 0.2 MW of air cooling: 4 racks."""
    inst = base(air_cooling_mw=0.2)
    inst["hardware"][0]["liquid_cooled_fraction"] = 0.5
    sol = run(inst)
    assert racks(sol) == {"g": 4} and "air_cooling" in binding(sol)


def test_facility_power_with_losses_and_cooling():
    """6.9: per rack F = 1.1 x 0.1 + 0.2 x 0.1 = 0.13 MW; 1 MW holds 7 racks (0.91 MW)."""
    sol = run(base(distribution_loss_fraction=0.1, liquid_cooling_overhead=0.2))
    assert racks(sol) == {"g": 7}
    assert abs(sol.metrics.facility_power_mw - 0.91) < 1e-9
    assert abs(sol.power.losses_mw - 0.07) < 1e-9 and abs(sol.power.cooling_mw - 0.14) < 1e-9


def test_hall_slots_and_admission():
    """6.10 and section 4: hall a has 3 slots; hall b feeds only 50 kW racks, hall c has no
    liquid loop: the 100 kW liquid rack stands only in a, 3 racks."""
    inst = base()
    inst["facility"]["halls"] = [
        {"name": "a", "rack_slots": 3, "max_rack_kw": 300, "liquid_cooling": True},
        {"name": "b", "rack_slots": 50, "max_rack_kw": 50, "liquid_cooling": True},
        {"name": "c", "rack_slots": 50, "max_rack_kw": 300, "liquid_cooling": False},
    ]
    sol = run(inst)
    assert [(r.hall, r.count) for r in sol.racks] == [("a", 3)]
    assert "hall_slots[a]" in binding(sol)


def fabric(max_tiers, **option):
    inst = base()
    inst["hardware"][0]["scale_out_ports"] = 4
    opt = {"name": "o", "technology": "pluggable", "switch_radix": 8}
    opt.update(option)
    inst["network"] = {"max_tiers": max_tiers, "options": [opt]}
    return inst


def test_fabric_reach():
    """6.11: radix 8, one tier reaches 8 ports; 4 ports per rack: 2 racks. Two tiers reach
    2 x (8/2)^2 = 32 ports: 8 racks of the 10 the grid could power."""
    one = run(fabric(1))
    assert racks(one) == {"g": 2} and one.fabric.switch_tiers == 1 and one.fabric.endpoint_ports == 8
    two = run(fabric(2))
    assert racks(two) == {"g": 8} and two.fabric.switch_tiers == 2 and two.fabric.reach_ports == 32


def test_fabric_power_and_cheapest_design():
    """6.9 with 6.11: 2,500 W per endpoint port, 4 ports per rack: 0.01 MW per rack of network,
    0.11 MW per rack in all: 9 racks. With switch power 800 W / radix 64 = 12.5 W per hop, every
    design serves 9 racks (10 plus their fabric exceed 1 MW); one tier (1 hop, 50 W per rack)
    draws least, so the tie-break
    (min COST, which bills energy at $81/MWh) builds it."""
    sol = run(fabric(1, endpoint_optics_w=2500, switch_radix=64))
    assert racks(sol) == {"g": 9} and abs(sol.metrics.network_power_mw - 0.09) < 1e-9
    inst = fabric(3, endpoint_optics_w=0, switch_power_w=800, switch_radix=64)
    inst["facility"]["electricity_usd_per_mwh"] = 81.0
    sol = run(inst)
    assert sol.fabric.switch_tiers == 1 and abs(sol.fabric.power_mw - 9 * 4 * 12.5 / 1e6) < 1e-12


def test_optics_choice_prefers_lower_power():
    """Two options, same radix: CPO at 2.25 W per switch port against pluggable at 7.5 W. Both
    serve the same 8 racks; CPO draws less, so the tie-break (min COST with energy billed) picks it."""
    inst = fabric(2, switch_port_optics_w=7.5, endpoint_optics_w=7.5)
    inst["network"]["options"].append(
        {"name": "cpo", "technology": "cpo", "switch_radix": 8, "switch_port_optics_w": 2.25, "endpoint_optics_w": 7.5}
    )
    inst["facility"]["electricity_usd_per_mwh"] = 81.0
    sol = run(inst)
    assert sol.fabric.option == "cpo"


def test_kv_transfer():
    """6.12: kappa = 1e5 bytes, rho = 1: 8e5 bits per output token. One 10 Gb/s port per rack at
    u = 0.5 carries 5e9 b/s: 6,250 tok/s per rack. 10 racks: q <= 62,500, below what 4 decode
    and 6 prefill racks could serve (80,000)."""
    inst = disaggregated(rho=1.0)
    inst["models"][0]["kv_bytes_per_token"] = 1e5
    for h in inst["hardware"]:
        h.update(scale_out_ports=1, port_gbps=10)
    inst["network"] = {"max_tiers": 1, "kv_transfer_max_utilization": 0.5, "options": [{"name": "o", "technology": "copper", "switch_radix": 64}]}
    sol = run(inst)
    assert abs(sol.metrics.tokens_per_s - 62_500) < 1e-3 and "kv_transfer" in binding(sol)


def test_capex_budget():
    """6.13: $3.5M buys 3 racks at $1M."""
    sol = run(base(capex_budget_usd=3.5e6))
    assert racks(sol) == {"g": 3} and sol.metrics.capex_usd == 3e6


def test_min_revenue():
    """6.14: the cheapest plan earning $1M/yr: 315,360 per rack -> 4 racks, 4 x 200,000."""
    inst = base()
    inst["constraints"] = {"min_revenue_usd_per_year": 1e6}
    sol = run(inst, "min_cost")
    assert racks(sol) == {"g": 4} and abs(sol.objective.value - 800_000) < 1e-6


def test_min_tokens_per_joule():
    """6.14: a (10,000 tok/s) and b (5,000 tok/s), 100 kW each, a capped at 4. Without the floor
    4 a + 6 b give 70,000 tok/s at 0.07 tokens/J; 0.08 tokens/J allows 2 b: 50,000 tok/s."""
    inst = base()
    inst["hardware"] = [gpu("a", curve=((10, 10000),), max_racks=4), gpu("b", curve=((10, 5000),))]
    assert abs(run(inst).metrics.tokens_per_s - 70_000) < 1e-6
    inst["constraints"] = {"min_tokens_per_joule": 0.08}
    sol = run(inst)
    assert racks(sol) == {"a": 4, "b": 2} and abs(sol.metrics.tokens_per_s - 50_000) < 1e-6


def test_kind_power_share():
    """6.14: an LPU rack (5,000 tok/s) beside the GPU (10,000); at least half the IT power on
    LPUs: 5 + 5 racks, 75,000 tok/s. At most 30% on GPUs: 3 + 7, 65,000."""
    inst = base()
    inst["hardware"].append(dict(gpu("l", curve=((10, 5000),)), kind="lpu"))
    inst["constraints"] = {"kind_power_share": {"lpu": {"min": 0.5}}}
    assert racks(run(inst)) == {"g": 5, "l": 5}
    inst["constraints"] = {"kind_power_share": {"gpu": {"max": 0.3}}}
    sol = run(inst)
    assert racks(sol) == {"g": 3, "l": 7} and abs(sol.metrics.tokens_per_s - 65_000) < 1e-6


def test_tier_power_share():
    """6.14: $1 and $2 tiers on the same racks; revenue puts all on $2 unless the $1 tier holds
    25% of the allocated power: (2.5 rack-eq x 10,000 x $1 + 7.5 x 10,000 x $2) x 31.536."""
    inst = base()
    inst["tiers"] = [tier("t1", 10, 1.0), tier("t2", 10, 2.0)]
    inst["constraints"] = {"tier_power_share": {"t1": {"min": 0.25, "max": 0.25}}}
    sol = run(inst, "revenue")
    assert abs(sol.objective.value - (25_000 * 1 + 75_000 * 2) * YEAR_MTOK) < 1e-3


def test_power_given_to_a_free_tier_serves_tokens():
    """A 25% power share for a $0 tier: its 2.5 rack-equivalents serve 25,000 tok/s, not 0 (the
    revenue optimum does not care; the reported allocation serves what its racks can)."""
    inst = base()
    inst["tiers"] = [tier("paid", 10, 1.0), tier("free", 10, 0.0)]
    inst["constraints"] = {"tier_power_share": {"free": {"min": 0.25, "max": 0.25}}}
    sol = run(inst, "revenue")
    q = {t.tier: t.tokens_per_s for t in sol.tiers}
    assert abs(q["free"] - 25_000) < 1e-6 and abs(q["paid"] - 75_000) < 1e-6
