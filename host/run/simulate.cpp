#include "run/simulate.hpp"
#include "run/starts.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "run/run.hpp"
#include "models/plugin.hpp"
#include "spec/circuit.hpp"
#include "spec/nest_params.hpp"
#include "errors.hpp"
#include "spec/spec.hpp"
#include "spec/validate.hpp"
#include "classify/stage_network.hpp"

namespace ns {
namespace {

std::string valid_names(const ModelDesc& m) {
  std::string s;
  for (const auto& p : m.params)
    if (p.name[0] != '#') s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

void set_param(const ModelDesc& m, std::vector<double>& p, const std::string& name, double v,
               const std::string& source) {
  const int k = m.param_index(name);
  if (k < 0)
    throw SpecError(source + ": unknown parameter '" + name + "' for model '" + m.name +
                    "'; valid names: " + valid_names(m));
  if (!std::isfinite(v))
    throw SpecError(source + ": parameter '" + name + "' must be a finite number");
  if (const std::string bad = range_violation(m.params[static_cast<size_t>(k)], v); !bad.empty())
    throw SpecError(source + ": got " + name + " = " + std::to_string(v) + "; expected " + bad);
  p[k] = v;
}

template <class T>
struct Recorder {
  Trace* tr;
  const std::vector<int>* recorded;  // state indices, in column order
  int64_t every;
  double dt;
  void operator()(int64_t step, const T* s) const {
    if (step % every) return;
    tr->columns[0].push_back(double(step) * dt);
    for (size_t k = 0; k < recorded->size(); ++k) tr->columns[k + 1].push_back(double(s[(*recorded)[k]]));
  }
};

}  // namespace

// --param NAME=VALUE assignments, in order, onto p.
static void apply_assignments(const ModelDesc& m, std::vector<double>& p, const std::vector<std::string>& assignments) {
  for (const auto& a : assignments) {
    const auto eq = a.find('=');
    if (eq == std::string::npos) throw SpecError("--param '" + a + "': expected NAME=VALUE");
    const std::string name = a.substr(0, eq), val = a.substr(eq + 1);
    double v = 0;
    size_t used = 0;
    try {
      v = std::stod(val, &used);
    } catch (...) {
      used = 0;
    }
    if (used != val.size() || val.empty()) throw SpecError("--param '" + a + "': value '" + val + "' is not a number");
    if (name.empty() || name[0] == '#') throw SpecError("--param '" + a + "': unknown parameter");
    set_param(m, p, name, v, "--param " + name);
  }
}

std::vector<double> resolve_params(const ModelDesc& m, const std::string& preset,
                                   const std::string& json_file,
                                   const std::vector<std::string>& assignments) {
  std::vector<double> p = m.defaults();
  if (!preset.empty()) {
    const Preset* found = nullptr;
    for (const auto& pr : m.presets)
      if (preset == pr.name) found = &pr;
    if (!found) {
      std::string names;
      for (const auto& pr : m.presets) names += (names.empty() ? "" : ", ") + std::string(pr.name);
      throw SpecError("--preset '" + preset + "': unknown for model '" + m.name + "'; valid: " +
                      (names.empty() ? "(none)" : names));
    }
    for (int k = 0; k < found->n_values; ++k)
      set_param(m, p, found->values[k].param, found->values[k].value, "--preset " + preset);
  }
  // The spec's parameter_file reader: NEST/BMTK dynamics_params files as they are (booleans,
  // NEST arrays such as glif_psc's tau_syn, start states such as V_m).
  if (!json_file.empty()) apply_dynamics_params(m, json_file, p);
  apply_assignments(m, p, assignments);
  validate_params(m, p, "simulate (--preset, --params, --param)");
  return p;
}

Trace simulate_trace(const RunSettings& s, const std::vector<double>& params,
                     const std::vector<double>* init_state, int64_t every_steps, const ModelDesc* desc,
                     uint64_t index) {
  Trace tr;
  const ModelDesc* m = desc ? desc : find_model(s.model);
  if (!m) throw SpecError("unknown model '" + s.model + "'");
  tr.names.push_back("t");
  tr.units.push_back("ms");
  std::vector<int> recorded;
  for (size_t k = 0; k < m->state.size(); ++k) {
    const auto& st = m->state[k];
    if (st.name[0] == '#') continue;  // circuit objects: unused cells and synapses
    recorded.push_back(static_cast<int>(k));
    tr.names.push_back(st.name);
    tr.units.push_back(st.unit);
  }
  tr.columns.resize(tr.names.size());
  if (every_steps < 1) every_steps = 1;
  const bool builtin = dispatch_model_precision(s.model, s.precision == Precision::Double, [&](auto* mt, auto* t) {
    using M = std::remove_pointer_t<decltype(mt)>;
    using T = std::remove_pointer_t<decltype(t)>;
    {
      tr.summary.resize(1, M::kNumObs, s.sim.max_spikes, M::kNumState, true);
      tr.spike_times_f64.assign(tr.summary.spike_times.size(), 0.0);
      OutputView ov = tr.summary.view();
      ov.spike_times_f64 = tr.spike_times_f64.data();
      HostTable<T> table;
      if (s.gating == Gating::Table)
        model_build_table<M, T>(table, s.sim, s.table_v_min, s.table_v_max, s.table_dv);
      const double* init = init_state ? init_state->data() : nullptr;
      // t = 0 sample
      T s0[M::kNumState];
      if (init) {
        for (int k = 0; k < M::kNumState; ++k) s0[k] = T(init[k]);
      } else {
        T d[M::kNumDerived];
        model_derive<M, T>(Strided<const double>{params.data(), 1}, d, s.sim);
        M::template init<T>(d, s0);
      }
      if (static_cast<int>(m->state.size()) != M::kNumState) throw SpecError("internal: state names do not match model " + s.model);
      Recorder<T> rec{&tr, &recorded, every_steps, s.sim.dt};
      rec(0, s0);
      if (s.gating == Gating::Table)
        run_instance<M, T>(s.sim, params.data(), init, 1, 0, index, table.view(), ov, rec);
      else
        run_instance<M, T>(s.sim, params.data(), init, 1, 0, index, Direct{}, ov, rec);
      if constexpr (reset_spikes<M>::value) {
        // Reset models stamp spikes on the grid, t = k dt; print them as NEST does, k steps of
        // whole tics (1 us): 48 x 0.1 ms -> 4.8 ms, not k * dt = 4.800000000000001.
        const double step_tics = std::round(s.sim.dt * 1000.0);
        if (step_tics >= 1.0 && std::fabs(s.sim.dt * 1000.0 - step_tics) < 1e-6)
          for (double& t : tr.spike_times_f64) t = std::round(t / s.sim.dt) * step_tics / 1000.0;
      }
    }
  });
  if (!builtin) {  // a model plugin (models/plugin.hpp): the same steps inside the plugin
    const PluginApi* api = find_plugin(s.model);
    if (!api) throw SpecError("unknown model '" + s.model + "'");
    tr.summary.resize(1, m->n_obs, s.sim.max_spikes, static_cast<int>(m->state.size()), true);
    tr.spike_times_f64.assign(tr.summary.spike_times.size(), 0.0);
    OutputView ov = tr.summary.view();
    ov.spike_times_f64 = tr.spike_times_f64.data();
    struct Ctx {
      Trace* tr;
      const std::vector<int>* recorded;
      int64_t every;
      double dt;
    } ctx{&tr, &recorded, every_steps, s.sim.dt};
    const PluginRecord rec = [](void* c, int64_t step, const double* st) {  // as Recorder
      auto* x = static_cast<Ctx*>(c);
      if (step % x->every) return;
      x->tr->columns[0].push_back(double(step) * x->dt);
      for (size_t k = 0; k < x->recorded->size(); ++k) x->tr->columns[k + 1].push_back(st[(*x->recorded)[k]]);
    };
    const bool grid = api->trace(s, params.data(), init_state ? init_state->data() : nullptr, index, ov, rec, &ctx);
    const double step_tics = std::round(s.sim.dt * 1000.0);  // as for built-in reset models above
    if (grid && step_tics >= 1.0 && std::fabs(s.sim.dt * 1000.0 - step_tics) < 1e-6)
      for (double& t : tr.spike_times_f64) t = std::round(t / s.sim.dt) * step_tics / 1000.0;
  }
  return tr;
}

SpecInstance spec_instance(const std::string& spec_path, uint64_t instance,
                           const std::vector<std::string>& assignments, int max_spikes) {
  auto spec = std::make_shared<RunSpec>(load_spec(spec_path));
  SpecInstance si;
  si.keep = spec;
  si.desc = spec->model;
  if (instance >= spec->sweep.size())
    throw SpecError("--instance " + std::to_string(instance) + ": the sweep of " + spec_path + " has " +
                    std::to_string(spec->sweep.size()) + " instances (0.." + std::to_string(spec->sweep.size() - 1) + ")");
  si.settings = run_settings(*spec, max_spikes, 1);  // as `run`, on one thread
  RunSettings& rs = si.settings;
  si.params = spec->sweep.params_of(instance);
  apply_assignments(*spec->model, si.params, assignments);
  validate_params(*spec->model, si.params, spec_path + ": instance " + std::to_string(instance) + " with --param");
  const StartSpec& start = spec->starts[spec->start_of(instance)];
  if (start.kind == InitialKind::kDatabase)
    throw SpecError(spec_path + ": instance " + std::to_string(instance) + " starts from another database's final "
                    "state (" + start.label + "); `simulate --spec` cannot; use `neurosweep run` with output.traces");
  if (start.kind != InitialKind::kCold) {  // explicit or thermalised (run/starts.hpp), as `run`
    StartStates starts(*spec, rs);
    std::vector<double> init;
    if (starts.fill(instance, 1, si.params.data(), init)) si.init = init;
  }
  if (is_circuit_model(rs.model)) si.cells = network_cells(*spec);
  return si;
}

void write_trace_csv(const std::string& path, const Trace& tr) {
  std::ofstream f(path);
  if (!f) throw SpecError("-o '" + path + "': cannot write (does the directory exist?)");
  for (size_t c = 0; c < tr.names.size(); ++c)
    f << (c ? "," : "") << tr.names[c] << (tr.units[c] == "1" ? "" : "_" + tr.units[c]);
  f << "\n" << std::setprecision(9);
  const size_t rows = tr.columns.empty() ? 0 : tr.columns[0].size();
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < tr.columns.size(); ++c) f << (c ? "," : "") << tr.columns[c][r];
    f << "\n";
  }
  if (!f) throw SpecError("-o '" + path + "': write failed");
}

void write_trace_hdf5(const std::string& path, const Trace& tr, const std::string& attrs_json) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) throw SpecError("-o '" + path + "': cannot create HDF5 file (does the directory exist?)");
  auto str_attr = [](hid_t obj, const char* name, const std::string& v) {
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, v.size() + 1);
    H5Tset_cset(t, H5T_CSET_UTF8);
    const hid_t sp = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, v.c_str());
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
  };
  str_attr(file, "format", "neurosweep-trace");
  str_attr(file, "settings", attrs_json);
  const hsize_t rows = tr.columns.empty() ? 0 : tr.columns[0].size();
  for (size_t c = 0; c < tr.columns.size(); ++c) {
    const hid_t sp = H5Screate_simple(1, &rows, nullptr);
    const hid_t ds = H5Dcreate2(file, tr.names[c].c_str(), H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (rows) H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, tr.columns[c].data());
    str_attr(ds, "units", tr.units[c]);
    H5Dclose(ds);
    H5Sclose(sp);
  }
  if (H5Fclose(file) < 0) throw SpecError("-o '" + path + "': HDF5 write failed");
}

}  // namespace ns
