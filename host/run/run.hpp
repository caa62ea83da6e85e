#pragma once
// `neurosweep run`: sweep spec -> chunks -> backend -> classifier stage -> database.
#include <csignal>
#include <cstdint>
#include <functional>
#include <string>

#include "neurosweep/backend.hpp"

namespace ns {

struct RunOptions {
  std::string spec_path;
  std::string out;
  std::string backend = "auto";
  int threads = 0;          // CPU threads (0: all cores)
  uint64_t chunk = 0;       // instances per chunk (0: backend default)
  bool resume = false;
  bool force = false;
  // --extend: `out` is a complete database of a smaller random/Sobol sample of the same spec; its
  // rows are kept bit for bit and only the new instances are run (run/extend.hpp).
  bool extend = false;
  bool quiet = false;
  int shard_k = 0, shard_n = 1;  // --shard K/N (0-based K)
  // --stop-after-chunks N: commit N chunks in this run, then stop (exit 0) leaving a build to
  // --resume (time-boxed batch steps); 0: no limit.
  uint64_t stop_after_chunks = 0;
  // Optional: called with (instances done in this shard, instances in this shard) once before the
  // first chunk and after every chunk (the MPI mode aggregates progress across ranks with it).
  std::function<void(uint64_t, uint64_t)> on_progress;
};

// While alive, SIGINT/SIGTERM/SIGHUP are recorded instead of killing the process (the build loop
// polls received() between chunks); the previous handlers come back on destruction.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  static int received();  // the first signal number received, or 0

 private:
  struct sigaction old_[3];
};

// "42s", "3m05s", "2h07m" ("?" when not finite): progress and ETA displays.
std::string fmt_duration(double seconds);

// Output path of shard K of N for a requested output path: DB.h5 -> DB.shard-K-of-N.h5.
std::string shard_path(const std::string& out, int k, int n);

struct RunSpec;

// The backend settings of a spec, the one conversion that `run`, `simulate --spec` and the
// thermalisation share: model, precision, gating (default: lookup tables, faster than direct
// evaluation on both backends: bench/README.md), time grid, seed, final states. Spikes are maxima
// overshooting 0 mV (Prinz routine); max_spikes: spike times kept per potential; threads: CPU
// threads (0: all cores).
RunSettings run_settings(const RunSpec& spec, int max_spikes, int threads);

// Default chunk size (instances): a GPU wants >= 1e5 threads in flight; on the CPU 512 instances
// per thread (threads 0: all cores) keeps every core busy and the progress display lively.
uint64_t default_chunk(bool cuda, int threads);

// Runs (or resumes) a build. Throws SpecError, DatabaseError or BackendError before any work for
// bad input; returns 0 on success.
int run_build(const RunOptions& opt);
// The same for a spec parsed already (refine builds its levels' specs in memory); opt.spec_path
// only names the spec in messages (the --resume command printed on a stop).
int run_build(const RunOptions& opt, const RunSpec& spec);

}  // namespace ns
