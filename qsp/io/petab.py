"""PEtab (format version 1) parameter-estimation problems: ``read_petab(yaml) -> PetabProblem``.

A PEtab problem is an SBML model plus tables: conditions (parameter and initial-value
overrides per experimental condition), observables (formulas and noise models),
measurements, and the parameters with their scales, bounds and nominal values. qsp reads
the model with :func:`qsp.io.read_sbml`, compiles it once, and builds a negative
log-likelihood that is a pure JAX function of the estimated parameters: jittable,
differentiable, and never recompiled when parameter values change.

Semantics, as in the PEtab v1 specification and AMICI:

* **parameters**: ``theta`` holds the parameters with ``estimate = 1`` in parameter-table
  order, on their ``parameterScale`` (``lin``, ``log`` = natural log, ``log10``); every
  other table parameter takes its ``nominalValue`` (linear scale). A table parameter that
  is a model parameter replaces the SBML value.
* **conditions**: a condition's cell for a parameter replaces its value; for a species it
  is the initial value in the species' meaning (a concentration unless
  ``hasOnlySubstanceUnits``); for a compartment given through a parameter, its size. A
  cell may name a parameter-table or model parameter; ``NaN`` (or empty) keeps the value.
* **observables** are parsed by :mod:`qsp.io.petab_math` (never evaluated as code); names
  are model symbols (a species means what it means in SBML math), ``time``, table
  parameters, and the placeholders ``observableParameter{n}_{id}`` and
  ``noiseParameter{n}_{id}``, which each measurement row overrides.
* **noise**: normal or Laplace, on the ``lin``, ``log`` or ``log10`` scale, with the
  Jacobian of the transformation (:mod:`qsp.io.petab_noise`). Priors are not included.
* **preequilibration**: the preequilibration condition is simulated to steady state
  (see below); then the simulation condition's parameters apply, its species overrides
  replace the steady state, and the simulation starts from that state at time 0.
  Measurements at time ``inf`` are taken at the steady state of their own condition.

Steady states are found by integrating to ``steady_state_time`` (default 1e8 model time
units) with the stiff solver, which takes large steps once transients have decayed; the
state is accepted when it moved by at most ``steady_state_rtol`` (relative, 1e-6) between
a tenth of that time and its end. Integrating, rather than solving
:math:`f(y) = 0` by Newton's method, keeps conservation laws (singular Jacobians) and
the dependence on the starting state right, and the gradient is that of the
integration. Where a steady state is not reached the log-likelihood is ``-inf``
(the negative log-likelihood ``+inf``), so an optimiser backs off; :meth:`PetabProblem.simulate`
reports which condition failed.

The start state of a condition (a steady state, or species overrides) is handed to
:func:`qsp.simulate` as one bolus per species at time 0 that moves the model's own initial
amounts to it, which keeps everything differentiable without a special entry point.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..compile import evaluate
from ..dosing import Bolus, Regimen
from ..model import Compartment, Parameter
from ..model.symbols import Time
from ..simulate import simulate
from .petab_layout import Layout, build_layout, nominal_on_scale
from .petab_math import PetabError, PetabFormulaError
from .petab_noise import log_likelihood, to_linear
from .petab_tables import PetabTables, read_tables

__all__ = ["read_petab", "PetabProblem", "PetabError", "PetabFormulaError"]


@dataclass(frozen=True)
class SteadyStateOptions:
    """How steady states are found (see the module docstring)."""

    time: float = 1e8
    rtol: float = 1e-6
    atol: float = 1e-10


def read_petab(yaml_path, *, rtol: float = 1e-8, atol: float = 1e-8, solver=None, max_steps: int | None = None,
               steady_state_time: float = 1e8, steady_state_rtol: float = 1e-6) -> "PetabProblem":
    """Read a PEtab v1 problem (its YAML file) into a :class:`PetabProblem`.

    Args:
        yaml_path: the problem's YAML file; the tables and the SBML model are read from
            the paths it names, relative to it.
        rtol, atol: integration tolerances (default 1e-8 and 1e-8, as AMICI's reference
            check uses).
        solver, max_steps: passed to :func:`qsp.simulate` (default: qsp's Rodas5P).
        steady_state_time, steady_state_rtol: how preequilibration and ``inf`` measurements
            reach steady state (module docstring).

    Raises:
        PetabError: a malformed table, or something qsp does not support; the message
            names the file, the line and the column.
        PetabFormulaError: a formula that does not parse or uses an unknown name or function.

    Example:
        >>> import tempfile
        >>> from qsp.io.petab_example import write_example_problem
        >>> problem = read_petab(write_example_problem(tempfile.mkdtemp()))
        >>> problem
        PetabProblem('elimination': 2 estimated parameters, 2 experiments, 6 measurements)
        >>> problem.experiments
        ((None, 'low'), (None, 'high'))
    """
    from .sbml import translate_sbml
    from ..compile import compile as compile_model

    tables = read_tables(yaml_path)
    translation = translate_sbml(tables.sbml)
    compiled = compile_model(translation.model)
    layout = build_layout(tables, translation, compiled)
    options = dict(rtol=rtol, atol=atol, solver=solver, max_steps=max_steps)
    return PetabProblem(tables, translation, compiled, layout, options,
                        SteadyStateOptions(steady_state_time, steady_state_rtol))


class PetabProblem:
    """A PEtab problem: the model, its tables and a differentiable negative log-likelihood.

    Attributes:
        model: the :class:`~qsp.Model` read from the SBML file.
        compiled: the :class:`~qsp.CompiledModel` (compiled once).
        tables: the parsed tables (:class:`~qsp.io.petab_tables.PetabTables`).
        parameter_ids: every parameter-table id, in table order.
        estimated_ids: the ids of the estimated parameters, the order of ``theta``.
        scales: the ``parameterScale`` of each estimated parameter.
        lower_bounds, upper_bounds: bounds of the estimated parameters on their scale.

    The negative log-likelihood is

    .. math:: -\\ell(\\theta) = -\\sum_i \\log p(m_i \\mid h_i(\\theta), \\sigma_i(\\theta))

    over every measurement row, with the densities of :mod:`qsp.io.petab_noise`.
    Build it with :func:`read_petab`.

    Example:
        >>> import tempfile
        >>> from qsp.io.petab_example import write_example_problem
        >>> problem = read_petab(write_example_problem(tempfile.mkdtemp()))
        >>> problem.estimated_ids, problem.lower_bounds, problem.upper_bounds   # bounds on the log10 scale
        (('k', 'sigma'), array([-3., -2.]), array([1., 1.]))
        >>> # the first call compiles (seconds); later calls take milliseconds:
        >>> value, grad = problem.value_and_grad(problem.nominal_theta())  # doctest: +SKIP
    """

    def __init__(self, tables: PetabTables, translation, compiled, layout: Layout, options: dict,
                 steady: SteadyStateOptions):
        self.tables, self.translation, self.compiled, self.layout = tables, translation, compiled, layout
        self.model = translation.model
        self.options = options
        self.steady = steady
        rows = {r.id: r for r in tables.parameters}
        self.parameter_ids = layout.parameter_ids
        self.estimated_ids = tuple(layout.parameter_ids[i] for i in layout.estimated)
        self.scales = tuple(rows[i].scale for i in self.estimated_ids)
        self.lower_bounds = np.array([_on_scale(rows[i].lower, rows[i].scale) for i in self.estimated_ids])
        self.upper_bounds = np.array([_on_scale(rows[i].upper, rows[i].scale) for i in self.estimated_ids])
        self._check_supported()
        # one compilation serves neg_log_likelihood and simulate (it returns the per-row terms too)
        self._evaluate = jax.jit(self._terms)
        self._value_and_grad = jax.jit(jax.value_and_grad(self._neg_log_likelihood))

    def __repr__(self) -> str:
        return (f"PetabProblem({self.model.name!r}: {len(self.estimated_ids)} estimated parameters, "
                f"{len(self.layout.experiments)} experiments, {len(self.tables.measurements)} measurements)")

    # ------------------------------------------------------------------ public API
    def nominal_theta(self) -> jax.Array:
        """The estimated parameters' nominal values on their scale (``theta`` at nominal).

        Example:
            >>> import tempfile
            >>> from qsp.io.petab_example import write_example_problem
            >>> problem = read_petab(write_example_problem(tempfile.mkdtemp()))
            >>> [round(float(x), 4) for x in problem.nominal_theta()]     # log10 of 0.2 and 0.5
            [-0.699, -0.301]
        """
        return jnp.asarray(nominal_on_scale(self.layout))

    def neg_log_likelihood(self, theta) -> jax.Array:
        """:math:`-\\ell(\\theta)`: jitted; ``jax.grad`` works through it (see :meth:`value_and_grad`)."""
        return self._evaluate(jnp.asarray(theta, jnp.float64))[0]

    def log_likelihood(self, theta) -> jax.Array:
        """:math:`\\ell(\\theta)`, the quantity AMICI's reference values report."""
        return -self.neg_log_likelihood(theta)

    def value_and_grad(self, theta):
        """``(-ℓ(θ), ∇θ(-ℓ))``, jitted (reverse mode through the integrations)."""
        return self._value_and_grad(jnp.asarray(theta, jnp.float64))

    def simulate(self, theta=None):
        """Per-measurement simulation at ``theta`` (default nominal), as a pandas table.

        Columns: the measurement row's ``observableId``, ``preequilibrationConditionId``,
        ``simulationConditionId``, ``time``, ``measurement``, and the simulated
        ``simulation`` (h), ``sigma`` and ``llh`` (its log-likelihood term), plus
        ``steady_state_reached`` for its experiment.
        """
        import pandas as pd

        theta = self.nominal_theta() if theta is None else jnp.asarray(theta, jnp.float64)
        _, terms, converged = self._evaluate(theta)
        rows = self.tables.measurements
        table = pd.DataFrame({
            "observableId": [m.observable for m in rows],
            "preequilibrationConditionId": [m.preequilibration or "" for m in rows],
            "simulationConditionId": [m.condition for m in rows], "time": [m.time for m in rows],
            "measurement": [m.value for m in rows]})
        for name, values in zip(("simulation", "sigma", "llh"), terms):
            table[name] = np.asarray(values)
        experiment = np.zeros(len(rows), np.int64)
        for o in self.layout.observables:
            experiment[o.rows] = o.experiment
        table["steady_state_reached"] = np.asarray(converged)[experiment]
        return table

    @property
    def experiments(self) -> tuple:
        """The simulated experiments: ``(preequilibrationConditionId or None, simulationConditionId)``."""
        return self.layout.experiments

    def output_times(self) -> np.ndarray:
        """The output times of each experiment, shape (experiments, T): its distinct finite
        measurement times, padded by repeating the last (inf measurements are not included)."""
        return np.asarray(self.layout.times)

    def experiment_parameters(self, theta=None) -> np.ndarray:
        """The model's parameter vector of each experiment's simulation condition, shape
        (experiments, parameters), in the order of ``compiled.parameter_names``."""
        theta = self.nominal_theta() if theta is None else jnp.asarray(theta, jnp.float64)
        _, v = self._values(theta)
        return np.asarray(v[self.layout.condition_parameters][self.layout.experiment_condition])

    def log_likelihood_from_states(self, states, theta=None) -> float:
        """The log-likelihood of trajectories computed elsewhere (another simulator).

        ``states`` has shape (experiments, T, N): the amounts of ``compiled.state_names`` at
        :meth:`output_times` for each of :attr:`experiments`. The observables, noise models
        and overrides are qsp's. Problems with ``inf`` measurements are not supported here.
        """
        if self.layout.steady_state.any():
            raise PetabError("log_likelihood_from_states: the problem has steady-state (inf) measurements.")
        theta = self.nominal_theta() if theta is None else jnp.asarray(theta, jnp.float64)
        q, v = self._values(theta)
        P = v[self.layout.condition_parameters][self.layout.experiment_condition]
        args = [self.compiled.prepare(p) for p in P]
        volumes = jnp.stack([a.volumes for a in args])
        scales = jnp.stack([a.scale for a in args])
        return float(jnp.sum(self._observe(q, v, jnp.asarray(states, jnp.float64), volumes, scales, P)[2]))

    # ------------------------------------------------------------------ internals
    def _check_supported(self):
        layout, compiled = self.layout, self.compiled
        needs_start = len(layout.preequilibrations) > 0 or np.any(layout.condition_initials >= 0)
        rate_rule_states = [n for n in compiled.state_names if n not in compiled.species_names]
        if needs_start and rate_rule_states:
            raise PetabError(f"the model has states set by rate rules ({', '.join(rate_rule_states)}); qsp cannot "
                             "yet start them from a preequilibrated state or a condition's override.",
                             self.tables.files["yaml"])
        self._needs_start = bool(needs_start)
        self._injectable = [compiled.state_index(x.name) for x in self.model.species if not x.constant]

    def _values(self, theta):
        layout = self.layout
        q = jnp.asarray(layout.nominal)
        if layout.estimated.size:
            q = q.at[layout.estimated].set(to_linear(theta, jnp.asarray(layout.scale_codes[layout.estimated])))
        defaults = self.compiled.default_parameters
        base = jnp.where(layout.base_source >= 0, q[np.maximum(layout.base_source, 0)], defaults)
        return q, jnp.concatenate([q, base, jnp.asarray(layout.constants)])

    def _start_regimen(self, delta):
        if not self._needs_start:
            return None
        names = self.compiled.state_names
        return Regimen([Bolus(names[i], amount=delta[i], time=0.0) for i in self._injectable])

    def _simulate(self, p, initial, mask, y_pre, has_pre, ts):
        compiled = self.compiled
        args = compiled.prepare(p)
        y0 = compiled.initial_state(args)
        base = jnp.where(has_pre, y_pre, y0)
        start = jnp.where(mask, initial / args.scale, base)  # overrides are in the species' meaning
        sol = simulate(compiled, ts, params=p, regimen=self._start_regimen(start - y0), **self.options)
        return sol.ys, args.volumes, args.scale

    def _jobs(self):
        """The static plan of simulations: preequilibrations first, then the experiments.

        One ``lax.scan`` runs them all through one traced :func:`qsp.simulate` (one
        compilation): a preequilibration job writes its steady state into the carry, an
        experiment job reads its preequilibration's state from it. Every job has the same
        time grid width; a preequilibration's grid is ``[T/10, T, T, ...]``, an experiment
        with ``inf`` measurements ends in ``T/10, T``. Returns numpy arrays per job:
        condition, preequilibration slot to read (-1: none), slot to write (-1: none), time
        grid, and the two grid columns compared for the steady state (-1: no check).
        """
        layout, T = self.layout, self.steady.time
        times = np.asarray(layout.times, float)
        if layout.steady_state.any():  # inf measurements: the last two outputs are T/10 and T
            tail = np.where(layout.steady_state[:, None], np.array([[T / 10, T]]), times[:, -1:])
            times = np.concatenate([times, tail], axis=1)
        width = max(times.shape[1], 2)
        times = np.concatenate([times, np.repeat(times[:, -1:], width - times.shape[1], axis=1)], axis=1)
        k = len(layout.preequilibrations)
        pre_grid = np.full((k, width), T)
        pre_grid[:, 0] = T / 10
        n_e = len(layout.experiments)
        check_e = np.where(layout.steady_state, width - 2, -1)
        return dict(
            condition=np.concatenate([layout.preequilibrations, layout.experiment_condition]).astype(np.int64),
            read=np.concatenate([-np.ones(k, np.int64), layout.experiment_preequilibration]),
            write=np.concatenate([np.arange(k), -np.ones(n_e, np.int64)]),
            times=np.concatenate([pre_grid, times]),
            check=np.concatenate([np.zeros(k, np.int64), check_e]),
        )

    def _experiments(self, v):
        """States (E, T, N), volumes (E, C), scales (E, N), per-experiment parameter vectors and
        whether every steady state needed was reached."""
        layout, n = self.layout, self.compiled.n_states
        jobs = self._jobs()
        P = v[layout.condition_parameters]
        mask = layout.condition_initials >= 0
        I = jnp.where(mask, v[np.maximum(layout.condition_initials, 0)], 0.0)
        c = jobs["condition"]
        k = len(layout.preequilibrations)
        tol_r, tol_a = self.steady.rtol, self.steady.atol

        def job(pre_states, x):
            p, initial, m, read, write, ts, check = x
            y_pre = pre_states[jnp.maximum(read, 0)]
            ys, volumes, scale = self._simulate(p, initial, m, y_pre, read >= 0, ts)
            a, b = ys[jnp.maximum(check, 0)], ys[jnp.maximum(check, 0) + 1]
            ok = (check < 0) | jnp.all(jnp.abs(b - a) <= tol_r * jnp.abs(b) + tol_a)
            pre_states = jnp.where(write >= 0, pre_states.at[jnp.maximum(write, 0)].set(b), pre_states)
            return pre_states, (ys, volumes, scale, ok)

        xs = (P[c], I[c], jnp.asarray(mask[c]), jnp.asarray(jobs["read"]), jnp.asarray(jobs["write"]),
              jnp.asarray(jobs["times"]), jnp.asarray(jobs["check"]))
        empty = jnp.zeros((max(k, 1), n))
        # a sequential scan, not vmap: measured on the benchmark problems (2-core CPU), vmap over
        # experiments compiles about twice as long and its gradient runs 2x slower (Brannmark:
        # 296 vs 149 ms), while its value is faster only where many experiments take similar
        # steps (Bachmann 0.61 vs 0.99 s, Schwen 52 vs 116 ms)
        _, (ys, volumes, scales, ok) = jax.lax.scan(job, empty, xs)
        pre_ok = ok[:k]
        read = layout.experiment_preequilibration
        ok_e = ok[k:] & jnp.where(read >= 0, pre_ok[np.maximum(read, 0)] if k else True, True)
        return ys[k:], volumes[k:], scales[k:], P[layout.experiment_condition], ok_e

    def _terms(self, theta):
        """The negative log-likelihood; per measurement row the simulation h, sigma and
        log-likelihood term; per experiment whether its steady states were reached."""
        q, v = self._values(theta)
        ys, volumes, scales, P, ok = self._experiments(v)
        terms = self._observe(q, v, ys, volumes, scales, P)
        nll = jnp.where(jnp.all(ok), -jnp.sum(terms[2]), jnp.inf)
        return nll, terms, ok

    def _observe(self, q, v, ys, volumes, scales, P):
        """Per measurement row: h, sigma and the log-likelihood term, from the states ``ys``
        (E, T, N) of every experiment, its volumes (E, C), scales (E, N) and parameters (E, P)."""
        layout, compiled = self.layout, self.compiled
        values = ys * scales[:, None, :]  # each state in its symbol's meaning
        n = len(self.tables.measurements)
        h_all, s_all, l_all = jnp.zeros(n), jnp.zeros(n), jnp.zeros(n)
        compartments = list(self.model.compartments)
        for o in layout.observables:
            env = {}
            for k, symbol in enumerate(o.placeholder_symbols):
                env[symbol] = v[o.placeholder_sources[:, k]]
            for symbol in (o.formula.free_symbols | o.noise.free_symbols):
                if symbol in env:
                    continue
                if symbol in layout.q_symbols:
                    env[symbol] = q[layout.q_symbols[symbol]]
                elif isinstance(symbol, Time):
                    env[symbol] = jnp.asarray(o.time)
                elif isinstance(symbol, Parameter):
                    env[symbol] = P[o.experiment, compiled.parameter_index(symbol.name)]
                elif isinstance(symbol, Compartment):
                    env[symbol] = volumes[o.experiment, compartments.index(symbol)]
                else:  # a species or a rate-rule variable: a state
                    env[symbol] = values[o.experiment, o.time_index, compiled.state_index(symbol.name)]
            h = jnp.broadcast_to(evaluate(o.formula, env), o.value.shape)
            sigma = jnp.broadcast_to(evaluate(o.noise, env), o.value.shape)
            terms = log_likelihood(jnp.asarray(o.value), h, sigma, o.transformation, o.distribution)
            h_all, s_all, l_all = h_all.at[o.rows].set(h), s_all.at[o.rows].set(sigma), l_all.at[o.rows].set(terms)
        return h_all, s_all, l_all

    def _neg_log_likelihood(self, theta):
        return self._terms(theta)[0]


def _on_scale(value: float, scale: str) -> float:
    import math

    if scale == "lin" or not np.isfinite(value):
        return float(value)
    if value <= 0:
        return -math.inf
    return math.log(value) if scale == "log" else math.log10(value)
