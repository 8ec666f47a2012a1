"""Planning under uncertainty (MODEL.md section 13): the data of every scenario, in one set of units.

A stochastic instance is the base instance (whose capacity decision is built once) and, per
scenario, the base with its ``set`` overrides (``schema.scenario_instances``), each preprocessed
as a deterministic instance would be (one period, or a horizon). Every scenario's figures are
summed into one objective, so all of them share the internal units (``Scale``) chosen over all
of them. The extensive form itself is ``families.build_model`` / ``horizon.build_horizon_model``
with these scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass

from .horizon import HorizonData, build_horizon_model, horizon_hints, horizon_warnings, preprocess_horizon
from .families import build_model
from .preprocess import Data, choose_scale, infeasibility_hints, planner_warnings, preprocess
from .schema import Instance, scenario_instances


@dataclass
class StochasticData:
    name: str
    base: Data | HorizonData  # the capacity decision's data: the instance without overrides
    scenarios: list[tuple[str, float, Data | HorizonData]]  # (name, probability, data)
    instances: dict[str, Instance]  # scenario -> its instance (for the check and the regret table)
    alpha: float  # CVaR level (section 13.2)
    weight: float  # CVaR weight; 0: the expectation alone

    @property
    def scale(self):
        return self.base.scale

    @property
    def multi(self) -> bool:
        return isinstance(self.base, HorizonData)

    @property
    def names(self) -> list[str]:
        return [w for w, _, _ in self.scenarios]

    @property
    def probabilities(self) -> dict[str, float]:
        return {w: p for w, p, _ in self.scenarios}

    def data(self, name: str) -> Data | HorizonData:
        return next(d for w, _, d in self.scenarios if w == name)


def _periods(d: Data | HorizonData) -> list[Data]:
    return d.periods if isinstance(d, HorizonData) else [d]


def preprocess_stochastic(inst: Instance) -> StochasticData:
    """Every scenario's data (section 13.1) and the base's, with one internal scale for all."""
    one = preprocess if inst.horizon is None else preprocess_horizon
    base = one(inst)
    futures = [(w, p, x, one(x)) for w, p, x in scenario_instances(inst)]
    common = choose_scale([q for d in [base] + [f[3] for f in futures] for q in _periods(d)])
    for d in [base] + [f[3] for f in futures]:
        for q in _periods(d):
            q.scale = common
    risk = inst.uncertainty.risk if inst.uncertainty is not None else None
    return StochasticData(
        name=inst.name, base=base, scenarios=[(w, p, d) for w, p, _, d in futures], instances={w: x for w, _, x, _ in futures},
        alpha=risk.alpha if risk is not None else 0.9, weight=risk.weight if risk is not None else 0.0,
    )


def build_stochastic_model(sd: StochasticData, tight: bool = True):
    """The extensive form of section 13.2: the capacity once, a second stage per scenario."""
    if sd.multi:
        return build_horizon_model(sd.base, tight, sd.scenarios)
    return build_model(sd.base, tight, sd.scenarios)


def stochastic_hints(sd: StochasticData) -> list[str]:
    """Certain reasons found before solving, per scenario (named when not every scenario has them)."""
    return _per_scenario(sd, horizon_hints if sd.multi else infeasibility_hints)


def stochastic_warnings(sd: StochasticData) -> list[str]:
    return _per_scenario(sd, horizon_warnings if sd.multi else planner_warnings)


def _per_scenario(sd: StochasticData, find) -> list[str]:
    when: dict[str, list[str]] = {}
    for w, _, d in sd.scenarios:
        for text in find(d):
            when.setdefault(text, []).append(w)
    return [t if len(ws) == len(sd.scenarios) else f"scenario {', '.join(ws)}: {t}" for t, ws in when.items()]
