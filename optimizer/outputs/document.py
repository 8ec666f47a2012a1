"""A report a planner can forward: one self-contained HTML page (charts as inline SVG, no
network needed to view it) or Markdown, built from a Solution, its Explanation and the
instance's own assumption comments; a stochastic plan (MODEL.md section 13.3) with its
scenarios, expectation, CVaR and regret table."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..analysis.explain import Explanation  # noqa: E402
from ..model.preprocess import fabric_designs  # noqa: E402
from .plots import regret_figure, slice_figure  # noqa: E402
from .report import (  # noqa: E402
    MARKET_NOTE,
    MARKET_TITLE,
    binding_table,
    cash_table,
    fabric_table,
    hall_table,
    heat_table,
    is_sliced,
    lots_table,
    marginal_headline,
    market_hardware_table,
    market_table,
    period_market_hardware_table,
    marginal_table,
    mix_table,
    money,
    num,
    period_power_table,
    period_slices,
    period_tier_table,
    power_table,
    refresh_table,
    shadow_table,
    slice_allocation_table,
    slice_busy_table,
    slice_heat_table,
    slice_power_table,
    slice_table,
    slice_tier_table,
    tier_table,
    timeline_table,
)
from .stochastic import (  # noqa: E402
    REGRET_SKIPPED,
    foresight_table,
    gap_caveat,
    objective_scale,
    outlook_table,
    regret_table,
    scenario_binding_table,
    scenario_market_table,
    scenario_period_table,
    scenario_slice_table,
    scenario_table,
    stochastic_headline,
)
from ..solving.results import Solution, fleet  # noqa: E402
from ..model.schema import Instance  # noqa: E402

SECTIONS = ["headline", "warnings", "diagnosis", "mix", "tiers", "power", "heat", "market", "fabric", "limits", "shadow-prices", "marginal-values",
            "not-chosen", "assumptions", "solved-with"]
# with slices of the year (section 12.4): after the year's tiers, the slices, then power and heat per slice
SLICE_SECTIONS = ["headline", "warnings", "mix", "tiers", "slices", "slice-tiers", "utilisation", "allocation", "power", "heat", "market", "fabric",
                  "limits", "shadow-prices", "marginal-values", "not-chosen", "assumptions", "solved-with"]
HORIZON_SECTIONS = ["headline", "timeline", "refresh", "power", "slices", "tiers", "cash", "market", "limits", "shadow-prices", "marginal-values",
                    "assumptions"]
# a stochastic plan (section 13.3): the first stage, then each scenario, the expectation and the regret table
STOCHASTIC_SECTIONS = ["headline", "warnings", "plan", "scenarios", "scenario-slices", "outlook", "market", "regret", "scenario-notes", "tiers",
                       "limits", "shadow-prices", "assumptions", "solved-with"]


def assumptions(path: str | Path | None) -> list[tuple[str, str]]:
    """(field, text) for every comment of the instance file that states an assumption."""
    if path is None or not Path(path).exists():
        return []
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        code, _, comment = line.partition("#")
        if re.search(r"\bassumption", comment, re.I):
            field = code.strip().rstrip(":").split(":")[0].strip(" -{") or "(block)"
            out.append((field, comment.strip()))
    return out


def fabric_options(inst: Instance, sol: Solution) -> list[dict]:
    """For each optics option: its least-power design that reaches the plan's ports."""
    if sol.fabric is None:
        return []
    ports = sol.fabric.endpoint_ports
    best: dict[str, dict] = {}
    for d in fabric_designs(inst):
        if d.reach_ports + 1e-9 < ports:
            continue
        row = {"option": d.option, "technology": d.technology, "tiers": d.tiers, "power_mw": d.power_w * ports / 1e6, "capex_usd": d.capex_usd * ports}
        if d.option not in best or row["power_mw"] < best[d.option]["power_mw"]:
            best[d.option] = row
    return list(best.values())


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def power_chart(sol: Solution) -> str:
    p = sol.power
    parts = [("IT", p.it_mw, "#4c78a8"), ("network", p.network_mw, "#f58518"), ("losses", p.losses_mw, "#e45756"), ("cooling", p.cooling_mw, "#72b7b2"),
             ("headroom", max(p.grid_mw - p.total_mw, 0.0), "#dddddd")]
    fig, ax = plt.subplots(figsize=(8, 1.8))
    left = 0.0
    for name, v, color in parts:
        ax.barh([0], [v], left=left, color=color, label=f"{name} {v:,.1f} MW")
        left += v
    ax.axvline(p.grid_mw, color="black", lw=1)
    ax.set_yticks([])
    ax.set_xlabel("MW (the black line is the grid connection)")
    ax.legend(ncol=5, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 1.6))
    return _svg(fig)


def heat_chart(sol: Solution) -> str:
    fig, ax = plt.subplots(figsize=(6, 2.2))
    loops = [h.loop for h in sol.heat]
    ax.barh(loops, [h.capacity_mw for h in sol.heat], color="#dddddd", label="capacity")
    ax.barh(loops, [h.load_mw for h in sol.heat], color="#e45756", height=0.5, label="heat")
    ax.set_xlabel("MW of heat")
    ax.legend(fontsize=7)
    return _svg(fig)


def timeline_chart(sol: Solution) -> str:
    """Stacked bars of IT power by hardware per period, with the grid connection as a step line."""
    hardware = sorted({h for p in sol.periods for h in p.it_mw_by_hardware})
    years = [p.year for p in sol.periods]
    widths = [p.years for p in sol.periods]
    fig, ax = plt.subplots(figsize=(8, 3.2))
    bottom = [0.0] * len(years)
    for h in hardware:
        vals = [p.it_mw_by_hardware.get(h, 0.0) for p in sol.periods]
        ax.bar(years, vals, width=[0.9 * w for w in widths], align="edge", bottom=bottom, label=h)
        bottom = [b + v for b, v in zip(bottom, vals)]
    other = [p.power.total_mw - p.power.it_mw for p in sol.periods]
    ax.bar(years, other, width=[0.9 * w for w in widths], align="edge", bottom=bottom, color="#cccccc", label="network, losses, cooling")
    ax.step(years + [years[-1] + widths[-1]], [p.power.grid_mw for p in sol.periods] + [sol.periods[-1].power.grid_mw],
            where="post", color="black", lw=1.2, label="grid connection")
    ax.set_ylabel("MW")
    ax.set_xlabel("year")
    ax.legend(fontsize=7, ncol=3, loc="upper left")
    return _svg(fig)


def horizon_blocks(sol: Solution) -> list[tuple[str, str, list]]:
    """The multi-year sections: headline, timeline, refresh events, power chart, tiers, cash flows."""
    m, o = sol.metrics, sol.objective
    out = [("headline", "Headline", [("p", f"{sol.instance}: {sol.status} ({sol.message})"), ("table", ["figure", "value"], [
        [f"objective: {o.name} ({o.sense})", f"{num(o.value)} {o.unit}"],
        ["MIP gap", "-" if sol.mip_gap is None else f"{sol.mip_gap:.2g}"],
        ["net present value", money(m.npv_usd)], ["discounted revenue", money(m.discounted_revenue_usd)],
        ["discounted opex", money(m.discounted_opex_usd)], ["discounted energy", money(m.discounted_energy_usd)],
        ["discounted capital (annuities)", money(m.discounted_capital_usd)], ["purchases (undiscounted)", money(m.capex_usd)],
        ["mean tokens", f"{num(m.mean_tokens_per_s)} tokens/s"], ["tokens per joule", f"{num(m.tokens_per_joule)} tokens/J"]])])]
    out.append(("timeline", "Racks alive per period (+bought, -retired at its start)", [("table", *timeline_table(sol))]
                + ([("p", "Bought in whole lots:"), ("table", *lots_table(sol))] if sol.lots else [])))
    refresh = [("table", *refresh_table(sol))] if sol.refresh else [("p", "No rack is retired before its life ends.")]
    out.append(("refresh", "Refresh: vintages retired before their life ends", refresh))
    sliced = is_sliced(sol)
    power = [("p", "Each period's power is its busiest slice's; every slice is in the next section.")] if sliced else []
    out.append(("power", "Power by hardware over the years", [*power, ("svg", timeline_chart(sol)), ("table", *period_power_table(sol))]))
    if sliced:
        out.append(("slices", "Slices of each period: facility power against the slice's grid, tokens by tier", [
            ("svg", _svg(slice_figure([(str(p.year), p.slices) for p in sol.periods]))),
            ("p", "Revenue and energy are what the slice's hours earn and cost per year."),
            ("table", *period_slices(sol, slice_table)), ("table", *period_slices(sol, slice_tier_table)),
            ("table", *period_slices(sol, slice_busy_table))]))
    out.append(("tiers", "Tiers per period (the year's: mean tokens/s over the slices' hours)" if sliced else "Tiers per period",
                [("table", *period_tier_table(sol))]))
    out.append(("cash", "Cash flows per period (undiscounted, with each period's discount weight)", [("table", *cash_table(sol))]))
    out.append(market_block(sol))
    return out


def market_block(sol: Solution) -> tuple[str, str, list]:
    """The market check: the plan's figures (each period's, with a horizon) and each hardware's
    rack-hour (fabric not included); a stochastic plan's per scenario beside the expectation."""
    if sol.uncertainty is not None:
        items = [("p", "Each scenario's figures; the expectation is a ratio of expectations (E[revenue] / (racks x 8,760 h), "
                       "E[cost] / E[output tokens]), not the mean of the scenarios' ratios."), ("table", *scenario_market_table(sol))]
        if sol.market:
            items += [("p", "Cost of a rack-hour per hardware, the expectation over the scenarios (fabric not included):"),
                      ("table", *market_hardware_table(sol.market))]
    elif sol.periods:
        items = [("table", *market_table([(str(p.year), p) for p in sol.periods])),
                 ("p", "Cost of a rack-hour per hardware and period (fabric not included):"), ("table", *period_market_hardware_table(sol))]
    else:
        items = [("table", *market_table([("value", sol.metrics)])),
                 ("p", "Cost of a rack-hour per hardware (fabric not included):"), ("table", *market_hardware_table(sol.market))]
    return ("market", MARKET_TITLE, [("p", MARKET_NOTE), *items])


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def blocks(inst: Instance, sol: Solution, exp: Explanation | None, notes: list[tuple[str, str]]) -> list[tuple[str, str, list]]:
    """(section id, title, [("p", text) | ("table", head, rows) | ("svg", markup)])."""
    out: list[tuple[str, str, list]] = []
    o = sol.objective
    if sol.uncertainty is not None and sol.has_plan:
        return stochastic_blocks(sol, notes)
    if sol.periods:
        out = horizon_blocks(sol) + _warnings(sol)
        out.append(("limits", "Binding limits", [*_once(sol), ("table", *binding_table(sol))]))
        out.append(("shadow-prices", "Shadow prices (LP with the integers fixed)", [("table", *shadow_table(sol))]))
        out += _marginal(sol)
        out.append(("assumptions", "The instance's assumptions", [("table", ["field", "assumption"], [list(n) for n in notes])] if notes else [("p", "None stated in the file.")]))
        return out + [_solved_with(sol)]
    head = [("p", f"{sol.instance}: {sol.status} ({sol.message})")]
    if sol.has_plan:
        m = sol.metrics
        mean = " (mean over the year's slices)" if sol.slices else ""
        head += [("table", ["figure", "value"], [
            [f"objective: {o.name} ({o.sense})", f"{num(o.value)} {o.unit}"],
            ["MIP gap", "-" if sol.mip_gap is None else f"{sol.mip_gap:.2g}"],
            ["revenue", f"{money(m.revenue_usd_per_year)}/yr"], ["cost", f"{money(m.cost_usd_per_year)}/yr"],
            ["profit", f"{money(m.profit_usd_per_year)}/yr"], ["capex", money(m.capex_usd)],
            [f"tokens{mean}", f"{num(m.tokens_per_s)} tokens/s"], ["tokens per joule", f"{num(m.tokens_per_joule)} tokens/J"],
            [f"facility power{mean}", f"{num(m.facility_power_mw)} MW"], *_busiest(sol)])]
    worth = marginal_headline(sol)
    if worth:
        head.append(("p", worth[0].upper() + worth[1:] + "."))
    out.append(("headline", "Headline", head))
    out += _warnings(sol)
    if sol.diagnosis is not None:
        dg = sol.diagnosis
        rows = [["needs", e.constraint, num(e.missing), e.unit] for e in dg.needs or []]
        rows += [["gives up", e.constraint, num(e.missing), e.unit] for e in dg.gives_up or []]
        out.append(("diagnosis", "Why it is infeasible", [("p", dg.sentence), ("table", ["route", "constraint", "missing", "unit"], rows),
                                                           ("p", "Conflicting constraints (HiGHS IIS of the LP relaxation): " + (", ".join(dg.conflict) or "none found"))]))
    if not sol.has_plan:
        return out + [_solved_with(sol)]
    out.append(("mix", "Racks per hall", [("table", *mix_table(sol))] + ([("p", "Bought in whole lots:"), ("table", *lots_table(sol))]
                                                                     if sol.lots else [])))
    if sol.slices:
        out += slice_blocks(sol)
    else:
        out.append(("tiers", "Tokens and revenue per tier", [("table", *tier_table(sol))]))
        out.append(("power", "Power chain, grid to IT", [("svg", power_chart(sol)), ("table", *power_table(sol))]))
        out.append(("heat", "Heat against each cooling loop", [("svg", heat_chart(sol)), ("table", *heat_table(sol))]))
    out.append(market_block(sol))
    if sol.fabric is not None:
        f = sol.fabric
        opts = fabric_options(inst, sol)
        out.append(("fabric", "Scale-out fabric", [
            ("p", f"Built: {f.option} ({f.technology}), {f.switch_tiers} switch tiers, {num(f.endpoint_ports)} endpoint ports, {num(f.power_mw)} MW, {money(f.capex_usd)}."),
            ("table", ["option", "technology", "tiers", "power MW for these ports", "capex USD"], [[r["option"], r["technology"], r["tiers"], num(r["power_mw"]), money(r["capex_usd"])] for r in opts])]))
    else:
        out.append(("fabric", "Scale-out fabric", [("p", "No scale-out fabric is modelled for this instance.")]))
    limits = [("table", ["limit", "usage", "capacity", "unit", "use", "binding"],
               [[r.constraint, num(r.usage), num(r.limit), r.unit, f"{100 * r.use:.1f}%", "yes" if r.binding else ""] for r in exp.limits])
              ] if exp is not None else []
    if sol.slices:  # each slice's binding limits, whether or not the explanation was asked for
        out.append(("limits", "Binding limits per slice", [*_once(sol), ("table", *binding_table(sol)), *limits]))
    elif exp is not None:
        out.append(("limits", "What limits the plan (binding first)", limits))
    out.append(("shadow-prices", "Shadow prices (LP with the integers fixed)", [("table", *shadow_table(sol)),
               ("p", f"{sum(1 for s in sol.shadow_prices if s.value == 0)} other limits have a shadow price of 0 with the racks fixed.")]))
    out += _marginal(sol)
    if exp is not None:
        rows = [[e.hardware, e.forced_racks, "infeasible" if e.forced_loss is None else f"{num(e.forced_loss)} {e.unit}",
                 "-" if e.capex_cut_usd_per_rack is None else money(e.capex_cut_usd_per_rack),
                 f"none: fits no hall ({e.no_hall})" if e.no_hall else "more than 100x" if e.speedup_needed is None
                 else f"{e.speedup_needed:.3g}x"] for e in exp.not_chosen]
        out.append(("not-chosen", "Systems not chosen: what would bring them in", [("table", ["hardware", "racks forced", "objective lost", "capex cut per rack", "throughput needed"], rows)]))
    out.append(("assumptions", "The instance's assumptions", [("table", ["field", "assumption"], [list(n) for n in notes])] if notes else [("p", "None stated in the file.")]))
    return out + [_solved_with(sol)]


def stochastic_blocks(sol: Solution, notes: list[tuple[str, str]]) -> list[tuple[str, str, list]]:
    """Section 13.3: the plan (racks per hall, or with a horizon the fleet schedule), each
    scenario's outcome with its power by slice and its binding limits, the expectation, CVaR and
    worst case, then the regret table (a heatmap and the table), wait-and-see, EVPI and VSS, and
    the notes; every figure in the objective's unit."""
    u = sol.uncertainty
    headline = stochastic_headline(sol)
    out = [("headline", "Headline: one purchase plan for every scenario", [("p", line) for line in headline])]
    out += _warnings(sol)
    schedule = fleet(sol)
    if schedule is not None:
        plan = [("p", "Racks alive per period (+bought, -retired at its start), the same in every scenario:"), ("table", *timeline_table(schedule))]
        if sol.refresh:
            plan += [("p", "Vintages retired before their life ends:"), ("table", *refresh_table(sol))]
    else:
        plan = [("p", "Racks per hall, the same in every scenario:"), ("table", *mix_table(sol))]
    if sol.lots:
        plan += [("p", "Bought in whole lots:"), ("table", *lots_table(sol))]
    if sol.halls:
        plan += [("p", "Hall slots (racks):"), ("table", *hall_table(sol))]
    if sol.fabric is not None:
        plan += [("p", "Scale-out fabric:"), ("table", *fabric_table(sol))]
    out.append(("plan", "The plan (first stage)", plan))
    first = u.scenarios[0].solution
    out.append(("scenarios", f"Scenarios: the plan in each future (objective: {u.objective}, {objective_scale(sol)[1]})",
                [("table", *scenario_table(sol))]))
    if is_sliced(first):
        groups = [(f"{o.name} {p.year}" if first.periods else o.name, p.slices) for o in u.scenarios for p in (o.solution.periods or [o.solution])]
        out.append(("scenario-slices", "Power by slice in each scenario: facility power against the slice's grid, tokens by tier", [
            ("svg", _svg(slice_figure(groups))),
            ("p", "Revenue and energy are what the slice's hours earn and cost per year."), ("table", *scenario_slice_table(sol))]))
    elif first.periods:
        out.append(("scenario-slices", "Tokens and power per scenario and period", [("table", *scenario_period_table(sol))]))
    out.append(("outlook", f"Expectation, CVaR and worst case ({u.unit})", [("table", *outlook_table(sol))]))
    out.append(market_block(sol))
    if u.regret:
        out.append(("regret", f"Regret table, EVPI and VSS ({u.unit})", [
            ("p", "Each row is a plan (the stochastic plan, and each scenario's own optimal plan), each column a scenario: the plan's "
                  "capacity fixed and the scenario re-optimised, or infeasible where the plan cannot meet it. In the picture the shade is "
                  "the regret: how far the plan falls short of the best plan in that column."),
            ("svg", _svg(regret_figure(u))), ("table", *regret_table(sol)), ("table", *foresight_table(sol)),
            *[("p", line) for line in [gap_caveat(sol)] if line]]))
    else:
        out.append(("regret", "Regret table, EVPI and VSS", [("p", REGRET_SKIPPED)]))
    if u.notes:
        out.append(("scenario-notes", "Notes on the scenarios", [("p", n) for n in u.notes]))
    if sol.tiers:
        out.append(("tiers", "Tiers: the expectation over the scenarios", [("table", *tier_table(sol))]))
    out.append(("limits", "Binding limits per scenario", [("table", *scenario_binding_table(sol))]))
    out.append(("shadow-prices", "Shadow prices (LP with the integers fixed)", [
        ("p", "The change of E[Z] per unit of a limit; scenario[NAME]. names the scenario it holds in."), ("table", *shadow_table(sol)),
        ("p", f"{sum(1 for s in sol.shadow_prices if s.value == 0)} other limits have a shadow price of 0 with the racks fixed.")]))
    out.append(("assumptions", "The instance's assumptions", [("table", ["field", "assumption"], [list(n) for n in notes])] if notes else [("p", "None stated in the file.")]))
    return out + [_solved_with(sol)]


def _marginal(sol: Solution) -> list[tuple[str, str, list]]:
    """Section 14: each site limit moved and re-solved, beside the LP duals (racks held fixed)."""
    if not sol.marginal_values:
        return []
    return [("marginal-values", "What each limit is worth, re-solved with the limit moved (racks free to change)", [
        ("p", "Each limit is moved by delta (1% of it, at least one unit) up and down and the plan solved again; the shadow "
              "prices above hold the racks fixed, these do not."), ("table", *marginal_table(sol))])]


def slice_blocks(sol: Solution) -> list[tuple[str, str, list]]:
    """Section 12.4: the year's tiers, then per slice its hours, tokens, money, busy racks,
    allocation, and the power chain and heat against that slice's own limits."""
    s = sol.slices
    top = max(s, key=lambda x: x.power.total_mw)
    return [
        ("tiers", "Tokens and revenue per tier over the year (mean tokens/s over the slices' hours, revenue summed)",
         [("table", *tier_table(sol))]),
        ("slices", "Slices of the year: facility power against each slice's grid, tokens by tier", [
            ("svg", _svg(slice_figure([("", s)]))),
            ("p", "Revenue and energy are what the slice's hours earn and cost per year."), ("table", *slice_table(s))]),
        ("slice-tiers", "Tokens and revenue per tier in each slice", [("table", *slice_tier_table(s))]),
        ("utilisation", "Busy racks per slice", [("table", *slice_busy_table(s))]),
        ("allocation", "Allocation per slice (rack-equivalents)", [("table", *slice_allocation_table(s))]),
        ("power", "Power chain per slice, grid to IT", [
            ("p", f"The chart is the busiest slice's, {top.name}: {num(top.power.total_mw)} of {num(top.power.grid_mw)} MW."),
            ("svg", power_chart(sol)), ("table", *slice_power_table(s))]),
        ("heat", "Heat per slice against each cooling loop", [
            ("p", f"The chart is the busiest slice's, {top.name}."), ("svg", heat_chart(sol)), ("table", *slice_heat_table(s))]),
    ]


def _busiest(sol: Solution) -> list[list[str]]:
    """The headline row of a sliced plan: the busiest slice, the one the grid is sized for."""
    if not sol.slices:
        return []
    top = max(sol.slices, key=lambda x: x.power.total_mw)
    return [["busiest slice (facility power)", f"{top.name}: {num(top.power.total_mw)} of {num(top.power.grid_mw)} MW"]]


def _once(sol: Solution) -> list[tuple[str, str]]:
    """With slices, what the binding table's '-' means."""
    return [("p", "Each limit names the slice it holds in; '-': it holds once, on the capacity or the year's totals.")] if is_sliced(sol) else []


def _warnings(sol: Solution) -> list[tuple[str, str, list]]:
    """What a planner should hear before the plan (and, for numerical_trouble, what it breaks)."""
    items = [("p", w) for w in sol.problems + sol.warnings]
    return [("warnings", "Warnings", items)] if items else []


def _solved_with(sol: Solution) -> tuple[str, str, list]:
    """The versions and HiGHS options the plan was solved with."""
    rows = [[f"{k} version", v] for k, v in sol.versions.items()]
    rows += [[f"HiGHS option {k}", "-" if v is None else str(v)] for k, v in sol.solver_options.items()]
    return ("solved-with", "Solved with", [("table", ["what", "value"], rows)])


CSS = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}h2{border-bottom:1px solid #aaa;margin-top:1.5em}svg{max-width:100%;height:auto}"""


def to_html(inst: Instance, sol: Solution, exp: Explanation | None, notes: list[tuple[str, str]]) -> str:
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(sol.instance)}: plan</title><style>{CSS}</style></head><body>",
             f"<h1>{html.escape(sol.instance)}</h1>"]
    for sid, title, items in blocks(inst, sol, exp, notes):
        parts.append(f"<section id='{sid}'><h2>{html.escape(title)}</h2>")
        for item in items:
            if item[0] == "p":
                parts.append(f"<p>{html.escape(item[1])}</p>")
            elif item[0] == "table":
                parts.append(_table(item[1], item[2]))
            else:
                parts.append(f"<figure>{item[1]}</figure>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def to_markdown(inst: Instance, sol: Solution, exp: Explanation | None, notes: list[tuple[str, str]]) -> str:
    parts = [f"# {sol.instance}"]
    for sid, title, items in blocks(inst, sol, exp, notes):
        parts.append(f"\n## {title}\n")
        for item in items:
            if item[0] == "p":
                parts.append(item[1] + "\n")
            elif item[0] == "table":
                parts.append(_md_table(item[1], item[2]) + "\n")
    return "\n".join(parts)
