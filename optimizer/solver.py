"""The HiGHS adapter: one place that talks to the solver and maps every status it can return.

Uses Pyomo's persistent HiGHS interface (highspy underneath), so re-solving the same model with
a new objective or an extra constraint only sends the change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs
from pyomo.repn import generate_standard_repn

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
    threads: int | None = 1
    tie_break_time: float | None = None  # seconds for the second stage; None: max(1 s, primary's HiGHS time)


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
        self.last = None
        self.seconds = 0.0  # HiGHS's own run time, summed over this adapter's solves
        self._clock = (None, 0.0)  # (highspy object, its run clock after the last solve)

    def solve(self, model: pyo.ConcreteModel, time_limit: float | None, mip_gap: float | None = None,
              abs_gap: float | None = None, load: bool = True, highs_options: dict | None = None,
              start: list | None = None) -> SolveResult:
        """Solve; ``start`` is a plan [(variable, value)] that HiGHS may use as its first incumbent."""
        kwargs = dict(
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
            rel_gap=self.options.mip_gap if mip_gap is None else mip_gap,
            threads=self.options.threads,
        )
        if abs_gap is not None:
            kwargs["abs_gap"] = abs_gap
        if highs_options:
            kwargs["solver_options"] = dict(highs_options)
        if time_limit is not None:
            kwargs["time_limit"] = max(time_limit, 0.01)
        self.solver.mip_start = {id(v): val for v, val in start} if start else None
        try:
            res = self.solver.solve(model, **kwargs)
        except Exception as exc:  # the solver itself failed: report, never crash
            return SolveResult("error", False, None, None, None, 0.0, f"HiGHS failed: {exc}")
        self.last = res
        status = STATUS_MAP.get(res.termination_condition, "error")
        has = res.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
        if has and load:
            res.solution_loader.load_vars()
        obj, bound = res.incumbent_objective, res.objective_bound
        gap = None
        if has and obj is not None:
            if status == "optimal" and bound is None:
                gap = 0.0
            elif bound is not None and math.isfinite(bound):
                gap = abs(obj - bound) / max(abs(obj), 1e-12) if abs(obj - bound) > 1e-12 else 0.0
        # HiGHS's run clock accumulates over the runs of one highspy object: take differences
        clock = float(getattr(res.timing_info, "highs_time", 0.0) or 0.0)
        highs = getattr(self.solver, "_solver_model", None)
        seconds = clock - self._clock[1] if highs is self._clock[0] else clock
        self._clock = (highs, clock)
        self.seconds += seconds
        return SolveResult(status, has, obj, bound, gap, seconds, str(res.termination_condition.name))

    def duals(self) -> dict:
        """Row duals of the last (LP) solve, d objective / d right-hand side, by constraint."""
        return dict(self.last.solution_loader.get_duals())


def _costs(expr, cols: dict[int, int], n: int) -> tuple[np.ndarray, float]:
    """A linear expression as a cost vector over the solver's columns, and its constant."""
    repn = generate_standard_repn(expr, compute_values=True, quadratic=False)
    c = np.zeros(n)
    for var, coef in zip(repn.linear_vars, repn.linear_coefs):
        c[cols[id(var)]] += coef
    return c, float(repn.constant)


def fixed_integer_lps(adapter: HighsAdapter, primary, sense: str, tokens, drop: list, time_limit: float | None,
                      threads: int | None) -> dict | None:
    """The LP stages of MODEL.md section 8 on a copy of the solved MILP's arrays, without a second
    hand-over from Pyomo: integer columns fixed at their rounded values, the rows of ``drop``
    (the tie-break's) freed, the LP of ``primary`` solved (its row duals are returned, by Pyomo
    constraint), then, holding that optimum, ``tokens`` maximised (when given). The solution is
    loaded into the model's variables. Returns None if anything fails (the caller falls back).
    """
    try:
        solver = adapter.solver
        lp = solver._solver_model.getLp()
        n = lp.num_col_
        col_of = solver._pyomo_var_to_solver_var_map
        var_of = {col: solver._vars[vid][0] for vid, col in col_of.items()}
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        if threads is not None:
            h.setOptionValue("threads", threads)
        if time_limit is not None:
            h.setOptionValue("time_limit", max(float(time_limit), 0.01))
        h.passModel(lp)
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
        h.changeColsCost(n, np.arange(n, dtype=np.int32), c)
        h.changeObjectiveSense(highspy.ObjSense.kMaximize if sense == "max" else highspy.ObjSense.kMinimize)
        h.run()
        adapter.seconds += h.getRunTime()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        sol = h.getSolution()
        freed = set(rows)
        duals = {con: sol.row_dual[r] for r, con in solver._solver_con_to_pyomo_con_map.items() if r not in freed}
        x = np.array(sol.col_value)
        if tokens is not None:
            z = float(c @ x)
            nz = np.nonzero(c)[0].astype(np.int32)
            lo, hi = (z, highspy.kHighsInf) if sense == "max" else (-highspy.kHighsInf, z)
            h.addRow(lo, hi, len(nz), nz, c[nz])
            t, _ = _costs(tokens, col_of, n)
            h.changeColsCost(n, np.arange(n, dtype=np.int32), t)
            h.changeObjectiveSense(highspy.ObjSense.kMaximize)
            h.setOptionValue("primal_feasibility_tolerance", 1e-10)
            clock = h.getRunTime()
            h.run()
            adapter.seconds += h.getRunTime() - clock
            if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                x = np.array(h.getSolution().col_value)
        for col, var in var_of.items():
            var.set_value(float(x[col]), skip_validation=True)
        return duals
    except Exception:  # any surprise: the caller solves the same LPs through Pyomo
        return None
