"""What the web page needs of the service, over HTTP on a real server: the page and its assets
under their policy, the shipped instances by name only, an explanation and a report of a plan
the client holds (the library's own answers), and the errors of a plan that is not the
instance's. The page itself is driven in a browser by tests/test_web.py."""

from __future__ import annotations

import copy
import html
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import optimizer
from optimizer.analysis.explain import explain
from optimizer.interfaces.webpage import WEB
from optimizer.model.schema import read_document
from optimizer.outputs.report import money
from test_service import Server

ROOT = Path(__file__).resolve().parent.parent
ENTERPRISE = ROOT / "instances" / "enterprise-10mw.yaml"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("web") / "data", "--max-solves", "1", "--max-time-limit", "30")
    yield srv
    srv.stop()


def solved(server, doc: dict) -> dict:
    res = httpx.post(server.url + "/v1/solve", json={"instance": doc, "marginal_values": False, "regret": False}, timeout=300)
    assert res.status_code == 200, res.text
    return res.json()


def test_the_page_and_its_assets_are_served_under_a_same_origin_policy(server):
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-eval" not in policy and "frame-ancestors 'none'" in policy
    assert httpx.head(server.url + "/").status_code == 200
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page.text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets), assets
    for asset in assets:
        got = httpx.get(server.url + asset)
        assert got.status_code == 200 and got.content == (WEB / asset.lstrip("/")).read_bytes()
        assert got.headers["x-content-type-options"] == "nosniff"
    # nothing the page loads comes from elsewhere: no URL to another host in a tag's src or href
    assert not re.findall(r'(?:src|href)="(?!/|#|data:)', page.text)
    assert httpx.get(server.url + "/assets/../pyproject.toml").status_code == 404
    assert httpx.get(server.url + "/assets/nothing.js").status_code == 404


def test_shipped_instances_are_listed_and_read_by_name_only(server):
    listed = httpx.get(server.url + "/v1/instances").json()
    files = sorted((ROOT / "instances").glob("*.yaml"))
    assert [x["name"] for x in listed] == [p.stem for p in files]
    for item, path in zip(listed, files):
        first = next(line for line in path.read_text().splitlines() if line.startswith("#"))
        assert item["title"] == first.lstrip("#").strip()
    got = httpx.get(server.url + "/v1/instances/gtc2026-1gw").json()
    assert got == {"name": "gtc2026-1gw", "text": (ROOT / "instances" / "gtc2026-1gw.yaml").read_text()}
    for name in ["nothing", "..%2Fpyproject", "../README", "%2e%2e%2fREADME.md", "gtc2026-1gw.yaml", "sweeps"]:
        res = httpx.get(server.url + "/v1/instances/" + name)
        assert res.status_code == 404, (name, res.status_code)
        assert "README" not in res.text and "[project]" not in res.text


def test_explain_gives_the_library_s_explanation(server):
    doc = read_document(ENTERPRISE)
    sol = solved(server, doc)
    res = httpx.post(server.url + "/v1/explain", json={"instance": doc, "solution": sol}, timeout=300)
    assert res.status_code == 200, res.text
    got = res.json()
    want = explain(optimizer.load_instance(ENTERPRISE), optimizer.Solution.model_validate(sol)).model_dump(mode="json")
    assert [e["hardware"] for e in got["not_chosen"]] == [e["hardware"] for e in want["not_chosen"]]
    assert got["not_chosen"], "the enterprise plan leaves systems out: the test must see one"
    for g, w in zip(got["not_chosen"], want["not_chosen"]):
        assert g["forced_racks"] == w["forced_racks"] and g["no_hall"] == w["no_hall"]
        for key in ("forced_loss", "capex_cut_usd_per_rack", "speedup_needed"):
            assert (g[key] is None) == (w[key] is None)
            if g[key] is not None:
                assert g[key] == pytest.approx(w[key], rel=1e-6, abs=1e-6)
    assert [x["limit"] for x in got["limits"]] == [x["limit"] for x in want["limits"]]


def test_report_is_the_html_report_of_the_plan_as_a_download(server):
    doc = read_document(ENTERPRISE)
    doc["name"] = '<script>alert("x")</script> 中'  # and a name no HTTP header can carry as it is
    sol = solved(server, doc)
    res = httpx.post(server.url + "/v1/report", json={"instance": doc, "solution": sol}, timeout=300)
    assert res.status_code == 200, res.text
    assert res.headers["content-type"].startswith("text/html")
    assert res.headers["content-disposition"].startswith("attachment;") and "<" not in res.headers["content-disposition"]
    text = res.text
    assert text.startswith("<!DOCTYPE html>")
    assert money(sol["metrics"]["revenue_usd_per_year"]) in text
    assert '<script>alert("x")</script>' not in text and html.escape('<script>alert("x")</script> 中') in text


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "instances").glob("*.yaml")))
def test_every_shipped_shape_gets_its_report_and_an_explanation_or_why_not(server, name):
    """One period, slices, lots, a horizon, futures, a horizon with futures: the report is
    written; explain answers one-period plans of one future and names the field otherwise."""
    doc = read_document(ROOT / "instances" / f"{name}.yaml")
    sol = solved(server, doc)
    assert sol["metrics"] is not None, sol["status"]
    res = httpx.post(server.url + "/v1/report", json={"instance": doc, "solution": sol}, timeout=300)
    assert res.status_code == 200, res.text
    assert f"<h1>{html.escape(doc['name'])}</h1>" in res.text
    res = httpx.post(server.url + "/v1/explain", json={"instance": doc, "solution": sol}, timeout=300)
    if "horizon" in doc or "uncertainty" in doc:
        assert res.status_code == 422, res.text
        assert res.json()["errors"][0]["path"] == ("instance.horizon" if "horizon" in doc else "instance.uncertainty")
    else:
        assert res.status_code == 200, res.text
        assert {e["hardware"] for e in res.json()["not_chosen"]} == {h["name"] for h in doc["hardware"]} - {r["hardware"] for r in sol["racks"]}


def test_a_plan_of_another_instance_is_refused_with_its_fields(server):
    doc = read_document(ENTERPRISE)
    sol = solved(server, doc)
    other = copy.deepcopy(doc)
    other["name"] = "another"
    other["hardware"] = [h for h in other["hardware"] if h["name"] != sol["racks"][0]["hardware"]]
    for url in ("/v1/explain", "/v1/report"):
        res = httpx.post(server.url + url, json={"instance": other, "solution": sol}, timeout=60)
        assert res.status_code == 422, res.text
        paths = {e["path"] for e in res.json()["errors"]}
        assert "solution.instance" in paths and "solution.racks[0].hardware" in paths, paths
    res = httpx.post(server.url + "/v1/explain", json={"instance": doc, "solution": {"status": "optimal"}}, timeout=60)
    assert res.status_code == 422 and any(e["path"].startswith("solution") for e in res.json()["errors"])
    roadmap = read_document(ROOT / "instances" / "roadmap-2026-2030.yaml")
    res = httpx.post(server.url + "/v1/explain", json={"instance": roadmap, "solution": sol}, timeout=60)
    assert res.status_code == 422 and res.json()["errors"][0]["path"] == "instance.horizon"


def test_explain_runs_in_the_solve_pool_and_stops_with_its_client(server):
    """An explanation is solver work: a client that goes away stops it, and the server answers
    the next request at once."""
    doc = read_document(ROOT / "instances" / "gtc2026-1gw.yaml")
    sol = solved(server, doc)
    log = Path(server.log.name)
    before = log.read_text().count("its client went away")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.url + "/v1/explain", json={"instance": doc, "solution": sol}, timeout=0.5)
    assert solved(server, read_document(ENTERPRISE))["status"] == "optimal"
    assert log.read_text().count("a running solve was stopped: its client went away") == before + 1
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}


def test_the_instances_folder_is_the_server_s_choice(tmp_path):
    """``--instances DIR``: its *.yaml files by name (nothing else in it); a folder that is not
    there stops the server at start with exit 2."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "small.yaml").write_text("# my small site\n" + ENTERPRISE.read_text())
    (folder / "notes.txt").write_text("not an instance")
    (folder / "dir.yaml").mkdir()
    (folder / "latin1.yaml").write_bytes(b"# caf\xe9 site\nname: x\n")  # not UTF-8: shown, never a 500
    srv = Server(tmp_path / "data", "--instances", str(folder))
    try:
        assert httpx.get(srv.url + "/v1/instances").json() == [{"name": "latin1", "title": "caf\ufffd site"},
                                                              {"name": "small", "title": "my small site"}]
        assert httpx.get(srv.url + "/v1/instances/latin1").json()["text"] == "# caf\ufffd site\nname: x\n"
        assert httpx.get(srv.url + "/v1/instances/small").json()["text"].startswith("# my small site\n")
        assert httpx.get(srv.url + "/v1/instances/gtc2026-1gw").status_code == 404
    finally:
        srv.stop()
    res = subprocess.run([sys.executable, "-m", "optimizer", "serve", "--port", "1", "--data-dir", str(tmp_path / "d2"),
                          "--instances", str(tmp_path / "absent")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "absent: not a folder" in res.stderr and "Traceback" not in res.stderr


def test_an_explanation_past_its_deadline_is_stopped_with_504(tmp_path):
    """Explain and report get EXPLAIN_DEADLINE solve time limits in all: with a cap of 0.1 s the
    gtc2026-1gw explanation (about 12 solves, 2 s here) is stopped at 0.5 s, and the server
    solves the next request."""
    from optimizer.interfaces.service import EXPLAIN_DEADLINE

    srv = Server(tmp_path / "data", "--max-solves", "1", "--max-time-limit", "0.1")
    try:
        doc = read_document(ROOT / "instances" / "gtc2026-1gw.yaml")
        sol = solved(srv, doc)
        res = httpx.post(srv.url + "/v1/explain", json={"instance": doc, "solution": sol}, timeout=60)
        assert res.status_code == 504, res.text
        assert f"{EXPLAIN_DEADLINE * 0.1:g} s" in res.json()["detail"]
        assert solved(srv, read_document(ENTERPRISE))["status"] == "optimal"
    finally:
        srv.stop()
