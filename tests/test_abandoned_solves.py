"""A solve whose client goes away while it runs is stopped: its worker is killed, waited for
and replaced at once, so the solver is free for the next request within seconds instead of
at the abandoned solve's time limit (docs/service.md)."""

from __future__ import annotations

import time

import httpx
from test_service import GTC, Server

from benchmarks.generate import SIZES, synthetic
from optimizer.model.schema import read_document

LONG = 20.0  # seconds the abandoned solve would run on (mip gap 0: it runs to its time limit)


def test_a_running_solve_whose_client_left_is_stopped_and_the_solver_is_free_at_once(tmp_path):
    server = Server(tmp_path / "data", "--max-solves", "1")
    small = {"instance": read_document(GTC), "marginal_values": False}  # one solve: the time measured is the worker's, not re-solves'
    try:
        assert httpx.post(server.url + "/v1/solve", json=small, timeout=60).status_code == 200  # the worker is up
        long = {"instance": synthetic(*SIZES["medium"]), "mip_gap": 0.0, "time_limit": LONG, "marginal_values": False}
        try:
            httpx.post(server.url + "/v1/solve", json=long, timeout=1.5)
            raise AssertionError("the long solve should still be running")
        except httpx.ReadTimeout:
            pass  # the client gave up while its solve ran
        left = time.monotonic()
        after = httpx.post(server.url + "/v1/solve", json=small, timeout=60)
        freed = time.monotonic() - left
        assert after.status_code == 200 and after.json()["status"] == "optimal"
        assert freed < 3.0, f"the next solve was answered {freed:.2f} s after the client left"
        print(f"next solve answered {freed:.2f} s after the client left")
    finally:
        server.stop()  # and nothing left behind: the killed worker was waited for
    log = (tmp_path / f"server-{server.port}.log").read_text()
    assert log.count("a running solve was stopped: its client went away") == 1, log[-2000:]
