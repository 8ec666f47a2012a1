"""The solution (MODEL.md section 8) as typed objects, and its extraction from a solved model.

Every number here is in user units (section 2); internal units stop at this boundary.
"""

from __future__ import annotations

import math
from typing import Literal

import pyomo.environ as pyo
from pydantic import BaseModel, Field, PrivateAttr

from ..model.families import SENSE
from ..model.horizon import HorizonData, resale_value
from ..model.preprocess import HOURS_PER_YEAR, SECONDS_PER_YEAR, Data, Scale, crf
from .marginal import MarginalValue


# numerical_trouble: the solver's plan failed the check in planner units (optimizer.solving.verify), also
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


# The market check's figures (held against rental prices per rack-hour and API prices per million
# tokens): the same four on a plan's metrics and on each period of a multi-year plan
RACK_HOUR = "USD per rack-hour; a year is 8,760 h"
MTOK = "USD per million output tokens; a year is 31,536,000 s"
MARKET_FIELDS = ("revenue_usd_per_rack_hour", "cost_usd_per_rack_hour", "revenue_usd_per_mtok", "cost_usd_per_mtok")


class Metrics(BaseModel):
    """The figures of section 7 for one year. A stochastic plan's (section 13.3) are the
    expectation over the scenarios; its market figures are ratios of expectations: E[revenue] /
    (racks x 8,760), E[cost] / (racks x 8,760), E[revenue] / E[output tokens per year / 1e6] and
    E[cost] / E[output tokens per year / 1e6] (the racks are the same in every scenario)."""

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
    racks: int = Field(0, description="racks: every rack of the plan, all hardware and halls, installed ones included")
    revenue_usd_per_rack_hour: float | None = Field(
        None, description=f"{RACK_HOUR}: revenue_usd_per_year / (racks x 8,760 h); null without racks. A stochastic plan's: "
                          "E[revenue] / (racks x 8,760 h)")
    cost_usd_per_rack_hour: float | None = Field(
        None, description=f"{RACK_HOUR}: cost_usd_per_year / (racks x 8,760 h), everything section 7's COST counts (capex "
                          "annuities of racks and fabric, opex, energy); null without racks. A stochastic plan's: "
                          "E[cost] / (racks x 8,760 h)")
    revenue_usd_per_mtok: float | None = Field(
        None, description=f"{MTOK}: revenue_usd_per_year / (tokens_per_s x 31,536,000 / 1e6), the blended price earned per "
                          "million output tokens (input-token revenue included, free tiers' tokens counted); null without tokens. A "
                          "stochastic plan's: E[revenue] / E[tokens], a ratio of expectations")
    cost_usd_per_mtok: float | None = Field(
        None, description=f"{MTOK}: cost_usd_per_year / (tokens_per_s x 31,536,000 / 1e6), the all-in cost per million output "
                          "tokens served, free tiers included; null without tokens. A stochastic plan's: E[cost] / E[tokens], a "
                          "ratio of expectations, not the mean of the scenarios' ratios")


class MarketRow(BaseModel):
    """One hardware's cost of a rack-hour, to hold against a rental price (a year is 8,760 h).
    Ownership is what section 7's COST charges the racks themselves: the capex annuity CRF(r, l) x
    capex x (racks - installed racks) and opex x racks; the scale-out fabric's annuity and power
    are not in it (they are the plan's, in cost_usd_per_year). Energy is one rack at full power
    through the facility's power chain (6.9), at the electricity price. With a horizon: the racks
    alive in the period, and the annuities paid in the period's years (racks retired early
    included: their capital is sunk) per year."""

    hardware: str
    racks: int = Field(description="racks of this hardware (all halls, installed included; with a horizon: alive in the period)")
    installed_racks: int = Field(description="of those, racks already owned (they carry no capex annuity)")
    capital_usd_per_year: float = Field(description="USD/yr: CRF(r, l) x capex_usd x (racks - installed_racks); with a horizon "
                                        "the annuities of this hardware's purchases paid in the period, per year")
    opex_usd_per_year: float = Field(description="USD/yr: opex_usd_per_year x racks")
    ownership_usd_per_rack_hour: float | None = Field(
        description="USD per rack-hour: (capital_usd_per_year + opex_usd_per_year) / (racks x 8,760 h); null without racks")
    facility_kw_per_rack: float = Field(
        description="kW one rack at full power draws from the grid: rack_power_kw x (1 + distribution loss + f x liquid "
                    "overhead + (1 - f) x air overhead), f its liquid-cooled fraction (section 6.9; with slices the "
                    "hours-weighted mean)")
    energy_usd_per_rack_hour: float = Field(
        description="USD per rack-hour: facility_kw_per_rack x electricity USD/MWh / 1000 (with slices: the sum over "
                    "slices of H_s / 8,760 x the slice's price x the slice's kW / 1000)")
    total_usd_per_rack_hour: float | None = Field(description="USD per rack-hour: ownership + energy; null without racks")


class RackRow(BaseModel):
    hardware: str
    hall: str
    count: int


class LotRow(BaseModel):
    """Racks bought in whole lots (section 14): ``lots`` lots of ``lot_racks`` racks."""

    hardware: str
    year: int | None = Field(None, description="the period the lots are bought in (with a horizon)")
    lot_racks: int
    lots: int
    racks: int = Field(description="racks bought: lots x lot_racks")


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
    """A tier's tokens and money in one slice (its revenue: what the slice's hours earn in a year),
    or over the year (tokens/s: the hours-weighted mean; revenue: the slices' sum; prices: revenue
    per million tokens sold, the hours-weighted price where none is sold)."""

    tier: str
    workload: str
    price_usd_per_mtok: float = Field(description="USD per million output tokens")
    input_price_usd_per_mtok: float = Field(0.0, description="USD per million input tokens not served from the prefix cache")
    cached_input_price_usd_per_mtok: float = Field(0.0, description="USD per million input tokens served from the prefix cache")
    min_interactivity: float
    tokens_per_s: float = Field(description="output tokens/s")
    aggregated_tokens_per_s: float
    disaggregated_tokens_per_s: float
    input_tokens_per_s: float = Field(0.0, description="input tokens/s billed (rho x output), cached ones included")
    output_revenue_usd_per_year: float = 0.0
    input_revenue_usd_per_year: float = Field(0.0, description="input and cached-input tokens")
    revenue_usd_per_year: float = Field(description="output + input revenue")


class BusyRow(BaseModel):
    hardware: str
    racks: int
    busy_racks: float = Field(description="rack-equivalents serving in the slice (B_hs)")
    utilisation: float = Field(description="busy_racks / racks (0 without racks)")


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
    slice: str | None = Field(None, description="the slice of the year the limit holds in (section 12), if it is a slice's")


class Diagnosis(BaseModel):
    """Why an instance is infeasible (optimizer/solving/diagnose.py)."""

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
    discounted_resale_usd: float = Field(0.0, description="cash returned by racks retired early (section 14), counted against the cost")
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
    resale_usd: float = Field(0.0, description="cash returned at the period's start by racks retired early (undiscounted)")
    resale_discounted_usd: float = 0.0
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
    it_mw_by_hardware: dict[str, float] = Field(description="IT power the racks alive draw, per hardware (MW; with slices, "
                                                "in the busiest slice, as ``power``)")
    tokens_per_s: float
    tokens_per_joule: float
    cash: CashFlows
    slices: list[SliceResult] = Field(default_factory=list, description="section 12: the period's slices of the year")
    # the market check of the period (Metrics' figures, on this period's racks, money and tokens)
    racks_alive: int = Field(0, description="racks: every rack alive in the period, all hardware and halls, installed ones included")
    cost_usd_per_year: float = Field(0.0, description="USD/yr: cash.opex_usd_per_year + cash.energy_usd_per_year + "
                                     "cash.capital_usd / years (the annuities paid in the period, per year; resale cash not counted)")
    revenue_usd_per_rack_hour: float | None = Field(
        None, description=f"{RACK_HOUR}: cash.revenue_usd_per_year / (racks_alive x 8,760 h); null without racks")
    cost_usd_per_rack_hour: float | None = Field(
        None, description=f"{RACK_HOUR}: cost_usd_per_year / (racks_alive x 8,760 h); null without racks")
    revenue_usd_per_mtok: float | None = Field(
        None, description=f"{MTOK}: cash.revenue_usd_per_year / (tokens_per_s x 31,536,000 / 1e6); null without tokens")
    cost_usd_per_mtok: float | None = Field(
        None, description=f"{MTOK}: cost_usd_per_year / (tokens_per_s x 31,536,000 / 1e6); null without tokens")
    market: list[MarketRow] = Field(default_factory=list, description="per hardware with racks alive or annuities paid in the "
                                    "period: its ownership and energy cost per rack-hour")


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
    resale_usd: float = Field(0.0, description="cash the retired racks returned (undiscounted; section 14)")


class SliceResult(BaseModel):
    """One slice of the year (section 12.4): its tokens, money, allocation, busy racks, power and
    heat against its own limits, and its binding limits and shadow prices. Money per year is what
    the slice's hours contribute to the year's total."""

    name: str
    hours: float
    tokens_per_s: float = Field(description="output tokens/s while the slice lasts")
    revenue_usd_per_year: float = Field(description="what the slice's hours earn in a year")
    energy_usd_per_year: float = Field(description="electricity price x hours x facility power")
    electricity_usd_per_mwh: float
    tiers: list[TierRow]
    allocation: list[AllocationRow]
    utilisation: list[BusyRow]
    power: PowerRow
    heat: list[HeatRow]
    binding: list[LimitRow] = Field(default_factory=list)
    shadow_prices: list[ShadowPrice] = Field(default_factory=list)


class ModelSize(BaseModel):
    variables: int
    integer_variables: int
    constraints: int


class ScenarioOutcome(BaseModel):
    """One future of section 13.3: the plan's capacity with this scenario's second stage, every
    figure of section 8 in ``solution`` (its binding limits and shadow prices this scenario's)."""

    name: str
    probability: float
    value: float | None = Field(description="the objective's value Z in this scenario, in the objective's unit")
    solution: "Solution"


class RegretCell(BaseModel):
    scenario: str
    status: str = Field(description="optimal; infeasible where the plan cannot meet the scenario's floors; time_limit (a plan "
                        "found: its value; none: no value) or another solve status")
    value: float | None = Field(description="the objective with the plan's capacity fixed and this scenario's second stage re-optimised")


class RegretRow(BaseModel):
    """One plan of the regret table (section 13.3): the stochastic plan, or a scenario's own."""

    plan: str = Field(description="'stochastic', or the scenario whose own optimum this plan is")
    scenario: str | None = Field(None, description="the scenario whose own optimum this plan is (null: the stochastic plan)")
    racks: dict[str, int] = Field(description="racks per hardware (bought over the horizon, with one)")
    cells: list[RegretCell]
    expected: float | None = Field(description="E[Z] over the scenarios (tokens_per_watt: E[TOK] / E[F]); null if infeasible in any")
    cvar: float | None = Field(None, description="CVaR at alpha of the row (null if infeasible in any)")
    worst: float | None = Field(None, description="the worst cell (null if infeasible in any)")


class StochasticResult(BaseModel):
    """Section 13.3: per scenario its outcome; the expectation, the CVaR at alpha and the worst
    scenario; the regret table, EVPI and VSS (each found by solving; empty with --no-regret)."""

    objective: str
    unit: str
    alpha: float
    weight: float
    scenarios: list[ScenarioOutcome]
    expected: float = Field(description="E[Z] (tokens_per_watt: E[TOK] / E[F])")
    cvar: float | None = Field(description="CVaR_alpha(Z): the mean of the worst (1 - alpha) of outcomes (null for tokens_per_watt)")
    worst_scenario: str
    worst: float
    regret: list[RegretRow] = Field(default_factory=list)
    wait_and_see: float | None = Field(None, description="E[each scenario's own optimum]")
    evpi: float | None = Field(None, description="expected value of perfect information: wait_and_see - the stochastic plan's E[Z] "
                               "(for min_cost the other way round)")
    vss: float | None = Field(None, description="value of the stochastic solution: the stochastic plan's E[Z] - that of the first "
                              "scenario's own plan (null when that plan is infeasible in some scenario)")
    notes: list[str] = Field(default_factory=list)


class Solution(BaseModel):
    """A plan and every figure MODEL.md section 8 asks for; ``metrics`` is null when no plan exists."""

    instance: str
    status: Status
    message: str
    objective: ObjectiveValue
    mip_gap: float | None
    metrics: Metrics | HorizonMetrics | None = None
    racks: list[RackRow] = Field(default_factory=list)
    lots: list[LotRow] = Field(default_factory=list, description="purchases of hardware bought in lots (lot_racks > 1)")
    replicas: list[ReplicaRow] = Field(default_factory=list)
    allocation: list[AllocationRow] = Field(default_factory=list)
    tiers: list[TierRow] = Field(default_factory=list)
    fabric: FabricChoice | None = None
    market: list[MarketRow] = Field(default_factory=list, description="the market check per hardware of the plan: ownership "
                                    "(capex annuity + opex) and energy cost per rack-hour; a stochastic plan's: the expectation "
                                    "over the scenarios; with a horizon: per period, in periods[].market")
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
    slices: list[SliceResult] = Field(default_factory=list, description="slices of the year (section 12): one entry per slice; "
                                      "then tiers are the year's, power and heat the busiest slice's")
    periods: list[PeriodPlan] = Field(default_factory=list, description="multi-year plans (section 11): one entry per period")
    vintages: list[VintageRow] = Field(default_factory=list)
    refresh: list[RefreshEvent] = Field(default_factory=list, description="early retirements")
    uncertainty: StochasticResult | None = Field(None, description="section 13: the plan in every scenario, the expectation, "
                                                 "CVaR and worst case, the regret table, EVPI and VSS; then metrics and tiers "
                                                 "are expectations and the objective is E[Z] (with risk, (1 - w) E[Z] + w CVaR)")
    marginal_values: list[MarginalValue] = Field(default_factory=list, description="what each site limit is worth, by re-solving "
                                                 "with it moved (section 14); the shadow prices hold the racks fixed, these do not")
    warnings: list[str] = Field(default_factory=list, description="what a planner should hear: inputs that look wrong, "
                                "hardware no hall takes, tiers no hardware serves, HiGHS dropping coefficients, an unfinished tie-break")
    problems: list[str] = Field(default_factory=list, description="why a plan is numerical_trouble: the limits it breaks in planner units")
    versions: dict[str, str] = Field(default_factory=dict, description="optimizer, highspy and pyomo versions it was solved with")
    solver_options: dict = Field(default_factory=dict, description="the HiGHS options it was solved with")

    _capacity: dict | None = PrivateAttr(default=None)  # first-stage variable values, for the regret table

    @property
    def has_plan(self) -> bool:
        """A plan that can be used: found (optimal, or the incumbent at a time limit) and checked."""
        return self.metrics is not None and self.status in ("optimal", "time_limit")


# --------------------------------------------------------------------------- extraction


def _v(x) -> float:
    val = pyo.value(x, exception=False)
    return 0.0 if val is None else float(val)


def _nonneg(x: float, floor: bool = False) -> float:
    """A non-negative variable's value, without the solver's round-off below 1e-6 (internal units);
    with a ``floor`` to meet (a tier with a demand floor), only the sign is cleaned: a floor may be
    far below 1e-6 internal units."""
    if floor:
        return max(x, 0.0)
    return 0.0 if x < 1e-6 else x


def model_size(m) -> ModelSize:
    vars_ = list(m.component_data_objects(pyo.Var, active=True))
    ints = sum(1 for v in vars_ if v.is_integer() or v.is_binary())
    cons = sum(1 for _ in m.component_data_objects(pyo.Constraint, active=True))
    return ModelSize(variables=len(vars_), integer_variables=ints, constraints=cons)


def label_parts(con) -> tuple[str, str, list]:
    """(block prefix, family, index parts) of a constraint's :func:`label`."""
    fam = con.parent_component().local_name
    idx = con.index()
    parts = [] if idx is None else list(idx if isinstance(idx, tuple) else (idx,))
    blk = con.parent_block()
    if getattr(blk, "slice_name", None) is not None:  # a slice's block (model.add_slice)
        if blk.sliced:
            parts.append(blk.slice_name)
        blk = blk.parent_block()
    prefix = "" if blk is None or blk.parent_block() is None else f"{blk.name}."
    return prefix, fam, parts


def label(con) -> str:
    """Stable name of a constraint: family[index,...], with the index as the instance spells it;
    a per-slice family gains the slice as its last index (``demand_cap[pro,night]``, section
    12.4; not without slices), and a period's keeps its block (``period[2027].facility_power``)."""
    prefix, fam, parts = label_parts(con)
    return f"{prefix}{fam}[{','.join(str(p) for p in parts)}]" if parts else f"{prefix}{fam}"


def slice_of(con) -> str | None:
    """The slice a constraint holds in, for an instance with slices (None: it holds once, on the
    capacity or the year, or the instance has no slices)."""
    blk = con.parent_block()
    return blk.slice_name if getattr(blk, "sliced", False) else None


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
    """Read the plan off the model's current variable values, unscaled; integers are rounded.

    Without slices the allocation, tiers, power and heat are the one slice's, as in v1; with
    slices they are per slice in ``slices``, the tiers the year's and the power and heat the
    busiest slice's (the one the grid is sized for)."""
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
    count = {h: sum(r.count for r in racks if r.hardware == h) for h in d.hardware}
    drawn_by_slice: dict[str, dict[str, float]] = {}
    slices = [_extract_slice(m, d, j, count, drawn_by_slice) for j in range(len(d.slices))]
    w = [float(x) for x in d.weights]
    net = _v(m.net_mw)

    def mean(values):
        return sum(wj * v for wj, v in zip(w, values)) if d.sliced else values[0]

    it = mean([s.power.it_mw for s in slices])
    losses = mean([s.power.losses_mw for s in slices])
    cooling = mean([s.power.cooling_mw for s in slices])
    total = mean([s.power.total_mw for s in slices])  # F of section 12.3, from the slices' own figures
    tiers = slices[0].tiers if not d.sliced else [_year_tier(d, k, [s.tiers[k] for s in slices]) for k in range(len(d.tiers))]
    revenue = sum(r.revenue_usd_per_year for r in tiers)
    # COST = the capacity's cost + ENERGY (section 12.3), ENERGY from the slices' power: evaluating
    # the model's nested expressions again would re-read every allocation once per term
    cost = _v(m.capacity_cost) * sc.money + sum(s.energy_usd_per_year for s in slices)
    tokens = sum(r.tokens_per_s for r in tiers)
    market = [market_row(d, i, count[h], int(d.installed[i]), float(d.crf_h[i] * d.capex_usd[i]) * (count[h] - int(d.installed[i])))
              for i, h in enumerate(d.hardware) if count[h] > 0]
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
        racks=sum(count.values()),
        **market_figures(revenue, cost, tokens, sum(count.values())),
    )
    halls = [
        HallRow(hall=z, racks=sum(r.count for r in racks if r.hall == z), slots=int(d.slots[j])) for j, z in enumerate(d.halls)
    ]
    lots = []
    if hasattr(m, "lots"):  # one period's lots (a horizon's are the fleet's: extract_horizon_plan)
        for h in m.LOT:
            i = d.hardware.index(h)
            lots.append(LotRow(hardware=h, lot_racks=int(d.lot[i]), lots=int(round(_v(m.l[h]))),
                               racks=count[h] - int(d.installed[i])))
    busiest = max(slices, key=lambda s: s.power.total_mw)
    return dict(
        drawn_mw=drawn_by_slice[busiest.name],  # MW per hardware in that slice: p_h (beta n + (1 - beta) B) / 1000
        lots=lots,
        metrics=metrics,
        market=market,
        racks=racks,
        replicas=replicas,
        allocation=slices[0].allocation if not d.sliced else [],
        tiers=tiers,
        fabric=fabric,
        power=busiest.power,
        heat=busiest.heat,
        halls=halls,
        slices=slices if d.sliced else [],
    )


def market_figures(revenue: float, cost: float, tokens: float, racks: int) -> dict:
    """The market check's four figures (``MARKET_FIELDS``) of a year's revenue and cost (USD/yr),
    output tokens/s and racks: per rack-hour (racks x 8,760 h) and per million output tokens
    (tokens/s x 31,536,000 s / 1e6); None where the denominator is 0."""
    hours = racks * HOURS_PER_YEAR
    mtok = tokens * SECONDS_PER_YEAR / 1e6
    return dict(
        revenue_usd_per_rack_hour=revenue / hours if hours > 0 else None,
        cost_usd_per_rack_hour=cost / hours if hours > 0 else None,
        revenue_usd_per_mtok=revenue / mtok if mtok > 0 else None,
        cost_usd_per_mtok=cost / mtok if mtok > 0 else None,
    )


def market_row(d: Data, i: int, racks: int, installed: int, capital: float) -> MarketRow:
    """Hardware ``i``'s market row (``MarketRow``): ``capital`` its annuities (USD/yr), opex from
    ``d``, and one rack's facility power and energy at full power from ``d``'s facility, slice by
    slice: p_h (1 + delta + f phi_liq,s + (1 - f) phi_air,s), as ``families.add_slice_expressions``
    charges a rack's draw."""
    f, kw = float(d.liquid_frac[i]), float(d.rack_kw[i])
    w = [float(x) for x in d.weights]
    per_slice = [kw * (1.0 + float(d.loss) + float(d.phi_liq[j]) * f + float(d.phi_air[j]) * (1.0 - f)) for j in range(len(w))]
    facility_kw = sum(wj * k for wj, k in zip(w, per_slice))
    energy = sum(wj * float(d.elec_usd_mwh[j]) * k / 1000.0 for j, (wj, k) in enumerate(zip(w, per_slice)))
    opex = float(d.opex_usd[i]) * racks
    hours = racks * HOURS_PER_YEAR
    own = (capital + opex) / hours if hours > 0 else None
    return MarketRow(hardware=d.hardware[i], racks=racks, installed_racks=installed, capital_usd_per_year=capital, opex_usd_per_year=opex,
                     ownership_usd_per_rack_hour=own, facility_kw_per_rack=facility_kw, energy_usd_per_rack_hour=energy,
                     total_usd_per_rack_hour=None if own is None else own + energy)


def _extract_slice(m, d: Data, j: int, count: dict, drawn_out: dict) -> SliceResult:
    """One slice's figures in user units (section 12.4); ``drawn_out[slice]`` gets the MW each
    hardware draws there. The power chain is computed from each hardware's draw, read once, by
    the formulas of 6.8-6.9 (``families.add_slice_expressions``)."""
    sc = d.scale
    b = m.slice[d.slices[j]]
    hours = float(d.hours[j])
    seconds = hours * 3600.0  # 31,536,000 s for one slice of the whole year
    allocation = [
        AllocationRow(hardware=h, tier=t, role=r, racks=_v(b.x[h, t, r])) for (h, t, r) in m.X if _v(b.x[h, t, r]) > 1e-9
    ]
    tiers = []
    for k, t in enumerate(d.tiers):
        w = d.tier_workload[k]
        floor = bool(d.qmin[k, j] > 0 or (d.shiftable[k] and d.qmin[k].max() > 0))
        qa, qd = (_nonneg(_v(q), floor) * sc.tokens for q in (b.qa[t], b.qd[t]))
        q = qa + qd
        price, vin, vc = float(d.price[k, j]), float(d.in_price[k, j]), float(d.cached_price[k, j])
        rho, chi = float(d.rho[w]), float(d.chi[w])
        out_rev = price * q * seconds / 1e6
        in_rev = rho * ((1.0 - chi) * vin + chi * vc) * q * seconds / 1e6 if (vin or vc) else 0.0
        tiers.append(TierRow(
            tier=t, workload=d.workloads[w], price_usd_per_mtok=price, input_price_usd_per_mtok=vin,
            cached_input_price_usd_per_mtok=vc, min_interactivity=float(d.interactivity[k]), tokens_per_s=q,
            aggregated_tokens_per_s=qa, disaggregated_tokens_per_s=qd, input_tokens_per_s=rho * q,
            output_revenue_usd_per_year=out_rev, input_revenue_usd_per_year=in_rev, revenue_usd_per_year=out_rev + in_rev,
        ))
    busy = []
    for h in d.hardware:
        used = sum(_v(b.x[c]) for c in m.cells_by_hardware[h])
        if count[h] > 0 or used > 1e-9:
            busy.append(BusyRow(hardware=h, racks=count[h], busy_racks=used, utilisation=used / count[h] if count[h] else 0.0))
    drawn = {h: _v(b.drawn[h]) for h in d.hardware}
    drawn_out[d.slices[j]] = drawn
    frac = {h: float(d.liquid_frac[i]) for i, h in enumerate(d.hardware)}
    it, net = sum(drawn.values()), _v(m.net_mw)
    liq = sum(frac[h] * x for h, x in drawn.items()) + _v(m.net_liq_mw)
    air = sum((1.0 - frac[h]) * x for h, x in drawn.items()) + _v(m.net_air_mw)
    losses = d.loss * (it + net)
    cooling = float(d.phi_liq[j]) * liq + float(d.phi_air[j]) * air
    total = it + net + losses + cooling
    elec = float(d.elec_usd_mwh[j])
    return SliceResult(
        name=d.slices[j], hours=hours, tokens_per_s=sum(r.tokens_per_s for r in tiers),
        revenue_usd_per_year=sum(r.revenue_usd_per_year for r in tiers), energy_usd_per_year=elec * hours * total,
        electricity_usd_per_mwh=elec, tiers=tiers, allocation=allocation, utilisation=busy,
        power=PowerRow(it_mw=it, network_mw=net, losses_mw=losses, cooling_mw=cooling, total_mw=total, grid_mw=float(d.grid_mw[j])),
        heat=[
            HeatRow(loop="liquid", load_mw=liq, capacity_mw=float(d.cool_liq_mw[j])),
            HeatRow(loop="air", load_mw=air, capacity_mw=float(d.cool_air_mw[j])),
        ],
    )


def _year_tier(d: Data, k: int, rows: list[TierRow]) -> TierRow:
    """A tier's year from its slices: mean rates (hours-weighted), summed revenue, and prices as
    revenue per million tokens sold (the hours-weighted price where none is sold)."""
    w = [float(x) for x in d.weights]

    def mean(field):
        return sum(wj * getattr(r, field) for wj, r in zip(w, rows))

    q, q_in = mean("tokens_per_s"), mean("input_tokens_per_s")
    out_rev = sum(r.output_revenue_usd_per_year for r in rows)
    in_rev = sum(r.input_revenue_usd_per_year for r in rows)
    per_mtok = SECONDS_PER_YEAR / 1e6
    rho, chi = float(d.rho[d.tier_workload[k]]), float(d.chi[d.tier_workload[k]])
    price = out_rev / (q * per_mtok) if q > 0 else mean("price_usd_per_mtok")
    vin, vc = mean("input_price_usd_per_mtok"), mean("cached_input_price_usd_per_mtok")
    if q_in > 0 and in_rev > 0:  # the realised input price per million input tokens, cached at its share
        paid = (1.0 - chi) * vin + chi * vc
        factor = in_rev / (q_in * per_mtok) / paid if paid > 0 else 1.0
        vin, vc = vin * factor, vc * factor
    return TierRow(
        tier=rows[0].tier, workload=rows[0].workload, price_usd_per_mtok=price, input_price_usd_per_mtok=vin,
        cached_input_price_usd_per_mtok=vc, min_interactivity=rows[0].min_interactivity, tokens_per_s=q,
        aggregated_tokens_per_s=mean("aggregated_tokens_per_s"), disaggregated_tokens_per_s=mean("disaggregated_tokens_per_s"),
        input_tokens_per_s=q_in, output_revenue_usd_per_year=out_rev, input_revenue_usd_per_year=in_rev,
        revenue_usd_per_year=out_rev + in_rev,
    )


def fill_slice_limits(sol: "Solution", m, binding: list[tuple], prices: list[tuple]) -> None:
    """Each slice's binding limits and shadow prices (section 12.4): the solution's own rows
    (``binding_rows``, ``price_rows``), grouped by the slice block their constraint holds in (the
    capacity's and the year's rows belong to no slice)."""
    targets = [(m, sol.slices)] if sol.slices else []
    if sol.periods:
        targets = [(m.period[p.year], p.slices) for p in sol.periods if p.slices]
    if not targets:
        return
    by_block: dict[int, tuple[list, list]] = {}
    for which, pairs in ((0, binding), (1, prices)):
        for con, row in pairs:
            by_block.setdefault(id(con.parent_block()), ([], []))[which].append(row)
    for blk, rows in targets:
        for row in rows:
            row.binding, row.shadow_prices = by_block.get(id(blk.slice[row.name]), ([], []))


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
    return [row for _, row in binding_rows(m, rel_tol)]


def binding_rows(m, rel_tol: float = 1e-6) -> list[tuple]:
    """(constraint, LimitRow) of :func:`binding_limits`, so that rows can be grouped by block."""
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
                rows.append((con, LimitRow(constraint=label(con), usage=body * scale, limit=b * scale, unit=unit)))
                break
    return rows


def shadow_prices(duals: dict, objective: str, scale: Scale, units: dict | None = None) -> list[ShadowPrice]:
    """Duals (internal units) -> planner units: objective unit per unit of the limit."""
    return [price for _, price in price_rows(duals, objective, scale, units)]


def price_rows(duals: dict, objective: str, scale: Scale, units: dict | None = None) -> list[tuple]:
    """(constraint, ShadowPrice) of :func:`shadow_prices`, largest first."""
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
        out.append((con, ShadowPrice(constraint=label(con), value=0.0 if abs(v) < 1e-12 else v, unit=f"{obj_unit} per {per}")))
    out.sort(key=lambda pair: -abs(pair[1].value))
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


# --------------------------------------------------------------------------- the multi-year plan (section 11.4)


def _int(x) -> int:
    val = pyo.value(x, exception=False)
    return 0 if val is None else int(round(val))


def extract_horizon_plan(m, hd: HorizonData) -> dict:
    """Read a multi-year plan off the solved model (section 11.4), in user units."""
    H, Z, Y = hd.hardware, hd.halls, hd.years
    lifetime = {i: float(hd.periods[0].lifetime[i]) for i in range(len(H))}
    counts: dict[tuple[int, str], list[int]] = {}  # (vintage index, hall) -> racks alive per period
    vrows: list[VintageRow] = []
    for vi, v in enumerate(hd.vintages):
        h = H[v.hardware]
        for z in Z:
            row = [_int(m.u[h, z, v.period, y]) if (h, z, v.period, y) in m.UV else 0 for y in Y]
            bought = _int(m.b[h, z, v.period]) if (h, z, v.period) in m.B else (row[0] if v.period == 0 else 0)
            if not any(row) and not bought:
                continue
            counts[(vi, z)] = row
            vrows.append(VintageRow(
                hardware=h, hall=z, vintage=hd.vintage_label(v), bought_year=v.year, installed=v.period == 0, bought=bought,
                alive={y: c for p, (y, c) in enumerate(zip(Y, row)) if v.lives[p]}, life_ends=int(v.year + lifetime[v.hardware]),
            ))
    periods: list[PeriodPlan] = []
    refresh: list[RefreshEvent] = []
    totals = dict(revenue=0.0, opex=0.0, energy=0.0, capital=0.0, capex=0.0, tok_years=0.0, mw_years=0.0, resale=0.0)
    for p, y in enumerate(Y):
        d, blk = hd.periods[p], m.period[y]
        plan = extract_plan(blk, d)
        # one pass over the vintages: per (hardware, hall) [alive, bought, retired, retired early],
        # and the early retirements of each vintage (the refresh events)
        cells: dict[tuple[int, str], list[int]] = {}
        early_by_vintage: dict[int, int] = {}
        for (vi, z), row in counts.items():
            v = hd.vintages[vi]
            cell = cells.setdefault((v.hardware, z), [0, 0, 0, 0])
            cell[0] += row[p]
            if v.period == p + 1:
                cell[1] += row[p]
            if p > 0 and row[p - 1] > row[p]:
                gone = row[p - 1] - row[p]
                cell[2] += gone
                if v.lives[p]:
                    cell[3] += gone
                    early_by_vintage[vi] = early_by_vintage.get(vi, 0) + gone
        rows = [
            PeriodRackRow(hardware=h, hall=z, alive=c[0], bought=c[1], retired=c[2], retired_early=c[3])
            for i, h in enumerate(H)
            for z in Z
            if (c := cells.get((i, z))) is not None and (c[0] or c[1] or c[2])
        ]
        # capital: annuities of every purchase so far that are paid in this period's years
        years_here = range(y, y + hd.lengths[p])
        capital = capital_disc = 0.0
        capital_by_hw = [0.0] * len(H)  # the racks' part of ``capital``, per hardware (the market check)
        installed_alive = [0] * len(H)
        for (vi, _), row in counts.items():
            v = hd.vintages[vi]
            if v.period == 0:
                installed_alive[v.hardware] += row[p]
                continue
            racks = row[v.period - 1]
            paid = [yy for yy in v.paid_years if yy in years_here]
            each = crf(hd.rate, lifetime[v.hardware]) * v.capex_usd * racks
            capital += each * len(paid)
            capital_by_hw[v.hardware] += each * len(paid)
            capital_disc += each * sum(hd.weight(yy) for yy in paid)
        added = 0.0
        for j, x in enumerate(d.designs):
            for q in range(p + 1):
                ports = max(pyo.value(m.a[x.name, Y[q]], exception=False) or 0.0, 0.0) * hd.scale.ports
                if ports <= 1e-6:
                    continue
                if q == p:
                    added += ports
                paid = [yy for yy in hd.port_paid_years[j][q] if yy in years_here]
                each = crf(hd.rate, x.lifetime_years) * x.capex_usd * ports
                capital += each * len(paid)
                capital_disc += each * sum(hd.weight(yy) for yy in paid)
        revenue = sum(t.revenue_usd_per_year for t in plan["tiers"])
        opex = float(pyo.value(m.opex[y])) * hd.scale.money
        energy = float(pyo.value(m.energy[y])) * hd.scale.money
        purchases = float(pyo.value(m.purchases[y])) * hd.scale.money
        tokens = sum(t.tokens_per_s for t in plan["tiers"])
        F = plan["metrics"].facility_power_mw  # the mean over the slices (section 12.3)
        sold = {vi: racks * resale_value(hd, hd.vintages[vi], p) / hd.weight(y) for vi, racks in early_by_vintage.items()
                if hd.allow_retire}  # undiscounted cash per vintage retired early (section 14)
        resale = sum(sold.values())
        cash = CashFlows(revenue_usd_per_year=revenue, opex_usd_per_year=opex, energy_usd_per_year=energy, capital_usd=capital,
                         capital_discounted_usd=capital_disc, purchases_usd=purchases, resale_usd=resale,
                         resale_discounted_usd=hd.weight(y) * resale,
                         discount_weight=float(hd.discount[p]))
        alive = [sum(r.alive for r in rows if r.hardware == h) for h in H]
        market = [market_row(d, i, alive[i], installed_alive[i], capital_by_hw[i] / hd.lengths[p])
                  for i in range(len(H)) if alive[i] > 0 or capital_by_hw[i] > 0]
        cost_year = opex + energy + capital / hd.lengths[p]
        periods.append(PeriodPlan(
            racks_alive=sum(alive), cost_usd_per_year=cost_year, market=market,
            **market_figures(revenue, cost_year, tokens, sum(alive)),
            slices=plan["slices"],
            year=y, years=hd.lengths[p], racks=rows, replicas=plan["replicas"], allocation=plan["allocation"], tiers=plan["tiers"],
            fabric=plan["fabric"], added_ports=added, power=plan["power"], heat=plan["heat"], halls=plan["halls"],
            it_mw_by_hardware={h: mw for h, mw in plan["drawn_mw"].items() if any(r.alive for r in rows if r.hardware == h)},
            tokens_per_s=tokens, tokens_per_joule=tokens / (1e6 * F) if F > 0 else 0.0, cash=cash,
        ))
        totals["revenue"] += hd.discount[p] * revenue
        totals["opex"] += hd.discount[p] * opex
        totals["energy"] += hd.discount[p] * energy
        totals["capital"] += capital_disc
        totals["capex"] += purchases
        totals["resale"] += hd.weight(y) * resale
        totals["tok_years"] += hd.lengths[p] * tokens
        totals["mw_years"] += hd.lengths[p] * F
        if early_by_vintage:
            bought_here = [f"{r.bought} x {r.hardware}" for r in _by_hardware(rows, "bought")]
            for vi, racks in early_by_vintage.items():
                v = hd.vintages[vi]
                refresh.append(RefreshEvent(
                    year=y, hardware=H[v.hardware], vintage=hd.vintage_label(v), racks=racks,
                    life_left_years=int(v.year + lifetime[v.hardware] - y),
                    power_freed_mw=racks * float(d.rack_kw[v.hardware]) / 1000.0, replaced_by=bought_here, resale_usd=sold.get(vi, 0.0),
                ))
    span = hd.total_years
    cost = totals["opex"] + totals["energy"] + totals["capital"] - totals["resale"]
    metrics = HorizonMetrics(
        discounted_revenue_usd=totals["revenue"], discounted_cost_usd=cost, npv_usd=totals["revenue"] - cost,
        discounted_opex_usd=totals["opex"], discounted_energy_usd=totals["energy"], discounted_capital_usd=totals["capital"],
        discounted_resale_usd=totals["resale"],
        mean_tokens_per_s=totals["tok_years"] / span,
        tokens_per_joule=totals["tok_years"] / (1e6 * totals["mw_years"]) if totals["mw_years"] > 0 else 0.0,
        mean_facility_power_mw=totals["mw_years"] / span, capex_usd=totals["capex"], horizon_years=span,
    )
    lots = []
    if hasattr(m, "lots"):
        for h, y in m.LOT:
            v = hd.years.index(y) + 1
            bought = sum(_int(m.b[h, z, v]) for z in Z if (h, z, v) in m.B)
            if bought:
                lots.append(LotRow(hardware=h, year=y, lot_racks=int(hd.lot[H.index(h)]), lots=_int(m.l[h, y]), racks=bought))
    return dict(metrics=metrics, periods=periods, vintages=vrows, refresh=refresh, lots=lots)


def _by_hardware(rows: list[PeriodRackRow], field: str) -> list[PeriodRackRow]:
    """Rows summed over halls, keeping those with a positive ``field``."""
    out: dict[str, PeriodRackRow] = {}
    for r in rows:
        acc = out.setdefault(r.hardware, PeriodRackRow(hardware=r.hardware, hall="*", alive=0, bought=0, retired=0, retired_early=0))
        for f in ("alive", "bought", "retired", "retired_early"):
            setattr(acc, f, getattr(acc, f) + getattr(r, f))
    return [r for r in out.values() if getattr(r, field) > 0]


# --------------------------------------------------------------------------- the stochastic plan (section 13.3)

ScenarioOutcome.model_rebuild()
StochasticResult.model_rebuild()

# what a scenario's block holds in place of the model's own (families.add_stage, horizon.add_horizon_outcome)
_STAGE = ("slice", "revenue", "cost", "tokens", "facility_mw", "q", "energy", "capacity_cost", "opex")


class ScenarioView:
    """A stochastic model seen as the deterministic model of one scenario: the capacity (and with a
    horizon the fleet) of ``cap``, the second stage of ``stage`` (section 13.2), so that the
    extraction of sections 8, 11.4 and 12.4 reads it unchanged."""

    def __init__(self, cap, stage, name: str, periods: dict | None = None):
        self._cap, self._stage, self._name = cap, stage, name
        self._periods = periods

    def __getattr__(self, attr):
        if attr == "period" and self._periods is not None:
            return self._periods
        if attr in _STAGE and hasattr(self._stage, attr):
            return getattr(self._stage, attr)
        return getattr(self._cap, attr)


def scenario_view(m, name: str, multi: bool) -> ScenarioView:
    """The view of scenario ``name`` of the extensive form ``m`` (one period, or a horizon)."""
    if not multi:
        return ScenarioView(m, m.scenario[name], name)
    periods = {y: ScenarioView(m.period[y], m.period[y].scenario[name], name) for y in m.P}
    return ScenarioView(m, m.scenario[name], name, periods)


def plan_racks(sol: Solution) -> dict[str, int]:
    """Racks per hardware of a plan: its racks, or with a horizon the racks it buys."""
    out: dict[str, int] = {}
    if sol.vintages or sol.periods:
        for v in sol.vintages:
            if not v.installed:
                out[v.hardware] = out.get(v.hardware, 0) + v.bought
    else:
        for r in sol.racks:
            out[r.hardware] = out.get(r.hardware, 0) + r.count
    return out


def fleet(sol: Solution) -> Solution | None:
    """The solution whose periods show a multi-year plan's fleet schedule: the plan itself, or a
    stochastic plan's first scenario (every scenario shares the first stage, section 13.2);
    None without a horizon."""
    if sol.periods:
        return sol
    scenarios = sol.uncertainty.scenarios if sol.uncertainty is not None else []
    return scenarios[0].solution if scenarios and scenarios[0].solution.periods else None


def scenario_of(con) -> str | None:
    """The scenario whose second stage a constraint belongs to (None: the capacity's, held once)."""
    return next((b.scenario_name for b in _ancestors(con.parent_block()) if getattr(b, "scenario_name", None) is not None), None)


def strip_scenario(label_: str, block) -> str:
    """A constraint's label as the scenario's own deterministic plan names it: without the
    scenario's block, as Pyomo spells it (``scenario[slow].``, ``scenario['2027'].``)."""
    return label_.replace(f"{block.local_name}.", "")


def cvar(values: list[float], probs: list[float], alpha: float, sense: str) -> float:
    """CVaR_alpha of a discrete outcome (section 13.2): for a maximum the mean of the worst
    (1 - alpha) of outcomes, max over eta of eta - sum p max(0, eta - z) / (1 - alpha); for a
    minimum the upper tail. The optimum lies at an outcome, so every outcome is tried."""
    if sense == "max":
        return max(eta - sum(p * max(0.0, eta - z) for z, p in zip(values, probs)) / (1.0 - alpha) for eta in values)
    return min(eta + sum(p * max(0.0, z - eta) for z, p in zip(values, probs)) / (1.0 - alpha) for eta in values)


def expected_metrics(outcomes: list[tuple[float, Metrics | HorizonMetrics]]):
    """The probability-weighted metrics of the scenarios (tokens per joule: E[TOK] / E[F]; the
    market figures: E[revenue] / (racks x 8,760), E[cost] / E[tokens], ...; the racks are the
    first stage's, the same in every scenario)."""
    first = outcomes[0][1]
    fields = {k: sum(p * getattr(x, k) for p, x in outcomes) for k in type(first).model_fields
              if k not in MARKET_FIELDS and k != "racks"}
    if isinstance(first, HorizonMetrics):
        fields["horizon_years"] = first.horizon_years
        F, tok = fields["mean_facility_power_mw"], fields["mean_tokens_per_s"]
    else:
        F, tok = fields["facility_power_mw"], fields["tokens_per_s"]
        fields["racks"] = first.racks
        fields.update(market_figures(fields["revenue_usd_per_year"], fields["cost_usd_per_year"], tok, first.racks))
    fields["tokens_per_joule"] = tok / (1e6 * F) if F > 0 else 0.0
    return type(first)(**fields)


def expected_market(outcomes: list[tuple[float, list[MarketRow]]]) -> list[MarketRow]:
    """Each hardware's market row weighted by the scenarios' probabilities (a scenario may change
    opex, electricity, losses and cooling overheads; the racks are the same in every scenario)."""
    rows = []
    for k, first in enumerate(outcomes[0][1]):
        f = {x: sum(p * getattr(r[k], x) for p, r in outcomes)
             for x in ("capital_usd_per_year", "opex_usd_per_year", "facility_kw_per_rack", "energy_usd_per_rack_hour")}
        hours = first.racks * HOURS_PER_YEAR
        own = (f["capital_usd_per_year"] + f["opex_usd_per_year"]) / hours if hours > 0 else None
        rows.append(first.model_copy(update=dict(f, ownership_usd_per_rack_hour=own,
                                                 total_usd_per_rack_hour=None if own is None else own + f["energy_usd_per_rack_hour"])))
    return rows


def expected_tiers(outcomes: list[tuple[float, list[TierRow]]]) -> list[TierRow]:
    """Each tier's figures weighted by the scenarios' probabilities (its prices: revenue per
    million tokens sold where any is sold)."""
    rows = []
    numeric = [k for k, f in TierRow.model_fields.items() if f.annotation is float and k != "min_interactivity"]
    for k, first in enumerate(outcomes[0][1]):
        fields = {f: sum(p * getattr(tiers[k], f) for p, tiers in outcomes) for f in numeric}
        q = fields["tokens_per_s"]
        if q > 0:
            fields["price_usd_per_mtok"] = fields["output_revenue_usd_per_year"] / (q * SECONDS_PER_YEAR / 1e6)
        rows.append(first.model_copy(update=fields))
    return rows


def first_stage_values(m) -> dict[str, float]:
    """The capacity decision's variables by name (every variable outside a scenario's second stage
    and a slice's allocation, and not CVaR's): what the regret table fixes to evaluate a plan."""
    out = {}
    for v in m.component_data_objects(pyo.Var):
        blk = v.parent_block()
        if getattr(blk, "slice_name", None) is not None or v.parent_component().local_name in ("eta", "tail"):
            continue
        if any(getattr(b, "scenario_name", None) is not None for b in _ancestors(blk)):
            continue
        out[v.name] = _v(v)
    return out


def _ancestors(blk):
    while blk is not None:
        yield blk
        blk = blk.parent_block()


def extract_stochastic(m, sd, objective: str, binding: list[tuple], prices: list[tuple], status: str, gap,
                       units: dict) -> tuple[dict, StochasticResult]:
    """Section 13.3 from the solved extensive form: each scenario's plan (the capacity with its
    second stage, read as a deterministic plan is: ``scenario_view``) with its own binding limits
    and shadow prices, and the top level's plan: the capacity, the expected metrics and tiers."""
    unit = units[objective][0]
    outcomes = []
    for w, p, d in sd.scenarios:
        view = scenario_view(m, w, sd.multi)
        plan = extract_horizon_plan(view, d) if sd.multi else extract_plan(view, d)
        plan.pop("drawn_mw", None)
        stage = m.scenario[w]
        mine_b = [(c, r.model_copy(update={"constraint": strip_scenario(r.constraint, stage)})) for c, r in binding
                  if scenario_of(c) in (None, w)]
        # the extensive form's duals price E[Z] = sum_w p_w Z_w; with the capacity fixed the second
        # stages decouple, so a row of this scenario's prices its own Z at dual / p_w. The capacity's
        # rows price every future at once and stay on the top level; with CVaR in the objective no
        # row prices one future's Z alone, so a scenario then lists none (the top level has them all)
        mine_p = [] if sd.weight > 0 else [
            (c, r.model_copy(update={"constraint": strip_scenario(r.constraint, stage), "value": r.value / p}))
            for c, r in prices if scenario_of(c) == w]
        value = objective_value(objective, plan["metrics"])
        sol = Solution(instance=f"{sd.name} / {w}", status=status, message=f"scenario {w} of the stochastic plan",
                       objective=ObjectiveValue(name=objective, sense=SENSE[objective], value=value, unit=unit), mip_gap=gap,
                       binding=[r for _, r in mine_b], shadow_prices=[r for _, r in mine_p], **plan)
        fill_slice_limits(sol, view, mine_b, mine_p)
        outcomes.append(ScenarioOutcome(name=w, probability=p, value=value, solution=sol))
    first = outcomes[0].solution
    probs = [o.probability for o in outcomes]
    metrics = expected_metrics([(o.probability, o.solution.metrics) for o in outcomes])
    values = [o.value for o in outcomes]
    sense = SENSE[objective]
    expected = objective_value(objective, metrics) if objective == "tokens_per_watt" else sum(p * z for p, z in zip(probs, values))
    worst_i = min(range(len(values)), key=lambda i: values[i] if sense == "max" else -values[i])
    result = StochasticResult(
        objective=objective, unit=unit, alpha=sd.alpha, weight=sd.weight, scenarios=outcomes, expected=expected,
        cvar=None if objective == "tokens_per_watt" else cvar(values, probs, sd.alpha, sense),
        worst_scenario=outcomes[worst_i].name, worst=values[worst_i],
    )
    plan = dict(
        metrics=metrics, market=expected_market([(o.probability, o.solution.market) for o in outcomes]) if first.market else [],
        racks=first.racks, lots=first.lots, replicas=first.replicas, fabric=first.fabric, halls=first.halls,
        vintages=first.vintages, refresh=first.refresh,
        tiers=expected_tiers([(o.probability, o.solution.tiers) for o in outcomes]) if first.tiers else [],
    )
    return plan, result


def stochastic_value(result: StochasticResult) -> float:
    """The objective of section 13.2 from the outcomes: E[Z], or (1 - w) E[Z] + w CVaR_alpha(Z)."""
    if result.cvar is None or result.weight == 0:
        return result.expected
    return (1.0 - result.weight) * result.expected + result.weight * result.cvar
