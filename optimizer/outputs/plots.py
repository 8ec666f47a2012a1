"""Pictures a planner reads faster than a table: a metric against a swept parameter with the
hardware mix stacked beneath it, and a Pareto frontier with each point's plan marked."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

SCALES = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")]


def _scaled(values: pd.Series, unit: str) -> tuple[pd.Series, str]:
    top = values.abs().max() if len(values) else 0
    for factor, prefix in SCALES:
        if top >= factor:
            return values / factor, f"{prefix} {unit}".strip()
    return values, unit


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
