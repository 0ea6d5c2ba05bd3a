"""qsp's T2 of the engine benchmark, in a process of its own (bench_engine.py starts it).

    python benchmarks/engine_population.py --patients 10000 --chunk 512 --workers 2

Simulates issue 5's virtual population through ``qsp.simulate_population`` (100 outputs,
rtol 1e-6, atol 1e-8) and prints one JSON line: wall and CPU seconds of the timed run,
the first call (compilation), peak resident memory of this process, and the first
``--check`` patients' concentrations for the accuracy check.

Both cores: ``simulate_population`` runs its chunks one after the other on one XLA CPU
device, and one XLA computation of a ``vmap``-ed adaptive integrator runs on one thread; two
computations on the *same* device do not run at the same time either (measured: two Python
threads gave no speed-up). So with ``--workers 2`` the process asks XLA for two host
devices (``--xla_force_host_platform_device_count=2``, set before JAX starts) and gives each
a Python thread that calls ``simulate_population`` on half of the patients under
``jax.default_device``; both devices compile once, outside the timing.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=512)
    parser.add_argument("--workers", type=int, default=1, choices=(1, 2))
    parser.add_argument("--check", type=int, default=20)
    parser.add_argument("--adjoint", default="reverse", choices=("reverse", "forward"),
                        help="qsp's adjoint option (the default 'reverse' runs a checkpointed loop)")
    args = parser.parse_args(argv)
    if args.workers > 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={args.workers}".strip()

    import jax

    jax.config.update("jax_enable_x64", True)
    import numpy as np

    import engine_problem as ep
    import engine_qsp as eq
    import qsp

    compiled, regimen = eq.build()
    ts = ep.output_times(100)
    pop = ep.population(args.patients)
    devices = jax.devices()[: args.workers]

    def run(part, device):
        with jax.default_device(device):
            sol = qsp.simulate_population(compiled, ts, params=part, regimen=regimen, rtol=1e-6, atol=1e-8,
                                          chunk_size=args.chunk, progress=False, adjoint=args.adjoint)
            return jax.block_until_ready(eq.concentrations(sol))

    def share(lo, hi):
        return {k: v[lo:hi] for k, v in pop.items() if k in ep.POPULATION_PARAMS}

    bounds = np.linspace(0, args.patients, args.workers + 1).astype(int)
    # first call on every device (compilation), with the batch shape its share will use
    # (simulate_population's chunk is min(chunk_size, patients))
    t = time.perf_counter()
    for i, device in enumerate(devices):
        run(share(bounds[i], bounds[i] + min(args.chunk, bounds[i + 1] - bounds[i])), device)
    first = time.perf_counter() - t

    results = [None] * args.workers

    def work(i):
        results[i] = run(share(bounds[i], bounds[i + 1]), devices[i])

    c, t = time.process_time(), time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(args.workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    if any(r is None for r in results):
        raise RuntimeError("a worker thread failed (see its traceback above)")
    ys = np.concatenate([np.asarray(r) for r in results])
    how = f"{args.workers} XLA host devices, one thread each" if args.workers > 1 else "one XLA device"
    print(json.dumps({"wall": wall, "cpu": cpu, "first": first, "how": how,
                      "rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                      "y_check": ys[: args.check].tolist()}))


if __name__ == "__main__":
    main()
