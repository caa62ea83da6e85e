// The classifier stage of spiking networks: per-population features as columns and the network
// label of the network activity classifier (host/classify/network_activity.hpp, docs/CLASSIFIER.md
// "Network activity"), from each instance's population rates and sampled spikes.
#include "network/stage_spiking.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "classify/network_activity.hpp"
#include "errors.hpp"
#include "network/run_network.hpp"

namespace ns {
namespace {

// Spike times kept per sampled neuron for the classifier (and the database when output.spikes
// asks for them): 1000 = 10 s at 100 Hz.
constexpr int kNetSampleSpikes = 1000;

// Columns per population beyond the engine's (rate_hz, cv_isi over all neurons): the
// classifier's synchrony and oscillation features (PopFeatures).
struct ActivityColumn {
  const char* name;
  const char* unit;
  double PopFeatures::*field;
};
const ActivityColumn kActivityColumns[] = {
    {"chi", "1", &PopFeatures::synchrony_chi},
    {"sync_kappa", "1", &PopFeatures::sync_kappa},
    {"osc_freq_hz", "Hz", &PopFeatures::osc_freq_hz},
    {"osc_power", "1", &PopFeatures::osc_power},
};

class SpikingNetworkStage final : public ClassifierStage {
 public:
  explicit SpikingNetworkStage(const RunSpec& spec)
      : net_(spec.network),
        s_(NetActivitySettings::from_json(spec.classifier, spec.source, "classifier")),
        bin_ms_(spec.rate_bin_ms) {
    labels_ = network_activity_label_names();
    if (std::find(labels_.begin(), labels_.end(), "unclassified") == labels_.end()) labels_.push_back("unclassified");
  }
  std::vector<ColumnSpec> columns() const override {
    std::vector<ColumnSpec> c;
    c.push_back({"label", "i1", "", "network activity in Brunel's (2000) vocabulary (docs/CLASSIFIER.md)", labels_});
    for (const auto& pop : net_->pops) {
      for (const auto& f : spiking_feature_columns()) c.push_back({pop.name + "." + f.first, "f4", f.second, "", {}});
      for (const auto& a : kActivityColumns) c.push_back({pop.name + "." + a.name, "f4", a.unit, "", {}});
    }
    return c;
  }
  std::vector<std::string> label_names() const override { return labels_; }
  int spikes_needed() const override { return kNetSampleSpikes; }
  std::string settings_json() const override { return s_.to_json().dump(); }
  void classify_chunk(const ChunkOutput& o, double analysis_ms, ChunkData& data) const override {
    const size_t n = o.n, np = net_->pops.size();
    const auto& fc = spiking_feature_columns();
    const size_t nf = static_cast<size_t>(o.n_series_features);
    constexpr size_t na = sizeof(kActivityColumns) / sizeof(kActivityColumns[0]);
    std::vector<int8_t> label(n);
    std::vector<std::vector<float>> act(np * na, std::vector<float>(n));
    (void)analysis_ms;  // the rate bins cover the analysis window from its start (whole bins)
    const double bin_ms = bin_ms_;
    std::string error;
#pragma omp parallel for schedule(dynamic, 1) if (n > 1)
    for (size_t i = 0; i < n; ++i) {
      std::vector<PopActivity> pa(np);
      size_t obs = 0;
      for (size_t p = 0; p < np; ++p) {
        const double* f = o.series_features.data() + (i * np + p) * nf;
        PopActivity& a = pa[p];
        a.name = net_->pops[p].name;
        a.n_neurons = static_cast<int>(f[spiking_feature_size_index()]);
        a.bin_ms = bin_ms;
        a.rate_hz.assign(o.rates.begin() + (i * np + p) * o.n_bins, o.rates.begin() + (i * np + p + 1) * o.n_bins);
        a.t_start_ms = 0.0;
        a.t_stop_ms = double(o.n_bins) * bin_ms;
        a.t_ref_ms = f[spiking_feature_tref_index()];
        const int ns = std::min<int>(net_->pops[p].sample, a.n_neurons);
        for (int k = 0; k < net_->pops[p].sample; ++k, ++obs) {
          if (k >= ns) continue;
          const size_t slot = i * static_cast<size_t>(o.n_obs) + obs;
          const uint32_t kept = std::min<uint32_t>(o.n_spikes[slot], static_cast<uint32_t>(o.max_spikes));
          std::vector<double> t(kept);
          for (uint32_t j = 0; j < kept; ++j) t[j] = o.spike_times[slot * o.max_spikes + j];
          a.sample_spikes_ms.push_back(std::move(t));
        }
      }
      int8_t lab = static_cast<int8_t>(labels_.size() - 1);
      try {
        const NetActivityResult r = classify_network_activity(pa, s_);
        const auto it = std::find(labels_.begin(), labels_.end(), r.label);
        if (o.status[i] == kOk && it != labels_.end()) lab = static_cast<int8_t>(it - labels_.begin());
        for (size_t p = 0; p < np && p < r.pops.size(); ++p)
          for (size_t q = 0; q < na; ++q) act[p * na + q][i] = static_cast<float>(r.pops[p].*kActivityColumns[q].field);
      } catch (const std::exception& e) {
#pragma omp critical(ns_spiking_stage_error)
        if (error.empty()) error = e.what();
      }
      label[i] = lab;
    }
    if (!error.empty()) throw BackendError("network classifier: " + error);
    data.set("label", label);
    for (size_t p = 0; p < np; ++p) {
      for (size_t f = 0; f < fc.size(); ++f) {
        std::vector<float> col(n);
        for (size_t i = 0; i < n; ++i) col[i] = static_cast<float>(o.series_features[(i * np + p) * nf + f]);
        data.set(net_->pops[p].name + "." + fc[f].first, col);
      }
      for (size_t q = 0; q < na; ++q) data.set(net_->pops[p].name + "." + kActivityColumns[q].name, act[p * na + q]);
    }
  }

 private:
  std::shared_ptr<const NetworkDesc> net_;
  NetActivitySettings s_;
  std::vector<std::string> labels_;
  double bin_ms_;
};

}  // namespace

std::unique_ptr<ClassifierStage> make_spiking_network_stage(const RunSpec& spec) {
  return std::make_unique<SpikingNetworkStage>(spec);
}

}  // namespace ns
