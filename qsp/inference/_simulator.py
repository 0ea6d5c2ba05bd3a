"""The one place where inference reaches into the simulator.

Estimation batches subjects with ``vmap`` and passes their regimens' *numbers* as traced
arrays (so new data never recompiles), which needs the simulator's split form of a regimen
(static structure + numbers). :func:`qsp.simulate` takes a ``Regimen`` object, so this
module wraps the same core that :func:`qsp.simulate` and :func:`qsp.simulate_population`
call (``simulate_core``), with the same option handling and the same regimen checks.
No ODE is solved here: every solve is the simulator's.
"""

from __future__ import annotations

import numpy as np

from ..simulate import solver_options
from ..simulate.population import batch_regimens
from ..simulate.solve import simulate_core

__all__ = ["solver_options", "split_regimens", "simulate_states"]


def split_regimens(compiled, regimens, t0s):
    """One shared regimen structure and per-subject numbers (subjects first), checked as
    :func:`qsp.simulate` checks them (doses before the start time, steady-state limits)."""
    from ..simulate import _check_regimen_numbers
    from ..simulate.events import split_regimen

    for regimen, t0 in zip(regimens, t0s):
        structure, numbers = split_regimen(compiled, regimen)
        _check_regimen_numbers(structure, numbers, t0)
    structure, numbers = batch_regimens(compiled, regimens)
    return structure, {k: np.asarray(v, dtype=float) for k, v in numbers.items()}


def simulate_states(compiled, times, before, p, structure, numbers, options, t0):
    """States at ``times`` (T, N), the failure marker (2,) (``[-1, -1]`` when the solve
    succeeded) and the prepared args, for one subject; pure JAX."""
    return simulate_core(compiled, times, before, p, structure, numbers, options, t0)[:3]
