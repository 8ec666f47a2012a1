"""The report of a stochastic plan (MODEL.md section 13.3): the first stage, each scenario, the
expectation, CVaR and worst case, the regret table, EVPI and VSS, as tables ``report`` and
``document`` render (rich in the terminal, HTML and Markdown in files)."""

from __future__ import annotations

from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..solving.results import MARKET_FIELDS, HorizonMetrics, Solution, fleet
from .report import (
    MARKET_NOTE,
    MARKET_TITLE,
    _filled,
    _share,
    binding_table,
    fabric_table,
    hall_table,
    is_sliced,
    lots_table,
    market_hardware_table,
    mix_table,
    money,
    num,
    period_slices,
    refresh_table,
    shadow_table,
    slice_bars,
    slice_table,
    solved_with,
    tier_table,
    timeline_table,
)


REGRET_SKIPPED = ("The regret table, the wait-and-see value, EVPI and VSS were skipped (solved with --no-regret, or "
                  "solve(regret=False)): solve again without --no-regret to get them, at one solve of every plan in every scenario.")


def _in_unit(x: float | None, unit: str) -> str:
    return "-" if x is None else f"{num(x)} {unit}"


def objective_scale(sol: Solution) -> tuple[float, str]:
    """(factor, unit) for the columns of Z in the scenario and regret tables: millions of the
    objective's unit once a figure reaches 1e9 (to the nearest million, 3,343,793 million USD),
    else the unit itself, so that a row of scenarios stays on one line."""
    u = sol.uncertainty
    figures = [o.value for o in u.scenarios] + [c.value for r in u.regret for c in r.cells]
    top = max([abs(x) for x in figures if x is not None] + [0.0])
    return (1e6, f"million {u.unit}") if top >= 1e9 else (1.0, u.unit)


def _short(unit: str) -> str:
    """A unit for a column head: 'USD' of 'USD (net present value)' (the title gives it whole)."""
    return unit.split(" (")[0]


def _mean(sol: Solution) -> str:
    """'mean ' where a plan's tokens and power are means (over the slices' hours or the years)."""
    return "mean " if sol.periods or sol.slices else ""


def scenario_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """One row per scenario ω: π_ω, Z_ω (the objective's unit), revenue, cost and profit (with a
    horizon: discounted totals and the NPV, USD), tokens/s and facility power (MW; with slices or a
    horizon their means), and how many limits bind in ω (listed in the binding limits table)."""
    u = sol.uncertainty
    first = u.scenarios[0].solution
    horizon = isinstance(first.metrics, HorizonMetrics)
    money_head = ["discounted revenue USD", "discounted cost USD", "NPV USD"] if horizon else ["revenue USD/yr", "cost USD/yr", "profit USD/yr"]
    factor, unit = objective_scale(sol)
    head = ["scenario", "probability", f"objective {_short(unit)}", *money_head, f"{_mean(first)}tokens/s", f"{_mean(first)}facility MW",
            "binding limits"]
    rows = []
    for o in u.scenarios:
        m = o.solution.metrics
        if m is None:
            rows.append([o.name, f"{o.probability:.4g}", o.solution.status, *["-"] * (len(head) - 3)])
            continue
        if horizon:
            figures = [money(m.discounted_revenue_usd), money(m.discounted_cost_usd), money(m.npv_usd), num(m.mean_tokens_per_s),
                       num(m.mean_facility_power_mw)]
        else:
            figures = [money(m.revenue_usd_per_year), money(m.cost_usd_per_year), money(m.profit_usd_per_year), num(m.tokens_per_s),
                       num(m.facility_power_mw)]
        rows.append([o.name, f"{o.probability:.4g}", _scaled(o.value, factor), *figures, num(len(o.solution.binding))])
    return head, rows


def scenario_slice_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """Each scenario's slices (section 12.4; with a horizon per period): hours, tokens, money and
    facility power against the slice's grid, the rows of :func:`slice_table` with the scenario in front."""
    head, rows = [], []
    for o in sol.uncertainty.scenarios:
        head, body = period_slices(o.solution, slice_table) if o.solution.periods else slice_table(o.solution.slices)
        rows += [[o.name, *r] for r in body]
    return ["scenario", *head], rows


def scenario_period_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """With a horizon: each scenario's tokens, revenue and facility power per period against its grid."""
    rows = [[o.name, str(p.year), num(p.tokens_per_s), money(p.cash.revenue_usd_per_year), num(p.power.total_mw), num(p.power.grid_mw),
             _share(p.power.total_mw, p.power.grid_mw)] for o in sol.uncertainty.scenarios for p in o.solution.periods]
    return ["scenario", "year", "tokens/s", "revenue USD/yr", "facility MW", "grid MW", "share of grid"], rows


def scenario_market_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """The market check of each scenario's plan (with a horizon per period): racks, revenue and cost
    per rack-hour (USD per rack-hour, a year of 8,760 h) and per million output tokens; then,
    without a horizon, the expectation: E[revenue] / (racks x 8,760 h), E[cost] / E[output tokens]
    (ratios of expectations, as the plan's metrics hold them)."""
    multi = bool(sol.uncertainty.scenarios[0].solution.periods)
    head = ["scenario", *(["year"] if multi else []), "probability", "racks", "revenue USD/rack-hour", "cost USD/rack-hour",
            "revenue USD per million output tokens", "cost USD per million output tokens"]

    def figures(x, racks):
        if x is None:
            return ["-"] * 5
        return [num(racks), *[num(getattr(x, k), 4) for k in MARKET_FIELDS]]

    rows = []
    for o in sol.uncertainty.scenarios:
        if multi:
            rows += [[o.name, str(p.year), f"{o.probability:.4g}", *figures(p, p.racks_alive)] for p in o.solution.periods]
        else:
            m = o.solution.metrics
            rows.append([o.name, f"{o.probability:.4g}", *figures(m, None if m is None else m.racks)])
    if not multi and sol.metrics is not None:
        rows.append(["expectation (ratios of expectations)", "1", *figures(sol.metrics, sol.metrics.racks)])
    return head, rows


def scenario_binding_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """The binding limits of each scenario's plan (its own rows, without the ``scenario[ω].`` prefix
    the extensive form's constraints carry); with slices each names its slice, as :func:`binding_table`."""
    head, rows = ["constraint", "usage", "limit", "unit"], []
    for o in sol.uncertainty.scenarios:
        head, body = binding_table(o.solution)
        rows += [[o.name, *r] for r in body]
    return ["scenario", *head], rows


def outlook_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """E[Z] = Σ_ω π_ω·Z_ω (tokens_per_watt: E[TOK] / E[F]), CVaR_α(Z), the mean of the worst (1 - α)
    of outcomes (for min_cost the costliest), the worst scenario, and with a risk weight w the
    objective (1 - w)·E[Z] + w·CVaR_α(Z); every figure in the objective's unit."""
    u = sol.uncertainty
    tail = "costliest" if u.objective == "min_cost" else "worst"
    ratio = u.objective == "tokens_per_watt"
    rows = [["expected value, E[TOK] / E[F]" if ratio else "expected value, E[Z] (probability-weighted)", _in_unit(u.expected, u.unit)],
            [f"CVaR at alpha {u.alpha:g}: the mean of the {tail} {100 * (1 - u.alpha):.3g}% of outcomes",
             "not defined for tokens_per_watt (a ratio of expectations)" if u.cvar is None else _in_unit(u.cvar, u.unit)],
            [f"worst scenario: {u.worst_scenario}", _in_unit(u.worst, u.unit)]]
    if u.weight > 0:
        rows.append([f"objective: (1 - {u.weight:g}) E[Z] + {u.weight:g} CVaR", _in_unit(sol.objective.value, u.unit)])
    return ["figure", "value"], rows


def plan_label(plan: str) -> str:
    """A regret row's plan: the stochastic one, or a scenario's own optimum."""
    return "stochastic (this plan)" if plan == "stochastic" else f"optimal for {plan} alone"


def racks_text(racks: dict[str, int], sep: str = ", ") -> str:
    """'4,248 vr-nvl72, 124 lpx'."""
    return sep.join(f"{n:,} {h}" for h, n in racks.items() if n) or "none"


def regret_table(sol: Solution, sep: str = ", ") -> tuple[list[str], list[list[str]]]:
    """Section 13.3's regret table: a row per plan (the stochastic plan, each scenario's own
    optimum) with its racks per hardware (bought over the horizon, with one), a column per
    scenario holding Z with the plan's capacity fixed and the scenario re-optimised (``infeasible``
    where the plan cannot meet it), then the row's E[Z], CVaR_α and worst cell. ``sep`` parts the
    racks of one plan ("\\n" in the terminal: a system a line)."""
    u = sol.uncertainty
    names = [o.name for o in u.scenarios]
    tail = u.objective != "tokens_per_watt"
    factor, unit = objective_scale(sol)
    unit = _short(unit)
    head = ["plan", "racks bought over the horizon" if fleet(sol) is not None else "racks", *[f"{w} {unit}" for w in names],
            f"expected {unit}", *([f"CVaR {u.alpha:g} {unit}"] if tail else []), f"worst {unit}"]
    rows = []
    for r in u.regret:
        cells = {c.scenario: c for c in r.cells}
        missing = next((c.status for c in r.cells if c.value is None), "-")  # why the row has no expectation
        figures = [r.expected, *([r.cvar] if tail else []), r.worst]
        rows.append([plan_label(r.plan), racks_text(r.racks, sep), *[_cell(cells.get(w), factor) for w in names],
                     *[missing if x is None else _scaled(x, factor) for x in figures]])
    return head, rows


def _scaled(x: float | None, factor: float) -> str:
    return num(None if x is None else x / factor)


def _cell(c, factor: float) -> str:
    """A regret cell: Z in the table's unit, its status where no plan was found (``infeasible``),
    or both where the time limit cut the solve short."""
    if c is None:
        return "-"
    if c.value is None:
        return c.status
    return _scaled(c.value, factor) if c.status == "optimal" else f"{_scaled(c.value, factor)} ({c.status})"


def foresight_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """Wait-and-see WS = E[each scenario's own optimum], EVPI = WS - E[Z] of the stochastic plan
    (min_cost: the other way round) and VSS = E[Z] of the stochastic plan - that of the first
    scenario's own plan (section 13.3), in the objective's unit."""
    u = sol.uncertainty
    first = u.scenarios[0].name
    evpi = "stochastic - wait-and-see" if u.objective == "min_cost" else "wait-and-see - stochastic"
    rows = [["wait-and-see: E[each scenario's own optimum]", _in_unit(u.wait_and_see, u.unit)],
            [f"EVPI, what perfect foresight would be worth ({evpi})", _in_unit(u.evpi, u.unit)],
            [f"VSS, what planning for every scenario earns over the plan for {first} alone", _in_unit(u.vss, u.unit)]]
    return ["figure", "value"], rows


def gap_caveat(sol: Solution) -> str | None:
    """What the MIP gaps leave uncertain in the regret table: its cells are solved to a relative gap
    of min(the user's, 1e-6) (``solving.regret.GAP``), the stochastic plan itself to the user's, so
    it may lie up to its proven gap times |E[Z]| below the best plan."""
    from ..solving.regret import GAP

    gap = sol.solver_options.get("mip_rel_gap")
    u = sol.uncertainty
    if not gap or not u.regret:
        return None
    cells = min(gap, GAP)
    proven = sol.mip_gap if sol.mip_gap is not None else gap
    text = f"Every cell is solved to a relative MIP gap of {cells:g}"
    if proven > cells:
        text += (f"; the stochastic plan itself was proven within {proven:.2g} of the best (about {num(proven * abs(u.expected))} "
                 f"{u.unit}), so an EVPI or VSS below that is within the solver's tolerance: solve with --mip-gap {cells:g} to settle it.")
    else:
        text += f": differences below about {num(cells * abs(u.expected))} {u.unit} are within the solver's tolerance."
    return text


def stochastic_headline(sol: Solution) -> list[str]:
    """The headline of a stochastic plan as plain lines: status, the objective (E[Z], or with risk
    (1 - w)·E[Z] + w·CVaR), the expected money, tokens and power, the worst scenario and the CVaR."""
    u, o, m = sol.uncertainty, sol.objective, sol.metrics
    gap = "-" if sol.mip_gap is None else f"{sol.mip_gap:.2g}"
    what = f"(1 - {u.weight:g}) E[Z] + {u.weight:g} CVaR" if u.weight > 0 else "E[Z]"
    lines = [f"{sol.instance}: {sol.status} ({sol.message}), one plan for {len(u.scenarios)} scenarios "
             f"({', '.join(f'{s.name} {s.probability:g}' for s in u.scenarios)})",
             f"objective {o.name} ({o.sense}), {what} = {num(o.value)} {o.unit}, MIP gap {gap}"]
    if isinstance(m, HorizonMetrics):
        lines.append(f"expected NPV {money(m.npv_usd)}: discounted revenue {money(m.discounted_revenue_usd)} - cost "
                     f"{money(m.discounted_cost_usd)}; purchases {money(m.capex_usd)} (undiscounted)")
        lines.append(f"expected {num(m.mean_tokens_per_s)} tokens/s on average, {num(m.tokens_per_joule)} tokens/J, "
                     f"{num(m.mean_facility_power_mw)} MW on average")
    else:
        mean = " (mean over the year)" if u.scenarios[0].solution.slices else ""
        lines.append(f"expected revenue {money(m.revenue_usd_per_year)}/yr, cost {money(m.cost_usd_per_year)}/yr, "
                     f"profit {money(m.profit_usd_per_year)}/yr; capex {money(m.capex_usd)}")
        lines.append(f"expected tokens {num(m.tokens_per_s)} tokens/s{mean}, {num(m.tokens_per_joule)} tokens/J, "
                     f"facility power {num(m.facility_power_mw)} MW{mean}")
    cvar = "" if u.cvar is None else f"; CVaR at alpha {u.alpha:g}: {num(u.cvar)} {u.unit}"
    lines.append(f"worst scenario {u.worst_scenario}: {num(u.worst)} {u.unit}{cvar}")
    size = sol.model_size
    lines.append(f"solved in {sol.solve_seconds:.2f} s" + ("" if size is None else f"; extensive form {size.variables} variables "
                 f"({size.integer_variables} integer), {size.constraints} constraints"))
    return lines


def _whole(t: Table, start: int) -> Table:
    """The table with its columns from ``start`` on at least as wide as their widest figure: long
    figures stay on one line and the headers and text columns wrap instead."""
    for c in t.columns[start:]:
        c.min_width = max([len(str(cell)) for cell in c.cells] + [1])
    return t


def stochastic_sections(sol: Solution) -> list:
    """Section 13.3 in the terminal: the plan (first stage), each scenario's outcome, the
    expectation, CVaR and worst case, the regret table with wait-and-see, EVPI and VSS (or why it
    is missing), the notes, the expected tiers, and each scenario's binding limits and prices."""
    u = sol.uncertainty
    lines = [escape(x) for x in stochastic_headline(sol)] + [escape(solved_with(sol))]
    out: list = [Panel("\n".join(lines), title="stochastic plan: one purchase plan for every scenario")]
    schedule = fleet(sol)
    if schedule is not None:
        out.append(_filled("The plan: racks alive per period (+bought, -retired at its start), the same in every scenario",
                           timeline_table(schedule)))
    else:
        out.append(_filled("The plan: racks per hall, in every scenario", mix_table(sol)))
    if sol.lots:
        out.append(_filled("Bought in lots", lots_table(sol)))
    if schedule is not None and sol.refresh:
        out.append(_filled("Refresh: vintages retired before their life ends", refresh_table(sol)))
    if sol.halls:
        out.append(_filled("Hall slots (racks)", hall_table(sol)))
    if sol.fabric is not None:
        out.append(_filled("Scale-out fabric", fabric_table(sol)))
    first = u.scenarios[0].solution
    out.append(_whole(_filled(f"Scenarios: the plan in each future (objective: {u.objective}, {objective_scale(sol)[1]})",
                              scenario_table(sol)), 2))
    if is_sliced(first):
        label = (lambda o, p, s: f"{o.name} {p.year} {s.name}") if first.periods else (lambda o, p, s: f"{o.name} {s.name}")
        out.append(Text("Facility power per scenario and slice against that slice's grid connection", style="bold"))
        out.append(slice_bars([(label(o, p, s), s.power) for o in u.scenarios for p in (o.solution.periods or [o.solution])
                               for s in p.slices]))
        out.append(_filled("Slices per scenario (revenue and energy: what the slice's hours earn and cost per year)",
                           scenario_slice_table(sol)))
    elif first.periods:
        out.append(_filled("Tokens and power per scenario and period", scenario_period_table(sol)))
    out.append(_filled(f"Expectation, CVaR and worst case ({u.unit})", outlook_table(sol)))
    t = _filled(f"{MARKET_TITLE}, per scenario", scenario_market_table(sol))
    t.caption = MARKET_NOTE
    out.append(t)
    if sol.market:
        out.append(_filled("Cost of a rack-hour per hardware, the expectation over the scenarios (fabric not included)",
                           market_hardware_table(sol.market)))
    if u.regret:
        title = f"Regret table: each plan's capacity fixed, each scenario re-optimised ({objective_scale(sol)[1]})"
        out.append(_whole(_filled(title, regret_table(sol, "\n")), 2))
        t = _filled(f"What foresight and planning for uncertainty are worth ({u.unit})", foresight_table(sol))
        t.caption = gap_caveat(sol)
        out.append(t)
    else:
        out.append(Text(REGRET_SKIPPED, style="bold"))
    if u.notes:
        out.append(Panel("\n".join(f"- {escape(n)}" for n in u.notes), title="notes on the scenarios"))
    if sol.tiers:
        out.append(_filled("Tiers: the expectation over the scenarios", tier_table(sol)))
    out.append(_filled("Binding limits per scenario", scenario_binding_table(sol)))
    t = _filled("Shadow prices (LP with the integers fixed; change of E[Z] per unit of the limit in scenario[NAME])", shadow_table(sol))
    zero = sum(1 for s in sol.shadow_prices if s.value == 0)
    if zero:
        t.caption = f"{zero} other limits have a shadow price of 0"
    out.append(t)
    return out


