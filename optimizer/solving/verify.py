"""An independent plan verifier: recomputes every constraint of MODEL.md from a reported plan.

Plain Python on purpose: it reads the instance's fields (the validated schema object) and the
solution's JSON, and shares no code with ``preprocess``, ``model``, ``solve`` or ``results``:
its own interpolation, its own fabric formulas, its own money. A defect in those modules shows
up here as a violated constraint or a metric that does not add up.

The solve path runs it on every plan before reporting it (``engine.solve``), and the tests run
it on their own instances. Its tolerances are relative (1e-6 of the larger side), plus an
absolute slack of 1e-6 of the instance's own magnitudes (:func:`magnitudes`: one rack's
largest throughput, one rack's largest yearly money, one rack's power), never fixed amounts,
so that a 0.125 tokens/s demand floor is checked as strictly as a 1e9 one.
"""

from __future__ import annotations


YEAR_S = 31_536_000.0
YEAR_H = 8_760.0


def interp(curve, i):
    """Throughput at interactivity floor i: first point below, 0 above the last, linear between."""
    if not curve:
        return 0.0
    if i <= curve[0][0]:
        return float(curve[0][1])
    for (x0, y0), (x1, y1) in zip(curve, curve[1:]):
        if x0 <= i <= x1:
            return y0 + (y1 - y0) * (i - x0) / (x1 - x0)
    return 0.0


def annuity(r, life):
    return 1.0 / life if r == 0 else r / (1 - (1 + r) ** -life)


class Violation(AssertionError):
    pass


def _values(x):
    """The numbers of a scalar, a map by year or by slice, or a year map of slice maps (None for none)."""
    if isinstance(x, dict):
        return [v for inner in x.values() for v in _values(inner)]
    return [] if x is None else [x]


def magnitudes(inst) -> tuple[float, float, float]:
    """(tokens/s, USD, MW): one rack's largest throughput, largest yearly money figure, and
    largest power in this instance; the verifier's absolute slacks are 1e-6 of these."""
    rates, money, mw = [], [], []
    prices = [p for t in inst.tiers for key in ("price_usd_per_mtok",) for p in _values(getattr(t, key))]
    prices += [p * max(_values(w.input_tokens_per_output_token) + [0.0]) for t in inst.tiers for w in inst.workloads
               if w.name == t.workload for key in ("input_price_usd_per_mtok", "cached_input_price_usd_per_mtok")
               for p in _values(getattr(t, key))]
    for h in inst.hardware:
        mw.append(h.rack_power_kw / 1000)
        money += _values(h.capex_usd) + _values(h.opex_usd_per_year)
        gain = max(_values(h.performance_multiplier) or [1.0])
        for perf in h.performance.values():
            best = max([y for _, y in perf.aggregated] + [y for _, y in perf.decode] + [0.0])
            rates += [gain * best, gain * perf.prefill_tokens_per_s]
            money += [gain * best * p * YEAR_S / 1e6 for p in prices]
    rates += [v for t in inst.tiers for v in _values(t.min_tokens_per_s) + _values(t.max_tokens_per_s)]
    money += _values(inst.facility.capex_budget_usd) + _values(inst.constraints.min_revenue_usd_per_year)

    def top(xs):
        xs = [abs(x) for x in xs if x]
        return max(xs) if xs else 1.0

    return top(rates), top(money), top(mw)


class Checker:
    def __init__(self, rel=1e-6, inst=None):
        self.rel = rel
        self.failures: list[str] = []
        self.where = ""  # e.g. "2027: " while checking a period
        tok, usd, mw = magnitudes(inst) if inst is not None else (1e6, 1e6, 1.0)
        self.tok, self.usd, self.mw = 1e-6 * tok, 1e-6 * usd, 1e-6 * mw  # absolute slacks

    def le(self, name, lhs, rhs, abs_tol):
        if lhs > rhs + abs_tol + self.rel * max(abs(lhs), abs(rhs)):
            self.failures.append(f"{self.where}{name}: {lhs!r} > {rhs!r}")

    def eq(self, name, a, b, abs_tol):
        if abs(a - b) > abs_tol + self.rel * max(abs(a), abs(b)):
            self.failures.append(f"{self.where}{name}: {a!r} != {b!r}")

    def objective(self, sol: dict, revenue: float, cost: float, tokens: float, tpj: float) -> float:
        """The reported objective against the one recomputed from these figures; returns it."""
        values = {"revenue": revenue, "profit": revenue - cost, "tokens": tokens, "tokens_per_watt": tpj, "min_cost": cost}
        value = values[sol["objective"]["name"]]
        self.eq("objective.value", sol["objective"]["value"], value, 1e-12 * max(self.usd, self.tok))
        return value

    def done(self) -> None:
        """Raise one Violation listing every broken rule, if any."""
        if self.failures:
            raise Violation("; ".join(self.failures))


def verify(inst, sol: dict, rel: float = 1e-6) -> dict:
    """Check a solution dict against an Instance; raise Violation listing every broken rule.

    Returns the recomputed figures (revenue, cost, tokens, F, ...) for further assertions.
    """
    c = Checker(rel, inst)
    f = check_period(c, inst, sol)
    H = {h.name: h for h in inst.hardware}
    fac = inst.facility
    n, q, F = f["n"], f["q"], f["F"]
    # 6.1 installed racks stay
    for h in H.values():
        c.le(f"installed[{h.name}]", h.installed_racks, n[h.name], 0)
    # section 14: racks bought in whole lots
    for h in H.values():
        if (n[h.name] - h.installed_racks) % h.lot_racks:
            c.failures.append(f"lots[{h.name}]: {n[h.name] - h.installed_racks} racks bought, not a whole number of lots of {h.lot_racks}")
    lots = {r["hardware"]: r for r in sol.get("lots") or []}
    for h in H.values():
        if h.lot_racks > 1:
            row = lots.get(h.name)
            assert row is not None, f"no lot row for {h.name}, bought in lots of {h.lot_racks}"
            c.eq(f"lots[{h.name}] reported", row["lots"] * h.lot_racks, n[h.name] - h.installed_racks, 0)
    # 6.13 budget
    capex = sum(h.capex_usd * (n[h.name] - h.installed_racks) for h in H.values()) + f["fabric_capex"]
    if fac.capex_budget_usd is not None:
        c.le("capex_budget", capex, fac.capex_budget_usd, c.usd)
    # section 7 figures
    revenue = f["revenue"]
    cost = (
        sum(annuity(fac.discount_rate, h.lifetime_years) * h.capex_usd * (n[h.name] - h.installed_racks) + h.opex_usd_per_year * n[h.name] for h in H.values())
        + annuity(fac.discount_rate, f["fabric_life"]) * f["fabric_capex"]
        + f["energy"]
    )
    tokens = sum(q.values())
    tpj = tokens / (1e6 * F) if F > 0 else 0.0
    # the reported figures must be these
    m = sol["metrics"]
    c.eq("metrics.revenue", m["revenue_usd_per_year"], revenue, c.usd)
    c.eq("metrics.cost", m["cost_usd_per_year"], cost, c.usd)
    c.eq("metrics.profit", m["profit_usd_per_year"], revenue - cost, 2 * c.usd)
    c.eq("metrics.tokens", m["tokens_per_s"], tokens, 1e-6 * c.tok)
    c.eq("metrics.tokens_per_joule", m["tokens_per_joule"], tpj, 1e-12)
    c.eq("metrics.facility_power", m["facility_power_mw"], F, 1e-9)
    c.eq("metrics.it_power", m["it_power_mw"], f["it"], 1e-9)
    c.eq("metrics.network_power", m["network_power_mw"], f["net_mw"], 1e-9)
    c.eq("metrics.capex", m["capex_usd"], capex, c.usd)
    # the market check: per rack-hour and per million output tokens, and each hardware's rack-hour
    capital = {h.name: annuity(fac.discount_rate, h.lifetime_years) * h.capex_usd * (n[h.name] - h.installed_racks) for h in H.values()}
    fabric_capital = annuity(fac.discount_rate, f["fabric_life"]) * f["fabric_capex"]
    market = check_market(c, inst, m, "racks", sol.get("market") or [], n, {h: H[h].installed_racks for h in n}, capital,
                          revenue, cost, tokens, fabric_capital + f["energy"])
    objective = c.objective(sol, revenue, cost, tokens, tpj)
    c.done()
    return dict(revenue=revenue, cost=cost, profit=revenue - cost, tokens=tokens, tpj=tpj, facility_mw=F, it_mw=f["it"],
                capex=capex, n=n, objective=objective, market=market)


def _in_slice(value, s):
    """A value by slice of the year (a map naming every slice), or a scalar."""
    return value[s] if isinstance(value, dict) else value


def rack_energy(inst, h) -> tuple[float, float]:
    """(kW, USD per rack-hour): what one rack of ``h`` at full power draws from the grid, p_h (1 +
    delta + f phi_liq + (1 - f) phi_air) (section 6.9: losses on IT power, cooling on its heat),
    and what that costs an hour at the electricity price; with slices, each slice's at its share
    of the year. ``inst``'s values are plain numbers or maps by slice (``period_view``)."""
    fac = inst.facility
    slices = [(sl.name, sl.hours / YEAR_H) for sl in inst.slices] if inst.slices else [(None, 1.0)]
    kw = usd = 0.0
    f = h.liquid_cooled_fraction
    for s, share in slices:
        k = h.rack_power_kw * (1 + fac.distribution_loss_fraction + _in_slice(fac.liquid_cooling_overhead, s) * f
                               + _in_slice(fac.air_cooling_overhead, s) * (1 - f))
        kw += share * k
        usd += share * _in_slice(fac.electricity_usd_per_mwh, s) * k / 1000
    return kw, usd


def check_market(c: Checker, inst, reported: dict, racks_key: str, rows: list, n: dict, installed: dict, capital: dict,
                 revenue: float, cost: float, tokens: float, other_cost: float) -> dict:
    """The market check of one year (a plan's metrics, or a period's figures in ``reported``):
    revenue and cost per rack-hour (racks x 8,760 h) and per million output tokens (tokens/s x
    31,536,000 s / 1e6), null where the denominator is 0, from this verifier's own ``revenue``,
    ``cost``, ``tokens`` and racks ``n``; and one row per hardware with racks (or annuities paid)
    whose capital (``capital``, USD/yr), opex, ownership and energy per rack-hour are recomputed,
    and whose capital and opex with ``other_cost`` (the fabric's annuities and the energy) make
    ``cost``. Returns the four figures as recomputed."""
    H = {h.name: h for h in inst.hardware}
    racks = sum(n.values())
    c.eq(f"market {racks_key}", reported.get(racks_key, 0), racks, 0)
    hours, mtok = racks * YEAR_H, tokens * YEAR_S / 1e6
    out = {}
    for key, value, per in (("revenue_usd_per_rack_hour", revenue, hours), ("cost_usd_per_rack_hour", cost, hours),
                            ("revenue_usd_per_mtok", revenue, mtok), ("cost_usd_per_mtok", cost, mtok)):
        got = reported.get(key)
        out[key] = value / per if per > 0 else None
        if out[key] is None or got is None:
            if got is not None or out[key] is not None:
                c.failures.append(f"{c.where}metrics.{key}: {got!r}, recomputed {out[key]!r}")
            continue
        c.eq(f"metrics.{key}", got, out[key], 2 * c.usd / per)
    by_hw = {r["hardware"]: r for r in rows}
    want = [h for h in H if n.get(h, 0) > 0 or capital.get(h, 0.0) > 0]
    if sorted(by_hw) != sorted(want):
        c.failures.append(f"{c.where}market rows for {sorted(by_hw)}, the plan's hardware is {sorted(want)}")
    racks_part = 0.0
    for name in want:
        r, h, k = by_hw.get(name), H[name], n.get(name, 0)
        if r is None:
            continue
        kw, usd = rack_energy(inst, h)
        opex = h.opex_usd_per_year * k
        own = (capital.get(name, 0.0) + opex) / (k * YEAR_H) if k > 0 else None
        where = f"market[{name}]"
        c.eq(f"{where}.racks", r["racks"], k, 0)
        c.eq(f"{where}.installed_racks", r["installed_racks"], installed.get(name, 0), 0)
        c.eq(f"{where}.capital_usd_per_year", r["capital_usd_per_year"], capital.get(name, 0.0), c.usd)
        c.eq(f"{where}.opex_usd_per_year", r["opex_usd_per_year"], opex, c.usd)
        c.eq(f"{where}.facility_kw_per_rack", r["facility_kw_per_rack"], kw, 1e-9)
        c.eq(f"{where}.energy_usd_per_rack_hour", r["energy_usd_per_rack_hour"], usd, 1e-9)
        if own is None:
            if r["ownership_usd_per_rack_hour"] is not None or r["total_usd_per_rack_hour"] is not None:
                c.failures.append(f"{c.where}{where}: a rack-hour figure without racks")
        else:
            c.eq(f"{where}.ownership_usd_per_rack_hour", r["ownership_usd_per_rack_hour"], own, c.usd / (k * YEAR_H))
            c.eq(f"{where}.total_usd_per_rack_hour", r["total_usd_per_rack_hour"], own + usd, c.usd / (k * YEAR_H))
        racks_part += r["capital_usd_per_year"] + r["opex_usd_per_year"]
    # the rows' ownership is the racks' whole part of the cost: nothing counted twice or left out
    c.eq("market: rows' capital + opex + fabric annuities + energy = cost", racks_part + other_cost, cost, 2 * c.usd)
    return out


def check_period(c: Checker, inst, sol: dict) -> dict:
    """Sections 6.2-6.12 and 6.14 for one period's plan (racks, replicas, allocation, tiers,
    fabric) against an instance whose values are plain numbers. Returns the recomputed figures."""
    fac = inst.facility
    H = {h.name: h for h in inst.hardware}
    halls = {z.name: z for z in fac.halls}
    wl = {w.name: w for w in inst.workloads}
    models = {m.name: m for m in inst.models}
    tiers = {t.name: t for t in inst.tiers}
    TOK, MW = c.tok, c.mw  # absolute slacks, from the instance's own magnitudes

    # racks: integers, in admissible halls
    n = {h: 0 for h in H}
    per_hall = {z: 0 for z in halls}
    for r in sol["racks"]:
        h, z, cnt = H[r["hardware"]], halls[r["hall"]], r["count"]
        assert isinstance(cnt, int) and cnt >= 0
        if cnt > 0:
            if h.rack_power_kw > z.max_rack_kw or (h.liquid_cooled_fraction > 0 and not z.liquid_cooling):
                c.failures.append(f"{h.name} stands in hall {z.name} that cannot take it")
        n[h.name] += cnt
        per_hall[z.name] += cnt
    for z, cnt in per_hall.items():
        c.le(f"hall_slots[{z}]", cnt, halls[z].rack_slots, 0)
    # 6.1 supply
    for h in H.values():
        if h.max_racks is not None:
            c.le(f"supply_cap[{h.name}]", n[h.name], h.max_racks, 0)
    # 6.2 replicas
    k = {}
    for r in sol["replicas"]:
        k[(r["hardware"], r["model"])] = r["count"]
        hosted = {wl[w].model for w in H[r["hardware"]].performance}
        assert r["model"] in hosted, f"replica of {r['model']} on {r['hardware']}, which has no performance for it"
    for h in H.values():
        used = sum(h.racks_per_replica.get(mu, 1.0) * cnt for (hh, mu), cnt in k.items() if hh == h.name)
        c.le(f"replica_fit[{h.name}]", used, n[h.name], 1e-9)
    def coef(h, t, role):
        perf = h.performance.get(t.workload)
        gain = h.performance_multiplier
        if perf is None:
            return 0.0
        if role == "aggregated":
            return gain * interp(perf.aggregated, t.min_interactivity)
        if role == "decode":
            return gain * interp(perf.decode, t.min_interactivity)
        return gain * perf.prefill_tokens_per_s

    # fabric (once: the capacity)
    net = inst.network
    net_w = 0.0
    net_liq_w = 0.0
    fabric_capex = 0.0
    fabric_life = 1.0
    fabric_usd_per_port = 0.0
    E = 0.0
    ports_needed = sum(h.scale_out_ports * n[h.name] for h in H.values())
    fab = sol["fabric"]
    if net is None:
        assert fab is None, "a fabric without network options"
    elif ports_needed > 0 or fab is not None:
        assert fab is not None, "racks with scale-out ports but no fabric"
        opt = {o.name: o for o in net.options}[fab["option"]]
        L = fab["switch_tiers"]
        assert 1 <= L <= net.max_tiers
        R = opt.switch_radix
        reach = R if L == 1 else 2 * (R / 2) ** L
        E = fab["endpoint_ports"]
        c.eq("fabric_ports", E, ports_needed, 1e-3)
        c.le("fabric_reach", E, reach, 1e-3)
        hops = 2 * L - 1
        w = opt.endpoint_optics_w + hops * (opt.switch_power_w / R + opt.switch_port_optics_w)
        usd = opt.endpoint_optics_usd + hops * (opt.switch_capex_usd / R + opt.switch_port_optics_usd)
        net_w = w * E
        net_liq_w = opt.liquid_cooled_fraction * net_w
        fabric_capex = usd * E
        fabric_life = opt.lifetime_years
        fabric_usd_per_port = usd
        c.eq("fabric power", fab["power_mw"], net_w / 1e6, 1e-9)
    net_mw = net_w / 1e6
    it_nameplate = sum(h.rack_power_kw * n[h.name] for h in H.values()) / 1000

    # the slices of the year (section 12): one of 8,760 h without `slices`, read off the plan's top level
    names = [sl.name for sl in inst.slices] if inst.slices else [None]
    hours = {sl.name: sl.hours for sl in inst.slices} if inst.slices else {None: YEAR_H}
    plans = sol.get("slices") or []
    if inst.slices:
        assert [p["name"] for p in plans] == names, "the plan's slices are not the instance's"
    else:
        assert not plans, "slices in the plan of an instance without slices"
        plans = [{"name": None, "hours": YEAR_H, "allocation": sol["allocation"], "tiers": sol["tiers"]}]
    q_year = {t: 0.0 for t in tiers}
    revenue = tokens = F_mean = it_mean = energy = 0.0
    F_busiest = None
    cons = inst.constraints
    for plan in plans:
        s = plan["name"]
        hs = hours[s]
        share = hs / YEAR_H
        where = c.where
        if s is not None:
            c.where = f"{where}slice {s}: "
            c.eq("hours", plan["hours"], hs, 1e-9)

        def at_s(value):
            return value[s] if isinstance(value, dict) else value

        # 6.3 allocation within replicas; coefficients
        x = {}
        for a in plan["allocation"]:
            key = (a["hardware"], a["tier"], a["role"])
            x[key] = x.get(key, 0.0) + a["racks"]
            assert a["racks"] >= -1e-9
        for (hn, tn, role), val in x.items():
            if val > 1e-9 and coef(H[hn], tiers[tn], role) <= 0:
                c.failures.append(f"{c.where}allocation to {hn}/{tn}/{role}, which has no throughput")
        for h in H.values():
            for mu in models:
                alloc = sum(v for (hn, tn, _), v in x.items() if hn == h.name and wl[tiers[tn].workload].model == mu)
                cap = h.availability * h.racks_per_replica.get(mu, 1.0) * k.get((h.name, mu), 0)
                c.le(f"replica_allocation[{h.name},{mu}]", alloc, cap, 1e-7)
        # 6.4-6.7 output, demand and money in this slice
        q = {}
        slice_revenue = 0.0
        for row in plan["tiers"]:
            t = tiers[row["tier"]]
            w = wl[t.workload]
            qa, qd = row["aggregated_tokens_per_s"], row["disaggregated_tokens_per_s"]
            c.eq(f"tier {t.name} total", row["tokens_per_s"], qa + qd, 1e-6 * TOK)
            agg = sum(coef(H[hn], t, "aggregated") * v for (hn, tn, r), v in x.items() if tn == t.name and r == "aggregated")
            dec = sum(coef(H[hn], t, "decode") * v for (hn, tn, r), v in x.items() if tn == t.name and r == "decode")
            pre = sum(coef(H[hn], t, "prefill") * v for (hn, tn, r), v in x.items() if tn == t.name and r == "prefill")
            c.le(f"aggregated_output[{t.name}]", qa, agg, TOK)
            c.le(f"decode_output[{t.name}]", qd, dec, TOK)
            rho, chi = w.input_tokens_per_output_token, w.cached_input_fraction
            c.le(f"prefill_supply[{t.name}]", rho * (1 - chi) * qd, pre, TOK * 10)
            if not t.shiftable:
                c.le(f"demand_floor[{t.name}]", at_s(t.min_tokens_per_s), qa + qd, 0.0)
                cap = at_s(t.max_tokens_per_s)
                if cap is not None:
                    c.le(f"demand_cap[{t.name}]", qa + qd, cap, 1e-9 * TOK)
            v_in = at_s(t.input_price_usd_per_mtok)
            v_cached = v_in if t.cached_input_price_usd_per_mtok is None else at_s(t.cached_input_price_usd_per_mtok)
            per_token = at_s(t.price_usd_per_mtok) + rho * ((1 - chi) * v_in + chi * v_cached)
            money = per_token * (qa + qd) * hs * 3600 / 1e6
            c.eq(f"revenue[{t.name}]", row["revenue_usd_per_year"], money, c.usd)
            slice_revenue += money
            q[t.name] = qa + qd
            q_year[t.name] += share * (qa + qd)
        # 6.12 KV transfer
        if net is not None:
            bits = sum(
                8 * models[wl[tiers[r["tier"]].workload].model].kv_bytes_per_token
                * wl[tiers[r["tier"]].workload].input_tokens_per_output_token * r["disaggregated_tokens_per_s"]
                for r in plan["tiers"]
            )
            bw = net.kv_transfer_max_utilization * sum(h.scale_out_ports * h.port_gbps * 1e9 * n[h.name] for h in H.values())
            c.le("kv_transfer", bits, bw, 1e7)
        # 6.8-6.9 heat and power: a busy rack-equivalent draws p_h, every other rack beta_h p_h
        busy = {h: sum(v for (hn, _, _), v in x.items() if hn == h) for h in H}
        drawn = {h.name: h.rack_power_kw * (h.idle_power_fraction * n[h.name] + (1 - h.idle_power_fraction) * busy[h.name]) / 1000
                 for h in H.values()}
        it = sum(drawn.values())
        liq = sum(h.liquid_cooled_fraction * drawn[h.name] for h in H.values()) + net_liq_w / 1e6
        air = it + net_mw - liq
        F = ((1 + fac.distribution_loss_fraction) * (it + net_mw) + at_s(fac.liquid_cooling_overhead) * liq
             + at_s(fac.air_cooling_overhead) * air)
        c.le("liquid_cooling", liq, at_s(fac.liquid_cooling_mw), MW)
        c.le("air_cooling", air, at_s(fac.air_cooling_mw), MW)
        c.le("facility_power", F, at_s(fac.grid_power_mw), MW)
        slice_energy = at_s(fac.electricity_usd_per_mwh) * hs * F
        if s is not None:  # the slice's own figures, as reported
            c.eq("power.total_mw", plan["power"]["total_mw"], F, 1e-9)
            c.eq("power.it_mw", plan["power"]["it_mw"], it, 1e-9)
            c.eq("tokens_per_s", plan["tokens_per_s"], sum(q.values()), 1e-6 * TOK)
            c.eq("revenue_usd_per_year", plan["revenue_usd_per_year"], slice_revenue, c.usd)
            c.eq("energy_usd_per_year", plan["energy_usd_per_year"], slice_energy, c.usd)
            for row in plan["utilisation"]:
                c.eq(f"busy_racks[{row['hardware']}]", row["busy_racks"], busy[row["hardware"]], 1e-9)
        # 6.14 tier power shares, on this slice's allocation
        if cons.tier_power_share:
            tier_mw = {t: sum(H[hn].rack_power_kw / 1000 * v for (hn, tn, _), v in x.items() if tn == t) for t in tiers}
            total = sum(tier_mw.values())
            for t, sh in cons.tier_power_share.items():
                c.le(f"tier_power_share[{t},min]", sh.min * total, tier_mw[t], MW)
                c.le(f"tier_power_share[{t},max]", tier_mw[t], sh.max * total, MW)
        c.where = where
        revenue += slice_revenue
        tokens += share * sum(q.values())
        F_mean += share * F
        it_mean += share * it
        energy += slice_energy
        if F_busiest is None or F > F_busiest:
            F_busiest, it_busiest = F, it
    # the year: shiftable tiers on their mean rate, side constraints on the year's totals
    for t in tiers.values():
        if t.shiftable:
            c.le(f"demand_floor[{t.name}]", t.min_tokens_per_s, q_year[t.name], 1e-9 * TOK)
            if t.max_tokens_per_s is not None:
                c.le(f"demand_cap[{t.name}]", q_year[t.name], t.max_tokens_per_s, 1e-9 * TOK)
    if inst.slices:  # the year's tier rows
        for row in sol["tiers"]:
            c.eq(f"year tier {row['tier']} tokens", row["tokens_per_s"], q_year[row["tier"]], 1e-6 * TOK)
    if cons.min_revenue_usd_per_year is not None:
        c.le("min_revenue", cons.min_revenue_usd_per_year, revenue, c.usd)
    if cons.min_tokens_per_joule is not None:
        c.le("min_tokens_per_joule", cons.min_tokens_per_joule * 1e6 * F_mean, tokens, TOK)
    for kind, sh in cons.kind_power_share.items():
        part = sum(h.rack_power_kw * n[h.name] for h in H.values() if h.kind == kind) / 1000
        c.le(f"kind_power_share[{kind.value},min]", sh.min * it_nameplate, part, MW)
        c.le(f"kind_power_share[{kind.value},max]", part, sh.max * it_nameplate, MW)
    fabric = (fab["option"], fab["switch_tiers"]) if fab is not None else None
    if sol.get("power") is not None:  # the reported power chain: the one slice's, or the busiest slice's
        c.eq("power.total_mw", sol["power"]["total_mw"], F_busiest, 1e-9)
        c.eq("power.it_mw", sol["power"]["it_mw"], it_busiest, 1e-9)
    return dict(n=n, per_hall=per_hall, q=q_year, revenue=revenue, tokens=tokens, F=F_mean, it=it_mean, net_mw=net_mw, E=E,
                fabric=fabric, fabric_capex=fabric_capex, fabric_life=fabric_life, fabric_usd_per_port=fabric_usd_per_port,
                opex=sum(h.opex_usd_per_year * n[h.name] for h in H.values()), energy=energy)


# --------------------------------------------------------------------------- multi-year (MODEL.md section 11)


def at(value, year):
    """A step function by year: the entry of the greatest year <= ``year``; a scalar, or a map by
    slice (text keys), is itself."""
    if not isinstance(value, dict) or not all(isinstance(k, int) for k in value):
        return value
    best = None
    for y in sorted(value):
        if y <= year:
            best = value[y]
    return best


def period_view(inst, year):
    """The instance as it stands in ``year``: this verifier's own reading of the values by year,
    no installed racks (the fleet holds them) and no budget (checked per period below)."""
    fac = inst.facility
    halls = [z.model_copy(update={"rack_slots": at(z.rack_slots, year)}) for z in fac.halls]
    facility = fac.model_copy(update={
        "grid_power_mw": at(fac.grid_power_mw, year), "liquid_cooling_mw": at(fac.liquid_cooling_mw, year),
        "air_cooling_mw": at(fac.air_cooling_mw, year), "electricity_usd_per_mwh": at(fac.electricity_usd_per_mwh, year),
        "liquid_cooling_overhead": at(fac.liquid_cooling_overhead, year), "air_cooling_overhead": at(fac.air_cooling_overhead, year),
        "capex_budget_usd": None, "halls": halls,
    })
    hardware = [h.model_copy(update={
        "capex_usd": at(h.capex_usd, year), "opex_usd_per_year": at(h.opex_usd_per_year, year), "max_racks": at(h.max_racks, year),
        "performance_multiplier": at(h.performance_multiplier, year), "installed_racks": 0,
    }) for h in inst.hardware]
    tiers = [t.model_copy(update={
        "price_usd_per_mtok": at(t.price_usd_per_mtok, year), "min_tokens_per_s": at(t.min_tokens_per_s, year),
        "max_tokens_per_s": at(t.max_tokens_per_s, year), "input_price_usd_per_mtok": at(t.input_price_usd_per_mtok, year),
        "cached_input_price_usd_per_mtok": at(t.cached_input_price_usd_per_mtok, year),
    }) for t in inst.tiers]
    cons = inst.constraints.model_copy(update={
        "min_revenue_usd_per_year": at(inst.constraints.min_revenue_usd_per_year, year),
        "min_tokens_per_joule": at(inst.constraints.min_tokens_per_joule, year),
    })
    return inst.model_copy(update={"facility": facility, "hardware": hardware, "tiers": tiers, "constraints": cons, "horizon": None})


def verify_horizon(inst, sol: dict, rel: float = 1e-6) -> dict:
    """Check a multi-year solution dict: every period's plan against that period's values, the
    fleet (bought, alive, retired, lifetimes, windows, installed racks), the fabric's growth and
    one design, the budgets, and money over time (section 11.3). Raise Violation on any breach."""
    c = Checker(rel, inst)
    hz = inst.horizon
    start = hz.start_year
    years, lengths = [], list(hz.period_years)
    y = start
    for n in lengths:
        years.append(y)
        y += n
    end = y
    r = inst.facility.discount_rate
    weight = {yy: (1 + r) ** -(yy - start) for yy in range(start, end)}
    H = {h.name: h for h in inst.hardware}
    periods = sol["periods"]
    assert [p["year"] for p in periods] == years and [p["years"] for p in periods] == lengths, "periods do not match the horizon"

    def lives(bought, life, y0, n):
        return bought <= y0 and y0 + n <= bought + life

    def installed_in(h):
        return h.installed_year if h.installed_year is not None else start - 1

    figs = []
    for p, (y0, plan) in enumerate(zip(years, periods)):
        c.where = f"{y0}: "
        v1 = {"racks": [{"hardware": row["hardware"], "hall": row["hall"], "count": row["alive"]} for row in plan["racks"]],
              "replicas": plan["replicas"], "allocation": plan["allocation"], "tiers": plan["tiers"], "fabric": plan["fabric"],
              "slices": plan.get("slices") or [], "power": plan["power"]}
        figs.append(check_period(c, period_view(inst, y0), v1))
    c.where = ""
    # one fabric design for the horizon
    designs = {f["fabric"] for f in figs if f["fabric"] is not None}
    if len(designs) > 1:
        c.failures.append(f"more than one fabric design over the horizon: {sorted(designs)}")
    usd_per_port = max((f["fabric_usd_per_port"] for f in figs), default=0.0)
    port_life = max((f["fabric_life"] for f in figs), default=1.0)
    # the fleet, vintage by vintage
    alive = {}  # (h, z, p) -> racks
    bought = {}  # (h, p) -> racks bought at the start of period p
    retired = {}  # (h, z, p)
    installed_first = {}
    resale = {}  # p -> cash returned at the start of period p by racks retired early (undiscounted)
    installed_alive = {}  # (h, p) -> installed racks alive (the market check)
    for v in sol["vintages"]:
        h = H[v["hardware"]]
        life = h.lifetime_years
        by = v["bought_year"]
        counts = [int(v["alive"].get(str(yy), v["alive"].get(yy, 0))) for yy in years]
        name = f"vintage {h.name}/{v['hall']}/{v['vintage']}"
        if v["installed"]:
            c.eq(f"{name} installed year", by, installed_in(h), 0)
            installed_first[h.name] = installed_first.get(h.name, 0) + counts[0]
            for p, cnt in enumerate(counts):
                installed_alive[(h.name, p)] = installed_alive.get((h.name, p), 0) + cnt
            first = 0
        else:
            if by not in years:
                c.failures.append(f"{name}: bought in {by}, which starts no period")
                continue
            first = years.index(by)
            if (h.available_from is not None and by < h.available_from) or (h.available_until is not None and by > h.available_until):
                c.failures.append(f"{name}: bought outside its window {h.available_from}..{h.available_until}")
            c.eq(f"{name} stands when bought", counts[first], v["bought"], 0)
            bought[(h.name, first)] = bought.get((h.name, first), 0) + v["bought"]
            if any(counts[:first]):
                c.failures.append(f"{name}: alive before it was bought")
        for p in range(first, len(years)):
            if not lives(by, life, years[p], lengths[p]):
                if counts[p]:
                    c.failures.append(f"{name}: {counts[p]} racks alive in {years[p]}, past their life ({by} + {life:g} years)")
                continue
            if p > first:
                c.le(f"{name} survival in {years[p]}", counts[p], counts[p - 1], 0)
                if not hz.allow_early_retirement:
                    c.eq(f"{name} no early retirement in {years[p]}", counts[p], counts[p - 1], 0)
                elif counts[p - 1] > counts[p] and h.resale_fraction > 0:
                    # section 14: sigma c R / l per rack, c the vintage's capex (installed: the first period's)
                    capex = at(h.capex_usd, start if v["installed"] else by)
                    left = max(by + life - years[p], 0)
                    resale[p] = resale.get(p, 0.0) + (counts[p - 1] - counts[p]) * h.resale_fraction * capex * left / life
        for p in range(len(years)):
            key = (h.name, v["hall"], p)
            alive[key] = alive.get(key, 0) + counts[p]
            if p > 0 and counts[p - 1] > counts[p]:
                retired[key] = retired.get(key, 0) + counts[p - 1] - counts[p]
    for h in H.values():
        lives0 = lives(installed_in(h), h.lifetime_years, start, lengths[0])
        c.eq(f"installed_fleet[{h.name}]", installed_first.get(h.name, 0), h.installed_racks if lives0 else 0, 0)
    for p, plan in enumerate(periods):
        seen = set()
        for row in plan["racks"]:
            key = (row["hardware"], row["hall"], p)
            seen.add(key)
            c.eq(f"{years[p]}: alive {row['hardware']}/{row['hall']}", row["alive"], alive.get(key, 0), 0)
            c.eq(f"{years[p]}: retired {row['hardware']}/{row['hall']}", row["retired"], retired.get(key, 0), 0)
        for key, cnt in alive.items():
            if key[2] == p and cnt and key not in seen:
                c.failures.append(f"{years[p]}: {cnt} racks of {key[0]} in {key[1]} alive in vintages but not in the period")
        for h in H.values():
            per_period = sum(row["bought"] for row in plan["racks"] if row["hardware"] == h.name)
            c.eq(f"{years[p]}: bought {h.name}", per_period, bought.get((h.name, p), 0), 0)
            if bought.get((h.name, p), 0) % h.lot_racks:
                c.failures.append(f"lots[{h.name},{years[p]}]: {bought[(h.name, p)]} racks bought, not a whole number of lots of {h.lot_racks}")
            cap = at(h.max_new_racks, years[p])
            if cap is not None:
                c.le(f"max_new_racks[{h.name},{years[p]}]", bought.get((h.name, p), 0), cap, 0)
    for row in sol.get("lots") or []:  # section 14: the reported lots are the racks bought
        h = H[row["hardware"]]
        p = years.index(row["year"])
        c.eq(f"lots[{h.name},{row['year']}] reported", row["lots"] * h.lot_racks, bought.get((h.name, p), 0), 0)
    # fabric growth, purchases, budgets, money
    capital_by_year = {yy: 0.0 for yy in range(start, end)}
    capital_by_hw = {}  # (h, year) -> the annuities of h's purchases paid in that year (the market check)
    ports_by_year = {yy: 0.0 for yy in range(start, end)}
    E_before = 0.0
    rev = opex = energy = tok_years = mw_years = capex_total = 0.0
    for p, (y0, plan) in enumerate(zip(years, periods)):
        f = figs[p]
        added = plan["added_ports"]
        c.le(f"fabric_growth[{y0}]", f["E"] - E_before, added, 1e-3)
        E_before = f["E"]
        purchases = sum(at(h.capex_usd, y0) * bought.get((h.name, p), 0) for h in H.values()) + usd_per_port * added
        capex_total += purchases
        c.eq(f"{y0}: purchases", plan["cash"]["purchases_usd"], purchases, c.usd)
        budget = at(inst.facility.capex_budget_usd, y0)
        if budget is not None:
            c.le(f"period_budget[{y0}]", purchases, budget, c.usd)
        for h in H.values():
            n_b = bought.get((h.name, p), 0)
            for yy in range(y0, min(end, int(y0 + h.lifetime_years))):
                paid = annuity(r, h.lifetime_years) * at(h.capex_usd, y0) * n_b
                capital_by_year[yy] += paid
                capital_by_hw[(h.name, yy)] = capital_by_hw.get((h.name, yy), 0.0) + paid
        for yy in range(y0, end):
            if yy < y0 + port_life:
                capital_by_year[yy] += annuity(r, port_life) * usd_per_port * added
                ports_by_year[yy] += annuity(r, port_life) * usd_per_port * added
        cash = plan["cash"]
        DF = sum(weight[yy] for yy in range(y0, y0 + lengths[p]))
        c.eq(f"{y0}: discount weight", cash["discount_weight"], DF, 1e-12)
        c.eq(f"{y0}: revenue", cash["revenue_usd_per_year"], f["revenue"], c.usd)
        c.eq(f"{y0}: opex", cash["opex_usd_per_year"], f["opex"], c.usd)
        c.eq(f"{y0}: energy", cash["energy_usd_per_year"], f["energy"], c.usd)
        c.eq(f"{y0}: IT power by hardware", sum(plan["it_mw_by_hardware"].values()), plan["power"]["it_mw"], 1e-9)
        c.eq(f"{y0}: tokens per joule", plan["tokens_per_joule"], f["tokens"] / (1e6 * f["F"]) if f["F"] > 0 else 0.0, 1e-12)
        rev += DF * f["revenue"]
        opex += DF * f["opex"]
        energy += DF * f["energy"]
        tok_years += lengths[p] * f["tokens"]
        mw_years += lengths[p] * f["F"]
    for p, (y0, plan) in enumerate(zip(years, periods)):
        span = range(y0, y0 + lengths[p])
        c.eq(f"{y0}: capital", plan["cash"]["capital_usd"], sum(capital_by_year[yy] for yy in span), c.usd)
        c.eq(f"{y0}: capital discounted", plan["cash"]["capital_discounted_usd"], sum(weight[yy] * capital_by_year[yy] for yy in span), c.usd)
    # each period's market check: its racks alive, revenue, tokens and yearly cost (opex, energy, the
    # annuities paid in its years per year; resale cash is not a running cost)
    market = {}
    for p, (y0, plan) in enumerate(zip(years, periods)):
        c.where = f"{y0}: "
        span, f = range(y0, y0 + lengths[p]), figs[p]
        n_p = {h: sum(v for (hh, _, pp), v in alive.items() if hh == h and pp == p) for h in H}
        cap_p = {h: sum(capital_by_hw.get((h, yy), 0.0) for yy in span) / lengths[p] for h in H}
        ports_p = sum(ports_by_year[yy] for yy in span) / lengths[p]
        cost_year = f["opex"] + f["energy"] + sum(capital_by_year[yy] for yy in span) / lengths[p]
        c.eq("cost_usd_per_year", plan.get("cost_usd_per_year", 0.0), cost_year, 2 * c.usd)
        market[y0] = check_market(c, period_view(inst, y0), plan, "racks_alive", plan.get("market") or [], n_p,
                                  {h: installed_alive.get((h, p), 0) for h in H}, cap_p, f["revenue"], cost_year, f["tokens"],
                                  ports_p + f["energy"])
    c.where = ""
    capital = sum(weight[yy] * v for yy, v in capital_by_year.items())
    for p, (y0, plan) in enumerate(zip(years, periods)):
        c.eq(f"{y0}: resale", plan["cash"].get("resale_usd", 0.0), resale.get(p, 0.0), c.usd)
        c.eq(f"{y0}: resale discounted", plan["cash"].get("resale_discounted_usd", 0.0), weight[y0] * resale.get(p, 0.0), c.usd)
    resale_total = sum(weight[years[p]] * cash for p, cash in resale.items())
    c.eq("metrics.discounted_resale_usd", sol["metrics"].get("discounted_resale_usd", 0.0), resale_total, c.usd)
    cost = opex + energy + capital - resale_total
    total_years = sum(lengths)
    tokens = tok_years / total_years
    tpj = tok_years / (1e6 * mw_years) if mw_years > 0 else 0.0
    m = sol["metrics"]
    c.eq("metrics.discounted_revenue_usd", m["discounted_revenue_usd"], rev, c.usd)
    c.eq("metrics.discounted_cost_usd", m["discounted_cost_usd"], cost, c.usd)
    c.eq("metrics.npv_usd", m["npv_usd"], rev - cost, 2 * c.usd)
    c.eq("metrics.discounted_capital_usd", m["discounted_capital_usd"], capital, c.usd)
    c.eq("metrics.mean_tokens_per_s", m["mean_tokens_per_s"], tokens, 1e-6 * c.tok)
    c.eq("metrics.tokens_per_joule", m["tokens_per_joule"], tpj, 1e-12)
    c.eq("metrics.capex_usd", m["capex_usd"], capex_total, c.usd)
    objective = c.objective(sol, rev, cost, tokens, tpj)
    c.done()
    return dict(revenue=rev, cost=cost, npv=rev - cost, tokens=tokens, tpj=tpj, objective=objective, alive=alive, bought=bought,
                market=market)


# --------------------------------------------------------------------------- a stochastic plan (MODEL.md section 13.3)


def verify_expectation(inst, sol: dict, rel: float = 1e-6) -> dict:
    """A stochastic plan's top-level market check against its scenarios' own figures: the ratios
    of expectations E[revenue] / (racks x 8,760), E[cost] / (racks x 8,760), E[revenue] /
    E[output Mtok] and E[cost] / E[output Mtok] (the racks are the first stage's), and each
    hardware's row the probability-weighted rows. Each scenario's own plan is checked by
    :func:`verify` (or :func:`verify_horizon`) against its own instance. Returns the four figures."""
    c = Checker(rel, inst)
    outcomes = [(o["probability"], o["solution"]) for o in sol["uncertainty"]["scenarios"]]
    m = sol["metrics"]
    if "discounted_revenue_usd" in m:  # a horizon: the market check is each scenario's, per period
        return {}
    exp = {k: sum(p * s["metrics"][k] for p, s in outcomes) for k in ("revenue_usd_per_year", "cost_usd_per_year", "tokens_per_s")}
    racks = sum(r["count"] for r in sol["racks"])
    for _, s in outcomes:
        c.eq("scenario racks", sum(r["count"] for r in s["racks"]), racks, 0)
    n = {}
    for r in sol["racks"]:
        n[r["hardware"]] = n.get(r["hardware"], 0) + r["count"]
    hours, mtok = racks * YEAR_H, exp["tokens_per_s"] * YEAR_S / 1e6
    out = {}
    for key, value, per in (("revenue_usd_per_rack_hour", exp["revenue_usd_per_year"], hours),
                            ("cost_usd_per_rack_hour", exp["cost_usd_per_year"], hours),
                            ("revenue_usd_per_mtok", exp["revenue_usd_per_year"], mtok),
                            ("cost_usd_per_mtok", exp["cost_usd_per_year"], mtok)):
        out[key] = value / per if per > 0 else None
        got = m.get(key)
        if out[key] is None or got is None:
            if got is not None or out[key] is not None:
                c.failures.append(f"metrics.{key}: {got!r}, the expectation {out[key]!r}")
            continue
        c.eq(f"metrics.{key}", got, out[key], 2 * c.usd / per)
    rows = {r["hardware"]: r for r in sol.get("market") or []}
    if sorted(rows) != sorted(h for h, k in n.items() if k > 0):
        c.failures.append(f"market rows for {sorted(rows)}, the plan's racks are {n}")
    for name, r in rows.items():
        mine = [(p, next(x for x in s["market"] if x["hardware"] == name)) for p, s in outcomes]
        e = {k: sum(p * x[k] for p, x in mine) for k in ("capital_usd_per_year", "opex_usd_per_year", "energy_usd_per_rack_hour")}
        own = (e["capital_usd_per_year"] + e["opex_usd_per_year"]) / (n[name] * YEAR_H)
        c.eq(f"market[{name}].capital_usd_per_year", r["capital_usd_per_year"], e["capital_usd_per_year"], c.usd)
        c.eq(f"market[{name}].opex_usd_per_year", r["opex_usd_per_year"], e["opex_usd_per_year"], c.usd)
        c.eq(f"market[{name}].energy_usd_per_rack_hour", r["energy_usd_per_rack_hour"], e["energy_usd_per_rack_hour"], 1e-9)
        c.eq(f"market[{name}].ownership_usd_per_rack_hour", r["ownership_usd_per_rack_hour"], own, c.usd / (n[name] * YEAR_H))
        c.eq(f"market[{name}].total_usd_per_rack_hour", r["total_usd_per_rack_hour"], own + e["energy_usd_per_rack_hour"],
             c.usd / (n[name] * YEAR_H))
    c.done()
    return out
