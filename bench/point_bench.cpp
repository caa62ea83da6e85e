// Throughput of the NEST point models on a backend: neuron-steps per second per model, precision
// and thread count. Prints a table (or JSON lines with --json).
//   point_bench [--models iaf_psc_exp,...] [--n 4096] [--ms 1000] [--dt 0.1] [--backend cpu]
//               [--threads 1,2] [--precision float,double] [--input dc|poisson] [--json]
// Workload (per model, all instances firing, NEST defaults otherwise): a constant current I_e
// graded over the instances across the model's tonic range, and with --input poisson (default)
// excitatory + inhibitory Poisson trains as well (so the counter RNG is part of the cost).
// Spike counts are reported so that a silent (cheap) run is visible.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "neurosweep/backend.hpp"
#include "neurosweep/models.hpp"
#include "bench_util.hpp"

using nsbench::peak_rss_mb;
using nsbench::split;

namespace {

struct Drive {
  double i_lo, i_hi;      // I_e range over the instances (model units)
  double rate, w_ex, w_in;  // Poisson rate (Hz, both trains) and weights
};
// Ranges chosen so every instance fires tonically (above rheobase with NEST defaults).
const std::map<std::string, Drive> kDrive = {
    {"iaf_psc_exp", {400, 1000, 2000, 20, 20}},   {"iaf_psc_delta", {400, 1000, 2000, 0.2, 0.2}},
    {"iaf_psc_alpha", {400, 1000, 2000, 20, 20}}, {"izhikevich", {5, 15, 500, 1, 1}},
    {"aeif_cond_exp", {500, 1000, 1000, 1, 1}},   {"aeif_cond_alpha", {500, 1000, 1000, 1, 1}},
    {"hh_psc_alpha", {700, 1500, 1000, 20, 20}},  {"glif_psc", {300, 800, 2000, 10, 10}},
    {"iaf_cond_exp", {400, 1000, 1000, 1, 1}},    {"hh_cond_exp_traub", {300, 1000, 1000, 1, 1}},
};
}  // namespace

int main(int argc, char** argv) {
  std::string models_s, backend = "cpu", threads_s = "1,2", precisions = "float,double",
                        input = "poisson";
  size_t n = 4096;
  double ms = 1000, dt = 0.1;
  bool json = false;
  for (int a = 1; a < argc; ++a) {
    std::string k = argv[a];
    auto next = [&]() { return std::string(a + 1 < argc ? argv[++a] : ""); };
    if (k == "--models") models_s = next();
    else if (k == "--n") n = std::stoul(next());
    else if (k == "--ms") ms = std::stod(next());
    else if (k == "--dt") dt = std::stod(next());
    else if (k == "--backend") backend = next();
    else if (k == "--threads") threads_s = next();
    else if (k == "--precision") precisions = next();
    else if (k == "--input") input = next();
    else if (k == "--json") json = true;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (input != "dc" && input != "poisson") {
    std::fprintf(stderr, "--input must be dc or poisson, got %s\n", input.c_str());
    return 2;
  }
  std::vector<std::string> models;
  if (models_s.empty())
    for (const auto& kv : kDrive) models.push_back(kv.first);
  else
    models = split(models_s);
  std::string notice;
  auto be = ns::make_backend(backend, &notice);
  if (!json)
    std::printf("# point models on %s, n = %zu, %.0f ms at dt = %.3f ms, input %s\n",
                be->device().c_str(), n, ms, dt, input.c_str());
  if (!json)
    std::printf("%-16s %-7s %-7s %8s %9s %10s %14s %12s\n", "model", "prec", "threads", "steps",
                "spikes/n", "wall_s", "steps/s", "per_thread");
  for (const auto& model : models) {
    const ns::ModelDesc* m = ns::find_model(model);
    const auto dr = kDrive.find(model);
    if (!m || dr == kDrive.end()) {
      std::fprintf(stderr, "unknown point model %s\n", model.c_str());
      return 2;
    }
    const size_t np = m->params.size();
    std::vector<double> cols(n * np);
    const auto def = m->defaults();
    for (size_t k = 0; k < np; ++k)
      for (size_t i = 0; i < n; ++i) cols[k * n + i] = def[k];
    auto set = [&](const char* name, size_t i, double v) {
      cols[static_cast<size_t>(m->param_index(name)) * n + i] = v;
    };
    for (size_t i = 0; i < n; ++i) {
      const double f = n > 1 ? double(i) / double(n - 1) : 0.0;
      set("I_e", i, dr->second.i_lo + f * (dr->second.i_hi - dr->second.i_lo));
      if (input == "poisson") {
        set("rate_ex", i, dr->second.rate);
        set("weight_ex", i, dr->second.w_ex);
        set("rate_in", i, dr->second.rate);
        set("weight_in", i, dr->second.w_in);
      }
    }
    for (const auto& p : {std::string("float"), std::string("double")}) {
      if (precisions.find(p) == std::string::npos) continue;
      for (const auto& ts : split(threads_s)) {
        const int th = std::stoi(ts);
        ns::RunSettings s;
        s.model = model;
        s.precision = ns::parse_precision(p);
        s.sim.dt = dt;
        s.sim.n_transient = 0;
        s.sim.n_analysis = static_cast<int64_t>(ms / dt + 0.5);
        s.sim.max_spikes = 64;
        s.sim.seed = 1;
        s.threads = th;
        ns::ChunkInput in;
        in.n = n;
        in.params = cols.data();
        ns::ChunkOutput out;
        const auto t0 = std::chrono::steady_clock::now();
        be->run(s, in, out);
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        double spikes = 0;
        for (auto c : out.n_spikes) spikes += c;
        const double steps = double(n) * double(s.sim.n_analysis);
        const double rate = steps / wall;
        if (json)
          std::printf("{\"bench\":\"point\",\"model\":\"%s\",\"backend\":\"%s\",\"device\":\"%s\","
                      "\"precision\":\"%s\",\"input\":\"%s\",\"threads\":%d,\"n\":%zu,\"steps\":%lld,"
                      "\"dt_ms\":%g,\"spikes_per_neuron\":%.2f,\"wall_s\":%.4f,"
                      "\"neuron_steps_per_s\":%.4e,\"peak_rss_mb\":%.1f}\n",
                      model.c_str(), be->name().c_str(), be->device().c_str(), p.c_str(),
                      input.c_str(), th, n, static_cast<long long>(s.sim.n_analysis), dt,
                      spikes / double(n), wall, rate, peak_rss_mb());
        else
          std::printf("%-16s %-7s %-7d %8lld %9.1f %10.3f %14.4e %12.4e\n", model.c_str(),
                      p.c_str(), th, static_cast<long long>(s.sim.n_analysis), spikes / double(n),
                      wall, rate, rate / th);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
