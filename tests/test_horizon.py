"""Multi-year planning (MODEL.md section 11) on hand-worked two-period cases.

Every case is small enough to reason about on paper; the reasoning is in each docstring and the
assertions compare against it. Every plan also passes the independent multi-year verifier.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import optimizer
from helpers import YEAR_MTOK, deterministic_roadmap, gpu, tier, tiny
from optimizer.outputs.report import to_text
from verifier import verify_horizon


def run(data: dict, objective: str = "profit", **kw):
    sol = optimizer.solve(data, objective=objective, mip_gap=1e-9, **kw)
    assert sol.status == "optimal", sol.message
    verify_horizon(optimizer.load_instance(data), sol.model_dump(mode="json"))
    return sol


def alive(sol, hardware: str) -> list[int]:
    return [sum(r.alive for r in p.racks if r.hardware == hardware) for p in sol.periods]


def bought(sol, hardware: str) -> list[int]:
    return [sum(r.bought for r in p.racks if r.hardware == hardware) for p in sol.periods]


def two_years(periods=(1, 1), rate=0.0, **horizon) -> dict:
    inst = tiny(discount_rate=rate)
    inst["horizon"] = {"start_year": 2026, "period_years": list(periods), **horizon}
    inst["tiers"] = [tier("t", 10, 1.0)]
    return inst


# --------------------------------------------------------------------------- refresh (acceptance)


def refresh_case(new_capex: float, allow: bool = True) -> dict:
    """1 MW for 2026 and 2027, no discounting. 10 installed 'old' racks (100 kW, 1,000 tokens/s,
    bought 2025, life to 2030, no longer sold) fill the grid. 'new' (100 kW, 5,000 tokens/s: five times the
    tokens per watt) can be bought from 2027 at ``new_capex`` with a one-year life, so its
    annuity is exactly ``new_capex`` in 2027. At 1 USD/Mtok a rack earns 31,536 USD/yr per
    1,000 tokens/s.

    Replacing an old rack in 2027 gains 5 x 31,536 - 31,536 - capex = 126,144 - capex USD.
    """
    inst = two_years(allow_early_retirement=allow)
    inst["hardware"] = [
        gpu("old", kw=100, capex=0, curve=((10, 1000),), installed_racks=10, installed_year=2025, available_until=2025),
        gpu("new", kw=100, capex=new_capex, curve=((10, 5000),), lifetime_years=1, available_from=2027),
    ]
    return inst


def test_early_retirement_that_pays():
    """capex 50,000 < 126,144: retire all ten old racks in 2027 and buy ten new ones.
    NPV = 10 x 31,536 (2026) + 10 x (157,680 - 50,000) (2027) = 1,392,160 USD."""
    sol = run(refresh_case(50_000))
    assert alive(sol, "old") == [10, 0] and alive(sol, "new") == [0, 10]
    assert sol.objective.value == pytest.approx(10 * 1000 * YEAR_MTOK + 10 * (5000 * YEAR_MTOK - 50_000), rel=1e-9)
    assert sol.objective.value == pytest.approx(1_392_160, rel=1e-9)
    [event] = sol.refresh
    assert (event.year, event.hardware, event.vintage, event.racks, event.life_left_years) == (2027, "old", "installed 2025", 10, 3)
    assert event.power_freed_mw == pytest.approx(1.0) and event.replaced_by == ["10 x new"]
    text = to_text(sol)
    assert "installed 2025" in text and "10 x new" in text  # the report names the retired vintage and what took its power


def test_no_early_retirement_keeps_the_old_fleet():
    """Early retirement forbidden: the grid stays full of old racks. NPV = 2 x 315,360 = 630,720 USD,
    less than 1,392,160 with it (the acceptance comparison)."""
    forbidden = run(refresh_case(50_000, allow=False))
    allowed = run(refresh_case(50_000, allow=True))
    assert alive(forbidden, "old") == [10, 10] and alive(forbidden, "new") == [0, 0]
    assert forbidden.objective.value == pytest.approx(2 * 10 * 1000 * YEAR_MTOK, rel=1e-9) == pytest.approx(630_720)
    assert allowed.objective.value > forbidden.objective.value
    assert forbidden.refresh == []


def test_early_retirement_that_does_not_pay():
    """capex 200,000 > 126,144: replacing loses money, so nothing is retired even though it is
    allowed, and the NPV is that of keeping the old fleet, 630,720 USD."""
    sol = run(refresh_case(200_000))
    assert alive(sol, "old") == [10, 10] and alive(sol, "new") == [0, 0]
    assert sol.objective.value == pytest.approx(630_720, rel=1e-9)
    assert sol.refresh == []
    assert "No rack is retired before its life ends" in to_text(sol)


# --------------------------------------------------------------------------- lifetimes and windows


def test_rack_that_lives_exactly_one_period():
    """Life 1 year, two 1-year periods, r = 10%: a rack bought in 2026 is gone in 2027 and must be
    bought again. 1 MW / 100 kW = 10 racks each year, 10,000 tokens/s at 1 USD/Mtok = 315,360
    USD/yr. Capital per rack: CRF(0.1, 1) x 100,000 = 110,000 paid in its one year.
    NPV = (315,360 - 10 x 110,000) x (1 + 1/1.1) < 0 at this price, so price it at 10 USD/Mtok:
    (3,153,600 - 1,100,000) x (1 + 1/1.1) = 3,920,509.09..."""
    inst = two_years(rate=0.1)
    inst["tiers"] = [tier("t", 10, 10.0)]
    inst["hardware"] = [gpu("g", kw=100, capex=100_000, curve=((10, 1000),), lifetime_years=1)]
    sol = run(inst)
    assert alive(sol, "g") == [10, 10] and bought(sol, "g") == [10, 10]
    assert [p.racks[0].retired for p in sol.periods] == [0, 10]  # at end of life, not early
    assert sol.refresh == []
    v = {(r.vintage, tuple(r.alive.items())) for r in sol.vintages}
    assert v == {("2026", ((2026, 10),)), ("2027", ((2027, 10),))}
    assert sol.objective.value == pytest.approx((3_153_600 - 1_100_000) * (1 + 1 / 1.1), rel=1e-9)
    assert sol.periods[1].cash.capital_usd == pytest.approx(1_100_000)
    assert sol.periods[1].cash.discount_weight == pytest.approx(1 / 1.1)


def test_a_life_shorter_than_its_period_cannot_be_bought():
    """A 2-year period and a 1-year life: a rack bought in 2027 would die before the period
    ends, so none is bought; 2026 is served, 2027-2028 is not."""
    inst = two_years(periods=(1, 2))
    inst["hardware"] = [gpu("g", kw=100, capex=0, curve=((10, 1000),), lifetime_years=1)]
    sol = run(inst, objective="tokens")
    assert alive(sol, "g") == [10, 0]
    assert sol.objective.value == pytest.approx(10_000 * 1 / 3)  # year-weighted mean: 10,000 for 1 of 3 years


def test_installed_fleet_past_its_life():
    """Installed in 2022 with a 4-year life: its life ends at the start of 2026, so it is gone
    from the first period; the site must buy. v1 would have kept it."""
    inst = two_years()
    inst["hardware"] = [gpu("g", kw=100, capex=1000, curve=((10, 1000),), installed_racks=6, installed_year=2022, lifetime_years=4)]
    sol = run(inst, objective="min_cost")  # no demand: the cheapest plan owns nothing
    assert alive(sol, "g") == [0, 0]
    assert sol.vintages == []
    inst["hardware"][0]["installed_year"] = 2023  # one more year of life: it stands in 2026, not in 2027
    sol = run(inst, objective="min_cost")
    assert alive(sol, "g") == [6, 0]
    assert [p.racks[0].retired for p in sol.periods] == [0, 6] and sol.refresh == []  # end of life, not a refresh


def test_installed_racks_stay_when_they_still_live():
    """Still alive and early retirement forbidden: the installed racks stand in every period
    even under min_cost."""
    inst = two_years(allow_early_retirement=False)
    inst["hardware"] = [gpu("g", kw=100, capex=1000, curve=((10, 1000),), installed_racks=4, lifetime_years=5, opex_usd_per_year=10)]
    sol = run(inst, objective="min_cost")
    assert alive(sol, "g") == [4, 4]
    assert sol.objective.value == pytest.approx(2 * 4 * 10)  # opex only: installed racks carry no capital


def test_purchase_outside_its_window():
    """'gone' may be bought until 2026 only, 'late' (3x the tokens per watt) from 2027 only. 2026:
    1 MW buys 10 'gone' racks (10,000 tokens/s); 'late' cannot be had. 2027: 2 MW; 'gone' can no
    longer be bought, and a 'late' rack beats a kept 'gone' rack on the same 100 kW, so all 10 are
    retired early and 20 'late' racks serve 60,000 tokens/s. Mean: (10,000 + 60,000) / 2."""
    inst = two_years()
    inst["facility"]["grid_power_mw"] = {2026: 1.0, 2027: 2.0}
    inst["hardware"] = [
        gpu("gone", kw=100, capex=0, curve=((10, 1000),), available_until=2026),
        gpu("late", kw=100, capex=0, curve=((10, 3000),), available_from=2027),
    ]
    sol = run(inst, objective="tokens")
    assert bought(sol, "gone") == [10, 0] and bought(sol, "late") == [0, 20]
    assert alive(sol, "gone") == [10, 0]
    assert sol.objective.value == pytest.approx((10_000 + 60_000) / 2)
    assert [(e.hardware, e.vintage, e.racks) for e in sol.refresh] == [("gone", "2026", 10)]
    # Without early retirement, 'gone' racks bought in 2026 would hold 1 MW of 2027 too:
    # (10,000 + 10,000 + 30,000) / 2 = 25,000 < (0 + 60,000) / 2, so 2026 is better left idle.
    inst["horizon"]["allow_early_retirement"] = False
    sol = run(inst, objective="tokens")
    assert alive(sol, "gone") == [0, 0] and bought(sol, "late") == [0, 20]
    assert sol.objective.value == pytest.approx(60_000 / 2)


def test_max_new_racks_and_period_budget():
    """max_new_racks 3 per period and a budget of 2 racks in 2027: 3 bought in 2026, 2 in 2027."""
    inst = two_years()
    inst["facility"]["capex_budget_usd"] = {2026: None, 2027: 2000}
    inst["hardware"] = [gpu("g", kw=100, capex=1000, curve=((10, 1000),), max_new_racks=3)]
    sol = run(inst, objective="tokens")
    assert bought(sol, "g") == [3, 2] and alive(sol, "g") == [3, 5]
    assert {b.constraint for b in sol.binding} >= {"max_new_racks[g,2026]", "period_budget[2027]"}


def test_performance_multiplier_and_prices_by_year():
    """A 2x software gain in 2027 doubles each rack's tokens; the price halves: revenue is flat."""
    inst = two_years()
    inst["tiers"] = [tier("t", 10, {2026: 2.0, 2027: 1.0})]
    inst["hardware"] = [gpu("g", kw=100, capex=0, curve=((10, 1000),), performance_multiplier={2026: 1.0, 2027: 2.0})]
    sol = run(inst, objective="revenue")
    revenue = [p.cash.revenue_usd_per_year for p in sol.periods]
    assert revenue[0] == pytest.approx(10 * 1000 * 2 * YEAR_MTOK) and revenue[1] == pytest.approx(revenue[0])
    assert [p.tokens_per_s for p in sol.periods] == pytest.approx([10_000, 20_000])


def test_fabric_is_one_design_and_ports_are_paid_when_added():
    """Ports follow racks: 4 racks x 8 ports in 2026, 8 racks in 2027: 32 ports added, then 32
    more. One design for both periods."""
    inst = two_years()
    inst["facility"]["grid_power_mw"] = {2026: 0.4, 2027: 0.8}
    inst["network"] = {"max_tiers": 2, "options": [{"name": "o", "technology": "cpo", "switch_radix": 64, "endpoint_optics_usd": 100}]}
    inst["hardware"] = [gpu("g", kw=100, capex=0, curve=((10, 1000),), scale_out_ports=8)]
    sol = run(inst, objective="tokens")
    assert [p.added_ports for p in sol.periods] == pytest.approx([32, 32])
    assert {(p.fabric.option, p.fabric.switch_tiers) for p in sol.periods} == {("o", 1)}
    assert [p.cash.purchases_usd for p in sol.periods] == pytest.approx([3200, 3200])


def test_discounted_totals_by_hand():
    """r = 8%, periods [1, 2]: weights 1, then 1/1.08 + 1/1.08^2. A rack bought in 2026 (capex
    1e6, life 3) pays CRF(0.08, 3) x 1e6 = 388,033.5 a year in 2026, 2027, 2028."""
    inst = two_years(periods=(1, 2), rate=0.08)
    inst["facility"]["grid_power_mw"] = 0.1
    inst["tiers"] = [tier("t", 10, 100.0)]
    inst["hardware"] = [gpu("g", kw=100, capex=1e6, curve=((10, 1000),), lifetime_years=3)]
    sol = run(inst)
    crf = 0.08 / (1 - 1.08 ** -3)
    weights = 1 + 1 / 1.08 + 1 / 1.08 ** 2
    revenue = 1000 * 100 * YEAR_MTOK
    assert sol.metrics.discounted_revenue_usd == pytest.approx(revenue * weights, rel=1e-9)
    assert sol.metrics.discounted_capital_usd == pytest.approx(crf * 1e6 * weights, rel=1e-9)
    assert sol.objective.value == pytest.approx((revenue - crf * 1e6) * weights, rel=1e-9)
    assert sol.periods[1].cash.capital_usd == pytest.approx(2 * crf * 1e6)


# --------------------------------------------------------------------------- reporting


def test_json_has_periods_and_horizon_metrics(tmp_path):
    from typer.testing import CliRunner
    import json

    import yaml
    from optimizer.interfaces.cli import app

    path = tmp_path / "refresh.yaml"
    path.write_text(yaml.safe_dump({**refresh_case(50_000), "objective": "profit"}))
    res = CliRunner().invoke(app, ["solve", str(path), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert [p["year"] for p in doc["periods"]] == [2026, 2027]
    assert set(doc["periods"][0]["racks"][0]) == {"hardware", "hall", "alive", "bought", "retired", "retired_early"}
    assert set(doc["periods"][0]["cash"]) >= {"revenue_usd_per_year", "opex_usd_per_year", "energy_usd_per_year", "capital_usd", "discount_weight"}
    assert doc["metrics"]["npv_usd"] == pytest.approx(doc["objective"]["value"])
    assert doc["objective"]["unit"] == "USD (net present value)"
    html = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", str(path), "-o", str(html)])
    assert res.exit_code == 0, res.output
    page = html.read_text()
    assert "<svg" in page and "installed 2025" in page and "Power by hardware over the years" in page


def test_a_hall_not_yet_open_is_not_a_binding_limit():
    """Hall 'b' opens in 2027 (0 slots in 2026). In 2026 its 0 <= 0 is no limit; in 2027 hall
    'a' (1 slot) fills and 'b' takes the rest of the grid: 1 MW / 100 kW = 10 racks in all."""
    inst = two_years()
    inst["facility"]["halls"] = [
        {"name": "a", "rack_slots": 1, "max_rack_kw": 300, "liquid_cooling": True},
        {"name": "b", "rack_slots": {2026: 0, 2027: 100}, "max_rack_kw": 300, "liquid_cooling": True},
    ]
    inst["hardware"] = [gpu("g", kw=100, capex=0, curve=((10, 1000),))]
    sol = run(inst)
    assert alive(sol, "g") == [1, 10]
    binding = {b.constraint: b for b in sol.binding}
    assert "period[2026].hall_slots[a]" in binding and binding["period[2026].hall_slots[a]"].limit == 1
    assert not any(b.constraint.endswith("hall_slots[b]") for b in sol.binding)
    assert "period[2027].facility_power" in binding


def test_infeasible_horizon_names_the_period():
    """A 2027 demand floor no grid can meet: infeasible, and the diagnosis names 2027."""
    inst = two_years()
    inst["tiers"] = [tier("t", 10, 1.0, min_tokens_per_s={2026: 0, 2027: 50_000})]
    inst["hardware"] = [gpu("g", kw=100, capex=0, curve=((10, 1000),))]
    sol = optimizer.solve(inst)
    assert sol.status == "infeasible"
    assert "in 2027" in sol.message
    assert sol.diagnosis.needs and sol.diagnosis.needs[0].constraint == "period[2027].facility_power"
    assert sol.diagnosis.needs[0].missing == pytest.approx(4.0)  # 50 racks x 100 kW against 1 MW


def test_explain_refuses_a_horizon_clearly():
    with pytest.raises(ValueError, match="one-period"):
        from optimizer.analysis.explain import explain

        explain(copy.deepcopy(refresh_case(50_000)))


WHATIFS = ("as-planned", "no-early-retirement", "rubin-slips-a-year", "prices-fall-twice-as-fast", "prices-at-a-tenth")


def test_roadmap_whatifs_sweep(tmp_path):
    """docs/refresh.md's deterministic what-ifs, one command: each costs NPV against the plan,
    the plan itself retires most of the installed GB300 fleet early, and at a tenth of the prices
    (the review's case) it keeps it instead."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    df = optimizer.sweep(root / "instances" / "sweeps" / "roadmap-whatifs.yaml", tmp_path / "w.csv", jobs=2)
    assert "expected" not in df.columns  # every row one future: the sweep sets the uncertainty block aside
    npv = dict(zip(df["scenario"], df["npv_usd"]))
    assert set(df["status"]) == {"optimal"}
    for s in WHATIFS[1:]:
        assert npv["as-planned"] > npv[s], s
    rows = df.set_index("scenario")
    # the installed fleet: 2,207 of 2,500 retired in 2027, the rest in 2028 (within the odd rack
    # the tie-break's 1e-6 hold on the NPV leaves open, about one rack's annuity)
    plan = rows.loc["as-planned"]
    assert plan["racks[gb300-nvl72][2026]"] == 2500 and abs(plan["racks[gb300-nvl72][2027]"] - 293) <= 2
    assert plan["racks[gb300-nvl72][2028]"] <= 2
    assert rows.loc["no-early-retirement", "retired_early_racks"] == 0
    # at a tenth of the prices GB300 is kept to 2028 and Vera Rubin is not bought
    tenth = rows.loc["prices-at-a-tenth"]
    assert tenth["racks[gb300-nvl72][2027]"] > 1500 and tenth["racks[gb300-nvl72][2028]"] > 1000
    assert max(tenth[f"racks[vr-nvl72][{y}]"] for y in (2027, 2028, 2029)) <= 2
    # the document's what-if table states these NPVs (USD B, one decimal): the exact optima
    rows = doc_table(REFRESH_DOC.read_text(), "| scenario | NPV (USD) |")
    stated = [float(r[1].removesuffix(" B").replace(",", "")) for r in rows]
    assert stated == [round(npv[s] / 1e9, 1) for s in WHATIFS]


REFRESH_DOC = Path(__file__).resolve().parents[1] / "docs" / "refresh.md"


def doc_table(text: str, head: str) -> list[list[str]]:
    """The body rows of the Markdown table whose header line starts with ``head``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(head))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def counts(cell: str) -> tuple[int, int, int]:
    """'2,682 (+2,682, −1)' -> (alive, bought, retired)."""
    alive, _, moves = cell.partition(" (")
    bought = retired = 0
    for move in moves.rstrip(")").split(", ") if moves else []:
        n = int(move[1:].replace(",", ""))
        bought, retired = (bought + n, retired) if move[0] == "+" else (bought, retired + n)
    return int(alive.replace(",", "")), bought, retired


def assert_schedule(cells_by_row: dict, periods, slack: int) -> None:
    """A document's racks-alive table (cells '2,682 (+2,682, −1)') against a plan's periods: every
    count of every hardware row within ``slack`` racks."""
    for name, cells in cells_by_row.items():
        if name.startswith(("facility", "tokens")):
            continue
        hardware = name.split(" ")[0]
        assert len(cells) == len(periods)
        for cell, p in zip(cells, periods):
            rows = [r for r in p.racks if r.hardware == hardware]
            got = tuple(sum(getattr(r, f) for r in rows) for f in ("alive", "bought", "retired"))
            assert all(abs(a - b) <= slack for a, b in zip(got, counts(cell))), (hardware, p.year, cell, got)


def usd_b(cell: str) -> float:
    return float(cell.removeprefix("E = ").removesuffix(" B").replace(",", ""))


def test_refresh_document_states_the_exact_optimum():
    """docs/refresh.md's as-written schedule and money tables are the roadmap's one as-assumed
    future (the instance without its uncertainty block) solved to 1e-9: the money to the
    document's 0.1 B, facility power to the MW, and the racks to within 2 of each count (the
    tie-break holds the NPV to 1e-6 of 1 T USD, about one rack's annuity, so HiGHS releases may
    settle a rack or two apart)."""
    sol = optimizer.solve(deterministic_roadmap(), mip_gap=1e-9)
    assert sol.status == "optimal" and sol.mip_gap == 0.0
    text = REFRESH_DOC.read_text()
    schedule = {r[0]: r[1:] for r in doc_table(text, "| racks alive, as written |")}
    assert_schedule(schedule, sol.periods, 2)
    mw = [c.split(" / ") for c in schedule["facility MW / grid MW"]]
    assert mw == [[f"{p.power.total_mw:,.0f}", f"{p.power.grid_mw:,.0f}"] for p in sol.periods]
    money = {r[0].strip("*"): r[1].strip("*") for r in doc_table(text, "| | USD |")}
    m = sol.metrics
    figures = {"discounted revenue": m.discounted_revenue_usd, "discounted opex": m.discounted_opex_usd,
               "discounted energy": m.discounted_energy_usd, "discounted capital (annuities)": m.discounted_capital_usd,
               "NPV": m.npv_usd, "purchases, undiscounted": m.capex_usd}
    assert money == {k: f"{v / 1e9:,.1f} B" for k, v in figures.items()}


def test_refresh_document_states_the_stochastic_plan():
    """docs/refresh.md's stochastic plan is the roadmap's (its eight futures) solved again, here
    to a gap of 1e-6 without the regret table: the schedule to within 10 racks of each count (the
    tie-break may stop at its time budget, a few racks apart), each future's NPV, the expectation
    and the CVaR to the document's 0.1 B. The regret table's own solves are not repeated; its
    stochastic row must be those NPVs, its rows' expectations their probability-weighted means,
    EVPI and VSS its diagonal and rows as MODEL.md 13.3 defines them, and the as-written plan's
    own optimum the as-written NPV (test_refresh_document_states_the_exact_optimum's)."""
    sol = optimizer.solve(Path(__file__).resolve().parents[1] / "instances" / "roadmap-2026-2030.yaml",
                          mip_gap=1e-6, regret=False)
    assert sol.status == "optimal"
    u = sol.uncertainty
    text = REFRESH_DOC.read_text()
    names = [o.name for o in u.scenarios]
    probs = [o.probability for o in u.scenarios]
    # the schedule: the same plan in every future (each future's solution carries it)
    schedule = {r[0]: r[1:] for r in doc_table(text, "| racks alive, stochastic plan |")}
    assert_schedule(schedule, u.scenarios[0].solution.periods, 10)
    # each future's NPV under this plan
    lines = text.splitlines()
    head = next(line for line in lines if line.startswith("| future | as-assumed |"))
    assert [c.strip() for c in head.strip("|").split("|")][1:] == names
    (npv_row,) = doc_table(text, "| future | as-assumed |")
    assert [usd_b(c) for c in npv_row[1:]] == [round(o.value / 1e9, 1) for o in u.scenarios]
    assert f"The expected NPV is **{u.expected / 1e9:,.1f} B USD**" in text
    assert f"is {u.cvar / 1e9:,.1f} B." in text and f"The worst future is {u.worst_scenario} ({u.worst / 1e9:,.1f} B)" in text
    # the regret table: its stochastic row is this plan's NPVs, and its arithmetic holds
    regret = doc_table(text, "| plan | as-assumed |")
    plans, rows = [r[0] for r in regret[:-1]], [[usd_b(c) for c in r[1:]] for r in regret[:-1]]
    assert plans == ["stochastic (this plan)", *[f"optimal for {n} alone" for n in names]]
    assert rows[0][:len(names)] == [round(o.value / 1e9, 1) for o in u.scenarios]
    for row in rows:
        cells, expected = row[:len(names)], row[len(names)]
        assert expected == pytest.approx(sum(p * c for p, c in zip(probs, cells)), abs=0.1)
    diagonal = [rows[i + 1][i] for i in range(len(names))]
    assert [usd_b(c) for c in regret[-1][1:len(names) + 1]] == pytest.approx([d - c for d, c in zip(diagonal, rows[0])], abs=0.11)
    wait_and_see = sum(p * d for p, d in zip(probs, diagonal))
    evpi = float(text.split("**EVPI = ")[1].split(" B")[0])
    vss = float(text.split("**VSS = ")[1].split(" B")[0])
    assert evpi == pytest.approx(wait_and_see - rows[0][len(names)], abs=0.15)
    assert vss == pytest.approx(rows[0][len(names)] - rows[1][len(names)], abs=0.15)
    money = {r[0].strip("*"): r[1].strip("*") for r in doc_table(text, "| | USD |")}
    assert rows[1][0] == usd_b(money["NPV"])  # the as-written plan in its own future
