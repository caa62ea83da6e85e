#include "circuit.hpp"

#include <cmath>

#include "neurosweep/models.hpp"

namespace ns {

namespace {
template <class M>
CircuitShape shape_of() {
  CircuitShape c;
  c.max_cells = M::NC;
  c.max_synapses = M::NSY;
  c.cell_params = M::CP;
  c.cell_state = M::CS;
  c.n_params = M::kNumParams;
  c.n_state = M::kNumState;
  c.n_cells_param = M::kStatic ? -1 : M::kPNCells;
  return c;
}
}  // namespace

bool is_circuit_model(const std::string& model) {
  return model == PyloricModel::kName || model == StgCircuitModel::kName;
}

CircuitShape circuit_shape(const std::string& model) {
  if (model == PyloricModel::kName) return shape_of<PyloricModel>();
  if (model == StgCircuitModel::kName) return shape_of<StgCircuitModel>();
  throw BackendError("'" + model + "' is not a circuit model");
}

ThermalCache::ThermalCache(const RunSettings& s, double thermal_ms, Backend* backend)
    : s_(s), thermal_ms_(thermal_ms), backend_(backend) {
  if (!(thermal_ms >= 0) || !std::isfinite(thermal_ms))
    throw BackendError("thermalisation duration must be >= 0 ms, got " + std::to_string(thermal_ms));
  steps_ = static_cast<int64_t>(std::llround(thermal_ms / s.sim.dt));
  if (!backend_) {
    own_ = make_cpu_backend();
    backend_ = own_.get();
  }
  s_.model = StgModel::kName;
  s_.sim.n_transient = steps_;
  s_.sim.n_analysis = 0;
  s_.sim.max_spikes = 0;
  s_.want_final_state = true;
}

size_t ThermalCache::distinct_cells() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_.size();
}

void ThermalCache::fill(const std::string& model, const double* params, size_t n, double* init) {
  const CircuitShape sh = circuit_shape(model);
  const int CP = sh.cell_params, CS = sh.cell_state;
  auto cells_of = [&](size_t i) {
    if (sh.n_cells_param < 0) return sh.max_cells;
    const double v = params[static_cast<size_t>(sh.n_cells_param) * n + i];
    const int k = v == v ? static_cast<int>(v) : 0;
    return std::max(0, std::min(sh.max_cells, k));
  };
  auto key_of = [&](size_t i, int c) {
    std::vector<double> k(static_cast<size_t>(CP));
    for (int q = 0; q < CP; ++q) k[static_cast<size_t>(q)] = params[static_cast<size_t>(c * CP + q) * n + i];
    return k;
  };
  // 1. distinct cells not yet thermalised
  std::vector<std::vector<double>> missing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::vector<double>, int> seen;
    for (size_t i = 0; i < n; ++i)
      for (int c = 0, nc = cells_of(i); c < nc; ++c) {
        auto k = key_of(i, c);
        if (!cache_.count(k) && !seen.count(k)) {
          seen.emplace(k, 0);
          missing.push_back(std::move(k));
        }
      }
  }
  // 2. integrate them alone, in one chunk (outside the lock; a concurrent fill may duplicate the
  // work for the same cell, with the same result)
  if (!missing.empty()) {
    const size_t m = missing.size();
    std::vector<double> p(static_cast<size_t>(CP) * m);
    for (size_t j = 0; j < m; ++j)
      for (int q = 0; q < CP; ++q) p[static_cast<size_t>(q) * m + j] = missing[j][static_cast<size_t>(q)];
    ChunkInput in;
    in.n = m;
    in.params = p.data();
    ChunkOutput out;
    backend_->run(s_, in, out);
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t j = 0; j < m; ++j) {
      std::vector<double> st(static_cast<size_t>(CS));
      for (int k = 0; k < CS; ++k) st[static_cast<size_t>(k)] = out.final_state[static_cast<size_t>(k) * m + j];
      cache_.emplace(missing[j], std::move(st));
    }
  }
  // 3. fill: cold start for inactive cells, thermalised state for active ones, s = 0
  std::vector<double> cold(static_cast<size_t>(CS));
  {
    double dd[StgModel::kNumDerived] = {};
    StgModel::init<double>(dd, cold.data());
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < n; ++i) {
    const int nc = cells_of(i);
    for (int c = 0; c < sh.max_cells; ++c) {
      const std::vector<double>* st = c < nc ? &cache_.at(key_of(i, c)) : &cold;
      for (int k = 0; k < CS; ++k) init[static_cast<size_t>(c * CS + k) * n + i] = (*st)[static_cast<size_t>(k)];
    }
    for (int k = sh.max_cells * CS; k < sh.n_state; ++k) init[static_cast<size_t>(k) * n + i] = 0.0;
  }
}

}  // namespace ns
