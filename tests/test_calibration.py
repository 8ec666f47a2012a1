"""Every calibration row of docs/calibration.md, recomputed and asserted inside its band; the
optimised allocation never worse than the keynote's 25% split; the document up to date."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.analysis import calibration

DOC = Path(__file__).resolve().parents[1] / "docs" / "calibration.md"
ROWS = calibration.rows()


@pytest.mark.parametrize("row", ROWS, ids=[r.key for r in ROWS])
def test_row_inside_its_band(row):
    assert row.inside, f"{row.claim}: {row.computed:.4g} {row.unit} outside {row.band}"


def test_keynote_ratios_within_20_percent():
    by_key = {r.key: r.computed for r in ROWS}
    assert 4.0 <= by_key["ratio_rubin"] <= 6.0
    assert 8.0 <= by_key["ratio_rubin_lpx"] <= 12.0


@pytest.mark.parametrize("market", [False, True], ids=["unlimited", "capped"])
def test_optimised_never_worse_than_the_split(market):
    for h in calibration.headline(market):
        assert h.free_revenue >= h.split_revenue * (1 - 1e-4), h


def test_document_states_the_current_figures():
    """The tables in docs/calibration.md are what `python -m optimizer.analysis.calibration` prints now."""
    doc = DOC.read_text()
    missing = [line for line in calibration.render().splitlines() if line.strip() and line not in doc]
    assert missing == [], "docs/calibration.md is stale; rerun python -m optimizer.analysis.calibration:\n" + "\n".join(missing)


def test_prefill_bound_by_hand():
    """8 input tokens per output token at 6.24e6 input tok/s per 200 kW VR rack: 3,900 output
    tok/s per kW; GB300 at 150 tok/s/user: (70,704 - 25/37 x 37,080) / 136 kW."""
    gb = (70_704 - 25 / 37 * 37_080) / 136
    assert calibration.prefill_bound_ratio("premium") == pytest.approx(6.24e6 / 8 / 200 / gb, rel=1e-9)


def test_optics_by_hand():
    mw = calibration.optics_mw(400_000)
    assert mw["pluggable"] == pytest.approx(400_000 * 4 * (7.5 + 5 * 7.5) / 1e6)  # 72 MW
    assert mw["cpo"] == pytest.approx(400_000 * 4 * (7.5 + 5 * 2.25) / 1e6)  # 30 MW
    assert mw["cpo_both_ends"] == pytest.approx(400_000 * 4 * 6 * 2.25 / 1e6)  # 21.6 MW
