// Start states in a spec: the "initial" setting and the start axis, a categorical axis over start
// states (docs/SWEEP_SPEC.md "Initial state" and "Start axis"; issue 14). Both take the same
// values: "cold", {"thermalize": T}, {"from_database": path} or an object giving every state
// variable; the run turns them into each instance's initial state (run/starts.hpp).
#include "spec/spec_detail.hpp"

namespace ns::spec_detail {

namespace {

const char* kStartForms =
    "\"cold\", {\"thermalize\": duration}, {\"from_database\": \"path.h5\"} or an object giving every state "
    "variable";

// "5 s" -> "5s", "500 ms" -> "500ms": short labels without spaces (query: start == 'thermalize_5s').
std::string compact_duration(double ms) {
  return ms >= 1000.0 ? fmt_num(ms / 1000.0) + "s" : fmt_num(ms) + "ms";
}

}  // namespace

StartSpec parse_start(const Ctx& c, const Parsed& P, const std::string& path, const json& v, bool axis_entry) {
  const ModelDesc& m = *P.m;
  StartSpec s;
  std::vector<std::string> extra;  // keys every object form accepts
  if (axis_entry) extra.push_back("label");
  auto with = [&](std::vector<std::string> k) {
    k.insert(k.end(), extra.begin(), extra.end());
    return k;
  };
  if (v.is_string()) {
    if (v.get<std::string>() != "cold") c.bad(path, v, kStartForms);
    s.kind = InitialKind::kCold;
    s.label = "cold";
    return s;
  }
  if (!v.is_object()) c.bad(path, v, kStartForms);
  if (v.contains("thermalize")) {
    c.keys(path, v, with({"thermalize"}));
    const std::string tp = kpath(path, "thermalize");
    // Circuits (P04): each cell from its isolated state after this long, s = 0. A single
    // conductance neuron: the neuron itself after this long (a longer transient, as a start).
    if (m.kind != ModelKind::kCircuit && m.kind != ModelKind::kConductanceNeuron)
      c.bad(tp, v["thermalize"],
            "a conductance-based model (\"stg\") or a circuit model (\"pyloric\", \"stg_circuit\"); model \"" + m.name +
                "\" (" + kind_name(m.kind) + ") has no thermalised start (its start state is set by its parameters or "
                "\"initial\"; use a longer transient)");
    s.thermal_ms = duration(c, tp, v["thermalize"]);
    if (s.thermal_ms < 0) c.bad(tp, v["thermalize"], "a duration >= 0");
    if (P.dt_ms > 0) steps_of(c, tp, v["thermalize"], s.thermal_ms, P.dt_ms);
    s.kind = InitialKind::kThermalized;
    s.label = "thermalize_" + compact_duration(s.thermal_ms);
  } else if (v.contains("from_database")) {
    c.keys(path, v, with({"from_database"}));
    const std::string dp = kpath(path, "from_database");
    const std::string pth = c.str(dp, v["from_database"]);
    if (pth.empty()) c.bad(dp, v["from_database"], "a path to a database file");
    std::filesystem::path fp(pth);
    if (fp.is_relative() && !c.src.empty() && c.src[0] != '<') fp = std::filesystem::path(c.src).parent_path() / fp;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(fp, ec))
      c.bad(dp, v["from_database"],
            "an existing database file (looked for " + fp.string() +
                "; relative paths are resolved against the spec file's directory)");
    s.kind = InitialKind::kDatabase;
    s.database = fp.string();
    s.label = "database_" + std::filesystem::path(pth).stem().string();
  } else {
    // Every state variable (circuits: of the circuit's cells and synapses; the unused ones of
    // the engine start at 0 and are never integrated).
    std::vector<std::string> names;
    for (const auto& st : m.state)
      if (!is_hidden_name(st.name)) names.emplace_back(st.name);
    std::vector<std::string> allowed = with(names);
    allowed.push_back("from_database");
    allowed.push_back("thermalize");
    c.keys(path, v, allowed);
    std::vector<std::string> missing;
    s.state.assign(m.state.size(), 0.0);
    for (size_t k = 0; k < m.state.size(); ++k) {
      const std::string nk = m.state[k].name;
      if (is_hidden_name(m.state[k].name)) continue;
      if (!v.contains(nk)) {
        missing.push_back(nk);
        continue;
      }
      s.state[k] = c.number(kpath(path, nk), v[nk]);
    }
    if (!missing.empty())
      c.fail(path, "missing state variables " + join(missing) + "; expected every state variable of model \"" +
                       m.name + "\": " + join(names));
    s.kind = InitialKind::kExplicit;
    s.label = "explicit";
  }
  if (axis_entry && v.contains("label")) {
    const std::string lp = kpath(path, "label");
    s.label = c.str(lp, v["label"]);
    if (s.label.empty()) c.bad(lp, v["label"], "a non-empty label");
  }
  return s;
}

void parse_start_axis(const Ctx& c, Parsed& P, const std::string& path, const json& a, AxisInfo& ax, size_t index) {
  c.keys(path, a, {"kind", "name", "starts"});
  if (P.start_axis >= 0)
    c.fail(path, "got a second start axis (axes[" + std::to_string(P.start_axis) +
                     "] is one); expected at most one axis of start states");
  const std::string sp = kpath(path, "starts");
  const json& sv = c.array(sp, c.require(path, a, "starts", "the start states: " + std::string(kStartForms)));
  P.starts.clear();
  for (size_t q = 0; q < sv.size(); ++q) {
    const std::string ep = ipath(sp, q);
    P.starts.push_back(parse_start(c, P, ep, sv[q], true));
    for (size_t r = 0; r + 1 < P.starts.size(); ++r)
      if (P.starts[r].label == P.starts.back().label)
        c.bad(ep, sv[q], "distinct start labels (\"" + P.starts.back().label + "\" is also " + ipath(sp, r) +
                             "; give one a \"label\")");
  }
  ax.start = true;
  ax.size = P.starts.size();
  for (const auto& s : P.starts) ax.labels.push_back(s.label);
  P.start_axis = static_cast<int>(index);
}

}  // namespace ns::spec_detail

namespace ns {
StartSpec parse_start(const nlohmann::json& v, const RunSpec& spec, const std::string& path) {
  spec_detail::Parsed P{spec.model, spec.base_params, {}, spec.circuit.get(), spec.dt_ms, {}, -1};
  return spec_detail::parse_start(spec_detail::Ctx{spec.source}, P, path, v, false);
}
}  // namespace ns
