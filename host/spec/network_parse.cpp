// The sweep spec's "network" object (docs/NETWORKS.md): populations of registry point models,
// projections with NEST's connection rules, drives, network parameters and references.
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "spec/spec_detail.hpp"

namespace ns::spec_detail {

namespace {

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char ch : s)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_')) return false;
  return true;
}

struct NetBuilder {
  const Ctx& c;
  NetworkDesc& n;
  std::vector<std::string> net_names;
  std::vector<double> net_values;
  std::set<std::string> used;

  // A value: a number, or a string expression over the network parameters (a reference).
  // Returns its default; records the reference for view parameter k.
  double value(const std::string& path, const json& v, int k) {
    if (v.is_number()) return c.number(path, v);
    if (!v.is_string())
      c.bad(path, v, "a number or a reference expression over the network parameters (e.g. \"-g*J\"), not " + type_of(v));
    NetExpr e;
    try {
      e = parse_net_expr(v.get<std::string>(), net_names);
    } catch (const std::invalid_argument& ex) {
      c.fail(path, std::string("bad reference: ") + ex.what());
    }
    const double x = e.eval(net_values.data());
    if (!std::isfinite(x)) c.bad(path, v, "a reference whose value is finite (got " + fmt_num(x) + ")");
    n.refs.emplace_back(k, std::move(e));
    return x;
  }
  int param(const std::string& path, const std::string& name, const char* unit, const char* doc, Range r) {
    if (!used.insert(name).second) c.fail(path, "parameter name \"" + name + "\" is defined twice");
    return n.add_param(name, unit, 0.0, doc, r);
  }
  // {"distribution": "normal", "mean", "std", "min", "max"} or {"distribution": "uniform", "min",
  // "max"}: NEST's nest.random.normal / uniform with nest.math.redraw bounds (docs/NETWORKS.md,
  // "Distributions"). Each number is a sweepable view parameter "<owner>.<key>".
  template <class SetDefault>
  NetDist dist(const std::string& path, const json& v, const std::string& owner, const char* unit, SetDefault set_default) {
    c.object(path, v);
    NetDist d;
    const std::string kind =
        c.choice(kpath(path, "distribution"), c.require(path, v, "distribution", "\"normal\" or \"uniform\""), {"normal", "uniform"});
    d.kind = kind == "normal" ? NetDist::kNormal : NetDist::kUniform;
    if (d.kind == NetDist::kNormal) {
      c.keys(path, v, {"distribution", "mean", "std", "min", "max"});
    } else {
      c.keys(path, v, {"distribution", "min", "max"});
    }
    auto one = [&](const char* key, int& slot, bool required, const char* doc, Range r) {
      if (!v.contains(key)) {
        if (required) c.require(path, v, key, std::string(doc));
        return;
      }
      slot = param(kpath(path, key), owner + "." + key, unit, doc, r);
      set_default(slot, value(kpath(path, key), v[key], slot));
    };
    if (d.kind == NetDist::kNormal) {
      one("mean", d.mean, true, "mean of the normal distribution", any());
      one("std", d.std, true, "standard deviation of the normal distribution (>= 0)", ge(0));
      one("min", d.min, false, "lower bound: values below are drawn again (nest.math.redraw)", any());
      one("max", d.max, false, "upper bound: values above are drawn again (nest.math.redraw)", any());
    } else {
      one("min", d.min, true, "lower end of the uniform distribution", any());
      one("max", d.max, true, "upper end of the uniform distribution", any());
    }
    return d;
  }
};

// A spike-source population {"name", "spike_times": {"file", "group"}, "size", "sample"}
// (docs/NETWORKS.md "Spike sources"): the file is relative to the spec file.
void parse_spike_source(NetBuilder& B, const std::string& path, const json& pj, NetPopulation& P, double dt_ms,
                        std::vector<double>& defaults) {
  const Ctx& c = B.c;
  c.keys(path, pj, {"name", "spike_times", "size", "sample"});
  const std::string sp = kpath(path, "spike_times");
  const json& st = c.object(sp, pj["spike_times"]);
  c.keys(sp, st, {"file", "group"});
  std::filesystem::path fp = c.str(kpath(sp, "file"), c.require(sp, st, "file", "an HDF5 file, relative to the spec file"));
  if (fp.is_relative() && !c.src.empty() && c.src[0] != '<') fp = std::filesystem::path(c.src).parent_path() / fp;
  const std::string group = st.contains("group") ? c.str(kpath(sp, "group"), st["group"]) : "/";
  try {
    P.source = read_spike_source(fp.string(), group, dt_ms);
  } catch (const std::exception& e) {
    c.fail(sp, e.what());
  }
  // the file's spikes are part of the spec's identity (spec.cpp folds `identity` into the hash)
  B.n.identity += "spike_times " + P.name + ": " + P.source->file + " " + group + " " +
                  std::to_string(P.source->digest) + "\n";
  P.model = "spike_source";
  P.desc = &spike_source_desc();
  P.size_param = B.param(kpath(path, "size"), P.name + ".size", "1", "neurons in the population", whole().ge(1).le(4.0e9));
  const double n = B.value(kpath(path, "size"), c.require(path, pj, "size", "the number of neurons"), P.size_param);
  if (static_cast<size_t>(P.size_param) >= defaults.size()) defaults.resize(static_cast<size_t>(P.size_param) + 1, 0.0);
  defaults[static_cast<size_t>(P.size_param)] = n;
  if (pj.contains("sample"))
    P.sample = static_cast<int>(c.uint(kpath(path, "sample"), pj["sample"], 0, 100000, "neurons whose spikes are kept"));
}

}  // namespace

std::shared_ptr<NetworkDesc> parse_network(const Ctx& c, const json& v, double dt_ms) {
  c.object("network", v);
  c.keys("network", v, {"parameters", "populations", "projections", "drives", "connectivity"});
  auto net = std::make_shared<NetworkDesc>();
  NetBuilder B{c, *net, {}, {}, {}};
  std::vector<double> defaults;  // view defaults, in order of add_param
  auto set_default = [&](int k, double x) {
    if (static_cast<size_t>(k) >= defaults.size()) defaults.resize(static_cast<size_t>(k) + 1, 0.0);
    defaults[static_cast<size_t>(k)] = x;
  };

  // network parameters (numbers only: they are what references refer to)
  if (v.contains("parameters")) {
    const json& pv = c.object("network.parameters", v["parameters"]);
    for (auto it = pv.begin(); it != pv.end(); ++it) {
      const std::string path = kpath("network.parameters", it.key());
      if (!is_identifier(it.key()))
        c.fail(path, "got parameter name \"" + it.key() + "\"; expected an identifier (letters, digits, _)");
      const double x = c.number(path, *it);
      const int k = B.param(path, it.key(), "", "network parameter (docs/NETWORKS.md)", any());
      set_default(k, x);
      B.net_names.push_back(it.key());
      B.net_values.push_back(x);
    }
  }
  net->n_net_params = static_cast<int>(B.net_names.size());

  // populations
  const json& pa = c.array("network.populations", c.require("network", v, "populations", "an array of {\"name\", \"model\", \"size\"}"));
  std::map<std::string, int> pop_index;
  for (size_t a = 0; a < pa.size(); ++a) {
    const std::string path = ipath("network.populations", a);
    const json& pj = c.object(path, pa[a]);
    if (!pj.contains("spike_times")) c.keys(path, pj, {"name", "model", "size", "params", "sample", "initial", "spike_times"});
    NetPopulation P;
    P.name = c.str(kpath(path, "name"), c.require(path, pj, "name"));
    if (!is_identifier(P.name)) c.bad(kpath(path, "name"), pj["name"], "an identifier (letters, digits, _)");
    if (pop_index.count(P.name)) c.bad(kpath(path, "name"), pj["name"], "a population name not used before");
    if (P.name == "drive") c.bad(kpath(path, "name"), pj["name"], "a name other than \"drive\" (reserved for drives)");
    if (pj.contains("spike_times")) {  // a spike source: no model, no params
      if (pj.contains("model") || pj.contains("params"))
        c.fail(path, "a population with \"spike_times\" is a spike source: it has no \"model\" or \"params\"");
      parse_spike_source(B, path, pj, P, dt_ms, defaults);
      pop_index[P.name] = static_cast<int>(net->pops.size());
      net->pops.push_back(std::move(P));
      continue;
    }
    const json& mv = c.require(path, pj, "model", "a point-neuron model, e.g. \"iaf_psc_delta\"");
    P.model = c.str(kpath(path, "model"), mv);
    P.desc = find_model(P.model);
    std::vector<std::string> point_models;
    for (const auto& nm : model_names())
      if (model_is(nm, ModelKind::kPointNeuron)) point_models.push_back(nm);
    if (!P.desc || P.desc->kind != ModelKind::kPointNeuron)
      c.bad(kpath(path, "model"), mv, "a point-neuron model" + did_you_mean(P.model, point_models) + ": " + join(point_models));
    P.size_param = B.param(kpath(path, "size"), P.name + ".size", "1", "neurons in the population", whole().ge(1).le(4.0e9));
    set_default(P.size_param, B.value(kpath(path, "size"), c.require(path, pj, "size", "the number of neurons"), P.size_param));
    if (pj.contains("sample"))
      P.sample = static_cast<int>(c.uint(kpath(path, "sample"), pj["sample"], 0, 100000, "neurons whose spikes are kept"));
    const ModelDesc& m = *P.desc;
    const int first_input = m.param_index("step_amplitude");  // the input block: set by drives
    for (size_t k = 0; k < m.params.size(); ++k) {
      const bool hidden = first_input >= 0 && static_cast<int>(k) >= first_input;
      const std::string nm = (hidden ? std::string(1, kHiddenPrefix) : std::string()) + P.name + "." + m.params[k].name;
      const int vk = B.param(path, nm, m.params[k].unit, m.params[k].doc, m.params[k].range);
      if (k == 0) P.param0 = vk;
      set_default(vk, m.params[k].default_value);
    }
    P.rate_ex_param = P.param0 + m.param_index("rate_ex");
    P.weight_ex_param = P.param0 + m.param_index("weight_ex");
    P.i_e_param = m.param_index("I_e") >= 0 ? P.param0 + m.param_index("I_e") : -1;
    if (pj.contains("params")) {
      const json& pp = c.object(kpath(path, "params"), pj["params"]);
      for (auto it = pp.begin(); it != pp.end(); ++it) {
        const std::string ppath = kpath(kpath(path, "params"), it.key());
        const int k = m.param_index(it.key());
        if (k < 0 || (first_input >= 0 && k >= first_input)) {
          auto names = param_names(m);
          if (first_input >= 0) names.resize(static_cast<size_t>(first_input));
          c.fail(ppath, "got \"" + it.key() + "\": not a parameter of model \"" + P.model + "\"" +
                            (k >= 0 ? " that a population sets (inputs come from \"drives\")" : "") +
                            did_you_mean(it.key(), names) + "; valid parameters: " + join(names));
        }
        set_default(P.param0 + k, B.value(ppath, *it, P.param0 + k));
      }
    }
    if (pj.contains("initial")) {  // per-neuron start values of state variables
      const std::string ipath0 = kpath(path, "initial");
      const json& iv = c.object(ipath0, pj["initial"]);
      std::vector<std::string> states;
      for (const auto& st : m.state) states.push_back(st.name);
      for (auto it = iv.begin(); it != iv.end(); ++it) {
        const std::string ip = kpath(ipath0, it.key());
        int k = -1;
        for (size_t q = 0; q < m.state.size(); ++q)
          if (it.key() == m.state[q].name) k = static_cast<int>(q);
        if (k < 0)
          c.fail(ip, "got \"" + it.key() + "\": not a state variable of model \"" + P.model + "\"" +
                         did_you_mean(it.key(), states) + "; state variables: " + join(states));
        P.initial.emplace_back(k, B.dist(ip, *it, P.name + ".initial." + it.key(), m.state[static_cast<size_t>(k)].unit, set_default));
      }
    }
    pop_index[P.name] = static_cast<int>(net->pops.size());
    net->pops.push_back(std::move(P));
  }
  std::vector<std::string> pop_names;
  for (const auto& P : net->pops) pop_names.push_back(P.name);
  auto pop_of = [&](const std::string& path, const json& x) {
    const std::string s = c.str(path, x);
    auto it = pop_index.find(s);
    if (it == pop_index.end()) c.bad(path, x, "a population of network.populations" + did_you_mean(s, pop_names) + ": " + join(pop_names));
    return it->second;
  };

  // projections
  if (v.contains("projections")) {
    const json& pa2 = c.array("network.projections", v["projections"], false);
    std::vector<std::string> rules(std::begin(kConnRuleNames), std::end(kConnRuleNames));
    for (size_t a = 0; a < pa2.size(); ++a) {
      const std::string path = ipath("network.projections", a);
      const json& pj = c.object(path, pa2[a]);
      NetProjection pr;
      pr.src = pop_of(kpath(path, "source"), c.require(path, pj, "source", "a population name"));
      pr.tgt = pop_of(kpath(path, "target"), c.require(path, pj, "target", "a population name"));
      if (net->pops[static_cast<size_t>(pr.tgt)].source)
        c.bad(kpath(path, "target"), pj["target"], "a population with a model (a spike source receives no connections)");
      pr.rule = enum_of<ConnRule>(c.choice(kpath(path, "rule"), c.require(path, pj, "rule", "one of " + join(rules)), rules),
                                  kConnRuleNames);
      const std::string rp = rule_param_name(pr.rule);
      const bool expl = pr.rule == ConnRule::kExplicit;
      std::vector<std::string> keys = {"name", "source", "target", "rule", "weight", "delay"};
      if (expl) {
        for (const char* k : {"file", "group", "weight_scale"}) keys.push_back(k);
      } else {
        keys.push_back("autapses");
        keys.push_back("multapses");
      }
      if (!rp.empty()) keys.push_back(rp);
      c.keys(path, pj, keys);
      pr.name = pj.contains("name") ? c.str(kpath(path, "name"), pj["name"])
                                    : net->pops[static_cast<size_t>(pr.src)].name + "->" + net->pops[static_cast<size_t>(pr.tgt)].name;
      for (const auto& q : net->projs)
        if (q.name == pr.name)
          c.fail(path, "projection name \"" + pr.name + "\" is used twice; give one of them a distinct \"name\"");
      if (pj.contains("autapses")) pr.autapses = c.boolean(kpath(path, "autapses"), pj["autapses"]);
      if (pj.contains("multapses")) pr.multapses = c.boolean(kpath(path, "multapses"), pj["multapses"]);
      if (pr.rule == ConnRule::kFixedTotalNumber && !pr.multapses)
        c.bad(kpath(path, "multapses"), pj["multapses"],
              "true: fixed_total_number draws with multapses (NEST refuses multapses = false for this rule too)");
      const char* wdoc = "synaptic weight (the target model's unit: mV for delta synapses, pA for current, "
                         "nS for conductance synapses); negative: inhibitory";
      bool need_w = true, need_d = true;
      if (expl) {
        // rule "explicit": the edges of an HDF5 group (docs/NETWORKS.md, "Explicit edge lists")
        const std::string file = c.str(kpath(path, "file"), c.require(path, pj, "file", "an HDF5 file of edges, relative to the spec file"));
        const std::string group = pj.contains("group") ? c.str(kpath(path, "group"), pj["group"]) : std::string("/");
        std::filesystem::path fp = file;
        if (fp.is_relative() && !c.src.empty() && c.src[0] != '<') fp = std::filesystem::path(c.src).parent_path() / fp;
        try {
          pr.edges = read_explicit_edges(file, fp.string(), group, dt_ms);
        } catch (const std::exception& e) {
          c.fail(kpath(path, "file"), e.what());
        }
        need_w = pr.edges->weight.empty();
        need_d = pr.edges->delay_ms.empty();
        if (!need_w && pj.contains("weight"))
          c.bad(kpath(path, "weight"), pj["weight"], "no \"weight\": " + pr.edges->where() +
                                                          " has a dataset weight (per-edge weights; scale them with \"weight_scale\")");
        if (!need_d && pj.contains("delay"))
          c.bad(kpath(path, "delay"), pj["delay"], "no \"delay\": " + pr.edges->where() + " has a dataset delay (per-edge delays)");
        pr.weight_scale_param = B.param(kpath(path, "weight_scale"), pr.name + ".weight_scale", "1",
                                        "factor on every weight of the projection", any());
        set_default(pr.weight_scale_param,
                    pj.contains("weight_scale") ? B.value(kpath(path, "weight_scale"), pj["weight_scale"], pr.weight_scale_param) : 1.0);
        char hx[17];
        std::snprintf(hx, sizeof hx, "%016llx", static_cast<unsigned long long>(pr.edges->hash));
        net->identity += "explicit " + pr.name + ": " + file + " " + group + " " + hx + "\n";
      }
      if (need_w) {
        const std::string hint = expl ? "the file has no dataset weight: a number or a reference for every edge"
                                      : "a number, a reference or a distribution object";
        const json& wv = c.require(path, pj, "weight", hint);
        if (wv.is_object() && !expl) {
          pr.weight_dist = B.dist(kpath(path, "weight"), wv, pr.name + ".weight", "model", set_default);
        } else {
          pr.weight_param = B.param(path, pr.name + ".weight", "model", wdoc, any());
          set_default(pr.weight_param, B.value(kpath(path, "weight"), wv, pr.weight_param));
        }
      }
      if (need_d) {
        const json& dv = c.require(path, pj, "delay", expl ? "the file has no dataset delay: in ms, >= dt" : "in ms, >= dt, or a distribution object");
        if (dv.is_object() && !expl) {
          pr.delay_dist = B.dist(kpath(path, "delay"), dv, pr.name + ".delay", "ms", set_default);
        } else {
          pr.delay_param = B.param(path, pr.name + ".delay", "ms", "synaptic delay (rounded to the time grid, >= dt)", ge(dt_ms));
          set_default(pr.delay_param, B.value(kpath(path, "delay"), dv, pr.delay_param));
        }
      }
      if (!rp.empty()) {
        const Range r = pr.rule == ConnRule::kPairwiseBernoulli ? ge(0).le(1) : whole().ge(0).le(4.0e9);
        const char* doc = pr.rule == ConnRule::kPairwiseBernoulli ? "connection probability of each pair"
                          : pr.rule == ConnRule::kFixedTotalNumber ? "number of connections"
                                                                   : "connections per neuron";
        pr.rule_param = B.param(path, pr.name + "." + rp, "1", doc, r);
        set_default(pr.rule_param, B.value(kpath(path, rp), c.require(path, pj, rp, std::string("the parameter of rule ") + kConnRuleNames[static_cast<int>(pr.rule)]), pr.rule_param));
      }
      net->projs.push_back(std::move(pr));
    }
  }

  // drives
  if (v.contains("drives")) {
    const json& da = c.array("network.drives", v["drives"], false);
    for (size_t a = 0; a < da.size(); ++a) {
      const std::string path = ipath("network.drives", a);
      const json& dj = c.object(path, da[a]);
      NetDrive dr;
      dr.target = pop_of(kpath(path, "target"), c.require(path, dj, "target", "a population name"));
      const std::string type = c.choice(kpath(path, "type"), c.require(path, dj, "type", "\"poisson\" or \"dc\""), {"poisson", "dc"});
      dr.kind = type == "poisson" ? NetDrive::kPoisson : NetDrive::kDc;
      c.keys(path, dj, dr.kind == NetDrive::kPoisson ? std::vector<std::string>{"target", "type", "rate", "weight"}
                                                     : std::vector<std::string>{"target", "type", "amplitude"});
      const NetPopulation& P = net->pops[static_cast<size_t>(dr.target)];
      if (P.source) c.bad(kpath(path, "target"), dj["target"], "a population with a model (" + P.name + " is a spike source)");
      dr.name = "drive." + P.name;
      for (const auto& q : net->drives)
        if (q.target == dr.target && q.kind == dr.kind)
          c.fail(path, "population " + P.name + " has two " + type + " drives; expected at most one of each type");
      if (dr.kind == NetDrive::kPoisson) {
        dr.rate_param = B.param(path, dr.name + ".rate", "Hz", "rate of the Poisson drive (each neuron its own train)", ge(0));
        set_default(dr.rate_param, B.value(kpath(path, "rate"), c.require(path, dj, "rate", "in Hz"), dr.rate_param));
        dr.weight_param = B.param(path, dr.name + ".weight", "model", "weight of each drive spike (the model's unit)", any());
        set_default(dr.weight_param, B.value(kpath(path, "weight"), c.require(path, dj, "weight", "the model's weight unit"), dr.weight_param));
      } else {
        if (P.i_e_param < 0) c.fail(path, "model " + P.model + " has no I_e for a dc drive");
        dr.amplitude_param = B.param(path, dr.name + ".amplitude", "pA", "constant current added to I_e", any());
        set_default(dr.amplitude_param, B.value(kpath(path, "amplitude"), c.require(path, dj, "amplitude", "in pA"), dr.amplitude_param));
      }
      net->drives.push_back(std::move(dr));
    }
  }
  if (v.contains("connectivity"))
    net->shared_connectivity = c.choice("network.connectivity", v["connectivity"], {"shared", "per_instance"}) == "shared";

  net->build(dt_ms);
  for (size_t k = 0; k < defaults.size() && k < net->model.params.size(); ++k)
    net->model.params[k].default_value = defaults[k];
  // Every default (references evaluated) against the ranges and rules, naming the key.
  std::vector<double> q(net->model.params.size());
  const std::vector<double> d = net->model.defaults();
  net->realise(d.data(), q.data());
  for (size_t k = 0; k < q.size(); ++k) {
    if (is_hidden_name(net->model.params[k].name)) continue;
    if (std::string r = range_violation(net->model.params[k], q[k]); !r.empty())
      c.fail("network", "got " + std::string(net->model.params[k].name) + " = " + fmt_num(q[k]) + "; expected " + r);
  }
  if (std::string r = net->check_realised(q.data(), dt_ms); !r.empty()) c.fail("network", r);
  net->normalised = v;
  return net;
}

}  // namespace ns::spec_detail
