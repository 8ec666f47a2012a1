"""Hostile input to the command line: every bad file or option is exit 2 with an `error:` line
naming the file (or option), the field path where there is one, and the rule; never a traceback,
never minutes of work or gigabytes of memory before saying no."""

from __future__ import annotations

import json
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

from helpers import deterministic_roadmap
from optimizer.interfaces.cli import app

ROOT = Path(__file__).resolve().parents[1]
GTC = ROOT / "instances" / "gtc2026-1gw.yaml"
runner = CliRunner()


def run(*args: str, cwd: Path | None = None):
    """The CLI in this process; in ``cwd`` when given (relative paths as a user types them)."""
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return runner.invoke(app, [str(a) for a in args])
    finally:
        os.chdir(old)


def refused(res, *words: str) -> str:
    """Exit 2, an `error:` line, every word in the message, no traceback."""
    text = res.output + (res.stderr if res.stderr_bytes is not None else "")
    assert res.exit_code == 2, (res.exit_code, text, res.exception)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "error:" in text and "Traceback" not in text, text
    for w in words:
        assert w in text, (w, text)
    return text


# --------------------------------------------------------------------------- 5: input size caps


def test_alias_bomb_is_refused_at_once(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 12)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    t = time.perf_counter()
    refused(run("validate", bomb), str(bomb), "aliases expand to more than")
    assert time.perf_counter() - t < 2


def test_endless_file_is_refused_unread():
    refused(run("validate", "/dev/zero"), "/dev/zero", "larger than the cap")


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
@pytest.mark.parametrize("depth", [150, 100_000])
def test_deep_nesting_is_refused(tmp_path, suffix, depth):
    path = tmp_path / f"deep{suffix}"
    path.write_text('{"name": ' + "[" * depth + "]" * depth + "}")
    refused(run("validate", path), str(path), "nest")


def test_sweep_file_is_read_with_the_same_caps(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(f"base: {GTC}\nparameters: " + "[" * 200 + "]" * 200 + "\n")
    refused(run("sweep", path, "-o", tmp_path / "out.csv"), str(path), "nested more than 100 levels")


# --------------------------------------------------------------------------- 3: counts before work


def sweep_file(tmp_path, body: dict, name="sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"base": str(GTC), **body}, sort_keys=False))
    return path


def test_huge_grid_is_refused_before_building(tmp_path):
    params = [{"path": f"tiers[{t}].price_usd_per_mtok", "values": list(range(1, 101))} for t in ("standard", "pro", "premium", "ultra")]
    path = sweep_file(tmp_path, {"parameters": params})  # 100^4 = 10^8 points
    t = time.perf_counter()
    refused(run("sweep", path, "-o", tmp_path / "out.csv"), str(path), "100,000,000 points", "cap of 1,000,000")
    assert time.perf_counter() - t < 2
    assert not list(tmp_path.glob("out.csv*"))


@pytest.mark.parametrize("body,where,words", [
    ({"parameters": [{"path": "facility.grid_power_mw", "range": {"start": 1, "stop": 2, "step": 1e-300}}]},
     "parameters[0].range", "more than the cap"),
    ({"parameters": [{"path": "facility.grid_power_mw", "range": {"start": 1, "stop": 2, "count": 10**12}}]},
     "parameters[0].range", "count 1,000,000,000,000 gives"),
    ({"parameters": [{"path": "facility.grid_power_mw", "range": {"start": -1e308, "stop": 1e308, "step": 1e-300}}]},
     "parameters[0].range", "more than the cap"),
    ({"mode": "random", "samples": 10**9, "parameters": [{"path": "facility.grid_power_mw", "values": [1]}]},
     "samples", "1000000"),
    ({"mode": "random", "samples": 3, "parameters": [{"path": "facility.grid_power_mw", "distribution": {"kind": "choice", "values": []}}]},
     "parameters[0].distribution", "at least one value"),
    ({"parameters": [{"path": "facility.grid_power_mw", "range": {"start": 2, "stop": 1, "step": 1}}]},
     "parameters[0].range", "no values"),
])
def test_absurd_sizes_are_clean_errors(tmp_path, body, where, words):
    path = sweep_file(tmp_path, body)
    t = time.perf_counter()
    refused(run("sweep", path, "-o", tmp_path / "out.csv"), f"{path}: {where}", words)
    assert time.perf_counter() - t < 2


def test_large_random_ranges_sample_without_listing():
    from optimizer.analysis.scenarios import SweepSpec, points

    spec = SweepSpec.model_validate({"base": "x", "mode": "lhs", "samples": 2000, "parameters": [
        {"path": "a", "range": {"start": 0, "stop": 1, "count": 1_000_000}}]})
    t = time.perf_counter()
    assert len(points(spec)) == 2000 and time.perf_counter() - t < 1


# --------------------------------------------------------------------------- 6: paths as given


def test_messages_name_paths_as_the_user_gave_them(tmp_path):
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "s.yaml").write_text("base: ../missing.yaml\n")
    res = run("sweep", "sweeps/s.yaml", "-o", "out.csv", cwd=tmp_path)
    text = refused(res, "sweeps/s.yaml: base: sweeps/../missing.yaml: file not found")
    assert str(tmp_path) not in text


# --------------------------------------------------------------------------- 1: the journal

ENTERPRISE = ROOT / "instances" / "enterprise-10mw.yaml"


def journaled(tmp_path, rows_of: list[int]):
    """A 3-point sweep file, its output path and a journal holding the rows of ``rows_of``."""
    from optimizer.analysis.scenarios import fingerprint, load_sweep, points
    from optimizer.analysis.sweeps import journal_path, solve_point

    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"base": str(ENTERPRISE), "parameters": [
        {"path": "facility.grid_power_mw", "values": [8, 10, 12]}]}))
    spec, base, _ = load_sweep(path)
    out = tmp_path / "out.csv"
    lines = [json.dumps({"fingerprint": fingerprint(spec, base), "points": 3})]
    lines += [json.dumps(solve_point(base, spec, points(spec)[i]), default=str) for i in rows_of]
    return path, out, journal_path(out), lines


def test_torn_last_line_is_cut_before_rows_are_appended(tmp_path):
    from optimizer.analysis.scenarios import load_sweep
    from optimizer.analysis.sweeps import run_sweep

    path, out, journal, lines = journaled(tmp_path, [0, 1])
    journal.write_text("\n".join(lines[:2]) + "\n" + lines[2][: len(lines[2]) // 2])  # killed mid-write

    def killed(done, total):
        if done == 2:
            raise RuntimeError("killed")

    spec, base, _ = load_sweep(path)
    with pytest.raises(RuntimeError):
        run_sweep(spec, base, out, jobs=1, resume=True, progress=killed)
    for line in journal.read_text().splitlines():  # every line whole: no row glued onto the torn one
        json.loads(line)
    res = run("sweep", path, "-o", out, "--jobs", "1", "--resume")
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert sorted(df["point"]) == [0, 1, 2] and set(df["status"]) == {"optimal"}


@pytest.mark.parametrize("damage,words", [
    (lambda ls: [ls[0], ls[1][:20], ls[2]], ["line 2", "not a JSON row"]),
    (lambda ls: [ls[0], ls[1].replace('"point": 0', '"point": 7'), ls[2]], ["line 2", "point 7 is not a point of this sweep"]),
    (lambda ls: [ls[0], ls[1], ls[1].replace('"status": "optimal"', '"status": "infeasible"')], ["line 3", "point 0 appears twice"]),
    (lambda ls: ls[1:], ["line 1", "not a sweep journal"]),
    (lambda ls: [ls[0].replace('"fingerprint": "', '"fingerprint": "x')] + ls[1:], ["line 1", "another sweep"]),
])
def test_damaged_journals_are_refused(tmp_path, damage, words):
    path, out, journal, lines = journaled(tmp_path, [0])
    lines.append(lines[1])  # the same row twice is harmless
    journal.write_text("\n".join(damage(lines)) + "\n")
    refused(run("sweep", path, "-o", out, "--jobs", "1", "--resume"), str(journal), *words)
    assert not out.exists()


# --------------------------------------------------------------------------- 4: output paths


@pytest.mark.parametrize("args", [
    ["sweep", "SWEEP", "-o", "nowhere/out.csv"],
    ["sweep", "SWEEP", "-o", "adir.csv"],
    ["solve", str(ENTERPRISE), "-o", "nowhere/sol.json"],
    ["solve", str(ENTERPRISE), "-o", "adir.csv"],
    ["report", str(ENTERPRISE), "-o", "nowhere/r.md"],
    ["report", str(ENTERPRISE), "-o", "adir.md"],
    ["pareto", str(ENTERPRISE), "-o", "nowhere/f.csv"],
    ["pareto", str(ENTERPRISE), "--plot", "adir.png"],
    ["plot", "RESULTS", "--x", "a", "--y", "b", "-o", "nowhere/p.png"],
])
def test_unwritable_outputs_are_refused_before_solving(tmp_path, args):
    for d in ("adir.csv", "adir.md", "adir.png"):
        (tmp_path / d).mkdir()
    path, *_ = journaled(tmp_path, [])
    (tmp_path / "results.csv").write_text("a,b\n1,2\n")
    args = [{"SWEEP": str(path), "RESULTS": "results.csv"}.get(a, a) for a in args]
    t = time.perf_counter()
    text = refused(run(*args, cwd=tmp_path), args[args.index("-o" if "-o" in args else "--plot") + 1])
    assert time.perf_counter() - t < 1.5 and ("does not exist" in text or "is a directory" in text), text


# --------------------------------------------------------------------------- 2: Ctrl-C


def test_ctrl_c_stops_a_sweep_and_resume_finishes_it(tmp_path):
    path = tmp_path / "slow.yaml"
    (tmp_path / "roadmap.yaml").write_text(yaml.safe_dump(deterministic_roadmap()))  # one future, a few s per point
    path.write_text(yaml.safe_dump({"base": "roadmap.yaml", "mip_gap": 1e-9,
                                    "parameters": [{"path": "facility.grid_power_mw", "values": [950, 1000, 1050]}]}))
    out = tmp_path / "out.csv"
    journal = tmp_path / "out.csv.journal.jsonl"
    cmd = [sys.executable, "-m", "optimizer", "sweep", str(path), "-o", str(out), "--jobs", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a shell's & ignores SIGINT
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (journal.exists() and len(journal.read_text().splitlines()) >= 2):
            time.sleep(0.05)
        time.sleep(0.3)  # well inside the second point's solve
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted: 1 of 3 points solved; run again with --resume" in err and "Traceback" not in err, err
    rows = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    assert [r["point"] for r in rows] == [0] and rows[0]["status"] == "optimal"
    res = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    df = pd.read_csv(out)
    assert sorted(df["point"]) == [0, 1, 2] and set(df["status"]) == {"optimal"}
