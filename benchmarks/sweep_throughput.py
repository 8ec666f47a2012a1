"""Sweep throughput on instances/gtc2026-1gw.yaml, all figures from one run.

    python -m benchmarks.sweep_throughput [--points 1000] [--jobs 2] [--sample 40]

Measures (1) points per second of an N-point grid sweep through the sweep engine (worker
processes, one HiGHS thread each), and (2) per point, in this process, on a sample of the
same points: the full path (validate, preprocess, build the Pyomo model, every solve stage,
extract) against HiGHS's own run time inside it. The second ratio bounds what any faster
path (in-place updates, warm starts) could gain while still running HiGHS for every stage.
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

import optimizer
from optimizer.scenarios import SweepSpec, apply, points
from optimizer.schema import read_document
from optimizer.sweeps import run_sweep

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
