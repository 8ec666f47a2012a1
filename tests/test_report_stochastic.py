"""Reports of a stochastic plan (MODEL.md section 13.3) in the terminal, HTML and Markdown, the
regret heatmap, and the command line's --no-regret, JSON and exit codes. The figures a planner
checks by hand are worked from the instance below.

One rack type g (10 kW, capex $1M over 5 years at 0% discount: 200,000 USD/yr a rack, no
energy price) serves 10,000 tokens/s of one tier at 3 USD/Mtok, 94.608 USD/yr per token/s, up to
the tier's cap. Three futures:

- ``floor`` (p 0.3): 50,000 tokens/s must be served (floor = cap): at least 5 racks;
- ``low`` (p 0.3): the cap is 20,000 tokens/s, its own optimum 2 racks;
- ``high`` (p 0.4): the cap is 80,000 tokens/s, its own optimum 8 racks.

The 6th to 8th rack earn 0.4 x 946,080 = 378,432 USD/yr each against 200,000, so the stochastic
plan buys 8. Z in each future with r racks is 94.608 x min(cap, 10,000 r) - 200,000 r:

=========  ==========  =========  ==========  ===========
plan       floor       low        high        E[Z]
=========  ==========  =========  ==========  ===========
8 racks    3,130,400   292,160    5,968,640   3,414,224
5 racks    3,730,400   892,160    3,730,400   2,878,928
2 racks    infeasible  1,492,160  1,492,160   -
=========  ==========  =========  ==========  ===========

wait-and-see 0.3 x 3,730,400 + 0.3 x 1,492,160 + 0.4 x 5,968,640 = 3,954,224; EVPI 540,000;
VSS (over floor's own plan, the first scenario's) 3,414,224 - 2,878,928 = 535,296; CVaR at 0.9
and the worst: low's 292,160 (USD/yr throughout).
"""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import optimizer
from generate import random_stochastic_instance
from helpers import gpu, tier, tiny
from optimizer.interfaces.cli import app
from optimizer.model.schema import load_instance, read_document
from optimizer.outputs.document import to_html, to_markdown
from optimizer.outputs.plots import regret_figure
from optimizer.outputs.report import num, to_text
from optimizer.outputs.stochastic import REGRET_SKIPPED

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

SCENARIOS = ["floor", "low", "high"]
EXPECTED, WAIT_AND_SEE, EVPI, VSS, WORST = "3,414,224", "3,954,224", "540,000", "535,296", "292,160"
REGRET = {  # plan label -> (racks, cells per scenario, expected), from the table above
    "stochastic (this plan)": ("8 g", ["3,130,400", "292,160", "5,968,640"], EXPECTED),
    "optimal for floor alone": ("5 g", ["3,730,400", "892,160", "3,730,400"], "2,878,928"),
    "optimal for low alone": ("2 g", ["infeasible", "1,492,160", "1,492,160"], "infeasible"),
    "optimal for high alone": ("8 g", ["3,130,400", "292,160", "5,968,640"], EXPECTED),
}


def three_futures() -> dict:
    inst = tiny()
    inst["hardware"] = [gpu("g", kw=10.0, capex=1e6, curve=((10, 10_000),))]
    inst["tiers"] = [tier("t", 10, 3.0, max_tokens_per_s=20_000)]
    inst["objective"] = "profit"
    inst["uncertainty"] = {"scenarios": [
        {"name": "floor", "probability": 0.3, "set": {"tiers[t].min_tokens_per_s": 50_000, "tiers[t].max_tokens_per_s": 50_000}},
        {"name": "low", "probability": 0.3},
        {"name": "high", "probability": 0.4, "set": {"tiers[t].max_tokens_per_s": 80_000}},
    ]}
    return inst


@pytest.fixture(scope="module")
def solved():
    inst = load_instance(three_futures())
    return inst, optimizer.solve(inst)


@pytest.fixture(scope="module")
def instance_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("stochastic") / "three-futures.yaml"
    path.write_text(yaml.safe_dump(three_futures()), encoding="utf-8")
    return path


def text_rows(text: str) -> list[list[str]]:
    """The cells of every table row of a terminal report, its one-line heads (┃) too."""
    lines = [line.replace("┃", "│") for line in text.splitlines()]
    return [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line.count("│") >= 2]


def md_tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table as rows of cells, its header first."""
    tables, rows = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            if not line.startswith("|---"):
                rows.append([c.strip() for c in line.strip("|").split(" | ")])
        elif rows:
            tables.append(rows)
            rows = []
    return tables


def table_with(tables: list[list[list[str]]], head: str) -> list[list[str]]:
    return next(t for t in tables if head in t[0])


class Sections(HTMLParser):
    """Per <section id=...>: its tables (rows of cells) and whether it holds an inline <svg>."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[list[str]]]] = {}
        self.svg: set[str] = set()
        self.tags: set[str] = set()
        self.section = None
        self.cell = None

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "section":
            self.section = dict(attrs)["id"]
            self.tables[self.section] = []
        elif tag == "svg":
            self.svg.add(self.section)
        elif tag == "table":
            self.tables[self.section].append([])
        elif tag == "tr":
            self.tables[self.section][-1].append([])
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[self.section][-1][-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def check_regret_rows(rows: list[list[str]]) -> None:
    """The regret table's rows (header first) hold the hand-worked cells, by column name."""
    head = rows[0]
    cols = [next(i for i, h in enumerate(head) if h.startswith(f"{w} ")) for w in SCENARIOS]
    expected_col = next(i for i, h in enumerate(head) if h.startswith("expected "))
    assert [h for h in head if h.startswith("expected")] == ["expected USD/yr"]
    found = {r[0]: r for r in rows[1:]}
    assert set(found) == set(REGRET)
    for plan, (racks, cells, expected) in REGRET.items():
        row = found[plan]
        assert row[1] == racks, plan
        assert [row[i] for i in cols] == cells, plan
        assert row[expected_col] == expected, plan


def figure_rows(rows: list[list[str]]) -> dict[str, str]:
    return {r[0]: r[1] for r in rows[1:]}


# --------------------------------------------------------------------------- the terminal


def test_terminal_report_of_three_futures(solved):
    _, sol = solved
    text = to_text(sol, width=220)
    rows = text_rows(text)
    assert "one plan for 3 scenarios (floor 0.3, low 0.3, high 0.4)" in text
    assert f"E[Z] = {EXPECTED} USD/yr" in text
    # the plan: 8 racks of g in hall a
    assert ["g", "8", "8"] in rows
    # one row per scenario: probability, Z, revenue, cost, tokens/s, facility MW (8 x 10 kW), binding limits
    assert ["floor", "0.3", "3,130,400", "$4.73M", "$1.60M", "$3.13M", "50,000", "0.08", "2"] in rows
    assert ["low", "0.3", WORST, "$1.89M", "$1.60M", "$292,160", "20,000", "0.08", "1"] in rows
    assert ["high", "0.4", "5,968,640", "$7.57M", "$1.60M", "$5.97M", "80,000", "0.08", "1"] in rows
    # each scenario's own binding limits: the floor binds only where it is set
    assert ["floor", "demand_floor[t]", "50,000", "50,000", "tokens/s"] in rows
    assert not any(r[:2] == ["low", "demand_floor[t]"] for r in rows)
    # the expectation, CVaR at alpha and the worst scenario, with units
    figures = {r[0]: r[1] for r in rows if len(r) == 2}
    assert figures["expected value, E[Z] (probability-weighted)"] == f"{EXPECTED} USD/yr"
    assert figures["CVaR at alpha 0.9: the mean of the worst 10% of outcomes"] == f"{WORST} USD/yr"
    assert figures["worst scenario: low"] == f"{WORST} USD/yr"
    # the regret table, then wait-and-see, EVPI and VSS
    head = next(r for r in rows if r[:2] == ["plan", "racks"])
    check_regret_rows([head] + [r for r in rows if r and r[0] in REGRET])
    assert figures["wait-and-see: E[each scenario's own optimum]"] == f"{WAIT_AND_SEE} USD/yr"
    assert figures["EVPI, what perfect foresight would be worth (wait-and-see - stochastic)"] == f"{EVPI} USD/yr"
    assert figures["VSS, what planning for every scenario earns over the plan for floor alone"] == f"{VSS} USD/yr"
    assert REGRET_SKIPPED not in text


def test_terminal_report_without_the_regret_table_says_how_to_get_it():
    sol = optimizer.solve(three_futures(), regret=False)
    text = to_text(sol, width=220)
    assert sol.uncertainty.regret == [] and sol.uncertainty.evpi is None
    assert REGRET_SKIPPED in " ".join(text.split())
    assert "without --no-regret" in REGRET_SKIPPED
    assert "Regret table:" not in text and "wait-and-see: E[" not in text
    assert f"E[Z] = {EXPECTED} USD/yr" in text  # the rest of the report is there


def test_a_scenario_with_no_finite_vss_says_why():
    """With low first, the VSS is over low's own plan, which cannot meet floor: no figure, and the
    note says so."""
    inst = three_futures()
    futures = inst["uncertainty"]["scenarios"]
    inst["uncertainty"]["scenarios"] = [futures[1], futures[0], futures[2]]
    sol = optimizer.solve(inst)
    text = " ".join(to_text(sol, width=220).split())
    assert sol.uncertainty.vss is None
    assert "VSS, what planning for every scenario earns over the plan for low alone │ -" in text
    assert "cannot meet scenario floor" in text


# --------------------------------------------------------------------------- Markdown and HTML


def test_markdown_report(solved):
    inst, sol = solved
    md = to_markdown(inst, sol, None, [])
    tables = md_tables(md)
    scenarios = table_with(tables, "probability")
    assert [r[0] for r in scenarios[1:]] == SCENARIOS
    assert scenarios[1][:3] == ["floor", "0.3", "3,130,400"]
    check_regret_rows(table_with(tables, "plan"))
    figures = {k: v for t in tables if t[0] == ["figure", "value"] for k, v in t[1:]}
    assert figures["expected value, E[Z] (probability-weighted)"] == f"{EXPECTED} USD/yr"
    assert figures["EVPI, what perfect foresight would be worth (wait-and-see - stochastic)"] == f"{EVPI} USD/yr"
    assert figures["VSS, what planning for every scenario earns over the plan for floor alone"] == f"{VSS} USD/yr"
    assert "## Regret table, EVPI and VSS (USD/yr)" in md
    assert "<svg" not in md


def test_html_report_embeds_the_regret_heatmap(solved):
    inst, sol = solved
    page = to_html(inst, sol, None, [])
    parsed = Sections()
    parsed.feed(page)
    assert "regret" in parsed.svg  # the heatmap, inline
    assert not {"script", "link", "img", "iframe"} & parsed.tags  # nothing fetched from a network
    regret = parsed.tables["regret"]
    check_regret_rows(regret[0])
    assert figure_rows(regret[1])["wait-and-see: E[each scenario's own optimum]"] == f"{WAIT_AND_SEE} USD/yr"
    assert figure_rows(regret[1])["EVPI, what perfect foresight would be worth (wait-and-see - stochastic)"] == f"{EVPI} USD/yr"
    outlook = figure_rows(parsed.tables["outlook"][0])
    assert outlook["expected value, E[Z] (probability-weighted)"] == f"{EXPECTED} USD/yr"
    assert outlook["worst scenario: low"] == f"{WORST} USD/yr"
    limits = parsed.tables["limits"][0]
    assert ["floor", "demand_floor[t]", "50,000", "50,000", "tokens/s"] in limits
    assert [r[0] for r in parsed.tables["scenarios"][0][1:]] == SCENARIOS


def test_regret_heatmap_cells(solved):
    """Each cell's text is its Z over its regret (the shortfall from the column's best); the plan
    that cannot meet floor is hatched 'infeasible' there and in its expectation."""
    fig = regret_figure(solved[1].uncertainty)
    ax = fig.axes[0]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["floor\np = 0.3", "low\np = 0.3", "high\np = 0.4", "expected"]
    assert cells[(2, 0)] == "infeasible" and cells[(2, 3)] == "infeasible"  # row: low's plan; columns floor, expected
    assert cells[(0, 3)] == "3.4142M\nbest"  # the stochastic plan has the best expectation
    assert cells[(1, 0)] == "3.7304M\nbest" and cells[(0, 0)] == "3.1304M\n-600k"  # 5 racks meet floor best
    assert cells[(2, 2)] == "1.4922M\n-4.4765M"  # low's 2 racks in high: 5,968,640 - 1,492,160 short
    assert sum(1 for p in ax.patches if p.get_hatch() == "//") == 2


# --------------------------------------------------------------------------- slices and horizons


def test_each_scenario_reports_power_per_slice():
    """5 racks of 100 kW that draw half their power idle (0.05 MW a rack) and 0.1 MW a rack busy,
    10,000 tokens/s each; calm's caps 30,000 / 10,000 tokens/s in peak / night, rush's 50,000 /
    20,000, so the plan buys 5 and each slice's facility power is 0.25 + 0.05 x busy racks."""
    inst = tiny(liquid_cooling_overhead=0.0)
    inst["slices"] = [{"name": "peak", "hours": 4380}, {"name": "night", "hours": 4380}]
    inst["hardware"] = [gpu("g", kw=100.0, capex=1e6, curve=((10, 10_000),), idle_power_fraction=0.5)]
    inst["tiers"] = [tier("t", 10, 3.0, max_tokens_per_s={"peak": 30_000, "night": 10_000})]
    inst["objective"] = "profit"
    inst["uncertainty"] = {"scenarios": [{"name": "calm", "probability": 0.5}, {"name": "rush", "probability": 0.5,
                                          "set": {"tiers[t].max_tokens_per_s": {"peak": 50_000, "night": 20_000}}}]}
    sol = optimizer.solve(inst, regret=False)
    rows = text_rows(to_text(sol, width=220))
    power = {(r[0], r[1]): (r[3], r[7], r[8]) for r in rows if len(r) == 10 and r[0] in ("calm", "rush")}
    assert power == {("calm", "peak"): ("30,000", "0.4", "1"), ("calm", "night"): ("10,000", "0.3", "1"),
                     ("rush", "peak"): ("50,000", "0.5", "1"), ("rush", "night"): ("20,000", "0.35", "1")}
    assert ["rush", "night", "demand_cap[t,night]", "20,000", "20,000", "tokens/s"] in rows
    md = to_markdown(load_instance(inst), sol, None, [])
    assert "| rush | night | 4,380 | 20,000 |" in md


def test_horizon_reports_the_fleet_schedule_and_each_scenarios_periods():
    doc = read_document(ROOT / "instances" / "roadmap-2026-2030.yaml")
    doc["uncertainty"] = {"scenarios": [{"name": "base", "probability": 0.6},
                                        {"name": "slow", "probability": 0.4, "set": {"tiers[premium].max_tokens_per_s": 3.0e7}}]}
    sol = optimizer.solve(doc, regret=False, mip_gap=1e-3)
    assert sol.periods == [] and sol.uncertainty is not None
    text = to_text(sol, width=220)
    rows = text_rows(text)
    assert "The plan: racks alive per period (+bought, -retired at its start), the same in every scenario" in text
    assert ["hardware", "2026 (1 yr)", "2027 (1 yr)", "2028 (1 yr)", "2029 (1 yr)", "2030 (1 yr)"] in rows
    assert ["gb300-nvl72", "2,500"] == next(r for r in rows if r[0] == "gb300-nvl72")[:2]  # installed in 2025
    for o in sol.uncertainty.scenarios:
        for p in o.solution.periods:
            row = next(r for r in rows if r[:2] == [o.name, str(p.year)])
            assert row[-3] == num(p.power.total_mw)
    assert next(r for r in rows if r[0] == "base")[2:3] == [num(sol.uncertainty.scenarios[0].value / 1e6)]
    assert "million USD (net present value)" in text


@pytest.mark.parametrize("horizon,slices", [(False, False), (False, True), (True, False), (True, True)])
def test_every_kind_of_stochastic_plan_renders(horizon, slices):
    """A random stochastic instance of each kind (seed 0 has a plan in each): every format names
    every scenario in its scenario table and every plan of the regret table, with the objective's unit."""
    inst = load_instance(random_stochastic_instance(0, horizon=horizon, slices=slices))
    sol = optimizer.solve(inst)
    u = sol.uncertainty
    assert sol.has_plan and u.regret
    rows = text_rows(to_text(sol, width=220))
    assert [r[0] for r in rows if r and r[0] in {o.name for o in u.scenarios} and len(r) == 9] == [o.name for o in u.scenarios]
    tables = md_tables(to_markdown(inst, sol, None, []))
    assert [r[0] for r in table_with(tables, "plan")[1:]] == ["stochastic (this plan)", *[f"optimal for {r.plan} alone" for r in u.regret[1:]]]
    assert f"({u.unit})" in to_html(inst, sol, None, [])


# --------------------------------------------------------------------------- the command line


def test_cli_solve_with_and_without_regret(instance_file):
    full = runner.invoke(app, ["solve", str(instance_file), "--no-marginal-values"], terminal_width=220)
    assert full.exit_code == 0, full.output
    assert "Regret table:" in full.output and f"{EVPI} USD/yr" in full.output
    skipped = runner.invoke(app, ["solve", str(instance_file), "--no-regret"], terminal_width=220)
    assert skipped.exit_code == 0, skipped.output
    assert "Regret table:" not in skipped.output and f"{EVPI} USD/yr" not in skipped.output
    assert REGRET_SKIPPED in " ".join(skipped.output.split())
    assert f"E[Z] = {EXPECTED} USD/yr" in skipped.output


def test_cli_json_carries_the_uncertainty(instance_file, tmp_path):
    res = runner.invoke(app, ["solve", str(instance_file), "--json", "-o", str(tmp_path / "sol.json")])
    assert res.exit_code == 0, res.output
    sol = json.loads(res.output)
    assert json.loads((tmp_path / "sol.json").read_text()) == sol
    u = sol["uncertainty"]
    assert [s["name"] for s in u["scenarios"]] == SCENARIOS
    assert u["expected"] == pytest.approx(3_414_224, rel=1e-9)
    assert u["evpi"] == pytest.approx(540_000, rel=1e-9) and u["vss"] == pytest.approx(535_296, rel=1e-9)
    low = next(r for r in u["regret"] if r["plan"] == "low")
    assert low["racks"] == {"g": 2}
    assert low["cells"][0] == {"scenario": "floor", "status": "infeasible", "value": None}
    assert sol["power"] is None and sol["racks"] == [{"hardware": "g", "hall": "a", "count": 8}]


def test_cli_report_no_regret(instance_file, tmp_path):
    out = tmp_path / "plan.md"
    res = runner.invoke(app, ["report", str(instance_file), "-o", str(out), "--no-regret"])
    assert res.exit_code == 0, res.output
    md = out.read_text()
    assert REGRET_SKIPPED in md and "| plan | racks |" not in md
    assert f"| expected value, E[Z] (probability-weighted) | {EXPECTED} USD/yr |" in md
    html_out = tmp_path / "plan.html"
    res = runner.invoke(app, ["report", str(instance_file), "-o", str(html_out)])
    assert res.exit_code == 0, res.output
    parsed = Sections()
    parsed.feed(html_out.read_text())
    check_regret_rows(parsed.tables["regret"][0])


def test_cli_exit_codes(instance_file, tmp_path):
    """A rule only the solve can check (no CVaR of tokens_per_watt) is bad input: exit 2, the rule
    on stderr, no traceback; a future no plan can meet is exit 1; a scenario path that names
    nothing is exit 2 naming the scenario."""
    risky = three_futures()
    risky["uncertainty"]["risk"] = {"alpha": 0.5, "weight": 0.5}
    path = tmp_path / "risky.yaml"
    path.write_text(yaml.safe_dump(risky), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "optimizer", "solve", str(path), "--objective", "tokens_per_watt", "--no-regret"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "uncertainty.risk" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    res = runner.invoke(app, ["report", str(path), "--objective", "tokens_per_watt", "-o", str(tmp_path / "r.md")])
    assert res.exit_code == 2 and not (tmp_path / "r.md").exists()

    impossible = three_futures()
    impossible["uncertainty"]["scenarios"][0]["set"] = {"tiers[t].min_tokens_per_s": 5e9, "tiers[t].max_tokens_per_s": 5e9}
    path = tmp_path / "impossible.yaml"
    path.write_text(yaml.safe_dump(impossible), encoding="utf-8")
    res = runner.invoke(app, ["solve", str(path)])
    assert res.exit_code == 1, res.output
    assert "no plan" in res.output and "scenario floor" in res.output

    bad = three_futures()
    bad["uncertainty"]["scenarios"][1]["set"] = {"tiers[nope].price_usd_per_mtok": 1.0}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    res = runner.invoke(app, ["solve", str(path), "--no-regret"])
    assert res.exit_code == 2 and "low" in res.output and "Traceback" not in res.output


def test_a_deterministic_plan_has_no_scenario_sections():
    inst = three_futures()
    del inst["uncertainty"]
    text = to_text(optimizer.solve(inst), width=220)
    for marker in ("stochastic plan", "Regret table", "Scenarios:", REGRET_SKIPPED[:30]):
        assert marker not in text
    assert "Racks per hall (racks)" in text and "Tiers served" in text
