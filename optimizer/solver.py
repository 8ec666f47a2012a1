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
