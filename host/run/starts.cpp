#include "run/starts.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "errors.hpp"
#include "neurosweep/models.hpp"
#include "store/database.hpp"

namespace ns {

// Final states of another database, for warm starts: rows [first, first + n), state-major; and,
// for the parameter check, its /instances columns of the given parameters.
class StateSource {
 public:
  StateSource(const std::string& path, const std::string& what, const ModelDesc& m, uint64_t n_expected,
              const std::string& size_rule, const std::vector<std::string>& check_params)
      : path_(path), what_(what) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const DbSummary s = inspect(path);  // validates format; throws DatabaseError
    if (s.state != "complete") throw SpecError(what + " '" + path + "': the build is " + s.state + "; finish it first");
    if (s.n_instances != n_expected)
      throw SpecError(what + " '" + path + "': it has " + std::to_string(s.n_instances) + " instances, " + size_rule +
                      " has " + std::to_string(n_expected) + " (they must match one to one)");
    file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file_ < 0) throw DatabaseError(path + ": cannot open");
    for (const auto& st : m.state) {
      if (is_hidden_name(st.name)) {  // circuit objects: unused cells/synapses start at 0
        sets_.push_back(-1);
        continue;
      }
      const std::string ds = std::string("/final_state/") + st.name;
      const hid_t d = H5Dopen2(file_, ds.c_str(), H5P_DEFAULT);
      if (d < 0)
        throw SpecError(what + " '" + path + "': no dataset " + ds + " (was it built with output.final_state = true, for model " +
                        m.name + "?)");
      sets_.push_back(d);
    }
    for (const auto& p : check_params) {
      const std::string ds = "/instances/" + p;
      if (H5Lexists(file_, ds.c_str(), H5P_DEFAULT) <= 0) continue;  // fixed there: not compared
      const hid_t d = H5Dopen2(file_, ds.c_str(), H5P_DEFAULT);
      if (d >= 0) checks_.emplace_back(p, d);
    }
  }
  ~StateSource() {
    for (auto d : sets_)
      if (d >= 0) H5Dclose(d);
    for (auto& c : checks_) H5Dclose(c.second);
    if (file_ >= 0) H5Fclose(file_);
  }
  StateSource(const StateSource&) = delete;
  StateSource& operator=(const StateSource&) = delete;
  const std::vector<std::pair<std::string, hid_t>>& checks() const { return checks_; }

  void read(hid_t d, uint64_t first, size_t n, double* out) const {
    hsize_t start = first, count = n;
    const hid_t fs = H5Dget_space(d);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, nullptr, &count, nullptr);
    const hid_t ms = H5Screate_simple(1, &count, nullptr);
    const herr_t e = H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, out);
    H5Sclose(ms);
    H5Sclose(fs);
    if (e < 0) throw DatabaseError(path_ + ": cannot read rows " + std::to_string(first) + ".." + std::to_string(first + n));
  }
  // out[k * n + j] = final state k of row first + j
  void read_states(uint64_t first, size_t n, std::vector<double>& out) const {
    out.resize(sets_.size() * n);
    for (size_t k = 0; k < sets_.size(); ++k) {
      if (sets_[k] < 0) std::fill_n(out.begin() + static_cast<long>(k * n), n, 0.0);
      else read(sets_[k], first, n, out.data() + k * n);
    }
  }

 private:
  std::string path_, what_;
  hid_t file_ = -1;
  std::vector<hid_t> sets_;
  std::vector<std::pair<std::string, hid_t>> checks_;
};

std::string StartStates::key(size_t s) const {
  if (!probe_key_.empty()) return probe_key_;
  if (spec_.start_axis < 0) return "initial.from_database";
  return "axes[" + std::to_string(spec_.start_axis) + "].starts[" + std::to_string(s) + "] (\"" +
         spec_.starts[s].label + "\")";
}

StartStates::StartStates(const RunSpec& spec, const RunSettings& rs, Backend* backend, const std::string& probe_key)
    : spec_(spec), probe_key_(probe_key), rs_(rs), backend_(backend) {
  if (!backend_) {
    own_ = make_cpu_backend();
    backend_ = own_.get();
  }
  const ModelDesc& m = *spec.model;
  const bool axis = spec.start_axis >= 0;
  const uint64_t rows = axis ? spec.sweep.size() / spec.sweep.axes()[static_cast<size_t>(spec.start_axis)].size
                             : spec.sweep.size();
  std::vector<std::string> check;
  if (axis || !probe_key.empty())
    for (int k : spec.sweep.swept_params()) check.emplace_back(m.params[static_cast<size_t>(k)].name);
  for (size_t s = 0; s < spec.starts.size(); ++s) {
    const StartSpec& st = spec.starts[s];
    if (st.kind == InitialKind::kDatabase && !sources_.count(st.database))
      sources_[st.database] = std::make_unique<StateSource>(
          st.database, key(s), m, rows, axis ? "this sweep without its start axis" : "this sweep", check);
    if (st.kind == InitialKind::kThermalized && is_circuit_model(m.name) && !thermal_.count(st.thermal_ms))
      thermal_[st.thermal_ms] = std::make_unique<ThermalCache>(rs, st.thermal_ms, backend_);
  }
}

StartStates::~StartStates() = default;

size_t StartStates::thermalised_cells() const {
  size_t n = 0;
  for (const auto& [ms, c] : thermal_) n += c->distinct_cells();
  return n;
}

std::vector<uint8_t> StartStates::start_index(uint64_t first, size_t n) const {
  std::vector<uint8_t> s(n);
  for (size_t j = 0; j < n; ++j) s[j] = static_cast<uint8_t>(spec_.start_of(first + j));
  return s;
}

// stg: the neuron itself from its cold start for ms (a thermalised start is a longer transient).
void StartStates::thermalise_neurons(double ms, const double* params, size_t n, double* init) {
  RunSettings s = rs_;
  s.sim.n_transient = static_cast<int64_t>(std::llround(ms / s.sim.dt));
  s.sim.n_analysis = 0;
  s.sim.max_spikes = 0;
  s.want_final_state = true;
  ChunkInput in;
  in.n = n;
  in.params = params;
  ChunkOutput out;
  backend_->run(s, in, out);
  std::copy(out.final_state.begin(), out.final_state.end(), init);
}

const double* StartStates::fill(uint64_t first, size_t n, const double* params, std::vector<double>& init) {
  const ModelDesc& m = *spec_.model;
  const size_t np = m.params.size(), ns = m.state.size();
  const std::vector<uint8_t> sidx = start_index(first, n);
  std::vector<std::vector<size_t>> members(spec_.starts.size());
  for (size_t j = 0; j < n; ++j) members[sidx[j]].push_back(j);
  for (size_t s = 0; s < spec_.starts.size(); ++s)
    if (members[s].size() == n && spec_.starts[s].kind == InitialKind::kCold) return nullptr;
  init.assign(ns * n, 0.0);
  auto gather = [&](const std::vector<size_t>& js, std::vector<double>& p) {
    const size_t q = js.size();
    p.resize(np * q);
    for (size_t k = 0; k < np; ++k)
      for (size_t t = 0; t < q; ++t) p[k * q + t] = params[k * n + js[t]];
  };
  auto scatter = [&](const std::vector<size_t>& js, const std::vector<double>& st) {
    const size_t q = js.size();
    for (size_t k = 0; k < ns; ++k)
      for (size_t t = 0; t < q; ++t) init[k * n + js[t]] = st[k * q + t];
  };
  std::vector<double> p, st;
  for (size_t s = 0; s < spec_.starts.size(); ++s) {
    const auto& js = members[s];
    if (js.empty()) continue;
    const StartSpec& S = spec_.starts[s];
    const size_t q = js.size();
    switch (S.kind) {
      case InitialKind::kCold: {
        // The backend's own cold start: zero steps from it, for exactly the state it would use
        // (computed in the run's precision from each instance's parameters).
        gather(js, p);
        RunSettings z = rs_;
        z.sim.n_transient = 0;
        z.sim.n_analysis = 0;
        z.sim.max_spikes = 0;
        z.want_final_state = true;
        ChunkInput in;
        in.n = q;
        in.params = p.data();
        ChunkOutput out;
        backend_->run(z, in, out);
        scatter(js, out.final_state);
        break;
      }
      case InitialKind::kExplicit:
        for (size_t k = 0; k < ns; ++k)
          for (size_t j : js) init[k * n + j] = S.state[k];
        break;
      case InitialKind::kThermalized:
        gather(js, p);
        st.assign(ns * q, 0.0);
        if (is_circuit_model(m.name)) thermal_.at(S.thermal_ms)->fill(m.name, p.data(), q, st.data());
        else thermalise_neurons(S.thermal_ms, p.data(), q, st.data());
        scatter(js, st);
        break;
      case InitialKind::kDatabase: {
        const StateSource& src = *sources_.at(S.database);
        std::vector<uint64_t> row(q);
        for (size_t t = 0; t < q; ++t)
          row[t] = spec_.start_axis < 0 ? first + js[t]
                                        : spec_.sweep.drop_axis(first + js[t], static_cast<size_t>(spec_.start_axis));
        // rows of one start are increasing and no further apart than their instances: one read
        const uint64_t r0 = row.front();
        const size_t span = static_cast<size_t>(row.back() - r0 + 1);
        std::vector<double> all;
        src.read_states(r0, span, all);
        for (size_t k = 0; k < ns; ++k)
          for (size_t t = 0; t < q; ++t) init[k * n + js[t]] = all[k * span + (row[t] - r0)];
        std::vector<double> col(span);
        for (const auto& [name, d] : src.checks()) {
          const int pk = m.param_index(name.c_str());
          src.read(d, r0, span, col.data());
          for (size_t t = 0; t < q; ++t) {
            const double mine = params[static_cast<size_t>(pk) * n + js[t]], theirs = col[row[t] - r0];
            if (!(mine == theirs) && !(std::isnan(mine) && std::isnan(theirs))) {
              char b[160];
              std::snprintf(b, sizeof b, "instance %llu has %s = %.17g, but row %llu of the database has %.17g",
                            static_cast<unsigned long long>(first + js[t]), name.c_str(), mine,
                            static_cast<unsigned long long>(row[t]), theirs);
              throw SpecError(spec_.source + ": " + key(s) + " '" + S.database + "': " + b +
                              " (a start from a database takes the row of the same index in the sweep without its "
                              "start axis, whose stored parameters must be the instance's: build it from this spec "
                              "with that axis removed)");
            }
          }
        }
        break;
      }
    }
  }
  return init.data();
}

std::string initial_attribute(const RunSpec& spec) {
  if (spec.start_axis >= 0) return "axis:" + spec.sweep.axes()[static_cast<size_t>(spec.start_axis)].name;
  const StartSpec& s = spec.initial();
  return s.kind == InitialKind::kDatabase ? "database:" + s.database : std::string(to_string(s.kind));
}

std::string starts_json(const RunSpec& spec) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& s : spec.starts) {
    nlohmann::json e = {{"label", s.label}, {"kind", to_string(s.kind)}};
    if (s.kind == InitialKind::kThermalized) e["thermalize_ms"] = s.thermal_ms;
    if (s.kind == InitialKind::kDatabase) e["database"] = s.database;
    if (s.kind == InitialKind::kExplicit) e["state"] = s.state;
    a.push_back(e);
  }
  return a.dump();
}

}  // namespace ns
