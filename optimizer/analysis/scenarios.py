"""What-if sweeps as data: a base instance, parameters addressed by path, named scenarios.

A sweep file (YAML)::

    base: ../instances/gtc2026-1gw.yaml   # relative to the sweep file
    objective: revenue                     # optional override of the instance's
    mode: grid                             # grid | zip | random | lhs
    samples: 100                           # random and lhs only
    seed: 0
    parameters:
      - path: facility.grid_power_mw
        values: [250, 500, 750, 1000]
      - path: hardware[lpx].capex_usd
        range: {start: 3.0e6, stop: 7.0e6, count: 5}
      - path: tiers[premium].price_usd_per_mtok
        distribution: {kind: uniform, low: 20, high: 60}
    scenarios:
      - {name: cheap-lpx, set: {"hardware[lpx].capex_usd": 3.0e6}}

Paths name list elements by their ``name`` (``hardware[lpx]``) or position (``hardware[0]``)
and dict keys by dots (``constraints.kind_power_share.lpu.min``; missing dicts are created).
A value by year is addressed by its year (``hardware[lpx].capex_usd.2028``). A field that may
vary by slice of the year (MODEL.md section 12.1, ``schema.SLICED``) is set whole (a number, or
``{peak: 900, day: 1000, night: 1000}``) or one slice at a time: ``facility.grid_power_mw.peak``
(see :func:`set_path` for how the other slices keep their values).
Points are every scenario (or the base alone) times every parameter combination; each point is
validated through the instance schema when it is solved, and an invalid one becomes a row with
status ``invalid``, never a silent skip.

The sweep's ``scenarios`` are named what-ifs, each a point of its own. A base instance with
``uncertainty`` (MODEL.md section 13) is one stochastic plan per point instead: a parameter on
the base (``facility.grid_power_mw``) reaches every future of it, since its scenarios are
overrides of the base (except one that overrides that very path), and the futures themselves are
addressed as any field is: ``uncertainty.risk.weight``, ``uncertainty.scenarios[slow].probability``,
a future's whole ``uncertainty.scenarios[slow].set``, or one of its overrides, whose key is a path
itself: ``uncertainty.scenarios[slow].set.tiers[premium].max_tokens_per_s`` (:func:`set_point_path`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from ..errors import InputError, Issue, element_path, format_loc
from ..model.paths import parse_path, set_path  # the sweep's path syntax, shared with scenarios (13.1)
from ..model.schema import NUMBER, Fraction, Objective, read_document

MAX_POINTS = 1_000_000  # a sweep (or one range) asking more is refused before a point is built


def journal_path(output: Path) -> Path:
    """Where a sweep writing ``output`` journals its rows as points finish (``sweeps.run_sweep``);
    here, beside the sweep's definition, so that the service finds it without importing pandas."""
    return output.with_name(output.name + ".journal.jsonl")


def too_many(message: str) -> PydanticCustomError:
    """The error of a sweep too large to build: its own type ("too_many_points"), so that the
    service answers it 413 (too large) like its other size limits, not 422."""
    return PydanticCustomError("too_many_points", "{message}", {"message": message})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Range(_Strict):
    start: Annotated[float, NUMBER]
    stop: Annotated[float, NUMBER]
    step: Annotated[float, Field(gt=0), NUMBER] | None = None
    count: Annotated[int, Field(ge=1), NUMBER] | None = None

    @model_validator(mode="after")
    def _one_of(self):
        if (self.step is None) == (self.count is None):
            raise ValueError("give exactly one of step or count")
        n = self.size()
        if n > MAX_POINTS:
            what = f"count {self.count:,}" if self.count is not None else f"step {self.step:g} from {self.start:g} to {self.stop:g}"
            size = f"{n:,}" if n < 1e15 else (f"about {n:.2g}" if math.isfinite(n) else "too many")
            raise too_many(f"{what} gives {size} values, more than the cap of {MAX_POINTS:,}")
        if self.step is not None and n == 0:
            raise ValueError(f"stop {self.stop:g} is below start {self.start:g}: the range has no values")
        return self

    def size(self) -> float:
        """How many values, counted without listing them (inf when beyond any count)."""
        if self.count is not None:
            return self.count
        spans = (self.stop - self.start) / self.step
        if not math.isfinite(spans):
            return math.inf
        return max(math.floor(spans + 1e-9) + 1, 0)

    def value(self, i: int) -> float:
        if self.count is not None:
            return self.start if self.count == 1 else self.start + (self.stop - self.start) * i / (self.count - 1)
        return self.start + i * self.step

    def values(self) -> list[float]:
        return [self.value(i) for i in range(int(self.size()))]


class Distribution(_Strict):
    kind: Literal["uniform", "normal", "choice"]
    low: Annotated[float, NUMBER] | None = None
    high: Annotated[float, NUMBER] | None = None
    mean: Annotated[float, NUMBER] | None = None
    sd: Annotated[float, Field(gt=0), NUMBER] | None = None
    values: list[Any] | None = None

    @model_validator(mode="after")
    def _fields(self):
        need = {"uniform": ("low", "high"), "normal": ("mean", "sd"), "choice": ("values",)}[self.kind]
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.kind} distribution needs {', '.join(missing)}")
        if self.kind == "uniform" and self.high < self.low:
            raise ValueError("high must be >= low")
        if self.kind == "choice" and not self.values:
            raise ValueError("a choice distribution needs at least one value")
        return self

    def at(self, u: float) -> Any:
        """The value at quantile u in [0, 1)."""
        if self.kind == "uniform":
            return self.low + u * (self.high - self.low)
        if self.kind == "normal":
            return NormalDist(self.mean, self.sd).inv_cdf(min(max(u, 1e-12), 1 - 1e-12))
        return self.values[min(int(u * len(self.values)), len(self.values) - 1)]


class Parameter(_Strict):
    path: Annotated[str, Field(min_length=1)]
    values: list[Any] | None = None
    range: Range | None = None
    distribution: Distribution | None = None

    @model_validator(mode="after")
    def _one_source(self):
        given = [f for f in ("values", "range", "distribution") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of values, range or distribution")
        if self.values is not None and not self.values:
            raise ValueError("values must not be empty")
        return self

    def listed(self) -> list[Any] | None:
        if self.values is not None:
            return list(self.values)
        if self.range is not None:
            return self.range.values()
        return None

    def at(self, u: float) -> Any:
        """The value at quantile u, for random and Latin hypercube sampling."""
        if self.distribution is not None:
            return self.distribution.at(u)
        if self.range is not None:
            if self.range.count is None:
                return self.range.start + u * (self.range.stop - self.range.start)
            return self.range.value(min(int(u * self.range.count), self.range.count - 1))
        vals = self.values
        return vals[min(int(u * len(vals)), len(vals) - 1)]


class Scenario(_Strict):
    name: Annotated[str, Field(min_length=1)]
    set: dict[str, Any] = Field(default_factory=dict)


class SweepOptions(_Strict):
    """Everything a sweep says except where its base instance comes from (a file's ``base``
    path, or the service's inline ``instance``)."""

    objective: Objective | None = None
    mode: Literal["grid", "zip", "random", "lhs"] = "grid"
    samples: Annotated[int, Field(ge=1, le=MAX_POINTS), NUMBER] | None = None
    seed: Annotated[int, NUMBER] = 0
    time_limit: Annotated[float, Field(gt=0), NUMBER] | None = None
    mip_gap: Fraction | None = None
    marginal_values: StrictBool = Field(False, description="each point also re-solved with every site limit moved 1% "
                                        "(section 14; about 2 solves per limit, so off unless asked)")
    regret: StrictBool = Field(False, description="a stochastic point (MODEL.md section 13) also gets its regret table, "
                               "EVPI and VSS: (scenarios + 1) x scenarios more solves, so off unless asked")
    parameters: list[Parameter] = Field(default_factory=list)
    scenarios: list[Scenario] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self):
        if self.mode in ("random", "lhs") and self.samples is None:
            raise ValueError(f"mode {self.mode} needs samples")
        if self.mode in ("grid", "zip"):
            bad = [p.path for p in self.parameters if p.distribution is not None]
            if bad:
                raise ValueError(f"mode {self.mode} needs values or a range, not a distribution ({', '.join(bad)})")
        if self.mode == "zip":
            lengths = {int(_size(p)) for p in self.parameters}
            if len(lengths) > 1:
                raise ValueError(f"mode zip needs parameters of equal length (got {sorted(lengths)})")
        names = [s.name for s in self.scenarios]
        if len(names) != len(set(names)):
            raise ValueError("scenario names must be unique")
        paths = [p.path for p in self.parameters]
        if len(paths) != len(set(paths)):
            raise ValueError("parameter paths must be unique")
        n = count_points(self)
        if n > MAX_POINTS:
            raise too_many(f"the sweep asks for {n:,} points, more than the cap of {MAX_POINTS:,} ({_count_terms(self)})")
        return self


def _size(p: Parameter) -> float:
    return len(p.values) if p.values is not None else (p.range.size() if p.range is not None else 1)


def count_points(spec: SweepOptions) -> int:
    """How many points the sweep has, computed from the sizes alone (nothing is built)."""
    if not spec.parameters:
        combos = 1
    elif spec.mode == "grid":
        combos = math.prod(int(_size(p)) for p in spec.parameters)
    elif spec.mode == "zip":
        combos = min(int(_size(p)) for p in spec.parameters)
    else:
        combos = spec.samples or 0
    return combos * max(len(spec.scenarios), 1)


def _count_terms(spec: SweepOptions) -> str:
    if spec.mode == "grid":
        terms = [f"{int(_size(p)):,} values of {p.path}" for p in spec.parameters]
    elif spec.mode == "zip":
        terms = [f"{int(_size(spec.parameters[0])):,} zipped values"]
    else:
        terms = [f"{spec.samples:,} samples"]
    return " x ".join(terms + [f"{max(len(spec.scenarios), 1)} scenario(s)"])


class SweepSpec(SweepOptions):
    base: Annotated[str, Field(min_length=1)]


@dataclass(frozen=True)
class Point:
    """One what-if: its number, its scenario and the value of every swept parameter."""

    index: int
    scenario: str | None
    values: tuple[tuple[str, Any], ...]

    def overrides(self, spec: SweepSpec) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        if self.scenario is not None:
            out += list(next(s for s in spec.scenarios if s.name == self.scenario).set.items())
        return out + list(self.values)


def points(spec: SweepSpec) -> list[Point]:
    """Every point of the sweep, numbered from 0 in a fixed order."""
    params = spec.parameters
    if not params:
        combos: list[tuple] = [()]
    elif spec.mode == "grid":
        combos = [tuple(c) for c in _product([p.listed() for p in params])]
    elif spec.mode == "zip":
        combos = [tuple(c) for c in zip(*[p.listed() for p in params])]
    else:
        rng = random.Random(spec.seed)
        n = spec.samples
        if spec.mode == "random":
            combos = [tuple(p.at(rng.random()) for p in params) for _ in range(n)]
        else:  # Latin hypercube: one sample per stratum and parameter, strata shuffled
            columns = []
            for p in params:
                strata = [(i + rng.random()) / n for i in range(n)]
                rng.shuffle(strata)
                columns.append([p.at(u) for u in strata])
            combos = [tuple(col[i] for col in columns) for i in range(n)]
    scenarios = [s.name for s in spec.scenarios] or [None]
    out, i = [], 0
    for sc in scenarios:
        for combo in combos:
            out.append(Point(i, sc, tuple(zip([p.path for p in params], combo))))
            i += 1
    return out


def _product(lists):
    if not lists:
        yield ()
        return
    for head in lists[0]:
        for tail in _product(lists[1:]):
            yield (head, *tail)


# --------------------------------------------------------------------------- loading


def load_sweep(path: str | Path) -> tuple[SweepSpec, dict, Path]:
    """Read and validate a sweep file; return the spec, the base instance document and its path."""
    path = Path(path)
    raw = read_document(path)
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as err:
        raise InputError(str(path), [Issue(format_loc(e["loc"], raw), e["msg"]) for e in err.errors()]) from None
    base_path = path.parent / spec.base  # as the user gave the sweep file: relative stays relative
    try:
        base = read_document(base_path)
    except InputError as exc:  # the sweep file's field that named it, and why it cannot be read
        raise InputError(str(path), [Issue("base", f"{base_path}: {i.rule}" if not i.path else f"{base_path}: {i}")
                                     for i in exc.issues]) from None
    issues = check_paths(spec, base)
    if issues:
        raise InputError(str(path), issues)
    return spec, base, base_path


_FUTURE_SET = re.compile(r"uncertainty\.scenarios\[([^\]]+)\]\.set\.(.+)")


def set_point_path(doc: dict, path: str, value: Any) -> None:
    """:func:`~optimizer.model.paths.set_path`, and one override of a future of MODEL.md section 13:
    ``uncertainty.scenarios[NAME].set.PATH`` sets the key ``PATH`` of that scenario's ``set``
    (whose keys are paths themselves, so no step can go into them); its other overrides stay.
    Errors are KeyErrors (ValueErrors for a path that cannot be read) naming the path and the rule."""
    m = _FUTURE_SET.fullmatch(path)
    if m is None:
        set_path(doc, path, value)
        return
    sel, key = m.group(1).strip(), m.group(2)
    parse_path(key)
    unc = doc.get("uncertainty")
    futures = unc.get("scenarios") if isinstance(unc, dict) else None
    if not isinstance(futures, list):
        raise KeyError(f"{path}: the instance has no uncertainty.scenarios (MODEL.md section 13)")
    if sel.isdigit():
        found = [futures[int(sel)]] if int(sel) < len(futures) else []
    else:
        found = [f for f in futures if isinstance(f, dict) and f.get("name") == sel]
    if not found or not isinstance(found[0], dict):
        raise KeyError(f"{path}: no element {'named ' + repr(sel) if not sel.isdigit() else sel} in uncertainty.scenarios")
    future = found[0]
    field = "overrides" if "overrides" in future and "set" not in future else "set"  # the schema's name, or its alias
    overrides = future.get(field) or {}
    if not isinstance(overrides, dict):
        raise KeyError(f"{path}: uncertainty.scenarios[{sel}].{field} is not a mapping of path -> value")
    future[field] = {**overrides, key: value}


def apply(base: dict, overrides: list[tuple[str, Any]]) -> dict:
    """A copy of ``base`` with every (path, value) set, in order (:func:`set_point_path`)."""
    doc = copy.deepcopy(base)
    for path, value in overrides:
        set_point_path(doc, path, value)
    return doc


def check_paths(spec: SweepSpec, base: dict) -> list[Issue]:
    """Every parameter path and scenario key must address a field of the base instance."""
    issues = []
    for i, p in enumerate(spec.parameters):
        try:
            parse_path(p.path)
            set_point_path(copy.deepcopy(base), p.path, None)
        except (ValueError, KeyError) as exc:
            issues.append(Issue(f"parameters[{i}].path", str(exc).strip("'\"")))
    for i, s in enumerate(spec.scenarios):
        for key in s.set:
            try:
                set_point_path(copy.deepcopy(base), key, None)
            except (ValueError, KeyError) as exc:
                issues.append(Issue(f"{element_path('scenarios', i, s.name)}.set.{key}", str(exc).strip("'\"")))
    return issues


def fingerprint(spec: SweepSpec, base: dict) -> str:
    """Identifies a sweep: resuming checks that the spec and the base instance are unchanged."""
    # an option left at its default since before it existed is left out: a journal written then still resumes
    fields = spec.model_dump(mode="json", exclude=set() if spec.regret else {"regret"})
    blob = json.dumps([fields, base], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
