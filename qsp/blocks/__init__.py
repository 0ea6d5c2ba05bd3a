"""Pharmacology building blocks: small functions that return model fragments.

Every block returns a :class:`Block`: a frozen object holding the fragment (``block.model``,
a :class:`qsp.Model`) and handles, by role, to the quantities it created or received
(``block["Ac"]`` is the species object itself, ``block.name("C")`` the name to read from a
solution). Blocks that receive the same object share it; :func:`assemble` joins fragments.
Each block's docstring lists the species, reactions, parameters and observables it
creates, its ODEs and its literature source. See ``docs/blocks.md``.

Families: PK disposition (:mod:`.pk`), elimination (:mod:`.elimination`), absorption
(:mod:`.absorption`), plasma protein binding (:mod:`.binding`), target-mediated
disposition (:mod:`.tmdd`), effects (:mod:`.pd`), turnover and indirect response
(:mod:`.turnover`), circadian rhythms (:mod:`.circadian`).
"""

from ._block import Block, assemble
from .absorption import (
    first_order_absorption, transit_absorption, transit_chain_amounts, transit_input_rate, zero_order_absorption,
)
from .binding import protein_binding
from .circadian import circadian_oscillator, cosinor, disease_activity, peak_delay
from .elimination import clearance_split, linear_elimination, michaelis_menten_elimination
from .pk import (
    one_compartment, one_compartment_micro, three_compartment, three_compartment_micro, two_compartment,
    two_compartment_micro,
)
from .pd import effect_compartment, emax, therapeutic_window
from .tmdd import tmdd
from .turnover import indirect_response, turnover

__all__ = [
    "Block", "assemble",
    "one_compartment", "two_compartment", "three_compartment",
    "one_compartment_micro", "two_compartment_micro", "three_compartment_micro",
    "linear_elimination", "michaelis_menten_elimination", "clearance_split",
    "first_order_absorption", "zero_order_absorption", "transit_absorption",
    "transit_chain_amounts", "transit_input_rate",
    "protein_binding", "tmdd",
    "emax", "effect_compartment", "therapeutic_window", "turnover", "indirect_response",
    "cosinor", "circadian_oscillator", "disease_activity", "peak_delay",
]
