"""Where every second goes, per size, against HiGHS alone on the same model.

    python -m benchmarks.solve_scaling [--sizes reference small medium large xlarge] [--time-limit 300]

Each size runs in its own process (so peak memory is that run's alone): validation, preprocessing,
model build, hand-over to HiGHS, HiGHS's own run time (every stage: primary, tie-break, fixed-
integer LP, tokens LP), extraction, the text report, total wall time and peak memory. The floor
is HiGHS alone, in another process, reading the primary model from an MPS file the project
writes, with the same gap, threads and time limit. The headline is total wall / HiGHS alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "instances" / "gtc2026-1gw.yaml"
MIP_GAP = 1e-4


def _peak_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the process image; ru_maxrss would
    carry the parent's high-water mark across fork and exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_ours(path: str, time_limit: float) -> dict:
    """In this process: every stage of `optimizer solve` plus the text report."""
    import optimizer
    from optimizer.outputs.report import to_text

    t0 = time.perf_counter()
    inst = optimizer.load_instance(path)
    validate = time.perf_counter() - t0
    sol = optimizer.solve(inst, time_limit=time_limit, mip_gap=MIP_GAP)
    t = time.perf_counter()
    to_text(sol)
    report = time.perf_counter() - t
    total = time.perf_counter() - t0
    tm = sol.timings
    return {
        "status": sol.status, "mip_gap": sol.mip_gap, "tie_break_gap": sol.tie_break_gap,
        "variables": sol.model_size.variables, "integers": sol.model_size.integer_variables, "constraints": sol.model_size.constraints,
        "validate_s": validate, "preprocess_s": tm.get("preprocess", 0.0), "build_s": tm.get("build", 0.0),
        "handover_s": tm.get("handover", 0.0), "highs_s": tm.get("highs", 0.0),
        "extract_report_s": tm.get("extract", 0.0) + report, "total_s": total, "peak_mb": _peak_mb(),
    }


def write_mps(path: str, mps: str) -> None:
    """The model as MPS files written by the project's own model code: the primary (``mps``) and
    the tie-break of MODEL.md section 7 (``mps`` + ``.tie.mps``), which holds the primary at the
    optimum that HiGHS finds for the first file and minimises COST (F for profit and min_cost)."""
    import pyomo.environ as pyo

    import optimizer
    from optimizer.solving.engine import SECOND_STAGE_TOL
    from optimizer.model.families import SENSE, build_model, objective_expr, set_objective
    from optimizer.model.preprocess import preprocess
    from optimizer.solving.highs import HighsAdapter, SolverOptions

    inst = optimizer.load_instance(path)
    m = build_model(preprocess(inst))
    name = inst.objective.value
    primary = objective_expr(m, name)
    set_objective(m, primary, SENSE[name])
    m.write(mps, io_options={"symbolic_solver_labels": False})
    z = HighsAdapter(SolverOptions(mip_gap=MIP_GAP, threads=None)).solve(m, None).objective
    tol = SECOND_STAGE_TOL * max(abs(z), 1e-9)
    m.primary_floor = pyo.Constraint(expr=primary >= z - tol if SENSE[name] == "max" else primary <= z + tol)
    set_objective(m, m.facility_mw if name in ("profit", "min_cost") else m.cost, "min")
    m.write(mps + ".tie.mps", io_options={"symbolic_solver_labels": False})


def run_floor(mps: str, time_limit: float) -> dict:
    """In this process: HiGHS alone reads the MPS files and solves them with the same options:
    the primary, then the tie-break with the same budget as `optimizer solve` gives it."""
    import highspy

    from optimizer.solving.highs import DEFAULT_THREADS, new_highs

    def solve(file, limit):
        h = new_highs(DEFAULT_THREADS)  # the same thread count as optimizer solve, the pool made to match
        if h.readModel(file) != highspy.HighsStatus.kOk:
            raise RuntimeError(f"HiGHS cannot read {file}")
        h.setOptionValue("mip_rel_gap", MIP_GAP)
        h.setOptionValue("time_limit", float(limit))
        t = time.perf_counter()
        h.run()
        return str(h.getModelStatus()).split(".")[-1], time.perf_counter() - t

    t0 = time.perf_counter()
    status, primary = solve(mps, time_limit)
    wall = time.perf_counter() - t0
    _, tie = solve(mps + ".tie.mps", max(1.0, primary))
    return {"status": status, "highs_s": primary, "wall_s": wall, "tie_s": tie, "stages_wall_s": time.perf_counter() - t0,
            "peak_mb": _peak_mb()}


def _child(kind: str, *args) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.solve_scaling", "--child", kind, *map(str, args)],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def instance_file(size: str, tmp: Path) -> Path:
    if size == "reference":
        return REFERENCE
    from benchmarks.generate import SIZES, synthetic

    path = tmp / f"{size}.yaml"
    path.write_text(yaml.safe_dump(synthetic(*SIZES[size]), sort_keys=False))
    return path


def measure(sizes: list[str], time_limit: float) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for size in sizes:
            path = instance_file(size, tmp)
            ours = _child("ours", path, time_limit)
            mps = tmp / f"{size}.mps"
            _child("mps", path, mps)
            floor = _child("floor", mps, time_limit)
            rows.append({"size": size, **ours, "floor": floor,
                         "overhead_ratio": ours["total_s"] / floor["wall_s"],
                         "overhead_vs_same_stages": ours["total_s"] / floor["stages_wall_s"],
                         "overhead_vs_own_highs": ours["total_s"] / max(ours["highs_s"], 1e-9),
                         "memory_ratio": ours["peak_mb"] / floor["peak_mb"]})
            print(_line(rows[-1]), flush=True)
    return rows


HEAD = ("size", "vars", "ints", "cons", "valid", "prep", "build", "hand", "HiGHS", "extr+rep", "total", "peak MB",
        "alone: primary", "alone: +tie-break", "alone MB", "total/alone primary", "total/alone stages", "total/own HiGHS", "mem ratio", "tie gap")


def _line(r: dict) -> str:
    f = r["floor"]
    cells = [r["size"], r["variables"], r["integers"], r["constraints"], *(f"{r[k]:.3f}" for k in ("validate_s", "preprocess_s", "build_s", "handover_s", "highs_s", "extract_report_s", "total_s")),
             f"{r['peak_mb']:.0f}", f"{f['wall_s']:.3f}", f"{f['stages_wall_s']:.3f}", f"{f['peak_mb']:.0f}", f"{r['overhead_ratio']:.2f}",
             f"{r['overhead_vs_same_stages']:.2f}", f"{r['overhead_vs_own_highs']:.2f}",
             f"{r['memory_ratio']:.2f}", "-" if r["tie_break_gap"] is None else f"{r['tie_break_gap']:.2g}"]
    return " | ".join(str(c) for c in cells)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["reference", "small", "medium", "large", "xlarge"])
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "solve_scaling.json")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        kind, *args = a.child
        if kind == "ours":
            print(json.dumps(run_ours(args[0], float(args[1]))))
        elif kind == "mps":
            write_mps(args[0], args[1])
            print("{}")
        else:
            print(json.dumps(run_floor(args[0], float(args[1]))))
        return
    print(" | ".join(HEAD))
    rows = measure(a.sizes, a.time_limit)
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps({"date": date.today().isoformat(), "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                                                                              "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)},
                                  "mip_gap": MIP_GAP, "time_limit_s": a.time_limit, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
