"""Solve an instance: primary objective, Dinkelbach for the ratio, second-stage tie-break, duals.

MODEL.md section 7: after the primary optimum z*, a second stage keeps the primary within a
relative 1e-6 of z* and minimises COST (for ``profit`` and ``min_cost``: minimises F). Shadow
prices are the duals of the LP with every integer fixed at the reported plan (section 8).
"""

from __future__ import annotations

import gc
import math
import time
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyomo.environ as pyo

from .diagnose import diagnose
from ..model.horizon import HorizonData, build_horizon_model, horizon_hints, horizon_warnings, preprocess_horizon
from ..model.families import SENSE, add_risk, build_model, coefficient_scale, objective_expr, objective_expr_plain, set_objective
from ..model.preprocess import Data, infeasibility_hints, planner_warnings, preprocess
from .results import (
    HORIZON_UNITS,
    LIMIT_UNITS,
    ObjectiveValue,
    OBJECTIVE_UNITS,
    Solution,
    binding_rows,
    empty_solution,
    extract_horizon_plan,
    extract_plan,
    extract_stochastic,
    first_stage_values,
    stochastic_value,
    fill_slice_limits,
    model_size,
    objective_value,
    price_rows,
)
from ..model.schema import Instance, Objective, load_instance, risk_issues
from ..model.stochastic import StochasticData, build_stochastic_model, preprocess_stochastic, stochastic_hints, stochastic_warnings
from ..errors import InputError
from .highs import HighsAdapter, SolveResult, SolverOptions, fixed_integer_lps

SECOND_STAGE_TOL = 1e-6
BEYOND_BOUND = "beyond the solver's bound"  # check_plan's words for a plan better than the solver proved possible
DINKELBACH_MAX_ITER = 50


@contextmanager
def _no_gc():
    """The cyclic garbage collector off for a block (and back as it was): during the model build
    and the hand-over it only walks Pyomo's objects (build 3.7 s -> 1.3 s at 12 slices of the
    large benchmark instance)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class _Clock:
    def __init__(self, limit: float | None):
        self.start = time.perf_counter()
        self.limit = limit

    def left(self) -> float | None:
        if self.limit is None:
            return None
        return max(self.limit - (time.perf_counter() - self.start), 0.0)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def _snapshot(m) -> list:
    return [(v, v.value) for v in m.component_data_objects(pyo.Var)]


def _restore(snap: list) -> None:
    for v, val in snap:
        v.set_value(val, skip_validation=True)


def _dinkelbach(m, adapter: HighsAdapter, clock: _Clock, factor: float, warn: list[str]) -> tuple[SolveResult, float, int]:
    """max TOK / (1e6 F) by Dinkelbach: each step an exact MILP max TOK - lambda * 1e6 * F.

    Starts from the max-TOK plan's ratio; stops when the step's optimum is 0 within tolerance
    (no plan beats lambda). Returns the last plan with TOK > 0 (loaded in the model), lambda*.
    Every step's optimum is held against the LP of its integers (:func:`_certify`; ``factor``:
    tokens/s per internal unit): a wrong "no plan beats lambda" would stop it short.
    """
    set_objective(m, m.tokens, "max")
    res = _certify(m, adapter, adapter.solve(m, clock.left()), m.tokens, "max", clock, factor, warn)
    if not res.has_solution:
        return res, 0.0, 1
    tok, F = pyo.value(m.tokens), pyo.value(m.facility_mw)
    if tok <= 0 or F <= 0:
        return res, 0.0, 1
    lam, best, best_res = tok / F, _snapshot(m), res
    it = 1
    while it < DINKELBACH_MAX_ITER:
        step = objective_expr(m, "tokens_per_watt", lam)
        set_objective(m, step, "max")
        res = _certify(m, adapter, adapter.solve(m, clock.left(), abs_gap=1e-9, start=_snapshot(m)), step, "max", clock, factor, warn)
        it += 1
        if not res.has_solution:
            break
        tok, F = pyo.value(m.tokens), pyo.value(m.facility_mw)
        if tok <= 0 or F <= 0 or tok - lam * F <= 1e-9 * max(1.0, tok):
            best_res = res if res.status == "optimal" else best_res
            break
        new = tok / F
        if new <= lam:
            break
        lam, best, best_res = new, _snapshot(m), res
        if res.status != "optimal":
            break
    _restore(best)
    return best_res, lam, it


def _certify(m, adapter: HighsAdapter, res: SolveResult, expr, sense: str, clock: _Clock, factor: float,
             warn: list[str]) -> SolveResult:
    """The primary MILP's answer held against the LP with its integers fixed, before the tie-break.

    That LP is a restriction of the MILP: its optimum can never beat the MILP's bound, whatever
    the gap. When it does (by more than 1e-6, beyond HiGHS's tolerances), HiGHS's bound is wrong. Seen
    with highspy 1.16 (1.13 solves the same model right): its MIP presolve returned racks that all
    serve an aggregated tier at 1 USD/Mtok, proved "optimal" with the bound at that plan's value,
    while the same racks split into prefill and decode earn a third more at 2 USD/Mtok. Left alone,
    the tie-break holds the primary at that wrong optimum and buys fewer racks to meet it, and
    the plan is reported optimal 25% short of the optimum; no later check can see it. The primary
    is then solved again with presolve off (every later run of this adapter too), from the better
    plan. ``expr`` is the objective the run maximised or minimised (``sense``), ``factor`` its user
    units per internal unit (for the warning). Returns the run's result (the model holds its plan)."""
    if not res.has_solution or res.bound is None:
        return res
    saved = _snapshot(m)
    if fixed_integer_lps(adapter, expr, sense, [], [], clock.left(), adapter.options.threads) is None:
        _restore(saved)
        return res
    value = pyo.value(expr)
    better = value - res.bound if sense == "max" else res.bound - value
    if better <= 1e-6 * max(abs(value), abs(res.bound)) + 1e-6 * getattr(m, "obj_scale", 1.0):
        _restore(saved)  # the MILP's own plan, as before
        return res
    warn.append(f"HiGHS proved an optimum of {res.bound * factor:.9g} that the same integers beat in an LP "
                f"({value * factor:.9g}): its presolve was wrong, and the primary was solved again without presolve")
    adapter.options = replace(adapter.options, presolve=False)
    again = adapter.solve(m, clock.left(), start=_snapshot(m))
    return again if again.has_solution else res


def _second_stage(m, objective: str, z: float, lam: float, adapter: HighsAdapter, clock: _Clock,
                  budget: float | None, idle: bool = False) -> tuple[float | None, bool]:
    """Tie-break: hold the primary within 1e-6 of z*, minimise COST (or F), starting from the
    primary plan (always feasible here). It runs for at most ``budget`` seconds and keeps its
    best plan. Returns its relative gap (0: proven; None if it did not run or found nothing) and
    whether it stopped at its time budget rather than at the MIP gap.
    """
    if objective == "tokens_per_watt":
        if lam <= 0:
            return None, False
        ratio = m.tokens - lam * (1 - SECOND_STAGE_TOL) * m.facility_mw
        m.primary_floor = pyo.Constraint(expr=ratio * (1.0 / coefficient_scale(ratio)) >= 0)
        # the reported plan must have TOK > 0 (section 7). "At least one rack" says it robustly:
        # then F > 0 and the ratio above forces TOK >= lambda * F > 0 (a floor on TOK itself
        # would sit inside the solver's feasibility tolerance).
        m.primary_positive = pyo.Constraint(expr=sum(m.racks[h] for h in m.H) >= 1)
        tok = pyo.value(m.tokens)
        if idle and tok > 0:
            # an idle rack that draws less (section 12.2) may draw nothing: then racks with no work
            # meet both rows above at TOK = F = 0. The plan keeps 0.1% of the primary's tokens.
            m.primary_busy = pyo.Constraint(expr=m.tokens * (1.0 / tok) >= 1e-3)
    else:
        # centred as the objective was: a row of 1e-9 coefficients would be dropped by HiGHS
        scale = coefficient_scale(objective_expr(m, objective))
        expr = objective_expr(m, objective) * (1.0 / scale)
        tol = SECOND_STAGE_TOL * max(abs(z), 1e-9 * scale)
        if SENSE[objective] == "max":
            m.primary_floor = pyo.Constraint(expr=expr >= (z - tol) / scale)
        else:
            m.primary_floor = pyo.Constraint(expr=expr <= (z + tol) / scale)
    tie = m.facility_mw if objective in ("profit", "min_cost") else m.cost
    set_objective(m, tie, "min")
    saved = _snapshot(m)
    left = clock.left()
    limit = budget if left is None else (left if budget is None else min(left, budget))
    res = adapter.solve(m, limit, start=saved)
    if not res.has_solution:
        _restore(saved)
        return None, res.status == "time_limit"
    return res.gap, res.status == "time_limit"


def adjusted_limit_warnings(m) -> list[str]:
    """What the model moved because the solver could not hold it (``families.limit``)."""
    out = []
    for name, family, written, held in getattr(m, "adjusted_limits", []):
        unit = LIMIT_UNITS.get(family, ("",))[0]
        what = "a cap the plan holds at 0" if held == 0 else f"a floor the plan meets with at least {held:.3g} {unit}"
        out.append(f"{name}: the limit of {written:.3g} {unit} is too small to tell from zero next to the instance's own "
                   f"figures (below {1e-9:g} of one rack's share of it); it is {what}")
    return out


def idle_power(d) -> bool:
    """Some rack draws less idle than busy (section 12.2), in some scenario (section 13): then
    power, and cost, depend on the allocation, not on the racks alone."""
    if isinstance(d, StochasticData):
        return any(idle_power(x) for _, _, x in d.scenarios)
    periods = d.periods if isinstance(d, HorizonData) else [d]
    return any((p.beta < 1).any() for p in periods)


def _secondary(m, d, objective: str) -> list:
    """The LP stages after the primary's, each (expression, sense) holding the optimum of the one
    before it, with the integers fixed.

    Where power depends on the racks alone (every idle_power_fraction 1), cost and power are
    settled by the integers, so the first stage serves as many tokens as the allocation allows
    (a free tier given power by a split is not reported idle). Where an idle rack draws less
    (section 12.2) serving costs power, so it keeps the tie-break's aim instead: minimise COST
    (for ``profit`` and ``min_cost``: F). The last stage allocates as few rack-equivalents as
    that plan needs, so that busy racks and utilisation (section 12.4) count work, not slack
    (an allocation above the tokens it serves costs nothing when racks draw full power)."""
    stages = []
    if getattr(m, "risk", None) is not None and m.risk[2] > 0:
        # with CVaR in the objective a scenario above the tail is free to serve less (its value
        # does not move the objective): its second stage is the most it can earn, E[Z] held
        stages.append((objective_expr_plain(m, objective), SENSE[objective]))
    if objective == "tokens_per_watt":
        # TOK - lambda* F is 0 at the optimum, and so it is for an empty allocation when idle racks
        # draw nothing: the most tokens at that ratio is the plan section 7 reports
        stages.append((m.tokens, "max"))
    if idle_power(d):
        stages.append((m.facility_mw if objective in ("profit", "min_cost") else m.cost, "min"))
    elif objective not in ("tokens", "tokens_per_watt"):
        stages.append((m.tokens, "max"))
    allocated = [v for v in m.component_data_objects(pyo.Var) if v.parent_component().local_name == "x"]
    if allocated:
        stages.append((sum(allocated), "min"))
    return stages


def _fixed_lp(m, objective: str, lam: float, options: SolverOptions, clock: _Clock, lp: HighsAdapter, secondary=None) -> dict:
    """Fix every integer at the plan's (rounded) value and solve the LP of the primary objective.

    Its duals are the shadow prices of MODEL.md section 8. Its solution replaces the continuous
    part of the plan (the second stage only holds the primary within 1e-6; the racks it chose
    earn the full LP optimum). Then each stage of ``secondary`` (:func:`_secondary`) is solved
    holding the optimum of the one before it: the same LPs as ``highs.fixed_integer_lps``,
    through Pyomo. Returns the duals ({} if the LP failed).
    """
    for name in ("primary_floor", "primary_positive", "primary_busy"):
        if hasattr(m, name):
            getattr(m, name).deactivate()
    for v in m.component_data_objects(pyo.Var):
        if v.is_integer() or v.is_binary():
            val = round(v.value or 0.0)
            v.domain = pyo.Reals
            v.fix(val)
    primary = objective_expr(m, objective, lam)
    set_objective(m, primary, SENSE[objective])
    saved = _snapshot(m)
    res = lp.solve(m, clock.left())
    if res.status != "optimal":
        _restore(saved)
        return {}
    duals = lp.duals()
    m.stage_held = pyo.ConstraintList()
    held, held_sense, z = primary, SENSE[objective], res.objective
    for expr, sense in secondary or []:
        scale = coefficient_scale(held)
        row = held * (1.0 / scale)
        m.stage_held.add(row >= z / scale if held_sense == "max" else row <= z / scale)
        set_objective(m, expr, sense)
        saved = _snapshot(m)
        # hold the stage before to 1e-10 (internal units), not HiGHS's default 1e-7
        stage = lp.solve(m, clock.left(), highs_options={"primal_feasibility_tolerance": 1e-10})
        if stage.status != "optimal":
            _restore(saved)
            break
        held, held_sense, z = expr, sense, stage.objective
    return duals


def solve(
    instance: Instance | dict[str, Any] | str | Path,
    objective: str | None = None,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    threads: int | None = None,
    tie_break_time: float | None = None,
    marginal_values: bool = False,
    regret: bool = True,
) -> Solution:
    """Solve one instance and return the plan with every figure of MODEL.md section 8.

    ``instance`` is an :class:`Instance`, a dict or a path (validated first; bad input raises
    :class:`~optimizer.errors.InputError`). ``objective`` overrides the instance's; ``time_limit``
    (seconds) bounds the whole solve; ``mip_gap`` is HiGHS's relative gap (default 1e-4);
    ``tie_break_time`` caps the second stage (default: the primary's own HiGHS time, at least
    1 s), whose remaining gap is reported as ``tie_break_gap``. ``marginal_values`` also reports
    what each site limit is worth by re-solving with it moved (MODEL.md section 14,
    :mod:`optimizer.solving.marginal`): about twice as many solves as limits, so it is off here
    and in sweeps unless asked, and on in ``optimizer solve`` and ``optimizer report``.
    """
    clock = _Clock(time_limit)
    t = time.perf_counter()
    inst = instance if isinstance(instance, Instance) else load_instance(instance)
    timings = {"validate": time.perf_counter() - t}
    name = Objective(objective or inst.objective).value
    options = SolverOptions(time_limit=time_limit, mip_gap=1e-4 if mip_gap is None else mip_gap, threads=threads,
                            tie_break_time=tie_break_time)
    t = time.perf_counter()
    if inst.uncertainty is not None:
        issues = risk_issues(inst, name)  # the instance's own objective was checked when it was loaded
        if issues:
            raise InputError("<instance>", issues)
        d = preprocess_stochastic(inst)
    else:
        d = preprocess(inst) if inst.horizon is None else preprocess_horizon(inst)
    timings["preprocess"] = time.perf_counter() - t
    sol = solve_data(d, name, options, clock, timings, instance=inst)
    if sol.status == "numerical_trouble" and not (clock.limit is not None and clock.left() <= 0):
        # once more with HiGHS's tolerances 100x tighter, and without presolve when a checked plan
        # beats the solver's bound (a tolerance does not mend a wrong bound); if it still fails, say so
        strict = SolverOptions(time_limit=clock.left(), mip_gap=options.mip_gap, threads=options.threads,
                               tie_break_time=options.tie_break_time, strict=True,
                               presolve=not any(BEYOND_BOUND in p for p in sol.problems))
        sol = solve_data(d, name, strict, clock, dict(timings), instance=inst)
    if isinstance(d, StochasticData):
        if marginal_values:
            sol.warnings.append("marginal values are not computed for a stochastic instance (section 13): each would re-solve "
                                "the extensive form twice per limit")
        if regret and sol.has_plan and sol.uncertainty is not None:
            from .regret import fill_regret

            t = time.perf_counter()
            fill_regret(sol, d, name, options, clock)
            sol.timings["regret"] = time.perf_counter() - t
        return sol
    if marginal_values and sol.status == "optimal":
        # what each site limit is worth with the racks free to change (section 14): re-solves
        from .marginal import marginal_values as by_resolving

        t = time.perf_counter()
        sol.marginal_values = by_resolving(inst, name, sol.objective.unit, options.mip_gap, clock.left())
        sol.timings["marginal_values"] = time.perf_counter() - t
    return sol


def solve_data(d: Data | HorizonData | StochasticData, objective: str, options: SolverOptions, clock: _Clock | None = None,
               timings: dict | None = None, instance: Instance | None = None, fix: dict[str, float] | None = None,
               diagnose_infeasible: bool = True, keep_capacity: bool = False) -> Solution:
    """Solve preprocessed data: one period (:class:`Data`) or a horizon (:class:`HorizonData`).

    With the ``instance`` it came from, the plan is checked in user units against every
    constraint (``optimizer.solving.verify``) and its objective, recomputed from the plan, against the
    solver's optimum within the gap; a plan that fails either gets status ``numerical_trouble``
    with the reasons in ``problems`` (:func:`solve` re-solves once with tighter tolerances).

    :class:`StochasticData` is solved as the extensive form of section 13.2 (``uncertainty`` of
    the solution). ``fix`` holds the capacity decision at given values (variable name -> value,
    ``results.first_stage_values``): the regret table's evaluation of a plan in a scenario.
    ``diagnose_infeasible=False`` skips the diagnosis of an infeasible instance. The capacity
    decision's values are kept on the solution (``_capacity``) for a stochastic instance and with
    ``keep_capacity`` (a scenario's own optimum, which the regret table fixes elsewhere)."""
    clock = clock or _Clock(options.time_limit)
    timings = {} if timings is None else timings
    stoch = isinstance(d, StochasticData)
    multi = d.multi if stoch else isinstance(d, HorizonData)
    units = HORIZON_UNITS if multi else OBJECTIVE_UNITS
    t = time.perf_counter()
    with _no_gc():  # Pyomo's build makes millions of small objects, none of them cyclic garbage
        if stoch:
            m = build_stochastic_model(d)
            if d.weight > 0 and objective != "tokens_per_watt":
                add_risk(m, objective, d.alpha, d.weight)
        else:
            m = build_horizon_model(d) if multi else build_model(d)
    if fix:
        _fix_capacity(m, fix)
    timings["build"] = time.perf_counter() - t
    size = model_size(m)
    if stoch:
        hints, warn = stochastic_hints(d), stochastic_warnings(d) + adjusted_limit_warnings(m)
    else:
        hints = horizon_hints(d) if multi else infeasibility_hints(d)
        warn = (horizon_warnings(d) if multi else planner_warnings(d)) + adjusted_limit_warnings(m)
    adapter = HighsAdapter(options)
    t = time.perf_counter()
    with _no_gc():
        adapter.set_instance(m)  # the hand-over to HiGHS, timed on its own
    timings["handover"] = time.perf_counter() - t
    lam, iters = 0.0, None
    if hints:
        # certain reasons found before any solve (installed racks no hall can hold, a floor nothing
        # serves): no solver's rounding may overturn them (1e20 installed racks came back as
        # "unbounded" from HiGHS), so the instance is infeasible without asking it
        res = SolveResult("infeasible", False, None, None, None, 0.0, "infeasible before solving: " + "; ".join(hints))
    elif objective == "tokens_per_watt":
        res, lam, iters = _dinkelbach(m, adapter, clock, d.scale.tokens, warn)
    else:
        set_objective(m, objective_expr(m, objective), SENSE[objective])
        res = adapter.solve(m, clock.left())
        t = time.perf_counter()
        res = _certify(m, adapter, res, objective_expr(m, objective), SENSE[objective], clock,
                       d.scale.factor(units[objective][1]), warn)
        timings["certificate"] = time.perf_counter() - t
    status = res.status
    if status == "infeasible_or_unbounded":
        set_objective(m, 0.0 * m.tokens, "max")
        probe = adapter.solve(m, clock.left())
        status = "unbounded" if probe.has_solution else "infeasible"
    if not res.has_solution:
        messages = {
            "infeasible": "infeasible: no plan satisfies every constraint",
            "unbounded": "unbounded: the objective can grow without limit",
            "time_limit": "time limit reached before any plan was found",
            "error": f"solver error ({res.message})",
        }
        status = status if status in messages else "error"
        message, diagnosis = messages[status], None
        if status == "infeasible" and stoch and diagnose_infeasible:
            message = "infeasible: " + _stochastic_infeasibility(d, objective, options, clock)
        elif status == "infeasible" and diagnose_infeasible:
            diagnosis = diagnose(d, SolverOptions(time_limit=clock.left(), mip_gap=options.mip_gap, threads=options.threads))
            if hints and not (diagnosis.needs or diagnosis.gives_up):  # the certain reasons say more
                diagnosis.sentence = "; ".join(hints)
            message = f"infeasible: {diagnosis.sentence}"
        return empty_solution(
            d, objective, status, message, units=units, hints=hints, diagnosis=diagnosis, model_size=size,
            solve_seconds=clock.elapsed(), solver_seconds=adapter.seconds, dinkelbach_iterations=iters,
            **provenance(options, adapter, warn),
        )
    gap = res.gap
    if objective == "tokens_per_watt" and res.status == "optimal":
        gap = 0.0  # each Dinkelbach step is solved to an absolute gap; lambda* is exact within it
    primary_highs = adapter.seconds
    budget = options.tie_break_time if options.tie_break_time is not None else max(1.0, primary_highs)
    tie_gap, timed_out = _second_stage(m, objective, res.objective, lam, adapter, clock, budget, idle_power(d))
    if timed_out:
        gap_text = "no plan of its own" if tie_gap is None else f"a gap of {tie_gap:.3g} (tie_break_gap)"
        warn.append(f"the cost tie-break stopped at its time budget with {gap_text}: "
                    "a plan with the same objective may cost less; give it more time with --tie-break-time")
    primary = objective_expr(m, objective, lam)
    secondary = _secondary(m, d, objective)
    drop = [getattr(m, n) for n in ("primary_floor", "primary_positive", "primary_busy") if hasattr(m, n)]
    duals = fixed_integer_lps(adapter, primary, SENSE[objective], secondary, drop, clock.left(), options.threads)
    lp_seconds = 0.0
    if duals is None and (clock.left() is None or clock.left() > 0.05):  # the same LPs through Pyomo
        # (not when the clock has run out: a second hand-over for an LP with no time to run)
        lp = HighsAdapter(options)
        duals = _fixed_lp(m, objective, lam, options, clock, lp, secondary)
        lp_seconds = lp.seconds
    duals = duals or {}
    t = time.perf_counter()
    binding = binding_rows(m)
    prices = price_rows(duals, objective, d.scale, HORIZON_UNITS if multi else None)
    outlook = None
    if stoch:
        plan, outlook = extract_stochastic(m, d, objective, binding, prices, status, gap, units)
    else:
        plan = extract_horizon_plan(m, d) if multi else extract_plan(m, d)
        plan.pop("drawn_mw", None)  # a period's figure (results.extract_horizon_plan reads it), not a field of the solution
    overflow = [k for k, v in plan["metrics"].model_dump().items() if isinstance(v, float) and not math.isfinite(v)]
    if overflow:  # inputs near the float limits (1e308): no figure of this plan can be trusted
        return empty_solution(
            d, objective, "error", f"numeric overflow: {', '.join(overflow)} is not finite; an input is too large to compute with",
            units=units, hints=hints, model_size=size, solve_seconds=clock.elapsed(), solver_seconds=adapter.seconds,
            **provenance(options, adapter, warn),
        )
    timings["extract"] = time.perf_counter() - t
    timings["highs"] = adapter.seconds + lp_seconds
    unit = units[objective][0]
    if status == "optimal":
        message = "optimal"
    else:
        message = "time limit reached; best plan found, " + ("relative gap unknown" if gap is None else f"relative gap {gap:.3g}")
    sol = Solution(
        instance=d.name,
        status=status,
        message=message,
        objective=ObjectiveValue(name=objective, sense=SENSE[objective], unit=unit,
                                 value=objective_value(objective, plan["metrics"]) if outlook is None else stochastic_value(outlook)),
        mip_gap=gap,
        binding=[row for _, row in binding],
        shadow_prices=[price for _, price in prices],
        tie_break_gap=tie_gap,
        timings=timings,
        hints=hints if status != "optimal" else [],
        model_size=size,
        solve_seconds=clock.elapsed(),
        solver_seconds=adapter.seconds + lp_seconds,
        dinkelbach_iterations=iters,
        **provenance(options, adapter, warn),
        uncertainty=outlook,
        **plan,
    )
    if stoch or keep_capacity:  # a walk over every variable, by name: not for every solve
        sol._capacity = first_stage_values(m)
    if not stoch:
        fill_slice_limits(sol, m, binding, prices)
    if instance is not None:
        t = time.perf_counter()
        check = check_stochastic if stoch else check_plan
        problems = check(instance, sol, d.scale, res, lam, max(options.mip_gap, gap or 0.0))
        sol.timings["check"] = time.perf_counter() - t
        if problems:
            sol.status, sol.problems = "numerical_trouble", problems
            sol.message = "numerical trouble: the solver's plan fails the check in planner units: " + "; ".join(problems)
    return sol


def _fix_capacity(m, fix: dict[str, float]) -> None:
    """Hold every variable of the capacity decision at its value in ``fix`` (by name; one the
    plan lacks is held at 0): the plan of another scenario, evaluated in this one (section 13.3)."""
    for v in first_stage_values(m):
        var = m.find_component(v)
        val = fix.get(v, 0.0)
        var.fix(round(val) if var.is_integer() or var.is_binary() else val)


def _stochastic_infeasibility(sd: StochasticData, objective: str, options: SolverOptions, clock: _Clock) -> str:
    """Why no plan meets every scenario: the scenarios infeasible on their own, with the diagnosis
    of the first; or, when each is feasible alone, that no one capacity serves them all."""
    alone = []
    for w, _, x in sd.scenarios:
        one = solve_data(x, objective, SolverOptions(time_limit=clock.left(), mip_gap=options.mip_gap, threads=options.threads),
                         diagnose_infeasible=not alone)
        if one.status == "infeasible":
            alone.append((w, one))
    if alone:
        w, one = alone[0]
        others = f" (so are {', '.join(n for n, _ in alone[1:])})" if len(alone) > 1 else ""
        return f"scenario {w} is infeasible on its own{others}: {one.message.removeprefix('infeasible: ')}"
    return ("every scenario is feasible on its own, but no one capacity decision (racks, replicas, fabric"
            + (", the fleet schedule" if sd.multi else "") + ") meets every scenario's limits and floors (MODEL.md section 13.2)")


def _solver_objective(name: str, res: SolveResult, lam: float, scale, sizes: tuple) -> tuple:
    """(optimum, bound, absolute slack) the solver reports for objective ``name``, in planner
    units: lambda* for tokens_per_watt (no bound), else the MIP's objective and bound; the slack
    is 1e-6 of the instance's money or token magnitude (``verify.magnitudes``, ``sizes``)."""
    if name == "tokens_per_watt":
        found = lam * scale.tokens / 1e6
        return found, None, 1e-9 * abs(found)
    tokens, usd, _ = sizes
    kind = OBJECTIVE_UNITS[name][1]
    factor = scale.factor(kind)
    found = None if res.objective is None else res.objective * factor
    bound = None if res.bound is None else res.bound * factor
    return found, bound, 1e-6 * (usd if kind == "money" else tokens)


def check_stochastic(instance: Instance, sol: Solution, scale, res: SolveResult, lam: float, gap: float) -> list[str]:
    """Every scenario's second stage of the plan against that scenario's instance (the verifier),
    its objective recomputed there, and the stochastic objective from those against the solver's."""
    from .verify import Violation, magnitudes, verify, verify_horizon
    from ..model.schema import scenario_instances

    out = []
    figures = {}
    for (w, _, inst_w), o in zip(scenario_instances(instance), sol.uncertainty.scenarios):
        try:
            figures[w] = (verify_horizon if o.solution.periods else verify)(inst_w, o.solution.model_dump(mode="json"))
        except Violation as exc:
            out.append(f"scenario {w}: violated: {exc}")
        except (AssertionError, KeyError, ValueError, ZeroDivisionError, OverflowError) as exc:
            out.append(f"scenario {w}: the plan cannot be checked: {type(exc).__name__}: {exc}")
    if out:
        return out
    name = sol.objective.name
    tokens, usd, _mw = magnitudes(instance)
    unc = sol.uncertainty
    for o in unc.scenarios:
        plan = figures[o.name]["objective"]
        if abs(plan - o.value) > 1e-6 * max(abs(plan), abs(o.value)) + 1e-6 * (usd if name not in ("tokens", "tokens_per_watt") else tokens):
            out.append(f"scenario {o.name}: the plan's {name} is {plan:.9g}, its extraction says {o.value:.9g}")
    found, _, slack = _solver_objective(name, res, lam, scale, (tokens, usd, _mw))
    value = sol.objective.value
    if found is not None and value is not None:
        worse = found - value if SENSE[name] == "max" else value - found
        if worse > (gap + 1e-6) * max(abs(found), abs(value)) + slack:
            out.append(f"objective: the plan's stochastic {name} is {value:.9g}, the solver found {found:.9g}")
    return out


def provenance(options: SolverOptions, adapter: HighsAdapter | None, warnings: list[str]) -> dict:
    """What a solution records of how it was solved: versions, HiGHS options, warnings."""
    used = dict(adapter.options_used) if adapter is not None else {}
    used.update(threads=options.threads, mip_rel_gap=options.mip_gap, time_limit=options.time_limit,
                tie_break_time=options.tie_break_time, strict_tolerances=options.strict,
                presolve=(adapter.options if adapter is not None else options).presolve)
    used.pop("rel_gap", None)
    return dict(versions=dict(versions()), solver_options=used,
                warnings=list(dict.fromkeys(warnings + (adapter.warnings if adapter is not None else []))))


def check_plan(instance: Instance, sol: Solution, scale, res: SolveResult, lam: float, gap: float) -> list[str]:
    """Section 6 in planner units (``optimizer.solving.verify``), and the plan's objective against the
    solver's: a plan that breaks a limit, or a fixed-integer LP that lost what the MILP found,
    is no optimum. Returns what is wrong ([] when the plan holds)."""
    from .verify import Violation, magnitudes, verify, verify_horizon

    try:
        figures = (verify_horizon if sol.periods else verify)(instance, sol.model_dump(mode="json"))
    except Violation as exc:
        return [f"violated: {exc}"]
    except (AssertionError, KeyError, ValueError, ZeroDivisionError, OverflowError) as exc:
        return [f"the plan cannot be checked: {type(exc).__name__}: {exc}"]
    name = sol.objective.name
    plan = figures["objective"]
    found, bound, slack = _solver_objective(name, res, lam, scale, magnitudes(instance))
    if found is None:
        return []
    tol = (gap + 1e-6) * max(abs(found), abs(plan)) + slack
    out = []
    worse = found - plan if SENSE[name] == "max" else plan - found
    if worse > tol:
        out.append(f"objective: the plan's {name} is {plan:.9g}, the solver found {found:.9g}")
    if bound is not None:
        better = plan - bound if SENSE[name] == "max" else bound - plan
        if better > tol:
            out.append(f"objective: the plan's {name} {plan:.9g} is {BEYOND_BOUND} {bound:.9g}")
    return out


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """The optimizer's, HiGHS's and Pyomo's versions (what a solution was solved with)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("optimizer", "highspy", "pyomo"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "unknown"
    return out
