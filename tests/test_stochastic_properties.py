"""Scenarios (MODEL.md section 13) on random instances: the verifier passes every scenario's plan
against that scenario's own instance, and the properties a two-stage stochastic program must have
hold, each checked against figures computed here independently of the solver's report:

- futures that are all the same (any number, any probabilities, any CVaR) give the deterministic
  answer;
- no plan beats perfect foresight: E[Z] of the stochastic plan, and of every row of the regret
  table, is at most the expected wait-and-see value (each future solved alone, here), so EVPI >= 0;
  with weight 0 the stochastic plan's E[Z] is at least every other plan's, so VSS >= 0;
- CVaR at alpha 0 is the expectation; a larger CVaR weight never raises E[Z] nor lowers CVaR;
  worst <= CVaR <= E[Z] (a minimum the other way round); at weight 1 the plan's CVaR is at least
  any row's of the regret table;
- the report adds up: E[Z] is the probability-weighted mean of the scenarios' values, CVaR their
  tail mean, the objective (1 - w) E[Z] + w CVaR, the metrics the scenarios' expectations, and each
  scenario's value that of the stochastic plan's regret cell (its capacity fixed, re-optimised).

``tokens_per_watt`` is E[TOK] / E[F]: its wait-and-see (the same ratio over the own optima) is
not a bound on it (docs/model.md; test_stochastic.test_tokens_per_watt_evpi_can_be_negative), so
only the regret rows' order and the expectation's formula are checked for it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optimizer
from generate import OBJECTIVES, random_instance, random_sliced_instance, random_stochastic_instance
from helpers import tail_mean
from optimizer.model.schema import scenario_instances
from optimizer.solving.results import MARKET_FIELDS
from test_stochastic_equivalence import assert_same
from verifier import verify, verify_expectation, verify_horizon

ROOT = Path(__file__).resolve().parent.parent
PROPERTY = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GAP = 1e-9
MAX = {"revenue": True, "profit": True, "tokens": True, "tokens_per_watt": True, "min_cost": False}


def tol(*figures: float) -> float:
    """Slack for comparing optima of the same instance: the tie-break's hold (1e-6) of the largest
    figure, at least 1e-6 (a zero revenue is 0 within HiGHS's feasibility tolerance)."""
    return 2e-6 * max([abs(x) for x in figures] + [1.0])


def stochastic(doc: dict, **kw):
    sol = optimizer.solve(doc, mip_gap=GAP, **kw)
    assert sol.status in ("optimal", "infeasible"), (sol.status, sol.message)
    return sol


# --------------------------------------------------------------------------- the verifier


KINDS = [(False, False), (True, False), (False, True), (True, True)]
SEEDS = range(18)


def check_scenarios(doc: dict, sol) -> None:
    """Every scenario's plan against that scenario's own instance, by the verifier; the regret
    table's cells all checked plans or clean infeasibilities."""
    inst = optimizer.load_instance(doc)
    assert sol.status in ("optimal", "infeasible"), (sol.status, sol.message, sol.problems)
    if not sol.has_plan:
        assert sol.metrics is None and sol.uncertainty is None
        return
    futures = scenario_instances(inst)
    assert [o.name for o in sol.uncertainty.scenarios] == [w for w, _, _ in futures]
    for (w, p, inst_w), o in zip(futures, sol.uncertainty.scenarios):
        assert o.probability == p
        figures = (verify_horizon if o.solution.periods else verify)(inst_w, o.solution.model_dump(mode="json"))
        assert figures["objective"] == pytest.approx(o.value, rel=1e-6, abs=1e-6), w
    for r in sol.uncertainty.regret:
        assert {c.status for c in r.cells} <= {"optimal", "infeasible"}, (r.plan, [c.status for c in r.cells])


@pytest.mark.parametrize("horizon, slices", KINDS, ids=["v1", "horizon", "sliced", "sliced-horizon"])
def test_random_stochastic_plans_verify(horizon, slices):
    """18 random instances of each kind with 2-4 random scenarios; a third with the regret table."""
    plans = 0
    for seed in SEEDS:
        doc = random_stochastic_instance(seed, horizon=horizon, slices=slices)
        sol = optimizer.solve(doc, regret=seed % 3 == 0)
        try:
            check_scenarios(doc, sol)
        except AssertionError as exc:
            raise AssertionError(f"seed {seed} ({doc['objective']}): {exc}") from None
        plans += sol.has_plan
    assert plans >= len(SEEDS) // 2, plans  # the verifier proves little on infeasible instances


# --------------------------------------------------------------------------- identical futures


@PROPERTY
@given(seed=st.integers(0, 10_000), weights=st.lists(st.integers(1, 9), min_size=1, max_size=4), sliced=st.booleans(),
       risk=st.sampled_from([None, (0.0, 0.5), (0.5, 1.0), (0.9, 0.3)]))
def test_identical_futures_give_the_deterministic_answer(seed, weights, sliced, risk):
    """k copies of one future (the base with the same random overrides), any probabilities, any
    CVaR: the deterministic answer of that future's own instance, objective and racks."""
    doc = (random_sliced_instance if sliced else random_instance)(seed)
    overrides = random_stochastic_instance(seed)["uncertainty"]["scenarios"][-1]["set"]
    probs = [w / sum(weights) for w in weights]
    probs[-1] = 1.0 - sum(probs[:-1])
    doc["uncertainty"] = {"scenarios": [{"name": f"same{i}", "probability": p, "set": copy.deepcopy(overrides)}
                                        for i, p in enumerate(probs)]}
    if risk is not None and doc["objective"] != "tokens_per_watt":
        doc["uncertainty"]["risk"] = {"alpha": risk[0], "weight": risk[1]}
    inst = optimizer.load_instance(doc)
    alone = scenario_instances(inst)[0][2]
    det = optimizer.solve(alone, mip_gap=GAP, tie_break_time=600)
    sto = optimizer.solve(inst, mip_gap=GAP, tie_break_time=600, regret=False)
    assert_same(det, sto)
    if sto.has_plan:
        for o in sto.uncertainty.scenarios:
            assert o.value == pytest.approx(det.objective.value, rel=2e-6, abs=1e-6)


@PROPERTY
@given(seed=st.integers(0, 10_000), share=st.floats(0.1, 0.9))
def test_order_and_splitting_of_futures_change_nothing(seed, share):
    """The scenarios in reverse order, and the first one split into two identical futures of
    share and 1 - share of its probability: the same objective (the extensive form is a sum over
    futures; CVaR sees only the distribution of the outcomes)."""
    doc = random_futures(seed)
    futures = doc["uncertainty"]["scenarios"]
    reverse = copy.deepcopy(doc)
    reverse["uncertainty"]["scenarios"] = futures[::-1]
    split = copy.deepcopy(doc)
    first = futures[0]
    split["uncertainty"]["scenarios"] = [{**copy.deepcopy(first), "name": "part-a", "probability": first["probability"] * share},
                                         {**copy.deepcopy(first), "name": "part-b", "probability": first["probability"] * (1 - share)},
                                         *futures[1:]]
    a = stochastic(doc, regret=False)
    for other in (reverse, split):
        b = stochastic(other, regret=False)
        assert b.status == a.status, (a.message, b.message)
        if a.has_plan:
            t = tol(a.objective.value)
            assert b.objective.value == pytest.approx(a.objective.value, rel=2e-6, abs=t)
            if a.uncertainty.weight == 0:  # with a weight, equally good plans may trade E[Z] for CVaR
                assert b.uncertainty.expected == pytest.approx(a.uncertainty.expected, rel=2e-6, abs=t)


# --------------------------------------------------------------------------- perfect foresight


def random_futures(seed: int, objective: str | None = None) -> dict:
    doc = random_stochastic_instance(seed, slices=seed % 2 == 1)
    if objective is not None:
        doc["objective"] = objective
        if objective == "tokens_per_watt":
            doc["uncertainty"].pop("risk", None)
    return doc


@PROPERTY
@given(seed=st.integers(0, 10_000), objective=st.sampled_from(OBJECTIVES))
def test_no_plan_beats_perfect_foresight(seed, objective):
    """Each future solved alone here (the wait-and-see value, independent of the regret table):
    the stochastic plan's E[Z] and every regret row's are no better; EVPI >= 0, and the reported
    wait-and-see is ours. With weight 0 the stochastic plan's E[Z] is the best of the table's rows
    (so VSS >= 0). Each own plan's cell in its own future is that future's optimum."""
    doc = random_futures(seed, objective)
    sol = stochastic(doc)
    if not sol.has_plan:
        return
    unc = sol.uncertainty
    inst = optimizer.load_instance(doc)
    alone = {w: optimizer.solve(x, mip_gap=GAP) for w, _, x in scenario_instances(inst)}
    maximise = MAX[objective]
    better = (lambda a, b: a - b) if maximise else (lambda a, b: b - a)  # > 0: a is better than b
    rows = [r for r in unc.regret if r.expected is not None]
    stoch = unc.regret[0]
    assert stoch.plan == "stochastic" and stoch.expected is not None  # the plan meets every future
    assert stoch.expected == pytest.approx(unc.expected, rel=2e-6, abs=1e-6)
    if unc.weight == 0:
        for r in rows:
            assert better(r.expected, stoch.expected) <= tol(r.expected, stoch.expected), (r.plan, r.expected, stoch.expected)
        if unc.vss is not None:
            assert unc.vss >= -tol(stoch.expected)
    for w, own in alone.items():
        mine = next((r for r in unc.regret if r.plan == w), None)
        assert (mine is not None) == own.has_plan, (w, own.status)
        if mine is not None:
            cell = next(c for c in mine.cells if c.scenario == w)
            assert cell.value == pytest.approx(own.objective.value, rel=2e-6, abs=1e-6)
    if objective == "tokens_per_watt" or not all(s.has_plan for s in alone.values()):
        return
    ws = sum(p * alone[w].objective.value for w, p, _ in scenario_instances(inst))
    assert unc.wait_and_see == pytest.approx(ws, rel=2e-6, abs=1e-6)
    assert unc.evpi >= -tol(ws)
    for r in rows:
        assert better(r.expected, ws) <= tol(ws, r.expected), (r.plan, r.expected, ws)


# --------------------------------------------------------------------------- risk


@PROPERTY
@given(seed=st.integers(0, 10_000), weight=st.sampled_from([0.3, 0.7, 1.0]),
       objective=st.sampled_from(["revenue", "profit", "tokens", "min_cost"]))
def test_cvar_at_alpha_0_is_the_expectation(seed, weight, objective):
    """The worst 100% of the outcomes are all of them: with alpha 0 any weight solves the
    expectation, and the CVaR reported is E[Z]."""
    doc = random_futures(seed, objective)
    doc["uncertainty"]["risk"] = {"alpha": 0.0, "weight": weight}
    plain = copy.deepcopy(doc)
    plain["uncertainty"].pop("risk")
    a, b = stochastic(doc, regret=False), stochastic(plain, regret=False)
    assert a.status == b.status
    if a.has_plan:
        assert a.uncertainty.cvar == pytest.approx(a.uncertainty.expected, rel=1e-9, abs=1e-9)
        assert a.objective.value == pytest.approx(b.objective.value, rel=2e-6, abs=1e-6)


@PROPERTY
@given(seed=st.integers(0, 10_000), alpha=st.sampled_from([0.5, 0.8]),
       objective=st.sampled_from(["revenue", "profit", "tokens", "min_cost"]))
def test_more_cvar_weight_trades_expectation_for_the_tail(seed, alpha, objective):
    """Weights 0 < 0.5 < 1 at one alpha. Optimality of each against the others gives
    E[Z](0) >= E[Z](0.5) >= E[Z](1) and CVaR(0) <= CVaR(0.5) <= CVaR(1) (for a maximum; a minimum
    the other way round); every plan has worst <= CVaR <= E[Z]; and at weight 1 no plan of the
    regret table has a better CVaR than the stochastic one."""
    doc = random_futures(seed, objective)
    maximise = MAX[objective]
    sign = 1.0 if maximise else -1.0
    sols = []
    for weight in (0.0, 0.5, 1.0):
        d = copy.deepcopy(doc)
        d["uncertainty"]["risk"] = {"alpha": alpha, "weight": weight}
        sols.append(stochastic(d, regret=weight == 1.0))
    assert len({s.status for s in sols}) == 1
    if not sols[0].has_plan:
        return
    e = [s.uncertainty.expected for s in sols]
    c = [s.uncertainty.cvar for s in sols]
    t = tol(*e, *c)
    assert sign * (e[0] - e[1]) >= -t and sign * (e[1] - e[2]) >= -t, e
    assert sign * (c[1] - c[0]) >= -t and sign * (c[2] - c[1]) >= -t, c
    for s in sols:
        u = s.uncertainty
        assert sign * (u.cvar - u.worst) >= -t and sign * (u.expected - u.cvar) >= -t, (u.worst, u.cvar, u.expected)
    top = sols[2]
    assert top.objective.value == pytest.approx(top.uncertainty.cvar, rel=1e-9, abs=1e-9)
    for r in top.uncertainty.regret:
        if r.cvar is not None:
            assert sign * (top.uncertainty.cvar - r.cvar) >= -t, (r.plan, r.cvar, top.uncertainty.cvar)


# --------------------------------------------------------------------------- the report adds up


@settings(PROPERTY, max_examples=8)
@given(seed=st.integers(0, 10_000), horizon=st.sampled_from([False, False, True]))
def test_the_report_adds_up(seed, horizon):
    """From the scenarios alone: E[Z] (tokens_per_watt: E[TOK] / E[F]), CVaR as the tail mean,
    the worst, the objective (1 - w) E[Z] + w CVaR, the metrics and each tier's tokens as
    expectations (tokens per joule E[TOK] / E[F]); each scenario's
    value is the stochastic plan's regret cell in that future."""
    doc = random_stochastic_instance(seed, horizon=horizon, slices=seed % 3 == 0)
    sol = stochastic(doc)
    if not sol.has_plan:
        return
    unc = sol.uncertainty
    name = sol.objective.name
    maximise = MAX[name]
    probs = [o.probability for o in unc.scenarios]
    zs = [o.value for o in unc.scenarios]
    assert sum(probs) == pytest.approx(1.0, abs=1e-9)
    t = tol(*zs)
    metrics = [o.solution.metrics for o in unc.scenarios]
    for key, value in sol.metrics.model_dump().items():
        if key in ("tokens_per_joule", "horizon_years", *MARKET_FIELDS) or not isinstance(value, float):
            continue
        assert value == pytest.approx(sum(p * getattr(m, key) for p, m in zip(probs, metrics)), rel=1e-9, abs=1e-6), key
    if not horizon:  # the market check: ratios of expectations (E[cost] / E[tokens], not E[cost / tokens]); raises if not
        verify_expectation(optimizer.load_instance(doc), sol.model_dump(mode="json"))
    for k, row in enumerate(sol.tiers):
        mean = sum(p * o.solution.tiers[k].tokens_per_s for p, o in zip(probs, unc.scenarios))
        assert row.tokens_per_s == pytest.approx(mean, rel=1e-9, abs=1e-6), row.tier
    tok, mw = ("mean_tokens_per_s", "mean_facility_power_mw") if horizon else ("tokens_per_s", "facility_power_mw")
    e_tok = sum(p * getattr(m, tok) for p, m in zip(probs, metrics))
    e_mw = sum(p * getattr(m, mw) for p, m in zip(probs, metrics))
    tpj = e_tok / (1e6 * e_mw) if e_mw > 0 else 0.0
    assert sol.metrics.tokens_per_joule == pytest.approx(tpj, rel=1e-9, abs=1e-15)
    if name == "tokens_per_watt":
        assert unc.expected == pytest.approx(tpj, rel=1e-9)
        assert unc.cvar is None
    else:
        assert unc.expected == pytest.approx(sum(p * z for p, z in zip(probs, zs)), rel=1e-9, abs=1e-9)
        tail = tail_mean(zs, probs, unc.alpha, maximise)
        assert unc.cvar == pytest.approx(tail, rel=1e-9, abs=t)
        assert sol.objective.value == pytest.approx((1 - unc.weight) * unc.expected + unc.weight * tail, rel=1e-9, abs=t)
    worst = min(zs) if maximise else max(zs)
    assert unc.worst == worst and zs[[o.name for o in unc.scenarios].index(unc.worst_scenario)] == worst
    cells = {c.scenario: c for c in unc.regret[0].cells}
    for o in unc.scenarios:
        assert cells[o.name].status == "optimal"
        assert cells[o.name].value == pytest.approx(o.value, rel=2e-6, abs=t), o.name


def test_the_shipped_uncertain_instance_adds_up():
    """The README's instance: three futures, the regret table's stochastic row is the plan's
    outcome, its E[Z] the best row's, and EVPI, VSS from the table."""
    sol = optimizer.solve(ROOT / "instances" / "gtc2026-1gw-uncertain.yaml")
    unc = sol.uncertainty
    assert sol.status == "optimal", sol.message
    rows = {r.plan: r for r in unc.regret}
    assert list(rows) == ["stochastic"] + [o.name for o in unc.scenarios]
    for o, c in zip(unc.scenarios, rows["stochastic"].cells):
        assert c.value == pytest.approx(o.value, rel=2e-6)
    best = max(r.expected for r in unc.regret if r.expected is not None)
    assert rows["stochastic"].expected == pytest.approx(best, rel=1e-4)
    own = [next(c.value for c in rows[o.name].cells if c.scenario == o.name) for o in unc.scenarios]
    ws = sum(o.probability * v for o, v in zip(unc.scenarios, own))
    assert unc.wait_and_see == pytest.approx(ws, rel=1e-9)
    assert unc.evpi == pytest.approx(ws - rows["stochastic"].expected, rel=1e-9)
    first = rows[unc.scenarios[0].name]
    assert unc.vss == pytest.approx(rows["stochastic"].expected - first.expected, rel=1e-9)

