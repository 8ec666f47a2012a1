"""Run a sweep: one row per point, written as points finish, resumable, in parallel.

Rows go to a journal (``<output>.journal.jsonl``, one JSON row per line, flushed and synced)
the moment a point finishes; a killed sweep loses nothing already solved. ``resume=True``
reads the journal, solves only the points missing from it, and writes the final file (Parquet
or CSV by suffix) sorted by point, so that a resumed sweep gives the same file as an
uninterrupted one. Points run in worker processes (one HiGHS thread each), or on a Dask
cluster when a scheduler address is given.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError, Issue
from ..model.schema import Instance, parse_instance
from ..solving.engine import solve
from ..solving.results import ScenarioOutcome, SliceResult, Solution, StochasticResult, fleet
from .scenarios import Point, SweepSpec, apply, fingerprint, journal_path, load_sweep, points

METRICS = (
    "revenue_usd_per_year", "cost_usd_per_year", "profit_usd_per_year", "tokens_per_s", "tokens_per_joule",
    "facility_power_mw", "it_power_mw", "network_power_mw", "cooling_power_mw", "losses_mw", "capex_usd",
)
# a stochastic point's figures of section 13.3 (the regret ones only with the sweep's regret: true)
OUTLOOK = ("expected", "cvar", "worst", "worst_scenario")
REGRET = ("wait_and_see", "evpi", "vss")


def solve_point(base: dict, spec: SweepSpec, point: Point) -> dict[str, Any]:
    """Solve one point and return its row; never raises for a bad point (it becomes a row)."""
    row: dict[str, Any] = {"point": point.index, "scenario": point.scenario or ""}
    row.update({path: _cell(value) for path, value in point.values})
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
        sol = solve(inst, objective=spec.objective.value if spec.objective else None, time_limit=spec.time_limit,
                    mip_gap=spec.mip_gap, threads=1, marginal_values=spec.marginal_values, regret=spec.regret)
    except InputError as exc:  # a rule only the solve can check (CVaR with the sweep's objective tokens_per_watt)
        row.update(status="invalid", message="; ".join(str(i) for i in exc.issues))
        return row
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
    row.update(plan_columns(sol, inst))
    if sol.uncertainty is not None:
        row.update(outlook_columns(sol.uncertainty, spec.regret))
        for outcome in sol.uncertainty.scenarios:
            row.update(scenario_columns(outcome, inst))
    for v in sol.marginal_values:  # asked for (marginal_values: true): per unit of the limit, in objective_unit
        row[f"marginal_value_up[{v.limit}]"] = v.value_up
        row[f"marginal_value_down[{v.limit}]"] = v.value_down
    return row


def plan_columns(sol: Solution, inst: Instance) -> dict[str, Any]:
    """The plan's figures: its metrics (a stochastic plan's: their expectation), racks per
    hardware (per year with a horizon), the fabric, tokens per tier and the slices' figures (a
    stochastic plan has slices only per scenario: ``scenario_columns``)."""
    out: dict[str, Any] = {}
    if sol.metrics is None:
        return out
    # the capacity is the first stage, the same in every future: a stochastic plan's periods are its scenarios'
    schedule = fleet(sol)
    periods = schedule.periods if schedule is not None else []
    if periods:  # multi-year: the horizon totals, and racks alive / retired early per period
        out.update(sol.metrics.model_dump())
        for p in periods:
            for h in inst.hardware:
                out[f"racks[{h.name}][{p.year}]"] = sum(r.alive for r in p.racks if r.hardware == h.name)
        out["retired_early_racks"] = sum(e.racks for e in sol.refresh)
        out["fabric"] = next((f"{p.fabric.option}:{p.fabric.switch_tiers}" for p in periods if p.fabric), "")
        for p in sol.periods:
            out.update(slice_columns(p.slices, inst, f"[{p.year}]"))
    else:
        out.update({k: getattr(sol.metrics, k) for k in METRICS})
        for h in inst.hardware:
            out[f"racks[{h.name}]"] = sum(r.count for r in sol.racks if r.hardware == h.name)
        for t in sol.tiers:
            out[f"tokens_per_s[{t.tier}]"] = t.tokens_per_s
        out["fabric"] = f"{sol.fabric.option}:{sol.fabric.switch_tiers}" if sol.fabric else ""
        out.update(slice_columns(sol.slices, inst))
    return out


def outlook_columns(unc: StochasticResult, regret: bool) -> dict[str, Any]:
    """A stochastic plan's figures of MODEL.md section 13.3, in the objective's unit: E[Z]
    (``expected``; ``objective_value`` is the objective solved for, with risk (1 - w) E[Z] + w
    CVaR), ``cvar`` at ``cvar_alpha`` (null for tokens_per_watt), the ``worst`` scenario's value
    and its name; with ``regret`` (the sweep's option) also ``wait_and_see``, ``evpi`` and
    ``vss`` (null where a plan cannot meet some scenario: ``uncertainty_notes`` says which)."""
    out: dict[str, Any] = {k: getattr(unc, k) for k in OUTLOOK}
    out.update(cvar_alpha=unc.alpha, risk_weight=unc.weight, uncertainty_notes="; ".join(unc.notes))
    if regret:
        out.update({k: getattr(unc, k) for k in REGRET})
    return out


def scenario_columns(outcome: ScenarioOutcome, inst: Instance) -> dict[str, Any]:
    """One future of a stochastic plan (section 13.3), named ``scenario[NAME].FIGURE``: its
    probability, its objective value (``objective_value``, in ``objective_unit``), its metrics
    (the horizon's totals with one), tokens per tier and, with slices, every slice figure of
    ``slice_columns`` (``scenario[NAME].slice[SLICE].facility_power_mw``, ``[YEAR]`` last)."""
    sol = outcome.solution
    figures: dict[str, Any] = {"probability": outcome.probability, "objective_value": outcome.value}
    if sol.metrics is not None:
        figures.update(sol.metrics.model_dump())
    if sol.periods:
        for p in sol.periods:
            figures.update(slice_columns(p.slices, inst, f"[{p.year}]"))
    else:
        for t in sol.tiers:
            figures[f"tokens_per_s[{t.tier}]"] = t.tokens_per_s
        figures.update(slice_columns(sol.slices, inst))
    return {f"scenario[{outcome.name}].{k}": v for k, v in figures.items()}


def _cell(value: Any) -> Any:
    """A swept value as a row holds it: a map (a value by slice or by year) or a list as its
    JSON text, so that one column keeps one type in Parquet."""
    return json.dumps(value) if isinstance(value, (dict, list)) else value


def slice_columns(slices: list[SliceResult], inst: Instance, year: str = "") -> dict[str, float]:
    """A sliced plan's figures per slice of the year (MODEL.md section 12.4), named
    ``slice[NAME].FIGURE`` (and ``[HARDWARE]`` or ``[TIER]`` for one hardware's or tier's; with a
    horizon, ``[YEAR]`` last, as ``racks[HARDWARE][YEAR]``): facility, IT and grid power (MW),
    output tokens/s, revenue and energy cost (what the slice's hours contribute to the year),
    and per hardware the busy rack-equivalents and utilisation (busy / racks, 0 to 1). An
    instance without slices has none."""
    out: dict[str, float] = {}
    for s in slices:
        head = f"slice[{s.name}]"
        out.update({
            f"{head}.facility_power_mw{year}": s.power.total_mw,
            f"{head}.it_power_mw{year}": s.power.it_mw,
            f"{head}.grid_power_mw{year}": s.power.grid_mw,
            f"{head}.tokens_per_s{year}": s.tokens_per_s,
            f"{head}.revenue_usd_per_year{year}": s.revenue_usd_per_year,
            f"{head}.energy_usd_per_year{year}": s.energy_usd_per_year,
        })
        for t in s.tiers:
            out[f"{head}.tokens_per_s[{t.tier}]{year}"] = t.tokens_per_s
        busy = {b.hardware: b for b in s.utilisation}
        for h in inst.hardware:
            b = busy.get(h.name)
            out[f"{head}.busy_racks[{h.name}]{year}"] = b.busy_racks if b else 0.0
            out[f"{head}.utilisation[{h.name}]{year}"] = b.utilisation if b else 0.0
    return out


class SweepInterrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM stopped the sweep; the journal holds only the points that
    finished. ``signum``: the signal that stopped it."""

    def __init__(self, done: int, total: int, signum: int = signal.SIGINT):
        self.done, self.total, self.signum = done, total, signum
        word = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
        super().__init__(f"{word}: {done} of {total} points solved; run again with --resume")


class SweepWriteError(Exception):
    """The journal or the result file could not be written (disk full, file too large, an I/O
    error). What was journaled before stays, so ``--resume`` finishes the sweep once the
    fault is gone; no partial result file is left."""

    def __init__(self, path: Path, exc: OSError, done: int, total: int):
        self.path, self.errno, self.done, self.total = path, exc.errno, done, total
        reason = os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__
        super().__init__(f"cannot write {path}: {reason}; {done} of {total} points solved and journaled: "
                         "free space (or lift the limit) and run again with --resume")


def interrupted(status: str | None, message: str | None) -> bool:
    """A solve that HiGHS stopped because of Ctrl-C: it reports an error whose message says so
    ("interrupted", or "Exception KeyboardInterrupt" from its callback), never a result."""
    return status == "error" and "interrupt" in (message or "").lower()


@contextlib.contextmanager
def sigint_flag(sigterm: bool = False) -> Iterator[list]:
    """While inside, SIGINT (and SIGTERM too if ``sigterm``) raises KeyboardInterrupt and sets
    ``flag[0]`` to the signal's number: HiGHS catches the exception and returns as if the solve
    had failed, the flag tells the truth. While ``flag[1]`` is true (a write that must not be
    cut) the signal only sets the flag, and the holder raises when done. Only in the main
    thread, and only for a signal whose handler is Python's default (a process that handles it
    itself, as a service's sweep process does SIGTERM, keeps its own)."""
    flag: list = [0, False]
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    mine = [s for s in ((signal.SIGINT, signal.SIGTERM) if sigterm else (signal.SIGINT,))
            if signal.getsignal(s) is defaults[s]]

    def handler(signum, frame):
        flag[0] = flag[0] or signum
        if not flag[1]:
            raise KeyboardInterrupt

    for s in mine:
        signal.signal(s, handler)
    try:
        yield flag
    finally:
        for s in mine:
            signal.signal(s, defaults[s])


def _read_journal(path: Path, fp: str, total: int) -> tuple[list[dict], int | None]:
    """The journal's rows and the byte length of its complete lines (to truncate a last line
    torn by a kill or a full disk before appending; None: no header, start the journal again).

    Only a torn last line is forgiven (that point is solved again); anything else (a line that
    is not a row, a point outside the sweep, one point with two different rows, a foreign or
    headerless journal) is an InputError naming the journal, the line and the rule."""
    source = str(path)
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1  # after the last complete line; a torn tail is dropped
    lines = data[:end].split(b"\n")[:-1]
    if not lines:
        return [], None  # nothing complete, not even the header: the sweep starts again

    def bad(lineno: int, rule: str) -> InputError:
        return InputError(source, [Issue(f"line {lineno}", rule)])

    try:
        head = json.loads(lines[0])
    except (json.JSONDecodeError, UnicodeDecodeError):
        head = None
    if not isinstance(head, dict) or "fingerprint" not in head:
        raise bad(1, "not a sweep journal (its first line is not the header with the sweep's fingerprint); remove it or write to another output")
    if head.get("fingerprint") != fp:
        raise bad(1, "this journal belongs to another sweep (the sweep file or its base instance changed); remove it or write to another output")
    rows: dict[int, dict] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise bad(lineno, "not a JSON row (only a torn last line is forgiven): the journal was edited or damaged; remove it or write to another output") from None
        point = row.get("point") if isinstance(row, dict) else None
        if not isinstance(point, int) or isinstance(point, bool) or not 0 <= point < total:
            raise bad(lineno, f"point {point!r} is not a point of this sweep (0 to {total - 1}); remove the journal or write to another output")
        if point in rows and rows[point] != row:
            raise bad(lineno, f"point {point} appears twice with different values; remove the journal or write to another output")
        rows[point] = row
    return list(rows.values()), end


def _write_final(rows: list[dict], output: Path, spec: SweepSpec) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if not df.empty:
        df = df.sort_values("point", kind="stable").drop_duplicates("point", keep="first").reset_index(drop=True)
        for p in spec.parameters:  # one type per column: where maps (JSON text) and numbers mix, all as JSON text
            if p.path in df.columns and len({isinstance(v, str) for v in df[p.path] if v is not None}) > 1:
                df[p.path] = [v if v is None or isinstance(v, str) else json.dumps(v) for v in df[p.path]]
        first = ["point", "scenario", *[p.path for p in spec.parameters], "status", "message", "objective", "objective_value",
                 "objective_unit", "mip_gap", "tie_break_gap", *METRICS, *OUTLOOK, *REGRET]
        rest = sorted(c for c in df.columns if c not in first)
        df = df[[c for c in first if c in df.columns] + rest]
    tmp = output.with_name(output.name + ".tmp")
    try:  # a temporary file renamed into place: the output is whole or absent, never cut short
        if output.suffix.lower() == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
        os.replace(tmp, output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return df


def _pool_worker_init(parent: int) -> None:
    """In each local worker: the kernel kills it when the sweep's process dies (even by
    SIGKILL: no orphan solving on), and Ctrl-C is left to that process, which ends the pool."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before the request reached the kernel
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _local(base, spec, todo: list[Point], jobs: int) -> Iterator[dict]:
    if jobs <= 1:
        for p in todo:
            yield solve_point(base, spec, p)
        return
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("fork"),
                               initializer=_pool_worker_init, initargs=(os.getpid(),))
    try:
        futures = [pool.submit(solve_point, base, spec, p) for p in todo]
        for fut in as_completed(futures):
            yield fut.result()
    except BaseException:  # stopped early (a signal, an error): the points being solved are dropped now
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.kill()
        raise
    finally:  # points not started are not started; every worker is waited for
        pool.shutdown(wait=True, cancel_futures=True)


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
    """Solve every point of a sweep and return the rows (also written to ``output`` if given).

    Ctrl-C or SIGTERM raises :class:`SweepInterrupted` (the points being solved are not
    journaled); a journal or result file that cannot be written raises :class:`SweepWriteError`
    (no partial result file is left; the journal keeps every row written before)."""
    pts = points(spec)
    done: list[dict] = []
    journal = None
    keep: int | None = None
    if output is not None:
        output = Path(output)
        journal = journal_path(output)
        fp = fingerprint(spec, base)
        if journal.exists():
            if resume:
                done, keep = _read_journal(journal, fp, len(pts))
            elif not overwrite:
                raise InputError(str(journal), [Issue("", "a partial sweep is here: run with --resume to finish it, or --overwrite to start again")])
        elif resume and output.exists():
            return pd.read_csv(output) if output.suffix.lower() == ".csv" else pd.read_parquet(output)
        try:
            if keep is not None:  # a line torn by a kill is cut away before rows are appended
                with journal.open("r+b") as fh:
                    fh.truncate(keep)
            else:
                with journal.open("w", encoding="utf-8") as fh:
                    fh.write(json.dumps({"fingerprint": fp, "points": len(pts)}) + "\n")
        except OSError as exc:
            raise SweepWriteError(journal, exc, len(done), len(pts)) from None
    finished = {r["point"] for r in done}
    todo = [p for p in pts if p.index not in finished]
    rows = list(done)
    if progress:
        progress(len(rows), len(pts))
    source: Iterable[dict] = (
        _dask(base, spec, todo, scheduler) if scheduler else _local(base, spec, todo, jobs or os.cpu_count() or 1)
    )
    fh = journal.open("a", encoding="utf-8") if journal else None
    journaled = len(rows)
    try:
        with sigint_flag(sigterm=True) as stop:
            try:
                for row in source:
                    if stop[0] or interrupted(row.get("status"), row.get("message")):
                        raise KeyboardInterrupt  # that point's row is not the point's result
                    rows.append(row)
                    # a signal waits while a row is written and counted: never a torn row, never a
                    # row journaled but left out of the count the message gives
                    stop[1] = True
                    try:
                        if fh:
                            fh.write(json.dumps(row, default=str) + "\n")
                            fh.flush()
                            os.fsync(fh.fileno())
                        journaled = len(rows)
                    finally:
                        stop[1] = False
                    if stop[0]:
                        raise KeyboardInterrupt  # the signal came while the row was written
                    if progress:
                        progress(len(rows), len(pts))
            except KeyboardInterrupt:
                if hasattr(source, "close"):
                    source.close()  # stops the workers' pool
                raise SweepInterrupted(journaled, len(pts), stop[0] or signal.SIGINT) from None
            except OSError as exc:  # the journal cannot be written (disk full): stop, keep what it holds
                if journal is None:
                    raise
                if hasattr(source, "close"):
                    source.close()
                raise SweepWriteError(journal, exc, journaled, len(pts)) from None
            except BrokenProcessPool:  # a SIGTERM to the whole group ended the workers too
                if not stop[0]:
                    raise
                raise SweepInterrupted(journaled, len(pts), stop[0]) from None
    finally:
        if fh:
            with contextlib.suppress(OSError):  # a write that failed above fails again at the close
                fh.close()
    if output is None:
        return pd.DataFrame(rows).sort_values("point").reset_index(drop=True)
    try:
        df = _write_final(rows, output, spec)
    except OSError as exc:
        raise SweepWriteError(output, exc, journaled, len(pts)) from None
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
