#pragma once
// MPI mode of `neurosweep run` (compiled only with NEUROSWEEP_HAVE_MPI; docs/CLUSTER.md).
// Under `mpirun -n R` (or `srun` with PMI/PMIx), rank r builds shard r/R of the sweep into
// DB.shard-r-of-R.h5 with run_build, rank 0 reports the whole build's progress, and when every
// rank has finished rank 0 merges the shards into DB.h5 (merge_shards) and deletes them.
#include "run/run.hpp"

namespace ns {

// True when the environment says this process was started by an MPI launcher (OpenMPI's
// OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK). Does not initialise MPI.
bool mpi_launched();

// Initialises MPI, runs the build as described above and finalises MPI. With a world of one
// process it is run_build(opt) (exceptions propagate as from run_build). With R > 1 ranks every
// error is reported on stderr (once, by rank 0, where all ranks agree) and turned into the exit
// status: 2 bad input, 3 database error, 1 other; all ranks return the same status.
int mpi_run_build(RunOptions opt);

}  // namespace ns
