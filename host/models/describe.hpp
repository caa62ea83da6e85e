#pragma once
// What `neurosweep models` prints: the registered models (name, kind, one-line description) and
// one model's parameters (unit, default, admissible range and its source), state variables with
// their default start values, presets. Text for people, JSON for programs (python: ns.models(),
// ns.model_info(name)).
#include <string>

#include <nlohmann/json.hpp>

#include "neurosweep/models.hpp"

namespace ns {

nlohmann::json models_json();                     // [{name, kind, description}, ...]
nlohmann::json model_json(const ModelDesc& m);    // everything about one model
std::string models_text();
std::string model_text(const ModelDesc& m);

}  // namespace ns
