// The database build pipeline. Work flows in fixed-size chunks in index order; each chunk's
// parameters are expanded from the sweep (lazily, from the instance index), integrated by the
// backend, classified, and written to the build store, which renames it into place only when it is
// complete. Peak memory depends on the chunk size, not on the sweep size.
#include "run/run.hpp"
#include "models/plugin.hpp"

#include <hdf5.h>
#include <unistd.h>

#include <csignal>
#include <future>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "spec/circuit.hpp"
#include "store/database.hpp"
#include "errors.hpp"
#include "neurosweep/backend.hpp"
#include "neurosweep/models.hpp"
#include "neurosweep/version.hpp"
#include "run/evaluate.hpp"
#include "run/extend.hpp"
#include "run/probe.hpp"
#include "run/starts.hpp"
#include "run/simulate.hpp"
#include "spec/spec.hpp"
#include "classify/stage.hpp"
#include "classify/stage_network.hpp"
#include "network/run_network.hpp"
#include "network/sonata_spikes.hpp"

namespace ns {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}


// Progress on stderr: a bar redrawn in place on a terminal, plain log lines every 10 s otherwise.
class Progress {
 public:
  Progress(uint64_t total, uint64_t done, std::vector<std::string> labels, bool quiet)
      : total_(total), done0_(done), done_(done), labels_(std::move(labels)), quiet_(quiet),
        tty_(isatty(2)), t0_(Clock::now()), last_(t0_) {
    counts_.assign(labels_.size() + 1, 0);
  }
  void add(uint64_t n, const std::vector<int8_t>& label) {
    done_ += n;
    for (auto l : label) counts_[l >= 0 && size_t(l) < labels_.size() ? l : labels_.size()]++;
    const double since = std::chrono::duration<double>(Clock::now() - last_).count();
    if (!quiet_ && (done_ == total_ || since >= (tty_ ? 0.2 : 10.0))) {
      last_ = Clock::now();
      print(done_ == total_);
    }
  }
  void print(bool final) const {
    const double el = seconds_since(t0_);
    const double rate = el > 0 ? double(done_ - done0_) / el : 0.0;
    const double eta = rate > 0 ? double(total_ - done_) / rate : NAN;
    std::ostringstream o;
    if (tty_) {
      const int w = 24, fill = total_ ? int(w * double(done_) / double(total_)) : w;
      o << "\r[" << std::string(fill, '#') << std::string(w - fill, '.') << "] ";
    }
    char b[128];
    std::snprintf(b, sizeof b, "%" PRIu64 "/%" PRIu64 " instances (%.1f%%), %.0f inst/s, ETA %s", done_, total_,
                  total_ ? 100.0 * double(done_) / double(total_) : 100.0, rate, fmt_duration(eta).c_str());
    o << b << " |";
    for (size_t k = 0; k < labels_.size(); ++k)
      if (counts_[k]) o << " " << labels_[k] << " " << counts_[k];
    if (counts_.back()) o << " unclassified " << counts_.back();
    if (tty_) o << "\x1b[K";
    if (!tty_ || final) o << "\n";
    std::cerr << o.str() << std::flush;
  }

 private:
  uint64_t total_, done0_, done_;
  std::vector<std::string> labels_;
  std::vector<uint64_t> counts_;
  bool quiet_, tty_;
  Clock::time_point t0_, last_;
};

StoreSchema make_schema(const RunSpec& spec, const ClassifierStage& stage) {
  StoreSchema sc;
  const ModelDesc& m = *spec.model;
  sc.columns.push_back({"index", "u8", "", "instance index in the sweep", {}});
  for (int k : spec.sweep.swept_params())
    sc.columns.push_back({m.params[k].name, "f8", m.params[k].unit, m.params[k].doc, {}});
  if (spec.start_axis >= 0) {  // the start axis: each instance's start state, by its label
    const AxisInfo& a = spec.sweep.axes()[static_cast<size_t>(spec.start_axis)];
    sc.columns.push_back({a.name, "u1", "", "start state of the instance (start axis)", a.labels});
  }
  sc.columns.push_back({"status", "u1", "", "numerical status of the integration", {"ok", "nonfinite", "diverged"}});
  for (auto& c : stage.columns()) sc.columns.push_back(c);
  if (spec.out_final_state) {
    sc.final_state = true;
    for (const auto& st : m.state) {
      if (is_hidden_name(st.name)) continue;  // circuit objects: unused cells and synapses
      sc.state_names.push_back(st.name);
      sc.state_units.push_back(st.unit);
    }
  }
  sc.max_spikes_stored = spec.out_spikes;
  if (is_circuit_model(m.name)) sc.spike_cells = network_cells(spec);  // spikes of every cell
  if (spec.network) sc.spike_cells = spec.network->sample_names();  // the sampled neurons
  if (!spec.rate_series.empty()) {
    sc.rate_series = spec.rate_series;
    sc.rate_bins = static_cast<uint64_t>(spec.n_analysis / spec.rate_bin_steps);
    sc.rate_bin_ms = static_cast<double>(spec.rate_bin_steps) * spec.dt_ms;
    sc.rate_t0_ms = 0.0;  // bins start at the start of the analysis window
  }
  for (const auto& a : spec.sweep.axes()) {
    AxisSpec ax;
    ax.name = a.name;
    ax.kind = to_string(a.kind);
    ax.params = a.params;
    ax.size = a.size;
    ax.labels = a.labels;
    ax.values = a.values;
    // Random / Sobol axes: their draws are stored per digit only for small axes. Every instance's
    // values are columns of /instances anyway; materialising millions of draws here would put
    // them into the schema attribute and the manifest (memory and file size growing with n).
    constexpr uint64_t kMaxStoredDraws = 1u << 16;
    if (ax.values.empty() && a.size * a.params.size() <= kMaxStoredDraws) {
      for (size_t p = 0; p < a.params.size(); ++p)
        for (uint64_t j = 0; j < a.size; ++j) ax.values.push_back(spec.sweep.value(&a - &spec.sweep.axes()[0], p, j));
    }
    sc.axes.push_back(std::move(ax));
  }
  return sc;
}

}  // namespace

// SIGINT, SIGTERM and SIGHUP while a build runs: the first one is recorded (the chunk in flight is
// finished and committed, then the build stops and prints how to resume); the handler is one-shot
// (SA_RESETHAND), so a second signal kills at once, which is safe too (chunk files are atomic).
namespace {
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void record_stop_signal(int sig) { g_stop_signal = sig; }
}  // namespace

StopSignals::StopSignals() {
  g_stop_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = record_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
  for (int k = 0; k < 3; ++k) sigaction(sigs[k], &sa, &old_[k]);
}
StopSignals::~StopSignals() {
  const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
  for (int k = 0; k < 3; ++k) sigaction(sigs[k], &old_[k], nullptr);
}
int StopSignals::received() { return g_stop_signal; }

std::string fmt_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char b[32];
  if (s < 60)
    std::snprintf(b, sizeof b, "%.0fs", s);
  else if (s < 3600)
    std::snprintf(b, sizeof b, "%dm%02ds", int(s) / 60, int(s) % 60);
  else
    std::snprintf(b, sizeof b, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return b;
}

std::string shard_path(const std::string& out, int k, int n) {
  std::filesystem::path p(out);
  const std::string stem = p.stem().string(), ext = p.extension().string();
  return (p.parent_path() / (stem + ".shard-" + std::to_string(k) + "-of-" + std::to_string(n) + ext)).string();
}

RunSettings run_settings(const RunSpec& spec, int max_spikes, int threads) {
  RunSettings rs;
  rs.model = spec.model->name;
  rs.precision = spec.precision;
  rs.gating = spec.gating.value_or(Gating::Table);
  rs.sim.dt = spec.dt_ms;
  rs.sim.n_transient = spec.n_transient;
  rs.sim.n_analysis = spec.n_analysis;
  rs.sim.spike_threshold = 0.0f;
  rs.sim.max_spikes = max_spikes;
  rs.sim.seed = spec.seed;
  rs.sim.integration = spec.integration;
  rs.sim.constants = spec.constants;
  rs.threads = threads;
  rs.want_final_state = spec.out_final_state;
  rs.rate_series = spec.rate_series;
  rs.rate_bin_steps = spec.rate_bin_steps;
  return rs;
}

// CPU threads a build uses: --threads, else every core (as the CPU backend does).
static int threads_used(int threads) {
  return threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

uint64_t default_chunk(bool cuda, int threads) {
  return cuda ? 131072 : 512ull * static_cast<uint64_t>(threads_used(threads));
}

int run_build(const RunOptions& opt) { return run_build(opt, load_spec(opt.spec_path)); }

int run_build(const RunOptions& opt, const RunSpec& spec) {
  const auto t_start = Clock::now();
  const ModelDesc& m = *spec.model;
  auto stage = make_classifier_stage(spec);
  if (opt.shard_n < 1 || opt.shard_k < 0 || opt.shard_k >= opt.shard_n)
    throw SpecError("--shard " + std::to_string(opt.shard_k) + "/" + std::to_string(opt.shard_n) +
                    ": expected K/N with 0 <= K < N");
  if (opt.out.empty()) throw SpecError("-o: an output path is required");
  const std::string out = opt.shard_n > 1 ? shard_path(opt.out, opt.shard_k, opt.shard_n) : opt.out;
  {
    const auto dir = std::filesystem::path(out).parent_path();
    if (!dir.empty() && !std::filesystem::is_directory(dir))
      throw SpecError("-o '" + out + "': directory '" + dir.string() + "' does not exist");
  }
  std::string notice;
  auto backend = make_backend(backend_for_model(opt.backend, spec.model->name, &notice), &notice);  // plugins: CPU with auto
  if (!opt.quiet && !notice.empty()) std::cerr << "neurosweep: " << notice << "\n";

  const RunSettings rs = run_settings(spec, std::max(stage->spikes_needed(), spec.out_spikes), opt.threads);

  const uint64_t n_total = spec.sweep.size();
  // Networks (network/run_network.hpp) run on the CPU, one network per thread (a chunk of a few
  // networks per thread keeps the memory of sampled spikes and the progress display reasonable),
  // or on the GPU in the block form, one network per thread block (net_block.hpp), where every
  // population has the same model and none is a spike source (docs/NETWORKS.md).
  std::unique_ptr<NetworkRunner> net_runner;
  bool net_on_gpu = false;
  if (spec.network) {
    net_runner = std::make_unique<NetworkRunner>(spec.network, rs);
    if (backend->name() != "cpu") {
      const std::string why = net_runner->block_unsupported();
      net_on_gpu = why.empty();
      if (!net_on_gpu) {
        if (!opt.quiet) std::cerr << "neurosweep: this network runs on the CPU backend (GPU block form: " << why << ")\n";
        backend = make_cpu_backend();
      }
    }
  }
  const uint64_t chunk = opt.chunk ? opt.chunk
                         : net_on_gpu   ? 512
                         : spec.network ? 4ull * static_cast<uint64_t>(threads_used(opt.threads))
                                        : default_chunk(backend->name() == "cuda", opt.threads);
  const auto probe = Probe::make(spec, rs);  // sensitivity probe (run/probe.hpp), or null
  StoreSchema schema = make_schema(spec, *stage);
  if (probe)
    for (auto& col : probe->columns(*stage)) schema.columns.push_back(col);
  // output.traces and output.sonata_spikes by per_label / where: one rule (choose_traces), its
  // columns and labels checked against the schema before anything runs.
  const auto choice_of = [&](const char* key, uint64_t per_label, const std::string& where, uint64_t max,
                             const std::vector<uint64_t>& explicit_instances) {
    TraceChoice tc{per_label, where, max, spec.seed, explicit_instances};
    try {
      if (!where.empty()) check_trace_choice(schema, {0, where, 1, 0, {}}, opt.spec_path + ": " + key + ".where");
      if (per_label) check_trace_choice(schema, {per_label, "", 0, 0, {}}, opt.spec_path + ": " + key + ".per_label");
    } catch (const DatabaseError& e) {
      throw SpecError(e.what());
    }
    return tc;
  };
  TraceChoice trace_choice, sonata_choice;
  if (spec.traces_by_predicate())
    trace_choice = choice_of("output.traces", spec.trace_per_label, spec.trace_where, spec.trace_max,
                             spec.trace_instances);
  if (spec.sonata_by_predicate()) {
    if (opt.shard_n > 1)
      throw SpecError(opt.spec_path + ": output.sonata_spikes: \"per_label\" / \"where\" choose over the whole "
                                      "sweep after classification, which a shard cannot see; give \"instances\" "
                                      "with --shard, or build without shards");
    sonata_choice = choice_of("output.sonata_spikes", spec.sonata_per_label, spec.sonata_where, spec.sonata_max,
                              spec.sonata_instances);
  }

  std::map<std::string, AttrValue> attrs;
  if (spec.traces_by_predicate()) attrs["trace_choice"] = trace_choice_json(trace_choice);  // for merge_shards
  attrs["seed"] = static_cast<int64_t>(spec.seed);
  attrs["model"] = m.name;
  attrs["name"] = spec.name;
  attrs["description"] = spec.description;
  attrs["dt_ms"] = spec.dt_ms;
  attrs["transient_ms"] = spec.transient_ms;
  attrs["analysis_ms"] = spec.analysis_ms;
  attrs["precision"] = to_string(spec.precision);
  attrs["gating"] = to_string(rs.gating);
  attrs["integration"] = integration_name(spec.integration);
  attrs["constants"] = constants_name(spec.constants);
  if (probe) attrs["probe"] = probe->description();
  attrs["backend"] = backend->name();
  attrs["device"] = backend->device();
  attrs["software_version"] = std::string(kVersion);
  attrs["git_revision"] = std::string(kGitRevision);
  attrs["classifier"] = stage->settings_json();
  attrs["spike_threshold_mV"] = static_cast<double>(rs.sim.spike_threshold);
  attrs["spikes_kept_for_classifier"] = static_cast<int64_t>(rs.sim.max_spikes);
  attrs["initial"] = initial_attribute(spec);
  if (spec.start_axis >= 0) attrs["starts"] = starts_json(spec);
  if (spec.circuit) attrs["circuit"] = spec.circuit->to_json().dump();  // the wiring, by name
  if (spec.network) attrs["network"] = spec.network->normalised.dump();  // the spec's network object
  if (spec.wants_sonata()) {
    nlohmann::json so = {{"dir", spec.sonata_dir.empty() ? std::filesystem::path(opt.out).filename().string() + ".sonata"
                                                        : spec.sonata_dir},
                         {"instances", spec.sonata_instances}};
    // chosen by predicate: the full list is <dir>/chosen.json, written by the SONATA pass
    if (spec.sonata_by_predicate()) so["chosen"] = kSonataChosenFile;
    attrs["sonata_spikes"] = so.dump();  // where output.sonata_spikes wrote (relative to the database)
  }
  if (spec.start_axis < 0 && spec.initial().kind == InitialKind::kThermalized)
    attrs["thermalize_ms"] = spec.initial().thermal_ms;
  // Each instance's start (run/starts.hpp): thermalised cells once per distinct cell and T,
  // databases opened and checked here, before the store is created.
  StartStates starts(spec, rs, backend.get());

  std::optional<BuildPrefix> prefix;  // --extend: the rows of the existing database come first
  if (opt.extend && !opt.resume) {
    if (opt.shard_n > 1) throw SpecError("--extend cannot be combined with --shard (extend the merged database)");
    prefix = extension_prefix(out, spec, opt.force);
    attrs["extended_from"] = nlohmann::json{{"spec_hash", prefix->spec_hash}, {"n_rows", prefix->n_rows}}.dump();
  }
  BuildStore store = opt.resume ? BuildStore::resume(out, spec.hash, spec.canonical, &schema)
                                : BuildStore::create(out, spec.canonical, spec.hash, n_total, chunk, schema, attrs,
                                                     opt.force, opt.shard_k, opt.shard_n, prefix ? &*prefix : nullptr);
  // output.sonata_spikes: the files of this shard's chosen instances; a fresh build removes those a
  // previous build left, so that a resumed build keeps only files this build wrote.
  const std::string sonata_dir = spec.wants_sonata() ? sonata_spikes_dir(opt.out, spec.sonata_dir) : "";
  const std::string sonata_chosen =  // per_label / where: the instances the SONATA pass chose
      spec.wants_sonata() ? (std::filesystem::path(sonata_dir) / kSonataChosenFile).string() : "";
  std::vector<uint64_t> sonata_mine;
  if (spec.wants_sonata()) {
    const auto scs = store.shard_chunks();
    const uint64_t a = store.chunk_range(scs.first).first, b = std::min(n_total, scs.second * store.chunk_size());
    for (uint64_t i : spec.sonata_instances)
      if (i >= a && i < b) sonata_mine.push_back(i);
    std::error_code ec;
    std::filesystem::create_directories(sonata_dir, ec);
    if (!std::filesystem::is_directory(sonata_dir))
      throw SpecError(opt.spec_path + ": output.sonata_spikes.dir = \"" + sonata_dir + "\": cannot create the directory");
    if (!opt.resume) {
      for (uint64_t i : sonata_mine) std::filesystem::remove(sonata_spikes_file(sonata_dir, i), ec);
      // an earlier build's predicate choice and its files (only files that build listed)
      for (uint64_t i : read_sonata_chosen(sonata_chosen))
        std::filesystem::remove(sonata_spikes_file(sonata_dir, i), ec);
      std::filesystem::remove(sonata_chosen, ec);
    }
  }
  // A resumed build keeps the chunk size it was created with, whatever --chunk says now.
  const uint64_t chunk_used = store.chunk_size();
  if (opt.resume && opt.chunk && opt.chunk != chunk_used && !opt.quiet)
    std::cerr << "neurosweep: --chunk " << opt.chunk << " ignored: the build being resumed uses chunks of "
              << chunk_used << " instances\n";
  // Done chunks from one directory listing; the pending ones are walked lazily below, so the
  // first chunk of a 2^48-instance sweep starts at once and memory does not grow with the count.
  const auto done = store.done_chunks();
  const auto sc = store.shard_chunks();
  const uint64_t shard_first = store.chunk_range(sc.first).first, shard_end = std::min(n_total, sc.second * chunk_used);
  const uint64_t shard_total = shard_end - shard_first;
  uint64_t rows_done = 0;
  for (uint64_t c : done) rows_done += store.chunk_range(c).second - store.chunk_range(c).first;
  const uint64_t shard_pending = shard_total - rows_done;
  const uint64_t chunks_todo = (sc.second - sc.first) - done.size();
  if (!opt.quiet) {
    std::cerr << "neurosweep: " << spec.name << ": " << n_total << " instances of " << m.name << ", "
              << spec.transient_ms << " + " << spec.analysis_ms << " ms at dt " << spec.dt_ms << " ms, "
              << to_string(spec.precision) << "/" << to_string(rs.gating) << ", " << chunks_todo << " chunk(s) of " << chunk_used
              << " to do" << (opt.shard_n > 1 ? " (shard " + std::to_string(opt.shard_k) + "/" + std::to_string(opt.shard_n) + ")" : "")
              << " -> " << out << "\n";
  }
  StopSignals stop_signals;  // SIGINT, SIGTERM, SIGHUP: finish the chunk in flight, then stop
  uint64_t chunks_this_run = 0;
  auto stop_message = [&](const std::string& why) {
    std::string cmd = "neurosweep run " + opt.spec_path + " -o " + opt.out + " --resume";
    if (opt.shard_n > 1) cmd += " --shard " + std::to_string(opt.shard_k) + "/" + std::to_string(opt.shard_n);
    if (opt.backend != "auto") cmd += " --backend " + opt.backend;
    if (opt.threads > 0) cmd += " --threads " + std::to_string(opt.threads);
    std::cerr << "\nneurosweep: " << why << ": " << (done.size() + chunks_this_run) << " of " << (sc.second - sc.first)
              << " chunks are done and kept in " << store.parts_dir() << ". Continue the build with:\n  " << cmd << "\n";
  };

  Progress progress(shard_total, shard_total - shard_pending, stage->label_names(), opt.quiet);
  uint64_t shard_done = shard_total - shard_pending;
  if (opt.on_progress) opt.on_progress(shard_done, shard_total);
  double t_integrate = 0, t_classify = 0, t_write = 0, t_expand = 0, t_probe = 0;
  // Time to first result (bench/README.md): when the first chunk of this run was committed, in
  // seconds since run_build started and as Unix time (the harness subtracts its launch time).
  double t_first_chunk = -1, t_first_chunk_unix = -1;
  const int np = static_cast<int>(m.params.size()), nstate = static_cast<int>(m.state.size());
  const auto swept = spec.sweep.swept_params();
  // The stored trace of instance ti (parameters p, start state st or null): the analysis window
  // of the build's integration, sampled every output.traces.every.
  auto take_trace = [&](uint64_t ti, const std::vector<double>& p, const std::vector<double>* st) {
    const Trace tr = simulate_trace(rs, p, st, spec.trace_every_steps, &m, ti);  // ti: its random input
    TraceData td;
    td.instance = ti;
    for (size_t c2 = 1; c2 < tr.names.size(); ++c2) {
      td.names.push_back(tr.names[c2]);
      td.units.push_back(tr.units[c2]);
      td.values.emplace_back();
    }
    for (size_t r = 0; r < tr.columns[0].size(); ++r) {
      const double t = tr.columns[0][r] - spec.transient_ms;
      if (t < -1e-9) continue;  // the stored trace covers the analysis window
      td.t.push_back(t);
      for (size_t c2 = 1; c2 < tr.names.size(); ++c2) td.values[c2 - 1].push_back(tr.columns[c2][r]);
    }
    return td;
  };
  // Two chunk slots: on the GPU, chunk k+1 is integrated (another host thread waiting on the
  // device) while chunk k is classified and written; expansion stays on this thread (thermalised
  // and warm starts read HDF5, which is not thread-safe). Each chunk is computed exactly as without
  // the overlap, so results do not change; CPU builds (all cores integrating) and probed builds
  // (the probe integrates too) run one chunk at a time.
  struct Slot {
    uint64_t c = ~uint64_t(0);
    std::vector<double> params, init;
    const double* init_ptr = nullptr;
    ChunkOutput result;
    double t_int = 0;
  };
  Slot slot_buf[2];
  int cur = 0;
  const bool overlap = backend->name() == "cuda" && !probe;
  auto expand = [&](uint64_t cc, Slot& S) {
    const auto t0 = Clock::now();
    const auto [first, end] = store.chunk_range(cc);
    const size_t n = static_cast<size_t>(end - first);
    S.c = cc;
    S.params.resize(static_cast<size_t>(np) * n);
    spec.sweep.fill(first, n, S.params.data());
    S.init_ptr = starts.fill(first, n, S.params.data(), S.init);
    t_expand += seconds_since(t0);
  };
  auto integrate = [&](Slot& S) {
    const auto t0 = Clock::now();
    const auto [first, end] = store.chunk_range(S.c);
    ChunkInput in;
    in.n = static_cast<size_t>(end - first);
    in.first_index = first;
    in.params = S.params.data();
    in.init_state = S.init_ptr;
    std::string why;
    if (net_on_gpu) {
      if (!net_runner->run_blocks_cuda(in, S.result, &why)) throw BackendError("network on the GPU: " + why);
    } else if (net_runner) {
      net_runner->run(in, S.result);
    } else {
      backend->run(rs, in, S.result);
    }
    S.t_int = seconds_since(t0);
  };
  std::future<void> ahead;  // the next chunk's integration (declared after the slots it uses)
  size_t next_done = 0;
  auto next_pending = [&](uint64_t from) {
    size_t d = next_done;
    for (uint64_t x = from; x < sc.second; ++x) {
      while (d < done.size() && done[d] < x) ++d;
      if (d < done.size() && done[d] == x) continue;
      return x;
    }
    return sc.second;
  };
  for (uint64_t c = sc.first; c < sc.second; ++c) {
    if (next_done < done.size() && done[next_done] == c) {
      ++next_done;
      continue;
    }
    if (const int sig = StopSignals::received()) {
      stop_message(std::string("interrupted by ") + strsignal(sig));
      return 128 + sig;
    }
    if (opt.stop_after_chunks && chunks_this_run == opt.stop_after_chunks) {
      stop_message("stopped after " + std::to_string(chunks_this_run) + " chunk(s) (--stop-after-chunks)");
      return 0;
    }
    const auto [first, end] = store.chunk_range(c);
    const size_t n = static_cast<size_t>(end - first);
    Slot& S = slot_buf[cur];
    if (ahead.valid() && S.c == c) {
      ahead.get();  // integrated while the previous chunk was classified and written
    } else {
      expand(c, S);
      integrate(S);
    }
    t_integrate += S.t_int;
    if (overlap && !(opt.stop_after_chunks && chunks_this_run + 1 >= opt.stop_after_chunks)) {
      const uint64_t cn = next_pending(c + 1);
      if (cn < sc.second) {
        Slot& N = slot_buf[1 - cur];
        expand(cn, N);
        ahead = std::async(std::launch::async, [&integrate, &N] { integrate(N); });
        cur = 1 - cur;
      }
    }
    const std::vector<double>& params = S.params;
    const std::vector<double>& init = S.init;
    const double* init_ptr = S.init_ptr;
    const ChunkOutput& result = S.result;
    ChunkInput in;  // this chunk, for the probe
    in.n = n;
    in.first_index = first;
    in.params = params.data();
    in.init_state = init_ptr;

    auto t0 = Clock::now();
    const double t_probe_before = t_probe;
    ChunkData data;
    data.first = first;
    data.count = n;
    std::vector<uint64_t> index(n);
    for (size_t j = 0; j < n; ++j) index[j] = first + j;
    data.set("index", index);
    for (int k : swept) data.set(m.params[k].name, params.data() + static_cast<size_t>(k) * n, n);
    if (spec.start_axis >= 0)
      data.set(spec.sweep.axes()[static_cast<size_t>(spec.start_axis)].name, starts.start_index(first, n));
    data.set("status", result.status);
    stage->classify_chunk(result, spec.analysis_ms, data);
    if (probe) {  // timed apart: its integration is the probe's cost
      const auto tp = Clock::now();
      probe->run(*backend, in, *stage, spec.analysis_ms, data);
      t_probe += seconds_since(tp);
    }
    // per instance, then per cell (schema.spike_slots() trains)
    if (spec.out_spikes > 0) append_spike_trains(result, schema.spike_slots(), spec.out_spikes, data);
    if (schema.has_rates()) {
      if (result.n_series != static_cast<int>(schema.rate_series.size()) || result.n_bins != schema.rate_bins ||
          result.rates.size() != n * schema.rate_row())
        throw BackendError("internal error: backend " + backend->name() + " returned " + std::to_string(result.n_series) +
                           " x " + std::to_string(result.n_bins) + " rate bins per instance; the database expects " +
                           std::to_string(schema.rate_series.size()) + " x " + std::to_string(schema.rate_bins));
      data.rates = result.rates;
    }
    if (spec.out_final_state) {
      if (schema.state_names.size() == m.state.size()) {
        data.final_state = result.final_state;
      } else {  // circuit objects: the states of the circuit's cells and synapses only
        for (size_t k = 0; k < m.state.size(); ++k)
          if (!is_hidden_name(m.state[k].name))
            data.final_state.insert(data.final_state.end(), result.final_state.begin() + k * n,
                                    result.final_state.begin() + (k + 1) * n);
      }
    }
    for (uint64_t ti : spec.trace_instances) {
      if (ti < first || ti >= end) continue;
      std::vector<double> p(np);
      for (int k = 0; k < np; ++k) p[k] = params[static_cast<size_t>(k) * n + (ti - first)];
      std::vector<double> st;
      if (init_ptr)
        for (int k = 0; k < nstate; ++k) st.push_back(init[static_cast<size_t>(k) * n + (ti - first)]);
      data.traces.push_back(take_trace(ti, p, init_ptr ? &st : nullptr));
    }
    t_classify += seconds_since(t0) - (probe ? t_probe - t_probe_before : 0.0);

    t0 = Clock::now();
    store.write_chunk(c, data);
    t_write += seconds_since(t0);
    if (t_first_chunk < 0) {
      t_first_chunk = seconds_since(t_start);
      t_first_chunk_unix = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    }
    std::vector<int8_t> labels(n);
    std::memcpy(labels.data(), data.columns["label"].data(), n);
    progress.add(n, labels);
    ++chunks_this_run;
    shard_done += n;
    if (opt.on_progress) opt.on_progress(shard_done, shard_total);
  }

  if (const int sig = StopSignals::received()) {  // arrived during the last chunk: keep it, stop
    stop_message(std::string("interrupted by ") + strsignal(sig));
    return 128 + sig;
  }
  // Trace pass (output.traces.per_label / where): labels exist only now, so the chosen instances
  // (store/database.hpp, choose_traces: a rule independent of chunking and threads) are integrated
  // again from the same parameters and start state, exactly as an explicitly requested trace. Its
  // result is one atomic file beside the chunks: a build killed here redoes only this pass on --resume.
  double t_traces = 0;
  if (spec.traces_by_predicate() && !store.has_late_traces()) {
    const auto tt = Clock::now();
    const std::vector<uint64_t> chosen = choose_traces(store.parts_dir(), trace_choice);
    if (!opt.quiet)
      std::cerr << "neurosweep: tracing " << chosen.size() << " instance(s) chosen by output.traces\n";
    std::vector<TraceData> traces;
    for (uint64_t ti : chosen) {
      std::vector<double> p(np), st;
      spec.sweep.fill(ti, 1, p.data());
      const double* ip = starts.fill(ti, 1, p.data(), st);  // the instance's own start
      traces.push_back(take_trace(ti, p, ip ? &st : nullptr));
      traces.back().chosen = true;
      if (const int sig = StopSignals::received()) {
        stop_message(std::string("interrupted by ") + strsignal(sig) + " while taking traces");
        return 128 + sig;
      }
    }
    store.write_late_traces(traces);
    t_traces = seconds_since(tt);
  }
  // SONATA pass (output.sonata_spikes): the chosen instances run again, as in the build (same
  // parameters, keys and connectivity), with every neuron recorded; one atomic file each, so a
  // build killed here redoes only the missing files on --resume.
  double t_sonata = 0;
  if (spec.sonata_by_predicate()) {  // unsharded (checked above): the chosen instances of the whole sweep
    if (std::filesystem::exists(sonata_chosen)) {  // the run this one resumes chose already
      sonata_mine = read_sonata_chosen(sonata_chosen);
    } else {
      std::set<uint64_t> all(spec.sonata_instances.begin(), spec.sonata_instances.end());
      for (uint64_t i : choose_traces(store.parts_dir(), sonata_choice)) all.insert(i);
      sonata_mine.assign(all.begin(), all.end());
      write_sonata_chosen(sonata_chosen, sonata_mine);
    }
  }
  if (!sonata_mine.empty()) {
    const auto tt = Clock::now();
    std::vector<std::string> pops;
    for (const auto& P : spec.network->pops) pops.push_back(P.name);
    uint64_t written = 0;
    for (uint64_t ti : sonata_mine) {
      const std::string f = sonata_spikes_file(sonata_dir, ti);
      if (std::filesystem::exists(f)) continue;  // written by the run this one resumes
      std::vector<double> p(np);
      spec.sweep.fill(ti, 1, p.data());
      write_sonata_spikes(f, pops, net_runner->record_all(p.data(), ti), ti, spec.transient_ms);
      ++written;
      if (const int sig = StopSignals::received()) {
        stop_message(std::string("interrupted by ") + strsignal(sig) + " while writing SONATA spike files");
        return 128 + sig;
      }
    }
    if (!opt.quiet)
      std::cerr << "neurosweep: " << written << " SONATA spike file(s) (every neuron) in " << sonata_dir << "\n";
    t_sonata = seconds_since(tt);
  }
  const auto t0 = Clock::now();
  nlohmann::json timings = {{"sonata_s", t_sonata},{"wall_s", seconds_since(t_start)},
                            {"expand_s", t_expand},
                            {"integrate_s", t_integrate},
                            {"classify_s", t_classify},
                            {"write_s", t_write},
                            {"probe_s", t_probe},
                            {"traces_s", t_traces},
                            {"instances_this_run", shard_pending},
                            {"instances_per_s", t_integrate > 0 ? double(shard_pending) / (seconds_since(t_start)) : 0.0},
                            {"neuron_steps_per_s", t_integrate > 0 ? double(shard_pending) * double(spec.n_transient + spec.n_analysis) / t_integrate : 0.0},
                            {"first_chunk_s", t_first_chunk},
                            {"first_chunk_unix_s", t_first_chunk_unix},
                            {"threads", threads_used(opt.threads)},
                            {"chunk", chunk_used},
                            {"resumed", opt.resume}};
  store.finalize({{"timings", timings.dump()}});
  if (!opt.quiet)
    std::cerr << "neurosweep: wrote " << out << " in " << fmt_duration(seconds_since(t_start)) << " (integrate "
              << fmt_duration(t_integrate) << ", classify " << fmt_duration(t_classify) << ", write "
              << fmt_duration(t_write + seconds_since(t0)) << ")\n";
  return 0;
}

}  // namespace ns
