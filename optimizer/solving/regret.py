"""The regret table, EVPI and VSS of MODEL.md section 13.3, each found by solving.

Rows are plans: the stochastic plan, and each scenario's own optimum (its instance solved as a
deterministic one). Columns are scenarios. A cell holds the plan's capacity decision fixed (every
first-stage variable, ``results.first_stage_values``) and the scenario's second stage
re-optimised: ``engine.solve_data`` with ``fix``, so that every cell is a checked plan, or
``infeasible`` where the capacity cannot meet the scenario's floors. A row's expected value is
E[Z] over the scenarios (``tokens_per_watt``: E[TOK] / E[F], as the objective is); then

- wait-and-see = E[each scenario's own optimum], EVPI = wait-and-see - the stochastic row's E[Z]
  (for ``min_cost``: the stochastic row's E[Z] - wait-and-see);
- VSS = the stochastic row's E[Z] - the first scenario's own row's (for ``min_cost`` the other
  way round): what planning for every future earns over planning for the first.

Every solve here runs at a MIP gap of min(the user's, 1e-6) (``GAP``): EVPI and VSS are small
differences of large figures, which the default gap of 1e-4 would drown. Cells are independent, so they are solved in parallel on the machine's cores (forked workers,
one HiGHS thread each; serial inside a worker process, a sweep's or the service's).
"""

from __future__ import annotations

import time

from ..model.families import SENSE
from .highs import SolverOptions
from .marginal import forked_map, in_worker
from .results import HorizonMetrics, RegretCell, RegretRow, Solution, cvar, plan_racks

GAP = 1e-6  # the MIP gap of the regret table's solves, at most the user's
_TASKS: list = []  # the forked workers' view of the cells to solve (set before the pool forks)


def _tok_mw(sol: Solution) -> tuple[float, float]:
    m = sol.metrics
    if isinstance(m, HorizonMetrics):
        return m.mean_tokens_per_s, m.mean_facility_power_mw
    return m.tokens_per_s, m.facility_power_mw


def _solve(i: int):
    """One task of ``_TASKS``: (data, objective, options, instance, fix, deadline) -> (status,
    value, capacity, racks, (tokens, MW), whether its cost tie-break stopped at its time budget)."""
    from .engine import _Clock, solve_data

    d, objective, options, instance, fix, deadline = _TASKS[i]
    left = None if deadline is None else deadline - time.time()
    if left is not None and left <= 0.01:
        return "time_limit", None, None, {}, None, False
    opts = SolverOptions(time_limit=left, mip_gap=options.mip_gap, threads=1 if in_worker() else options.threads,
                         tie_break_time=options.tie_break_time)
    sol = solve_data(d, objective, opts, _Clock(left), instance=instance, fix=fix, diagnose_infeasible=False,
                     keep_capacity=fix is None)
    if not sol.has_plan:
        return sol.status, None, None, {}, None, False
    stopped = any(w.startswith("the cost tie-break stopped") for w in sol.warnings)
    return sol.status, sol.objective.value, sol._capacity if fix is None else None, plan_racks(sol), _tok_mw(sol), stopped


def _run(tasks: list, jobs: int | None) -> list:
    """Every task of ``tasks`` solved (``marginal.forked_map``); the workers read them from
    ``_TASKS``, so that no data is pickled to them."""
    global _TASKS
    _TASKS = tasks
    try:
        return forked_map(_solve, list(range(len(tasks))), jobs)
    finally:
        _TASKS = []


def _row_figures(objective: str, cells: list, probs: list[float], alpha: float) -> tuple:
    """(expected, cvar, worst) of a row's cells; all None when a cell has no value."""
    values = [c[1] for c in cells]
    if any(v is None for v in values):
        return None, None, None
    sense = SENSE[objective]
    if objective == "tokens_per_watt":
        tok = sum(p * c[4][0] for p, c in zip(probs, cells))
        mw = sum(p * c[4][1] for p, c in zip(probs, cells))
        expected = tok / (1e6 * mw) if mw > 0 else 0.0
        tail = None
    else:
        expected = sum(p * v for p, v in zip(probs, values))
        tail = cvar(values, probs, alpha, sense)
    worst = min(values) if sense == "max" else max(values)
    return expected, tail, worst


def fill_regret(sol: Solution, sd, objective: str, options: SolverOptions, clock, jobs: int | None = None) -> None:
    """Fill ``sol.uncertainty``'s regret table, wait-and-see value, EVPI and VSS (section 13.3)."""
    unc = sol.uncertainty
    options = SolverOptions(time_limit=options.time_limit, mip_gap=min(options.mip_gap, GAP), threads=options.threads,
                            tie_break_time=options.tie_break_time)
    names = sd.names
    probs = [sd.probabilities[w] for w in names]
    deadline = None if clock.left() is None else time.time() + clock.left()
    # each scenario's own optimum first: its capacity is what the other cells fix
    own = _run([(sd.data(w), objective, options, sd.instances[w], None, deadline) for w in names], jobs)
    plans = [("stochastic", sol._capacity, plan_racks(sol))]
    for w, res in zip(names, own):
        if res[1] is None:
            unc.notes.append(f"scenario {w} has no plan of its own ({res[0]}): it has no row, and no wait-and-see value is found")
        else:
            plans.append((w, res[2], res[3]))
    tasks, where = [], []

    def mine(r: int, w: str) -> bool:
        """Row r is scenario w's own optimum (row 0, the stochastic plan, is no scenario's, whatever
        the scenarios are called)."""
        return r > 0 and plans[r][0] == w

    for r, (plan, capacity, _) in enumerate(plans):
        for c, w in enumerate(names):
            if mine(r, w):
                continue  # its own optimum, solved above
            tasks.append((sd.data(w), objective, options, sd.instances[w], capacity, deadline))
            where.append((r, c))
    done = dict(zip(where, _run(tasks, jobs)))
    sense = SENSE[objective]
    for r, (plan, _, racks) in enumerate(plans):
        cells = [own[c] if mine(r, w) else done[(r, c)] for c, w in enumerate(names)]
        expected, tail, worst = _row_figures(objective, cells, probs, sd.alpha)
        unc.regret.append(RegretRow(
            plan=plan, scenario=None if r == 0 else plan, racks=racks, expected=expected, cvar=tail, worst=worst,
            cells=[RegretCell(scenario=w, status=cell[0], value=cell[1]) for w, cell in zip(names, cells)],
        ))
    early = [w for w, res in zip(names, own) if res[5]]
    if early:
        unc.notes.append(f"the cost tie-break of the own plan of {', '.join(early)} stopped at its time budget: another plan with "
                         "the same objective (within 1e-6) may cost less, and its racks may differ from run to run")
    if any(res[0] == "time_limit" for res in own) or any(res[0] == "time_limit" for res in done.values()):
        unc.notes.append("the time limit cut some of the regret table's solves short: a cell whose solve found a plan holds the "
                         "best one found, a cell whose solve found none has status time_limit and no value")
    stochastic = unc.regret[0].expected
    if all(res[1] is not None for res in own):
        # each scenario's own optimum in its column: the same expectation as a row's
        unc.wait_and_see = _row_figures(objective, own, probs, sd.alpha)[0]
        if stochastic is not None:
            unc.evpi = unc.wait_and_see - stochastic if sense == "max" else stochastic - unc.wait_and_see
    first = next((row for row in unc.regret[1:] if row.scenario == names[0]), None)
    if first is not None and stochastic is not None:
        if first.expected is None:
            bad = [c for c in first.cells if c.value is None]
            if all(c.status == "infeasible" for c in bad):
                unc.notes.append(f"VSS: the plan of scenario {names[0]} alone cannot meet scenario {', '.join(c.scenario for c in bad)} "
                                 "(infeasible there), so planning for every future is worth more than any finite figure")
            else:
                unc.notes.append(f"VSS: the plan of scenario {names[0]} has no value in " + ", ".join(f"{c.scenario} ({c.status})" for c in bad))
        else:
            unc.vss = stochastic - first.expected if sense == "max" else first.expected - stochastic
