"""What limits a plan, what would bring a left-out system in, and the forwardable report."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import optimizer
from helpers import YEAR_MTOK, gpu, tier, tiny
from optimizer.interfaces.cli import app
from optimizer.analysis.explain import explain
from optimizer.outputs.report import num

ROOT = Path(__file__).resolve().parents[1]
GTC = ROOT / "instances" / "gtc2026-1gw.yaml"
runner = CliRunner()


def two_gpus():
    """a: 10,000 tok/s; b: 8,000 tok/s; same 100 kW and $1M (r = 0, 5 years: $200k/yr)."""
    inst = tiny()
    inst["hardware"] = [gpu("a", curve=((10, 10000),)), gpu("b", curve=((10, 8000),))]
    inst["tiers"] = [tier("t", 10, 1.0)]
    return inst


def test_entry_threshold_by_hand():
    """Forcing one b rack in place of an a rack loses 2,000 tok/s x 31.536 = 63,072 USD/yr of
    profit; a capex cut of 63,072 / 0.2 = 315,360 USD per rack makes up for it; b enters
    freely once it is 10,000 / 8,000 = 1.25x faster."""
    exp = explain(two_gpus(), objective="profit")
    (b,) = exp.not_chosen
    assert b.hardware == "b" and b.forced_racks == 1
    assert b.forced_loss == pytest.approx(2000 * YEAR_MTOK, rel=1e-6)
    assert b.capex_cut_usd_per_rack == pytest.approx(2000 * YEAR_MTOK / 0.2, rel=1e-6)
    assert 1.24 <= b.speedup_needed <= 1.25 * 1.011


def test_limits_binding_first():
    """Revenue: the 55,000 tok/s cap binds with 6 racks (5.5 rack-equivalents), 0.6 MW of 1.
    (Under profit a sixth rack would earn 157,680 USD/yr for 200,000 of annuity.)"""
    inst = two_gpus()
    inst["tiers"][0]["max_tokens_per_s"] = 55_000
    exp = explain(inst, objective="revenue")
    names = [r.constraint for r in exp.limits]
    assert names[0] == "demand_cap[t]" and exp.limits[0].binding and exp.limits[0].use == pytest.approx(1.0)
    power = next(r for r in exp.limits if r.constraint == "facility_power")
    assert not power.binding and power.usage == pytest.approx(0.6) and power.unit == "MW"


class Sections(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.text, self.svgs, self.links = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.ids.append(attrs.get("id"))
        if tag == "svg":
            self.svgs += 1
        for key in ("src", "href"):
            if key in attrs:
                self.links.append(attrs[key])

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def html_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "report.html"
    res = runner.invoke(app, ["report", str(GTC), "-o", str(out)])
    assert res.exit_code == 0, res.output
    parser = Sections()
    parser.feed(out.read_text())
    return parser, optimizer.solve(GTC)


def test_report_has_every_section_and_needs_no_network(html_report):
    parser, _ = html_report
    assert parser.ids == ["headline", "mix", "tiers", "power", "heat", "market", "fabric", "limits", "shadow-prices", "marginal-values", "not-chosen",
                          "assumptions", "solved-with"]
    assert parser.svgs >= 2 and parser.links == []  # charts inline, nothing fetched


def test_report_figures_are_the_solution(html_report):
    parser, sol = html_report
    text = " ".join(parser.text)
    assert f"{num(sol.objective.value)} USD/yr" in text
    for hw in ("vr-nvl72", "lpx"):
        assert num(sum(r.count for r in sol.racks if r.hardware == hw)) in text
    assert num(sol.power.it_mw) in text and num(sol.power.cooling_mw) in text
    for t in sol.tiers:
        assert num(t.tokens_per_s) in text
    assert "cpo-1.6t" in text and "pluggable-1.6t" in text  # both optics side by side
    assert "gb300-nvl72" in text  # the system not chosen, with its threshold
    assert "LPX rack power is not public" in text  # the instance's own assumption comments


def test_markdown_report(tmp_path):
    out = tmp_path / "r.md"
    res = runner.invoke(app, ["report", str(GTC), "-o", str(out), "--no-entry"])
    assert res.exit_code == 0
    heads = re.findall(r"^## (.+)$", out.read_text(), re.M)
    assert heads[:3] == ["Headline", "Racks per hall", "Tokens and revenue per tier"] and "The instance's assumptions" in heads


def test_report_of_an_infeasible_instance_leads_with_the_diagnosis(tmp_path):
    inst = two_gpus()
    inst["tiers"][0]["min_tokens_per_s"] = 150_000
    path = tmp_path / "i.yaml"
    path.write_text(yaml.safe_dump(inst))
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", str(path), "-o", str(out)])
    assert res.exit_code == 1
    parser = Sections()
    parser.feed(out.read_text())
    assert parser.ids[:2] == ["headline", "diagnosis"]
    assert "needs 0.5 MW more grid power" in " ".join(parser.text)
