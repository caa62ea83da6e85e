#pragma once
// Spiking networks as sweep instances (issue 16; user contract: docs/NETWORKS.md).
//
// A network instance is N point neurons of registry models (kind kPointNeuron) grouped in
// populations, connected by projections drawn with NEST's connection rules, driven by Poisson or
// DC drives. The sweep machinery sees a network as one "model" (a ModelDesc view of kind
// kNetwork, like the circuit view of stg_circuit): its parameters are
//   <name>                 network parameters ("parameters": {"g": 5, "J": 0.1}), the targets of
//                          references such as "-g*J"
//   <pop>.size             neurons of the population
//   <pop>.<model param>    every parameter of the population's model (its input block hidden:
//                          drives set it)
//   <src>-><tgt>.weight|delay|indegree|outdegree|N|p   per projection (rule parameter by rule)
//   drive.<pop>.rate|weight|amplitude                  per drive
// so every neuron, connection and drive parameter is sweepable by name on any axis kind.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "neurosweep/models.hpp"
#include "network/spike_source.hpp"

namespace ns {

// An arithmetic expression over network parameters: numbers, names, + - * / and parentheses,
// unary minus ("-g*J", "2*(J+0.1)"). Compiled to a postfix program.
struct NetExpr {
  enum Op : int { kNum, kVar, kAdd, kSub, kMul, kDiv, kNeg };
  struct Ins {
    Op op;
    double num = 0;
    int var = 0;
  };
  std::vector<Ins> code;
  std::string text;
  double eval(const double* vars) const;
};
// Parses `text` with variables `names`; throws std::invalid_argument with a message naming the
// offending token.
NetExpr parse_net_expr(const std::string& text, const std::vector<std::string>& names);

enum class ConnRule { kAllToAll, kOneToOne, kFixedIndegree, kFixedOutdegree, kFixedTotalNumber, kPairwiseBernoulli };
inline constexpr const char* kConnRuleNames[] = {"all_to_all", "one_to_one", "fixed_indegree",
                                                  "fixed_outdegree", "fixed_total_number", "pairwise_bernoulli"};
// The rule's parameter as NEST names it ("" for rules without one).
inline const char* rule_param_name(ConnRule r) {
  switch (r) {
    case ConnRule::kFixedIndegree: return "indegree";
    case ConnRule::kFixedOutdegree: return "outdegree";
    case ConnRule::kFixedTotalNumber: return "N";
    case ConnRule::kPairwiseBernoulli: return "p";
    default: return "";
  }
}

struct NetPopulation {
  std::string name, model;
  const ModelDesc* desc = nullptr;  // registry model (kPointNeuron)
  int size_param = -1;              // view index of "<pop>.size"
  int param0 = -1;                  // view index of the model's parameter 0 ("<pop>.<param>")
  int sample = 50;                  // neurons whose spikes are kept (the first ones)
  // view indices of the model's hidden input block entries the drives set, and of I_e
  int rate_ex_param = -1, weight_ex_param = -1, i_e_param = -1;
  // Spike source (docs/NETWORKS.md "Spike sources"): neurons that emit these spike times; model
  // "spike_source", desc = &spike_source_desc(), no parameters (param0 = -1) besides the size.
  std::shared_ptr<const SpikeSource> source;
};
struct NetProjection {
  std::string name;  // "<src>-><tgt>" (or the spec's "name")
  int src = 0, tgt = 0;
  ConnRule rule = ConnRule::kAllToAll;
  bool autapses = true, multapses = true;  // NEST's defaults
  int weight_param = -1, delay_param = -1, rule_param = -1;  // view indices (rule_param -1: none)
};
struct NetDrive {
  enum Kind { kPoisson, kDc } kind = kPoisson;
  std::string name;  // "drive.<pop>"
  int target = 0;
  int rate_param = -1, weight_param = -1, amplitude_param = -1;
};

struct NetworkDesc {
  int n_net_params = 0;  // view parameters 0 .. n_net_params-1 are the network parameters
  std::vector<NetPopulation> pops;
  std::vector<NetProjection> projs;
  std::vector<NetDrive> drives;
  bool shared_connectivity = true;  // "connectivity": "shared" (default) or "per_instance"
  // References: view parameter -> expression over the network parameters. A reference is
  // overridden when its parameter is set in "fixed" or swept (overridden[k]).
  std::vector<std::pair<int, NetExpr>> refs;
  std::vector<bool> overridden;
  ModelDesc model;  // the view (name "network", kind kNetwork)

  // The spec's "network" object, normalised (the database's root attribute "network").
  nlohmann::json normalised;

  // Every view parameter of one instance with the references evaluated: p has model.params.size()
  // entries (as the sweep fills them); writes the realised values into q (same size).
  void realise(const double* p, double* q) const;
  // "" when the realised parameters q are admissible (ranges of referenced values, model rules of
  // each population, rule parameters against the sizes), else the problem naming the parameter.
  std::string check_realised(const double* q, double dt_ms) const;
  int64_t delay_steps(double delay_ms, double dt_ms) const;
  // "" unless a spike source's file names a neuron >= its realised size, or a projection targets
  // a spike source.
  std::string check_spike_sources(const double* q) const;
  int total_sample() const {
    int s = 0;
    for (const auto& p : pops) s += p.sample;
    return s;
  }
  // Names of the sampled neurons ("E:0", "E:1", ...): the database's spike cells.
  std::vector<std::string> sample_names() const;

  // Builds `model` (call once after filling the rest; the object must not move afterwards).
  void build(double dt_ms);
  // Adds a view parameter (before build); returns its index.
  int add_param(const std::string& name, const char* unit, double def, const char* doc, Range range);

 private:
  std::deque<std::string> names_;
  struct PendingParam {
    std::string name;
    const char* unit;
    double def;
    std::string doc;
    Range range;
  };
  std::vector<PendingParam> pending_;
  std::deque<std::string> docs_;
  double dt_ms_ = 0;
};

}  // namespace ns
