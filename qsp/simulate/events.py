"""Expand a regimen into a fixed-length event table (a pure function).

The table's *structure* (how many events, which kind and target each has, which
expressions give lag, F, rate or duration) is static and decides the compiled code.
Its *numbers* (dose times, amounts, intervals, numeric lag/F/duration) are JAX data,
so changing them never recompiles, and ``jax.grad``/``jax.vmap`` reach them.

Event kinds: ``BOLUS`` (jump in amount), ``START``/``STOP`` (an infusion's edges),
``RESET`` (all states to their initial values, infusions off), ``SS1``/``SS2`` (the
state replaced by, or added to, the periodic steady state of a dose; placed at the
dose's record time), ``NONE`` (padding).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from ..compile import Args, CompiledModel
from ..dosing import Bolus, Infusion, Regimen, Reset
from ..errors import DosingError

NONE, BOLUS, START, STOP, RESET, SS1, SS2 = 0, 1, 2, 3, 4, 5, 6


@dataclass(frozen=True)
class DoseSpec:
    """Static description of one single dose (after expanding ``additional``)."""

    kind: str  # "bolus", "infusion" or "reset"
    target: int  # state index (-1 for a reset)
    lag: sp.Expr | None  # expression of parameters, or None when numeric
    bioavailability: sp.Expr | None
    rate: sp.Expr | None
    duration: sp.Expr | None
    by_rate: bool  # infusion given by rate (else by duration)
    steady_state: int
    infusion_id: int  # index among infusions, -1 otherwise


@dataclass(frozen=True)
class RegimenStructure:
    """Static part of an expanded regimen; hashable, so it can key a compilation."""

    doses: tuple[DoseSpec, ...]
    n_dose_infusions: int

    @property
    def steady_state_doses(self) -> tuple[int, ...]:
        """Indices of the doses given at steady state."""
        return tuple(i for i, d in enumerate(self.doses) if d.steady_state)

    @property
    def n_infusions(self) -> int:
        """Infusion slots: one per infusion dose, plus TAIL_SLOTS per steady-state infusion for the
        infusions of earlier intervals that are still running at the dose's record time."""
        n_ss_infusions = sum(1 for i in self.steady_state_doses if self.doses[i].kind == "infusion")
        return self.n_dose_infusions + TAIL_SLOTS * n_ss_infusions


#: A steady-state infusion longer than its interval overlaps earlier ones; this many earlier
#: infusions can still be running at the record time (so lag + duration < (TAIL_SLOTS + 1) × interval).
TAIL_SLOTS = 8


def _num(x):
    if x is None:
        return 0.0
    if isinstance(x, (int, float)):
        return float(x)
    return jnp.asarray(x, dtype=jnp.float64)


def _stack(values):
    """numpy when every value is a plain number (cheap, no device work), else a JAX stack."""
    if all(isinstance(v, float) for v in values):
        return np.asarray(values, dtype=np.float64)
    return jnp.stack([jnp.asarray(v, dtype=jnp.float64) for v in values])


def split_regimen(compiled: CompiledModel, regimen: Regimen) -> tuple[RegimenStructure, dict]:
    """Split a regimen into its static structure and a dict of numeric arrays (one entry per dose).

    ``numbers["enabled"]`` is 1 for every dose; padding doses added to batch regimens of
    different lengths have 0 and do nothing.
    """
    specs, numbers = [], {k: [] for k in ("time", "amount", "lag", "bioavailability", "rate", "duration", "interval",
                                         "enabled")}
    n_inf = 0
    # looked up once: a CompiledModel is an equinox module, whose attribute access costs µs each
    structure = compiled.structure
    state_index, species_names = structure.state_index, set(structure.species_names)  # (species are states)
    model = compiled.model
    for d in regimen.doses():
        if isinstance(d, Reset):
            specs.append(DoseSpec("reset", -1, None, None, None, None, False, 0, -1))
            for k in numbers:
                numbers[k].append(_num(d.time) if k == "time" else _num(1.0 if k == "enabled" else 0.0))
            continue
        if d.target not in species_names:
            raise DosingError(
                f"{type(d).__name__} at time {d.time} targets {d.target!r}, which is not a species of model "
                f"{model.name!r}; species: {', '.join(compiled.species_names)}."
            )
        target = state_index[d.target]
        species = model.symbol(d.target)
        if species.constant:
            raise DosingError(f"{type(d).__name__} at time {d.time} targets constant species {d.target!r}; "
                              "a constant species cannot be dosed.")
        is_inf = isinstance(d, Infusion)

        def expr_or_number(value, name):
            if isinstance(value, sp.Basic):
                _check_expression(compiled, value, f"{type(d).__name__} into {d.target!r}: {name}")
                numbers[name].append(_num(0.0))
                # refer to the model's own objects (matched by name), whatever copy the record holds
                return value.xreplace({x: compiled.model.symbol(x.name) for x in value.free_symbols})
            numbers[name].append(_num(value))
            return None

        lag = expr_or_number(d.lag, "lag")
        bio = expr_or_number(d.bioavailability, "bioavailability")
        rate = expr_or_number(d.rate if is_inf else None, "rate")
        duration = expr_or_number(d.duration if is_inf else None, "duration")
        numbers["time"].append(_num(d.time))
        numbers["amount"].append(_num(d.amount))
        numbers["interval"].append(_num(d.interval if d.interval is not None else 0.0))
        numbers["enabled"].append(1.0)
        specs.append(DoseSpec("infusion" if is_inf else "bolus", target, lag, bio, rate, duration,
                              bool(is_inf and d.rate is not None), d.steady_state, n_inf if is_inf else -1))
        n_inf += int(is_inf)
    arrays = {k: _stack(v) for k, v in numbers.items()}
    return RegimenStructure(tuple(specs), n_inf), arrays


def _check_expression(compiled, expr, what):
    names = set(compiled.model.symbols)
    for x in expr.free_symbols:
        if getattr(x, "name", None) not in names:
            raise DosingError(f"{what} uses {x.name!r}, which model {compiled.model.name!r} does not have; "
                              "declare it with qsp.Model(..., parameters=[...]).")


def _cancelled_by_reset(structure: RegimenStructure, numbers: dict, row_time, row_dose) -> jax.Array:
    """Per event row: True when a reset (EVID 3/4) or an SS=1 record comes after the row's own
    dose record and before the row's time — NONMEM's reset clears what is still pending (a
    lagged dose, an infusion not yet started). Rows before the reset are kept.
    """
    resets = [i for i, d in enumerate(structure.doses) if d.kind == "reset" or d.steady_state == 1]
    t_rec = jnp.asarray(numbers["time"])
    enabled = jnp.asarray(numbers["enabled"]) > 0
    own_record = t_rec[row_dose]
    cancelled = jnp.zeros(row_time.shape, bool)
    for i in resets:
        after_record = (t_rec[i] > own_record) | ((t_rec[i] == own_record) & (i > row_dose))
        cancelled = cancelled | (after_record & (t_rec[i] < row_time) & (row_dose != i) & enabled[i])
    return cancelled


def dose_values(compiled: CompiledModel, structure: RegimenStructure, numbers: dict, args: Args):
    """Per dose: (start time, amount delivered, infusion rate, infusion duration), with lag, F and
    modelled rates/durations evaluated from the parameters."""
    def pick(spec_expr, value):
        return value if spec_expr is None else compiled.evaluate_parameter_expression(spec_expr, args)

    starts, amounts, rates, durations = [], [], [], []
    for i, d in enumerate(structure.doses):
        t = numbers["time"][i]
        if d.kind == "reset":
            starts.append(t), amounts.append(_num(0.0)), rates.append(_num(0.0)), durations.append(_num(0.0))
            continue
        lag = pick(d.lag, numbers["lag"][i])
        f = pick(d.bioavailability, numbers["bioavailability"][i])
        amount = numbers["amount"][i] * f
        starts.append(t + lag)
        amounts.append(amount)
        if d.kind == "infusion":
            if d.by_rate:
                rate = pick(d.rate, numbers["rate"][i])
                duration = amount / rate
            else:
                duration = pick(d.duration, numbers["duration"][i])
                rate = amount / duration
            rates.append(rate), durations.append(duration)
        else:
            rates.append(_num(0.0)), durations.append(_num(0.0))
    return starts, amounts, rates, durations


def event_table(compiled: CompiledModel, structure: RegimenStructure, numbers: dict, args: Args):
    """The sorted event table and per-dose values.

    Returns ``(table, info)``: ``table`` has arrays ``time, kind, target, amount (bolus amount or
    infusion rate), infusion (slot), dose (index)`` of static length, sorted by time (ties keep
    record order, so a reset listed before a dose at the same time acts first: EVID 4);
    ``info`` has per-dose lists ``start, amount, rate, duration`` (lag, F and modelled values
    applied) and per-infusion-slot arrays ``slot_target, slot_rate``.
    """
    starts, amounts, rates, durations = dose_values(compiled, structure, numbers, args)
    rows = []  # (time, kind, target, amount, infusion slot, dose index)
    slot_target = [0] * structure.n_infusions
    slot_rate = [_num(0.0)] * structure.n_infusions
    tail_slot = structure.n_dose_infusions
    for i, d in enumerate(structure.doses):
        t_record = numbers["time"][i]
        if d.kind == "reset":
            rows.append((t_record, RESET, 0, _num(0.0), 0, i))
            continue
        if d.steady_state:
            rows.append((t_record, SS1 if d.steady_state == 1 else SS2, 0, _num(0.0), 0, i))
            if d.kind == "infusion":
                # infusions of earlier intervals (started at record time + lag - k·tau) may still
                # be running at the record time: each gets a slot until its own end
                tau = numbers["interval"][i]
                for k in range(1, TAIL_SLOTS + 1):
                    begin = starts[i] - k * tau  # the infusion of the record k intervals earlier
                    end = begin + durations[i]
                    slot_target[tail_slot], slot_rate[tail_slot] = d.target, rates[i]
                    rows.append((jnp.maximum(begin, t_record), START, d.target, rates[i], tail_slot, i))
                    rows.append((jnp.maximum(end, t_record), STOP, d.target, rates[i], tail_slot, i))
                    tail_slot += 1
            elif d.kind == "bolus":
                # with a lag longer than the interval, doses of earlier records are still to come
                tau = numbers["interval"][i]
                for k in range(1, TAIL_SLOTS + 1):
                    arrival = starts[i] - k * tau
                    pending = jnp.where(arrival > t_record, amounts[i], 0.0)
                    rows.append((jnp.maximum(arrival, t_record), BOLUS, d.target, pending, 0, i))
        if d.kind == "bolus":
            rows.append((starts[i], BOLUS, d.target, amounts[i], 0, i))
        else:
            slot_target[d.infusion_id], slot_rate[d.infusion_id] = d.target, rates[i]
            rows.append((starts[i], START, d.target, rates[i], d.infusion_id, i))
            rows.append((starts[i] + durations[i], STOP, d.target, rates[i], d.infusion_id, i))
    info = dict(start=starts, amount=amounts, rate=rates, duration=durations,
                slot_target=jnp.asarray(slot_target, jnp.int32),
                slot_rate=jnp.stack(slot_rate) if slot_rate else jnp.zeros((0,), jnp.float64))
    if not rows:
        empty_f = jnp.zeros((0,), jnp.float64)
        empty_i = jnp.zeros((0,), jnp.int32)
        return dict(time=empty_f, kind=empty_i, target=empty_i, amount=empty_f, infusion=empty_i, dose=empty_i), info
    times = jnp.stack([jnp.asarray(r[0], jnp.float64) for r in rows])
    order = jnp.argsort(times, stable=True)
    table = dict(
        time=times,
        kind=jnp.asarray([r[1] for r in rows], jnp.int32),
        target=jnp.asarray([r[2] for r in rows], jnp.int32),
        amount=jnp.stack([jnp.asarray(r[3], jnp.float64) for r in rows]),
        infusion=jnp.asarray([r[4] for r in rows], jnp.int32),
        dose=jnp.asarray([r[5] for r in rows], jnp.int32),
    )
    cancelled = _cancelled_by_reset(structure, numbers, table["time"], table["dose"])
    table["kind"] = jnp.where(cancelled & (table["kind"] != RESET) & (table["kind"] != SS1)
                              & (table["kind"] != SS2), NONE, table["kind"])
    table = {k: v[order] for k, v in table.items()}
    # disabled doses (padding for subjects with fewer doses) become no-op events
    table["kind"] = jnp.where(jnp.asarray(numbers["enabled"])[table["dose"]] > 0, table["kind"], NONE)
    return table, info
