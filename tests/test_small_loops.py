"""Native compilation of small while loops (``qsp._small_loops``) and the solver path it enables.

The option only changes how XLA:CPU executes a loop, never what it computes, so the checks are:
that ``import qsp`` sets it (or leaves it alone when it cannot or need not), that a small
model's step loop really compiles into one native function (a speed regression guard: the
loop's ~45 kernel dispatches per step cost 5x its arithmetic), and that a model taking the
LAPACK-free linear solver through that loop matches a matrix-exponential oracle, gradient
included.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import qsp
from qsp import _small_loops
from qsp.simulate import rosenbrock as rb


def _run(code: str, env_flags: str | None) -> str:
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    if env_flags is not None:
        env["XLA_FLAGS"] = env_flags
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


REPORT = "import os, qsp; print(qsp._small_loops.active()); print(os.environ.get('XLA_FLAGS'))"


def test_import_sets_the_option_in_a_fresh_process():
    active, flags = _run(REPORT, None).splitlines()
    assert active == "True"
    assert flags == f"--xla_backend_extra_options={_small_loops.OPTION}={_small_loops.SMALL_LOOP_BYTES}"


def test_import_keeps_the_users_extra_options_and_flags():
    user = "--xla_backend_extra_options=xla_cpu_disable_loop_unrolling=false --xla_cpu_enable_fast_math=false"
    active, flags = _run(REPORT, user).splitlines()
    assert active == "True"
    assert flags == ("--xla_backend_extra_options=xla_cpu_disable_loop_unrolling=false,"
                     f"{_small_loops.OPTION}={_small_loops.SMALL_LOOP_BYTES} --xla_cpu_enable_fast_math=false")


def test_a_users_own_threshold_wins():
    # a smaller value (XLA's default is 1024) keeps loops on the thunk path: qsp then keeps LAPACK
    for value, expected in ((4096, "False"), (1 << 22, "True")):
        user = f"--xla_backend_extra_options={_small_loops.OPTION}={value}"
        active, flags = _run(REPORT, user).splitlines()
        assert (active, flags) == (expected, user)


def test_too_late_after_jax_has_started():
    # JAX ran before qsp was imported: XLA has read its flags, so qsp neither pretends nor edits
    code = "import jax.numpy as jnp; jnp.ones(1)\n" + REPORT
    active, flags = _run(code, None).splitlines()
    assert (active, flags) == ("False", "None")


def _all_loops_native(jitted, *args) -> bool:
    """Whether every while loop of the compiled program was hoisted into a natively compiled
    call: XLA marks those calls ``xla_cpu_small_call``, and no ``while`` is left at the top."""
    text = jitted.lower(*args).compile().as_text()
    entry = text[text.index("\nENTRY"):]
    entry = entry[: entry.index("\n}\n")]
    return 'xla_cpu_small_call="true"' in text and not re.search(r"\swhile\(", entry)


@pytest.mark.skipif(not _small_loops.active(), reason="JAX started before qsp was imported in this test process")
def test_small_model_step_loop_compiles_natively(tmdd_case):
    # conftest's TMDD: 4 states, the dose in the initial state
    compiled = tmdd_case.compiled
    run = jax.jit(lambda p: qsp.simulate(compiled, jnp.asarray(tmdd_case.ts), params=p).ys)
    assert _all_loops_native(run, {"kon": jnp.asarray(10.0)}), "a while loop of the simulation still runs as thunks"


def _chain_model(n: int):
    # a linear chain of n one-litre compartments, k_i X_i -> X_{i+1}, k_n X_n -> out: straight-line
    # right-hand side (mass action, n <= 8), n = 6 takes the looped LAPACK-free inverse
    ks = [qsp.Parameter(f"k{i}", float(v)) for i, v in enumerate(np.logspace(-1, 2, n))]
    comp = qsp.Compartment("c", volume=1.0)
    xs = [qsp.Species(f"X{i}", comp, initial_amount=1.0 if i == 0 else 0.0) for i in range(n)]
    reactions = [qsp.mass_action(ks[i], [xs[i]], [xs[i + 1]] if i + 1 < n else []) for i in range(n)]
    return qsp.Model("chain", reactions=reactions), [float(k.value) for k in ks]


def _chain_expm(k, t):
    n = len(k)
    a = np.diag(-np.asarray(k)) + np.diag(np.asarray(k[:-1]), -1)
    y0 = np.zeros(n)
    y0[0] = 1.0
    return np.stack([scipy.linalg.expm(a * ti) @ y0 for ti in t])


def test_looped_inverse_path_against_expm_with_gradient():
    n = 6
    model, k = _chain_model(n)
    compiled = qsp.compile(model)
    assert compiled.structure.straight is not None
    expected = "looped" if _small_loops.active() else "inv"
    assert rb._choose_linsolve(n, "reverse", native_loop=_small_loops.active()) == expected
    ts = np.linspace(0.0, 5.0, 11)
    run = jax.jit(lambda p: qsp.simulate(compiled, jnp.asarray(ts), params=p).ys)
    params = {f"k{i}": jnp.asarray(v) for i, v in enumerate(k)}
    ys = np.asarray(run(params))
    if _small_loops.active():  # the looped elimination pays only inside a natively compiled loop
        assert _all_loops_native(run, params)
    ref = _chain_expm(k, ts)
    # default rtol 1e-8: global error a few 1e-8 of the peak; 1e-6 is the defaults' promise
    np.testing.assert_allclose(ys, ref, rtol=1e-6, atol=1e-9)

    # d(sum of the last state)/d k2 through the native loop, against central differences of expm
    loss = lambda p: jnp.sum(qsp.simulate(compiled, jnp.asarray(ts), params=p).ys[:, -1])  # noqa: E731
    grad = float(jax.jit(jax.grad(loss))(params)["k2"])
    h = 1e-5 * k[2]
    up, down = list(k), list(k)
    up[2] += h
    down[2] -= h
    fd = (_chain_expm(up, ts)[:, -1].sum() - _chain_expm(down, ts)[:, -1].sum()) / (2 * h)
    # central difference truncation ~h^2 |f'''| and the solver's 1e-8 rtol: 1e-6 relative
    assert abs(grad - fd) <= 1e-6 * abs(fd)
