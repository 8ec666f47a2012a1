"""Smoke test: the benchmark harness runs on the smallest size (no timing is asserted)."""

from benchmarks.sweep_throughput import run


def test_sweep_benchmark_smoke():
    res = run(n_points=4, jobs=1, sample=2)
    assert res["points"] == 4 and res["sample"] == 2
    assert res["statuses"] == {"optimal": 4}
    assert 0 < res["highs_ms_per_point"] <= res["full_path_ms_per_point"] * 1.05
    assert res["warm_start_floor_points"] == 2 and res["warm_start_floor_primary_ms"] > 0
    assert res["lp_certificate_points"] == 2 and 0 <= res["lp_certificate_share_within_gap"] <= 1


def test_solve_scaling_smoke():
    from benchmarks.solve_scaling import measure

    (row,) = measure(["small"], time_limit=60)
    assert row["status"] == "optimal" and row["floor"]["status"] == "kOptimal"
    assert row["variables"] > 0 and row["peak_mb"] > 0 and row["floor"]["peak_mb"] > 0
    for key in ("validate_s", "preprocess_s", "build_s", "handover_s", "highs_s", "extract_report_s"):
        assert 0 <= row[key] <= row["total_s"]
