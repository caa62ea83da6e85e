#pragma once
// `neurosweep run SPEC -o DB --extend`: grow a random or Sobol sample in place. The first rows of
// the grown database are the rows of DB, bit for bit (they are copied, not recomputed); only the
// new instances are integrated. docs/SWEEP_SPEC.md, "Extending a sample".
#include <string>

#include "store/database.hpp"

namespace ns {

struct RunSpec;

// Why the sweep of new_canonical cannot extend a database built from old_canonical ("" when it
// can): the two specs must be equal except for the `count` of random and Sobol axes, which may
// only grow, and in a product of several axes only the first (slowest) axis may grow (any other
// would reorder the rows). Both are canonical spec texts as stored in a database.
std::string extension_mismatch(const std::string& old_canonical, const std::string& new_canonical);

// Checks that `out` is a complete, unsharded database that `spec` extends and returns what the
// build store needs; throws SpecError (naming out, the key and the values) otherwise.
BuildPrefix extension_prefix(const std::string& out, const RunSpec& spec, bool force);

}  // namespace ns
