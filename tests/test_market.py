"""The market check on every plan: revenue and cost per rack-hour and per million output tokens,
and each hardware's ownership and energy cost per rack-hour (Metrics, MarketRow, PeriodPlan).

Every figure is worked out below from the instance alone, by hand, and compared with the plan's.
Common units: a year is 8,760 h = 31,536,000 s, so one token/s sold all year at 1 USD per million
tokens earns 31.536 USD/yr (``YEAR_MTOK``) and a rack-year is 8,760 rack-hours.
"""

from __future__ import annotations

import copy
import json

import pytest

import optimizer
from helpers import YEAR_MTOK, gpu, tier, tiny
from optimizer.model.schema import scenario_instances
from optimizer.outputs.document import to_html, to_markdown
from optimizer.outputs.report import num, to_text
from verifier import Violation, verify, verify_expectation, verify_horizon

HOURS = 8760.0


def close(a, b, rel=1e-9):
    return a is not None and abs(a - b) <= rel * max(abs(b), 1.0)


# --------------------------------------------------------------------------- one year, worked by hand


def site() -> dict:
    """1 MW grid, loss 5%, liquid overhead 0.1, air overhead 0.3, 100 USD/MWh, discount rate 8%.

    - g: 100 kW racks, 80% liquid-cooled, capex 1e6, opex 20,000/yr, life 5, 1 installed, one
      scale-out port each; 10,000 tokens/s per rack at 10 tok/s/user.
    - cpu: 10 kW, air-cooled, capex 50,000, opex 5,000/yr, 1 installed, serves nothing.
    - fabric: one option, one tier, 1,000 USD per endpoint port, no power.
    - tiers: free (price 0, floor 20,000 tokens/s) and cheap (1 USD/Mtok, uncapped).

    Facility power of one g rack: 100 x (1 + 0.05 + 0.8 x 0.1 + 0.2 x 0.3) = 119 kW; of the cpu:
    10 x (1 + 0.05 + 1.0 x 0.3) = 13.5 kW. 8 g racks + the cpu draw 0.952 + 0.0135 = 0.9655 MW;
    a 9th g rack would need 1.0845 MW. Revenue grows with every g rack: 8 g + 1 cpu = 9 racks.
    """
    inst = tiny(electricity_usd_per_mwh=100.0, distribution_loss_fraction=0.05, liquid_cooling_overhead=0.1,
                air_cooling_overhead=0.3, discount_rate=0.08)
    inst["hardware"] = [
        gpu(liquid_cooled_fraction=0.8, opex_usd_per_year=20_000, installed_racks=1, scale_out_ports=1),
        {"name": "cpu", "kind": "cpu", "rack_power_kw": 10, "liquid_cooled_fraction": 0.0, "capex_usd": 50_000,
         "opex_usd_per_year": 5_000, "installed_racks": 1},
    ]
    inst["tiers"] = [tier("free", 10, 0.0, min_tokens_per_s=20_000), tier("cheap", 10, 1.0)]
    inst["network"] = {"max_tiers": 1, "options": [{"name": "o", "technology": "pluggable", "switch_radix": 64,
                                                    "endpoint_optics_usd": 1_000}]}
    return inst


@pytest.fixture(scope="module")
def hand():
    inst = site()
    sol = optimizer.solve(inst)
    assert sol.status == "optimal", sol.message
    return optimizer.load_instance(inst), sol


def test_hand_worked_figures(hand):
    _, sol = hand
    assert {r.hardware: r.count for r in sol.racks} == {"g": 8, "cpu": 1}
    crf = 0.08 / (1 - 1.08 ** -5)  # 0.2504564545...
    capital_g = crf * 1e6 * (8 - 1)  # the installed rack carries no annuity: 1,753,195.18
    opex_g, opex_cpu = 20_000 * 8, 5_000 * 1
    fabric = crf * 1_000 * 8  # 8 ports (the cpu has none): 2,003.65
    energy = 100 * HOURS * (8 * 0.119 + 0.0135)  # 845,778
    cost = capital_g + opex_g + opex_cpu + fabric + energy  # 2,765,976.83
    revenue = 60_000 * YEAR_MTOK  # 8 racks x 10,000 tokens/s, 20,000 of them free: 1,892,160
    tokens = 80_000.0
    m = sol.metrics
    assert close(m.cost_usd_per_year, cost, 1e-7) and close(m.revenue_usd_per_year, revenue, 1e-7)
    assert m.racks == 9
    assert close(m.revenue_usd_per_rack_hour, revenue / (9 * HOURS), 1e-7)  # 24.0 USD/rack-hour
    assert close(m.revenue_usd_per_rack_hour, 24.0, 1e-7)
    assert close(m.cost_usd_per_rack_hour, cost / (9 * HOURS), 1e-7)  # 35.08 USD/rack-hour
    assert close(m.revenue_usd_per_mtok, revenue / (tokens * 31_536_000 / 1e6), 1e-7)  # the blended price: 0.75
    assert close(m.revenue_usd_per_mtok, 0.75, 1e-7)
    assert close(m.cost_usd_per_mtok, cost / (tokens * 31.536), 1e-7)  # 1.0964 USD per million output tokens
    rows = {r.hardware: r for r in sol.market}
    assert list(rows) == ["g", "cpu"]
    g, cpu = rows["g"], rows["cpu"]
    assert (g.racks, g.installed_racks, cpu.racks, cpu.installed_racks) == (8, 1, 1, 1)
    assert close(g.capital_usd_per_year, capital_g) and close(g.opex_usd_per_year, opex_g)
    assert close(g.ownership_usd_per_rack_hour, (capital_g + opex_g) / (8 * HOURS))  # 27.30
    assert close(g.facility_kw_per_rack, 119.0)
    assert close(g.energy_usd_per_rack_hour, 119 * 100 / 1000)  # 11.9
    assert close(g.total_usd_per_rack_hour, (capital_g + opex_g) / (8 * HOURS) + 11.9)
    assert cpu.capital_usd_per_year == 0.0 and close(cpu.opex_usd_per_year, 5_000)
    assert close(cpu.ownership_usd_per_rack_hour, 5_000 / HOURS)  # 0.571
    assert close(cpu.facility_kw_per_rack, 13.5) and close(cpu.energy_usd_per_rack_hour, 1.35)
    # racks x ownership x 8,760 is the racks' capex annuity + opex; with the fabric's annuity and the energy it is the cost
    owned = sum(r.racks * r.ownership_usd_per_rack_hour * HOURS for r in sol.market)
    assert close(owned, capital_g + opex_g + opex_cpu)
    assert close(owned + fabric + energy, m.cost_usd_per_year, 1e-7)


def test_json_has_the_fields(hand):
    _, sol = hand
    doc = json.loads(sol.model_dump_json())
    for key in ("racks", "revenue_usd_per_rack_hour", "cost_usd_per_rack_hour", "revenue_usd_per_mtok", "cost_usd_per_mtok"):
        assert key in doc["metrics"]
    assert [r["hardware"] for r in doc["market"]] == ["g", "cpu"]
    assert set(doc["market"][0]) == {"hardware", "racks", "installed_racks", "capital_usd_per_year", "opex_usd_per_year",
                                     "ownership_usd_per_rack_hour", "facility_kw_per_rack", "energy_usd_per_rack_hour",
                                     "total_usd_per_rack_hour"}
    schema = type(sol).model_json_schema()
    metrics = schema["$defs"]["Metrics"]["properties"]
    assert "USD per rack-hour" in metrics["cost_usd_per_rack_hour"]["description"]
    assert "USD per million output tokens" in metrics["cost_usd_per_mtok"]["description"]


@pytest.mark.parametrize("path, factor", [
    (("metrics", "cost_usd_per_mtok"), 1.001),
    (("metrics", "revenue_usd_per_rack_hour"), 0.999),
    (("market", 0, "energy_usd_per_rack_hour"), 1.001),
    (("market", 1, "ownership_usd_per_rack_hour"), 1.001),
    (("market", 0, "capital_usd_per_year"), 1.001),
])
def test_verifier_catches_a_wrong_figure(hand, path, factor):
    inst, sol = hand
    doc = sol.model_dump(mode="json")
    verify(inst, doc)
    bad = copy.deepcopy(doc)
    at = bad
    for k in path[:-1]:
        at = at[k]
    at[path[-1]] *= factor
    with pytest.raises(Violation, match=path[-1]):
        verify(inst, bad)


def test_verifier_catches_a_missing_row_and_a_figure_without_racks(hand):
    inst, sol = hand
    doc = sol.model_dump(mode="json")
    bad = copy.deepcopy(doc)
    bad["market"] = bad["market"][:1]
    with pytest.raises(Violation, match="market rows"):
        verify(inst, bad)
    bad = copy.deepcopy(doc)
    bad["metrics"]["cost_usd_per_mtok"] = None
    with pytest.raises(Violation, match="cost_usd_per_mtok"):
        verify(inst, bad)


def test_reports_show_the_market_check_with_units(hand):
    inst, sol = hand
    m = sol.metrics
    text = to_text(sol, width=240)
    assert "Market check (USD per rack-hour" in text and "USD per million output tokens" in text
    assert "USD/rack-hour" in text and "fabric not included" in text
    for x in (m.revenue_usd_per_rack_hour, m.cost_usd_per_rack_hour, m.revenue_usd_per_mtok, m.cost_usd_per_mtok):
        assert num(x, 4) in text
    md = to_markdown(inst, sol, None, [])
    assert "## Market check (USD per rack-hour, a year of 8,760 h; USD per million output tokens)" in md
    assert f"| revenue per rack-hour | USD/rack-hour | {num(24.0)} |" in md
    assert f"| blended revenue per million output tokens | USD per million output tokens | {num(0.75)} |" in md
    assert "| g | 8 | 1 |" in md and f"| {num(11.9)} |" in md
    page = to_html(inst, sol, None, [])
    assert "<section id='market'>" in page and "ownership USD/rack-hour" in page and "energy USD/rack-hour at full power" in page


# --------------------------------------------------------------------------- slices: energy hours-weighted


def test_sliced_energy_per_rack_hour():
    """peak 2,190 h (a quarter of the year) at 200 USD/MWh, air overhead 0.5; off 6,570 h at 50
    USD/MWh, air overhead 0.1. A half liquid-cooled 100 kW rack draws 100 x (1 + 0.5 x 0.5) = 125
    kW at peak, 100 x (1 + 0.5 x 0.1) = 105 kW off peak: 0.25 x 125 + 0.75 x 105 = 110 kW on
    average, 0.25 x 200 x 125 / 1000 + 0.75 x 50 x 105 / 1000 = 6.25 + 3.9375 = 10.1875 USD per
    rack-hour."""
    inst = tiny(electricity_usd_per_mwh={"peak": 200.0, "off": 50.0}, air_cooling_overhead={"peak": 0.5, "off": 0.1})
    inst["slices"] = [{"name": "peak", "hours": 2190}, {"name": "off", "hours": 6570}]
    inst["hardware"] = [gpu(liquid_cooled_fraction=0.5)]
    inst["tiers"] = [tier("t", 10, 1.0)]
    sol = optimizer.solve(inst)
    assert sol.status == "optimal", sol.message
    (row,) = sol.market
    assert close(row.facility_kw_per_rack, 110.0) and close(row.energy_usd_per_rack_hour, 10.1875)
    assert close(row.ownership_usd_per_rack_hour, 1e6 / 5 / HOURS)  # rate 0: capex / life a year
    m = sol.metrics
    assert close(m.cost_usd_per_rack_hour, m.cost_usd_per_year / (row.racks * HOURS))
    verify(optimizer.load_instance(inst), sol.model_dump(mode="json"))


# --------------------------------------------------------------------------- a horizon: per period


def two_periods() -> dict:
    """2026 (1 year): 0.5 MW, 1 USD/Mtok, 100 USD/MWh; 2027 (2 years): 1 MW, 0.8 USD/Mtok, 50 USD/MWh.
    Rate 0; g racks of 100 kW (no losses, no overheads), 10,000 tokens/s, capex 1e6, life 5 (an
    annuity of 200,000/yr), opex 10,000/yr. The revenue optimum buys 5 racks in 2026 and 5 more
    in 2027 (the grid's)."""
    inst = tiny(grid_power_mw={2026: 0.5, 2027: 1.0}, electricity_usd_per_mwh={2026: 100.0, 2027: 50.0})
    inst["horizon"] = {"start_year": 2026, "period_years": [1, 2]}
    inst["hardware"] = [gpu(opex_usd_per_year=10_000)]
    inst["tiers"] = [tier("t", 10, {2026: 1.0, 2027: 0.8})]
    return inst


def test_horizon_per_period_figures():
    inst = two_periods()
    sol = optimizer.solve(inst)
    assert sol.status == "optimal", sol.message
    p26, p27 = sol.periods
    assert (p26.racks_alive, p27.racks_alive) == (5, 10)
    # 2026: revenue 50,000 x 31.536 = 1,576,800; cost 5 x 200,000 + 5 x 10,000 + 100 x 8,760 x 0.5 = 1,488,000
    assert close(p26.cost_usd_per_year, 1_488_000, 1e-7)
    assert close(p26.revenue_usd_per_rack_hour, 1_576_800 / (5 * HOURS), 1e-7)  # 36.0
    assert close(p26.cost_usd_per_rack_hour, 1_488_000 / (5 * HOURS), 1e-7)  # 33.97
    assert close(p26.revenue_usd_per_mtok, 1.0, 1e-7)
    assert close(p26.cost_usd_per_mtok, 1_488_000 / (50_000 * YEAR_MTOK), 1e-7)  # 0.9437
    # 2027 (two years): revenue 100,000 x 0.8 x 31.536 = 2,522,880/yr; annuities 10 x 200,000 = 2,000,000/yr
    # (4,000,000 over the period), opex 100,000, energy 50 x 8,760 x 1.0 = 438,000: 2,538,000/yr
    assert close(p27.cash.capital_usd, 4_000_000, 1e-7)
    assert close(p27.cost_usd_per_year, 2_538_000, 1e-7)
    assert close(p27.revenue_usd_per_rack_hour, 2_522_880 / (10 * HOURS), 1e-7)  # 28.8
    assert close(p27.cost_usd_per_rack_hour, 2_538_000 / (10 * HOURS), 1e-7)  # 28.97
    assert close(p27.revenue_usd_per_mtok, 0.8, 1e-7)
    assert close(p27.cost_usd_per_mtok, 2_538_000 / (100_000 * YEAR_MTOK), 1e-7)  # 0.8048
    (r26,), (r27,) = p26.market, p27.market
    assert close(r26.ownership_usd_per_rack_hour, (1_000_000 + 50_000) / (5 * HOURS))  # 23.97
    assert close(r26.energy_usd_per_rack_hour, 10.0) and close(r27.energy_usd_per_rack_hour, 5.0)
    assert close(r27.capital_usd_per_year, 2_000_000) and close(r27.ownership_usd_per_rack_hour, 2_100_000 / (10 * HOURS))
    figures = verify_horizon(optimizer.load_instance(inst), sol.model_dump(mode="json"))
    assert close(figures["market"][2027]["cost_usd_per_mtok"], p27.cost_usd_per_mtok, 1e-7)
    text = to_text(sol, width=240)
    assert "Market check (USD per rack-hour" in text and "Cost of a rack-hour per hardware and period" in text
    md = to_markdown(optimizer.load_instance(inst), sol, None, [])
    assert f"| revenue per rack-hour | USD/rack-hour | {num(36.0)} | {num(28.8)} |" in md


# --------------------------------------------------------------------------- scenarios: ratios of expectations


def two_futures() -> dict:
    """1 MW, ten 100 kW g racks (capex 1e6, life 5, rate 0: 200,000/yr each, no opex), 1 USD/Mtok.
    base (0.4): 100 USD/MWh, every token sells: revenue 100,000 x 31.536 = 3,153,600, cost
    2,000,000 + 100 x 8,760 = 2,876,000, 100,000 tokens/s. slow (0.6): demand capped at 50,000
    tokens/s, 200 USD/MWh: revenue 1,576,800, cost 2,000,000 + 200 x 8,760 = 3,752,000. The
    expected revenue grows with every rack up to 10 (the base scenario sells them all)."""
    inst = tiny(electricity_usd_per_mwh=100.0)
    inst["hardware"] = [gpu()]
    inst["tiers"] = [tier("t", 10, 1.0)]
    inst["uncertainty"] = {"scenarios": [
        {"name": "base", "probability": 0.4},
        {"name": "slow", "probability": 0.6, "set": {"tiers[t].max_tokens_per_s": 50_000, "facility.electricity_usd_per_mwh": 200.0}},
    ]}
    return inst


def test_stochastic_top_level_is_ratios_of_expectations():
    inst = two_futures()
    sol = optimizer.solve(inst, regret=False)
    assert sol.status == "optimal", sol.message
    assert sum(r.count for r in sol.racks) == 10
    e_rev = 0.4 * 3_153_600 + 0.6 * 1_576_800  # 2,207,520
    e_cost = 0.4 * 2_876_000 + 0.6 * 3_752_000  # 3,401,600
    e_tok = 0.4 * 100_000 + 0.6 * 50_000  # 70,000
    m = sol.metrics
    assert m.racks == 10
    assert close(m.revenue_usd_per_rack_hour, e_rev / (10 * HOURS), 1e-7)  # 25.2
    assert close(m.cost_usd_per_rack_hour, e_cost / (10 * HOURS), 1e-7)  # 38.83
    assert close(m.revenue_usd_per_mtok, e_rev / (e_tok * YEAR_MTOK), 1e-7)  # 1.0
    assert close(m.cost_usd_per_mtok, e_cost / (e_tok * YEAR_MTOK), 1e-7)  # 1.541
    # not the mean of the scenarios' own ratios (0.4 x 0.912 + 0.6 x 2.380 = 1.793)
    mean_of_ratios = 0.4 * 2_876_000 / (100_000 * YEAR_MTOK) + 0.6 * 3_752_000 / (50_000 * YEAR_MTOK)
    assert abs(m.cost_usd_per_mtok - mean_of_ratios) > 0.2
    base, slow = (o.solution for o in sol.uncertainty.scenarios)
    assert close(base.metrics.cost_usd_per_mtok, 2_876_000 / (100_000 * YEAR_MTOK), 1e-7)
    assert close(slow.metrics.cost_usd_per_mtok, 3_752_000 / (50_000 * YEAR_MTOK), 1e-7)
    assert close(slow.market[0].energy_usd_per_rack_hour, 20.0) and close(base.market[0].energy_usd_per_rack_hour, 10.0)
    (row,) = sol.market  # the expectation: 0.4 x 10 + 0.6 x 20 = 16 USD per rack-hour of energy
    assert close(row.energy_usd_per_rack_hour, 16.0) and close(row.ownership_usd_per_rack_hour, 2_000_000 / (10 * HOURS))
    doc = sol.model_dump(mode="json")
    loaded = optimizer.load_instance(inst)
    verify_expectation(loaded, doc)
    for (_, _, inst_w), o in zip(scenario_instances(loaded), doc["uncertainty"]["scenarios"]):
        verify(inst_w, o["solution"])
    bad = copy.deepcopy(doc)
    bad["metrics"]["cost_usd_per_mtok"] = mean_of_ratios
    with pytest.raises(Violation, match="cost_usd_per_mtok"):
        verify_expectation(loaded, bad)
    text = to_text(sol, width=240)
    assert "per scenario" in text and "expectation (ratios of expectations)" in text
    page = to_html(loaded, sol, None, [])
    assert "<section id='market'>" in page and "revenue USD per million output tokens" in page


# --------------------------------------------------------------------------- nothing to divide by


def test_no_racks_and_no_tokens_give_none_and_dashes():
    """min_cost without floors buys nothing: 0 racks and 0 tokens, every figure null."""
    inst = tiny()
    inst["hardware"] = [gpu()]
    inst["tiers"] = [tier("free", 10, 0.0)]
    sol = optimizer.solve(inst, objective="min_cost")
    assert sol.status == "optimal", sol.message
    m = sol.metrics
    assert m.racks == 0 and sol.market == []
    assert (m.revenue_usd_per_rack_hour, m.cost_usd_per_rack_hour, m.revenue_usd_per_mtok, m.cost_usd_per_mtok) == (None,) * 4
    verify(optimizer.load_instance(inst), sol.model_dump(mode="json"))
    text = to_text(sol, width=240)
    line = next(x for x in text.splitlines() if "revenue per rack-hour" in x)
    assert line.rstrip(" │").endswith("-")
    md = to_markdown(optimizer.load_instance(inst), sol, None, [])
    assert "| cost per million output tokens (free tiers included) | USD per million output tokens | - |" in md


def test_racks_without_tokens():
    """Two installed racks and a tier they cannot serve (300 tok/s/user, beyond their curve): revenue
    0 per rack-hour; cost per rack-hour the opex (8,760 / 8,760 = 1 USD) and energy (100 kW at 100
    USD/MWh: 10 USD) of each; no tokens, so no figure per million tokens."""
    inst = tiny(electricity_usd_per_mwh=100.0)
    inst["hardware"] = [gpu(installed_racks=2, opex_usd_per_year=8_760)]
    inst["tiers"] = [tier("fast", 300, 1.0)]
    sol = optimizer.solve(inst, objective="min_cost")
    assert sol.status == "optimal", sol.message
    m = sol.metrics
    assert m.racks == 2 and m.tokens_per_s == 0
    assert m.revenue_usd_per_rack_hour == 0.0 and close(m.cost_usd_per_rack_hour, 11.0)
    assert m.revenue_usd_per_mtok is None and m.cost_usd_per_mtok is None
    (row,) = sol.market
    assert row.capital_usd_per_year == 0.0 and close(row.ownership_usd_per_rack_hour, 1.0) and close(row.total_usd_per_rack_hour, 11.0)
    verify(optimizer.load_instance(inst), sol.model_dump(mode="json"))
    assert "Market check" in to_text(sol, width=240)
