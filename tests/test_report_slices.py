"""Reports of a plan over slices of the year (MODEL.md section 12.4): every slice's hours, tokens
and revenue per tier, busy racks, power chain and heat against that slice's own limits, energy
cost and binding limits, in the terminal, HTML and Markdown reports, and the picture of each
slice's facility power against its grid. The expected figures are worked from the instance."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser

import pytest

import optimizer
from helpers import gpu, tier, tiny
from optimizer.outputs.document import to_html, to_markdown
from optimizer.outputs.plots import slice_figure
from optimizer.outputs.report import money, num, to_text

SLICES = ["peak", "day", "night"]
HOURS = {"peak": 2190, "day": 3650, "night": 2920}
CAP = {"peak": 50_000, "day": 30_000, "night": 20_000}  # tokens/s, the tier's cap in each slice
GRID = {"peak": 0.7, "day": 0.6, "night": 0.5}  # MW
LIQUID = {"peak": 0.8, "day": 0.9, "night": 1.0}  # MW of heat
OVERHEAD = {"peak": 0.2, "day": 0.1, "night": 0.0}  # MW of cooling per MW of heat
ELEC = {"peak": 100.0, "day": 60.0, "night": 30.0}  # USD/MWh
PRICE, INPUT_PRICE = 2.0, 0.5  # USD/Mtok; one input token per output token (helpers.tiny)
RATE, KW, IDLE = 10_000, 100.0, 0.5  # tokens/s per rack, kW per rack, idle share of its power


def sliced(**facility) -> dict:
    """One tier capped in every slice; a rack earns far more than it costs, so every slice serves
    its cap with CAP/RATE busy racks out of max(CAP)/RATE = 5 bought, and nothing else binds."""
    values = dict(grid_power_mw=GRID, liquid_cooling_mw=LIQUID, liquid_cooling_overhead=OVERHEAD, electricity_usd_per_mwh=ELEC)
    inst = tiny(**{**values, **facility})
    inst["slices"] = [{"name": s, "hours": HOURS[s]} for s in SLICES]
    inst["hardware"] = [gpu("g", kw=KW, capex=1e5, curve=((10, RATE),), idle_power_fraction=IDLE)]
    inst["tiers"] = [tier("t", 10, PRICE, input_price_usd_per_mtok=INPUT_PRICE, max_tokens_per_s=CAP)]
    inst["objective"] = "profit"
    return inst


RACKS = math.ceil(max(CAP.values()) / RATE)


def expected(s: str, grid: dict = GRID) -> dict:
    """A slice's figures by hand (section 12.2-12.3): IT of the idle and busy racks, cooling on top."""
    busy = CAP[s] / RATE
    it = KW * (IDLE * RACKS + (1 - IDLE) * busy) / 1000
    facility = it * (1 + OVERHEAD[s])
    seconds = HOURS[s] * 3600
    return dict(busy=busy, it=it, cooling=facility - it, facility=facility, grid=grid[s], energy=ELEC[s] * HOURS[s] * facility,
                out_rev=PRICE * CAP[s] * seconds / 1e6, in_rev=INPUT_PRICE * CAP[s] * seconds / 1e6)


def text_rows(text: str) -> list[list[str]]:
    """The cells of every table row of a terminal report."""
    return [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines() if line.count("│") >= 2]


class Tables(HTMLParser):
    """Section ids, the pictures and tables of each section, and every link of an HTML report."""

    def __init__(self):
        super().__init__()
        self.ids, self.svgs, self.tables, self.links = [], {}, {}, []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.ids.append(attrs["id"])
        elif tag == "svg":
            self.svgs[self.ids[-1]] = self.svgs.get(self.ids[-1], 0) + 1
        elif tag == "table":
            self.tables.setdefault(self.ids[-1], []).append([])
        elif tag == "tr":
            self.tables[self.ids[-1]][-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""
        self.links += [attrs[k] for k in ("src", "href") if k in attrs]

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[self.ids[-1]][-1][-1].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def html_tables(page: str) -> Tables:
    parser = Tables()
    parser.feed(page)
    return parser


def md_rows(page: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in page.splitlines() if line.startswith("| ")]


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


@pytest.fixture(scope="module")
def year():
    inst = optimizer.load_instance(sliced())
    sol = optimizer.solve(inst)
    assert sol.status == "optimal", sol.message
    assert [r.count for r in sol.racks] == [RACKS]
    return inst, sol


def test_terminal_report_has_a_row_per_slice(year):
    _, sol = year
    text = to_text(sol, width=220)
    rows = text_rows(text)
    for s in SLICES:
        e = expected(s)
        assert [s, num(HOURS[s]), num(CAP[s]), money(e["out_rev"] + e["in_rev"]), num(ELEC[s]), money(e["energy"]), num(e["facility"]),
                num(e["grid"]), f"{100 * e['facility'] / e['grid']:.1f}%"] in rows
        assert [s, "t", num(CAP[s]), num(CAP[s]), num(PRICE), num(INPUT_PRICE), num(INPUT_PRICE), money(e["out_rev"]), money(e["in_rev"]),
                money(e["out_rev"] + e["in_rev"])] in rows
        assert [s, "g", num(RACKS), num(e["busy"]), pct(e["busy"] / RACKS)] in rows
        assert [s, "liquid", num(e["it"]), num(LIQUID[s]), pct(e["it"] / LIQUID[s])] in rows
        assert [s, f"demand_cap[t,{s}]", num(CAP[s]), num(CAP[s]), "tokens/s"] in rows  # each slice's binding limit, named by it
        assert re.search(rf"^{s} +█+[ ·]*\| {re.escape(num(e['facility']))} of {re.escape(num(e['grid']))} MW$", text, re.M)
    # the power chain: one column per slice, against that slice's grid
    for item, key in (("IT", "it"), ("cooling", "cooling"), ("total facility", "facility"), ("grid connection", "grid")):
        assert [item, *[num(expected(s)[key]) for s in SLICES]] in rows
    assert ["g", "t", "aggregated", *[num(expected(s)["busy"]) for s in SLICES]] in rows  # allocation per slice, not an empty table
    assert "Allocation (rack-equivalents)" not in text and "Allocation per slice (rack-equivalents)" in text
    mean = sum(HOURS[s] * CAP[s] for s in SLICES) / 8760
    assert "Tiers over the year (mean tokens/s" in text and num(mean) in [c for r in rows if r and r[0] == "t" for c in r]
    assert f"busiest slice peak: {num(expected('peak')['facility'])} of {num(GRID['peak'])} MW" in text


def test_html_report_has_the_slices_and_their_picture(year):
    inst, sol = year
    page = html_tables(to_html(inst, sol, None, []))
    assert page.ids == ["headline", "mix", "tiers", "slices", "slice-tiers", "utilisation", "allocation", "power", "heat", "market", "fabric", "limits",
                        "shadow-prices", "assumptions", "solved-with"]
    assert page.svgs["slices"] == 1 and page.links == []  # the picture inline, nothing fetched
    (summary,) = page.tables["slices"]
    assert summary[0][:3] == ["slice", "hours h/yr", "tokens/s"] and "grid MW" in summary[0]
    power = page.tables["power"][0]
    assert power[0] == ["item", *[f"{s} MW" for s in SLICES]]
    for s in SLICES:
        e = expected(s)
        assert [s, num(HOURS[s]), num(CAP[s]), money(e["out_rev"] + e["in_rev"]), num(ELEC[s]), money(e["energy"]), num(e["facility"]),
                num(e["grid"]), f"{100 * e['facility'] / e['grid']:.1f}%"] in summary
        assert [s, "t", num(CAP[s]), num(CAP[s]), num(PRICE), num(INPUT_PRICE), num(INPUT_PRICE), money(e["out_rev"]), money(e["in_rev"]),
                money(e["out_rev"] + e["in_rev"])] in page.tables["slice-tiers"][0]
        assert [s, "g", num(RACKS), num(e["busy"]), pct(e["busy"] / RACKS)] in page.tables["utilisation"][0]
        assert [s, "liquid", num(e["it"]), num(LIQUID[s]), pct(e["it"] / LIQUID[s])] in page.tables["heat"][0]
        assert [s, f"demand_cap[t,{s}]", num(CAP[s]), num(CAP[s]), "tokens/s"] in page.tables["limits"][0]
    assert ["grid connection", *[num(GRID[s]) for s in SLICES]] in power
    assert "mean tokens/s" in page.tables["tiers"][0][0]


def test_the_picture_marks_each_slice_grid_and_stacks_its_tokens(year):
    _, sol = year
    fig = slice_figure([("", sol.slices)])
    power, tokens = fig.axes[:2]
    (marks,) = power.collections  # one black mark per slice at its own grid connection
    assert [seg[0][1] for seg in marks.get_segments()] == pytest.approx([GRID[s] for s in SLICES])
    heights = [b.get_y() + b.get_height() for b in power.patches[len(SLICES):]]  # IT, then the rest stacked on it
    assert heights == pytest.approx([expected(s)["facility"] for s in SLICES], rel=1e-6)
    scale = max(CAP.values()) / max(b.get_height() for b in tokens.patches)
    assert [b.get_height() * scale for b in tokens.patches] == pytest.approx([CAP[s] for s in SLICES], rel=1e-6)
    assert [t.get_text().split("\n")[0] for t in tokens.get_xticklabels()] == SLICES
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_markdown_report_of_slices(year):
    inst, sol = year
    page = to_markdown(inst, sol, None, [])
    heads = re.findall(r"^## (.+)$", page, re.M)
    assert heads[:3] == ["Headline", "Racks per hall", "Tokens and revenue per tier over the year (mean tokens/s over the slices' hours, revenue summed)"]
    assert heads[3].startswith("Slices of the year") and "Allocation per slice (rack-equivalents)" in heads
    rows = md_rows(page)
    for s in SLICES:
        e = expected(s)
        assert [s, "t", num(CAP[s]), num(CAP[s]), num(PRICE), num(INPUT_PRICE), num(INPUT_PRICE), money(e["out_rev"]), money(e["in_rev"]),
                money(e["out_rev"] + e["in_rev"])] in rows
        assert [s, f"demand_cap[t,{s}]", num(CAP[s]), num(CAP[s]), "tokens/s"] in rows
    assert "<svg" not in page


# --------------------------------------------------------------------------- a horizon with slices


HORIZON_GRID = {2026: GRID, 2027: {"peak": 0.9, "day": 0.8, "night": 0.7}}


@pytest.fixture(scope="module")
def horizon():
    data = sliced(grid_power_mw=HORIZON_GRID)
    data["horizon"] = {"start_year": 2026, "period_years": [1, 1]}
    inst = optimizer.load_instance(data)
    sol = optimizer.solve(inst)
    assert sol.status == "optimal" and len(sol.periods) == 2, sol.message
    return inst, sol


def test_horizon_reports_each_period_slice_against_its_grid(horizon):
    inst, sol = horizon
    text = to_text(sol, width=220)
    rows = text_rows(text)
    page = html_tables(to_html(inst, sol, None, []))
    assert page.ids.index("power") < page.ids.index("slices") < page.ids.index("tiers")
    assert page.svgs["slices"] == 1 and page.links == []
    summary, per_tier, busy = page.tables["slices"]
    for y, grid in HORIZON_GRID.items():
        for s in SLICES:
            e = expected(s, grid)
            assert re.search(rf"^{y} {s} +█+[ ·]*\| {re.escape(num(e['facility']))} of {re.escape(num(e['grid']))} MW$", text, re.M)
            row = [str(y), s, num(HOURS[s]), num(CAP[s]), money(e["out_rev"] + e["in_rev"]), num(ELEC[s]), money(e["energy"]),
                   num(e["facility"]), num(e["grid"]), f"{100 * e['facility'] / e['grid']:.1f}%"]
            assert row in rows and row in summary
            assert [str(y), s, "t", num(CAP[s]), num(CAP[s]), num(PRICE), num(INPUT_PRICE), num(INPUT_PRICE), money(e["out_rev"]),
                    money(e["in_rev"]), money(e["out_rev"] + e["in_rev"])] in per_tier
            assert [str(y), s, "g", num(RACKS), num(e["busy"]), pct(e["busy"] / RACKS)] in busy
            assert [s, f"period[{y}].demand_cap[t,{s}]", num(CAP[s]), num(CAP[s]), "tokens/s"] in page.tables["limits"][0]
    assert "t mean tokens/s" in [r[0] for r in page.tables["tiers"][0]]
    heads = re.findall(r"^## (.+)$", to_markdown(inst, sol, None, []), re.M)
    assert any(h.startswith("Slices of each period") for h in heads)


def test_unsliced_report_shows_no_slices():
    data = sliced()
    del data["slices"]
    for key in ("grid_power_mw", "liquid_cooling_mw", "liquid_cooling_overhead", "electricity_usd_per_mwh"):
        data["facility"][key] = data["facility"][key]["peak"]
    data["tiers"][0]["max_tokens_per_s"] = CAP["peak"]
    inst = optimizer.load_instance(data)
    sol = optimizer.solve(inst)
    assert sol.slices == []
    text = to_text(sol, width=220)
    assert "Allocation (rack-equivalents)" in text and "Tiers served" in text and "slice" not in text
    page = html_tables(to_html(inst, sol, None, []))
    assert page.ids == ["headline", "mix", "tiers", "power", "heat", "market", "fabric", "shadow-prices", "assumptions", "solved-with"]
    assert page.tables["tiers"][0][0][3] == "tokens/s"  # the one slice's rate, as before slices
