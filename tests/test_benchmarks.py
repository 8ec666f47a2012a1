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


def test_slice_scaling_smoke():
    from benchmarks.slice_scaling import measure

    (row,) = measure([4], size="small", time_limit=60)
    assert row["status"] == "optimal" and row["slices"] == 4
    assert row["captured_objective"] == row["objective"]  # the floor was handed the models of this very solve
    runs = row["floor"]["runs"]
    assert [r["stage"] for r in runs[:3]] == ["primary", "certificate", "tie-break"] and runs[0]["status"] == "Optimal"
    assert runs[2]["mip_start"] and not runs[0]["mip_start"] and not runs[1]["mip_start"]
    assert all(r["threads"] == 1 and r["mip_rel_gap"] == 1e-4 for r in runs)  # the same options on both sides
    assert row["build_total_s"] == row["preprocess_s"] + row["build_s"] + row["handover_s"]
    for key in ("validate_s", "build_total_s", "highs_s", "extract_s", "check_s"):
        assert 0 <= row[key] <= row["total_s"]
    assert row["ratio_primary"] > 0 and row["ratio_stages"] > 0


def test_slices_of_the_day_are_valid_and_not_copies():
    from benchmarks.generate import SIZES, synthetic, with_slices
    from optimizer import load_instance

    for n in (1, 4, 12, 24):
        inst = load_instance(with_slices(synthetic(*SIZES["small"]), n))
        assert len(inst.slices) == n and sum(s.hours for s in inst.slices) == 8760
    inst = with_slices(synthetic(*SIZES["small"]), 24)
    for values in (inst["facility"]["electricity_usd_per_mwh"], inst["facility"]["grid_power_mw"],
                   next(t["max_tokens_per_s"] for t in inst["tiers"] if isinstance(t.get("max_tokens_per_s"), dict))):
        assert len(set(values.values())) > 1


def test_scenario_scaling_smoke():
    from benchmarks.scenario_scaling import measure

    (row,) = measure([3], slices=2, size="small", time_limit=60)
    assert row["status"] == "optimal" and row["scenarios"] == 3 and row["scenarios_reported"] == 3
    assert row["captured_objective"] == row["objective"]  # the floor was handed the models of this very solve
    runs = row["floor"]["runs"]
    assert [r["stage"] for r in runs[:3]] == ["primary", "certificate", "tie-break"] and runs[0]["status"] == "Optimal"
    assert all(r["threads"] == 1 and r["mip_rel_gap"] == 1e-4 for r in runs)  # the same options on both sides
    assert row["regret_s"] == 0 and row["adapter_runs"] == 2  # regret=False: the primary and the tie-break MIPs only
    for key in ("validate_s", "build_total_s", "highs_s", "extract_s", "check_s"):
        assert 0 <= row[key] <= row["total_s"]
    assert row["ratio_primary"] > 0 and row["ratio_stages"] > 0 and row["peak_mb"] > 0 and row["floor"]["peak_mb"] > 0


def test_scenarios_are_seeded_and_sum_to_one():
    from benchmarks.generate import SIZES, synthetic, with_slices
    from benchmarks.scenario_scaling import with_scenarios
    from optimizer import load_instance
    from optimizer.model.schema import scenario_instances

    base = with_slices(synthetic(*SIZES["small"]), 2)
    for n in (1, 7, 50):
        doc = with_scenarios(base, n)
        assert doc == with_scenarios(base, n)
        assert abs(sum(s["probability"] for s in doc["uncertainty"]["scenarios"]) - 1.0) <= 1e-9
    inst = load_instance(with_scenarios(base, 7))
    futures = scenario_instances(inst)
    assert len(futures) == 7 and len({w for w, _, _ in futures}) == 7
