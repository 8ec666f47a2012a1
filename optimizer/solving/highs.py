"""The HiGHS adapter: one place that talks to the solver and maps every status it can return.

Uses Pyomo's persistent HiGHS interface (highspy underneath), so re-solving the same model with
a new objective or an extra constraint only sends the change.

Three things are handled here once, for every HiGHS run of the package:

- **Threads.** HiGHS keeps one thread pool per process, created by the first run, and refuses a
  later run that asks for another thread count; a forked child inherits a pool whose threads do
  not exist in it. Every run therefore asks for a concrete count (default
  :data:`DEFAULT_THREADS`), and :func:`use_threads` resets the pool when the count differs from
  the process's pool, or when the process is not the one that made it.
- **Output.** Nothing HiGHS prints reaches stdout (``solve --json`` prints JSON alone): every
  call is captured at the file-descriptor level, and the log is kept (``HighsAdapter.log``).
  Its warnings (coefficients dropped below HiGHS's tolerance) become the solution's
  ``warnings``; its errors are the message of an ``error`` status.
- **Options.** The options every run was given are recorded (``HighsAdapter.options_used``), so
  that a solution says what it was solved with.
"""

from __future__ import annotations

import io
import math
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.common.tee import capture_output
from pyomo.contrib.solver.solvers.highs import Highs
from pyomo.repn import generate_standard_repn

from ..model.preprocess import centre

# One HiGHS thread unless asked otherwise: the plan does not depend on the machine's core count
# (HiGHS's own default, "automatic", was half the cores up to 1.15 and all of them from 1.16),
# and the models here are small enough that HiGHS's parallel parts do not pay for their threads.
DEFAULT_THREADS = 1
# A re-solve after a plan failed its check: HiGHS's tolerances (1e-7 by default) 100x tighter.
STRICT = {"primal_feasibility_tolerance": 1e-9, "dual_feasibility_tolerance": 1e-9, "mip_feasibility_tolerance": 1e-9}

# HiGHS's MIP presolve has returned a plan as optimal whose continuous part was not (highspy
# 1.16; 1.13 solved the same model right): a run whose optimum was shown wrong is repeated without it.
NO_PRESOLVE = {"presolve": "off"}

_POOL: dict = {"pid": None, "threads": None}  # the HiGHS thread pool of this process, as last set


def concrete_threads(threads: int | None) -> int:
    """The thread count a run asks for: never "automatic"."""
    return DEFAULT_THREADS if threads is None else max(int(threads), 1)


def use_threads(threads: int) -> None:
    """Make this process's HiGHS thread pool one of ``threads`` threads before a run.

    HiGHS refuses a run whose ``threads`` option differs from its pool ("the scheduler has
    already been initialized"), and a forked child's inherited pool has no threads (a run there
    hangs): in both cases the pool is reset, and the next run builds one of the right size.
    """
    pid = os.getpid()
    if _POOL["pid"] == pid and _POOL["threads"] == threads:
        return
    inherited = _POOL["pid"] is not None and _POOL["pid"] != pid  # a forked child: its pool's threads are gone
    try:
        highspy.Highs.resetGlobalScheduler(not inherited)  # blocking: wait for this process's own threads
    except RuntimeError:  # joining threads that a fork left behind ("Invalid argument")
        highspy.Highs.resetGlobalScheduler(False)
    _POOL.update(pid=pid, threads=threads)


@contextmanager
def captured(log: io.StringIO):
    """Everything HiGHS prints (C++ and Python, at the file-descriptor level) goes to ``log``."""
    with capture_output(output=log, capture_fd=True):
        yield


def new_highs(threads: int, log: io.StringIO | None = None) -> highspy.Highs:
    """A silent highspy object whose runs use ``threads`` threads (the pool is made to match)."""
    with captured(log if log is not None else io.StringIO()):  # 1.16 prints a banner on the first one
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", threads)
    use_threads(threads)
    return h


_DROPPED = re.compile(r"WARNING:.*(ignored|excluded|dropped).*", re.IGNORECASE)
_ERROR = re.compile(r"^(ERROR|Error):?\s*(.*)$")


def log_warnings(text: str) -> list[str]:
    """HiGHS's warnings that change the model it solves (e.g. coefficients below its
    tolerance, ignored), once each, in the order HiGHS printed them."""
    out: list[str] = []
    for line in text.splitlines():
        m = _DROPPED.search(line)
        if m:
            msg = "HiGHS: " + line.strip().removeprefix("WARNING:").strip()
            if msg not in out:
                out.append(msg)
    return out


def log_errors(text: str) -> list[str]:
    """HiGHS's own error lines."""
    out = []
    for line in text.splitlines():
        m = _ERROR.match(line.strip())
        if m and m.group(2) and m.group(2) not in out:
            out.append(m.group(2))
    return out


# Our statuses (the JSON's ``status``) and the termination conditions that map to them.
STATUS_MAP = {
    TerminationCondition.convergenceCriteriaSatisfied: "optimal",
    TerminationCondition.maxTimeLimit: "time_limit",
    TerminationCondition.iterationLimit: "time_limit",
    TerminationCondition.objectiveLimit: "time_limit",
    TerminationCondition.provenInfeasible: "infeasible",
    TerminationCondition.locallyInfeasible: "infeasible",
    TerminationCondition.infeasibleOrUnbounded: "infeasible_or_unbounded",
    TerminationCondition.unbounded: "unbounded",
    TerminationCondition.interrupted: "error",
    TerminationCondition.error: "error",
    TerminationCondition.unknown: "error",
    TerminationCondition.emptyModel: "error",
    TerminationCondition.licensingProblems: "error",
    TerminationCondition.minStepLength: "error",
}


@dataclass
class SolveResult:
    """What one HiGHS run returned, in the model's internal units."""

    status: str  # optimal | time_limit | infeasible | infeasible_or_unbounded | unbounded | error
    has_solution: bool
    objective: float | None
    bound: float | None
    gap: float | None  # HiGHS's relative gap |objective - bound| / |objective|
    seconds: float
    message: str


@dataclass
class SolverOptions:
    time_limit: float | None = None  # seconds for the whole solve (all stages)
    mip_gap: float = 1e-4
    threads: int = DEFAULT_THREADS
    tie_break_time: float | None = None  # seconds for the second stage; None: max(1 s, primary's HiGHS time)
    strict: bool = False  # HiGHS's feasibility and optimality tolerances 100x tighter (STRICT)
    presolve: bool = True  # False: HiGHS's presolve off, once its optimum was shown wrong (engine._certify)

    def __post_init__(self):
        self.threads = concrete_threads(self.threads)


class _Highs(Highs):
    """Pyomo's persistent HiGHS with a MIP start: values by variable id, set just before the run
    (after Pyomo has sent the model's changes, which would otherwise discard it)."""

    mip_start: dict[int, float] | None = None

    def _solve(self):
        if self.mip_start:
            cols = self._pyomo_var_to_solver_var_map
            values = np.zeros(self._solver_model.getNumCol())
            for vid, val in self.mip_start.items():
                col = cols.get(vid)
                if col is not None and val is not None:
                    values[col] = val
            start = highspy.HighsSolution()
            start.col_value = values.tolist()
            self._solver_model.setSolution(start)
        return super()._solve()


class HighsAdapter:
    """One persistent HiGHS instance bound to one Pyomo model."""

    def __init__(self, options: SolverOptions):
        self.options = options
        self.solver = _Highs()
        self.solver.config.tee = [io.StringIO()]  # set_instance's output: kept, never printed
        self.log = io.StringIO()  # everything HiGHS printed for this adapter
        self.options_used: dict = {}  # the HiGHS options of the runs, as last given
        self.last = None
        self._obj_scale = 1.0
        self.seconds = 0.0  # HiGHS's own run time, summed over this adapter's solves
        self._clock = (None, 0.0)  # (highspy object, its run clock after the last solve)

    def set_instance(self, model: pyo.ConcreteModel) -> None:
        """Hand the model to HiGHS (its warnings, e.g. dropped coefficients, go to the log)."""
        stream = self.solver.config.tee[0]
        with captured(self.log):
            self.solver.set_instance(model)
        self.log.write(stream.getvalue())
        stream.seek(0)
        stream.truncate()

    @property
    def warnings(self) -> list[str]:
        return log_warnings(self.log.getvalue())

    def solve(self, model: pyo.ConcreteModel, time_limit: float | None, mip_gap: float | None = None,
              abs_gap: float | None = None, load: bool = True, highs_options: dict | None = None,
              start: list | None = None) -> SolveResult:
        """Solve; ``start`` is a plan [(variable, value)] that HiGHS may use as its first incumbent.

        The objective and bound are those of the model's objective expression: a model whose
        objective :func:`~optimizer.model.families.set_objective` normalised (``obj_scale``) gets them back
        in the expression's units."""
        threads = self.options.threads
        kwargs = dict(
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
            rel_gap=self.options.mip_gap if mip_gap is None else mip_gap,
            threads=threads,
        )
        if abs_gap is not None:
            kwargs["abs_gap"] = abs_gap
        extra = {**(STRICT if self.options.strict else {}), **({} if self.options.presolve else NO_PRESOLVE), **(highs_options or {})}
        if extra:
            kwargs["solver_options"] = extra
        if time_limit is not None:
            kwargs["time_limit"] = max(time_limit, 0.01)
        self.options_used = {k: v for k, v in kwargs.items() if k not in ("load_solutions", "raise_exception_on_nonoptimal_result")}
        self.solver.mip_start = {id(v): val for v, val in start} if start else None
        use_threads(threads)
        try:
            with captured(self.log):
                res = self.solver.solve(model, **kwargs)
        except Exception as exc:  # the solver itself failed: report, never crash
            errors = log_errors(self.log.getvalue())
            detail = "; ".join(errors) if errors else f"{type(exc).__name__}: {exc}"
            return SolveResult("error", False, None, None, None, 0.0, f"HiGHS failed: {detail}")
        self.log.write(res.solver_log or "")
        self.last = res
        status = STATUS_MAP.get(res.termination_condition, "error")
        has = res.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
        if has and load:
            res.solution_loader.load_vars()
            if start and not _agrees(model, res.incumbent_objective):
                # seen with highspy 1.16: after a MIP start, the solution HiGHS hands back is the
                # start while its objective is the better plan's; run again from scratch
                self.solver._solver_model.clearSolver()
                return self.solve(model, time_limit, mip_gap, abs_gap, load, highs_options, None)
        scale = self._obj_scale = getattr(model, "obj_scale", 1.0)
        obj, bound = res.incumbent_objective, res.objective_bound
        obj = None if obj is None else obj * scale
        bound = None if bound is None or not math.isfinite(bound) else bound * scale
        gap = None
        if has and obj is not None:
            if status == "optimal" and bound is None:
                gap = 0.0
            elif bound is not None:
                gap = abs(obj - bound) / max(abs(obj), 1e-12) if abs(obj - bound) > 1e-12 * max(1.0, abs(obj)) else 0.0
        # HiGHS's run clock accumulates over the runs of one highspy object: take differences
        clock = float(getattr(res.timing_info, "highs_time", 0.0) or 0.0)
        highs = getattr(self.solver, "_solver_model", None)
        seconds = clock - self._clock[1] if highs is self._clock[0] else clock
        self._clock = (highs, clock)
        self.seconds += seconds
        message = str(res.termination_condition.name)
        if status == "error":
            errors = log_errors(res.solver_log or "")
            if not errors:  # some releases refuse a run without a word: say what HiGHS's status is
                h = self.solver._solver_model
                errors = [f"HiGHS gave no reason (model status: {h.modelStatusToString(h.getModelStatus())})"]
            message = f"{message}: {'; '.join(errors)}"
        return SolveResult(status, has, obj, bound, gap, seconds, message)

    def duals(self) -> dict:
        """Row duals of the last (LP) solve, d objective / d right-hand side, by constraint (in the
        objective expression's units, as :meth:`solve` reports the objective)."""
        try:
            loaded = self.last.solution_loader.get_duals()
        except (IndexError, RuntimeError, ValueError):  # HiGHS gave no dual solution (Pyomo then indexes past it)
            return {}
        return {con: val * self._obj_scale for con, val in loaded.items()}


def _agrees(model, reported: float | None) -> bool:
    """The model's objective at the loaded values is the one HiGHS reported (normalised units)."""
    if reported is None:
        return True
    value = pyo.value(model.obj, exception=False)
    return value is not None and abs(value - reported) <= 1e-7 * max(1.0, abs(reported))


def _costs(expr, cols: dict[int, int], n: int) -> tuple[np.ndarray, float]:
    """A linear expression as a cost vector over the solver's columns, and its constant."""
    repn = generate_standard_repn(expr, compute_values=True, quadratic=False)
    c = np.zeros(n)
    for var, coef in zip(repn.linear_vars, repn.linear_coefs):
        c[cols[id(var)]] += coef
    return c, float(repn.constant)


def fixed_integer_lps(adapter: HighsAdapter, primary, sense: str, secondary, drop: list, time_limit: float | None,
                      threads: int | None) -> dict | None:
    """The LP stages of MODEL.md section 8 on a copy of the solved MILP's arrays, without a second
    hand-over from Pyomo: integer columns fixed at their rounded values, the rows of ``drop``
    (the tie-break's) freed, the LP of ``primary`` solved (its row duals are returned, by Pyomo
    constraint), then each stage of ``secondary``, a list of (expression, sense), optimised holding the
    optimum of the stage before it. Each objective is
    divided by the power of ten its coefficients centre on, for HiGHS (its tolerances are
    absolute), and the duals are returned in the expression's units. The solution is loaded into the model's
    variables. Returns None if anything fails (the caller falls back).
    """
    try:
        solver = adapter.solver
        lp = solver._solver_model.getLp()
        n = lp.num_col_
        col_of = solver._pyomo_var_to_solver_var_map
        var_of = {col: solver._vars[vid][0] for vid, col in col_of.items()}
        h = new_highs(concrete_threads(threads), adapter.log)
        if time_limit is not None:
            h.setOptionValue("time_limit", max(float(time_limit), 0.01))
        h.passModel(lp)
        if not adapter.options.presolve:
            h.setOptionValue("presolve", "off")
        integer = np.array(lp.integrality_, dtype=np.uint8) if len(lp.integrality_) else np.zeros(n, dtype=np.uint8)
        cols = np.nonzero(integer)[0].astype(np.int32)
        if len(cols):
            vals = np.array([round(var_of[int(c)].value or 0.0) for c in cols], dtype=float)
            h.changeColsBounds(len(cols), cols, vals, vals)
            h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.zeros(n, dtype=np.uint8))
        rows = [solver._pyomo_con_to_solver_con_map[c] for c in drop if c in solver._pyomo_con_to_solver_con_map]
        if rows:
            inf = highspy.kHighsInf
            h.changeRowsBounds(len(rows), np.array(rows, dtype=np.int32), np.full(len(rows), -inf), np.full(len(rows), inf))
        c, _ = _costs(primary, col_of, n)
        scale = centre(c)
        h.changeColsCost(n, np.arange(n, dtype=np.int32), c / scale)
        h.changeObjectiveSense(highspy.ObjSense.kMaximize if sense == "max" else highspy.ObjSense.kMinimize)
        with captured(adapter.log):
            h.run()
        adapter.seconds += h.getRunTime()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        sol = h.getSolution()
        freed = set(rows)
        duals = {con: sol.row_dual[r] * scale for r, con in solver._solver_con_to_pyomo_con_map.items() if r not in freed}
        x = np.array(sol.col_value)
        held, held_sense, held_scale = c, sense, scale
        for expr, stage_sense in secondary or []:
            # hold the previous stage's optimum (to 1e-10 in internal units), then this one
            z = float(held @ x) / held_scale
            nz = np.nonzero(held)[0].astype(np.int32)
            lo, hi = (z, highspy.kHighsInf) if held_sense == "max" else (-highspy.kHighsInf, z)
            h.addRow(lo, hi, len(nz), nz, held[nz] / held_scale)
            t, _ = _costs(expr, col_of, n)
            t_scale = centre(t)
            h.changeColsCost(n, np.arange(n, dtype=np.int32), t / t_scale)
            h.changeObjectiveSense(highspy.ObjSense.kMaximize if stage_sense == "max" else highspy.ObjSense.kMinimize)
            h.setOptionValue("primal_feasibility_tolerance", 1e-10)
            # from scratch: the stage before's basis is a poor start (12 slices: 16,823 pivots from
            # it, 18.4 s, against 5,414 cold with presolve, 0.8 s; benchmarks/README.md)
            h.clearSolver()
            clock = h.getRunTime()
            with captured(adapter.log):
                h.run()
            adapter.seconds += h.getRunTime() - clock
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                break  # keep the last stage's plan
            x = np.array(h.getSolution().col_value)
            held, held_sense, held_scale = t, stage_sense, t_scale
        for col, var in var_of.items():
            var.set_value(float(x[col]), skip_validation=True)
        return duals
    except Exception:  # any surprise: the caller solves the same LPs through Pyomo
        return None
