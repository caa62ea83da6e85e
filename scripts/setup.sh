#!/usr/bin/env bash
# Installs what is missing (Debian packages, Python packages into .venv), then configures and
# builds neurosweep in build/. Idempotent: a second run installs nothing and rebuilds nothing
# that is up to date. Sourced by demo.sh and test.sh; can also be run on its own.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[setup] %s\n' "$*" >&2; }

# ---- Debian packages -------------------------------------------------------------------------
PKGS=(build-essential cmake ninja-build pkg-config libhdf5-dev hdf5-tools nlohmann-json3-dev
      libcli11-dev libgtest-dev libopenmpi-dev openmpi-bin)
# Features add their Debian packages in scripts/requirements/<feature>.deb (one per line).
for f in scripts/requirements/*.deb; do
  [ -f "$f" ] || continue
  while read -r p; do [ -n "$p" ] && [ "${p#\#}" = "$p" ] && PKGS+=("$p"); done <"$f"
done
# A Python 3 that can make virtual environments may come from elsewhere (pyenv, conda): use it.
if ! { command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null; }; then
  PKGS+=(python3 python3-venv python3-pip)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages: all present"
fi

# ---- Python environment (.venv) --------------------------------------------------------------
# One requirements file per feature: scripts/requirements/*.txt (pip requirement lines).
REQ_FILES=(scripts/requirements/*.txt)
PY_REQ="$(cat "${REQ_FILES[@]}" | sed 's/#.*//' | tr -s ' \n' ' ')"
STAMP=".venv/.neurosweep-stamp"
want="$(printf '%s\n' "$PY_REQ" | cat - python/pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)"
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  log "installing Python packages into .venv: $PY_REQ (+ python/ package)"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  # shellcheck disable=SC2086
  .venv/bin/python -m pip install -q $PY_REQ
  if [ -f python/pyproject.toml ]; then .venv/bin/python -m pip install -q -e python/; fi
  echo "$want" >"$STAMP"
else
  log "Python packages: all present"
fi

# ---- Build -------------------------------------------------------------------------------------
# CUDA backend: on when nvcc is found (NEUROSWEEP_CUDA=AUTO); export NEUROSWEEP_CUDA=OFF to skip.
if [ ! -f build/build.ninja ]; then
  log "configuring build/ (CUDA: ${NEUROSWEEP_CUDA:-AUTO})"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DNEUROSWEEP_CUDA="${NEUROSWEEP_CUDA:-AUTO}" >/dev/null
fi
log "building (ninja -C build)"
ninja -C build -j"$(nproc)" | grep -vE '^\[[0-9]+/[0-9]+\]' || true
test -x build/neurosweep || { log "build failed"; exit 1; }
export PATH="$ROOT/build:$ROOT/.venv/bin:$PATH"
