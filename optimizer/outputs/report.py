"""A readable report of a :class:`~optimizer.solving.results.Solution` (rich tables, units everywhere)."""

from __future__ import annotations

import io
import math

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..solving.results import Solution


def num(x: float | None, digits: int = 3) -> str:
    """A number a planner can read: thousands separators, 3 significant digits for small ones."""
    if x is None:
        return "-"
    if not math.isfinite(x):
        return str(x)
    a = abs(x)
    if a == 0:
        return "0"
    if float(x).is_integer() and a < 1e15:
        return f"{int(x):,}"
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


def tier_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    head = ["tier", "USD/Mtok", "tok/s/user floor", "tokens/s", "aggregated tokens/s", "disaggregated tokens/s", "revenue USD/yr"]
    rows = [[r.tier, num(r.price_usd_per_mtok), num(r.min_interactivity), num(r.tokens_per_s), num(r.aggregated_tokens_per_s),
             num(r.disaggregated_tokens_per_s), money(r.revenue_usd_per_year)] for r in sol.tiers]
    return head, rows


def power_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    p = sol.power
    items = (("IT", p.it_mw), ("network", p.network_mw), ("distribution losses", p.losses_mw), ("cooling", p.cooling_mw),
             ("total facility", p.total_mw), ("grid connection", p.grid_mw))
    return ["item", "MW", "share of grid"], [[k, num(v), f"{100 * v / p.grid_mw:.1f}%" if p.grid_mw > 0 else "-"] for k, v in items]


def heat_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    rows = [[h.loop, num(h.load_mw), num(h.capacity_mw), f"{100 * h.load_mw / h.capacity_mw:.1f}%" if h.capacity_mw > 0 else "-"]
            for h in sol.heat]
    return ["loop", "heat MW", "capacity MW", "use"], rows


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
    head = ["year", "retired early", "vintage", "racks", "life left (yr)", "IT MW freed", "bought that year"]
    rows = [[str(e.year), e.hardware, e.vintage, num(e.racks), num(e.life_left_years), num(e.power_freed_mw), ", ".join(e.replaced_by) or "-"]
            for e in sol.refresh]
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
    tiers = [t.tier for t in sol.periods[0].tiers] if sol.periods else []
    rows = []
    for k, name in enumerate(tiers):
        rows.append([f"{name} tokens/s", *[num(p.tiers[k].tokens_per_s) for p in sol.periods]])
        rows.append([f"{name} USD/Mtok", *[num(p.tiers[k].price_usd_per_mtok) for p in sol.periods]])
    rows.append(["tokens/J", *[num(p.tokens_per_joule) for p in sol.periods]])
    return ["tier", *[str(p.year) for p in sol.periods]], rows


def cash_table(sol: Solution) -> tuple[list[str], list[list[str]]]:
    """Each period's cash flows, undiscounted, with its discount weight and discounted net."""
    head = ["year", "years", "discount weight", "revenue USD/yr", "opex USD/yr", "energy USD/yr", "capital USD (period)",
            "purchases USD", "discounted net USD"]
    rows = []
    for p in sol.periods:
        c = p.cash
        net = c.discount_weight * (c.revenue_usd_per_year - c.opex_usd_per_year - c.energy_usd_per_year) - c.capital_discounted_usd
        rows.append([str(p.year), str(p.years), f"{c.discount_weight:.4f}", money(c.revenue_usd_per_year), money(c.opex_usd_per_year),
                     money(c.energy_usd_per_year), money(c.capital_usd), money(c.purchases_usd), money(net)])
    return head, rows


GLYPHS = "█▓▒░#=+*"


def power_bars(sol: Solution, width: int = 60) -> Text:
    """A stacked text chart of IT power by hardware per period, against the grid."""
    hardware = sorted({h for p in sol.periods for h in p.it_mw_by_hardware})
    top = max([p.power.grid_mw for p in sol.periods] + [p.power.total_mw for p in sol.periods] + [1e-9])
    colors = ["blue", "green", "magenta", "cyan", "yellow", "red", "white", "bright_black"]
    out = Text()
    for p in sol.periods:
        out.append(f"{p.year}  ")
        used = 0
        for k, h in enumerate(hardware):
            cells = int(round(width * p.it_mw_by_hardware.get(h, 0.0) / top))
            out.append(GLYPHS[k % len(GLYPHS)] * cells, style=colors[k % len(colors)])
            used += cells
        other = int(round(width * (p.power.total_mw - p.power.it_mw) / top))
        out.append("·" * other)
        used += other
        grid = int(round(width * p.power.grid_mw / top))
        out.append(" " * max(grid - used, 0) + "|" + f" {num(p.power.total_mw)} of {num(p.power.grid_mw)} MW\n")
    legend = ", ".join(f"{GLYPHS[k % len(GLYPHS)]} {h}" for k, h in enumerate(hardware))
    out.append(f"      {legend}, · network, losses and cooling; | grid connection")
    return out


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
        f"- energy {money(m.discounted_energy_usd)} - capital {money(m.discounted_capital_usd)}",
        f"purchases {money(m.capex_usd)} (undiscounted); {num(m.mean_tokens_per_s)} tokens/s on average, {num(m.tokens_per_joule)} tokens/J, "
        f"{num(m.mean_facility_power_mw)} MW on average",
        f"solved in {sol.solve_seconds:.2f} s; model {size.variables} variables ({size.integer_variables} integer), {size.constraints} constraints",
    ]
    out: list = [Panel("\n".join(lines), title="multi-year plan")]
    out.append(_filled("Racks alive per period (+bought, -retired at its start)", timeline_table(sol)))
    if sol.refresh:
        out.append(_filled("Refresh: vintages retired before their life ends", refresh_table(sol)))
    else:
        out.append(Text("No rack is retired before its life ends.", style="bold"))
    out.append(Text("IT power by hardware (stacked) against the grid", style="bold"))
    out.append(power_bars(sol))
    out.append(_filled("Power per period (MW)", period_power_table(sol)))
    out.append(_filled("Tiers per period", period_tier_table(sol)))
    out.append(_filled("Cash flows per period (undiscounted; discounted net = weight x yearly flows - discounted capital)", cash_table(sol)))
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
        f"tokens {num(m.tokens_per_s)} tokens/s, {num(m.tokens_per_joule)} tokens/J, facility power {num(m.facility_power_mw)} MW",
        f"solved in {sol.solve_seconds:.2f} s; model {size.variables} variables ({size.integer_variables} integer), {size.constraints} constraints"
        + (f"; {sol.dinkelbach_iterations} Dinkelbach iterations" if sol.dinkelbach_iterations else ""),
        solved_with(sol),
    ]
    out.append(Panel("\n".join(lines), title="plan"))
    out = _warned(out, warnings)

    out.append(_filled("Racks per hall (racks)", mix_table(sol)))
    out.append(_filled("Tiers served", tier_table(sol)))

    t = _table("Allocation (rack-equivalents)", "hardware", "tier", "role", "racks")
    for a in sol.allocation:
        t.add_row(a.hardware, a.tier, a.role, num(a.racks))
    out.append(t)

    out.append(_filled("Power against the grid (MW)", power_table(sol)))
    out.append(_filled("Heat against cooling (MW of heat)", heat_table(sol)))

    t = _table("Hall slots (racks)", "hall", "racks", "slots", "use")
    for h in sol.halls:
        t.add_row(h.hall, num(h.racks), num(h.slots), f"{100 * h.racks / h.slots:.1f}%" if h.slots else "-")
    out.append(t)

    if sol.fabric is not None:
        f = sol.fabric
        t = _table("Scale-out fabric", "option", "technology", "switch tiers", "endpoint ports", "reach (ports)", "power (MW)", "capex (USD)")
        t.add_row(f.option, f.technology, str(f.switch_tiers), num(f.endpoint_ports), num(f.reach_ports), num(f.power_mw), money(f.capex_usd))
        out.append(t)
    return out + _limits(sol)


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


def _limits(sol: Solution) -> list:
    out: list = []
    t = _table("Binding limits", "constraint", "usage", "limit", "unit")
    for b in sol.binding:
        t.add_row(b.constraint, num(b.usage), num(b.limit), b.unit)
    out.append(t)

    t = _table("Shadow prices (LP with the integers fixed; change of the objective per unit of the limit)", "constraint", "value", "unit")
    for s in sol.shadow_prices:
        if s.value != 0:
            t.add_row(s.constraint, num(s.value), s.unit)
    zero = sum(1 for s in sol.shadow_prices if s.value == 0)
    if zero:
        t.caption = f"{zero} other limits have a shadow price of 0"
    out.append(t)
    return out


def to_text(sol: Solution, width: int = 120) -> str:
    """The report as plain text."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    render(sol, console)
    return console.export_text()
