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
from ..model.schema import NUMBER, SLICED, Facility, Fraction, Objective, Tier, read_document
from ..model.schema import is_year as is_year_key

_STEP = re.compile(r"([^.\[\]]+)|\[([^\]]+)\]")
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


# --------------------------------------------------------------------------- paths


def parse_path(path: str) -> list[str | int]:
    steps: list[str | int] = []
    pos = 0
    for m in _STEP.finditer(path):
        if m.start() != pos and path[pos:m.start()] != ".":
            raise ValueError(f"cannot read path {path!r} at {path[pos:]!r}")
        pos = m.end()
        if m.group(1) is not None:
            steps.append(m.group(1))
        else:
            sel = m.group(2).strip()
            steps.append(int(sel) if sel.isdigit() else f"[{sel}]")
    if pos != len(path) or not steps:
        raise ValueError(f"cannot read path {path!r}")
    return steps


def set_path(doc: dict, path: str, value: Any) -> None:
    """Set ``value`` at ``path`` in an instance document (in place).

    A step into a value by year finds its year whether the document spells it as a number
    (YAML) or as text (JSON). A step past a field that may vary by slice (``SLICED``) sets one
    slice of it, as :func:`_set_slice` says. Errors are KeyErrors naming the path and the rule."""
    steps = parse_path(path)
    node: Any = doc
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        if isinstance(step, str) and step.startswith("["):
            name = step[1:-1]
            if not isinstance(node, list):
                raise KeyError(f"{path}: {_where(steps, i)} is not a list")
            match = [j for j, item in enumerate(node) if isinstance(item, dict) and item.get("name") == name]
            if not match:
                raise KeyError(f"{path}: no element named {name!r} in {_where(steps, i)}")
            key: Any = match[0]
        elif isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                raise KeyError(f"{path}: no element {step} in {_where(steps, i)}")
            key = step
        else:
            if not isinstance(node, dict):
                raise KeyError(f"{path}: {_where(steps, i)} is not a mapping")
            key = _year_key(node, step)
            if not last and _sliced_place(steps[:i]) and key in SLICED[_sliced_place(steps[:i])]:
                _set_slice(doc, path, _where(steps, i + 1), node, key, _sliced_place(steps[:i]), steps[i + 1:], value)
                return
            if not last and node.get(key) is None:
                node[key] = {}
        if last:
            node[key] = value
        else:
            node = node[key]


def _year_key(node: dict, step: str) -> Any:
    """The key of ``node`` that ``step`` names: the document's own spelling of a year (2028 or
    "2028") when ``step`` is one it holds, else ``step``."""
    if step not in node and is_year_key(step):
        return next((k for k in node if is_year_key(k) and int(k) == int(step)), step)
    return step


def _sliced_place(before: list) -> str | None:
    """The place of ``SLICED`` whose fields the steps ``before`` lead to: ``facility`` or one
    element of ``tiers`` (None: elsewhere)."""
    if before == ["facility"]:
        return "facility"
    if len(before) == 2 and before[0] == "tiers" and (isinstance(before[1], int) or str(before[1]).startswith("[")):
        return "tiers"
    return None


def _set_slice(doc: dict, path: str, field: str, holder: dict, key: str, place: str, rest: list, value: Any) -> None:
    """Set one slice (``FIELD.SLICE``), or one year (``FIELD.YEAR``) or one slice of one year
    (``FIELD.YEAR.SLICE``) of a field that may vary by slice: ``field``, which is ``holder[key]``.

    What a planner means by "the peak's grid is 900 MW" is that only the peak changes: a number
    becomes a map by slice holding it in every other slice; a field not given takes its default
    first (a cached-input price, the tier's input price); a value by year gets the slice set in
    every year it lists; a year it does not list starts from the value in force in that year."""
    rest = [s[1:-1] if isinstance(s, str) and s.startswith("[") else s for s in rest]
    if len(rest) > 2 or (len(rest) == 2 and not is_year_key(rest[0])):
        raise KeyError(f"{path}: {field} is addressed as {key}.SLICE, {key}.YEAR or {key}.YEAR.SLICE, not with "
                       f"{len(rest)} steps after it")
    current = _given(path, holder, key, place)
    if not is_year_key(rest[0]):
        if _by_year(current):
            holder[key] = {y: _with_slice(doc, path, field, v, rest[0], value) for y, v in current.items()}
        else:
            holder[key] = _with_slice(doc, path, field, current, rest[0], value)
        return
    year = int(rest[0])
    if not _by_year(current):
        raise KeyError(f"{path}: {field} is not a value by year (it is {_shape(current)}); set the whole field to "
                       "a map by year to change one year")
    ykey = next((k for k in current if int(k) == year), str(year) if all(isinstance(k, str) for k in current) else year)
    if len(rest) == 1:
        current[ykey] = value
    else:
        earlier = [k for k in current if int(k) <= year]
        if not earlier:
            raise KeyError(f"{path}: {field} has no value in {year} or before (its first year is "
                           f"{min(int(k) for k in current)}) to keep in the other slices")
        entry = current[max(earlier, key=int)]
        current[ykey] = _with_slice(doc, path, field, copy.deepcopy(entry), rest[1], value)
    holder[key] = dict(sorted(current.items(), key=lambda kv: int(kv[0])))


def _given(path: str, holder: dict, key: str, place: str) -> Any:
    """The field's value as the document gives it (a copy), or its default where it is absent
    or null; a required field that is absent has nothing to keep in the other slices."""
    if holder.get(key) is not None:
        return copy.deepcopy(holder[key])
    if key == "cached_input_price_usd_per_mtok":  # its default is the tier's input price
        return _given(path, holder, "input_price_usd_per_mtok", place)
    spec = (Facility if place == "facility" else Tier).model_fields[key]
    if spec.is_required():
        raise KeyError(f"{path}: {key} is not given, so it has no value to keep in the other slices; set the whole field")
    return copy.deepcopy(spec.default)


def _by_year(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(is_year_key(k) for k in value)


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        return "a map by slice" if value and not any(is_year_key(k) for k in value) else "a map"
    return "no limit" if value is None else f"the number {value!r}"


def _with_slice(doc: dict, path: str, field: str, current: Any, name: str, value: Any) -> dict:
    """``current`` (a number, null or a map by slice) with slice ``name`` set to ``value``."""
    slices = doc.get("slices")
    names = [s.get("name") for s in slices if isinstance(s, dict)] if isinstance(slices, list) else []
    if not names:
        raise KeyError(f"{path}: the instance has no 'slices', so {field} has no slice {name!r} (MODEL.md section 12.1)")
    if name not in names:
        raise KeyError(f"{path}: {name!r} is not a slice of 'slices' ({', '.join(map(str, names))})")
    if isinstance(current, dict):
        if any(is_year_key(k) for k in current):
            raise KeyError(f"{path}: {field} is neither a number nor a map by slice here (its keys: "
                           f"{', '.join(map(repr, current))}); set the whole field")
        return {**current, name: value}
    return {s: value if s == name else current for s in names}


def _where(steps, i) -> str:
    """The first ``i`` steps of a path, written as a path (``tiers[pro].max_tokens_per_s``)."""
    out = ""
    for s in steps[:i]:
        out += f"[{s}]" if isinstance(s, int) else s if s.startswith("[") else ("." if out else "") + s
    return out or "the document"


def apply(base: dict, overrides: list[tuple[str, Any]]) -> dict:
    doc = copy.deepcopy(base)
    for path, value in overrides:
        set_path(doc, path, value)
    return doc


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


def check_paths(spec: SweepSpec, base: dict) -> list[Issue]:
    """Every parameter path and scenario key must address a field of the base instance."""
    issues = []
    for i, p in enumerate(spec.parameters):
        try:
            parse_path(p.path)
            set_path(copy.deepcopy(base), p.path, None)
        except (ValueError, KeyError) as exc:
            issues.append(Issue(f"parameters[{i}].path", str(exc).strip("'\"")))
    for i, s in enumerate(spec.scenarios):
        for key in s.set:
            try:
                set_path(copy.deepcopy(base), key, None)
            except (ValueError, KeyError) as exc:
                issues.append(Issue(f"{element_path('scenarios', i, s.name)}.set.{key}", str(exc).strip("'\"")))
    return issues


def fingerprint(spec: SweepSpec, base: dict) -> str:
    """Identifies a sweep: resuming checks that the spec and the base instance are unchanged."""
    blob = json.dumps([spec.model_dump(mode="json"), base], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
