"""Pictures a planner reads faster than a table: a metric against a swept parameter with the
hardware mix stacked beneath it, a Pareto frontier with each point's plan marked, and each slice
of the year's facility power against its grid with its tokens by tier (MODEL.md section 12.4)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..solving.results import SliceResult  # noqa: E402

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
