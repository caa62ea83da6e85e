#pragma once
// Each instance's initial state, chunk by chunk, from the spec's start states: one setting
// ("initial") or a start axis (issue 14; docs/SWEEP_SPEC.md "Start axis"). Kinds:
//   cold:        the model's own start (computed by the backend, exactly as without an init);
//   explicit:    the spec's values;
//   thermalized: circuits: each distinct cell alone from cold for T (ThermalCache, one per
//                distinct T, so each cell is integrated once per T and build); stg: the neuron
//                itself from cold for T;
//   database:    the final state of another database's row. Matching rule: row i' = the
//                instance's index in the sweep WITHOUT the start axis (every instance without
//                one); that database must have exactly that many rows. On a start axis the
//                parameter values must match too: every swept parameter that the other
//                database stores as a column must equal the instance's, or the build stops
//                naming both values.
// The result does not depend on the chunking: every instance's start is a function of its
// index and parameters only.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "neurosweep/backend.hpp"
#include "spec/circuit.hpp"
#include "spec/spec.hpp"

namespace ns {

class StateSource;  // final states of another database (starts.cpp)

class StartStates {
 public:
  // backend: where cold and thermalised starts are integrated (null: the CPU backend). Opens
  // (and checks) every database start: throws SpecError naming it. The stored parameters of
  // database starts are compared on a start axis and for a probe (probe_key: the key path in
  // messages, e.g. "probe.from_database"); the single "initial.from_database" setting matches by
  // index alone, so a warm start may change parameters.
  StartStates(const RunSpec& spec, const RunSettings& rs, Backend* backend = nullptr, const std::string& probe_key = "");
  ~StartStates();
  StartStates(const StartStates&) = delete;
  StartStates& operator=(const StartStates&) = delete;

  // Initial states of instances [first, first + n) with parameters params (column-major, all
  // model parameters) into init (column-major [k * n + j]); returns init.data(), or null when
  // every instance of the chunk starts cold (the backend's cold start, as without starts).
  const double* fill(uint64_t first, size_t n, const double* params, std::vector<double>& init);
  // The start index (into RunSpec::starts) of instances [first, first + n).
  std::vector<uint8_t> start_index(uint64_t first, size_t n) const;
  // Distinct cells thermalised so far (circuits), over every T.
  size_t thermalised_cells() const;

 private:
  const RunSpec& spec_;
  std::string probe_key_;
  RunSettings rs_;
  Backend* backend_;
  std::unique_ptr<Backend> own_;
  std::map<double, std::unique_ptr<ThermalCache>> thermal_;   // circuits: by T (ms)
  std::map<std::string, std::unique_ptr<StateSource>> sources_;  // by path
  std::string key(size_t s) const;  // the spec's key path of start s, for messages
  void thermalise_neurons(double ms, const double* params, size_t n, double* init);
};

// The "initial" root attribute: "cold", "explicit", "thermalized", "database:<path>", or
// "axis:<name>" with a start axis; and the start states as JSON (attribute "starts").
std::string initial_attribute(const RunSpec& spec);
std::string starts_json(const RunSpec& spec);

}  // namespace ns
