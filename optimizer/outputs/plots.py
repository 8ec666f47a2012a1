"""Pictures a planner reads faster than a table: a metric against a swept parameter with the
hardware mix stacked beneath it, a Pareto frontier with each point's plan marked, each slice
of the year's facility power against its grid with its tokens by tier (MODEL.md section 12.4),
and the regret table of a stochastic plan as a heatmap (section 13.3)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from ..solving.results import SliceResult, StochasticResult  # noqa: E402

SCALES = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")]


def _scaled(values: pd.Series, unit: str) -> tuple[pd.Series, str]:
    factor, label = _prefix(values.abs().max() if len(values) else 0, unit)
    return (values / factor if factor != 1 else values), label


def _prefix(top: float, unit: str) -> tuple[float, str]:
    """The factor and unit label that bring values up to ``top`` to at most a thousand or so."""
    for factor, prefix in SCALES:
        if top >= factor:
            return factor, f"{prefix} {unit}".strip()
    return 1, unit


def _racks(df: pd.DataFrame) -> list[str]:
    return sorted(c for c in df.columns if c.startswith("racks[") and df[c].fillna(0).sum() > 0)


def plot_sweep(df: pd.DataFrame, x: str, y: str, output: str | Path, unit: str = "") -> Path:
    """``y`` against parameter ``x`` (one line per scenario and value of the other parameters),
    and the racks of each hardware stacked against ``x`` (mean over the other parameters)."""
    if x not in df.columns or y not in df.columns:
        raise KeyError(f"columns are {', '.join(df.columns)}")
    ok = df[df["status"].isin(["optimal", "time_limit"])].copy()
    others = [c for c in _swept(df) if c not in (x, y) and df[c].nunique(dropna=False) > 1]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 8), sharex=True, height_ratios=[3, 2])
    groups = ok.groupby(others, dropna=False) if others else [((), ok)]
    for key, g in list(groups)[:12]:
        g = g.sort_values(x)
        vals, label_unit = _scaled(g[y], unit)
        label = ", ".join(f"{c}={v}" for c, v in zip(others, key if isinstance(key, tuple) else (key,))) or None
        top.plot(g[x], vals, marker="o", label=label)
    _, label_unit = _scaled(ok[y], unit)
    top.set_ylabel(f"{y} ({label_unit})" if label_unit else y)
    top.grid(alpha=0.3)
    if others:
        top.legend(fontsize=7)
    racks = _racks(ok)
    if racks:
        mix = ok.groupby(x)[racks].mean().sort_index()
        bottom.stackplot(mix.index, [mix[c] for c in racks], labels=[c[6:-1] for c in racks], alpha=0.85)
        bottom.legend(fontsize=7, loc="upper left")
    bottom.set_ylabel("racks (mean)")
    bottom.set_xlabel(x)
    bottom.grid(alpha=0.3)
    fig.suptitle(f"{y} against {x}")
    fig.tight_layout()
    return _save(fig, output)


def _swept(df: pd.DataFrame) -> list[str]:
    """Parameter columns: those before `status` other than point and scenario."""
    cols = list(df.columns)
    end = cols.index("status") if "status" in cols else len(cols)
    return [c for c in cols[:end] if c not in ("point",)]


def plot_pareto(front: pd.DataFrame, output: str | Path) -> Path:
    x, y = front.attrs["x"], front.attrs["y"]
    yv, yunit = _scaled(front[y], front.attrs.get("y_unit", ""))
    fig, ax = plt.subplots(figsize=(9, 6))
    ax.plot(front[x], yv, marker="o", color="tab:blue")
    racks = _racks(front)
    for i, r in front.iterrows():
        mix = ", ".join(f"{int(r[c])} {c[6:-1]}" for c in racks if r.get(c, 0))
        ax.annotate(mix, (r[x], yv.iloc[i]), textcoords="offset points", xytext=(6, 6), fontsize=7)
    ax.set_xlabel(f"{x} ({front.attrs.get('x_unit', '')})")
    ax.set_ylabel(f"{y} ({yunit})")
    ax.set_title(f"Pareto frontier: {y} against {x} (labels: racks per hardware)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, output)


def _save(fig, output) -> Path:
    output = Path(output)
    if output.suffix.lower() not in (".png", ".svg"):
        plt.close(fig)
        raise ValueError(f"{output}: plots are written as .png or .svg")
    fig.savefig(output, dpi=120)
    plt.close(fig)
    return output


def slice_figure(groups: list[tuple[str, list[SliceResult]]]) -> Figure:
    """Two panels over the slices: facility power (IT, then network, losses and cooling, stacked)
    with a black mark at each slice's own grid connection, and output tokens/s by tier, stacked.
    ``groups`` are (period label, its slices); one group with label "" for a single year."""
    slices = [s for _, group in groups for s in group]
    xs, ticks, x = [], [], 0.0
    for label, group in groups:
        for s in group:
            xs.append(x)
            ticks.append(f"{label} {s.name}".strip() + f"\n{s.hours:,.0f} h")
            x += 1
        x += 0.5  # a gap between periods
    fig, (power, tokens) = plt.subplots(2, 1, figsize=(max(6.0, 0.8 * len(slices) + 3), 5.5), sharex=True)
    it = [s.power.it_mw for s in slices]
    power.bar(xs, it, width=0.7, color="#4c78a8", label="IT")
    power.bar(xs, [s.power.total_mw - s.power.it_mw for s in slices], bottom=it, width=0.7, color="#cccccc",
              label="network, losses, cooling")
    power.hlines([s.power.grid_mw for s in slices], [xi - 0.45 for xi in xs], [xi + 0.45 for xi in xs], colors="black", lw=2,
                 label="the slice's grid connection")
    power.set_ylabel("facility MW")
    power.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    power.grid(axis="y", alpha=0.3)
    tiers = list(dict.fromkeys(r.tier for s in slices for r in s.tiers))
    factor, unit = _prefix(max([s.tokens_per_s for s in slices] + [0]), "tokens/s")
    base = [0.0] * len(slices)
    for t in tiers:
        vals = [sum(r.tokens_per_s for r in s.tiers if r.tier == t) / factor for s in slices]
        tokens.bar(xs, vals, bottom=base, width=0.7, label=t)
        base = [b + v for b, v in zip(base, vals)]
    tokens.set_ylabel(f"output {unit}")
    tokens.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="tier", title_fontsize=7)
    tokens.grid(axis="y", alpha=0.3)
    tokens.set_xticks(xs, ticks, fontsize=7)
    fig.suptitle("Each slice: facility power against its grid, and tokens by tier", fontsize=9)
    fig.tight_layout()
    return fig


def _amount(x: float) -> str:
    """A figure in a few characters for a heatmap cell: 557.96B, 3.414M, 0.663."""
    a = abs(x)
    for factor, prefix in SCALES:
        if a >= factor:
            return f"{x / factor:,.5g}{prefix}"
    return f"{x:,.4g}"


def regret_figure(result: StochasticResult) -> Figure:
    """The regret table as a heatmap: a row per plan (the stochastic plan, each scenario's own
    optimum; its racks beneath its name), a column per scenario and one for the plan's
    expectation. Each cell holds the plan's Z in that scenario (the objective's unit) and is shaded
    by its regret, the shortfall from the best plan of that column (for min_cost the excess over
    the cheapest): white is the best any plan does there. A plan that cannot meet a scenario's
    floors is hatched grey, 'infeasible', and so is its expectation."""
    names = [o.name for o in result.scenarios]
    plans = result.regret
    value = np.full((len(plans), len(names) + 1), np.nan)
    status = [["optimal"] * (len(names) + 1) for _ in plans]
    for i, r in enumerate(plans):
        cells = {c.scenario: c for c in r.cells}
        for j, w in enumerate(names):
            c = cells.get(w)
            if c is not None and c.value is not None:
                value[i, j] = c.value
            status[i][j] = c.status if c is not None else "-"
        if r.expected is not None:
            value[i, -1] = r.expected
        else:
            status[i][-1] = next((c.status for c in r.cells if c.value is None), "-")
    lowest = result.objective == "min_cost"
    with np.errstate(all="ignore"):
        best = np.nanmin(value, axis=0) if lowest else np.nanmax(value, axis=0)
    regret = np.where(np.isnan(value), np.nan, (value - best) if lowest else (best - value))
    top = float(np.nanmax(regret)) if np.isfinite(regret).any() else 0.0
    factor, unit = _prefix(top, result.unit)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.5 * (len(names) + 1) + 3.5), 0.75 * len(plans) + 1.8))
    image = ax.imshow(np.ma.masked_invalid(regret / factor), cmap="Reds", vmin=0, vmax=max(top / factor, 1e-12), aspect="auto")
    for i in range(len(plans)):
        for j in range(len(names) + 1):
            if np.isnan(value[i, j]):
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#dddddd", hatch="//", edgecolor="#999999", lw=0))
                ax.text(j, i, status[i][j], ha="center", va="center", fontsize=8)
                continue
            shade = regret[i, j] / top if top > 0 else 0.0
            below = "best" if regret[i, j] <= 1e-9 * max(abs(best[j]), 1.0) else f"-{_amount(regret[i, j])}"
            ax.text(j, i, f"{_amount(value[i, j])}\n{below}", ha="center", va="center", fontsize=8,
                    color="white" if shade > 0.6 else "black")
    ax.axvline(len(names) - 0.5, color="black", lw=1.5)  # the scenarios | the expectation
    ax.set_xticks(range(len(names) + 1), [f"{o.name}\np = {o.probability:g}" for o in result.scenarios] + ["expected"], fontsize=8)
    labels = ["stochastic plan" if r.plan == "stochastic" else f"optimal for {r.plan}" for r in plans]
    racks = [", ".join(f"{n:,} {h}" for h, n in r.racks.items() if n) or "no racks" for r in plans]
    ax.set_yticks(range(len(plans)), [f"{a}\n{b}" for a, b in zip(labels, racks)], fontsize=8)
    ax.set_xlabel("scenario (each cell: the plan's capacity fixed, the scenario re-optimised)", fontsize=8)
    worse = "above the cheapest" if lowest else "below the best"
    fig.colorbar(image, ax=ax, shrink=0.9).set_label(f"regret ({unit})", fontsize=8)
    ax.set_title(f"Regret table: {result.objective} in {result.unit} per plan and scenario\n"
                 f"(each cell's second line: how far {worse} plan of its column)", fontsize=9)
    fig.tight_layout()
    return fig
