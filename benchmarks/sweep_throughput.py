"""Sweep throughput on instances/gtc2026-1gw.yaml, all figures from one run.

    python -m benchmarks.sweep_throughput [--points 1000] [--jobs 2] [--sample 40]

Measures (1) points per second of an N-point grid sweep through the sweep engine (worker
processes, one HiGHS thread each), and (2) per point, in this process, on a sample of the
same points: the full path (validate, preprocess, build the Pyomo model, every solve stage,
extract) against HiGHS's own run time inside it. The second ratio bounds what any faster
path (in-place updates, warm starts) could gain while still running HiGHS for every stage.

Two further figures say how far any fast path could go on this instance:

- the warm-start floor: HiGHS alone (no Python, no Pyomo) running the two MIP stages of a
  point on its arrays, each started from the previous grid point's plan, over a run of
  consecutive grid points (the best case for a warm start: neighbours differ in one value);
- the LP certificate share: how many points the LP relaxation alone proves, i.e. its bound is
  within the MIP gap (1e-4) of the MIP optimum, so the MIP run could be skipped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import highspy
import numpy as np

import optimizer
from optimizer.solving.engine import SECOND_STAGE_TOL
from optimizer.model.families import SENSE, build_model, objective_expr
from optimizer.model.preprocess import preprocess
from optimizer.analysis.scenarios import SweepSpec, apply, points
from optimizer.model.schema import load_instance, read_document
from optimizer.solving.highs import HighsAdapter, SolverOptions, _costs, new_highs
from optimizer.analysis.sweeps import run_sweep

ROOT = Path(__file__).resolve().parents[1]
GTC = ROOT / "instances" / "gtc2026-1gw.yaml"


def grid_spec(n: int) -> SweepSpec:
    """A grid of about n points over power, the $45 price and the $150 demand."""
    k = max(1, round(n ** (1 / 3)))
    sizes = [k, k, max(1, math.ceil(n / (k * k)))]
    return SweepSpec.model_validate({
        "base": str(GTC),
        "parameters": [
            {"path": "facility.grid_power_mw", "range": {"start": 250, "stop": 1000, "count": sizes[0]}},
            {"path": "tiers[premium].price_usd_per_mtok", "range": {"start": 20, "stop": 70, "count": sizes[1]}},
            {"path": "tiers[ultra].max_tokens_per_s", "range": {"start": 1.0e7, "stop": 6.0e7, "count": sizes[2]}},
        ],
    })


def _arrays(doc: dict):
    """The point's MILP as HiGHS holds it, with the primary and tie-break cost vectors."""
    inst = load_instance(doc)
    m = build_model(preprocess(inst))
    adapter = HighsAdapter(SolverOptions(threads=1))
    adapter.set_instance(m)
    lp = adapter.solver._solver_model.getLp()
    cols = adapter.solver._pyomo_var_to_solver_var_map
    name = inst.objective.value
    primary, _ = _costs(objective_expr(m, name), cols, lp.num_col_)
    tie, _ = _costs(m.facility_mw if name in ("profit", "min_cost") else m.cost, cols, lp.num_col_)
    return lp, primary, SENSE[name], tie


def _highs(lp, cost, sense: str, start=None, mip: bool = True) -> highspy.Highs:
    h = new_highs(1)  # silent, one thread, the process's pool made to match
    h.setOptionValue("mip_rel_gap", 1e-4)
    h.passModel(lp)
    n = lp.num_col_
    h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
    h.changeObjectiveSense(highspy.ObjSense.kMaximize if sense == "max" else highspy.ObjSense.kMinimize)
    if not mip:
        h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.zeros(n, dtype=np.uint8))
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(start)
        h.setSolution(sol)
    return h


def warm_start_floor(docs: list[dict]) -> dict:
    """HiGHS alone on consecutive points: primary MIP, then the tie-break MIP (primary held within
    1e-6, as MODEL.md section 7 says), each started from the previous point's plan. Only HiGHS's
    run time counts: this is what a fast path with free model updates would still pay."""
    prev, times = None, []
    for doc in docs:
        lp, primary, sense, tie = _arrays(doc)
        h = _highs(lp, primary, sense, start=prev)
        h.run()
        first = h.getRunTime()
        z = h.getInfo().objective_function_value
        x = np.array(h.getSolution().col_value)
        nz = np.nonzero(primary)[0].astype(np.int32)
        tol = SECOND_STAGE_TOL * max(abs(z), 1e-9)
        lo, hi = (z - tol, highspy.kHighsInf) if sense == "max" else (-highspy.kHighsInf, z + tol)
        h.addRow(lo, hi, len(nz), nz, primary[nz])
        n = lp.num_col_
        h.changeColsCost(n, np.arange(n, dtype=np.int32), tie)
        h.changeObjectiveSense(highspy.ObjSense.kMinimize)
        sol = highspy.HighsSolution()
        sol.col_value = list(x)
        h.setSolution(sol)
        h.run()
        if prev is not None:  # the first point has no neighbour to start from
            times.append((first, h.getRunTime() - first))
        prev = np.array(h.getSolution().col_value)
    t = np.array(times)
    return {"points": len(t), "primary_ms": 1000 * float(t[:, 0].mean()), "tie_break_ms": 1000 * float(t[:, 1].mean())}


def lp_certificate_share(docs: list[dict], gap: float = 1e-4) -> dict:
    """Relative distance from the LP relaxation's bound to the MIP optimum, per point."""
    gaps = []
    for doc in docs:
        lp, primary, sense, _ = _arrays(doc)
        relaxed, exact = _highs(lp, primary, sense, mip=False), _highs(lp, primary, sense)
        relaxed.run()
        exact.run()
        bound, z = relaxed.getInfo().objective_function_value, exact.getInfo().objective_function_value
        gaps.append(abs(bound - z) / max(abs(z), 1e-12))
    g = np.array(gaps)
    return {"points": len(g), "share_within_gap": float((g <= gap).mean()), "median_gap": float(np.median(g)),
            "max_gap": float(g.max())}


def run(n_points: int = 1000, jobs: int = 2, sample: int = 40) -> dict:
    spec = grid_spec(n_points)
    base = read_document(GTC)
    pts = points(spec)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        df = run_sweep(spec, base, Path(tmp) / "bench.parquet", jobs=jobs)
        sweep_s = time.perf_counter() - t0
    step = max(1, len(pts) // sample)
    full, highs = [], []
    for p in pts[::step][:sample]:
        doc = apply(base, p.overrides(spec))
        t = time.perf_counter()
        sol = optimizer.solve(doc, threads=1)
        full.append(time.perf_counter() - t)
        highs.append(sol.solver_seconds)
    mean_full, mean_highs = sum(full) / len(full), sum(highs) / len(highs)
    docs = [apply(base, p.overrides(spec)) for p in pts]
    floor = warm_start_floor(docs[: sample + 1])
    floor_ms = floor["primary_ms"] + floor["tie_break_ms"]
    cert = lp_certificate_share(docs[::step][:sample])
    return {
        "date": date.today().isoformat(),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "points": len(df),
        "statuses": df["status"].value_counts().to_dict(),
        "jobs": jobs,
        "sweep_seconds": sweep_s,
        "points_per_second": len(df) / sweep_s,
        "sample": len(full),
        "full_path_ms_per_point": 1000 * mean_full,
        "highs_ms_per_point": 1000 * mean_highs,
        "highs_share_of_full_path": mean_highs / mean_full,
        "max_speedup_keeping_every_highs_run": mean_full / mean_highs,
        "warm_start_floor_points": floor["points"],
        "warm_start_floor_primary_ms": floor["primary_ms"],
        "warm_start_floor_tie_break_ms": floor["tie_break_ms"],
        "max_speedup_of_any_path_running_both_mips": 1000 * mean_full / floor_ms,
        "lp_certificate_points": cert["points"],
        "lp_certificate_share_within_gap": cert["share_within_gap"],
        "lp_relaxation_gap_median": cert["median_gap"],
        "lp_relaxation_gap_max": cert["max_gap"],
        "fast_path_ms_per_point": None,  # not implemented: see benchmarks/README.md
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--sample", type=int, default=40)
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "sweep_throughput.json")
    args = ap.parse_args()
    res = run(args.points, args.jobs, args.sample)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2) + "\n")
    w = max(len(k) for k in res)
    for k, v in res.items():
        print(f"{k:<{w}}  {v:.4g}" if isinstance(v, float) else f"{k:<{w}}  {v}")


if __name__ == "__main__":
    main()
