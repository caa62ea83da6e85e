#include "run/probe.hpp"

#include <cmath>
#include <cstring>

#include "errors.hpp"

namespace ns {

namespace {

[[noreturn]] void bad(const std::string& source, const nlohmann::json& v, const std::string& why) {
  throw SpecError(source + ": probe = " + v.dump() + ": " + why);
}

}  // namespace

std::string Probe::describe(const nlohmann::json& v, const std::string& source, const std::string& model) {
  const std::string kinds =
      "\"precision\", \"integration\", {\"thermalize\": duration} or {\"from_database\": \"path.h5\"}";
  if (v.is_string()) {
    const std::string k = v.get<std::string>();
    if (k == "precision") return k;
    if (k == "integration") {
      if (!has_numerics_options(model))
        bad(source, v, "model \"" + model + "\" has one integration scheme only (stg, pyloric, stg_circuit have two)");
      return k;
    }
    bad(source, v, "expected " + kinds);
  }
  if (v.is_object() && v.size() == 1 && v.contains("thermalize")) {
    const double ms = parse_duration_ms(v["thermalize"], source, "probe.thermalize");
    if (!(ms > 0)) bad(source, v, "the extra start time must be > 0");
    return "thermalize:" + std::to_string(ms);
  }
  if (v.is_object() && v.contains("from_database")) {  // checked by parse_start (Probe::make)
    if (v.size() != 1 || !v["from_database"].is_string()) bad(source, v, "expected {\"from_database\": \"path.h5\"}");
    return "from_database:" + v["from_database"].get<std::string>();
  }
  bad(source, v, "expected " + kinds);
}

Probe::~Probe() = default;

std::unique_ptr<Probe> Probe::make(const RunSpec& spec, const RunSettings& rs) {
  if (spec.probe.is_null()) return nullptr;
  auto p = std::make_unique<Probe>();
  p->rs_ = rs;
  p->what_ = describe(spec.probe, spec.source, spec.model->name);
  if (p->what_ == "precision") {
    const bool dbl = rs.precision == Precision::Double;
    p->rs_.precision = dbl ? Precision::Float : Precision::Double;
    p->rs_.gating = dbl ? Gating::Table : Gating::Direct;
  } else if (p->what_ == "integration") {
    p->rs_.sim.integration = rs.sim.integration == kPrinzEuler ? kExpEuler : kPrinzEuler;
  } else if (spec.probe.contains("from_database")) {
    // every start of the sweep replaced by the database's final states (spec/starts.cpp parses
    // the path as it parses "initial": relative to the spec file, checked to exist)
    const StartSpec st = parse_start(spec.probe, spec, "probe");
    p->start_spec_ = std::make_unique<RunSpec>(spec);
    p->start_spec_->starts.assign(spec.starts.size(), st);
    p->starts_ = std::make_unique<StartStates>(*p->start_spec_, rs, nullptr, "probe.from_database");
  } else {
    const double ms = parse_duration_ms(spec.probe["thermalize"], spec.source, "probe.thermalize");
    p->rs_.sim.n_transient += static_cast<int64_t>(std::llround(ms / rs.sim.dt));
  }
  p->rs_.want_final_state = false;
  return p;
}

std::vector<ColumnSpec> Probe::columns(const ClassifierStage& stage) const {
  return {{"label_probe", "i1", "", "label of the probe run (" + what_ + ")", stage.label_names()},
          {"robust", "u1", "", "1: the probe run (" + what_ + ") gives the same label and rate", {"no", "yes"}}};
}

void Probe::run(Backend& backend, const ChunkInput& in, const ClassifierStage& stage, double analysis_ms,
                ChunkData& data) const {
  ChunkOutput out;
  if (starts_) {  // from another database's final states
    std::vector<double> init;
    ChunkInput from = in;
    from.init_state = starts_->fill(in.first_index, in.n, in.params, init);
    backend.run(rs_, from, out);
  } else {
    backend.run(rs_, in, out);
  }
  ChunkData second;
  stage.classify_chunk(out, analysis_ms, second);
  const size_t n = in.n;
  const auto& l1 = data.columns.at("label");
  const auto& l2 = second.columns.at("label");
  const auto r1 = data.columns.find("rate_hz"), r2 = second.columns.find("rate_hz");
  const bool rates = r1 != data.columns.end() && r2 != second.columns.end();
  const double slack_hz = kProbeRateSpikes * 1000.0 / analysis_ms;
  std::vector<uint8_t> robust(n);
  for (size_t i = 0; i < n; ++i) {
    bool same = l1[i] == l2[i];
    if (same && rates) {
      float a, b;
      std::memcpy(&a, r1->second.data() + i * sizeof(float), sizeof(float));
      std::memcpy(&b, r2->second.data() + i * sizeof(float), sizeof(float));
      const double d = std::fabs(double(a) - double(b)), big = std::fmax(double(a), double(b));
      same = (std::isnan(a) && std::isnan(b)) || d <= std::fmax(kProbeRateTolerance * big, slack_hz);
    }
    robust[i] = same ? 1 : 0;
  }
  data.columns["label_probe"] = l2;
  data.set("robust", robust);
}

}  // namespace ns
