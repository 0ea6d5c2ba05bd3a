"""Issue 5, T7: time to first result, from ``import qsp`` to the first simulated table of T1.

Each measurement is a fresh Python process (``subprocess``) that imports qsp, builds and
compiles the TMDD model of ``engine_problem`` (two-compartment PK, six boluses, 84 days),
simulates it at 1000 output times (rtol 1e-6, atol 1e-8, as T1) and turns the result into
a pandas table; the wall time from before ``import qsp`` to the table is printed by the
child and the process start-up (the Python interpreter itself) is reported separately.

Rows:

* ``qsp, no cache``: ``QSP_CACHE_DIR`` unset: XLA compiles everything.
* ``qsp, cold cache``: a new, empty cache directory (compiles, and writes the cache).
* ``qsp, warm cache``: the next process with the same directory (reads the compiled program
  back; tracing still runs).
* ``libRoadRunner``: load the same model from SBML and simulate the same grid, in
  ``benchmarks/.venv-peers`` when it exists (``setup_peers.sh``), else skipped.

    python benchmarks/bench_first_result.py              # 3 runs per row (medians)
    python benchmarks/bench_first_result.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS_PYTHON = HERE / ".venv-peers" / "bin" / "python"

QSP_CHILD = r"""
import time
start = time.perf_counter()
import sys, json
sys.path.insert(0, {here!r})
import numpy as np
import qsp
import engine_qsp
compiled, regimen = engine_qsp.build()
ts = np.linspace(0.0, 84.0, 1000)
sol = qsp.simulate(compiled, ts, regimen=regimen, rtol=1e-6, atol=1e-8)
table = sol.to_pandas()
print(json.dumps({{"seconds": time.perf_counter() - start, "rows": len(table),
                  "Lc_end": float(table["Lc"].iloc[-1])}}))
"""

RR_CHILD = r"""
import time
start = time.perf_counter()
import sys, json
sys.path.insert(0, {here!r})
import numpy as np
import roadrunner
import engine_problem as ep
import antimony
antimony.clearPreviousLoads()
antimony.loadAntimonyString(ep.antimony())
rr = roadrunner.RoadRunner(antimony.getSBMLString(antimony.getMainModuleName()))
rr.integrator.relative_tolerance = 1e-6
rr.integrator.absolute_tolerance = 1e-8
rr.timeCourseSelections = ["time", "Lc"]
result = rr.simulate(0.0, 84.0, 1000)
print(json.dumps({{"seconds": time.perf_counter() - start, "rows": int(result.shape[0]), "Lc_end": float(result[-1, 1])}}))
"""


def run_child(python: str, code: str, env: dict) -> dict:
    begin = time.perf_counter()
    out = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    total = time.perf_counter() - begin
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process"] = total
    return result


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="processes per row (default 3)")
    args = parser.parse_args(argv)

    base_env = {k: v for k, v in os.environ.items() if k != "QSP_CACHE_DIR"}
    code = QSP_CHILD.format(here=str(HERE))
    rows = []

    no_cache = [run_child(sys.executable, code, base_env) for _ in range(args.runs)]
    rows.append(("qsp, no cache", no_cache))
    cold, warm = [], []
    for _ in range(args.runs):
        directory = tempfile.mkdtemp(prefix="qsp-cache-")
        env = {**base_env, "QSP_CACHE_DIR": directory}
        cold.append(run_child(sys.executable, code, env))
        warm.append(run_child(sys.executable, code, env))
    rows.append(("qsp, cold cache", cold))
    rows.append(("qsp, warm cache", warm))
    if PEERS_PYTHON.exists():
        try:
            rr = [run_child(str(PEERS_PYTHON), RR_CHILD.format(here=str(HERE)), base_env) for _ in range(args.runs)]
            rows.append(("libRoadRunner (CVODE)", rr))
        except RuntimeError as err:
            print(f"libRoadRunner not measured: {err}", file=sys.stderr)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"environment: python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {load:.1f}")
    print()
    print("| tool | import to table [s] | whole process [s] | runs | Lc(84) |")
    print("| --- | --- | --- | --- | --- |")
    for name, results in rows:
        print(f"| {name} | {median([r['seconds'] for r in results]):.2f} | "
              f"{median([r['process'] for r in results]):.2f} | {len(results)} | {results[0]['Lc_end']:.6g} |")
    first = median([r["seconds"] for r in no_cache])
    second = median([r["seconds"] for r in warm])
    print()
    print(f"* T7 first process <= 3 s: {first:.2f} s: {'PASS' if first <= 3.0 else 'MISS'}")
    print(f"* T7 second process with the persistent cache <= 1 s: {second:.2f} s: {'PASS' if second <= 1.0 else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
