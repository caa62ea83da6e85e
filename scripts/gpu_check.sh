#!/usr/bin/env bash
# The prepared GPU check (issue 19): on a machine with an NVIDIA GPU it runs, in this order and
# within about 8 minutes on an H100/H200,
#   1. the GPU tests (tests/gpu: CUDA backend against the CPU reference),
#   2. the STG engine benchmark: float/double x table/direct, neuron-steps/s, and the fraction of
#      the device's FP32 and SFU ceilings (FLOP per step counted by bench/stg_flops),
#   3. the pyloric 3-cell network benchmark (network-steps/s),
#   4. the NEST point models (point_bench, Poisson input),
#   5. the full Prinz et al. (2003) database (sweeps/prinz2003.json, 1,679,616 neurons x 20 s),
#   6. the first 1% of the Prinz et al. (2004) database (sweeps/prinz2004.json, shard 0/100 with
#      one chunk of 202,500 networks),
#   7. the Brunel (2000) phase diagram (sweeps/brunel_phase.json: 272 spiking networks of 2,500
#      neurons, one per thread block; --quick: shard 0/17),
# and prints one results table (Markdown), also written to --out.
# Without a GPU it says so, writes that to --out and exits 0 (CI runs this part).
#
#   scripts/gpu_check.sh [--bin DIR] [--out FILE] [--work DIR] [--quick]
#     --bin DIR   prebuilt binaries (neurosweep, neurosweep_gpu_tests, stg_bench, point_bench,
#                 stg_flops); DIR/lib, if present, is put on LD_LIBRARY_PATH. Default: build
#                 them into build-gpu/ for this machine's GPU (CMAKE_CUDA_ARCHITECTURES=native).
#     --out FILE  results table (default bench/results/gpu-check.md)
#     --work DIR  where the databases are written (default a temporary folder, removed)
#     --quick     smaller sizes (a smoke run of every step in about a minute)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BIN="" OUT_FILE="$ROOT/bench/results/gpu-check.md" WORK="" QUICK=0
while (($#)); do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;;
    --out) OUT_FILE="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$(dirname "$OUT_FILE")"
why_exit() { if (($1 == 124)); then echo "timed out after $2 s"; else echo "exit $1"; fi; }
say() { printf '[gpu_check] %s\n' "$*" >&2; }

# ---- is there a GPU? ---------------------------------------------------------------------------
gpu_line=""
if command -v nvidia-smi >/dev/null 2>&1; then
  gpu_line="$(nvidia-smi --query-gpu=name,clocks.max.sm,memory.total,driver_version --format=csv,noheader,nounits 2>/dev/null | head -n1)"
fi
if [ -z "$gpu_line" ]; then
  why="nvidia-smi not found"
  command -v nvidia-smi >/dev/null 2>&1 && why="nvidia-smi lists no GPU"
  msg="gpu_check: no NVIDIA GPU present ($why): nothing measured. Run this script on a machine with a GPU."
  echo "$msg"
  printf '# GPU check\n\n%s\n\nDate: %s. Host: %s.\n' "$msg" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(hostname)" >"$OUT_FILE"
  exit 0
fi
IFS=',' read -r GPU_NAME GPU_MHZ GPU_MIB GPU_DRIVER <<<"$gpu_line"
GPU_NAME="$(echo "$GPU_NAME" | xargs)"; GPU_MHZ="$(echo "$GPU_MHZ" | xargs)"
GPU_MIB="$(echo "$GPU_MIB" | xargs)"; GPU_DRIVER="$(echo "$GPU_DRIVER" | xargs)"
say "GPU: $GPU_NAME, max SM clock $GPU_MHZ MHz, $GPU_MIB MiB, driver $GPU_DRIVER"

# ---- binaries ----------------------------------------------------------------------------------
if [ -z "$BIN" ]; then
  BIN="$ROOT/build-gpu"
  if [ ! -x "$BIN/neurosweep_gpu_tests" ]; then
    say "building for this GPU into build-gpu/ (CMAKE_CUDA_ARCHITECTURES=native)"
    cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DNEUROSWEEP_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES=native -DNEUROSWEEP_MPI=OFF >/dev/null || { say "configure failed"; exit 1; }
    ninja -C build-gpu neurosweep neurosweep_gpu_tests stg_bench point_bench stg_flops >/dev/null \
      || { say "build failed"; exit 1; }
  fi
fi
BIN="$(cd "$BIN" && pwd)"
[ -d "$BIN/lib" ] && export LD_LIBRARY_PATH="$BIN/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for b in neurosweep neurosweep_gpu_tests stg_bench point_bench stg_flops; do
  [ -x "$BIN/$b" ] || { say "missing binary $BIN/$b"; exit 1; }
done
CLEAN_WORK=0
if [ -z "$WORK" ]; then WORK="$(mktemp -d)"; CLEAN_WORK=1; fi
mkdir -p "$WORK"
LOG="$WORK/gpu_check.log"; : >"$LOG"
T_START=$(date +%s)
elapsed() { echo $(( $(date +%s) - T_START )); }

if ((QUICK)); then
  N_STG=65536 MS_STG=200 N_PYL=16384 MS_PYL=200 N_PT=65536 MS_PT=200 P03_SPEC="" P04_CHUNK=20250 P04_SHARD=0/1000 BRUNEL_SHARD=0/17
else
  N_STG=1048576 MS_STG=1000 N_PYL=262144 MS_PYL=1000 N_PT=524288 MS_PT=1000 P03_SPEC=sweeps/prinz2003.json P04_CHUNK=202500 P04_SHARD=0/100 BRUNEL_SHARD=0/1
fi

# ---- 1. GPU tests ------------------------------------------------------------------------------
say "1/7 GPU tests"
t0=$(date +%s)
timeout 240 "$BIN/neurosweep_gpu_tests" --gtest_color=no >"$WORK/gpu_tests.txt" 2>&1
rc=$?
cat "$WORK/gpu_tests.txt" >>"$LOG"
T_TESTS=$(( $(date +%s) - t0 ))
TESTS_PASSED="$(grep -oE '\[  PASSED  \] [0-9]+' "$WORK/gpu_tests.txt" | grep -oE '[0-9]+$' || echo 0)"
TESTS_FAILED="$(grep -cE '^\[  FAILED  \] [A-Za-z]' "$WORK/gpu_tests.txt" | head -n1)"
TESTS_SKIPPED="$(grep -oE '\[  SKIPPED \] [0-9]+' "$WORK/gpu_tests.txt" | grep -oE '[0-9]+$' || echo 0)"
FAILED_NAMES="$(grep -E '^\[  FAILED  \] [A-Za-z]' "$WORK/gpu_tests.txt" | sed -E 's/^\[  FAILED  \] //; s/ \(.*//' | sort -u | paste -sd, -)"
((rc != 0)) && [ -z "$FAILED_NAMES" ] && FAILED_NAMES="$(why_exit $rc 240)"

# ---- 2-4. engine benchmarks (JSON lines) ---------------------------------------------------------
JSONL="$WORK/bench.jsonl"; : >"$JSONL"
bench() {  # name timeout command...
  local name="$1" tmo="$2"; shift 2
  say "$name: $*"
  echo "## $name: $*" >>"$LOG"
  timeout "$tmo" "$@" --json >"$WORK/$name.out" 2>>"$LOG"
  local r=$?
  cat "$WORK/$name.out" >>"$LOG"
  grep '^{' "$WORK/$name.out" | sed "s/^{/{\"bench\":\"$name\",/" >>"$JSONL"
  ((r == 0)) || python3 -c 'import json,sys; print(json.dumps({"bench": sys.argv[1], "error": sys.argv[2]}))' \
    "$name" "$(why_exit $r $tmo): $(tail -n1 "$LOG" | tail -c 200)" >>"$JSONL"
}
say "2/7 STG engine"
bench stg 150 "$BIN/stg_bench" --backend cuda --n "$N_STG" --ms "$MS_STG" --threads 1 \
  --precision float,double --gating direct,table
say "3/7 pyloric network"
bench pyloric 120 "$BIN/stg_bench" --model pyloric --backend cuda --n "$N_PYL" --ms "$MS_PYL" \
  --threads 1 --precision float,double --gating direct,table
say "4/7 point models"
bench point 150 "$BIN/point_bench" --backend cuda --n "$N_PT" --ms "$MS_PT" --threads 1 \
  --precision float,double --input poisson
FLOPS_JSON="$(timeout 60 "$BIN/stg_flops" --json 2>>"$LOG" | tr -d '\n')"

# ---- 5-6. whole databases ----------------------------------------------------------------------
build_db() {  # name timeout spec extra-args...
  local name="$1" tmo="$2" spec="$3"; shift 3
  local db="$WORK/$name.h5" t0 r
  say "$name: neurosweep run $spec $*"
  t0=$(date +%s.%N)
  timeout "$tmo" "$BIN/neurosweep" run "$spec" -o "$db" --backend cuda --force -q "$@" >"$WORK/$name.run" 2>&1
  r=$?
  cat "$WORK/$name.run" >>"$LOG"
  local wall; wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  local out="$db"
  [ -f "$out" ] || out="$(ls "$WORK/$name".shard-*.h5 2>/dev/null | head -n1)"
  if ((r == 0)) && [ -n "$out" ] && [ -f "$out" ]; then
    "$BIN/neurosweep" info "$out" >"$WORK/$name.info" 2>&1
    echo "$name|ok|$wall|$out" >>"$WORK/dbs.txt"
  else
    local why; why="$(tail -n1 "$WORK/$name.run" | tail -c 200 | tr '|' '/')"
    echo "$name|$(why_exit $r $tmo): $why|$wall|" >>"$WORK/dbs.txt"
  fi
  cat "$WORK/$name.info" >>"$LOG" 2>/dev/null
}
: >"$WORK/dbs.txt"
if [ -n "$P03_SPEC" ]; then
  say "5/7 full P03 database"
  build_db p03 240 "$P03_SPEC"
else
  say "5/7 P03 database: 1/64 of it (--quick)"
  build_db p03 120 sweeps/prinz2003.json --shard 0/64
fi
say "6/7 P04 database, first part"
build_db p04 150 sweeps/prinz2004.json --chunk "$P04_CHUNK" --shard "$P04_SHARD"
say "7/7 Brunel phase diagram (272 spiking networks of 2,500 neurons, one per thread block)"
build_db brunel 150 sweeps/brunel_phase.json --shard "$BRUNEL_SHARD"

# ---- table -------------------------------------------------------------------------------------
export GPU_NAME GPU_MHZ GPU_MIB GPU_DRIVER T_TESTS TESTS_PASSED TESTS_FAILED TESTS_SKIPPED FAILED_NAMES
export FLOPS_JSON QUICK WORK JSONL
TOTAL_S=$(elapsed); export TOTAL_S
python3 - "$OUT_FILE" <<'PY'
import json, os, re, sys, datetime
E = os.environ
rows = [json.loads(l) for l in open(E["JSONL"]) if l.strip()]
mhz = float(E["GPU_MHZ"] or 0)
sms = 0
for r in rows:
    m = re.search(r"(\d+) SMs", r.get("device", ""))
    if m: sms = int(m.group(1)); break
fp32_peak = sms * 128 * 2 * mhz * 1e6      # FLOP/s: 128 FP32 lanes per SM, FMA = 2 FLOP
sfu_peak = sms * 16 * mhz * 1e6            # special-function ops/s: 16 per SM per clock
# Operations per STG step, counted by bench/stg_flops on the unchanged model code (one JSON line
# per gating). On the GPU, exp/log and divisions go to the special-function unit (ex2, lg2, rcp),
# so the FP32 count excludes the library polynomials and the SFU count is exp + log + div.
ops = {}
for line in (E.get("FLOPS_JSON") or "").replace("}{", "}\n{").splitlines():
    try:
        j = json.loads(line)
        ops[j["gating"]] = (j["arith_flops_excl_exp_log"], j["exp"] + j["log"] + j["div"])
    except Exception:
        pass
L = []
L.append("# GPU check: %s" % E["GPU_NAME"])
L.append("")
L.append("Date %s; %s SMs, max SM clock %.0f MHz, %s MiB, driver %s; whole check %s s%s." % (
    datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), sms or "?", mhz, E["GPU_MIB"],
    E["GPU_DRIVER"], E["TOTAL_S"], " (--quick sizes)" if E["QUICK"] == "1" else ""))
L.append("Ceilings from the clock: FP32 %.1f TFLOP/s (FMA = 2), SFU %.2e op/s." % (fp32_peak / 1e12, sfu_peak))
L.append("")
L.append("## GPU tests")
L.append("%s passed, %s failed, %s skipped in %s s%s" % (E["TESTS_PASSED"], E["TESTS_FAILED"] or 0,
         E["TESTS_SKIPPED"], E["T_TESTS"], (": FAILED " + E["FAILED_NAMES"]) if E["FAILED_NAMES"] else ""))
L.append("")
L.append("## Engine (one kernel launch per row, integration only)")
L.append("| bench | model | precision | gating / input | n | steps | wall s | steps/s | FP32 FLOP/step | SFU op/step | % FP32 peak | % SFU peak |")
L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    if "error" in r:
        L.append("| %s | %s | | | | | | | | | | |" % (r["bench"], r["error"])); continue
    rate = r.get("neuron_steps_per_s", 0)
    g = r.get("gating", r.get("input", ""))
    fp, sf = ops.get(g, (None, None)) if (r.get("model") == "stg" and r["bench"] == "stg") else (None, None)
    f32 = ("%.1f" % (100 * rate * fp / fp32_peak)) if (fp and fp32_peak and r.get("precision") == "float") else ""
    fsf = ("%.1f" % (100 * rate * sf / sfu_peak)) if (sf and sfu_peak and r.get("precision") == "float") else ""
    L.append("| %s | %s | %s | %s | %d | %d | %.3f | %.3e | %s | %s | %s | %s |" % (
        r["bench"], r.get("model", ""), r.get("precision", ""), g, r.get("n", 0), r.get("steps", 0),
        r.get("wall_s", 0), rate, fp or "", sf or "", f32, fsf))
L.append("")
L.append("(pyloric rows: network-steps/s of 3-cell networks; stg_bench also prints the ratio to the same cells run alone.)")
L.append("")
L.append("## Whole databases (neurosweep run --backend cuda: integration, classification, HDF5)")
L.append("| database | result | wall s | instances | integrate s | classify s | write s | neuron-steps/s | labels |")
L.append("|---|---|---|---|---|---|---|---|---|")
for line in open(os.path.join(E["WORK"], "dbs.txt")):
    name, res, wall, path = line.rstrip("\n").split("|")
    n, labels, tm = "", "", {}
    info = os.path.join(E["WORK"], name + ".info")
    if res == "ok" and os.path.exists(info):
        txt = open(info).read()
        m = re.search(r"instances:\s+(\d+)(?: \((\d+) rows readable\))?", txt)  # a shard: its rows
        n = (m.group(2) or m.group(1)) if m else ""
        m = re.search(r"timings: (\{.*\})", txt)
        tm = json.loads(m.group(1)) if m else {}
        part = txt.split("labels:", 1)[-1].split("status:", 1)[0]
        labels = ", ".join("%s %s" % (a, b) for a, b in re.findall(r"^\s+([a-z_]+): (\d+) \(", part, re.M))
    fmt = lambda k, f="%.1f": (f % tm[k]) if k in tm else ""
    L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (name, res, wall[:7], n, fmt("integrate_s"),
             fmt("classify_s"), fmt("write_s"), fmt("neuron_steps_per_s", "%.3e"), labels))
text = "\n".join(L) + "\n"
open(sys.argv[1], "w").write(text)
print(text)
PY
cp "$LOG" "$(dirname "$OUT_FILE")/gpu-check.log" 2>/dev/null || true
((CLEAN_WORK)) && rm -rf "$WORK"
[ -z "$FAILED_NAMES" ]
