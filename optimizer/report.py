"""A readable report of a :class:`~optimizer.results.Solution` (rich tables, units everywhere)."""

from __future__ import annotations

import io
import math

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .results import Solution


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
    if not sol.has_plan:
        lines = [head]
        lines += [f"  reason: {escape(h)}" for h in sol.hints]
        if sol.model_size:
            lines.append(f"model: {sol.model_size.variables} variables ({sol.model_size.integer_variables} integer), {sol.model_size.constraints} constraints")
        out.append(Panel("\n".join(lines), title="no plan"))
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
    ]
    out.append(Panel("\n".join(lines), title="plan"))

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
