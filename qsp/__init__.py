"""qsp: quantitative systems pharmacology and precision dosing.

Build mechanistic models from composable pieces (sympy), compile them through a
reaction graph into differentiable JAX ODEs (diffrax), simulate dosing regimens and
populations. See ``docs/getting-started.md``.
"""

from . import _small_loops

_small_loops.enable_at_import()  # before any JAX computation: XLA reads its flags once (see the module)

import jax as _jax  # noqa: E402

_jax.config.update("jax_enable_x64", True)  # float64 by default (DESIGN.md)

from . import errors  # noqa: E402
from .errors import (  # noqa: E402
    CompileError, DataError, DosingError, ModelError, QSPError, SolverError, UnitError,
)
from .model import (  # noqa: E402
    AssignmentRule, Compartment, Event, Model, Parameter, RateRule, Reaction, Species, Variable, compose, mass_action, time,
)
from .compile import CompiledModel, compile  # noqa: E402
from .dosing import Bolus, Infusion, Regimen, Reset  # noqa: E402
from .graph import ConservationLaw, Dependencies, ReactionGraph  # noqa: E402
from .simulate import PopulationSolution, Solution, simulate, simulate_population  # noqa: E402
from .compilation_cache import enable_compilation_cache, enable_from_environment as _enable_from_environment  # noqa: E402

_enable_from_environment()  # QSP_CACHE_DIR set: keep compiled simulations on disk (see qsp.compilation_cache)

__all__ = [
    "errors", "QSPError", "ModelError", "UnitError", "CompileError", "DosingError", "SolverError", "DataError", "AssignmentRule", "Compartment", "Event", "Model", "Parameter", "RateRule", "Reaction", "Species",
    "Variable", "compose", "mass_action", "time", "CompiledModel", "compile", "Bolus", "Infusion", "Regimen",
    "Reset", "ConservationLaw", "Dependencies", "ReactionGraph", "Solution", "simulate",
    "simulate_population", "PopulationSolution", "enable_compilation_cache",
]
__version__ = "0.1.0"


# Sub-packages and front doors loaded on first use (DESIGN.md: io is lazy; the heavier
# inference/analysis/optimisation layers are not needed to build and simulate a model).
_LAZY = {
    "io": (".io", None),
    "blocks": (".blocks", None),
    "fit": (".inference", "fit"),
    "sensitivity": (".analysis", "sensitivity"),
    "optimize_regimen": (".optimize", "optimize_regimen"),
}


def __getattr__(name):
    # `qsp.io.read_sbml`, `qsp.blocks.one_compartment`, `qsp.fit(...)` work without eager imports
    if name in _LAZY:
        import importlib

        module_name, attribute = _LAZY[name]
        module = importlib.import_module(module_name, __name__)
        return module if attribute is None else getattr(module, attribute)
    raise AttributeError(f"module 'qsp' has no attribute {name!r}")
