// Sweep axes in a spec: grid, list, random, Sobol, linked and categorical (docs/SWEEP_SPEC.md).
#include "spec/spec_detail.hpp"

namespace ns::spec_detail {

std::string axis_default_name(const AxisInfo& ax) {
  if (ax.start) return "start";
  if (ax.kind == AxisKind::kCategorical) return "preset";
  return join(ax.params, "+");
}

void parse_range_params(const Ctx& c, Parsed& P, const std::string& path, const json& a,
                        AxisInfo& ax, const std::string& owner) {
  const std::string pp = kpath(path, "params");
  const json& ps = c.object(pp, c.require(path, a, "params"));
  if (ps.empty()) c.bad(pp, ps, "at least one parameter: {\"gNa\": {\"low\": 0, \"high\": 500}}");
  for (auto it = ps.begin(); it != ps.end(); ++it) {
    const std::string p = kpath(pp, it.key());
    const int k = param_of(c, *P.m, p, it.key());
    P.owners.claim(c, p, k, it.key(), owner);
    c.object(p, *it);
    c.keys(p, *it, {"low", "high", "scale"});
    const double lo = c.number(kpath(p, "low"), c.require(p, *it, "low"));
    const double hi = c.number(kpath(p, "high"), c.require(p, *it, "high"));
    bool lg = false;
    if (it->contains("scale")) lg = c.choice(kpath(p, "scale"), (*it)["scale"], {"linear", "log"}) == "log";
    if (!(lo < hi))
      c.fail(p, "got low = " + fmt_num(lo) + ", high = " + fmt_num(hi) + "; expected low < high");
    if (lg && !(lo > 0))
      c.bad(kpath(p, "low"), (*it)["low"], "low > 0 for \"scale\": \"log\" (log-uniform needs positive bounds)");
    ax.params.push_back(it.key());
    ax.param_index.push_back(k);
    ax.low.push_back(lo);
    ax.high.push_back(hi);
    ax.log_scale.push_back(lg);
  }
}

AxisInfo parse_axis(const Ctx& c, Parsed& P, const std::string& path, const json& a, size_t index) {
  const ModelDesc& m = *P.m;
  c.object(path, a);
  const std::vector<std::string> kinds(std::begin(kAxisKindNames), std::end(kAxisKindNames));
  const std::string kind_path = kpath(path, "kind");
  const json& kv = c.require(path, a, "kind", "one of " + join(kinds) + "; the kind is never inferred");
  AxisInfo ax;
  ax.kind = enum_of<AxisKind>(c.choice(kind_path, kv, kinds), kAxisKindNames);
  const std::string owner = "axes[" + std::to_string(index) + "]";

  if (ax.kind == AxisKind::kGrid || ax.kind == AxisKind::kList) {
    if (ax.kind == AxisKind::kGrid)
      c.keys(path, a, {"kind", "name", "param", "values", "linspace", "logspace"});
    else
      c.keys(path, a, {"kind", "name", "param", "values"});
    const std::string pp = kpath(path, "param");
    const json& pv = c.require(path, a, "param", "the name of the swept parameter; use kind \"linked\" for several");
    const std::string pname = c.str(pp, pv);
    const int k = param_of(c, m, pp, pname);
    P.owners.claim(c, pp, k, pname, owner);
    ax.params = {pname};
    ax.param_index = {k};
    const int given = int(a.contains("values")) + int(a.contains("linspace")) + int(a.contains("logspace"));
    if (given != 1)
      c.fail(path, ax.kind == AxisKind::kGrid
                       ? "got " + std::to_string(given) + " of values/linspace/logspace; expected exactly one"
                       : std::string("missing required key \"values\""));
    if (a.contains("values")) {
      const std::string vp = kpath(path, "values");
      ax.values = numbers(c, vp, a["values"]);
      if (ax.kind == AxisKind::kGrid && ax.values.size() > 1) {
        const bool up = ax.values[1] > ax.values[0];
        for (size_t j = 1; j < ax.values.size(); ++j) {
          const bool ok = up ? ax.values[j] > ax.values[j - 1] : ax.values[j] < ax.values[j - 1];
          if (!ok)
            c.fail(ipath(vp, j), "got " + fmt_num(ax.values[j]) + " after " + fmt_num(ax.values[j - 1]) +
                                     "; expected strictly " + (up ? "increasing" : "decreasing") +
                                     " grid values (use kind \"list\" for repeated or unordered values)");
        }
      }
    } else if (a.contains("linspace")) {
      ax.values = spaced(c, kpath(path, "linspace"), a["linspace"], false);
    } else {
      ax.values = spaced(c, kpath(path, "logspace"), a["logspace"], true);
    }
    ax.size = ax.values.size();
  } else if (ax.kind == AxisKind::kLinked) {
    c.keys(path, a, {"kind", "name", "params"});
    const std::string pp = kpath(path, "params");
    const json& ps = c.object(pp, c.require(path, a, "params"));
    if (ps.size() < 1) c.bad(pp, ps, "at least one parameter with its list of values");
    std::string first;
    for (auto it = ps.begin(); it != ps.end(); ++it) {
      const std::string p = kpath(pp, it.key());
      const int k = param_of(c, m, p, it.key());
      P.owners.claim(c, p, k, it.key(), owner);
      std::vector<double> vals = numbers(c, p, *it);
      if (first.empty()) {
        first = p;
        ax.size = vals.size();
      } else if (vals.size() != ax.size) {
        c.fail(p, "got " + std::to_string(vals.size()) + " values; expected " +
                      std::to_string(ax.size) + " like " + first +
                      " (all lists of a linked axis have equal length)");
      }
      ax.params.push_back(it.key());
      ax.param_index.push_back(k);
      ax.values.insert(ax.values.end(), vals.begin(), vals.end());
    }
  } else if (is_sampled(ax.kind)) {
    const bool sob = ax.kind == AxisKind::kSobol;
    if (sob)
      c.keys(path, a, {"kind", "name", "params", "count", "scramble"});
    else
      c.keys(path, a, {"kind", "name", "params", "count"});
    parse_range_params(c, P, path, a, ax, owner);
    const uint64_t maxc = sob ? sobol::kMaxPoints : kMaxInstances;
    ax.size = c.uint(kpath(path, "count"), c.require(path, a, "count"), 1, maxc, "count");
    if (sob) {
      if (ax.params.size() > static_cast<size_t>(sobol::kMaxDims))
        c.fail(kpath(path, "params"), "got " + std::to_string(ax.params.size()) +
                                          " parameters; expected at most " +
                                          std::to_string(sobol::kMaxDims) + " in one sobol axis");
      ax.scramble = a.contains("scramble")
                        ? enum_of<sobol::Scramble>(
                              c.choice(kpath(path, "scramble"), a["scramble"], {"owen", "shift", "none"}),
                              kScrambleNames)
                        : sobol::Scramble::Owen;
    }
  } else if (a.contains("starts")) {  // categorical over start states (spec/starts.cpp)
    if (a.contains("presets"))
      c.fail(path, "got both \"presets\" and \"starts\"; expected one (a start axis has no parameters: cross it "
                   "with a preset axis)");
    parse_start_axis(c, P, path, a, ax, index);
  } else {  // categorical
    c.keys(path, a, {"kind", "name", "presets", "starts"});
    const std::string pp = kpath(path, "presets");
    const json& pv = c.require(path, a, "presets", "\"all\" or a list of preset names");
    std::vector<std::string> valid;
    for (const auto& pr : m.presets) valid.emplace_back(pr.name);
    // Circuit objects: an axis named after a cell takes bare P04 neuron names ("LP1") for that
    // cell; the presets are "<cell>:<neuron>".
    std::string cell_prefix;
    if (P.circuit && a.contains("name") && a["name"].is_string() &&
        P.circuit->cell_index(a["name"].get<std::string>()) >= 0) {
      cell_prefix = a["name"].get<std::string>() + ":";
      std::vector<std::string> bare;
      for (const auto& pr : p04::kNeurons) bare.emplace_back(pr.name);
      valid.insert(valid.begin(), bare.begin(), bare.end());
    }
    // Each entry: label and (param index -> value).
    std::vector<std::pair<std::string, std::map<int, double>>> sets;
    auto add_model_preset = [&](const std::string& p, const json& v, const std::string& label) {
      const std::string key = !cell_prefix.empty() && label.find(':') == std::string::npos ? cell_prefix + label : label;
      const Preset* found = nullptr;
      for (const auto& pr0 : m.presets)
        if (key == pr0.name) found = &pr0;
      if (!found)
        c.bad(p, v, "a preset of model \"" + m.name + "\"" + did_you_mean(label, valid) +
                        (valid.empty() ? " (this model has none; give {\"name\": ..., \"params\": {...}})"
                                       : ": " + join(valid)));
      const Preset& pr = *found;
      std::map<int, double> vals;
      for (int q = 0; q < pr.n_values; ++q) {
        const int k = m.param_index(pr.values[q].param);
        if (k < 0) c.fail(p, std::string("internal: preset parameter ") + pr.values[q].param + " unknown");
        vals[k] = pr.values[q].value;
      }
      sets.emplace_back(label, std::move(vals));
    };
    if (pv.is_string()) {
      if (pv.get<std::string>() != "all")
        c.bad(pp, pv, "\"all\" or a list of presets (names or {\"name\": ..., \"params\": {...}})");
      if (valid.empty()) c.bad(pp, pv, "a list of {\"name\": ..., \"params\": {...}}: model \"" + m.name + "\" has no presets");
      if (!cell_prefix.empty()) {  // a cell's axis: every P04 neuron in that cell
        for (const auto& pr : p04::kNeurons) add_model_preset(pp, pv, pr.name);
      } else {
        for (const auto& nm : valid) add_model_preset(pp, pv, nm);
      }
    } else {
      c.array(pp, pv);
      for (size_t q = 0; q < pv.size(); ++q) {
        const std::string p = ipath(pp, q);
        const json& e = pv[q];
        if (e.is_string()) {
          add_model_preset(p, e, e.get<std::string>());
        } else if (e.is_object()) {
          c.keys(p, e, {"name", "params"});
          const std::string label = c.str(kpath(p, "name"), c.require(p, e, "name"));
          if (label.empty()) c.bad(kpath(p, "name"), e["name"], "a non-empty name");
          const std::string ppp = kpath(p, "params");
          const json& ps = c.object(ppp, c.require(p, e, "params"));
          if (ps.empty()) c.bad(ppp, ps, "at least one parameter value");
          std::map<int, double> vals;
          for (auto it = ps.begin(); it != ps.end(); ++it)
            vals[param_of(c, m, kpath(ppp, it.key()), it.key())] = c.number(kpath(ppp, it.key()), *it);
          sets.emplace_back(label, std::move(vals));
        } else {
          c.bad(p, e, "a preset name or {\"name\": ..., \"params\": {...}}");
        }
        for (size_t r = 0; r + 1 < sets.size(); ++r)
          if (sets[r].first == sets.back().first)
            c.bad(p, e, "distinct preset names (\"" + sets.back().first + "\" appears twice)");
      }
    }
    std::set<int> touched;
    for (const auto& s : sets)
      for (const auto& kv2 : s.second) touched.insert(kv2.first);
    std::vector<std::pair<std::string, int>> by_name;
    for (int k : touched) by_name.emplace_back(m.params[static_cast<size_t>(k)].name, k);
    std::sort(by_name.begin(), by_name.end());
    for (const auto& nk : by_name) {
      P.owners.claim(c, pp, nk.second, nk.first, owner);
      ax.params.push_back(nk.first);
      ax.param_index.push_back(nk.second);
    }
    ax.size = sets.size();
    ax.values.assign(ax.params.size() * ax.size, 0.0);
    for (size_t p = 0; p < ax.params.size(); ++p)
      for (size_t j = 0; j < ax.size; ++j) {
        auto f = sets[j].second.find(ax.param_index[p]);
        ax.values[p * ax.size + j] =
            f != sets[j].second.end() ? f->second : P.base[static_cast<size_t>(ax.param_index[p])];
      }
    for (const auto& s : sets) ax.labels.push_back(s.first);
  }

  if (a.contains("name")) {
    const std::string np = kpath(path, "name");
    ax.name = c.str(np, a["name"]);
    if (ax.name.empty() || ax.name.find('/') != std::string::npos)
      c.bad(np, a["name"], "a non-empty axis name without '/'");
  } else {
    ax.name = axis_default_name(ax);
  }
  return ax;
}

}  // namespace ns::spec_detail
