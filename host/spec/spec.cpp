// Sweep spec parsing, validation and lazy expansion. Contract: docs/SWEEP_SPEC.md.
#include "spec/spec.hpp"
#include "spec/nest_params.hpp"
#include "spec/json_input.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "neurosweep/backend.hpp"
#include "models/plugin.hpp"
#include "spec/sobol.hpp"
#include "spec/validate.hpp"
#include "spec/spec_detail.hpp"
#include "population/population_spec.hpp"

namespace ns {
using namespace spec_detail;

namespace {
// The instances an output option chooses (output.traces, output.sonata_spikes): explicit
// "instances" and/or "per_label" (a count per label) and/or "where" (a `query --where` expression,
// capped by "max", default kDefaultPredicateTraces). The predicates' columns and labels are checked
// against the database schema when the build starts (run.cpp), before any integration.
void parse_instance_choice(const spec_detail::Ctx& c, const std::string& key, const nlohmann::json& t, uint64_t sweep_size,
                           const char* what, std::vector<uint64_t>& instances, uint64_t& per_label,
                           std::string& where, uint64_t& max) {
  using namespace spec_detail;
  if (!t.contains("instances") && !t.contains("per_label") && !t.contains("where"))
    c.fail(key, "give \"instances\" (indices), \"per_label\" (a count per label) or "
                "\"where\" (a query expression), or several of them");
  std::set<uint64_t> seen;
  if (t.contains("instances")) {
    const json& in = c.array(key + ".instances", t["instances"]);
    for (size_t q = 0; q < in.size(); ++q) {
      const std::string p = ipath(key + ".instances", q);
      const uint64_t i = c.uint(p, in[q], 0, std::numeric_limits<uint64_t>::max(), "an instance index");
      if (i >= sweep_size) c.bad(p, in[q], "an instance index < " + std::to_string(sweep_size) + " (the sweep size)");
      if (!seen.insert(i).second) c.bad(p, in[q], "distinct instance indices");
    }
  }
  if (t.contains("per_label"))
    per_label = c.uint(key + ".per_label", t["per_label"], 1, kMaxPredicateTraces,
                       std::string("instances ") + what + " per label");
  if (t.contains("where")) {
    where = c.str(key + ".where", t["where"]);
    if (where.find_first_not_of(" \t\n") == std::string::npos)
      c.bad(key + ".where", t["where"], "a non-empty query expression such as \"label == bursting and gNa > 100\"");
  }
  if (t.contains("max")) {
    if (!t.contains("where") || t.contains("per_label"))
      c.fail(key + ".max", "\"max\" caps the instances chosen by \"where\" alone (with \"per_label\" the cap is per label)");
    max = c.uint(key + ".max", t["max"], 1, kMaxPredicateTraces, std::string("instances ") + what);
  } else if (!where.empty() && per_label == 0) {
    max = kDefaultPredicateTraces;
  }
  instances.assign(seen.begin(), seen.end());
}
}  // namespace

// ---- spec ---------------------------------------------------------------------------------------

double parse_duration_ms(const json& v, const std::string& source, const std::string& path) {
  return duration(Ctx{source}, path, v);
}

RunSpec parse_spec(const json& j, const std::string& source) {
  const Ctx c{source};
  RunSpec r;
  r.source = source;
  if (!j.is_object()) c.bad("", j, "a JSON object {...} at the top level, not " + type_of(j));
  check_finite(c, "", j);
  c.keys("", j, {"name", "description", "model", "dt", "transient", "analysis", "seed", "precision",
                 "gating", "integration", "constants", "probe", "parameter_file", "fixed", "initial", "axes", "combine", "classifier", "output",
                 "circuit", "network", "populations", "nestml"});
  r.raw = j;
  r.canonical = j.dump();
  r.hash = fnv1a64(r.canonical.data(), r.canonical.size());

  // model
  const json& mv = c.require("", j, "model", "one of: " + join(model_names()));
  std::string mname = c.str("model", mv);
  std::string nestml_key;  // the plugin's cache key (models/plugin.hpp)
  std::shared_ptr<NetworkDesc> network;
  if (mname == "network" || j.contains("network")) {  // a spiking network (spec/network_parse.cpp)
    if (mname != "network")
      c.bad("network", j["network"], "no \"network\" object with \"model\": \"" + mname +
                                         "\" (a network object needs \"model\": \"network\")");
    if (!j.contains("network"))
      c.fail("network", "missing required key \"network\" (\"model\": \"network\" runs the network it describes: "
                        "docs/NETWORKS.md)");
    for (const char* key : {"initial", "probe", "parameter_file", "gating"})
      if (j.contains(key)) c.bad(key, j[key], std::string("no \"") + key + "\" for a network (not supported for networks yet)");
    const double dt = duration(c, "dt", c.require("", j, "dt", "the time step, e.g. \"0.1 ms\""));
    if (!(dt > 0)) c.bad("dt", j["dt"], "a positive time step");
    network = parse_network(c, j["network"], dt);
    r.network = network;
    r.model = &network->model;
    for (const auto& pop : network->pops) r.rate_series.push_back(pop.name);
  } else if (is_nestml_path(mname)) {
    // A NESTML model (docs/NESTML.md): path relative to the spec file; generated, compiled (unless
    // cached) and registered as a plugin (models/plugin.hpp).
    PluginOptions po;
    if (j.contains("nestml")) {
      c.keys("nestml", j["nestml"], {"numeric_solver"});
      if (j["nestml"].contains("numeric_solver"))
        po.numeric_solver = c.choice("nestml.numeric_solver", j["nestml"]["numeric_solver"], {"rk45", "forward-Euler"});
    }
    std::filesystem::path fp = mname;
    if (fp.is_relative() && !source.empty() && source[0] != '<') fp = std::filesystem::path(source).parent_path() / fp;
    PluginBuild pb;
    try {
      r.model = load_nestml_model(fp.string(), po, &pb);
    } catch (const PluginError& e) {
      c.fail("model", e.what());
    }
    mname = r.model->name;
    nestml_key = pb.key;
  } else if (j.contains("nestml")) {
    c.fail("nestml", "options of a NESTML model; \"model\" is not a .nestml file");
  } else {
    r.model = find_model(mname);
  }
  if (!r.model) c.bad("model", mv, "a registered model" + did_you_mean(mname, model_names()) + ": " + join(model_names()));
  if (j.contains("circuit")) {
    if (mname != StgCircuitModel::kName)
      c.bad("circuit", j["circuit"], std::string("no \"circuit\" object with \"model\": \"") + mname +
                                         "\" (a circuit object describes an \"" + StgCircuitModel::kName +
                                         "\" network; set \"model\": \"" + StgCircuitModel::kName + "\")");
    r.circuit = parse_circuit(c, j["circuit"]);
    r.model = &r.circuit->model;
  }
  // time first: the populations object checks its delays against dt
  r.dt_ms = duration(c, "dt", c.require("", j, "dt", "the time step, e.g. \"0.05 ms\""));
  if (!(r.dt_ms > 0)) c.bad("dt", j["dt"], "a positive time step");
  if (j.contains("populations")) {
    if (mname != DensityNetworkModel::kName)
      c.bad("populations", j["populations"], std::string("no \"populations\" object with \"model\": \"") + mname +
                                                 "\" (it describes a \"" + DensityNetworkModel::kName + "\" network)");
    r.populations = parse_populations(source, j["populations"], r.dt_ms);
    r.model = &r.populations->model;
  }
  const ModelDesc& m = *r.model;
  if (!r.network) r.rate_series = m.rate_series;  // population kinds: one /rates series per population

  // time (dt is read above)
  r.transient_ms = duration(c, "transient", c.require("", j, "transient", "the discarded warm-up, e.g. \"10 s\"; \"0 ms\" for none"));
  if (r.transient_ms < 0) c.bad("transient", j["transient"], "a duration >= 0");
  r.analysis_ms = duration(c, "analysis", c.require("", j, "analysis", "the analysed window, e.g. \"10 s\""));
  if (!(r.analysis_ms >= kMinAnalysisMs))
    c.bad("analysis", j["analysis"], "an analysis window of at least " + fmt_num(kMinAnalysisMs) + " ms");
  // Spike detectors need fine sampling; population models are classified from binned rates (the
  // rate classifier checks its bins) and DiPDE's own steps are ~1 ms.
  if (m.kind != ModelKind::kPopulation)
    if (const std::string v = dt_violation(r.dt_ms, r.analysis_ms); !v.empty()) c.bad("dt", j["dt"], v);
  r.n_transient = steps_of(c, "transient", j["transient"], r.transient_ms, r.dt_ms);
  r.n_analysis = steps_of(c, "analysis", j["analysis"], r.analysis_ms, r.dt_ms);

  if (j.contains("seed"))
    r.seed = c.uint("seed", j["seed"], 0, std::numeric_limits<uint64_t>::max(), "the seed");
  if (j.contains("precision")) r.precision = parse_precision(c.choice("precision", j["precision"], {"float", "double"}));
  if (j.contains("gating")) r.gating = parse_gating(c.choice("gating", j["gating"], {"direct", "table"}));
  for (const char* key : {"integration", "constants"}) {  // numerics of the STG models
    if (!j.contains(key)) continue;
    if (!has_numerics_options(mname))
      c.bad(key, j[key], std::string("no \"") + key + "\" for model \"" + mname +
                             "\" (only the conductance-based STG models stg, pyloric and stg_circuit have it)");
    if (std::string(key) == "integration") r.integration = parse_integration(c.choice(key, j[key], {"exp_euler", "prinz"}));
    else r.constants = parse_constants(c.choice(key, j[key], {"codata2018", "prinz_lab"}));
  }
  if (j.contains("probe")) r.probe = j["probe"];  // validated by Probe::make (run/probe.cpp)
  if (j.contains("name")) r.name = c.str("name", j["name"]);
  else if (!source.empty() && source[0] != '<') r.name = std::filesystem::path(source).stem().string();
  if (j.contains("description")) r.description = c.str("description", j["description"]);

  // fixed parameters: model defaults, then a NEST/BMTK dynamics_params file, then `fixed`
  Parsed P{r.model, m.defaults(), {}, r.circuit.get(), r.dt_ms, {}, -1};
  if (j.contains("parameter_file")) {
    std::filesystem::path fp = c.str("parameter_file", j["parameter_file"]);
    if (fp.is_relative() && !source.empty() && source[0] != '<')
      fp = std::filesystem::path(source).parent_path() / fp;
    try {
      P.base = load_dynamics_params(m, fp.string());  // SpecError names the file, key and value
    } catch (const SpecError& e) {
      c.fail("parameter_file", e.what());  // and the spec file and key that named it
    }
    // The file's values are part of what the database means: fold them into the hash, so a
    // resume after the file changed is refused.
    std::string vals;
    for (double v : P.base) vals += fmt_num(v) + ",";
    r.canonical += "\nparameter_file:" + vals;
    r.hash = fnv1a64(r.canonical.data(), r.canonical.size());
  }
  if (j.contains("fixed")) {
    const json& f = c.object("fixed", j["fixed"]);
    for (auto it = f.begin(); it != f.end(); ++it) {
      const std::string p = kpath("fixed", it.key());
      const int k = param_of(c, m, p, it.key());
      P.base[static_cast<size_t>(k)] = c.number(p, *it);
      if (const std::string v = range_violation(m.params[static_cast<size_t>(k)], P.base[static_cast<size_t>(k)]); !v.empty())
        c.bad(p, *it, v);
      P.owners.claim(c, p, k, it.key(), p);
    }
  }
  r.base_params = P.base;

  // axes
  std::vector<AxisInfo> axes;
  if (j.contains("axes")) {
    const json& av = c.array("axes", j["axes"], false);
    for (size_t a = 0; a < av.size(); ++a) {
      axes.push_back(parse_axis(c, P, ipath("axes", a), av[a], a));
      for (size_t b = 0; b + 1 < axes.size(); ++b)
        if (axes[b].name == axes.back().name)
          c.fail(ipath("axes", a), "got axis name \"" + axes.back().name + "\", already used by axes[" +
                                       std::to_string(b) + "]; expected distinct names (set \"name\")");
    }
  }
  const Combine combine = j.contains("combine")
                              ? enum_of<Combine>(c.choice("combine", j["combine"], {"product", "sample"}), kCombineNames)
                              : Combine::kProduct;
  if (combine == Combine::kProduct) {
    long double exact = 1;
    for (const auto& ax : axes) exact *= static_cast<long double>(ax.size);
    if (exact > static_cast<long double>(kMaxInstances)) {
      std::vector<std::string> dims;
      for (const auto& ax : axes) dims.push_back(std::to_string(ax.size));
      std::ostringstream os;
      os.precision(4);
      os << exact;
      c.fail("axes", "got " + join(dims, " x ") + " = " + os.str() +
                         " instances; expected at most 2^48 = " + std::to_string(kMaxInstances));
    }
  } else {
    if (axes.empty()) c.fail("axes", "got no axes; expected at least one random or sobol axis for \"combine\": \"sample\"");
    for (size_t a = 0; a < axes.size(); ++a) {
      const std::string p = ipath("axes", a);
      if (!is_sampled(axes[a].kind))
        c.bad(kpath(p, "kind"), j["axes"][a]["kind"],
              "\"random\" or \"sobol\": \"combine\": \"sample\" zips sampled axes (use \"product\" to cross other kinds)");
      if (axes[a].size != axes[0].size)
        c.bad(kpath(p, "count"), j["axes"][a]["count"],
              std::to_string(axes[0].size) + " like axes[0].count (\"sample\" zips axes of equal count)");
    }
  }
  if (network) {  // references are overridden where a parameter is fixed or swept
    if (P.start_axis >= 0) c.fail("axes", "no start axis for a network (networks start cold)");
    network->overridden.assign(m.params.size(), false);
    for (const auto& [k, owner] : P.owners.by_param) network->overridden[static_cast<size_t>(k)] = true;
  }
  r.sweep = Sweep(P.base, std::move(axes), combine, r.seed);
  // Every value against the model's ranges and rules, before any work (spec/validate.hpp).
  {
    const std::vector<double> defaults = m.defaults();
    const std::string file = j.contains("parameter_file") ? j["parameter_file"].get<std::string>() : "";
    const OriginFn origin = [&](int k) -> std::string {
      auto it = P.owners.by_param.find(k);
      if (it != P.owners.by_param.end()) return it->second;
      if (!file.empty() && P.base[static_cast<size_t>(k)] != defaults[static_cast<size_t>(k)]) return "parameter_file " + file;
      return r.circuit ? "circuit or default" : "default";
    };
    for (size_t k = 0; k < P.base.size(); ++k) {
      auto it = P.owners.by_param.find(static_cast<int>(k));
      if (it != P.owners.by_param.end() && it->second.rfind("axes", 0) == 0) continue;  // swept: checked below
      if (const std::string v = range_violation(m.params[k], P.base[k]); !v.empty())
        c.fail(origin(static_cast<int>(k)), "got " + shown_name(m.params[k].name) +
                                                " = " + fmt_num(P.base[k]) + "; expected " + v);
    }
    validate_sweep(source, m, r.sweep, origin);
  }

  // initial state: one setting, or the start axis (spec/starts.cpp)
  if (j.contains("initial")) {
    if (P.start_axis >= 0)
      c.bad("initial", j["initial"], "no \"initial\" with a start axis (axes[" + std::to_string(P.start_axis) +
                                         "] gives every instance its start; put this start on the axis)");
    r.starts = {parse_start(c, P, "initial", j["initial"], false)};
  } else if (P.start_axis >= 0) {
    r.starts = P.starts;
    r.start_axis = P.start_axis;
  }

  // classifier: kept raw, validated by the classifier module
  if (j.contains("classifier")) r.classifier = c.object("classifier", j["classifier"]);

  // output
  if (j.contains("output")) {
    const json& o = c.object("output", j["output"]);
    c.keys("output", o, {"final_state", "spikes", "traces", "rate_bin", "sonata_spikes"});
    if (o.contains("sonata_spikes")) {
      const json& t = c.object("output.sonata_spikes", o["sonata_spikes"]);
      c.keys("output.sonata_spikes", t, {"instances", "per_label", "where", "max", "dir"});
      if (!network)
        c.bad("output.sonata_spikes", t, "no \"sonata_spikes\" for model \"" + mname +
                                             "\" (only spiking networks write SONATA spike files)");
      parse_instance_choice(c, "output.sonata_spikes", t, r.sweep.size(), "written", r.sonata_instances,
                            r.sonata_per_label, r.sonata_where, r.sonata_max);
      if (t.contains("dir")) {
        r.sonata_dir = c.str("output.sonata_spikes.dir", t["dir"]);
        if (r.sonata_dir.empty()) c.bad("output.sonata_spikes.dir", t["dir"], "a directory name");
      }
    }
    if (o.contains("rate_bin")) {
      if (r.rate_series.empty())
        c.bad("output.rate_bin", o["rate_bin"], "no \"rate_bin\" for model \"" + mname +
                                                   "\" (only networks and population models have population rates)");
      r.rate_bin_ms = duration(c, "output.rate_bin", o["rate_bin"]);
      if (!(r.rate_bin_ms > 0) || r.rate_bin_ms > r.analysis_ms)
        c.bad("output.rate_bin", o["rate_bin"], "a bin width > 0 and at most the analysis window (" + fmt_num(r.analysis_ms) + " ms)");
      r.rate_bin_steps = steps_of(c, "output.rate_bin", o["rate_bin"], r.rate_bin_ms, r.dt_ms);
    }
    if (o.contains("final_state")) r.out_final_state = c.boolean("output.final_state", o["final_state"]);
    if (o.contains("spikes"))
      r.out_spikes = static_cast<int>(c.uint("output.spikes", o["spikes"], 0, kMaxSpikes,
                                             "the number of spike times kept per instance"));
    if (o.contains("traces")) {
      const json& t = c.object("output.traces", o["traces"]);
      c.keys("output.traces", t, {"instances", "per_label", "where", "max", "every"});
      parse_instance_choice(c, "output.traces", t, r.sweep.size(), "traced", r.trace_instances, r.trace_per_label,
                            r.trace_where, r.trace_max);
      if (t.contains("every")) {
        r.trace_every_ms = duration(c, "output.traces.every", t["every"]);
        if (!(r.trace_every_ms > 0)) c.bad("output.traces.every", t["every"], "a positive interval");
        r.trace_every_steps = steps_of(c, "output.traces.every", t["every"], r.trace_every_ms, r.dt_ms);
      } else {
        r.trace_every_ms = r.dt_ms;
        r.trace_every_steps = 1;
      }
    }
  }
  if (network && (r.out_final_state || !r.trace_instances.empty() || r.traces_by_predicate()))
    c.fail("output", "no \"final_state\" or \"traces\" for a network (its outputs: rates, sampled spikes, features; "
                     "docs/NETWORKS.md)");
  if (!r.rate_series.empty() && r.rate_bin_steps == 0) {  // default bin: 1 ms (or one step if dt > 1 ms)
    r.rate_bin_steps = std::max<int64_t>(1, static_cast<int64_t>(std::llround(r.rate_bin_ms / r.dt_ms)));
    r.rate_bin_ms = static_cast<double>(r.rate_bin_steps) * r.dt_ms;
  }
  if (!nestml_key.empty()) {
    // A changed model file is another spec (resume refuses it); the stored spec stays JSON.
    const std::string keyed = r.canonical + "\nnestml:" + nestml_key;
    r.hash = fnv1a64(keyed.data(), keyed.size());
  }
  if (network && !network->identity.empty()) {
    // The contents of explicit edge files (hashed datasets) are part of what the database means:
    // a changed file is another spec (resume refuses it); the stored spec stays JSON.
    const std::string keyed = r.canonical + "\nnetwork_files:" + network->identity;
    r.hash = fnv1a64(keyed.data(), keyed.size());
  }
  return r;
}

RunSpec parse_spec_text(const std::string& text, const std::string& source) {
  // Bounded nesting, duplicate keys and overflowing numbers refused, positions in messages.
  return parse_spec(parse_json_text(text, source), source);
}

RunSpec load_spec(const std::string& path) {
  return parse_spec_text(read_text_file(path, "sweep spec"), path);  // at most kMaxJsonBytes
}

}  // namespace ns
