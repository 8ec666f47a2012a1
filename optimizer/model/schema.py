"""The instance file, exactly as MODEL.md section 10 describes it.

Layer 1 of the pipeline (schema -> preprocess -> model -> solve -> results). Pydantic checks
types and ranges field by field; :func:`check_instance` then checks, in one pass, what spans
several fields: unique names, references that must resolve, curve shapes, installed racks
against the supply cap, and min <= max pairs. Every message names the field path and the rule;
a path names a list element by index and, when it has one, by name (errors.element_path):
``hardware[2] (gb300-nvl72).rack_power_kw``.
"""

from __future__ import annotations

import copy
import json
import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    PrivateAttr,
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from ..errors import InputError, Issue, element_path, format_loc


# Floats as YAML 1.2 reads them (the package's reader, _Loader), and the decimal ones YAML 1.1
# reads too (PyYAML's yaml.safe_load): 1.1 wants a dot and a signed exponent, so 2.0e8 and 1e9
# are text to it. (1.1's .inf, .nan and 1:30.5 are left out: float() does not read them either.)
YAML12_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_YAML11_FLOAT = re.compile(r"[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?")

# Validation context key: the document is a dict a caller built or loaded itself (perhaps with
# PyYAML), not one this package read from a file, so a number in it as text may be PyYAML's.
PYTHON_DICT = "python_dict"


def _yaml11_text(text: str) -> bool:
    """``text`` is a number to YAML 1.2 but text to YAML 1.1 (PyYAML): 2.0e8, 1e9, 3E5, .5e3."""
    return bool(YAML12_FLOAT.fullmatch(text)) and not _YAML11_FLOAT.fullmatch(text)


def _yaml11_spelling(text: str) -> str:
    """The same number as YAML 1.1 reads it: a dot in the mantissa, a sign on the exponent."""
    mantissa, e, exponent = re.split(r"([eE])", text, maxsplit=1)
    if "." not in mantissa:
        mantissa += ".0"
    if exponent[0] not in "+-":
        exponent = "+" + exponent
    return mantissa + e + exponent


def _number_only(value: Any, info: ValidationInfo) -> Any:
    """Numbers must be numbers: pydantic's lax mode would read ``true`` as 1 and ``"1000"`` as
    1000, so a slip in a file (or a planning tool's request) would silently become a figure.

    Text in a dict a caller passed (validation context ``python_dict``) that YAML 1.2 reads as
    a number and YAML 1.1 does not (``2.0e8``) is most likely PyYAML's reading of an unquoted
    number, not quotes the user wrote: the message says so, and how to load the file."""
    if isinstance(value, bool):
        raise PydanticCustomError("number_type", "Input should be a number, not true/false")
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value  # pydantic's own message: "Input should be a valid number"
        if (info.context or {}).get(PYTHON_DICT) and _yaml11_text(value):
            raise PydanticCustomError(
                "number_yaml11_text",
                "Input should be a number, not text '{text}': PyYAML (YAML 1.1) reads {text} as text; load the file "
                "with optimizer.load_instance(path) (YAML 1.2 numbers), or write {yaml11}",
                {"text": value, "yaml11": _yaml11_spelling(value)},
            )
        raise PydanticCustomError("number_type", "Input should be a number, not text: write {number} without quotes",
                                  {"number": f"{number:.17g}"})
    return value


NUMBER = BeforeValidator(_number_only)

NonNeg = Annotated[float, Field(ge=0), NUMBER]
Positive = Annotated[float, Field(gt=0), NUMBER]
Fraction = Annotated[float, Field(ge=0, le=1), NUMBER]
Name = Annotated[str, Field(min_length=1)]
YearKey = Annotated[str, Field(pattern=r"^\s*\d{4}\s*$")]  # how a year map's keys look in JSON
SliceKey = Annotated[str, Field(min_length=1, json_schema_extra={"not": {"pattern": r"^\s*\d{4}\s*$"}})]  # a slice name: any text but a year


def is_year(key: Any) -> bool:
    """A key of a map by year: a year as a number (YAML) or as text (JSON)."""
    return (isinstance(key, int) and not isinstance(key, bool)) or (isinstance(key, str) and bool(re.fullmatch(r"\s*\d{4}\s*", key)))


def _year(key: Any, slices: bool = False) -> int:
    if is_year(key):
        return int(key)
    also = "" if slices else "; this field may not vary by slice"
    raise PydanticCustomError("by_year", "a value by year needs years as keys (got {key}){also}", {"key": repr(key), "also": also})


def _inner_error(err: ValidationError, year: int | None = None, slice_: str | None = None) -> PydanticCustomError:
    e = err.errors()[0]
    where = "" if year is None else f"year {year}: "
    where += "" if slice_ is None else f"slice {slice_}: "
    return PydanticCustomError(e["type"], where + "{msg}", {"msg": e["msg"]})


def is_year_map(value: Any) -> bool:
    """A validated value by year (section 11.1): a dict whose keys are years (ints)."""
    return isinstance(value, dict) and bool(value) and all(isinstance(k, int) for k in value)


def is_slice_map(value: Any) -> bool:
    """A validated value by slice (section 12.1): a dict whose keys are slice names (text)."""
    return isinstance(value, dict) and bool(value) and all(isinstance(k, str) for k in value)


def by_year(base: Any, nullable: bool = False, slices: bool = False) -> Any:
    """A number that may change over time (MODEL.md section 11.1): a scalar, or a map from year to
    value read as a step function. ``nullable`` lets a year say "no limit from here on" (null).
    ``slices`` (section 12.1): the number may also change by slice of the year, as a map from
    slice name to value, alone or as the value of a year.

    Errors keep the field's path and name the year or slice, e.g. ``year 2027: Input should be >= 0``.
    """
    adapter = TypeAdapter(base, config=ConfigDict(allow_inf_nan=False))

    def scalar(item: Any, context: Any, year: int | None = None, slice_: str | None = None) -> Any:
        if item is None and nullable:
            return None
        try:
            return adapter.validate_python(item, context=context)
        except ValidationError as err:
            raise _inner_error(err, year, slice_) from None

    def slice_map(value: dict, context: Any, year: int | None = None) -> dict:
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key.strip():
                raise PydanticCustomError("by_slice", "a value by slice needs slice names as keys (got {key})", {"key": repr(key)})
            out[key] = scalar(item, context, year, key)
        return out

    def validate(value: Any, info: ValidationInfo) -> Any:
        context = info.context  # e.g. python_dict, for the numbers inside
        if isinstance(value, dict):
            if not value:
                raise PydanticCustomError("by_year", "a value by year needs at least one year" if not slices
                                          else "a value by year or by slice needs at least one entry")
            if slices and not any(is_year(k) for k in value):
                return slice_map(value, context)
            if slices and not all(is_year(k) for k in value):
                raise PydanticCustomError("by_year", "a map mixes years and slice names (keys {keys}): write years outside, "
                                          "slices inside", {"keys": ", ".join(map(repr, value))})
            out = {}
            for key, item in value.items():
                year = _year(key, slices)
                if slices and isinstance(item, dict):
                    if not item:
                        raise PydanticCustomError("by_slice", "year {year}: a value by slice needs at least one slice", {"year": year})
                    if any(is_year(k) for k in item):
                        raise PydanticCustomError("by_slice", "year {year}: a year's value may be a map by slice, not by year", {"year": year})
                    out[year] = slice_map(item, context, year)
                else:
                    out[year] = scalar(item, context, year)
            return dict(sorted(out.items()))
        return scalar(value, context)

    item = base | None if nullable else base
    by_slice = Annotated[dict[SliceKey, item], Field(min_length=1)]
    year_value = item | by_slice if slices else item
    shapes = base | Annotated[dict[YearKey, year_value], Field(min_length=1, json_schema_extra={"additionalProperties": False})]
    if slices:
        shapes = shapes | by_slice
    python = base | dict[int, item | dict[str, item]] | dict[str, item] if slices else base | dict[int, item]
    return Annotated[
        python,
        PlainValidator(validate, json_schema_input_type=shapes),
        PlainSerializer(lambda value: value, return_type=Any),  # as validated: a number, {year: value} or {slice: value}
    ]


def by_slice(base: Any, nullable: bool = False) -> Any:
    """A number that may change by year (with a horizon) and by slice of the year (section 12.1)."""
    return by_year(base, nullable, slices=True)


class Strict(BaseModel):
    """Base: unknown fields are errors (a typo must not silently become a default), no NaN/inf."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)


class Objective(str, Enum):
    revenue = "revenue"
    profit = "profit"
    tokens = "tokens"
    tokens_per_watt = "tokens_per_watt"
    min_cost = "min_cost"


class Kind(str, Enum):
    gpu = "gpu"
    lpu = "lpu"
    cpu = "cpu"
    other = "other"


class Technology(str, Enum):
    pluggable = "pluggable"
    cpo = "cpo"
    lpo = "lpo"
    copper = "copper"


class Hall(Strict):
    name: Name
    rack_slots: by_year(Annotated[int, Field(ge=0, description="rack positions"), NUMBER])
    max_rack_kw: Annotated[float, Field(gt=0, description="kW per rack the hall can feed"), NUMBER]
    liquid_cooling: StrictBool = Field(description="the hall has a liquid loop")


class Facility(Strict):
    grid_power_mw: by_slice(Annotated[float, Field(ge=0, description="MW"), NUMBER])
    distribution_loss_fraction: Fraction = 0.0
    liquid_cooling_mw: by_slice(Annotated[float, Field(ge=0, description="MW of heat"), NUMBER])
    air_cooling_mw: by_slice(Annotated[float, Field(ge=0, description="MW of heat"), NUMBER])
    liquid_cooling_overhead: by_slice(Annotated[float, Field(ge=0, description="MW of cooling power per MW of heat"), NUMBER]) = 0.0
    air_cooling_overhead: by_slice(Annotated[float, Field(ge=0, description="MW of cooling power per MW of heat"), NUMBER]) = 0.0
    electricity_usd_per_mwh: by_slice(NonNeg) = 0.0
    discount_rate: Fraction = 0.08
    capex_budget_usd: by_year(NonNeg, nullable=True) | None = None
    halls: Annotated[list[Hall], Field(min_length=1)]


class Model(Strict):
    name: Name
    kv_bytes_per_token: NonNeg = 0.0


class Workload(Strict):
    name: Name
    model: Name
    input_tokens_per_output_token: NonNeg
    cached_input_fraction: Fraction = Field(0.0, description="share of input tokens served from the prefix cache (no prefill)")


class Tier(Strict):
    name: Name
    workload: Name
    min_interactivity: Annotated[float, Field(ge=0, description="output tokens/s per user"), NUMBER]
    price_usd_per_mtok: by_slice(Annotated[float, Field(ge=0, description="USD per million output tokens"), NUMBER])
    input_price_usd_per_mtok: by_slice(Annotated[float, Field(ge=0, description="USD per million input tokens not served from the prefix cache"), NUMBER]) = 0.0
    cached_input_price_usd_per_mtok: by_slice(Annotated[float, Field(ge=0, description="USD per million input tokens served from the prefix cache (default: the input price)"), NUMBER]) | None = None
    min_tokens_per_s: by_slice(NonNeg) = 0.0
    max_tokens_per_s: by_slice(NonNeg, nullable=True) | None = None
    shiftable: StrictBool = Field(False, description="batch work that may run in any slice: its floor and cap bound the year's mean rate")


CurvePoint = tuple[NonNeg, NonNeg]


class Performance(Strict):
    prefill_tokens_per_s: Annotated[float, Field(ge=0, description="input tokens/s per prefill-only rack"), NUMBER] = 0.0
    aggregated: list[CurvePoint] = Field(default_factory=list, description="[interactivity, output tokens/s per rack]")
    decode: list[CurvePoint] = Field(default_factory=list, description="[interactivity, output tokens/s per rack]")


class Hardware(Strict):
    name: Name
    kind: Kind
    rack_power_kw: Annotated[float, Field(gt=0), NUMBER]
    liquid_cooled_fraction: Fraction
    capex_usd: by_year(NonNeg)
    opex_usd_per_year: by_year(NonNeg) = 0.0
    lifetime_years: Positive = 5.0
    availability: Annotated[float, Field(gt=0, le=1), NUMBER] = 1.0
    idle_power_fraction: Fraction = Field(1.0, description="power of a rack that serves nothing, as a share of rack_power_kw")
    installed_racks: Annotated[int, Field(ge=0), NUMBER] = 0
    lot_racks: Annotated[int, Field(ge=1, description="racks are bought in whole lots of this many (a POD, a scalable unit)"), NUMBER] = 1
    resale_fraction: Fraction = Field(0.0, description="share of a rack's straight-line remaining value returned when it is retired early (horizon)")
    max_racks: by_year(Annotated[int, Field(ge=0), NUMBER], nullable=True) | None = None
    # section 11 (multi-year): need a horizon
    max_new_racks: by_year(Annotated[int, Field(ge=0), NUMBER], nullable=True) | None = Field(None, description="racks bought in one period")
    performance_multiplier: by_year(Positive) = Field(1.0, description="scales every throughput of this hardware")
    available_from: Annotated[int, NUMBER] | None = Field(None, description="first year it may be bought")
    available_until: Annotated[int, NUMBER] | None = Field(None, description="last year it may be bought")
    installed_year: Annotated[int, NUMBER] | None = Field(None, description="purchase year of the installed racks (default: start_year - 1)")
    scale_out_ports: Annotated[int, Field(ge=0, description="endpoint ports per rack"), NUMBER] = 0
    port_gbps: Positive = 800.0
    racks_per_replica: dict[Name, Annotated[float, Field(ge=1), NUMBER]] = Field(default_factory=dict)
    performance: dict[Name, Performance] = Field(default_factory=dict)


class NetworkOption(Strict):
    name: Name
    technology: Technology
    switch_radix: Annotated[int, Field(ge=2, description="switch ports at the endpoint speed"), NUMBER]
    switch_power_w: NonNeg = 0.0
    switch_capex_usd: NonNeg = 0.0
    switch_port_optics_w: NonNeg = 0.0
    switch_port_optics_usd: NonNeg = 0.0
    endpoint_optics_w: NonNeg = 0.0
    endpoint_optics_usd: NonNeg = 0.0
    liquid_cooled_fraction: Fraction = 0.0
    lifetime_years: Positive = 5.0


class Network(Strict):
    max_tiers: Annotated[int, Field(ge=1, le=6), NUMBER] = 3
    kv_transfer_max_utilization: Fraction = 0.5
    options: Annotated[list[NetworkOption], Field(min_length=1)]


class Share(Strict):
    min: Fraction = 0.0
    max: Fraction = 1.0


class Constraints(Strict):
    min_revenue_usd_per_year: by_year(NonNeg, nullable=True) | None = None
    min_tokens_per_joule: by_year(NonNeg, nullable=True) | None = None
    kind_power_share: dict[Kind, Share] = Field(default_factory=dict)
    tier_power_share: dict[Name, Share] = Field(default_factory=dict)


class Horizon(Strict):
    """Section 11.1: periods named by their start year, each a whole number of years."""

    start_year: Annotated[int, Field(ge=1900, le=2200), NUMBER]
    period_years: Annotated[list[Annotated[int, Field(ge=1, le=50), NUMBER]], Field(min_length=1, max_length=100)]
    allow_early_retirement: StrictBool = True

    @property
    def years(self) -> list[int]:
        """Start year of each period."""
        out, y = [], self.start_year
        for length in self.period_years:
            out.append(y)
            y += length
        return out

    @property
    def end_year(self) -> int:
        """The first year after the horizon."""
        return self.start_year + sum(self.period_years)


def _addressable(name: str, what: str, by: str) -> str:
    """A slice's or a scenario's name, which paths and columns address (``by`` says how): not
    blank, and none of the '.', '[' and ']' that paths are made of."""
    if not name.strip():
        raise PydanticCustomError(f"{what}_name", f"a {what} name may not be blank")
    if any(c in name for c in ".[]"):
        raise PydanticCustomError(f"{what}_name", f"a {what} name may not hold '.', '[' or ']': {by}")
    return name


def _scenario_name(name: str) -> str:
    return _addressable(name, "scenario", "reports and sweep columns address a scenario by name (scenario[base].objective)")


def _not_a_year(name: str) -> str:
    _addressable(name, "slice", "sweep and scenario paths address a slice by name (facility.grid_power_mw.peak)")
    if is_year(name):
        raise PydanticCustomError("slice_name", "a slice name may not be a year: maps by year and by slice "
                                  "are told apart by their keys")
    return name


class Slice(Strict):
    """Section 12.1: a representative part of the year and its weight in hours."""

    name: Annotated[str, Field(min_length=1, description="any name but a year",
                               json_schema_extra={"not": {"pattern": r"^\s*\d{4}\s*$"}}), AfterValidator(_not_a_year)]
    hours: Annotated[float, Field(gt=0, le=8760, description="hours per year"), NUMBER]


class ScenarioSpec(Strict):
    """Section 13.1: one future, the base instance with ``set`` overrides addressed by path."""

    name: Annotated[str, Field(min_length=1), AfterValidator(_scenario_name)]
    probability: Annotated[float, Field(gt=0, le=1, description="its weight; the scenarios' sum to 1"), NUMBER]
    # named as the file spells it, so that every dump of an instance reads back as written
    set: dict[str, Any] = Field(default_factory=dict, description="path -> value, the sweep's path syntax "
                                "(tiers[premium].max_tokens_per_s)")


class Risk(Strict):
    """Section 13.2: maximise (1 - weight) E[Z] + weight CVaR_alpha(Z) (for min_cost the upper tail)."""

    alpha: Annotated[float, Field(ge=0, lt=1, description="CVaR level: the mean of the worst (1 - alpha) of outcomes"), NUMBER] = 0.9
    weight: Fraction = 0.0


class Uncertainty(Strict):
    scenarios: Annotated[list[ScenarioSpec], Field(min_length=1)]
    risk: Risk | None = None


def _not_blank(text: str) -> str:
    if not text.strip():
        raise PydanticCustomError("blank", "may not be blank")
    return text


def _some_path(overrides: dict) -> dict:
    if not overrides:
        raise PydanticCustomError("no_paths", "an end needs at least one path -> value (the sweep's path syntax, "
                                  "facility.grid_power_mw)")
    return overrides


class SensitivityRange(Strict):
    """One uncertain input of ``optimizer sensitivity`` (docs/sensitivity.md): the base instance
    with the ``low`` overrides, and with the ``high`` ones, each solved on its own. Paths are the
    sweep's (``hardware[vr-nvl72].performance_multiplier``); several per end move inputs together."""

    name: Annotated[str, Field(min_length=1), AfterValidator(_not_blank)]
    source: Annotated[str, Field(min_length=1, description="where the range comes from"), AfterValidator(_not_blank)]
    low: Annotated[dict[str, Any], Field(description="path -> value at the low end", json_schema_extra={"minProperties": 1}),
                   AfterValidator(_some_path)]
    high: Annotated[dict[str, Any], Field(description="path -> value at the high end", json_schema_extra={"minProperties": 1}),
                    AfterValidator(_some_path)]


class Instance(Strict):
    name: Name
    description: str | None = None
    objective: Objective = Objective.revenue
    horizon: Horizon | None = None
    slices: Annotated[list[Slice], Field(min_length=1)] | None = Field(None, description="representative slices of the year (section 12); their hours sum to 8,760")
    facility: Facility
    models: Annotated[list[Model], Field(min_length=1)]
    workloads: Annotated[list[Workload], Field(min_length=1)]
    tiers: Annotated[list[Tier], Field(min_length=1)]
    hardware: Annotated[list[Hardware], Field(min_length=1)]
    network: Network | None = None
    constraints: Constraints = Field(default_factory=Constraints)
    uncertainty: Uncertainty | None = Field(None, description="scenarios of the future and their weights (section 13): one "
                                            "purchase plan for all of them")
    sensitivity: list[SensitivityRange] | None = Field(None, description="ranges of uncertain inputs for `optimizer "
                                                       "sensitivity` (docs/sensitivity.md); every solve ignores them")
    _scenarios: list | None = PrivateAttr(default=None)  # scenario_instances, once validated


# --------------------------------------------------------------------------- cross-field checks


def _unique(items: list, field: str, issues: list[Issue]) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if item.name in seen:
            issues.append(Issue(f"{element_path(field, i, item.name)}.name", f"name '{item.name}' is not unique (also {field}[{seen[item.name]}])"))
        else:
            seen[item.name] = i


def _check_curve(curve: list[tuple[float, float]], path: str, issues: list[Issue]) -> None:
    for j in range(1, len(curve)):
        if not curve[j][0] > curve[j - 1][0]:
            issues.append(Issue(f"{path}[{j}]", f"interactivity must be strictly increasing ({curve[j][0]:g} after {curve[j - 1][0]:g})"))
        if curve[j][1] > curve[j - 1][1]:
            issues.append(Issue(f"{path}[{j}]", f"throughput must not increase with interactivity ({curve[j][1]:g} after {curve[j - 1][1]:g})"))


def _check_one_period(inst: Instance) -> list[Issue]:
    """The cross-field rules of an instance whose values are plain numbers (v1, or one period)."""
    issues: list[Issue] = []
    _unique(inst.facility.halls, "facility.halls", issues)
    for field in ("models", "workloads", "tiers", "hardware"):
        _unique(getattr(inst, field), field, issues)
    models = {m.name for m in inst.models}
    workloads = {w.name for w in inst.workloads}
    tiers = {t.name for t in inst.tiers}
    for i, w in enumerate(inst.workloads):
        if w.model not in models:
            issues.append(Issue(f"{element_path('workloads', i, w.name)}.model", f"model '{w.model}' is not defined in models"))
    for i, t in enumerate(inst.tiers):
        at = element_path("tiers", i, t.name)
        if t.workload not in workloads:
            issues.append(Issue(f"{at}.workload", f"workload '{t.workload}' is not defined in workloads"))
        lo, hi = by_slice_of(inst, t.min_tokens_per_s), by_slice_of(inst, t.max_tokens_per_s)
        broken = [s for s in lo if hi[s] is not None and lo[s] is not None and hi[s] < lo[s]]
        if broken:
            s0 = broken[0]
            where = "" if not is_slice_map(t.min_tokens_per_s) and not is_slice_map(t.max_tokens_per_s) else f" in slice {', '.join(broken)}"
            issues.append(Issue(f"{at}.max_tokens_per_s", f"must be >= min_tokens_per_s ({hi[s0]:g} < {lo[s0]:g}){where}"))
    for i, h in enumerate(inst.hardware):
        at = element_path("hardware", i, h.name)
        if h.max_racks is not None and h.installed_racks > h.max_racks:
            issues.append(Issue(f"{at}.installed_racks", f"installed racks ({h.installed_racks}) exceed max_racks ({h.max_racks})"))
        for model in h.racks_per_replica:
            if model not in models:
                issues.append(Issue(f"{at}.racks_per_replica.{model}", f"model '{model}' is not defined in models"))
        for wname, perf in h.performance.items():
            base = f"{at}.performance.{wname}"
            if wname not in workloads:
                issues.append(Issue(base, f"workload '{wname}' is not defined in workloads"))
            _check_curve(perf.aggregated, f"{base}.aggregated", issues)
            _check_curve(perf.decode, f"{base}.decode", issues)
    if inst.network is not None:
        _unique(inst.network.options, "network.options", issues)
    c = inst.constraints
    for tier, share in c.tier_power_share.items():
        if tier not in tiers:
            issues.append(Issue(f"constraints.tier_power_share.{tier}", f"tier '{tier}' is not defined in tiers"))
        if share.min > share.max:
            issues.append(Issue(f"constraints.tier_power_share.{tier}", f"min ({share.min:g}) must be <= max ({share.max:g})"))
    for kind, share in c.kind_power_share.items():
        if share.min > share.max:
            issues.append(Issue(f"constraints.kind_power_share.{kind.value}", f"min ({share.min:g}) must be <= max ({share.max:g})"))
    return issues


# --------------------------------------------------------------------------- values over time

# Section 12.1: the fields that may be given by slice of the year, per place in the document.
SLICED = {
    "facility": ("grid_power_mw", "liquid_cooling_mw", "air_cooling_mw", "liquid_cooling_overhead", "air_cooling_overhead",
                 "electricity_usd_per_mwh"),
    "tiers": ("price_usd_per_mtok", "input_price_usd_per_mtok", "cached_input_price_usd_per_mtok", "min_tokens_per_s",
              "max_tokens_per_s"),
}
# Section 11.1: the fields that may be given by year, per place in the document (12.1: every field
# that may vary by slice may also vary by year).
VARYING = {
    "facility": SLICED["facility"] + ("capex_budget_usd",),
    "facility.halls": ("rack_slots",),
    "hardware": ("capex_usd", "opex_usd_per_year", "max_racks", "max_new_racks", "performance_multiplier"),
    "tiers": SLICED["tiers"],
    "constraints": ("min_revenue_usd_per_year", "min_tokens_per_joule"),
}
HORIZON_ONLY = ("max_new_racks", "available_from", "available_until", "installed_year")
IMPLICIT_SLICE = "year"  # the one slice of an instance without `slices` (its names stay unsliced)


def slice_names(inst: "Instance") -> list[str]:
    """The instance's slice names (one implicit slice, IMPLICIT_SLICE, without `slices`)."""
    return [s.name for s in inst.slices] if inst.slices else [IMPLICIT_SLICE]


def by_slice_of(inst: "Instance", value: Any) -> dict[str, Any]:
    """A value whose years are resolved, per slice: a slice map as it is, a scalar in every slice."""
    names = slice_names(inst)
    if is_slice_map(value):
        return {s: value.get(s) for s in names}
    return {s: value for s in names}


def varying_fields(doc: dict, places: dict | None = None):
    """(path, holder, key) of every field of a dumped instance that may change over time (or, with
    ``places=SLICED``, by slice)."""
    for place, fields in (places or VARYING).items():
        head, _, tail = place.partition(".")
        node = doc[head] if not tail else doc[head][tail]
        holders = [(element_path(place, i, item.get("name")), item) for i, item in enumerate(node)] if isinstance(node, list) else [(place, node)]
        for prefix, holder in holders:
            for key in fields:
                yield f"{prefix}.{key}", holder, key


def value_at(value: Any, year: int) -> Any:
    """A step function's value in ``year``: the entry with the greatest year <= ``year`` (a scalar
    or a map by slice is the same in every year)."""
    if not is_year_map(value):
        return value
    years = [y for y in value if y <= year]
    if not years:
        raise ValueError(f"no value given for {year} or before (earliest: {min(value)})")
    return value[max(years)]


def snapshot(inst: Instance, year: int, installed: bool = True) -> Instance:
    """The one-period instance of ``year``: every value by year resolved, no horizon, no
    multi-year fields; ``installed=False`` drops the installed racks (the fleet owns them)."""
    doc = inst.model_dump()
    for _, holder, key in varying_fields(doc):
        holder[key] = value_at(holder[key], year)
    doc["horizon"] = None
    doc["uncertainty"] = None  # a scenario's snapshot is taken of the scenario's own instance
    for h in doc["hardware"]:
        h.update({field: None for field in HORIZON_ONLY})
        if not installed:
            h["installed_racks"] = 0
    return Instance.model_validate(doc)


def installed_year(inst: Instance, h: Hardware) -> int:
    return h.installed_year if h.installed_year is not None else inst.horizon.start_year - 1


def _check_horizon(inst: Instance) -> list[Issue]:
    """Rules of section 11: values by year need a horizon and must cover its first period;
    lifetimes are whole years; availability windows and installed years agree."""
    issues: list[Issue] = []
    hz = inst.horizon
    doc = inst.model_dump()
    if hz is None:
        for path, holder, key in varying_fields(doc):
            if is_year_map(holder[key]):
                issues.append(Issue(path, "a value by year needs a 'horizon' (the periods it is read for)"))
        for i, h in enumerate(inst.hardware):
            for field in HORIZON_ONLY:
                if getattr(h, field) is not None:
                    issues.append(Issue(f"{element_path('hardware', i, h.name)}.{field}", "needs a 'horizon' (multi-year planning, MODEL.md section 11)"))
            if h.resale_fraction > 0:
                issues.append(Issue(f"{element_path('hardware', i, h.name)}.resale_fraction",
                                    "needs a 'horizon': resale is the cash a rack retired early returns (MODEL.md section 14)"))
        return issues
    start, end = hz.start_year, hz.end_year
    for path, holder, key in varying_fields(doc):
        value = holder[key]
        if is_year_map(value) and min(value) > start:
            issues.append(Issue(path, f"the step function does not cover the first period: it starts in {min(value)}, the horizon in {start}"))
    for i, h in enumerate(inst.hardware):
        base = element_path("hardware", i, h.name)
        if h.lifetime_years != int(h.lifetime_years):
            issues.append(Issue(f"{base}.lifetime_years", f"must be a whole number of years with a horizon (got {h.lifetime_years:g})"))
        lo, hi = h.available_from, h.available_until
        if lo is not None and hi is not None and lo > hi:
            issues.append(Issue(f"{base}.available_until", f"must be >= available_from ({hi} < {lo})"))
        if h.installed_year is not None and h.installed_year > start:
            issues.append(Issue(f"{base}.installed_year", f"installed racks must be bought by the first period ({h.installed_year} > {start})"))
        if h.installed_racks > 0:
            bought = installed_year(inst, h)
            if lo is not None and lo > bought:
                span = "the whole horizon" if lo >= end else f"{bought}"
                issues.append(Issue(f"{base}.available_from", f"the window starts in {lo}, after the installed racks were bought ({bought}): it excludes {span} for a hardware with installed racks"))
            if hi is not None and hi < bought:
                issues.append(Issue(f"{base}.available_until", f"the window ends in {hi}, before the installed racks were bought ({bought}); set installed_year"))
    return issues


HOURS_PER_YEAR = 8760.0


def _check_slices(inst: Instance) -> list[Issue]:
    """Rules of section 12.1: slice names unique, hours summing to 8,760; a value by slice needs
    `slices` and names every slice and no other; a shiftable tier's floor and cap do not vary by
    slice."""
    issues: list[Issue] = []
    if inst.slices:
        _unique(inst.slices, "slices", issues)
        total = sum(s.hours for s in inst.slices)
        if abs(total - HOURS_PER_YEAR) > 1e-6:
            issues.append(Issue("slices", f"the slices' hours must sum to 8,760 (one year), within 1e-6 h: they sum to {total:,.6f}"))
    names = [s.name for s in inst.slices] if inst.slices else []
    doc = inst.model_dump()
    for path, holder, key in varying_fields(doc, SLICED):
        value = holder[key]
        maps = [(f" (year {y})", v) for y, v in value.items() if is_slice_map(v)] if is_year_map(value) else [("", value)]
        for when, v in maps:
            if not is_slice_map(v):
                continue
            if not names:
                issues.append(Issue(path, f"a value by slice{when} needs 'slices' (the parts of the year it is read for)"))
                continue
            missing = [s for s in names if s not in v]
            unknown = [s for s in v if s not in names]
            if missing:
                issues.append(Issue(path, f"a value by slice{when} must name every slice: {', '.join(missing)} missing"))
            if unknown:
                issues.append(Issue(path, f"a value by slice{when} names {', '.join(map(repr, unknown))}, not a slice of 'slices' "
                                          f"({', '.join(names)})"))
    for i, t in enumerate(doc["tiers"]):
        if not t["shiftable"]:
            continue
        for key in ("min_tokens_per_s", "max_tokens_per_s"):
            value = t[key]
            inner = list(value.values()) if is_year_map(value) else [value]
            if any(is_slice_map(v) for v in inner):
                issues.append(Issue(f"{element_path('tiers', i, t['name'])}.{key}", "a shiftable tier's floor and cap bound the year's "
                                    "mean rate and may not vary by slice (its prices may)"))
    return issues


# Section 13.1: what a scenario may change, per place of the document: what the allocation reads.
# Everything else (names and lists, slices, horizon, halls, hardware kind, rack power, cooling
# fraction, capex, lifetime, installed racks, supply caps, windows, replica sizes, ports, the
# network, the budget, the discount rate, kind_power_share) defines the capacity decision.
SCENARIO_FIELDS = {
    "tiers": ("price_usd_per_mtok", "input_price_usd_per_mtok", "cached_input_price_usd_per_mtok", "min_tokens_per_s",
              "max_tokens_per_s", "min_interactivity"),
    "workloads": ("input_tokens_per_output_token", "cached_input_fraction"),
    "hardware": ("performance", "performance_multiplier", "availability", "opex_usd_per_year", "idle_power_fraction"),
    "facility": ("grid_power_mw", "liquid_cooling_mw", "air_cooling_mw", "liquid_cooling_overhead", "air_cooling_overhead",
                 "electricity_usd_per_mwh", "distribution_loss_fraction"),
    "constraints": ("min_revenue_usd_per_year", "min_tokens_per_joule", "tier_power_share"),
}


def scenario_field(path: str) -> str | None:
    """The field a scenario path changes (``tiers.max_tokens_per_s``), or None when section 13.1
    does not let a scenario change it (raises ValueError for a path that cannot be read)."""
    from .paths import parse_path

    steps = parse_path(path)
    place = steps[0]
    listed = place in ("tiers", "workloads", "hardware")
    field = steps[2] if listed and len(steps) > 2 else steps[1] if not listed and len(steps) > 1 else None
    if listed and len(steps) > 1 and not (isinstance(steps[1], int) or str(steps[1]).startswith("[")):
        return None
    if isinstance(field, str) and field in SCENARIO_FIELDS.get(place, ()):
        return f"{place}.{field}"
    return None


def _scenario_rule() -> str:
    allowed = "; ".join(f"{place}: {', '.join(fields)}" for place, fields in SCENARIO_FIELDS.items())
    return ("a scenario may not change what defines the capacity decision, which is the same in every future "
            f"(MODEL.md section 13.1); it may change only what the allocation reads ({allowed})")


def scenario_instances(inst: Instance) -> list[tuple[str, float, Instance]]:
    """(name, probability, instance) of each scenario of section 13.1: the base with its ``set``
    overrides, validated (the instance itself, probability 1, without ``uncertainty``). Raises
    :class:`InputError` whose issues name the scenario and the path."""
    if inst._scenarios is not None:
        return inst._scenarios
    if inst.uncertainty is None:
        return [("base", 1.0, inst)]
    issues = _check_uncertainty(inst)
    if issues:
        raise InputError("<instance>", issues)
    return inst._scenarios


def risk_issues(inst: Instance, objective: str) -> list[Issue]:
    """Section 13.2: no CVaR with tokens_per_watt (the instance's objective, or one a solve asks for)."""
    risk = inst.uncertainty.risk if inst.uncertainty is not None else None
    if risk is None or risk.weight <= 0 or objective != Objective.tokens_per_watt.value:
        return []
    return [Issue("uncertainty.risk", "CVaR is not defined for tokens_per_watt, a ratio of expectations (MODEL.md "
                  "section 13.2): set weight 0, drop risk, or choose another objective")]


def _check_uncertainty(inst: Instance) -> list[Issue]:
    """Section 13.1: unique names, probabilities summing to 1 within 1e-9, every path one a scenario
    may change, every overridden instance valid (with the scenario and the path named); no CVaR
    with tokens_per_watt. Keeps the scenarios' instances on ``inst`` for ``scenario_instances``."""
    unc = inst.uncertainty
    issues: list[Issue] = []
    _unique(unc.scenarios, "uncertainty.scenarios", issues)
    total = sum(s.probability for s in unc.scenarios)
    if abs(total - 1.0) > 1e-9:
        issues.append(Issue("uncertainty.scenarios", f"the scenarios' probabilities must sum to 1 within 1e-9: they sum to {total:.12g}"))
    issues += risk_issues(inst, inst.objective.value)
    base = inst.model_dump(exclude={"uncertainty", "sensitivity"})
    kept = []
    for i, spec in enumerate(unc.scenarios):
        where = element_path("uncertainty.scenarios", i, spec.name)
        one = overridden(base, spec.set, f"{where}.set", "scenario", f"scenario {spec.name}", issues,
                         rule=lambda path: None if scenario_field(path) else _scenario_rule())
        if one is None:
            continue
        for j, (h, h2) in enumerate(zip(inst.hardware, one.hardware)):
            if set(h.performance) != set(h2.performance):
                issues.append(Issue(f"{where}.set", f"hardware '{h.name}' has performance entries for {sorted(h2.performance)} "
                                    f"in this scenario against {sorted(h.performance)} in the base: a scenario may change a curve "
                                    "the base gives, not add or remove one (which hardware hosts which model is part of the "
                                    "capacity decision, MODEL.md section 13.1)"))
        kept.append((spec.name, spec.probability, one))
    if not issues:
        inst._scenarios = kept
    return issues


def _applied(base: dict, overrides: dict[str, Any], at: str, issues: list[Issue], rule=None) -> dict | None:
    """A copy of ``base`` (an instance document) with every ``path -> value`` of ``overrides``
    set (``paths.set_path``), or None with each path that cannot be set appended to ``issues`` at
    ``AT[PATH]``. ``rule(path)``, when given, is the text of a rule a path breaks (None: allowed)."""
    from .paths import set_path

    doc = copy.deepcopy(base)
    broken = False
    for path, value in overrides.items():
        try:
            problem = rule(path) if rule is not None else None
            if problem is None:
                set_path(doc, path, value)
        except (KeyError, ValueError) as exc:
            problem = str(exc.args[0]) if exc.args else str(exc)
        if problem is not None:
            issues.append(Issue(f"{at}[{path}]", problem))
            broken = True
    return None if broken else doc


def overridden(base: dict, overrides: dict[str, Any], at: str, what: str, source: str, issues: list[Issue],
               rule=None) -> Instance | None:
    """``base`` with ``overrides`` set (:func:`_applied`), validated: the instance, or None with
    the broken rules appended to ``issues``, each at ``AT[PATH]`` (``uncertainty.scenarios[0]
    (slow).set[PATH]``). ``what`` names the instance in the messages (a scenario's, a sensitivity
    end's)."""
    doc = _applied(base, overrides, at, issues, rule)
    if doc is None:
        return None
    try:
        return parse_instance(doc, source)
    except InputError as exc:
        paths = ", ".join(overrides) or "(no overrides)"
        issues += [Issue(f"{at}[{paths}]", f"the {what}'s instance breaks a rule: {x}") for x in exc.issues]
        return None


def sensitivity_base(inst: Instance) -> dict:
    """The base case of ``optimizer sensitivity``: the instance as written without its
    ``uncertainty`` (the deterministic, as-assumed future) and without ``sensitivity``."""
    return inst.model_dump(exclude={"uncertainty", "sensitivity"})


class _Ranges(Strict):
    sensitivity: list[SensitivityRange]


def sensitivity_ranges(data: Any, source: str = "<ranges>") -> list[SensitivityRange]:
    """A list of ranges (the ``sensitivity`` block's shape) validated field by field; errors
    are an :class:`InputError` at ``sensitivity[i] (name).FIELD``."""
    wrapped = {"sensitivity": data}
    try:
        return _Ranges.model_validate(wrapped).sensitivity
    except ValidationError as err:
        raise InputError(source, _pydantic_issues(err, wrapped)) from None


def _end_rule(path: str) -> str | None:
    """What a sensitivity path may not address: the blocks the base case leaves out."""
    from .paths import parse_path

    head = parse_path(path)[0]
    if head in ("uncertainty", "sensitivity"):
        return (f"a sensitivity range may not change '{head}': the base case and every end are solved without the "
                "uncertainty and sensitivity blocks (docs/sensitivity.md)")
    return None


def sensitivity_issues(inst: Instance, ranges: list[SensitivityRange] | None = None, instances: bool = True) -> list[Issue]:
    """The ranges (``ranges``, else the instance's ``sensitivity``): names unique; every path of
    each end applies to the base case (:func:`sensitivity_base`) and, with ``instances``, the
    instance each end gives is valid; each broken rule at ``sensitivity[i] (name).low[PATH]``.

    :func:`check_instance` checks all but the ends' instances (``instances=False``), so that a
    document derived from an instance (a sweep's point, a marginal value's re-solve) neither pays
    for 2N more validations nor breaks on a range's end: no solve reads the block. The ends'
    instances are validated when a file is loaded (:func:`load_instance`) and before
    ``optimizer sensitivity`` solves anything."""
    ranges = inst.sensitivity if ranges is None else ranges
    issues: list[Issue] = []
    _unique(ranges, "sensitivity", issues)
    base = sensitivity_base(inst)
    for i, r in enumerate(ranges):
        where = element_path("sensitivity", i, r.name)
        for end in ("low", "high"):
            at = f"{where}.{end}"
            if instances:
                overridden(base, getattr(r, end), at, f"{end} end", f"sensitivity {r.name} ({end})", issues, rule=_end_rule)
            else:
                _applied(base, getattr(r, end), at, issues, rule=_end_rule)
    return issues


def check_instance(inst: Instance) -> list[Issue]:
    """Every rule that spans fields; returns the broken ones (empty list: valid).

    With a horizon, the one-period rules run on each period's values; a rule broken in some
    periods only names them. Values by slice are checked slice by slice (section 12.1)."""
    issues = _check_slices(inst) + _check_horizon(inst)
    if issues:
        return issues
    issues = _one_future(inst)
    if not issues and inst.uncertainty is not None:
        issues = _check_uncertainty(inst)
    if not issues and inst.sensitivity is not None:
        issues = sensitivity_issues(inst, instances=False)
    return issues


def _one_future(inst: Instance) -> list[Issue]:
    """The one-period rules, per period with a horizon (``check_instance``)."""
    issues: list[Issue] = []
    if inst.horizon is None:
        return _check_one_period(inst)
    years = inst.horizon.years
    broken: dict[tuple[str, str], list[int]] = {}
    for p, year in enumerate(years):
        for issue in _check_one_period(snapshot(inst, year, installed=p == 0)):
            broken.setdefault((issue.path, issue.rule), []).append(year)
    for (path, rule), when in broken.items():
        issues.append(Issue(path, rule if len(when) == len(years) else f"{rule} (in {', '.join(map(str, when))})"))
    return issues


# --------------------------------------------------------------------------- loading


def _pydantic_issues(err: ValidationError, data: Any = None) -> list[Issue]:
    """One issue per pydantic error; ``data``, the document validated, names list elements."""
    out = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = e["msg"]
        is_key = bool(loc) and loc[-1] == "[key]"  # a bad dict key, e.g. kind_power_share.tpu
        loc = loc[:-1] if is_key else loc
        if e["type"] in ("finite_number",):
            msg = "must be a finite number (NaN and infinity are not allowed)"
        elif e["type"] == "extra_forbidden":
            msg = "unknown field (not in the instance schema; check its spelling)"
        elif "input" in e and e["type"] not in ("missing", "number_yaml11_text"):  # that one quotes the text
            msg = f"{msg} (got {e['input']!r})" if not isinstance(e["input"], (dict, list)) else msg
        out.append(Issue(format_loc(loc, data), f"invalid key: {msg}" if is_key else msg))
    return out


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe loader (libyaml's C parser when present: 3.6x faster on a 1 MB instance) that reads
    floats as YAML 1.2 does: ``7.8e6`` and ``1e9`` are numbers, not strings (PyYAML follows
    YAML 1.1, whose floats need a dot and a signed exponent)."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", YAML12_FLOAT, list("-+0123456789."))


MAX_FILE_BYTES = 50_000_000  # an instance or sweep file larger than this is refused unread
MAX_DEPTH = 100  # mappings and lists nested deeper than this (no instance needs 10)
MAX_ALIAS_NODES = 1_000_000  # YAML aliases may stand for at most this many nodes in all (an alias bomb)


def _yaml_shape(text: str, source: str) -> None:
    """Refuse, before building anything, YAML nested deeper than MAX_DEPTH or whose aliases
    expand to more than MAX_ALIAS_NODES nodes: one pass over libyaml's events, counting."""
    sizes: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, depth) of what it names, aliases expanded
    stack: list[list] = []  # open collections: [anchor, nodes, deepest below]
    expanded = 0

    def close(anchor, nodes, depth):
        if anchor:
            sizes[anchor] = (nodes, depth)
        if stack:
            stack[-1][1] += nodes
            stack[-1][2] = max(stack[-1][2], depth)

    for ev in yaml.parse(text, Loader=_Loader):
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            stack.append([ev.anchor, 1, 0])
            if len(stack) > MAX_DEPTH:
                raise InputError(source, [Issue("", f"nested more than {MAX_DEPTH} levels deep (line {ev.start_mark.line + 1})")])
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            anchor, nodes, below = stack.pop()
            close(anchor, nodes, below + 1)
        elif isinstance(ev, yaml.ScalarEvent):
            close(ev.anchor, 1, 0)
        elif isinstance(ev, yaml.AliasEvent):
            nodes, depth = sizes.get(ev.anchor, (1, 0))
            expanded += nodes
            if expanded > MAX_ALIAS_NODES:
                raise InputError(source, [Issue("", f"YAML aliases expand to more than {MAX_ALIAS_NODES:,} nodes (line {ev.start_mark.line + 1}): an alias bomb?")])
            if len(stack) + depth > MAX_DEPTH:
                raise InputError(source, [Issue("", f"nested more than {MAX_DEPTH} levels deep through alias *{ev.anchor} (line {ev.start_mark.line + 1})")])
            close(None, nodes, depth)


def _depth(data: Any) -> int:
    """How deep mappings and lists nest in ``data`` (iteratively: no recursion limit)."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        node, d = todo.pop()
        if isinstance(node, dict):
            node = list(node.values())
        elif not isinstance(node, list):
            continue
        deepest = max(deepest, d)
        if d <= MAX_DEPTH:
            todo.extend((v, d + 1) for v in node)
    return deepest


def read_document(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file into a dict; any failure is an :class:`InputError` naming the file.

    A file above MAX_FILE_BYTES (only that much plus one byte is read: ``/dev/zero`` is refused
    at once), nesting deeper than MAX_DEPTH, and YAML aliases standing for more than
    MAX_ALIAS_NODES nodes are refused."""
    path = Path(path)
    source = str(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(source, [Issue("", "file not found")]) from None
    except OSError as exc:
        raise InputError(source, [Issue("", f"cannot read the file: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(source, [Issue("", f"the file is larger than the cap of {MAX_FILE_BYTES // 1_000_000} MB")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(source, [Issue("", f"cannot read the file: not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    try:
        if path.suffix.lower() == ".json":
            try:
                data = json.loads(text)
            except RecursionError:
                raise InputError(source, [Issue("", f"nested more than {MAX_DEPTH} levels deep")]) from None
        else:
            _yaml_shape(text, source)
            data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except json.JSONDecodeError as exc:
        raise InputError(source, [Issue("", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")]) from None
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(source, [Issue("", f"invalid YAML{where}: {problem}")]) from None
    if _depth(data) > MAX_DEPTH:
        raise InputError(source, [Issue("", f"nested more than {MAX_DEPTH} levels deep")])
    if not isinstance(data, dict):
        raise InputError(source, [Issue("", "the document must be a mapping of fields (name, facility, hardware, ...)")])
    return data


def parse_instance(data: dict[str, Any], source: str = "<dict>", *, python_dict: bool = False) -> Instance:
    """Validate a dict as an instance: field rules, then cross-field rules.

    ``python_dict``: ``data`` is a dict the caller built or loaded itself (say with PyYAML's
    ``yaml.safe_load``), not a document this package read (a file, a JSON request); then a
    number that YAML 1.1 leaves as text (``2.0e8``) is explained as such, not as quotes."""
    if not isinstance(data, dict):
        raise InputError(source, [Issue("", "the instance must be a mapping of fields")])
    try:
        inst = Instance.model_validate(data, context={PYTHON_DICT: python_dict})
    except ValidationError as err:
        raise InputError(source, _pydantic_issues(err, data)) from None
    issues = check_instance(inst)
    if issues:
        raise InputError(source, issues)
    return inst


def load_instance(source: str | Path | dict[str, Any]) -> Instance:
    """Load and validate an instance from a YAML/JSON path or a dict.

    Raises :class:`InputError` listing every broken rule with its field path. A dict is the
    caller's own (``python_dict``): a number in it that PyYAML left as text (``2.0e8``) is
    explained as PyYAML's YAML 1.1 reading. A file's ``sensitivity`` ranges are checked whole,
    their ends' instances included; a dict's all but those (``sensitivity_issues``).
    """
    if isinstance(source, dict):
        return parse_instance(source, python_dict=True)
    inst = parse_instance(read_document(source), str(source))
    if inst.sensitivity is not None:  # a file's ranges: their ends' instances too (sensitivity_issues)
        issues = sensitivity_issues(inst)
        if issues:
            raise InputError(str(source), issues)
    return inst


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the instance file."""
    return Instance.model_json_schema()

