"""Preprocessing (MODEL.md section 4): interpolation, fabric designs, annualisation, admission."""

from __future__ import annotations

from pathlib import Path

import pytest

import optimizer
from optimizer.model.preprocess import crf, fabric_designs, preprocess, throughput_at

GTC = Path(__file__).resolve().parents[1] / "instances" / "gtc2026-1gw.yaml"
CURVE = [(20, 1.2e6), (100, 5.0e5), (250, 4.0e4)]


@pytest.mark.parametrize(
    "floor,expected",
    [(5, 1.2e6), (20, 1.2e6), (60, 8.5e5), (100, 5.0e5), (175, 2.7e5), (250, 4.0e4), (250.01, 0.0), (1e4, 0.0)],
)
def test_throughput_at(floor, expected):
    assert throughput_at(CURVE, floor) == pytest.approx(expected)


def test_empty_curve_serves_nothing():
    assert throughput_at([], 10) == 0.0


def test_crf():
    assert crf(0.0, 5) == pytest.approx(0.2)
    assert crf(0.08, 5) == pytest.approx(0.08 / (1 - 1.08**-5))
    assert crf(0.08, 5) == pytest.approx(0.250456, rel=1e-5)


def test_fabric_designs_formulas():
    inst = optimizer.load_instance(GTC)
    designs = {d.name: d for d in fabric_designs(inst)}
    assert len(designs) == 6  # 2 options x 3 tiers
    p3 = designs["pluggable-1.6t:3"]
    # 7.5 + 5 x (1,800 / 256 + 7.5) W and 250 + 5 x (60,000 / 256 + 250) USD per endpoint port
    assert p3.power_w == pytest.approx(7.5 + 5 * (1800 / 256 + 7.5))
    assert p3.capex_usd == pytest.approx(250 + 5 * (60000 / 256 + 250))
    assert p3.reach_ports == 2 * 128**3
    assert designs["cpo-1.6t:1"].reach_ports == 1024
    assert designs["cpo-1.6t:2"].reach_ports == 2 * 512**2
    # optics alone per GPU at 3 tiers (4 plane ports): 180 W pluggable, 75 W CPO (DATA.md 4)
    assert 4 * (7.5 + 5 * 7.5) == 180 and 4 * (7.5 + 5 * 2.25) == 75


def test_shipped_coefficients():
    d = preprocess(optimizer.load_instance(GTC))
    vr, gb, lpx = (d.hardware.index(h) for h in ("vr-nvl72", "gb300-nvl72", "lpx"))
    t = {name: d.tiers.index(name) for name in d.tiers}
    # long-context @50, between (33, 819,529) and (125, 519,882)
    assert d.A[vr, t["standard"]] == pytest.approx(819529 - 17 / 92 * (819529 - 519882))
    # GB300 @150, between (125, 70,704) and (162, 33,624); @190 between (162, 33,624) and (198, 12,600)
    assert d.A[gb, t["premium"]] == pytest.approx(70704 - 25 / 37 * (70704 - 33624))
    assert d.A[gb, t["ultra"]] == pytest.approx(33624 - 28 / 36 * (33624 - 12600))
    # LPX decode only: @150 and @190 between (100, 594,000) and (200, 475,200)
    assert d.Dc[lpx, t["premium"]] == pytest.approx(594000 - 0.5 * 118800)
    assert d.Dc[lpx, t["ultra"]] == pytest.approx(594000 - 0.9 * 118800)
    assert d.A[lpx].sum() == 0 and d.P[lpx].sum() == 0
    assert d.replica_racks[lpx, 0] == 4
    assert d.allowed.all()
    # VR is GB300 at 5x per watt: x 5 x 200/136 at every measured point
    assert d.A[vr, t["premium"]] / d.A[gb, t["premium"]] == pytest.approx(5 * 200 / 136, rel=1e-5)
