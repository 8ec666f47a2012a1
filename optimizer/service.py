"""The optimizer as an HTTP service for planning tools (``optimizer serve``).

FastAPI on uvicorn. Instances come as JSON bodies only (no file paths, no YAML, so no YAML
tags); request and response bodies are the same pydantic models as the files and the CLI's
JSON, so the OpenAPI document is generated from them.

Solves run in a pool of worker processes (``max_solves`` at a time, ``max_queue`` more wait;
beyond that: 429). Sweeps are jobs: each runs in its own process, writes its rows to a journal
as points finish (``sweeps.run_sweep``), and its specification and state live in SQLite under
the data directory, so a restarted server resumes unfinished sweeps from their last finished
point.

Errors are JSON ``{"detail": ..., "errors": [{"path", "rule"}]}`` with a clear status: 413 for
a body or an instance too large, 422 for an invalid instance or option, 429 when the solve
queue is full, 404/409 for unknown or unfinished jobs.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Body, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from .errors import InputError, Issue, format_loc
from .results import Solution
from .scenarios import SweepOptions, SweepSpec, check_paths
from .schema import NUMBER, Fraction, Instance, Objective, check_instance, json_schema, parse_instance


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
    sweep_workers: int = 1  # processes per sweep


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


class SweepRequest(SweepOptions):
    """A sweep file's fields (see optimizer.scenarios) with the base instance inline."""

    instance: Instance

    def spec(self, cap: float) -> SweepSpec:
        fields = self.model_dump(exclude={"instance"})
        fields["time_limit"] = min(self.time_limit or cap, cap)
        return SweepSpec(base="<request>", **fields)


class JobStatus(BaseModel):
    id: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    points: int
    done: int = Field(description="points finished so far")
    message: str = ""
    created: float
    finished: float | None = None


# --------------------------------------------------------------------------- errors


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
        out.append(Issue(format_loc(tuple(loc)), msg))
    return out


# --------------------------------------------------------------------------- limits


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413. A declared length is
    checked up front; a body without one (chunked) is read up to the limit, then replayed."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = _error(413, f"request body exceeds {self.limit:,} bytes")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.limit:
                return await too_big(scope, receive, send)
            return await self.app(scope, receive, send)
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
    size = len(inst.hardware) * len(inst.tiers) * len(inst.facility.halls)
    if size > limits.max_instance_size:
        raise ServiceError(413, f"instance too large: hardware x tiers x halls = {size:,} > {limits.max_instance_size:,}",
                           [Issue("instance", "too many hardware systems, tiers or halls for this server")])


def _checked(inst: Instance, limits: Limits, prefix: str = "instance") -> Instance:
    """Cross-field rules and the size limit; raises ServiceError(422 or 413)."""
    issues = check_instance(inst)
    if issues:
        raise ServiceError(422, "invalid instance", [Issue(f"{prefix}.{i.path}" if i.path else prefix, i.rule) for i in issues])
    _check_size(inst, limits)
    return inst


# --------------------------------------------------------------------------- solves (worker processes)


def _solve_in_worker(instance: dict, objective: str | None, time_limit: float, mip_gap: float | None) -> str:
    from .engine import solve

    sol = solve(instance, objective=objective, time_limit=time_limit, mip_gap=mip_gap, threads=1)
    return sol.model_dump_json()


class SolvePool:
    """At most ``max_solves`` solves run, ``max_queue`` more wait; the rest get 429."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.pool = ProcessPoolExecutor(max_workers=limits.max_solves, mp_context=multiprocessing.get_context("spawn"))
        self.in_flight = 0
        self.lock = threading.Lock()

    async def solve(self, req: SolveRequest) -> str:
        with self.lock:
            if self.in_flight >= self.limits.max_solves + self.limits.max_queue:
                raise ServiceError(429, f"too many solves: {self.in_flight} running or queued; retry later")
            self.in_flight += 1
        try:
            limit = min(req.time_limit or self.limits.max_time_limit, self.limits.max_time_limit)
            doc = req.instance.model_dump(mode="json")
            try:
                fut = self.pool.submit(_solve_in_worker, doc, req.objective.value if req.objective else None, limit, req.mip_gap)
                return await asyncio.wrap_future(fut)
            except BrokenProcessPool:  # a solver process died (killed, out of memory): a fresh pool for the next request
                with self.lock:
                    self.pool.shutdown(wait=False, cancel_futures=True)
                    self.pool = ProcessPoolExecutor(max_workers=self.limits.max_solves, mp_context=multiprocessing.get_context("spawn"))
                raise ServiceError(503, "a solver process died during this solve; retry") from None
        finally:
            with self.lock:
                self.in_flight -= 1

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


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
        with self._conn() as c:
            c.execute("CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, request TEXT NOT NULL, state TEXT NOT NULL, "
                      "points INTEGER NOT NULL, message TEXT NOT NULL DEFAULT '', created REAL NOT NULL, finished REAL)")

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

    def done_points(self, job: str) -> int:
        """Points finished: the journal's rows while the sweep runs, the result file's after."""
        out = self.output(job)
        journal = out.with_name(out.name + ".journal.jsonl")
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
                seen.add(json.loads(line)["point"])
            self._progress[job] = (pos + end, seen)
            return len(seen)


def _die_with_parent() -> None:
    """Linux: this process is killed when the server dies, so a restarted server never finds
    an orphan still writing the journal it resumes."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run_job(root: str, job: str, workers: int) -> None:
    """One sweep job, in its own process: resume from the journal, write the result file."""
    from .sweeps import run_sweep

    _die_with_parent()
    store = JobStore(Path(root))
    rec = store.get(job)
    req = json.loads(rec["request"])
    spec, base = SweepSpec.model_validate(req["spec"]), req["base"]
    try:
        run_sweep(spec, base, store.output(job), jobs=workers, resume=True)
    except Exception as exc:  # a failed job is a state, never a dead server
        store.set(job, "failed", f"{type(exc).__name__}: {exc}")
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
        for job in store.ids("running"):  # the server died under them: they resume
            store.set(job, "queued")
        self.thread = threading.Thread(target=self._loop, daemon=True, name="sweep-jobs")
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.tick()
            self.stop.wait(0.2)

    def tick(self) -> None:
        with self.lock:
            for job, proc in list(self.procs.items()):
                if not proc.is_alive():
                    proc.join()
                    del self.procs[job]
                    rec = self.store.get(job)
                    if rec and rec["state"] == "running":  # died without saying why
                        self.store.set(job, "failed", f"the sweep process exited with code {proc.exitcode}")
            for job in self.store.ids("queued"):
                if len(self.procs) >= self.limits.max_jobs:
                    break
                proc = multiprocessing.get_context("spawn").Process(
                    target=_run_job, args=(str(self.store.root), job, self.limits.sweep_workers), daemon=False)
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

    def close(self) -> None:
        """Stop starting jobs; running ones stop with the server and resume at its next start."""
        self.stop.set()
        self.thread.join()
        with self.lock:
            for proc in self.procs.values():
                proc.terminate()
                proc.join()
            self.procs.clear()


# --------------------------------------------------------------------------- the app


def create_app(data_dir: str | Path, limits: Limits | None = None) -> FastAPI:
    limits = limits or Limits()
    store = JobStore(Path(data_dir))
    state: dict[str, Any] = {}

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state["pool"] = SolvePool(limits)
        state["jobs"] = Jobs(store, limits)
        yield
        state["jobs"].close()
        state["pool"].close()

    app = FastAPI(title="optimizer", version="1", lifespan=lifespan,
                  responses={400: {"model": ErrorBody}, 422: {"model": ErrorBody}, 500: {"model": ErrorBody}, 503: {"model": ErrorBody}},
                  description="The hardware-mix planner for AI factories, over HTTP. Instances are JSON bodies "
                              "with the fields of the instance files (GET /v1/schema).")
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    errors = {s: {"model": ErrorBody} for s in (413, 422, 429)}

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError):
        return _error(exc.status, exc.detail, exc.issues)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
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

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
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
    async def solve(req: SolveRequest):
        """Solve an instance: the same solution JSON as ``optimizer solve --json``."""
        _checked(req.instance, limits)
        if req.time_limit is not None and req.time_limit > limits.max_time_limit:
            raise ServiceError(422, f"time_limit {req.time_limit:g} s exceeds this server's cap of {limits.max_time_limit:g} s",
                               [Issue("time_limit", f"must be <= {limits.max_time_limit:g}")])
        text = await state["pool"].solve(req)
        return JSONResponse(content=json.loads(text))

    @app.post("/v1/sweeps", response_model=JobStatus, status_code=202, responses=errors)
    def create_sweep(req: SweepRequest) -> JobStatus:
        """Start a sweep job; returns its id at once."""
        _checked(req.instance, limits)
        try:
            spec = req.spec(limits.max_time_limit)
        except ValidationError as err:
            raise ServiceError(422, "invalid sweep", [Issue(format_loc(e["loc"]), e["msg"]) for e in err.errors()]) from None
        base = req.instance.model_dump(mode="json")
        issues = check_paths(spec, base)
        if issues:
            raise ServiceError(422, "invalid sweep", issues)
        from .scenarios import points

        count = len(points(spec))
        if count > limits.max_sweep_points:
            raise ServiceError(413, f"sweep too large: {count:,} points > {limits.max_sweep_points:,}")
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
            import pandas as pd

            csv = out.with_suffix(".csv")
            if not csv.exists():
                pd.read_parquet(out).to_csv(csv, index=False)
            return FileResponse(csv, media_type="text/csv", filename=f"{job}.csv")
        return FileResponse(out, media_type="application/vnd.apache.parquet", filename=f"{job}.parquet")

    @app.delete("/v1/sweeps/{job}", response_model=JobStatus, responses={404: {"model": ErrorBody}})
    def cancel_sweep(job: str) -> JobStatus:
        """Cancel a queued or running sweep (a finished one stays as it is)."""
        rec = _record(store, job)
        if rec["state"] in ("queued", "running"):
            state["jobs"].cancel(job)
        return _status(store, job)

    return app


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


def serve(host: str, port: int, data_dir: str | Path, limits: Limits) -> None:
    import uvicorn

    uvicorn.run(create_app(data_dir, limits), host=host, port=port, log_level="info")
