// neurosweep command line.
#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "neurosweep/backend.hpp"
#include "neurosweep/models.hpp"
#include "neurosweep/version.hpp"
#include "models/describe.hpp"
#include "models/plugin.hpp"
#include "store/database.hpp"
#include "run/run.hpp"
#include "run/simulate.hpp"
#ifdef NEUROSWEEP_HAVE_MPI
#include "run/mpi_run.hpp"
#endif

namespace ns {
std::function<int()> add_refine_command(CLI::App& app);  // cmd_refine.cpp
}

namespace {

int64_t steps_of(double ms, double dt, const char* what) {
  const double s = ms / dt;
  const double r = std::round(s);
  if (!(ms >= 0) || std::fabs(s - r) > 1e-9 * std::max(1.0, s))
    throw ns::SpecError(std::string("--") + what + " " + std::to_string(ms) +
                        " ms: must be a non-negative whole number of time steps of " + std::to_string(dt) + " ms");
  return static_cast<int64_t>(r);
}

struct SimulateArgs {
  std::string model = "stg", preset, params_file, out, format, precision = "double", gating = "direct";
  std::string integration = "exp_euler", constants = "codata2018";
  std::string spec;        // --spec: one instance of a sweep spec (its settings and parameters)
  uint64_t instance = 0;
  std::vector<std::string> conflicting;  // options given together with --spec
  std::vector<std::string> assignments;
  double dt = 0.05, duration = 2000, transient = 0, every = 0.1, threshold = 0;
  int max_spikes = 100000;
  bool force = false;
};

int cmd_simulate(const SimulateArgs& a) {
  ns::SpecInstance si;  // --spec: settings, parameters, initial state and cell names of the spec
  if (!a.spec.empty()) {
    if (!a.conflicting.empty())
      throw ns::SpecError("--spec " + a.spec + ": " + a.conflicting.front() +
                          " cannot be combined with --spec (the spec sets it; change it with -p NAME=VALUE or in the spec)");
    si = ns::spec_instance(a.spec, a.instance, a.assignments, a.max_spikes);
    si.settings.sim.spike_threshold = static_cast<float>(a.threshold);
  }
  const ns::ModelDesc* m = !a.spec.empty()               ? si.desc
                           : ns::is_nestml_path(a.model) ? ns::load_nestml_model(a.model)  // plugin
                                                         : ns::find_model(a.model);
  if (!m) {
    std::string names;
    for (const auto& n : ns::model_names()) names += (names.empty() ? "" : ", ") + n;
    throw ns::SpecError("--model '" + a.model + "': unknown model; valid: " + names);
  }
  if (!(a.dt > 0) || !std::isfinite(a.dt)) throw ns::SpecError("--dt " + std::to_string(a.dt) + ": must be > 0 ms");
  ns::RunSettings s;
  s.model = m->name;  // a NESTML file's model name
  s.precision = ns::parse_precision(a.precision);
  s.gating = ns::parse_gating(a.gating);
  s.sim.integration = ns::parse_integration(a.integration);
  s.sim.constants = ns::parse_constants(a.constants);
  if ((s.sim.integration != ns::kExpEuler || s.sim.constants != ns::kCodata2018) && a.spec.empty() &&
      !ns::has_numerics_options(m->name))
    throw ns::SpecError("--integration/--constants: model '" + a.model +
                        "' has no numerics options (only stg, pyloric and stg_circuit)");
  s.sim.dt = a.dt;
  s.sim.n_transient = steps_of(a.transient, a.dt, "transient");
  s.sim.n_analysis = steps_of(a.duration, a.dt, "duration");
  s.sim.spike_threshold = static_cast<float>(a.threshold);
  s.sim.max_spikes = a.max_spikes;
  if (!a.spec.empty()) s = si.settings;
  const int64_t every = std::max<int64_t>(1, std::llround(a.every / s.sim.dt));
  const auto params = a.spec.empty() ? ns::resolve_params(*m, a.preset, a.params_file, a.assignments) : si.params;

  std::string format = a.format;
  if (format.empty()) {
    const auto ext = std::filesystem::path(a.out).extension().string();
    format = a.out.empty() ? "json" : (ext == ".h5" || ext == ".hdf5") ? "hdf5" : "csv";
  }
  if (format != "csv" && format != "hdf5" && format != "json")
    throw ns::SpecError("--format '" + format + "': expected csv, hdf5 or json");
  if (!a.out.empty()) {
    if (std::filesystem::exists(a.out) && !a.force)
      throw ns::SpecError("-o '" + a.out + "': file exists; use --force to overwrite");
    const auto dir = std::filesystem::path(a.out).parent_path();
    if (!dir.empty() && !std::filesystem::is_directory(dir))
      throw ns::SpecError("-o '" + a.out + "': directory '" + dir.string() + "' does not exist");
  }
  // --spec --instance i: the random input of instance i (as `run` drew it); 0 without --spec.
  const auto tr = ns::simulate_trace(s, params, si.init.empty() ? nullptr : &si.init, every, m,
                                     a.spec.empty() ? 0 : a.instance);

  nlohmann::json summary;
  summary["model"] = s.model;
  nlohmann::json pj;
  for (size_t k = 0; k < m->params.size(); ++k)
    if (m->params[k].name[0] != '#') pj[m->params[k].name] = params[k];
  summary["params"] = pj;
  summary["dt_ms"] = s.sim.dt;
  summary["transient_ms"] = double(s.sim.n_transient) * s.sim.dt;
  summary["duration_ms"] = double(s.sim.n_analysis) * s.sim.dt;
  summary["precision"] = ns::to_string(s.precision);
  summary["gating"] = ns::to_string(s.gating);
  summary["integration"] = ns::integration_name(s.sim.integration);
  summary["constants"] = ns::constants_name(s.sim.constants);
  if (!a.spec.empty()) {
    summary["spec"] = a.spec;
    summary["instance"] = a.instance;
    if (!si.init.empty()) summary["initial"] = "thermalized or explicit (as the spec)";
  }
  const auto& o = tr.summary;
  nlohmann::json cells = nlohmann::json::array();
  const int n_obs = si.cells.empty() ? o.n_obs : static_cast<int>(si.cells.size());
  for (int k = 0; k < n_obs; ++k) {
    const uint32_t n = o.n_spikes[k];
    const uint32_t kept = std::min<uint32_t>(n, static_cast<uint32_t>(o.max_spikes));
    // unrounded (double) times: `--precision double` prints NEST's stamps, not their float
    const auto& st = tr.spike_times_f64;
    std::vector<double> times(st.begin() + static_cast<size_t>(k) * o.max_spikes,
                              st.begin() + static_cast<size_t>(k) * o.max_spikes + kept);
    cells.push_back({{"n_spikes", n}, {"spike_times_ms", times}, {"v_min", o.v_min[k]},
                     {"v_max", o.v_max[k]}, {"v_mean", o.v_mean[k]}});
    if (!si.cells.empty()) cells.back()["cell"] = si.cells[static_cast<size_t>(k)];
  }
  summary["observed"] = cells;
  summary["status"] = o.status[0] == ns::kOk ? "ok" : o.status[0] == ns::kNonFinite ? "nonfinite" : "diverged";
  if (cells.size() == 1) summary["spike_times"] = cells[0]["spike_times_ms"];

  if (format == "json") {
    std::cout << summary.dump() << "\n";
    if (!a.out.empty()) {
      std::ofstream f(a.out);
      f << summary.dump(2) << "\n";
    }
  } else if (format == "csv") {
    ns::write_trace_csv(a.out.empty() ? "/dev/stdout" : a.out, tr);
  } else {
    if (a.out.empty()) throw ns::SpecError("--format hdf5 needs -o FILE");
    ns::write_trace_hdf5(a.out, tr, summary.dump());
  }
  if (format != "json" && !a.out.empty())
    std::cerr << "wrote " << tr.columns[0].size() << " samples of " << tr.names.size() - 1
              << " state variables to " << a.out << "; " << o.n_spikes[0] << " spikes in the analysis window\n";
  return 0;
}

}  // namespace

void add_explore_command(CLI::App& app);  // cmd_explore.cpp
void add_model_command(CLI::App& app);    // cmd_model.cpp

int main(int argc, char** argv) {
  CLI::App app{"neurosweep: ensemble simulator for neuron-model parameter sweeps"};
  app.set_version_flag("--version", std::string(ns::kVersion) + " (" + ns::kGitRevision + ")");
  app.require_subcommand(1);

  SimulateArgs sa;
  auto* sim = app.add_subcommand("simulate", "Run one instance and write its state trace (CSV, HDF5) or a JSON summary");
  sim->add_option("--model", sa.model, "Model name")->capture_default_str();
  sim->add_option("--preset", sa.preset, "Named parameter set (e.g. ABPD1, LP4, PY1 of Prinz 2004 Table 2)");
  sim->add_option("--params", sa.params_file, "JSON object file {name: value} of parameters");
  sim->add_option("-p,--param", sa.assignments, "NAME=VALUE (repeatable)");
  sim->add_option("--dt", sa.dt, "Time step (ms)")->capture_default_str();
  sim->add_option("--duration", sa.duration, "Analysis window after the transient (ms)")->capture_default_str();
  sim->add_option("--transient", sa.transient, "Transient before the analysis window (ms), included in the trace")->capture_default_str();
  sim->add_option("--every", sa.every, "Trace sampling interval (ms)")->capture_default_str();
  sim->add_option("--precision", sa.precision, "float or double")->capture_default_str();
  sim->add_option("--gating", sa.gating, "direct or table")->capture_default_str();
  sim->add_option("--integration", sa.integration, "exp_euler or prinz (STG models)")
      ->check(CLI::IsMember({"exp_euler", "prinz"}))->capture_default_str();
  sim->add_option("--constants", sa.constants, "codata2018 or prinz_lab (STG models)")
      ->check(CLI::IsMember({"codata2018", "prinz_lab"}))->capture_default_str();
  sim->add_option("--spike-threshold", sa.threshold, "Spike detection threshold (mV)")->capture_default_str();
  sim->add_option("-o,--output", sa.out, "Output file (.csv, .h5); none: JSON summary on stdout");
  sim->add_option("--format", sa.format, "csv, hdf5 or json (default: from the file extension)");
  sim->add_flag("--force", sa.force, "Overwrite an existing output file");
  sim->add_option("--spec", sa.spec, "Sweep spec: simulate one of its instances with its settings (circuits: every cell)");
  sim->add_option("--instance", sa.instance, "Instance index in the --spec sweep")->capture_default_str();

  ns::RunOptions ro;
  std::string shard;
  auto* run = app.add_subcommand("run", "Build a database from a sweep spec (resumable)");
  run->add_option("spec", ro.spec_path, "Sweep spec (JSON, docs/SWEEP_SPEC.md)")->required();
  run->add_option("-o,--output", ro.out, "Output database (.h5)")->required();
  run->add_option("--backend", ro.backend, "auto, cpu or cuda")->capture_default_str();
  run->add_option("--threads", ro.threads, "CPU threads (0: all cores)")->capture_default_str();
  run->add_option("--chunk", ro.chunk, "Instances per chunk (0: 512 per CPU thread, 131072 on CUDA)")->capture_default_str();
  run->add_flag("--resume", ro.resume, "Complete an interrupted build (only its missing chunks)");
  run->add_option("--stop-after-chunks", ro.stop_after_chunks,
                  "Commit N chunks, then stop, leaving a build to --resume (time-boxed batch steps)");
  run->add_flag("--force", ro.force, "Overwrite an existing database or unfinished build");
  run->add_flag("--extend", ro.extend,
                "Grow the random/Sobol sample of the existing -o database (same spec, larger count): its rows are kept, "
                "only the new instances are run");
  run->add_flag("-q,--quiet", ro.quiet, "No progress output");
  run->add_option("--shard", shard, "K/N: build only shard K (0-based) of N, to DB.shard-K-of-N.h5; merge later");

  std::string info_path;
  auto* info = app.add_subcommand("info", "Summarise a database (also an unfinished build or a shard)");
  info->add_option("db", info_path, "Database (.h5)")->required();

  std::string query_path;
  ns::QueryOptions qo;
  std::string qlabels;
  auto* query = app.add_subcommand("query", "Select instances of a database as CSV or JSON");
  query->add_option("db", query_path, "Database (.h5)")->required();
  query->add_option("--label", qo.labels, "Keep instances with this label (repeatable)");
  query->add_option("--where", qo.where, "Filter expression, e.g. \"gNa > 100 and gKd <= 50\"");
  query->add_option("--columns", qo.columns, "Columns to output (default: all)")->delimiter(',');
  query->add_option("--format", qo.format, "csv or json")->capture_default_str();
  query->add_option("--limit", qo.limit, "At most this many rows (0: all)");

  std::string models_name;
  bool models_json = false;
  auto* models = app.add_subcommand("models", "List the models (name, kind, description), or one model's parameters, "
                                              "ranges, state and presets");
  models->add_option("name", models_name, "A model name or a .nestml file: its parameters (unit, default, range), state and presets");
  models->add_flag("--json", models_json, "Machine-readable JSON output");

  std::vector<std::string> merge_in;
  std::string merge_out;
  bool merge_force = false;
  auto* merge = app.add_subcommand("merge", "Merge shard databases of one spec into one database");
  merge->add_option("shards", merge_in, "Shard files")->required();
  merge->add_option("-o,--output", merge_out, "Output database")->required();
  merge->add_flag("--force", merge_force, "Overwrite an existing output");

  const auto refine_cmd = ns::add_refine_command(app);
  add_explore_command(app);
  add_model_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*sim) {
      for (const char* o : {"--model", "--preset", "--params", "--dt", "--duration", "--transient", "--precision", "--gating",
                            "--integration", "--constants"})
        if (sim->count(o)) sa.conflicting.push_back(o);
      if (sa.spec.empty() && sim->count("--instance")) throw ns::SpecError("--instance needs --spec");
      return cmd_simulate(sa);
    }
    if (*run) {
      if (!shard.empty()) {
        const auto slash = shard.find('/');
        try {
          if (slash == std::string::npos) throw std::invalid_argument("no slash");
          size_t u1 = 0, u2 = 0;
          ro.shard_k = std::stoi(shard.substr(0, slash), &u1);
          ro.shard_n = std::stoi(shard.substr(slash + 1), &u2);
          if (u1 != slash || u2 != shard.size() - slash - 1) throw std::invalid_argument("trailing");
        } catch (const std::exception&) {
          throw ns::SpecError("--shard '" + shard + "': expected K/N, e.g. 0/4");
        }
      }
#ifdef NEUROSWEEP_HAVE_MPI
      if (ns::mpi_launched()) return ns::mpi_run_build(ro);  // one shard per rank, rank 0 merges
#endif
      return ns::run_build(ro);
    }
    if (const int rc = refine_cmd(); rc >= 0) return rc;
    if (*info) {
      std::cout << ns::format_info(ns::inspect(info_path));
      return 0;
    }
    if (*query) {
      ns::query(query_path, qo, std::cout);
      return 0;
    }
    if (*models) {
      if (models_name.empty()) {
        std::cout << (models_json ? ns::models_json().dump(2) + "\n" : ns::models_text());
        return 0;
      }
      const ns::ModelDesc* m =
          ns::is_nestml_path(models_name) ? ns::load_nestml_model(models_name) : ns::find_model(models_name);
      if (!m) {
        std::string names;
        for (const auto& n : ns::model_names()) names += (names.empty() ? "" : ", ") + n;
        throw ns::SpecError("models '" + models_name + "': unknown model; valid: " + names);
      }
      std::cout << (models_json ? ns::model_json(*m).dump(2) + "\n" : ns::model_text(*m));
      return 0;
    }
    if (*merge) {
      ns::merge_shards(merge_in, merge_out, merge_force);
      std::cerr << "neurosweep: merged " << merge_in.size() << " shard(s) into " << merge_out << "\n";
      return 0;
    }
  } catch (const ns::SpecError& e) {
    std::cerr << "neurosweep: error: " << e.what() << "\n";
    return 2;
  } catch (const ns::DatabaseError& e) {
    std::cerr << "neurosweep: error: " << e.what() << "\n";
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "neurosweep: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
