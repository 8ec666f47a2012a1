"""The sensitivity analysis (``optimizer.analysis.sensitivity``) as a planner reads it: a table
(terminal, Markdown, HTML) ranked by the swing of the objective, and the tornado picture: a bar
per input from the base value to each end's, the low end and the high end in two colours."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402

from ..analysis.sensitivity import End, SensitivityResult  # noqa: E402
from .plots import _amount, _prefix, _save  # noqa: E402
from .report import _table, num  # noqa: E402

LOW, HIGH = "#4c78a8", "#f58518"  # the low end's bars, the high end's
TEXT_SVG = {"svg.fonttype": "none"}  # text stays text in an SVG: the input names can be searched and read


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:+.2f}%"


def _delta(x: float | None) -> str:
    return "-" if x is None else ("+" if x > 0 else "") + num(x)


def _racks(end: End, hardware: list[str]) -> str:
    """'10 g (+5), 0 l' for a plan, else the end's status."""
    if not end.has_plan:
        return end.status
    parts = []
    for h in hardware:
        n, d = end.racks.get(h, 0), end.racks_change.get(h)
        if n or d:  # a hardware with no racks at either end is left out
            parts.append(f"{n:,} {h}" + (f" ({d:+,})" if d else ""))
    return ", ".join(parts) or "no racks"


def _value(end: End) -> str:
    return num(end.objective_value) if end.has_plan else end.status


def without_plan(res: SensitivityResult) -> list[str]:
    """One line per end (or the base) that has no plan: its status and the solver's reason."""
    lines = [] if res.base.has_plan else [f"base case: {res.base.status}: {res.base.message}"]
    for r in res.ranges:
        for side, e in (("low", r.low), ("high", r.high)):
            if not e.has_plan:
                lines.append(f"{r.name}, {side} end: {e.status}" + (f" ({e.message})" if e.message and e.message != e.status else ""))
    return lines


def headline(res: SensitivityResult) -> list[str]:
    """What was solved, the base case and how to read the table, as plain lines."""
    b = res.base
    base = (f"{res.objective} {num(b.objective_value)} {res.objective_unit}" if b.has_plan
            else f"no plan ({b.status}: {b.message}); no change can be measured")
    racks = _racks(b, res.hardware) if b.has_plan else "-"
    gap = "1e-4 (the default)" if res.mip_gap is None else f"{res.mip_gap:g}"
    return [
        f"{res.instance}: sensitivity of {res.objective} ({res.sense}, {res.objective_unit}) to {len(res.ranges)} input(s), "
        f"{2 * len(res.ranges) + 1} solves",
        f"Base case: {base}; racks {racks}.",
        f"The base case is {res.base_case}.",
        f"Racks: {res.racks_definition}.",
        f"Ranked {res.ranking}. Every solve at MIP gap {gap}"
        + (f", {res.time_limit:g} s each" if res.time_limit is not None else "")
        + ": a swing within 2 x gap x |base| is marked, since it may be the solver's, not the input's.",
    ]


def table(res: SensitivityResult, source: bool = True) -> tuple[list[str], list[list[str]]]:
    """A row per input, ranked: each end's objective, change and racks against the base (and
    where the range comes from, unless ``source`` is false)."""
    u = res.objective_unit
    head = ["rank", "input (low .. high)", *(["source"] if source else []), f"low: {res.objective} ({u})", f"low: change ({u})",
            "low: change (%)", f"high: {res.objective} ({u})", f"high: change ({u})", "high: change (%)", f"swing ({u})",
            "low: racks (change vs base)", "high: racks (change vs base)"]
    rows = []
    for r in res.ranges:
        rows.append([str(r.rank), r.label, *([r.source] if source else []), _value(r.low), _delta(r.low.change),
                     _pct(r.low.change_pct), _value(r.high), _delta(r.high.change), _pct(r.high.change_pct),
                     _swing(res, r.swing), _racks(r.low, res.hardware), _racks(r.high, res.hardware)])
    return head, rows


def _swing(res: SensitivityResult, swing: float | None) -> str:
    """The swing, marked where it is within what two solves' gaps allow: 2 x gap x |base|."""
    if swing is None:
        return "-"
    gap = 1e-4 if res.mip_gap is None else res.mip_gap
    within = res.base.objective_value is not None and swing <= 2 * gap * abs(res.base.objective_value)
    return num(swing) + (" (within the MIP gap)" if within else "")


def sources_table(res: SensitivityResult) -> tuple[list[str], list[list[str]]]:
    return ["input", "source"], [[r.name, r.source] for r in res.ranges]


def overrides_table(res: SensitivityResult) -> tuple[list[str], list[list[str]]]:
    """What each end sets, path by path."""
    rows = []
    for r in res.ranges:
        for end, e in (("low", r.low), ("high", r.high)):
            for path, value in e.overrides.items():
                rows.append([r.name, end, path, str(value)])
    return ["input", "end", "path", "value"], rows


def render(res: SensitivityResult, console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:  # piped or redirected: do not squeeze the table into 80 columns
            console = Console(width=200)
    lines = headline(res)
    console.print(f"[bold]{escape(lines[0])}[/bold]")
    for line in lines[1:]:
        console.print(escape(line))
    for title, (head, rows) in (("Inputs ranked by how far they move the objective", table(res, source=False)),
                                ("Where each range comes from", sources_table(res))):
        t = _table(title, *head)
        for row in rows:
            t.add_row(*row)
        console.print(t)
    missing = without_plan(res)
    if missing:
        console.print("[bold]Without a plan[/bold] (ranked last):")
        for line in missing:
            console.print("  " + escape(line))


def to_markdown(res: SensitivityResult) -> str:
    from .document import _md_table

    lines = headline(res)
    parts = [f"# {res.instance}: sensitivity", "", *[line + "\n" for line in lines[1:]], "## Inputs ranked\n",
             _md_table(*table(res)) + "\n"]
    missing = without_plan(res)
    if missing:
        parts += ["## Without a plan (ranked last)\n", *[f"- {line}" for line in missing], ""]
    parts += ["## What each end sets\n", _md_table(*overrides_table(res)) + "\n"]
    return "\n".join(parts)


def to_html(res: SensitivityResult) -> str:
    """A page with the tornado inline (SVG) and the tables: the plan report's style and helpers."""
    from .document import CSS, _svg
    from .document import _table as _html_table

    lines = headline(res)
    with plt.rc_context(TEXT_SVG):
        picture = _svg(tornado_figure(res))
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(res.instance)}: sensitivity</title>"
             f"<style>{CSS}</style></head><body>", f"<h1>{html.escape(res.instance)}: sensitivity</h1>"]
    parts += [f"<p>{html.escape(line)}</p>" for line in lines[1:]]
    parts += [f"<figure>{picture}</figure>", "<h2>Inputs ranked</h2>", _html_table(*table(res))]
    missing = without_plan(res)
    if missing:
        parts += ["<h2>Without a plan (ranked last)</h2>", "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in missing) + "</ul>"]
    parts += ["<h2>What each end sets</h2>", _html_table(*overrides_table(res)), "</body></html>"]
    return "\n".join(parts)


def tornado_figure(res: SensitivityResult) -> Figure:
    """A bar per input, the largest swing on top: from the base value to the low end's value
    (one colour) and to the high end's (the other), on an axis of the objective in its unit; an
    end without a plan is written as its status where its bar would be."""
    ranges = res.ranges
    base = res.base.objective_value if res.base.has_plan else None
    values = [e.objective_value for r in ranges for e in (r.low, r.high) if e.has_plan] + ([base] if base is not None else [])
    factor, unit = _prefix(max((abs(v) for v in values), default=0.0), res.objective_unit)
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(ranges) + 2.2))
    ys = list(range(len(ranges)))[::-1]  # rank 1 on top
    for y, r in zip(ys, ranges):
        ends = sorted(((r.low, LOW, "low"), (r.high, HIGH, "high")), key=lambda x: -abs(x[0].change or 0.0))  # the shorter bar on top
        for e, color, side in ends:
            if base is not None and e.has_plan:
                ax.barh([y], [(e.objective_value - base) / factor], left=base / factor, color=color, height=0.6)
                ax.annotate(("+" if e.change > 0 else "") + _amount(e.change) if e.change else "0", (e.objective_value / factor, y),
                            textcoords="offset points", xytext=(4 if e.change >= 0 else -4, 0),
                            ha="left" if e.change >= 0 else "right", va="center", fontsize=7)
            elif base is not None:
                ax.annotate(f"{side}: {e.status}", (base / factor, y), textcoords="offset points",
                            xytext=(6 if side == "high" else -6, 0), ha="left" if side == "high" else "right",
                            va="center", fontsize=7, color=color, style="italic")
    if base is not None:
        ax.axvline(base / factor, color="black", lw=1)
    ax.set_yticks(ys, [r.label for r in ranges], fontsize=8)
    if ranges:
        ax.set_ylim(-0.8, len(ranges) - 0.2)
    base_text = f"{num(base)} {res.objective_unit}" if base is not None else f"no plan ({res.base.status})"
    ax.set_xlabel(f"{res.objective} ({unit})")
    # three short lines: one long line runs past the figure's edge when the labels are wide
    ax.set_title(f"{res.instance}: what moves {res.objective}, one input at a time\n"
                 f"labels: change, {res.objective_unit}\nthe vertical line is the base case: {base_text}", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.margins(x=0.2)  # room for the changes written at the bars' ends
    if any(e.has_plan for r in ranges for e in (r.low, r.high)) and base is not None:
        ax.legend(handles=[Patch(color=LOW, label="low end"), Patch(color=HIGH, label="high end")], fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def plot_tornado(res: SensitivityResult, output: str | Path) -> Path:
    """The tornado picture as .png or .svg (text kept as text in the SVG)."""
    with plt.rc_context(TEXT_SVG):
        return _save(tornado_figure(res), output)
