"""optimizer sensitivity: hand-worked tornados, the ranking, the pictures, the errors.

The instance: one 100 kW GPU rack type serving 10,000 output tokens/s per rack in one tier at
1 USD per million tokens, a 1 MW grid (so 10 racks; slots and cooling never bind). Revenue is
racks x 10,000 x price x multiplier x 31.536 USD/yr (31,536,000 s / 1e6 per USD/Mtok), with
racks = floor(grid MW x 1000 / 100): every figure below is worked from that, not read from a solve.
"""

from __future__ import annotations

import copy
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import optimizer
from helpers import YEAR_MTOK, gpu, tier, tiny
from optimizer.interfaces.cli import app
from optimizer.model.schema import read_document

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
GAP = 1e-7  # every solve here at a gap far below the figures compared (rel 1e-6)
RATE = 10_000.0  # output tokens/s per rack


def revenue(grid_mw=1.0, price=1.0, multiplier=1.0) -> tuple[float, int]:
    """(revenue USD/yr, racks) of the tiny site, by hand."""
    racks = math.floor(grid_mw * 1000 / 100 + 1e-9)
    return racks * RATE * multiplier * price * YEAR_MTOK, racks


RANGES = [  # given out of order on purpose: the ranking must sort them
    {"name": "VR throughput", "source": "vendor roadmap", "low": {"hardware[g].performance_multiplier": 0.9},
     "high": {"hardware[g].performance_multiplier": 1.05}},
    {"name": "grid power", "source": "utility letter", "low": {"facility.grid_power_mw": 0.55},
     "high": {"facility.grid_power_mw": 2.0}},
    {"name": "token price", "source": "market survey", "low": {"tiers[t].price_usd_per_mtok": 0.5},
     "high": {"tiers[t].price_usd_per_mtok": 1.2}},
    {"name": "site and price", "source": "a deal", "low": {"facility.grid_power_mw": 0.5, "tiers[t].price_usd_per_mtok": 2.0},
     "high": {"facility.grid_power_mw": 1.3}},
]
# the same ends, by hand: (grid, price, multiplier) at each end
BY_HAND = {
    "VR throughput": ((1.0, 1.0, 0.9), (1.0, 1.0, 1.05)),
    "grid power": ((0.55, 1.0, 1.0), (2.0, 1.0, 1.0)),
    "token price": ((1.0, 0.5, 1.0), (1.0, 1.2, 1.0)),
    "site and price": ((0.5, 2.0, 1.0), (1.3, 1.0, 1.0)),
}


def site(ranges=None) -> dict:
    d = tiny()
    d["hardware"] = [gpu("g", kw=100.0, curve=((10, RATE),))]
    d["tiers"] = [tier("t", 10, 1.0)]
    if ranges is not None:
        d["sensitivity"] = copy.deepcopy(ranges)
    return d


@pytest.fixture(scope="module")
def result():
    return optimizer.sensitivity(site(RANGES), mip_gap=GAP, jobs=2)


def test_each_end_is_the_hand_worked_figure(result):
    base, base_racks = revenue()
    assert base == pytest.approx(3_153_600.0)
    assert result.base.status == "optimal" and result.objective == "revenue" and result.objective_unit == "USD/yr"
    assert result.base.objective_value == pytest.approx(base, rel=1e-6) and result.base.racks == {"g": base_racks}
    for r in result.ranges:
        for end, (grid, price, mult), overrides in ((r.low, BY_HAND[r.name][0], None), (r.high, BY_HAND[r.name][1], None)):
            value, racks = revenue(grid, price, mult)
            assert end.status == "optimal" and end.objective_unit == "USD/yr", (r.name, end.message)
            assert end.objective_value == pytest.approx(value, rel=1e-6), r.name
            assert end.change == pytest.approx(value - base, rel=1e-6, abs=1e-3), r.name
            assert end.change_pct == pytest.approx(100 * (value - base) / base, rel=1e-6, abs=1e-9), r.name
            assert end.racks == {"g": racks} and end.racks_change == {"g": racks - base_racks}, r.name
    grid = next(r for r in result.ranges if r.name == "grid power")
    assert (grid.low.racks["g"], grid.high.racks["g"]) == (5, 20)  # floor(5.5) and 20: the rack count is whole
    assert grid.low.change == pytest.approx(-1_576_800.0) and grid.high.change == pytest.approx(3_153_600.0)


def test_ranked_by_the_largest_absolute_change(result):
    base, _ = revenue()
    swing = {name: max(abs(revenue(*lo)[0] - base), abs(revenue(*hi)[0] - base)) for name, (lo, hi) in BY_HAND.items()}
    expected = sorted(swing, key=lambda n: -swing[n])
    assert expected == ["grid power", "token price", "site and price", "VR throughput"]  # 3.15M, 1.58M, 946k, 315k
    assert [r.name for r in result.ranges] == expected
    assert [r.rank for r in result.ranges] == [1, 2, 3, 4]
    for r in result.ranges:
        assert r.swing == pytest.approx(swing[r.name], rel=1e-6)
    assert result.ranges[0].label == "grid power 0.55 .. 2"
    assert next(r for r in result.ranges if r.name == "site and price").label == "site and price (low: 2 path(s), high: 1 path(s))"
    assert next(r for r in result.ranges if r.name == "VR throughput").label == "VR throughput x0.9 .. x1.05"


def test_an_infeasible_end_is_reported_and_ranked_last():
    ranges = [{"name": "demand floor", "source": "sales", "low": {"tiers[t].min_tokens_per_s": 0},
               "high": {"tiers[t].min_tokens_per_s": 200_000}},  # 20 racks' worth on a 10-rack site
              RANGES[3]]  # the smaller swing, given second
    res = optimizer.sensitivity(site(), ranges, mip_gap=GAP, jobs=2)
    assert [r.name for r in res.ranges] == ["site and price", "demand floor"]
    last = res.ranges[-1]
    assert last.rank == 2 and last.swing is None
    assert last.high.status == "infeasible" and last.high.objective_value is None and last.high.change is None
    assert last.high.message  # the solver's reason is kept
    assert last.low.status == "optimal" and last.low.change == pytest.approx(0.0, abs=1e-3)  # a floor of 0 is the base


def test_the_base_case_drops_the_uncertainty_block():
    d = site(RANGES[2:3])
    d["uncertainty"] = {"scenarios": [{"name": "cheap", "probability": 0.5, "set": {"tiers[t].price_usd_per_mtok": 1.0}},
                                      {"name": "dear", "probability": 0.5, "set": {"tiers[t].price_usd_per_mtok": 3.0}}]}
    stochastic = optimizer.solve(d)
    assert stochastic.objective.value == pytest.approx(revenue(price=2.0)[0], rel=1e-6)  # the expectation: 6,307,200
    res = optimizer.sensitivity(d, mip_gap=GAP, jobs=1)
    assert res.base.objective_value == pytest.approx(revenue()[0], rel=1e-6)  # the as-written future: 3,153,600
    assert res.ranges[0].high.objective_value == pytest.approx(revenue(price=1.2)[0], rel=1e-6)
    assert "without its uncertainty block" in res.base_case


def test_a_sensitivity_block_changes_no_solve():
    plain, with_block = optimizer.solve(site()), optimizer.solve(site(RANGES))
    assert with_block.objective.value == plain.objective.value
    assert [(r.hardware, r.count) for r in with_block.racks] == [(r.hardware, r.count) for r in plain.racks]
    d = site(RANGES)  # and a stochastic one: its scenarios' instances leave the block out
    d["uncertainty"] = {"scenarios": [{"name": "a", "probability": 0.25, "set": {"tiers[t].price_usd_per_mtok": 2.0}},
                                      {"name": "b", "probability": 0.75, "set": {"facility.grid_power_mw": 0.5}}]}
    e = copy.deepcopy(d)
    del e["sensitivity"]
    assert optimizer.solve(d).objective.value == optimizer.solve(e).objective.value


def test_a_derived_document_is_not_broken_by_an_end():
    """A dict (a sweep's point, a marginal value's re-solve, an API caller's) is checked but for
    its ends' instances: an end that would be invalid changes no solve; the analysis refuses it."""
    bad = [{"name": "grid", "source": "s", "low": {"facility.grid_power_mw": -1.0}, "high": {"facility.grid_power_mw": 2.0}}]
    sol = optimizer.solve(site(bad), marginal_values=True)
    assert sol.objective.value == pytest.approx(revenue()[0], rel=1e-9) and sol.marginal_values
    with pytest.raises(optimizer.InputError) as err:
        optimizer.sensitivity(site(bad))
    assert [str(i) for i in err.value.issues] == [
        "sensitivity[0] (grid).low[facility.grid_power_mw]: the low end's instance breaks a rule: facility.grid_power_mw: "
        "Input should be greater than or equal to 0 (got -1.0)"]
    with pytest.raises(optimizer.InputError) as err:  # a path that cannot be set is refused on any load
        optimizer.load_instance(site([{**bad[0], "low": {"hardware[nope].capex_usd": 1.0}}]))
    assert "sensitivity[0] (grid).low[hardware[nope].capex_usd]" in str(err.value)


def test_a_horizon_reports_the_peak_fleet():
    d = site([{"name": "2027 grid", "source": "utility", "low": {"facility.grid_power_mw.2027": 0.8},
               "high": {"facility.grid_power_mw.2027": 1.2}}])
    d["horizon"] = {"start_year": 2026, "period_years": [1, 1]}
    d["facility"]["grid_power_mw"] = {2026: 0.5, 2027: 1.0}
    res = optimizer.sensitivity(d, mip_gap=GAP, jobs=2)
    per = RATE * YEAR_MTOK  # one rack for one year, undiscounted (discount rate 0)
    assert res.objective_unit == "USD (discounted)" and "alive in any one period" in res.racks_definition
    assert res.base.objective_value == pytest.approx((5 + 10) * per, rel=1e-6)
    assert res.base.racks == {"g": 10} and res.base.racks_by_year == {"g": {2026: 5, 2027: 10}}
    low, high = res.ranges[0].low, res.ranges[0].high
    assert low.objective_value == pytest.approx((5 + 8) * per, rel=1e-6) and low.racks == {"g": 8} and low.racks_change == {"g": -2}
    assert high.objective_value == pytest.approx((5 + 12) * per, rel=1e-6) and high.racks_by_year == {"g": {2026: 5, 2027: 12}}


def test_outputs_tornado_png_svg_markdown_json(result, tmp_path):
    from optimizer.outputs.sensitivity import plot_tornado, to_html, to_markdown

    png, svg = plot_tornado(result, tmp_path / "t.png"), plot_tornado(result, tmp_path / "t.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    text = svg.read_text(encoding="utf-8")
    ET.fromstring(text)  # well-formed XML
    for r in RANGES:
        assert r["name"] in text
    assert "revenue (M USD/yr)" in text  # the axis's unit
    md = to_markdown(result)
    assert "| 1 | grid power 0.55 .. 2 | utility letter | 1,576,800 | -1,576,800 | -50.00% | 6,307,200 | +3,153,600 | +100.00% |" in md
    assert "low: revenue (USD/yr)" in md and "swing (USD/yr)" in md and "5 g (-5)" in md
    assert "within the MIP gap" not in md  # at gap 1e-7 the threshold is 2 x 1e-7 x 3,153,600 = 0.63 USD/yr
    loose = to_markdown(result.model_copy(update={"mip_gap": 0.1}))  # 630,720 USD/yr: only the throughput's 315,360 is within
    assert "| 315,360 (within the MIP gap) |" in loose and loose.count("(within the MIP gap) |") == 1
    page = to_html(result)
    assert "<svg" in page and "grid power" in page
    again = type(result).model_validate_json(result.model_dump_json())
    assert again == result


def _write(tmp_path: Path, doc: dict, name="inst.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_cli_writes_the_tables_and_the_picture(tmp_path):
    inst = _write(tmp_path, site(RANGES[1:3]))
    res = runner.invoke(app, ["sensitivity", str(inst), "--mip-gap", "1e-7", "--jobs", "2", "-o", str(tmp_path / "s.json"),
                              "--plot", str(tmp_path / "t.svg")])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "s.json").read_text())
    assert [r["name"] for r in out["ranges"]] == ["grid power", "token price"]
    assert out["base"]["objective_value"] == pytest.approx(revenue()[0], rel=1e-6)
    assert "grid power" in (tmp_path / "t.svg").read_text()
    assert "swing (USD/yr)" in res.stdout and "3,153,600" in res.stdout
    assert "2/5" not in res.stdout and "5/5" in res.stderr  # the progress goes to stderr
    ranges = _write(tmp_path, {"sensitivity": RANGES[2:3]}, "ranges.yaml")  # --ranges replaces the instance's block
    res = runner.invoke(app, ["sensitivity", str(inst), "--ranges", str(ranges), "--json", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert [r["name"] for r in json.loads(res.stdout)["ranges"]] == ["token price"]


@pytest.mark.parametrize("ranges, path, rule", [
    ([{"name": "g", "source": "s", "low": {"hardware[nope].capex_usd": 1.0}, "high": {"facility.grid_power_mw": 2.0}}],
     "sensitivity[0] (g).low[hardware[nope].capex_usd]", "no element named 'nope' in hardware"),
    ([{"name": "g", "source": "  ", "low": {"facility.grid_power_mw": 0.5}, "high": {"facility.grid_power_mw": 2.0}}],
     "sensitivity[0] (g).source", "may not be blank"),
    ([RANGES[1], {**RANGES[2], "name": "grid power"}], "sensitivity[1] (grid power).name", "name 'grid power' is not unique"),
    ([{"name": "g", "source": "s", "low": {"facility.grid_power_mw": -1.0}, "high": {"facility.grid_power_mw": 2.0}}],
     "sensitivity[0] (g).low[facility.grid_power_mw]",
     "the low end's instance breaks a rule: facility.grid_power_mw: Input should be greater than or equal to 0"),
    ([{"name": "g", "source": "s", "low": {}, "high": {"facility.grid_power_mw": 2.0}}], "sensitivity[0] (g).low",
     "an end needs at least one path -> value"),
    ([{"name": "g", "source": "s", "low": {"uncertainty.risk.weight": 0.5}, "high": {"facility.grid_power_mw": 2.0}}],
     "sensitivity[0] (g).low[uncertainty.risk.weight]", "may not change 'uncertainty'"),
])
def test_cli_bad_ranges_exit_2_naming_file_path_and_rule(tmp_path, ranges, path, rule):
    inst = _write(tmp_path, site(ranges))
    for args in (["sensitivity", str(inst)], ["validate", str(inst)]):  # the block is checked whenever the file is loaded
        res = runner.invoke(app, args)
        assert res.exit_code == 2, res.output
        assert f"{inst}: {path}: " in res.stderr and rule in res.stderr, res.stderr
        assert "Traceback" not in res.output
    plain, bad = _write(tmp_path, site(), "plain.yaml"), _write(tmp_path, {"sensitivity": ranges}, "ranges.yaml")
    res = runner.invoke(app, ["sensitivity", str(plain), "--ranges", str(bad)])  # the same rules in a ranges file, named
    assert res.exit_code == 2 and f"{bad}: {path}: " in res.stderr and rule in res.stderr, res.stderr


def test_cli_missing_file_and_no_ranges_exit_2(tmp_path):
    res = runner.invoke(app, ["sensitivity", str(tmp_path / "absent.yaml")])
    assert res.exit_code == 2 and f"{tmp_path / 'absent.yaml'}: <document>: file not found" in res.stderr
    inst = _write(tmp_path, site())
    res = runner.invoke(app, ["sensitivity", str(inst)])
    assert res.exit_code == 2 and f"{inst}: sensitivity: no ranges" in res.stderr, res.stderr
    res = runner.invoke(app, ["sensitivity", str(inst), "--ranges", str(tmp_path / "none.yaml")])
    assert res.exit_code == 2 and "none.yaml: <document>: file not found" in res.stderr
    res = runner.invoke(app, ["sensitivity", str(inst), "-o", str(tmp_path / "s.txt")])
    assert res.exit_code == 2 and "must end in .md or .html or .json" in res.stderr
    res = runner.invoke(app, ["sensitivity", str(inst), "--time-limit", "0"])
    assert res.exit_code == 2 and "--time-limit must be above 0" in res.stderr
    assert "Traceback" not in res.output


def test_a_base_case_without_a_plan_exits_1_and_measures_no_change(tmp_path):
    d = site([{"name": "grid power", "source": "utility letter", "low": {"facility.grid_power_mw": 1.0},
               "high": {"facility.grid_power_mw": 2.0}}])
    d["tiers"][0]["min_tokens_per_s"] = 150_000  # 15 racks' worth: 1 MW (10 racks) cannot, 2 MW (20) can
    res = runner.invoke(app, ["sensitivity", str(_write(tmp_path, d)), "--json", "--jobs", "1"])
    assert res.exit_code == 1, res.output
    out = json.loads(res.stdout)
    assert out["base"]["status"] == "infeasible" and out["base"]["objective_value"] is None
    r = out["ranges"][0]
    assert r["low"]["status"] == "infeasible" and r["high"]["status"] == "optimal"
    assert r["high"]["objective_value"] == pytest.approx(revenue(grid_mw=2.0)[0], rel=1e-4)
    assert r["high"]["change"] is None and r["swing"] is None and r["rank"] == 1


def test_the_schema_describes_the_block():
    props = optimizer.json_schema()["$defs"]["SensitivityRange"]["properties"]
    assert set(props) == {"name", "source", "low", "high"}
    assert props["low"]["minProperties"] == 1


def test_a_shipped_instance_with_ranges_runs(tmp_path):
    """A smoke test, no figures (the shipped instances are recalibrated as they go): the first
    range of the first shipped instance with a sensitivity block, 3 solves."""
    shipped = [p for p in sorted((ROOT / "instances").glob("*.yaml")) if "sensitivity" in (yaml.safe_load(p.read_text()) or {})]
    if not shipped:
        pytest.skip("no shipped instance has a sensitivity block")
    first = read_document(shipped[0])["sensitivity"][:1]  # the package's reader: YAML 1.2 numbers (3e+06)
    ranges = tmp_path / "first.json"
    ranges.write_text(json.dumps({"sensitivity": first}))
    res = runner.invoke(app, ["sensitivity", str(shipped[0]), "--ranges", str(ranges), "--json", "--jobs", "2", "--time-limit", "60"])
    assert res.exit_code in (0, 1), res.output
    out = json.loads(res.stdout)
    assert [r["name"] for r in out["ranges"]] == [first[0]["name"]]
