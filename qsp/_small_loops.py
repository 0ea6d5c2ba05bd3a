"""Native compilation of small while loops on XLA:CPU, switched on at ``import qsp``.

Why: XLA:CPU runs a compiled program as a sequence of *thunks*, one per fused kernel, and
each thunk costs tens of nanoseconds to dispatch. An adaptive ODE step of a small model is
a few hundred floating-point operations spread over ~45 kernels, so on the 4-state TMDD model
dispatch, not arithmetic, set the speed: ~3 µs per Rodas5P step, 2.4 ms per simulation.

XLA has a remedy: its ``SmallWhileLoopHoistingPass`` compiles a while loop whose body touches
fewer than ``xla_cpu_small_while_loop_byte_threshold`` bytes (XLA's cost analysis; default 1 KiB)
and holds no custom call (LAPACK), scatter or dot into one native function, with no dispatch inside.
qsp raises the threshold to :data:`SMALL_LOOP_BYTES` through ``XLA_FLAGS``. Measured on the 2-core
CI machine, TMDD, ``jax.jit`` of a simulation: 2.4 ms -> 0.47 ms per simulation at rtol 1e-8
(100 outputs), ``jax.grad`` of a loss 28 -> 2.3 ms; a straight-line 8-state network 1.7 -> 0.74 ms.
Larger models evaluate their right-hand side with gathers, scatters and dots, which the pass
leaves alone, and population runs (``vmap``) touch far more bytes than the threshold: both
keep the ordinary thunk path.

The threshold is read once per process, when XLA parses ``XLA_FLAGS`` (backend start-up), so
it can only be set before the first JAX computation. If the process ran JAX code before
``import qsp`` (and did not set the option itself), :func:`active` is False and qsp keeps the
linear solvers that are fastest without it (``rosenbrock._choose_linsolve``); results are the
same either way, only speed differs. A user who sets ``xla_backend_extra_options`` in
``XLA_FLAGS`` keeps their value: qsp adds its key only when the key is absent. To keep XLA's
default, set ``XLA_FLAGS=--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=1024``.
"""

from __future__ import annotations

import os
import re

#: Byte threshold qsp sets (1 MiB). Measured (2-core CPU): 128 KiB already compiles the plain
#: 4-state simulation loop natively, but forward- and reverse-mode loops of an 8-state model
#: need 1 MiB (reverse-mode gradient 14 -> 3.5 ms); index-form models from 10 states up were
#: unchanged (their loops hold gathers, scatters and dots and are not hoisted).
SMALL_LOOP_BYTES = 1 << 20
OPTION = "xla_cpu_small_while_loop_byte_threshold"
_FLAG = "--xla_backend_extra_options"

_active = False


def _backends_started() -> bool:
    """Whether a JAX backend has started (XLA has then parsed its flags). No public API says;
    if this private one moves, assume it has started, so qsp never claims an option it may not
    have set."""
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):
        return True


def enable_at_import() -> bool:
    """Add ``OPTION=SMALL_LOOP_BYTES`` to ``XLA_FLAGS`` if no JAX backend has started yet.

    Returns whether the option is in effect for this process (also :func:`active`): True
    when qsp set it before start-up, or when ``XLA_FLAGS`` already gave it a value of at least
    ``SMALL_LOOP_BYTES`` (a user's own setting always stays; a smaller value, such as XLA's
    default 1024, turns qsp's use of it off).

    Example:
        >>> import qsp._small_loops as small_loops
        >>> small_loops.active() in (True, False)
        True
    """
    global _active
    flags = os.environ.get("XLA_FLAGS", "")
    users = re.search(re.escape(OPTION) + r"=(\d+)", flags)
    if users:
        _active = int(users.group(1)) >= SMALL_LOOP_BYTES
        return _active
    if _backends_started():
        _active = False  # too late: XLA has parsed its flags
        return _active
    match = re.search(re.escape(_FLAG) + r"=(\S*)", flags)
    if match:  # the user's extra options first, then ours (comma-separated key=value pairs)
        flags = flags[: match.end()] + f",{OPTION}={SMALL_LOOP_BYTES}" + flags[match.end():]
    else:
        flags = f"{flags} {_FLAG}={OPTION}={SMALL_LOOP_BYTES}".strip()
    os.environ["XLA_FLAGS"] = flags
    _active = True
    return _active


def active() -> bool:
    """Whether small while loops are compiled natively in this process (see the module doc)."""
    return _active
