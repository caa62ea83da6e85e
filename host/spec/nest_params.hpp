#pragma once
// Parameter files in NEST / BMTK "dynamics_params" form: one JSON object of NEST parameter names
// to numbers, e.g. {"C_m": 250.0, "tau_m": 10.0}. Used to set point-neuron parameters by name.
#include <string>
#include <vector>

#include "neurosweep/models.hpp"

namespace ns {

// Returns the model's full parameter vector (defaults, overridden by the file's entries).
// Throws SpecError (naming file, key and value) for: unreadable file, invalid JSON, a top level
// that is not an object, an unknown name (the message lists the model's valid names), a value
// that is not a finite number (booleans are accepted as 1/0, NEST's bool parameters).
// Keys starting with '_' or "model"/"dynamics_params" meta keys are refused too: unknown names.
std::vector<double> load_dynamics_params(const ModelDesc& model, const std::string& path);

// The same, applied onto p (the model's full parameter vector): entries the file does not name
// keep their values in p (`simulate --params` after a preset).
void apply_dynamics_params(const ModelDesc& model, const std::string& path, std::vector<double>& p);

}  // namespace ns
