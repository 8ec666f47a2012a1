"""What a planner would want to hear: a unit slip, hardware no hall takes, a tier nothing serves,
an unfinished tie-break, HiGHS dropping coefficients; in the JSON, the terminal and the page."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import optimizer
import optimizer.solving.engine as engine
from helpers import gpu, tier, tiny
from optimizer.outputs.document import to_html
from optimizer.analysis.explain import explain
from optimizer.outputs.report import to_text


def slipped() -> dict:
    """A rack power written in watts (136,000 for a 136 kW GB300 rack), a tier at an
    interactivity no rack reaches."""
    inst = tiny()
    inst["hardware"] = [gpu("gb300-nvl72", kw=136_000.0), gpu("ok", kw=100.0)]
    inst["tiers"] = [tier("t", 10, 1.0), tier("nobody", 5_000, 1.0)]
    return inst


def test_a_rack_power_in_watts_is_named_with_the_largest_hall():
    sol = optimizer.solve(slipped())
    assert sol.status == "optimal"
    text = " | ".join(sol.warnings)
    assert "hardware 'gb300-nvl72' fits no hall: its rack power 136,000 kW is above the largest hall limit (300 kW)" in text
    assert "136,000 kW is outside the plausible 0.5-2,000 kW per rack (watts written as kW?)" in text
    assert "tier 'nobody': no hardware can serve it" in text
    assert not any("'ok'" in w for w in sol.warnings)  # a plausible rack that fits is not warned about


def test_a_liquid_rack_where_only_small_halls_have_liquid():
    """A 130 kW liquid rack: the 150 kW hall is air-only, the liquid hall takes 50 kW. The reason
    is the missing loop, not the power."""
    inst = tiny()
    inst["facility"]["halls"] = [{"name": "air", "rack_slots": 10, "max_rack_kw": 150, "liquid_cooling": False},
                                 {"name": "wet", "rack_slots": 10, "max_rack_kw": 50, "liquid_cooling": True}]
    inst["hardware"] = [gpu("liquid", kw=130.0), gpu("air", kw=40.0, liquid_cooled_fraction=0.0)]
    inst["tiers"] = [tier("t", 10, 1.0)]
    sol = optimizer.solve(inst)
    assert "hardware 'liquid' fits no hall: it needs liquid cooling and no hall that can feed 130 kW has a liquid loop; it cannot be part of any plan" in sol.warnings
    assert not any("plausible" in w for w in sol.warnings)


def test_warnings_reach_the_terminal_the_page_and_the_json(tmp_path):
    inst = optimizer.load_instance(slipped())
    sol = optimizer.solve(inst)
    assert "fits no hall" in to_text(sol, width=300)
    page = to_html(inst, sol, explain(inst, sol), [])
    assert "<section id='warnings'>" in page and "fits no hall" in page
    assert "none: fits no hall (its 136,000 kW rack is above the largest hall limit (300 kW))" in page  # not "more than 100x"
    path = tmp_path / "slipped.json"
    path.write_text(json.dumps(slipped()))
    res = subprocess.run([sys.executable, "-m", "optimizer", "solve", str(path), "--json"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and any("fits no hall" in w for w in json.loads(res.stdout)["warnings"])


def test_an_unfinished_tie_break_is_a_warning(monkeypatch):
    """A tie-break that stopped at its budget (gap 5%) says so, with the option that gives it time;
    one that stopped at the MIP gap does not."""
    real = engine._second_stage
    monkeypatch.setattr(engine, "_second_stage", lambda *a, **k: (real(*a, **k), (0.05, True))[1])
    inst = tiny()
    inst["hardware"] = [gpu()]
    inst["tiers"] = [tier("t", 10, 1.0)]
    sol = optimizer.solve(inst)
    assert sol.tie_break_gap == pytest.approx(0.05)
    assert any("tie-break stopped at its time budget with a gap of 0.05" in w and "--tie-break-time" in w for w in sol.warnings)
    monkeypatch.setattr(engine, "_second_stage", lambda *a, **k: (real(*a, **k), (4e-5, False))[1])
    sol = optimizer.solve(inst)
    assert sol.tie_break_gap == pytest.approx(4e-5) and not any("tie-break" in w for w in sol.warnings)


def test_coefficients_hiGHS_drops_become_warnings():
    """Throughputs of 1e-8 and 1e12 tokens/s per rack in one tier: 20 decades, more than any
    choice of units keeps above HiGHS's 1e-9; its message is a warning, not a line on stdout."""
    inst = slipped()
    inst["hardware"][0]["rack_power_kw"] = 100.0
    inst["hardware"][0]["performance"]["chat"]["aggregated"] = [[10, 1e-8]]
    inst["hardware"][1]["performance"]["chat"]["aggregated"] = [[10, 1e12]]
    sol = optimizer.solve(inst)
    assert any(w.startswith("HiGHS:") and "ignored" in w for w in sol.warnings), sol.warnings
    assert any("1e+12 tokens/s per rack is above any plausible rack" in w for w in sol.warnings)
