"""Infeasibility diagnosis: each limit alone makes an instance infeasible, and `needs` (site
limits) or `gives_up` (demand, installed fleets, side constraints) names it with the amount
worked out by hand in the test."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import optimizer
from helpers import gpu, tier, tiny

runner = CliRunner()


def base(floor=150_000, **facility):
    """10,000 tok/s and 0.1 MW per rack; a floor of 150,000 tok/s needs 15 racks (1.5 MW)."""
    inst = tiny(**facility)
    inst["hardware"] = [gpu(curve=((10, 10000),))]
    inst["tiers"] = [tier("t", 10, 1.0, min_tokens_per_s=floor)]
    return inst


def diagnosis(inst):
    sol = optimizer.solve(inst)
    assert sol.status == "infeasible" and sol.diagnosis is not None, sol.message
    assert sol.message == f"infeasible: {sol.diagnosis.sentence}"
    return sol.diagnosis


def entry(entries, name):
    found = [e for e in entries or [] if e.constraint == name]
    assert found, f"{name} not in {entries}"
    return found[0]


def only(entries, name, missing, unit, rel=1e-6):
    e = entry(entries, name)
    assert [x.constraint for x in entries] == [name]
    assert e.missing == pytest.approx(missing, rel=rel) and e.unit == unit


def site(**kw):
    return base(grid_power_mw=10.0, **kw)


def test_needs_grid_power():
    d = diagnosis(base())
    only(d.needs, "facility_power", 0.5, "MW")
    assert d.sentence.startswith("needs 0.5 MW more grid power, or 5")
    assert "facility_power" in d.conflict and "demand_floor[t]" in d.conflict


def test_needs_liquid_cooling():
    only(diagnosis(site(liquid_cooling_mw=1.0)).needs, "liquid_cooling", 0.5, "MW heat")


def test_needs_air_cooling():
    inst = site(air_cooling_mw=1.0)
    inst["hardware"][0]["liquid_cooled_fraction"] = 0.0
    only(diagnosis(inst).needs, "air_cooling", 0.5, "MW heat")


def test_needs_hall_slots():
    inst = site()
    inst["facility"]["halls"][0]["rack_slots"] = 10
    d = diagnosis(inst)
    only(d.needs, "hall_slots[a]", 5, "racks")
    assert "5 more rack slots in hall a" in d.sentence


def test_needs_budget():
    """$1M per rack, $10M of budget: 10 racks; 15 are needed."""
    only(diagnosis(site(capex_budget_usd=1.0e7)).needs, "capex_budget", 5.0e6, "USD")


def test_needs_supply():
    inst = site()
    inst["hardware"][0]["max_racks"] = 10
    only(diagnosis(inst).needs, "supply_cap[g]", 5, "racks")


def test_needs_fabric_reach():
    """Radix 8, one switch tier: 8 ports reach; 15 racks x 4 ports = 60: 52 ports short."""
    inst = site()
    inst["hardware"][0]["scale_out_ports"] = 4
    inst["network"] = {"max_tiers": 1, "options": [{"name": "o", "technology": "pluggable", "switch_radix": 8}]}
    only(diagnosis(inst).needs, "fabric_reach", 52, "ports")


def test_needs_kv_transfer():
    """Disaggregated, rho = 1, kappa = 1e5 bytes: 8e5 bits per output token. 80,000 tok/s
    need 6.4e10 b/s; 10 racks (1 MW) of one 10 Gb/s port at u = 0.5 carry 5e10: 14 Gb/s short."""
    inst = tiny()
    inst["models"][0]["kv_bytes_per_token"] = 1e5
    pre, dec = gpu("pre"), gpu("dec")
    pre["performance"] = {"chat": {"prefill_tokens_per_s": 1e5}}
    dec["performance"] = {"chat": {"decode": [[10, 20000]]}}
    for h in (pre, dec):
        h.update(scale_out_ports=1, port_gbps=10)
    inst["hardware"] = [pre, dec]
    inst["tiers"] = [tier("t", 10, 1.0, min_tokens_per_s=80_000)]
    inst["network"] = {"max_tiers": 1, "kv_transfer_max_utilization": 0.5, "options": [{"name": "o", "technology": "copper", "switch_radix": 64}]}
    only(diagnosis(inst).needs, "kv_transfer", 14, "Gb/s")


def test_gives_up_demand_floor():
    d = diagnosis(base())
    only(d.gives_up, "demand_floor[t]", 50_000, "tokens/s")


def test_gives_up_min_revenue():
    """10 racks at $1/Mtok earn 100,000 x 31.536 = 3,153,600 USD/yr; 4e6 is asked: 12.68
    racks' worth, so 13 racks, 0.3 MW more grid."""
    inst = base(floor=0)
    inst["constraints"] = {"min_revenue_usd_per_year": 4.0e6}
    d = diagnosis(inst)
    only(d.gives_up, "min_revenue", 4.0e6 - 3_153_600, "USD/yr")
    only(d.needs, "facility_power", 0.3, "MW")


def test_gives_up_min_tokens_per_joule():
    """A floor of 50,000 tok/s forces 5 racks (0.5 MW): 0.1 tokens/J at best; 0.15 is asked."""
    inst = base(floor=50_000)
    inst["constraints"] = {"min_tokens_per_joule": 0.15}
    d = diagnosis(inst)
    only(d.gives_up, "min_tokens_per_joule", 0.05, "tokens/J")
    assert d.needs is None and "no addition to the site's limits alone" in d.sentence


def test_gives_up_kind_power_share():
    """Only GPUs on offer and LPUs must hold half the IT power: the whole half is missing."""
    inst = base(floor=50_000)
    inst["constraints"] = {"kind_power_share": {"lpu": {"min": 0.5}}}
    only(diagnosis(inst).gives_up, "kind_power_share[lpu]", 0.5, "share of IT power")


def test_gives_up_tier_power_share():
    """Tier u (250 tok/s/user) is beyond the curve; a 25% share of the allocated power for it
    cannot be had while tier t's floor allocates racks."""
    inst = base(floor=50_000)
    inst["tiers"].append(tier("u", 250, 1.0))
    inst["constraints"] = {"tier_power_share": {"u": {"min": 0.25}}}
    only(diagnosis(inst).gives_up, "tier_power_share[u]", 0.25, "share of allocated power")


def test_gives_up_installed_racks():
    """15 installed racks draw 1.5 MW on a 1 MW grid: 0.5 MW more, or 5 fewer installed racks."""
    inst = base(floor=0)
    inst["hardware"][0]["installed_racks"] = 15
    d = diagnosis(inst)
    only(d.needs, "facility_power", 0.5, "MW")
    only(d.gives_up, "installed[g]", 5, "racks")


def test_nothing_on_the_site_helps():
    """No hall admits the racks: no site limit (grid, cooling, slots) can fix a missing loop."""
    inst = base(floor=50_000)
    inst["facility"]["halls"][0]["liquid_cooling"] = False
    d = diagnosis(inst)
    assert d.needs is None and d.gives_up is not None
    only(d.gives_up, "demand_floor[t]", 50_000, "tokens/s")


def test_report_and_json_lead_with_the_sentence(tmp_path):
    import json

    import yaml

    from optimizer.interfaces.cli import app

    path = tmp_path / "i.yaml"
    path.write_text(yaml.safe_dump(base()))
    res = runner.invoke(app, ["solve", str(path)])
    assert res.exit_code == 1 and "needs 0.5 MW more grid power, or 50,000 fewer tokens/s in tier t" in res.output
    res = runner.invoke(app, ["solve", str(path), "--json"])
    sol = json.loads(res.output)
    assert sol["diagnosis"]["needs"] == [{"constraint": "facility_power", "missing": pytest.approx(0.5), "unit": "MW", "slice": None}]


@pytest.mark.parametrize("seed", range(0, 60, 3))
def test_untightened_model_has_the_same_optimum(seed):
    """The implied bounds and the tightened big-M of build_model(tight=True) change no optimum."""
    from generate import random_instance
    from optimizer.model.families import build_model, objective_expr, set_objective
    from optimizer.model.preprocess import preprocess
    from optimizer.solving.highs import HighsAdapter, SolverOptions

    d = preprocess(optimizer.load_instance(random_instance(seed)))
    values = []
    for tight in (True, False):
        m = build_model(d, tight=tight)
        set_objective(m, objective_expr(m, "tokens"), "max")
        res = HighsAdapter(SolverOptions(mip_gap=1e-9)).solve(m, None)
        values.append(res.objective if res.has_solution else None)
    if values[0] is None:
        assert values[1] is None
    else:
        assert values[1] == pytest.approx(values[0], rel=1e-6, abs=1e-9)
