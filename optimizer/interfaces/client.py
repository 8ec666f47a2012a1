"""A Python client of ``optimizer serve``, with the library's ``solve``/``validate``/``sweep``.

    from optimizer.interfaces.client import Client
    c = Client("http://127.0.0.1:8000")
    sol = c.solve("instances/gtc2026-1gw.yaml")          # a Solution, as optimizer.solve returns
    sol = c.solve(stochastic, regret=False)              # its uncertainty, without the regret table
    errors = c.validate({"name": "x"})                   # [] when valid, else [{path, rule}, ...]
    df = c.sweep("sweep.yaml")                           # a DataFrame, when the job is done

Files are read here, on the client: the service takes JSON bodies only.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import httpx

from ..solving.results import Solution


class ServiceError(RuntimeError):
    """The service said no: ``status`` and its JSON ``detail`` and ``errors``."""

    def __init__(self, status: int, body: Any):
        self.status = status
        self.body = body
        detail = body.get("detail") if isinstance(body, dict) else body
        errors = body.get("errors", []) if isinstance(body, dict) else []
        lines = [f"{e['path']}: {e['rule']}" for e in errors]
        super().__init__(f"HTTP {status}: {detail}" + ("".join(f"\n  {ln}" for ln in lines)))


def _document(instance: Any) -> dict:
    from ..model.schema import Instance, read_document

    if isinstance(instance, Instance):
        return instance.model_dump(mode="json", by_alias=True)  # as a file spells it (a scenario's set)
    if isinstance(instance, (str, Path)):
        return read_document(instance)
    return dict(instance)


class Client:
    def __init__(self, base_url: str = "http://127.0.0.1:8000", timeout: float = 600.0):
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def _call(self, method: str, url: str, **kw) -> httpx.Response:
        res = self.http.request(method, url, **kw)
        if res.status_code >= 400:
            try:
                body = res.json()
            except ValueError:
                body = res.text
            raise ServiceError(res.status_code, body)
        return res

    def validate(self, instance: Any) -> list[dict]:
        """Every broken rule as {path, rule}; [] when the instance is valid."""
        return self._call("POST", "/v1/validate", json=_document(instance)).json()["errors"]

    def solve(self, instance: Any, objective: str | None = None, time_limit: float | None = None,
              mip_gap: float | None = None, *, marginal_values: bool | None = None, regret: bool | None = None) -> Solution:
        """The service's solve; an option left as None is the server's default (marginal values and,
        for a stochastic instance, the regret table, EVPI and VSS: on; ``regret=False`` skips them)."""
        body = {"instance": _document(instance), "objective": objective, "time_limit": time_limit, "mip_gap": mip_gap,
                "marginal_values": marginal_values, "regret": regret}
        return Solution.model_validate(self._call("POST", "/v1/solve", json={k: v for k, v in body.items() if v is not None}).json())

    def start_sweep(self, spec: Any, instance: Any = None) -> str:
        """Submit a sweep (a sweep file's path, or its fields as a dict with ``instance``); its id."""
        if isinstance(spec, (str, Path)):
            from ..model.schema import read_document

            path = Path(spec)
            doc = read_document(path)
            base = doc.pop("base")
            doc["instance"] = read_document((path.parent / base) if not Path(base).is_absolute() else base)
        else:
            doc = dict(spec)
            if instance is not None:
                doc["instance"] = _document(instance)
        return self._call("POST", "/v1/sweeps", json=doc).json()["id"]

    def status(self, job: str) -> dict:
        return self._call("GET", f"/v1/sweeps/{job}").json()

    def results(self, job: str):
        import pandas as pd

        return pd.read_parquet(io.BytesIO(self._call("GET", f"/v1/sweeps/{job}/results").content))

    def cancel(self, job: str) -> dict:
        return self._call("DELETE", f"/v1/sweeps/{job}").json()

    def resume(self, job: str) -> dict:
        """Queue a failed or cancelled sweep again; it keeps the points it finished."""
        return self._call("POST", f"/v1/sweeps/{job}/resume").json()

    def sweep(self, spec: Any, instance: Any = None, poll: float = 0.5):
        """Run a sweep on the service and return its rows as a DataFrame."""
        job = self.start_sweep(spec, instance)
        while True:
            st = self.status(job)
            if st["state"] == "done":
                return self.results(job)
            if st["state"] in ("failed", "cancelled"):
                raise ServiceError(409, {"detail": f"sweep {job} {st['state']}: {st['message']}"})
            time.sleep(poll)

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
