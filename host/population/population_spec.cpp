// The "populations" object of model "dipde_network" (population_spec.hpp, docs/POPULATIONS.md).
#include "population/population_spec.hpp"

#include <cmath>
#include <limits>
#include <set>

#include "errors.hpp"
#include "spec/circuit.hpp"  // kHiddenPrefix, is_hidden_name
#include "spec/spec_detail.hpp"

namespace ns {
namespace {

using M = DensityNetworkModel;
using spec_detail::Ctx;
using spec_detail::ipath;
using spec_detail::kpath;
using json = nlohmann::json;

constexpr double kNever = 1e300;  // start of an unused rate piece (ms)

// Bins of a grid in double (no overflow for absurd values): numpy arange's length.
double bins_d(double v_min, double v_max, double dv) { return std::ceil((v_max - v_min) / dv); }

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') return false;
  return true;
}

}  // namespace

void PopulationDesc::build() {
  auto keep = [&](const std::string& s) { names_.push_back(s); return names_.back().c_str(); };
  auto hide = [&](const std::string& s) { return keep(std::string(1, kHiddenPrefix) + s); };
  ModelDesc& d = model;
  d = ModelDesc{};
  d.name = M::kName;
  d.description = M::kDescription;
  d.kind = M::kKind;
  d.params.resize(M::kNumParams, ParamInfo{"", "", 0.0, ""});
  const char* src = "DiPDE InternalPopulation / Connection (density.hpp)";
  for (int q = 0; q < M::kMaxInternal; ++q) {
    const bool used = q < static_cast<int>(internal.size());
    const DensityPopulation p = used ? internal[q] : DensityPopulation{"pop" + std::to_string(q)};
    auto name = [&](const char* k) { return used ? keep(p.name + "." + k) : hide(p.name + "." + k); };
    const int b = M::kPInt + q * M::kIntParams;
    d.params[b + M::tau_m] = {name("tau_m"), "ms", p.tau_m, "membrane time constant", gt(0), src};
    d.params[b + M::v_min] = {name("v_min"), "mV", p.v_min, "lowest voltage edge, relative to rest (<= reset 0)", le(0), src};
    d.params[b + M::v_max] = {name("v_max"), "mV", p.v_max, "threshold, relative to rest (> reset 0)", gt(0), src};
    d.params[b + M::dv] = {name("dv"), "mV", p.dv, "bin width", gt(0), src};
  }
  for (int x = 0; x < M::kMaxExternal; ++x) {
    const bool used = x < static_cast<int>(external.size());
    const DensityExternal e = used ? external[x] : DensityExternal{"ext" + std::to_string(x), {{0.0, 0.0}}};
    const int b = M::kPExt + x * M::kExtParams;
    for (int k = 0; k < M::kPieces; ++k) {
      const bool has = k < static_cast<int>(e.pieces.size());
      const bool shown = used && has;
      const std::string rk = k == 0 ? "rate" : "rate" + std::to_string(k);
      const double rate = has ? e.pieces[k].second : 0.0;
      d.params[b + (k == 0 ? 0 : 2 * k)] = {shown ? keep(e.name + "." + rk) : hide(e.name + "." + rk), "Hz", rate,
                                            k == 0 ? "rate (first piece)" : "rate of piece k", ge(0), "a rate"};
      if (k > 0)
        d.params[b + 2 * k - 1] = {shown ? keep(e.name + ".t" + std::to_string(k)) : hide(e.name + ".t" + std::to_string(k)),
                                   "ms", has ? e.pieces[k].first : kNever, "start of piece k (analysis window + transient time)",
                                   any(), ""};
    }
  }
  const int n_src = M::kMaxInternal + M::kMaxExternal - 1;
  for (int c = 0; c < M::kMaxConnections; ++c) {
    const bool used = c < static_cast<int>(connections.size());
    const DensityConnection k = used ? connections[c] : DensityConnection{"conn" + std::to_string(c)};
    auto name = [&](const char* s) { return used ? keep(k.name + "." + s) : hide(k.name + "." + s); };
    const int b = M::kPConn + c * M::kConnParams;
    // sources: internal k -> k, external x -> kMaxInternal + x (the engine's numbering)
    const int nsrc = k.source < static_cast<int>(internal.size()) ? k.source
                                                                   : M::kMaxInternal + (k.source - static_cast<int>(internal.size()));
    d.params[b + M::c_source] = {hide(k.name + ".source"), "1", double(used ? nsrc : 0), "source slot", whole().ge(0).le(n_src), "topology"};
    d.params[b + M::c_target] = {hide(k.name + ".target"), "1", double(used ? k.target : 0), "target slot",
                                 whole().ge(0).le(M::kMaxInternal - 1), "topology"};
    d.params[b + M::c_weight] = {name("weight"), "mV", k.weight, "voltage jump per input spike", any(), ""};
    d.params[b + M::c_nsyns] = {name("nsyns"), "1", k.nsyns, "in-degree (may be fractional, as in DiPDE)", ge(0), src};
    d.params[b + M::c_delay] = {name("delay"), "ms", k.delay, "transmission delay (DiPDE: round(delay/dt) + 1 steps of lag)",
                                ge(0), src};
  }
  const int g = M::kPGlobal;
  d.params[g + M::n_internal] = {hide("n_internal"), "1", double(internal.size()), "internal populations", whole().ge(1).le(M::kMaxInternal), "topology"};
  d.params[g + M::n_external] = {hide("n_external"), "1", double(external.size()), "external populations", whole().ge(0).le(M::kMaxExternal), "topology"};
  d.params[g + M::n_connections] = {hide("n_connections"), "1", double(connections.size()), "connections",
                                    whole().ge(0).le(M::kMaxConnections), "topology"};
  d.params[g + M::tol] = {keep("tol"), "1", tol, "max-norm of the last Taylor term of exp(J dt) p (DiPDE tol)", gt(0), src};
  // state: densities (visible bins of the populations in use), rates, rate history (hidden)
  d.state.resize(M::kNumState, StateInfo{"", "1", 0.0});
  for (int q = 0; q < M::kMaxInternal; ++q) {
    const bool used = q < static_cast<int>(internal.size());
    const std::string pn = used ? internal[q].name : "pop" + std::to_string(q);
    const int nb = used ? static_cast<int>(bins_d(internal[q].v_min, internal[q].v_max, internal[q].dv)) : 0;
    for (int i = 0; i < M::kMaxBins; ++i) {
      const std::string sn = pn + ".p" + std::to_string(i);
      d.state[M::kSP + q * M::kMaxBins + i] = {used && i < nb ? keep(sn) : hide(sn), "1", NAN};
    }
    d.state[M::kSRate + q] = {used ? keep(pn + ".rate") : hide(pn + ".rate"), "Hz", 0.0};
    for (int h = 0; h < M::kHist; ++h)
      d.state[M::kSHist + q * M::kHist + h] = {hide(pn + ".hist" + std::to_string(h)), "Hz", 0.0};
  }
  d.n_obs = 1;
  for (const auto& p : internal) d.rate_series.push_back(p.name);
  // grid size rule (the engine's slots hold kMaxBins bins)
  d.check = [](const ModelDesc& self, const double* p) -> std::string {
    const int ni = static_cast<int>(p[M::kPGlobal + M::n_internal]);
    for (int q = 0; q < ni && q < M::kMaxInternal; ++q) {
      const int b = M::kPInt + q * M::kIntParams;
      const double nb = bins_d(p[b + M::v_min], p[b + M::v_max], p[b + M::dv]);
      if (!(nb <= M::kMaxBins)) {
        const std::string n = shown_name(self.params[b + M::v_min].name);
        const std::string pop = n.substr(0, n.rfind('.'));
        return "(" + pop + ".v_max - " + pop + ".v_min) / " + pop + ".dv <= " + std::to_string(M::kMaxBins) +
               " (the engine's bins per population)";
      }
    }
    return "";
  };
}

json PopulationDesc::to_json() const {
  json j;
  for (const auto& p : internal)
    j["internal"][p.name] = {{"tau_m", p.tau_m}, {"v_min", p.v_min}, {"v_max", p.v_max}, {"dv", p.dv}};
  for (const auto& e : external) {
    json pcs = json::array();
    for (const auto& pc : e.pieces) pcs.push_back({pc.first, pc.second});
    j["external"][e.name] = {{"rate", pcs}};
  }
  j["connections"] = json::array();
  const int ni = static_cast<int>(internal.size());
  for (const auto& c : connections)
    j["connections"].push_back({{"name", c.name},
                                {"source", c.source < ni ? internal[c.source].name : external[c.source - ni].name},
                                {"target", internal[c.target].name},
                                {"weight", c.weight},
                                {"nsyns", c.nsyns},
                                {"delay", c.delay}});
  j["tol"] = tol;
  return j;
}

ModelDesc describe_host_model(const DensityNetworkModel*) {
  static PopulationDesc d = [] {
    PopulationDesc p;
    p.internal.push_back({"pop", 20.0, -10.0, 20.0, 0.1});
    p.external.push_back({"ext", {{0.0, 100.0}}});
    p.connections.push_back({"ext_to_pop", 1, 0, 5.0, 1.0, 0.0});
    return p;
  }();
  static bool built = false;
  if (!built) {
    d.build();
    built = true;
  }
  return d.model;
}

std::shared_ptr<const PopulationDesc> parse_populations(const std::string& source, const json& v, double dt_ms) {
  const Ctx c{source};
  const std::string P = "populations";
  c.object(P, v);
  c.keys(P, v, {"internal", "external", "connections", "tol"});
  auto d = std::make_shared<PopulationDesc>();
  std::set<std::string> names;
  auto claim = [&](const std::string& path, const std::string& n) {
    if (!valid_name(n)) c.fail(path, "got population name \"" + n + "\"; expected letters, digits and '_' (at most 64)");
    if (!names.insert(n).second) c.fail(path, "got population name \"" + n + "\" twice; expected distinct names");
  };
  auto num = [&](const std::string& path, const json& obj, const char* key, double def, bool positive) {
    if (!obj.contains(key)) return def;
    const double x = c.number(kpath(path, key), obj[key]);
    if (positive && !(x > 0)) c.bad(kpath(path, key), obj[key], "a number > 0");
    return x;
  };
  // internal populations
  const json& in = c.object(kpath(P, "internal"), c.require(P, v, "internal", "the internal populations {name: {...}}"));
  if (in.empty() || in.size() > static_cast<size_t>(M::kMaxInternal))
    c.bad(kpath(P, "internal"), in, "1 to " + std::to_string(M::kMaxInternal) + " internal populations");
  for (auto it = in.begin(); it != in.end(); ++it) {
    const std::string path = kpath(kpath(P, "internal"), it.key());
    claim(path, it.key());
    c.object(path, *it);
    c.keys(path, *it, {"tau_m", "v_min", "v_max", "dv"});
    DensityPopulation p;
    p.name = it.key();
    p.tau_m = num(path, *it, "tau_m", p.tau_m, true);
    p.v_min = num(path, *it, "v_min", p.v_min, false);
    p.v_max = num(path, *it, "v_max", p.v_max, true);
    p.dv = num(path, *it, "dv", p.dv, true);
    if (!(p.v_min <= 0)) c.bad(kpath(path, "v_min"), (*it)["v_min"], "a number <= 0 (potentials are relative to rest; reset is 0)");
    const double nb = bins_d(p.v_min, p.v_max, p.dv);
    if (!(nb <= M::kMaxBins))
      c.fail(path, "got (v_max - v_min) / dv = " + spec_detail::fmt_num(nb) + " bins; expected at most " +
                       std::to_string(M::kMaxBins));
    d->internal.push_back(p);
  }
  // external populations
  if (v.contains("external")) {
    const json& ex = c.object(kpath(P, "external"), v["external"]);
    if (ex.size() > static_cast<size_t>(M::kMaxExternal))
      c.bad(kpath(P, "external"), ex, "at most " + std::to_string(M::kMaxExternal) + " external populations");
    for (auto it = ex.begin(); it != ex.end(); ++it) {
      const std::string path = kpath(kpath(P, "external"), it.key());
      claim(path, it.key());
      c.object(path, *it);
      c.keys(path, *it, {"rate"});
      const json& r = c.require(path, *it, "rate", "Hz, or [[t_ms, Hz], ...] pieces");
      DensityExternal e;
      e.name = it.key();
      const std::string rp = kpath(path, "rate");
      if (r.is_number()) {
        e.pieces.push_back({0.0, c.number(rp, r)});
      } else {
        c.array(rp, r);
        if (r.size() > static_cast<size_t>(M::kPieces)) c.bad(rp, r, "at most " + std::to_string(M::kPieces) + " pieces");
        for (size_t k = 0; k < r.size(); ++k) {
          const std::string pp = ipath(rp, k);
          if (!r[k].is_array() || r[k].size() != 2) c.bad(pp, r[k], "a pair [t_ms, rate_Hz]");
          const double t = c.number(ipath(pp, 0), r[k][0]), hz = c.number(ipath(pp, 1), r[k][1]);
          if (k > 0 && !(t > e.pieces.back().first)) c.bad(ipath(pp, 0), r[k][0], "a start after the previous piece's");
          e.pieces.push_back({t, hz});
        }
      }
      for (size_t k = 0; k < e.pieces.size(); ++k)
        if (!(e.pieces[k].second >= 0)) c.bad(rp, r, "rates >= 0 Hz");
      d->external.push_back(e);
    }
  }
  // connections
  std::vector<std::string> pops;
  for (const auto& p : d->internal) pops.push_back(p.name);
  for (const auto& e : d->external) pops.push_back(e.name);
  if (v.contains("connections")) {
    const json& cs = c.array(kpath(P, "connections"), v["connections"], false);
    if (cs.size() > static_cast<size_t>(M::kMaxConnections))
      c.bad(kpath(P, "connections"), cs, "at most " + std::to_string(M::kMaxConnections) + " connections");
    std::set<std::string> cnames;
    for (size_t k = 0; k < cs.size(); ++k) {
      const std::string path = ipath(kpath(P, "connections"), k);
      c.object(path, cs[k]);
      c.keys(path, cs[k], {"name", "source", "target", "weight", "nsyns", "delay"});
      DensityConnection cn;
      auto pop_of = [&](const char* key, bool internal_only) {
        const json& pv = c.require(path, cs[k], key, "a population name");
        const std::string n = c.str(kpath(path, key), pv);
        for (size_t q = 0; q < pops.size(); ++q)
          if (pops[q] == n) {
            if (internal_only && q >= d->internal.size())
              c.bad(kpath(path, key), pv, "an internal population (external populations have given rates)");
            return static_cast<int>(q);
          }
        c.bad(kpath(path, key), pv, "a population of \"internal\" or \"external\"" + spec_detail::did_you_mean(n, pops));
      };
      cn.source = pop_of("source", false);
      cn.target = pop_of("target", true);
      cn.weight = c.number(kpath(path, "weight"), c.require(path, cs[k], "weight", "the voltage jump in mV"));
      cn.nsyns = num(path, cs[k], "nsyns", 1.0, false);
      if (!(cn.nsyns >= 0)) c.bad(kpath(path, "nsyns"), cs[k]["nsyns"], "a number >= 0");
      cn.delay = num(path, cs[k], "delay", 0.0, false);
      if (!(cn.delay >= 0)) c.bad(kpath(path, "delay"), cs[k]["delay"], "a delay >= 0 ms");
      if (std::round(cn.delay / dt_ms) > M::kMaxDelay)
        c.bad(kpath(path, "delay"), cs[k]["delay"], "at most " + std::to_string(M::kMaxDelay) + " time steps (dt)");
      cn.name = cs[k].contains("name") ? c.str(kpath(path, "name"), cs[k]["name"]) : pops[cn.source] + "_to_" + pops[cn.target];
      if (!valid_name(cn.name)) c.bad(kpath(path, "name"), json(cn.name), "letters, digits and '_' (at most 64)");
      if (!cnames.insert(cn.name).second)
        c.fail(path, "got connection name \"" + cn.name + "\" twice; expected distinct names (set \"name\")");
      d->connections.push_back(cn);
    }
  }
  if (v.contains("tol")) d->tol = num(P, v, "tol", d->tol, true);
  d->build();
  return d;
}

}  // namespace ns
