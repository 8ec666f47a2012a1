"""Multi-year planning (MODEL.md section 11): periods, vintages, the fleet and money over time.

The multi-year model is the one-period model of ``model.py`` once per period, as a Pyomo block
``period[Y]`` built by the same ``add_<family>`` functions from that period's values (so every
section-6 family holds in every period, under its one-period name), tied together by the fleet
families of section 11.2:

==============================  ==========================================  =========
name                            MODEL.md 11.2                               unit
==============================  ==========================================  =========
vintage_start[h,z,v]            u_hzvv = b_hzv                              racks
installed_fleet[h]              sum_z u_hz0p1 = N0_h                        racks
survival[h,z,v,p]               u_hzvp <= (or =) u_hzv(p-1)                 racks
fleet[h,z,p]                    n_hzp = sum_v u_hzvp                        racks
max_new_racks[h,p]              sum_z b_hzp <= its value in p               racks
fabric_design[d,p]              y_dp = y_d(first period): one design        -
fabric_growth[d,p]              a_dp >= E_dp - E_d(p-1)                     ports
period_budget[p]                sum_h c_hp sum_z b_hzp + sum_d k_d a_dp <= B_p   USD
==============================  ==========================================  =========

Vintages are numbered 0 (the installed racks, bought in ``installed_year``) and 1..P (bought at
the start of period 1..P). Money follows section 11.3: ``revenue`` and ``cost`` are discounted
totals (million USD), ``tokens`` and ``facility_mw`` year-weighted means, so that the objectives
of ``model.objective_expr`` keep their meaning and the engine runs unchanged. The plan is read
off the solved model by ``results.extract_horizon_plan``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from .families import add_expectation, add_scenarios, limit, populate
from .preprocess import Data, Scale, choose_scale, crf, infeasibility_hints, planner_warnings, preprocess
from .schema import Instance, installed_year, snapshot, value_at


@dataclass
class Vintage:
    """Racks of one hardware bought at one time: ``period`` 0 is the installed fleet."""

    hardware: int
    period: int  # 0: installed; p >= 1: bought at the start of period p (1-based)
    year: int  # purchase year
    lives: list[bool]  # [p]: alive for the whole of period p
    capex_usd: float  # per rack (0 for installed racks)
    paid_years: list[int]  # years of the horizon in which its annuity is paid
    annuity_weight: float  # CRF * sum of year weights over paid_years (discounted USD per USD of capex)


@dataclass
class HorizonData:
    name: str
    objective: str
    years: list[int]  # start year of each period
    lengths: list[int]  # years in each period
    end: int  # first year after the horizon
    allow_retire: bool
    rate: float
    periods: list[Data]  # one-period data per period (installed racks 0, no budget: the fleet holds them)
    budgets: list[float | None]  # USD per period
    max_new: np.ndarray  # [h, p] racks bought in one period, inf where uncapped
    installed: np.ndarray  # [h] N0_h
    lot: np.ndarray  # [h] racks per purchase lot (section 14)
    resale: np.ndarray  # [h] sigma_h: share of the straight-line remaining value a rack retired early returns
    installed_year: list[int]
    vintages: list[Vintage]
    discount: np.ndarray  # [p] DF_p = sum of year weights in p
    port_weight: np.ndarray  # [d, p] CRF_d * sum of year weights paid, per USD of ports added in p
    port_paid_years: list[list[list[int]]]  # [d][p] years paid for ports added in p

    @property
    def scale(self) -> Scale:
        """The internal units, one for all periods (choose_scale over them)."""
        return self.periods[0].scale

    @property
    def hardware(self) -> list[str]:
        return self.periods[0].hardware

    @property
    def halls(self) -> list[str]:
        return self.periods[0].halls

    @property
    def total_years(self) -> int:
        return sum(self.lengths)

    def weight(self, year: int) -> float:
        """omega_y = (1 + r)^-(y - start_year)."""
        return (1.0 + self.rate) ** -(year - self.years[0])

    def vintage_label(self, v: Vintage) -> str:
        return f"installed {v.year}" if v.period == 0 else str(v.year)


def lives(bought: int, life: float, start: int, length: int) -> bool:
    """A rack bought in ``bought`` lives through the period [start, start + length)."""
    return bought <= start and start + length <= bought + life


def preprocess_horizon(inst: Instance) -> HorizonData:
    """Resolve every value by year, enumerate vintages, and weigh money by year (section 11)."""
    hz = inst.horizon
    years, lengths, end = hz.years, list(hz.period_years), hz.end_year
    rate = inst.facility.discount_rate
    periods = []
    for year in years:
        d = preprocess(snapshot(inst, year, installed=False))
        d.budget_usd = None  # the period budget caps purchases (period_budget), not the fleet
        d.lot = np.ones(len(inst.hardware))  # so do purchase lots (add_lots): a period's fleet is no whole number of lots
        periods.append(d)
    common = choose_scale(periods)  # one set of internal units: the periods' money is summed
    for d in periods:
        d.scale = common
    w = {y: (1.0 + rate) ** -(y - years[0]) for y in range(years[0], end)}
    discount = np.array([sum(w[y] for y in range(s, s + n)) for s, n in zip(years, lengths)])
    nh, npd = len(inst.hardware), len(years)
    max_new = np.full((nh, npd), np.inf)
    vintages: list[Vintage] = []
    iyears = []
    for i, h in enumerate(inst.hardware):
        life = h.lifetime_years
        factor = crf(rate, life)
        iy = installed_year(inst, h)
        iyears.append(iy)
        if h.installed_racks > 0:
            vintages.append(Vintage(i, 0, iy, [lives(iy, life, s, n) for s, n in zip(years, lengths)], 0.0, [], 0.0))
        for p, (s, n) in enumerate(zip(years, lengths)):
            cap = value_at(h.max_new_racks, s)
            if cap is not None:
                max_new[i, p] = cap
            open_ = (h.available_from is None or s >= h.available_from) and (h.available_until is None or s <= h.available_until)
            if not open_ or not lives(s, life, s, n):  # outside its window, or dead before its first period ends
                continue
            paid = [y for y in range(s, end) if y < s + life]
            vintages.append(
                Vintage(i, p + 1, s, [lives(s, life, s2, n2) for s2, n2 in zip(years, lengths)],
                        float(periods[p].capex_usd[i]), paid, factor * sum(w[y] for y in paid))
            )
    designs = periods[0].designs
    port_weight = np.zeros((len(designs), npd))
    port_paid: list[list[list[int]]] = []
    for j, x in enumerate(designs):
        factor = crf(rate, x.lifetime_years)
        rows = []
        for p, s in enumerate(years):
            paid = [y for y in range(s, end) if y < s + x.lifetime_years]
            rows.append(paid)
            port_weight[j, p] = factor * sum(w[y] for y in paid)
        port_paid.append(rows)
    budgets = [value_at(inst.facility.capex_budget_usd, s) for s in years]
    return HorizonData(
        name=inst.name, objective=inst.objective.value, years=years, lengths=lengths, end=end,
        allow_retire=hz.allow_early_retirement, rate=rate, periods=periods, budgets=budgets, max_new=max_new,
        installed=np.array([h.installed_racks for h in inst.hardware], dtype=float), installed_year=iyears,
        lot=np.array([h.lot_racks for h in inst.hardware], dtype=float),
        resale=np.array([h.resale_fraction for h in inst.hardware], dtype=float),
        vintages=vintages, discount=discount, port_weight=port_weight, port_paid_years=port_paid,
    )


def horizon_warnings(hd: HorizonData) -> list[str]:
    """The planner warnings of every period, with the years they hold in (none when all)."""
    when: dict[str, list[int]] = {}
    for year, d in zip(hd.years, hd.periods):
        for w in planner_warnings(d):
            when.setdefault(w, []).append(year)
    return [w if len(ys) == len(hd.years) else f"{', '.join(map(str, ys))}: {w}" for w, ys in when.items()]


def horizon_hints(hd: HorizonData) -> list[str]:
    """Cheap, certain reasons a multi-year instance cannot be feasible (per period, with its year)."""
    hints = []
    for year, d in zip(hd.years, hd.periods):
        hints += [f"{year}: {h}" for h in infeasibility_hints(d)]
    first = hd.periods[0]
    for v in hd.vintages:
        if v.period == 0 and v.lives[0] and not first.allowed[v.hardware].any():
            hints.append(f"{hd.years[0]}: hardware '{hd.hardware[v.hardware]}' has {hd.installed[v.hardware]:g} installed racks but no hall admits it")
    alive = np.array([sum(1 for v in hd.vintages if v.hardware == i and v.period == 0 and v.lives[0]) for i in range(len(hd.hardware))])
    installed_mw = float((first.rack_kw * first.beta) @ (hd.installed * (alive > 0))) / 1000.0  # at least idle (section 12.2)
    for j, s in enumerate(first.slices):
        if installed_mw * (1 + first.loss) > first.grid_mw[j]:
            where = f" in slice {s}" if first.sliced else ""
            hints.append(f"{hd.years[0]}: the installed racks alone draw {installed_mw * (1 + first.loss):.1f} MW (with losses) "
                         f"against {first.grid_mw[j]:g} MW of grid power{where}")
            break
    return hints


# --------------------------------------------------------------------------- the model


def build_horizon_model(hd: HorizonData, tight: bool = True, scenarios: list | None = None) -> pyo.ConcreteModel:
    """One block per period (the one-period families), then the fleet, fabric and budget
    families of section 11.2 and the discounted totals of section 11.3.

    With ``scenarios`` ([(name, probability, HorizonData)], section 13.2) the whole fleet schedule
    is decided once and each period's block holds one second stage per scenario
    (``period[Y].scenario[w]``); ``scenario[w]`` on the model holds that future's totals over the
    horizon and ``revenue``, ``cost``, ``tokens`` and ``facility_mw`` are their expectations."""
    m = pyo.ConcreteModel(name=hd.name)
    m.scale = hd.scale
    m.row_unit = {}  # the horizon's own normalised rows (period_budget); the periods' are on their blocks
    m.P = pyo.Set(initialize=hd.years, ordered=True)
    index = {y: p for p, y in enumerate(hd.years)}

    def period(b, y):
        p = index[y]
        populate(b, hd.periods[p], tight, None if scenarios is None else [(w, pi, x.periods[p]) for w, pi, x in scenarios])

    m.period = pyo.Block(m.P, rule=period)
    add_fleet(m, hd)
    add_lots(m, hd)
    add_fabric_growth(m, hd)
    add_period_budget(m, hd)
    add_horizon_expressions(m, hd)
    if scenarios is not None:
        data = add_scenarios(m, scenarios)
        m.scenario = pyo.Block(m.W, rule=lambda g, w: add_horizon_outcome(g, m, data[w], {y: m.period[y].scenario[w] for y in hd.years}))
        add_expectation(m)
    return m


def add_fleet(m, hd: HorizonData) -> None:
    """b_hzv, u_hzvp and the fleet constraints (vintage_start, installed_fleet, survival, fleet,
    max_new_racks)."""
    allowed = hd.periods[0].allowed
    H, Z = hd.hardware, hd.halls
    m.H = pyo.Set(initialize=H, ordered=True)
    m.Z = pyo.Set(initialize=Z, ordered=True)
    buy = [(H[v.hardware], Z[j], v.period) for v in hd.vintages if v.period > 0 for j in range(len(Z)) if allowed[v.hardware, j]]
    # installed racks get a variable in every hall: where they may not stand, fleet[] holds them
    # at n = 0, so an installed fleet no hall admits is infeasible (as in v1), not silently gone
    alive = [
        (H[v.hardware], Z[j], v.period, hd.years[p])
        for v in hd.vintages
        for j in range(len(Z))
        if allowed[v.hardware, j] or v.period == 0
        for p in range(len(hd.years))
        if v.lives[p]
    ]
    m.B = pyo.Set(initialize=buy, dimen=3, ordered=True)
    m.UV = pyo.Set(initialize=alive, dimen=4, ordered=True)
    m.b = pyo.Var(m.B, within=pyo.NonNegativeIntegers)
    m.u = pyo.Var(m.UV, within=pyo.NonNegativeIntegers)
    prev = {y: hd.years[p - 1] if p > 0 else None for p, y in enumerate(hd.years)}

    m.vintage_start = pyo.Constraint(m.B, rule=lambda m, h, z, v: m.u[h, z, v, hd.years[v - 1]] == m.b[h, z, v])

    def installed_rule(m, h):
        i = H.index(h)
        first = [(h, z, 0, hd.years[0]) for z in Z if (h, z, 0, hd.years[0]) in m.UV]
        if hd.installed[i] <= 0 or not first:
            return pyo.Constraint.Skip  # none installed, or the installed fleet is past its life
        return sum(m.u[key] for key in first) == hd.installed[i]

    m.installed_fleet = pyo.Constraint(m.H, rule=installed_rule)

    def survival_rule(m, h, z, v, y):
        before = prev[y]
        if before is None or (h, z, v, before) not in m.UV:
            return pyo.Constraint.Skip  # the vintage's first period
        if hd.allow_retire:
            return m.u[h, z, v, y] <= m.u[h, z, v, before]
        return m.u[h, z, v, y] == m.u[h, z, v, before]

    m.survival = pyo.Constraint(m.UV, rule=survival_rule)
    by_cell: dict[tuple, list] = {}
    for key in alive:
        by_cell.setdefault((key[0], key[1], key[3]), []).append(key)
    cells = [(h, z, y) for y in hd.years for h in H for z in Z if allowed[H.index(h), Z.index(z)] or (h, z, y) in by_cell]
    m.fleet = pyo.Constraint(
        pyo.Set(initialize=cells, dimen=3, ordered=True),
        rule=lambda m, h, z, y: m.period[y].n[h, z] == sum(m.u[k] for k in by_cell.get((h, z, y), [])),
    )

    def max_new_rule(m, h, y):
        i, p = H.index(h), hd.years.index(y)
        bought = [m.b[h, z, p + 1] for z in Z if (h, z, p + 1) in m.B]
        if not math.isfinite(hd.max_new[i, p]) or not bought:
            return pyo.Constraint.Skip
        return sum(bought) <= hd.max_new[i, p]

    m.max_new_racks = pyo.Constraint(m.H, m.P, rule=max_new_rule)


def add_lots(m, hd: HorizonData) -> None:
    """Section 14, purchase lots over a horizon: sum_z b_hzv = L_h l_hv with l_hv integer >= 0
    (``lots[h,year]``, only where L_h > 1 and h may be bought in that period)."""
    H = hd.hardware
    cells = sorted({(h, v) for (h, z, v) in m.B if hd.lot[H.index(h)] > 1}, key=lambda c: (H.index(c[0]), c[1]))
    if not cells:
        return
    m.LOT = pyo.Set(initialize=[(h, hd.years[v - 1]) for h, v in cells], dimen=2, ordered=True)
    m.l = pyo.Var(m.LOT, within=pyo.NonNegativeIntegers)
    m.lots = pyo.Constraint(m.LOT, rule=lambda m, h, y: sum(m.b[h, z, v] for (hh, z, v) in m.B if hh == h and v == hd.years.index(y) + 1)
                            == hd.lot[H.index(h)] * m.l[h, y])


def add_fabric_growth(m, hd: HorizonData) -> None:
    """One fabric design for the horizon (fabric_design) and ports added per period
    (fabric_growth: a_dp >= E_dp - E_d(p-1), E_d0 = 0), in thousand ports."""
    names = [x.name for x in hd.periods[0].designs]
    m.DD = pyo.Set(initialize=names, ordered=True)
    m.a = pyo.Var(m.DD, m.P, within=pyo.NonNegativeReals)
    if not names:
        return
    first = hd.years[0]
    m.fabric_design = pyo.Constraint(
        m.DD, m.P,
        rule=lambda m, n, y: pyo.Constraint.Skip if y == first else m.period[y].y[n] == m.period[first].y[n],
    )

    def growth(m, n, y):
        p = hd.years.index(y)
        before = m.period[hd.years[p - 1]].E[n] if p > 0 else 0.0
        return m.a[n, y] >= m.period[y].E[n] - before

    m.fabric_growth = pyo.Constraint(m.DD, m.P, rule=growth)


def add_period_budget(m, hd: HorizonData) -> None:
    """period_budget[p]: sum_h c_hp sum_z b_hzp + sum_d k_d a_dp <= B_p (million USD)."""
    m.purchases = pyo.Expression(m.P, rule=lambda m, y: _purchases(m, hd, hd.years.index(y)))
    if all(b is None for b in hd.budgets):
        return
    m.period_budget = pyo.Constraint(
        m.P,
        rule=lambda m, y: pyo.Constraint.Skip if hd.budgets[hd.years.index(y)] is None
        else limit(m, "period_budget", y, m.purchases[y], hd.budgets[hd.years.index(y)] / hd.scale.money, hd.scale.money, "<=",
                   max(float(p.capex_usd.max(initial=0.0)) for p in hd.periods) / hd.scale.money),
    )


def _purchases(m, hd: HorizonData, p: int):
    """Capex paid up front in period p (million USD): racks bought and fabric ports added."""
    d = hd.periods[p]
    y = hd.years[p]
    sc = hd.scale
    racks = sum(d.capex_usd[hd.hardware.index(h)] / sc.money * m.b[h, z, v] for (h, z, v) in m.B if v == p + 1)
    ports = sum(x.capex_usd * sc.ports / sc.money * m.a[x.name, y] for x in d.designs)
    return racks + ports


def resale_value(hd: HorizonData, v: Vintage, p: int) -> float:
    """Section 14: the discounted cash (USD) one rack of vintage ``v`` returns when retired early
    at the start of period ``p`` (0-based): sigma_h c_hv R / l_h at the start of year Y_p, R the
    whole years of life left, weighted by omega_Y_p. Installed racks use the capex of the first
    period."""
    i = v.hardware
    life = float(hd.periods[0].lifetime[i])
    left = v.year + life - hd.years[p]
    capex = v.capex_usd if v.period > 0 else float(hd.periods[0].capex_usd[i])
    return float(hd.resale[i]) * capex * max(left, 0.0) / life * hd.weight(hd.years[p])


def resale_cells(m, hd: HorizonData) -> dict[tuple, float]:
    """(h, z, v, year, year before) -> discounted cash per rack, for every early retirement that
    returns cash: the vintage lived in the period before and would have lived through this one."""
    out = {}
    by = {(v.hardware, v.period): v for v in hd.vintages}
    for (h, z, v, y) in m.UV:
        i, p = hd.hardware.index(h), hd.years.index(y)
        if hd.resale[i] <= 0 or p == 0 or (h, z, v, hd.years[p - 1]) not in m.UV or not hd.allow_retire:
            continue
        cash = resale_value(hd, by[(i, v)], p)
        if cash > 0:
            out[(h, z, v, y, hd.years[p - 1])] = cash
    return out


def add_horizon_expressions(m, hd: HorizonData) -> None:
    """Section 11.3 totals in internal units, under the names the engine reads:
    ``revenue``/``cost`` discounted (million USD), ``tokens``/``facility_mw`` year-weighted
    means (million tokens/s, MW), ``racks[h]`` racks alive summed over periods."""
    Y = hd.years
    money = hd.scale.money
    vint = {(v.hardware, v.period): v for v in hd.vintages}
    m.capital = pyo.Expression(
        expr=sum(vint[(hd.hardware.index(h), v)].annuity_weight * vint[(hd.hardware.index(h), v)].capex_usd / money * m.b[h, z, v]
                 for (h, z, v) in m.B)
        + sum(float(hd.port_weight[j, p]) * x.capex_usd * hd.scale.ports / money * m.a[x.name, y]
              for j, x in enumerate(hd.periods[0].designs) for p, y in enumerate(Y))
    )
    m.resale = pyo.Expression(expr=sum(cash / money * (m.u[h, z, v, before] - m.u[h, z, v, y])
                                       for (h, z, v, y, before), cash in resale_cells(m, hd).items()))
    m.capex = pyo.Expression(expr=sum(m.purchases[y] for y in Y))
    m.racks = pyo.Expression(m.H, rule=lambda m, h: sum(m.period[y].racks[h] for y in Y))
    if not hasattr(m.period[Y[0]], "scenario"):
        add_horizon_outcome(m, m, hd, {y: m.period[y] for y in Y})


def add_horizon_outcome(g, m, hd: HorizonData, blocks: dict) -> None:
    """One future's totals over the horizon on ``g`` (the model itself, or ``m.scenario[w]``),
    from its second stage in each period (``blocks``, year -> block) and ``hd``'s values: opex
    and energy per period, discounted ``revenue`` and ``cost`` (the capital and resale of the
    fleet on ``m`` are the same in every future), year-weighted ``tokens`` and ``facility_mw``."""
    Y = hd.years
    money = hd.scale.money
    span = float(hd.total_years)
    g.opex = pyo.Expression(
        m.P, rule=lambda g, y: sum(float(hd.periods[Y.index(y)].opex_usd[i]) / money * m.period[y].racks[h]
                                   for i, h in enumerate(hd.hardware))
    )
    g.energy = pyo.Expression(m.P, rule=lambda g, y: blocks[y].energy)  # sum_s e_s H_s F_s (section 12.3)
    # plain floats times Pyomo expressions: a numpy scalar on the left hands the product to numpy,
    # which older Pyomo (6.9) cannot take for a named expression
    df = [float(x) for x in hd.discount]
    g.revenue = pyo.Expression(expr=sum(df[p] * blocks[y].revenue for p, y in enumerate(Y)))
    g.cost = pyo.Expression(expr=sum(df[p] * (g.opex[y] + g.energy[y]) for p, y in enumerate(Y)) + m.capital - m.resale)
    g.tokens = pyo.Expression(expr=sum(n * blocks[y].tokens for n, y in zip(hd.lengths, Y)) / span)
    g.facility_mw = pyo.Expression(expr=sum(n * blocks[y].facility_mw for n, y in zip(hd.lengths, Y)) / span)
