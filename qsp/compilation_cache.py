"""JAX's persistent compilation cache, switched on for qsp.

XLA compilation is the expensive part of a first simulation (seconds), and it is the same
work every time a model of the same *structure* is compiled: parameter values, doses and
dose times are data, so two models that differ only in numbers lower to the same program.
JAX can keep compiled programs on disk, keyed by a hash of the program, the compiler
options and the jax/jaxlib versions; a later compile of the same program, in this process
(a model built again) or in a new one (a script run a second time), reads it back instead
of compiling.

qsp does not switch the cache on by itself: it writes files, and where is the user's call.
Call :func:`enable_compilation_cache` once, or set the environment variable
``QSP_CACHE_DIR`` to a directory before ``import qsp`` to have it switched on at import.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache as jax_cache

ENVIRONMENT_VARIABLE = "QSP_CACHE_DIR"


def default_cache_directory() -> Path:
    """Where the cache goes when no directory is given.

    ``$QSP_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/qsp/jax`` (``~/.cache/qsp/jax`` when
    ``XDG_CACHE_HOME`` is unset), following the XDG convention for per-user caches.

    Example:
        >>> isinstance(default_cache_directory(), Path)
        True
    """
    explicit = os.environ.get(ENVIRONMENT_VARIABLE)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "qsp" / "jax"


def enable_compilation_cache(directory: str | os.PathLike | None = None) -> Path:
    """Keep XLA-compiled simulations on disk and reuse them, across models and processes.

    After this call every JAX compilation of this process (qsp's and the user's own) is
    looked up in ``directory`` first and stored there after compiling. A hit skips XLA
    compilation only: Python tracing and lowering still run. Measured on the engine
    benchmark's TMDD model (``benchmarks/bench_first_result.py``): a new process from
    ``import qsp`` to the first table in 4.2 s with a warm cache against 6.7 s without. Entries are
    keyed by a hash of the lowered program, the compile options, the backend and the
    jax/jaxlib versions, so a stale entry is never used; the directory can be deleted at
    any time. Every compilation is cached, however short (``min_compile_time`` 0), because
    qsp's small models compile in fractions of a second each and there are many of them.

    Args:
        directory: where to keep the cache; created if missing. Default:
            :func:`default_cache_directory`.

    Returns:
        The directory in use.

    Example:
        >>> import tempfile, jax, qsp
        >>> previous = jax.config.jax_compilation_cache_dir
        >>> path = qsp.enable_compilation_cache(tempfile.mkdtemp())
        >>> path.is_dir()
        True
        >>> _ = qsp.enable_compilation_cache(previous) if previous else None  # back to the one before
    """
    path = Path(directory).expanduser() if directory is not None else default_cache_directory()
    path.mkdir(parents=True, exist_ok=True)
    if jax.config.jax_compilation_cache_dir not in (None, str(path)):
        # JAX opens its cache once per process; a new directory needs it closed first
        jax_cache.reset_cache()
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)  # -1: no size threshold
    return path


def enable_from_environment() -> Path | None:
    """Switch the cache on at import when ``QSP_CACHE_DIR`` is set; otherwise do nothing."""
    if os.environ.get(ENVIRONMENT_VARIABLE):
        return enable_compilation_cache()
    return None
