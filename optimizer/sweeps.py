"""Run a sweep: one row per point, written as points finish, resumable, in parallel.

Rows go to a journal (``<output>.journal.jsonl``, one JSON row per line, flushed and synced)
the moment a point finishes; a killed sweep loses nothing already solved. ``resume=True``
reads the journal, solves only the points missing from it, and writes the final file (Parquet
or CSV by suffix) sorted by point, so that a resumed sweep gives the same file as an
uninterrupted one. Points run in worker processes (one HiGHS thread each), or on a Dask
cluster when a scheduler address is given.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pandas as pd

from .engine import solve
from .errors import InputError, Issue
from .scenarios import Point, SweepSpec, apply, fingerprint, load_sweep, points
from .schema import parse_instance

METRICS = (
    "revenue_usd_per_year", "cost_usd_per_year", "profit_usd_per_year", "tokens_per_s", "tokens_per_joule",
    "facility_power_mw", "it_power_mw", "network_power_mw", "cooling_power_mw", "losses_mw", "capex_usd",
)


def solve_point(base: dict, spec: SweepSpec, point: Point) -> dict[str, Any]:
    """Solve one point and return its row; never raises for a bad point (it becomes a row)."""
    row: dict[str, Any] = {"point": point.index, "scenario": point.scenario or ""}
    row.update({path: value for path, value in point.values})
    try:
        doc = apply(base, point.overrides(spec))
        inst = parse_instance(doc, f"point {point.index}")
    except InputError as exc:
        row.update(status="invalid", message="; ".join(str(i) for i in exc.issues))
        return row
    except (KeyError, ValueError) as exc:
        row.update(status="invalid", message=str(exc))
        return row
    try:
        sol = solve(inst, objective=spec.objective.value if spec.objective else None,
                    time_limit=spec.time_limit, mip_gap=spec.mip_gap, threads=1)
    except Exception as exc:  # a solver failure is a row, never the end of the sweep
        row.update(status="error", message=f"{type(exc).__name__}: {exc}")
        return row
    row.update(
        status=sol.status,
        message=sol.message,
        objective=sol.objective.name,
        objective_value=sol.objective.value,
        objective_unit=sol.objective.unit,
        mip_gap=sol.mip_gap,
        tie_break_gap=sol.tie_break_gap,  # > 0: the tie-break stopped at its time budget (timing-dependent)
        warnings="; ".join(sol.warnings),
        threads=sol.solver_options.get("threads"),
        solver_options=json.dumps(sol.solver_options, sort_keys=True),
        **{f"{package}_version": v for package, v in sol.versions.items()},  # what the point was solved with
    )
    if sol.periods:  # multi-year: the horizon totals, and racks alive / retired early per period
        row.update(sol.metrics.model_dump())
        for p in sol.periods:
            for h in inst.hardware:
                row[f"racks[{h.name}][{p.year}]"] = sum(r.alive for r in p.racks if r.hardware == h.name)
        row["retired_early_racks"] = sum(e.racks for e in sol.refresh)
        row["fabric"] = next((f"{p.fabric.option}:{p.fabric.switch_tiers}" for p in sol.periods if p.fabric), "")
    elif sol.metrics is not None:
        row.update({k: getattr(sol.metrics, k) for k in METRICS})
        for h in inst.hardware:
            row[f"racks[{h.name}]"] = sum(r.count for r in sol.racks if r.hardware == h.name)
        for t in sol.tiers:
            row[f"tokens_per_s[{t.tier}]"] = t.tokens_per_s
        row["fabric"] = f"{sol.fabric.option}:{sol.fabric.switch_tiers}" if sol.fabric else ""
    return row


def journal_path(output: Path) -> Path:
    return output.with_name(output.name + ".journal.jsonl")


def _read_journal(path: Path, fp: str) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        head = fh.readline()
        if not head:
            return rows
        if json.loads(head).get("fingerprint") != fp:
            raise InputError(str(path), [Issue("", "this journal belongs to another sweep (the sweep file or its base instance changed); remove it or write to another output")])
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a row cut by a kill: that point is solved again
    return rows


def _write_final(rows: list[dict], output: Path, spec: SweepSpec) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if not df.empty:
        df = df.sort_values("point", kind="stable").drop_duplicates("point", keep="first").reset_index(drop=True)
        first = ["point", "scenario", *[p.path for p in spec.parameters], "status", "message", "objective", "objective_value",
                 "objective_unit", "mip_gap", "tie_break_gap", *METRICS]
        rest = sorted(c for c in df.columns if c not in first)
        df = df[[c for c in first if c in df.columns] + rest]
    tmp = output.with_name(output.name + ".tmp")
    if output.suffix.lower() == ".csv":
        df.to_csv(tmp, index=False)
    else:
        df.to_parquet(tmp, index=False)
    os.replace(tmp, output)
    return df


def _local(base, spec, todo: list[Point], jobs: int) -> Iterator[dict]:
    if jobs <= 1:
        for p in todo:
            yield solve_point(base, spec, p)
        return
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("fork")) as pool:
        futures = [pool.submit(solve_point, base, spec, p) for p in todo]
        for fut in as_completed(futures):
            yield fut.result()


def _dask(base, spec, todo: list[Point], scheduler: str) -> Iterator[dict]:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise InputError(scheduler, [Issue("--scheduler", "Dask is not installed: pip install 'optimizer[dask]'")]) from None

    with Client(scheduler) as client:
        base_f = client.scatter(base, broadcast=True)
        futures = client.map(solve_point, [base_f] * len(todo), [spec] * len(todo), todo, pure=False)
        for fut in dask_completed(futures):
            yield fut.result()


def run_sweep(
    spec: SweepSpec,
    base: dict,
    output: Path | None = None,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Solve every point of a sweep and return the rows (also written to ``output`` if given)."""
    pts = points(spec)
    done: list[dict] = []
    journal = None
    if output is not None:
        output = Path(output)
        journal = journal_path(output)
        fp = fingerprint(spec, base)
        if journal.exists():
            if resume:
                done = _read_journal(journal, fp)
            elif not overwrite:
                raise InputError(str(journal), [Issue("", "a partial sweep is here: run with --resume to finish it, or --overwrite to start again")])
        elif resume and output.exists():
            return pd.read_csv(output) if output.suffix.lower() == ".csv" else pd.read_parquet(output)
        if not done:
            with journal.open("w", encoding="utf-8") as fh:
                fh.write(json.dumps({"fingerprint": fp, "points": len(pts)}) + "\n")
    finished = {r["point"] for r in done}
    todo = [p for p in pts if p.index not in finished]
    rows = list(done)
    if progress:
        progress(len(rows), len(pts))
    source: Iterable[dict] = (
        _dask(base, spec, todo, scheduler) if scheduler else _local(base, spec, todo, jobs or os.cpu_count() or 1)
    )
    fh = journal.open("a", encoding="utf-8") if journal else None
    try:
        for row in source:
            rows.append(row)
            if fh:
                fh.write(json.dumps(row, default=str) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            if progress:
                progress(len(rows), len(pts))
    finally:
        if fh:
            fh.close()
    if output is None:
        return pd.DataFrame(rows).sort_values("point").reset_index(drop=True)
    df = _write_final(rows, output, spec)
    journal.unlink(missing_ok=True)
    return df


def sweep(
    spec: str | Path | SweepSpec,
    output: str | Path | None = None,
    *,
    base: dict | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Python API: run a sweep file (or a spec with its ``base`` document) and return a DataFrame."""
    if not isinstance(spec, SweepSpec):
        spec, base, _ = load_sweep(spec)
    elif base is None:
        raise ValueError("a SweepSpec needs its base instance document (base=...)")
    return run_sweep(spec, base, Path(output) if output else None, jobs=jobs, scheduler=scheduler, resume=resume, overwrite=overwrite)
