"""Scenarios (MODEL.md section 13): the extensive form's size and solve time by scenario count, against HiGHS alone.

    python -m benchmarks.scenario_scaling [--scenarios 1 5 20 50] [--slices 4] [--size large] [--time-limit 600] [--threads 1]

The large synthetic instance of ``solve_scaling`` with ``--slices`` equal slices of the year
(``generate.with_slices``), plus an ``uncertainty`` block of S scenarios (``with_scenarios``,
seeded): the first is the base (no overrides, so S = 1 is the deterministic instance of
``slice_scaling``), every other scales the paid tiers' demand caps and prices and some hardware's
``performance_multiplier`` by lognormal factors (a market factor per scenario times noise per
tier). Probabilities are 1/S, the last one fixed so that they sum to exactly 1.

Each scenario count is measured as ``slice_scaling`` measures slices, three processes back to
back: ``ours`` (``optimizer.solve(..., regret=False)`` on the file, wall time from the call to
its return, its stage timings and HiGHS's run time of each of its runs), ``capture`` (the same
solve, a copy of every model HiGHS holds before each run, with its options and MIP start) and
``floor`` (plain highspy on each captured model: the primary MIP alone, and every stage our
solve runs). ``regret=False``: the regret table of section 13.3 adds (S + 1) x S solves and is
measured apart (``--regret 2 5``: one more ``ours`` run with ``regret=True`` at those counts).
Each process reports its peak resident memory. Results: ``benchmarks/results/scenario_scaling.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from benchmarks.slice_scaling import MIP_GAP, STAGES, timed_solve, write_results
from benchmarks.solve_scaling import _peak_mb

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = [1, 5, 20, 50]


def with_scenarios(inst: dict, n: int, seed: int = 0) -> dict:
    """The instance with an ``uncertainty`` block of ``n`` scenarios (MODEL.md section 13.1).

    The first is the base (no overrides). Each other one draws a market factor for demand
    (lognormal, sigma 0.3) and one for prices (sigma 0.1); every paid tier with a demand cap gets
    its cap (every slice of it) times the market factor times its own noise (sigma 0.1), every
    paid tier its price times the price factor times its own noise (sigma 0.05); a tenth of the
    hardware (drawn per scenario) gets a ``performance_multiplier`` from a lognormal of median
    0.9 and sigma 0.15, at most 1.2 (a generation late or slower than promised, or a little
    better). Probabilities are 1/n, the last 1 minus the others' sum."""
    rng = random.Random(seed + 104729)
    hardware = [h["name"] for h in inst["hardware"]]

    def scaled(value, factor, digits):
        if isinstance(value, dict):
            return {k: round(v * factor, digits) for k, v in value.items()}
        return round(value * factor, digits)

    scenarios = []
    for i in range(n):
        p = 1.0 / n if i < n - 1 else 1.0 - sum(s["probability"] for s in scenarios)
        if i == 0:
            scenarios.append({"name": "base", "probability": p})
            continue
        demand, price = rng.lognormvariate(0, 0.3), rng.lognormvariate(0, 0.1)
        sets = {}
        for t in inst["tiers"]:
            base_price = t["price_usd_per_mtok"]
            paid = (max(base_price.values()) if isinstance(base_price, dict) else base_price) > 0
            if not paid:
                continue
            if t.get("max_tokens_per_s") is not None:
                sets[f"tiers[{t['name']}].max_tokens_per_s"] = scaled(t["max_tokens_per_s"], demand * rng.lognormvariate(0, 0.1), -3)
            sets[f"tiers[{t['name']}].price_usd_per_mtok"] = scaled(base_price, price * rng.lognormvariate(0, 0.05), 4)
        for h in rng.sample(hardware, max(1, len(hardware) // 10)):
            sets[f"hardware[{h}].performance_multiplier"] = round(min(1.2, rng.lognormvariate(math.log(0.9), 0.15)), 4)
        scenarios.append({"name": f"future-{i}", "probability": p, "set": sets})
    assert abs(sum(s["probability"] for s in scenarios) - 1.0) <= 1e-9
    return {**inst, "name": f"{inst['name']}-{n}sc", "uncertainty": {"scenarios": scenarios}}


def instance_file(size: str, slices: int, scenarios: int, tmp: Path) -> Path:
    """The synthetic instance of ``size`` with ``slices`` slices and ``scenarios`` scenarios, as a file."""
    from benchmarks.generate import SIZES, synthetic, with_slices

    inst = with_scenarios(with_slices(synthetic(*SIZES[size]), slices), scenarios)
    path = tmp / f"{size}-{slices}sl-{scenarios}sc.yaml"
    path.write_text(yaml.safe_dump(inst, sort_keys=False))
    return path


def run_ours(path: str, time_limit: float, threads: int, regret: bool = False, profile: str | None = None) -> dict:
    """In this process: ``optimizer.solve(..., regret=regret)`` on the file, its stage timings,
    HiGHS's time per run (``slice_scaling.timed_solve``) and this process's peak memory."""
    sol, row = timed_solve(path, time_limit, threads, profile, (*STAGES, "regret"), regret=regret)
    unc = sol.uncertainty
    return {**row, "scenarios_reported": len(unc.scenarios) if unc is not None else 0, "peak_mb": _peak_mb(),
            "problems": list(sol.problems or [])[:5]}


def capture(path: str, time_limit: float, threads: int, out: str) -> dict:
    """In this process: the same solve (``regret=False``), every HiGHS run preceded by a copy of
    its model, options and start, as ``slice_scaling.capture`` does."""
    import optimizer
    from benchmarks import slice_scaling

    real = optimizer.solve
    optimizer.solve = lambda *a, **k: real(*a, **k, regret=False)
    try:
        res = slice_scaling.capture(path, time_limit, threads, out)
    finally:
        optimizer.solve = real
    return {**res, "peak_mb": _peak_mb()}


def run_floor(folder: str, runs: int, threads: int) -> dict:
    """In this process: plain highspy on each captured run (``slice_scaling.run_floor``), and the peak memory."""
    from benchmarks.slice_scaling import run_floor as floor

    return {**floor(folder, runs, threads), "peak_mb": _peak_mb()}


def _child(kind: str, *args) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.scenario_scaling", "--child", kind, *map(str, args)],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(f"scenario_scaling child {kind} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(scenarios: list[int], slices: int = 4, size: str = "large", time_limit: float = 600.0, threads: int = 1,
            regret: list[int] = (), profile_dir: Path | None = None, floor: bool = True) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in scenarios:
            path = instance_file(size, slices, n, tmp)
            prof = [str(profile_dir / f"{size}-{slices}sl-{n}sc.prof")] if profile_dir else []
            ours = _child("ours", path, time_limit, threads, 0, *prof)
            row = {"size": size, "slices": slices, "scenarios": n, "file_mb": path.stat().st_size / 2**20, **ours}
            if floor:
                folder = tmp / f"runs-{n}"
                cap = _child("capture", path, time_limit, threads, folder)
                fl = _child("floor", folder, cap["runs"], threads)
                for f in folder.iterdir():  # the captured arrays of 50 scenarios are GBs
                    f.unlink()
                row.update({"captured_objective": cap["objective"], "captured_status": cap["status"], "capture_peak_mb": cap["peak_mb"],
                            "floor": fl, "ratio_primary": ours["total_s"] / fl["primary_s"],
                            "ratio_stages": ours["total_s"] / fl["stages_s"], "memory_ratio": ours["peak_mb"] / fl["peak_mb"]})
            if n in regret:
                row["with_regret"] = _child("ours", path, time_limit, threads, 1)
            rows.append(row)
            print(_line(row), flush=True)
    return rows


HEAD = ("scenarios", "vars", "ints", "cons", "validate", "preprocess", "build", "hand-over", "HiGHS primary", "HiGHS tie-break",
        "HiGHS LPs", "extract", "check", "other", "total", "peak MB", "alone: primary", "alone: all stages", "alone MB",
        "total/alone primary", "total/alone stages", "gap", "tie gap")


def _line(r: dict) -> str:
    f = r.get("floor")
    cells = [r["scenarios"], r["variables"], r["integers"], r["constraints"],
             *(f"{r[k]:.3f}" for k in ("validate_s", "preprocess_s", "build_s", "handover_s", "primary_highs_s",
                                       "tie_break_highs_s", "lp_highs_s", "extract_s", "check_s", "unaccounted_s", "total_s")),
             f"{r['peak_mb']:.0f}",
             *((f"{f['primary_s']:.3f}", f"{f['stages_s']:.3f}", f"{f['peak_mb']:.0f}", f"{r['ratio_primary']:.2f}",
                f"{r['ratio_stages']:.2f}") if f else ("-",) * 5),
             "-" if r["mip_gap"] is None else f"{r['mip_gap']:.2g}",
             "-" if r["tie_break_gap"] is None else f"{r['tie_break_gap']:.2g}"]
    if "with_regret" in r:
        cells.append(f"with regret: {r['with_regret']['total_s']:.3f} (regret {r['with_regret']['regret_s']:.3f})")
    return " | ".join(str(c) for c in cells)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", nargs="+", type=int, default=SCENARIOS)
    ap.add_argument("--slices", type=int, default=4, help="slices of the year (default 4)")
    ap.add_argument("--size", default="large", help="a size of benchmarks.generate.SIZES (default: large)")
    ap.add_argument("--time-limit", type=float, default=600.0, help="seconds per solve, both sides (default 600)")
    ap.add_argument("--threads", type=int, default=1, help="HiGHS threads on both sides (default 1, optimizer solve's default)")
    ap.add_argument("--regret", nargs="*", type=int, default=[], help="scenario counts also solved with regret=True (its time)")
    ap.add_argument("--no-floor", action="store_true", help="ours only, no capture and no HiGHS alone")
    ap.add_argument("--profile", type=Path, default=None, help="a folder for a cProfile of each ours run (slows it)")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "scenario_scaling.json")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        kind, *args = a.child
        if kind == "ours":
            print(json.dumps(run_ours(args[0], float(args[1]), int(args[2]), bool(int(args[3])), args[4] if len(args) > 4 else None)))
        elif kind == "capture":
            print(json.dumps(capture(args[0], float(args[1]), int(args[2]), args[3])))
        else:
            print(json.dumps(run_floor(args[0], int(args[1]), int(args[2]))))
        return
    if a.profile:
        a.profile.mkdir(parents=True, exist_ok=True)
    print(" | ".join(HEAD), flush=True)
    rows = measure(a.scenarios, a.slices, a.size, a.time_limit, a.threads, a.regret, a.profile, not a.no_floor)
    write_results(a.json, size=a.size, slices=a.slices, mip_gap=MIP_GAP, threads=a.threads, time_limit_s=a.time_limit,
                  regret=False, rows=rows)


if __name__ == "__main__":
    main()
