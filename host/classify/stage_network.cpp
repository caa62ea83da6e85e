#include "classify/stage_network.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "classify/classify_network.hpp"

namespace ns {

std::vector<std::string> network_cells(const RunSpec& spec) {
  if (spec.circuit) return spec.circuit->cell_names();
  std::vector<std::string> cells;
  const ModelDesc& m = *spec.model;
  for (int c = 0; c < m.n_obs; ++c) {
    // cell name = prefix of its V state variable ("ABPD.V" -> "ABPD"); 13 state entries per cell
    const std::string v = m.state[static_cast<size_t>(c) * 13].name;
    cells.push_back(v.substr(0, v.find('.')));
  }
  return cells;
}

namespace {

// Single-neuron features stored per cell as "<cell>.<feature>" (indices into feature_columns()):
// n_spikes, rate_hz, burst_period_ms, burst_duration_ms, duty_cycle, spikes_per_burst.
const std::vector<int>& cell_features() {
  static const std::vector<int> v = [] {
    std::vector<int> r;
    const auto& fc = feature_columns();
    for (const char* n : {"n_spikes", "rate_hz", "burst_period_ms", "burst_duration_ms", "duty_cycle", "spikes_per_burst"})
      for (size_t k = 0; k < fc.size(); ++k)
        if (fc[k].first == n) r.push_back(static_cast<int>(k));
    return r;
  }();
  return v;
}

class NetworkStage final : public ClassifierStage {
  static NetworkClassifierSettings settings_of(const RunSpec& spec, ClassifierSettings* cs) {
    if (spec.circuit) {
      // User circuits: the roles come from circuit.roles (names), never from cell indices.
      const nlohmann::json net = spec.classifier.is_object() && spec.classifier.contains("network")
                                     ? spec.classifier["network"] : nlohmann::json::object();
      for (const char* k : {"ref_cell", "lp_cell", "py_cell"})
        if (net.is_object() && net.contains(k))
          throw SpecError(spec.source + ": classifier.network." + k + " = " + net[k].dump() +
                          ": a circuit object names the roles instead: circuit.roles = {\"pacemaker\": ..., "
                          "\"LP\": ..., \"PY\": ...}");
    }
    return NetworkClassifierSettings::from_json(spec.classifier, spec.source, cs);
  }

 public:
  explicit NetworkStage(const RunSpec& spec) : ns_(settings_of(spec, &cs_)) {
    const ModelDesc& m = *spec.model;
    cells_ = network_cells(spec);
    n_cells_ = static_cast<int>(cells_.size());
    if (spec.circuit) {
      const CircuitDesc& cd = *spec.circuit;
      ns_.ref_cell = cd.pacemaker >= 0 ? cd.pacemaker : 0;
      ns_.lp_cell = cd.lp;
      ns_.py_cell = cd.py;
    }
    for (int r : {ns_.ref_cell, ns_.lp_cell, ns_.py_cell})
      if (r >= n_cells_)
        throw SpecError(spec.source + ": classifier.network: cell index " + std::to_string(r) + " >= " +
                        std::to_string(n_cells_) + " cells of model \"" + m.name + "\"");
  }
  std::vector<ColumnSpec> columns() const override {
    std::vector<ColumnSpec> c;
    c.push_back({"label", "i1", "", "network label (docs/CLASSIFIER.md, Networks)", label_names()});
    for (const auto& cell : cells_)
      c.push_back({"label_" + cell, "i1", "", "single-neuron label of the cell's spike train", ns::label_names()});
    for (const auto& f : network_feature_columns()) c.push_back({f.first, "f4", f.second, "", {}});
    for (const auto& cell : cells_)
      for (int k : cell_features())
        c.push_back({cell + "." + feature_columns()[static_cast<size_t>(k)].first, "f4",
                     feature_columns()[static_cast<size_t>(k)].second, "single-neuron feature of the cell (docs/CLASSIFIER.md)", {}});
    return c;
  }
  std::vector<std::string> label_names() const override { return network_label_names(); }
  int spikes_needed() const override { return std::max(256, cs_.min_kept_spikes()); }
  std::string settings_json() const override {
    nlohmann::json j = cs_.to_json();
    j["network"] = ns_.to_json();
    return j.dump();
  }
  void classify_chunk(const ChunkOutput& o, double analysis_ms, ChunkData& data) const override {
    const size_t n = o.n;
    const int nc = n_cells_;  // the circuit's cells: the first n_cells_ of o.n_obs observed potentials
    std::vector<int8_t> label(n);
    std::vector<std::vector<int8_t>> cl(static_cast<size_t>(nc), std::vector<int8_t>(n));
    std::vector<std::vector<float>> feat(kNumNetworkFeatures, std::vector<float>(n));
    const std::vector<int>& cf = cell_features();
    const size_t ncf = cf.size();
    std::vector<std::vector<float>> cfeat(static_cast<size_t>(nc) * ncf, std::vector<float>(n));
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; ++i) {
      std::vector<const float*> sp(static_cast<size_t>(nc));
      std::vector<uint32_t> kept(static_cast<size_t>(nc)), total(static_cast<size_t>(nc));
      float fv[kNumFeatures];
      for (int c = 0; c < nc; ++c) {
        // the first nc observed potentials are the circuit's cells (slot stride o.n_obs)
        const size_t slot = i * static_cast<size_t>(o.n_obs) + static_cast<size_t>(c);
        sp[static_cast<size_t>(c)] = o.spike_times.data() + slot * o.max_spikes;
        total[static_cast<size_t>(c)] = o.n_spikes[slot];
        kept[static_cast<size_t>(c)] = std::min<uint32_t>(o.n_spikes[slot], static_cast<uint32_t>(o.max_spikes));
        const auto one = classify(sp[static_cast<size_t>(c)], kept[static_cast<size_t>(c)], total[static_cast<size_t>(c)],
                                  analysis_ms, o.v_min[slot], o.v_max[slot], o.v_mean[slot], o.status[i], cs_);
        cl[static_cast<size_t>(c)][i] = one.label;
        feature_values(one.f, fv);
        for (size_t q = 0; q < ncf; ++q) cfeat[static_cast<size_t>(c) * ncf + q][i] = fv[cf[q]];
      }
      const auto r = classify_network(nc, sp.data(), kept.data(), total.data(), analysis_ms, o.status[i], cs_, ns_);
      label[i] = r.label;
      float v[kNumNetworkFeatures];
      network_feature_values(r.f, v);
      for (int k = 0; k < kNumNetworkFeatures; ++k) feat[static_cast<size_t>(k)][i] = v[k];
    }
    data.set("label", label);
    for (int c = 0; c < nc; ++c) data.set("label_" + cells_[static_cast<size_t>(c)], cl[static_cast<size_t>(c)]);
    const auto& fc = network_feature_columns();
    for (int k = 0; k < kNumNetworkFeatures; ++k) data.set(fc[static_cast<size_t>(k)].first, feat[static_cast<size_t>(k)]);
    for (int c = 0; c < nc; ++c)
      for (size_t q = 0; q < ncf; ++q)
        data.set(cells_[static_cast<size_t>(c)] + "." + feature_columns()[static_cast<size_t>(cf[q])].first,
                 cfeat[static_cast<size_t>(c) * ncf + q]);
  }

 private:
  ClassifierSettings cs_;
  NetworkClassifierSettings ns_;
  int n_cells_ = 0;
  std::vector<std::string> cells_;
};

}  // namespace

std::unique_ptr<ClassifierStage> make_network_stage(const RunSpec& spec) {
  return std::make_unique<NetworkStage>(spec);
}

}  // namespace ns
