// MPI mode of `neurosweep run` (mpi_run.hpp). Deterministic assignment: rank r owns the contiguous
// block of chunks of shard r/R (BuildStore, docs/FORMAT.md section 3), so the merged database is
// the same whatever R (each chunk's results depend only on its instance indices and the seed).
//
// Communication is deliberately small: every rank sends rank 0 its (done, total) after each chunk
// (MPI_Isend, one outstanding), then a final (done, total, status) and, on failure, its error text.
// Rank 0 drains these between its own chunks and, once its shard is done, blocks until every rank
// has reported. No collective runs while ranks have unequal amounts of work, so nothing deadlocks
// when shards differ in size (a resumed build) or a rank fails early. A rank that dies (SIGKILL)
// takes the job down through mpirun; its parts directory stays and `--resume` completes it.
#include "run/mpi_run.hpp"

#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <thread>
#include <algorithm>
#include <string>
#include <vector>

#include "store/database.hpp"
#include "errors.hpp"
#include "spec/spec.hpp"
#ifdef NEUROSWEEP_HAVE_CUDA
#include "neurosweep/cuda_backend.hpp"
#endif

namespace ns {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kTagProgress = 1;  // uint64[2]: done, total (this rank's shard)
constexpr int kTagFinal = 2;     // uint64[3]: done, total, status
constexpr int kTagError = 3;     // char[]: error message (after kTagFinal with status != 0)

struct MpiSession {
  MpiSession() { MPI_Init(nullptr, nullptr); }
  ~MpiSession() { MPI_Finalize(); }
};

int status_of(const std::exception_ptr& e, std::string* msg) {
  try {
    std::rethrow_exception(e);
  } catch (const SpecError& x) {
    *msg = x.what();
    return 2;
  } catch (const DatabaseError& x) {
    *msg = x.what();
    return 3;
  } catch (const std::exception& x) {
    *msg = x.what();
    return 1;
  } catch (...) {
    *msg = "unknown error";
    return 1;
  }
}


// Rank 0's view of the whole build.
class Aggregate {
 public:
  Aggregate(int ranks, uint64_t n_total, bool quiet)
      : done_(ranks, 0), seen_(ranks, false), final_(ranks, false), status_(ranks, 0), msg_(ranks),
        n_total_(n_total), quiet_(quiet), tty_(isatty(2)), t0_(Clock::now()), last_(t0_) {}

  void update(int r, uint64_t done) {
    if (!seen_[r]) {  // first report: what was done before this run (resume) does not count for the rate
      seen_[r] = true;
      done0_ += done;
    }
    done_[r] = done;
    maybe_print(false);
  }
  void finish(int r, uint64_t done, int status) {
    update(r, done);
    final_[r] = true;
    status_[r] = status;
  }
  void set_message(int r, std::string m) { msg_[r] = std::move(m); }
  bool all_final() const {
    for (bool f : final_)
      if (!f) return false;
    return true;
  }
  const std::vector<int>& status() const { return status_; }
  const std::vector<std::string>& messages() const { return msg_; }
  uint64_t done() const {
    uint64_t s = 0;
    for (auto d : done_) s += d;
    return s;
  }

  // Drains every message waiting (block: wait for at least one first).
  void receive(bool block) {
    for (;;) {
      MPI_Status st;
      int flag = 0;
      if (block) {
        MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
        flag = 1;
        block = false;
      } else {
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
      }
      if (!flag) return;
      const int src = st.MPI_SOURCE;
      if (st.MPI_TAG == kTagError) {
        int n = 0;
        MPI_Get_count(&st, MPI_CHAR, &n);
        std::string m(static_cast<size_t>(n), '\0');
        MPI_Recv(m.data(), n, MPI_CHAR, src, kTagError, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        set_message(src, std::move(m));
      } else {
        uint64_t v[3] = {0, 0, 0};
        const int n = st.MPI_TAG == kTagFinal ? 3 : 2;
        MPI_Recv(v, n, MPI_UINT64_T, src, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (st.MPI_TAG == kTagFinal)
          finish(src, v[0], static_cast<int>(v[2]));
        else
          update(src, v[0]);
      }
    }
  }

  void maybe_print(bool final) {
    if (quiet_) return;
    const double since = std::chrono::duration<double>(Clock::now() - last_).count();
    if (!final && since < (tty_ ? 0.2 : 10.0)) return;
    last_ = Clock::now();
    const uint64_t d = done();
    const double el = std::chrono::duration<double>(Clock::now() - t0_).count();
    const double rate = el > 0 ? double(d - done0_) / el : 0.0;
    const double eta = rate > 0 ? double(n_total_ - d) / rate : NAN;
    char b[160];
    std::snprintf(b, sizeof b, "%s%" PRIu64 "/%" PRIu64 " instances (%.1f%%) on %zu ranks, %.0f inst/s, ETA %s%s",
                  tty_ ? "\r" : "", d, n_total_, n_total_ ? 100.0 * double(d) / double(n_total_) : 100.0,
                  done_.size(), rate, fmt_duration(eta).c_str(), tty_ ? "\x1b[K" : "");
    std::cerr << b << (!tty_ || final ? "\n" : "") << std::flush;
  }

 private:
  std::vector<uint64_t> done_;
  std::vector<bool> seen_, final_;
  std::vector<int> status_;
  std::vector<std::string> msg_;
  uint64_t n_total_, done0_ = 0;
  bool quiet_, tty_;
  Clock::time_point t0_, last_;
};

// Binds this rank's GPU: local rank modulo the devices this process sees (with one GPU per task
// from the scheduler, CUDA_VISIBLE_DEVICES leaves one device and every rank takes device 0).
bool bind_gpu(const RunOptions& opt, int local_rank, int local_size, int rank) {
#ifdef NEUROSWEEP_HAVE_CUDA
  if (opt.backend == "cpu") return false;
  std::string why;
  const int n = cuda_devices(&why);
  if (n <= 0) return false;  // auto falls back to the CPU; --backend cuda reports the error in run_build
  const int dev = local_rank % n;
  if (!cuda_select_device(dev, &why))
    throw std::runtime_error("rank " + std::to_string(rank) + ": cannot select CUDA device " + std::to_string(dev) +
                             ": " + why);
  if (rank == 0 && local_size > n && !opt.quiet)
    std::cerr << "neurosweep: note: " << local_size << " ranks share " << n
              << " CUDA device(s) on this node; one rank per GPU is fastest\n";
  return true;
#else
  (void)opt, (void)local_rank, (void)local_size, (void)rank;
  return false;
#endif
}

// Rank 0's checks before any work, so that a bad spec or a refused output is reported once.
std::string precheck(const RunOptions& opt, int ranks, uint64_t* n_total, int* code) {
  try {
    if (opt.shard_n > 1)
      throw SpecError("--shard " + std::to_string(opt.shard_k) + "/" + std::to_string(opt.shard_n) +
                      " cannot be combined with mpirun: under MPI each rank builds one shard already");
    if (opt.out.empty()) throw SpecError("-o: an output path is required");
    const RunSpec spec = load_spec(opt.spec_path);
    *n_total = spec.sweep.size();
    if (*n_total < static_cast<uint64_t>(ranks))
      throw SpecError(opt.spec_path + ": " + std::to_string(*n_total) + " instances for " + std::to_string(ranks) +
                      " ranks: use at most " + std::to_string(*n_total) + " ranks");
    if (opt.chunk > 0 && (*n_total + opt.chunk - 1) / opt.chunk < static_cast<uint64_t>(ranks))
      throw SpecError("--chunk " + std::to_string(opt.chunk) + ": " + std::to_string(*n_total) + " instances make only " +
                      std::to_string((*n_total + opt.chunk - 1) / opt.chunk) + " chunk(s) for " + std::to_string(ranks) +
                      " ranks; use a smaller --chunk or fewer ranks");
    std::error_code ec;
    bool any_shard = false;
    for (int r = 0; r < ranks; ++r) {
      const std::string sp = shard_path(opt.out, r, ranks);
      any_shard = any_shard || fs::exists(sp, ec) || fs::exists(sp + ".parts", ec);
    }
    if (opt.resume && fs::is_directory(opt.out + ".parts", ec) && !any_shard)
      throw DatabaseError(opt.out + ".parts: an unfinished single-process build; resume it without mpirun "
                          "(or with --shard), or use --force to start over with " + std::to_string(ranks) + " ranks");
    if (opt.resume && !any_shard) {
      if (fs::exists(opt.out, ec))
        throw DatabaseError(opt.out + ": exists and no shard of a " + std::to_string(ranks) +
                            "-rank build is left to resume; it is already finalized (use --force to rebuild)");
      throw DatabaseError(opt.out + ": nothing to resume: no " + shard_path(opt.out, 0, ranks) +
                          " (or .parts) of a " + std::to_string(ranks) + "-rank build exists");
    }
    if (!opt.resume && !opt.force && fs::exists(opt.out, ec))
      throw DatabaseError(opt.out + ": file exists; use --force to overwrite");
  } catch (...) {
    std::string msg;
    *code = status_of(std::current_exception(), &msg);
    return msg;
  }
  *code = 0;
  return "";
}

}  // namespace

bool mpi_launched() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

int mpi_run_build(RunOptions opt) {
  MpiSession mpi;
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  if (ranks == 1) return run_build(opt);  // a single process: exactly the plain build

  // --- agree on the input (rank 0 checks, everyone follows) ---
  uint64_t n_total = 0;
  int code = 0;
  std::string msg;
  if (rank == 0) msg = precheck(opt, ranks, &n_total, &code);
  MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (code != 0) {
    if (rank == 0) std::cerr << "neurosweep: error: " << msg << "\n";
    return code;
  }

  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  int local_rank = 0, local_size = 1;
  MPI_Comm_rank(node, &local_rank);
  MPI_Comm_size(node, &local_size);
  int node_leader = local_rank == 0 ? 1 : 0, n_nodes = 0;
  MPI_Comm_free(&node);
  MPI_Allreduce(&node_leader, &n_nodes, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);

  const bool quiet = opt.quiet;
  if (rank == 0 && !quiet)
    std::cerr << "neurosweep: MPI: " << ranks << " ranks on " << n_nodes << " node(s); rank r builds "
              << shard_path(opt.out, 0, ranks).replace(shard_path(opt.out, 0, ranks).find(".shard-0-"), 9, ".shard-r-")
              << ", rank 0 merges them into " << opt.out << "\n";

  // --- this rank's shard ---
  Aggregate agg(ranks, n_total, quiet);
  uint64_t my_done = 0, my_total = 0;
  uint64_t sendbuf[2] = {0, 0};
  MPI_Request req = MPI_REQUEST_NULL;
  opt.shard_k = rank;
  opt.shard_n = ranks;
  opt.quiet = true;  // rank 0 prints the aggregate instead
  opt.on_progress = [&](uint64_t done, uint64_t total) {
    my_done = done;
    my_total = total;
    if (rank == 0) {
      agg.update(0, done);
      agg.receive(false);
    } else {
      MPI_Wait(&req, MPI_STATUS_IGNORE);  // one message in flight at most
      sendbuf[0] = done;
      sendbuf[1] = total;
      MPI_Isend(sendbuf, 2, MPI_UINT64_T, 0, kTagProgress, MPI_COMM_WORLD, &req);
    }
  };
  int status = 0;
  std::string error;
  bool cuda = false;
  try {
    cuda = bind_gpu(opt, local_rank, local_size, rank);
  } catch (...) {
    status = status_of(std::current_exception(), &error);
  }
  // One chunk size for all ranks (shards are blocks of chunks), chosen by rank 0: run_build's
  // default (131072 on a GPU, 512 per CPU thread), but small enough that every rank gets work.
  uint64_t chunk = opt.chunk;
  if (rank == 0 && chunk == 0) {
    chunk = std::max<uint64_t>(1, std::min(default_chunk(cuda, opt.threads), (n_total + ranks - 1) / ranks));
  }
  MPI_Bcast(&chunk, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  opt.chunk = chunk;
  try {
    if (status != 0) throw std::runtime_error(error);
    const std::string sp = shard_path(opt.out, rank, ranks);
    std::error_code ec;
    if (opt.resume && fs::exists(sp, ec) && !fs::exists(sp + ".parts", ec)) {
      const DbSummary s = inspect(sp);  // a finished shard: validate it, nothing to do
      if (s.state != "shard" || s.shard_k != rank || s.shard_n != ranks)
        throw DatabaseError(sp + ": not shard " + std::to_string(rank) + "/" + std::to_string(ranks) +
                            " of a finished build (state " + s.state + "); use --force to rebuild");
      opt.on_progress(s.n_rows, s.n_rows);
    } else {
      if (opt.resume && !fs::exists(sp + ".parts", ec)) opt.resume = false;  // this rank never started
      run_build(opt);
    }
  } catch (...) {
    status = status_of(std::current_exception(), &error);
  }

  // --- report, gather, merge ---
  if (rank != 0) {
    MPI_Wait(&req, MPI_STATUS_IGNORE);
    uint64_t fin[3] = {my_done, my_total, static_cast<uint64_t>(status)};
    MPI_Send(fin, 3, MPI_UINT64_T, 0, kTagFinal, MPI_COMM_WORLD);
    if (status != 0) MPI_Send(error.data(), static_cast<int>(error.size()), MPI_CHAR, 0, kTagError, MPI_COMM_WORLD);
  } else {
    agg.finish(0, my_done, status);
    agg.set_message(0, error);
    while (!agg.all_final()) agg.receive(true);
    agg.maybe_print(true);
    code = 0;
    std::set<std::string> distinct;
    for (int r = 0; r < ranks; ++r)
      if (agg.status()[r] != 0) {
        if (code == 0) code = agg.status()[r];
        distinct.insert(agg.messages()[r]);
      }
    if (code != 0) {
      for (int r = 0; r < ranks; ++r)
        if (agg.status()[r] != 0 && distinct.count(agg.messages()[r])) {
          std::cerr << "neurosweep: error: " << (distinct.size() > 1 ? "rank " + std::to_string(r) + ": " : "")
                    << agg.messages()[r] << "\n";
          if (distinct.size() == 1) distinct.clear();
        }
      std::cerr << "neurosweep: the shard files of the ranks that finished are kept; rerun with --resume\n";
    } else {
      std::vector<std::string> shards;
      for (int r = 0; r < ranks; ++r) shards.push_back(shard_path(opt.out, r, ranks));
      try {
        merge_shards(shards, opt.out, opt.force || opt.resume);
        for (const auto& s : shards) fs::remove(s);
        if (!quiet) std::cerr << "neurosweep: merged " << ranks << " shards into " << opt.out << "\n";
      } catch (...) {
        std::string m;
        code = status_of(std::current_exception(), &m);
        std::cerr << "neurosweep: error: merging the shards: " << m << " (shard files kept)\n";
      }
    }
  }
  MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return code;
}

}  // namespace ns
