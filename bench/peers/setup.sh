#!/usr/bin/env bash
# Create the peer-simulator environment for the benchmark harness (bench/run_bench.py).
#
#   bash bench/peers/setup.sh            # idempotent: does nothing when the stamp is current
#   bash bench/peers/setup.sh --force    # reinstall
#   bash bench/peers/setup.sh --nest-only  # only NEST + NumPy (enough for
#                                          # tests/data/make_nest_reference.py; quick)
#
# The peers live in their own virtual environment, bench/.peers-venv (gitignored). They are never
# installed into the system Python and are never a dependency of neurosweep or of its tests.
# Peers: Brian 2 (C++ standalone mode needs g++), JAX (CPU) + pyloric-network-simulator
# (A. René's JAX implementation of the Prinz STG model), and NEST (nest-simulator wheel) when pip
# can install it; a NEST failure is recorded in the venv (nest-install.log) and is not fatal.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bench="$(dirname "$here")"
venv="${PEERS_VENV:-$bench/.peers-venv}"
python="${PYTHON:-python3}"

# Lower bounds only: the newest release that supports this Python is taken (Brian 2.10+ needs
# Python >= 3.12, so Python 3.11 gets 2.9.0). The harness records the versions it actually ran.
core_pkgs=(
  "brian2>=2.7"
  "jax[cpu]>=0.4.30"
  "pyloric-network-simulator>=0.1.3"
  "numpy>=2.0,<2.4"   # Brian 2.9 wraps np.ndarray.ptp, which NumPy 2.4 removed; JAX needs >= 2.0
)
nest_pkg="nest-simulator>=3.6"
stamp_text="$(printf '%s\n' "${core_pkgs[@]}" "$nest_pkg" "$("$python" -c 'import sys; print(sys.version.split()[0])')")"
stamp="$venv/.peers-stamp"

if [[ "${1:-}" == "--nest-only" ]]; then
  # The NEST reference recorder needs nest + numpy only; no stamp (the full set-up still runs
  # when asked for).
  [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip --disable-pip-version-check install --only-binary=:all: \
    "$nest_pkg" "numpy>=2.0,<2.4"
  "$venv/bin/python" -c "import nest, importlib.metadata as md; print('peers: nest-simulator', md.version('nest-simulator'))"
  exit 0
fi

if [[ "${1:-}" != "--force" && -f "$stamp" && "$(cat "$stamp")" == "$stamp_text" ]]; then
  echo "peers: $venv is up to date (delete $stamp or pass --force to reinstall)"
  exit 0
fi

command -v g++ >/dev/null || { echo "peers: g++ not found (Brian 2 C++ standalone needs it)" >&2; exit 1; }

if [[ ! -x "$venv/bin/python" ]]; then
  echo "peers: creating $venv"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install --upgrade pip >/dev/null
echo "peers: installing ${core_pkgs[*]}"
"${pip[@]}" install "${core_pkgs[@]}"

# NEST: the PyPI project ships manylinux wheels for some Python versions only; never build the
# source distribution (that would need CMake, GSL, Boost and a long compile).
rm -f "$venv/nest-unavailable.txt"
echo "peers: installing $nest_pkg (binary wheel only)"
if "${pip[@]}" install --only-binary=:all: "$nest_pkg" >"$venv/nest-install.log" 2>&1 \
   && "$venv/bin/python" -c "import nest" >>"$venv/nest-install.log" 2>&1; then
  echo "peers: NEST installed"
else
  { echo "pip install --only-binary=:all: $nest_pkg failed or 'import nest' failed:";
    tail -n 20 "$venv/nest-install.log"; } >"$venv/nest-unavailable.txt"
  echo "peers: NEST unavailable (reason in $venv/nest-unavailable.txt); the NEST peer will report unsupported" >&2
fi

"$venv/bin/python" - <<'PY'
import importlib.metadata as md
for p in ["brian2", "jax", "jaxlib", "pyloric-network-simulator", "nest-simulator", "numpy"]:
    try:
        print(f"peers: {p} {md.version(p)}")
    except md.PackageNotFoundError:
        print(f"peers: {p} not installed")
PY
printf '%s' "$stamp_text" >"$stamp"
echo "peers: ready ($venv)"
