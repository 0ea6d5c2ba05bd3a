"""Some decision variables pinned, the others free: re-optimising times after amounts are rounded.

Rounding amounts to available strengths moves the optimum of the *other* variables: a
rounded-down dose may be better given a little earlier. With the amounts pinned at their
rounded values, the times and durations are optimised again from where they were. The
feasible set allows this without new constraints: time and duration constraints (bounds,
clock hours, minimum intervals) do not involve amounts, and the rounded amounts already
keep their own bounds and daily caps (:func:`qsp.optimize.strengths.round_amounts`), with
each dose kept in its clock day.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .feasible import FeasibleMap


class PinnedMap(eqx.Module):
    r"""The reparameterisation :math:`x(z)` of a :class:`FeasibleMap` with the variables ``pinned`` held fixed.

    :math:`x = F(\tilde z)` with :math:`\tilde z` equal to ``template`` except at the ``free``
    positions, which take the unconstrained vector; then the pinned positions are overwritten
    with ``values`` exactly. ``template`` is :math:`F^{-1}` of a feasible point, so the free
    variables see the same intervals as in the full problem.

    Example:
        >>> import numpy as np, qsp
        >>> from qsp.analysis.dose_numbers import DoseNumbers
        >>> from qsp.optimize.decision import Decision
        >>> from qsp.optimize.feasible import feasible_map
        >>> doses = DoseNumbers.from_regimen(qsp.Regimen([qsp.Bolus("A", 100.0, time=t) for t in (8.0, 20.0)]))
        >>> dec = Decision.parse({"amount": "each", "time": "each"}, doses)
        >>> full = feasible_map(dec, doses, time_range=(0.0, 48.0), bounds={"amount": (0.0, 500.0)})
        >>> x = dec.initial(doses)
        >>> pinned = PinnedMap.around(full, x, free=dec.slices()["time"])
        >>> bool(np.allclose(pinned(pinned.inverse(x)), x))   # the round trip
        True
        >>> dec.names()
        ['time shift of dose 1', 'time shift of dose 2', 'amount of dose 1', 'amount of dose 2']
        >>> moved = np.asarray(pinned(pinned.inverse(x) + 1.0))   # free time shifts move, amounts stay
        >>> bool(np.all(moved[:2] != x[:2])), moved[2:].tolist() == x[2:].tolist()
        (True, True)
    """

    base: FeasibleMap
    template: jax.Array
    free: tuple = eqx.field(static=True, converter=lambda v: tuple(int(i) for i in v))
    pinned: tuple = eqx.field(static=True, converter=lambda v: tuple(int(i) for i in v))
    values: jax.Array

    @classmethod
    def around(cls, base: FeasibleMap, x, *, free) -> "PinnedMap":
        """Pin every variable of the feasible point ``x`` except those at ``free`` (indices or a slice)."""
        x = np.asarray(x, np.float64)
        index = np.arange(x.size)
        free_idx = index[free]
        pinned_idx = np.setdiff1d(index, free_idx)
        return cls(base, jnp.asarray(base.inverse(x)), free_idx, pinned_idx, jnp.asarray(x[pinned_idx]))

    def __call__(self, z_free):
        z = self.template.at[jnp.asarray(self.free, int)].set(z_free)
        x = self.base(z)
        if not self.pinned:
            return x
        return x.at[jnp.asarray(self.pinned, int)].set(self.values)

    def inverse(self, x) -> np.ndarray:
        """The free coordinates of :math:`F^{-1}(x)`."""
        return np.asarray(self.base.inverse(np.asarray(x, np.float64)))[list(self.free)]
