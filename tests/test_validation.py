"""Every validation rule: exit code 2, the file, the field path and the rule in the message, no
traceback. Most cases run the CLI in-process; a few run it as a real subprocess."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

import optimizer
from helpers import gpu, tier, tiny
from optimizer.errors import InputError
from optimizer.interfaces.cli import app

runner = CliRunner()


def valid() -> dict:
    inst = tiny()
    inst["workloads"].append({"name": "code", "model": "m", "input_tokens_per_output_token": 8})
    inst["facility"]["halls"][0]["name"] = "hall-a"
    h = gpu("gb300-nvl72", curve=((10, 10000), (100, 2000)))
    h["performance"]["chat"]["decode"] = [[10, 20000], [50, 9000]]
    inst["hardware"] = [h, gpu("lpx")]
    inst["tiers"] = [tier("t", 10, 1.0), tier("u", 50, 3.0, workload="code")]
    inst["network"] = {"options": [{"name": "o", "technology": "cpo", "switch_radix": 64}]}
    return inst


def setter(path: str, value):
    """A mutation that sets a dotted path (list indexes as integers) to a value."""

    def apply(d):
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value

    return apply


def deleter(path: str):
    def apply(d):
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        for k in keys[:-1]:
            d = d[k]
        del d[keys[-1]]

    return apply


def duplicate(field: str):
    def apply(d):
        container = d["facility"] if field == "halls" else (d["network"] if field == "options" else d)
        container[field].append(copy.deepcopy(container[field][0]))

    return apply


CASES = [
    # (id, mutation, field path, words of the rule)
    ("missing-required", deleter("facility.grid_power_mw"), "facility.grid_power_mw", "Field required"),
    ("missing-name", deleter("name"), "name", "Field required"),
    ("wrong-type", setter("facility.grid_power_mw", "lots"), "facility.grid_power_mw", "valid number"),
    # lax parsing would read these as 1 MW, 1000 MW, 1 slot and "liquid": a slip must not become a figure
    ("bool-as-number", setter("facility.grid_power_mw", True), "facility.grid_power_mw", "a number, not true/false"),
    ("quoted-number", setter("facility.grid_power_mw", "1000"), "facility.grid_power_mw", "not text: write 1000 without quotes"),
    ("bool-as-integer", setter("facility.halls.0.rack_slots", True), "facility.halls[0] (hall-a).rack_slots", "a number, not true/false"),
    ("number-as-bool", setter("facility.halls.0.liquid_cooling", 1), "facility.halls[0] (hall-a).liquid_cooling", "valid boolean"),
    ("negative", setter("facility.grid_power_mw", -1), "facility.grid_power_mw", "greater than or equal to 0"),
    ("fraction-above-1", setter("hardware.0.liquid_cooled_fraction", 1.5), "hardware[0] (gb300-nvl72).liquid_cooled_fraction", "less than or equal to 1"),
    ("loss-fraction", setter("facility.distribution_loss_fraction", 2), "facility.distribution_loss_fraction", "less than or equal to 1"),
    ("availability-zero", setter("hardware.0.availability", 0), "hardware[0] (gb300-nvl72).availability", "greater than 0"),
    ("rack-power-zero", setter("hardware.0.rack_power_kw", 0), "hardware[0] (gb300-nvl72).rack_power_kw", "greater than 0"),
    ("nan", setter("hardware.0.capex_usd", float("nan")), "hardware[0] (gb300-nvl72).capex_usd", "finite number"),
    ("infinity", setter("hardware.1.rack_power_kw", float("inf")), "hardware[1] (lpx).rack_power_kw", "finite number"),
    ("nan-in-curve", setter("hardware.0.performance.chat.aggregated.1", [100, float("nan")]), "hardware[0] (gb300-nvl72).performance.chat.aggregated[1][1]", "finite number"),
    ("unknown-field", setter("hardware.0.rack_power", 3), "hardware[0] (gb300-nvl72).rack_power", "unknown field"),
    ("unknown-top-field", setter("facilty", {}), "facilty", "unknown field"),
    ("bad-kind", setter("hardware.0.kind", "tpu"), "hardware[0] (gb300-nvl72).kind", "'gpu'"),
    ("bad-technology", setter("network.options.0.technology", "laser"), "network.options[0] (o).technology", "'pluggable'"),
    ("bad-objective", setter("objective", "fame"), "objective", "'revenue'"),
    ("no-halls", setter("facility.halls", []), "facility.halls", "at least 1"),
    ("no-hardware", setter("hardware", []), "hardware", "at least 1"),
    ("no-network-options", setter("network", {"options": []}), "network.options", "at least 1"),
    ("installed-not-integer", setter("hardware.0.installed_racks", 2.5), "hardware[0] (gb300-nvl72).installed_racks", "integer"),
    ("slots-negative", setter("facility.halls.0.rack_slots", -3), "facility.halls[0] (hall-a).rack_slots", "greater than or equal to 0"),
    ("curve-point-shape", setter("hardware.0.performance.chat.aggregated.0", [1, 2, 3]), "hardware[0] (gb300-nvl72).performance.chat.aggregated[0]", "at most 2 items"),
    ("replica-racks-below-1", setter("hardware.0.racks_per_replica", {"m": 0.5}), "hardware[0] (gb300-nvl72).racks_per_replica.m", "greater than or equal to 1"),
    ("radix-below-2", setter("network.options.0.switch_radix", 1), "network.options[0] (o).switch_radix", "greater than or equal to 2"),
    ("max-tiers-zero", setter("network.max_tiers", 0), "network.max_tiers", "greater than or equal to 1"),
    ("share-above-1", setter("constraints", {"kind_power_share": {"lpu": {"min": 1.2}}}), "constraints.kind_power_share.lpu.min", "less than or equal to 1"),
    ("bad-kind-key", setter("constraints", {"kind_power_share": {"tpu": {"min": 0.2}}}), "constraints.kind_power_share.tpu", "invalid key"),
    # cross-field rules
    ("duplicate-hardware", duplicate("hardware"), "hardware[2] (gb300-nvl72).name", "not unique"),
    ("duplicate-tier", duplicate("tiers"), "tiers[2] (t).name", "not unique"),
    ("duplicate-model", duplicate("models"), "models[1] (m).name", "not unique"),
    ("duplicate-workload", duplicate("workloads"), "workloads[2] (chat).name", "not unique"),
    ("duplicate-hall", duplicate("halls"), "facility.halls[1] (hall-a).name", "not unique"),
    ("duplicate-option", duplicate("options"), "network.options[1] (o).name", "not unique"),
    ("workload-model-missing", setter("workloads.0.model", "ghost"), "workloads[0] (chat).model", "model 'ghost' is not defined"),
    ("tier-workload-missing", setter("tiers.0.workload", "ghost"), "tiers[0] (t).workload", "workload 'ghost' is not defined"),
    ("performance-workload-missing", setter("hardware.1.performance.ghost", {}), "hardware[1] (lpx).performance.ghost", "workload 'ghost' is not defined"),
    ("replica-model-missing", setter("hardware.0.racks_per_replica", {"ghost": 2}), "hardware[0] (gb300-nvl72).racks_per_replica.ghost", "model 'ghost' is not defined"),
    ("share-tier-missing", setter("constraints", {"tier_power_share": {"ghost": {"min": 0.1}}}), "constraints.tier_power_share.ghost", "tier 'ghost' is not defined"),
    ("interactivity-not-increasing", setter("hardware.0.performance.chat.decode.1", [10, 9000]), "hardware[0] (gb300-nvl72).performance.chat.decode[1]", "strictly increasing"),
    ("throughput-increasing", setter("hardware.0.performance.chat.aggregated.1", [100, 20000]), "hardware[0] (gb300-nvl72).performance.chat.aggregated[1]", "must not increase"),
    ("installed-above-max", lambda d: d["hardware"][0].update(installed_racks=5, max_racks=3), "hardware[0] (gb300-nvl72).installed_racks", "exceed max_racks"),
    ("tier-max-below-min", lambda d: d["tiers"][0].update(min_tokens_per_s=10, max_tokens_per_s=5), "tiers[0] (t).max_tokens_per_s", "must be >= min_tokens_per_s"),
    ("kind-share-min-above-max", setter("constraints", {"kind_power_share": {"gpu": {"min": 0.6, "max": 0.4}}}), "constraints.kind_power_share.gpu", "min (0.6) must be <= max (0.4)"),
    ("tier-share-min-above-max", setter("constraints", {"tier_power_share": {"t": {"min": 0.6, "max": 0.4}}}), "constraints.tier_power_share.t", "min (0.6) must be <= max (0.4)"),
]


def write(tmp_path, data, suffix=".yaml"):
    path = tmp_path / f"instance{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(data))
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_valid_instance_passes(tmp_path):
    path = write(tmp_path, valid())
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    assert "valid" in res.output


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("command", ["validate", "solve"])
def test_rule(tmp_path, case, command):
    assert_case_rejected(tmp_path, command, case, valid())


def assert_case_rejected(tmp_path, command: str, case, data: dict) -> None:
    """One (id, mutate, field, words) case on ``data``, written as YAML and as JSON (which
    writes year keys as strings)."""
    _, mutate, field, words = case
    mutate(data)
    for suffix in (".yaml", ".json"):
        assert_rejected(command, write(tmp_path, data, suffix), field, words)


def assert_rejected(command: str, path, field: str, words: str) -> None:
    """Exit 2, no traceback, and a line naming the file, the field path and the rule."""
    res = runner.invoke(app, [command, str(path)])
    out = res.output
    assert res.exit_code == 2, out
    assert "Traceback" not in out
    line = next((ln for ln in out.splitlines() if f"{path}: {field}:" in ln), None)
    assert line is not None, f"no line names {path}: {field}:\n{out}"
    assert words in line, line


def test_every_error_is_listed(tmp_path):
    """Several broken rules: every one is reported, not only the first."""
    data = valid()
    data["hardware"][0]["availability"] = 0
    data["tiers"][0]["workload"] = "ghost"
    path = write(tmp_path, data)
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2
    assert "hardware[0] (gb300-nvl72).availability" in res.output


@pytest.mark.parametrize(
    "content,suffix,words",
    [
        ("name: [unclosed", ".yaml", "invalid YAML at line"),
        ("{\"name\": ", ".json", "invalid JSON at line"),
        ("- just\n- a list\n", ".yaml", "must be a mapping"),
        ("", ".yaml", "must be a mapping"),
    ],
    ids=["yaml", "json", "list", "empty"],
)
def test_unreadable_documents(tmp_path, content, suffix, words):
    path = tmp_path / f"bad{suffix}"
    path.write_text(content)
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2 and words in res.output and str(path) in res.output and "Traceback" not in res.output


def test_missing_file(tmp_path):
    res = runner.invoke(app, ["solve", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 2 and "file not found" in res.output


def test_json_instances_validate_too(tmp_path):
    data = valid()
    data["hardware"][0]["availability"] = 0
    path = write(tmp_path, data, ".json")
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2 and "hardware[0] (gb300-nvl72).availability" in res.output


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in ("missing-required", "nan", "interactivity-not-increasing")],
                         ids=["missing", "nan", "curve"])
def test_real_process_exit_code_and_no_traceback(tmp_path, case):
    _, mutate, field, words = case
    data = valid()
    mutate(data)
    path = write(tmp_path, data)
    proc = subprocess.run([sys.executable, "-m", "optimizer", "solve", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"{path}: {field}:" in proc.stderr and words in proc.stderr


def test_bad_options_are_usage_errors(tmp_path):
    path = write(tmp_path, valid())
    for args in (["--objective", "fame"], ["--time-limit", "-1"], ["--mip-gap", "2"]):
        res = runner.invoke(app, ["solve", str(path), *args])
        assert res.exit_code == 2, (args, res.output)


# --------------------------------------------------------------------------- multi-year fields (MODEL.md section 11)


def valid_horizon() -> dict:
    inst = valid()
    inst["horizon"] = {"start_year": 2026, "period_years": [1, 2]}
    inst["facility"]["grid_power_mw"] = {2026: 1.0, 2027: 2.0}
    inst["tiers"][0]["price_usd_per_mtok"] = {2026: 1.0, 2028: 0.5}
    inst["hardware"][0]["installed_racks"] = 2
    return inst


def without_horizon(mutate):
    def apply(d):
        mutate(d)
        del d["horizon"]

    return apply


HORIZON_CASES = [
    ("step-misses-first-period", setter("facility.grid_power_mw", {2027: 1.0}), "facility.grid_power_mw", "does not cover the first period"),
    ("step-misses-first-period-named", setter("tiers.0.price_usd_per_mtok", {2027: 1.0}), "tiers[0] (t).price_usd_per_mtok", "does not cover the first period"),
    ("step-negative", setter("tiers.0.price_usd_per_mtok", {2026: 1.0, 2027: -1}), "tiers[0] (t).price_usd_per_mtok", "year 2027: Input should be greater than or equal to 0"),
    ("step-bad-year", setter("hardware.0.capex_usd", {"next year": 5}), "hardware[0] (gb300-nvl72).capex_usd", "years as keys (got 'next year')"),
    ("step-bool-value", setter("hardware.0.capex_usd", {2026: False}), "hardware[0] (gb300-nvl72).capex_usd", "year 2026: Input should be a number, not true/false"),
    ("step-empty", setter("hardware.0.opex_usd_per_year", {}), "hardware[0] (gb300-nvl72).opex_usd_per_year", "at least one year"),
    ("step-slots-not-integer", setter("facility.halls.0.rack_slots", {2026: 2.5}), "facility.halls[0] (hall-a).rack_slots", "year 2026"),
    ("lifetime-not-whole", setter("hardware.0.lifetime_years", 4.5), "hardware[0] (gb300-nvl72).lifetime_years", "whole number"),
    ("window-excludes-horizon", setter("hardware.0.available_from", 2031), "hardware[0] (gb300-nvl72).available_from", "excludes the whole horizon for a hardware with installed racks"),
    ("window-ends-before-install", lambda d: d["hardware"][0].update(available_until=2020), "hardware[0] (gb300-nvl72).available_until", "before the installed racks were bought"),
    ("window-reversed", lambda d: d["hardware"][1].update(available_from=2028, available_until=2027), "hardware[1] (lpx).available_until", "must be >= available_from"),
    ("installed-after-start", setter("hardware.0.installed_year", 2027), "hardware[0] (gb300-nvl72).installed_year", "bought by the first period"),
    ("period-zero-years", setter("horizon.period_years", [1, 0]), "horizon.period_years[1]", "greater than or equal to 1"),
    ("period-fraction", setter("horizon.period_years", [1.5]), "horizon.period_years[0]", "integer"),
    ("no-periods", setter("horizon.period_years", []), "horizon.period_years", "at least 1"),
    ("max-new-negative", setter("hardware.1.max_new_racks", {2026: 3, 2027: -1}), "hardware[1] (lpx).max_new_racks", "year 2027"),
    ("multiplier-zero", setter("hardware.1.performance_multiplier", {2026: 1.0, 2027: 0}), "hardware[1] (lpx).performance_multiplier", "greater than 0"),
    ("cap-below-floor-in-a-year", lambda d: d["tiers"][0].update(min_tokens_per_s=10, max_tokens_per_s={2026: 20, 2027: 5}), "tiers[0] (t).max_tokens_per_s", "must be >= min_tokens_per_s (5 < 10) (in 2027)"),
    ("by-year-without-horizon", without_horizon(lambda d: None), "facility.grid_power_mw", "needs a 'horizon'"),
    ("slots-by-year-without-horizon", without_horizon(setter("facility.halls.0.rack_slots", {2026: 5})), "facility.halls[0] (hall-a).rack_slots", "needs a 'horizon'"),
    ("window-without-horizon", without_horizon(lambda d: d["hardware"][1].update(available_from=2027)), "hardware[1] (lpx).available_from", "needs a 'horizon'"),
    ("max-new-without-horizon", without_horizon(lambda d: d["hardware"][1].update(max_new_racks=3)), "hardware[1] (lpx).max_new_racks", "needs a 'horizon'"),
]


def test_valid_horizon_instance_passes(tmp_path):
    res = runner.invoke(app, ["validate", str(write(tmp_path, valid_horizon()))])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("case", HORIZON_CASES, ids=[c[0] for c in HORIZON_CASES])
@pytest.mark.parametrize("command", ["validate", "solve"])
def test_horizon_rule(tmp_path, case, command):
    assert_case_rejected(tmp_path, command, case, valid_horizon())


# --------------------------------------------------------------------------- paths name list elements


def issues_of(data, **kw) -> list[tuple[str, str]]:
    """(path, rule) of every issue ``load_instance`` (or ``parse_instance`` with ``kw``) raises."""
    import optimizer
    from optimizer.model.schema import parse_instance

    with pytest.raises(optimizer.InputError) as exc:
        parse_instance(data, **kw) if kw else optimizer.load_instance(data)
    return [(i.path, i.rule) for i in exc.value.issues]


def three_systems() -> dict:
    data = valid()
    data["hardware"].append(gpu("gb300-nvl72b"))
    data["hardware"][2]["name"] = "gb300-nvl72"  # the issue's example: hardware[2] (gb300-nvl72)
    data["hardware"][0]["name"] = "h100"
    return data


def test_field_error_in_a_named_element():
    data = three_systems()
    data["hardware"][2]["rack_power_kw"] = 0
    data["facility"]["halls"][0]["rack_slots"] = -1
    assert issues_of(data) == [
        ("facility.halls[0] (hall-a).rack_slots", "Input should be greater than or equal to 0 (got -1)"),
        ("hardware[2] (gb300-nvl72).rack_power_kw", "Input should be greater than 0 (got 0)"),
    ]


def test_cross_field_error_in_a_named_element():
    data = three_systems()
    data["hardware"][2].update(installed_racks=5, max_racks=3)
    data["tiers"][1]["workload"] = "ghost"
    assert issues_of(data) == [
        ("tiers[1] (u).workload", "workload 'ghost' is not defined in workloads"),
        ("hardware[2] (gb300-nvl72).installed_racks", "installed racks (5) exceed max_racks (3)"),
    ]


def test_nested_paths_name_the_element_once():
    data = three_systems()
    data["hardware"][2]["performance"]["chat"]["decode"] = [[60, 2000], [40, 1000]]  # cross-field
    data["hardware"][1]["performance"]["chat"]["decode"] = [[10, 2000], [20, float("nan")]]  # field
    assert issues_of(data) == [
        ("hardware[1] (lpx).performance.chat.decode[1][1]", "must be a finite number (NaN and infinity are not allowed)")]
    data["hardware"][1]["performance"]["chat"]["decode"] = [[10, 2000]]
    assert issues_of(data) == [
        ("hardware[2] (gb300-nvl72).performance.chat.decode[1]", "interactivity must be strictly increasing (40 after 60)")]


def test_the_cli_prints_the_named_path(tmp_path):
    data = three_systems()
    data["hardware"][2]["performance"]["chat"]["decode"] = [[60, 2000], [40, 1000]]
    path = write(tmp_path, data)
    res = runner.invoke(app, ["solve", str(path)])
    assert res.exit_code == 2
    assert (f"{path}: hardware[2] (gb300-nvl72).performance.chat.decode[1]: interactivity must be strictly increasing (40 after 60)"
            in res.output), res.output


@pytest.mark.parametrize("name", [None, 7, "", "   ", "two\nlines", "x" * 81, ["lpx"]],
                         ids=["missing", "number", "empty", "blank", "newline", "too-long", "list"])
def test_an_element_without_a_usable_name_keeps_its_index_alone(name):
    data = valid()
    if name is None:
        del data["hardware"][1]["name"]
    else:
        data["hardware"][1]["name"] = name
    data["hardware"][1]["rack_power_kw"] = 0
    paths = [path for path, _ in issues_of(data)]
    assert "hardware[1].rack_power_kw" in paths, paths
    assert all(not p.startswith("hardware[1] (") for p in paths), paths


def test_an_element_that_is_not_a_mapping():
    data = valid()
    data["hardware"][1] = "lpx"
    data["hardware"][0]["availability"] = 0
    assert issues_of(data) == [
        ("hardware[0] (gb300-nvl72).availability", "Input should be greater than 0 (got 0)"),
        ("hardware[1]", "Input should be a valid dictionary or instance of Hardware (got 'lpx')"),
    ]


def test_duplicate_names_are_told_apart_by_index():
    data = valid()
    data["hardware"][1]["name"] = "gb300-nvl72"
    assert issues_of(data) == [("hardware[1] (gb300-nvl72).name", "name 'gb300-nvl72' is not unique (also hardware[0])")]


def test_format_loc_and_element_path():
    from optimizer.errors import element_path, format_loc

    doc = {"hardware": [{"name": "a"}, {"name": "b", "performance": {"chat": {"decode": [[1, 2], [3, 4]]}}}],
           "facility": {"grid_power_mw": {2026: 1}}}
    assert format_loc(("hardware", 1, "performance", "chat", "decode", 1, 0)) == "hardware[1].performance.chat.decode[1][0]"
    assert format_loc(("hardware", 1, "performance", "chat", "decode", 1, 0), doc) == "hardware[1] (b).performance.chat.decode[1][0]"
    assert format_loc(("hardware", 5, "kind"), doc) == "hardware[5].kind"  # not in the document
    assert format_loc(("facility", "grid_power_mw", 2026), doc) == "facility.grid_power_mw[2026]"  # a key, not an element
    assert element_path("network.options", 0, "ib-cpo") == "network.options[0] (ib-cpo)"
    assert element_path("network.options", 0, None) == element_path("network.options", 0, 3) == "network.options[0]"


def test_sweep_scenarios_are_named_too(tmp_path):
    """Sweep files: the named list is ``scenarios``; the sweep's own ``hardware[lpx]`` syntax is
    left as written."""
    from optimizer.analysis.scenarios import load_sweep

    (tmp_path / "base.yaml").write_text(yaml.safe_dump(valid(), sort_keys=False))
    spec = tmp_path / "sweep.yaml"
    spec.write_text(yaml.safe_dump({"base": "base.yaml", "parameters": [{"path": "facility.grid_power_mw", "values": [1]}],
                                    "scenarios": [{"name": "ok"}, {"name": "bad", "set": {"hardware[nope].capex_usd": 1}}]}))
    with pytest.raises(Exception) as exc:
        load_sweep(spec)
    assert [i.path for i in exc.value.issues] == ["scenarios[1] (bad).set.hardware[nope].capex_usd"]
    spec.write_text(yaml.safe_dump({"base": "base.yaml", "parameters": [{"path": "facility.grid_power_mw", "values": [1]}],
                                    "scenarios": [{"name": "typo", "sett": {}}]}))
    with pytest.raises(Exception) as exc:
        load_sweep(spec)
    assert [i.path for i in exc.value.issues] == ["scenarios[0] (typo).sett"]


# --------------------------------------------------------------------------- numbers PyYAML reads as text

PYYAML_HINT = "PyYAML (YAML 1.1) reads {text} as text; load the file with optimizer.load_instance(path) (YAML 1.2 numbers), or write {spelling}"


@pytest.mark.parametrize("text,spelling", [("2.0e8", "2.0e+8"), ("1e9", "1.0e+9"), ("7.8e6", "7.8e+6"), ("3E5", "3.0E+5"),
                                           (".5e3", ".5e+3"), ("-2e-3", "-2.0e-3"), ("1_000e3", "1_000.0e+3")])
def test_a_pyyaml_dict_says_why_a_number_is_text(text, spelling):
    """The dict of ``yaml.safe_load`` (YAML 1.1) holds these as strings; the package's reader
    (YAML 1.2) reads them as numbers. The message says so instead of "without quotes"."""
    data = valid()
    data["facility"]["grid_power_mw"] = text
    assert issues_of(data) == [("facility.grid_power_mw", f"Input should be a number, not text '{text}': "
                                + PYYAML_HINT.format(text=text, spelling=spelling))]
    assert isinstance(yaml.safe_load(text), str) and isinstance(yaml.safe_load(spelling), float)


def test_the_pyyaml_hint_end_to_end(tmp_path):
    """The user's case: a file with 2.0e8 unquoted, loaded with yaml.safe_load, passed as a dict;
    the same file given by path is valid; the hint's spelling loads with yaml.safe_load."""
    import optimizer

    text = yaml.safe_dump(valid(), sort_keys=False)
    path = tmp_path / "site.yaml"
    path.write_text(text.replace("grid_power_mw: 1.0", "grid_power_mw: 2.0e8"))
    doc = yaml.safe_load(path.read_text())
    assert doc["facility"]["grid_power_mw"] == "2.0e8"
    [(where, rule)] = issues_of(doc)
    assert where == "facility.grid_power_mw" and "PyYAML (YAML 1.1) reads 2.0e8 as text" in rule and "without quotes" not in rule
    assert "(got" not in rule  # the text is in the message already
    assert optimizer.load_instance(path).facility.grid_power_mw == 2.0e8
    path.write_text(text.replace("grid_power_mw: 1.0", "grid_power_mw: 2.0e+8"))
    assert optimizer.load_instance(yaml.safe_load(path.read_text())).facility.grid_power_mw == 2.0e8


def test_the_pyyaml_hint_reaches_nested_and_by_year_fields():
    data = valid_horizon()
    data["facility"]["grid_power_mw"] = {2026: "1e3", 2027: 2.0}
    data["facility"]["halls"][0]["rack_slots"] = "1e2"  # an integer field
    data["hardware"][1]["performance"]["chat"]["aggregated"][0] = [10, "1e4"]
    assert issues_of(data) == [
        ("facility.grid_power_mw", "year 2026: Input should be a number, not text '1e3': " + PYYAML_HINT.format(text="1e3", spelling="1.0e+3")),
        ("facility.halls[0] (hall-a).rack_slots", "Input should be a number, not text '1e2': " + PYYAML_HINT.format(text="1e2", spelling="1.0e+2")),
        ("hardware[1] (lpx).performance.chat.aggregated[0][1]", "Input should be a number, not text '1e4': " + PYYAML_HINT.format(text="1e4", spelling="1.0e+4")),
    ]


@pytest.mark.parametrize("text", ["1000", "2.0e+8", "1.5", " 1e9", "1e9 ", "-.5e3"])
def test_text_yaml_1_1_reads_as_a_number_was_quoted(text):
    """Text that PyYAML would have read as a number (or that no YAML reads as one) was quoted
    by whoever wrote it: the message stays "write ... without quotes"."""
    data = valid()
    data["facility"]["grid_power_mw"] = text
    [(where, rule)] = issues_of(data)
    assert where == "facility.grid_power_mw" and "without quotes" in rule and "PyYAML" not in rule, rule


def test_a_file_that_quotes_the_number_is_told_to_drop_the_quotes(tmp_path):
    """Read by the package (YAML 1.2), "2.0e8" in quotes is text the user quoted."""
    text = yaml.safe_dump(valid(), sort_keys=False).replace("grid_power_mw: 1.0", "grid_power_mw: '2.0e8'")
    for suffix, body in ((".yaml", text), (".json", json.dumps(yaml.safe_load(text)))):
        path = tmp_path / f"quoted{suffix}"
        path.write_text(body)
        assert_rejected("validate", path, "facility.grid_power_mw", "not text: write 200000000 without quotes (got '2.0e8')")


def test_documents_the_package_parsed_are_not_given_the_pyyaml_hint():
    """parse_instance is for documents a YAML 1.2 or JSON parser read (files, requests, sweep
    points): quoted text there was quoted by the user. Only load_instance(dict) gives the hint."""
    data = valid()
    data["facility"]["grid_power_mw"] = "2.0e8"
    assert issues_of(data, source="request") == [
        ("facility.grid_power_mw", "Input should be a number, not text: write 200000000 without quotes (got '2.0e8')")]
    assert "PyYAML" in issues_of(data, source="<dict>", python_dict=True)[0][1]


def test_the_hint_agrees_with_both_yaml_readers():
    """The hint is given exactly for text PyYAML reads as a string and the package's reader as
    a float (as a mapping's value, which no YAML reader leaves padded with spaces)."""
    from optimizer.model.schema import _Loader, _yaml11_text

    samples = ["2.0e8", "1e9", "7.8e6", "3E5", ".5e3", "1.e5", "-2e-3", "+4e2", "1_0e2", "2.0e+8", "2.0E-3", ".5e-3",
               "1000", "1.5", "-1.5", "1e", "e5", "-.5e3", "0x10", "1:30.5"]
    for text in samples:
        expected = isinstance(yaml.safe_load(text), str) and isinstance(yaml.load(text, Loader=_Loader), float)  # noqa: S506
        assert _yaml11_text(text) == expected, text


# --------------------------------------------------------------------------- slices (MODEL.md 12.1)


def three_slices(**tiers_extra) -> dict:
    from helpers import gpu, tier, tiny

    inst = tiny()
    inst["slices"] = [{"name": "peak", "hours": 2190}, {"name": "day", "hours": 3650}, {"name": "night", "hours": 2920}]
    inst["hardware"] = [gpu()]
    inst["tiers"] = [tier("pro", 10, 6.0, **tiers_extra)]
    return inst


SLICE_CASES = [
    # (what breaks, the edit, the path named, words of the rule)
    ("hours", lambda d: d["slices"][0].update(hours=2000), "slices", "sum to 8,760"),
    ("unique", lambda d: d["slices"][1].update(name="peak"), "slices[1] (peak).name", "not unique"),
    ("a year", lambda d: d["slices"][2].update(name="2027"), "slices[2] (2027).name", "may not be a year"),
    ("missing", lambda d: d["facility"].update(grid_power_mw={"peak": 1, "day": 1}), "facility.grid_power_mw", "night missing"),
    ("unknown", lambda d: d["tiers"][0].update(price_usd_per_mtok={"peak": 1, "day": 1, "night": 1, "dusk": 2}),
     "tiers[0] (pro).price_usd_per_mtok", "'dusk', not a slice"),
    ("shiftable", lambda d: d["tiers"][0].update(shiftable=True, max_tokens_per_s={"peak": 1, "day": 1, "night": 1}),
     "tiers[0] (pro).max_tokens_per_s", "may not vary by slice"),
    ("may not vary", lambda d: d["hardware"][0].update(capex_usd={"peak": 1}), "hardware[0] (g).capex_usd", "may not vary by slice"),
    ("mixed keys", lambda d: d["facility"].update(grid_power_mw={"peak": 1, "2027": 2}), "facility.grid_power_mw", "mixes years and slice names"),
    ("min > max", lambda d: d["tiers"][0].update(min_tokens_per_s={"peak": 9, "day": 0, "night": 0}, max_tokens_per_s=5),
     "tiers[0] (pro).max_tokens_per_s", "in slice peak"),
    ("idle fraction", lambda d: d["hardware"][0].update(idle_power_fraction=1.5), "hardware[0] (g).idle_power_fraction", "less than or equal to 1"),
    ("cached fraction", lambda d: d["workloads"][0].update(cached_input_fraction=-0.1), "workloads[0] (chat).cached_input_fraction",
     "greater than or equal to 0"),
    ("no slices", lambda d: (d.pop("slices"), d["tiers"][0].update(price_usd_per_mtok={"peak": 1})), "tiers[0] (pro).price_usd_per_mtok",
     "needs 'slices'"),
]


@pytest.mark.parametrize("edit,path,rule", [c[1:] for c in SLICE_CASES], ids=[c[0] for c in SLICE_CASES])
def test_slice_rules_name_the_field_and_the_rule(edit, path, rule, tmp_path):
    """Each rule of section 12.1 broken on its own: the error names the file, the field path and
    the rule, and the command line exits 2 with no traceback."""
    doc = three_slices()
    edit(doc)
    with pytest.raises(InputError) as err:
        optimizer.load_instance(doc)
    assert any(i.path == path and rule in i.rule for i in err.value.issues), err.value.render()
    f = tmp_path / "sliced.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    from typer.testing import CliRunner

    from optimizer.interfaces.cli import app

    res = CliRunner().invoke(app, ["validate", str(f)])
    assert res.exit_code == 2, res.output
    assert str(f) in res.output and path in res.output and "Traceback" not in res.output


def test_a_valid_sliced_instance_and_its_year_maps():
    doc = three_slices(max_tokens_per_s={"peak": 5e4, "day": 3e4, "night": None}, input_price_usd_per_mtok=1.0)
    doc["facility"]["electricity_usd_per_mwh"] = {"peak": 120, "day": 70, "night": 40}
    inst = optimizer.load_instance(doc)
    assert inst.tiers[0].max_tokens_per_s == {"peak": 5e4, "day": 3e4, "night": None}
    doc["horizon"] = {"start_year": 2026, "period_years": [1, 2]}
    doc["facility"]["grid_power_mw"] = {2026: {"peak": 0.8, "day": 1.0, "night": 1.0}, 2027: 2.0}
    inst = optimizer.load_instance(doc)
    assert inst.facility.grid_power_mw[2026]["peak"] == 0.8 and inst.facility.grid_power_mw[2027] == 2.0


def test_the_schema_describes_slices_exactly():
    """`optimizer schema`: slices and their names (not years), and a map by slice on exactly the
    fields of section 12.1 (as a value of a year map too), on no other."""
    from optimizer.model.schema import SLICED, json_schema

    schema = json_schema()
    defs = schema["$defs"]
    assert defs["Slice"]["required"] == ["name", "hours"]
    assert defs["Slice"]["properties"]["name"]["not"] == {"pattern": r"^\s*\d{4}\s*$"}

    def slice_shaped(prop) -> bool:
        text = json.dumps(prop)
        return '"propertyNames": {"minLength": 1, "not"' in text

    owners = {"facility": defs["Facility"], "tiers": defs["Tier"]}
    for place, fields in SLICED.items():
        for key in fields:
            assert slice_shaped(owners[place]["properties"][key]), (place, key)
    for name, model in defs.items():
        for key, prop in model.get("properties", {}).items():
            if slice_shaped(prop):
                assert key in SLICED.get({"Facility": "facility", "Tier": "tiers"}.get(name, ""), ()), (name, key)
    for new in ("input_price_usd_per_mtok", "cached_input_price_usd_per_mtok", "shiftable"):
        assert new in defs["Tier"]["properties"]
    assert "cached_input_fraction" in defs["Workload"]["properties"]
    assert "idle_power_fraction" in defs["Hardware"]["properties"]
