"""Antimony (the human-readable model language of Tellurium) -> :class:`qsp.Model`.

The ``antimony`` package translates the text to SBML; :func:`qsp.io.read_sbml` reads
that. Nothing of the text is evaluated by qsp itself.
"""

from __future__ import annotations

from ..model import Model
from .._optional import optional_import
from .mathml import SBMLError
from .sbml import read_sbml


def _antimony():
    return optional_import("antimony", "reading Antimony", "io", "antimony")


def antimony_to_sbml(text: str) -> str:
    """The SBML text of the main module of an Antimony model.

    Raises:
        SBMLError: Antimony could not read the text (its message is included).

    Example:
        >>> sbml = antimony_to_sbml("model m; A -> ; k*A; A = 10; k = 0.5; end")
        >>> "<sbml" in sbml
        True
    """
    if not isinstance(text, str):
        raise SBMLError(f"read_antimony() takes the model text as a string, got {type(text).__name__}.")
    antimony = _antimony()
    antimony.clearPreviousLoads()  # the library keeps every loaded module in global state
    if antimony.loadAntimonyString(text) < 0:
        raise SBMLError(f"Antimony could not read the model: {antimony.getLastError().strip()}")
    module = antimony.getMainModuleName()
    sbml = antimony.getSBMLString(module)
    if not sbml:
        raise SBMLError(f"Antimony produced no SBML for module {module!r}: {antimony.getLastError().strip()}")
    return sbml


def read_antimony(text: str) -> Model:
    """Read an Antimony model into a :class:`~qsp.Model` (through SBML, see :func:`qsp.io.read_sbml`).

    Antimony's ``A -> B; k*A`` is a reaction whose rate ``k*A`` is in amount per time with
    ``A`` a concentration, exactly as in qsp; species declared with ``substanceOnly`` are
    qsp's ``amount_based``.

    Example:
        >>> m = read_antimony('''
        ...     model decay
        ...       compartment c = 2;
        ...       species A in c = 10;   // a concentration: amount 20
        ...       J0: A -> ; k*A*c;
        ...       k = 0.5;
        ...     end''')
        >>> m.reactions[0].rate, m.symbol("A").initial_concentration
        (c*k*A, 10.0000000000000)
    """
    return read_sbml(antimony_to_sbml(text))
