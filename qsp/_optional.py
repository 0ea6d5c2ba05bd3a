"""Optional dependencies: import one, or say how to install it."""

from __future__ import annotations

import importlib


def optional_import(module: str, purpose: str, extra: str, package: str):
    """The module ``module``, or an ImportError naming what needs it and how to install it.

    Example:
        >>> optional_import("math", "counting", "io", "math").sqrt(4.0)
        2.0
        >>> optional_import("no_such_module", "flying", "io", "wings")
        Traceback (most recent call last):
        ...
        ImportError: flying needs wings: pip install 'qsp[io]' (or pip install wings).
    """
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(f"{purpose} needs {package}: pip install 'qsp[{extra}]' (or pip install {package}).") from None
