"""Why an instance is infeasible, in the planner's units.

Two elastic models of the same MILP. Each gives a non-negative slack to every limit of one
group, normalised by the limit (s = 0.1 means 10% more), and minimises the sum of slacks:

- ``needs``: the site's limits alone (grid power, cooling, hall slots, budget, supply caps,
  fabric reach, KV transfer): the smallest additions that make the instance feasible;
- ``gives_up``: the demand floors, installed fleets and side constraints alone: the smallest
  reductions that do.

``conflict`` names the constraints of the infeasible subset that HiGHS's IIS search (elasticity
filter) finds in the LP relaxation, when that relaxation is itself infeasible (an integer-only
infeasibility has none). HiGHS says whether the subset is irreducible; it may not be minimal.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pyomo.environ as pyo
from ..model.horizon import HorizonData, build_horizon_model
from ..model.families import build_model, set_objective
from .results import Diagnosis, Shortfall, family, label, label_parts, row_factor, slice_of
from .highs import HighsAdapter, SolverOptions, captured, use_threads

# family -> (unit, internal quantity of the limit (results.row_factor), phrase for "needs X ...")
NEEDS = {
    "facility_power": ("MW", 1.0, "{x} MW more grid power"),
    "liquid_cooling": ("MW heat", 1.0, "{x} MW more liquid cooling"),
    "air_cooling": ("MW heat", 1.0, "{x} MW more air cooling"),
    "hall_slots": ("racks", 1.0, "{x} more rack slots in hall {i}"),
    "capex_budget": ("USD", "money", "${x} more capex budget"),
    "supply_cap": ("racks", 1.0, "{x} more {i} racks on offer"),
    "fabric_reach": ("ports", "ports", "{x} more endpoint ports of fabric reach"),
    "kv_transfer": ("Gb/s", 1000.0, "{x} Gb/s more KV-transfer bandwidth"),
    "period_budget": ("USD", "money", "${x} more capex budget"),
    "max_new_racks": ("racks", 1.0, "{x} more {i} racks bought in one period"),
}
GIVES_UP = {
    "demand_floor": ("tokens/s", "tokens", "{x} fewer tokens/s in tier {i}"),
    "installed": ("racks", 1.0, "{x} fewer installed {i} racks"),
    "installed_fleet": ("racks", 1.0, "{x} fewer installed {i} racks"),
    "min_revenue": ("USD/yr", "money", "${x}/yr less required revenue"),
    "min_tokens_per_joule": ("tokens/J", None, "{x} tokens/J less required efficiency"),
    "kind_power_share": ("share of IT power", None, "a {i} power share {x} lower (or higher, for a max)"),
    "tier_power_share": ("share of allocated power", None, "a tier {i} power share {x} lower (or higher, for a max)"),
}


def _fmt(x: float) -> str:
    a = abs(x)
    if a >= 1e6:
        return f"{x:.3g}"
    if a >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _build(d, tight: bool = True):
    return build_horizon_model(d, tight) if isinstance(d, HorizonData) else build_model(d, tight)


def _name(con) -> tuple[str, str]:
    """Reported name and index: the min/max suffix of shares is dropped (kind_power_share[lpu]);
    a period's constraint keeps its block (period[2027].facility_power), a slice's its slice as
    the last index (facility_power[peak]); the index returned is without the slice."""
    prefix, fam, parts = label_parts(con)
    where = [slice_of(con)] if slice_of(con) is not None else []
    idx = con.index()
    if fam in ("kind_power_share", "tier_power_share"):
        keep = [idx[0]] + where
        return f"{prefix}{fam}[{','.join(map(str, keep))}]", str(idx[0])
    if fam == "fabric_reach":
        return f"{prefix}{fam}", ""
    if fam == "max_new_racks":
        return label(con), str(idx[0])
    return label(con), "" if idx is None else str(idx)


def elastic(d, groups: dict, options: SolverOptions) -> tuple[list[Shortfall] | None, bool]:
    """Minimise the normalised slack on the limits of ``groups``: (the shortfalls, or None if
    that cannot help; whether HiGHS proved it within ``options.time_limit``). An unproven answer
    is the best found in time (its figures may not be the smallest), or None when none was.

    An equality (an installed fleet) keeps its upper side and relaxes its lower side."""
    m = _build(d, tight=False)
    targets = [c for c in m.component_data_objects(pyo.Constraint, active=True) if family(c) in groups]
    m.slack = pyo.Var(range(len(targets)), within=pyo.NonNegativeReals)
    m.elastic = pyo.ConstraintList()
    scales = []
    for k, con in enumerate(targets):
        bound = con.upper if con.upper is not None else con.lower
        scale = abs(pyo.value(bound)) or 1.0  # normalised by the limit; 1 internal unit for a limit of 0
        scales.append(scale)
        con.deactivate()
        if con.equality:
            m.elastic.add(con.body <= con.upper)
            m.elastic.add(con.body + scale * m.slack[k] >= con.lower)
        elif con.upper is not None:
            m.elastic.add(con.body - scale * m.slack[k] <= con.upper)
        else:
            m.elastic.add(con.body + scale * m.slack[k] >= con.lower)
    set_objective(m, sum(m.slack[k] for k in m.slack) if targets else 0.0 * m.tokens, "min")
    res = HighsAdapter(options).solve(m, options.time_limit)
    proven = res.status in ("optimal", "infeasible")
    if not res.has_solution:
        return None, proven
    out: dict[str, Shortfall] = {}
    for k, con in enumerate(targets):
        s = pyo.value(m.slack[k]) * scales[k]
        if s <= 1e-7 * scales[k]:
            continue
        fam = family(con)
        unit, kind, _ = groups[fam]
        blk = con.parent_block()  # the model, or the period's block
        if fam == "min_tokens_per_joule":  # tokens/J: TOK >= (eps - s/F) F, TOK in internal units
            missing = s * row_factor(con, "tokens") / 1e6 / max(pyo.value(blk.facility_mw), 1e-12)  # s in MW
        elif fam == "kind_power_share":
            missing = s / max(pyo.value(blk.it_mw), 1e-12)
        elif fam == "tier_power_share":
            missing = s / max(sum(pyo.value(e) for e in blk.tier_mw.values()), 1e-12)
        else:
            missing = s * row_factor(con, kind)
        name, _ = _name(con)
        if name in out:
            out[name].missing += missing
        else:
            out[name] = Shortfall(constraint=name, missing=missing, unit=unit, slice=slice_of(con))
    return sorted(out.values(), key=lambda e: e.constraint), proven


def iis(m, options: SolverOptions) -> list[str]:
    """Constraint names of HiGHS's IIS of the LP relaxation ([] if it is feasible or HiGHS cannot say)."""
    try:
        ad = HighsAdapter(options)
        ad.solve(m, options.time_limit, highs_options={"iis_strategy": 2})
        h = ad.solver._solver_model
        rows = ad.solver._solver_con_to_pyomo_con_map
        h.setOptionValue("output_flag", False)
        n = h.getNumCol()
        h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.zeros(n, dtype=np.uint8))
        use_threads(options.threads)
        with captured(ad.log):
            h.run()
        if str(h.getModelStatus()).split(".")[-1] != "kInfeasible":
            return []
        with captured(ad.log):
            _, found = h.getIis()
        return sorted({label(rows[int(r)]) for r in found.row_index_ if int(r) in rows})
    except Exception:  # the IIS is a courtesy: never let it hide the diagnosis
        return []


def sentence(needs: list[Shortfall] | None, gives: list[Shortfall] | None) -> str:
    def phrase(entries, groups):
        parts = []
        for e in entries:
            name, when = e.constraint, ""
            if name.startswith("period["):  # period[2027].facility_power -> "... in 2027"
                block, name = name.split(".", 1)
                when = f" in {block[len('period['):-1]}"
            fam = name.split("[", 1)[0]
            idx = name[len(fam) + 1:-1] if "[" in name else ""
            if e.slice is not None:  # facility_power[peak] -> "... in the peak slice"
                idx = ",".join(idx.split(",")[:-1])
                when += f" in the {e.slice} slice"
            if fam == "max_new_racks":
                idx, year = idx.split(",")
                when = f" in {year}"
            elif fam == "period_budget":
                when, idx = f" in {idx}", ""
            parts.append(groups[fam][2].format(x=_fmt(e.missing), i=idx) + when)
        return " and ".join(parts)

    if needs:
        text = "needs " + phrase(needs, NEEDS)
        return text + (", or " + phrase(gives, GIVES_UP) if gives else " (no reduction of demand alone suffices)")
    if gives:
        return "no addition to the site's limits alone suffices; it needs " + phrase(gives, GIVES_UP)
    return "neither more site capacity nor less demand alone makes it feasible; see the conflict"


def diagnose(d, options: SolverOptions, m=None) -> Diagnosis:
    """Why ``d`` (one period's :class:`Data` or a :class:`HorizonData`) is infeasible.

    ``options.time_limit`` bounds the whole diagnosis, not each of its three solves: each gets
    what is left. One cut short says so (``complete`` false, and the sentence), and a step with
    no time left is not run."""
    start = time.perf_counter()

    def left(opts: SolverOptions) -> SolverOptions | None:
        if opts.time_limit is None:
            return opts
        remaining = opts.time_limit - (time.perf_counter() - start)
        return None if remaining <= 0.01 else replace(opts, time_limit=remaining)

    steps, complete = [], True
    for groups in (NEEDS, GIVES_UP):
        opts = left(options)
        found, proven = elastic(d, groups, opts) if opts is not None else (None, False)
        steps.append(found)
        complete &= proven
    opts = left(options)
    conflict = iis(m if m is not None else _build(d), opts) if opts is not None else []
    complete &= opts is not None
    needs, gives = steps
    text = sentence(needs, gives) if complete else (
        "the diagnosis was cut short by the time limit, so what follows is the best found, not proven: "
        + (sentence(needs, gives) if needs or gives else "nothing found in time"))
    return Diagnosis(sentence=text, needs=needs, gives_up=gives, conflict=conflict, complete=complete)
