"""A PEtab problem resolved against its model: index arrays that the likelihood gathers from.

Every value the likelihood needs comes from one vector

.. math:: v = [\\,q\\;|\\;p_\\text{base}\\;|\\;c\\,]

with :math:`q` the parameter-table values (linear scale), :math:`p_\\text{base}` the model's
parameter vector with the table's values put in, and :math:`c` the constants written in
the tables. A condition's parameter vector, a species' initial-value override and a
measurement's observable or noise parameter are then each one index into :math:`v`, so
all conditions are assembled by one gather and stay differentiable in :math:`q`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..model import Compartment, Parameter, Variable, time
from ..model.rules import inline_assignments
from .petab_math import PetabError, parse_formula
from .petab_noise import to_scale
from .petab_tables import PetabTables

_SCALE_CODES = {"lin": 0, "log": 1, "log10": 2}


@dataclass
class ObservableLayout:
    """One observable's formulas and the measurements of it (rows into the experiments)."""

    id: str
    formula: sp.Expr
    noise: sp.Expr
    transformation: str
    distribution: str
    rows: np.ndarray  # indices of its measurements in the measurement table
    experiment: np.ndarray  # experiment index per row
    time_index: np.ndarray  # output index in that experiment's time grid
    time: np.ndarray
    value: np.ndarray
    placeholder_symbols: tuple  # observableParameter1.., then noiseParameter1..
    placeholder_sources: np.ndarray  # (rows, placeholders) indices into v


@dataclass
class Layout:
    """Everything static about a PEtab problem (numpy arrays and sympy expressions)."""

    parameter_ids: tuple
    scale_codes: np.ndarray
    nominal: np.ndarray  # linear scale
    estimated: np.ndarray  # indices into q of the estimated parameters
    base_source: np.ndarray  # per model parameter: index into q, or -1 (model default)
    constants: np.ndarray
    condition_ids: tuple  # conditions simulated (simulation and preequilibration)
    condition_parameters: np.ndarray  # (conditions, model parameters) indices into v
    condition_initials: np.ndarray  # (conditions, states) indices into v, or -1 (no override)
    experiments: tuple  # (preequilibration id or None, simulation id)
    experiment_condition: np.ndarray  # index into condition_ids
    preequilibrations: np.ndarray  # condition indices that are preequilibrated
    experiment_preequilibration: np.ndarray  # index into preequilibrations, or -1
    times: np.ndarray  # (experiments, T) output times, padded by repeating the last
    steady_state: np.ndarray  # bool per experiment: has measurements at time inf
    observables: list = field(default_factory=list)
    q_symbols: dict = field(default_factory=dict)  # Dummy symbol -> index into q (table-only parameters)


class _Values:
    """Assigns indices into v = [q | p_base | constants]."""

    def __init__(self, q_index: dict, model_index: dict, n_model: int):
        self.q_index, self.model_index = q_index, model_index
        self.offset = len(q_index) + n_model  # where the constants start
        self.constants: list[float] = []
        self.memo: dict[float, int] = {}

    def constant(self, x: float) -> int:
        if x not in self.memo:
            self.memo[x] = self.offset + len(self.constants)
            self.constants.append(float(x))
        return self.memo[x]

    def source(self, value, where) -> int | None:
        """Index of a cell's value: a number, a parameter-table id or a model parameter id
        (None for NaN: keep); ``where`` = (what, file, line, column) for the error."""
        what, file, line, column = where
        if isinstance(value, float):
            return None if math.isnan(value) else self.constant(value)
        if value in self.q_index:
            return self.q_index[value]
        if value in self.model_index:
            return len(self.q_index) + self.model_index[value]
        raise PetabError(f"{what} refers to {value!r}, which is not in the parameter table or a parameter of the "
                         "SBML model.", file, line, column)


def build_layout(tables: PetabTables, translation, compiled) -> Layout:
    """Resolve the tables against the model; raises :class:`PetabError` naming file, line and column."""
    model = translation.model
    parameter_names = compiled.parameter_names
    model_index = {}  # SBML id -> index in the model's parameter vector
    for sbml_id, expr in translation.values.items():
        if isinstance(expr, Parameter) and expr.name in parameter_names:
            model_index[sbml_id] = parameter_names.index(expr.name)
    rows = tables.parameters
    q_index = {r.id: i for i, r in enumerate(rows)}
    values = _Values(q_index, model_index, len(parameter_names))

    base_source = -np.ones(len(parameter_names), np.int64)
    q_symbols = {}
    for i, r in enumerate(rows):
        expr = translation.values.get(r.id)
        if r.id in model_index:
            base_source[model_index[r.id]] = i
        elif expr is not None:
            kind = "an assignment-rule target" if isinstance(expr, Variable) else f"a {type(expr).__name__.lower()}"
            raise PetabError(f"parameter {r.id!r} is {kind} of the SBML model, not a parameter; PEtab's parameter "
                             "table may only list model parameters and observable/noise parameters.", r.file, r.line,
                             "parameterId")
        else:
            q_symbols[sp.Dummy(r.id)] = i
        if not (r.estimate or math.isfinite(r.nominal)):
            raise PetabError(f"parameter {r.id!r} is not estimated, so it needs a finite nominalValue.", r.file,
                             r.line, "nominalValue")

    measurements = tables.measurements
    file_of = tables.files
    if not measurements:
        raise PetabError("the measurement table has no rows.", file_of["measurements"])
    experiments, experiment_of_row = {}, []  # (preequilibration, simulation) -> index, in first-seen order
    for m in measurements:
        for cid, column in ((m.condition, "simulationConditionId"),
                            (m.preequilibration, "preequilibrationConditionId")):
            if cid is not None and cid not in tables.conditions:
                raise PetabError(f"condition {cid!r} is not in the condition table.", m.file, m.line, column)
        if m.observable not in tables.observables:
            raise PetabError(f"observable {m.observable!r} is not in the observable table.", m.file, m.line,
                             "observableId")
        experiment_of_row.append(experiments.setdefault((m.preequilibration, m.condition), len(experiments)))
    experiments = list(experiments)

    condition_ids = list(dict.fromkeys([c for e in experiments for c in (e[1], e[0]) if c is not None]))
    n_states = compiled.n_states
    cond_params = np.tile(np.arange(len(parameter_names)) + len(rows), (len(condition_ids), 1))
    cond_initials = -np.ones((len(condition_ids), n_states), np.int64)
    for k, cid in enumerate(condition_ids):
        file, line = tables.condition_lines[cid]
        for target, value in tables.conditions[cid].items():
            _condition_override(translation, compiled, values, model_index, cond_params, cond_initials, k, cid,
                                target, value, file, line)

    # time grids: the distinct finite times of each experiment, padded by repeating the last one
    grids = []
    steady = np.zeros(len(experiments), bool)
    for e in range(len(experiments)):
        ts = sorted({m.time for m, x in zip(measurements, experiment_of_row) if x == e and math.isfinite(m.time)})
        steady[e] = any(math.isinf(m.time) for m, x in zip(measurements, experiment_of_row) if x == e)
        grids.append(ts or [0.0])
    width = max(len(g) for g in grids)
    times = np.array([g + [g[-1]] * (width - len(g)) for g in grids], float)

    pre_conditions = list(dict.fromkeys(e[0] for e in experiments if e[0] is not None))
    preequilibrations = np.array([condition_ids.index(c) for c in pre_conditions], np.int64)
    experiment_pre = np.array([pre_conditions.index(e[0]) if e[0] is not None else -1 for e in experiments], np.int64)
    experiment_condition = np.array([condition_ids.index(e[1]) for e in experiments], np.int64)

    layout = Layout(
        parameter_ids=tuple(r.id for r in rows),
        scale_codes=np.array([_SCALE_CODES[r.scale] for r in rows], np.int64),
        nominal=np.array([r.nominal for r in rows], float),
        estimated=np.array([i for i, r in enumerate(rows) if r.estimate], np.int64),
        base_source=base_source, constants=np.zeros(0), condition_ids=tuple(condition_ids),
        condition_parameters=cond_params, condition_initials=cond_initials, experiments=tuple(experiments),
        experiment_condition=experiment_condition, preequilibrations=preequilibrations,
        experiment_preequilibration=experiment_pre, times=times, steady_state=steady, q_symbols=q_symbols)
    for oid, obs in tables.observables.items():
        rows_of = [i for i, m in enumerate(measurements) if m.observable == oid]
        if rows_of:
            layout.observables.append(_observable(obs, rows_of, measurements, experiment_of_row, grids, translation,
                                                  model, values, q_symbols))
    layout.constants = np.array(values.constants, float)
    return layout


def _condition_override(translation, compiled, values, model_index, cond_params, cond_initials, k, cid, target,
                        value, file, line):
    """Record condition ``cid``'s cell for ``target``; NaN keeps the value (and is never refused)."""
    expr = translation.values.get(target)
    if expr is None or not (target in translation.species or isinstance(expr, (Compartment, Parameter, Variable))):
        raise PetabError(f"condition column {target!r} is not a parameter, species or compartment of the SBML "
                         "model.", file, line, target)
    source = values.source(value, (f"condition {cid!r}, {target!r}", file, line, target))
    if source is None:
        return
    if target in translation.species:
        symbol = translation.species[target][0]
        if isinstance(symbol, Variable):
            raise PetabError(f"condition {cid!r} sets the initial value of species {target!r}, which a rule of the "
                             "SBML model defines; remove the value (or write NaN).", file, line, target)
        if symbol.constant:
            raise PetabError(f"condition {cid!r} sets the initial value of constant species {target!r}; qsp cannot "
                             "override a constant species per condition (make it a parameter of the SBML model).",
                             file, line, target)
        cond_initials[k, compiled.state_index(symbol.name)] = source
    elif isinstance(expr, Compartment):
        volume = expr.volume
        if not (isinstance(volume, Parameter) and volume.name in compiled.parameter_names):
            raise PetabError(f"condition {cid!r} sets the size of compartment {target!r}, whose size is the "
                             f"constant {volume}; qsp overrides compartment sizes only when the SBML model gives "
                             "them through a parameter.", file, line, target)
        cond_params[k, compiled.parameter_names.index(volume.name)] = source
    elif target in model_index:
        cond_params[k, model_index[target]] = source
    else:
        raise PetabError(f"condition {cid!r} overrides {target!r}, which a rule of the SBML model defines; PEtab "
                         "allows overriding parameters, species and compartments only.", file, line, target)


def _placeholder_count(kind: str, oid: str, *texts) -> int:
    import re

    pattern = re.compile(rf"\b{kind}(\d+)_{re.escape(oid)}\b")
    found = [int(n) for text in texts for n in pattern.findall(text)]
    return max(found, default=0)


def _observable(obs, rows_of, measurements, experiment_of_row, grids, translation, model, values, q_symbols):
    n_obs = _placeholder_count("observableParameter", obs.id, obs.formula, obs.noise_formula)
    n_noise = _placeholder_count("noiseParameter", obs.id, obs.formula, obs.noise_formula)
    placeholders = {f"observableParameter{n + 1}_{obs.id}": sp.Dummy(f"observableParameter{n + 1}_{obs.id}")
                    for n in range(n_obs)}
    placeholders.update({f"noiseParameter{n + 1}_{obs.id}": sp.Dummy(f"noiseParameter{n + 1}_{obs.id}")
                         for n in range(n_noise)})
    table_only = {s.name: s for s in q_symbols}

    def resolve(name):
        if name in placeholders:
            return placeholders[name]
        if name in translation.values:
            return translation.values[name]
        if name == "time":
            return time
        return table_only.get(name)

    parsed = []
    for column, text in (("observableFormula", obs.formula), ("noiseFormula", obs.noise_formula)):
        expr = parse_formula(text, resolve, obs.file, obs.line, column)
        parsed.append(inline_assignments(expr, list(model.assignment_rules)))
    sources = np.zeros((len(rows_of), n_obs + n_noise), np.int64)
    for r, i in enumerate(rows_of):
        m = measurements[i]
        for overrides, count, column in ((m.observable_parameters, n_obs, "observableParameters"),
                                         (m.noise_parameters, n_noise, "noiseParameters")):
            if len(overrides) != count:
                raise PetabError(f"observable {obs.id!r} has {count} {column[:-1]} placeholder(s), but this row gives "
                                 f"{len(overrides)} value(s) ({';'.join(map(str, overrides)) or 'empty'}); give "
                                 f"{count} separated by ';'.", m.file, m.line, column)
        for k, value in enumerate((*m.observable_parameters, *m.noise_parameters)):
            column = "observableParameters" if k < n_obs else "noiseParameters"
            source = values.source(value, (f"the {column} of observable {obs.id!r}", m.file, m.line, column))
            if source is None:
                raise PetabError(f"the {column} of observable {obs.id!r} holds NaN; give a number or a parameter id.",
                                 m.file, m.line, column)
            sources[r, k] = source
    experiment = np.array([experiment_of_row[i] for i in rows_of], np.int64)
    times = np.array([measurements[i].time for i in rows_of], float)
    time_index = np.array([grids[e].index(t) if math.isfinite(t) else -1 for e, t in zip(experiment, times)],
                          np.int64)
    return ObservableLayout(
        id=obs.id, formula=parsed[0], noise=parsed[1], transformation=obs.transformation,
        distribution=obs.distribution, rows=np.array(rows_of, np.int64), experiment=experiment,
        time_index=time_index, time=times, value=np.array([measurements[i].value for i in rows_of], float),
        placeholder_symbols=tuple(placeholders.values()), placeholder_sources=sources)


def nominal_on_scale(layout: Layout) -> np.ndarray:
    """The estimated parameters' nominal values on their PEtab scale (parameter-table order)."""
    scales = {0: "lin", 1: "log", 2: "log10"}
    missing = [layout.parameter_ids[i] for i in layout.estimated if not math.isfinite(layout.nominal[i])]
    if missing:
        raise PetabError(f"estimated parameter(s) {', '.join(missing)} have no nominalValue, so there is no "
                         "nominal theta; give one, or start from your own theta.")
    return np.array([to_scale(layout.nominal[i], scales[int(layout.scale_codes[i])]) for i in layout.estimated], float)
