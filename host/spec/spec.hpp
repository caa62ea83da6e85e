#pragma once
// The sweep specification: parsing, validation and lazy expansion of a JSON sweep spec.
// docs/SWEEP_SPEC.md is the user-facing contract (keys, units, defaults, index order, errors).
//
// Instance i -> parameters is a pure function of (spec, seed, i): mixed radix over the axes for
// "product" sweeps (first axis slowest), counter-based hashes for random axes, direct index
// computation for (scrambled) Sobol axes. No table of instances is ever built; fill() computes any
// chunk, and the result does not depend on the chunking, the thread or the shard.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "spec/circuit.hpp"
#include "errors.hpp"
#include "neurosweep/backend.hpp"
#include "neurosweep/models.hpp"
#include "spec/sobol.hpp"

namespace ns {

// The spec's kinds and modes, parsed once at the spec boundary. Their names (the spec's keys and
// the database's attributes) appear only in I/O, through these tables (index = enum value).
enum class AxisKind { kGrid, kList, kLinked, kCategorical, kRandom, kSobol };
enum class Combine { kProduct, kSample };
enum class InitialKind { kCold, kExplicit, kDatabase, kThermalized };
inline constexpr const char* kAxisKindNames[] = {"grid", "list", "linked", "categorical", "random", "sobol"};
inline constexpr const char* kCombineNames[] = {"product", "sample"};
inline constexpr const char* kInitialKindNames[] = {"cold", "explicit", "database", "thermalized"};
inline constexpr const char* kScrambleNames[] = {"none", "shift", "owen"};  // sobol::Scramble
inline const char* to_string(AxisKind k) { return kAxisKindNames[static_cast<int>(k)]; }
inline const char* to_string(Combine c) { return kCombineNames[static_cast<int>(c)]; }
inline const char* to_string(InitialKind k) { return kInitialKindNames[static_cast<int>(k)]; }
// Random and Sobol axes: values drawn per sample index, not stored per digit.
inline bool is_sampled(AxisKind k) { return k == AxisKind::kRandom || k == AxisKind::kSobol; }

// One axis of a sweep, in spec order. For product sweeps the axes are the dimensions of an N-D
// array of shape (axes[0].size, axes[1].size, ...), axis 0 slowest.
struct AxisInfo {
  std::string name;                 // unique among the axes ("gNa", "gKd+gNa", "preset", ...)
  AxisKind kind = AxisKind::kGrid;
  std::vector<std::string> params;  // parameter names (sorted by name except grid/list: one)
  std::vector<int> param_index;     // their indices in the model's parameter list
  uint64_t size = 0;                // number of distinct digits (product) or samples (sample)
  // grid, list, linked, categorical: values[p * size + j] of params[p] at digit j.
  // random, sobol: empty (values are computed lazily: Sweep::value).
  std::vector<double> values;
  std::vector<std::string> labels;  // categorical: the preset name of each digit
  // random, sobol: per parameter: range and scale (log: log-uniform in [low, high]).
  std::vector<double> low, high;
  std::vector<bool> log_scale;
  sobol::Scramble scramble = sobol::Scramble::Owen;  // sobol axes
  bool start = false;  // a start axis (categorical over start states, no parameters): RunSpec::starts
};
using GridAxisInfo = AxisInfo;  // name used in the design notes

class Sweep {  // immutable after construction
 public:
  Sweep() = default;  // empty: size 0
  // Used by the parser (axes already validated).
  Sweep(std::vector<double> base_params, std::vector<AxisInfo> axes, Combine combine,
        uint64_t seed);

  uint64_t size() const { return size_; }
  size_t n_params() const { return base_.size(); }
  // Writes ALL model parameters (base values overridden by the axes) of instances [i0, i0+n),
  // column-major: out[k * n + j] = parameter k of instance i0 + j. Throws std::out_of_range when
  // i0 + n > size().
  void fill(uint64_t i0, size_t n, double* out) const;
  std::vector<double> params_of(uint64_t i) const;  // one instance (convenience)
  // Value of params[p] of axis a at digit (product) or sample index (sample) j.
  double value(size_t a, size_t p, uint64_t j) const;
  // Indices of the parameters named in any axis (stored as database columns), ascending.
  std::vector<int> swept_params() const;
  const std::vector<AxisInfo>& axes() const { return axes_; }
  // Per-axis digit of instance i: mixed radix for "product" (axis 0 most significant), i itself
  // for every axis of a "sample" sweep.
  std::vector<uint64_t> decode(uint64_t i) const;
  uint64_t encode(const std::vector<uint64_t>& digits) const;  // inverse of decode (product)
  uint64_t digit(uint64_t i, size_t a) const {  // decode(i)[a] without the vector
    return combine_ == Combine::kProduct ? (i / stride_[a]) % axes_[a].size : i;
  }
  // Product sweeps: index of instance i in the same sweep without axis a (its digit dropped,
  // the other axes in order), e.g. the row of a database built without a start axis.
  uint64_t drop_axis(uint64_t i, size_t a) const {
    const uint64_t s = stride_[a];
    return (i / (s * axes_[a].size)) * s + i % s;
  }
  Combine combine() const { return combine_; }
  uint64_t seed() const { return seed_; }
  const std::vector<double>& base_params() const { return base_; }

 private:
  std::vector<double> base_;
  std::vector<AxisInfo> axes_;
  Combine combine_ = Combine::kProduct;
  uint64_t seed_ = 0;
  uint64_t size_ = 0;
  std::vector<uint64_t> stride_;              // product: instance stride of each axis
  std::vector<std::vector<uint64_t>> keys_;   // random/sobol: per axis, per parameter hash key
  std::vector<uint64_t> key_pos_;             // per axis: its position among non-start axes
};

// One start state: the spec's "initial" setting, or one entry of a start axis (docs/SWEEP_SPEC.md
// "Initial state" and "Start axis").
struct StartSpec {
  InitialKind kind = InitialKind::kCold;
  double thermal_ms = 0;      // thermalized: the cell (circuits: each cell alone) this long from cold
  std::vector<double> state;  // explicit: every state variable, model order
  std::string database;       // database: path (relative paths resolved against the spec file's
                              // directory); checked to exist
  std::string label;          // its name: the start axis's label, the "initial" attribute
};

struct NetworkDesc;  // network/network.hpp
struct PopulationDesc;  // host/population/population_spec.hpp

struct RunSpec {
  std::string source;      // file path (or "<string>")
  nlohmann::json raw;      // verbatim (comments dropped)
  std::string canonical;   // raw.dump(): keys sorted, no whitespace
  uint64_t hash = 0;       // FNV-1a 64 of canonical
  const ModelDesc* model = nullptr;        // for a "circuit": circuit->model (user names)
  std::shared_ptr<const CircuitDesc> circuit;  // the "circuit" object (model stg_circuit), or null
  // The "network" object ("model": "network"; docs/NETWORKS.md), or null. Its view is `model`.
  std::shared_ptr<const NetworkDesc> network;
  std::shared_ptr<const PopulationDesc> populations;  // the "populations" object (dipde_network), or null
  double dt_ms = 0, transient_ms = 0, analysis_ms = 0;
  int64_t n_transient = 0, n_analysis = 0;  // steps
  uint64_t seed = 0;
  Precision precision = Precision::Float;
  std::optional<Gating> gating;     // none: the default (run_settings)
  int integration = kExpEuler;      // Integration (engine.hpp): STG models only
  int constants = kCodata2018;      // Constants (engine.hpp): STG models only
  nlohmann::json probe;             // "probe" verbatim (null: none); checked by run/probe.hpp
  std::vector<double> base_params;  // model defaults overridden by `fixed`
  Sweep sweep;
  nlohmann::json classifier = nlohmann::json::object();  // raw; validated by the classifier
  bool out_final_state = false;
  // Population rate series: set by the kinds that produce them (networks, population models);
  // bins of output.rate_bin (default 1 ms) over the analysis window. Empty: no /rates.
  std::vector<std::string> rate_series;
  double rate_bin_ms = 1.0;
  int64_t rate_bin_steps = 0;
  int out_spikes = 0;                     // spike times kept per instance (and potential)
  std::vector<uint64_t> trace_instances;  // ascending, unique, < sweep.size()
  // Traces chosen by predicate after classification (run.cpp, "trace pass"): up to
  // trace_per_label instances of each label and/or up to trace_max instances matching
  // trace_where (the `query --where` language; empty: every row). 0: off.
  uint64_t trace_per_label = 0;
  std::string trace_where;
  uint64_t trace_max = 0;
  bool traces_by_predicate() const { return trace_per_label > 0 || !trace_where.empty(); }
  double trace_every_ms = 0;              // 0 when no traces
  // output.sonata_spikes (networks, docs/NETWORKS.md): instances re-simulated after the build
  // with every neuron recorded, one SONATA spike file each in sonata_dir (empty: "<out>.sonata").
  // Besides explicit instances, chosen after classification like predicate traces (run.cpp,
  // "SONATA pass"): up to sonata_per_label of each label and/or up to sonata_max matching sonata_where.
  std::vector<uint64_t> sonata_instances;  // ascending, unique, < sweep.size()
  uint64_t sonata_per_label = 0;
  std::string sonata_where;
  uint64_t sonata_max = 0;
  bool sonata_by_predicate() const { return sonata_per_label > 0 || !sonata_where.empty(); }
  bool wants_sonata() const { return !sonata_instances.empty() || sonata_by_predicate(); }
  std::string sonata_dir;
  int64_t trace_every_steps = 0;
  // The start states: one (the "initial" setting, default cold) or the entries of the start
  // axis sweep.axes()[start_axis]; instance i starts from starts[start_of(i)].
  std::vector<StartSpec> starts = {StartSpec{InitialKind::kCold, 0, {}, "", "cold"}};
  int start_axis = -1;
  size_t start_of(uint64_t i) const {
    return start_axis < 0 ? 0 : static_cast<size_t>(sweep.digit(i, static_cast<size_t>(start_axis)));
  }
  const StartSpec& initial() const { return starts[0]; }  // without a start axis: the start
  std::string name, description;          // name defaults to the spec file's stem
};

// All throw SpecError with a message "<source>: <key path>: ... got <value>; expected ...".
RunSpec load_spec(const std::string& path);
RunSpec parse_spec(const nlohmann::json& j, const std::string& source);
RunSpec parse_spec_text(const std::string& text, const std::string& source);

// One start state (the forms of "initial", docs/SWEEP_SPEC.md) given at `path` of `spec`'s file
// (e.g. a probe's {"from_database": ...}); throws SpecError naming the path and the value.
StartSpec parse_start(const nlohmann::json& v, const RunSpec& spec, const std::string& path);

// Minimum analysis window accepted by the parser (ms); the classifier may require more.
constexpr double kMinAnalysisMs = 100.0;
// Largest number of instances of one sweep (2^48).
constexpr uint64_t kMaxInstances = 1ULL << 48;

// Parses a duration ("0.05 ms", "10 s", {"value": 0.05, "unit": "ms"}) to ms; throws SpecError
// naming `source` and `path`. Exposed for the CLI (e.g. --every).
double parse_duration_ms(const nlohmann::json& v, const std::string& source,
                         const std::string& path);

}  // namespace ns
