#pragma once
// The model registry: every model the backends can run. Adding a model = one header that follows
// the model concept (model_concept.hpp, docs/MODELS.md) + one line in NS_FOR_EACH_MODEL. The host
// registry (host/models/), the backends' dispatch and the classifier choice (from the model's
// kind) all come from this list.
#include <functional>
#include <string>
#include <vector>

#include "neurosweep/model_concept.hpp"
#include "neurosweep/model_info.hpp"
#include "neurosweep/stg.hpp"
#include "neurosweep/stg_circuit.hpp"
#include "neurosweep/point/aeif_cond_alpha.hpp"
#include "neurosweep/point/aeif_cond_exp.hpp"
#include "neurosweep/point/glif_psc.hpp"
#include "neurosweep/point/hh_cond_exp_traub.hpp"
#include "neurosweep/point/hh_psc_alpha.hpp"
#include "neurosweep/point/iaf_cond_exp.hpp"
#include "neurosweep/point/iaf_psc_alpha.hpp"
#include "neurosweep/point/iaf_psc_delta.hpp"
#include "neurosweep/point/iaf_psc_exp.hpp"
#include "neurosweep/point/izhikevich.hpp"
#include "neurosweep/population/density.hpp"
#include "neurosweep/population/wilson_cowan.hpp"

// X(ModelType) for each model compiled into both backends.
#define NS_FOR_EACH_MODEL(X)                                                              \
  X(::ns::StgModel) X(::ns::IafPscExpModel) X(::ns::IafPscDeltaModel) X(::ns::IafPscAlphaModel) \
  X(::ns::IzhikevichModel) X(::ns::AeifCondExpModel) X(::ns::AeifCondAlphaModel) \
  X(::ns::HhPscAlphaModel) X(::ns::GlifPscModel) X(::ns::IafCondExpModel) X(::ns::HhCondExpTraubModel) \
  X(::ns::PyloricModel) X(::ns::StgCircuitModel) \
  X(::ns::WilsonCowanModel) X(::ns::DensityNetworkModel)

namespace ns {

// Every model passes the checklist (a missing member fails here with a message naming it).
#define NS_CHECK_MODEL_ONE(M) static_assert(::ns::check_model<M>(), "model checklist");
NS_FOR_EACH_MODEL(NS_CHECK_MODEL_ONE)
#undef NS_CHECK_MODEL_ONE

// Host-side description of a registered model.
struct ModelDesc {
  std::string name;
  std::string description;
  ModelKind kind = ModelKind::kConductanceNeuron;
  std::vector<ParamInfo> params;
  std::vector<StateInfo> state;
  int n_obs = 1;
  std::vector<Preset> presets;  // named parameter sets (categorical axes)
  // Population kinds: names of the rate series the model writes to /rates (its populations).
  std::vector<std::string> rate_series;
  // Cross-parameter rules (the model's check(), circuits: their topology): "" when the parameter
  // vector p (params order) is admissible, else the rule broken, naming the parameters (the
  // validation adds their values). Per-parameter ranges: params[k].range.
  std::function<std::string(const ModelDesc& self, const double* p)> check;

  int param_index(const std::string& n) const;  // -1 when unknown
  std::vector<double> defaults() const;
};

const ModelDesc* find_model(const std::string& name);  // nullptr when unknown
std::vector<std::string> model_names();
// Kind of a registered model (false for unknown names).
bool model_is(const std::string& name, ModelKind kind);

template <class F>
bool dispatch_model(const std::string& name, F&& f) {
  bool found = false;
#define NS_DISPATCH_ONE(M)          \
  if (!found && name == M::kName) { \
    found = true;                   \
    f(static_cast<M*>(nullptr));    \
  }
  NS_FOR_EACH_MODEL(NS_DISPATCH_ONE)
#undef NS_DISPATCH_ONE
  return found;
}

// dispatch_model, then the precision: f(static_cast<M*>(nullptr), static_cast<T*>(nullptr)) with
// T = float or double.
template <class F>
bool dispatch_model_precision(const std::string& name, bool double_precision, F&& f) {
  return dispatch_model(name, [&](auto* tag) {
    if (double_precision)
      f(tag, static_cast<double*>(nullptr));
    else
      f(tag, static_cast<float*>(nullptr));
  });
}

}  // namespace ns
