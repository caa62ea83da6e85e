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

enum class ConnRule { kAllToAll, kOneToOne, kFixedIndegree, kFixedOutdegree, kFixedTotalNumber, kPairwiseBernoulli,
                      kExplicit };
inline constexpr const char* kConnRuleNames[] = {"all_to_all",         "one_to_one",         "fixed_indegree",
                                                  "fixed_outdegree",    "fixed_total_number", "pairwise_bernoulli",
                                                  "explicit"};
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

// A per-synapse (or per-neuron) random value (docs/NETWORKS.md, "Distributions"): NEST's
// nest.random.normal / nest.random.uniform, bounded by nest.math.redraw(min, max) (draw again
// until the value lies in [min, max]). Fields are view indices of its sweepable parameters
// ("<owner>.mean", ".std", ".min", ".max"; -1: not given, i.e. -inf / +inf for the bounds).
struct NetDist {
  enum Kind { kNone, kNormal, kUniform } kind = kNone;
  int mean = -1, std = -1, min = -1, max = -1;
  bool active() const { return kind != kNone; }
  // One value from r: normal (Box-Muller) redrawn until in [lo, hi], or uniform on [lo, hi).
  // Throws std::runtime_error after 10^6 redraws (a bound far outside the distribution).
  double draw(const double* q, uint64_t key, uint64_t index, uint64_t stream) const;
  double lo(const double* q) const;
  double hi(const double* q) const;
};

// The edges of an "explicit" projection, read from an HDF5 group (docs/NETWORKS.md, "Explicit
// edge lists"), sorted by source (stable: the file's order within a source), held read-only and
// shared by every instance.
struct ExplicitEdges {
  std::string file, group;                 // as the spec names them (file relative to the spec)
  std::string resolved;                    // the path opened
  std::vector<uint32_t> src, tgt;          // by source, then file order
  std::vector<double> weight, delay_ms;    // empty: the file has no such dataset
  uint64_t n = 0;                          // edges
  uint64_t max_src = 0, max_tgt = 0;       // largest index and its position in the file
  uint64_t argmax_src = 0, argmax_tgt = 0;
  uint64_t hash = 0;                       // FNV-1a of the datasets' values (the spec's identity)
  size_t bytes() const {
    return (src.size() + tgt.size()) * sizeof(uint32_t) + (weight.size() + delay_ms.size()) * sizeof(double);
  }
  // "file edges.h5, group /" for messages
  std::string where() const;
};
// Reads and checks an edge file (1-D integer datasets source, target; optional float datasets
// weight, delay). Throws std::runtime_error naming the file, group, dataset and the offending
// value and index (dt_ms: delays below it are refused).
std::shared_ptr<const ExplicitEdges> read_explicit_edges(const std::string& file, const std::string& resolved,
                                                         const std::string& group, double dt_ms);

struct NetPopulation {
  std::string name, model;
  const ModelDesc* desc = nullptr;  // registry model (kPointNeuron)
  int size_param = -1;              // view index of "<pop>.size"
  int param0 = -1;                  // view index of the model's parameter 0 ("<pop>.<param>")
  int sample = 50;                  // neurons whose spikes are kept (the first ones)
  // view indices of the model's hidden input block entries the drives set, and of I_e
  int rate_ex_param = -1, weight_ex_param = -1, i_e_param = -1;
  // Per-neuron initial values ("initial": {"V_m": {"distribution": ...}}): model state index and
  // its distribution; keyed by (seed, instance or shared, population, neuron).
  std::vector<std::pair<int, NetDist>> initial;
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
  // Per-synapse distributions (weight_param / delay_param are -1 when one is active).
  NetDist weight_dist, delay_dist;
  // rule "explicit": the file's edges and the sweepable "<name>.weight_scale" (weight_param and
  // delay_param are -1 when the file has per-edge weights / delays).
  std::shared_ptr<const ExplicitEdges> edges;
  int weight_scale_param = -1;
  bool per_synapse() const {
    return weight_dist.active() || delay_dist.active() || (edges && (!edges->weight.empty() || !edges->delay_ms.empty()));
  }
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
  // What the spec's identity hash must also cover: the contents of the edge files.
  std::string identity;

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
