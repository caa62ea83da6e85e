#include "neurosweep/models.hpp"

#include <iterator>

namespace ns {
namespace {

template <class M>
ModelDesc describe(std::vector<Preset> presets = {}) {
  ModelDesc d;
  d.name = M::kName;
  d.description = M::kDescription;
  d.params.assign(std::begin(M::kParams), std::end(M::kParams));
  d.state.assign(std::begin(M::kState), std::end(M::kState));
  d.n_obs = M::kNumObs;
  d.presets = std::move(presets);
  return d;
}

const std::vector<ModelDesc>& registry() {
  static const std::vector<ModelDesc> r = [] {
    std::vector<ModelDesc> v;
    v.push_back(describe<StgModel>({std::begin(p04::kNeurons), std::end(p04::kNeurons)}));
    v.push_back(describe<IafPscExpModel>());
    v.push_back(describe<IafPscDeltaModel>());
    v.push_back(describe<IafPscAlphaModel>());
    v.push_back(describe<IzhikevichModel>());
    v.push_back(describe<AeifCondExpModel>());
    v.push_back(describe<AeifCondAlphaModel>());
    return v;
  }();
  return r;
}

}  // namespace

int ModelDesc::param_index(const std::string& n) const {
  for (size_t k = 0; k < params.size(); ++k)
    if (n == params[k].name) return static_cast<int>(k);
  return -1;
}

std::vector<double> ModelDesc::defaults() const {
  std::vector<double> v;
  for (const auto& p : params) v.push_back(p.default_value);
  return v;
}

const ModelDesc* find_model(const std::string& name) {
  for (const auto& m : registry())
    if (m.name == name) return &m;
  return nullptr;
}

std::vector<std::string> model_names() {
  std::vector<std::string> v;
  for (const auto& m : registry()) v.push_back(m.name);
  return v;
}

}  // namespace ns
