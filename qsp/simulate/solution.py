"""Solution: the simulated trajectory, queried by name."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..compile import Args, CompiledModel


class Solution(eqx.Module):
    """The result of :func:`qsp.simulate`.

    ``sol[name]`` gives, at each output time, an observable, an assignment-rule variable,
    a rate-rule variable, a species' concentration (amount / volume, also for an amount-based species),
    a parameter or a compartment's volume; ``sol.amount(name)`` a species' amount.
    Everything is a JAX array, so a ``Solution`` can be used inside ``jax.jit`` and
    differentiated.

    Attributes:
        ts: output times (T,).
        ys: states at the output times (T, N): species amounts, then rate-rule variables.
        n_steps: solver steps attempted (accepted and rejected) over the whole simulation, an
            int32 scalar (``None`` where unknown): the cost of the solve, e.g. to compare
            tolerances or solvers, or to see that a parameter set made the model stiff.

    Example:
        >>> import qsp, jax.numpy as jnp
        >>> V, CL = qsp.Parameter("V", 10.0), qsp.Parameter("CL", 1.0)
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=V), initial_amount=100.0)
        >>> cm = qsp.compile(qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A}))
        >>> sol = qsp.simulate(cm, jnp.array([0.0, 10.0]))
        >>> [round(float(c), 4) for c in sol["C"]]    # 10 * exp(-0.1 * t)
        [10.0, 3.6788]
    """

    compiled: CompiledModel
    ts: jax.Array
    ys: jax.Array
    args: Args
    n_steps: jax.Array | None = None

    def __getitem__(self, name: str) -> jax.Array:
        return _trajectory_function(self.compiled, name)(self.ts, self.ys, self.args)

    def amount(self, name: str) -> jax.Array:
        """Amount of a species (or value of a rate-rule variable) at each output time."""
        return self.ys[:, self.compiled.state_index(name)]

    def concentration(self, name: str) -> jax.Array:
        """Concentration of a species (amount / volume) at each output time."""
        species = self.compiled.model.symbol(name)
        volume = self.args.volumes[self.compiled.model.compartments.index(species.compartment)]
        return self.amount(name) / volume

    @property
    def names(self) -> tuple[str, ...]:
        """Every name usable in ``sol[name]``."""
        return tuple(self.compiled.structure.outputs)

    def to_pandas(self, names=None):
        """A table with a ``time`` column and one column per name (default: observables,
        then species concentrations, then rule variables)."""
        import pandas as pd

        if names is None:
            model = self.compiled.model
            names = [*model.observables, *self.compiled.species_names,
                     *(r.variable.name for r in model.rules)]
        names = tuple(names)
        values = np.asarray(_trajectory_function(self.compiled, names)(self.ts, self.ys, self.args))
        data = {"time": np.asarray(self.ts)}
        for k, name in enumerate(names):
            data[name] = values[:, k]
        return pd.DataFrame(data)

    def __repr__(self) -> str:
        return (f"Solution({self.compiled.model.name!r}: {self.ts.shape[0]} times from {float(self.ts[0]):g} "
                f"to {float(self.ts[-1]):g}, states {self.compiled.state_names})")


def _trajectory_function(compiled: CompiledModel, names: str | tuple[str, ...]):
    """``(ts, ys, args) -> values`` of named outputs along a trajectory: for one name (a str)
    its values (T,), for a tuple of names their columns (T, len(names)). Jitted and cached per
    model structure and names.

    Why cached: outside ``jit`` an expression's tree walk is traced once per name, not at every
    ``sol[name]`` (it cost ~0.3 s each time); inside ``jit`` it inlines. Why one function for
    several names: a table's columns then cost one trace and one XLA compile, not one each
    (``to_pandas`` of the 4-state TMDD model: 0.18 -> 0.07 s on the first call)."""
    structure = compiled.structure
    cache = structure.__dict__.setdefault("_trajectory_functions", {})
    if names not in cache:
        single = isinstance(names, str)
        listed = (names,) if single else tuple(names)
        exprs = [compiled.output_expression(name) for name in listed]  # raises for an unknown name
        fixed = set(structure.parameters) | set(structure.compartments)
        constant = [expr.free_symbols <= fixed for expr in exprs]

        def column(name, is_constant, ts, ys, args):
            if is_constant:
                return jnp.broadcast_to(compiled.output(name, ts[0], ys[0], args), ts.shape)
            return jax.vmap(lambda t, y: compiled.output(name, t, y, args))(ts, ys)

        def values(ts, ys, args):
            columns = [column(name, c, ts, ys, args) for name, c in zip(listed, constant)]
            if single:
                return columns[0]
            return jnp.stack(columns, axis=-1) if columns else jnp.zeros((*ts.shape, 0), ys.dtype)

        cache[names] = jax.jit(values)
    return cache[names]
