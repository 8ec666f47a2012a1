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

from optimizer.cli import app

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
    from optimizer.scenarios import SweepSpec, points

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
