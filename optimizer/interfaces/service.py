"""The optimizer as an HTTP service for planning tools (``optimizer serve``).

FastAPI on uvicorn. Instances come as JSON bodies only (no file paths, no YAML, so no YAML
tags); request and response bodies are the same pydantic models as the files and the CLI's
JSON, so the OpenAPI document is generated from them.

Solves run in a pool of worker processes (``max_solves`` at a time, ``max_queue`` more wait;
beyond that: 429); a solve whose client goes away is dropped if it waits, stopped (its worker
killed and replaced) if it runs. Sweeps are jobs: each runs in its own process, writes its rows to a journal
as points finish (``sweeps.run_sweep``), and its specification and state live in SQLite under
the data directory, so a restarted server resumes unfinished sweeps from their last finished
point.

Shutdown (SIGTERM or SIGINT, which uvicorn turns into the lifespan's end): the server stops
accepting requests, gives those in flight a few seconds, then ends every process it started,
each waited for: the solve workers, the sweep processes with their own workers (a sweep stays
``running`` in SQLite and resumes from its journal at the next start: never failed, never
cancelled) and multiprocessing's resource tracker. Each child also has the kernel kill it if
the process that started it dies (``PR_SET_PDEATHSIG``), so even a SIGKILLed server leaves
no process behind.

The planner's web page is served at ``/`` (``webpage``): it uses this same API, and the
endpoints it adds serve any client: ``/v1/instances`` (the instance files of the folder the
server was started with, by name only: no path ever comes from a client), ``/v1/explain`` and
``/v1/report`` (why a plan the client holds is what it is, and its HTML report; solver work, so
they run in the solve pool under its limits and stop when their client goes away).

Errors are JSON ``{"detail": ..., "errors": [{"path", "rule"}]}`` with a clear status: 413 for
a body or an instance too large, 422 for an invalid instance or option, 429 when the solve
queue is full, 404/409 for unknown or unfinished jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import gc
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import sqlite3
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Body, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..analysis.explain import Explanation
from ..errors import InputError, Issue, format_loc
from ..solving.results import Solution
from ..analysis.scenarios import SweepOptions, SweepSpec, check_paths, count_points, journal_path
from ..model.schema import NUMBER, Fraction, Instance, Objective, check_instance, json_schema, parse_instance
from . import webpage

log = logging.getLogger("optimizer.interfaces.service")

GRACE = 3.0  # seconds a child gets to end after SIGTERM (or an idle solve worker after shutdown) before SIGKILL
MIN_FREE_BYTES = 10_000_000  # less free space on the data directory's disk: /healthz says degraded
REQUEST_GRACE = 10.0  # seconds requests in flight get at shutdown before uvicorn cancels them
EXPLAIN_DEADLINE = 5  # an explanation or report may take this many solve time limits (max_time_limit) in all
INSTANCES = Path(__file__).resolve().parents[2] / "instances"  # shipped instances, when run from a checkout


@dataclass
class Limits:
    """What one server accepts; every limit has its own error status and message."""

    max_body_bytes: int = 5_000_000
    max_instance_size: int = 200_000  # hardware x tiers x halls
    max_time_limit: float = 60.0  # seconds per solve (a request may ask for less)
    max_solves: int = 2  # solves running at once
    max_queue: int = 64  # solves waiting beyond those
    max_sweep_points: int = 100_000
    max_jobs: int = 1  # sweeps running at once
    max_queued_jobs: int = 16  # sweeps waiting beyond those; more get 429
    sweep_workers: int = 1  # processes per sweep
    # retention of ended sweeps (done, failed, cancelled): their row, journal and result files go
    # when older than keep_jobs_days, and beyond the keep_jobs most recent (None: no such rule)
    keep_jobs_days: float | None = 30.0
    keep_jobs: int | None = 1000


class Problem(BaseModel):
    path: str
    rule: str


class ErrorBody(BaseModel):
    detail: str
    errors: list[Problem] = Field(default_factory=list)


class ValidateResult(BaseModel):
    valid: bool
    errors: list[Problem]


class SolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instance: Instance
    objective: Objective | None = None
    time_limit: Annotated[float, Field(gt=0, description="seconds; at most the server's cap"), NUMBER] | None = None
    mip_gap: Fraction | None = None
    marginal_values: StrictBool = Field(True, description="what each site limit is worth, by re-solving with it moved 1% "
                                        "(about 2 solves per limit, within the same time limit; not for a stochastic "
                                        "instance, which says so in its warnings only when asked explicitly)")
    regret: StrictBool = Field(True, description="a stochastic instance (uncertainty, MODEL.md section 13) also gets its "
                               "regret table, EVPI and VSS: (scenarios + 1) x scenarios more solves, within the same "
                               "time limit; false leaves them empty")

    def solve_args(self, time_limit: float) -> tuple:
        """What a solve worker is sent (``_solve_in_worker``'s arguments). The instance as its file
        spells it (a scenario's overrides as ``set``). Marginal values are not computed for a
        stochastic instance: one that did not ask for them gets no warning saying so."""
        marginal = self.marginal_values and (self.instance.uncertainty is None or "marginal_values" in self.model_fields_set)
        return ("solve", self.instance.model_dump(mode="json", by_alias=True), self.objective.value if self.objective else None,
                time_limit, self.mip_gap, marginal, self.regret)


class SweepRequest(SweepOptions):
    """A sweep file's fields (see optimizer.analysis.scenarios) with the base instance inline."""

    instance: Instance

    def spec(self, cap: float) -> SweepSpec:
        fields = self.model_dump(exclude={"instance"})
        fields["time_limit"] = min(self.time_limit or cap, cap)
        return SweepSpec(base="<request>", **fields)


class PlanRequest(BaseModel):
    """A solved plan and the instance it was solved from (``/v1/explain``, ``/v1/report``)."""

    model_config = ConfigDict(extra="forbid")
    instance: Instance
    solution: Solution

    def fits(self) -> list[Issue]:
        """The solution names only this instance's systems, halls and tiers, and has its shape
        (periods with a horizon, futures with uncertainty)."""
        inst, sol = self.instance, self.solution
        issues = []
        if sol.instance != inst.name:
            issues.append(Issue("solution.instance", f"is {sol.instance!r}, but the instance is {inst.name!r}"))
        known = {"hardware": {h.name for h in inst.hardware}, "hall": {z.name for z in inst.facility.halls},
                 "tier": {q.name for q in inst.tiers}}
        rows = [("racks", sol.racks), ("allocation", sol.allocation), ("tiers", sol.tiers)]
        for field, items in rows:
            for i, row in enumerate(items):
                for key, names in known.items():
                    value = getattr(row, key, None)
                    if value is not None and value not in names:
                        issues.append(Issue(f"solution.{field}[{i}].{key}", f"{value!r} is not in the instance"))
        if bool(sol.periods) != (inst.horizon is not None) and sol.has_plan and inst.uncertainty is None:  # a stochastic plan's periods are in its futures
            issues.append(Issue("solution.periods", "a plan has periods exactly when its instance has a horizon"))
        if (sol.uncertainty is not None) != (inst.uncertainty is not None) and sol.has_plan:
            issues.append(Issue("solution.uncertainty", "a plan has futures exactly when its instance has uncertainty"))
        return issues


class ShippedInstance(BaseModel):
    name: str
    title: str


class InstanceText(BaseModel):
    name: str
    text: str = Field(description="the file's text (YAML, with its comments)")


class JobStatus(BaseModel):
    id: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    points: int
    done: int = Field(description="points finished so far")
    message: str = ""
    created: float
    finished: float | None = None


# --------------------------------------------------------------------------- errors


class StartupError(Exception):
    """The server cannot start on this data directory: ``serve`` prints the message, exits 2."""


def lock_data_dir(root: Path) -> int:
    """Take an exclusive lock on the data directory (``server.lock``, held while the returned
    descriptor stays open): two servers on one directory would run the same jobs twice."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / "server.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StartupError(f"another server (pid {holder}) is using this data directory (it holds server.lock): "
                           "stop it, or give this one another --data-dir") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class ServiceError(Exception):
    def __init__(self, status: int, detail: str, issues: list[Issue] | None = None):
        self.status, self.detail, self.issues = status, detail, issues or []


def _problems(issues: list[Issue]) -> list[dict]:
    return [{"path": i.path, "rule": i.rule} for i in issues]


def _error(status: int, detail: str, issues: list[Issue] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail, "errors": _problems(issues or [])})


def _request_issues(exc: RequestValidationError) -> list[Issue]:
    out = []
    for e in exc.errors():
        loc = [p for p in e.get("loc", ()) if not (isinstance(p, str) and p.startswith("function-"))]
        if loc and loc[0] == "body":
            loc = loc[1:]
        msg = e.get("msg", "invalid")
        if e.get("type") == "extra_forbidden":
            msg = "unknown field (not in the schema; check its spelling)"
        out.append(Issue(format_loc(tuple(loc), getattr(exc, "body", None)), msg))  # elements named, as in the CLI
    return out


# --------------------------------------------------------------------------- limits


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413. A declared length over the
    limit is refused up front; every body, declared or not (chunked), is counted as it arrives
    (a declared length may lie) and read up to the limit, then replayed."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = _error(413, f"request body exceeds {self.limit:,} bytes")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await too_big(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, receive, send)  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                return await too_big(scope, receive, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _check_size(inst: Instance, limits: Limits) -> None:
    """hardware x tiers x halls, times the scenarios of a stochastic instance (each a copy of the
    allocation, MODEL.md section 13.2), at most ``max_instance_size``."""
    size = len(inst.hardware) * len(inst.tiers) * len(inst.facility.halls)
    what, many = "hardware x tiers x halls", "hardware systems, tiers or halls"
    if inst.uncertainty is not None:
        size *= len(inst.uncertainty.scenarios)
        what, many = what + " x scenarios", "hardware systems, tiers, halls or scenarios"
    if size > limits.max_instance_size:
        raise ServiceError(413, f"instance too large: {what} = {size:,} > {limits.max_instance_size:,}",
                           [Issue("instance", f"too many {many} for this server")])


def _checked(inst: Instance, limits: Limits, prefix: str = "instance") -> Instance:
    """Cross-field rules and the size limit; raises ServiceError(422 or 413)."""
    issues = check_instance(inst)
    if issues:
        raise ServiceError(422, "invalid instance", [Issue(f"{prefix}.{i.path}" if i.path else prefix, i.rule) for i in issues])
    _check_size(inst, limits)
    return inst


# --------------------------------------------------------------------------- solves (worker processes)


def _solve_worker_init(parent: int) -> None:
    """A solve worker dies with the server and leaves Ctrl+C (SIGINT to the terminal's whole
    process group) to the server, which ends the pool in order."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _solve_in_worker(instance: dict, objective: str | None, time_limit: float, mip_gap: float | None,
                     marginal_values: bool = False, regret: bool = True) -> str:
    from ..solving.engine import solve

    sol = solve(instance, objective=objective, time_limit=time_limit, mip_gap=mip_gap, threads=1, marginal_values=marginal_values,
                regret=regret)
    return sol.model_dump_json()


def _explain_in_worker(instance: dict, solution: dict) -> str:
    """Why each system the plan left out was left out (``analysis.explain``: a few solves each)."""
    from ..analysis.explain import explain

    inst = parse_instance(instance, "request")
    return explain(inst, Solution.model_validate(solution)).model_dump_json()


def _report_in_worker(instance: dict, solution: dict) -> str:
    """The HTML report ``optimizer report`` writes, for a plan the client already has."""
    from ..analysis.explain import for_report
    from ..outputs.document import to_html

    inst = parse_instance(instance, "request")
    sol = Solution.model_validate(solution)
    return to_html(inst, sol, for_report(inst, sol), [])


TASKS = {"solve": _solve_in_worker, "explain": _explain_in_worker, "report": _report_in_worker}


def _solve_worker_main(conn, parent: int) -> None:
    """A solve worker: solves what the server sends on ``conn``, one at a time, until the
    server closes its end (or kills it: a solve whose client went away)."""
    _solve_worker_init(parent)
    from ..solving import engine  # noqa: F401  (imported now, not in the first solve)

    while True:
        try:
            args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            task, *rest = args
            reply = ("ok", TASKS[task](*rest))
        except Exception as exc:  # the server answers 500, naming only the exception's type
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except OSError:
            return


class _Worker:
    """One solve process and the server's end of its pipe."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_solve_worker_main, args=(child, os.getpid()), daemon=True, name="solve-worker")
        self.proc.start()
        child.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()


class SolvePool:
    """At most ``max_solves`` solves run, ``max_queue`` more wait; the rest get 429.

    Each solve runs in one of ``max_solves`` worker processes of this pool's own (started on
    demand by the event loop's thread). A solve waits for a slot here, and one whose client goes
    away while it waits is dropped and never runs; one whose client goes away while it runs is
    stopped: its worker is killed (and waited for) and a fresh one takes its place at once, so
    the slot is free for the next solve within a poll (0.25 s) and the worker's start."""

    POLL = 0.25  # seconds between checks that a waiting or running solve's client is still there

    def __init__(self, limits: Limits):
        self.limits = limits
        self.idle: list[_Worker] = []
        self.busy: set[_Worker] = set()
        self.closed = False
        self.in_flight = 0
        self.lock = threading.Lock()
        self.slots = asyncio.Semaphore(limits.max_solves)  # bound to the event loop at first use

    async def _slot(self, gone) -> bool:
        """Wait for a free solver; False if ``gone()`` says the client went away first."""
        while True:
            try:
                await asyncio.wait_for(self.slots.acquire(), timeout=None if gone is None else self.POLL)
                return True
            except asyncio.TimeoutError:
                if await gone():
                    return False

    async def solve(self, req: SolveRequest, gone=None) -> str:
        """Run one solve; ``gone`` (an async callable, e.g. ``Request.is_disconnected``) tells
        whether its client is still there."""
        limit = min(req.time_limit or self.limits.max_time_limit, self.limits.max_time_limit)
        return await self.run(req.solve_args(limit), gone)

    async def run(self, args: tuple, gone=None, deadline: float | None = None) -> str:
        """Run one task of ``TASKS`` (``args`` = its name, then its arguments) under the same
        slots, queue and cancellation as a solve; one still running after ``deadline`` seconds is
        stopped (504)."""
        with self.lock:
            if self.in_flight >= self.limits.max_solves + self.limits.max_queue:
                raise ServiceError(429, f"too many solves: {self.in_flight} running or queued; retry later")
            self.in_flight += 1
        try:
            try:
                if not await self._slot(gone):
                    log.warning("a waiting solve was dropped: its client went away before it started")
                    raise ServiceError(499, "the client went away before the solve started")
                try:
                    return await self._run(args, gone, deadline)
                finally:
                    self.slots.release()
            except asyncio.CancelledError:  # uvicorn cancels what runs past the shutdown's grace period
                raise ServiceError(503, "the server is shutting down; retry the solve") from None
        finally:
            with self.lock:
                self.in_flight -= 1

    async def _run(self, args: tuple, gone, deadline: float | None = None) -> str:
        """One solve in a worker of its own while it runs; the reply, or ServiceError 499 (the
        client went away: the worker was killed), 503 (the worker died) or 504 (still running at
        ``deadline`` seconds: the worker was killed)."""
        with self.lock:
            if self.closed:
                raise ServiceError(503, "the server is shutting down; retry the solve")
            worker = self.idle.pop() if self.idle else _Worker()
            self.busy.add(worker)
        worker.conn.send(args)
        reply = asyncio.ensure_future(asyncio.to_thread(worker.conn.recv))
        end = None if deadline is None else time.monotonic() + deadline
        poll = self.POLL if gone is not None or deadline is not None else None
        while not (await asyncio.wait({reply}, timeout=poll))[0]:
            if end is not None and time.monotonic() > end:
                await self._stop(worker, reply)
                log.warning("a %s was stopped after %g s", args[0], deadline)
                raise ServiceError(504, f"the {args[0]} took longer than this server's {deadline:g} s; it was stopped")
            if gone is not None and await gone():
                await self._stop(worker, reply)
                log.warning("a running solve was stopped: its client went away")
                raise ServiceError(499, "the client went away; its solve was stopped")
        try:
            kind, value = reply.result()
        except (EOFError, OSError):  # the worker died (killed, out of memory): a fresh one for the next solve
            self._replace(worker)
            raise ServiceError(503, "a solver process died during this solve; retry") from None
        with self.lock:
            self.busy.discard(worker)
            (worker.kill() if self.closed else self.idle.append(worker))
        if kind != "ok":
            raise RuntimeError(value)
        return value

    async def _stop(self, worker: _Worker, reply) -> None:
        """Kill a busy worker (its successor started) and let its pipe's reader end with it."""
        self._replace(worker)
        with contextlib.suppress(Exception):
            await reply

    def _replace(self, worker: _Worker) -> None:
        """Kill a busy worker, wait for it, and start its successor (from this, the event loop's
        thread) so that the next solve does not wait for a process to start."""
        worker.kill()
        with self.lock:
            self.busy.discard(worker)
            if not self.closed:
                self.idle.append(_Worker())

    def close(self, grace: float = GRACE) -> None:
        """Let the workers exit (an idle one at once, one still solving gets ``grace`` seconds),
        end the stragglers, and wait for every one."""
        with self.lock:
            self.closed = True
            workers, self.idle = [*self.idle, *self.busy], []
            self.busy = set()
        for w in workers:
            w.conn.close()  # an idle worker reads the end of its pipe; a busy one fails to send its reply
        _end([w.proc for w in workers], grace, terminate_first=False)
        gc.collect()


# --------------------------------------------------------------------------- sweep jobs


class JobStore:
    """Jobs in SQLite: the request, the state, the point count. Rows live in the sweep's own
    journal and result file next to it."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.db = root / "jobs.sqlite"
        self._progress: dict[str, tuple[int, set]] = {}  # job -> (journal bytes read, points seen)
        self._progress_lock = threading.Lock()
        self._csv_locks: dict[str, threading.Lock] = {}
        self._csv_locks_lock = threading.Lock()
        try:
            with self._conn() as c:
                c.execute("CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, request TEXT NOT NULL, state TEXT NOT NULL, "
                          "points INTEGER NOT NULL, message TEXT NOT NULL DEFAULT '', created REAL NOT NULL, finished REAL)")
                c.execute("SELECT count(*) FROM jobs").fetchone()
        except sqlite3.DatabaseError as exc:  # not a database, malformed, unreadable
            raise StartupError(f"jobs.sqlite in the data directory cannot be used ({exc}): stop here and restore it from a "
                               "backup, or move it aside (with its -wal and -shm files) to start with no jobs") from None

    def _conn(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def add(self, request: dict, points: int) -> str:
        job = uuid.uuid4().hex
        with self._conn() as c:
            c.execute("INSERT INTO jobs (id, request, state, points, created) VALUES (?, ?, 'queued', ?, ?)",
                      (job, json.dumps(request), points, time.time()))
        return job

    def get(self, job: str) -> dict | None:
        with self._conn() as c:
            row = c.execute("SELECT id, request, state, points, message, created, finished FROM jobs WHERE id = ?", (job,)).fetchone()
        if row is None:
            return None
        return dict(zip(("id", "request", "state", "points", "message", "created", "finished"), row))

    def ids(self, *states: str) -> list[str]:
        marks = ",".join("?" * len(states))
        with self._conn() as c:
            return [r[0] for r in c.execute(f"SELECT id FROM jobs WHERE state IN ({marks}) ORDER BY created", states)]

    def set(self, job: str, state: str, message: str = "") -> None:
        finished = time.time() if state in ("done", "failed", "cancelled") else None
        with self._conn() as c:
            c.execute("UPDATE jobs SET state = ?, message = ?, finished = ? WHERE id = ?", (state, message, finished, job))

    def output(self, job: str) -> Path:
        return self.root / f"{job}.parquet"

    def expire(self, days: float | None, keep: int | None, now: float | None = None) -> list[str]:
        """The retention rule: delete the ended jobs (done, failed, cancelled) that finished more
        than ``days`` ago or are beyond the ``keep`` most recent, with their journal and result
        files. Returns their ids. Queued and running jobs are never touched."""
        now = time.time() if now is None else now
        with self._conn() as c:
            ended = [r[0] for r in c.execute("SELECT id, finished FROM jobs WHERE state IN ('done', 'failed', 'cancelled') "
                                             "ORDER BY finished DESC, created DESC")]
            old = set() if days is None else {r[0] for r in c.execute(
                "SELECT id FROM jobs WHERE state IN ('done', 'failed', 'cancelled') AND finished < ?", (now - days * 86_400,))}
        gone = [j for i, j in enumerate(ended) if j in old or (keep is not None and i >= keep)]
        for job in gone:
            out = self.output(job)
            for path in (out, out.with_suffix(".csv"), journal_path(out)):
                path.unlink(missing_ok=True)
            with self._conn() as c:
                c.execute("DELETE FROM jobs WHERE id = ?", (job,))
            with self._progress_lock:
                self._progress.pop(job, None)
        return gone

    def csv(self, job: str) -> Path:
        """The result as CSV, converted from the Parquet file once and kept. Written to a
        temporary file in the same directory and renamed into place under the job's lock, so a
        reader sees the whole file or none, and concurrent first requests convert it once; a
        failed conversion (disk full) leaves no CSV behind and raises ServiceError (507 or 503)."""
        out = self.output(job)
        csv = out.with_suffix(".csv")
        with self._csv_locks_lock:
            lock = self._csv_locks.setdefault(job, threading.Lock())
        with lock:
            if csv.exists():
                return csv
            tmp = csv.with_name(f"{csv.name}.{uuid.uuid4().hex}.tmp")
            try:
                import pandas as pd

                pd.read_parquet(out).to_csv(tmp, index=False)
                os.replace(tmp, csv)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                    raise ServiceError(507, f"no space to write the CSV of sweep {job} ({os.strerror(exc.errno)}); "
                                            "retry later, or download the Parquet file") from None
                raise ServiceError(503, f"the CSV of sweep {job} could not be written "
                                        f"({os.strerror(exc.errno) if exc.errno else type(exc).__name__}); retry later") from None
        return csv

    def done_points(self, job: str) -> int:
        """Points finished: the journal's rows while the sweep runs, the result file's after."""
        out = self.output(job)
        journal = journal_path(out)
        if journal.exists():
            return self._journal_points(job, journal)
        if out.exists():
            import pyarrow.parquet as pq

            return pq.ParquetFile(out).metadata.num_rows
        return 0

    def _journal_points(self, job: str, journal: Path) -> int:
        """Distinct points in the journal, reading only what was appended since the last call (a
        status poll of a 100,000-point sweep must not parse every row again)."""
        with self._progress_lock:
            pos, seen = self._progress.get(job, (0, set()))
            with journal.open("rb") as fh:
                if fh.seek(0, 2) < pos:  # a new journal (the sweep restarted it): read it all
                    pos, seen = 0, set()
                fh.seek(pos)
                chunk = fh.read()
            end = chunk.rfind(b"\n") + 1  # a row still being written is read next time
            for i, line in enumerate(chunk[:end].splitlines()):
                if pos == 0 and i == 0:
                    continue  # the header: the sweep's fingerprint
                try:
                    seen.add(int(json.loads(line)["point"]))
                except (ValueError, KeyError, TypeError):  # a torn or foreign line: only valid rows count
                    continue
            self._progress[job] = (pos + end, seen)
            return len(seen)


def _die_with_parent(parent: int | None = None) -> None:
    """Linux: the kernel kills this process when the thread that started it ends (for the
    server's children, when the server dies, even by SIGKILL), so a restarted server never
    finds an orphan still writing the journal it resumes, and no worker outlives its parent.
    ``parent``: the pid that started this process; if it is already gone, exit now (it died
    before the request to the kernel was made)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def _end(procs: list, grace: float, terminate_first: bool = True) -> None:
    """End multiprocessing processes and wait for each: SIGTERM (unless ``terminate_first`` is
    false: they were asked to exit already), ``grace`` seconds, then SIGKILL for the rest."""
    procs = [p for p in procs if p.is_alive()]
    if terminate_first:
        for p in procs:
            p.terminate()
    deadline = time.monotonic() + grace
    while procs and time.monotonic() < deadline:
        multiprocessing.connection.wait([p.sentinel for p in procs], timeout=deadline - time.monotonic())
        procs = [p for p in procs if p.is_alive()]
    for p in procs:
        log.warning("process %s did not end within %g s: killed", p.pid, grace)
        p.kill()
    for p in procs:
        p.join()


_forker: int | None = None  # in a sweep process: the pid of the process forking right now


def _forking() -> None:
    global _forker
    _forker = os.getpid()


def _sweep_worker_forked() -> None:
    """In each worker a sweep process forks (``run_sweep`` with jobs > 1): it dies with the
    sweep process, and leaves Ctrl+C to the server (a worker interrupted on its own would break
    the pool and fail the sweep). A SIGTERM to the whole group reaches the sweep process too,
    whose handler runs before it could see the broken pool."""
    _die_with_parent(_forker)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _sweep_stop(signum: int, frame) -> None:
    """SIGTERM in a sweep process: end its workers and wait for them, then exit by the signal.
    Every finished point is in the journal already; the job stays running, so it resumes."""
    children = multiprocessing.active_children()
    for p in children:
        p.kill()  # a point half solved is solved again on resume
    for p in children:
        p.join(GRACE)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _run_job(root: str, job: str, workers: int, parent: int | None = None) -> None:
    """One sweep job, in its own process: resume from the journal, write the result file."""
    from ..analysis.sweeps import run_sweep

    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the server's to handle: it ends this process in order
    signal.signal(signal.SIGTERM, _sweep_stop)
    os.register_at_fork(before=_forking, after_in_child=_sweep_worker_forked)
    store = JobStore(Path(root))
    rec = store.get(job)
    req = json.loads(rec["request"])
    spec, base = SweepSpec.model_validate(req["spec"]), req["base"]
    try:
        run_sweep(spec, base, store.output(job), jobs=workers, resume=True)
    except Exception as exc:  # a failed job is a state, never a dead server (POST .../resume runs it again)
        message = f"{type(exc).__name__}: {exc}".replace(str(store.root.resolve()) + os.sep, "").replace(str(store.root) + os.sep, "")
        store.set(job, "failed", message)  # files named relative to the data directory
        return
    store.set(job, "done")


class Jobs:
    """Starts queued jobs in their own processes (at most ``max_jobs``), resumes unfinished
    ones after a restart, and cancels on request."""

    def __init__(self, store: JobStore, limits: Limits):
        self.store, self.limits = store, limits
        self.procs: dict[str, multiprocessing.Process] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.problems: list[str] = []  # what the last tick could not do (empty: healthy)
        self._next_expiry = 0.0  # monotonic time of the next retention pass
        for job in store.ids("running"):  # the server died under them: they resume
            store.set(job, "queued")
        self.thread = threading.Thread(target=self._loop, daemon=True, name="sweep-jobs")
        self.thread.start()

    def _loop(self) -> None:
        # This thread starts the job processes, so the kernel kills them when it ends
        # (PR_SET_PDEATHSIG follows the thread): it ends them itself, in order, before it ends.
        try:
            while not self.stop.is_set():
                try:
                    self.tick()
                    self.problems = []
                except Exception as exc:  # a full disk or a database hiccup must not end the thread, and with it
                    # every job: reported by /healthz, retried on the next tick (nothing is forgotten meanwhile)
                    if not self.problems:
                        log.exception("sweep jobs: tick failed; retrying")
                    self.problems = [f"sweep scheduler: {type(exc).__name__}: {exc}; retrying"]
                self.stop.wait(0.2)
        finally:
            self._end_all()

    def tick(self) -> None:
        with self.lock:
            for job, proc in list(self.procs.items()):
                if not proc.is_alive():
                    proc.join()
                    # the process is forgotten only once its end is recorded: a write that fails
                    # (disk full) is tried again on the next tick, never leaving the job running forever
                    rec = self.store.get(job)
                    if rec and rec["state"] == "running":
                        out = self.store.output(job)
                        if out.exists() and not journal_path(out).exists():  # finished; its own last write failed
                            self.store.set(job, "done")
                        elif proc.exitcode == -signal.SIGTERM:  # stopped from outside (a service manager's stop): resumes
                            self.store.set(job, "queued", "interrupted; resumed from its journal")
                        else:  # died without saying why
                            self.store.set(job, "failed", f"the sweep process exited with code {proc.exitcode}")
                    del self.procs[job]
            if time.monotonic() >= self._next_expiry:  # the retention rule, once a minute
                self.store.expire(self.limits.keep_jobs_days, self.limits.keep_jobs)
                self._next_expiry = time.monotonic() + 60.0
            for job in self.store.ids("queued"):
                if len(self.procs) >= self.limits.max_jobs:
                    break
                proc = multiprocessing.get_context("spawn").Process(
                    target=_run_job, args=(str(self.store.root), job, self.limits.sweep_workers, os.getpid()), daemon=False)
                self.store.set(job, "running")
                proc.start()
                self.procs[job] = proc

    def cancel(self, job: str) -> None:
        with self.lock:
            proc = self.procs.pop(job, None)
            if proc is not None:
                proc.terminate()
                proc.join()
            self.store.set(job, "cancelled")

    def _end_all(self) -> None:
        """End the running job processes (and so their workers) and wait for them. Their state
        stays running: the next server start queues them again and they resume."""
        with self.lock:
            _end(list(self.procs.values()), GRACE)
            self.procs.clear()

    def close(self) -> None:
        """Stop starting jobs; running ones stop with the server and resume at its next start."""
        self.stop.set()
        self.thread.join()
        self._end_all()  # nothing left, unless the thread died before its own clean-up


# --------------------------------------------------------------------------- the app


def create_app(data_dir: str | Path, limits: Limits | None = None, instances: str | Path | None = None) -> FastAPI:
    """The service on ``data_dir``; ``instances``: the folder of instance files offered by name at
    /v1/instances (default: ``default_instances()``)."""
    limits = limits or Limits()
    folder = Path(instances) if instances is not None else default_instances()
    if folder is not None and not folder.is_dir():
        raise StartupError(f"--instances {folder}: not a folder")
    lock = lock_data_dir(Path(data_dir))  # held for the server's life
    try:
        store = JobStore(Path(data_dir))
    except BaseException:
        os.close(lock)
        raise
    state: dict[str, Any] = {"lock": lock}

    from contextlib import asynccontextmanager

    def release() -> None:
        fd = state.pop("lock", None)
        if fd is not None:
            os.close(fd)

    def shutdown() -> None:
        """End every process this server started and wait for them (idempotent: the lifespan's
        end runs it, and ``serve`` again when uvicorn skipped that, on a second Ctrl+C)."""
        jobs, pool = state.pop("jobs", None), state.pop("pool", None)
        steps = [jobs.close if jobs else None, pool.close if pool else None,
                 lambda: _end(multiprocessing.active_children(), GRACE),  # none expected; never an orphan
                 _stop_resource_tracker,  # it waits for every process holding its pipe
                 release]  # last: every process writing to the data directory has ended
        del jobs, pool
        for step in steps:
            try:
                if step is not None:
                    step()
            except Exception:  # one failed step must not leave the others' processes running
                log.exception("shutdown step failed")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state["pool"] = SolvePool(limits)
        state["jobs"] = Jobs(store, limits)
        try:
            yield
        finally:
            await asyncio.to_thread(shutdown)  # it waits for processes: not on the event loop

    app = FastAPI(title="optimizer", version="1", lifespan=lifespan, separate_input_output_schemas=False,  # a Solution is also a request body (/v1/report)
                  responses={400: {"model": ErrorBody}, 422: {"model": ErrorBody}, 500: {"model": ErrorBody}, 503: {"model": ErrorBody}},
                  description="The hardware-mix planner for AI factories, over HTTP. Instances are JSON bodies "
                              "with the fields of the instance files (GET /v1/schema).")
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    app.state.shutdown = shutdown
    errors = {s: {"model": ErrorBody} for s in (413, 422, 429)}

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError):
        return _error(exc.status, exc.detail, exc.issues)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        if any(e.get("type") == "too_many_points" for e in exc.errors()):  # a size limit, as the others: 413
            return _error(413, "sweep too large", _request_issues(exc))
        return _error(422, "invalid request", _request_issues(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code != 405:
            return await http_exception_handler(request, exc)
        # Allow lists every method of the path: Starlette names only the first route that matched
        # it, so GET and DELETE on /v1/sweeps/{job} would say "Allow: GET"
        methods = {m for r in app.router.routes if r.matches(request.scope)[0] != Match.NONE for m in getattr(r, "methods", None) or ()}
        return JSONResponse({"detail": exc.detail}, status_code=405, headers={**(exc.headers or {}), "Allow": ", ".join(sorted(methods))})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):  # never a traceback to the client
        return _error(500, f"internal error: {type(exc).__name__}")

    @app.get("/healthz", responses={503: {"description": "degraded: what is broken"}})
    def healthz():
        """``{"status": "ok"}``, or 503 ``{"status": "degraded", "problems": [...]}`` while the job
        scheduler cannot write its database or the data directory's disk is (nearly) full."""
        jobs = state.get("jobs")
        problems = list(jobs.problems) if jobs else []
        try:
            free = shutil.disk_usage(store.root).free
            if free < MIN_FREE_BYTES:
                problems.append(f"data directory: only {free / 1e6:.1f} MB free")
        except OSError as exc:
            problems.append(f"data directory: {os.strerror(exc.errno) if exc.errno else type(exc).__name__}")
        if problems:
            return JSONResponse(status_code=503, content={"status": "degraded", "problems": problems})
        return {"status": "ok"}

    @app.get("/v1/schema")
    def schema() -> dict[str, Any]:
        """The JSON Schema of an instance (the same as ``optimizer schema``)."""
        return json_schema()

    @app.post("/v1/validate", response_model=ValidateResult, responses={413: {"model": ErrorBody}})
    def validate(instance: Annotated[dict[str, Any], Body(description="an instance, as JSON")]) -> ValidateResult:
        """Validate an instance: every broken rule with its field path (200 either way)."""
        try:
            inst = parse_instance(instance, "request")
        except InputError as exc:
            return ValidateResult(valid=False, errors=_problems(exc.issues))
        _check_size(inst, limits)
        return ValidateResult(valid=True, errors=[])

    @app.post("/v1/solve", response_model=Solution, responses=errors)
    async def solve(req: SolveRequest, request: Request):
        """Solve an instance: the same solution JSON as ``optimizer solve --json``; a stochastic one
        (``uncertainty``, MODEL.md section 13) with its futures, and unless ``regret`` is false
        its regret table, EVPI and VSS."""
        _checked(req.instance, limits)
        if req.time_limit is not None and req.time_limit > limits.max_time_limit:
            raise ServiceError(422, f"time_limit {req.time_limit:g} s exceeds this server's cap of {limits.max_time_limit:g} s",
                               [Issue("time_limit", f"must be <= {limits.max_time_limit:g}")])
        text = await state["pool"].solve(req, request.is_disconnected)
        return JSONResponse(content=json.loads(text))

    def plan_args(req: PlanRequest, task: str) -> tuple:
        _checked(req.instance, limits)
        issues = req.fits()
        if issues:
            raise ServiceError(422, "the solution is not a plan of this instance", issues)
        return (task, req.instance.model_dump(mode="json", by_alias=True), req.solution.model_dump(mode="json"))

    plan_errors = {**errors, 504: {"model": ErrorBody}}

    @app.post("/v1/explain", response_model=Explanation, responses=plan_errors)
    async def explain(req: PlanRequest, request: Request):
        """Why the plan is what it is: each site limit's use, and for every system the plan left
        out what forcing one replica in would cost and how much faster or cheaper it would have
        to be (``optimizer explain``; a few solves per system left out, so it runs as a solve
        does, stopped after ``EXPLAIN_DEADLINE`` solve time limits). One-period plans only."""
        if req.instance.horizon is not None:
            raise ServiceError(422, "explain reads one-period plans; a multi-year plan explains itself through its "
                                    "periods and refresh events", [Issue("instance.horizon", "must be absent")])
        if req.instance.uncertainty is not None:
            raise ServiceError(422, "explain reads the plan of one future; a stochastic plan explains itself through its "
                                    "futures and regret table", [Issue("instance.uncertainty", "must be absent")])
        args = plan_args(req, "explain")
        if not req.solution.has_plan:
            return Explanation(limits=[], not_chosen=[])
        text = await state["pool"].run(args, request.is_disconnected, EXPLAIN_DEADLINE * limits.max_time_limit)
        return JSONResponse(content=json.loads(text))

    @app.post("/v1/report", responses={**plan_errors, 200: {"content": {"text/html": {"schema": {"type": "string"}}},
                                                            "description": "the HTML report"}})
    async def report(req: PlanRequest, request: Request):
        """The HTML report of a solved plan (``optimizer report``), as a download; a one-period
        plan's report includes why each system left out was left out (as ``/v1/explain``)."""
        args = plan_args(req, "report")
        text = await state["pool"].run(args, request.is_disconnected, EXPLAIN_DEADLINE * limits.max_time_limit)
        return HTMLResponse(text, headers={"Content-Disposition": f'attachment; filename="{_filename(req.instance.name)}.html"'})

    @app.get("/v1/instances", response_model=list[ShippedInstance])
    def instances() -> list[ShippedInstance]:
        """The instances shipped with the optimizer (none when it is installed without them)."""
        return [ShippedInstance(name=name, title=_title(path)) for name, path in shipped_instances(folder).items()]

    @app.get("/v1/instances/{name}", response_model=InstanceText, responses={404: {"model": ErrorBody}})
    def instance_text(name: str) -> InstanceText:
        """A shipped instance's file, as its text; by name only (a name the listing has)."""
        path = shipped_instances(folder).get(name)
        if path is None:
            raise ServiceError(404, f"no shipped instance {name!r}")
        return InstanceText(name=name, text=path.read_text(encoding="utf-8", errors="replace"))  # the page shows what does not parse

    webpage.mount(app)

    @app.post("/v1/sweeps", response_model=JobStatus, status_code=202, responses=errors)
    def create_sweep(req: SweepRequest) -> JobStatus:
        """Start a sweep job; returns its id at once."""
        _checked(req.instance, limits)
        if count_points(req) > limits.max_sweep_points:  # before anything builds the points
            raise ServiceError(413, f"sweep too large: {count_points(req):,} points > {limits.max_sweep_points:,}")
        try:
            spec = req.spec(limits.max_time_limit)
        except ValidationError as err:
            raise ServiceError(422, "invalid sweep", [Issue(format_loc(e["loc"]), e["msg"]) for e in err.errors()]) from None
        base = req.instance.model_dump(mode="json", by_alias=True)  # as a file spells it: a scenario's overrides are its set
        issues = check_paths(spec, base)
        if issues:
            raise ServiceError(422, "invalid sweep", issues)
        count = count_points(spec)
        if count > limits.max_sweep_points:
            raise ServiceError(413, f"sweep too large: {count:,} points > {limits.max_sweep_points:,}")
        waiting = len(store.ids("queued"))
        if waiting >= limits.max_queued_jobs:
            raise ServiceError(429, f"too many sweeps waiting: {waiting} queued (at most {limits.max_queued_jobs}); retry later")
        job = store.add({"spec": spec.model_dump(mode="json"), "base": base}, count)
        return _status(store, job)

    @app.get("/v1/sweeps/{job}", response_model=JobStatus, responses={404: {"model": ErrorBody}})
    def sweep_status(job: str) -> JobStatus:
        return _status(store, job)

    @app.get("/v1/sweeps/{job}/results", responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody},
                                                    200: {"content": {"application/vnd.apache.parquet": {}, "text/csv": {}}}})
    def sweep_results(job: str, format: Literal["parquet", "csv"] = "parquet"):
        """The finished sweep's rows: Parquet (default) or CSV."""
        rec = _record(store, job)
        if rec["state"] != "done":
            raise ServiceError(409, f"sweep {job} is {rec['state']}, not done")
        out = store.output(job)
        if format == "csv":
            return FileResponse(store.csv(job), media_type="text/csv", filename=f"{job}.csv")
        return FileResponse(out, media_type="application/vnd.apache.parquet", filename=f"{job}.parquet")

    @app.post("/v1/sweeps/{job}/resume", response_model=JobStatus, responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}})
    def resume_sweep(job: str) -> JobStatus:
        """Queue a failed or cancelled sweep again: it resumes from its journal (the points it
        finished are kept, only the others are solved)."""
        rec = _record(store, job)
        if rec["state"] not in ("failed", "cancelled"):
            raise ServiceError(409, f"sweep {job} is {rec['state']}: only a failed or cancelled sweep can be resumed")
        store.set(job, "queued", "resumed from its journal")
        return _status(store, job)

    @app.delete("/v1/sweeps/{job}", response_model=JobStatus, responses={404: {"model": ErrorBody}})
    def cancel_sweep(job: str) -> JobStatus:
        """Cancel a queued or running sweep (a finished one stays as it is)."""
        rec = _record(store, job)
        if rec["state"] in ("queued", "running"):
            state["jobs"].cancel(job)
        return _status(store, job)

    return app


def default_instances() -> Path | None:
    """The checkout's instances/ when the optimizer runs from one (or an editable install), else
    ./instances, else none."""
    for folder in (INSTANCES, Path.cwd() / "instances"):
        if folder.is_dir():
            return folder
    return None


def shipped_instances(folder: Path | None) -> dict[str, Path]:
    """``folder``'s *.yaml by name (the file's stem): a name is all a client ever sends."""
    return {p.stem: p for p in sorted(folder.glob("*.yaml")) if p.is_file()} if folder is not None else {}


def _title(path: Path) -> str:
    """A shipped file's first comment line (its summary)."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return ""


def _filename(name: str) -> str:
    """A name safe in a Content-Disposition header (ASCII) and on any disk."""
    return "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in name)[:80] or "plan"


def _record(store: JobStore, job: str) -> dict:
    rec = store.get(job)
    if rec is None:
        raise ServiceError(404, f"no sweep {job}")
    return rec


def _status(store: JobStore, job: str) -> JobStatus:
    rec = _record(store, job)
    done = rec["points"] if rec["state"] == "done" else store.done_points(job)
    return JobStatus(id=rec["id"], state=rec["state"], points=rec["points"], done=done, message=rec["message"],
                     created=rec["created"], finished=rec["finished"])


def _stop_resource_tracker(timeout: float = GRACE) -> None:
    """multiprocessing's resource tracker (started with the first spawned process) exits when
    every process holding its pipe has: end it now and wait for it, so that it is never left
    re-parented to init after the server. Call after every child has ended."""
    from multiprocessing import resource_tracker

    tracker = getattr(resource_tracker, "_resource_tracker", None)
    pid = getattr(tracker, "_pid", None)
    if pid is None or not hasattr(tracker, "_stop"):
        return  # not started by this process
    gc.collect()  # semaphores of the closed pools unregister now, not at exit (which would start a new tracker)
    stopper = threading.Thread(target=tracker._stop, daemon=True, name="stop-resource-tracker")
    stopper.start()
    stopper.join(timeout)
    if stopper.is_alive():  # some process still holds its pipe (it ignores SIGTERM and SIGINT)
        log.warning("resource tracker %s did not exit within %g s: killed", pid, timeout)
        os.kill(pid, signal.SIGKILL)
        stopper.join(timeout)


def serve(host: str, port: int, data_dir: str | Path, limits: Limits, instances: str | Path | None = None) -> None:
    """Run the server until SIGTERM or SIGINT. Either way uvicorn runs the lifespan's end,
    which ends every child; after SIGTERM it raises the signal again (the exit status says
    killed by SIGTERM), after SIGINT the server exits 0."""
    import uvicorn

    try:
        app = create_app(data_dir, limits, instances)
    except StartupError as exc:
        print(f"optimizer serve: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=REQUEST_GRACE)
    finally:
        app.state.shutdown()  # a second Ctrl+C makes uvicorn skip the lifespan's end
