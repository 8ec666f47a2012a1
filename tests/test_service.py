"""`optimizer serve` as a real server process on loopback: every endpoint, the limits, 50
concurrent solves, a server killed during a sweep and restarted, and a schemathesis fuzz of
the API from its own OpenAPI document."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import optimizer
import procs
from generate import random_instance
from helpers import deterministic_roadmap
from optimizer.interfaces.client import Client, ServiceError
from optimizer.model.schema import json_schema, read_document

ROOT = Path(__file__).resolve().parent.parent
GTC = ROOT / "instances" / "gtc2026-1gw.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path, *args: str):
        self.data_dir, self.args = data_dir, args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start()

    def start(self) -> None:
        cmd = [sys.executable, "-m", "optimizer", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir), *self.args]
        self.log = open(self.data_dir.parent / f"server-{self.port}.log", "a")
        # its own session: what it starts stays findable (procs.in_session) even once re-parented
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def descendants(self) -> dict[int, int]:
        return procs.descendants(self.proc.pid)

    def stop(self) -> None:
        """SIGTERM, and check the shutdown: the server exits and leaves no process behind."""
        tree = self.descendants()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
        left = procs.wait_until_empty(lambda: sorted(set(procs.alive(tree)) | set(procs.in_session(self.proc.pid))), 10)
        assert not left, "the stopped server left processes behind:\n" + "\n".join(map(procs.describe, left))

    def rss_mb(self) -> float:
        """Resident memory of the server and every process under it, MB (Linux /proc)."""
        total, todo = 0.0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue  # it just exited
            # a process that has exited but is not yet reaped has no VmRSS line: it holds no memory
            total += sum(int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmRSS:")) / 1024
        return total


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("svc") / "data", "--max-solves", "2", "--max-time-limit", "30")
    yield srv
    srv.stop()


def test_health_schema_and_openapi(server):
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(server.url + "/v1/schema").json() == json.loads(json.dumps(json_schema()))
    api = httpx.get(server.url + "/openapi.json").json()
    assert {"/v1/validate", "/v1/solve", "/v1/schema", "/v1/sweeps", "/v1/sweeps/{job}", "/v1/sweeps/{job}/results", "/healthz"} <= set(api["paths"])
    assert "Instance" in api["components"]["schemas"] and "Solution" in api["components"]["schemas"]


def test_validate(server):
    with Client(server.url) as c:
        assert c.validate(GTC) == []
        doc = read_document(GTC)
        doc["tiers"][0]["workload"] = "ghost"
        doc["hardware"][0]["availability"] = 0
        errors = c.validate(doc)
    assert {"path": "hardware[0] (gb300-nvl72).availability", "rule": "Input should be greater than 0 (got 0)"} in errors


def test_solve_matches_the_library(server):
    with Client(server.url) as c:
        remote = c.solve(GTC)
    local = optimizer.solve(GTC)
    assert remote.status == "optimal"
    assert remote.objective.value == pytest.approx(local.objective.value, rel=1e-9)
    assert {(r.hardware, r.hall, r.count) for r in remote.racks} == {(r.hardware, r.hall, r.count) for r in local.racks}


def test_solve_errors_name_the_field(server):
    doc = read_document(GTC)
    r = httpx.post(server.url + "/v1/solve", json={"instance": {**doc, "facilty": {}}})
    assert r.status_code == 422 and {"path": "instance.facilty", "rule": "unknown field (not in the schema; check its spelling)"} in r.json()["errors"]
    doc["tiers"].append(doc["tiers"][0])
    r = httpx.post(server.url + "/v1/solve", json={"instance": doc})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "instance.tiers[5] (free).name"
    bad = read_document(GTC)
    bad["hardware"][0]["availability"] = 0
    r = httpx.post(server.url + "/v1/solve", json={"instance": bad})  # a field rule, checked by the request model
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "instance.hardware[0] (gb300-nvl72).availability"
    r = httpx.post(server.url + "/v1/solve", json={"instance": read_document(GTC), "time_limit": 1000})
    assert r.status_code == 422 and "cap of 30 s" in r.json()["detail"]
    r = httpx.post(server.url + "/v1/solve", content=GTC.read_text(), headers={"content-type": "application/yaml"})
    assert r.status_code in (400, 422)  # YAML (and its tags) is never read from a client
    r = httpx.post(server.url + "/v1/solve", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code in (400, 422) and "detail" in r.json()
    r = httpx.post(server.url + "/v1/solve", json={"instance": read_document(GTC), "mip_gap": True})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "mip_gap"
    doc = read_document(GTC)
    doc["facility"]["grid_power_mw"] = "1000"
    r = httpx.post(server.url + "/v1/solve", json={"instance": doc})
    assert r.status_code == 422 and "write 1000 without quotes" in r.json()["errors"][0]["rule"]
    r = httpx.put(server.url + "/v1/sweeps/nope")
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET"


def test_sweep_lifecycle(server, tmp_path):
    spec = {"parameters": [{"path": "facility.grid_power_mw", "values": [250, 500, 750, 1000]}]}
    with Client(server.url) as c:
        df = c.sweep(spec, instance=GTC, poll=0.2)
        assert sorted(df["point"]) == [0, 1, 2, 3] and set(df["status"]) == {"optimal"}
        local = optimizer.solve({**read_document(GTC), "facility": {**read_document(GTC)["facility"], "grid_power_mw": 500}})
        assert df.set_index("point").loc[1, "objective_value"] == pytest.approx(local.objective.value, rel=1e-9)
        job = c.start_sweep(spec, instance=GTC)
        st = c.status(job)
        assert st["points"] == 4 and st["state"] in ("queued", "running", "done")
        cancelled = c.cancel(job)
        assert cancelled["state"] in ("cancelled", "done")
        if cancelled["state"] == "cancelled":
            with pytest.raises(ServiceError) as err:
                c.results(job)
            assert err.value.status == 409
        with pytest.raises(ServiceError) as err:
            c.status("no-such-job")
        assert err.value.status == 404
    done = httpx.get(f"{server.url}/v1/sweeps").status_code  # no listing: 405, never a 5xx
    assert done in (404, 405)
    bad = httpx.post(server.url + "/v1/sweeps", json={"instance": read_document(GTC), "parameters": [{"path": "hardware[ghost].capex_usd", "values": [1]}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "parameters[0].path"


def test_sweep_results_as_csv(server):
    spec = {"parameters": [{"path": "facility.grid_power_mw", "values": [300, 600]}]}
    with Client(server.url) as c:
        job = c.start_sweep(spec, instance=GTC)
        while c.status(job)["state"] != "done":
            time.sleep(0.2)
    text = httpx.get(f"{server.url}/v1/sweeps/{job}/results", params={"format": "csv"}).text
    assert text.splitlines()[0].startswith("point,") and len(text.splitlines()) == 3


def test_fifty_concurrent_solves(server):
    """50 requests at once against 2 solver processes: every answer equals the library's, and
    the server's memory stays bounded (the queue holds requests, not solver processes)."""
    seeds = list(range(50))
    docs = [random_instance(s) for s in seeds]
    before = server.rss_mb()
    peak = [before]

    def one(doc):
        with Client(server.url) as c:
            sol = c.solve(doc, mip_gap=1e-9)
        peak[0] = max(peak[0], server.rss_mb())
        return sol

    with ThreadPoolExecutor(50) as pool:
        remote = list(pool.map(one, docs))
    for doc, sol in zip(docs, remote):
        local = optimizer.solve(doc, mip_gap=1e-9)
        assert sol.status == local.status
        if local.has_plan:
            assert sol.objective.value == pytest.approx(local.objective.value, rel=1e-7, abs=1e-9)
    assert peak[0] < 2048, f"server tree peaked at {peak[0]:.0f} MB"


def test_limits(tmp_path):
    srv = Server(tmp_path / "data", "--max-body-mb", "0.05", "--max-instance-size", "40", "--max-solves", "1", "--max-queue", "0")
    try:
        doc = read_document(GTC)
        big = {**doc, "description": "x" * 60_000}
        r = httpx.post(srv.url + "/v1/solve", json={"instance": big})
        assert r.status_code == 413 and "exceeds 50,000 bytes" in r.json()["detail"]

        def chunks():
            yield json.dumps({"instance": big}).encode()

        r = httpx.post(srv.url + "/v1/validate", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413  # no Content-Length: counted as it arrives
        r = httpx.post(srv.url + "/v1/solve", json={"instance": doc})  # 3 hardware x 5 tiers x 2 halls = 30: fits
        assert r.status_code == 200
        wide = {**doc, "facility": {**doc["facility"], "halls": doc["facility"]["halls"] + [{**doc["facility"]["halls"][0], "name": "hall-c"}]}}
        r = httpx.post(srv.url + "/v1/solve", json={"instance": wide})  # 45 > 40
        assert r.status_code == 413 and "hardware x tiers x halls = 45" in r.json()["detail"]
        with ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(lambda _: httpx.post(srv.url + "/v1/solve", json={"instance": doc}, timeout=120).status_code, range(6)))
        assert 429 in codes and 200 in codes and set(codes) <= {200, 429}
    finally:
        srv.stop()


def test_killed_during_a_sweep_and_restarted(tmp_path):
    """SIGKILL the server mid-sweep, start it again on the same data directory: the sweep
    finishes with every point exactly once, equal to an uninterrupted run."""
    spec = {"parameters": [{"path": "facility.grid_power_mw", "range": {"start": 100, "stop": 1000, "count": 30}}]}
    data = tmp_path / "data"
    srv = Server(data)
    try:
        with Client(srv.url) as c:
            job = c.start_sweep(spec, instance=GTC)
            deadline = time.time() + 120
            while c.status(job)["done"] < 5 and time.time() < deadline:
                time.sleep(0.05)
            before = c.status(job)
        assert 5 <= before["done"] < 30, before
        tree = srv.descendants()
        srv.kill()
        # no orphan: the sweep process dies with the server (PR_SET_PDEATHSIG), the resource
        # tracker once the last process holding its pipe has
        left = procs.wait_until_empty(lambda: procs.alive(tree), 10)
        assert not left, "\n".join(map(procs.describe, left))
        journal = data / f"{job}.parquet.journal.jsonl"
        assert journal.exists()
        srv.start()
        with Client(srv.url) as c:
            deadline = time.time() + 180
            while c.status(job)["state"] != "done" and time.time() < deadline:
                time.sleep(0.2)
            df = c.results(job)
    finally:
        srv.stop()
    assert sorted(df["point"]) == list(range(30))  # none lost, none twice
    base = read_document(GTC)
    from optimizer.analysis.scenarios import SweepSpec

    local = optimizer.sweep(SweepSpec(base="x", **spec), base=base, jobs=2)
    assert list(df.sort_values("point")["objective_value"]) == pytest.approx(list(local.sort_values("point")["objective_value"]), rel=1e-9)


@pytest.mark.skipif(shutil.which("st") is None and not (Path(sys.executable).parent / "st").exists(), reason="schemathesis not installed")
def test_fuzz_the_api_from_its_openapi(server, tmp_path):
    """schemathesis generates requests from /openapi.json and runs every check: no 5xx; every
    answer's status, content type, headers and body conform to the document; a request the
    document forbids is rejected (a number sent as true or "1", a year key that is no year);
    405 names every method of the path. One check is left out, positive_data_acceptance: a
    request the JSON Schema allows may still break a rule across fields (a year map without a
    horizon, a tier naming no workload), and those must be 422, not 200."""
    st = shutil.which("st") or str(Path(sys.executable).parent / "st")
    cmd = [st, "run", server.url + "/openapi.json", "--checks", "all", "--exclude-checks", "positive_data_acceptance",
           "--max-examples", "40", "--workers", "1", "--seed", "1"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=500, env={**os.environ, "NO_COLOR": "1"},
                         cwd=tmp_path)  # its cache (.schemathesis/) stays out of the checkout
    tail = res.stdout[-3000:]
    assert res.returncode == 0, tail
    assert " passed" in tail and "generated" in tail


@pytest.mark.parametrize("name", ["gtc2026-1gw.yaml", "roadmap-2026-2030.yaml"])
def test_export_gives_the_body_the_service_takes(name):
    """`optimizer export` prints the instance as JSON; it reads back as the same instance."""
    from typer.testing import CliRunner

    from optimizer.interfaces.cli import app

    res = CliRunner().invoke(app, ["export", str(ROOT / "instances" / name)])
    assert res.exit_code == 0, res.output
    assert optimizer.load_instance(json.loads(res.output)) == optimizer.load_instance(ROOT / "instances" / name)


def test_a_dead_solver_process_is_a_503_and_the_next_solve_works(tmp_path):
    """Kill the solver pool's worker mid-solve: that request gets 503, the next one a plan."""
    srv = Server(tmp_path / "data", "--max-solves", "1")
    try:
        doc = deterministic_roadmap()  # one future, ~2.5 s: time to kill it
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(lambda: httpx.post(srv.url + "/v1/solve", json={"instance": doc}, timeout=120))
            workers = []
            deadline = time.time() + 30
            while not workers and time.time() < deadline:
                time.sleep(0.3)
                children = Path(f"/proc/{srv.proc.pid}/task/{srv.proc.pid}/children").read_text().split()
                workers = [int(c) for c in children if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            r = pending.result()
        assert r.status_code == 503 and "retry" in r.json()["detail"]
        assert httpx.post(srv.url + "/v1/solve", json={"instance": read_document(GTC)}, timeout=120).status_code == 200
    finally:
        srv.stop()


def test_progress_reads_only_what_the_journal_gained(tmp_path):
    """Job progress counts distinct journal points (a resumed sweep may journal a point twice),
    ignores a row still being written, and starts over when the journal is replaced."""
    from optimizer.interfaces.service import JobStore

    store = JobStore(tmp_path)
    journal = store.output("j").with_name("j.parquet.journal.jsonl")
    journal.write_text('{"fingerprint": "x"}\n{"point": 0}\n{"point": 1}\n')
    assert store.done_points("j") == 2
    with journal.open("a") as fh:
        fh.write('{"point": 1}\n{"point": 2}\n{"poi')  # a repeat, a new point, half a row
    assert store.done_points("j") == 3
    with journal.open("a") as fh:
        fh.write('nt": 3}\n')
    assert store.done_points("j") == 4
    journal.write_text('{"fingerprint": "y"}\n{"point": 7}\n')  # shorter: a new journal
    assert store.done_points("j") == 1
