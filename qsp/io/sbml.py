"""SBML (Level 3 Version 2, and the earlier levels libsbml reads) -> :class:`qsp.Model`.

The translation is one to one because qsp's semantics are SBML's (DESIGN.md): species
are integrated as amounts; inside any math a species identifier means its
concentration, or its amount when ``hasOnlySubstanceUnits`` (qsp's ``amount_based``);
a kinetic law is an amount per time. So a kinetic law becomes a reaction rate unchanged,
in non-unit compartments too.

=================================  ==================================================
SBML                               qsp
=================================  ==================================================
compartment (constant size)        :class:`~qsp.Compartment` (volume: the size, or its
                                   initial assignment, an expression of parameters)
species                            :class:`~qsp.Species` (boundary, constant,
                                   ``amount_based`` = hasOnlySubstanceUnits)
species set by a rule              :class:`~qsp.Variable` holding the species' value
                                   in its symbol's meaning (concentration unless
                                   hasOnlySubstanceUnits)
constant parameter                 :class:`~qsp.Parameter`
local parameter ``k`` of ``R1``    :class:`~qsp.Parameter` ``R1_k`` (underscores added
                                   until the name is free)
parameter with a rule              :class:`~qsp.Variable` with that rule
parameter assigned by an event     :class:`~qsp.Variable` with ``RateRule(v, 0)``
parameter with only an initial     :class:`~qsp.Variable` with an assignment rule (when
assignment                         the value is an expression of constants), else with
                                   ``RateRule(v, 0)`` and that initial value
reaction                           :class:`~qsp.Reaction` (stoichiometry; rate = the
                                   kinetic law; participants set by rules are left out,
                                   as SBML makes them boundary species)
reaction identifier in math        the reaction's rate expression
function definition                inlined at each call
csymbol time                       :data:`qsp.time` (taken as 0 in initial values)
event without delay or priority    :class:`~qsp.Event`; one with no trigger or no
                                   assignment can never change anything and is omitted
=================================  ==================================================

The packages layout, render and groups carry no math and are ignored, as is a package
the model marks ``required="false"`` (by the SBML rules it cannot change the core
math); it is noted in :attr:`SBMLTranslation.omitted`. Everything else (delays,
algebraic rules, fast reactions, non-constant compartments, assigned stoichiometry,
stoichiometryMath, conversion factors, event priorities, other SBML packages such as
comp and fbc, rateOf, avogadro...) raises :class:`~qsp.io.mathml.UnsupportedSBMLError`,
which names the construct and the element. Nothing is dropped silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import sympy as sp

from ..model import Model
from .mathml import SBMLError, UnsupportedSBMLError, libsbml

__all__ = ["read_sbml", "translate_sbml", "SBMLTranslation", "SBMLError", "UnsupportedSBMLError", "write_sbml"]

#: libsbml plugins that carry no math (diagrams, grouping) or are part of core L3V2 math
_GRAPHICAL_PACKAGES = {"l3v2extendedmath", "layout", "render", "groups"}


@dataclass
class SBMLTranslation:
    """What :func:`translate_sbml` found: the model and how each SBML identifier maps onto it.

    Attributes:
        model: the :class:`~qsp.Model`.
        values: SBML id → the sympy expression the id stands for in SBML math (a qsp
            symbol, or a reaction's rate expression).
        species: SBML species id → ``(symbol, compartment, amount_based)``; the symbol is a
            :class:`~qsp.Species`, or a :class:`~qsp.Variable` for a species set by a rule,
            holding concentration unless ``amount_based``.
        omitted: what was left out because it cannot change anything, with the reason.
    """

    model: Model
    values: dict = field(default_factory=dict)
    species: dict = field(default_factory=dict)
    omitted: list = field(default_factory=list)

    def amount(self, species_id: str) -> sp.Expr:
        """The expression of a species' amount (for observables)."""
        symbol, compartment, amount_based = self.species[species_id]
        return symbol if amount_based else symbol * compartment

    def concentration(self, species_id: str) -> sp.Expr:
        """The expression of a species' concentration (for observables)."""
        symbol, compartment, amount_based = self.species[species_id]
        return symbol / compartment if amount_based else symbol


def read_sbml(source) -> Model:
    """Read an SBML model (a file path, or the XML text itself) into a :class:`~qsp.Model`.

    See the module docstring for the mapping; unsupported constructs raise
    :class:`~qsp.io.mathml.UnsupportedSBMLError` naming the construct and the element id.

    Example:
        >>> import qsp
        >>> from qsp.io import read_sbml, write_sbml
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=2.0), initial_amount=10.0)
        >>> text = write_sbml(qsp.Model("decay", reactions=[qsp.Reaction([A], [], rate=qsp.Parameter("k", 0.3) * A)]))
        >>> model = read_sbml(text)
        >>> model.reactions[0].rate, [s.name for s in model.species]
        (k*A, ['A'])
    """
    return translate_sbml(source).model


def _document(source):
    lib = libsbml()
    if isinstance(source, bytes):
        source = source.decode()
    if isinstance(source, str) and source.lstrip().startswith("<"):
        doc = lib.readSBMLFromString(source)
    else:
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise SBMLError(f"SBML file {path!r} does not exist (pass a path or the XML text).")
        doc = lib.readSBMLFromFile(path)
    errors = [doc.getError(i) for i in range(doc.getNumErrors())
              if doc.getError(i).getSeverity() >= lib.LIBSBML_SEV_ERROR]
    if errors:
        lines = "; ".join(f"line {e.getLine()}: {e.getShortMessage()} ({e.getMessage().strip()})" for e in errors[:3])
        raise SBMLError(f"the SBML document is invalid: {lines}")
    if doc.getModel() is None:
        raise SBMLError("the SBML document has no <model>.")
    for i in range(doc.getNumPlugins()):
        package = doc.getPlugin(i).getPackageName()
        if package not in _GRAPHICAL_PACKAGES:
            raise UnsupportedSBMLError(f"SBML package {package!r} is not supported by qsp.")
    for i in range(doc.getNumUnknownPackages()):
        if doc.getPackageRequired(doc.getUnknownPackageURI(i)):
            raise UnsupportedSBMLError(f"SBML package {doc.getUnknownPackagePrefix(i)!r} "
                                       f"({doc.getUnknownPackageURI(i)}) is required by the model and not "
                                       "supported by qsp.")
    return doc


def translate_sbml(source) -> SBMLTranslation:
    """Like :func:`read_sbml`, but also returns how each SBML identifier maps onto the model.

    Example:
        >>> import qsp
        >>> from qsp.io import write_sbml
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=2.0), initial_amount=10.0)
        >>> text = write_sbml(qsp.Model("decay", reactions=[qsp.Reaction([A], [], rate=qsp.Parameter("k", 0.3) * A)]))
        >>> tr = translate_sbml(text)
        >>> tr.amount("A") == tr.model.symbol("A") * tr.model.symbol("c")    # amount = [A] * size
        True
    """
    from .sbml_reader import Reader

    doc = _document(source)
    translation = Reader(doc).translate()
    for i in range(doc.getNumUnknownPackages()):  # not required: by the SBML rules, no effect on the math
        translation.omitted.append(f"SBML package {doc.getUnknownPackagePrefix(i)!r}: not required by the model, "
                                   "so it does not change its math")
    return translation


def write_sbml(model) -> str:
    """Write a :class:`~qsp.Model` as SBML Level 3 Version 2 text (see :mod:`qsp.io.sbml_write`)."""
    from .sbml_write import write_sbml as _write

    return _write(model)
