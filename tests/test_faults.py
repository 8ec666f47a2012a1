"""Faults the service must survive: concurrent first downloads, a full disk, a corrupt or
shared data directory, torn journals, requests that lie about their size, abandoned solves,
too many jobs, expired jobs. Each test names the promise it holds (docs/service.md)."""

from __future__ import annotations

import errno
import hashlib
import json
import socket
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
from fastapi.testclient import TestClient

from optimizer.interfaces.service import JobStore, Limits, create_app
from optimizer.model.schema import read_document
from test_service import GTC, Server

ROOT = Path(__file__).resolve().parent.parent


def done_job(data: Path, rows: int = 1000) -> str:
    """A finished job in ``data``, as a server would leave it: its row and its Parquet file."""
    store = JobStore(data)
    job = store.add({"spec": {}, "base": {}}, rows)
    store.set(job, "done")
    pd.DataFrame({"point": range(rows), "status": "optimal", "objective_value": [i * 1.5 for i in range(rows)],
                  "message": "x" * 40}).to_parquet(store.output(job), index=False)
    return job


def test_concurrent_first_csv_downloads_get_the_whole_file(tmp_path):
    data = tmp_path / "data"
    job = done_job(data, 200_000)
    srv = Server(data)
    try:
        def get(_):
            r = httpx.get(f"{srv.url}/v1/sweeps/{job}/results", params={"format": "csv"}, timeout=60)
            return r.status_code, hashlib.sha256(r.content).hexdigest(), len(r.content)

        with ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(get, range(40)))
    finally:
        srv.stop()
    assert {a[0] for a in answers} == {200}
    assert len({a[1] for a in answers}) == 1, "the downloads differ"
    assert answers[0][2] > 1_000_000
    assert list(data.glob("*.tmp")) == []


def test_a_failed_csv_conversion_leaves_no_partial_file(tmp_path, monkeypatch):
    job = done_job(tmp_path)
    real = pd.DataFrame.to_csv

    def disk_full(self, path, **kw):
        Path(path).write_text("point,stat")  # half written, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", disk_full)
    client = TestClient(create_app(tmp_path))
    r = client.get(f"/v1/sweeps/{job}/results", params={"format": "csv"})
    assert r.status_code == 507 and "no space" in r.json()["detail"]
    assert str(tmp_path) not in r.text  # no server path in an error
    assert list(tmp_path.glob("*.csv*")) == []
    monkeypatch.setattr(pd.DataFrame, "to_csv", real)
    r = client.get(f"/v1/sweeps/{job}/results", params={"format": "csv"})
    assert r.status_code == 200 and len(r.text.splitlines()) == 1001


def serve_once(data: Path) -> subprocess.CompletedProcess:
    """``optimizer serve`` that is expected to refuse to start."""
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    with port:
        number = port.getsockname()[1]
    return subprocess.run([sys.executable, "-m", "optimizer", "serve", "--port", str(number), "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=60)


def test_a_second_server_on_one_data_dir_refuses_to_start(tmp_path):
    data = tmp_path / "data"
    srv = Server(data)
    try:
        res = serve_once(data)
        assert httpx.get(srv.url + "/healthz").status_code == 200  # the first one is untouched
    finally:
        srv.stop()
    assert res.returncode == 2, res.stderr
    assert "another server" in res.stderr and "data directory" in res.stderr
    assert "Traceback" not in res.stderr and str(data) not in res.stderr


def test_a_corrupt_jobs_database_is_a_clear_refusal(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "jobs.sqlite").write_bytes(b"this is not a database\n" * 200)
    res = serve_once(data)
    assert res.returncode == 2, res.stderr
    assert "jobs.sqlite" in res.stderr and "backup" in res.stderr and "move it aside" in res.stderr
    assert "Traceback" not in res.stderr and str(data) not in res.stderr


def test_the_scheduler_survives_a_full_disk_and_healthz_says_so(tmp_path, monkeypatch):
    """Every write of the scheduler fails for a while (SQLite: database or disk is full): the job
    waits, /healthz answers 503 degraded with the reason; once writes work again the job runs
    and finishes and /healthz is ok."""
    full = {"on": True}
    real = JobStore.set

    def set_(self, job, state, message=""):
        if full["on"]:
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, job, state, message)

    monkeypatch.setattr(JobStore, "set", set_)
    spec = {"instance": read_document(GTC), "parameters": [{"path": "facility.grid_power_mw", "values": [500]}]}
    with TestClient(create_app(tmp_path / "data")) as client:
        job = client.post("/v1/sweeps", json=spec).json()["id"]
        deadline = time.time() + 10
        while (h := client.get("/healthz")).status_code == 200 and time.time() < deadline:
            time.sleep(0.1)
        assert h.status_code == 503 and h.json()["status"] == "degraded"
        assert any("database or disk is full" in p for p in h.json()["problems"])
        assert client.get(f"/v1/sweeps/{job}").json()["state"] == "queued"
        full["on"] = False
        deadline = time.time() + 60
        while client.get(f"/v1/sweeps/{job}").json()["state"] != "done" and time.time() < deadline:
            time.sleep(0.2)
        assert client.get(f"/v1/sweeps/{job}").json()["state"] == "done"
        assert client.get("/healthz").json() == {"status": "ok"}


def failed_job(data: Path, journal_head: dict | None, rows: str) -> str:
    """A 3-point sweep job that failed after journalling ``rows`` (text, one JSON row a line)."""
    from optimizer.analysis.scenarios import fingerprint
    from optimizer.interfaces.service import SweepRequest

    base = read_document(GTC)
    spec = SweepRequest(instance=base, parameters=[{"path": "facility.grid_power_mw", "values": [300, 600, 900]}]).spec(30)
    store = JobStore(data)
    job = store.add({"spec": spec.model_dump(mode="json"), "base": base}, 3)
    store.set(job, "failed", "the sweep process exited with code -9")
    head = journal_head or {"fingerprint": fingerprint(spec, base), "points": 3}
    (data / f"{job}.parquet.journal.jsonl").write_text(json.dumps(head) + "\n" + rows)
    return job


def test_a_failed_sweep_resumes_from_its_journal_and_a_torn_journal_is_no_500(tmp_path):
    data = tmp_path / "data"
    kept = '{"point": 0, "scenario": "", "status": "optimal", "objective_value": -1.0}\n'
    good = failed_job(data, None, kept + '{"poi')  # a torn last line
    bad = failed_job(data, None, kept + '{"point": "x"}\n[1]\n')  # a foreign row, a list: the reader refuses it
    with TestClient(create_app(data)) as client:
        for job in (good, bad):
            st = client.get(f"/v1/sweeps/{job}")
            assert st.status_code == 200 and st.json()["state"] == "failed" and st.json()["done"] == 1
        assert client.post(f"/v1/sweeps/{good}/resume").json()["state"] == "queued"
        assert client.post(f"/v1/sweeps/{bad}/resume").status_code == 200
        assert client.post(f"/v1/sweeps/{good}/resume").status_code == 409  # queued: nothing to resume
        deadline = time.time() + 60
        while {client.get(f"/v1/sweeps/{j}").json()["state"] for j in (good, bad)} & {"queued", "running"} and time.time() < deadline:
            time.sleep(0.2)
        assert client.get(f"/v1/sweeps/{good}").json()["state"] == "done"
        df = pd.read_parquet(data / f"{good}.parquet")
        failed = client.get(f"/v1/sweeps/{bad}").json()
    assert sorted(df["point"]) == [0, 1, 2] and df.set_index("point").loc[0, "objective_value"] == -1.0  # point 0 kept
    assert failed["state"] == "failed" and "is not a point of this sweep" in failed["message"]
    assert str(tmp_path) not in failed["message"] and f"{bad}.parquet.journal.jsonl" in failed["message"]


def test_a_body_longer_than_its_declared_length_is_counted(tmp_path):
    """A body that says Content-Length: 10 and sends 100 kB (chunks past the declared length)
    is counted as it arrives: 413 past the limit, the app never sees it."""
    import asyncio

    from optimizer.interfaces.service import BodyLimit

    seen, sent = [], []

    async def app(scope, receive, send):
        seen.append(await receive())

    chunks = [{"type": "http.request", "body": b"x" * 10_000, "more_body": True} for _ in range(9)]
    chunks.append({"type": "http.request", "body": b"x" * 10_000, "more_body": False})

    async def receive():
        return chunks.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/solve", "headers": [(b"content-length", b"10")]}
    asyncio.run(BodyLimit(app, 50_000)(scope, receive, send))
    assert sent[0]["status"] == 413 and not seen


def test_queued_sweeps_are_limited_and_sizes_are_checked_before_building_points(tmp_path, monkeypatch):
    import optimizer.analysis.scenarios

    def no_points(spec):
        raise AssertionError("the points were built")

    client = TestClient(create_app(tmp_path, Limits(max_queued_jobs=2, max_sweep_points=1000)))  # no lifespan: jobs stay queued
    base = read_document(GTC)
    huge = {"instance": base, "parameters": [{"path": "facility.grid_power_mw", "range": {"start": 1, "stop": 2, "count": 900}},
                                             {"path": "facility.air_cooling_mw", "range": {"start": 1, "stop": 2, "count": 1000}}]}
    monkeypatch.setattr(optimizer.analysis.scenarios, "points", no_points)
    r = client.post("/v1/sweeps", json=huge)
    assert r.status_code == 413, r.json()
    assert "900,000 points > 1,000" in r.json()["detail"]
    # beyond the sweep files' own cap (1M points) too: a size limit, 413, not an invalid request
    huge["parameters"][1]["range"]["count"] = 10**6
    r = client.post("/v1/sweeps", json=huge)
    assert r.status_code == 413 and "900,000,000 points, more than the cap" in r.json()["errors"][0]["rule"], r.json()
    monkeypatch.undo()
    small = {"instance": base, "parameters": [{"path": "facility.grid_power_mw", "values": [300, 600]}], "scenarios": [{"name": "a"}, {"name": "b"}]}
    codes = [client.post("/v1/sweeps", json=small).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    job = client.post("/v1/sweeps", json=small)
    assert "at most 2" in job.json()["detail"]
    from optimizer.analysis.scenarios import SweepSpec, count_points, points

    for spec in [small, {"parameters": [{"path": "a", "range": {"start": 0, "stop": 1, "step": 0.3}}, {"path": "b", "values": [1, 2]}]},
                 {"mode": "zip", "parameters": [{"path": "a", "values": [1, 2, 3]}, {"path": "b", "range": {"start": 0, "stop": 1, "count": 3}}]},
                 {"mode": "lhs", "samples": 7, "parameters": [{"path": "a", "distribution": {"kind": "uniform", "low": 0, "high": 1}}]},
                 {"scenarios": [{"name": "x"}]}]:
        s = SweepSpec(base="x", **{k: v for k, v in spec.items() if k != "instance"})
        assert count_points(s) == len(points(s))


def test_ended_sweeps_are_kept_by_age_and_count_then_deleted_with_their_files(tmp_path):
    """The retention rule: ended jobs older than keep_jobs_days, or beyond the keep_jobs most
    recent, go with their journal and result files; queued and running ones stay whatever their age."""
    from optimizer.analysis.scenarios import journal_path
    from optimizer.interfaces.service import JobStore

    store = JobStore(tmp_path)
    jobs = {}
    for name, state in [("old-done", "done"), ("new-done", "done"), ("newer-cancelled", "cancelled"), ("newest-failed", "failed"),
                        ("old-queued", "queued"), ("running", "running")]:
        job = store.add({"spec": {}, "base": {}}, 3)
        if state != "queued":
            store.set(job, state)
        out = store.output(job)
        out.write_bytes(b"rows")
        journal_path(out).write_text("{}\n")
        jobs[name] = job
    day = 86_400.0
    with store._conn() as c:  # finished 40, 2, 1 and 0 days ago; the queued one created 40 days ago
        for name, age in [("old-done", 40), ("new-done", 2), ("newer-cancelled", 1), ("newest-failed", 0)]:
            c.execute("UPDATE jobs SET finished = ? WHERE id = ?", (time.time() - age * day, jobs[name]))
        c.execute("UPDATE jobs SET created = ? WHERE id = ?", (time.time() - 40 * day, jobs["old-queued"]))
    assert store.expire(days=30, keep=None) == [jobs["old-done"]]
    assert store.get(jobs["old-done"]) is None and not store.output(jobs["old-done"]).exists()
    assert not journal_path(store.output(jobs["old-done"])).exists()
    assert store.expire(days=None, keep=2) == [jobs["new-done"]]  # the two most recent ended jobs stay
    left = {n for n, j in jobs.items() if store.get(j) is not None}
    assert left == {"newer-cancelled", "newest-failed", "old-queued", "running"}
    assert all(store.output(jobs[n]).exists() for n in left)


def test_a_waiting_solve_whose_client_left_never_runs(tmp_path):
    """One solver, busy for ~3 s; a second solve waits, and its client gives up after 0.5 s: that
    solve is dropped, never run (the server says so in its log), and the next one is served."""
    import threading

    from benchmarks.generate import SIZES, synthetic

    server = Server(tmp_path / "data", "--max-solves", "1")
    busy: list = []
    try:
        long = {"instance": synthetic(*SIZES["medium"]), "mip_gap": 0.0, "time_limit": 3.0}
        first = threading.Thread(target=lambda: busy.append(httpx.post(server.url + "/v1/solve", json=long, timeout=60)))
        first.start()
        time.sleep(1.5)  # the first solve has the solver
        try:
            httpx.post(server.url + "/v1/solve", json={"instance": read_document(GTC)}, timeout=0.5)
            raise AssertionError("the second solve should have waited for the busy solver")
        except httpx.ReadTimeout:
            pass  # the client gave up while its solve waited
        first.join(60)
        assert busy and busy[0].status_code == 200 and busy[0].json()["status"] in ("optimal", "time_limit")
        after = httpx.post(server.url + "/v1/solve", json={"instance": read_document(GTC)}, timeout=60)
        assert after.status_code == 200 and after.json()["status"] == "optimal"
    finally:
        server.stop()
    log = (tmp_path / f"server-{server.port}.log").read_text()
    assert log.count("a waiting solve was dropped: its client went away before it started") == 1, log[-2000:]
