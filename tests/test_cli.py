"""The CLI end to end on the shipped instance and on tiny ones: report, JSON, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

import optimizer
from helpers import gpu, tier, tiny
from optimizer.interfaces.cli import app
from verifier import verify

ROOT = Path(__file__).resolve().parents[1]
GTC = ROOT / "instances" / "gtc2026-1gw.yaml"
runner = CliRunner()


def test_shipped_instance_json_objective_equals_tier_revenue():
    proc = subprocess.run([sys.executable, "-m", "optimizer", "solve", str(GTC), "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    sol = json.loads(proc.stdout)  # stdout is the JSON and nothing else
    assert sol["status"] == "optimal"
    assert sol["objective"]["name"] == "revenue" and sol["objective"]["unit"] == "USD/yr"
    recomputed = sum(t["price_usd_per_mtok"] * t["tokens_per_s"] * 31_536_000 / 1e6 for t in sol["tiers"])
    assert abs(sol["objective"]["value"] - recomputed) <= 1e-9 * recomputed
    for key in ("revenue_usd_per_year", "cost_usd_per_year", "profit_usd_per_year", "tokens_per_s", "tokens_per_joule",
                "facility_power_mw", "it_power_mw", "network_power_mw", "cooling_power_mw", "capex_usd"):
        assert key in sol["metrics"]
    for key in ("racks", "replicas", "allocation", "tiers", "fabric", "binding", "shadow_prices", "mip_gap"):
        assert key in sol
    verify(optimizer.load_instance(GTC), sol)


def test_shipped_instance_report():
    res = runner.invoke(app, ["solve", str(GTC)])
    assert res.exit_code == 0, res.output
    for section in ("Racks per hall", "Tiers served", "Power against the grid (MW)", "Heat against cooling",
                    "Hall slots", "Scale-out fabric", "Binding limits", "Shadow prices", "USD/yr"):
        assert section in res.output, section


def test_output_file_and_objective_option(tmp_path):
    out = tmp_path / "sol.json"
    res = runner.invoke(app, ["solve", str(GTC), "--objective", "profit", "--mip-gap", "1e-3", "-o", str(out)])
    assert res.exit_code == 0, res.output
    sol = json.loads(out.read_text())
    assert sol["objective"]["name"] == "profit"
    assert abs(sol["objective"]["value"] - sol["metrics"]["profit_usd_per_year"]) < 1e-6 * abs(sol["objective"]["value"])


def test_schema_command():
    res = runner.invoke(app, ["schema"])
    assert res.exit_code == 0
    schema = json.loads(res.output)
    assert {"facility", "hardware", "tiers", "network", "constraints"} <= set(schema["properties"])
    assert schema["required"] == ["name", "facility", "models", "workloads", "tiers", "hardware"]


def infeasible(tmp_path) -> Path:
    inst = tiny()
    inst["hardware"] = [gpu(curve=((10, 1000),))]
    inst["tiers"] = [tier("t", 10, 1.0, min_tokens_per_s=1e9)]
    path = tmp_path / "infeasible.yaml"
    path.write_text(yaml.safe_dump(inst))
    return path


def test_infeasible_exit_1_and_reason(tmp_path):
    path = infeasible(tmp_path)
    res = runner.invoke(app, ["solve", str(path)])
    assert res.exit_code == 1
    assert "infeasible" in res.output
    res = runner.invoke(app, ["solve", str(path), "--json"])
    assert res.exit_code == 1
    sol = json.loads(res.output)
    assert sol["status"] == "infeasible" and sol["metrics"] is None and sol["objective"]["value"] is None


def test_hints_name_certain_reasons(tmp_path):
    inst = tiny()
    inst["hardware"] = [gpu(curve=((10, 1000),), installed_racks=3)]
    inst["facility"]["halls"][0]["liquid_cooling"] = False
    inst["tiers"] = [tier("t", 500, 1.0, min_tokens_per_s=10)]
    sol = optimizer.solve(inst)
    assert sol.status == "infeasible"
    text = " ".join(sol.hints)
    assert "no hall admits it" in text and "no hardware serves it" in text


def test_validate_shipped_instance():
    res = runner.invoke(app, ["validate", str(GTC)])
    assert res.exit_code == 0 and "valid" in res.output


def test_tie_break_time_option(tmp_path):
    out = tmp_path / "sol.json"
    res = runner.invoke(app, ["solve", str(GTC), "--tie-break-time", "5", "-o", str(out)])
    assert res.exit_code == 0, res.output
    sol = json.loads(out.read_text())
    assert sol["tie_break_gap"] is not None and sol["tie_break_gap"] <= 1e-3
    assert set(sol["timings"]) >= {"validate", "preprocess", "build", "handover", "highs", "extract"}
