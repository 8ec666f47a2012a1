"""Sweeps: points from specs, rows equal to `optimizer solve`, resume after a real kill, Dask."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import optimizer
from optimizer.interfaces.cli import app
from optimizer.analysis.scenarios import SweepSpec, apply, load_sweep, points
from optimizer.analysis.sweeps import journal_path, run_sweep

ROOT = Path(__file__).resolve().parents[1]
ENTERPRISE = ROOT / "instances" / "enterprise-10mw.yaml"
GTC = ROOT / "instances" / "gtc2026-1gw.yaml"
runner = CliRunner()


def write_spec(tmp_path, spec: dict, name="sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_point_counts_and_order():
    grid = SweepSpec.model_validate({"base": "x", "parameters": [
        {"path": "a", "values": [1, 2, 3]}, {"path": "b", "range": {"start": 0, "stop": 1, "step": 0.5}}]})
    pts = points(grid)
    assert len(pts) == 9 and pts[0].values == (("a", 1), ("b", 0.0)) and pts[-1].values == (("a", 3), ("b", 1.0))
    zipped = SweepSpec.model_validate({"base": "x", "mode": "zip", "parameters": [
        {"path": "a", "values": [1, 2]}, {"path": "b", "values": [10, 20]}]})
    assert [p.values for p in points(zipped)] == [(("a", 1), ("b", 10)), (("a", 2), ("b", 20))]
    scen = grid.model_copy(update={"scenarios": SweepSpec.model_validate({"base": "x", "scenarios": [{"name": "s"}, {"name": "t"}]}).scenarios})
    assert len(points(scen)) == 18 and points(scen)[9].scenario == "t"


@pytest.mark.parametrize("mode", ["random", "lhs"])
def test_sampling_is_seeded_and_in_range(mode):
    spec = SweepSpec.model_validate({"base": "x", "mode": mode, "samples": 20, "seed": 3, "parameters": [
        {"path": "a", "distribution": {"kind": "uniform", "low": 2, "high": 4}},
        {"path": "b", "distribution": {"kind": "normal", "mean": 0, "sd": 1}},
        {"path": "c", "values": ["x", "y"]}]})
    first, again = points(spec), points(spec)
    assert first == again and len(first) == 20
    a = [dict(p.values)["a"] for p in first]
    assert all(2 <= v <= 4 for v in a)
    if mode == "lhs":  # one sample in each twentieth of [2, 4]
        assert sorted(int((v - 2) / 2 * 20) for v in a) == list(range(20))


@pytest.mark.parametrize("bad,words", [
    ({"base": "x", "mode": "random", "parameters": [{"path": "a", "values": [1]}]}, "needs samples"),
    ({"base": "x", "parameters": [{"path": "a", "distribution": {"kind": "uniform", "low": 0, "high": 1}}]}, "not a distribution"),
    ({"base": "x", "mode": "zip", "parameters": [{"path": "a", "values": [1]}, {"path": "b", "values": [1, 2]}]}, "equal length"),
    ({"base": "x", "parameters": [{"path": "a", "values": [1], "range": {"start": 0, "stop": 1, "count": 2}}]}, "exactly one"),
])
def test_bad_specs(bad, words):
    with pytest.raises(ValueError, match=words):
        SweepSpec.model_validate(bad)


def test_bad_paths_name_the_parameter(tmp_path):
    spec = write_spec(tmp_path, {"base": str(ENTERPRISE), "parameters": [{"path": "hardware[nope].capex_usd", "values": [1]}]})
    res = runner.invoke(app, ["sweep", str(spec), "-o", str(tmp_path / "o.csv")])
    assert res.exit_code == 2 and "parameters[0].path" in res.output and "no element named 'nope'" in res.output


def test_rows_equal_optimizer_solve_point_by_point(tmp_path):
    spec_path = write_spec(tmp_path, {"base": str(ENTERPRISE), "parameters": [
        {"path": "facility.grid_power_mw", "values": [6, 10]},
        {"path": "tiers[coding].min_tokens_per_s", "values": [5.0e6, 1.5e7]}],
        "scenarios": [{"name": "base"}, {"name": "bad", "set": {"hardware[vr-nvl72].availability": 0}}]})
    spec, base, _ = load_sweep(spec_path)
    df = run_sweep(spec, base, tmp_path / "out.parquet", jobs=2)
    assert len(df) == 8 and set(df["status"]) >= {"invalid"}
    for p in points(spec):
        row = df[df["point"] == p.index].iloc[0]
        try:
            sol = optimizer.solve(apply(base, p.overrides(spec)), threads=1)
        except optimizer.InputError as exc:
            assert row["status"] == "invalid" and "availability" in str(exc) and "availability" in row["message"]
            continue
        assert row["status"] == sol.status
        if sol.has_plan:
            assert row["objective_value"] == pytest.approx(sol.objective.value, rel=1e-9)
            assert row["cost_usd_per_year"] == pytest.approx(sol.metrics.cost_usd_per_year, rel=1e-9)
            assert row["tokens_per_s"] == pytest.approx(sol.metrics.tokens_per_s, rel=1e-9)
            for h in base["hardware"]:
                assert row[f"racks[{h['name']}]"] == sum(r.count for r in sol.racks if r.hardware == h["name"])


def slow_spec(tmp_path) -> Path:
    """24 points of the 1 GW instance, ~0.15 s each on one worker."""
    return write_spec(tmp_path, {"base": str(GTC), "parameters": [
        {"path": "facility.grid_power_mw", "range": {"start": 500, "stop": 1000, "count": 6}},
        {"path": "tiers[ultra].max_tokens_per_s", "values": [1.0e7, 2.0e7, 3.0e7, 4.0e7]}]})


def test_killed_sweep_resumes_to_the_same_file(tmp_path):
    spec = slow_spec(tmp_path)
    whole, part = tmp_path / "whole.csv", tmp_path / "part.csv"
    cmd = [sys.executable, "-m", "optimizer", "sweep", str(spec), "--jobs", "1"]
    subprocess.run(cmd + ["-o", str(whole)], check=True, capture_output=True, timeout=300)
    proc = subprocess.Popen(cmd + ["-o", str(part)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    journal = journal_path(part)
    deadline = time.time() + 120
    while time.time() < deadline:
        if journal.exists() and len(journal.read_text().splitlines()) >= 1 + 6:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    solved = len(journal.read_text().splitlines()) - 1
    assert 6 <= solved < 24, solved  # killed half way
    assert not part.exists()
    res = subprocess.run(cmd + ["-o", str(part)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "--resume" in res.stderr  # no silent restart over a journal
    subprocess.run(cmd + ["-o", str(part), "--resume"], check=True, capture_output=True, timeout=300)
    assert not journal.exists()
    assert_same_rows(pd.read_csv(part), pd.read_csv(whole))
    df = pd.read_csv(part)
    assert list(df["point"]) == list(range(24))


def assert_same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Two sweep files hold the same rows, compared by what each column means: every column
    equal, except where a point's tie-break stopped at its time budget (tie_break_gap > 0 in
    either file): there the plan and its cost depend on timing, and only what is deterministic
    (the point, its parameters, status and primary objective) must agree."""
    assert list(got.columns) == list(want.columns)
    assert list(got["point"]) == list(want["point"])
    timed = (got["tie_break_gap"].fillna(0) > 0) | (want["tie_break_gap"].fillna(0) > 0)
    pd.testing.assert_frame_equal(got[~timed], want[~timed])
    steady = ["point", "scenario", "status", "objective", "objective_unit"]
    pd.testing.assert_frame_equal(got.loc[timed, steady], want.loc[timed, steady])
    assert list(got.loc[timed, "objective_value"]) == pytest.approx(list(want.loc[timed, "objective_value"]), rel=1e-9)


def test_resume_refuses_another_sweeps_journal(tmp_path):
    spec, base, _ = load_sweep(slow_spec(tmp_path))
    out = tmp_path / "o.csv"
    journal_path(out).write_text('{"fingerprint": "something else", "points": 3}\n')
    with pytest.raises(optimizer.InputError, match="another sweep"):
        run_sweep(spec, base, out, jobs=1, resume=True)


def test_dask_local_cluster_gives_the_same_rows(tmp_path):
    distributed = pytest.importorskip("distributed")
    spec_path = write_spec(tmp_path, {"base": str(ENTERPRISE), "parameters": [
        {"path": "facility.grid_power_mw", "range": {"start": 6, "stop": 15, "count": 10}},
        {"path": "tiers[chat].min_tokens_per_s", "range": {"start": 1.0e7, "stop": 3.0e7, "count": 5}}]})
    spec, base, _ = load_sweep(spec_path)
    local = run_sweep(spec, base, tmp_path / "local.parquet", jobs=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = run_sweep(spec, base, tmp_path / "dask.parquet", scheduler=cluster.scheduler_address)
    assert len(local) == 50
    pd.testing.assert_frame_equal(local, remote)
