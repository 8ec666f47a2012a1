"""Sweeps over slices of the year (MODEL.md section 12): paths that set one slice of a value by
slice, and rows that carry each slice's power, grid, tokens and utilisation, checked against a
plan worked out by hand from the instance."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import optimizer
from optimizer.analysis.scenarios import SweepSpec, apply, load_sweep, points
from optimizer.analysis.sweeps import run_sweep, solve_point
from optimizer.interfaces.cli import app

runner = CliRunner()

# One hardware, one tier, two slices. A rack draws P_KW busy and BETA * P_KW idle and makes
# PERF tokens/s; the tier may sell up to CAP[slice] tokens/s.
P_KW, PERF, PRICE = 100.0, 1.0e6, 10.0
HOURS = {"peak": 3000.0, "night": 5760.0}
TINY = {
    "name": "tiny-sliced",
    "objective": "revenue",
    "slices": [{"name": s, "hours": h} for s, h in HOURS.items()],
    "facility": {
        "grid_power_mw": 1.0,
        "liquid_cooling_mw": 10.0,
        "air_cooling_mw": 0.0,
        "electricity_usd_per_mwh": {"peak": 90.0, "night": 30.0},  # > 0: the tie-break keeps idle racks idle
        "halls": [{"name": "hall", "rack_slots": 100, "max_rack_kw": 250, "liquid_cooling": True}],
    },
    "models": [{"name": "llm"}],
    "workloads": [{"name": "chat", "model": "llm", "input_tokens_per_output_token": 0.0}],
    "tiers": [{"name": "chat", "workload": "chat", "min_interactivity": 10, "price_usd_per_mtok": PRICE,
               "max_tokens_per_s": {"peak": 5.0e6, "night": 2.0e6}}],
    "hardware": [{"name": "rack", "kind": "gpu", "rack_power_kw": P_KW, "liquid_cooled_fraction": 1.0, "capex_usd": 1.0e5,
                  "idle_power_fraction": 0.5, "performance": {"chat": {"aggregated": [[10, PERF]]}}}],
}


def by_hand(doc: dict) -> dict:
    """The revenue-optimal plan of a TINY-shaped document, by enumeration: for each whole number
    of racks n, each slice serves B_s = min(n, cap_s / PERF, what its grid leaves) busy racks,
    where P_KW * (beta * n + (1 - beta) * B_s) / 1000 <= G_s; the most revenue wins, the fewest
    racks among equals (the tie-break's least cost)."""
    fac, tier, hw = doc["facility"], doc["tiers"][0], doc["hardware"][0]
    beta = hw["idle_power_fraction"]
    grid = {s: fac["grid_power_mw"][s] if isinstance(fac["grid_power_mw"], dict) else fac["grid_power_mw"] for s in HOURS}
    cap = {s: tier["max_tokens_per_s"][s] if isinstance(tier["max_tokens_per_s"], dict) else tier["max_tokens_per_s"] for s in HOURS}
    best = None
    for n in range(101):
        if any(beta * n * P_KW / 1000 > grid[s] + 1e-12 for s in HOURS):
            break
        busy = {}
        for s in HOURS:
            room = math.inf if beta == 1 else (grid[s] * 1000 / P_KW - beta * n) / (1 - beta)
            busy[s] = max(0.0, min(n, cap[s] / PERF, room))
        revenue = sum(HOURS[s] * 3600 * busy[s] * PERF * PRICE / 1e6 for s in HOURS)
        if best is None or revenue > best[0] * (1 + 1e-9) + 1e-6:
            best = (revenue, n, busy)
    revenue, n, busy = best
    power = {s: P_KW * (beta * n + (1 - beta) * busy[s]) / 1000 for s in HOURS}
    energy = {s: fac["electricity_usd_per_mwh"][s] * HOURS[s] * power[s] for s in HOURS}
    return {"racks": n, "busy": busy, "power": power, "grid": grid, "revenue": revenue, "energy": energy,
            "tokens": {s: busy[s] * PERF for s in HOURS}}


def write(tmp_path, doc: dict, spec: dict) -> Path:
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"base": "base.yaml", **spec}, sort_keys=False))
    return path


# --------------------------------------------------------------------------- paths


def test_one_slice_of_a_number_keeps_the_number_in_the_other_slices():
    doc = apply(TINY, [("facility.grid_power_mw.peak", 0.4), ("tiers[chat].max_tokens_per_s.night", 3.0e6)])
    assert doc["facility"]["grid_power_mw"] == {"peak": 0.4, "night": 1.0}
    assert doc["tiers"][0]["max_tokens_per_s"] == {"peak": 5.0e6, "night": 3.0e6}
    assert TINY["facility"]["grid_power_mw"] == 1.0  # the base is not touched
    whole = apply(TINY, [("facility.grid_power_mw", {"peak": 0.2, "night": 0.9})])
    assert whole["facility"]["grid_power_mw"] == {"peak": 0.2, "night": 0.9}
    by_position = apply(TINY, [("tiers[0].price_usd_per_mtok[night]", 2.0)])
    assert by_position["tiers"][0]["price_usd_per_mtok"] == {"peak": PRICE, "night": 2.0}
    optimizer.solve(doc)  # what the paths make is an instance


def test_a_field_not_given_starts_from_its_default():
    doc = apply(TINY, [("facility.air_cooling_overhead.peak", 0.3),
                       ("tiers[chat].min_tokens_per_s.peak", 1.0e5),
                       ("tiers[chat].cached_input_price_usd_per_mtok.night", 0.1)])
    assert doc["facility"]["air_cooling_overhead"] == {"peak": 0.3, "night": 0.0}
    assert doc["tiers"][0]["min_tokens_per_s"] == {"peak": 1.0e5, "night": 0.0}
    # the cached-input price defaults to the input price (0 here), slice by slice
    assert doc["tiers"][0]["cached_input_price_usd_per_mtok"] == {"peak": 0.0, "night": 0.1}
    priced = copy.deepcopy(TINY)
    priced["tiers"][0]["input_price_usd_per_mtok"] = {"peak": 2.0, "night": 1.0}
    doc = apply(priced, [("tiers[chat].cached_input_price_usd_per_mtok.peak", 0.5)])
    assert doc["tiers"][0]["cached_input_price_usd_per_mtok"] == {"peak": 0.5, "night": 1.0}
    uncapped = copy.deepcopy(TINY)
    del uncapped["tiers"][0]["max_tokens_per_s"]  # no cap: the other slice stays uncapped
    assert apply(uncapped, [("tiers[chat].max_tokens_per_s.peak", 1.0e6)])["tiers"][0]["max_tokens_per_s"] == {"peak": 1.0e6, "night": None}
    dumped = optimizer.load_instance(copy.deepcopy(uncapped)).model_dump(mode="json")  # the service's base: nulls spelled out
    assert apply(dumped, [("tiers[chat].max_tokens_per_s.peak", 1.0e6)])["tiers"][0]["max_tokens_per_s"] == {"peak": 1.0e6, "night": None}
    optimizer.load_instance(apply(dumped, [("tiers[chat].max_tokens_per_s.peak", 1.0e6)]))


def horizon_doc() -> dict:
    doc = copy.deepcopy(TINY)
    doc["horizon"] = {"start_year": 2026, "period_years": [1, 2]}
    doc["hardware"][0]["lifetime_years"] = 5
    doc["facility"]["grid_power_mw"] = {2026: 0.5, 2027: {"peak": 0.8, "night": 1.0}}
    return doc


def test_values_by_year_and_slice():
    doc = horizon_doc()
    assert apply(doc, [("facility.grid_power_mw.2027", 0.7)])["facility"]["grid_power_mw"] == {2026: 0.5, 2027: 0.7}
    assert apply(doc, [("facility.grid_power_mw.2027.night", 0.9)])["facility"]["grid_power_mw"] == \
        {2026: 0.5, 2027: {"peak": 0.8, "night": 0.9}}
    assert apply(doc, [("facility.grid_power_mw.2026.peak", 0.3)])["facility"]["grid_power_mw"] == \
        {2026: {"peak": 0.3, "night": 0.5}, 2027: {"peak": 0.8, "night": 1.0}}
    # a slice without a year: that slice in every year the map lists
    assert apply(doc, [("facility.grid_power_mw.peak", 0.2)])["facility"]["grid_power_mw"] == \
        {2026: {"peak": 0.2, "night": 0.5}, 2027: {"peak": 0.2, "night": 1.0}}
    # a year the map does not list starts from the value in force then
    assert apply(doc, [("facility.grid_power_mw.2028.peak", 0.6)])["facility"]["grid_power_mw"] == \
        {2026: 0.5, 2027: {"peak": 0.8, "night": 1.0}, 2028: {"peak": 0.6, "night": 1.0}}
    # JSON spells years as text: the same year is found, never a second key beside it
    text = json.loads(json.dumps(doc))
    assert apply(text, [("facility.grid_power_mw.2027.peak", 0.1)])["facility"]["grid_power_mw"] == \
        {"2026": 0.5, "2027": {"peak": 0.1, "night": 1.0}}
    assert apply(text, [("facility.grid_power_mw.2026", 0.4)])["facility"]["grid_power_mw"] == {"2026": 0.4, "2027": {"peak": 0.8, "night": 1.0}}
    for path in ("facility.grid_power_mw.2027.peak", "facility.grid_power_mw.peak", "facility.grid_power_mw.2028.peak"):
        optimizer.load_instance(apply(doc, [(path, 0.6)]))


@pytest.mark.parametrize("doc,path,words", [
    (TINY, "facility.grid_power_mw.noon", "'noon' is not a slice of 'slices' (peak, night)"),
    (TINY, "tiers[chat].max_tokens_per_s.dawn", "'dawn' is not a slice of 'slices' (peak, night)"),
    ({k: v for k, v in TINY.items() if k != "slices"} | {"facility": {**TINY["facility"], "electricity_usd_per_mwh": 50.0}},
     "facility.grid_power_mw.peak", "the instance has no 'slices'"),
    (TINY, "facility.grid_power_mw.2027", "is not a value by year"),
    (TINY, "facility.grid_power_mw.peak.x", "is addressed as grid_power_mw.SLICE"),
    (TINY, "facility.grid_power_mw.2027.peak.x", "not with 3 steps after it"),
    (horizon_doc(), "facility.grid_power_mw.2025.peak", "no value in 2025 or before"),
    ({**TINY, "facility": {k: v for k, v in TINY["facility"].items() if k != "grid_power_mw"}},
     "facility.grid_power_mw.peak", "grid_power_mw is not given"),
])
def test_bad_slice_paths_name_the_path_and_the_rule(doc, path, words):
    with pytest.raises(KeyError) as err:
        apply(doc, [(path, 1.0)])
    assert str(err.value).strip("'\"").startswith(path + ":") and words in str(err.value)


def test_bad_slice_paths_exit_2_from_the_cli(tmp_path):
    spec = write(tmp_path, TINY, {"parameters": [{"path": "facility.grid_power_mw.noon", "values": [1]}],
                                  "scenarios": [{"name": "x", "set": {"tiers[chat].price_usd_per_mtok.dusk": 1}}]})
    res = runner.invoke(app, ["sweep", str(spec), "-o", str(tmp_path / "o.csv")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "parameters[0].path" in res.output and "'noon' is not a slice of 'slices' (peak, night)" in res.output
    assert "scenarios[0] (x).set.tiers[chat].price_usd_per_mtok.dusk" in res.output
    assert not (tmp_path / "o.csv").exists()


# --------------------------------------------------------------------------- rows


def test_sweep_rows_carry_each_slices_figures(tmp_path):
    spec_path = write(tmp_path, TINY, {
        "mip_gap": 1.0e-9,
        "parameters": [{"path": "facility.grid_power_mw.peak", "values": [0.0, 0.05, 0.3, 0.45, 1.0]}],
        "scenarios": [{"name": "base"},
                      {"name": "more-night", "set": {"tiers[chat].max_tokens_per_s.night": 4.0e6}},
                      {"name": "no-idle-saving", "set": {"hardware[rack].idle_power_fraction": 1.0}}]})
    spec, base, _ = load_sweep(spec_path)
    df = run_sweep(spec, base, tmp_path / "out.parquet", jobs=2)
    assert len(df) == 15 and set(df["status"]) == {"optimal"}
    assert df.equals(pd.read_parquet(tmp_path / "out.parquet"))
    for p in points(spec):
        row = df[df["point"] == p.index].iloc[0]
        want = by_hand(apply(base, p.overrides(spec)))
        assert row["racks[rack]"] == want["racks"], p
        for s in HOURS:
            head = f"slice[{s}]"
            assert row[f"{head}.grid_power_mw"] == pytest.approx(want["grid"][s])
            assert row[f"{head}.facility_power_mw"] == pytest.approx(want["power"][s], abs=1e-9)
            assert row[f"{head}.it_power_mw"] == pytest.approx(want["power"][s], abs=1e-9)  # no cooling, losses or fabric
            assert row[f"{head}.tokens_per_s"] == pytest.approx(want["tokens"][s], abs=1e-3)
            assert row[f"{head}.tokens_per_s[chat]"] == pytest.approx(want["tokens"][s], abs=1e-3)
            assert row[f"{head}.busy_racks[rack]"] == pytest.approx(want["busy"][s], abs=1e-9)
            util = want["busy"][s] / want["racks"] if want["racks"] else 0.0
            assert row[f"{head}.utilisation[rack]"] == pytest.approx(util, abs=1e-9)
            assert row[f"{head}.energy_usd_per_year"] == pytest.approx(want["energy"][s], rel=1e-9, abs=1e-6)
            assert row[f"{head}.facility_power_mw"] <= row[f"{head}.grid_power_mw"] + 1e-9
        assert row["revenue_usd_per_year"] == pytest.approx(want["revenue"], rel=1e-9, abs=1e-6)
        assert sum(row[f"slice[{s}].revenue_usd_per_year"] for s in HOURS) == pytest.approx(want["revenue"], rel=1e-9, abs=1e-6)
    # the figures a planner reads: oversubscription at the peak's 0.3 MW, every rack busy there
    row = df[(df["scenario"] == "base") & (df["facility.grid_power_mw.peak"] == 0.3)].iloc[0]
    assert (row["racks[rack]"], row["slice[peak].utilisation[rack]"], row["slice[night].utilisation[rack]"]) == (3, pytest.approx(1.0), pytest.approx(2 / 3))


def test_whole_maps_as_values_and_invalid_points(tmp_path):
    shiftable = copy.deepcopy(TINY)
    shiftable["tiers"].append({"name": "batch", "workload": "chat", "min_interactivity": 10, "price_usd_per_mtok": 1.0,
                               "shiftable": True, "max_tokens_per_s": 1.0e6})
    spec_path = write(tmp_path, shiftable, {"mip_gap": 1.0e-9, "parameters": [
        {"path": "facility.grid_power_mw", "values": [1.0, {"peak": 0.3, "night": 1.0}, {"peak": 0.3}]}],
        "scenarios": [{"name": "base"}, {"name": "sliced-batch", "set": {"tiers[batch].max_tokens_per_s.night": 2.0e6}}]})
    spec, base, _ = load_sweep(spec_path)
    for out in ("out.csv", "out.parquet"):
        df = run_sweep(spec, base, tmp_path / out, jobs=1)
        assert list(df["facility.grid_power_mw"][:3]) == ["1.0", '{"peak": 0.3, "night": 1.0}', '{"peak": 0.3}']  # one type: JSON text
        ok = df[df["status"] == "optimal"]
        assert list(ok["point"]) == [0, 1]
        assert list(ok["slice[peak].grid_power_mw"]) == [1.0, 0.3] and list(ok["slice[night].grid_power_mw"]) == [1.0, 1.0]
        bad = df.set_index("point")["message"]
        assert df.set_index("point").loc[2, "status"] == "invalid" and "facility.grid_power_mw" in bad[2] and "night missing" in bad[2]
        assert set(df.set_index("point").loc[3:, "status"]) == {"invalid"} and "shiftable" in bad[3]


def test_unsliced_rows_keep_todays_columns():
    unsliced = {k: v for k, v in TINY.items() if k != "slices"}
    unsliced["facility"] = {**TINY["facility"], "electricity_usd_per_mwh": 50.0}
    unsliced["tiers"] = [{**TINY["tiers"][0], "max_tokens_per_s": 5.0e6}]
    horizon = {**copy.deepcopy(unsliced), "horizon": {"start_year": 2026, "period_years": [1, 2]}}
    spec = SweepSpec.model_validate({"base": "x"})
    for doc in (unsliced, horizon):
        row = solve_point(doc, spec, points(spec)[0])
        assert row["status"] == "optimal" and not [c for c in row if c.startswith("slice")]


def test_horizon_rows_carry_each_periods_slices():
    doc = horizon_doc()
    spec = SweepSpec.model_validate({"base": "x", "mip_gap": 1.0e-9,
                                     "parameters": [{"path": "facility.grid_power_mw.2027.peak", "values": [0.4]}]})
    (point,) = points(spec)
    row = solve_point(doc, spec, point)
    sol = optimizer.solve(apply(doc, point.overrides(spec)), mip_gap=1.0e-9)
    assert row["status"] == sol.status == "optimal"
    assert (row["slice[peak].grid_power_mw[2026]"], row["slice[peak].grid_power_mw[2027]"], row["slice[night].grid_power_mw[2027]"]) == (0.5, 0.4, 1.0)
    for period in sol.periods:
        for s in period.slices:
            assert row[f"slice[{s.name}].facility_power_mw[{period.year}]"] == pytest.approx(s.power.total_mw)
            assert row[f"slice[{s.name}].tokens_per_s[{period.year}]"] == pytest.approx(s.tokens_per_s)
            assert row[f"slice[{s.name}].utilisation[rack][{period.year}]"] == pytest.approx(s.utilisation[0].utilisation if s.utilisation else 0.0)
            assert s.power.total_mw <= s.power.grid_mw + 1e-9
