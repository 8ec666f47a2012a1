"""`optimizer serve` takes stochastic instances (MODEL.md section 13) as the library does: the
same JSON, the same plan and futures, the regret table unless the request says `regret: false`,
errors that name the scenario and the rule, and sweeps whose rows carry every future."""

from __future__ import annotations

import copy

import httpx
import pytest

import optimizer
from optimizer.analysis.scenarios import SweepSpec
from optimizer.interfaces.client import Client, ServiceError
from test_service import Server
from test_sweep_stochastic import stochastic_base


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("svc-stochastic") / "data", "--max-solves", "2", "--max-time-limit", "30")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def local():
    """The library's answer for the stochastic 1 GW instance, regret table and all."""
    sol = optimizer.solve(stochastic_base(), threads=1)
    assert sol.status == "optimal" and len(sol.uncertainty.regret) == 3
    return sol


def test_a_stochastic_instance_solves_as_in_the_library(server, local):
    doc = stochastic_base()
    raw = httpx.post(server.url + "/v1/solve", json={"instance": doc}, timeout=120)
    assert raw.status_code == 200
    assert [s["name"] for s in raw.json()["uncertainty"]["scenarios"]] == ["base", "slow"]
    with Client(server.url) as c:
        remote = c.solve(doc)
    for sol in (remote, optimizer.Solution.model_validate(raw.json())):
        assert sol.status == "optimal"
        assert sol.objective.value == pytest.approx(local.objective.value, rel=1e-9)
        assert {(r.hardware, r.hall, r.count) for r in sol.racks} == {(r.hardware, r.hall, r.count) for r in local.racks}
        unc, want = sol.uncertainty, local.uncertainty
        assert (unc.alpha, unc.weight, unc.worst_scenario) == (want.alpha, want.weight, want.worst_scenario) == (0.8, 0.0, "slow")
        assert unc.expected == pytest.approx(sum(o.probability * o.value for o in unc.scenarios), rel=1e-12)
        for mine, theirs in zip(unc.scenarios, want.scenarios, strict=True):
            assert (mine.name, mine.probability) == (theirs.name, theirs.probability)
            assert mine.value == pytest.approx(theirs.value, rel=1e-9)
            assert mine.solution.metrics.facility_power_mw == pytest.approx(theirs.solution.metrics.facility_power_mw, rel=1e-9)
        # regret is on by default, as in the library: (scenarios + 1) plans x scenarios
        assert [row.plan for row in unc.regret] == ["stochastic", "base", "slow"]
        assert all(len(row.cells) == 2 for row in unc.regret)
        assert unc.wait_and_see == pytest.approx(want.wait_and_see, rel=1e-6)
        assert unc.evpi is not None and unc.evpi >= -1e-6 * abs(unc.expected)
        assert unc.regret[0].expected == pytest.approx(unc.expected, rel=1e-6)  # the stochastic plan's row is the plan
        # marginal values are not computed for a stochastic instance; a request that did not ask hears nothing of it
        assert not any("marginal values" in w for w in sol.warnings)


def test_regret_false_leaves_the_regret_table_empty(server, local):
    doc = stochastic_base()
    raw = httpx.post(server.url + "/v1/solve", json={"instance": doc, "regret": False}, timeout=120)
    assert raw.status_code == 200
    body = raw.json()["uncertainty"]
    assert body["regret"] == [] and body["wait_and_see"] is None and body["evpi"] is None and body["vss"] is None
    with Client(server.url) as c:
        sol = c.solve(doc, regret=False, marginal_values=True)
    assert sol.uncertainty.regret == [] and sol.uncertainty.evpi is None
    assert sol.objective.value == pytest.approx(local.objective.value, rel=1e-9)  # the same plan, fewer solves
    assert any("marginal values are not computed" in w for w in sol.warnings)  # asked for explicitly: told why not


def test_stochastic_errors_keep_the_error_format(server):
    bad = stochastic_base()
    bad["uncertainty"]["scenarios"][1]["probability"] = 0.3  # 0.8 + 0.3
    r = httpx.post(server.url + "/v1/solve", json={"instance": bad}, timeout=60)
    assert r.status_code == 422 and r.json()["detail"] == "invalid instance"
    (issue,) = r.json()["errors"]
    assert issue["path"] == "instance.uncertainty.scenarios" and "must sum to 1 within 1e-9: they sum to 1.1" in issue["rule"]
    bad = stochastic_base()
    bad["uncertainty"]["scenarios"][1]["set"]["hardware[lpx].rack_power_kw"] = 100  # what the capacity is: not a scenario's
    r = httpx.post(server.url + "/v1/solve", json={"instance": bad}, timeout=60)
    assert r.status_code == 422
    assert any(e["path"].startswith("instance.uncertainty.scenarios[1] (slow).set[hardware[lpx].rack_power_kw]")
               for e in r.json()["errors"]), r.json()
    r = httpx.post(server.url + "/v1/solve", json={"instance": stochastic_base(), "regret": "yes"}, timeout=60)
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "regret"
    with Client(server.url) as c:  # /v1/validate names the same rule
        bad = stochastic_base()
        bad["uncertainty"]["scenarios"][0]["name"] = "slow"
        errors = c.validate(bad)
    assert any("not unique" in e["rule"] and e["path"].startswith("uncertainty.scenarios[1] (slow)") for e in errors), errors


def test_a_stochastic_sweep_on_the_service_equals_the_library(server):
    spec = {"regret": True, "parameters": [{"path": "uncertainty.scenarios[slow].probability", "values": [0.2, 0.4]},
                                           {"path": "uncertainty.risk.weight", "values": [0.0, 1.0]}]}
    base = stochastic_base()
    with Client(server.url) as c:
        df = c.sweep(spec, instance=base, poll=0.2).sort_values("point").reset_index(drop=True)
        with pytest.raises(ServiceError) as err:  # a path into the futures that is not there
            c.start_sweep({"parameters": [{"path": "uncertainty.scenarios[boom].probability", "values": [0.5]}]}, instance=base)
        # a future's overrides swept whole: the request's instance keeps their file spelling (set)
        milder = c.sweep({"parameters": [{"path": "uncertainty.scenarios[slow].set",
                                          "values": [{"tiers[premium].max_tokens_per_s": 3.0e7}]}]}, instance=base, poll=0.2)
    assert err.value.status == 422 and "no element named 'boom'" in err.value.body["errors"][0]["rule"]
    (row,) = [r for _, r in milder.iterrows()]
    assert row["status"] == "optimal", row["message"]
    assert row["scenario[slow].tokens_per_s[premium]"] <= 3.0e7 * (1 + 1e-9) < row["scenario[base].tokens_per_s[premium]"]
    assert list(df["status"]) == ["optimal", "optimal", "invalid", "invalid"]  # 0.8 + 0.4 is no distribution
    assert all("must sum to 1" in m for m in df["message"][2:])
    mine = optimizer.sweep(SweepSpec(base="x", **spec), base=copy.deepcopy(base), jobs=1).sort_values("point").reset_index(drop=True)
    assert list(mine["status"]) == list(df["status"])
    for col in ("objective_value", "expected", "cvar", "worst", "wait_and_see", "scenario[base].objective_value",
                "scenario[slow].objective_value", "scenario[slow].facility_power_mw"):
        assert list(df[col][:2]) == pytest.approx(list(mine[col][:2]), rel=1e-6), col
    assert list(df["worst_scenario"][:2]) == ["slow", "slow"]
    for _, row in df[:2].iterrows():  # the row's expectation, from its own per-future columns
        weighted = sum(row[f"scenario[{w}].probability"] * row[f"scenario[{w}].objective_value"] for w in ("base", "slow"))
        assert row["expected"] == pytest.approx(weighted, rel=1e-12)
        assert row["evpi"] == pytest.approx(row["wait_and_see"] - row["expected"], abs=1e-6 * row["expected"])


def test_the_size_limit_counts_the_scenarios(tmp_path):
    """Each scenario is a copy of the allocation: 3 hardware x 5 tiers x 2 halls = 30 fits a limit
    of 40, the same with two futures (60) does not."""
    from fastapi.testclient import TestClient

    from optimizer.interfaces.service import Limits, create_app

    with TestClient(create_app(tmp_path / "data", Limits(max_instance_size=40))) as client:
        doc = stochastic_base()
        assert client.post("/v1/validate", json={k: v for k, v in doc.items() if k != "uncertainty"}).json()["valid"]
        r = client.post("/v1/validate", json=doc)
        assert r.status_code == 413 and "hardware x tiers x halls x scenarios = 60 > 40" in r.json()["detail"]
        r = client.post("/v1/solve", json={"instance": doc})
        assert r.status_code == 413 and r.json()["errors"] == [
            {"path": "instance", "rule": "too many hardware systems, tiers, halls or scenarios for this server"}]
