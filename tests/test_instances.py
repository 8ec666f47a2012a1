"""The shipped instances: valid, solvable, every number sourced, and the family consistent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import optimizer
from optimizer.model.schema import read_document

INSTANCES = sorted((Path(__file__).resolve().parents[1] / "instances").glob("*.yaml"))
NUMBER = re.compile(r"(?<![\w.\-])[-+]?\d[\d_]*(?:\.\d*)?(?:[eE][-+]?\d+)?(?![\w\-])")
SOURCED = re.compile(r"data\.md|public-figures\.md|assumption|derived|gtc2026-1gw\.yaml", re.I)
# a `source:` field (a sensitivity range's) is the source of the numbers of its item
SOURCE_FIELD = re.compile(r"^\s*-?\s*source:\s*(.*)$")


def split_comment(line: str) -> tuple[str, str]:
    code, _, comment = line.partition("#")
    return code, comment


def unsourced_numbers(text: str) -> list[str]:
    """Lines holding a number with no source: neither an inline comment naming DATA.md, an
    assumption or a derivation, nor such a comment heading the block of lines it belongs to."""
    lines = text.splitlines()
    bad = []
    in_prose = False
    for i, line in enumerate(lines):
        if in_prose and line[:1] == " ":
            continue  # the folded text of `description: >` is prose, not data
        in_prose = line.startswith("description:")
        if in_prose:
            continue
        code, comment = split_comment(line)
        own = SOURCE_FIELD.match(code)
        if own and SOURCED.search(own.group(1)):
            continue  # a source field's figures are its citation, not data
        if not NUMBER.search(code.split(":", 1)[-1] if ":" in code and "{" not in code else code):
            continue
        if SOURCED.search(comment):
            continue
        # walk up through the enclosing blocks to a comment that names a source; a blank line
        # or a top-level key ends the search
        j, covered = i - 1, False
        while j >= 0:
            prev = lines[j]
            pcode, pcomment = split_comment(prev)
            if not prev.strip():
                break
            opens_block = not pcode.strip() or pcode.rstrip().endswith(":")
            if opens_block and SOURCED.search(pcomment):  # a comment line, or a key opening the block
                covered = True
                break
            field = SOURCE_FIELD.match(pcode)
            if field and SOURCED.search(field.group(1)):  # the item's own source field
                covered = True
                break
            if pcode.strip() and not prev[:1].isspace():
                break
            j -= 1
        if not covered:
            bad.append(f"{i + 1}: {line.strip()}")
    return bad


@pytest.mark.parametrize("path", INSTANCES, ids=[p.name for p in INSTANCES])
def test_every_number_has_a_source_or_an_assumption(path):
    assert unsourced_numbers(path.read_text()) == []


@pytest.mark.parametrize("path", INSTANCES, ids=[p.name for p in INSTANCES])
def test_instance_is_valid_and_has_a_plan(path):
    sol = optimizer.solve(path, regret=False)  # a stochastic instance's regret table is test_stochastic's
    assert sol.status == "optimal", sol.message


def test_checker_flags_an_unsourced_number():
    assert unsourced_numbers("facility:\n  grid_power_mw: 1000\n") == ["2: grid_power_mw: 1000"]
    assert unsourced_numbers("facility:\n  grid_power_mw: 1000   # DATA.md 1\n") == []
    assert unsourced_numbers("a:\n  # assumption: why\n  - [1, 2]\n  - [3, 4]\n") == []
    assert unsourced_numbers("# derived: x\na:\n  b: 2\n") == ["3: b: 2"]  # a top-level key ends the search
    # another field's inline comment does not cover its neighbour
    assert unsourced_numbers("a:\n  b: 2  # DATA.md 1\n  c: 3\n") == ["3: c: 3"]
    # a sensitivity range's source field covers its ends, if it names a source
    assert unsourced_numbers('s:\n  - name: x\n    source: "DATA.md 2"\n    low: {a: 1}\n') == []
    assert unsourced_numbers('s:\n  - name: x\n    source: "a guess"\n    low: {a: 1}\n') == ["4: low: {a: 1}"]


FAMILY = ["gtc2026-1gw-blackwell.yaml", "gtc2026-1gw-rubin.yaml", "gtc2026-1gw-rubin-lpx.yaml"]


@pytest.mark.parametrize("name", FAMILY)
def test_keynote_fleets_share_the_reference_data(name):
    """The fleet files differ from gtc2026-1gw.yaml only in their hardware subset, the demand
    (none: the example sells all it makes) and the 25% split."""
    root = INSTANCES[0].parent
    ref, fleet = read_document(root / "gtc2026-1gw.yaml"), read_document(root / name)
    for key in ("facility", "models", "workloads", "network"):
        assert fleet[key] == ref[key], key
    by_name = {h["name"]: h for h in ref["hardware"]}
    for h in fleet["hardware"]:
        assert h == by_name[h["name"]]
    strip = [{k: v for k, v in t.items() if k not in ("min_tokens_per_s", "max_tokens_per_s")} for t in ref["tiers"]]
    assert fleet["tiers"] == strip
    shares = fleet["constraints"]["tier_power_share"]
    assert {t: (s["min"], s["max"]) for t, s in shares.items()} == {
        "free": (0.25, 0.25), "standard": (0.0, 0.0), "pro": (0.25, 0.25), "premium": (0.25, 0.25), "ultra": (0.25, 0.25)
    }


def test_the_uncertain_instance_shares_the_reference_data():
    """gtc2026-1gw-uncertain.yaml is gtc2026-1gw.yaml with an `uncertainty` block and nothing
    else changed (so its sources are the reference's), and its scenarios change only the fast
    tiers' demand, as the README's worked example says."""
    root = INSTANCES[0].parent
    ref, unc = read_document(root / "gtc2026-1gw.yaml"), read_document(root / "gtc2026-1gw-uncertain.yaml")
    block = unc.pop("uncertainty")
    assert unc.pop("name") == "gtc2026-1gw-uncertain"
    ref.pop("name")
    assert unc == ref
    paths = {p for s in block["scenarios"] for p in s.get("set", {})}
    assert paths == {"tiers[pro].max_tokens_per_s", "tiers[premium].max_tokens_per_s"}
    assert abs(sum(s["probability"] for s in block["scenarios"]) - 1.0) < 1e-12


def test_the_year_instance_shares_the_reference_site():
    """gtc2026-1gw-year.yaml is the site, racks and fabric of gtc2026-1gw.yaml sold over a year:
    the same halls, grid, cooling plant, models, curves and network; only what section 12 lets
    change by slice, the racks' idle power and the workloads' cache hits differ."""
    root = INSTANCES[0].parent
    ref, year = read_document(root / "gtc2026-1gw.yaml"), read_document(root / "gtc2026-1gw-year.yaml")
    sliced = ("liquid_cooling_overhead", "air_cooling_overhead", "electricity_usd_per_mwh")
    assert {k: v for k, v in year["facility"].items() if k not in sliced} == \
        {k: v for k, v in ref["facility"].items() if k not in sliced}
    assert year["models"] == ref["models"] and year["network"] == ref["network"]
    by_name = {h["name"]: h for h in ref["hardware"]}
    for h in year["hardware"]:
        assert {k: v for k, v in h.items() if k != "idle_power_fraction"} == by_name[h["name"]]
    assert [{k: v for k, v in w.items() if k != "cached_input_fraction"} for w in year["workloads"]] == ref["workloads"]
    assert sum(s["hours"] for s in year["slices"]) == 8760
    assert {"peak", "day", "night", "weekend"} <= {part for s in year["slices"] for part in s["name"].split("-")}
    assert any(t.get("shiftable") for t in year["tiers"])
    # the slice-mean of each sliced facility value is the reference's figure, within rounding
    hours = {s["name"]: s["hours"] for s in year["slices"]}
    for key, tol in (("liquid_cooling_overhead", 1e-9), ("air_cooling_overhead", 1e-9), ("electricity_usd_per_mwh", 0.2)):
        mean = sum(hours[s] * v for s, v in year["facility"][key].items()) / 8760
        assert abs(mean - ref["facility"][key]) <= tol + 0.01 * ref["facility"][key], (key, mean)
