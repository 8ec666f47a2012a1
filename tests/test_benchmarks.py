"""Smoke test: the benchmark harness runs on the smallest size (no timing is asserted)."""

from benchmarks.sweep_throughput import run


def test_sweep_benchmark_smoke():
    res = run(n_points=4, jobs=1, sample=2)
    assert res["points"] == 4 and res["sample"] == 2
    assert res["statuses"] == {"optimal": 4}
    assert 0 < res["highs_ms_per_point"] <= res["full_path_ms_per_point"] * 1.05
