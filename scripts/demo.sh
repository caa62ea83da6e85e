#!/usr/bin/env bash
# The main job: set up, build, then build the demo database (sweeps/demo.json: a 64 x 64 map of
# STG neuron activity over gCaS x gKd) on the default backend and draw its activity map.
# Re-running does no needless work: a complete out/demo.h5 is kept, an interrupted one resumed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
mkdir -p out
if [ -f out/demo.h5 ]; then
  echo "[demo] out/demo.h5 exists: not rebuilding (delete it, or run neurosweep run ... --force)"
elif [ -d out/demo.h5.parts ]; then
  neurosweep run sweeps/demo.json -o out/demo.h5 --resume
else
  neurosweep run sweeps/demo.json -o out/demo.h5
fi
neurosweep info out/demo.h5
if command -v neurosweep-plot >/dev/null; then
  neurosweep-plot out/demo.h5 --map gCaS gKd -o out/demo_map.png
  echo "[demo] activity map: out/demo_map.png"
fi
