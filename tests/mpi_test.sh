#!/usr/bin/env bash
# MPI mode of `neurosweep run` (ctest entry mpi.*, registered only when NEUROSWEEP_MPI is on).
#   usage: tests/mpi_test.sh PATH/TO/neurosweep [mpirun]
# 1. The same spec (35 STG instances, the kGrid spec of tests/run_test.cpp) built by 1 process and
#    by `mpirun -n 2` on the CPU backend: `neurosweep query --format csv` must be byte-identical
#    (every /instances column, every row; no tolerance: same spec and seed give the same bits), and
#    no shard file may be left behind.
# 2. mpirun killed with SIGKILL (whole process group) once chunk files exist, then rerun with
#    --resume: the result must again equal the 1-process build.
# Prints PASS or FAIL: reason; exits non-zero on failure.
set -u
NS=${1:?usage: mpi_test.sh NEUROSWEEP [MPIRUN]}
MPIRUN=${2:-mpirun}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

MPI=("$MPIRUN" -n 2 --oversubscribe)
[ "$(id -u)" = 0 ] && MPI+=(--allow-run-as-root)
export OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1

cat >grid.json <<'EOF'
{
  "model": "stg", "dt": "0.05 ms", "transient": "1 s", "analysis": "4 s", "seed": 7,
  "fixed": {"gNa": 100, "gCaT": 2.5, "gA": 50, "gKCa": 5, "gH": 0.01, "gleak": 0},
  "axes": [
    {"kind": "grid", "param": "gCaS", "linspace": {"start": 0, "stop": 10, "count": 5}},
    {"kind": "grid", "param": "gKd", "values": [25, 50, 75, 100, 125, 150, 175]}
  ],
  "classifier": {"slowest_period_ms": 1000},
  "output": {"final_state": true, "spikes": 20}
}
EOF

"$NS" run grid.json -o one.h5 --backend cpu --threads 1 -q || fail "1-process build failed"
"$NS" query one.h5 --format csv >one.csv || fail "query one.h5 failed"
rows=$(($(wc -l <one.csv) - 1))
[ "$rows" = 35 ] || fail "1-process database has $rows rows, expected 35"

# ---- 1. two ranks == one process ------------------------------------------------------------
"${MPI[@]}" "$NS" run grid.json -o two.h5 --backend cpu --threads 1 2>two.log ||
  { cat two.log; fail "mpirun -n 2 build failed"; }
grep -q "merged 2 shards into two.h5" two.log || { cat two.log; fail "rank 0 did not report the merge"; }
ls two.shard-* >/dev/null 2>&1 && fail "shard files left after the merge: $(ls two.shard-*)"
"$NS" query two.h5 --format csv >two.csv || fail "query two.h5 failed"
cmp -s one.csv two.csv || { diff one.csv two.csv | head; fail "2-rank database differs from the 1-process one"; }
echo "ok: 2 ranks == 1 process (35 rows, every column)"

# A second run without --force must refuse the existing output (once, from rank 0).
"${MPI[@]}" "$NS" run grid.json -o two.h5 --backend cpu --threads 1 2>refuse.log &&
  fail "mpirun over an existing database succeeded without --force"
grep -q "two.h5: file exists; use --force" refuse.log || { cat refuse.log; fail "no clear refusal message"; }

# ---- 2. kill -9 mpirun mid-build, then --resume ---------------------------------------------
# --chunk 1: 35 chunks (18 + 17 per rank), so the kill lands mid-build.
killed=0
for attempt in 1 2 3; do
  rm -rf kill.h5 kill.h5.parts kill.shard-*
  setsid "${MPI[@]}" "$NS" run grid.json -o kill.h5 --backend cpu --threads 1 --chunk 1 -q 2>kill.log &
  pid=$!
  for _ in $(seq 1 2000); do  # up to 20 s
    n=$(ls kill.shard-*-of-2.h5.parts/chunk-*.h5 2>/dev/null | wc -l)
    [ "$n" -ge 4 ] && break
    sleep 0.01
  done
  kill -9 -- "-$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  # Ranks may sit in process groups of their own: kill whatever of this build outlived mpirun,
  # and wait until it is gone (the resume below would otherwise be refused as a second writer).
  pat="run grid.json -o kill.h5 --backend cpu --threads 1 --chunk 1"
  pkill -9 -f -- "$pat" 2>/dev/null || true
  for _ in $(seq 1 500); do pgrep -f -- "$pat" >/dev/null || break; sleep 0.01; done
  n=$(ls kill.shard-*-of-2.h5.parts/chunk-*.h5 2>/dev/null | wc -l)
  if [ ! -e kill.h5 ] && [ "$n" -ge 1 ] && [ "$n" -lt 35 ]; then
    killed=1
    break
  fi
done
[ "$killed" = 1 ] || fail "could not kill the build mid-way in 3 attempts (build too fast or never started)"
echo "ok: killed mpirun with $n of 35 chunks written"

"${MPI[@]}" "$NS" run grid.json -o kill.h5 --backend cpu --threads 1 --resume 2>resume.log ||
  { cat resume.log; fail "mpirun --resume failed"; }
ls kill.shard-* >/dev/null 2>&1 && fail "shard files left after the resumed merge"
"$NS" query kill.h5 --format csv >kill.csv || fail "query kill.h5 failed"
cmp -s one.csv kill.csv || { diff one.csv kill.csv | head; fail "killed + resumed database differs from the 1-process one"; }
echo "ok: killed + resumed == 1 process"

# Resuming a finished build is refused.
"${MPI[@]}" "$NS" run grid.json -o kill.h5 --backend cpu --threads 1 --resume 2>done.log &&
  fail "--resume of a finished database succeeded"
grep -q "already finalized" done.log || { cat done.log; fail "no clear message for --resume of a finished build"; }

echo "PASS: mpi_test (2 ranks == 1 process; kill -9 + --resume == 1 process)"
