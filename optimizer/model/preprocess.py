"""Instance -> plain numpy data, and the instance's own internal units (MODEL.md section 4).

Internal units keep every coefficient and right-hand side well inside HiGHS's tolerances
(absolute: 1e-7 for feasibility, coefficients at or below 1e-9 dropped). Fixed units cannot do
that for every instance: a 1 GW site sells 1e9 tokens/s, a small one 0.1 (a published example
in requests/s). So the units are chosen from the instance's own magnitudes (:func:`choose_scale`),
each a power of ten, and the limit rows whose right-hand side is a user figure are normalised
by it in ``model.py`` (so their tolerance is relative to the limit):

=========  ==================  ===============================================================
quantity   user unit           internal unit (:class:`Scale`)
=========  ==================  ===============================================================
power      kW/rack, MW         MW; the power and cooling rows divided by their limit
tokens     tokens/s            ``Scale.tokens`` tokens/s: the geometric mean of the smallest and
                               largest per-rack throughput; demand rows divided by their limit
money      USD, USD/yr         ``Scale.money`` USD: the geometric mean of the smallest and largest
                               per-rack-year figure (capital, opex, energy, revenue); budget and
                               revenue rows divided by their limit; every objective divided by
                               the power of ten its coefficients centre on (``model.set_objective``)
ports      ports               ``Scale.ports`` ports: the largest ports per rack
bandwidth  Gb/s                Tb/s
=========  ==================  ===============================================================

Scaling every rate and price of an instance by one factor scales these units by the same
factor, so the model HiGHS sees is the same and so is the plan. Results are unscaled at the
boundary (``results.py``) with the instance's :class:`Scale`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .schema import IMPLICIT_SLICE, Instance, by_slice_of

SECONDS_PER_YEAR = 31_536_000.0
HOURS_PER_YEAR = 8_760.0
ROLES = ("aggregated", "prefill", "decode")


def crf(rate: float, life: float) -> float:
    """Capital recovery factor: r / (1 - (1+r)^-l), and 1/l when r = 0."""
    if rate == 0:
        return 1.0 / life
    # 1 - (1+r)^-l, exact for tiny r too (where the plain form divides by zero)
    denominator = -math.expm1(-life * math.log1p(rate))
    return rate / denominator if denominator > 0 else 1.0 / life


def throughput_at(curve: list[tuple[float, float]], interactivity: float) -> float:
    """Throughput of a curve at an interactivity floor (MODEL.md section 4).

    Linear interpolation; below the first point: the first point's throughput; above the
    last point: 0 (the hardware cannot serve that tier); an empty curve: 0.
    """
    if not curve:
        return 0.0
    xs = np.array([p[0] for p in curve], dtype=float)
    ys = np.array([p[1] for p in curve], dtype=float)
    return float(np.interp(interactivity, xs, ys, left=ys[0], right=0.0))


@dataclass(frozen=True)
class Scale:
    """An instance's internal units (each a power of ten), chosen by :func:`choose_scale`."""

    tokens: float = 1.0  # tokens/s per internal token unit
    money: float = 1.0  # USD per internal money unit
    ports: float = 1.0  # ports per internal port unit

    def factor(self, kind: str | float) -> float:
        """User units per internal unit of a quantity: 'tokens', 'money', 'ports' or a number."""
        return float(kind) if not isinstance(kind, str) else getattr(self, kind)


def _decade(x: float) -> float:
    """The power of ten nearest to x (in log scale)."""
    return 10.0 ** round(math.log10(x))


NEGLIGIBLE = 1e-12  # a value below this share of the largest cannot move a sum of them (float64: 2.2e-16)


def centre(values, default: float | None = 1.0) -> float | None:
    """The power of ten nearest the geometric mean of the smallest and largest nonzero finite
    |value| (``default`` if there is none): the unit that centres ``values`` on 1. The internal
    units below are chosen so, and so is every objective (``model.coefficient_scale``).

    Values below NEGLIGIBLE of the largest are left out: an electricity price of 1e-30 USD/MWh
    beside 1e9 USD/yr of revenue would otherwise pull the unit to 1e-9 USD and every revenue
    coefficient to 1e18, far outside what HiGHS can hold."""
    v = np.abs(np.ravel(np.asarray(values, dtype=float)))
    v = v[(v > 0) & np.isfinite(v)]
    if not len(v):
        return default
    v = v[v >= NEGLIGIBLE * v.max()]
    return 10.0 ** round(0.5 * (math.log10(float(v.min())) + math.log10(float(v.max()))))


def choose_scale(ds: list["Data"]) -> Scale:
    """Internal units from the magnitudes of one instance (all its periods: one scale for all)."""
    rates, money, ports = [], [], [1.0]
    for d in ds:
        rates += [d.A.ravel(), d.Dc.ravel(), d.P.ravel()]
        best = np.maximum(d.A.max(axis=1, initial=0.0), d.Dc.max(axis=1, initial=0.0))  # [h] output of one rack
        mw = d.rack_kw / 1000.0
        money += [d.crf_h * d.capex_usd, d.opex_usd, float(d.elec_usd_mwh.max(initial=0.0)) * HOURS_PER_YEAR * mw,
                  best * float(d.value().max(initial=0.0)) * SECONDS_PER_YEAR / 1e6]
        ports += list(d.ports)
    tokens = centre(np.concatenate(rates), None) or centre(np.concatenate([np.r_[d.qmin.ravel(), d.qmax.ravel()] for d in ds]))
    return Scale(tokens=tokens, money=centre(np.concatenate(money)), ports=_decade(max(ports)))


@dataclass
class Design:
    """One fabric design d = (option o, switch tiers L), per endpoint port."""

    name: str
    option: str
    technology: str
    tiers: int
    power_w: float  # w_d, W per endpoint port
    capex_usd: float  # k_d, USD per endpoint port
    reach_ports: float  # M_d, endpoint ports
    liquid_fraction: float
    lifetime_years: float


@dataclass
class Data:
    """Everything the model needs, as arrays indexed by position in the name lists."""

    name: str
    objective: str
    hardware: list[str]
    kinds: list[str]
    halls: list[str]
    models: list[str]
    workloads: list[str]
    tiers: list[str]
    # hardware, user units
    rack_kw: np.ndarray
    liquid_frac: np.ndarray
    capex_usd: np.ndarray
    opex_usd: np.ndarray
    lifetime: np.ndarray
    availability: np.ndarray
    installed: np.ndarray
    max_racks: np.ndarray  # inf where uncapped
    ports: np.ndarray
    port_gbps: np.ndarray
    crf_h: np.ndarray
    allowed: np.ndarray  # [h, z] bool: h may stand in z
    hosts: np.ndarray  # [h, mu] bool: h has a performance entry for a workload of mu
    replica_racks: np.ndarray  # [h, mu] m_h_mu
    # halls
    slots: np.ndarray
    hall_kw: np.ndarray
    hall_liquid: np.ndarray
    # models and workloads
    kv_bytes: np.ndarray
    workload_model: np.ndarray  # [w] -> mu index
    rho: np.ndarray
    # tiers; [t, s]: by slice of the year (section 12; one column without slices)
    tier_workload: np.ndarray  # [t] -> w index
    interactivity: np.ndarray
    price: np.ndarray  # [t, s] USD per M output tokens
    qmin: np.ndarray  # [t, s] tokens/s (a shiftable tier: the year's mean, the same in every column)
    qmax: np.ndarray  # [t, s] tokens/s, inf where uncapped
    # throughput coefficients, tokens/s per rack (user units)
    A: np.ndarray  # [h, t] aggregated output
    Dc: np.ndarray  # [h, t] decode output
    P: np.ndarray  # [h, w] prefill input
    # facility; [s]: by slice of the year
    grid_mw: np.ndarray
    loss: float
    cool_liq_mw: np.ndarray
    cool_air_mw: np.ndarray
    phi_liq: np.ndarray
    phi_air: np.ndarray
    elec_usd_mwh: np.ndarray
    rate: float
    budget_usd: float | None
    # section 12: slices of the year, input prices, cached input, idle power
    slices: list[str]  # slice names ([IMPLICIT_SLICE] without `slices`)
    hours: np.ndarray  # [s] hours per year
    sliced: bool  # the instance has `slices` (constraint names then carry the slice)
    in_price: np.ndarray  # [t, s] USD per M input tokens not served from the prefix cache
    cached_price: np.ndarray  # [t, s] USD per M input tokens served from the prefix cache
    shiftable: np.ndarray  # [t] bool: floor and cap bound the year's mean rate
    chi: np.ndarray  # [w] share of input tokens served from the prefix cache
    beta: np.ndarray  # [h] idle power as a share of rack power
    lot: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [h] racks per purchase lot (section 14; 1: single racks)
    # network
    designs: list[Design] = field(default_factory=list)
    has_network: bool = False
    kv_util: float = 0.0
    crf_d: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # side constraints
    min_revenue: float | None = None
    min_tpj: float | None = None
    kind_share: dict[str, tuple[float, float]] = field(default_factory=dict)
    tier_share: dict[str, tuple[float, float]] = field(default_factory=dict)
    scale: Scale = field(default_factory=Scale)  # internal units (choose_scale)

    def coefficient(self, role: str) -> np.ndarray:
        """[h, t] tokens/s per rack-equivalent of role r (prefill: input tokens of the tier's workload)."""
        if role == "aggregated":
            return self.A
        if role == "decode":
            return self.Dc
        return self.P[:, self.tier_workload]

    def value(self) -> np.ndarray:
        """[t, s] USD per million output tokens earned, input included (section 12.3):
        v + rho_w ((1 - chi_w) v_in + chi_w v_cached)."""
        w = self.tier_workload
        rho, chi = self.rho[w][:, None], self.chi[w][:, None]
        return self.price + rho * ((1.0 - chi) * self.in_price + chi * self.cached_price)

    @property
    def weights(self) -> np.ndarray:
        """[s] each slice's share of the year, H_s / 8,760 (exactly 1.0 for one slice of 8,760 h)."""
        return self.hours / HOURS_PER_YEAR

    def rack_bound(self) -> np.ndarray:
        """An upper bound on racks of each hardware: its cap and the slots of halls it may use."""
        slots = (self.allowed * self.slots[None, :]).sum(axis=1).astype(float)
        return np.minimum(slots, self.max_racks)


def fabric_designs(inst: Instance) -> list[Design]:
    """Enumerate (option, L) for L = 1..max_tiers with per-endpoint-port power, capex and reach."""
    net = inst.network
    if net is None:
        return []
    out = []
    for o in net.options:
        R = float(o.switch_radix)
        for L in range(1, net.max_tiers + 1):
            hops = 2 * L - 1
            reach = R if L == 1 else 2.0 * (R / 2.0) ** L
            out.append(
                Design(
                    name=f"{o.name}:{L}",
                    option=o.name,
                    technology=o.technology.value,
                    tiers=L,
                    power_w=o.endpoint_optics_w + hops * (o.switch_power_w / R + o.switch_port_optics_w),
                    capex_usd=o.endpoint_optics_usd + hops * (o.switch_capex_usd / R + o.switch_port_optics_usd),
                    reach_ports=reach,
                    liquid_fraction=o.liquid_cooled_fraction,
                    lifetime_years=o.lifetime_years,
                )
            )
    return out


def preprocess(inst: Instance) -> Data:
    """Turn a validated instance into :class:`Data`, with internal units chosen from it (a
    multi-year instance then sets one scale for all its periods: ``horizon.preprocess_horizon``)."""
    H, Z = inst.hardware, inst.facility.halls
    U, W, T = inst.models, inst.workloads, inst.tiers
    mu_idx = {m.name: i for i, m in enumerate(U)}
    w_idx = {w.name: i for i, w in enumerate(W)}
    fac = inst.facility
    rate = fac.discount_rate

    nh, nz, nu, nw, nt = len(H), len(Z), len(U), len(W), len(T)
    allowed = np.zeros((nh, nz), dtype=bool)
    hosts = np.zeros((nh, nu), dtype=bool)
    mrep = np.ones((nh, nu))
    A = np.zeros((nh, nt))
    Dc = np.zeros((nh, nt))
    P = np.zeros((nh, nw))
    workload_model = np.array([mu_idx[w.model] for w in W], dtype=int)
    tier_workload = np.array([w_idx[t.workload] for t in T], dtype=int)
    for i, h in enumerate(H):
        for j, z in enumerate(Z):
            allowed[i, j] = h.rack_power_kw <= z.max_rack_kw and (h.liquid_cooled_fraction == 0 or z.liquid_cooling)
        for mname, racks in h.racks_per_replica.items():
            mrep[i, mu_idx[mname]] = racks
        gain = h.performance_multiplier  # section 11.1: scales every throughput (default 1)
        for wname, perf in h.performance.items():
            w = w_idx[wname]
            hosts[i, workload_model[w]] = True
            P[i, w] = gain * perf.prefill_tokens_per_s
        for k, t in enumerate(T):
            perf = h.performance.get(t.workload)
            if perf is None:
                continue
            A[i, k] = gain * throughput_at(perf.aggregated, t.min_interactivity)
            Dc[i, k] = gain * throughput_at(perf.decode, t.min_interactivity)

    designs = fabric_designs(inst)
    c = inst.constraints
    slices = [sl.name for sl in inst.slices] if inst.slices else [IMPLICIT_SLICE]

    def per_slice(value, none=np.nan) -> np.ndarray:
        """[s] of a value whose years are resolved (a scalar, or a map by slice)."""
        got = by_slice_of(inst, value)
        return np.array([none if got[s] is None else float(got[s]) for s in slices], dtype=float)

    def tier_rows(key, none=np.nan) -> np.ndarray:
        return np.array([per_slice(getattr(t, key), none) for t in T], dtype=float).reshape(len(T), len(slices))

    in_price = tier_rows("input_price_usd_per_mtok")
    cached = np.array([per_slice(t.cached_input_price_usd_per_mtok) if t.cached_input_price_usd_per_mtok is not None else in_price[k]
                       for k, t in enumerate(T)], dtype=float).reshape(len(T), len(slices))
    d = Data(
        name=inst.name,
        objective=inst.objective.value,
        hardware=[h.name for h in H],
        kinds=[h.kind.value for h in H],
        halls=[z.name for z in Z],
        models=[m.name for m in U],
        workloads=[w.name for w in W],
        tiers=[t.name for t in T],
        rack_kw=np.array([h.rack_power_kw for h in H]),
        liquid_frac=np.array([h.liquid_cooled_fraction for h in H]),
        capex_usd=np.array([h.capex_usd for h in H]),
        opex_usd=np.array([h.opex_usd_per_year for h in H]),
        lifetime=np.array([h.lifetime_years for h in H]),
        availability=np.array([h.availability for h in H]),
        installed=np.array([h.installed_racks for h in H], dtype=float),
        max_racks=np.array([np.inf if h.max_racks is None else h.max_racks for h in H], dtype=float),
        ports=np.array([h.scale_out_ports for h in H], dtype=float),
        port_gbps=np.array([h.port_gbps for h in H]),
        crf_h=np.array([crf(rate, h.lifetime_years) for h in H]),
        allowed=allowed,
        hosts=hosts,
        replica_racks=mrep,
        slots=np.array([z.rack_slots for z in Z], dtype=float),
        hall_kw=np.array([z.max_rack_kw for z in Z]),
        hall_liquid=np.array([z.liquid_cooling for z in Z]),
        kv_bytes=np.array([m.kv_bytes_per_token for m in U]),
        workload_model=workload_model,
        rho=np.array([w.input_tokens_per_output_token for w in W]),
        tier_workload=tier_workload,
        interactivity=np.array([t.min_interactivity for t in T]),
        price=tier_rows("price_usd_per_mtok"),
        qmin=tier_rows("min_tokens_per_s"),
        qmax=tier_rows("max_tokens_per_s", none=np.inf),
        A=A,
        Dc=Dc,
        P=P,
        grid_mw=per_slice(fac.grid_power_mw),
        loss=fac.distribution_loss_fraction,
        cool_liq_mw=per_slice(fac.liquid_cooling_mw),
        cool_air_mw=per_slice(fac.air_cooling_mw),
        phi_liq=per_slice(fac.liquid_cooling_overhead),
        phi_air=per_slice(fac.air_cooling_overhead),
        elec_usd_mwh=per_slice(fac.electricity_usd_per_mwh),
        rate=rate,
        budget_usd=fac.capex_budget_usd,
        slices=slices,
        hours=np.array([sl.hours for sl in inst.slices], dtype=float) if inst.slices else np.array([HOURS_PER_YEAR]),
        sliced=bool(inst.slices),
        in_price=in_price,
        cached_price=cached,
        shiftable=np.array([t.shiftable for t in T], dtype=bool),
        chi=np.array([w.cached_input_fraction for w in W], dtype=float),
        beta=np.array([h.idle_power_fraction for h in H], dtype=float),
        lot=np.array([h.lot_racks for h in H], dtype=float),
        designs=designs,
        has_network=inst.network is not None,
        kv_util=inst.network.kv_transfer_max_utilization if inst.network else 0.0,
        crf_d=np.array([crf(rate, d.lifetime_years) for d in designs]),
        min_revenue=c.min_revenue_usd_per_year,
        min_tpj=c.min_tokens_per_joule,
        kind_share={k.value: (s.min, s.max) for k, s in c.kind_power_share.items()},
        tier_share={t: (s.min, s.max) for t, s in c.tier_power_share.items()},
    )
    d.scale = choose_scale([d])
    return d


def infeasibility_hints(d: Data) -> list[str]:
    """Cheap, certain reasons an instance cannot be feasible, found before any solve."""
    hints = []
    bound = d.rack_bound()
    for i, h in enumerate(d.hardware):
        if d.installed[i] > bound[i]:
            where = "no hall admits it" if not d.allowed[i].any() else f"its halls hold at most {bound[i]:g}"
            hints.append(f"hardware '{h}' has {d.installed[i]:g} installed racks but {where}")
    # an installed rack draws at least its idle power (section 12.2); with beta = 1, all of it
    installed_mw = float((d.rack_kw * d.beta) @ d.installed) / 1000.0
    for j, s in enumerate(d.slices):
        if installed_mw * (1 + d.loss) > d.grid_mw[j]:
            idle = "" if (d.beta >= 1).all() else " idle"
            where = f" in slice {s}" if d.sliced else ""
            hints.append(f"installed racks alone draw {installed_mw * (1 + d.loss):.1f} MW{idle} (with losses) against "
                         f"{d.grid_mw[j]:g} MW of grid power{where}")
            break
    for k, t in enumerate(d.tiers):
        if d.qmin[k].max() <= 0:
            continue
        agg = d.A[:, k].max() > 0
        dis = d.Dc[:, k].max() > 0 and (d.rho[d.tier_workload[k]] == 0 or d.P[:, d.tier_workload[k]].max() > 0)
        if not (agg or dis):
            hints.append(
                f"tier '{t}' demands {d.qmin[k].max():g} tokens/s but no hardware serves it at {d.interactivity[k]:g} tokens/s per user"
            )
    return hints


# Beyond these a figure is more likely a unit slip (watts for kW, tokens/min for tokens/s) than a
# rack: the largest racks announced draw about 600 kW (Kyber, DATA.md) and serve ~1e7 tokens/s.
PLAUSIBLE_RACK_KW = (0.5, 2_000.0)
PLAUSIBLE_TOKENS_PER_RACK = 1e9


def planner_warnings(d: "Data") -> list[str]:
    """What a planner would want to hear before reading the plan: hardware that fits no hall,
    rack figures outside any plausible range, tiers no hardware can serve."""
    out = []
    for i, h in enumerate(d.hardware):
        kw = float(d.rack_kw[i])
        if not d.allowed[i].any():
            largest = float(d.hall_kw.max(initial=0.0))
            why = (f"its rack power {kw:,.6g} kW is above the largest hall limit ({largest:,.6g} kW)" if kw > largest
                   else f"it needs liquid cooling and no hall that can feed {kw:,.6g} kW has a liquid loop")
            out.append(f"hardware '{h}' fits no hall: {why}; it cannot be part of any plan")
        lo, hi = PLAUSIBLE_RACK_KW
        if not lo <= kw <= hi:
            hint = " (watts written as kW?)" if kw > hi else " (MW written as kW?)"
            out.append(f"hardware '{h}': rack power {kw:,.6g} kW is outside the plausible {lo:g}-{hi:,.0f} kW per rack{hint}")
        best = max(float(d.A[i].max(initial=0.0)), float(d.Dc[i].max(initial=0.0)), float(d.P[i].max(initial=0.0)))
        if best > PLAUSIBLE_TOKENS_PER_RACK:
            out.append(f"hardware '{h}': {best:,.6g} tokens/s per rack is above any plausible rack ({PLAUSIBLE_TOKENS_PER_RACK:.0e} tokens/s)")
    for k, t in enumerate(d.tiers):
        w = d.tier_workload[k]
        agg = d.A[:, k].max(initial=0.0) > 0
        dis = d.Dc[:, k].max(initial=0.0) > 0 and (d.rho[w] == 0 or d.P[:, w].max(initial=0.0) > 0)
        if not (agg or dis):
            out.append(f"tier '{t}': no hardware can serve it at {d.interactivity[k]:g} tokens/s per user; it sells nothing")
    return out
