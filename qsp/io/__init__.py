"""Dataset input and output (pandas is optional: imported only when reading or writing).

Example:
    >>> from qsp.io import read_nonmem, write_nonmem  # doctest: +SKIP
"""

__all__ = ["read_nonmem", "write_nonmem"]


def __getattr__(name):
    if name in ("read_nonmem", "write_nonmem"):
        from . import nonmem

        return getattr(nonmem, name)
    raise AttributeError(f"module 'qsp.io' has no attribute {name!r}")
