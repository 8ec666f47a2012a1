"""Brute-force optima of small one-hall instances, independent of the optimizer's model code.

Every rack count vector within the hall's slots and the supply caps is enumerated; racks that
break the grid, cooling or budget are dropped by hand arithmetic; for the rest the allocation of
rack-equivalents to tiers is an LP written here in planner units (tokens/s, USD) and solved on
highspy directly (for one tier, it is solved by hand: serve min(cap, what the racks make)).
Supports: one hall, aggregated curves only, one model, racks_per_replica 1, no network.
"""

from __future__ import annotations

import itertools

import highspy
import numpy as np

from optimizer.solving.verify import YEAR_H, YEAR_S, annuity, interp


def _allocation(A: np.ndarray, avail: np.ndarray, n: np.ndarray, price: np.ndarray, qmin: np.ndarray, qmax: np.ndarray,
                weights: np.ndarray) -> float | None:
    """max sum_t weights_t q_t over x >= 0: sum_t x_ht <= a_h n_h, q_t <= sum_h A_ht x_ht,
    qmin <= q <= qmax. None if infeasible. One tier: by hand."""
    H, T = A.shape
    if T == 1:
        most = float((A[:, 0] * avail * n).sum())
        q = min(most, qmax[0])
        if q < qmin[0] * (1 - 1e-12):
            return None
        return float(weights[0] * (q if weights[0] >= 0 else qmin[0]))
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    # columns: x[h, t] (H*T), then q[t] (T); objective normalised to a largest coefficient of 1
    big = float(np.abs(weights).max()) or 1.0
    lower = np.r_[np.zeros(H * T), qmin]
    upper = np.r_[np.full(H * T, highspy.kHighsInf), np.where(np.isfinite(qmax), qmax, highspy.kHighsInf)]
    h.addVars(H * T + T, lower, upper)
    h.changeColsCost(H * T + T, np.arange(H * T + T, dtype=np.int32), np.r_[np.zeros(H * T), -weights / big])
    for i in range(H):  # sum_t x_it <= a_i n_i
        idx = np.arange(i * T, (i + 1) * T, dtype=np.int32)
        h.addRow(-highspy.kHighsInf, float(avail[i] * n[i]), T, idx, np.ones(T))
    for t in range(T):  # q_t - sum_h A_ht x_ht <= 0, divided by the tier's largest coefficient
        scale = max(float(A[:, t].max()), 1.0e-300)
        idx = np.r_[np.arange(H) * T + t, H * T + t].astype(np.int32)
        h.addRow(-highspy.kHighsInf, 0.0, H + 1, idx, np.r_[-A[:, t] / scale, 1.0 / scale])
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return -h.getInfo().objective_function_value * big


def brute_force(inst, objective: str | None = None) -> tuple[float, tuple[int, ...]] | None:
    """(optimum, rack counts) of a small instance by enumeration; None if infeasible."""
    objective = objective or inst.objective.value
    fac, (hall,) = inst.facility, inst.facility.halls
    H, T = inst.hardware, inst.tiers
    A = np.array([[interp(h.performance[t.workload].aggregated, t.min_interactivity) if t.workload in h.performance else 0.0
                   for t in T] for h in H])
    avail = np.array([h.availability for h in H])
    price = np.array([t.price_usd_per_mtok for t in T])
    qmin = np.array([t.min_tokens_per_s for t in T])
    qmax = np.array([np.inf if t.max_tokens_per_s is None else t.max_tokens_per_s for t in T])
    fits = [h.rack_power_kw <= hall.max_rack_kw and (h.liquid_cooled_fraction == 0 or hall.liquid_cooling) for h in H]
    caps = [(min(hall.rack_slots, h.max_racks if h.max_racks is not None else hall.rack_slots) if fits[i] else 0) for i, h in enumerate(H)]
    best = None
    for n in itertools.product(*[range(c + 1) for c in caps]):
        if sum(n) > hall.rack_slots:
            continue
        n_arr = np.array(n, dtype=float)
        it = sum(h.rack_power_kw * k for h, k in zip(H, n)) / 1000
        liq = sum(h.liquid_cooled_fraction * h.rack_power_kw * k for h, k in zip(H, n)) / 1000
        F = (1 + fac.distribution_loss_fraction) * it + fac.liquid_cooling_overhead * liq + fac.air_cooling_overhead * (it - liq)
        if F > fac.grid_power_mw or liq > fac.liquid_cooling_mw or it - liq > fac.air_cooling_mw:
            continue
        capex = sum(h.capex_usd * k for h, k in zip(H, n))
        if fac.capex_budget_usd is not None and capex > fac.capex_budget_usd:
            continue
        cost = (sum(annuity(fac.discount_rate, h.lifetime_years) * h.capex_usd * k + h.opex_usd_per_year * k for h, k in zip(H, n))
                + fac.electricity_usd_per_mwh * YEAR_H * F)
        if objective in ("revenue", "profit"):
            served = _allocation(A, avail, n_arr, price, qmin, qmax, price * YEAR_S / 1e6)
            value = None if served is None else (served if objective == "revenue" else served - cost)
        elif objective == "tokens":
            value = _allocation(A, avail, n_arr, price, qmin, qmax, np.ones(len(T)))
        elif objective == "min_cost":
            value = None if _allocation(A, avail, n_arr, price, qmin, qmax, np.zeros(len(T))) is None else cost
        else:
            raise ValueError(objective)
        if value is None:
            continue
        better = best is None or (value < best[0] if objective == "min_cost" else value > best[0])
        if better:
            best = (value, n)
    return best
