#!/usr/bin/env bash
# Builds what scripts/gpu_check.sh runs, on this machine, for a GPU machine that lacks the build
# dependencies (HDF5, nlohmann_json, CLI11, GoogleTest: a bare CUDA image), and packs it:
#   scripts/gpu_bundle.sh [DIR] [ARCH]    (default DIR .gpu-bundle, ARCH 90 = H100/H200)
# DIR gets the binaries and DIR/lib the shared libraries they need beyond the C library; then on
# the GPU machine: scripts/gpu_check.sh --bin DIR. Host code is built for x86-64-v3 (AVX2, FMA),
# not -march=native, so that it runs on the GPU machine's processor; MPI is off.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DIR="${1:-.gpu-bundle}" ARCH="${2:-90}"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DNEUROSWEEP_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DNEUROSWEEP_MPI=OFF -DNEUROSWEEP_NATIVE=OFF \
  -DCMAKE_CXX_FLAGS="-march=x86-64-v3" >/dev/null
ninja -C build-gpu neurosweep neurosweep_gpu_tests stg_bench point_bench stg_flops
rm -rf "$DIR"; mkdir -p "$DIR/lib"
for b in neurosweep neurosweep_gpu_tests stg_bench point_bench stg_flops; do
  cp build-gpu/$b "$DIR/"; strip "$DIR/$b"
done
# Shared libraries except the C library itself (libc, libm, libdl, libpthread, librt, the loader)
ldd "$DIR"/* | awk '/=> \// {print $3}' | sort -u | grep -vE '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*)\.so' |
  while read -r lib; do cp -L "$lib" "$DIR/lib/"; done
du -sh "$DIR"
