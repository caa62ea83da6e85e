#pragma once
// The classifier stage of a build: turns a chunk's detector output into database columns
// (label, features). One implementation per kind of model; the run pipeline picks it by model.
#include <memory>
#include <string>
#include <vector>

#include "store/database.hpp"
#include "neurosweep/backend.hpp"
#include "spec/spec.hpp"

namespace ns {

class ClassifierStage {
 public:
  virtual ~ClassifierStage() = default;
  // Columns this stage writes (the first is `label`, an int8 enum with label_names()).
  virtual std::vector<ColumnSpec> columns() const = 0;
  virtual std::vector<std::string> label_names() const = 0;
  // Spike-time capacity per instance and potential that the detectors must keep.
  virtual int spikes_needed() const = 0;
  // The settings as stored in the database (JSON text).
  virtual std::string settings_json() const = 0;
  // Fill this stage's columns of `data` for the chunk.
  virtual void classify_chunk(const ChunkOutput& out, double analysis_ms, ChunkData& data) const = 0;
};

// The single-neuron classifier (host/classify/classify.hpp) as a stage. Throws SpecError for bad
// classifier settings or an analysis window shorter than the classifier needs.
std::unique_ptr<ClassifierStage> make_single_neuron_stage(const RunSpec& spec);

// Picks the stage for the spec's model.
std::unique_ptr<ClassifierStage> make_classifier_stage(const RunSpec& spec);

}  // namespace ns
