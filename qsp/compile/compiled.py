"""CompiledModel: the model's structure as JAX functions of (t, y, p).

The state vector ``y`` holds every species' *amount* (model order), then every
rate-rule variable. The right-hand side is

.. math:: \\frac{dy}{dt} = S \\cdot v(t, y, p) + u(t)

with S the stoichiometry matrix, v the reaction rates (amount/time) and u the input
from infusions. Rates in mass-action form, ``coefficient(p) · Π [X]^n``, are evaluated
together as one gather-and-product over index arrays; every other rate law goes
through one ``sympy.cse``-reduced program. Parameter-only quantities (volumes,
mass-action coefficients) are computed once per simulation by :meth:`prepare`, not at
every step.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from ..errors import CompileError, ModelError
from ..model import Model
from ..model.rules import inline_assignments
from ..model.symbols import Compartment, Parameter, Species, Time, Variable, time
from .row_gather import row_gather
from .treewalk import CSEProgram, evaluate

#: Entries of S up to which dy/dt = S·v is one dense mat-vec; above, gathers row by row
#: (:mod:`.row_gather`). Measured (random mass-action networks, ``"auto"``, jitted, 2-core CPU,
#: dense -> gathers): 32 states (2,560 entries) 2.8 -> 2.8 ms per simulation, first call
#: +0.4 s; 50 states (6,250) 5.2 -> 3.8 ms, +0.3 s; 100 states (25,000) 8.7 -> 3.1 ms, +0.3 s.
DENSE_LIMIT = 4_096
#: Small models get their right-hand side and exact Jacobian as one straight-line program each
#: (symbolic S·v and ∂f/∂y, CSE-reduced): only element-wise scalar arithmetic, which XLA fuses
#: into a few kernels per solver stage, where the index-array form costs a kernel launch per
#: gather, scatter and mat-vec in every stage — which dominates a small model's step. It costs
#: about one kernel per state, though, so a large enough mass-action model (gather, product,
#: one mat-vec, no scatter) is faster in index form. Measured (Rodas5P, jitted, 2-core CPU,
#: interleaved): TMDD with two-compartment PK, n = 4 with general rate laws, 5.8 -> 3.0 ms;
#: random mass-action networks 4 / 6 / 8 / 10 / 16 states: 1.61 -> 0.93, 1.65 -> 1.05,
#: 2.24 -> 1.65, 2.72 -> 3.82 (slower), 4.20 -> 5.97 ms (slower).
#: Re-measured once the step loop of a straight-line model compiled natively (qsp._small_loops;
#: random mass-action networks, "auto", rtol 1e-6, 2-core CPU, index form -> straight line):
#: 10 states 1.93 -> 0.58 ms per simulation, 16 states 2.77 -> 1.33 ms, but the first call of a
#: reverse-mode gradient 6.3 -> 17 s (10 states) and 7.4 -> 34 s (16), forward mode 3.8 -> 11 s and
#: 4.4 -> 17 s. The mass-action limit stays at 8: a fit's first gradient matters more.
STRAIGHT_LINE_MAX_STATES = 16  # with rate laws other than mass action (index form: scatters + jacfwd)
STRAIGHT_LINE_MAX_MASS_ACTION_STATES = 8  # pure mass-action models


def _vector(values, dtype) -> jax.Array:
    """Stack a program's scalar outputs into one array of ``dtype`` (outputs that are constants
    come back from the tree walk as Python numbers; they become JAX scalars here)."""
    return jnp.stack([jnp.asarray(v, dtype=dtype) * jnp.ones((), dtype) for v in values])


class Args(NamedTuple):
    """Per-simulation constants derived from the parameter vector by :meth:`CompiledModel.prepare`."""

    p: jax.Array  # parameter values (P,)
    volumes: jax.Array  # compartment volumes (C,)
    scale: jax.Array  # per state: 1/volume for concentration species, 1 otherwise (N,)
    coefficients: jax.Array  # mass-action rate coefficients (R_ma,)


class _Structure:
    """Everything static about a compiled model (sympy objects, index arrays).

    Hashed by identity, so it can be a static field: a new parameter value never
    changes it and never re-traces.
    """

    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other


def _number(x, what) -> float:
    x = sp.sympify(x)
    if not x.is_number:
        raise CompileError(f"{what} is {x}; stoichiometric coefficients must be numbers.")
    return float(x)


def _mass_action_form(rate: sp.Expr, state_symbols: set):
    """Split ``rate`` into (coefficient, [(species, n), ...]) if it is coefficient × Π species^n
    with the coefficient free of states and time; else None."""
    coefficient, factors = sp.Integer(1), []
    for f in sp.Mul.make_args(rate):
        free = f.free_symbols
        if not (free & state_symbols) and time not in free:
            coefficient = coefficient * f
        elif isinstance(f, Species):
            factors.append((f, 1))
        elif f.is_Pow and isinstance(f.base, Species) and f.exp.is_Integer and int(f.exp) > 0:
            factors.append((f.base, int(f.exp)))
        else:
            return None
    return coefficient, factors


class CompiledModel(eqx.Module):
    """A model compiled to JAX functions; build it with :func:`qsp.compile`.

    Attributes:
        state_names: names of the states (species amounts, then rate-rule variables).
        parameter_names: names of the parameters, in the order of the parameter vector.
        default_parameters: the model's default parameter values.

    Example:
        >>> import qsp
        >>> V, CL = qsp.Parameter("V", 30.0), qsp.Parameter("CL", 3.0)
        >>> A = qsp.Species("A", qsp.Compartment("central", volume=V), initial_amount=100.0)
        >>> cm = qsp.compile(qsp.Model("pk1", reactions=[qsp.Reaction([A], [], rate=CL * A)]))
        >>> args = cm.prepare(cm.parameter_vector())
        >>> float(cm.rhs(0.0, cm.initial_state(args), args)[0])   # -CL * A/V = -3 * 100/30
        -10.0
    """

    structure: _Structure = eqx.field(static=True)
    default_parameters: jax.Array

    # ------------------------------------------------------------------ names
    @property
    def model(self) -> Model:
        """The model this was compiled from."""
        return self.structure.model

    @property
    def state_names(self) -> tuple[str, ...]:
        return self.structure.state_names

    @property
    def species_names(self) -> tuple[str, ...]:
        return self.structure.species_names

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return self.structure.parameter_names

    @property
    def observable_names(self) -> tuple[str, ...]:
        return tuple(self.structure.model.observables)

    @property
    def n_states(self) -> int:
        return len(self.structure.state_names)

    def state_index(self, name: str) -> int:
        """Index of a state (species or rate-rule variable) in ``y``."""
        try:
            return self.structure.state_index[name]
        except KeyError:
            raise ModelError(f"model {self.model.name!r} has no state {name!r}; states: "
                             f"{', '.join(self.state_names)}.") from None

    def parameter_index(self, name: str) -> int:
        """Index of a parameter in the parameter vector."""
        try:
            return self.structure.parameter_index[name]
        except KeyError:
            raise ModelError(f"model {self.model.name!r} has no parameter {name!r}; parameters: "
                             f"{', '.join(self.parameter_names)}.") from None

    # ------------------------------------------------------------------ parameters
    def parameter_vector(self, params: Mapping | jax.Array | None = None) -> jax.Array:
        """The full parameter vector: defaults overridden by ``params`` (a name → value mapping).

        Values may be JAX tracers (``jax.grad``/``vmap`` over them work).
        """
        return jnp.asarray(self.parameter_values(params))

    def parameter_values(self, params: Mapping | jax.Array | None = None):
        """:meth:`parameter_vector`, but a numpy array when every value is a plain number (the
        front door passes it straight to the compiled call: ``jnp.asarray`` alone costs ~70 µs,
        about what a small model's whole re-simulation costs in bookkeeping).

        Example:
            >>> import qsp
            >>> k = qsp.Parameter("k", 0.5)
            >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0), initial_amount=1.0)
            >>> cm = qsp.compile(qsp.Model("decay", reactions=[qsp.mass_action(k, [A], [])]))
            >>> cm.parameter_values({"k": 2.0})
            array([2.])
        """
        s = self.structure  # (one attribute lookup: equinox modules make each one cost µs)
        if params is None:
            return self.default_parameters
        if not isinstance(params, Mapping):
            p = jnp.asarray(params, dtype=jnp.float64)
            if p.shape[-1:] != (len(s.parameters),):
                raise ModelError(f"parameter vector has shape {p.shape}; expected ({len(self.parameter_names)},) "
                                 f"in the order {self.parameter_names}.")
            return p
        index = s.parameter_index
        unknown = [k for k in params if k not in index]
        if unknown:
            raise ModelError(
                f"model {self.model.name!r} has no parameter {unknown[0]!r}; parameters: "
                f"{', '.join(self.parameter_names)}."
            )
        if not any(isinstance(v, (jax.core.Tracer, jax.Array)) for v in params.values()):
            # plain numbers: assemble in numpy (eager per-entry JAX ops cost ~1 ms each)
            values = np.array(s.default_values, dtype=np.float64)
            for name, v in params.items():
                values[index[name]] = float(v)
            return values
        p = self.default_parameters
        names = list(params)
        return p.at[jnp.asarray([index[k] for k in names], jnp.int32)].set(
            jnp.stack([jnp.asarray(params[k], dtype=p.dtype) for k in names]))

    def _parameter_env(self, p) -> dict:
        return {sym: p[i] for i, sym in enumerate(self.structure.parameters)}

    def prepare(self, p: jax.Array) -> Args:
        """Compute the per-simulation constants (volumes, mass-action coefficients) from ``p``."""
        s = self.structure
        env = self._parameter_env(p)
        volumes = jnp.stack([jnp.asarray(v, dtype=p.dtype) for v in s.volume_program.run(env)]) \
            if s.compartments else jnp.zeros((0,), p.dtype)
        env.update({c: volumes[i] for i, c in enumerate(s.compartments)})
        scale = jnp.ones((self.n_states,), p.dtype)
        if s.conc_states.size:
            scale = scale.at[s.conc_states].set(1.0 / volumes[s.conc_compartments])
        if s.ma_monomials is not None:  # one gather-and-product for every coefficient
            constant, numerator, denominator = s.ma_monomials
            values = jnp.concatenate([p, volumes, jnp.ones((1,), p.dtype)])
            coefficients = (constant * jnp.prod(values[numerator], axis=1)) / jnp.prod(values[denominator], axis=1)
        elif s.ma_program is not None:
            coefficients = _vector(s.ma_program.run(env), p.dtype)
        else:
            coefficients = jnp.zeros((0,), p.dtype)
        return Args(p, volumes, scale, coefficients)

    def _env(self, t, y, args: Args) -> dict:
        s = self.structure
        env = self._parameter_env(args.p)
        env.update({c: args.volumes[i] for i, c in enumerate(s.compartments)})
        conc = y * args.scale
        env.update({sym: conc[i] for i, sym in enumerate(s.state_symbols)})
        env[time] = t
        return env

    # ------------------------------------------------------------------ dynamics
    def _general_values(self, t, y, args: Args) -> jax.Array:
        """The CSE program's outputs: general reaction rates, then rate-rule derivatives."""
        out = self.structure.general_program.run(self._env(t, y, args))
        return _vector(out, y.dtype)

    def rates(self, t, y, args: Args, general=None) -> jax.Array:
        """Reaction rates v(t, y, p) in amount per time, in ``model.reactions`` order.

        ``general`` takes already computed :meth:`_general_values` (so :meth:`rhs` runs the
        program once for rates and rate rules together).
        """
        v = self._computed_rates(t, y, args, general)
        # a gather back into reaction order (not scatters, which XLA:CPU runs element by element)
        return v if self.structure.rate_order is None else v[self.structure.rate_order]

    def _computed_rates(self, t, y, args: Args, general=None) -> jax.Array:
        """The rates in the order they are computed: mass-action reactions by their order
        (``ma_groups``: zero-order ones are their coefficient, first-order ones one gather and a
        product, ...), then the general ones."""
        s = self.structure
        parts = []
        if s.ma_index.size:
            conc = y * args.scale
            for lo, hi, order in s.ma_groups:
                v = args.coefficients[lo:hi]
                for k in range(order):
                    v = v * conc[s.ma_index[lo:hi, k]]
                parts.append(v)
        if s.general_reactions.size:
            if general is None:
                general = self._general_values(t, y, args)
            parts.append(general[: s.general_reactions.size])
        if not parts:
            return jnp.zeros((0,), y.dtype)
        return jnp.concatenate(parts) if len(parts) > 1 else parts[0]

    def rhs(self, t, y, args: Args, straight_line: bool = True) -> jax.Array:
        """dy/dt = S · v(t, y, p) (+ rate rules), with ``args = prepare(p)``.

        ``straight_line=False`` evaluates the index-array form even for a small model (see
        ``STRAIGHT_LINE_MAX_STATES``): the same function, computed another way."""
        s = self.structure
        if s.straight is not None and straight_line:
            return _vector(s.straight.rhs.run(self._env(t, y, args)), y.dtype)
        dy = jnp.zeros_like(y)
        general = (self._general_values(t, y, args)
                   if s.general_reactions.size or s.rate_rule_states.size else None)
        if s.n_reactions:
            v = self._computed_rates(t, y, args, general)  # S's columns are in this order
            dy = dy + (s.dense_S @ v if s.dense_S is not None else s.S_gather.apply(v))
        if s.rate_rule_states.size:
            dy = dy.at[s.rate_rule_states].set(general[s.general_reactions.size:])
        return dy

    def jacobian(self, t, y, args: Args) -> jax.Array:
        """∂(dy/dt)/∂y, exact.

        For a pure mass-action model it is assembled from the index arrays:
        :math:`J_{ij} = \sum_r S_{ir}\, \partial v_r / \partial y_j` with
        :math:`\partial v_r/\partial y_j = k_r \prod_{m \ne j} [X_m] \cdot (1/V_j)` per factor —
        a few scatter-adds instead of n forward passes. Otherwise forward-mode autodiff of :meth:`rhs`.
        """
        s = self.structure
        n = y.shape[0]
        if s.straight is not None:
            values = s.straight.jacobian.run(self._env(t, y, args))
            rows = [[None] * n for _ in range(n)]
            for (i, j), v in zip(s.straight.entries, values):
                rows[i][j] = jnp.asarray(v, dtype=y.dtype) * args.scale[j]
            zero = jnp.zeros((), y.dtype)
            return jnp.stack([jnp.stack([zero if v is None else v for v in row]) for row in rows])
        if s.general_reactions.size or s.rate_rule_states.size or not s.ma_index.size:
            return jax.jacfwd(self.rhs, argnums=1)(t, y, args)
        conc = jnp.concatenate([y * args.scale, jnp.ones((1,), y.dtype)])
        scale = jnp.concatenate([args.scale, jnp.zeros((1,), y.dtype)])  # the padding factor is constant
        factors = conc[s.ma_index]  # (R, K)
        order = factors.shape[1]
        partials = jnp.stack([args.coefficients * jnp.prod(jnp.where(jnp.arange(order) == k, 1.0, factors), axis=1)
                              for k in range(order)], axis=1)  # dv_r / d[X_k], per factor position
        dv = partials * scale[s.ma_index]  # dv_r / dy at column ma_index[r, k]
        rows = jnp.repeat(s.ma_S_rows, order)
        cols = s.ma_index[s.ma_S_local].reshape(-1)
        vals = (s.ma_S_vals[:, None] * dv[s.ma_S_local]).reshape(-1)
        return jnp.zeros((n, n + 1), y.dtype).at[rows, cols].add(vals)[:, :n]

    def initial_state(self, args: Args) -> jax.Array:
        """y(0): species' initial amounts and rate-rule variables' initial values."""
        s = self.structure
        env = self._parameter_env(args.p)
        env.update({c: args.volumes[i] for i, c in enumerate(s.compartments)})
        values = s.initial_program.run(env)
        if not values:  # a model of rules and parameters only: nothing to integrate
            return jnp.zeros((0,), args.p.dtype)
        return _vector(values, args.p.dtype)

    # ------------------------------------------------------------------ events
    @property
    def n_events(self) -> int:
        """Number of model events (:class:`~qsp.Event`)."""
        return self.structure.n_events

    def event_triggers(self, t, y, args: Args) -> jax.Array:
        """Boolean array: each event's trigger at ``(t, y)``."""
        values = self.structure.event_trigger_program.run(self._env(t, y, args))
        return _vector(values, bool)

    def apply_events(self, t, y, args: Args, fired) -> jax.Array:
        """The state after the events flagged in ``fired`` (boolean, one per event) execute at ``t``.

        Every assignment is evaluated on the state just before (SBML: values from the trigger
        time); targets are then set in event order. A species value means what its symbol means
        in expressions (a concentration unless amount-based): the amount becomes value / scale.
        """
        s = self.structure
        if s.event_value_program is None:
            return y
        values = s.event_value_program.run(self._env(t, y, args))
        for value, target, owner in zip(values, s.event_targets, s.event_owners):
            amount = jnp.asarray(value, dtype=y.dtype) / args.scale[target]
            y = y.at[target].set(jnp.where(fired[owner], amount, y[target]))
        return y

    # ------------------------------------------------------------------ outputs
    def output_expression(self, name: str) -> sp.Expr:
        """The expression behind a name usable in ``sol[name]``."""
        s = self.structure
        if name in s.outputs:
            return s.outputs[name]
        raise ModelError(
            f"model {self.model.name!r} has no observable, species, variable, parameter or compartment "
            f"named {name!r}; available: {', '.join(s.outputs)}."
        )

    def output(self, name: str, t, y, args: Args):
        """Value of a named quantity (observable, rule variable, species concentration, parameter,
        compartment volume) at one time and state."""
        expr = self.output_expression(name)
        value = evaluate(expr, self._env(t, y, args))
        return jnp.asarray(value, dtype=y.dtype) * jnp.ones((), y.dtype)

    def evaluate_parameter_expression(self, expr: sp.Expr, args: Args):
        """Value of an expression of parameters and compartments (dose lag, F, rate...)."""
        bad = [x.name for x in expr.free_symbols if isinstance(x, (Species, Variable, Time))]
        if bad:
            raise ModelError(f"expression {expr} uses {bad[0]!r}; only parameters and compartments are allowed here.")
        unknown = [x.name for x in expr.free_symbols
                   if isinstance(x, (Parameter, Compartment)) and x.name not in self.structure.symbol_names]
        if unknown:
            raise ModelError(f"expression {expr} uses {unknown[0]!r}, which model {self.model.name!r} does not have; "
                             "declare it with Model(..., parameters=[...]).")
        env = self._parameter_env(args.p)
        env.update({c: args.volumes[i] for i, c in enumerate(self.structure.compartments)})
        return jnp.asarray(evaluate(expr, env), dtype=args.p.dtype)


def compile(model: Model) -> CompiledModel:  # noqa: A001 - the public name is fixed by DESIGN.md
    """Compile a :class:`~qsp.Model` into a :class:`CompiledModel` (structure only: once per model).

    Parameter values are inputs of the compiled functions, never constants inside them.

    Example:
        >>> import qsp
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=2.0), initial_amount=4.0)
        >>> cm = qsp.compile(qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=qsp.Parameter("k", 0.5) * A)]))
        >>> cm.state_names, cm.parameter_names
        (('A',), ('k',))
    """
    if not isinstance(model, Model):
        raise CompileError(f"compile() takes a qsp.Model, got {type(model).__name__}.")
    from ..model.units import check_units; check_units(model)  # noqa: E702 - units before structure (issue 6)
    s = _Structure()
    s.model = model
    s.parameters = model.parameters
    s.parameter_names = tuple(p.name for p in s.parameters)
    s.parameter_index = {n: i for i, n in enumerate(s.parameter_names)}
    s.compartments = model.compartments
    s.species = model.species
    s.species_names = tuple(x.name for x in s.species)
    rate_rules = model.rate_rules
    s.state_symbols = (*s.species, *(r.variable for r in rate_rules))
    s.state_names = tuple(x.name for x in s.state_symbols)
    s.state_index = {n: i for i, n in enumerate(s.state_names)}
    s.symbol_names = set(model.symbols)
    state_set = set(s.state_symbols)
    assignments = list(model.assignment_rules)

    # concentration scaling: species that are not amount-based are seen as amount / volume
    comp_index = {c: i for i, c in enumerate(s.compartments)}
    conc = [(i, comp_index[x.compartment]) for i, x in enumerate(s.species) if not x.amount_based]
    s.conc_states = np.array([i for i, _ in conc], dtype=np.int32)
    s.conc_compartments = np.array([j for _, j in conc], dtype=np.int32)

    s.volume_program = CSEProgram([c.volume for c in s.compartments])

    # reactions: mass-action group and general group
    reactions = model.reactions
    s.n_reactions = len(reactions)
    ma, ma_coefficients, general = [], [], []
    for j, r in enumerate(reactions):
        rate = inline_assignments(r.rate, assignments)
        split = _mass_action_form(rate, state_set)
        if split is not None:
            ma.append((j, split[1]))
            ma_coefficients.append(split[0])
        else:
            general.append((j, rate))
    # mass-action reactions sorted by their order (stable): each order's rates are then one
    # contiguous slice, evaluated with exactly as many gathers as factors (no padding factors)
    by_order = sorted(range(len(ma)), key=lambda i: sum(n for _, n in ma[i][1]))
    ma, ma_coefficients = [ma[i] for i in by_order], [ma_coefficients[i] for i in by_order]
    orders = [sum(n for _, n in f) for _, f in ma]
    s.ma_groups = tuple((orders.index(o), len(orders) - orders[::-1].index(o), o) for o in sorted(set(orders)))
    order = max(orders, default=0)
    pad = len(s.state_symbols)  # index of the appended 1.0
    index = np.full((len(ma), max(order, 1)), pad, dtype=np.int32)
    for row, (_, factors) in enumerate(ma):
        cols = [s.state_index[x.name] for x, n in factors for _ in range(n)]
        index[row, : len(cols)] = cols
    s.ma_reactions = np.array([j for j, _ in ma], dtype=np.int32)
    s.ma_index = index if ma else np.zeros((0, 1), dtype=np.int32)
    s.ma_monomials = _monomial_arrays(ma_coefficients, (*s.parameters, *s.compartments)) if ma else None
    # the general program only where the monomial arrays cannot serve (its cse is the slow part)
    s.ma_program = CSEProgram(ma_coefficients) if ma and s.ma_monomials is None else None
    s.general_reactions = np.array([j for j, _ in general], dtype=np.int32)
    rr_exprs = [inline_assignments(r.expression, assignments) for r in rate_rules]
    s.general_program = CSEProgram([e for _, e in general] + rr_exprs)
    s.rate_rule_states = np.array([s.state_index[r.variable.name] for r in rate_rules], dtype=np.int32)

    # stoichiometry (boundary and constant species are not changed by reactions)
    rows, cols, vals = [], [], []
    for j, r in enumerate(reactions):
        for x, n in r.net_stoichiometry().items():
            if x.boundary or x.constant:
                continue
            rows.append(s.state_index[x.name])
            cols.append(j)
            vals.append(_number(n, f"reaction {r.name!r} stoichiometry of {x.name!r}"))
    s.S_rows, s.S_cols, s.S_vals = (np.array(rows, np.int32), np.array(cols, np.int32), np.array(vals))
    # the stoichiometry entries of mass-action reactions, by local index (for the Jacobian)
    local = {int(j): r for r, j in enumerate(s.ma_reactions)}
    ma_entries = [(row, local[col], val) for row, col, val in zip(s.S_rows, s.S_cols, s.S_vals) if int(col) in local]
    s.ma_S_rows = np.array([e[0] for e in ma_entries], np.int32)
    s.ma_S_local = np.array([e[1] for e in ma_entries], np.int32)
    s.ma_S_vals = np.array([e[2] for e in ma_entries], np.float64)
    n = len(s.state_symbols)
    # rates are computed in the order mass action (by order), then general; S's columns are
    # permuted to that order so that dy/dt needs no reordering of the rates
    computed = np.concatenate([s.ma_reactions, s.general_reactions]).astype(np.int64)
    s.rate_order = None if np.array_equal(computed, np.arange(s.n_reactions)) else \
        np.argsort(computed).astype(np.int32)
    columns = s.S_cols if s.rate_order is None else s.rate_order[s.S_cols]
    if n * max(s.n_reactions, 1) <= DENSE_LIMIT:
        dense = np.zeros((n, s.n_reactions))
        np.add.at(dense, (s.S_rows, columns), s.S_vals)
        s.dense_S, s.S_gather = dense, None
    else:
        s.dense_S, s.S_gather = None, row_gather(s.S_rows, columns, s.S_vals, (n, s.n_reactions))

    pure_mass_action = not (len(general) or len(rate_rules))
    limit = STRAIGHT_LINE_MAX_MASS_ACTION_STATES if pure_mass_action else STRAIGHT_LINE_MAX_STATES
    s.straight = _straight_line(s, reactions, rr_exprs, assignments) if 0 < n <= limit else None

    # initial state: species may refer to other species' initial concentrations
    s.initial_program = CSEProgram(_initial_expressions(model, assignments))

    _compile_events(s, model, assignments)

    # named outputs for sol[name]
    outputs: dict[str, sp.Expr] = {}
    for p in s.parameters:
        outputs[p.name] = p
    for c in s.compartments:
        outputs[c.name] = c
    for x in s.species:
        outputs[x.name] = x if not x.amount_based else x / x.compartment
    for r in rate_rules:
        outputs[r.variable.name] = r.variable
    for r in assignments:
        outputs[r.variable.name] = inline_assignments(r.variable, assignments)
    for key, expr in model.observables.items():
        outputs[key] = inline_assignments(expr, assignments)
    s.outputs = outputs
    s.default_values = tuple(p.value for p in s.parameters)
    defaults = jnp.asarray(s.default_values, dtype=jnp.float64)
    return CompiledModel(structure=s, default_parameters=defaults)


def _monomial_arrays(coefficients, symbols) -> tuple | None:
    """Index arrays that evaluate every mass-action coefficient at once, when each is a monomial
    ``c · Π s_i^{n_i}`` in parameters and compartment volumes with integer exponents (``k · V``,
    ``k / V``, ``2 · k``: what mass-action rate laws give); else ``None``.

    Returns ``(constant (R,), numerator (R, K), denominator (R, L))``: indices into the vector
    ``[p, volumes, 1]`` (a factor with exponent n repeated |n| times; padding points at the
    trailing 1), so that coefficient_r = constant_r · Π values[numerator_r] / Π values[denominator_r].
    Why: one scalar operation per reaction made :meth:`CompiledModel.prepare` of a 500-state
    network (1,250 reactions) take 9.3 s of XLA compilation; the gather-and-product takes ~0.1 s.
    """
    position = {sym: i for i, sym in enumerate(symbols)}
    one = len(symbols)
    constants, numerators, denominators = [], [], []
    for expr in coefficients:
        constant, up, down = 1.0, [], []
        for factor in sp.Mul.make_args(expr):  # (sympy expressions built by compile, never text)
            base, exponent = factor.as_base_exp()
            if factor.is_number:
                constant *= float(factor)
            elif base in position and exponent.is_Integer:
                (up if exponent > 0 else down).extend([position[base]] * abs(int(exponent)))
            else:
                return None
        constants.append(constant)
        numerators.append(up)
        denominators.append(down)

    def padded(rows):
        width = max([len(r) for r in rows] + [1])
        return np.array([r + [one] * (width - len(r)) for r in rows], dtype=np.int32)
    return np.array(constants), padded(numerators), padded(denominators)


#: sympy nodes that differentiation can produce but the tree walk cannot evaluate (e.g. the
#: DiracDelta of d/dx Heaviside): a model whose Jacobian contains one keeps forward-mode AD.
_NOT_EVALUABLE = (sp.Derivative, sp.Subs, sp.DiracDelta)


class _StraightLine(NamedTuple):
    rhs: CSEProgram  # dy_i/dt, i = 0..n-1 (species amounts, then rate-rule variables)
    jacobian: CSEProgram  # the structurally nonzero ∂f_i/∂x_j, x the state symbols
    entries: tuple  # (i, j) of each Jacobian output


def _straight_line(s: _Structure, reactions, rr_exprs, assignments) -> _StraightLine | None:
    """The right-hand side and the exact Jacobian of a small model as two straight-line programs.

    ``f_i = Σ_r S_ir v_r`` (rate-rule states: their expression), with species symbols standing
    for concentrations as everywhere; ``∂f_i/∂y_j = (∂f_i/∂x_j) · scale_j`` where ``x_j`` is the
    state symbol's value (``y_j · scale_j``), so the symbolic derivative is taken in ``x`` and
    scaled at run time. Returns ``None`` (keep the index-array form and forward-mode AD) when a
    derivative has no JAX translation.

    Measured on issue 5's stiff TMDD task (n = 4, Rodas5P, rtol 1e-8, 100 outputs, kon x 1000,
    431 steps; 2-core CPU): 3.5 -> 1.9 ms; the profile's distinct XLA kernels fell from 490 to 344
    (the index form's gathers, scatters and jacfwd passes).
    """
    rates = [inline_assignments(r.rate, assignments) for r in reactions]
    n = len(s.state_symbols)
    f = [sp.Integer(0)] * n
    for row, col, val in zip(s.S_rows, s.S_cols, s.S_vals):
        coefficient = sp.Integer(int(val)) if float(val).is_integer() else sp.Float(val)
        f[int(row)] = f[int(row)] + coefficient * rates[int(col)]
    for k, state in enumerate(s.rate_rule_states):
        f[int(state)] = rr_exprs[k]
    entries, derivatives = [], []
    for i, fi in enumerate(f):
        free = fi.free_symbols
        for j, x in enumerate(s.state_symbols):
            if x not in free:
                continue
            d = sp.diff(fi, x)
            if d.has(*_NOT_EVALUABLE):
                return None
            if d != 0:
                entries.append((i, j))
                derivatives.append(d)
    return _StraightLine(CSEProgram(f), CSEProgram(derivatives), tuple(entries))


def _initial_expressions(model: Model, assignments) -> list[sp.Expr]:
    """Initial amounts (then rate-rule initial values) as expressions of parameters and volumes."""
    species = model.species
    conc_of: dict = {}
    for x in species:
        amount = x.initial_amount_expression()
        conc_of[x] = amount / x.compartment if not x.amount_based else amount
    # resolve species referring to species (fixed point; a cycle is an error)
    for _ in range(len(species) + 1):
        changed = False
        for x in species:
            expr = inline_assignments(conc_of[x], assignments)
            refs = {y: conc_of[y] for y in expr.free_symbols if isinstance(y, Species)}
            if refs:
                expr = expr.xreplace(refs)
                changed = True
            conc_of[x] = expr
        if not changed:
            break
    else:
        raise ModelError(f"model {model.name!r}: species initial values refer to each other in a cycle.")
    out = []
    for x in species:
        value = conc_of[x] * x.compartment if not x.amount_based else conc_of[x]
        out.append(value)
    for r in model.rate_rules:
        expr = inline_assignments(r.variable.initial, assignments)
        expr = expr.xreplace({y: conc_of[y] for y in expr.free_symbols if isinstance(y, Species)})
        out.append(expr)
    for expr in out:
        bad = [x.name for x in expr.free_symbols if isinstance(x, (Species, Variable, Time))]
        if bad:
            raise ModelError(f"model {model.name!r}: an initial value depends on {bad[0]!r}, which has no initial value "
                             "expressible in parameters.")
    return out


def _compile_events(s: _Structure, model: Model, assignments) -> None:
    """Trigger and assignment programs of the model's events (see :meth:`CompiledModel.apply_events`)."""
    events = model.events
    s.n_events = len(events)
    s.event_names = tuple(e.name or f"E{i + 1}" for i, e in enumerate(events))
    s.event_initial_values = np.array([e.initial_value for e in events], dtype=bool)
    triggers, values, targets, owners = [], [], [], []
    for i, e in enumerate(events):
        triggers.append(inline_assignments(e.trigger, assignments))
        for target, expr in e.assignments.items():
            # Model validation has made sure every target is a state (a species that is not
            # constant, or a rate-rule variable)
            values.append(inline_assignments(expr, assignments))
            targets.append(s.state_index[target.name])
            owners.append(i)
    s.event_trigger_program = CSEProgram(triggers) if events else None
    s.event_value_program = CSEProgram(values) if values else None
    s.event_targets = np.array(targets, np.int32)
    s.event_owners = np.array(owners, np.int32)
