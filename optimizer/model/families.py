"""The Pyomo model of MODEL.md sections 5-7 and 12, built from :class:`~optimizer.model.preprocess.Data`.

:func:`build_model` is an ordered list of ``add_<family>`` calls, one per constraint family of
MODEL.md section 6, each with its formula in the docstring. The capacity (racks, replicas,
fabric) lives on the model; the allocation and the families that hold in every slice of the
year (6.3-6.9, 6.12, tier power shares) on one block per slice, ``slice[s]`` (section 12.2).
Constraint names are stable and reused in binding lists, shadow prices and reports; with slices a
per-slice family gains the slice as its last index (``facility_power[peak]``,
``demand_cap[pro,night]``: ``results.label``):

==========================  =================================  =======================
name                        MODEL.md                           unit of the limit
==========================  =================================  =======================
installed[h]                6.1  n_h >= N0_h                   racks
lots[h]                     14   n_h - N0_h = L_h l_h          racks (a horizon: lots[h,year])
supply_cap[h]               6.1  n_h <= Nmax_h                 racks
replica_fit[h]              6.2                                racks
replica_allocation[h,mu]    6.3                                rack-equivalents
aggregated_output[t]        6.4                                tokens/s
decode_output[t]            6.5                                tokens/s
prefill_supply[t]           6.6                                input tokens/s
demand_floor[t]             6.7  q_t >= qmin_t                 tokens/s (shiftable: the year's mean)
demand_cap[t]               6.7  q_t <= qmax_t                 tokens/s (shiftable: the year's mean)
liquid_cooling, air_cooling 6.8                                MW of heat
facility_power              6.9                                MW
hall_slots[z]               6.10                               racks
fabric_ports, fabric_reach[d], fabric_choice   6.11            ports
kv_transfer                 6.12                               Gb/s
capex_budget                6.13                               USD
min_revenue                 6.14                               USD/yr
min_tokens_per_joule        6.14                               tokens/s
kind_power_share[k,min|max] 6.14                               MW
tier_power_share[t,min|max] 6.14                               MW
==========================  =================================  =======================

Internal units are the instance's own (``preprocess.Scale``): MW, ``Scale.tokens`` tokens/s,
``Scale.money`` USD, ``Scale.ports`` ports. A limit row whose right-hand side is a user figure
(demand floors and caps, grid power, cooling, budget, required revenue) is divided by that
figure, so that it reads ``usage / limit <= 1`` and HiGHS's absolute tolerance is relative to the
limit; ``m.row_unit[(family, index)]`` keeps the figure, the user units of one internal unit of
that row (``results.row_factor``). The model reads no files and prints nothing.
"""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
from pyomo.repn import generate_standard_repn

from .preprocess import ROLES, SECONDS_PER_YEAR, Data, centre


def build_model(d: Data, tight: bool = True, scenarios: list | None = None) -> pyo.ConcreteModel:
    """Build the MILP for one instance: sets, variables, expressions, every constraint family.

    ``tight`` adds variable bounds and a fabric big-M implied by the slot and supply limits
    (same optimum, tighter relaxation); the elastic models of ``diagnose`` relax those limits
    and must build without them. ``scenarios``, [(name, probability, Data)], makes it the
    extensive form of section 13 (:func:`populate`).
    """
    m = pyo.ConcreteModel(name=d.name)
    populate(m, d, tight, scenarios)
    return m


def populate(m, d: Data, tight: bool = True, scenarios: list | None = None) -> None:
    """Every section 5-6 component of one period on ``m`` (a model, or one period's block of the
    multi-year model of ``horizon.py``).

    Section 12.2: the capacity (racks, replicas, fabric) is decided once, on ``m``; the
    allocation and the served tokens in every slice of the year, each slice a block
    ``m.slice[s]`` holding its own variables and the per-slice families under their one-period
    names (``add_slice``). The year's totals (``add_year``) weigh each slice by its hours.

    Section 13.2: with ``scenarios`` ([(name, probability, Data)], the data of each future with
    the internal units of ``d``) the capacity is still built once from ``d``, and everything
    else (the slices, the year, shiftable demand, the side constraints) once per scenario on a
    block ``m.scenario[w]`` with that scenario's values (``add_stage``); ``m.revenue``,
    ``m.cost``, ``m.tokens`` and ``m.facility_mw`` are then the expectations (``add_expectation``)."""
    m.scale = d.scale
    m.row_unit = {}  # (family, index) -> user units per internal unit of a normalised limit row
    add_sets(m, d, [x for _, _, x in scenarios or []])
    add_variables(m, d, tight)
    add_expressions(m, d)
    add_supply(m, d)
    add_lots(m, d, tight)
    add_replica_fit(m, d)
    add_halls(m, d)
    add_fabric(m, d, tight)
    add_budget(m, d)
    add_kind_power_share(m, d)
    m.S = pyo.Set(initialize=d.slices, ordered=True)
    if scenarios is None:
        add_stage(m, m, d, tight)
        return
    data = add_scenarios(m, scenarios)
    m.scenario = pyo.Block(m.W, rule=lambda b, w: add_stage(b, m, data[w], tight, w))
    add_expectation(m)


def add_scenarios(m, scenarios: list) -> dict:
    """The scenario set W and the probabilities pi_w on ``m`` (section 13.1); returns name -> data."""
    m.W = pyo.Set(initialize=[w for w, _, _ in scenarios], ordered=True)
    m.probability = {w: float(p) for w, p, _ in scenarios}
    return {w: x for w, _, x in scenarios}


def add_stage(g, m, d: Data, tight: bool = True, name: str | None = None) -> None:
    """The second stage of one future on ``g`` (``m`` itself without scenarios, else
    ``m.scenario[name]``), over the capacity on ``m``: a block per slice, the year's totals,
    shiftable demand and the side constraints, with ``d``'s values."""
    g.scenario_name = name
    if g is not m:
        g.scale = d.scale
        g.row_unit = {}
    g.slice = pyo.Block(m.S, rule=lambda b, s: add_slice(b, m, d, d.slices.index(s), tight))
    add_year(g, m, d)
    add_shiftable_demand(g, m, d)
    add_side_constraints(g, d)


def add_expectation(m) -> None:
    """Section 13.2: E[REV], E[COST], E[TOK] and E[F] over the scenarios' blocks ``m.scenario[w]``
    (a year's, or with a horizon the horizon's totals), under the names the engine reads, so that
    every objective (and the tie-break) is its expectation."""
    pi = m.probability
    blocks = [(float(pi[w]), m.scenario[w]) for w in m.W]

    def expect(name):
        return sum(p * getattr(b, name) if p != 1.0 else getattr(b, name) for p, b in blocks)

    m.revenue = pyo.Expression(expr=expect("revenue"))
    m.cost = pyo.Expression(expr=expect("cost"))
    m.tokens = pyo.Expression(expr=expect("tokens"))
    m.facility_mw = pyo.Expression(expr=expect("facility_mw"))


def add_risk(m, objective: str, alpha: float, weight: float) -> None:
    """Section 13.2, CVaR by its linear form: one free eta and tail_w >= 0 per scenario with
    tail_w >= eta - Z_w (``min_cost``: tail_w >= Z_w - eta, the upper tail); ``objective_expr``
    then returns (1 - weight) E[Z] + weight CVaR_alpha(Z). Rows are centred as objectives are."""
    m.risk = (objective, float(alpha), float(weight))
    m.eta = pyo.Var(within=pyo.Reals)
    m.tail = pyo.Var(m.W, within=pyo.NonNegativeReals)

    def row(m, w):
        z = objective_expr(m.scenario[w], objective)
        body = m.tail[w] - m.eta + z if SENSE[objective] == "max" else m.tail[w] + m.eta - z
        scale = coefficient_scale(body)
        return body * (1.0 / scale) >= 0

    m.cvar_tail = pyo.Constraint(m.W, rule=row)


def cvar_expr(m):
    """CVaR_alpha(Z) of section 13.2 in the objective's internal units (the lower tail for a
    maximum, the upper one for ``min_cost``)."""
    objective, alpha, _ = m.risk
    tail = sum(float(m.probability[w]) * m.tail[w] for w in m.W) * (1.0 / (1.0 - alpha))
    return m.eta - tail if SENSE[objective] == "max" else m.eta + tail


def add_slice(b, m, d: Data, j: int, tight: bool = True) -> None:
    """One slice's second stage (section 12.2) on block ``b``: its allocation and output, and the
    families 6.3-6.9, 6.12 and the tier power shares with that slice's values. ``b.slice_name``
    and ``b.sliced`` tell ``results.label`` how to name its rows (``facility_power[peak]``; an
    instance without slices keeps the v1 names)."""
    b.slice_name = d.slices[j]
    b.sliced = d.sliced
    b.scale = d.scale
    b.row_unit = {}
    add_slice_variables(b, m, d, tight)
    add_slice_expressions(b, m, d, j)
    add_replica_allocation(b, m, d)
    add_output(b, m, d)
    add_demand(b, m, d, j)
    add_cooling(b, d, j)
    add_power(b, d, j)
    add_kv_transfer(b, m, d)
    add_tier_power_share(b, m, d)


# --------------------------------------------------------------------------- sets and variables


def add_sets(m, d: Data, others: list | None = None) -> None:
    """H, Z, U, W, T, R, D (section 3) and the sparse index sets the variables live on; with the
    data of other futures (``others``, section 13) a cell exists where any of them serves it."""
    m.H = pyo.Set(initialize=d.hardware, ordered=True)
    m.Z = pyo.Set(initialize=d.halls, ordered=True)
    m.U = pyo.Set(initialize=d.models, ordered=True)
    m.T = pyo.Set(initialize=d.tiers, ordered=True)
    m.R = pyo.Set(initialize=ROLES, ordered=True)
    m.D = pyo.Set(initialize=[x.name for x in d.designs], ordered=True)
    m.HU = pyo.Set(
        dimen=2,
        ordered=True,
        initialize=[(h, u) for i, h in enumerate(d.hardware) for j, u in enumerate(d.models) if d.hosts[i, j]],
    )
    cells = []
    for r in ROLES:
        coef = d.coefficient(r)
        for x in others or []:
            coef = np.maximum(coef, x.coefficient(r))
        cells += [(h, t, r) for i, h in enumerate(d.hardware) for k, t in enumerate(d.tiers) if coef[i, k] > 0]
    order = {r: n for n, r in enumerate(ROLES)}
    hi = {h: i for i, h in enumerate(d.hardware)}
    ti = {t: k for k, t in enumerate(d.tiers)}
    cells.sort(key=lambda c: (hi[c[0]], ti[c[1]], order[c[2]]))
    m.X = pyo.Set(dimen=3, ordered=True, initialize=cells)
    # the allocation cells grouped once, so that no constraint rule scans all of X
    tier_model = {t: d.models[d.workload_model[d.tier_workload[k]]] for k, t in enumerate(d.tiers)}
    m.cells_by_tier = {t: [] for t in d.tiers}
    m.cells_by_host = {hu: [] for hu in m.HU}
    m.cells_by_hardware = {h: [] for h in d.hardware}
    for c in cells:  # one pass: grouping per tier by scanning X once per tier was O(T x X)
        m.cells_by_tier[c[1]].append(c)
        m.cells_by_host[(c[0], tier_model[c[1]])].append(c)
        m.cells_by_hardware[c[0]].append(c)
    m.models_by_hardware = {h: [] for h in d.hardware}
    for h, u in m.HU:
        m.models_by_hardware[h].append(u)


def add_variables(m, d: Data, tight: bool = True) -> None:
    """Section 5, the capacity: n_hz, k_hmu (integer), y_d (binary), E_d.

    n_hz is 0 where h may not stand in z; with ``tight`` the counts are also bounded by what the
    slots and supply caps imply (those constraints hold anyway)."""
    hi = {h: i for i, h in enumerate(d.hardware)}
    zi = {z: j for j, z in enumerate(d.halls)}
    ui = {u: j for j, u in enumerate(d.models)}
    bound = d.rack_bound()

    def n_bounds(m, h, z):
        i, j = hi[h], zi[z]
        if not d.allowed[i, j]:
            return (0, 0)  # h may not stand in z
        return (0, min(d.slots[j], d.max_racks[i]) if tight else None)

    m.n = pyo.Var(m.H, m.Z, within=pyo.NonNegativeIntegers, bounds=n_bounds)
    m.k = pyo.Var(
        m.HU,
        within=pyo.NonNegativeIntegers,
        bounds=lambda m, h, u: (0, math.floor(bound[hi[h]] / d.replica_racks[hi[h], ui[u]]) if tight else None),
    )
    m.y = pyo.Var(m.D, within=pyo.Binary)
    m.E = pyo.Var(m.D, within=pyo.NonNegativeReals)


def add_slice_variables(b, m, d: Data, tight: bool = True) -> None:
    """Section 5, one slice's second stage: x_htr (rack-equivalents), qa_t, qd_t (output tokens/s)."""
    hi = {h: i for i, h in enumerate(d.hardware)}
    bound = d.rack_bound()
    b.x = pyo.Var(m.X, within=pyo.NonNegativeReals, bounds=lambda b, h, t, r: (0, bound[hi[h]] * d.availability[hi[h]] if tight else None))
    b.qa = pyo.Var(m.T, within=pyo.NonNegativeReals)
    b.qd = pyo.Var(m.T, within=pyo.NonNegativeReals)


def _mw(d: Data) -> dict:
    """MW per rack, as Python floats: a numpy number times a Pyomo variable is many times slower
    than a float times one (168,000 products at 4 slices of the large benchmark instance)."""
    return {h: float(d.rack_kw[i]) / 1000.0 for i, h in enumerate(d.hardware)}


def add_expressions(m, d: Data) -> None:
    """Aggregates of the capacity in internal units: racks, nameplate IT power, fabric power,
    capex, and the yearly cost of the capacity (annuities and opex)."""
    hi = {h: i for i, h in enumerate(d.hardware)}
    des = {x.name: x for x in d.designs}
    sc = d.scale
    mw = _mw(d)
    port_mw = {n: x.power_w * sc.ports / 1e6 for n, x in des.items()}  # MW per internal port unit

    m.racks = pyo.Expression(m.H, rule=lambda m, h: sum(m.n[h, z] for z in m.Z))
    m.it_mw = pyo.Expression(expr=sum(mw[h] * m.racks[h] for h in m.H))  # nameplate (every rack busy)
    m.net_mw = pyo.Expression(expr=sum(port_mw[n] * m.E[n] for n in m.D))  # the same in every slice
    m.net_liq_mw = pyo.Expression(expr=sum(des[n].liquid_fraction * port_mw[n] * m.E[n] for n in m.D))
    m.net_air_mw = pyo.Expression(expr=sum((1 - des[n].liquid_fraction) * port_mw[n] * m.E[n] for n in m.D))
    m.capex = pyo.Expression(
        expr=sum(d.capex_usd[hi[h]] / sc.money * (m.racks[h] - d.installed[hi[h]]) for h in m.H)
        + sum(des[n].capex_usd * sc.ports / sc.money * m.E[n] for n in m.D)
    )
    crf_d = {x.name: d.crf_d[j] for j, x in enumerate(d.designs)}
    # the annuities (section 7's CRF terms); opex joins them per future in add_year (section 13.1
    # lets a scenario change opex)
    m.annuity = {h: d.crf_h[hi[h]] * d.capex_usd[hi[h]] / sc.money for h in m.H}
    m.fabric_annuity = pyo.Expression(expr=sum(crf_d[n] * des[n].capex_usd * sc.ports / sc.money * m.E[n] for n in m.D))


def add_slice_expressions(b, m, d: Data, j: int) -> None:
    """One slice's aggregates (section 12.2), internal units: busy rack-equivalents B_hs, IT power
    p_h (beta_h n_h + (1 - beta_h) B_hs), heat by loop, facility power F_s, tokens, revenue at
    this slice's prices (per year, as if the whole year were this slice), tier power."""
    hi = {h: i for i, h in enumerate(d.hardware)}
    ti = {t: k for k, t in enumerate(d.tiers)}
    mw = _mw(d)
    rev = d.scale.tokens * SECONDS_PER_YEAR / 1e6 / d.scale.money  # internal money/yr per (USD per Mtok) x internal token
    value = d.value()[:, j]
    beta = {h: float(d.beta[hi[h]]) for h in d.hardware}

    def drawn(h):
        """MW drawn by hardware h's racks in this slice (v1's p_h n_h when beta_h = 1)."""
        if beta[h] >= 1.0:
            return mw[h] * m.racks[h]
        return mw[h] * beta[h] * m.racks[h] + mw[h] * (1.0 - beta[h]) * b.busy[h]

    b.q = pyo.Expression(m.T, rule=lambda b, t: b.qa[t] + b.qd[t])
    b.busy = pyo.Expression(m.H, rule=lambda b, h: sum(b.x[c] for c in m.cells_by_hardware[h]))
    b.drawn = pyo.Expression(m.H, rule=lambda b, h: drawn(h))
    b.it_mw = pyo.Expression(expr=sum(b.drawn[h] for h in m.H))
    b.heat_liq = pyo.Expression(expr=sum(d.liquid_frac[hi[h]] * b.drawn[h] for h in m.H) + m.net_liq_mw)
    b.heat_air = pyo.Expression(expr=sum((1 - d.liquid_frac[hi[h]]) * b.drawn[h] for h in m.H) + m.net_air_mw)
    # F_s = (1 + delta)(IT + NET) + phi_liq L_liq + phi_air L_air, gathered per hardware so that
    # each rack's draw (and its allocation, with idle power) is walked once, not once per term:
    # Pyomo re-reads a named expression wherever it appears, and F_s is in every cost
    loss, phi_l, phi_a = 1.0 + float(d.loss), float(d.phi_liq[j]), float(d.phi_air[j])
    b.facility_mw = pyo.Expression(
        expr=sum((loss + phi_l * float(d.liquid_frac[hi[h]]) + phi_a * (1.0 - float(d.liquid_frac[hi[h]]))) * b.drawn[h] for h in m.H)
        + loss * m.net_mw + phi_l * m.net_liq_mw + phi_a * m.net_air_mw
    )
    b.tokens = pyo.Expression(expr=sum(b.q[t] for t in m.T))
    b.revenue = pyo.Expression(expr=sum(float(value[ti[t]]) * rev * b.q[t] for t in m.T))
    # power of allocated rack-equivalents, per tier (section 6.14)
    b.tier_mw = pyo.Expression(m.T, rule=lambda b, t: sum(mw[c[0]] * b.x[c] for c in m.cells_by_tier[t]))


def add_year(g, m, d: Data) -> None:
    """The year's totals of section 12.3 in internal units on ``g`` (the model, or a scenario's
    block), each slice weighted by H_s / 8,760: REV, TOK (mean output tokens/s), F (mean MW),
    ENERGY = sum_s e_s H_s F_s, COST = capacity cost (annuities and opex) + ENERGY, and q_t (the
    mean rate of each tier). One slice of 8,760 h weighs exactly 1."""
    w = [float(x) for x in d.weights]
    blocks = [g.slice[s] for s in d.slices]
    money = d.scale.money
    hi = {h: i for i, h in enumerate(d.hardware)}

    def mean(part):
        return sum(w[j] * part(b) if w[j] != 1.0 else part(b) for j, b in enumerate(blocks))

    g.revenue = pyo.Expression(expr=mean(lambda b: b.revenue))
    g.tokens = pyo.Expression(expr=mean(lambda b: b.tokens))
    g.facility_mw = pyo.Expression(expr=mean(lambda b: b.facility_mw))
    g.q = pyo.Expression(m.T, rule=lambda g, t: mean(lambda b: b.q[t]))
    g.energy = pyo.Expression(
        expr=sum(float(d.elec_usd_mwh[j]) * float(d.hours[j]) / money * b.facility_mw for j, b in enumerate(blocks))
    )
    g.capacity_cost = pyo.Expression(
        expr=sum(float(m.annuity[h]) * (m.racks[h] - float(d.installed[hi[h]])) + float(d.opex_usd[hi[h]]) / money * m.racks[h]
                 for h in m.H)
        + m.fabric_annuity
    )
    g.cost = pyo.Expression(expr=g.capacity_cost + g.energy)


# --------------------------------------------------------------------------- constraint families


def add_supply(m, d: Data) -> None:
    """6.1 Supply: N0_h <= n_h (``installed``) and n_h <= Nmax_h (``supply_cap``, where given)."""
    hi = {h: i for i, h in enumerate(d.hardware)}
    m.installed = pyo.Constraint(
        m.H, rule=lambda m, h: m.racks[h] >= d.installed[hi[h]] if d.installed[hi[h]] > 0 else pyo.Constraint.Skip
    )
    m.supply_cap = pyo.Constraint(
        m.H, rule=lambda m, h: m.racks[h] <= d.max_racks[hi[h]] if math.isfinite(d.max_racks[hi[h]]) else pyo.Constraint.Skip
    )


def add_lots(m, d: Data, tight: bool = True) -> None:
    """Section 14, purchase lots: n_h - N0_h = L_h l_h with l_h integer >= 0 (``lots[h]``, only
    where L_h > 1; a lot may span halls). With a horizon the fleet buys lots instead
    (``horizon.add_lots``) and the periods' data carry L_h = 1."""
    hi = {h: i for i, h in enumerate(d.hardware)}
    lotted = [h for h in d.hardware if len(d.lot) and d.lot[hi[h]] > 1]
    if not lotted:
        return
    bound = d.rack_bound()
    m.LOT = pyo.Set(initialize=lotted, ordered=True)

    def lots_bounds(m, h):
        i = hi[h]
        room = bound[i] - d.installed[i]
        return (0, max(math.floor(room / d.lot[i]), 0) if tight and math.isfinite(room) else None)

    m.l = pyo.Var(m.LOT, within=pyo.NonNegativeIntegers, bounds=lots_bounds)
    m.lots = pyo.Constraint(m.LOT, rule=lambda m, h: m.racks[h] - d.installed[hi[h]] == d.lot[hi[h]] * m.l[h])


def add_replica_fit(m, d: Data) -> None:
    """6.2 Replicas fit in racks: sum_mu m_hmu * k_hmu <= n_h."""
    hi = {h: i for i, h in enumerate(d.hardware)}
    ui = {u: j for j, u in enumerate(d.models)}

    def rule(m, h):
        terms = [d.replica_racks[hi[h], ui[u]] * m.k[h, u] for u in m.models_by_hardware[h]]
        return sum(terms) <= m.racks[h] if terms else pyo.Constraint.Skip

    m.replica_fit = pyo.Constraint(m.H, rule=rule)


def add_replica_allocation(b, m, d: Data) -> None:
    """6.3, in every slice: sum_{t: mu(w(t)) = mu} sum_r x_htrs <= a_h * m_hmu * k_hmu."""
    hi = {h: i for i, h in enumerate(d.hardware)}
    ui = {u: j for j, u in enumerate(d.models)}

    def rule(b, h, u):
        i = hi[h]
        lhs = [b.x[c] for c in m.cells_by_host[(h, u)]]
        if not lhs:
            return pyo.Constraint.Skip
        return sum(lhs) <= d.availability[i] * d.replica_racks[i, ui[u]] * m.k[h, u]

    b.replica_allocation = pyo.Constraint(m.HU, rule=rule)


def add_output(b, m, d: Data) -> None:
    """6.4-6.6 Output from allocated rack-equivalents, in every slice (internal token units).

    qa_ts <= sum_h A_ht x_ht,agg,s;  qd_ts <= sum_h Dc_ht x_ht,dec,s;
    rho_w(t) (1 - chi_w(t)) qd_ts <= sum_h P_hw(t) x_ht,pre,s (cached input needs no prefill).
    """
    hi = {h: i for i, h in enumerate(d.hardware)}
    ti = {t: k for k, t in enumerate(d.tiers)}
    A = (d.A / d.scale.tokens).tolist()  # Python floats (see _mw)
    Dc = (d.Dc / d.scale.tokens).tolist()
    Pt = (d.coefficient("prefill") / d.scale.tokens).tolist()

    def supply(t, role, coef):
        return sum(coef[hi[c[0]]][ti[t]] * b.x[c] for c in m.cells_by_tier[t] if c[2] == role)

    b.aggregated_output = pyo.Constraint(m.T, rule=lambda b, t: b.qa[t] <= supply(t, "aggregated", A))
    b.decode_output = pyo.Constraint(m.T, rule=lambda b, t: b.qd[t] <= supply(t, "decode", Dc))

    def prefill(b, t):
        w = d.tier_workload[ti[t]]
        rho = d.rho[w] * (1.0 - d.chi[w]) if d.chi[w] > 0 else d.rho[w]
        if rho == 0:
            return pyo.Constraint.Skip  # nothing to prefill
        return rho * b.qd[t] <= supply(t, "prefill", Pt)

    b.prefill_supply = pyo.Constraint(m.T, rule=prefill)


# A limit below this share of what one unit of its usage's largest term moves cannot be told from
# zero by HiGHS (absolute tolerances; divided by such a limit a row's coefficients pass 1e9)
TINY_LIMIT = 1e-9


def limit(m, family: str, index, usage, bound: float, unit: float, sense: str, largest: float = 1.0):
    """The limit row ``usage <= bound`` (or ``>=``), both in internal units, divided by the bound
    when it is not 0: ``usage / bound <= 1``. ``unit`` is the user units of one internal unit of
    the bound; the row's own unit (``unit * bound``) is kept in ``m.row_unit``.

    ``largest`` is the largest coefficient the usage can carry (internal units: 1 for a tier's
    tokens, one rack's MW for power). A positive limit below ``TINY_LIMIT`` of it is moved to what
    the solver can hold, on the safe side: a cap to 0, a floor up to ``TINY_LIMIT * largest``; the
    plan then keeps the limit as written too. Each move is listed in the root model's
    ``adjusted_limits`` as (name, family, written, held) in user units, for the solution's warnings."""
    if 0 < bound < TINY_LIMIT * largest:
        held = 0.0 if sense == "<=" else TINY_LIMIT * largest
        root = m.model()
        if not hasattr(root, "adjusted_limits"):
            root.adjusted_limits = []
        parts = [] if index is None else [index]
        blk = m
        if getattr(m, "slice_name", None) is not None:  # a slice's block: named as results.label names it
            parts += [m.slice_name] if m.sliced else []
            blk = m.parent_block()
        prefix = "" if blk.parent_block() is None else f"{blk.name}."
        name = f"{prefix}{family}[{','.join(map(str, parts))}]" if parts else f"{prefix}{family}"
        root.adjusted_limits.append((name, family, bound * unit, held * unit))
        bound = held
    if bound != 0 and math.isfinite(bound):
        m.row_unit[(family, index)] = unit * abs(bound)
        usage, bound = usage * (1.0 / abs(bound)), math.copysign(1.0, bound)
    return usage <= bound if sense == "<=" else usage >= bound


def add_demand(b, m, d: Data, j: int) -> None:
    """6.7 Demand in slice j: qmin_ts <= q_ts (``demand_floor``, where > 0) and q_ts <= qmax_ts
    (``demand_cap``), each divided by its limit (tokens/s). Shiftable tiers are bounded on the
    year's mean instead (``add_shiftable_demand``)."""
    ti = {t: k for k, t in enumerate(d.tiers)}
    tok = d.scale.tokens

    def floor(b, t):
        k = ti[t]
        if d.shiftable[k] or d.qmin[k, j] <= 0:
            return pyo.Constraint.Skip
        return limit(b, "demand_floor", t, b.q[t], d.qmin[k, j] / tok, tok, ">=")

    def cap(b, t):
        k = ti[t]
        if d.shiftable[k] or not math.isfinite(d.qmax[k, j]):
            return pyo.Constraint.Skip
        return limit(b, "demand_cap", t, b.q[t], d.qmax[k, j] / tok, tok, "<=")

    b.demand_floor = pyo.Constraint(m.T, rule=floor)
    b.demand_cap = pyo.Constraint(m.T, rule=cap)


def add_shiftable_demand(g, m, d: Data) -> None:
    """6.7 for a shiftable tier (section 12.2): qmin_t <= sum_s H_s q_ts / 8,760 <= qmax_t, on the
    capacity block (``demand_floor[t]``, ``demand_cap[t]``: the year's, with no slice)."""
    if not d.shiftable.any():
        return
    ti = {t: k for k, t in enumerate(d.tiers)}
    tok = d.scale.tokens

    def floor(g, t):
        k = ti[t]
        if not d.shiftable[k] or d.qmin[k, 0] <= 0:
            return pyo.Constraint.Skip
        return limit(g, "demand_floor", t, g.q[t], d.qmin[k, 0] / tok, tok, ">=")

    def cap(g, t):
        k = ti[t]
        if not d.shiftable[k] or not math.isfinite(d.qmax[k, 0]):
            return pyo.Constraint.Skip
        return limit(g, "demand_cap", t, g.q[t], d.qmax[k, 0] / tok, tok, "<=")

    g.demand_floor = pyo.Constraint(m.T, rule=floor)
    g.demand_cap = pyo.Constraint(m.T, rule=cap)


def add_cooling(b, d: Data, j: int) -> None:
    """6.8 Heat in slice j: L_liq,s <= C_liq,s and L_air,s <= C_air,s (MW of heat, racks and fabric)."""
    rack = float(d.rack_kw.max(initial=0.0)) / 1000.0  # MW of heat one rack makes
    b.liquid_cooling = pyo.Constraint(expr=limit(b, "liquid_cooling", None, b.heat_liq, float(d.cool_liq_mw[j]), 1.0, "<=", rack))
    b.air_cooling = pyo.Constraint(expr=limit(b, "air_cooling", None, b.heat_air, float(d.cool_air_mw[j]), 1.0, "<=", rack))


def add_power(b, d: Data, j: int) -> None:
    """6.9 Facility power in slice j: F_s = (1+delta)(IT_s + NET) + phi_liq,s L_liq,s + phi_air,s L_air,s <= G_s (MW)."""
    rack = float(d.rack_kw.max(initial=0.0)) / 1000.0  # MW one rack draws
    b.facility_power = pyo.Constraint(expr=limit(b, "facility_power", None, b.facility_mw, float(d.grid_mw[j]), 1.0, "<=", rack))


def add_halls(m, d: Data) -> None:
    """6.10 Halls: sum_h n_hz <= S_z."""
    zi = {z: j for j, z in enumerate(d.halls)}
    m.hall_slots = pyo.Constraint(m.Z, rule=lambda m, z: sum(m.n[h, z] for h in m.H) <= d.slots[zi[z]])


def add_fabric(m, d: Data, tight: bool = True) -> None:
    """6.11 Fabric: sum_d E_d = sum_h pi_h n_h;  E_d <= M_d y_d;  sum_d y_d <= 1.

    With ``tight``, M_d is cut to the most ports the site could ever need (an equivalent,
    tighter big-M).
    """
    if not d.has_network:
        return
    hi = {h: i for i, h in enumerate(d.hardware)}
    unit = d.scale.ports
    most = float(d.ports @ d.rack_bound()) / unit if tight else float("inf")
    reach = {x.name: min(x.reach_ports / unit, most) for x in d.designs}
    m.fabric_ports = pyo.Constraint(expr=sum(m.E[n] for n in m.D) == sum(d.ports[hi[h]] / unit * m.racks[h] for h in m.H))
    m.fabric_reach = pyo.Constraint(m.D, rule=lambda m, n: m.E[n] <= reach[n] * m.y[n])
    m.fabric_choice = pyo.Constraint(expr=sum(m.y[n] for n in m.D) <= 1)


def add_kv_transfer(b, m, d: Data) -> None:
    """6.12 KV transfer over the fabric in every slice (Tb/s internally); every input token's KV
    cache, cached or not, reaches the decode racks:

    sum_t 8 kappa rho qd_ts <= u * sum_h pi_h g_h n_h.
    """
    if not d.has_network:
        return
    hi = {h: i for i, h in enumerate(d.hardware)}
    ti = {t: k for k, t in enumerate(d.tiers)}
    bits = {}  # Tb/s per internal token unit of disaggregated output
    for t in d.tiers:
        w = d.tier_workload[ti[t]]
        bits[t] = 8.0 * d.kv_bytes[d.workload_model[w]] * d.rho[w] * d.scale.tokens / 1e12
    if not any(v > 0 for v in bits.values()):
        return
    b.kv_transfer = pyo.Constraint(
        expr=sum(bits[t] * b.qd[t] for t in m.T)
        <= d.kv_util * sum(d.ports[hi[h]] * d.port_gbps[hi[h]] / 1000.0 * m.racks[h] for h in m.H)
    )


def add_budget(m, d: Data) -> None:
    """6.13 CAPEX = sum_h c_h (n_h - N0_h) + sum_d k_d E_d <= B (divided by B)."""
    if d.budget_usd is None:
        return
    money = d.scale.money
    rack = float(d.capex_usd.max(initial=0.0)) / money  # one rack's capex
    m.capex_budget = pyo.Constraint(expr=limit(m, "capex_budget", None, m.capex, d.budget_usd / money, money, "<=", rack))


def add_kind_power_share(m, d: Data) -> None:
    """6.14 kind_power_share[k, min|max]: sum_{h of k} p_h n_h >=/<= share * sum_h p_h n_h
    (nameplate power, once: a limit on the racks themselves)."""
    if not d.kind_share:
        return
    hi = {h: i for i, h in enumerate(d.hardware)}
    idx = [(k, b) for k in d.kind_share for b in ("min", "max")]

    def kind_rule(m, k, b):
        lo, hi_ = d.kind_share[k]
        share = lo if b == "min" else hi_
        if (b == "min" and share <= 0) or (b == "max" and share >= 1):
            return pyo.Constraint.Skip
        part = sum(d.rack_kw[hi[h]] / 1000.0 * m.racks[h] for h in m.H if d.kinds[hi[h]] == k)
        if isinstance(part, int):  # no hardware of this kind: its share is 0
            part = 0.0 * m.racks[d.hardware[0]]
        body = part - share * m.it_mw
        return body >= 0 if b == "min" else body <= 0

    m.kind_power_share = pyo.Constraint(pyo.Set(initialize=idx, dimen=2, ordered=True), rule=kind_rule)


def add_tier_power_share(b, m, d: Data) -> None:
    """6.14 tier_power_share[t, min|max], in every slice on that slice's allocation:
    sum_{h,r} p_h x_htrs >=/<= share * sum_{h,t',r} p_h x_ht'rs."""
    if not d.tier_share or len(m.X) == 0:
        return
    idx = [(t, s) for t in d.tier_share for s in ("min", "max")]
    total = sum(b.tier_mw[t] for t in m.T)

    def tier_rule(b, t, side):
        lo, hi_ = d.tier_share[t]
        share = lo if side == "min" else hi_
        if (side == "min" and share <= 0) or (side == "max" and share >= 1):
            return pyo.Constraint.Skip
        body = b.tier_mw[t] - share * total
        return body >= 0 if side == "min" else body <= 0

    b.tier_power_share = pyo.Constraint(pyo.Set(initialize=idx, dimen=2, ordered=True), rule=tier_rule)


def add_side_constraints(m, d: Data) -> None:
    """6.14 Side constraints on the year's totals (section 12.2).

    min_revenue: REV >= value.  min_tokens_per_joule: TOK - eps * 1e6 * F >= 0 (mean F).
    """
    if d.min_revenue is not None:
        money = d.scale.money
        rate = float(d.value().max(initial=0.0)) * d.scale.tokens * SECONDS_PER_YEAR / 1e6 / money  # per internal token/s
        m.min_revenue = pyo.Constraint(expr=limit(m, "min_revenue", None, m.revenue, d.min_revenue / money, money, ">=", rate or 1.0))
    if d.min_tpj is not None:
        # tokens/J = (internal tokens * Scale.tokens) / (MW * 1e6); divided by the tokens one MW must
        # make, the row reads TOK / per_mw - F >= 0 in MW (its unit: tokens/s per MW, eps * 1e6)
        per_mw = d.min_tpj * 1e6 / d.scale.tokens
        if per_mw > 0:
            m.row_unit[("min_tokens_per_joule", None)] = d.min_tpj * 1e6
            m.min_tokens_per_joule = pyo.Constraint(expr=m.tokens * (1.0 / per_mw) - m.facility_mw >= 0)
        else:
            m.min_tokens_per_joule = pyo.Constraint(expr=m.tokens >= 0)


# --------------------------------------------------------------------------- objectives

SENSE = {"revenue": "max", "profit": "max", "tokens": "max", "tokens_per_watt": "max", "min_cost": "min"}


def objective_expr(m, name: str, lam: float = 0.0):
    """The linear objective of section 7 in internal units; tokens_per_watt is the Dinkelbach form.
    On a model with ``risk`` (``add_risk``, section 13.2): (1 - w) E[Z] + w CVaR_alpha(Z)."""
    risk = getattr(m, "risk", None)
    if risk is not None and name != "tokens_per_watt":
        _, _, weight = risk
        return (1.0 - weight) * objective_expr_plain(m, name) + weight * cvar_expr(m)
    return objective_expr_plain(m, name, lam)


def objective_expr_plain(m, name: str, lam: float = 0.0):
    """Section 7's objective (its expectation on a stochastic model), without risk."""
    if name == "revenue":
        return m.revenue
    if name == "profit":
        return m.revenue - m.cost
    if name == "tokens":
        return m.tokens
    if name == "tokens_per_watt":
        return m.tokens - lam * m.facility_mw
    if name == "min_cost":
        return m.cost
    raise ValueError(f"unknown objective {name!r}")


def set_objective(m, expr, sense: str) -> None:
    """Replace the model's single objective, divided by its :func:`coefficient_scale`.

    HiGHS's optimality tolerances and absolute MIP gap are absolute: an objective whose
    coefficients are all 1e-9 (prices in USD per token) would look flat to it, and one at 1e9
    would never close its absolute gap. ``m.obj_scale`` is the factor back to the expression's
    units (the solver adapter applies it to the objective, bound and duals it reports)."""
    if hasattr(m, "obj"):
        m.del_component(m.obj)
    scale = coefficient_scale(expr)
    m.obj_scale = scale
    m.obj = pyo.Objective(expr=expr * (1.0 / scale) if scale != 1.0 else expr, sense=pyo.maximize if sense == "max" else pyo.minimize)


def coefficient_scale(expr) -> float:
    """The power of ten nearest the geometric mean of a linear expression's smallest and largest
    nonzero |coefficient| (1 if it has none). Dividing by it centres the coefficients on 1, so
    that neither end leaves HiGHS's range: dividing by the largest instead would push the
    smallest below its 1e-7 optimality tolerance (seen: highspy 1.13 then proved a roadmap plan
    2e-5 short of the optimum), and below 1e-9 a row drops it."""
    if isinstance(expr, (int, float)):
        return 1.0
    repn = generate_standard_repn(expr, compute_values=True, quadratic=False)
    return centre([float(c) for c in repn.linear_coefs])
