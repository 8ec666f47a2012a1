"""Scenarios (MODEL.md section 13.2): "with one scenario of probability 1 the answer is exactly the
deterministic one". Three ways, as sections 11 and 12 are checked: every shipped instance under
every objective, random instances (one period and horizons, with and without slices), and every
hand-worked test of test_objectives/test_families re-run with ``optimizer.solve`` replaced by one
that also solves the instance as one certain future and requires the same answer.

The objective must agree within the tie-break's hold and the racks per hardware (and vintage)
must be the same, or, where the two plans are different points of the tie-break's band, its own
figure must (as ``test_slices_equivalence.assert_same`` has it). With a horizon the racks are
those bought and alive per vintage: a stochastic solution's top level has the plan's vintages but
no periods (each scenario's solution has its own). The scenario's own plan is the plan, and its
value is the objective."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import optimizer
import test_families
import test_objectives
from generate import OBJECTIVES, random_horizon_instance, random_instance, random_sliced_horizon_instance, random_sliced_instance
from helpers import hand_worked, rerun_with_twin
from optimizer.model.schema import Instance
from test_slices_equivalence import assert_same as assert_same_point

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "instances").glob("*.yaml"))


def rack_totals(sol) -> dict:
    """Racks per hardware, or with a horizon per hardware and vintage: bought, and alive in each
    period (summed over the halls, where equally good plans may differ)."""
    out: dict = {}
    if sol.vintages:
        for v in sol.vintages:
            bought, alive = out.get((v.hardware, v.vintage), (0, {}))
            out[(v.hardware, v.vintage)] = (bought + v.bought, {y: alive.get(y, 0) + n for y, n in v.alive.items()})
        return {k: (b, {y: n for y, n in sorted(a.items()) if n}) for k, (b, a) in out.items() if b or any(a.values())}
    for r in sol.racks:
        out[r.hardware] = out.get(r.hardware, 0) + r.count
    return {k: v for k, v in out.items() if v}


def assert_same(a, b) -> None:
    """Same status and objective, and the same racks where the objectives are the same point of
    the tie-break's band (else ``test_slices_equivalence.assert_same`` compares its own figure)."""
    assert b.status == a.status, (a.message, b.message)
    if not a.has_plan:
        return
    if b.objective.value == pytest.approx(a.objective.value, rel=1e-9, abs=1e-9):
        assert rack_totals(b) == rack_totals(a)
    else:
        assert_same_point(a, b)


def without_uncertainty(inst: Instance) -> Instance:
    """A shipped stochastic instance's base: the deterministic instance its futures override."""
    return inst if inst.uncertainty is None else optimizer.load_instance(inst.model_dump(mode="json", exclude={"uncertainty"}))


def certain(inst: Instance, risk: dict | None = None, name: str = "only") -> dict:
    """The instance as one future of probability 1, with no overrides (and ``risk``, if given:
    the CVaR of a single outcome is that outcome)."""
    doc = inst.model_dump(mode="json", exclude_none=True)
    doc["uncertainty"] = {"scenarios": [{"name": name, "probability": 1.0}]}
    if risk is not None:
        doc["uncertainty"]["risk"] = risk
    return doc


def assert_one_future(det, sto) -> None:
    """``sto``, the single-scenario solve, is ``det``: the same answer, and its one scenario's plan
    the top level's, its value the objective."""
    assert_same(det, sto)
    if not sto.has_plan:
        assert sto.uncertainty is None
        return
    (only,) = sto.uncertainty.scenarios
    assert only.probability == 1.0
    assert only.value == pytest.approx(sto.objective.value, rel=1e-12, abs=1e-12)
    assert sto.uncertainty.expected == pytest.approx(sto.objective.value, rel=1e-12, abs=1e-12)
    assert rack_totals(only.solution) == rack_totals(sto)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_instances_same_as_one_certain_future(path):
    """Every shipped instance under every objective, exact (MIP gap 1e-9; the tie-break given all
    the time it needs, as the slices' equivalence does)."""
    inst = without_uncertainty(optimizer.load_instance(path))
    one = optimizer.load_instance(certain(inst))
    for objective in OBJECTIVES:
        a = optimizer.solve(inst, objective=objective, mip_gap=1e-9, tie_break_time=600)
        b = optimizer.solve(one, objective=objective, mip_gap=1e-9, tie_break_time=600, regret=False)
        assert not [w for w in a.warnings + b.warnings if "tie-break stopped at its time budget" in w]
        assert_one_future(a, b)


KINDS = {"v1": random_instance, "sliced": random_sliced_instance, "horizon": random_horizon_instance,
         "sliced-horizon": random_sliced_horizon_instance}


@pytest.mark.parametrize("kind", KINDS)
def test_random_instances_same_as_one_certain_future(kind):
    """Eight random instances of each kind, the objective cycled through all five; a third of them
    with a CVaR weight (of one outcome: the outcome itself)."""
    plans = 0
    for seed in range(8):
        doc = KINDS[kind](seed)
        doc["objective"] = OBJECTIVES[seed % len(OBJECTIVES)]
        inst = optimizer.load_instance(doc)
        rng = random.Random(seed)
        risk = {"alpha": rng.choice([0.0, 0.5, 0.9]), "weight": rng.choice([0.5, 1.0])} \
            if doc["objective"] != "tokens_per_watt" and seed % 3 == 0 else None
        a = optimizer.solve(inst, mip_gap=1e-9, tie_break_time=600)
        b = optimizer.solve(certain(inst, risk), mip_gap=1e-9, tie_break_time=600, regret=False)
        try:
            assert_one_future(a, b)
        except AssertionError as exc:
            raise AssertionError(f"{kind} seed {seed} ({doc['objective']}, risk {risk}): {exc}") from None
        plans += a.has_plan
    assert plans >= 4, plans


@pytest.mark.parametrize("seed", [0, 3, 4])
def test_one_certain_future_has_nothing_to_learn(seed):
    """One future: the regret table is one plan (the stochastic, which is that future's own), the
    wait-and-see value is the optimum, EVPI and VSS are 0."""
    doc = random_instance(seed)
    doc["objective"] = "profit"
    sol = optimizer.solve(certain(optimizer.load_instance(doc)), mip_gap=1e-9)
    assert sol.has_plan, sol.message  # seeds with a plan
    unc = sol.uncertainty
    assert [r.plan for r in unc.regret] == ["stochastic", "only"]
    assert unc.regret[0].racks == unc.regret[1].racks
    scale = max(abs(sol.objective.value), 1.0)
    assert unc.wait_and_see == pytest.approx(sol.objective.value, rel=1e-6, abs=1e-6)
    assert abs(unc.evpi) <= 1e-6 * scale and abs(unc.vss) <= 1e-6 * scale


HAND = hand_worked(test_objectives, test_families)


@pytest.mark.parametrize("test", [fn for _, fn in HAND], ids=[name for name, _ in HAND])
def test_hand_worked_tests_same_as_one_certain_future(test, monkeypatch):
    def compare(sol, one, kw):
        assert one.status == sol.status, (sol.message, one.message)
        if sol.has_plan:
            rel = max(2 * (kw.get("mip_gap") or 1e-4), 1e-8)
            assert one.objective.value == pytest.approx(sol.objective.value, rel=rel, abs=1e-9)
            assert one.uncertainty.scenarios[0].value == pytest.approx(one.objective.value, rel=1e-12, abs=1e-12)

    def twin(inst):
        return None if inst.uncertainty is not None else certain(inst)

    rerun_with_twin(test, monkeypatch, twin, compare)
