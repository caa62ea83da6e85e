#include "classify/stage.hpp"

#include "spec/circuit.hpp"
#include "classify/stage_network.hpp"
#include "network/stage_spiking.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "classify/classify.hpp"
#include "classify/classify_point.hpp"
#include "classify/classify_rate.hpp"
#include "errors.hpp"

namespace ns {
namespace {

// Spike times the detectors keep per instance for the classifier: enough for 10 s of firing at
// 100 Hz; a faster or longer train is classified over the span of the kept spikes
// (docs/CLASSIFIER.md).
constexpr int kClassifierSpikes = 1000;

// Single-cell stages (STG neurons, point neurons): one classifier call per instance on the first
// observed potential. Policy supplies the settings type, the classify call, labels and features.
struct StgPolicy {
  using Settings = ClassifierSettings;
  static constexpr int kFeatures = kNumFeatures;
  static const ClassifierSettings& base(const Settings& s) { return s; }
  static const std::vector<std::string>& labels() { return ns::label_names(); }
  static const std::vector<std::pair<std::string, std::string>>& features() { return feature_columns(); }
  static int8_t run(const Settings& s, const float* t, uint32_t kept, uint32_t total, double ms, float vmin,
                    float vmax, float vmean, uint8_t st, float* out) {
    const auto c = classify(t, kept, total, ms, vmin, vmax, vmean, st, s);
    feature_values(c.f, out);
    return c.label;
  }
};
struct PointPolicy {
  using Settings = PointClassifierSettings;
  static constexpr int kFeatures = kNumPointFeatures;
  static const ClassifierSettings& base(const Settings& s) { return s.base; }
  static const std::vector<std::string>& labels() { return point_label_names(); }
  static const std::vector<std::pair<std::string, std::string>>& features() { return point_feature_columns(); }
  static int8_t run(const Settings& s, const float* t, uint32_t kept, uint32_t total, double ms, float vmin,
                    float vmax, float vmean, uint8_t st, float* out) {
    const auto c = classify_point(t, kept, total, ms, vmin, vmax, vmean, st, s);
    point_feature_values(c.f, out);
    return c.label;
  }
};

template <class Policy>
class NeuronStage final : public ClassifierStage {
 public:
  explicit NeuronStage(const RunSpec& spec) : s_(Policy::Settings::from_json(spec.classifier, spec.source)) {
    const ClassifierSettings& b = Policy::base(s_);
    if (spec.analysis_ms < b.min_analysis_ms()) {
      throw SpecError(spec.source + ": analysis = " + std::to_string(spec.analysis_ms) +
                      " ms is shorter than the classifier needs (" + std::to_string(b.min_analysis_ms()) +
                      " ms to see classifier.min_repeats periods of the slowest rhythm, "
                      "classifier.slowest_period_ms = " + std::to_string(b.slowest_period_ms) +
                      " ms); lengthen `analysis` or lower classifier.slowest_period_ms");
    }
  }
  std::vector<ColumnSpec> columns() const override {
    std::vector<ColumnSpec> c;
    c.push_back({"label", "i1", "", "activity type (docs/CLASSIFIER.md)", Policy::labels()});
    for (const auto& f : Policy::features()) c.push_back({f.first, "f4", f.second, "", {}});
    return c;
  }
  std::vector<std::string> label_names() const override { return Policy::labels(); }
  int spikes_needed() const override { return std::max(kClassifierSpikes, Policy::base(s_).min_kept_spikes()); }
  std::string settings_json() const override { return s_.to_json().dump(); }
  void classify_chunk(const ChunkOutput& o, double analysis_ms, ChunkData& data) const override {
    constexpr int NF = Policy::kFeatures;
    const size_t n = o.n;
    std::vector<int8_t> label(n);
    std::vector<std::vector<float>> feat(NF, std::vector<float>(n));
#pragma omp parallel for schedule(static) if (n > 64)  // small calls (the engine) skip the team
    for (size_t i = 0; i < n; ++i) {
      const size_t slot = i * o.n_obs;
      const uint32_t total = o.n_spikes[slot];
      const uint32_t kept = std::min<uint32_t>(total, static_cast<uint32_t>(o.max_spikes));
      float v[NF];
      label[i] = Policy::run(s_, o.spike_times.data() + slot * o.max_spikes, kept, total, analysis_ms, o.v_min[slot],
                             o.v_max[slot], o.v_mean[slot], o.status[i], v);
      for (int k = 0; k < NF; ++k) feat[k][i] = v[k];
    }
    data.set("label", label);
    const auto& fc = Policy::features();
    for (int k = 0; k < NF; ++k) data.set(fc[k].first, feat[k]);
  }

 private:
  typename Policy::Settings s_;
};

}  // namespace

std::unique_ptr<ClassifierStage> make_single_neuron_stage(const RunSpec& spec) {
  if (spec.model->kind == ModelKind::kPointNeuron) return std::make_unique<NeuronStage<PointPolicy>>(spec);
  return std::make_unique<NeuronStage<StgPolicy>>(spec);
}

// The classifier stage follows from the model's kind (model_info.hpp).
std::unique_ptr<ClassifierStage> make_classifier_stage(const RunSpec& spec) {
  switch (spec.model->kind) {
    case ModelKind::kCircuit: return make_network_stage(spec);
    case ModelKind::kPointNeuron:
    case ModelKind::kConductanceNeuron: return make_single_neuron_stage(spec);
    case ModelKind::kNetwork: return make_spiking_network_stage(spec);
    case ModelKind::kPopulation: return make_rate_stage(spec);
  }
  throw SpecError(spec.source + ": model \"" + spec.model->name + "\" is of kind " + kind_name(spec.model->kind) +
                  ", which no classifier stage handles yet");
}

}  // namespace ns
