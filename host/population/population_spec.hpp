#pragma once
// Population-density networks in a sweep spec: the "populations" object of model "dipde_network"
// (docs/POPULATIONS.md), mapped onto the slots of DensityNetworkModel
// (include/neurosweep/population/density.hpp): internal population k is slot k, external x is
// slot x, connection c is slot c. `model` is the view with the user's names:
//   "<pop>.tau_m" (ms), "<pop>.v_min", "<pop>.v_max", "<pop>.dv" (mV),
//   "<ext>.rate" (Hz; piecewise: "<ext>.t1" (ms), "<ext>.rate1", ...),
//   "<connection>.weight" (mV), "<connection>.nsyns", "<connection>.delay" (ms), "tol";
// connections are named "<source>_to_<target>" unless they have a "name". Unused slots, the
// wiring and the counts are hidden (leading '#'). Units are neurosweep's (ms, mV, Hz); PopNet
// files in DiPDE's s and V are converted by python/neurosweep/popnet.py.
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "neurosweep/models.hpp"

namespace ns {

struct DensityPopulation {
  std::string name;
  double tau_m = 20.0, v_min = -10.0, v_max = 20.0, dv = 0.1;
};
struct DensityExternal {
  std::string name;
  std::vector<std::pair<double, double>> pieces;  // (from t in ms, rate in Hz); first from -inf
};
struct DensityConnection {
  std::string name;
  int source = 0;  // < n internal: internal; else n internal + external index
  int target = 0;
  double weight = 0.0, nsyns = 1.0, delay = 0.0;
};

struct PopulationDesc {
  std::vector<DensityPopulation> internal;
  std::vector<DensityExternal> external;
  std::vector<DensityConnection> connections;
  double tol = 1e-12;
  ModelDesc model;  // the view (see above); built by build(), do not copy afterwards

  void build();
  nlohmann::json to_json() const;  // normalised description (ms, mV, Hz)

 private:
  std::deque<std::string> names_;
};

// The registry's description of the bare model (no "populations" object): one internal
// population "pop" driven by one external population "ext" at 100 Hz with 5 mV jumps (DiPDE's
// test_singlepop network in ms and mV).
ModelDesc describe_host_model(const DensityNetworkModel*);

// Parses the "populations" object at `path` of spec file `source`; throws SpecError naming the
// file, the key and the value.
std::shared_ptr<const PopulationDesc> parse_populations(const std::string& source, const nlohmann::json& v,
                                                        double dt_ms);

}  // namespace ns
