"""What a limit is worth by re-solving (MODEL.md section 14): hand-worked, and against finite
differences computed here, independently, on random instances."""

from __future__ import annotations

import copy

import pytest

import optimizer
from generate import random_instance, random_sliced_instance
from helpers import YEAR_MTOK, gpu, tier, tiny


def by_limit(sol):
    return {v.limit: v for v in sol.marginal_values}


def grid_instance() -> dict:
    """The grid of the test below: 205.05 MW, racks of 100 kW selling 10,000 tokens/s at 1 USD/Mtok
    with no cap and no capex, the revenue objective."""
    inst = tiny(grid_power_mw=205.05, liquid_cooling_mw=1000.0)
    inst["objective"] = "revenue"
    inst["facility"]["halls"][0]["rack_slots"] = 5000
    inst["hardware"] = [gpu(capex=0.0)]
    inst["tiers"] = [tier("paid", 10, 1.0)]
    return inst


PER_MW = 21 * 10_000 * YEAR_MTOK / 2.0505  # USD/yr per MW on grid_instance: 21 racks per 1% of its grid


def test_a_grid_the_dual_prices_at_zero_is_worth_a_rack_per_tenth_of_a_mw():
    """205.05 MW of grid, racks of 100 kW that each sell 10,000 tokens/s at 1 USD/Mtok (315,360
    USD/yr): 2,050 racks stand and 0.05 MW is left, so with the racks fixed the grid has no price
    (the LP dual is 0). Δ = 1% of 205.05 = 2.0505 MW. Raised, 207.1005 MW holds 2,071 racks: 21
    more, 21 x 315,360 = 6,622,560 USD/yr, or 3,229,729 USD/yr per MW. Lowered, 202.9995 MW holds
    2,029 racks: 21 fewer, the same amount per MW lost."""
    inst = grid_instance()
    sol = optimizer.solve(inst, objective="revenue", marginal_values=True)
    assert sum(r.count for r in sol.racks) == 2050
    assert {p.constraint: p.value for p in sol.shadow_prices}.get("facility_power", 0.0) == 0.0
    grid = by_limit(sol)["facility_power"]
    assert grid.delta == pytest.approx(2.0505)
    assert grid.value_up == pytest.approx(PER_MW)
    assert grid.value_down == pytest.approx(-PER_MW)
    assert grid.racks_up == {"g": 21} and grid.racks_down == {"g": -21}
    assert grid.objective_unit == "USD/yr per MW"
    # the slots (5,000) are far from binding: worth nothing either way
    assert by_limit(sol)["hall_slots[a]"].value_up == 0.0


def test_each_slice_grid_is_moved_on_its_own():
    """Two slices, night grid 0.55 MW and day 1.05 MW; the racks (100 kW, 10,000 tokens/s,
    1 USD/Mtok, idle power 1) are set by the night: 5 racks. Δ = 1 MW (at least one unit). One
    more MW at night lets the day's grid bind instead: 10 racks, 5 more, 5 x 315,360 = 1,576,800
    USD/yr per MW; a day MW more is worth nothing (the night still binds)."""
    inst = tiny(grid_power_mw={"day": 1.05, "night": 0.55})
    inst["slices"] = [{"name": "day", "hours": 4380}, {"name": "night", "hours": 4380}]
    inst["hardware"] = [gpu(capex=0.0)]
    inst["tiers"] = [tier("paid", 10, 1.0)]
    sol = optimizer.solve(inst, objective="revenue", marginal_values=True)
    values = by_limit(sol)
    assert values["facility_power[night]"].value_up == pytest.approx(5 * 10_000 * YEAR_MTOK)
    assert values["facility_power[day]"].value_up == pytest.approx(0.0, abs=1e-6)
    assert values["facility_power[night]"].racks_up == {"g": 5}


# --------------------------------------------------------------------------- finite differences


def moved(doc: dict, path: list, delta: float) -> dict:
    """The instance with the number at ``path`` (keys and list indexes) moved by delta."""
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = node[path[-1]] + delta
    return out


def test_marginal_values_are_finite_differences_of_re_solves():
    """On random instances, each reported value is (z(limit + Δ) - z) / Δ and (z(limit - Δ) - z)
    / Δ, with z solved here at the same gap; Δ is 1% of the limit, at least one unit."""
    checked = 0
    for seed in range(40):
        doc = random_instance(seed)
        sol = optimizer.solve(doc, marginal_values=True)
        if sol.status != "optimal":
            continue
        z = optimizer.solve(doc, mip_gap=1e-6).objective.value
        grid = doc["facility"]["grid_power_mw"]
        delta = max(0.01 * grid, 1.0)
        up = optimizer.solve(moved(doc, ["facility", "grid_power_mw"], delta), mip_gap=1e-6)
        v = by_limit(sol)["facility_power"]
        assert v.delta == pytest.approx(delta)
        assert v.value_up == pytest.approx((up.objective.value - z) / delta, rel=1e-6, abs=1e-6 * max(1.0, abs(z)))
        if grid - delta >= 0:
            down = optimizer.solve(moved(doc, ["facility", "grid_power_mw"], -delta), mip_gap=1e-6)
            if down.has_plan:
                assert v.value_down == pytest.approx((down.objective.value - z) / delta, rel=1e-6, abs=1e-6 * max(1.0, abs(z)))
        slots = doc["facility"]["halls"][0]["rack_slots"]
        step = max(1, round(0.01 * slots))
        up = optimizer.solve(moved(doc, ["facility", "halls", 0, "rack_slots"], step), mip_gap=1e-6)
        hall = by_limit(sol)[f"hall_slots[{doc['facility']['halls'][0]['name']}]"]
        assert hall.value_up == pytest.approx((up.objective.value - z) / step, rel=1e-6, abs=1e-6 * max(1.0, abs(z)))
        checked += 1
        if checked >= 8:
            break
    assert checked >= 8, checked


def test_a_sliced_random_instance_reports_each_slice_grid():
    for seed in range(30):
        doc = random_sliced_instance(seed)
        if not isinstance(doc["facility"]["grid_power_mw"], dict):
            continue
        sol = optimizer.solve(doc, marginal_values=True)
        if sol.status != "optimal":
            continue
        names = {v.limit for v in sol.marginal_values}
        assert {f"facility_power[{s['name']}]" for s in doc["slices"]} <= names
        return
    pytest.fail("no sliced random instance with a grid by slice had a plan")


def test_reports_lead_with_what_one_more_mw_is_worth():
    """The hand-worked grid above: 21 racks per 2.0505 MW, 3,229,729 USD/yr per MW, is the
    headline of the terminal and HTML reports ($3.23M/yr), and both list every limit moved."""
    from optimizer.outputs.document import to_html, to_markdown
    from optimizer.outputs.report import to_text

    inst = grid_instance()
    sol = optimizer.solve(inst, objective="revenue", marginal_values=True)
    worth = f"${PER_MW / 1e6:.3g}M/yr"
    text = to_text(sol, 200)
    assert f"one more MW of grid power is worth {worth}; one fewer costs {worth}" in text
    assert "What each limit is worth" in text and "hall_slots[a]" in text
    loaded = optimizer.load_instance(inst)
    page = to_html(loaded, sol, None, [])
    assert "id='marginal-values'" in page and f"One more MW of grid power is worth {worth}" in page
    assert "USD/yr per MW" in to_markdown(loaded, sol, None, [])


# --------------------------------------------------------------------------- purchase lots (section 14)


def lots_instance(lot: int) -> dict:
    """130,000 tokens/s of demand at 1 USD/Mtok; racks of 10,000 tokens/s (315,360 USD/yr each)
    cost 500,000 USD over 5 years at 0%: 100,000 USD/yr. Grid 2 MW (20 racks)."""
    inst = tiny(grid_power_mw=2.0)
    inst["objective"] = "profit"
    inst["hardware"] = [gpu(capex=5e5, lot_racks=lot)]
    inst["tiers"] = [tier("paid", 10, 1.0, max_tokens_per_s=130_000)]
    return inst


def test_a_lot_of_8_buys_16_racks_where_13_are_best_alone():
    """Without lots 13 racks meet the demand: profit 13 x (315,360 - 100,000) = 2,799,680 USD/yr.
    In lots of 8: 8 racks earn 8 x 215,360 = 1,722,880; 16 racks sell the 130,000 tokens/s with 3
    idle, 13 x 315,360 - 16 x 100,000 = 2,499,680: two lots, 16 racks."""
    from optimizer.outputs.report import to_text
    from verifier import verify

    alone = optimizer.solve(lots_instance(1), mip_gap=1e-9)
    assert sum(r.count for r in alone.racks) == 13
    assert alone.metrics.profit_usd_per_year == pytest.approx(2_799_680)
    lots = optimizer.solve(lots_instance(8), mip_gap=1e-9)
    assert sum(r.count for r in lots.racks) == 16
    assert lots.metrics.profit_usd_per_year == pytest.approx(2_499_680)
    assert [(r.lot_racks, r.lots, r.racks) for r in lots.lots] == [(8, 2, 16)]
    assert "Bought in lots" in to_text(lots, 160)
    verify(optimizer.load_instance(lots_instance(8)), lots.model_dump(mode="json"))


def test_lots_over_a_horizon_are_bought_whole_in_each_period():
    """Two one-year periods, demand 130,000 tokens/s then 250,000; lots of 8. The first year buys
    16 racks (as above); the second needs 25 racks for its demand and buys 8 more: 24 racks sell
    240,000 tokens/s (one more lot of 8 would cost 8 x 100,000 for 10,000 tokens/s, 315,360 USD/yr).
    Every purchase is a whole number of lots."""
    from verifier import verify_horizon

    inst = lots_instance(8)
    inst["facility"]["grid_power_mw"] = 5.0
    inst["horizon"] = {"start_year": 2026, "period_years": [1, 1]}
    inst["tiers"][0]["max_tokens_per_s"] = {2026: 130_000, 2027: 250_000}
    sol = optimizer.solve(inst, mip_gap=1e-9)
    assert sol.status == "optimal", sol.message
    assert [(r.year, r.lots, r.racks) for r in sol.lots] == [(2026, 2, 16), (2027, 1, 8)]
    verify_horizon(optimizer.load_instance(inst), sol.model_dump(mode="json"))


def test_lots_are_validated():
    from optimizer.errors import InputError

    inst = lots_instance(0)
    with pytest.raises(InputError) as err:
        optimizer.load_instance(inst)
    assert err.value.issues[0].path == "hardware[0] (g).lot_racks"
    inst = lots_instance(1)
    inst["hardware"][0]["resale_fraction"] = 0.5
    with pytest.raises(InputError) as err:
        optimizer.load_instance(inst)
    assert "needs a 'horizon'" in err.value.issues[0].rule


# --------------------------------------------------------------------------- resale (section 14)


def refresh_instance(resale: float) -> dict:
    """2026 and 2027, one year each, 0% discount, 1 MW (10 racks of 100 kW), tokens at 1 USD/Mtok
    without a cap. 10 old racks stand (bought 2025 for 1e6 USD, 4-year life), 5,000 tokens/s each:
    157,680 USD/yr. From 2027 a new rack makes 10,000 tokens/s (315,360 USD/yr) for 1e6 USD over 5
    years: 200,000 USD/yr of annuity, so it nets 115,360 USD/yr, less than an old rack earns."""
    inst = tiny(grid_power_mw=1.0)
    inst["objective"] = "profit"
    inst["horizon"] = {"start_year": 2026, "period_years": [1, 1]}
    old = gpu("old", capex=1e6, curve=((10, 5000),), lifetime_years=4, installed_racks=10, installed_year=2025,
              resale_fraction=resale)
    new = gpu("new", capex=1e6, curve=((10, 10_000),), lifetime_years=5, available_from=2027)
    inst["hardware"] = [old, new]
    inst["tiers"] = [tier("paid", 10, 1.0)]
    return inst


def test_a_retirement_that_pays_only_because_of_resale():
    """Retired at the start of 2027 an old rack has 2025 + 4 - 2027 = 2 years left: at resale 0.5
    it returns 0.5 x 1e6 x 2/4 = 250,000 USD. Replacing it then nets 115,360 + 250,000 = 365,360
    against keeping it, 157,680: all 10 are sold and replaced. NPV: 2026 10 x 157,680 = 1,576,800;
    2027 10 x 115,360 = 1,153,600; resale 2,500,000; in all 5,230,400 USD. At resale 0 the old
    racks stay: NPV 2 x 1,576,800 = 3,153,600 USD, and no rack is retired."""
    from verifier import verify_horizon

    sold = optimizer.solve(refresh_instance(0.5), mip_gap=1e-9)
    assert sold.status == "optimal", sold.message
    assert [(e.year, e.hardware, e.racks, e.resale_usd) for e in sold.refresh] == [(2027, "old", 10, pytest.approx(2_500_000))]
    assert sold.periods[1].cash.resale_usd == pytest.approx(2_500_000)
    assert sold.metrics.discounted_resale_usd == pytest.approx(2_500_000)
    assert sold.metrics.npv_usd == pytest.approx(5_230_400)
    verify_horizon(optimizer.load_instance(refresh_instance(0.5)), sold.model_dump(mode="json"))
    kept = optimizer.solve(refresh_instance(0.0), mip_gap=1e-9)
    assert kept.refresh == []
    assert kept.metrics.npv_usd == pytest.approx(3_153_600)


def test_the_report_shows_the_cash_a_retirement_returns():
    from optimizer.outputs.report import to_text

    text = to_text(optimizer.solve(refresh_instance(0.5), mip_gap=1e-9), 200)
    assert "+ resale $2.50M" in text and "resale USD" in text


@pytest.mark.parametrize("chunk", range(2))
def test_random_plans_with_lots_and_resale_verify(chunk):
    """The verifier over random instances with purchase lots (and, over a horizon, resale)."""
    from generate import random_lots_horizon_instance, random_lots_instance
    from helpers import solve_and_verify
    from verifier import verify, verify_horizon

    seeds = list(range(60))[chunk::2]
    solve_and_verify(seeds, random_lots_instance, verify)
    solve_and_verify(seeds, random_lots_horizon_instance, verify_horizon)


# --------------------------------------------------------------------------- where they are asked for


def test_the_command_line_reports_them_and_can_skip_them(tmp_path):
    import json

    import yaml
    from typer.testing import CliRunner

    from optimizer.interfaces.cli import app

    inst = grid_instance()
    path = tmp_path / "i.yaml"
    path.write_text(yaml.safe_dump(inst))
    runner = CliRunner()
    on = json.loads(runner.invoke(app, ["solve", str(path), "--json"]).output)
    grid = next(v for v in on["marginal_values"] if v["limit"] == "facility_power")
    assert grid["value_up"] == pytest.approx(PER_MW)
    off = json.loads(runner.invoke(app, ["solve", str(path), "--json", "--no-marginal-values"]).output)
    assert off["marginal_values"] == []


def test_a_sweep_asks_for_them_and_gets_columns(tmp_path):
    """Off by default in sweeps (they multiply the work); `marginal_values: true` adds one column
    per limit and direction, the same figures as a solve."""
    import yaml

    from optimizer.analysis.sweeps import sweep

    inst = grid_instance()
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(inst))
    spec = {"base": "base.yaml", "parameters": [{"path": "tiers[paid].price_usd_per_mtok", "values": [1.0, 2.0]}]}
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump(spec))
    plain = sweep(tmp_path / "plain.yaml", tmp_path / "plain.csv")
    assert not [c for c in plain.columns if c.startswith("marginal_value")]
    (tmp_path / "asked.yaml").write_text(yaml.safe_dump({**spec, "marginal_values": True}))
    asked = sweep(tmp_path / "asked.yaml", tmp_path / "asked.csv")
    assert list(asked["marginal_value_up[facility_power]"]) == pytest.approx([PER_MW, 2 * PER_MW])


def test_the_service_reports_them_unless_asked_not_to(tmp_path):
    """POST /v1/solve: on by default, the same figure as the library; off with marginal_values false."""
    import httpx

    from test_service import Server

    inst = grid_instance()
    server = Server(tmp_path / "data")
    try:
        on = httpx.post(server.url + "/v1/solve", json={"instance": inst}, timeout=120).json()
        grid = next(v for v in on["marginal_values"] if v["limit"] == "facility_power")
        assert grid["value_up"] == pytest.approx(PER_MW)
        off = httpx.post(server.url + "/v1/solve", json={"instance": inst, "marginal_values": False}, timeout=120).json()
        assert off["marginal_values"] == []
    finally:
        server.stop()
