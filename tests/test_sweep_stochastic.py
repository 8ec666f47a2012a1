"""Sweeps of a stochastic base instance (MODEL.md section 13): each row is one purchase plan for
every future, with its expectation, CVaR, worst case and each scenario's figures; a parameter
on the base reaches every future; the futures themselves (probabilities, risk weight) are
swept by path; the regret figures only when the sweep asks. Every figure is checked against
the per-scenario columns or against solves made here, not against the sweep's own arithmetic."""

from __future__ import annotations

import copy
from itertools import pairwise

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import optimizer
from helpers import tail_mean
from optimizer.analysis.scenarios import SweepSpec, fingerprint, load_sweep, points
from optimizer.analysis.sweeps import run_sweep, solve_point
from optimizer.interfaces.cli import app
from optimizer.model.paths import set_path
from optimizer.model.schema import read_document
from test_sweep import GTC, ROOT
from test_sweep_slices import TINY

runner = CliRunner()
ROADMAP = ROOT / "instances" / "roadmap-2026-2030.yaml"

ALPHA = 0.8  # the worst 20%: at the base's default probability 0.8, the bust alone
# the 1 GW instance and a bust: premium and ultra demand collapse and the LPX runs at half speed.
# Planning for the mean buys LPX racks that the bust leaves idle; planning for the tail does not
SLOW = {"tiers[premium].max_tokens_per_s": 1.0e7, "tiers[ultra].max_tokens_per_s": 5.0e6,
        "hardware[lpx].performance_multiplier": 0.5}


def stochastic_base(p_base: float = 0.8) -> dict:
    doc = read_document(GTC)
    doc["uncertainty"] = {"scenarios": [{"name": "base", "probability": p_base},
                                        {"name": "slow", "probability": round(1 - p_base, 12), "set": dict(SLOW)}],
                          "risk": {"alpha": ALPHA, "weight": 0.0}}
    return doc


def futures(row) -> list[str]:
    return sorted({c.split("]", 1)[0][len("scenario["):] for c in row.index if c.startswith("scenario[")})


def own_optimum(base: dict, name: str, **kw) -> float:
    """A scenario solved alone as a deterministic instance: the base with its overrides, no uncertainty."""
    doc = copy.deepcopy(base)
    scenario = next(s for s in doc.pop("uncertainty")["scenarios"] if s["name"] == name)
    for path, value in scenario.get("set", {}).items():
        set_path(doc, path, value)
    sol = optimizer.solve(doc, threads=1, **kw)
    assert sol.status == "optimal"
    return sol.objective.value


def test_a_row_is_one_plan_for_every_future_and_its_figures_add_up(tmp_path):
    base = stochastic_base()
    spec = SweepSpec(base="x", parameters=[{"path": "facility.grid_power_mw", "values": [600, 1000]}])
    df = run_sweep(spec, base, tmp_path / "out.parquet", jobs=2)
    back = pd.read_parquet(tmp_path / "out.parquet")  # the file holds what the sweep returned
    assert list(back.columns) == list(df.columns) and len(back) == 2
    assert not {"evpi", "vss", "wait_and_see"} & set(df.columns)  # regret is off unless asked
    for grid, (_, row) in zip([600, 1000], df.sort_values("point").iterrows(), strict=True):
        assert row["status"] == "optimal" and futures(row) == ["base", "slow"]
        probs = {w: row[f"scenario[{w}].probability"] for w in ("base", "slow")}
        assert probs == {"base": 0.8, "slow": pytest.approx(0.2)}
        value = {w: row[f"scenario[{w}].objective_value"] for w in probs}
        for w in probs:  # the objective is revenue: each future's value is its revenue
            assert value[w] == pytest.approx(row[f"scenario[{w}].revenue_usd_per_year"], rel=1e-12)
            # the swept grid reaches every future: none draws more than it
            assert row[f"scenario[{w}].facility_power_mw"] <= grid * (1 + 1e-9)
        weighted = sum(probs[w] * value[w] for w in probs)
        assert row["expected"] == pytest.approx(weighted, rel=1e-12)
        assert row["objective_value"] == pytest.approx(weighted, rel=1e-12)  # weight 0: E[Z] is the objective
        for m in ("revenue_usd_per_year", "tokens_per_s", "facility_power_mw", "cost_usd_per_year"):
            assert row[m] == pytest.approx(sum(probs[w] * row[f"scenario[{w}].{m}"] for w in probs), rel=1e-9)
        assert row["worst_scenario"] == min(value, key=value.get) == "slow"
        assert row["worst"] == value["slow"]
        assert row["cvar"] == pytest.approx(tail_mean(list(value.values()), list(probs.values()), ALPHA, maximise=True), rel=1e-12)
        assert row["cvar_alpha"] == ALPHA and row["risk_weight"] == 0.0
        # the row is the library's solve of that instance
        doc = copy.deepcopy(base)
        doc["facility"]["grid_power_mw"] = grid
        sol = optimizer.solve(doc, threads=1, regret=False)
        assert row["objective_value"] == pytest.approx(sol.objective.value, rel=1e-9)
        assert {w: row[f"scenario[{w}].objective_value"] for w in probs} == pytest.approx(
            {o.name: o.value for o in sol.uncertainty.scenarios}, rel=1e-9)
        for h in base["hardware"]:
            assert row[f"racks[{h['name']}]"] == sum(r.count for r in sol.racks if r.hardware == h["name"])
    small, big = df.sort_values("point")["expected"]
    assert small < big  # 600 MW earns less than 1 GW in expectation


def test_the_risk_weight_trades_expectation_for_the_tail():
    """Maximising (1 - w) E + w CVaR: as w grows, CVaR cannot fall and E cannot rise (a property
    of the optima of a weighted sum, exact up to the solver's tolerances); and on this instance
    the tail is worth buying: the two ends differ."""
    spec = SweepSpec(base="x", mip_gap=1e-9, parameters=[{"path": "uncertainty.risk.weight", "values": [0, 0.25, 0.5, 0.75, 1]}])
    df = optimizer.sweep(spec, base=stochastic_base(), jobs=2).sort_values("point")
    assert set(df["status"]) == {"optimal"}
    assert list(df["risk_weight"]) == [0, 0.25, 0.5, 0.75, 1]
    slack = 1e-6 * df["expected"].abs().max()  # the tie-break holds the primary within 1e-6 (section 7)
    expected, tail = list(df["expected"]), list(df["cvar"])
    assert all(b <= a + slack for a, b in pairwise(expected)), expected
    assert all(b >= a - slack for a, b in pairwise(tail)), tail
    assert expected[-1] < expected[0] - 100 * slack and tail[-1] > tail[0] + 100 * slack
    for w, e, c, obj in zip(df["risk_weight"], expected, tail, df["objective_value"]):
        assert obj == pytest.approx((1 - w) * e + w * c, rel=1e-12)
        assert c <= e + slack  # the mean of the worst 20% is no more than the mean
    # the tail-averse plan buys fewer of the racks the bust idles
    assert df["racks[lpx]"].iloc[-1] < df["racks[lpx]"].iloc[0]


def test_probabilities_are_swept_by_path_and_a_broken_sum_is_an_invalid_row():
    base = stochastic_base(0.5)
    grid = SweepSpec(base="x", parameters=[{"path": "uncertainty.scenarios[slow].probability", "values": [0.3, 0.5, 0]}])
    df = optimizer.sweep(grid, base=base, jobs=1).sort_values("point")
    assert list(df["status"]) == ["invalid", "optimal", "invalid"]
    broken, _, zero = df["message"]
    assert "uncertainty.scenarios" in broken and "must sum to 1" in broken and "sum to 0.8" in broken
    assert "uncertainty.scenarios[1] (slow).probability" in zero and "greater than 0" in zero
    # swept together (zip), the probabilities stay a distribution and every row solves
    zipped = SweepSpec(base="x", mode="zip", parameters=[
        {"path": "uncertainty.scenarios[base].probability", "values": [0.9, 0.5, 0.1]},
        {"path": "uncertainty.scenarios[slow].probability", "values": [0.1, 0.5, 0.9]}])
    df = optimizer.sweep(zipped, base=base, jobs=2).sort_values("point")
    assert set(df["status"]) == {"optimal"}
    assert list(df["scenario[slow].probability"]) == [0.1, 0.5, 0.9]
    for _, row in df.iterrows():
        weighted = sum(row[f"scenario[{w}].probability"] * row[f"scenario[{w}].objective_value"] for w in ("base", "slow"))
        assert row["expected"] == pytest.approx(weighted, rel=1e-12)
    assert df["expected"].is_monotonic_decreasing  # the likelier the bust, the less a plan expects


def test_a_rule_only_the_solve_checks_is_an_invalid_row_too():
    base = stochastic_base()
    base["uncertainty"]["risk"]["weight"] = 0.5
    spec = SweepSpec(base="x", objective="tokens_per_watt")  # CVaR of a ratio of expectations: undefined
    (row,) = [solve_point(base, spec, p) for p in points(spec)]
    assert row["status"] == "invalid" and "uncertainty.risk" in row["message"] and "tokens_per_watt" in row["message"]


def test_a_scenario_that_sets_the_swept_path_keeps_its_own_value():
    """Scenarios are overrides of the base: a swept base value reaches every future except one
    that overrides that very path (on a one-rack-type instance whose grid is the limit)."""
    base = copy.deepcopy(TINY)
    base["uncertainty"] = {"scenarios": [{"name": "own", "probability": 0.5},
                                         {"name": "fixed", "probability": 0.5, "set": {"facility.grid_power_mw": 0.6}}]}
    spec = SweepSpec(base="x", mip_gap=1e-9, parameters=[{"path": "facility.grid_power_mw", "values": [0.3, 2.0]}])
    df = optimizer.sweep(spec, base=base, jobs=1).sort_values("point")
    assert set(df["status"]) == {"optimal"}
    assert list(df["scenario[own].slice[peak].grid_power_mw"]) == [0.3, 2.0]
    assert list(df["scenario[fixed].slice[peak].grid_power_mw"]) == [0.6, 0.6]
    for _, row in df.iterrows():
        for w in ("own", "fixed"):
            for s in ("peak", "night"):
                assert row[f"scenario[{w}].slice[{s}].facility_power_mw"] <= row[f"scenario[{w}].slice[{s}].grid_power_mw"] + 1e-9


def test_regret_columns_when_the_sweep_asks(tmp_path):
    """`regret: true` in a sweep file run by `optimizer sweep`: wait-and-see is the mean of each
    scenario's own optimum (solved here, one by one), EVPI = wait-and-see - E, and neither EVPI
    nor VSS is negative (the stochastic plan is the best single plan in expectation)."""
    base = stochastic_base()
    (tmp_path / "stochastic.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(yaml.safe_dump({"base": "stochastic.yaml", "regret": True, "mip_gap": 1e-9,
                                          "parameters": [{"path": "facility.grid_power_mw", "values": [1000]}]}))
    res = runner.invoke(app, ["sweep", str(sweep_file), "-o", str(tmp_path / "out.csv"), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    (row,) = [r for _, r in pd.read_csv(tmp_path / "out.csv").iterrows()]
    assert row["status"] == "optimal"
    mine = {w: own_optimum(base, w, mip_gap=1e-9) for w in ("base", "slow")}
    probs = {"base": 0.8, "slow": 0.2}
    assert row["wait_and_see"] == pytest.approx(sum(probs[w] * mine[w] for w in probs), rel=1e-6)
    slack = 1e-6 * abs(row["expected"])
    assert row["evpi"] == pytest.approx(row["wait_and_see"] - row["expected"], abs=slack)
    assert row["evpi"] >= -slack and row["vss"] >= -slack
    assert row["evpi"] > 100 * slack  # knowing the future is worth something here
    # the same sweep without regret has none of these columns, and is another sweep to resume
    spec, doc, _ = load_sweep(sweep_file)
    assert fingerprint(spec, doc) != fingerprint(spec.model_copy(update={"regret": False}), doc)



def test_one_override_of_a_future_is_swept_by_its_path(tmp_path):
    """`uncertainty.scenarios[slow].set.tiers[premium].max_tokens_per_s`: how deep the bust is,
    swept with the scenario's other overrides kept; a milder bust cannot lower the expectation."""
    base = stochastic_base()
    path = "uncertainty.scenarios[slow].set.tiers[premium].max_tokens_per_s"
    spec = SweepSpec(base="x", mip_gap=1e-9, parameters=[{"path": path, "values": [1.0e7, 3.0e7]}])
    df = optimizer.sweep(spec, base=base, jobs=2).sort_values("point")
    assert set(df["status"]) == {"optimal"}
    for cap, (_, row) in zip([1.0e7, 3.0e7], df.iterrows(), strict=True):
        assert row["scenario[slow].tokens_per_s[premium]"] <= cap * (1 + 1e-9)
        assert row["scenario[slow].tokens_per_s[ultra]"] <= 5.0e6 * (1 + 1e-9)  # the bust's other override stays
        assert row["scenario[base].tokens_per_s[premium]"] > cap  # the base future is not touched
    deep, mild = df["expected"]
    assert mild >= deep * (1 - 1e-6) and df["scenario[slow].objective_value"].iloc[1] > df["scenario[slow].objective_value"].iloc[0]
    # an override a future may not make is an invalid row naming it; a future that is not there, a refused path
    bad = SweepSpec(base="x", parameters=[{"path": "uncertainty.scenarios[slow].set.hardware[lpx].rack_power_kw", "values": [100]}])
    (row,) = [solve_point(base, bad, p) for p in points(bad)]
    assert row["status"] == "invalid" and "uncertainty.scenarios[1] (slow).set[hardware[lpx].rack_power_kw]" in row["message"]
    spec_file = tmp_path / "sweep.yaml"
    (tmp_path / "stochastic.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    spec_file.write_text(yaml.safe_dump({"base": "stochastic.yaml", "parameters": [
        {"path": "uncertainty.scenarios[boom].set.facility.grid_power_mw", "values": [1]}]}))
    res = runner.invoke(app, ["sweep", str(spec_file), "-o", str(tmp_path / "o.csv")])
    assert res.exit_code == 2 and "parameters[0].path" in res.output and "no element named 'boom'" in res.output


def test_a_stochastic_horizon_point_carries_its_fleet_and_futures():
    """With a horizon (section 11) the row's NPV is the expectation of the futures' NPVs and its
    racks per year are the one fleet every future shares (the first stage)."""
    base = read_document(ROADMAP)
    base["uncertainty"] = {"scenarios": [{"name": "base", "probability": 0.6},
                                         {"name": "cheap-power", "probability": 0.4, "set": {"facility.electricity_usd_per_mwh": 20}}]}
    spec = SweepSpec(base="x")
    (row,) = [solve_point(base, spec, p) for p in points(spec)]
    assert row["status"] in ("optimal", "time_limit") and row["objective"] == "profit"
    probs = {"base": 0.6, "cheap-power": 0.4}
    for w in probs:
        assert row[f"scenario[{w}].probability"] == probs[w]
        assert row[f"scenario[{w}].objective_value"] == pytest.approx(row[f"scenario[{w}].npv_usd"], rel=1e-12)
    for m in ("npv_usd", "discounted_energy_usd", "mean_tokens_per_s"):
        assert row[m] == pytest.approx(sum(p * row[f"scenario[{w}].{m}"] for w, p in probs.items()), rel=1e-9)
    assert row["expected"] == pytest.approx(row["npv_usd"], rel=1e-9)
    assert row["scenario[cheap-power].discounted_energy_usd"] < row["scenario[base].discounted_energy_usd"]
    starts = [base["horizon"]["start_year"]]
    for length in base["horizon"]["period_years"][:-1]:
        starts.append(starts[-1] + length)
    racks = {c: v for c, v in row.items() if c.startswith("racks[")}
    assert {c.rsplit("[", 1)[1].rstrip("]") for c in racks} == {str(y) for y in starts}
    assert len(racks) == len(starts) * len(base["hardware"])
    assert all(isinstance(v, int) and v >= 0 for v in racks.values()) and sum(racks.values()) > 0
