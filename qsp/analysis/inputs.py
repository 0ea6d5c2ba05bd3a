"""Named inputs of a simulation: model parameters and dose numbers, as one vector.

Every analysis asks the same question of the simulator — how do the outputs change when
these inputs change? — whether it differentiates (local sensitivity, here), samples (Morris
screening and Sobol indices, later) or perturbs a modelling assumption (the audit, later).
:class:`Inputs` fixes the vocabulary once: a list of names (``"CL"``, ``"dose1.amount"``,
``"dose2.time"``, ``"dose3.duration"``), their nominal values, and a pure JAX map from a
vector of values to a :class:`~qsp.Solution`.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..compile import CompiledModel
from ..errors import ModelError
from ..simulate import Solution, simulate
from .dose_numbers import DoseNumbers

#: Dose numbers that can be inputs, and the kind label each gets.
DOSE_FIELDS = ("amount", "time", "duration")


def dose_input_name(i: int, field: str) -> str:
    """The input name of single dose ``i`` (0-based)'s ``field``: ``dose{i+1}.{field}``."""
    return f"dose{i + 1}.{field}"


class Inputs(eqx.Module):
    """A vector of named simulation inputs: parameters first, then dose numbers.

    ``kinds[j]`` is ``"parameter"``, ``"amount"``, ``"time"`` or ``"duration"``. Dose inputs
    refer to single doses in the order of :meth:`qsp.Regimen.doses` (``additional`` repeats
    expanded), named ``dose1.amount``, ``dose2.time``... Only numbers can be inputs: a
    duration given as an expression of parameters varies through those parameters instead.

    Example:
        >>> import qsp, jax.numpy as jnp
        >>> V, CL = qsp.Parameter("V", 10.0), qsp.Parameter("CL", 1.0)
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=V))
        >>> cm = qsp.compile(qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A}))
        >>> inputs = Inputs.build(cm, regimen=qsp.Bolus(A, amount=100.0, time=0.0), parameters=["CL"])
        >>> inputs.names
        ('CL', 'dose1.amount', 'dose1.time')
        >>> [float(v) for v in inputs.values]
        [1.0, 100.0, 0.0]
    """

    compiled: CompiledModel
    base_parameters: jax.Array
    doses: DoseNumbers
    names: tuple = eqx.field(static=True)
    kinds: tuple = eqx.field(static=True)
    index: tuple = eqx.field(static=True)  # parameter-vector index, or single-dose index

    @classmethod
    def build(cls, compiled: CompiledModel, params: Mapping | None = None, regimen=None, *,
              parameters: Sequence[str] | None = None, doses: Sequence[str] | bool = DOSE_FIELDS) -> "Inputs":
        """Inputs for ``parameters`` (default: every parameter of the model) and the dose
        numbers named in ``doses`` (any of ``"amount"``, ``"time"``, ``"duration"``; ``False``
        for none), for every single dose of ``regimen`` that has them as numbers."""
        if not isinstance(compiled, CompiledModel):
            raise TypeError(f"expected a CompiledModel from qsp.compile(model), got {type(compiled).__name__}.")
        p = compiled.parameter_vector(params)
        parameters = list(compiled.parameter_names if parameters is None else parameters)
        for name in parameters:
            compiled.parameter_index(name)  # raises ModelError naming the unknown parameter
        if doses is True:
            doses = DOSE_FIELDS
        doses = tuple(doses or ())
        bad = [f for f in doses if f not in DOSE_FIELDS]
        if bad:
            raise ModelError(f"doses={doses!r}: {bad[0]!r} is not a dose number; choose among {DOSE_FIELDS}.")
        numbers = DoseNumbers.from_regimen(regimen)
        names = list(parameters)
        kinds = ["parameter"] * len(parameters)
        index = [compiled.parameter_index(n) for n in parameters]
        for field in doses:
            for i, kind in enumerate(numbers.kinds()):
                if kind != "reset" and numbers.has(field, i):
                    names.append(dose_input_name(i, field))
                    kinds.append(field)
                    index.append(i)
        if len(set(names)) != len(names):
            raise ModelError(f"inputs {names} name one quantity twice; list each parameter once.")
        return cls(compiled, jnp.asarray(p), numbers, tuple(names), tuple(kinds), tuple(index))

    @property
    def values(self) -> jax.Array:
        """The nominal input vector."""
        return jnp.asarray([self._nominal(k, i) for k, i in zip(self.kinds, self.index)], jnp.float64)

    def _nominal(self, kind, i):
        return self.base_parameters[i] if kind == "parameter" else self.doses.numbers[kind][i]

    def apply(self, x) -> tuple[jax.Array, DoseNumbers]:
        """The parameter vector and dose numbers with the inputs set to ``x`` (pure JAX)."""
        x = jnp.asarray(x, jnp.float64)
        p = self.base_parameters
        numbers = {}
        for field in ("parameter", *DOSE_FIELDS):
            cols = [j for j, k in enumerate(self.kinds) if k == field]
            if not cols:
                continue
            at = jnp.asarray([self.index[j] for j in cols], jnp.int32)
            if field == "parameter":
                p = p.at[at].set(x[jnp.asarray(cols)])
            else:
                numbers[field] = jnp.asarray(self.doses.numbers[field]).at[at].set(x[jnp.asarray(cols)])
        return p, self.doses.with_numbers(**numbers)

    def simulate(self, x, times, **options) -> Solution:
        """:func:`qsp.simulate` with the inputs set to ``x``; ``options`` go to ``qsp.simulate``."""
        p, doses = self.apply(x)
        return simulate(self.compiled, times, params=p, regimen=doses.regimen(), **options)

    def scale(self) -> np.ndarray:
        """The reference scale of each input for normalised sensitivities: its nominal value for
        parameters, amounts and durations (d log y / d log x), 1 for dose times (d log y / dt,
        as the logarithm of a clock time has no meaning: shifting the time origin would change it)."""
        values = np.asarray(self.values)
        return np.where(np.asarray(self.kinds) == "time", 1.0, values)
