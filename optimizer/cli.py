"""The command line: a thin shell over the Python API.

Exit codes: 0 a plan was found (optimal, or time limit with an incumbent); 1 no plan
(infeasible, unbounded, time limit without incumbent, solver error); 2 bad input.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import InputError
from .schema import json_schema, load_instance

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Plan an AI factory: which racks to buy, which token tiers to sell (MODEL.md v1).",
)


class ObjectiveChoice(str, Enum):
    revenue = "revenue"
    profit = "profit"
    tokens = "tokens"
    tokens_per_watt = "tokens_per_watt"
    min_cost = "min_cost"


def _bad_input(exc: InputError) -> None:
    """Every broken rule on its own plain line (no wrapping: tools grep these), exit code 2."""
    lines = [f"error: invalid input: {exc.source} ({len(exc.issues)} error(s))"]
    lines += [f"  {exc.source}: {issue.path or '<document>'}: {issue.rule}" for issue in exc.issues]
    sys.stderr.write("\n".join(lines) + "\n")
    raise typer.Exit(2)


@app.command()
def validate(path: Annotated[Path, typer.Argument(help="instance file (YAML or JSON)")]) -> None:
    """Validate an instance file: exit 0 when valid, 2 with every error otherwise."""
    try:
        inst = load_instance(path)
    except InputError as exc:
        _bad_input(exc)
    sys.stdout.write(
        f"{path}: valid ({len(inst.hardware)} hardware, {len(inst.tiers)} tiers, "
        f"{len(inst.facility.halls)} halls, {len(inst.network.options) if inst.network else 0} network options)\n"
    )


@app.command()
def solve(
    path: Annotated[Path, typer.Argument(help="instance file (YAML or JSON)")],
    objective: Annotated[Optional[ObjectiveChoice], typer.Option(help="override the instance's objective")] = None,
    time_limit: Annotated[Optional[float], typer.Option(min=0.0, help="seconds for the whole solve")] = None,
    mip_gap: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help="relative MIP gap [default: 1e-4]")] = None,
    threads: Annotated[Optional[int], typer.Option(min=1, help="HiGHS threads [default: HiGHS decides]")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the solution as JSON on stdout, nothing else")] = False,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="also write the solution as JSON to this file")] = None,
) -> None:
    """Solve an instance and print the plan (exit 0: plan found, 1: no plan, 2: bad input)."""
    from .report import render
    from .engine import solve as run

    try:
        inst = load_instance(path)
    except InputError as exc:
        _bad_input(exc)
    sol = run(inst, objective=objective.value if objective else None, time_limit=time_limit, mip_gap=mip_gap, threads=threads)
    text = sol.model_dump_json(indent=2)
    if output is not None:
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(f"error: cannot write {output}: {exc}\n")
            raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(text + "\n")
    else:
        render(sol)
    raise typer.Exit(0 if sol.has_plan else 1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of instance files."""
    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
