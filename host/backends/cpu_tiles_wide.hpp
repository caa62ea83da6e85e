#pragma once
// The CPU tiles of the models that declare kCpuWideVectors (include/neurosweep/cpu_tiles.hpp),
// compiled in their own translation unit with 512-bit vectors preferred (cpu_tiles_wide.cpp).
#include "neurosweep/backend.hpp"

namespace ns {

// Integrates the chunk when s.model declares kCpuWideVectors = true and returns true; returns
// false (and touches nothing) for every other model.
bool run_wide_vector_tiles(const RunSettings& s, const ChunkInput& in, ChunkOutput& out);

}  // namespace ns
