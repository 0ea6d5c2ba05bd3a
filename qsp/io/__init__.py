"""Readers and writers: NONMEM datasets, SBML, Antimony, PEtab.

Everything here is imported on first use, so ``import qsp`` needs neither pandas nor
python-libsbml nor antimony nor PyYAML (the ``io`` extra installs them).

Example:
    >>> from qsp.io import read_nonmem, write_nonmem  # doctest: +SKIP
    >>> from qsp.io import read_sbml, write_sbml, read_antimony  # doctest: +SKIP
    >>> from qsp.io import read_petab  # doctest: +SKIP
"""

__all__ = ["read_nonmem", "write_nonmem", "read_sbml", "write_sbml", "read_antimony", "read_petab"]

_LAZY = {"read_nonmem": "nonmem", "write_nonmem": "nonmem", "read_sbml": "sbml", "write_sbml": "sbml_write",
         "read_antimony": "antimony", "read_petab": "petab"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'qsp.io' has no attribute {name!r}")
