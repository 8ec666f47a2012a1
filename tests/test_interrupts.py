"""Issue 14's last two examples: Ctrl-C during `optimizer solve` says it was interrupted (exit
130, no "no plan: error", no traceback), and a sweep whose choice has no values is a 422 from the
service, as it is exit 2 from the command line (test_hostile_cli.test_absurd_sizes_are_clean_errors)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
from test_service import GTC, Server

from procs import wait_for_cpu

from benchmarks.generate import SIZES, synthetic
from optimizer.model.schema import read_document


def test_ctrl_c_during_a_solve_says_it_was_interrupted(tmp_path):
    """A solve that would run 30 s (the medium synthetic instance at gap 0) gets SIGINT after 3 s,
    the way a terminal's Ctrl-C reaches it: exit 130 and 'interrupted' within a few seconds."""
    path = tmp_path / "medium.json"
    path.write_text(json.dumps(synthetic(*SIZES["medium"])))
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "optimizer", "solve", str(path), "--mip-gap", "0", "--time-limit", "30",
                             "--no-marginal-values"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # 3 s of its own CPU time: past Python's start and the imports, into the build or the solve,
    # however loaded the machine is (a fixed 3 s sleep once caught it still importing `site`)
    assert wait_for_cpu(proc.pid, 3.0) >= 3.0, "the solve ended or stalled before it had run 3 s"
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    took = time.monotonic() - sent
    assert proc.returncode == 130, (proc.returncode, out[-2000:], err[-2000:])
    assert "interrupted" in err and "Traceback" not in err and "no plan" not in out + err, err
    assert took < 10.0, f"{took:.1f} s from Ctrl-C to exit"


def test_a_sweep_choice_of_no_values_is_a_422(tmp_path):
    server = Server(tmp_path / "data")
    try:
        body = {"instance": read_document(GTC), "mode": "random", "samples": 3,
                "parameters": [{"path": "facility.grid_power_mw", "distribution": {"kind": "choice", "values": []}}]}
        res = httpx.post(server.url + "/v1/sweeps", json=body, timeout=30)
        assert res.status_code == 422, res.text
        assert "at least one value" in res.text
    finally:
        server.stop()
