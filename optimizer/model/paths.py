"""Paths into an instance document: ``tiers[premium].max_tokens_per_s``, ``hardware[0].capex_usd.2028``,
``facility.grid_power_mw.peak``. Sweep parameters (``analysis.scenarios``) and the scenarios of
MODEL.md section 13.1 (``schema.Uncertainty``) address what they change this way.

Paths name list elements by their ``name`` (``hardware[lpx]``) or position (``hardware[0]``)
and dict keys by dots (missing dicts are created); a value by year is addressed by its year,
and a field that may vary by slice (``schema.SLICED``) one slice at a time (:func:`set_path`).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from .schema import SLICED, Facility, Tier
from .schema import is_year as is_year_key

_STEP = re.compile(r"([^.\[\]]+)|\[([^\]]+)\]")


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
            named = [j for j, item in enumerate(node) if isinstance(item, dict) and item.get("name") == str(step)] \
                if isinstance(node, list) else []
            if named:  # an element named by digits (a scenario "2030") is found by its name first
                key = named[0]
            elif not isinstance(node, list) or not -len(node) <= step < len(node):
                raise KeyError(f"{path}: no element {step} in {_where(steps, i)}")
            else:
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


