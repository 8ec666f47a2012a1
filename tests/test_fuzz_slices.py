"""Fuzz of slices of the year (MODEL.md section 12) with hypothesis: random slice lists, values
by slice (and by year with slices inside), shiftable tiers, input and cached-input prices, cached
input and idle power. A valid document validates and solves (or is reported infeasible) without
an exception; a broken one raises InputError whose issues name the field's path and the rule."""

from __future__ import annotations

import copy
import os
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optimizer
from generate import random_instance
from optimizer.analysis.scenarios import apply
from optimizer.errors import element_path
from optimizer.model.schema import SLICED, by_slice_of

# FUZZ_N=1000 for a longer run
SETTINGS = settings(max_examples=int(os.environ.get("FUZZ_N", "50")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOLVED = {"optimal", "time_limit", "infeasible"}
# slice names: any text but a year, "year" (the implicit slice's name) and "peak" among them
names = st.sampled_from(["peak", "night", "year"]) | st.text(alphabet=string.ascii_lowercase + "-_", min_size=1, max_size=6)
# how far a slice's value may stray from the document's number, per field: floors only fall and
# caps only rise, so that a floor never exceeds its cap
FACTORS = {"grid_power_mw": (0.3, 1.5), "liquid_cooling_mw": (0.5, 1.5), "air_cooling_mw": (0.5, 1.5),
           "price_usd_per_mtok": (0.5, 1.5), "min_tokens_per_s": (0.0, 1.0), "max_tokens_per_s": (1.0, 2.0)}
FRESH = {"liquid_cooling_overhead": (0.0, 0.5), "air_cooling_overhead": (0.0, 0.5), "electricity_usd_per_mwh": (0.0, 200.0),
         "input_price_usd_per_mtok": (0.0, 5.0), "cached_input_price_usd_per_mtok": (0.0, 2.0)}


@st.composite
def slice_lists(draw) -> list[dict]:
    """1-4 uniquely named slices whose hours (quarters of an hour) sum to 8,760."""
    picked = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    cuts = sorted(draw(st.lists(st.integers(1, 8760 * 4 - 1), min_size=len(picked) - 1, max_size=len(picked) - 1, unique=True)))
    quarters = [b - a for a, b in zip([0, *cuts], [*cuts, 8760 * 4], strict=True)]
    return [{"name": n, "hours": q / 4} for n, q in zip(picked, quarters, strict=True)]


def holders(doc: dict):
    """(path, mapping, place) of every mapping holding fields of SLICED."""
    yield "facility", doc["facility"], "facility"
    for i, t in enumerate(doc["tiers"]):
        yield element_path("tiers", i, t["name"]), t, "tiers"


def _value(draw, key: str, current):
    """A slice's value: planner-sized (three decimals), never a tiny positive number such as
    1e-20, which the model does not survive yet (a tier floor of 1e-12 tokens/s or an electricity
    price of 1e-30 USD/MWh gives numerical trouble, "unbounded" or an exception, sliced or not)."""
    if key in FRESH:
        return round(draw(st.floats(*FRESH[key])), 3)
    if current is None:
        return None
    return round(current * draw(st.floats(*FACTORS[key])), 3)


@st.composite
def sliced_documents(draw, horizon: bool | None = None) -> dict:
    """A random instance (tests/generate.py) given slices, and some of its fields by slice."""
    doc = random_instance(draw(st.integers(0, 100_000)))
    doc["slices"] = draw(slice_lists())
    slices = [s["name"] for s in doc["slices"]]
    horizon = draw(st.booleans()) if horizon is None else horizon
    if horizon:
        doc["horizon"] = {"start_year": 2026, "period_years": [1, 1]}
    for w in doc["workloads"]:
        if draw(st.booleans()):
            w["cached_input_fraction"] = round(draw(st.floats(0.0, 1.0)), 3)
    for h in doc["hardware"]:
        if draw(st.booleans()):
            h["idle_power_fraction"] = round(draw(st.floats(0.0, 1.0)), 3)
    for t in doc["tiers"]:
        t["shiftable"] = draw(st.booleans())
    for _, holder, place in holders(doc):
        for key in SLICED[place]:
            if holder.get("shiftable") and key in ("min_tokens_per_s", "max_tokens_per_s"):
                continue  # a shiftable tier's floor and cap bound the year's mean: never by slice
            current = holder.get(key)
            if key not in FRESH and current is None:
                continue
            how = draw(st.sampled_from(["keep", "number", "by slice", "by year"] if horizon else ["keep", "number", "by slice"]))
            if how == "number" and key in FRESH:
                holder[key] = _value(draw, key, current)
            elif how == "by slice":
                holder[key] = {s: _value(draw, key, current) for s in slices}
            elif how == "by year":  # the first period a number, the second by slice
                first = current if current is not None else _value(draw, key, current)
                holder[key] = {2026: first, 2027: {s: _value(draw, key, current) for s in slices}}
    return doc


@SETTINGS
@given(doc=sliced_documents())
def test_valid_sliced_documents_validate_and_solve(doc):
    inst = optimizer.load_instance(copy.deepcopy(doc))
    sol = optimizer.solve(inst, time_limit=20)
    assert sol.status in SOLVED, (sol.status, sol.message, sol.problems)
    if not sol.has_plan:
        return
    hours = [(s["name"], s["hours"]) for s in doc["slices"]]
    plans = sol.periods or [sol]
    for plan in plans:
        assert [(s.name, s.hours) for s in plan.slices] == hours
        for s in plan.slices:
            assert s.power.total_mw <= s.power.grid_mw * (1 + 1e-6) + 1e-6, (plan, s.name)
        for i, t in enumerate(doc["tiers"]):  # a shiftable tier's cap bounds the year's mean rate
            cap = t.get("max_tokens_per_s")
            if t["shiftable"] and cap is not None:
                mean = sum(s.hours * s.tiers[i].tokens_per_s for s in plan.slices) / 8760
                assert mean <= cap * (1 + 1e-6) + 1e-3
    if not sol.periods:
        assert sum(s.revenue_usd_per_year for s in sol.slices) == pytest.approx(sol.metrics.revenue_usd_per_year, rel=1e-6, abs=1e-3)


def _broken(draw, doc: dict) -> tuple[str, str]:
    """Break ``doc`` (in place) in one way; return the path an issue must name and words of its rule."""
    slices = [s["name"] for s in doc["slices"]]
    spots = [(path, holder, place, key) for path, holder, place in holders(doc) for key in SLICED[place]]
    how = draw(st.sampled_from(["missing slice", "unknown slice", "years and slices", "shiftable by slice",
                                "idle power", "cached input", "duplicate slice", "hours", "year as slice",
                                "no slices", "negative in a slice"]))
    path, holder, _, key = draw(st.sampled_from(spots))
    value = 1.0
    if how == "missing slice":
        if len(slices) == 1:
            holder[key] = {"zz-gone": value}
            return f"{path}.{key}", "not a slice of 'slices'"
        gone = draw(st.sampled_from(slices))
        holder[key] = {s: value for s in slices if s != gone}
        return f"{path}.{key}", f"{gone} missing"
    if how == "unknown slice":
        holder[key] = {**{s: value for s in slices}, "zz-extra": value}
        return f"{path}.{key}", "'zz-extra', not a slice of 'slices'"
    if how == "years and slices":
        holder[key] = {2026: value, slices[0]: value}
        return f"{path}.{key}", "mixes years and slice names"
    if how == "shiftable by slice":
        i = draw(st.integers(0, len(doc["tiers"]) - 1))
        tier, field = doc["tiers"][i], draw(st.sampled_from(["min_tokens_per_s", "max_tokens_per_s"]))
        tier["shiftable"] = True
        tier["min_tokens_per_s"], tier["max_tokens_per_s"] = 0.0, 1.0e6
        tier[field] = {s: 0.0 if field == "min_tokens_per_s" else 1.0e6 for s in slices}
        return f"{element_path('tiers', i, tier['name'])}.{field}", "shiftable"
    outside = st.floats(-10.0, -1e-6) | st.floats(1.000001, 10.0)
    if how == "idle power":
        i = draw(st.integers(0, len(doc["hardware"]) - 1))
        doc["hardware"][i]["idle_power_fraction"] = draw(outside)
        return f"{element_path('hardware', i, doc['hardware'][i]['name'])}.idle_power_fraction", "Input should be"
    if how == "cached input":
        i = draw(st.integers(0, len(doc["workloads"]) - 1))
        doc["workloads"][i]["cached_input_fraction"] = draw(outside)
        return f"{element_path('workloads', i, doc['workloads'][i]['name'])}.cached_input_fraction", "Input should be"
    if how == "duplicate slice":
        doc["slices"].append({"name": slices[0], "hours": 1.0})
        doc["slices"][0]["hours"] -= 1.0
        if doc["slices"][0]["hours"] <= 0:
            doc["slices"][0]["hours"] = 0.5
            doc["slices"][-1]["hours"] = 0.5
        j = len(doc["slices"]) - 1
        return f"{element_path('slices', j, slices[0])}.name", "is not unique"
    if how == "hours":
        j = max(range(len(slices)), key=lambda k: doc["slices"][k]["hours"])  # the largest: above 0 after the cut
        doc["slices"][j]["hours"] += draw(st.sampled_from([-0.5, -3.0] + ([0.001, 3.0] if len(slices) > 1 else [])))
        return "slices", "must sum to 8,760"
    if how == "year as slice":
        j = draw(st.integers(0, len(slices) - 1))
        doc["slices"][j]["name"] = "2030"
        return f"{element_path('slices', j, '2030')}.name", "may not be a year"
    if how == "no slices":
        holder[key] = {s: value for s in slices}
        del doc["slices"]
        return f"{path}.{key}", "needs 'slices'"
    # a value by slice breaking the field's own rule in one slice
    bad = draw(st.sampled_from(slices))
    holder[key] = {s: -1.0 if s == bad else value for s in slices}
    return f"{path}.{key}", f"slice {bad}: Input should be greater than or equal to 0"


@SETTINGS
@given(doc=sliced_documents(horizon=False), data=st.data())
def test_broken_sliced_documents_name_the_field(doc, data):
    path, words = _broken(data.draw, doc)
    with pytest.raises(optimizer.InputError) as err:
        optimizer.load_instance(doc)
    issues = [(i.path, i.rule) for i in err.value.issues]
    assert any(p == path and words in rule for p, rule in issues), (path, words, issues)


@SETTINGS
@given(doc=sliced_documents(horizon=False), data=st.data())
def test_a_sweep_path_sets_one_slice_and_keeps_the_rest(doc, data):
    """``FIELD.SLICE`` on a valid document: still valid, that slice holds the new value and
    every other slice its old one."""
    before = optimizer.load_instance(copy.deepcopy(doc))
    spots = [("facility", None, key) for key in SLICED["facility"]]
    spots += [(f"tiers[{t['name'] if data.draw(st.booleans()) else i}]", i, key) for i, t in enumerate(doc["tiers"])
              for key in SLICED["tiers"] if not (t["shiftable"] and key in ("min_tokens_per_s", "max_tokens_per_s"))]
    path, i, key = data.draw(st.sampled_from(spots))
    name = data.draw(st.sampled_from([s["name"] for s in doc["slices"]]))
    value = data.draw(st.floats(0.0, 1.0e3)) if key != "max_tokens_per_s" else data.draw(st.floats(1.0e7, 1.0e8))
    after = optimizer.load_instance(apply(doc, [(f"{path}.{key}.{name}", value)]))
    holder = (lambda inst: inst.facility) if i is None else (lambda inst: inst.tiers[i])
    old, new = by_slice_of(before, getattr(holder(before), key)), by_slice_of(after, getattr(holder(after), key))
    if key == "cached_input_price_usd_per_mtok":  # not given: it was the input price
        old = {s: v if v is not None else by_slice_of(before, holder(before).input_price_usd_per_mtok)[s] for s, v in old.items()}
    assert new[name] == value
    assert {s: v for s, v in new.items() if s != name} == {s: v for s, v in old.items() if s != name}
