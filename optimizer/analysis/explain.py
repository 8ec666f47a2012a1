"""What limits a plan: every limit's use against its capacity, and what a system left out of the
plan would need to enter it.

Entry thresholds are found by re-solving, which is exact where the LP reduced cost is not (a
rack is an integer and its replica may span several racks):

- ``forced_loss``: the objective lost when one replica's worth of the system's racks is forced in;
- ``capex_cut_usd_per_rack`` (objectives that count cost): the capex cut per rack at which that
  forced plan ties the optimum, loss / (CRF x racks); a larger cut brings the system in;
- ``speedup_needed``: the smallest multiplier on all its throughput (found by bisection to 1%)
  at which the optimizer buys it freely; ``None`` when even 100x does not.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from pydantic import BaseModel, Field

from ..solving.engine import solve
from ..model.preprocess import crf
from ..solving.results import Solution
from ..model.schema import IMPLICIT_SLICE, Instance, by_slice_of, load_instance

MAX_SPEEDUP = 100.0


class LimitUse(BaseModel):
    constraint: str
    usage: float
    limit: float
    unit: str
    use: float = Field(description="usage / limit (for a floor: how far above it)")
    binding: bool


class Entry(BaseModel):
    hardware: str
    forced_racks: int
    forced_loss: float | None = Field(description="objective lost with forced_racks forced in; null if that is infeasible")
    unit: str
    capex_cut_usd_per_rack: float | None = None
    speedup_needed: float | None = Field(None, description="throughput multiplier to enter freely; null: not even 100x")
    no_hall: str | None = Field(None, description="why no hall can take it (then no price or speed brings it in)")


class Explanation(BaseModel):
    limits: list[LimitUse]
    not_chosen: list[Entry]


def limits(inst: Instance, sol: Solution) -> list[LimitUse]:
    """Use against capacity of every site limit and demand bound, binding first. "Binding" is the
    solution's own list (results.binding_limits), so the report and `optimizer solve` agree."""
    fac, rows = inst.facility, []
    bound = {b.constraint.split("[", 1)[0] if b.constraint.startswith("fabric_reach[") else b.constraint for b in sol.binding}

    def add(name, usage, limit, unit):
        if limit is None:
            return
        use = usage / limit if limit else (1.0 if usage == 0 else math.inf)
        binding = name in bound
        rows.append(LimitUse(constraint=name, usage=usage, limit=limit, unit=unit, use=use, binding=binding))

    m = sol.metrics
    tiers = {t.name: t for t in inst.tiers}
    models = {u.name: u for u in inst.models}
    work = {w.name: w for w in inst.workloads}
    racks = {h.name: sum(r.count for r in sol.racks if r.hardware == h.name) for h in inst.hardware}
    # the limits of each slice (section 12.4: read per slice, named with the slice as their last
    # index); without slices the one slice is the plan's top level, under the v1 names
    views = [(None, sol.power, sol.heat, sol.tiers)] if not sol.slices else [(x.name, x.power, x.heat, x.tiers) for x in sol.slices]
    for s, power, heat_rows, tier_rows in views:

        def name(fam, *index):
            parts = [*index, s] if s is not None else list(index)
            return f"{fam}[{','.join(parts)}]" if parts else fam

        def at(value):
            return by_slice_of(inst, value)[s if s is not None else IMPLICIT_SLICE]

        add(name("facility_power"), power.total_mw, power.grid_mw, "MW")
        heat = {h.loop: h for h in heat_rows}
        add(name("liquid_cooling"), heat["liquid"].load_mw, heat["liquid"].capacity_mw, "MW heat")
        add(name("air_cooling"), heat["air"].load_mw, heat["air"].capacity_mw, "MW heat")
        for row in tier_rows:
            t = tiers[row.tier]
            if t.shiftable:
                continue  # bounded on the year's mean, below
            cap, floor = at(t.max_tokens_per_s), at(t.min_tokens_per_s)
            if cap is not None:
                add(name("demand_cap", t.name), row.tokens_per_s, cap, "tokens/s")
            if floor > 0:
                add(name("demand_floor", t.name), row.tokens_per_s, floor, "tokens/s")
        if inst.network is not None:
            bits = sum(8 * models[work[tiers[r.tier].workload].model].kv_bytes_per_token
                       * work[tiers[r.tier].workload].input_tokens_per_output_token * r.disaggregated_tokens_per_s for r in tier_rows)
            bw = inst.network.kv_transfer_max_utilization * sum(h.scale_out_ports * h.port_gbps * racks[h.name] for h in inst.hardware)
            if bits > 0:
                add(name("kv_transfer"), bits / 1e9, bw, "Gb/s")
    for row in sol.tiers:  # shiftable tiers: the year's mean rate
        t = tiers[row.tier]
        if t.shiftable:
            if t.max_tokens_per_s is not None:
                add(f"demand_cap[{t.name}]", row.tokens_per_s, t.max_tokens_per_s, "tokens/s")
            if t.min_tokens_per_s > 0:
                add(f"demand_floor[{t.name}]", row.tokens_per_s, t.min_tokens_per_s, "tokens/s")
    for h in sol.halls:
        add(f"hall_slots[{h.hall}]", h.racks, h.slots, "racks")
    if fac.capex_budget_usd is not None:
        add("capex_budget", m.capex_usd, fac.capex_budget_usd, "USD")
    for h in inst.hardware:
        if h.max_racks is not None:
            add(f"supply_cap[{h.name}]", racks[h.name], h.max_racks, "racks")
    if sol.fabric is not None:
        add("fabric_reach", sol.fabric.endpoint_ports, sol.fabric.reach_ports, "ports")
    return sorted(rows, key=lambda r: (not r.binding, -min(r.use, 1e9)))


def _doc(inst: Instance) -> dict[str, Any]:
    return inst.model_dump(mode="json")


def _scaled(doc: dict, name: str, factor: float) -> dict:
    out = copy.deepcopy(doc)
    for h in out["hardware"]:
        if h["name"] == name:
            for perf in h["performance"].values():
                perf["prefill_tokens_per_s"] = perf.get("prefill_tokens_per_s", 0.0) * factor
                for role in ("aggregated", "decode"):
                    perf[role] = [[x, y * factor] for x, y in perf.get(role, [])]
    return out


def _uses(sol: Solution, name: str) -> bool:
    return sol.has_plan and any(r.hardware == name and r.count > 0 for r in sol.racks)


def entry(inst: Instance, name: str, objective: str, mip_gap: float = 1e-6) -> Entry:
    h = next(x for x in inst.hardware if x.name == name)
    halls = inst.facility.halls
    if not any(h.rack_power_kw <= z.max_rack_kw and (h.liquid_cooled_fraction == 0 or z.liquid_cooling) for z in halls):
        largest = max(z.max_rack_kw for z in halls)
        why = (f"its {h.rack_power_kw:,.6g} kW rack is above the largest hall limit ({largest:,.6g} kW)" if h.rack_power_kw > largest
               else "it needs liquid cooling and no hall that can feed it has a liquid loop")
        return Entry(hardware=name, forced_racks=0, forced_loss=None, unit="", no_hall=why)
    hosted = {w.model for w in inst.workloads if w.name in h.performance}
    racks = int(math.ceil(min((h.racks_per_replica.get(u, 1.0) for u in hosted), default=1.0)))
    doc = _doc(inst)
    forced = copy.deepcopy(doc)
    for x in forced["hardware"]:
        if x["name"] == name:
            x["installed_racks"] = max(x.get("installed_racks", 0), racks)
            if x.get("max_racks") is not None and x["max_racks"] < racks:
                x["max_racks"] = racks
    # forced in as installed racks, which carry no capex: the capex annuity is added back below
    # so that the loss counts what buying them costs
    base = solve(doc, objective=objective, mip_gap=mip_gap, regret=False)
    f_sol = solve(forced, objective=objective, mip_gap=mip_gap, regret=False)
    sense = 1 if base.objective.sense == "max" else -1
    loss = None
    cut = None
    if f_sol.has_plan and base.has_plan:
        annuity = crf(inst.facility.discount_rate, h.lifetime_years) * h.capex_usd * racks
        cost_counts = objective in ("profit", "min_cost")
        forced_value = f_sol.objective.value - sense * (annuity if cost_counts else 0.0)
        loss = sense * (base.objective.value - forced_value)
        if abs(loss) <= 1e-9 * max(abs(base.objective.value), 1.0):
            loss = 0.0  # solver round-off, not a loss
        if cost_counts:
            cut = max(loss, 0.0) / (crf(inst.facility.discount_rate, h.lifetime_years) * racks)
    speed = None
    if h.performance:
        lo, hi = 1.0, MAX_SPEEDUP
        if _uses(solve(_scaled(doc, name, hi), objective=objective, mip_gap=mip_gap, regret=False), name):
            while hi / lo > 1.01:
                mid = math.sqrt(lo * hi)
                if _uses(solve(_scaled(doc, name, mid), objective=objective, mip_gap=mip_gap, regret=False), name):
                    hi = mid
                else:
                    lo = mid
            speed = hi
    return Entry(hardware=name, forced_racks=racks, forced_loss=loss, unit=base.objective.unit,
                 capex_cut_usd_per_rack=cut, speedup_needed=speed)


def explain(instance: Instance | dict | str, sol: Solution | None = None, objective: str | None = None) -> Explanation:
    inst = instance if isinstance(instance, Instance) else load_instance(instance)
    if inst.horizon is not None:
        raise ValueError("explain() reads one-period plans; a multi-year plan explains itself through its periods and refresh events")
    sol = sol or solve(inst, objective=objective)
    if not sol.has_plan:
        return Explanation(limits=[], not_chosen=[])
    chosen = {r.hardware for r in sol.racks if r.count > 0}
    entries = [entry(inst, h.name, sol.objective.name) for h in inst.hardware if h.name not in chosen]
    return Explanation(limits=limits(inst, sol), not_chosen=entries)


def for_report(inst: Instance, sol: Solution, entry: bool = True) -> Explanation | None:
    """What a report explains: a plan of one period and one future (the what-would-bring-it-in
    analysis re-solves that plan's instance; ``entry=False`` leaves it out, keeping each limit's
    use); None for any other solution."""
    if not (sol.has_plan and not sol.periods and sol.uncertainty is None):
        return None
    return explain(inst, sol) if entry else Explanation(limits=limits(inst, sol), not_chosen=[])
