#include "spec/circuit.hpp"

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

// ---- user circuits -------------------------------------------------------------------------------
std::vector<std::string> CircuitDesc::cell_names() const {
  std::vector<std::string> v;
  for (const auto& c : cells) v.push_back(c.name);
  return v;
}

int CircuitDesc::cell_index(const std::string& name) const {
  for (size_t k = 0; k < cells.size(); ++k)
    if (cells[k].name == name) return static_cast<int>(k);
  return -1;
}

nlohmann::json CircuitDesc::to_json() const {
  using json = nlohmann::json;
  json jc = json::array(), js = json::array();
  const std::vector<double> p = model.defaults();
  for (size_t c = 0; c < cells.size(); ++c) {
    json params = json::object();
    for (int k = 0; k < StgModel::kNumParams; ++k)
      params[StgModel::kParams[k].name] = p[c * StgModel::kNumParams + static_cast<size_t>(k)];
    jc.push_back({{"name", cells[c].name}, {"neuron", cells[c].neuron}, {"params", params}});
  }
  for (const auto& s : synapses)
    js.push_back({{"name", s.name},
                  {"pre", cells[static_cast<size_t>(s.pre)].name},
                  {"post", cells[static_cast<size_t>(s.post)].name},
                  {"type", s.type == kCholinergic ? "cholinergic" : "glutamatergic"},
                  {"strength_nS", s.strength_nS}});
  json roles = json::object();
  if (pacemaker >= 0) roles["pacemaker"] = cells[static_cast<size_t>(pacemaker)].name;
  if (lp >= 0) roles["LP"] = cells[static_cast<size_t>(lp)].name;
  if (py >= 0) roles["PY"] = cells[static_cast<size_t>(py)].name;
  return {{"model", StgCircuitModel::kName}, {"cells", jc}, {"synapses", js}, {"roles", roles},
          {"parameter_names", "<cell>.<STG parameter>, g_<synapse> (nS)"}};
}

void CircuitDesc::build() {
  using M = StgCircuitModel;
  const ModelDesc& g = *find_model(M::kName);
  const int nc = static_cast<int>(cells.size()), nsy = static_cast<int>(synapses.size());
  model = g;
  model.presets.clear();
  auto keep = [&](std::string s) {
    names_.push_back(std::move(s));
    return names_.back().c_str();
  };
  auto hide = [&](const char* n) { return keep(std::string(1, kHiddenPrefix) + n); };
  // cells
  for (int c = 0; c < M::NC; ++c)
    for (int k = 0; k < M::CP; ++k) {
      ParamInfo& pi = model.params[static_cast<size_t>(c * M::CP + k)];
      if (c >= nc) {
        pi.name = hide(pi.name);
        continue;
      }
      const CircuitCell& cell = cells[static_cast<size_t>(c)];
      pi.name = keep(cell.name + "." + StgModel::kParams[k].name);
      pi.default_value = StgModel::kParams[k].default_value;
      for (const auto& pr : p04::kNeurons)
        if (cell.neuron == pr.name)
          for (int q = 0; q < pr.n_values; ++q)
            if (std::string(pr.values[q].param) == StgModel::kParams[k].name) pi.default_value = pr.values[q].value;
      for (const auto& [n, v] : cell.params)
        if (n == StgModel::kParams[k].name) pi.default_value = v;
    }
  // synapses: strength, then the wiring (hidden: set by the circuit)
  for (int j = 0; j < M::NSY; ++j) {
    ParamInfo& pg = model.params[static_cast<size_t>(M::kPG + j)];
    ParamInfo& ppre = model.params[static_cast<size_t>(M::kPPre + j)];
    ParamInfo& ppost = model.params[static_cast<size_t>(M::kPPost + j)];
    ParamInfo& ptype = model.params[static_cast<size_t>(M::kPType + j)];
    if (j >= nsy) {
      for (ParamInfo* q : {&pg, &ppre, &ppost, &ptype}) {
        q->name = hide(q->name);
        q->default_value = 0.0;
      }
      continue;
    }
    const CircuitSynapse& s = synapses[static_cast<size_t>(j)];
    pg.name = keep("g_" + s.name);
    pg.default_value = s.strength_nS;
    ppre.name = keep(std::string(1, kHiddenPrefix) + "pre_" + s.name);
    ppre.default_value = s.pre;
    ppost.name = keep(std::string(1, kHiddenPrefix) + "post_" + s.name);
    ppost.default_value = s.post;
    ptype.name = keep(std::string(1, kHiddenPrefix) + "type_" + s.name);
    ptype.default_value = s.type;
  }
  ParamInfo& pn = model.params[static_cast<size_t>(M::kPNCells)];
  pn.name = hide(pn.name);
  pn.default_value = nc;
  ParamInfo& ps = model.params[static_cast<size_t>(M::kPNSyn)];
  ps.name = hide(ps.name);
  ps.default_value = nsy;
  // states
  for (int c = 0; c < M::NC; ++c)
    for (int k = 0; k < M::CS; ++k) {
      StateInfo& si = model.state[static_cast<size_t>(c * M::CS + k)];
      si.name = c < nc ? keep(cells[static_cast<size_t>(c)].name + "." + StgModel::kState[k].name) : hide(si.name);
    }
  for (int j = 0; j < M::NSY; ++j) {
    StateInfo& si = model.state[static_cast<size_t>(M::kSS + j)];
    si.name = j < nsy ? keep("s_" + synapses[static_cast<size_t>(j)].name) : hide(si.name);
  }
  // presets "<cell>:<P04 neuron>" for every cell
  for (const auto& cell : cells)
    for (const auto& pr : p04::kNeurons) {
      preset_values_.emplace_back();
      for (int q = 0; q < pr.n_values; ++q)
        preset_values_.back().push_back({keep(cell.name + "." + pr.values[q].param), pr.values[q].value});
      model.presets.push_back(Preset{keep(cell.name + ":" + pr.name), pr.source, preset_values_.back().data(), pr.n_values});
    }
  model.description = "stg_circuit: user circuit of " + std::to_string(nc) + " cells and " + std::to_string(nsy) +
                      " synapses (" + [&] {
                        std::string s;
                        for (const auto& c : cells) s += (s.empty() ? "" : ", ") + c.name;
                        return s;
                      }() + ")";
}

bool is_circuit_model(const std::string& model) { return model_is(model, ModelKind::kCircuit); }

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
