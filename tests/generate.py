"""Seeded random small instances (as plain dicts) for the plan verifier and property tests."""

from __future__ import annotations

import random

OBJECTIVES = ["revenue", "profit", "tokens", "tokens_per_watt", "min_cost"]


def _curve(rng: random.Random) -> list[list[float]]:
    points, x, y = [], rng.uniform(5, 60), rng.uniform(1e3, 5e6)
    for _ in range(rng.randint(1, 4)):
        points.append([round(x, 3), round(y, 3)])
        x += rng.uniform(10, 150)
        y *= rng.uniform(0.2, 1.0)
    return points


def random_instance(seed: int) -> dict:
    rng = random.Random(seed)
    models = [{"name": f"m{i}", "kv_bytes_per_token": rng.choice([0, 0, 35136, 70000])} for i in range(rng.randint(1, 2))]
    workloads = [
        {"name": f"w{i}", "model": rng.choice(models)["name"], "input_tokens_per_output_token": rng.choice([0.0, 1.0, 4.0, 8.0])}
        for i in range(rng.randint(1, 3))
    ]
    tiers = []
    for i in range(rng.randint(1, 4)):
        t = {
            "name": f"t{i}",
            "workload": rng.choice(workloads)["name"],
            "min_interactivity": round(rng.uniform(5, 300), 2),
            "price_usd_per_mtok": rng.choice([0.0, 1.0, 3.0, 6.0, 45.0, 150.0]),
        }
        if rng.random() < 0.07:
            t["min_tokens_per_s"] = round(rng.uniform(0, 2e4), 1)
        if rng.random() < 0.5:
            t["max_tokens_per_s"] = round(t.get("min_tokens_per_s", 0) + rng.uniform(1e3, 1e6), 1)
        tiers.append(t)
    halls = [
        {
            "name": f"z{i}",
            "rack_slots": rng.randint(2, 30),
            "max_rack_kw": rng.choice([50, 150, 300]),
            "liquid_cooling": rng.random() < 0.7,
        }
        for i in range(rng.randint(1, 2))
    ]
    hardware = []
    for i in range(rng.randint(1, 3)):
        h = {
            "name": f"h{i}",
            "kind": rng.choice(["gpu", "gpu", "lpu", "cpu"]),
            "rack_power_kw": round(rng.uniform(20, 250), 2),
            "liquid_cooled_fraction": rng.choice([0.0, 0.5, 0.85, 1.0]),
            "capex_usd": round(rng.uniform(1e5, 1e7), 0),
            "opex_usd_per_year": rng.choice([0.0, 5e4]),
            "lifetime_years": rng.choice([3, 4, 5, 6]),
            "availability": rng.choice([1.0, 1.0, 0.9]),
            "scale_out_ports": rng.choice([0, 4, 8]),
            "port_gbps": rng.choice([400, 800]),
            "performance": {},
        }
        if rng.random() < 0.3:
            h["max_racks"] = rng.randint(1, 20)
        if rng.random() < 0.3:
            h["racks_per_replica"] = {rng.choice(models)["name"]: rng.choice([1, 2, 3])}
        for w in rng.sample(workloads, rng.randint(1, len(workloads))):
            perf = {}
            if rng.random() < 0.6:
                perf["prefill_tokens_per_s"] = round(rng.uniform(1e4, 5e6), 1)
            if rng.random() < 0.75:
                perf["aggregated"] = _curve(rng)
            if rng.random() < 0.4:
                perf["decode"] = _curve(rng)
            h["performance"][w["name"]] = perf
        hardware.append(h)
    inst = {
        "name": f"random-{seed}",
        "objective": rng.choice(OBJECTIVES),
        "facility": {
            "grid_power_mw": round(rng.uniform(0.05, 5.0), 3),
            "distribution_loss_fraction": rng.choice([0.0, 0.02, 0.05]),
            "liquid_cooling_mw": round(rng.uniform(0.0, 5.0), 3),
            "air_cooling_mw": round(rng.uniform(0.1, 5.0), 3),
            "liquid_cooling_overhead": rng.choice([0.0, 0.05]),
            "air_cooling_overhead": rng.choice([0.0, 0.3]),
            "electricity_usd_per_mwh": rng.choice([0.0, 81.0]),
            "discount_rate": rng.choice([0.0, 0.08]),
            "halls": halls,
        },
        "models": models,
        "workloads": workloads,
        "tiers": tiers,
        "hardware": hardware,
    }
    if rng.random() < 0.3:
        inst["facility"]["capex_budget_usd"] = round(rng.uniform(1e6, 5e7), 0)
    if rng.random() < 0.6:
        inst["network"] = {
            "max_tiers": rng.randint(1, 3),
            "kv_transfer_max_utilization": rng.choice([0.1, 0.5]),
            "options": [
                {
                    "name": f"o{j}",
                    "technology": rng.choice(["pluggable", "cpo", "lpo", "copper"]),
                    "switch_radix": rng.choice([8, 16, 64]),
                    "switch_power_w": rng.choice([0.0, 900.0]),
                    "switch_capex_usd": rng.choice([0.0, 3e4]),
                    "switch_port_optics_w": rng.choice([0.0, 7.5, 2.25]),
                    "switch_port_optics_usd": rng.choice([0.0, 250.0]),
                    "endpoint_optics_w": rng.choice([0.0, 7.5]),
                    "endpoint_optics_usd": rng.choice([0.0, 250.0]),
                    "liquid_cooled_fraction": rng.choice([0.0, 1.0]),
                }
                for j in range(rng.randint(1, 2))
            ],
        }
    cons: dict = {}
    if rng.random() < 0.08:
        cons["min_revenue_usd_per_year"] = round(rng.uniform(0, 1e5), 0)
    if rng.random() < 0.08:
        cons["min_tokens_per_joule"] = round(rng.uniform(0, 0.005), 5)
    if rng.random() < 0.2:
        cons["kind_power_share"] = {rng.choice(["gpu", "lpu"]): {"min": 0.0, "max": round(rng.uniform(0.3, 1.0), 2)}}
    if rng.random() < 0.2:
        lo = round(rng.uniform(0, 0.3), 2)
        cons["tier_power_share"] = {rng.choice(tiers)["name"]: {"min": lo, "max": round(rng.uniform(lo, 1.0), 2)}}
    if cons:
        inst["constraints"] = cons
    return inst


def random_horizon_instance(seed: int) -> dict:
    """A random multi-year instance (MODEL.md section 11): a v1 random instance given 2-3
    periods, values by year, short whole lifetimes, availability windows, installed racks of
    several ages, purchase caps and budgets per period."""
    inst = random_instance(seed)
    rng = random.Random(100_000 + seed)
    start = 2026
    lengths = [rng.choice([1, 1, 2]) for _ in range(rng.randint(2, 3))]
    years = [start + sum(lengths[:p]) for p in range(len(lengths))]
    inst["horizon"] = {"start_year": start, "period_years": lengths, "allow_early_retirement": rng.random() < 0.7}
    fac = inst["facility"]
    if rng.random() < 0.6:
        fac["grid_power_mw"] = {start: fac["grid_power_mw"], years[1]: round(fac["grid_power_mw"] * rng.uniform(1.0, 2.0), 3)}
    if rng.random() < 0.3:
        fac["electricity_usd_per_mwh"] = {start: 50.0, years[-1]: 90.0}
    if "capex_budget_usd" in fac and rng.random() < 0.5:
        fac["capex_budget_usd"] = {start: fac["capex_budget_usd"], years[-1]: None}
    if rng.random() < 0.2:
        z = fac["halls"][0]
        z["rack_slots"] = {start: z["rack_slots"], years[-1]: z["rack_slots"] + rng.randint(0, 10)}
    for t in inst["tiers"]:
        if t["price_usd_per_mtok"] > 0 and rng.random() < 0.5:
            t["price_usd_per_mtok"] = {start: t["price_usd_per_mtok"], years[-1]: round(t["price_usd_per_mtok"] * rng.uniform(0.3, 1.0), 3)}
    for h in inst["hardware"]:
        h["lifetime_years"] = rng.choice([1, 2, 3, 4])
        if rng.random() < 0.4:
            h["available_from"] = rng.choice(years)
        if rng.random() < 0.2:
            h["available_until"] = max(rng.choice(years), h.get("available_from", start))
        if rng.random() < 0.4:
            h["performance_multiplier"] = {start: 1.0, years[-1]: rng.choice([1.5, 2.0])}
        if rng.random() < 0.3:
            h["max_new_racks"] = rng.randint(0, 5)
        if rng.random() < 0.3:
            h["capex_usd"] = {start: h["capex_usd"], years[1]: round(h["capex_usd"] * 0.7, 0)}
        if rng.random() < 0.35 and "available_from" not in h and "available_until" not in h:
            h["installed_racks"] = min(rng.randint(1, 4), h.get("max_racks", 4))
            h["installed_year"] = rng.choice([start - 3, start - 2, start - 1, start])
    return inst


def _by_slice(rng: random.Random, value, names: list[str], low: float, high: float, digits: int = 3):
    """``value`` (a number, or a year map of numbers) as a map by slice, each slice's value the
    number times a factor in [low, high]; a None (no limit) stays None."""
    if isinstance(value, dict):
        return {y: _by_slice(rng, v, names, low, high, digits) for y, v in value.items()}
    if value is None:
        return None
    return {s: round(value * rng.uniform(low, high), digits) for s in names}


def add_random_slices(inst: dict, rng: random.Random) -> dict:
    """Slices of the year (MODEL.md section 12) on a random instance: 2-4 slices of whole hours
    summing to 8,760, grid power, cooling and electricity that differ by slice, prices and caps by
    slice, input and cached-input prices, shiftable tiers (floor and cap on the year's mean),
    cached input and idle power below 1."""
    k = rng.randint(2, 4)
    cuts = sorted(rng.sample(range(200, 8560), k - 1))
    hours = [b - a for a, b in zip([0] + cuts, cuts + [8760])]
    names = ["peak", "day", "night", "weekend"][:k]
    inst["slices"] = [{"name": n, "hours": h} for n, h in zip(names, hours)]
    fac = inst["facility"]
    if rng.random() < 0.7:
        fac["grid_power_mw"] = _by_slice(rng, fac["grid_power_mw"], names, 0.5, 1.0)
    if rng.random() < 0.5:
        fac["electricity_usd_per_mwh"] = _by_slice(rng, fac.get("electricity_usd_per_mwh", 60.0) or 60.0, names, 0.3, 2.0, 2)
    if rng.random() < 0.3:
        fac["air_cooling_overhead"] = {s: rng.choice([0.0, 0.2, 0.5]) for s in names}
    if rng.random() < 0.2:
        fac["air_cooling_mw"] = _by_slice(rng, fac["air_cooling_mw"], names, 0.6, 1.0)
    for w in inst["workloads"]:
        if rng.random() < 0.5:
            w["cached_input_fraction"] = rng.choice([0.0, 0.3, 0.8, 1.0])
    for t in inst["tiers"]:
        if rng.random() < 0.3:
            t["shiftable"] = True  # floor and cap stay plain numbers (or year maps of them)
        elif rng.random() < 0.6 and t.get("max_tokens_per_s") is not None:
            t["max_tokens_per_s"] = _by_slice(rng, t["max_tokens_per_s"], names, 1.0, 3.0, 1) if not t.get("min_tokens_per_s") \
                else t["max_tokens_per_s"]
        if rng.random() < 0.4:
            t["price_usd_per_mtok"] = _by_slice(rng, t["price_usd_per_mtok"], names, 0.5, 1.5)
        if rng.random() < 0.4:
            t["input_price_usd_per_mtok"] = rng.choice([0.5, 1.0, 3.0])
            if rng.random() < 0.5:
                t["cached_input_price_usd_per_mtok"] = {s: rng.choice([0.0, 0.1, 0.3]) for s in names}
    for h in inst["hardware"]:
        if rng.random() < 0.6:
            h["idle_power_fraction"] = rng.choice([0.0, 0.2, 0.35, 0.6, 1.0])
    return inst


def random_sliced_instance(seed: int) -> dict:
    """A random one-period instance with slices of the year."""
    return add_random_slices(random_instance(seed), random.Random(200_000 + seed))


def random_sliced_horizon_instance(seed: int) -> dict:
    """A random multi-year instance with slices of the year (year maps of slice maps)."""
    return add_random_slices(random_horizon_instance(seed), random.Random(300_000 + seed))


def add_random_lots_and_resale(inst: dict, rng: random.Random) -> dict:
    """Section 14 on a random instance: purchase lots of 2-4 racks on some hardware and, with a
    horizon, a resale fraction on some."""
    for h in inst["hardware"]:
        if rng.random() < 0.5:
            h["lot_racks"] = rng.randint(2, 4)
        if "horizon" in inst and rng.random() < 0.5:
            h["resale_fraction"] = rng.choice([0.3, 0.6, 1.0])
    return inst


def random_lots_instance(seed: int) -> dict:
    return add_random_lots_and_resale(random_instance(seed), random.Random(500_000 + seed))


def random_lots_horizon_instance(seed: int) -> dict:
    return add_random_lots_and_resale(random_horizon_instance(seed), random.Random(600_000 + seed))


def _scaled(value, factor: float, digits: int = 3):
    """``value`` (a number, or a map by year or slice of them) times ``factor``; None stays None."""
    if isinstance(value, dict):
        return {k: _scaled(v, factor, digits) for k, v in value.items()}
    return None if value is None else round(value * factor, digits)


def random_scenarios(inst: dict, rng: random.Random) -> dict:
    """Section 13 on a random instance: 2-4 scenarios of random probabilities (summing to 1), each
    changing a few things the allocation reads: tier prices, caps and floors, hardware performance
    multipliers, availability and opex, the grid power and the electricity price; sometimes a CVaR
    weight (never with tokens_per_watt)."""
    k = rng.randint(2, 4)
    weights = [rng.randint(1, 9) for _ in range(k)]
    probs = [w / sum(weights) for w in weights]
    probs[-1] = 1.0 - sum(probs[:-1])
    scenarios = []
    for i, p in enumerate(probs):
        overrides: dict = {}
        for _ in range(rng.randint(0 if i == 0 else 1, 3)):
            what = rng.choice(["price", "price", "cap", "cap", "floor", "multiplier", "multiplier", "availability", "opex", "grid",
                               "electricity"])
            t = rng.choice(inst["tiers"])
            h = rng.choice(inst["hardware"])
            fac = inst["facility"]
            if what == "price":
                overrides[f"tiers[{t['name']}].price_usd_per_mtok"] = _scaled(t["price_usd_per_mtok"], rng.uniform(0.3, 2.0))
            elif what == "cap" and t.get("max_tokens_per_s") is not None and not t.get("min_tokens_per_s"):
                overrides[f"tiers[{t['name']}].max_tokens_per_s"] = _scaled(t["max_tokens_per_s"], rng.uniform(0.2, 3.0), 1)
            elif what == "floor" and t.get("max_tokens_per_s") is None and not t.get("min_tokens_per_s") and rng.random() < 0.3:
                overrides[f"tiers[{t['name']}].min_tokens_per_s"] = round(rng.uniform(0, 5e3), 1)
            elif what == "multiplier":
                overrides[f"hardware[{h['name']}].performance_multiplier"] = _scaled(h.get("performance_multiplier", 1.0),
                                                                                     rng.uniform(0.6, 1.6))
            elif what == "availability":
                overrides[f"hardware[{h['name']}].availability"] = rng.choice([0.8, 0.9, 1.0])
            elif what == "opex":
                overrides[f"hardware[{h['name']}].opex_usd_per_year"] = _scaled(h.get("opex_usd_per_year", 0.0) or 2e4,
                                                                                rng.uniform(0.5, 3.0), 0)
            elif what == "grid":
                overrides["facility.grid_power_mw"] = _scaled(fac["grid_power_mw"], rng.uniform(0.8, 1.4))
            elif what == "electricity":
                overrides["facility.electricity_usd_per_mwh"] = _scaled(fac.get("electricity_usd_per_mwh") or 60.0,
                                                                        rng.uniform(0.5, 2.0), 2)
        scenarios.append({"name": f"s{i}", "probability": p, "set": overrides})
    inst["uncertainty"] = {"scenarios": scenarios}
    if inst["objective"] != "tokens_per_watt" and rng.random() < 0.3:
        inst["uncertainty"]["risk"] = {"alpha": rng.choice([0.0, 0.5, 0.8]), "weight": rng.choice([0.3, 0.7, 1.0])}
    return inst


def random_stochastic_instance(seed: int, horizon: bool = False, slices: bool = False) -> dict:
    """A random instance (one period or a horizon, with or without slices of the year) with 2-4
    random scenarios (``random_scenarios``)."""
    make = {(False, False): random_instance, (True, False): random_horizon_instance,
            (False, True): random_sliced_instance, (True, True): random_sliced_horizon_instance}[(horizon, slices)]
    return random_scenarios(make(seed), random.Random(700_000 + seed))
