"""`optimizer serve` stopped by SIGTERM (a service manager) or SIGINT (Ctrl+C, which a terminal
sends to the whole process group): the server exits within seconds, every process it started
has ended (the solve workers, the sweep process and its own workers, the resource tracker),
nothing is left in its session, and the running sweep is neither failed nor cancelled: the
next start on the same data directory resumes it and finishes every point exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from contextlib import closing

import pytest

import optimizer
import procs
from helpers import deterministic_roadmap
from optimizer.interfaces.client import Client
from test_service import GTC, ROOT, Server

POINTS = 24  # ~0.15 s each on 2 workers: the signal comes 3 points in, with ~20 still to solve
SPEC = {"parameters": [{"path": "facility.grid_power_mw", "range": {"start": 100, "stop": 1000, "count": POINTS}}]}


def kinds(tree: dict[int, int], server: int) -> dict[str, list[int]]:
    """The server's processes by role, from their command lines and parents."""
    out: dict[str, list[int]] = {"tracker": [], "child": [], "grandchild": []}
    for pid in tree:
        text = procs.describe(pid)
        if "resource_tracker" in text:
            out["tracker"].append(pid)
        elif (procs.stat(pid) or {}).get("ppid") == server:
            out["child"].append(pid)
        else:
            out["grandchild"].append(pid)
    return out


def sweep_process(srv: Server) -> int | None:
    """The server's child that has children: the sweep process once it has forked its workers."""
    return next((p for p in procs.children(srv.proc.pid) if procs.children(p)), None)


@pytest.mark.parametrize("sig, to_group", [(signal.SIGTERM, False), (signal.SIGINT, True)], ids=["SIGTERM", "SIGINT-to-group"])
def test_a_signal_ends_every_process_and_the_sweep_resumes(tmp_path, sig, to_group):
    """SIGTERM to the server alone (a container runtime's stop), SIGINT to its whole group (a
    terminal's Ctrl+C), with a solve worker, a sweep process and its 2 workers running."""
    data = tmp_path / "data"
    srv = Server(data, "--max-solves", "2", "--sweep-workers", "2")
    try:
        with Client(srv.url) as c:
            assert c.solve(GTC).status == "optimal"  # the solve pool has a worker now
            job = c.start_sweep(SPEC, instance=GTC)
            deadline = time.time() + 120
            while c.status(job)["done"] < 3 and time.time() < deadline:
                time.sleep(0.05)
            if to_group:
                # first the sweep process alone gets SIGTERM, as when a service manager signals the whole
                # group and it comes before the server: it ends its workers, its job is queued again, not failed
                first = sweep_process(srv)
                first_tree = {first: procs.stat(first)["start"], **procs.descendants(first)}
                os.kill(first, signal.SIGTERM)
                deadline = time.time() + 60
                while (again := sweep_process(srv)) in (None, first) or len(procs.children(again)) < 2:
                    assert c.status(job)["state"] in ("queued", "running") and time.time() < deadline
                    time.sleep(0.05)
                assert not procs.alive(first_tree)
        tree = srv.descendants()
        roles = kinds(tree, srv.proc.pid)
        # a resource tracker, the solve worker and the sweep process, and the sweep's 2 workers
        assert len(roles["tracker"]) == 1 and len(roles["child"]) >= 2 and len(roles["grandchild"]) == 2, \
            "\n".join(map(procs.describe, tree))
        if to_group:
            os.killpg(srv.proc.pid, sig)  # as a terminal's Ctrl+C: the server and every child get it
        else:
            srv.proc.send_signal(sig)
        code = srv.proc.wait(30)
        # uvicorn raises a SIGTERM again after shutdown; after SIGINT it returns (0), or, before
        # uvicorn 0.30, exits with the shell's code for it (128 + 2)
        assert code in (0, -sig, 128 + sig), code
        # each ended and waited for by its own parent before the server exited, the resource tracker
        # too: not one running, nor a zombie re-parented to init
        left = procs.unreaped(tree)
        assert not left, "left when the server exited:\n" + "\n".join(map(procs.describe, left))
        left = procs.wait_until_empty(lambda: procs.in_session(srv.proc.pid), 10)  # nothing started late either
        assert not left, "left in the server's session:\n" + "\n".join(map(procs.describe, left))
        srv.log.close()

        with closing(sqlite3.connect(data / "jobs.sqlite")) as db:
            state = db.execute("SELECT state FROM jobs WHERE id = ?", (job,)).fetchone()[0]
        assert state == "running", state  # interrupted, not failed or cancelled: the next start queues it again
        journal = data / f"{job}.parquet.journal.jsonl"
        assert journal.exists() and not (data / f"{job}.parquet").exists()

        srv.start()
        with Client(srv.url) as c:
            deadline = time.time() + 180
            while (st := c.status(job))["state"] not in ("done", "failed", "cancelled") and time.time() < deadline:
                time.sleep(0.2)
            assert st["state"] == "done", st
            df = c.results(job)
    finally:
        srv.stop()
    assert sorted(df["point"]) == list(range(POINTS))  # every point exactly once
    values = [100 + 900 * i / (POINTS - 1) for i in range(POINTS)]
    assert list(df.sort_values("point")["facility.grid_power_mw"]) == pytest.approx(values)


def test_a_solve_cut_by_the_shutdown_is_a_503_and_its_worker_ends():
    """In process: a solve still running when uvicorn cancels it (past the grace period) answers
    503, and closing the pool ends its busy worker after the pool's grace period."""
    from optimizer.interfaces.service import Limits, ServiceError, SolvePool, SolveRequest

    pool = SolvePool(Limits(max_solves=1))
    req = SolveRequest(instance=optimizer.load_instance(deterministic_roadmap()))  # one future, ~2.5 s

    async def cut() -> ServiceError:
        task = asyncio.create_task(pool.solve(req))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(ServiceError) as err:
            await task
        return err.value

    try:
        err = asyncio.run(cut())
        workers = {pid: start for pid, start in procs.descendants(os.getpid()).items()
                   if (procs.stat(pid) or {}).get("ppid") == os.getpid() and "spawn_main" in procs.describe(pid)}
    finally:
        pool.close(grace=0.5)
    assert err.status == 503 and "shutting down" in err.detail
    assert len(workers) == 1
    assert not procs.alive(workers)  # ended and waited for: close returns after it
