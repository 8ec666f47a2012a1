"""Pareto frontiers between two objectives by the epsilon-constraint method.

The x axis must have a linear floor among MODEL.md's side constraints (section 6.14):
``revenue`` (``min_revenue_usd_per_year``) or ``tokens_per_joule`` (``min_tokens_per_joule``).
The y axis is any maximised objective. Steps: maximise y alone (the frontier's low-x end),
maximise x alone (its high-x end), then maximise y with x >= epsilon for epsilon evenly spaced
between the two. Points that another point dominates (a MIP-gap artefact) are dropped, so
the frontier is monotone: more x never comes with more y.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd

from ..solving.engine import solve
from ..solving.results import Solution
from ..model.schema import Instance, load_instance, read_document

# axis name -> (objective that maximises it, metric in Solution.metrics, side-constraint field)
AXES: dict[str, tuple[str, str, str | None]] = {
    "revenue": ("revenue", "revenue_usd_per_year", "min_revenue_usd_per_year"),
    "tokens_per_joule": ("tokens_per_watt", "tokens_per_joule", "min_tokens_per_joule"),
    "profit": ("profit", "profit_usd_per_year", None),
    "tokens": ("tokens", "tokens_per_s", None),
}
UNITS = {"revenue": "USD/yr", "tokens_per_joule": "tokens/J", "profit": "USD/yr", "tokens": "tokens/s"}
LAST_STEP = 1 - 1e-6  # the high-x end is approached from just inside, not at the solver's tolerance


def _metric(sol: Solution, axis: str) -> float:
    return getattr(sol.metrics, AXES[axis][1])


def _with_floor(doc: dict, field: str, value: float) -> dict:
    out = copy.deepcopy(doc)
    cons = out.setdefault("constraints", {}) or {}
    out["constraints"] = cons
    current = cons.get(field)
    cons[field] = value if current is None else max(float(current), value)
    return out


def pareto(
    instance: str | Path | dict[str, Any] | Instance,
    x: str = "tokens_per_joule",
    y: str = "revenue",
    points: int = 10,
    mip_gap: float = 1e-6,
    time_limit: float | None = None,
) -> pd.DataFrame:
    """The frontier as a DataFrame: one row per point with x, y, every metric, racks per
    hardware and the plan itself (``solution``, JSON)."""
    if x not in AXES or AXES[x][2] is None:
        raise ValueError(f"x must be one of {[a for a, v in AXES.items() if v[2]]} (it needs a linear floor)")
    if y not in AXES or y == x:
        raise ValueError(f"y must be one of {[a for a in AXES if a != x]}")
    if points < 2:
        raise ValueError("points must be at least 2")
    if isinstance(instance, Instance):
        doc = instance.model_dump(mode="json", exclude_none=False)
    elif isinstance(instance, dict):
        doc = copy.deepcopy(instance)
    else:
        doc = read_document(instance)
    load_instance(doc)  # validate once, with the file's errors
    kw = dict(mip_gap=mip_gap, time_limit=time_limit, regret=False)  # a stochastic point's regret table is not a frontier's
    y_best = solve(doc, objective=AXES[y][0], **kw)
    x_best = solve(doc, objective=AXES[x][0], **kw)
    if not (y_best.has_plan and x_best.has_plan):
        raise ValueError(f"no plan: {y_best.status if not y_best.has_plan else x_best.status}")
    lo, hi = _metric(y_best, x), _metric(x_best, x)
    field = AXES[x][2]
    sols: list[tuple[float, Solution]] = [(lo, y_best)]
    if hi > lo:
        for k in range(1, points):
            eps = lo + (hi - lo) * k / (points - 1)
            if k == points - 1:
                eps = lo + (hi - lo) * LAST_STEP
            sols.append((eps, solve(_with_floor(doc, field, eps), objective=AXES[y][0], **kw)))
    rows = []
    for i, (eps, sol) in enumerate(sols):
        row: dict[str, Any] = {"point": i, "epsilon": eps, "status": sol.status}
        if sol.has_plan:
            row.update({x: _metric(sol, x), y: _metric(sol, y)})
            row.update(sol.metrics.model_dump())
            for h in sorted({r.hardware for r in sol.racks}):
                row[f"racks[{h}]"] = sum(r.count for r in sol.racks if r.hardware == h)
            row["fabric"] = f"{sol.fabric.option}:{sol.fabric.switch_tiers}" if sol.fabric else ""
        row["solution"] = sol.model_dump_json()
        rows.append(row)
    df = pd.DataFrame(rows)
    plans = df[df["status"].isin(["optimal", "time_limit"])].copy()
    keep = [
        i for i, r in plans.iterrows()
        if not any((o[x] >= r[x] and o[y] > r[y] * (1 + 1e-9)) or (o[x] > r[x] * (1 + 1e-9) and o[y] >= r[y]) for _, o in plans.iterrows())
    ]
    front = plans.loc[keep].sort_values(x).drop_duplicates(subset=[x, y]).reset_index(drop=True)
    racks = sorted(c for c in front.columns if c.startswith("racks["))
    front[racks] = front[racks].fillna(0).astype(int)
    front.attrs.update(x=x, y=y, x_unit=UNITS[x], y_unit=UNITS[y], dropped=len(plans) - len(front))
    return front
