#!/usr/bin/env bash
# GPU check of the chunk pipeline (integrate k+1 while k is classified and written): databases
# built with many chunks (overlap) equal the one-chunk builds bit for bit; P04 1% timing.
B=${1:-.gpu-bundle}; [ -d "$B/lib" ] && export LD_LIBRARY_PATH=$PWD/$B/lib
cmp() { python3 - "$1" "$2" "$3" <<'PY'
import h5py, sys
a, b = h5py.File(sys.argv[1])['instances'], h5py.File(sys.argv[2])['instances']
bad = [k for k in a if a[k][()].tobytes() != b[k][()].tobytes()]
print(sys.argv[3], 'rows', len(a['index']), 'columns', len(list(a)), 'differing:', bad)
PY
}
$B/neurosweep run sweeps/demo.json -o /tmp/d_many.h5 --backend cuda --chunk 512 --force -q
$B/neurosweep run sweeps/demo.json -o /tmp/d_one.h5 --backend cuda --chunk 4096 --force -q
cmp /tmp/d_many.h5 /tmp/d_one.h5 "demo 8 chunks (overlapped) vs 1 chunk:"
$B/neurosweep run sweeps/pyloric_demo.json -o /tmp/p_many.h5 --backend cuda --chunk 128 --force -q
$B/neurosweep run sweeps/pyloric_demo.json -o /tmp/p_one.h5 --backend cuda --chunk 2048 --force -q
cmp /tmp/p_many.h5 /tmp/p_one.h5 "pyloric_demo 12 chunks (overlapped, thermalised starts) vs 1 chunk:"
for ch in 202500 20250; do
  t0=$(date +%s.%N)
  $B/neurosweep run sweeps/prinz2004.json -o /tmp/p04_$ch.h5 --backend cuda --chunk $ch --shard 0/100 --force -q
  t1=$(date +%s.%N)
  f=$(ls /tmp/p04_$ch.shard-*.h5); echo "P04 first 1% with chunk $ch: wall $(echo "$t1 - $t0" | awk '{print $1-$3}') s"
  $B/neurosweep info $f | grep -E 'timings|rows readable|not_rhythmic|pyloric_like'
done
