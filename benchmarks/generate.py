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
