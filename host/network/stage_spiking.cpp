// The classifier stage of spiking networks: per-population features as columns
// ("<pop>.rate_hz", "<pop>.cv_isi") and the network label.
#include "network/stage_spiking.hpp"

#include <cmath>

#include "network/run_network.hpp"

namespace ns {
namespace {

// Spike times kept per sampled neuron for the classifier (and the database when output.spikes
// asks for them): 1000 = 10 s at 100 Hz.
constexpr int kNetSampleSpikes = 1000;

class SpikingNetworkStage final : public ClassifierStage {
 public:
  explicit SpikingNetworkStage(const RunSpec& spec) : net_(spec.network) {}
  std::vector<ColumnSpec> columns() const override {
    std::vector<ColumnSpec> c;
    c.push_back({"label", "i1", "", "network activity (docs/NETWORKS.md; unclassified until the network classifier)",
                 label_names()});
    for (const auto& pop : net_->pops)
      for (const auto& f : spiking_feature_columns())
        c.push_back({pop.name + "." + f.first, "f4", f.second, "", {}});
    return c;
  }
  std::vector<std::string> label_names() const override { return {"unclassified"}; }
  int spikes_needed() const override { return kNetSampleSpikes; }
  std::string settings_json() const override { return "{}"; }
  void classify_chunk(const ChunkOutput& o, double /*analysis_ms*/, ChunkData& data) const override {
    const size_t n = o.n, np = net_->pops.size();
    const auto& fc = spiking_feature_columns();
    const size_t nf = static_cast<size_t>(o.n_series_features);
    data.set("label", std::vector<int8_t>(n, 0));
    for (size_t p = 0; p < np; ++p)
      for (size_t f = 0; f < fc.size(); ++f) {
        std::vector<float> col(n);
        for (size_t i = 0; i < n; ++i) col[i] = static_cast<float>(o.series_features[(i * np + p) * nf + f]);
        data.set(net_->pops[p].name + "." + fc[f].first, col);
      }
  }

 private:
  std::shared_ptr<const NetworkDesc> net_;
};

}  // namespace

std::unique_ptr<ClassifierStage> make_spiking_network_stage(const RunSpec& spec) {
  return std::make_unique<SpikingNetworkStage>(spec);
}

}  // namespace ns
