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
    # long-context @100, between (33, 306,504) and (125, 194,436)
    assert d.A[vr, t["standard"]] == pytest.approx(306504 - 67 / 92 * (306504 - 194436))
    # GB300 @260, between (255, 4,976) and (289, 1,656); @280 the same segment
    assert d.A[gb, t["premium"]] == pytest.approx(4976 - 5 / 34 * (4976 - 1656))
    assert d.A[gb, t["ultra"]] == pytest.approx(4976 - 25 / 34 * (4976 - 1656))
    # GB300 @240, between (223, 8,488) and (255, 4,976)
    assert d.A[gb, t["pro"]] == pytest.approx(8488 - 17 / 32 * (8488 - 4976))
    # LPX decode only, flat to 1,000 tok/s/user: a floor below the only point takes its throughput
    assert d.Dc[lpx, t["premium"]] == pytest.approx(52863)
    assert d.Dc[lpx, t["ultra"]] == pytest.approx(52863)
    assert d.A[lpx].sum() == 0 and d.P[lpx].sum() == 0
    assert d.replica_racks[lpx, 0] == 6  # ceil(671 GB / 128 GB)
    assert d.allowed.all()
    # VR is GB300 at 2.75x per rack (HBM bandwidth) at every measured point
    for tier in ("standard", "pro", "premium", "ultra"):
        assert d.A[vr, t[tier]] / d.A[gb, t[tier]] == pytest.approx(2.75, rel=1e-5)
