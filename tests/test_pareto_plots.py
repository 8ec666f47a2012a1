"""Pareto frontiers (monotone, every plan feasible for the original instance) and plots."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import optimizer
from optimizer.interfaces.cli import app
from verifier import verify

ROOT = Path(__file__).resolve().parents[1]
GTC = ROOT / "instances" / "gtc2026-1gw.yaml"
ENTERPRISE = ROOT / "instances" / "enterprise-10mw.yaml"
runner = CliRunner()


@pytest.fixture(scope="module")
def front():
    return optimizer.pareto(GTC, x="tokens_per_joule", y="revenue", points=6)


def test_frontier_is_monotone(front):
    assert len(front) >= 3
    xs, ys = list(front["tokens_per_joule"]), list(front["revenue"])
    assert xs == sorted(xs)
    assert all(b <= a * (1 + 1e-9) for a, b in zip(ys, ys[1:])), ys  # more tokens/J never brings more revenue
    assert front.attrs["x_unit"] == "tokens/J" and front.attrs["y_unit"] == "USD/yr"


def test_every_frontier_plan_is_feasible_for_the_original_instance(front):
    inst = optimizer.load_instance(GTC)
    for _, row in front.iterrows():
        sol = json.loads(row["solution"])
        sol["objective"]["value"] = sol["metrics"]["revenue_usd_per_year"]  # judged as a revenue plan
        sol["objective"]["name"] = "revenue"
        got = verify(inst, sol)
        assert got["revenue"] == pytest.approx(row["revenue"], rel=1e-9)
        assert got["tpj"] == pytest.approx(row["tokens_per_joule"], rel=1e-9)


def test_frontier_ends_are_the_single_objective_optima(front):
    best_revenue = optimizer.solve(GTC, objective="revenue", mip_gap=1e-6).objective.value
    best_tpj = optimizer.solve(GTC, objective="tokens_per_watt", mip_gap=1e-6).objective.value
    assert front["revenue"].iloc[0] == pytest.approx(best_revenue, rel=1e-6)
    assert front["tokens_per_joule"].iloc[-1] == pytest.approx(best_tpj, rel=1e-5)


def test_pareto_rejects_an_axis_without_a_linear_floor():
    with pytest.raises(ValueError, match="linear floor"):
        optimizer.pareto(GTC, x="profit", y="revenue")


def test_pareto_cli_writes_table_file_and_plot(tmp_path):
    out, pic = tmp_path / "front.csv", tmp_path / "front.svg"
    res = runner.invoke(app, ["pareto", str(ENTERPRISE), "--x", "revenue", "--y", "tokens", "--points", "4", "-o", str(out), "--plot", str(pic)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert list(df["revenue"]) == sorted(df["revenue"]) and "Pareto frontier" in res.output
    assert pic.read_text().lstrip().startswith("<?xml") and "<svg" in pic.read_text()


def test_plot_command(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"base": str(ENTERPRISE), "parameters": [
        {"path": "facility.grid_power_mw", "values": [8, 10, 12]}, {"path": "tiers[agents].min_tokens_per_s", "values": [1.0e6, 3.0e6]}]}))
    res = runner.invoke(app, ["sweep", str(spec), "-o", str(tmp_path / "r.csv"), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    png = tmp_path / "p.png"
    res = runner.invoke(app, ["plot", str(tmp_path / "r.csv"), "--x", "facility.grid_power_mw", "--y", "cost_usd_per_year", "-o", str(png)])
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    bad = runner.invoke(app, ["plot", str(tmp_path / "r.csv"), "--x", "nope", "--y", "cost_usd_per_year", "-o", str(png)])
    assert bad.exit_code == 2 and "columns are" in bad.output
