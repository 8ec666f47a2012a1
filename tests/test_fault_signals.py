"""Faults at random points of a sweep: SIGINT, SIGTERM and SIGKILL after a random (seeded)
number of journaled rows, of `optimizer sweep --jobs 1/2`, of a Dask sweep and of a sweep job in
`optimizer serve`; a full disk (a file-size limit) under the journal and under the result file.
After each, the state the docs promise (cli.py's exit codes, docs/service.md), and a resumed
sweep whose table equals an uninterrupted run's; no process is left behind."""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pandas as pd
import procs
import pytest
import yaml
from test_service import GTC, Server
from test_sweep import assert_same_rows

from optimizer.interfaces.client import Client

POINTS = 8  # ~0.1 s each: a signal after k rows lands while points remain
SWEEP = {"parameters": [{"path": "facility.grid_power_mw", "range": {"start": 100, "stop": 1000, "count": POINTS}}]}
TIMEOUT = 60


def sweep_file(folder: Path) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump({"base": str(GTC), **SWEEP}))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> pd.DataFrame:
    """The uninterrupted run's table."""
    folder = tmp_path_factory.mktemp("reference")
    out = folder / "whole.csv"
    subprocess.run(cli(sweep_file(folder), out, 1), check=True, capture_output=True, timeout=TIMEOUT)
    return pd.read_csv(out)


def cli(spec: Path, out: Path, jobs: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "optimizer", "sweep", str(spec), "-o", str(out), "--jobs", str(jobs), *extra]


def journal_lines(out: Path) -> list[bytes]:
    path = out.with_name(out.name + ".journal.jsonl")
    return path.read_bytes().split(b"\n") if path.exists() else []


def rows_of(out: Path, torn_ok: bool) -> list[dict]:
    """The journal's rows; every line but a torn last one (only if ``torn_ok``) is a JSON row."""
    lines = journal_lines(out)
    assert lines, "no journal"
    *whole, last = lines
    assert json.loads(whole[0])["points"] == POINTS  # the header
    if last:
        assert torn_ok, f"a torn last line: {last[:80]!r}"
    return [json.loads(line) for line in whole[1:]]


def wait_rows(out: Path, k: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT
    while len(journal_lines(out)) - 2 < k:  # header and the empty tail after the last newline
        assert proc.poll() is None, f"the sweep ended before {k} rows: {proc.communicate()}"
        assert time.monotonic() < deadline
        time.sleep(0.005)


def cuts(sig: signal.Signals) -> list[tuple[int, int]]:
    """Seeded random points for one signal: (jobs, rows journaled before the signal)."""
    rng = random.Random(f"fault-signals-{sig.name}")
    return [(jobs, rng.randint(1, POINTS - 3)) for jobs in (1, 2, rng.choice((1, 2)))]


def restore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell's & (or pytest's runner) may ignore it


def stop_checked(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    left = procs.wait_until_empty(lambda: procs.in_session(proc.pid), 10)
    assert not left, "left behind:\n" + "\n".join(map(procs.describe, left))
    return proc.returncode, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_a_signal_at_a_random_point_of_a_cli_sweep_then_resume(tmp_path, reference, sig):
    """SIGINT to the whole group (a terminal's Ctrl-C): exit 130, "interrupted"; SIGTERM to the
    sweep alone (a service manager): exit 143, "terminated"; either way no traceback, no row for
    the points being solved (none journaled as error), no result file. SIGKILL to the sweep
    alone: its workers die with it, the journal is intact but for at most a torn last line.
    Then --resume writes the uninterrupted run's table."""
    spec = sweep_file(tmp_path)
    for n, (jobs, k) in enumerate(cuts(sig)):
        out = tmp_path / f"cut{n}.csv"
        proc = subprocess.Popen(cli(spec, out, jobs), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True, preexec_fn=restore_sigint)
        wait_rows(out, k, proc)
        tree = procs.descendants(proc.pid)
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        code, err = stop_checked(proc)
        assert not procs.alive(tree)
        rows = rows_of(out, torn_ok=sig == signal.SIGKILL)
        where = f"{sig.name} after {k} rows, --jobs {jobs}: {err}"
        assert k <= len(rows) < POINTS, where
        assert {r["status"] for r in rows} == {"optimal"}, where
        assert len({r["point"] for r in rows}) == len(rows)
        assert not out.exists() and not out.with_name(out.name + ".tmp").exists()
        if sig == signal.SIGKILL:
            assert code == -signal.SIGKILL
        else:
            word = "interrupted" if sig == signal.SIGINT else "terminated"
            assert code == 128 + sig, where
            assert f"{word}: {len(rows)} of {POINTS} points solved; run again with --resume" in err, where
            assert "Traceback" not in err, where
        res = subprocess.run(cli(spec, out, jobs, "--resume"), capture_output=True, text=True, timeout=TIMEOUT)
        assert res.returncode == 0, res.stderr
        assert not journal_lines(out)
        assert_same_rows(pd.read_csv(out), reference)


def test_ctrl_c_of_a_dask_sweep_then_resume(tmp_path, reference):
    """Ctrl-C of `optimizer sweep --scheduler` (the Dask backend): exit 130, "interrupted", no
    error row; --resume on the same cluster writes the uninterrupted run's table."""
    distributed = pytest.importorskip("distributed")
    spec = sweep_file(tmp_path)
    out = tmp_path / "dask.csv"
    k = random.Random("fault-signals-dask").randint(1, POINTS - 3)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        cmd = cli(spec, out, 1, "--scheduler", cluster.scheduler_address)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True, preexec_fn=restore_sigint)
        wait_rows(out, k, proc)
        os.killpg(proc.pid, signal.SIGINT)
        code, err = stop_checked(proc)
        rows = rows_of(out, torn_ok=False)
        assert code == 130 and "interrupted" in err and "Traceback" not in err, err
        assert k <= len(rows) < POINTS and {r["status"] for r in rows} == {"optimal"}
        assert not out.exists()
        res = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    assert_same_rows(pd.read_csv(out), reference)


def limited(size: int):
    """preexec_fn: no file this process writes may grow beyond ``size`` bytes; a write past it
    fails with EFBIG (SIGXFSZ, which would kill the process, is ignored), as on a full disk."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return apply


def test_a_full_disk_under_the_journal_then_resume(tmp_path, reference):
    """The journal cannot grow past 3 kB (a few rows): exit 3, a message naming the journal and
    the fault, no traceback, no result file; the rows written before stay (at most a torn last
    line), and --resume without the limit writes the uninterrupted run's table."""
    spec = sweep_file(tmp_path)
    out = tmp_path / "full.csv"
    res = subprocess.run(cli(spec, out, 1), capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=limited(3000))
    assert res.returncode == 3, res.stderr
    assert "error: cannot write" in res.stderr and "full.csv.journal.jsonl: File too large" in res.stderr, res.stderr
    assert "--resume" in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert not out.exists() and not out.with_name(out.name + ".tmp").exists()
    rows = rows_of(out, torn_ok=True)
    assert len(rows) < POINTS and {r["status"] for r in rows} <= {"optimal"}
    res = subprocess.run(cli(spec, out, 1, "--resume"), capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    assert_same_rows(pd.read_csv(out), reference)


def test_a_full_disk_under_the_result_file_then_resume(tmp_path, reference, monkeypatch):
    """Every point is journaled but the result file cannot be written (1 kB limit): exit 3, a
    message naming it, no partial result (nor its temporary file), the journal kept whole; a
    rerun with --resume writes the table."""
    import optimizer.analysis.sweeps as sweeps
    from optimizer.analysis.scenarios import load_sweep

    spec = sweep_file(tmp_path)
    out = tmp_path / "full.csv"

    def no_final(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sweeps, "_write_final", no_final)  # in process: a sweep whose last write failed
    with pytest.raises(sweeps.SweepWriteError, match="No space left on device"):
        sweeps.run_sweep(*load_sweep(spec)[:2], out, jobs=1)
    monkeypatch.undo()
    journal = out.with_name(out.name + ".journal.jsonl")
    whole = journal.read_bytes()
    assert len(rows_of(out, torn_ok=False)) == POINTS
    res = subprocess.run(cli(spec, out, 1, "--resume"), capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=limited(1000))
    assert res.returncode == 3, res.stderr
    assert "error: cannot write" in res.stderr and "full.csv: File too large" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists() and not out.with_name(out.name + ".tmp").exists()
    assert journal.read_bytes() == whole
    res = subprocess.run(cli(spec, out, 1, "--resume"), capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    assert not journal.exists()
    assert_same_rows(pd.read_csv(out), reference)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_a_signal_at_a_random_point_of_a_service_sweep_then_restart(tmp_path, reference, sig):
    """The server gets the signal after a random number of its sweep job's rows (SIGINT to its
    group, as Ctrl-C; SIGTERM and SIGKILL to it alone): it exits leaving no process, the job
    stays `running` in SQLite with its journal intact (SIGKILL: but for a torn last line) and
    no result file; the restarted server resumes it to the uninterrupted run's rows."""
    data = tmp_path / "data"
    k = random.Random(f"fault-signals-service-{sig.name}").randint(1, POINTS - 3)
    srv = Server(data, "--sweep-workers", "2")
    try:
        with Client(srv.url) as c:
            job = c.start_sweep(SWEEP, instance=GTC)
        out = data / f"{job}.parquet"
        wait_rows(out, k, srv.proc)
        tree = srv.descendants()
        if sig == signal.SIGINT:
            os.killpg(srv.proc.pid, sig)
        else:
            srv.proc.send_signal(sig)
        code = srv.proc.wait(TIMEOUT)
        assert code in ((0, -sig, 128 + sig) if sig != signal.SIGKILL else (-sig,)), code
        left = procs.wait_until_empty(lambda: procs.alive(tree) + procs.in_session(srv.proc.pid), 10)
        assert not left, "left behind:\n" + "\n".join(map(procs.describe, left))
        srv.log.close()
        with closing(sqlite3.connect(data / "jobs.sqlite")) as db:
            assert db.execute("SELECT state FROM jobs WHERE id = ?", (job,)).fetchone()[0] == "running"
        rows = rows_of(out, torn_ok=sig == signal.SIGKILL)
        assert k <= len(rows) < POINTS and {r["status"] for r in rows} == {"optimal"}
        assert not out.exists()
        srv.start()
        with Client(srv.url) as c:
            deadline = time.time() + TIMEOUT
            while (st := c.status(job))["state"] in ("queued", "running") and time.time() < deadline:
                time.sleep(0.1)
            assert st["state"] == "done", st
            df = c.results(job)
    finally:
        srv.stop()
    assert list(df["point"]) == list(reference["point"])
    assert list(df["status"]) == list(reference["status"])
    assert list(df["objective_value"]) == pytest.approx(list(reference["objective_value"]), rel=1e-9)
