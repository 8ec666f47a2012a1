"""What a limit is worth, by re-solving (MODEL.md section 14).

The LP duals of section 8 price a limit with the racks held fixed, so a grid connection that caps
a whole-rack plan shows a price of 0 while one more MW would buy one more rack. Here each site
limit is moved by Δ (1% of the limit, at least one unit of it) up and down, the MILP is solved
again, and the change of the primary objective is reported per unit, with the racks that change:

==========================  ============================================  ==========
limit                       field moved                                   unit
==========================  ============================================  ==========
facility_power[s]           facility.grid_power_mw (slice s's value)      MW
liquid_cooling[s]           facility.liquid_cooling_mw                    MW of heat
air_cooling[s]              facility.air_cooling_mw                       MW of heat
hall_slots[z]               facility.halls[z].rack_slots                  rack slots
capex_budget                facility.capex_budget_usd (where set)         USD
==========================  ============================================  ==========

With slices, a limit that is a map by slice is moved one slice at a time (named with the slice,
as the constraint is); a plain number is one limit for every slice. With a horizon, a value by
year is moved by the same Δ in every year it lists (Δ from its largest value). The base and every
moved instance are solved at the same MIP gap, tighter than the user's (``GAP``), so that the
differences are the limit's and not the solver's tolerance; the re-solves run in parallel on
the machine's cores (forked workers, one HiGHS thread each).
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pydantic import BaseModel, Field

from ..model.schema import Instance, is_slice_map, is_year_map

GAP = 1e-6  # the MIP gap of the re-solves (and of the base they are measured from), at most the user's


class MarginalValue(BaseModel):
    """One limit moved by ``delta`` up and down (section 14). Changes are measured from the base
    instance solved at the re-solves' own gap (``GAP``), racks and objective alike."""

    limit: str = Field(description="the limit, named as its constraint is (facility_power[peak], hall_slots[hall-a])")
    unit: str = Field(description="unit of the limit and of delta")
    value: float = Field(description="the limit as the instance gives it (the largest year's, with a horizon)")
    delta: float
    value_up: float | None = Field(description="change of the objective per unit of the limit, raised by delta (null: no plan)")
    value_down: float | None = Field(description="change of the objective per unit of the limit, lowered by delta (null: no plan, or a limit of 0)")
    objective_unit: str = Field(description="unit of value_up and value_down: the objective's unit per unit of the limit")
    racks_up: dict[str, int] = Field(default_factory=dict, description="racks per hardware that change when raised (bought over the horizon)")
    racks_down: dict[str, int] = Field(default_factory=dict, description="racks per hardware that change when lowered")
    status_up: str = "optimal"
    status_down: str = "optimal"


# field under facility -> (constraint family, unit, smallest step)
FIELDS = {
    "grid_power_mw": ("facility_power", "MW", 1.0),
    "liquid_cooling_mw": ("liquid_cooling", "MW heat", 1.0),
    "air_cooling_mw": ("air_cooling", "MW heat", 1.0),
    "capex_budget_usd": ("capex_budget", "USD", 1.0),
}
PER = {"MW": "MW", "MW heat": "MW of heat", "USD": "USD", "rack slots": "rack slot"}  # "USD/yr per ..."


def _moves(doc: dict) -> list[tuple[str, str, float, float, list]]:
    """(limit name, unit, value, delta, where) for every limit; ``where`` is the list of
    (holder, key) whose values the move changes."""
    fac = doc["facility"]
    out = []
    for key, (family, unit, least) in FIELDS.items():
        value = fac.get(key)
        if value is None:
            continue
        parts = _parts(fac, key)  # [(slice or None, [(holder, key), ...])]
        for s, where in parts:
            values = [h[k] for h, k in where if h[k] is not None]
            if not values:
                continue
            top = max(values)
            delta = max(0.01 * top, least)
            name = family if s is None else f"{family}[{s}]"
            out.append((name, unit, top, delta, where))
    for z in fac["halls"]:
        value = z["rack_slots"]
        where = [(value, y) for y in value] if is_year_map(value) else [(z, "rack_slots")]
        values = [h[k] for h, k in where]
        top = max(values)
        out.append((f"hall_slots[{z['name']}]", "rack slots", top, float(max(1, round(0.01 * top))), where))
    return out


def _parts(holder: dict, key: str) -> list[tuple[str | None, list]]:
    """How one field is moved: one limit for a plain number (or a year map of numbers), one per
    slice for a map by slice (also inside a year map)."""
    value = holder[key]
    years = list(value.items()) if is_year_map(value) else [(None, value)]
    slices = sorted({s for _, v in years if is_slice_map(v) for s in v})
    if not slices:
        return [(None, [(holder, key)] if not is_year_map(value) else [(value, y) for y, _ in years])]
    parts = []
    for s in slices:
        where = []
        for y, v in years:
            # a year whose value is a plain number holds in every slice: it moves with each
            where.append((v, s) if is_slice_map(v) else (value, y))
        parts.append((s, where))
    return parts


def _moved(doc: dict, where_index: int, sign: float) -> dict | None:
    """A copy of ``doc`` with limit ``where_index`` moved by sign x delta (None: not possible)."""
    out = copy.deepcopy(doc)
    name, unit, top, delta, where = _moves(out)[where_index]
    integer = name.startswith("hall_slots")
    for holder, key in where:
        if holder[key] is None:
            continue
        new = holder[key] + sign * delta
        if new < 0:
            return None
        holder[key] = int(round(new)) if integer else new
    return out


def _solve_one(args) -> tuple[str, float | None, dict[str, int]]:
    doc, objective, gap, deadline = args
    from .engine import solve
    from .results import plan_racks  # results imports this module

    if doc is None:
        return "not possible", None, {}
    left = None if deadline is None else deadline - time.time()
    if left is not None and left <= 0.01:
        return "time_limit", None, {}
    sol = solve(doc, objective=objective, mip_gap=gap, time_limit=left, marginal_values=False)
    return sol.status, (sol.objective.value if sol.has_plan else None), plan_racks(sol) if sol.has_plan else {}


def in_worker() -> bool:
    """This process is a worker (a sweep's, the service's, or one of ``forked_map``'s)."""
    return multiprocessing.current_process().name != "MainProcess"


def forked_map(fn, items: list, jobs: int | None = None) -> list:
    """``[fn(x) for x in items]`` on ``jobs`` forked workers (default: the machine's cores, at most
    one per item; one inside a worker process, which may not start its own pool)."""
    if jobs is None and in_worker():
        jobs = 1
    workers = max(1, min(jobs or os.cpu_count() or 1, len(items)))
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
            return list(pool.map(fn, items))
    return [fn(x) for x in items]


def marginal_values(inst: Instance, objective: str, objective_unit: str, mip_gap: float = 1e-4,
                    time_limit: float | None = None, jobs: int | None = None) -> list[MarginalValue]:
    """Every site limit of ``inst`` moved by Δ up and down and solved again (section 14).

    ``jobs`` re-solves run at once (default: the machine's cores, at most the number of
    re-solves; one inside a worker process, a sweep's or the service's, which may not start
    its own); ``time_limit`` bounds them all: a re-solve with no time left is not run
    (status ``time_limit``, no value)."""
    doc = inst.model_dump(mode="python", exclude_none=False)
    moves = _moves(doc)
    if not moves:
        return []
    gap = min(mip_gap, GAP)
    deadline = None if time_limit is None else time.time() + time_limit
    tasks = [(doc, objective, gap, deadline)]
    for i in range(len(moves)):
        tasks += [(_moved(doc, i, +1.0), objective, gap, deadline), (_moved(doc, i, -1.0), objective, gap, deadline)]
    results = forked_map(_solve_one, tasks, jobs)
    base_status, base, base_racks = results[0]
    out = []
    for i, (name, unit, top, delta, _) in enumerate(moves):
        (up_status, up, up_racks), (down_status, down, down_racks) = results[1 + 2 * i], results[2 + 2 * i]

        def per_unit(z):
            return None if z is None or base is None else (z - base) / delta

        def changed(racks):
            keys = set(racks) | set(base_racks)
            return {h: racks.get(h, 0) - base_racks.get(h, 0) for h in sorted(keys) if racks.get(h, 0) != base_racks.get(h, 0)}

        out.append(MarginalValue(
            limit=name, unit=unit, value=top, delta=delta, value_up=per_unit(up),
            value_down=None if down is None or base is None else (down - base) / delta,
            objective_unit=f"{objective_unit} per {PER[unit]}", racks_up=changed(up_racks) if up is not None else {},
            racks_down=changed(down_racks) if down is not None else {}, status_up=up_status, status_down=down_status,
        ))
    return out
