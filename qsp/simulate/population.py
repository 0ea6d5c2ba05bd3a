"""Virtual populations: many subjects in one compiled, chunked call.

Subjects may differ in parameters, covariates, output times (same count) and regimens —
even in the number of doses: regimens are padded to one shared structure with disabled
doses, so a single compiled simulation serves every chunk. Within a chunk the subjects run
either one after another (``lax.map``) or in lockstep (``vmap``): see :func:`batching_mode`.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import _small_loops
from ..compile import CompiledModel
from ..dosing import Regimen, as_regimen
from ..errors import DosingError, SolverError
from .balance import MIN_CHUNKS, features, first_chunk, rest_by_predicted_cost, with_products
from .events import RegimenStructure, split_regimen
from .solution import Solution, _trajectory_function
from .solve import NativeSolver, SolverOptions, simulate_core

BATCHING = ("auto", "map", "vmap")


def batching_mode(compiled: CompiledModel, options: SolverOptions, batching: str = "auto") -> str:
    """How the subjects of a chunk run: ``"map"`` (one after another, ``lax.map``) or
    ``"vmap"`` (in lockstep).

    ``"auto"`` picks ``"map"`` where one subject's step loop compiles into a single native
    function (:mod:`qsp._small_loops`: XLA:CPU, a straight-line model of up to 16 states, one of
    qsp's own solvers), and ``"vmap"`` elsewhere. Why: under ``vmap`` every step of every
    subject goes through XLA:CPU's kernel-by-kernel dispatch (~45 kernels a step) and the chunk
    steps until its slowest subject is done, while the native loop has no dispatch at all.
    Measured on the 2-core CI machine (issue 5's TMDD, 1,024 patients, 100 outputs, rtol 1e-6,
    one core): ``vmap`` 0.51 ms per patient, ``lax.map`` 0.18 ms. On a GPU, and for models
    whose loop does not compile natively (gathers, LAPACK, diffrax's solvers), lockstep is the
    one that keeps the hardware busy.

    Example:
        >>> import qsp
        >>> from qsp.simulate import solver_options
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=1.0), initial_amount=1.0)
        >>> cm = qsp.compile(qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=qsp.Parameter("k", 1.0) * A)]))
        >>> batching_mode(cm, solver_options(None, None, None, None, None), "vmap")
        'vmap'
    """
    if batching not in BATCHING:
        raise SolverError(f"unknown batching={batching!r}; use one of {', '.join(map(repr, BATCHING))}.")
    if batching != "auto":
        return batching
    native = (jax.default_backend() == "cpu" and _small_loops.active()
              and compiled.structure.straight is not None and isinstance(options.solver, NativeSolver))
    return "map" if native else "vmap"


@eqx.filter_jit
def _population_core(compiled, ts, flags, P, structure, numbers, options, t0):
    """Every subject of a chunk: in lockstep (``options.batched``, ``vmap``) or one after
    another (``lax.map``)."""
    def one(xs):
        ts_, flags_, p, num, t0_ = xs
        return simulate_core(compiled, ts_, flags_, p, structure, num, options, t0_)
    xs = (ts, flags, P, numbers, t0)
    return jax.vmap(one)(xs) if options.batched else lax.map(one, xs)


def _signature(spec):
    return dataclasses.replace(spec, infusion_id=-1)


def _merge(unified: list, sequence: list) -> tuple[list, list[int]]:
    """Shortest merge of ``sequence`` into ``unified`` keeping both orders (LCS);
    returns the new unified list and, for each element of ``sequence``, its slot."""
    n, m = len(unified), len(sequence)
    lcs = np.zeros((n + 1, m + 1), dtype=np.int64)
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            lcs[i, j] = lcs[i + 1, j + 1] + 1 if unified[i] == sequence[j] else max(lcs[i + 1, j], lcs[i, j + 1])
    merged, slots, i, j = [], [], 0, 0
    while i < n or j < m:
        if i < n and j < m and unified[i] == sequence[j]:
            slots.append(len(merged))
            merged.append(unified[i])
            i, j = i + 1, j + 1
        elif j >= m or (i < n and lcs[i + 1, j] >= lcs[i, j + 1]):
            merged.append(unified[i])
            i += 1
        else:
            slots.append(len(merged))
            merged.append(sequence[j])
            j += 1
    return merged, slots


def batch_regimens(compiled: CompiledModel, regimens: Sequence[Regimen]) -> tuple[RegimenStructure, dict]:
    """One shared regimen structure for many subjects and stacked numbers (subjects first).

    Subjects with fewer doses (or doses of other kinds) get disabled padding doses, so
    dose order within each subject — which breaks ties at equal times — is preserved.
    """
    cache: dict[int, tuple] = {}  # a regimen shared by many subjects is split once
    splits = []
    for r in regimens:
        if id(r) not in cache:
            cache[id(r)] = split_regimen(compiled, as_regimen(r))
        splits.append(cache[id(r)])
    unified: list = []
    for structure in {id(s): s for s, _ in splits}.values():
        unified, _ = _merge(unified, [_signature(d) for d in structure.doses])
    # re-number infusion slots in the unified structure
    specs, n_inf = [], 0
    for sig in unified:
        if sig.kind == "infusion":
            specs.append(dataclasses.replace(sig, infusion_id=n_inf))
            n_inf += 1
        else:
            specs.append(sig)
    structure = RegimenStructure(tuple(specs), n_inf)
    keys = ("time", "amount", "lag", "bioavailability", "rate", "duration", "interval", "enabled")
    stacked = {k: np.zeros((len(splits), len(specs))) for k in keys}
    # padding doses: amount 0, and harmless values elsewhere (a zero duration would give 0/0)
    for k in ("bioavailability", "interval", "rate", "duration"):
        stacked[k][:] = 1.0
    traced = {k: [None] * len(splits) for k in keys}
    rows: dict[int, list[int]] = {}  # the subjects of each distinct regimen: filled in one assignment
    for s, split in enumerate(splits):
        rows.setdefault(id(split), []).append(s)
    for members in rows.values():
        own, numbers = splits[members[0]]
        slots = _merge(unified, [_signature(d) for d in own.doses])[1]
        for k in keys:
            values = numbers[k]
            if isinstance(values, np.ndarray):
                stacked[k][np.ix_(members, slots)] = values
            else:
                for s in members:
                    traced[k][s] = (slots, values)
    out = {}
    for k in keys:
        if any(t is not None for t in traced[k]):
            arr = jnp.asarray(stacked[k])
            for s, t in enumerate(traced[k]):
                if t is not None:
                    arr = arr.at[s, jnp.asarray(t[0], jnp.int32)].set(t[1])
            out[k] = arr
        else:
            out[k] = stacked[k]
    return structure, out


class PopulationSolution:
    """The result of :func:`simulate_population`: one trajectory per subject.

    ``pop[name]`` has shape (subjects, times); ``pop.to_pandas()`` is a tidy table
    (ID, time, outputs); ``pop.subject(i)`` is subject i's :class:`Solution`;
    :meth:`exposure` summarises Cmax, Tmax, trough, AUC and time in a window.

    Example:
        >>> import qsp, jax.numpy as jnp
        >>> V, CL = qsp.Parameter("V", 10.0), qsp.Parameter("CL", 1.0)
        >>> A = qsp.Species("A", qsp.Compartment("c", volume=V))
        >>> cm = qsp.compile(qsp.Model("m", reactions=[qsp.Reaction([A], [], rate=CL * A)], observables={"C": A}))
        >>> pop = qsp.simulate_population(cm, jnp.array([0.0, 1.0]), params={"CL": jnp.array([1.0, 2.0])},
        ...                               regimen=qsp.Regimen([qsp.Bolus(A, amount=10.0)]))
        >>> pop["C"].shape
        (2, 2)
    """

    def __init__(self, compiled: CompiledModel, ts, ys, args, ids, n_steps=None):
        self.compiled, self.ts, self.ys, self.args, self.ids = compiled, ts, ys, args, ids
        self.n_steps = n_steps  # (S,) solver steps attempted per subject (see Solution.n_steps)

    def __len__(self) -> int:
        return self.ys.shape[0]

    def subject(self, i: int) -> Solution:
        """Subject ``i`` (0-based position) as a :class:`Solution`."""
        args = jax.tree_util.tree_map(lambda a: a[i], self.args)
        return Solution(self.compiled, self.ts[i], self.ys[i], args,
                        None if self.n_steps is None else self.n_steps[i])

    def __getitem__(self, name: str) -> jax.Array:
        return self._values(name)

    def _values(self, names: str | tuple[str, ...]) -> jax.Array:
        """One named output of every subject (S, T), or several (S, T, len(names)) in one
        compiled call."""
        cache = self.compiled.structure.__dict__.setdefault("_population_trajectory_functions", {})
        if names not in cache:  # traced once per model structure and names (see _trajectory_function)
            cache[names] = jax.jit(jax.vmap(_trajectory_function(self.compiled, names)))
        return cache[names](self.ts, self.ys, self.args)

    def to_pandas(self, names=None):
        """Tidy table: one row per subject and time, columns ID, time and the outputs."""
        import pandas as pd

        model = self.compiled.model
        names = list(names) if names is not None else [*model.observables, *self.compiled.species_names]
        n, t = self.ys.shape[:2]
        values = np.asarray(self._values(tuple(names)))
        data = {"ID": np.repeat(np.asarray(self.ids), t), "time": np.asarray(self.ts).reshape(-1)}
        for k, name in enumerate(names):
            data[name] = values[..., k].reshape(-1)
        return pd.DataFrame(data)

    def exposure(self, name: str, *, start=None, end=None, window=None):
        """Per-subject exposure summary of output ``name`` over [start, end] (default: all times).

        See :func:`qsp.simulate.exposure.summarise` for the definitions.
        """
        from .exposure import summarise

        return summarise(np.asarray(self.ts), np.asarray(self[name]), ids=self.ids, start=start, end=end,
                         window=window)


def simulate_population(compiled: CompiledModel, times, params: Mapping | None = None,
                        regimen: Regimen | Sequence[Regimen] | None = None, *, ids=None, before=None, t0=None,
                        chunk_size: int = 512, progress: bool | None = None, solver=None, rtol=None, atol=None,
                        max_steps=None, adjoint=None, n_subjects: int | None = None,
                        balance: bool = True, batching: str = "auto") -> PopulationSolution:
    """Simulate many subjects, ``chunk_size`` subjects per compiled call.

    Args:
        compiled: from :func:`qsp.compile`.
        times: output times, shared (T,) or per subject (S, T).
        params: parameter name → array with one value per subject (scalars are shared), or a
            pandas DataFrame with one row per subject and parameter columns.
        regimen: one :class:`~qsp.Regimen` shared by everyone, or a list with one per subject
            (they may differ in dose count, times and amounts).
        ids: subject identifiers for tables and error messages (default 1..S).
        before: pre-dose flags, shared (T,) or per subject (S, T) (see :func:`qsp.simulate`).
        chunk_size: subjects per compiled call; memory is bounded by one chunk. In lockstep
            (``"vmap"``) the subjects of a chunk carry their output buffer through every step,
            so smaller chunks waste less; too small ones pay per-step overhead (measured,
            10,000 TMDD patients on 2 cores: 256 and 512 alike, 1024 17 % slower).
        balance: in lockstep, with three chunks or more, group subjects of similar cost into
            the same chunk (one stiff subject sets its chunk's cost): the first chunk is a
            random sample whose step counts train a regression of cost on the subjects'
            parameters and dose numbers, and the rest run sorted by predicted cost
            (:mod:`qsp.simulate.balance`). Results come back in the given order and are the
            same as with ``balance=False``; only the speed differs.
        batching: ``"auto"`` (default), ``"map"`` (the subjects of a chunk one after another)
            or ``"vmap"`` (in lockstep); see :func:`batching_mode`. Results are the same up to
            rounding; only the speed differs.
        progress: show a progress bar (tqdm) — default: when there is more than one chunk.
        solver, rtol, atol, max_steps, adjoint, t0: as in :func:`qsp.simulate`.

    Returns:
        A :class:`PopulationSolution`; ``pop[name]`` has shape (subjects, times).

    Raises:
        SolverError: naming the subject and the time window where integration failed.
    """
    from . import _for_concrete_inputs, _is_traced, _raise_on_failure, solver_options

    options = solver_options(solver, rtol, atol, max_steps, adjoint)
    options = dataclasses.replace(options, batched=batching_mode(compiled, options, batching) == "vmap")
    if params is not None and hasattr(params, "to_dict") and hasattr(params, "columns"):
        params = {c: np.asarray(params[c], dtype=float) for c in params.columns if c in compiled.parameter_names}
    params = dict(params or {})
    sizes = {k: np.shape(v)[0] for k, v in params.items() if np.ndim(v) >= 1}
    if isinstance(regimen, (list, tuple)) and not isinstance(regimen, Regimen):
        sizes["regimen"] = len(regimen)
    ts = np.asarray(times, dtype=float) if not isinstance(times, jax.Array) else times
    if np.ndim(ts) == 2:
        sizes["times"] = np.shape(ts)[0]
    if n_subjects is not None:
        sizes["n_subjects"] = n_subjects
    if len(set(sizes.values())) > 1:
        raise DosingError(f"simulate_population: inconsistent numbers of subjects: {sizes}.")
    n = next(iter(sizes.values()), 1)
    regimens = regimen if "regimen" in sizes else [as_regimen(regimen)] * n
    from . import _check_regimen_numbers

    for r in {id(r): r for r in regimens}.values():
        one_structure, one_numbers = split_regimen(compiled, as_regimen(r))
        if not any(isinstance(v, jax.core.Tracer) for v in one_numbers.values()):
            _check_regimen_numbers(one_structure, one_numbers, -np.inf if t0 is None else t0)
    structure, numbers = batch_regimens(compiled, regimens)
    # Concrete inputs stay numpy until each chunk's compiled call: an eager JAX op compiles
    # once per shape (measured: ~1.4 s of such compiles in a first call with 10,000 subjects).
    traced = _is_traced(params, numbers, ts, before, t0)
    xp = jnp if traced else np
    P = _parameter_matrix(compiled, params, n, xp)
    T = xp.broadcast_to(xp.asarray(ts, np.float64), (n, np.shape(ts)[-1]))
    flags = xp.zeros(T.shape, bool) if before is None else xp.broadcast_to(xp.asarray(before, bool), T.shape)
    t0s = xp.minimum(T[:, 0], 0.0) if t0 is None else xp.broadcast_to(xp.asarray(t0, np.float64), (n,))
    ids = np.arange(1, n + 1) if ids is None else np.asarray(ids)
    chunk = max(1, min(int(chunk_size), n))
    n_chunks = -(-n // chunk)
    bar = None
    if progress or (progress is None and n_chunks > 1):
        try:
            from tqdm.auto import tqdm
            bar = tqdm(total=n, unit="subject", desc=f"simulating {compiled.model.name}")
        except ImportError:  # tqdm is optional
            bar = None
    balance = balance and options.batched and n_chunks >= MIN_CHUNKS and not traced
    if not traced:
        options = _for_concrete_inputs(options)

    def run(positions):
        """Simulate the subjects at ``positions`` (at most one chunk) in one compiled call."""
        m = len(positions)
        index = np.concatenate([positions, np.full(chunk - m, positions[-1])])  # static shapes
        nums = {k: jnp.asarray(v)[index] if not isinstance(v, np.ndarray) else v[index] for k, v in numbers.items()}
        out = _population_core(compiled, T[index], flags[index], P[index], structure, nums, options, t0s[index])
        if not traced:
            out = jax.tree_util.tree_map(np.asarray, out)  # one transfer; slicing below stays numpy
        ys, failed, args, steps = jax.tree_util.tree_map(lambda a: a[:m], out)
        if not traced:
            bad = (failed[:, 0] >= 0) | ~np.all(np.isfinite(ys), axis=(1, 2))
            if bad.any():
                s = int(np.argmax(bad))
                subject = int(positions[s])
                try:
                    _raise_on_failure(compiled, T[subject], ys[s], failed[s], options,
                                      jax.tree_util.tree_map(lambda a: a[s], args))
                except SolverError as err:
                    raise SolverError(f"subject {ids[subject]} (position {subject}): {err}") from None
        if bar is not None:
            bar.update(m)
        return ys, args, steps

    results = []
    if balance:  # train on a random first chunk, then run the rest grouped by predicted cost
        head = first_chunk(n, chunk)
        results.append(run(head))
        x = with_products(features(np.asarray(P), numbers), max_columns=len(head) // 10)
        order = np.concatenate([head, rest_by_predicted_cost(x, head, np.asarray(results[0][2]))])
    else:
        order = np.arange(n)
    for c in range(len(results), n_chunks):
        results.append(run(order[c * chunk:(c + 1) * chunk]))
    if bar is not None:
        bar.close()
    back = np.argsort(order)  # the caller's order
    ys = xp.concatenate([r[0] for r in results])[back]
    args = jax.tree_util.tree_map(lambda *a: xp.concatenate(a)[back], *[r[1] for r in results])
    n_steps = xp.concatenate([r[2] for r in results])[back]
    ys, args, n_steps, T = jax.tree_util.tree_map(jnp.asarray, (ys, args, n_steps, T))
    return PopulationSolution(compiled, T, ys, args, ids, n_steps)


def _parameter_matrix(compiled, params, n, xp):
    columns = []
    for i, name in enumerate(compiled.parameter_names):
        value = params.get(name, compiled.default_parameters[i])
        columns.append(xp.broadcast_to(xp.asarray(value, np.float64), (n,)))
    unknown = [k for k in params if k not in compiled.parameter_names]
    if unknown:
        compiled.parameter_vector({unknown[0]: 0.0})  # raises the standard error
    return xp.stack(columns, axis=1)
