#include "stage_network.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "classify_network.hpp"

namespace ns {
namespace {

class NetworkStage final : public ClassifierStage {
 public:
  explicit NetworkStage(const RunSpec& spec)
      : ns_(NetworkClassifierSettings::from_json(spec.classifier, spec.source, &cs_)) {
    const ModelDesc& m = *spec.model;
    n_cells_ = m.n_obs;
    for (int c = 0; c < n_cells_; ++c) {
      // cell name = prefix of its V state variable ("ABPD.V" -> "ABPD"); 13 state entries per cell
      const std::string v = m.state[static_cast<size_t>(c) * 13].name;
      cells_.push_back(v.substr(0, v.find('.')));
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
    const int nc = o.n_obs;
    std::vector<int8_t> label(n);
    std::vector<std::vector<int8_t>> cl(static_cast<size_t>(nc), std::vector<int8_t>(n));
    std::vector<std::vector<float>> feat(kNumNetworkFeatures, std::vector<float>(n));
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; ++i) {
      std::vector<const float*> sp(static_cast<size_t>(nc));
      std::vector<uint32_t> kept(static_cast<size_t>(nc)), total(static_cast<size_t>(nc));
      for (int c = 0; c < nc; ++c) {
        const size_t slot = i * static_cast<size_t>(nc) + static_cast<size_t>(c);
        sp[static_cast<size_t>(c)] = o.spike_times.data() + slot * o.max_spikes;
        total[static_cast<size_t>(c)] = o.n_spikes[slot];
        kept[static_cast<size_t>(c)] = std::min<uint32_t>(o.n_spikes[slot], static_cast<uint32_t>(o.max_spikes));
        cl[static_cast<size_t>(c)][i] =
            classify(sp[static_cast<size_t>(c)], kept[static_cast<size_t>(c)], total[static_cast<size_t>(c)],
                     analysis_ms, o.v_min[slot], o.v_max[slot], o.v_mean[slot], o.status[i], cs_).label;
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
