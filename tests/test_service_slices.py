"""`optimizer serve` takes sliced instances (MODEL.md section 12) as the library does: the same
JSON, the same answer with its slices, sweeps over one slice of a value and their per-slice
columns, and errors that name the slice path."""

from __future__ import annotations

import copy

import httpx
import pytest

import optimizer
from optimizer.interfaces.client import Client, ServiceError
from test_service import Server
from test_sweep_slices import HOURS, TINY, by_hand

THREE = {  # three slices and every field of section 12 that is new
    "name": "three-slices",
    "objective": "profit",
    "slices": [{"name": "peak", "hours": 2190}, {"name": "day", "hours": 3650}, {"name": "night", "hours": 2920}],
    "facility": {
        "grid_power_mw": {"peak": 9.0, "day": 10.0, "night": 10.0},
        "liquid_cooling_mw": 20.0,
        "air_cooling_mw": 0.0,
        "liquid_cooling_overhead": {"peak": 0.05, "day": 0.03, "night": 0.02},
        "electricity_usd_per_mwh": {"peak": 120.0, "day": 70.0, "night": 40.0},
        "halls": [{"name": "hall-a", "rack_slots": 200, "max_rack_kw": 250, "liquid_cooling": True}],
    },
    "models": [{"name": "llm"}],
    "workloads": [{"name": "chat", "model": "llm", "input_tokens_per_output_token": 4.0, "cached_input_fraction": 0.5}],
    "tiers": [
        {"name": "paid", "workload": "chat", "min_interactivity": 50, "price_usd_per_mtok": {"peak": 8.0, "day": 6.0, "night": 4.0},
         "input_price_usd_per_mtok": 1.0, "cached_input_price_usd_per_mtok": 0.1,
         "max_tokens_per_s": {"peak": 4.0e7, "day": 2.5e7, "night": 8.0e6}},
        {"name": "batch", "workload": "chat", "min_interactivity": 20, "price_usd_per_mtok": 1.5, "shiftable": True,
         "max_tokens_per_s": 1.0e7},
    ],
    "hardware": [{"name": "vr-nvl72", "kind": "gpu", "rack_power_kw": 200, "liquid_cooled_fraction": 1.0, "capex_usd": 7.8e6,
                  "idle_power_fraction": 0.3,
                  "performance": {"chat": {"prefill_tokens_per_s": 6.0e6, "aggregated": [[20, 1.2e6], [100, 5.0e5]]}}}],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("svc-slices") / "data", "--max-solves", "2", "--max-time-limit", "30")
    yield srv
    srv.stop()


def test_a_sliced_instance_solves_as_in_the_library(server):
    local = optimizer.solve(copy.deepcopy(THREE))
    assert local.status == "optimal" and len(local.slices) == 3
    with Client(server.url) as c:
        assert c.validate(THREE) == []
        remote = c.solve(THREE)
    raw = httpx.post(server.url + "/v1/solve", json={"instance": THREE}, timeout=120)
    assert raw.status_code == 200
    for sol in (remote, optimizer.Solution.model_validate(raw.json())):
        assert sol.status == "optimal"
        assert sol.objective.value == pytest.approx(local.objective.value, rel=1e-9)
        assert [(s.name, s.hours) for s in sol.slices] == [("peak", 2190), ("day", 3650), ("night", 2920)]
        for mine, theirs in zip(sol.slices, local.slices, strict=True):
            assert mine.power.grid_mw == theirs.power.grid_mw
            assert mine.power.total_mw == pytest.approx(theirs.power.total_mw, rel=1e-9, abs=1e-9)
            assert mine.tokens_per_s == pytest.approx(theirs.tokens_per_s, rel=1e-9, abs=1e-6)
    assert [s["name"] for s in raw.json()["slices"]] == ["peak", "day", "night"]


def test_broken_slices_are_422_naming_the_field(server):
    bad = copy.deepcopy(THREE)
    bad["tiers"][0]["max_tokens_per_s"] = {"peak": 4.0e7, "day": 2.5e7}  # night missing
    bad["tiers"][1]["max_tokens_per_s"] = {"peak": 1.0, "day": 1.0, "night": 1.0}  # shiftable: may not vary by slice
    bad["hardware"][0]["idle_power_fraction"] = 1.5
    r = httpx.post(server.url + "/v1/solve", json={"instance": bad}, timeout=60)
    assert r.status_code == 422
    paths = {e["path"] for e in r.json()["errors"]}
    assert "instance.hardware[0] (vr-nvl72).idle_power_fraction" in paths
    bad["hardware"][0]["idle_power_fraction"] = 0.3
    with Client(server.url) as c:
        errors = c.validate(bad)
    assert {e["path"] for e in errors} == {"tiers[0] (paid).max_tokens_per_s", "tiers[1] (batch).max_tokens_per_s"}
    assert any("night missing" in e["rule"] for e in errors) and any("shiftable" in e["rule"] for e in errors)


def test_a_sweep_over_one_slice_on_the_service(server):
    spec = {"mip_gap": 1.0e-9, "parameters": [{"path": "facility.grid_power_mw.peak", "values": [0.3, 1.0]}]}
    with Client(server.url) as c:
        df = c.sweep(spec, instance=TINY, poll=0.2).sort_values("point")
        assert set(df["status"]) == {"optimal"}
        for grid, (_, row) in zip([0.3, 1.0], df.iterrows(), strict=True):
            want = by_hand({**TINY, "facility": {**TINY["facility"], "grid_power_mw": {"peak": grid, "night": 1.0}}})
            assert row["racks[rack]"] == want["racks"]
            for s in HOURS:
                assert row[f"slice[{s}].grid_power_mw"] == pytest.approx(want["grid"][s])
                assert row[f"slice[{s}].facility_power_mw"] == pytest.approx(want["power"][s], abs=1e-9)
                assert row[f"slice[{s}].utilisation[rack]"] == pytest.approx(want["busy"][s] / want["racks"], abs=1e-9)
        with pytest.raises(ServiceError) as err:
            c.start_sweep({"parameters": [{"path": "facility.grid_power_mw.noon", "values": [1.0]}]}, instance=TINY)
    assert err.value.status == 422
    (issue,) = err.value.body["errors"]
    assert issue["path"] == "parameters[0].path" and "'noon' is not a slice of 'slices' (peak, night)" in issue["rule"]
