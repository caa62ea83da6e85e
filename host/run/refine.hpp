#pragma once
// `neurosweep refine DB -o DB2`: adaptive refinement of a grid database where labels change.
// Every grid cell (2^d corners over the grid axes of more than one value) whose corners carry
// different labels is split in two along every axis; the new points (midpoints of edges, faces,
// the centre) are integrated with the build's own settings by the ordinary run pipeline
// (run_build), classified, and the split is repeated on the sub-cells whose corners differ, down
// to `depth` levels (cells 2^-depth of the grid spacing). DB2 = DB (the grid, unchanged) plus the
// group /refined holding the new points with their level and fractional grid positions
// (docs/FORMAT.md section 5). Each level is an ordinary resumable build in DB2.refine/.
#include <cstdint>
#include <string>

namespace ns {

struct RefineOptions {
  std::string db, out;
  std::string label_column = "label";  // the column whose changes are refined
  int depth = 3;                       // levels of refinement (1..16)
  uint64_t budget = 0;                 // most new points in all (0: no limit)
  std::string backend = "auto";
  int threads = 0;
  uint64_t chunk = 0;
  bool resume = false, force = false, quiet = false;
  uint64_t stop_after_chunks = 0;  // per level build (tests, time-boxed jobs)
};

// Returns 0 when DB2 is written (or a level build stopped on request), 128 + signal when
// interrupted. Throws SpecError / DatabaseError for bad input before any work.
int run_refine(const RefineOptions& opt);

}  // namespace ns
