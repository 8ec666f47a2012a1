"""A readable report of a :class:`~optimizer.solving.results.Solution` (rich tables, units everywhere)."""

from __future__ import annotations

import io
import math

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..solving.results import MarketRow, PowerRow, SliceResult, Solution


def num(x: float | None, digits: int = 3) -> str:
    """A number a planner can read: thousands separators, 3 significant digits for small ones."""
    if x is None:
        return "-"
    if not math.isfinite(x):
        return str(x)
    a = abs(x)
    if a == 0:
        return "0"
    if a < 1e15 and abs(x - round(x)) <= 1e-9 * a:  # an integer, or one but for the solver's round-off
        return f"{round(x):,}"
    if a >= 1e5:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:,.1f}"
    return f"{x:.{digits}g}"


def money(x: float) -> str:
    a = abs(x)
    if a >= 1e9:
        return f"${x / 1e9:,.2f}B"
    if a >= 1e6:
        return f"${x / 1e6:,.2f}M"
    return f"${x:,.0f}"


class _Table(Table):
    """A table whose cells are plain text: names like ``hall_slots[a]`` are not rich markup."""

    def add_row(self, *cells, **kw):  # noqa: D102
        super().add_row(*[Text(str(c)) for c in cells], **kw)


def _table(title: str, *columns: str) -> Table:
    t = _Table(title=Text(title), title_justify="left", title_style="bold")
    for i, c in enumerate(columns):
        t.add_column(Text(c), justify="left" if i == 0 else "right", overflow="fold")
    return t


# --------------------------------------------------------------------------- tables, any renderer


def mix_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """Racks per hardware and hall, with totals."""
    halls = sorted({r.hall for r in sol.racks})
    rows = []
    for hw in sorted({r.hardware for r in sol.racks}):
        counts = [sum(r.count for r in sol.racks if r.hardware == hw and r.hall == z) for z in halls]
        rows.append([hw, *[num(c) for c in counts], num(sum(counts))])
    return ["hardware", *halls, "total"], rows


def lots_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """Racks bought in whole lots (section 14), beside the racks they make."""
    head = ["hardware", *(["year"] if sol.periods else []), "lot (racks)", "lots bought", "racks bought"]
    rows = [[r.hardware, *([str(r.year)] if sol.periods else []), num(r.lot_racks), num(r.lots), num(r.racks)] for r in sol.lots]
    return head, rows


def tier_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """The tiers of the plan; with slices the year's (section 12.4): mean tokens/s over the slices'
    hours, revenue summed over them, output and input apart, prices as realised."""
    if not sol.slices:
        head = ["tier", "USD/Mtok", "tok/s/user floor", "tokens/s", "aggregated tokens/s", "disaggregated tokens/s", "revenue USD/yr"]
        rows = [[r.tier, num(r.price_usd_per_mtok), num(r.min_interactivity), num(r.tokens_per_s), num(r.aggregated_tokens_per_s),
                 num(r.disaggregated_tokens_per_s), money(r.revenue_usd_per_year)] for r in sol.tiers]
        return head, rows
    head = ["tier", "output USD/Mtok (realised)", "input USD/Mtok (realised)", "tok/s/user floor", "mean tokens/s", "mean aggregated tokens/s",
            "mean disaggregated tokens/s", "output revenue USD/yr", "input revenue USD/yr", "revenue USD/yr"]
    rows = [[r.tier, num(r.price_usd_per_mtok), num(r.input_price_usd_per_mtok), num(r.min_interactivity), num(r.tokens_per_s),
             num(r.aggregated_tokens_per_s), num(r.disaggregated_tokens_per_s), money(r.output_revenue_usd_per_year),
             money(r.input_revenue_usd_per_year), money(r.revenue_usd_per_year)] for r in sol.tiers]
    return head, rows


def tier_title(sol: Solution) -> str:
    return "Tiers over the year (mean tokens/s over the slices' hours; revenue summed over the slices)" if sol.slices else "Tiers served"


def power_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    p = sol.power
    items = (("IT", p.it_mw), ("network", p.network_mw), ("distribution losses", p.losses_mw), ("cooling", p.cooling_mw),
             ("total facility", p.total_mw), ("grid connection", p.grid_mw))
    return ["item", "MW", "share of grid"], [[k, num(v), f"{100 * v / p.grid_mw:.1f}%" if p.grid_mw > 0 else "-"] for k, v in items]


def heat_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    rows = [[h.loop, num(h.load_mw), num(h.capacity_mw), f"{100 * h.load_mw / h.capacity_mw:.1f}%" if h.capacity_mw > 0 else "-"]
            for h in sol.heat]
    return ["loop", "heat MW", "capacity MW", "use"], rows


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole > 0 else "-"


# --------------------------------------------------------------------------- the market check


MARKET_TITLE = "Market check (USD per rack-hour, a year of 8,760 h; USD per million output tokens)"
MARKET_NOTE = ("Per rack-hour: over every rack of the plan, installed ones included. Per million output tokens: over every output "
               "token served, free tiers included; revenue includes input-token revenue. A hardware's ownership is its capex annuity "
               "and opex; the scale-out fabric's annuity and power are not in it, they are in the plan's cost per rack-hour. Energy is "
               "one rack at full power through the facility's losses and cooling.")


def market_table(columns: list[tuple[str, object]]) -> tuple[list[str], list[list[str]]]:
    """The market check's figures, one column per (label, figures): a plan's metrics, or each
    period of a horizon (``racks_alive``); '-' where there are no racks or no tokens."""
    def racks(x):  # a period's racks alive, or a plan's racks
        return x.racks_alive if hasattr(x, "racks_alive") else x.racks

    items = (("racks", "racks", racks),
             ("revenue per rack-hour", "USD/rack-hour", lambda x: x.revenue_usd_per_rack_hour),
             ("cost per rack-hour (annuities, opex, energy)", "USD/rack-hour", lambda x: x.cost_usd_per_rack_hour),
             ("blended revenue per million output tokens", "USD per million output tokens", lambda x: x.revenue_usd_per_mtok),
             ("cost per million output tokens (free tiers included)", "USD per million output tokens", lambda x: x.cost_usd_per_mtok))
    rows = [[name, unit, *[num(get(x), 4) for _, x in columns]] for name, unit, get in items]  # 4 figures: cents of a rack-hour
    return ["figure", "unit", *[label for label, _ in columns]], rows


def market_hardware_table(rows: list[MarketRow], year: int | None = None) -> tuple[list[str], list[list[str]]]:
    """Each hardware's rack-hour: capex annuity and opex (USD/yr), ownership, facility kW and
    energy at full power, and their sum (USD/rack-hour); with ``year`` a column for it."""
    head = [*(["year"] if year is not None else []), "hardware", "racks", "installed racks", "capex annuity USD/yr", "opex USD/yr",
            "ownership USD/rack-hour", "facility kW per rack at full power", "energy USD/rack-hour at full power",
            "ownership + energy USD/rack-hour"]
    body = [[*([str(year)] if year is not None else []), r.hardware, num(r.racks), num(r.installed_racks), money(r.capital_usd_per_year),
             money(r.opex_usd_per_year), num(r.ownership_usd_per_rack_hour, 4), num(r.facility_kw_per_rack, 4),
             num(r.energy_usd_per_rack_hour, 4), num(r.total_usd_per_rack_hour, 4)] for r in rows]
    return head, body


def period_market_hardware_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """:func:`market_hardware_table` over every period of a horizon, the year in front."""
    head = market_hardware_table([], 0)[0]
    return head, [row for p in sol.periods for row in market_hardware_table(p.market, p.year)[1]]


# --------------------------------------------------------------------------- slices of the year (section 12.4)


def slice_table(slices: list[SliceResult]) -> tuple[list[str], list[list[str]]]:
    """One row per slice: its hours, tokens, money and facility power against its grid."""
    head = ["slice", "hours h/yr", "tokens/s", "revenue USD/yr", "electricity USD/MWh", "energy USD/yr", "facility MW", "grid MW",
            "share of grid"]
    rows = [[s.name, num(s.hours), num(s.tokens_per_s), money(s.revenue_usd_per_year), num(s.electricity_usd_per_mwh),
             money(s.energy_usd_per_year), num(s.power.total_mw), num(s.power.grid_mw), _share(s.power.total_mw, s.power.grid_mw)]
            for s in slices]
    return head, rows


def slice_tier_table(slices: list[SliceResult]) -> tuple[list[str], list[list[str]]]:
    """Tokens and revenue per tier in each slice; revenue is what the slice's hours earn per year."""
    head = ["slice", "tier", "output tokens/s", "input tokens/s", "output USD/Mtok", "input USD/Mtok", "cached input USD/Mtok",
            "output revenue USD/yr", "input revenue USD/yr", "revenue USD/yr"]
    rows = [[s.name, r.tier, num(r.tokens_per_s), num(r.input_tokens_per_s), num(r.price_usd_per_mtok), num(r.input_price_usd_per_mtok),
             num(r.cached_input_price_usd_per_mtok), money(r.output_revenue_usd_per_year), money(r.input_revenue_usd_per_year),
             money(r.revenue_usd_per_year)] for s in slices for r in s.tiers]
    return head, rows


def slice_busy_table(slices: list[SliceResult]) -> tuple[list[str], list[list[str]]]:
    """Busy rack-equivalents B_hs and utilisation B_hs / n_h per hardware in each slice."""
    rows = [[s.name, u.hardware, num(u.racks), num(u.busy_racks), f"{100 * u.utilisation:.1f}%"] for s in slices for u in s.utilisation]
    return ["slice", "hardware", "racks", "busy rack-equivalents", "utilisation (busy / racks)"], rows


def slice_allocation_table(slices: list[SliceResult]) -> tuple[list[str], list[list[str]]]:
    """Rack-equivalents per hardware, tier and role, one column per slice."""
    keys = list(dict.fromkeys((a.hardware, a.tier, a.role) for s in slices for a in s.allocation))
    racks = [{(a.hardware, a.tier, a.role): a.racks for a in s.allocation} for s in slices]
    rows = [[*key, *[num(r.get(key, 0.0)) for r in racks]] for key in keys]
    return ["hardware", "tier", "role", *[f"{s.name} rack-equivalents" for s in slices]], rows


def slice_power_table(slices: list[SliceResult]) -> tuple[list[str], list[list[str]]]:
    """The power chain of each slice against that slice's grid connection (MW)."""
    items = (("IT", "it_mw"), ("network", "network_mw"), ("distribution losses", "losses_mw"), ("cooling", "cooling_mw"),
             ("total facility", "total_mw"), ("grid connection", "grid_mw"))
    rows = [[k, *[num(getattr(s.power, f)) for s in slices]] for k, f in items]
    rows.append(["share of grid", *[_share(s.power.total_mw, s.power.grid_mw) for s in slices]])
    return ["item", *[f"{s.name} MW" for s in slices]], rows


def slice_heat_table(slices: list[SliceResult]) -> tuple[list[str], list[list[str]]]:
    """Heat per cooling loop in each slice against that slice's capacity."""
    rows = [[s.name, h.loop, num(h.load_mw), num(h.capacity_mw), _share(h.load_mw, h.capacity_mw)] for s in slices for h in s.heat]
    return ["slice", "loop", "heat MW", "capacity MW", "use"], rows


def period_slices(sol: Solution, table) -> tuple[list[str], list[list[str]]]:
    """A slice table over every period of a horizon, with the period's year in front."""
    head, _ = table([])
    rows = [[str(p.year), *row] for p in sol.periods for row in table(p.slices)[1]]
    return ["year", *head], rows


def is_sliced(sol: Solution) -> bool:
    return bool(sol.slices) or any(p.slices for p in sol.periods)


def binding_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """Binding limits; with slices each names the slice it holds in ('-': it holds once, on the
    capacity or the year's totals)."""
    rows = [[b.constraint, num(b.usage), num(b.limit), b.unit] for b in sol.binding]
    if not is_sliced(sol):
        return ["constraint", "usage", "limit", "unit"], rows
    where = _slice_of(sol)
    return ["slice", "constraint", "usage", "limit", "unit"], [[where.get(r[0], "-"), *r] for r in rows]


def shadow_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """Non-zero shadow prices; with slices each names the slice its limit holds in."""
    rows = [[s.constraint, num(s.value), s.unit] for s in sol.shadow_prices if s.value != 0]
    if not is_sliced(sol):
        return ["constraint", "value", "unit"], rows
    where = _slice_of(sol)
    return ["slice", "constraint", "value", "unit"], [[where.get(r[0], "-"), *r] for r in rows]


def _slice_of(sol: Solution) -> dict[str, str]:
    """Constraint name -> the slice it holds in, read off each slice's own lists."""
    out = {}
    for slices in [sol.slices, *[p.slices for p in sol.periods]]:
        for s in slices:
            out.update({row.constraint: s.name for row in s.binding + s.shadow_prices})
    return out


# --------------------------------------------------------------------------- multi-year tables (section 11.4)


def timeline_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """Racks alive per hardware per period; '+n' bought, '-n' retired at the period's start."""
    years = [p.year for p in sol.periods]
    hardware = sorted({r.hardware for p in sol.periods for r in p.racks})
    rows = []
    for hw in hardware:
        cells = []
        for p in sol.periods:
            rs = [r for r in p.racks if r.hardware == hw]
            alive, bought, retired = (sum(getattr(r, f) for r in rs) for f in ("alive", "bought", "retired"))
            moves = (f" +{bought:,}" if bought else "") + (f" -{retired:,}" if retired else "")
            cells.append(f"{alive:,}{moves}")
        rows.append([hw, *cells])
    return ["hardware", *[f"{p.year} ({p.years} yr)" for p in sol.periods]], rows if years else []


def refresh_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    head = ["year", "retired early", "vintage", "racks", "life left (yr)", "IT MW freed", "resale USD", "bought that year"]
    rows = [[str(e.year), e.hardware, e.vintage, num(e.racks), num(e.life_left_years), num(e.power_freed_mw), money(e.resale_usd),
             ", ".join(e.replaced_by) or "-"] for e in sol.refresh]
    return head, rows


def period_power_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """MW per period: IT per hardware, network, losses and cooling, total against the grid."""
    hardware = sorted({h for p in sol.periods for h in p.it_mw_by_hardware})
    rows = [[f"IT: {h}", *[num(p.it_mw_by_hardware.get(h, 0.0)) for p in sol.periods]] for h in hardware]
    rows.append(["network", *[num(p.power.network_mw) for p in sol.periods]])
    rows.append(["losses and cooling", *[num(p.power.losses_mw + p.power.cooling_mw) for p in sol.periods]])
    rows.append(["total facility", *[num(p.power.total_mw) for p in sol.periods]])
    rows.append(["grid connection", *[num(p.power.grid_mw) for p in sol.periods]])
    return ["MW", *[str(p.year) for p in sol.periods]], rows


def period_tier_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """Tokens and price per tier and period; with slices the year's (mean tokens/s over the slices)."""
    tiers = [t.tier for t in sol.periods[0].tiers] if sol.periods else []
    rate = "mean tokens/s" if is_sliced(sol) else "tokens/s"
    rows = []
    for k, name in enumerate(tiers):
        rows.append([f"{name} {rate}", *[num(p.tiers[k].tokens_per_s) for p in sol.periods]])
        rows.append([f"{name} USD/Mtok", *[num(p.tiers[k].price_usd_per_mtok) for p in sol.periods]])
    rows.append(["tokens/J", *[num(p.tokens_per_joule) for p in sol.periods]])
    return ["tier", *[str(p.year) for p in sol.periods]], rows


def cash_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """Each period's cash flows, undiscounted, with its discount weight and discounted net."""
    resale = any(p.cash.resale_usd for p in sol.periods)
    head = ["year", "years", "discount weight", "revenue USD/yr", "opex USD/yr", "energy USD/yr", "capital USD (period)",
            "purchases USD", *(["resale USD (racks retired early)"] if resale else []), "discounted net USD"]
    rows = []
    for p in sol.periods:
        c = p.cash
        net = (c.discount_weight * (c.revenue_usd_per_year - c.opex_usd_per_year - c.energy_usd_per_year) - c.capital_discounted_usd
               + c.resale_discounted_usd)
        rows.append([str(p.year), str(p.years), f"{c.discount_weight:.4f}", money(c.revenue_usd_per_year), money(c.opex_usd_per_year),
                     money(c.energy_usd_per_year), money(c.capital_usd), money(c.purchases_usd),
                     *([money(c.resale_usd)] if resale else []), money(net)])
    return head, rows


GLYPHS = "█▓▒░#=+*"


def power_bars(sol: Solution, width: int = 60) -> Text:
    """A stacked text chart of IT power by hardware per period, against the grid."""
    hardware = sorted({h for p in sol.periods for h in p.it_mw_by_hardware})
    top = max([p.power.grid_mw for p in sol.periods] + [p.power.total_mw for p in sol.periods] + [1e-9])
    colors = ["blue", "green", "magenta", "cyan", "yellow", "red", "white", "bright_black"]
    out = Text()
    for p in sol.periods:
        segments = [(p.it_mw_by_hardware.get(h, 0.0), GLYPHS[k % len(GLYPHS)], colors[k % len(colors)]) for k, h in enumerate(hardware)]
        _bar(out, f"{p.year}  ", segments + [(p.power.total_mw - p.power.it_mw, "·", None)], p.power, top, width)
    legend = ", ".join(f"{GLYPHS[k % len(GLYPHS)]} {h}" for k, h in enumerate(hardware))
    out.append(f"      {legend}, · network, losses and cooling; | grid connection")
    return out


def slice_bars(rows: list[tuple[str, PowerRow]], width: int = 60) -> Text:
    """A text chart of each slice's facility power (IT, then network, losses and cooling) against
    that slice's own grid connection; ``rows`` are (label, the slice's power)."""
    top = max([p.grid_mw for _, p in rows] + [p.total_mw for _, p in rows] + [1e-9])
    pad = max([len(k) for k, _ in rows] + [0])
    out = Text()
    for name, p in rows:
        _bar(out, f"{name:<{pad}}  ", [(p.it_mw, GLYPHS[0], "blue"), (p.total_mw - p.it_mw, "·", None)], p, top, width)
    out.append(" " * (pad + 2) + f"{GLYPHS[0]} IT, · network, losses and cooling; | the slice's grid connection")
    return out


def _bar(out: Text, label: str, segments: list[tuple[float, str, str | None]], power: PowerRow, top: float, width: int) -> None:
    """One line of a text chart: (MW, glyph, style) segments on a scale of ``top`` MW, then '|' at the grid."""
    out.append(label)
    used = 0
    for mw, glyph, style in segments:
        cells = round(width * mw / top)
        out.append(glyph * cells, style=style)
        used += cells
    grid = round(width * power.grid_mw / top)
    out.append(" " * max(grid - used, 0) + "|" + f" {num(power.total_mw)} of {num(power.grid_mw)} MW\n")


def horizon_sections(sol: Solution) -> list:
    m = sol.metrics
    obj = sol.objective
    size = sol.model_size
    gap = "-" if sol.mip_gap is None else f"{sol.mip_gap:.2g}"
    first, last = sol.periods[0].year, sol.periods[-1].year + sol.periods[-1].years - 1
    lines = [
        f"[bold]{escape(sol.instance)}[/bold]: [bold]{sol.status}[/bold] ({escape(sol.message)}), {first}-{last} in {len(sol.periods)} periods",
        f"objective [bold]{obj.name}[/bold] ({obj.sense}) = [bold]{num(obj.value)} {escape(obj.unit)}[/bold], MIP gap {gap}",
        f"NPV {money(m.npv_usd)}: discounted revenue {money(m.discounted_revenue_usd)} - opex {money(m.discounted_opex_usd)} "
        f"- energy {money(m.discounted_energy_usd)} - capital {money(m.discounted_capital_usd)}"
        + (f" + resale {money(m.discounted_resale_usd)}" if m.discounted_resale_usd else ""),
        f"purchases {money(m.capex_usd)} (undiscounted); {num(m.mean_tokens_per_s)} tokens/s on average, {num(m.tokens_per_joule)} tokens/J, "
        f"{num(m.mean_facility_power_mw)} MW on average",
        *[escape(line) for line in [marginal_headline(sol)] if line],
        f"solved in {sol.solve_seconds:.2f} s; model {size.variables} variables ({size.integer_variables} integer), {size.constraints} constraints",
    ]
    out: list = [Panel("\n".join(lines), title="multi-year plan")]
    out.append(_filled("Racks alive per period (+bought, -retired at its start)", timeline_table(sol)))
    if sol.lots:
        out.append(_filled("Bought in lots", lots_table(sol)))
    if sol.refresh:
        out.append(_filled("Refresh: vintages retired before their life ends", refresh_table(sol)))
    else:
        out.append(Text("No rack is retired before its life ends.", style="bold"))
    sliced = is_sliced(sol)
    busiest = " of each period's busiest slice" if sliced else ""
    out.append(Text(f"IT power by hardware (stacked) against the grid{busiest}", style="bold"))
    out.append(power_bars(sol))
    out.append(_filled(f"Power per period (MW{busiest})", period_power_table(sol)))
    if sliced:
        out.append(Text("Facility power per period and slice against that slice's grid connection", style="bold"))
        out.append(slice_bars([(f"{p.year} {s.name}", s.power) for p in sol.periods for s in p.slices]))
        out.append(_filled("Slices per period (revenue and energy: what the slice's hours earn and cost per year)", period_slices(sol, slice_table)))
        out.append(_filled("Tokens and revenue per tier, period and slice", period_slices(sol, slice_tier_table)))
        out.append(_filled("Busy racks per period and slice", period_slices(sol, slice_busy_table)))
    out.append(_filled("Tiers per period (the year's: mean tokens/s over the slices' hours)" if sliced else "Tiers per period", period_tier_table(sol)))
    out.append(_filled("Cash flows per period (undiscounted; discounted net = weight x yearly flows - discounted capital)", cash_table(sol)))
    out += market_sections(sol)
    ports = [[str(p.year), num(p.fabric.endpoint_ports) if p.fabric else "0", num(p.added_ports),
              f"{p.fabric.option}:{p.fabric.switch_tiers}" if p.fabric else "-"] for p in sol.periods]
    if any(p.fabric for p in sol.periods):
        out.append(_filled("Scale-out fabric (one design for the horizon)", (["year", "endpoint ports", "ports added", "design"], ports)))
    return out


def _filled(title: str, table: tuple[list[str], list[list[str]]]) -> Table:
    head, rows = table
    t = _table(title, *head)
    for row in rows:
        t.add_row(*row)
    return t


def render(sol: Solution, console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:  # piped or redirected: do not squeeze tables into 80 columns
            console = Console(width=140)
    for part in sections(sol):
        console.print(part)


def sections(sol: Solution) -> list:
    head = f"[bold]{escape(sol.instance)}[/bold]: [bold]{sol.status}[/bold] ({escape(sol.message)})"
    out: list = []
    warnings = sol.problems + sol.warnings
    if not sol.has_plan:
        lines = [head]
        lines += [f"  reason: {escape(h)}" for h in sol.hints]
        lines += [f"  warning: {escape(w)}" for w in warnings]
        if sol.model_size:
            lines.append(f"model: {sol.model_size.variables} variables ({sol.model_size.integer_variables} integer), {sol.model_size.constraints} constraints")
        out.append(Panel("\n".join(lines), title="no plan"))
        return out
    if sol.uncertainty is not None:
        from .stochastic import stochastic_sections  # the other way round, stochastic.py reads this module's tables

        return _warned(stochastic_sections(sol), warnings)
    if sol.periods:
        out = _warned(horizon_sections(sol), warnings)
        out += _limits(sol)
        return out
    m = sol.metrics
    obj = sol.objective
    gap = "-" if sol.mip_gap is None else f"{sol.mip_gap:.2g}"
    size = sol.model_size
    lines = [
        head,
        f"objective [bold]{obj.name}[/bold] ({obj.sense}) = [bold]{num(obj.value)} {obj.unit}[/bold], MIP gap {gap}",
        f"revenue {money(m.revenue_usd_per_year)}/yr, cost {money(m.cost_usd_per_year)}/yr, profit {money(m.profit_usd_per_year)}/yr, capex {money(m.capex_usd)}",
        headline_tokens(sol),
        *[escape(line) for line in [marginal_headline(sol)] if line],
        f"solved in {sol.solve_seconds:.2f} s; model {size.variables} variables ({size.integer_variables} integer), {size.constraints} constraints"
        + (f"; {sol.dinkelbach_iterations} Dinkelbach iterations" if sol.dinkelbach_iterations else ""),
        solved_with(sol),
    ]
    out.append(Panel("\n".join(lines), title="plan"))
    out = _warned(out, warnings)

    out.append(_filled("Racks per hall (racks)", mix_table(sol)))
    if sol.lots:
        out.append(_filled("Bought in lots", lots_table(sol)))
    out.append(_filled(tier_title(sol), tier_table(sol)))
    if sol.slices:
        out += slice_sections(sol)
    else:
        t = _table("Allocation (rack-equivalents)", "hardware", "tier", "role", "racks")
        for a in sol.allocation:
            t.add_row(a.hardware, a.tier, a.role, num(a.racks))
        out.append(t)
        out.append(_filled("Power against the grid (MW)", power_table(sol)))
        out.append(_filled("Heat against cooling (MW of heat)", heat_table(sol)))

    out += market_sections(sol)
    out.append(_filled("Hall slots (racks)", hall_table(sol)))
    if sol.fabric is not None:
        out.append(_filled("Scale-out fabric", fabric_table(sol)))
    return out + _limits(sol)


def market_sections(sol: Solution) -> list:
    """The market check in the terminal: the plan's figures (each period's, with a horizon) and
    each hardware's rack-hour."""
    if sol.periods:
        figures = _filled(MARKET_TITLE, market_table([(str(p.year), p) for p in sol.periods]))
        hardware = _filled("Cost of a rack-hour per hardware and period (fabric not included)", period_market_hardware_table(sol))
    else:
        figures = _filled(MARKET_TITLE, market_table([("value", sol.metrics)]))
        hardware = _filled("Cost of a rack-hour per hardware (fabric not included)", market_hardware_table(sol.market))
    figures.caption = MARKET_NOTE
    return [figures, hardware]


def hall_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """Racks per hall against its slots."""
    rows = [[h.hall, num(h.racks), num(h.slots), f"{100 * h.racks / h.slots:.1f}%" if h.slots else "-"] for h in sol.halls]
    return ["hall", "racks", "slots", "use"], rows


def fabric_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """The scale-out fabric built: its design, ports, power (MW) and capex (USD)."""
    f = sol.fabric
    head = ["option", "technology", "switch tiers", "endpoint ports", "reach (ports)", "power (MW)", "capex (USD)"]
    return head, [[f.option, f.technology, str(f.switch_tiers), num(f.endpoint_ports), num(f.reach_ports), num(f.power_mw), money(f.capex_usd)]]


def headline_tokens(sol: Solution) -> str:
    """The tokens line of a headline; with slices the figures are the year's means, and the grid's
    sizing slice is named."""
    m = sol.metrics
    if not sol.slices:
        return f"tokens {num(m.tokens_per_s)} tokens/s, {num(m.tokens_per_joule)} tokens/J, facility power {num(m.facility_power_mw)} MW"
    top = max(sol.slices, key=lambda s: s.power.total_mw)
    return (f"tokens {num(m.tokens_per_s)} tokens/s (mean over the year), {num(m.tokens_per_joule)} tokens/J, facility power "
            f"{num(m.facility_power_mw)} MW (mean; busiest slice {top.name}: {num(top.power.total_mw)} of {num(top.power.grid_mw)} MW)")


def slice_sections(sol: Solution) -> list:
    """Section 12.4 per slice: hours, tokens and money, facility power against each slice's grid,
    tiers, busy racks, allocation, and the power chain and heat against that slice's limits."""
    s = sol.slices
    return [
        _filled("Slices of the year (revenue and energy: what the slice's hours earn and cost per year)", slice_table(s)),
        Text("Facility power per slice against that slice's grid connection", style="bold"),
        slice_bars([(x.name, x.power) for x in s]),
        _filled("Tokens and revenue per tier and slice", slice_tier_table(s)),
        _filled("Busy racks per slice", slice_busy_table(s)),
        _filled("Allocation per slice (rack-equivalents)", slice_allocation_table(s)),
        _filled("Power per slice against its grid (MW)", slice_power_table(s)),
        _filled("Heat per slice against its cooling (MW of heat)", slice_heat_table(s)),
    ]


def solved_with(sol: Solution) -> str:
    """One line: the versions and the HiGHS options of the solve."""
    opts = sol.solver_options
    versions = ", ".join(f"{k} {v}" for k, v in sol.versions.items())
    return (f"solved with {versions}; threads {opts.get('threads', '-')}, MIP gap {opts.get('mip_rel_gap', '-')}"
            + (", strict tolerances" if opts.get("strict_tolerances") else ""))


def _warned(parts: list, warnings: list[str]) -> list:
    """The sections with a warnings panel after the first, when there is anything to say."""
    if not warnings:
        return parts
    panel = Panel("\n".join(f"- {escape(w)}" for w in warnings), title="warnings", border_style="yellow")
    return parts[:1] + [panel] + parts[1:]


def marginal_headline(sol: Solution) -> str | None:
    """'one more MW of grid power is worth $316M/yr; one fewer costs $313M/yr' (section 14): the
    grid limit worth the most (with slices, the slice named), for the headline."""
    grid = [v for v in sol.marginal_values if v.limit.startswith("facility_power") and v.value_up is not None]
    if not grid:
        return None
    v = max(grid, key=lambda g: abs(g.value_up))
    where = "" if v.limit == "facility_power" else f" in slice {v.limit[len('facility_power['):-1]}"
    unit = v.objective_unit.split(" per ")[0]

    def amount(x: float) -> str:
        return _worth(x) + unit.replace("USD", "", 1) if "USD" in unit else f"{x:,.4g} {unit}"

    text = f"one more MW of grid power{where} is worth {amount(v.value_up)}"
    if v.value_down is not None:
        text += f"; one fewer costs {amount(-v.value_down)}"
    return text + " (re-solved, racks free to change)"


def _worth(x: float) -> str:
    """Money to three figures for a headline: $316M, $3.23M, $1.48k."""
    a = abs(x)
    sign = "-" if x < 0 else ""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= scale:
            return f"{sign}${a / scale:,.3g}{suffix}"
    return f"{sign}${a:,.3g}" if a else "$0"


def marginal_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """What each site limit is worth by re-solving with it moved by delta (racks free to change)."""
    head = ["limit", "limit value", "delta", "unit", "worth per unit raised", "per unit lowered", "racks when raised", "racks when lowered"]

    def racks(change: dict[str, int], status: str) -> str:
        if status != "optimal":
            return status
        return ", ".join(f"{n:+d} {h}" for h, n in change.items()) or "same"

    rows = [[v.limit, num(v.value), num(v.delta), v.unit,
             "-" if v.value_up is None else f"{num(v.value_up)} {v.objective_unit}",
             "-" if v.value_down is None else f"{num(v.value_down)} {v.objective_unit}",
             racks(v.racks_up, v.status_up), racks(v.racks_down, v.status_down)] for v in sol.marginal_values]
    return head, rows


def _limits(sol: Solution) -> list:
    out: list = []
    sliced = is_sliced(sol)
    out.append(_filled("Binding limits per slice ('-': holds once, on the capacity or the year)" if sliced else "Binding limits",
                       binding_table(sol)))
    t = _filled("Shadow prices (LP with the integers fixed; change of the objective per unit of the limit)", shadow_table(sol))
    zero = sum(1 for s in sol.shadow_prices if s.value == 0)
    if zero:
        t.caption = f"{zero} other limits have a shadow price of 0"
    out.append(t)
    if sol.marginal_values:
        out.append(_filled("What each limit is worth, re-solved with the limit moved (racks free to change)", marginal_table(sol)))
    return out


def to_text(sol: Solution, width: int = 120) -> str:
    """The report as plain text."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    render(sol, console)
    return console.export_text()
