"""The solution (MODEL.md section 8) as typed objects, and its extraction from a solved model.

Every number here is in user units (section 2); internal units stop at this boundary.
"""

from __future__ import annotations

import math
from typing import Literal

import pyomo.environ as pyo
from pydantic import BaseModel, Field

from .model import SENSE
from .preprocess import Data, Scale

# numerical_trouble: the solver's plan failed the check in planner units (optimizer.verify), also
# after a re-solve with tighter tolerances; the plan is kept for inspection but is no answer.
Status = Literal["optimal", "time_limit", "infeasible", "unbounded", "error", "numerical_trouble"]

# Per objective: its unit, and the internal quantity of its expression ('money', 'tokens' or a
# factor: see preprocess.Scale.factor).
OBJECTIVE_UNITS = {
    "revenue": ("USD/yr", "money"),
    "profit": ("USD/yr", "money"),
    "tokens": ("tokens/s", "tokens"),
    "tokens_per_watt": ("tokens/J", 1.0),
    "min_cost": ("USD/yr", "money"),
}
# Per constraint family: unit of usage and limit, unit of "per" in shadow prices, and the
# internal quantity of the right-hand side (a row divided by its limit has its own unit:
# model.limit and row_factor).
LIMIT_UNITS = {
    "installed": ("racks", "rack", 1.0),
    "supply_cap": ("racks", "rack", 1.0),
    "demand_floor": ("tokens/s", "token/s", "tokens"),
    "demand_cap": ("tokens/s", "token/s", "tokens"),
    "liquid_cooling": ("MW heat", "MW of heat", 1.0),
    "air_cooling": ("MW heat", "MW of heat", 1.0),
    "facility_power": ("MW", "MW", 1.0),
    "hall_slots": ("racks", "rack slot", 1.0),
    "fabric_reach": ("ports", "port", "ports"),
    "kv_transfer": ("Gb/s", "Gb/s", 1000.0),
    "capex_budget": ("USD", "USD", "money"),
    "min_revenue": ("USD/yr", "USD/yr", "money"),
    "min_tokens_per_joule": ("tokens/s", "token/s", "tokens"),
    "kind_power_share": ("MW", "MW", 1.0),
    "tier_power_share": ("MW", "MW", 1.0),
    # section 11 (multi-year)
    "max_new_racks": ("racks", "rack", 1.0),
    "period_budget": ("USD", "USD", "money"),
}
# Section 11.3: with a horizon the objectives are totals over it.
HORIZON_UNITS = {
    "revenue": ("USD (discounted)", "money"),
    "profit": ("USD (net present value)", "money"),
    "tokens": ("tokens/s (year-weighted mean)", "tokens"),
    "tokens_per_watt": ("tokens/J (over the horizon)", 1.0),
    "min_cost": ("USD (discounted)", "money"),
}


class ObjectiveValue(BaseModel):
    name: str
    sense: Literal["max", "min"]
    value: float | None = Field(description="in `unit`; null when no plan was found")
    unit: str


class Metrics(BaseModel):
    revenue_usd_per_year: float
    cost_usd_per_year: float
    profit_usd_per_year: float
    tokens_per_s: float
    tokens_per_joule: float
    facility_power_mw: float
    it_power_mw: float
    network_power_mw: float
    cooling_power_mw: float
    losses_mw: float
    capex_usd: float


class RackRow(BaseModel):
    hardware: str
    hall: str
    count: int


class ReplicaRow(BaseModel):
    hardware: str
    model: str
    count: int


class AllocationRow(BaseModel):
    hardware: str
    tier: str
    role: Literal["aggregated", "prefill", "decode"]
    racks: float = Field(description="rack-equivalents")


class TierRow(BaseModel):
    tier: str
    workload: str
    price_usd_per_mtok: float
    min_interactivity: float
    tokens_per_s: float
    aggregated_tokens_per_s: float
    disaggregated_tokens_per_s: float
    revenue_usd_per_year: float


class FabricChoice(BaseModel):
    option: str
    technology: str
    switch_tiers: int
    endpoint_ports: float
    reach_ports: float
    power_mw: float
    capex_usd: float


class PowerRow(BaseModel):
    it_mw: float
    network_mw: float
    losses_mw: float
    cooling_mw: float
    total_mw: float
    grid_mw: float


class HeatRow(BaseModel):
    loop: Literal["liquid", "air"]
    load_mw: float
    capacity_mw: float


class HallRow(BaseModel):
    hall: str
    racks: int
    slots: int


class LimitRow(BaseModel):
    constraint: str
    usage: float
    limit: float
    unit: str


class ShadowPrice(BaseModel):
    constraint: str
    value: float = Field(description="change of the objective per unit increase of the limit")
    unit: str


class Shortfall(BaseModel):
    constraint: str
    missing: float = Field(description="how much the limit must move, in `unit`")
    unit: str


class Diagnosis(BaseModel):
    """Why an instance is infeasible (optimizer/diagnose.py)."""

    sentence: str
    needs: list[Shortfall] | None = Field(description="null: no addition to the site's limits alone suffices")
    gives_up: list[Shortfall] | None = Field(description="null: no reduction of demand and side constraints alone suffices")
    conflict: list[str] = Field(default_factory=list, description="constraints of the LP relaxation's IIS")
    complete: bool = Field(True, description="false: the time limit cut the diagnosis short; its figures are the best found, not proven")


class HorizonMetrics(BaseModel):
    """Section 11.3 totals over the horizon (money discounted to ``start_year``)."""

    discounted_revenue_usd: float
    discounted_cost_usd: float
    npv_usd: float = Field(description="discounted revenue - discounted cost")
    discounted_opex_usd: float
    discounted_energy_usd: float
    discounted_capital_usd: float = Field(description="annuities of purchases, paid over their life inside the horizon")
    mean_tokens_per_s: float = Field(description="year-weighted mean output tokens/s")
    tokens_per_joule: float
    mean_facility_power_mw: float = Field(description="year-weighted mean facility power")
    capex_usd: float = Field(description="undiscounted purchases over the horizon (racks and fabric ports)")
    horizon_years: int


class PeriodRackRow(BaseModel):
    hardware: str
    hall: str
    alive: int = Field(description="racks standing for the whole period")
    bought: int = Field(description="racks bought at the start of the period")
    retired: int = Field(description="racks alive in the previous period and gone in this one (early or at end of life)")
    retired_early: int = Field(description="of those, racks whose life would have covered this period")


class CashFlows(BaseModel):
    """A period's money, undiscounted; ``discount_weight`` is DF_p (sum of its years' weights)."""

    revenue_usd_per_year: float
    opex_usd_per_year: float
    energy_usd_per_year: float
    capital_usd: float = Field(description="annuities paid in the period's years, summed")
    capital_discounted_usd: float
    purchases_usd: float = Field(description="capex of racks bought and ports added at the period's start")
    discount_weight: float


class PeriodPlan(BaseModel):
    year: int
    years: int
    racks: list[PeriodRackRow]
    replicas: list[ReplicaRow]
    allocation: list[AllocationRow]
    tiers: list[TierRow]
    fabric: FabricChoice | None
    added_ports: float = Field(description="fabric endpoint ports added at the period's start")
    power: PowerRow
    heat: list[HeatRow]
    halls: list[HallRow]
    it_mw_by_hardware: dict[str, float] = Field(description="IT power of the racks alive, per hardware (MW)")
    tokens_per_s: float
    tokens_per_joule: float
    cash: CashFlows


class VintageRow(BaseModel):
    hardware: str
    hall: str
    vintage: str = Field(description="purchase year, or 'installed YEAR'")
    bought_year: int
    installed: bool
    bought: int
    alive: dict[int, int] = Field(description="period start year -> racks alive")
    life_ends: int = Field(description="first year the rack no longer lives")


class RefreshEvent(BaseModel):
    """A vintage retired before its life ends, and what took its power."""

    year: int
    hardware: str
    vintage: str
    racks: int
    life_left_years: int
    power_freed_mw: float = Field(description="rack power freed (IT, MW)")
    replaced_by: list[str] = Field(description="hardware bought in the same period, 'N x name'")


class ModelSize(BaseModel):
    variables: int
    integer_variables: int
    constraints: int


class Solution(BaseModel):
    """A plan and every figure MODEL.md section 8 asks for; ``metrics`` is null when no plan exists."""

    instance: str
    status: Status
    message: str
    objective: ObjectiveValue
    mip_gap: float | None
    metrics: Metrics | HorizonMetrics | None = None
    racks: list[RackRow] = Field(default_factory=list)
    replicas: list[ReplicaRow] = Field(default_factory=list)
    allocation: list[AllocationRow] = Field(default_factory=list)
    tiers: list[TierRow] = Field(default_factory=list)
    fabric: FabricChoice | None = None
    power: PowerRow | None = None
    heat: list[HeatRow] = Field(default_factory=list)
    halls: list[HallRow] = Field(default_factory=list)
    binding: list[LimitRow] = Field(default_factory=list)
    shadow_prices: list[ShadowPrice] = Field(default_factory=list)
    hints: list[str] = Field(default_factory=list, description="reasons found before solving")
    diagnosis: Diagnosis | None = Field(None, description="why an infeasible instance is infeasible")
    model_size: ModelSize | None = None
    solve_seconds: float = Field(0.0, description="wall time of the solve, s")
    solver_seconds: float = Field(0.0, description="HiGHS's own run time, summed over every run, s")
    dinkelbach_iterations: int | None = None
    tie_break_gap: float | None = Field(None, description="relative gap of the second stage (0: proven; it runs for at most tie_break_time)")
    timings: dict[str, float] = Field(default_factory=dict, description="seconds per stage: validate, preprocess, build, handover, highs, extract, check")
    periods: list[PeriodPlan] = Field(default_factory=list, description="multi-year plans (section 11): one entry per period")
    vintages: list[VintageRow] = Field(default_factory=list)
    refresh: list[RefreshEvent] = Field(default_factory=list, description="early retirements")
    warnings: list[str] = Field(default_factory=list, description="what a planner should hear: inputs that look wrong, "
                                "hardware no hall takes, tiers no hardware serves, HiGHS dropping coefficients, an unfinished tie-break")
    problems: list[str] = Field(default_factory=list, description="why a plan is numerical_trouble: the limits it breaks in planner units")
    versions: dict[str, str] = Field(default_factory=dict, description="optimizer, highspy and pyomo versions it was solved with")
    solver_options: dict = Field(default_factory=dict, description="the HiGHS options it was solved with")

    @property
    def has_plan(self) -> bool:
        """A plan that can be used: found (optimal, or the incumbent at a time limit) and checked."""
        return self.metrics is not None and self.status in ("optimal", "time_limit")


# --------------------------------------------------------------------------- extraction


def _v(x) -> float:
    val = pyo.value(x, exception=False)
    return 0.0 if val is None else float(val)


def _nonneg(x: float) -> float:
    """A non-negative variable's value, without the solver's round-off below 1e-6 (internal units)."""
    return 0.0 if x < 1e-6 else x


def model_size(m) -> ModelSize:
    vars_ = list(m.component_data_objects(pyo.Var, active=True))
    ints = sum(1 for v in vars_ if v.is_integer() or v.is_binary())
    cons = sum(1 for _ in m.component_data_objects(pyo.Constraint, active=True))
    return ModelSize(variables=len(vars_), integer_variables=ints, constraints=cons)


def label(con) -> str:
    """Stable name of a constraint: family[index,...], with the index as the instance spells it."""
    fam = con.parent_component().name  # with its block: period[2027].facility_power
    idx = con.index()
    if idx is None:
        return fam
    parts = idx if isinstance(idx, tuple) else (idx,)
    return f"{fam}[{','.join(str(p) for p in parts)}]"


def family(con) -> str:
    return con.parent_component().local_name


def row_factor(con, kind) -> float:
    """User units of one internal unit of a constraint's body and bounds: the limit itself for a
    row divided by it (model.limit), else the family's internal unit (``kind``)."""
    blk = con.parent_block()
    unit = getattr(blk, "row_unit", {}).get((family(con), con.index()))
    if unit is not None:
        return unit
    scale = getattr(blk, "scale", None) or getattr(blk.model(), "scale", None) or Scale()
    return scale.factor(kind)


def extract_plan(m, d: Data) -> dict:
    """Read the plan off the model's current variable values, unscaled; integers are rounded."""
    sc = d.scale
    racks = [
        RackRow(hardware=h, hall=z, count=int(round(_v(m.n[h, z]))))
        for h in m.H
        for z in m.Z
        if round(_v(m.n[h, z])) > 0
    ]
    replicas = [
        ReplicaRow(hardware=h, model=u, count=int(round(_v(m.k[h, u])))) for (h, u) in m.HU if round(_v(m.k[h, u])) > 0
    ]
    allocation = [
        AllocationRow(hardware=h, tier=t, role=r, racks=_v(m.x[h, t, r])) for (h, t, r) in m.X if _v(m.x[h, t, r]) > 1e-9
    ]
    tiers = []
    for k, t in enumerate(d.tiers):
        qa, qd = (_nonneg(_v(q)) * sc.tokens for q in (m.qa[t], m.qd[t]))
        q = qa + qd
        tiers.append(
            TierRow(
                tier=t,
                workload=d.workloads[d.tier_workload[k]],
                price_usd_per_mtok=float(d.price[k]),
                min_interactivity=float(d.interactivity[k]),
                tokens_per_s=q,
                aggregated_tokens_per_s=qa,
                disaggregated_tokens_per_s=qd,
                revenue_usd_per_year=float(d.price[k]) * q * 31_536_000 / 1e6,
            )
        )
    fabric = None
    for j, x in enumerate(d.designs):
        if round(_v(m.y[x.name])) == 1 or _v(m.E[x.name]) > 1e-9:
            ports = _v(m.E[x.name]) * sc.ports
            fabric = FabricChoice(
                option=x.option,
                technology=x.technology,
                switch_tiers=x.tiers,
                endpoint_ports=ports,
                reach_ports=x.reach_ports,
                power_mw=x.power_w * ports / 1e6,
                capex_usd=x.capex_usd * ports,
            )
            break
    it, net = _v(m.it_mw), _v(m.net_mw)
    liq, air = _v(m.heat_liq), _v(m.heat_air)
    losses = d.loss * (it + net)
    cooling = d.phi_liq * liq + d.phi_air * air
    total = _v(m.facility_mw)
    revenue = sum(r.revenue_usd_per_year for r in tiers)
    cost = _v(m.cost) * sc.money
    tokens = sum(r.tokens_per_s for r in tiers)
    metrics = Metrics(
        revenue_usd_per_year=revenue,
        cost_usd_per_year=cost,
        profit_usd_per_year=revenue - cost,
        tokens_per_s=tokens,
        tokens_per_joule=tokens / (total * 1e6) if total > 0 else 0.0,
        facility_power_mw=total,
        it_power_mw=it,
        network_power_mw=net,
        cooling_power_mw=cooling,
        losses_mw=losses,
        capex_usd=_v(m.capex) * sc.money,
    )
    halls = [
        HallRow(hall=z, racks=sum(r.count for r in racks if r.hall == z), slots=int(d.slots[j])) for j, z in enumerate(d.halls)
    ]
    return dict(
        metrics=metrics,
        racks=racks,
        replicas=replicas,
        allocation=allocation,
        tiers=tiers,
        fabric=fabric,
        power=PowerRow(it_mw=it, network_mw=net, losses_mw=losses, cooling_mw=cooling, total_mw=total, grid_mw=d.grid_mw),
        heat=[
            HeatRow(loop="liquid", load_mw=liq, capacity_mw=d.cool_liq_mw),
            HeatRow(loop="air", load_mw=air, capacity_mw=d.cool_air_mw),
        ],
        halls=halls,
    )


def objective_value(name: str, metrics: Metrics | HorizonMetrics) -> float:
    """The section-7 (or 11.3) objective of a plan, recomputed from its metrics in user units."""
    if isinstance(metrics, HorizonMetrics):
        return {
            "revenue": metrics.discounted_revenue_usd,
            "profit": metrics.npv_usd,
            "tokens": metrics.mean_tokens_per_s,
            "tokens_per_watt": metrics.tokens_per_joule,
            "min_cost": metrics.discounted_cost_usd,
        }[name]
    return {
        "revenue": metrics.revenue_usd_per_year,
        "profit": metrics.profit_usd_per_year,
        "tokens": metrics.tokens_per_s,
        "tokens_per_watt": metrics.tokens_per_joule,
        "min_cost": metrics.cost_usd_per_year,
    }[name]


def limit_constraints(m):
    """The limit families (LIMIT_UNITS) present in the model, as constraint data objects."""
    for con in m.component_data_objects(pyo.Constraint, active=True):
        if family(con) in LIMIT_UNITS:
            yield con


def binding_limits(m, rel_tol: float = 1e-6) -> list[LimitRow]:
    """Limits whose slack is zero (within rel_tol of the limit) in the current plan."""
    rows = []
    for con in limit_constraints(m):
        fam = family(con)
        unit, _, kind = LIMIT_UNITS[fam]
        scale = row_factor(con, kind)
        body = _v(con.body)
        if fam == "fabric_reach" and _v(con.parent_block().E[con.index()]) <= 0:
            continue  # a design not built: 0 <= 0 is no limit
        if fam == "hall_slots" and _v(con.upper) == 0:
            continue  # a hall not open in this period (no slots): 0 <= 0 is no limit either
        for bound in (con.lower, con.upper):
            if bound is None:
                continue
            b = _v(bound)
            if abs(body - b) <= rel_tol * max(1.0, abs(b)):
                rows.append(LimitRow(constraint=label(con), usage=body * scale, limit=b * scale, unit=unit))
                break
    return rows


def shadow_prices(duals: dict, objective: str, scale: Scale, units: dict | None = None) -> list[ShadowPrice]:
    """Duals (internal units) -> planner units: objective unit per unit of the limit."""
    obj_unit, obj_kind = (units or OBJECTIVE_UNITS)[objective]
    if objective == "tokens_per_watt":  # the dual LP's objective is TOK - lambda F, in tokens/s
        obj_unit, obj_kind = ("tokens/s (year-weighted mean)" if units else "tokens/s"), "tokens"
    obj_scale = scale.factor(obj_kind)
    out = []
    for con, val in duals.items():
        fam = family(con)
        if fam not in LIMIT_UNITS:
            continue
        _, per, kind = LIMIT_UNITS[fam]
        v = float(val) * obj_scale / row_factor(con, kind)
        if not math.isfinite(v):
            continue
        out.append(ShadowPrice(constraint=label(con), value=0.0 if abs(v) < 1e-12 else v, unit=f"{obj_unit} per {per}"))
    out.sort(key=lambda s: -abs(s.value))
    return out


def empty_solution(d, objective: str, status: Status, message: str, units: dict | None = None, **extra) -> Solution:
    unit = (units or OBJECTIVE_UNITS)[objective][0]
    return Solution(
        instance=d.name,
        status=status,
        message=message,
        objective=ObjectiveValue(name=objective, sense=SENSE[objective], value=None, unit=unit),
        mip_gap=None,
        **extra,
    )
