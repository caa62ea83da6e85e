// The engine in memory: see evaluate.hpp.
#include "run/evaluate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <mutex>
#include <sstream>

#include "classify/stage_network.hpp"
#include "errors.hpp"
#include "models/plugin.hpp"
#include "run/probe.hpp"
#include "run/run.hpp"
#include "run/simulate.hpp"
#include "run/starts.hpp"
#include "spec/circuit.hpp"
#include "spec/validate.hpp"

namespace ns {

void append_spike_trains(const ChunkOutput& result, size_t slots, int keep, ChunkData& data) {
  const size_t n = result.n;
  data.spike_counts.resize(data.spike_counts.size() + n * slots);
  uint32_t* counts = data.spike_counts.data() + data.spike_counts.size() - n * slots;
  for (size_t j = 0; j < n; ++j)
    for (size_t c = 0; c < slots; ++c) {
      const size_t slot = j * static_cast<size_t>(result.n_obs) + c;
      const uint32_t kept = std::min<uint32_t>(result.n_spikes[slot], static_cast<uint32_t>(keep));
      counts[j * slots + c] = kept;
      const float* t = result.spike_times.data() + slot * result.max_spikes;
      data.spike_times.insert(data.spike_times.end(), t, t + kept);
    }
}

namespace {
std::mutex g_eval_mu;  // one evaluation at a time per process: each uses every core (or the GPU)
}

Evaluator::Evaluator(const RunSpec& spec, const EvalOptions& opt) : spec_(spec), opt_(opt) {
  if (spec_.start_axis >= 0)
    throw SpecError(spec_.source + ": a start axis: not available to the engine (evaluate() takes the rows "
                    "to run; give one \"initial\" setting)");
  if (spec_.starts.at(0).kind == InitialKind::kDatabase)
    throw SpecError(spec_.source + ": initial.from_database: not available to the engine (a database's rows "
                    "are its sweep's instances; evaluate() takes any parameters); use \"cold\", explicit "
                    "states or \"thermalized\"");
  if (spec_.network)
    throw SpecError(spec_.source + ": \"model\": \"network\": not available to the engine yet (networks run "
                    "through `neurosweep run`: docs/NETWORKS.md)");
  if (opt_.spikes < 0) throw SpecError("spikes " + std::to_string(opt_.spikes) + ": must be >= 0");
  if (opt_.threads < 0) throw SpecError("threads " + std::to_string(opt_.threads) + ": must be >= 0 (0: all cores)");
  stage_ = make_classifier_stage(spec_);
  backend_ = make_backend(backend_for_model(opt_.backend, spec_.model->name, &notice_), &notice_);  // plugins: CPU with auto
  rs_ = run_settings(spec_, std::max(stage_->spikes_needed(), opt_.spikes), opt_.threads);
  rs_.want_final_state = false;
  probe_ = Probe::make(spec_, rs_);
  starts_ = std::make_unique<StartStates>(spec_, rs_, backend_.get());
  if (is_circuit_model(spec_.model->name)) spike_cells_ = network_cells(spec_);
}

Evaluator::~Evaluator() = default;

std::string Evaluator::backend_name() const { return backend_->name(); }
std::string Evaluator::backend_device() const { return backend_->device(); }

std::vector<ColumnSpec> Evaluator::columns() const {
  std::vector<ColumnSpec> cols;
  cols.push_back({"index", "u8", "", "instance index (key of the models' random input)", {}});
  cols.push_back({"status", "u1", "", "numerical status of the integration", {"ok", "nonfinite", "diverged"}});
  for (auto& c : stage_->columns()) cols.push_back(c);
  if (probe_)
    for (auto& c : probe_->columns(*stage_)) cols.push_back(c);
  return cols;
}

int Evaluator::param_index(const std::string& name) const {
  const ModelDesc& m = *spec_.model;
  for (size_t k = 0; k < m.params.size(); ++k)
    if (m.params[k].name == name) return static_cast<int>(k);
  std::string valid;
  for (const auto& p : m.params)
    if (!is_hidden_name(p.name)) valid += (valid.empty() ? std::string() : std::string(", ")) + p.name;
  throw SpecError("parameter '" + name + "': not a parameter of model " + m.name + "; valid: " + valid);
}

std::vector<double> Evaluator::check(const std::vector<std::string>& names, const double* values, size_t n) const {
  const ModelDesc& m = *spec_.model;
  const size_t np = m.params.size();
  std::vector<int> col_of(np, -1);  // parameter -> column of `values`
  std::vector<int> pidx;
  for (size_t c = 0; c < names.size(); ++c) {
    const int k = param_index(names[c]);
    if (col_of[k] >= 0) throw SpecError("parameter '" + names[c] + "' given twice");
    col_of[k] = static_cast<int>(c);
    pidx.push_back(k);
  }
  if (n && !names.empty() && !values) throw SpecError("no parameter values given");

  // The full parameter matrix, column-major [k * n + r], checked before any work.
  std::vector<double> params(np * n);
  for (size_t k = 0; k < np; ++k) {
    if (col_of[k] >= 0)
      std::copy_n(values + static_cast<size_t>(col_of[k]) * n, n, params.begin() + static_cast<long>(k * n));
    else
      std::fill_n(params.begin() + static_cast<long>(k * n), n, spec_.base_params[k]);
  }
  std::vector<double> row(np);
  for (size_t r = 0; r < n; ++r) {
    for (size_t k = 0; k < np; ++k) row[k] = params[k * n + r];
    const OriginFn origin = [&](int k) {
      return col_of[k] >= 0 ? std::string("column ") + m.params[k].name + ", row " + std::to_string(r) : std::string("spec base value");
    };
    for (int k : pidx) {
      const std::string why = range_violation(m.params[k], row[k]);
      if (!why.empty()) {
        std::ostringstream o;
        o << "parameter '" << m.params[k].name << "', row " << r << ": value " << row[k] << " is out of bounds: " << why;
        throw SpecError(o.str());
      }
    }
    const std::string rule = rule_violation(m, row.data(), origin);
    if (!rule.empty()) throw SpecError("row " + std::to_string(r) + ": " + rule);
  }
  return params;
}

Trace Evaluator::trace(const std::vector<std::string>& names, const double* values, int64_t every_steps,
                       uint64_t index) const {
  const std::vector<double> params = check(names, values, 1);  // one row: every parameter, checked
  std::vector<double> buf;
  const double* init = starts_->fill(0, 1, params.data(), buf);
  std::vector<double> init_state;
  if (init) init_state.assign(init, init + spec_.model->state.size());
  RunSettings one = rs_;
  one.threads = 1;
  std::lock_guard<std::mutex> lock(g_eval_mu);
  return simulate_trace(one, params, init ? &init_state : nullptr, every_steps, spec_.model, index);
}

EvalResult Evaluator::evaluate(const std::vector<std::string>& names, const double* values, size_t n,
                               const uint64_t* indices, uint64_t index_offset) const {
  const ModelDesc& m = *spec_.model;
  const size_t np = m.params.size();
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  auto t0 = Clock::now();
  const std::vector<double> params = check(names, values, n);
  const double check_s = since(t0);
  std::vector<uint64_t> index(n);
  for (size_t r = 0; r < n; ++r) index[r] = indices ? indices[r] : index_offset + r;

  EvalResult res;
  res.check_s = check_s;
  res.n = n;
  res.columns = columns();
  res.spike_cells = spike_cells_;
  res.spike_slots = spike_cells_.empty() ? 1 : spike_cells_.size();
  res.data.first = 0;
  res.data.count = n;

  std::lock_guard<std::mutex> lock(g_eval_mu);
  const size_t chunk = static_cast<size_t>(opt_.chunk ? opt_.chunk : default_chunk(backend_->name() == "cuda", opt_.threads));
  // Pieces: at most `chunk` rows with consecutive instance indices (ChunkInput::first_index keys
  // instance first_index + j).
  std::vector<std::pair<size_t, size_t>> pieces;  // [r0, r1)
  for (size_t r0 = 0; r0 < n;) {
    size_t r1 = r0 + 1;
    while (r1 < n && r1 - r0 < chunk && index[r1] == index[r1 - 1] + 1) ++r1;
    pieces.emplace_back(r0, r1);
    r0 = r1;
  }
  // As in run.cpp: on the GPU, piece k+1 is integrated (another host thread waiting on the device)
  // while piece k is classified; each piece is computed exactly as without the overlap.
  struct Slot {
    size_t piece = ~size_t(0);
    std::vector<double> params, init;
    ChunkInput in;
    ChunkOutput out;
  };
  Slot slots[2];
  auto expand = [&](size_t k, Slot& S) {
    const auto [r0, r1] = pieces[k];
    const size_t len = r1 - r0;
    S.piece = k;
    S.params.resize(np * len);
    for (size_t j = 0; j < np; ++j)
      std::copy_n(params.begin() + static_cast<long>(j * n + r0), len, S.params.begin() + static_cast<long>(j * len));
    S.in.n = len;
    S.in.first_index = index[r0];
    S.in.params = S.params.data();
    // One start for every row (no start axis, no database start): the index does not matter.
    S.in.init_state = starts_->fill(0, len, S.params.data(), S.init);
  };
  // A few rows need no thread team (a team of idle threads costs milliseconds on a busy machine);
  // each row is integrated on its own, so the results are the same.
  auto integrate = [this](Slot& S) {
    if (S.in.n >= 64 || backend_->name() != "cpu") return backend_->run(rs_, S.in, S.out);
    RunSettings one = rs_;
    one.threads = 1;
    backend_->run(one, S.in, S.out);
  };
  const bool overlap = backend_->name() == "cuda" && !probe_;
  std::future<void> ahead;
  int cur = 0;
  for (size_t k = 0; k < pieces.size(); ++k) {
    Slot& S = slots[cur];
    t0 = Clock::now();
    if (ahead.valid() && S.piece == k) {
      ahead.get();
    } else {
      expand(k, S);
      integrate(S);
    }
    res.integrate_s += since(t0);
    if (overlap && k + 1 < pieces.size()) {
      Slot& N = slots[1 - cur];
      expand(k + 1, N);
      ahead = std::async(std::launch::async, [&integrate, &N] { integrate(N); });
      cur = 1 - cur;
    }
    t0 = Clock::now();
    ChunkData d;  // the columns of this piece, as run.cpp fills them
    d.first = S.in.first_index;
    d.count = S.in.n;
    d.set("status", S.out.status);
    stage_->classify_chunk(S.out, spec_.analysis_ms, d);
    if (probe_) probe_->run(*backend_, S.in, *stage_, spec_.analysis_ms, d);
    if (opt_.spikes > 0) append_spike_trains(S.out, res.spike_slots, opt_.spikes, res.data);
    if (!rs_.rate_series.empty()) {  // as run.cpp stores them in /rates
      if (S.out.n_series != static_cast<int>(rs_.rate_series.size()) || S.out.n_bins != rs_.rate_bins() ||
          S.out.rates.size() != S.in.n * rs_.rate_series.size() * rs_.rate_bins())
        throw BackendError("internal error: backend " + backend_->name() + " returned " +
                           std::to_string(S.out.n_series) + " x " + std::to_string(S.out.n_bins) +
                           " rate bins per instance; expected " + std::to_string(rs_.rate_series.size()) + " x " +
                           std::to_string(rs_.rate_bins()));
      res.data.rates.insert(res.data.rates.end(), S.out.rates.begin(), S.out.rates.end());
    }
    for (auto& [name, bytes] : d.columns) {
      auto& dst = res.data.columns[name];
      dst.insert(dst.end(), bytes.begin(), bytes.end());
    }
    res.classify_s += since(t0);
  }
  res.data.set("index", index);
  for (const auto& c : res.columns) {  // n == 0: empty columns of every name
    auto& v = res.data.columns[c.name];
    if (v.size() != n * dtype_size(c.dtype))
      throw std::logic_error("evaluate: column " + c.name + " has " + std::to_string(v.size()) + " bytes for " +
                             std::to_string(n) + " rows");
  }
  return res;
}

}  // namespace ns
