// Backend selection and the parts of the backend interface shared by CPU and CUDA.
#include "neurosweep/backend.hpp"

#include <type_traits>

#include "neurosweep/models.hpp"

#if defined(NEUROSWEEP_HAVE_CUDA)
#include "neurosweep/cuda_backend.hpp"
#endif

namespace ns {

std::string to_string(Precision p) { return p == Precision::Float ? "float" : "double"; }
std::string to_string(Gating g) { return g == Gating::Direct ? "direct" : "table"; }

Precision parse_precision(const std::string& s) {
  if (s == "float") return Precision::Float;
  if (s == "double") return Precision::Double;
  throw std::invalid_argument("precision '" + s + "': expected 'float' or 'double'");
}

Gating parse_gating(const std::string& s) {
  if (s == "direct") return Gating::Direct;
  if (s == "table") return Gating::Table;
  throw std::invalid_argument("gating '" + s + "': expected 'direct' or 'table'");
}

int parse_integration(const std::string& s) {
  if (s == "exp_euler") return kExpEuler;
  if (s == "prinz") return kPrinzEuler;
  throw std::invalid_argument("integration '" + s + "': expected 'exp_euler' or 'prinz'");
}

int parse_constants(const std::string& s) {
  if (s == "codata2018") return kCodata2018;
  if (s == "prinz_lab") return kPrinzLab;
  throw std::invalid_argument("constants '" + s + "': expected 'codata2018' or 'prinz_lab'");
}

std::string integration_name(int i) { return i == kPrinzEuler ? "prinz" : "exp_euler"; }
std::string constants_name(int c) { return c == kPrinzLab ? "prinz_lab" : "codata2018"; }

bool has_numerics_options(const std::string& model) {
  bool yes = false;
  dispatch_model(model, [&](auto* m) { yes = has_numerics<std::remove_pointer_t<decltype(m)>>::value; });
  return yes;
}

OutputView ChunkOutput::view() {
  OutputView v;
  v.n = n;
  v.n_obs = n_obs;
  v.spike_times = spike_times.data();
  v.n_spikes = n_spikes.data();
  v.v_min = v_min.data();
  v.v_max = v_max.data();
  v.v_mean = v_mean.data();
  v.final_state = final_state.empty() ? nullptr : final_state.data();
  v.status = status.data();
  return v;
}

bool cuda_compiled_in() {
#if defined(NEUROSWEEP_HAVE_CUDA)
  return true;
#else
  return false;
#endif
}

int cuda_device_count(std::string* why) {
#if defined(NEUROSWEEP_HAVE_CUDA)
  return cuda_devices(why);
#else
  if (why) *why = "this build has no CUDA backend (configured with NEUROSWEEP_CUDA=OFF or without nvcc)";
  return 0;
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& which, std::string* notice) {
  if (which == "cpu") return make_cpu_backend();
  if (which == "cuda") {
    std::string why;
    if (cuda_device_count(&why) <= 0) throw BackendError("--backend cuda: no usable CUDA device: " + why);
#if defined(NEUROSWEEP_HAVE_CUDA)
    return make_cuda_backend();
#endif
  }
  if (which == "auto") {
    std::string why;
    if (cuda_device_count(&why) > 0) {
#if defined(NEUROSWEEP_HAVE_CUDA)
      auto b = make_cuda_backend();
      if (notice) *notice = "backend auto: using CUDA on " + b->device();
      return b;
#endif
    }
    auto b = make_cpu_backend();
    if (notice) *notice = "backend auto: no CUDA device (" + why + "); using the CPU on " + b->device();
    return b;
  }
  throw BackendError("--backend '" + which + "': expected auto, cpu or cuda");
}

}  // namespace ns
