"""Model building: symbols, reactions, rules and the Model (sympy only, no JAX)."""

from .events import Event
from .model import Model, compose
from .reaction import Reaction, mass_action
from .rules import AssignmentRule, RateRule
from .symbols import Compartment, ModelSymbol, Parameter, Species, Time, Variable, time

__all__ = ["Event", "Model", "compose", "Reaction", "mass_action", "AssignmentRule", "RateRule", "Compartment",
           "ModelSymbol", "Parameter", "Species", "Time", "Variable", "time"]
