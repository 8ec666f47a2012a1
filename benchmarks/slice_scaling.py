"""Slices of the year (MODEL.md section 12): build and solve time by slice count, against HiGHS alone.

    python -m benchmarks.slice_scaling [--slices 1 4 12 24] [--size large] [--time-limit 600] [--threads 1]

The large synthetic instance of ``solve_scaling`` (``benchmarks/generate.py``) with 1, 4, 12 and
24 equal slices of a representative day (``generate.with_slices``: demand caps, prices,
electricity, cooling and grid by slice, batch tiers shiftable, idle racks drawing less), solved
three times, each in its own process:

1. ``ours``: ``optimizer.solve`` on the instance file, wall time from the call to its return, with
   its per-stage timings (validate, preprocess, build, hand-over, HiGHS, extract, check) and the
   HiGHS run time of each of its runs (primary MIP, tie-break MIP, fixed-integer LPs).
2. ``capture``: the same solve, with every HiGHS run preceded by a copy of the model HiGHS holds
   at that moment (``getLp()``, exact arrays), the options it runs with (``writeOptions``) and the
   MIP start it was given, if any. Nothing is timed here.
3. ``floor``: plain highspy, no Pyomo and no optimizer code on the path, passing each captured
   model with its captured options (so the same thread count, MIP gap and time limits) and
   start, timing ``run()``. HiGHS alone on the primary model is the headline floor; HiGHS alone on
   every stage ``optimizer solve`` runs is the second.

Ratios are taken within one run (the three processes run back to back), so load from other
work on the machine falls on both sides. Results: ``benchmarks/results/slice_scaling.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MIP_GAP = 1e-4
SLICES = [1, 4, 12, 24]


def instance_file(size: str, slices: int, tmp: Path, objective: str | None = None) -> Path:
    """The synthetic instance of ``size`` with ``slices`` equal slices of the year, as a file."""
    from benchmarks.generate import SIZES, synthetic, with_slices

    inst = with_slices(synthetic(*SIZES[size]), slices)
    if objective:
        inst["objective"] = objective
    path = tmp / f"{size}-{slices}sl.yaml"
    path.write_text(yaml.safe_dump(inst, sort_keys=False))
    return path


def _stage_names(n: int) -> list[str]:
    """The HiGHS runs of one solve, in order: the primary MIP, the LP with its integers fixed that
    certifies its bound (engine._certify), the tie-break MIP, then the LPs with the integers fixed
    (shadow prices, then what the primary leaves to settle)."""
    return ["primary", "certificate", "tie-break", *(f"fixed-integer LP {i + 1}" for i in range(n - 3))][:n]


STAGES = ("validate", "preprocess", "build", "handover", "highs", "extract", "check")


def run_ours(path: str, time_limit: float, threads: int, profile: str | None = None) -> dict:
    """In this process: ``optimizer.solve`` on the file, its stage timings and HiGHS's time per run."""
    sol, row = timed_solve(path, time_limit, threads, profile)
    return {**row, "solver_options": sol.solver_options}


def timed_solve(path: str, time_limit: float, threads: int, profile: str | None = None, stages: tuple = STAGES,
                **solve_kw) -> tuple:
    """``optimizer.solve(path, ..., **solve_kw)`` in this process, HiGHS's own time of each run
    recorded, a cProfile to ``profile`` if given: the solution, and its row of sizes and seconds
    (each of ``stages``, the MIPs' and LPs' HiGHS time, the rest unaccounted, the total)."""
    import optimizer
    from optimizer.solving import highs as adapter_module

    runs: list[float] = []  # HiGHS's own run time of each adapter run, in order
    solve_once = adapter_module.HighsAdapter.solve

    def recorded(self, *args, **kwargs):  # reads a clock the adapter keeps anyway
        res = solve_once(self, *args, **kwargs)
        runs.append(res.seconds)
        return res

    adapter_module.HighsAdapter.solve = recorded
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t0 = time.perf_counter()
    sol = optimizer.solve(path, time_limit=time_limit, mip_gap=MIP_GAP, threads=threads, **solve_kw)
    total = time.perf_counter() - t0
    if prof is not None:
        prof.disable()
        prof.dump_stats(profile)
    tm = sol.timings
    stages = {k: tm.get(k, 0.0) for k in stages}
    mip_runs = runs[:2]
    return sol, {
        "status": sol.status, "objective": sol.objective.value, "mip_gap": sol.mip_gap, "tie_break_gap": sol.tie_break_gap,
        "variables": sol.model_size.variables, "integers": sol.model_size.integer_variables, "constraints": sol.model_size.constraints,
        **{f"{k}_s": v for k, v in stages.items()},
        "build_total_s": stages["preprocess"] + stages["build"] + stages["handover"],
        "primary_highs_s": mip_runs[0] if mip_runs else 0.0,
        "tie_break_highs_s": mip_runs[1] if len(mip_runs) > 1 else 0.0,
        "lp_highs_s": max(stages["highs"] - sum(mip_runs), 0.0),
        "adapter_runs": len(runs),
        "unaccounted_s": total - sum(stages.values()),  # outside every timed stage (e.g. per-slice limits, Solution)
        "total_s": total,
    }


def capture(path: str, time_limit: float, threads: int, out: str) -> dict:
    """In this process: the same solve, every HiGHS run preceded by a copy of its model, options
    and start (``out``/run-<i>.npz, .options, .start.npy). Returns the runs' count."""
    import highspy
    import numpy as np

    import optimizer

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    state = {"runs": 0, "start": None}
    set_start = highspy.Highs.setSolution
    run = highspy.Highs.run

    def remembered(self, *args):  # the adapter's MIP start, as HiGHS is given it
        sol = args[-1]
        if isinstance(sol, highspy.HighsSolution):
            state["start"] = np.array(sol.col_value, dtype=float)
        return set_start(self, *args)

    def copied(self):
        i = state["runs"]
        state["runs"] += 1
        lp = self.getLp()
        a = lp.a_matrix_
        np.savez(folder / f"run-{i}.npz", col_cost=np.asarray(lp.col_cost_), col_lower=np.asarray(lp.col_lower_),
                 col_upper=np.asarray(lp.col_upper_), row_lower=np.asarray(lp.row_lower_), row_upper=np.asarray(lp.row_upper_),
                 start=np.asarray(a.start_), index=np.asarray(a.index_), value=np.asarray(a.value_),
                 format=int(a.format_), integrality=np.asarray([int(x) for x in lp.integrality_], dtype=np.uint8),
                 sense=int(lp.sense_), offset=float(lp.offset_), num_col=lp.num_col_, num_row=lp.num_row_)
        self.writeOptions(str(folder / f"run-{i}.options"))
        if state["start"] is not None:
            np.save(folder / f"run-{i}.start.npy", state["start"])
            state["start"] = None
        return run(self)

    highspy.Highs.setSolution = remembered
    highspy.Highs.run = copied
    sol = optimizer.solve(path, time_limit=time_limit, mip_gap=MIP_GAP, threads=threads)
    return {"runs": state["runs"], "status": sol.status, "objective": sol.objective.value}


def _load_lp(file: Path):
    import highspy
    import numpy as np

    z = np.load(file)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = int(z["num_col"]), int(z["num_row"])
    for key in ("col_cost", "col_lower", "col_upper", "row_lower", "row_upper"):
        setattr(lp, key + "_", z[key])
    lp.a_matrix_.format_ = highspy.MatrixFormat(int(z["format"]))
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = lp.num_col_, lp.num_row_
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = z["start"], z["index"], z["value"]
    if len(z["integrality"]):
        lp.integrality_ = [highspy.HighsVarType(int(v)) for v in z["integrality"]]
    lp.sense_ = highspy.ObjSense(int(z["sense"]))
    lp.offset_ = float(z["offset"])
    return lp


def run_floor(folder: str, runs: int, threads: int) -> dict:
    """In this process: plain highspy on each captured run, with its options and start."""
    import highspy
    import numpy as np

    from optimizer.solving.highs import new_highs  # silent, and this process's thread pool made to match

    folder = Path(folder)
    out = []
    for i, name in enumerate(_stage_names(runs)):
        h = new_highs(threads)
        h.readOptions(str(folder / f"run-{i}.options"))
        h.setOptionValue("output_flag", False)
        if h.passModel(_load_lp(folder / f"run-{i}.npz")) != highspy.HighsStatus.kOk:
            raise RuntimeError(f"HiGHS refuses the captured model of run {i}")
        start = folder / f"run-{i}.start.npy"
        if start.exists():
            sol = highspy.HighsSolution()
            sol.col_value = np.load(start).tolist()
            h.setSolution(sol)
        t = time.perf_counter()
        h.run()
        wall = time.perf_counter() - t
        info = h.getInfo()
        out.append({"stage": name, "status": h.modelStatusToString(h.getModelStatus()), "wall_s": wall,
                    "highs_s": h.getRunTime(), "objective": info.objective_function_value, "mip_gap": info.mip_gap,
                    "threads": h.getOptionValue("threads")[1], "mip_rel_gap": h.getOptionValue("mip_rel_gap")[1],
                    "time_limit": h.getOptionValue("time_limit")[1], "mip_start": start.exists()})
    return {"runs": out, "primary_s": out[0]["wall_s"], "stages_s": sum(r["wall_s"] for r in out)}


def _child(kind: str, *args) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.slice_scaling", "--child", kind, *map(str, args)],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(f"slice_scaling child {kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(slices: list[int], size: str = "large", time_limit: float = 600.0, threads: int = 1,
            objective: str | None = None, profile_dir: Path | None = None) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in slices:
            path = instance_file(size, n, tmp, objective)
            prof = [str(profile_dir / f"{size}-{n}sl.prof")] if profile_dir else []
            ours = _child("ours", path, time_limit, threads, *prof)
            cap = _child("capture", path, time_limit, threads, tmp / f"runs-{n}")
            floor = _child("floor", tmp / f"runs-{n}", cap["runs"], threads)
            row = {"size": size, "slices": n, **ours, "captured_objective": cap["objective"], "captured_status": cap["status"], "floor": floor,
                   "ratio_primary": ours["total_s"] / floor["primary_s"],
                   "ratio_stages": ours["total_s"] / floor["stages_s"],
                   "build_ratio": ours["build_total_s"] / floor["primary_s"]}
            rows.append(row)
            print(_line(row), flush=True)
    return rows


HEAD = ("slices", "vars", "ints", "cons", "validate", "preprocess", "build", "hand-over", "build total", "HiGHS primary",
        "HiGHS tie-break", "HiGHS LPs", "extract", "check", "other", "total", "alone: primary", "alone: all stages",
        "total/alone primary", "total/alone stages", "tie gap")


def _line(r: dict) -> str:
    f = r["floor"]
    cells = [r["slices"], r["variables"], r["integers"], r["constraints"],
             *(f"{r[k]:.3f}" for k in ("validate_s", "preprocess_s", "build_s", "handover_s", "build_total_s", "primary_highs_s",
                                       "tie_break_highs_s", "lp_highs_s", "extract_s", "check_s", "unaccounted_s", "total_s")),
             f"{f['primary_s']:.3f}", f"{f['stages_s']:.3f}", f"{r['ratio_primary']:.2f}", f"{r['ratio_stages']:.2f}",
             "-" if r["tie_break_gap"] is None else f"{r['tie_break_gap']:.2g}"]
    return " | ".join(str(c) for c in cells)



def write_results(path: Path, **fields) -> None:
    """A benchmark's JSON record: the date, the machine, the versions, the code measured (this
    checkout's commit, or that of an exported copy, ``git archive``, its commit in COMMIT), then
    ``fields`` in their order."""
    from optimizer.solving.engine import versions

    def git(*args):
        out = subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT)
        return out.stdout.strip() if out.returncode == 0 else None

    stamp = ROOT / "COMMIT"
    commit = git("rev-parse", "HEAD") or (stamp.read_text().strip() if stamp.exists() else None)
    code = {"root": str(ROOT), "commit": commit, "optimizer_modified": bool(git("status", "--porcelain", "--", "optimizer"))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "date": date.today().isoformat(),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
                    "load_average_at_end": list(os.getloadavg())},
        "versions": versions(), "code": code, **fields}, indent=2) + "\n")

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", nargs="+", type=int, default=SLICES)
    ap.add_argument("--size", default="large", help="a size of benchmarks.generate.SIZES (default: large, as solve_scaling)")
    ap.add_argument("--objective", default=None, help="override the instance's objective (revenue)")
    ap.add_argument("--time-limit", type=float, default=600.0, help="seconds per solve, both sides (default 600)")
    ap.add_argument("--threads", type=int, default=1, help="HiGHS threads on both sides (default 1, optimizer solve's default)")
    ap.add_argument("--profile", type=Path, default=None, help="a folder for a cProfile of each ours run (slows it)")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "slice_scaling.json")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        kind, *args = a.child
        if kind == "ours":
            print(json.dumps(run_ours(args[0], float(args[1]), int(args[2]), args[3] if len(args) > 3 else None)))
        elif kind == "capture":
            print(json.dumps(capture(args[0], float(args[1]), int(args[2]), args[3])))
        else:
            print(json.dumps(run_floor(args[0], int(args[1]), int(args[2]))))
        return
    if a.profile:
        a.profile.mkdir(parents=True, exist_ok=True)
    print(" | ".join(HEAD), flush=True)
    rows = measure(a.slices, a.size, a.time_limit, a.threads, a.objective, a.profile)
    write_results(a.json, size=a.size, mip_gap=MIP_GAP, threads=a.threads, time_limit_s=a.time_limit, rows=rows)


if __name__ == "__main__":
    main()
