#!/usr/bin/env bash
# Set up, build, and run every test: the C++ suite (GoogleTest via ctest; GPU tests report a
# visible skip where no device is present) and the Python package's tests (pytest).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
status=0
ctest --test-dir build --output-on-failure -j"$(nproc)" || status=1
if [ -d python/tests ]; then
  NEUROSWEEP_BIN="$ROOT/build/neurosweep" .venv/bin/python -m pytest -q python/tests || status=1
fi
exit $status
