#pragma once
// The reduced Brunel (2000) model A network that the network tests share: N_E = NE, N_I = NE/4,
// C_E = NE/10, C_I = C_E/4, weights J and -g J, delay D, iaf_psc_delta with theta 20 mV, V_r 10 mV,
// t_ref 2 ms, tau_m 20 ms, and an external Poisson drive at eta * nu_thr, nu_thr = theta / (J C_E
// tau_m) (Brunel 2000, sec. 2). Returns the spec's "network" object; the tests add the rest.
#include <string>

#include <nlohmann/json.hpp>

namespace nstest {

inline nlohmann::json brunel_network(int ne, double j, double g, double eta, int sample_e, int sample_i) {
  const auto num = [](double x) { return nlohmann::json(x).dump(); };
  return nlohmann::json::parse(R"({
      "parameters": {"J": )" + num(j) + R"(, "g": )" + num(g) + R"(, "eta": )" + num(eta) + R"(,
                     "NE": )" + std::to_string(ne) + R"(, "D": 1.5, "theta": 20, "tau": 20},
      "populations": [
        {"name": "E", "model": "iaf_psc_delta", "size": "NE", "sample": )" + std::to_string(sample_e) + R"(,
         "params": {"E_L": 0, "V_m": 0, "V_reset": 10, "V_th": "theta", "tau_m": "tau", "t_ref": 2, "C_m": 1}},
        {"name": "I", "model": "iaf_psc_delta", "size": "NE/4", "sample": )" + std::to_string(sample_i) + R"(,
         "params": {"E_L": 0, "V_m": 0, "V_reset": 10, "V_th": "theta", "tau_m": "tau", "t_ref": 2, "C_m": 1}}
      ],
      "projections": [
        {"source": "E", "target": "E", "rule": "fixed_indegree", "indegree": "NE/10", "weight": "J", "delay": "D"},
        {"source": "E", "target": "I", "rule": "fixed_indegree", "indegree": "NE/10", "weight": "J", "delay": "D"},
        {"source": "I", "target": "E", "rule": "fixed_indegree", "indegree": "NE/40", "weight": "-g*J", "delay": "D"},
        {"source": "I", "target": "I", "rule": "fixed_indegree", "indegree": "NE/40", "weight": "-g*J", "delay": "D"}
      ],
      "drives": [
        {"target": "E", "type": "poisson", "rate": "1000 * eta * theta / (J * NE/10 * tau) * NE/10", "weight": "J"},
        {"target": "I", "type": "poisson", "rate": "1000 * eta * theta / (J * NE/10 * tau) * NE/10", "weight": "J"}
      ]})");
}

}  // namespace nstest
