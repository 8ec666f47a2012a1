"""Synthetic instances, seeded, scaled by hardware systems, models, workloads, tiers and halls.

They are ordinary instance files (``python -m benchmarks.generate --hardware 200 ... -o x.yaml``)
whose numbers are drawn around the reference instance's so that the optimizer has real choices:
racks of 30-250 kW, liquid or air, curves that fall with interactivity, tiers from free to
$150/Mtok with demand caps, halls that admit some racks and not others, two optics options.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import yaml

SIZES = {
    # name: (hardware, models, workloads, tiers, halls)
    "small": (6, 2, 3, 6, 2),
    "medium": (40, 4, 8, 30, 6),
    "large": (150, 8, 16, 120, 12),
    "xlarge": (400, 10, 20, 240, 20),
}


def synthetic(hardware: int, models: int, workloads: int, tiers: int, halls: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    mods = [{"name": f"model-{i}", "kv_bytes_per_token": rng.choice([0, 35136, 70272])} for i in range(models)]
    works = [{"name": f"work-{i}", "model": mods[i % models]["name"], "input_tokens_per_output_token": rng.choice([1.0, 4.0, 8.0])}
             for i in range(workloads)]
    prices = [0.0, 3.0, 6.0, 45.0, 150.0]
    floors = [20, 50, 100, 150, 190]
    tier_list = []
    for i in range(tiers):
        level = i % 5
        t = {"name": f"tier-{i}", "workload": works[i % workloads]["name"], "min_interactivity": floors[level] * rng.uniform(0.8, 1.1),
             "price_usd_per_mtok": prices[level] * rng.uniform(0.8, 1.2)}
        if level > 0:
            t["max_tokens_per_s"] = round(rng.uniform(1e6, 2e8), -3)
        tier_list.append(t)
    hall_list = [{"name": f"hall-{i}", "rack_slots": rng.randint(200, 2000), "max_rack_kw": rng.choice([40, 150, 250]),
                  "liquid_cooling": rng.random() < 0.75} for i in range(halls)]
    hw = []
    for i in range(hardware):
        liquid = rng.random() < 0.7
        kw = rng.uniform(120, 240) if liquid else rng.uniform(25, 40)
        perf = {}
        for w in rng.sample(works, max(1, workloads // 2)):
            top = rng.uniform(2e4, 5e6) * kw / 200
            pts, x, y = [], rng.uniform(10, 40), top
            for _ in range(4):
                pts.append([round(x, 2), round(y, 1)])
                x += rng.uniform(30, 80)
                y *= rng.uniform(0.2, 0.8)
            entry = {"aggregated": pts, "prefill_tokens_per_s": round(rng.uniform(5e5, 6e6) * kw / 200, 1)}
            if rng.random() < 0.3:
                entry["decode"] = [[p[0], round(p[1] * 1.5, 1)] for p in pts]
            perf[w["name"]] = entry
        hw.append({
            "name": f"hw-{i}", "kind": rng.choice(["gpu", "gpu", "gpu", "lpu"]), "rack_power_kw": round(kw, 1),
            "liquid_cooled_fraction": rng.choice([0.85, 1.0]) if liquid else 0.0, "capex_usd": round(rng.uniform(1e6, 9e6), -3),
            "opex_usd_per_year": round(rng.uniform(3e4, 3e5), -2), "lifetime_years": rng.choice([4, 5, 6]),
            "scale_out_ports": rng.choice([64, 144, 288]), "port_gbps": 400, "performance": perf,
        })
    grid = sum(z["rack_slots"] for z in hall_list) * 0.12  # about 60% of the slots at ~200 kW
    return {
        "name": f"synthetic-{hardware}h-{models}m-{workloads}w-{tiers}t-{halls}z-s{seed}",
        "description": "Synthetic benchmark instance (benchmarks/generate.py); numbers drawn around gtc2026-1gw.yaml.",
        "objective": "revenue",
        "facility": {"grid_power_mw": round(grid, 1), "distribution_loss_fraction": 0.02, "liquid_cooling_mw": round(grid, 1),
                     "air_cooling_mw": round(grid * 0.2, 1), "liquid_cooling_overhead": 0.05, "air_cooling_overhead": 0.3,
                     "electricity_usd_per_mwh": 81, "halls": hall_list},
        "models": mods, "workloads": works, "tiers": tier_list, "hardware": hw,
        "network": {"max_tiers": 3, "kv_transfer_max_utilization": 0.5, "options": [
            {"name": "pluggable", "technology": "pluggable", "switch_radix": 256, "switch_power_w": 1800, "switch_capex_usd": 60000,
             "switch_port_optics_w": 7.5, "switch_port_optics_usd": 250, "endpoint_optics_w": 7.5, "endpoint_optics_usd": 250},
            {"name": "cpo", "technology": "cpo", "switch_radix": 1024, "switch_power_w": 7200, "switch_capex_usd": 300000,
             "switch_port_optics_w": 2.25, "switch_port_optics_usd": 150, "endpoint_optics_w": 7.5, "endpoint_optics_usd": 250,
             "liquid_cooled_fraction": 1.0}]},
    }


# ---------------------------------------------------------------------------- slices of the year

# One representative day, hour by hour (local time), for section 12's slices: paid demand by
# usage pattern (share of the tier's peak rate; business hours, evening-heavy consumer use, a
# region eight hours behind), electricity on a time-of-use tariff (USD/MWh: cheap nights, a
# solar dip at midday, the evening peak), the outside air that air cooling's overhead follows
# (0 coolest, 1 hottest), the grid a demand-response contract leaves in the evening peak, and the
# off-peak discount on paid prices (half price 00:00-08:00, as some APIs sell their quiet hours).
BUSINESS = [0.22, 0.18, 0.16, 0.15, 0.17, 0.22, 0.32, 0.48, 0.70, 0.88, 0.96, 1.00,
            0.97, 0.98, 1.00, 0.97, 0.90, 0.78, 0.62, 0.50, 0.42, 0.36, 0.30, 0.25]
CONSUMER = [0.45, 0.32, 0.22, 0.16, 0.14, 0.16, 0.24, 0.36, 0.46, 0.52, 0.56, 0.60,
            0.64, 0.62, 0.60, 0.62, 0.68, 0.76, 0.86, 0.95, 1.00, 0.96, 0.82, 0.62]
TARIFF = [48, 45, 43, 42, 43, 50, 66, 84, 92, 86, 74, 62,
          58, 60, 68, 82, 104, 132, 158, 150, 124, 98, 74, 56]
HEAT = [0.25, 0.18, 0.12, 0.07, 0.03, 0.00, 0.02, 0.10, 0.24, 0.40, 0.56, 0.71,
        0.84, 0.94, 1.00, 0.99, 0.92, 0.80, 0.66, 0.55, 0.46, 0.39, 0.33, 0.29]
GRID = [1.0] * 17 + [0.9, 0.9, 0.9, 0.9] + [1.0] * 3
OFF_PEAK = [0.5] * 8 + [1.0] * 16


def day_slices(n: int) -> list[tuple[str, list[int]]]:
    """``n`` equal slices of the day (n divides 24), each the same hours of every day of the year:
    (name, hours of the day it stands for)."""
    if n < 1 or 24 % n:
        raise ValueError(f"the slices must split a day into equal parts: {n} does not divide 24")
    width = 24 // n
    return [(f"h{a:02d}-{a + width:02d}", list(range(a, a + width))) for a in range(0, 24, width)]


def with_slices(inst: dict, n: int, seed: int = 0) -> dict:
    """The instance with ``n`` equal slices of the year (MODEL.md section 12), none a copy of another.

    Each slice is some hours of a representative day (``day_slices``) and weighs 8,760 / n h. A
    value by slice is the mean of its hours (the grid, a limit that holds every hour, their
    least): paid tiers' demand caps follow a business, consumer or shifted-region curve (drawn per
    tier) and their prices get the off-peak discount; electricity follows the tariff, air
    cooling's overhead the heat, the grid the evening cut. Every tier at the $3 level is batch
    work (``shiftable``: its scalar cap bounds the year's mean, its price is by slice). Racks draw
    35-60% of their power idle (``idle_power_fraction``), so the site may hold more racks than it
    could run at once. One slice (n = 1) is the year's mean, still written as a slice map.
    """
    rng = random.Random(seed + 7919)
    parts = day_slices(n)
    out = {**inst, "name": f"{inst['name']}-{n}sl", "slices": [{"name": s, "hours": 8760 / n} for s, _ in parts]}

    def by_slice(curve, reduce=lambda xs: sum(xs) / len(xs), digits=6):
        return {s: round(reduce([curve[h] for h in hours]), digits) for s, hours in parts}

    def scaled(base, curve, reduce=None, digits=6):
        got = by_slice(curve, **({"reduce": reduce} if reduce else {}))
        return {s: round(base * v, digits) for s, v in got.items()}

    fac = dict(inst["facility"])
    fac["grid_power_mw"] = scaled(fac["grid_power_mw"], GRID, reduce=min, digits=3)
    fac["electricity_usd_per_mwh"] = scaled(1.0, TARIFF, digits=3)
    fac["air_cooling_overhead"] = {s: round(fac["air_cooling_overhead"] * (0.8 + 0.4 * v), 4) for s, v in by_slice(HEAT).items()}
    fac["liquid_cooling_overhead"] = {s: round(fac["liquid_cooling_overhead"] * (0.9 + 0.2 * v), 4) for s, v in by_slice(HEAT).items()}
    out["facility"] = fac
    region = CONSUMER[-8:] + CONSUMER[:-8]  # consumers eight hours behind
    tiers = []
    for t in inst["tiers"]:
        t = dict(t)
        price = t["price_usd_per_mtok"]
        if 0 < price < 4.5:  # the $3 level: batch work, any hour will do
            t["shiftable"] = True
            t["price_usd_per_mtok"] = scaled(price, OFF_PEAK, digits=4)
        elif price > 0:
            t["price_usd_per_mtok"] = scaled(price, OFF_PEAK, digits=4)
            if "max_tokens_per_s" in t:
                curve = rng.choice([BUSINESS, BUSINESS, CONSUMER, region])
                t["max_tokens_per_s"] = scaled(t["max_tokens_per_s"], curve, digits=-3)
        tiers.append(t)
    out["tiers"] = tiers
    out["hardware"] = [{**h, "idle_power_fraction": round(rng.uniform(0.35, 0.6), 2)} for h in inst["hardware"]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("hardware", "models", "workloads", "tiers", "halls"):
        ap.add_argument(f"--{name}", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", type=Path, required=True)
    a = ap.parse_args()
    a.output.write_text(yaml.safe_dump(synthetic(a.hardware, a.models, a.workloads, a.tiers, a.halls, a.seed), sort_keys=False))


if __name__ == "__main__":
    main()
