#!/usr/bin/env bash
# Creates benchmarks/.venv-peers: the peers of bench_engine.py (libRoadRunner, AMICI with its
# JAX export, antimony, libsbml), in a virtual environment of their own so that none of them
# touches the project's environment. bench_engine.py runs qsp, scipy and diffrax in the
# project's Python and talks to a worker process in this venv for the peers.
#
#     bash benchmarks/setup_peers.sh          # about 5-15 minutes (AMICI builds from source)
#
# Notes (measured on the 2-core CI machine):
#   * AMICI builds from source (C++; about 4 minutes on 2 idle cores). It needs HDF5's headers
#     (Debian: libhdf5-serial-dev, installed here with apt-get when we are root) and SWIG.
#   * SWIG comes from pip (swig==4.5.1), put first on PATH while building, and the venv's
#     bin/ stays first on PATH when the worker runs: AMICI compiles each model module with
#     the swig it finds, and a version other than the one AMICI was built with gives
#     "SWIG version mismatch" on import.
#   * BLAS_LIBS must stay unset: AMICI takes BLAS from scipy-openblas; setting BLAS_LIBS
#     breaks the build.
#   * A peer that fails to install is left out; bench_engine.py then prints the reason in its table.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${PEERS_VENV:-$HERE/.venv-peers}"
PYTHON="${PYTHON:-python3}"
LOG="$VENV/setup.log"

if ! dpkg -s libhdf5-serial-dev >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libhdf5-serial-dev
    else
        echo "libhdf5-serial-dev is missing and we are not root: AMICI will probably not build" >&2
    fi
fi

"$PYTHON" -m venv "$VENV" || exit 1
mkdir -p "$VENV"
: > "$LOG"
PIP="$VENV/bin/python -m pip"
export PATH="$VENV/bin:$PATH"
unset BLAS_LIBS

$PIP install -q --upgrade pip wheel setuptools >>"$LOG" 2>&1
$PIP install -q numpy scipy >>"$LOG" 2>&1

status() {  # name, exit code: one line per peer in $VENV/peers-status.txt
    if [ "$2" = 0 ]; then echo "$1 ok" ; else echo "$1 failed (see $LOG)"; fi
}
{
    $PIP install -q libroadrunner antimony python-libsbml >>"$LOG" 2>&1
    status roadrunner $?
    $PIP install -q "swig==4.5.1" >>"$LOG" 2>&1
    status swig $?
    echo "swig on PATH: $(command -v swig) ($(swig -version 2>/dev/null | grep -i version))"
    # AMICI with its JAX export (the extra pulls jax, diffrax and equinox into this venv only)
    $PIP install -v "amici[jax]" >>"$LOG" 2>&1 || $PIP install -v amici >>"$LOG" 2>&1
    status amici $?
    # AMICI's JAX simulation module imports petab
    $PIP install -q petab >>"$LOG" 2>&1
    status "petab (for AMICI's JAX export)" $?
} | tee "$VENV/peers-status.txt"
"$VENV/bin/python" - <<'EOF' | tee -a "$VENV/peers-status.txt"
import importlib
for name in ("roadrunner", "antimony", "libsbml", "amici", "amici.sim.jax", "jax", "diffrax"):
    try:
        module = importlib.import_module(name)
        print(name, getattr(module, "__version__", "?"))
    except Exception as error:  # report, do not fail: the benchmark says which peers are missing
        print(name, "unavailable:", type(error).__name__, error)
EOF
