"""What moves the decision: one input at a time at its low and its high setting (a tornado).

A planner gives, for each uncertain input, a range: a ``low`` and a ``high`` set of overrides by
path (the sweep's path syntax, ``hardware[vr-nvl72].performance_multiplier``), in the instance's
``sensitivity`` block or a separate file (docs/sensitivity.md). The base case and, one range at a
time, the instance at its low and at its high end are solved (2N + 1 solves, as one sweep of
named what-ifs: ``sweeps.run_sweep``, in parallel on the machine's cores, with its progress and
its Ctrl-C handling); each end reports its objective, its change against the base, and its
racks per hardware and their change.

The base case is the instance as written **without its uncertainty block**: the deterministic,
as-assumed future (MODEL.md sections 1-12), since a range moves one input of one future; every
end is that base with the range's overrides. The ``sensitivity`` block itself is never solved.

Racks per hardware: for one period the plan's racks (installed ones included); for a multi-year
horizon (section 11) the most racks of that hardware alive in any one period (its peak fleet),
with the racks alive per year beside it.

Ranking: by the swing, max(|Δlow|, |Δhigh|) of the objective, largest first; a range with an end
that has no plan (infeasible, a time limit without a plan, a solver error) is ranked after every
range whose two ends have one, in the order given, with its status and reason.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from ..errors import InputError, Issue
from ..model.schema import (
    Instance,
    Objective,
    SensitivityRange,
    load_instance,
    read_document,
    sensitivity_base,
    sensitivity_issues,
    sensitivity_ranges,
)
from ..solving.marginal import in_worker
from ..solving.results import SENSE
from .scenarios import Scenario, SweepSpec
from .sweeps import run_sweep

BASE_CASE = ("the instance as written without its uncertainty block (the deterministic, as-assumed future) and "
             "without its sensitivity block; every end is that base with the range's overrides")
RACKS_ONE_PERIOD = "racks per hardware of the plan (installed racks included)"
RACKS_HORIZON = ("racks per hardware: the most racks of that hardware alive in any one period of the horizon (its peak "
                 "fleet, installed racks included); racks alive per year in racks_by_year")
PLANNED = ("optimal", "time_limit")


class End(BaseModel):
    """One solve: the base case, or one end of a range."""

    overrides: dict[str, Any] = Field(default_factory=dict, description="path -> value set on the base case")
    status: str
    message: str = ""
    objective_value: float | None = Field(None, description="in objective_unit; null: no plan")
    objective_unit: str = Field("", description="the solution's objective unit (every end's and the base's is the same)")
    mip_gap: float | None = None
    change: float | None = Field(None, description="objective_value minus the base's, in objective_unit")
    change_pct: float | None = Field(None, description="change as a percentage of |base| (null when the base is 0)")
    racks: dict[str, int] = Field(default_factory=dict, description="racks per hardware (see racks_definition)")
    racks_change: dict[str, int] = Field(default_factory=dict, description="racks minus the base's, per hardware")
    racks_by_year: dict[str, dict[int, int]] = Field(default_factory=dict, description="horizon only: racks alive per hardware and year")

    @property
    def has_plan(self) -> bool:
        return self.status in PLANNED and self.objective_value is not None


class RangeResult(BaseModel):
    rank: int = Field(description="1 moves the objective most; ranges with an end without a plan come last")
    name: str
    source: str
    label: str = Field(description="the name with the range's values, as the tornado prints it")
    low: End
    high: End
    swing: float | None = Field(description="max(|change low|, |change high|) in objective_unit; null: an end (or the base) has no plan")


class SensitivityResult(BaseModel):
    instance: str
    objective: str
    sense: str
    objective_unit: str
    base_case: str = BASE_CASE
    racks_definition: str
    ranking: str = ("by swing = max(|change low|, |change high|) of the objective, largest first; a range with an end "
                    "without a plan is ranked after all others")
    mip_gap: float | None = Field(description="the MIP gap every solve was given (null: the solver's default, 1e-4)")
    time_limit: float | None = Field(description="seconds per solve (null: none)")
    hardware: list[str]
    base: End
    ranges: list[RangeResult]


def load_ranges(path: str | Path) -> list[SensitivityRange]:
    """A ranges file: a mapping with one key, ``sensitivity``, holding the block as an instance
    would (so that a block can move between the two). Errors are an :class:`InputError` naming it."""
    doc = read_document(path)
    extra = sorted(k for k in doc if k != "sensitivity")
    if "sensitivity" not in doc or extra:
        rule = (f"unknown field(s) {', '.join(map(repr, extra))}: a ranges file holds only 'sensitivity'" if extra and "sensitivity" in doc
                else "a ranges file is a mapping with one key, 'sensitivity': a list of {name, source, low, high}")
        raise InputError(str(path), [Issue(extra[0] if extra and "sensitivity" in doc else "sensitivity", rule)])
    return sensitivity_ranges(doc["sensitivity"], str(path))


def ranges_for(inst: Instance, ranges: list | str | Path | None = None, source: str = "<instance>") -> list[SensitivityRange]:
    """The ranges to solve, validated against ``inst``: ``ranges`` (a list of dicts or
    :class:`SensitivityRange`, or a ranges file's path), else the instance's ``sensitivity``
    block. Raises an :class:`InputError` naming where the ranges come from (``source``, the
    instance's name for its own block), each issue at ``sensitivity[i] (name)...``."""
    if ranges is None:
        if not inst.sensitivity:
            raise InputError(source, [Issue("sensitivity", "no ranges: give the instance a 'sensitivity' block or pass ranges "
                                                           "(--ranges FILE.yaml); docs/sensitivity.md shows the shape")])
        chosen, where = list(inst.sensitivity), source
    elif isinstance(ranges, (str, Path)):
        chosen, where = load_ranges(ranges), str(ranges)
    else:
        where = "<ranges>"
        chosen = sensitivity_ranges([r.model_dump() if isinstance(r, SensitivityRange) else r for r in ranges], where)
    if not chosen:
        raise InputError(where, [Issue("sensitivity", "no ranges: the list is empty")])
    issues = sensitivity_issues(inst, chosen)
    if issues:
        raise InputError(where, issues)
    return chosen


def _value_text(path: str, value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = f"{value:,.6g}"
        return f"x{text}" if path.rsplit(".", 1)[-1].endswith("multiplier") else text
    return str(value)


def label(r: SensitivityRange) -> str:
    """The name with its range: ``VR throughput x0.9 .. x1.8`` from the first path's values
    (``(+2 paths)`` when both ends set the same several paths), else the name with how many paths
    each end sets."""
    if set(r.low) == set(r.high):
        path = next(iter(r.low))
        more = f" (+{len(r.low) - 1} path{'s' if len(r.low) > 2 else ''})" if len(r.low) > 1 else ""
        return f"{r.name} {_value_text(path, r.low[path])} .. {_value_text(path, r.high[path])}{more}"
    return f"{r.name} (low: {len(r.low)} path(s), high: {len(r.high)} path(s))"


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _end(row: dict, overrides: dict, hardware: list[str], horizon: bool) -> End:
    status = str(row.get("status") or "error")
    message = row.get("message")
    value = _finite(row.get("objective_value"))
    racks: dict[str, int] = {}
    by_year: dict[str, dict[int, int]] = {}
    if status in PLANNED and value is not None:
        for h in hardware:
            if horizon:
                years = {int(k[len(f"racks[{h}]["):-1]): int(round(v)) for k, v in row.items()
                         if k.startswith(f"racks[{h}][") and _finite(v) is not None}
                by_year[h] = dict(sorted(years.items()))
                racks[h] = max(years.values(), default=0)
            else:
                racks[h] = int(round(_finite(row.get(f"racks[{h}]")) or 0))
    unit = row.get("objective_unit")
    return End(overrides=overrides, status=status, message=message if isinstance(message, str) else "",
               objective_value=value if status in PLANNED else None, objective_unit=unit if isinstance(unit, str) else "",
               mip_gap=_finite(row.get("mip_gap")),
               racks=racks, racks_by_year=by_year)


def _against(end: End, base: End) -> End:
    if end.has_plan and base.has_plan:
        end.change = end.objective_value - base.objective_value
        end.change_pct = 100.0 * end.change / abs(base.objective_value) if base.objective_value != 0 else None
        end.racks_change = {h: n - base.racks.get(h, 0) for h, n in end.racks.items()}
    return end


def sensitivity(
    instance: Instance | str | Path | dict,
    ranges: list | str | Path | None = None,
    objective: str | Objective | None = None,
    mip_gap: float | None = None,
    time_limit: float | None = None,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SensitivityResult:
    """Solve the base case and each range's low and high end (2N + 1 solves) and rank the ranges.

    ``instance``: an :class:`Instance`, a path or a dict. ``ranges``: a list of ranges (dicts
    ``{name, source, low, high}``), or the path of a ranges file (``sensitivity: [...]``), used
    instead of the instance's own ``sensitivity`` block; either is validated as the block is.
    The base case is the instance without its ``uncertainty`` (the deterministic, as-assumed
    future). ``objective`` overrides the instance's; ``mip_gap`` and ``time_limit`` (seconds) are
    each solve's; ``jobs`` solves run at once (default: the cores, one inside a worker process);
    ``progress(done, total)`` is called as solves finish. Ctrl-C raises
    :class:`~optimizer.analysis.sweeps.SweepInterrupted`; bad input an :class:`InputError`."""
    source = str(instance) if isinstance(instance, (str, Path)) else "<instance>"
    inst = instance if isinstance(instance, Instance) else load_instance(instance)
    chosen = ranges_for(inst, ranges, source)
    name = Objective(objective or inst.objective).value
    cases = [Scenario(name="base")]
    for i, r in enumerate(chosen):
        cases += [Scenario(name=f"{i}.low", set=r.low), Scenario(name=f"{i}.high", set=r.high)]
    try:
        spec = SweepSpec(base="<sensitivity>", objective=name, mip_gap=mip_gap, time_limit=time_limit, scenarios=cases)
    except ValidationError as err:  # a time limit of 0, a gap above 1
        raise InputError("<options>", [Issue(".".join(map(str, e["loc"])), e["msg"]) for e in err.errors()]) from None
    if jobs is None:
        jobs = 1 if in_worker() else os.cpu_count() or 1
    jobs = max(1, min(jobs, len(cases)))
    df = run_sweep(spec, sensitivity_base(inst), None, jobs=jobs, progress=progress)
    rows = {int(r["point"]): r for r in df.to_dict("records")}
    hardware = [h.name for h in inst.hardware]
    horizon = inst.horizon is not None
    base = _end(rows[0], {}, hardware, horizon)
    out = []
    for i, r in enumerate(chosen):
        low = _against(_end(rows[1 + 2 * i], r.low, hardware, horizon), base)
        high = _against(_end(rows[2 + 2 * i], r.high, hardware, horizon), base)
        swing = max(abs(low.change), abs(high.change)) if low.change is not None and high.change is not None else None
        out.append(RangeResult(rank=0, name=r.name, source=r.source, label=label(r), low=low, high=high, swing=swing))
    ranked = sorted((x for x in out if x.swing is not None), key=lambda x: -x.swing) + [x for x in out if x.swing is None]
    for k, x in enumerate(ranked, start=1):
        x.rank = k
    unit = next((str(r["objective_unit"]) for r in rows.values() if isinstance(r.get("objective_unit"), str)), "")
    return SensitivityResult(
        instance=inst.name, objective=name, sense=SENSE[name], objective_unit=unit,
        racks_definition=RACKS_HORIZON if horizon else RACKS_ONE_PERIOD, mip_gap=mip_gap, time_limit=time_limit,
        hardware=hardware, base=base, ranges=ranked,
    )
