// The "circuit" object of a spec (docs/SWEEP_SPEC.md, "Circuit objects"), parsed into a
// CircuitDesc (circuit.hpp maps it onto the stg_circuit model).
#include "spec/spec_detail.hpp"

namespace ns::spec_detail {

bool valid_circuit_name(const std::string& s) {
  if (s.empty() || s.size() > 40 || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (char ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') return false;
  return true;
}

// Synapse strength: "30 nS", "0.03 uS" (or "µS"), {"value": 30, "unit": "nS"} -> nS.
double strength_nS(const Ctx& c, const std::string& path, const json& v) {
  const std::string expect =
      "a conductance with a unit: \"30 nS\", \"0.03 uS\" or {\"value\": 30, \"unit\": \"nS\"}";
  const auto [value, unit] = quantity(c, path, v, expect, "nS");
  if (!std::isfinite(value)) c.bad(path, v, "a finite strength");
  double nS;
  if (unit == "nS") nS = value;
  else if (unit == "uS" || unit == "\xc2\xb5S" || unit == "\xce\xbcS") nS = value * 1000.0;
  else c.bad(path, v, expect + "; the unit must be \"nS\" or \"uS\" (mS/cm^2 densities are not accepted: "
                               "P04 strengths are absolute conductances)");
  if (nS < 0) c.bad(path, v, "a strength >= 0 (inhibition comes from the reversal potential, not the sign)");
  return nS;
}

std::shared_ptr<CircuitDesc> parse_circuit(const Ctx& c, const json& v) {
  using M = StgCircuitModel;
  const std::string P = "circuit";
  c.object(P, v);
  c.keys(P, v, {"cells", "synapses", "roles"});
  auto d = std::make_shared<CircuitDesc>();
  std::vector<std::string> neurons, stg_params;
  for (const auto& pr : p04::kNeurons) neurons.emplace_back(pr.name);
  for (const auto& pi : StgModel::kParams) stg_params.emplace_back(pi.name);

  const std::string cp = kpath(P, "cells");
  const json& cv = c.array(cp, c.require(P, v, "cells", "a list of {\"name\": ..., \"neuron\": ...}"));
  if (cv.size() > static_cast<size_t>(M::NC))
    c.fail(cp, "got " + std::to_string(cv.size()) + " cells; expected at most " + std::to_string(M::NC) +
                   " (the stg_circuit model's limit)");
  for (size_t k = 0; k < cv.size(); ++k) {
    const std::string p = ipath(cp, k);
    const json& e = c.object(p, cv[k]);
    c.keys(p, e, {"name", "neuron", "params"});
    CircuitCell cell;
    const json& nv = c.require(p, e, "name", "the cell's name, e.g. \"LP\"");
    cell.name = c.str(kpath(p, "name"), nv);
    if (!valid_circuit_name(cell.name))
      c.bad(kpath(p, "name"), nv, "a name of letters, digits and '_' starting with a letter (at most 40 characters)");
    for (size_t q = 0; q < k; ++q)
      if (d->cells[q].name == cell.name)
        c.bad(kpath(p, "name"), nv, "distinct cell names (\"" + cell.name + "\" is already cells[" + std::to_string(q) + "])");
    if (!e.contains("neuron") && !e.contains("params"))
      c.fail(p, "cell \"" + cell.name + "\" has neither \"neuron\" (a P04 model neuron: " + join(neurons) +
                    ") nor \"params\" (STG parameters)");
    if (e.contains("neuron")) {
      cell.neuron = c.str(kpath(p, "neuron"), e["neuron"]);
      if (std::find(neurons.begin(), neurons.end(), cell.neuron) == neurons.end())
        c.bad(kpath(p, "neuron"), e["neuron"],
              "a model neuron of Prinz et al. 2004 Table 2" + did_you_mean(cell.neuron, neurons) + ": " + join(neurons));
    }
    if (e.contains("params")) {
      const std::string pp = kpath(p, "params");
      const json& ps = c.object(pp, e["params"]);
      for (auto it = ps.begin(); it != ps.end(); ++it) {
        if (std::find(stg_params.begin(), stg_params.end(), it.key()) == stg_params.end())
          c.fail(kpath(pp, it.key()), "got \"" + it.key() + "\": not a parameter of the STG neuron" +
                                          did_you_mean(it.key(), stg_params) + "; valid: " + join(stg_params));
        cell.params.emplace_back(it.key(), c.number(kpath(pp, it.key()), *it));
      }
    }
    d->cells.push_back(std::move(cell));
  }
  const std::vector<std::string> cells = d->cell_names();

  if (v.contains("synapses")) {
    const std::string sp = kpath(P, "synapses");
    const json& sv = c.array(sp, v["synapses"], false);
    if (sv.size() > static_cast<size_t>(M::NSY))
      c.fail(sp, "got " + std::to_string(sv.size()) + " synapses; expected at most " + std::to_string(M::NSY) +
                     " (the stg_circuit model's limit)");
    for (size_t k = 0; k < sv.size(); ++k) {
      const std::string p = ipath(sp, k);
      const json& e = c.object(p, sv[k]);
      c.keys(p, e, {"name", "pre", "post", "type", "strength"});
      CircuitSynapse s;
      auto cell_of = [&](const char* key) {
        const std::string kp = kpath(p, key);
        const json& x = c.require(p, e, key, "the name of a cell of circuit.cells");
        const std::string n = c.str(kp, x);
        const int i = d->cell_index(n);
        if (i < 0) c.bad(kp, x, "a cell of circuit.cells" + did_you_mean(n, cells) + ": " + join(cells));
        return i;
      };
      s.pre = cell_of("pre");
      s.post = cell_of("post");
      if (e.contains("name")) {
        s.name = c.str(kpath(p, "name"), e["name"]);
        if (!valid_circuit_name(s.name))
          c.bad(kpath(p, "name"), e["name"], "a name of letters, digits and '_' starting with a letter (at most 40 characters)");
      } else {
        s.name = cells[static_cast<size_t>(s.pre)] + "_" + cells[static_cast<size_t>(s.post)];
      }
      for (size_t q = 0; q < k; ++q)
        if (d->synapses[q].name == s.name)
          c.fail(e.contains("name") ? kpath(p, "name") : p,
                 "got synapse name \"" + s.name + "\", already used by synapses[" + std::to_string(q) +
                     "]; expected distinct names" + (e.contains("name") ? "" : " (set \"name\": the default is <pre>_<post>)"));
      const std::string ty = c.choice(kpath(p, "type"), c.require(p, e, "type", "\"glutamatergic\" or \"cholinergic\" (P04)"),
                                      {"glutamatergic", "cholinergic"});
      s.type = ty == "cholinergic" ? kCholinergic : kGlutamatergic;
      s.strength_nS = strength_nS(c, kpath(p, "strength"), c.require(p, e, "strength", "e.g. \"30 nS\""));
      d->synapses.push_back(std::move(s));
    }
  }

  if (v.contains("roles")) {
    const std::string rp = kpath(P, "roles");
    const json& rv = c.object(rp, v["roles"]);
    c.keys(rp, rv, {"pacemaker", "LP", "PY"});
    auto role = [&](const char* key) {
      if (!rv.contains(key)) return -1;
      const std::string kp = kpath(rp, key);
      const std::string n = c.str(kp, rv[key]);
      const int i = d->cell_index(n);
      if (i < 0) c.bad(kp, rv[key], "a cell of circuit.cells" + did_you_mean(n, cells) + ": " + join(cells));
      return i;
    };
    d->pacemaker = role("pacemaker");
    d->lp = role("LP");
    d->py = role("PY");
    if (d->pacemaker < 0) c.fail(rp, "missing \"pacemaker\": the cell whose bursts define the cycles");
    if ((d->lp < 0) != (d->py < 0))
      c.fail(rp, std::string("got only \"") + (d->lp < 0 ? "PY" : "LP") +
                     "\"; expected both \"LP\" and \"PY\" (the pyloric classifier) or neither (rhythm only)");
    if (d->lp >= 0 && (d->lp == d->pacemaker || d->py == d->pacemaker || d->lp == d->py))
      c.bad(rp, rv, "three different cells for pacemaker, LP and PY");
  }
  d->build();
  return d;
}

}  // namespace ns::spec_detail
