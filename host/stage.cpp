#include "stage.hpp"

#include "circuit.hpp"
#include "stage_network.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "classify.hpp"
#include "errors.hpp"

namespace ns {
namespace {

// Spike times the detectors keep per instance for the classifier: enough for 10 s of firing at
// 100 Hz; a faster or longer train is classified over the span of the kept spikes
// (docs/CLASSIFIER.md).
constexpr int kClassifierSpikes = 1000;

class SingleNeuronStage final : public ClassifierStage {
 public:
  explicit SingleNeuronStage(const RunSpec& spec)
      : s_(ClassifierSettings::from_json(spec.classifier, spec.source)) {
    if (spec.analysis_ms < s_.min_analysis_ms()) {
      throw SpecError(spec.source + ": analysis = " + std::to_string(spec.analysis_ms) +
                      " ms is shorter than the classifier needs (" + std::to_string(s_.min_analysis_ms()) +
                      " ms to see classifier.min_repeats periods of the slowest rhythm, "
                      "classifier.slowest_period_ms = " + std::to_string(s_.slowest_period_ms) +
                      " ms); lengthen `analysis` or lower classifier.slowest_period_ms");
    }
  }
  std::vector<ColumnSpec> columns() const override {
    std::vector<ColumnSpec> c;
    c.push_back({"label", "i1", "", "activity type (docs/CLASSIFIER.md)", label_names()});
    for (const auto& f : feature_columns()) c.push_back({f.first, "f4", f.second, "", {}});
    return c;
  }
  std::vector<std::string> label_names() const override { return ns::label_names(); }
  int spikes_needed() const override { return std::max(kClassifierSpikes, s_.min_kept_spikes()); }
  std::string settings_json() const override { return s_.to_json().dump(); }
  void classify_chunk(const ChunkOutput& o, double analysis_ms, ChunkData& data) const override {
    const size_t n = o.n;
    std::vector<int8_t> label(n);
    std::vector<std::vector<float>> feat(kNumFeatures, std::vector<float>(n));
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; ++i) {
      const uint32_t total = o.n_spikes[i * o.n_obs];
      const uint32_t kept = std::min<uint32_t>(total, static_cast<uint32_t>(o.max_spikes));
      const auto c = classify(o.spike_times.data() + i * o.n_obs * o.max_spikes, kept, total, analysis_ms,
                              o.v_min[i * o.n_obs], o.v_max[i * o.n_obs], o.v_mean[i * o.n_obs], o.status[i], s_);
      label[i] = c.label;
      float v[kNumFeatures];
      feature_values(c.f, v);
      for (int k = 0; k < kNumFeatures; ++k) feat[k][i] = v[k];
    }
    data.set("label", label);
    const auto& fc = feature_columns();
    for (int k = 0; k < kNumFeatures; ++k) data.set(fc[k].first, feat[k]);
  }

 private:
  ClassifierSettings s_;
};

}  // namespace

std::unique_ptr<ClassifierStage> make_single_neuron_stage(const RunSpec& spec) {
  return std::make_unique<SingleNeuronStage>(spec);
}

std::unique_ptr<ClassifierStage> make_classifier_stage(const RunSpec& spec) {
  if (is_circuit_model(spec.model->name)) return make_network_stage(spec);  // circuits
  return make_single_neuron_stage(spec);
}

}  // namespace ns
