"""An independent plan verifier: recomputes every constraint of MODEL.md from a reported plan.

Plain Python on purpose: it reads the instance's fields (the validated schema object) and the
solution's JSON, and shares no code with ``preprocess``, ``model``, ``solve`` or ``results``:
its own interpolation, its own fabric formulas, its own money. A defect in those modules shows
up here as a violated constraint or a metric that does not add up.
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


class Checker:
    def __init__(self, rel=1e-6):
        self.rel = rel
        self.failures: list[str] = []

    def le(self, name, lhs, rhs, abs_tol):
        if lhs > rhs + abs_tol + self.rel * max(abs(lhs), abs(rhs)):
            self.failures.append(f"{name}: {lhs!r} > {rhs!r}")

    def eq(self, name, a, b, abs_tol):
        if abs(a - b) > abs_tol + self.rel * max(abs(a), abs(b)):
            self.failures.append(f"{name}: {a!r} != {b!r}")


def verify(inst, sol: dict, rel: float = 1e-6) -> dict:
    """Check a solution dict against an Instance; raise Violation listing every broken rule.

    Returns the recomputed figures (revenue, cost, tokens, F, ...) for further assertions.
    """
    c = Checker(rel)
    fac = inst.facility
    H = {h.name: h for h in inst.hardware}
    halls = {z.name: z for z in fac.halls}
    wl = {w.name: w for w in inst.workloads}
    models = {m.name: m for m in inst.models}
    tiers = {t.name: t for t in inst.tiers}
    TOK = 10.0  # tokens/s of absolute slack (solver tolerance is 1e-7 of a million tokens/s)
    MW = 1e-5

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
        c.le(f"installed[{h.name}]", h.installed_racks, n[h.name], 0)
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
    # 6.3 allocation within replicas; coefficients
    x = {}
    for a in sol["allocation"]:
        key = (a["hardware"], a["tier"], a["role"])
        x[key] = x.get(key, 0.0) + a["racks"]
        assert a["racks"] >= -1e-9

    def coef(h, t, role):
        perf = h.performance.get(t.workload)
        if perf is None:
            return 0.0
        if role == "aggregated":
            return interp(perf.aggregated, t.min_interactivity)
        if role == "decode":
            return interp(perf.decode, t.min_interactivity)
        return perf.prefill_tokens_per_s

    for (hn, tn, role), val in x.items():
        if val > 1e-9 and coef(H[hn], tiers[tn], role) <= 0:
            c.failures.append(f"allocation to {hn}/{tn}/{role}, which has no throughput")
    for h in H.values():
        for mu in models:
            alloc = sum(v for (hn, tn, _), v in x.items() if hn == h.name and wl[tiers[tn].workload].model == mu)
            cap = h.availability * h.racks_per_replica.get(mu, 1.0) * k.get((h.name, mu), 0)
            c.le(f"replica_allocation[{h.name},{mu}]", alloc, cap, 1e-7)
    # 6.4-6.7 output and demand
    q = {}
    for row in sol["tiers"]:
        t = tiers[row["tier"]]
        qa, qd = row["aggregated_tokens_per_s"], row["disaggregated_tokens_per_s"]
        c.eq(f"tier {t.name} total", row["tokens_per_s"], qa + qd, 1e-6)
        agg = sum(coef(H[hn], t, "aggregated") * v for (hn, tn, r), v in x.items() if tn == t.name and r == "aggregated")
        dec = sum(coef(H[hn], t, "decode") * v for (hn, tn, r), v in x.items() if tn == t.name and r == "decode")
        pre = sum(coef(H[hn], t, "prefill") * v for (hn, tn, r), v in x.items() if tn == t.name and r == "prefill")
        c.le(f"aggregated_output[{t.name}]", qa, agg, TOK)
        c.le(f"decode_output[{t.name}]", qd, dec, TOK)
        c.le(f"prefill_supply[{t.name}]", wl[t.workload].input_tokens_per_output_token * qd, pre, TOK * 10)
        c.le(f"demand_floor[{t.name}]", t.min_tokens_per_s, qa + qd, TOK)
        if t.max_tokens_per_s is not None:
            c.le(f"demand_cap[{t.name}]", qa + qd, t.max_tokens_per_s, TOK)
        c.eq(f"revenue[{t.name}]", row["revenue_usd_per_year"], t.price_usd_per_mtok * (qa + qd) * YEAR_S / 1e6, 1.0)
        q[t.name] = qa + qd
    # fabric
    net = inst.network
    net_w = 0.0
    net_liq_w = 0.0
    fabric_capex = 0.0
    fabric_annual = 0.0
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
        fabric_annual = annuity(fac.discount_rate, opt.lifetime_years) * fabric_capex
        c.eq("fabric power", fab["power_mw"], net_w / 1e6, 1e-9)
    # 6.12 KV transfer
    if net is not None:
        bits = sum(
            8 * models[wl[tiers[r["tier"]].workload].model].kv_bytes_per_token
            * wl[tiers[r["tier"]].workload].input_tokens_per_output_token * r["disaggregated_tokens_per_s"]
            for r in sol["tiers"]
        )
        bw = net.kv_transfer_max_utilization * sum(h.scale_out_ports * h.port_gbps * 1e9 * n[h.name] for h in H.values())
        c.le("kv_transfer", bits, bw, 1e7)
    # 6.8-6.9 heat and power
    it = sum(h.rack_power_kw * n[h.name] for h in H.values()) / 1000
    net_mw = net_w / 1e6
    liq = sum(h.liquid_cooled_fraction * h.rack_power_kw * n[h.name] for h in H.values()) / 1000 + net_liq_w / 1e6
    air = it + net_mw - liq
    F = (1 + fac.distribution_loss_fraction) * (it + net_mw) + fac.liquid_cooling_overhead * liq + fac.air_cooling_overhead * air
    c.le("liquid_cooling", liq, fac.liquid_cooling_mw, MW)
    c.le("air_cooling", air, fac.air_cooling_mw, MW)
    c.le("facility_power", F, fac.grid_power_mw, MW)
    # 6.13 budget
    capex = sum(h.capex_usd * (n[h.name] - h.installed_racks) for h in H.values()) + fabric_capex
    if fac.capex_budget_usd is not None:
        c.le("capex_budget", capex, fac.capex_budget_usd, 1.0)
    # section 7 figures
    revenue = sum(tiers[t].price_usd_per_mtok * v * YEAR_S / 1e6 for t, v in q.items())
    cost = (
        sum(annuity(fac.discount_rate, h.lifetime_years) * h.capex_usd * (n[h.name] - h.installed_racks) + h.opex_usd_per_year * n[h.name] for h in H.values())
        + fabric_annual
        + fac.electricity_usd_per_mwh * YEAR_H * F
    )
    tokens = sum(q.values())
    tpj = tokens / (1e6 * F) if F > 0 else 0.0
    # 6.14 side constraints
    cons = inst.constraints
    if cons.min_revenue_usd_per_year is not None:
        c.le("min_revenue", cons.min_revenue_usd_per_year, revenue, 1.0)
    if cons.min_tokens_per_joule is not None:
        c.le("min_tokens_per_joule", cons.min_tokens_per_joule * 1e6 * F, tokens, TOK)
    for kind, share in cons.kind_power_share.items():
        part = sum(h.rack_power_kw * n[h.name] for h in H.values() if h.kind == kind) / 1000
        c.le(f"kind_power_share[{kind.value},min]", share.min * it, part, MW)
        c.le(f"kind_power_share[{kind.value},max]", part, share.max * it, MW)
    if cons.tier_power_share:
        tier_mw = {t: sum(H[hn].rack_power_kw / 1000 * v for (hn, tn, _), v in x.items() if tn == t) for t in tiers}
        total = sum(tier_mw.values())
        for t, share in cons.tier_power_share.items():
            c.le(f"tier_power_share[{t},min]", share.min * total, tier_mw[t], MW)
            c.le(f"tier_power_share[{t},max]", tier_mw[t], share.max * total, MW)
    # the reported figures must be these
    m = sol["metrics"]
    c.eq("metrics.revenue", m["revenue_usd_per_year"], revenue, 1.0)
    c.eq("metrics.cost", m["cost_usd_per_year"], cost, 1.0)
    c.eq("metrics.profit", m["profit_usd_per_year"], revenue - cost, 2.0)
    c.eq("metrics.tokens", m["tokens_per_s"], tokens, 1e-6)
    c.eq("metrics.tokens_per_joule", m["tokens_per_joule"], tpj, 1e-12)
    c.eq("metrics.facility_power", m["facility_power_mw"], F, 1e-9)
    c.eq("metrics.it_power", m["it_power_mw"], it, 1e-9)
    c.eq("metrics.network_power", m["network_power_mw"], net_mw, 1e-9)
    c.eq("metrics.capex", m["capex_usd"], capex, 1.0)
    objective = {"revenue": revenue, "profit": revenue - cost, "tokens": tokens, "tokens_per_watt": tpj, "min_cost": cost}
    name = sol["objective"]["name"]
    c.eq("objective.value", sol["objective"]["value"], objective[name], 1e-9)
    if c.failures:
        raise Violation("; ".join(c.failures))
    return dict(revenue=revenue, cost=cost, profit=revenue - cost, tokens=tokens, tpj=tpj, facility_mw=F, it_mw=it,
                capex=capex, n=n, objective=objective[name])

