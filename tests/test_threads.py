"""HiGHS keeps one thread pool per process: mixed thread counts, a sweep after a solve, and
forked or spawned workers must all get their plans (the adapter resets the pool when needed).

highspy 1.16 refuses a run whose thread count differs from the pool the first run made ("the
scheduler has already been initialized"), and a forked child's inherited pool has no threads."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import highspy
import numpy as np
import pytest

import optimizer
from helpers import gpu, tier, tiny
from optimizer.solving.highs import new_highs


def instance() -> dict:
    inst = tiny()
    inst["hardware"] = [gpu()]
    inst["tiers"] = [tier("cheap", 10, 1.0), tier("fast", 100, 10.0, max_tokens_per_s=1000)]
    return inst


def revenue(threads=None) -> float:
    sol = optimizer.solve(instance(), threads=threads)
    assert sol.status == "optimal", sol.message
    return sol.objective.value


def raw_lp(threads: int) -> str:
    """A tiny MILP straight on highspy through the adapter's helper (as benchmarks do)."""
    h = new_highs(threads)
    h.addVars(2, np.zeros(2), np.full(2, 10.0))
    h.changeColsIntegrality(2, np.array([0, 1], dtype=np.int32), np.ones(2, dtype=np.uint8))
    h.addRow(-highspy.kHighsInf, 7.5, 2, np.array([0, 1], dtype=np.int32), np.array([1.0, 2.0]))
    h.changeColsCost(2, np.array([0, 1], dtype=np.int32), np.array([-1.0, -3.0]))
    h.run()
    return h.modelStatusToString(h.getModelStatus())


def test_mixed_thread_counts_in_one_process():
    """Default, 1, 2, default again, and raw highspy runs in between: every solve is optimal
    with the same answer (the default is one concrete count, never HiGHS's 'automatic')."""
    first = revenue()
    for threads in (1, 2, None, 2, 1):
        assert revenue(threads) == pytest.approx(first, rel=1e-12)
        assert raw_lp(2 if threads == 1 else 1) == "Optimal"


def test_a_sweep_after_a_solve_in_one_process(tmp_path):
    """The README's order: optimizer.solve (default threads), then a sweep (threads=1 per point),
    in one process, locally: no point may fail."""
    revenue(2)
    from optimizer.analysis.scenarios import SweepSpec

    spec = SweepSpec(base="x", parameters=[{"path": "facility.grid_power_mw", "values": [0.5, 1.0]}])
    rows = optimizer.sweep(spec, base=instance(), jobs=1)
    assert list(rows["status"]) == ["optimal", "optimal"], rows[["status", "message"]]


def _solve_in_child(threads):
    return revenue(threads)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_workers_after_a_solve_in_the_parent(method):
    """A parent that has solved with 2 threads starts workers (forked children inherit its pool,
    which has no threads in them; spawned ones start fresh): each worker solves, with 1 and 2."""
    expected = revenue(2)
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context(method)) as pool:
        got = list(pool.map(_solve_in_child, [1, 2, None, 1]))
    assert got == pytest.approx([expected] * 4, rel=1e-12)


def test_hiGHS_errors_carry_their_own_message(monkeypatch):
    """A run HiGHS refuses reaches the user with HiGHS's own words, not 'solver error (unknown)'."""
    import optimizer.solving.highs as solver

    revenue(2)  # the pool has 2 threads; a run asking for 1 without a reset is refused by 1.16
    monkeypatch.setattr(solver, "use_threads", lambda threads: None)
    monkeypatch.setitem(solver._POOL, "threads", None)
    sol = optimizer.solve(instance(), threads=1)
    if sol.status == "optimal":  # a HiGHS that accepts it (1.15 and older): nothing to report
        return
    assert sol.status == "error" and sol.message != "solver error (unknown)", sol.message
    if tuple(int(x) for x in highspy.Highs().version().split(".")[:2]) >= (1, 16):  # 1.16 says why in its log
        assert "Option 'threads' is set to 1 but the scheduler has already been initialized" in sol.message, sol.message
    else:
        assert "HiGHS gave no reason (model status" in sol.message, sol.message


def test_solve_json_prints_json_alone(tmp_path):
    """HiGHS's banner and warnings never reach stdout: `solve --json` output parses as JSON."""
    import json

    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(instance()))
    res = subprocess.run([sys.executable, "-m", "optimizer", "solve", str(path), "--json", "--threads", "2"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    sol = json.loads(res.stdout)
    assert sol["status"] == "optimal" and sol["solver_options"]["threads"] == 2
    assert set(sol["versions"]) == {"optimizer", "highspy", "pyomo"}
