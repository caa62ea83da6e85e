// Throughput of the engine: neuron-steps per second for a model on a backend, for each precision,
// gating mode and thread count. Prints a table (or JSON lines with --json).
//   stg_bench [--model stg] [--n 4096] [--ms 1000] [--backend cpu] [--threads 1,2] [--json]
// Instances are random P03-grid neurons (seeded), cold start, dt = 0.05 ms. For the circuit model
// "pyloric": random P04 networks (P04 neurons of each population, synapse strengths drawn from
// {0, 1, 3, 10, 30, 100} nS); rates are network-steps/s, and each line also gives the ratio to
// 1/3 of the single-neuron rate of the same P04 cells run as "stg" (1.0 = a network costs exactly
// its 3 neurons).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "neurosweep/backend.hpp"
#include "neurosweep/models.hpp"

#include "bench_util.hpp"

using nsbench::parse_list;
using nsbench::peak_rss_mb;

int main(int argc, char** argv) {
  std::string model = "stg", backend = "cpu", threads_s = "1,2", precisions = "float,double", gatings = "direct,table";
  size_t n = 4096;
  double ms = 1000, dt = 0.05;
  bool json = false;
  for (int a = 1; a < argc; ++a) {
    std::string k = argv[a];
    auto next = [&]() { return std::string(a + 1 < argc ? argv[++a] : ""); };
    if (k == "--model") model = next();
    else if (k == "--n") n = std::stoul(next());
    else if (k == "--ms") ms = std::stod(next());
    else if (k == "--dt") dt = std::stod(next());
    else if (k == "--backend") backend = next();
    else if (k == "--threads") threads_s = next();
    else if (k == "--precision") precisions = next();
    else if (k == "--gating") gatings = next();
    else if (k == "--json") json = true;
    else { std::fprintf(stderr, "unknown option %s\n", k.c_str()); return 2; }
  }
  const ns::ModelDesc* m = ns::find_model(model);
  if (!m) { std::fprintf(stderr, "unknown model %s\n", model.c_str()); return 2; }
  std::vector<double> cols(n * m->params.size());
  const auto def = m->defaults();
  std::mt19937 rng(42);
  const double step[8] = {100, 2.5, 2, 10, 5, 25, 0.01, 0.01};
  for (size_t k = 0; k < def.size(); ++k)
    for (size_t i = 0; i < n; ++i)
      cols[k * n + i] = (model == "stg" && k < 8) ? step[k] * (rng() % 6) : def[k];
  const bool circuit = model == "pyloric";
  std::vector<double> cells_cols;  // the same cells as single "stg" neurons (circuit only)
  size_t n_cells_total = 0;
  if (circuit) {
    const ns::ModelDesc* st = ns::find_model("stg");
    const char* pops[3] = {"ABPD", "LP", "PY"};
    std::vector<std::vector<double>> cell_rows;
    for (size_t i = 0; i < n; ++i) {
      for (int c = 0; c < 3; ++c) {
        std::vector<const ns::Preset*> opts;
        for (const auto& pr : m->presets)
          if (std::string(pr.name).rfind(pops[c], 0) == 0) opts.push_back(&pr);
        const ns::Preset* pr = opts[rng() % opts.size()];
        std::vector<double> row = st->defaults();
        for (int q = 0; q < pr->n_values; ++q) {
          cols[static_cast<size_t>(m->param_index(pr->values[q].param)) * n + i] = pr->values[q].value;
          const std::string nm = pr->values[q].param;
          row[static_cast<size_t>(st->param_index(nm.substr(nm.find('.') + 1)))] = pr->values[q].value;
        }
        cell_rows.push_back(row);
      }
      const double lv[6] = {0, 1, 3, 10, 30, 100};
      for (const char* sn : {"g_ABLP", "g_PDLP", "g_ABPY", "g_PDPY", "g_LPPM", "g_LPPY", "g_PYLP"})
        cols[static_cast<size_t>(m->param_index(sn)) * n + i] = lv[rng() % 6];
    }
    n_cells_total = cell_rows.size();
    const size_t np = st->params.size();
    cells_cols.assign(n_cells_total * np, 0.0);
    for (size_t i = 0; i < n_cells_total; ++i)
      for (size_t k = 0; k < np; ++k) cells_cols[k * n_cells_total + i] = cell_rows[i][k];
  }
  std::string notice;
  auto be = ns::make_backend(backend, &notice);
  if (!json) std::printf("# %s on %s, n = %zu, %.0f ms at dt = %.3f ms\n", model.c_str(), be->device().c_str(), n, ms, dt);
  if (!json) std::printf("%-8s %-7s %-7s %8s %10s %14s %12s\n", "prec", "gating", "threads", "steps", "wall_s", "steps/s", "per_thread");
  for (const auto& p : {std::string("float"), std::string("double")}) {
    if (precisions.find(p) == std::string::npos) continue;
    for (const auto& g : {std::string("direct"), std::string("table")}) {
      if (gatings.find(g) == std::string::npos) continue;
      for (int th : parse_list(threads_s)) {
        ns::RunSettings s;
        s.model = model;
        s.precision = ns::parse_precision(p);
        s.gating = ns::parse_gating(g);
        s.sim.dt = dt;
        s.sim.n_transient = 0;
        s.sim.n_analysis = static_cast<int64_t>(ms / dt);
        s.sim.max_spikes = 64;
        s.threads = th;
        ns::ChunkInput in;
        in.n = n;
        in.params = cols.data();
        ns::ChunkOutput out;
        const auto t0 = std::chrono::steady_clock::now();
        be->run(s, in, out);
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double steps = double(n) * double(s.sim.n_analysis);
        const double rate = steps / wall;
        double ratio = 0;
        if (circuit) {  // the same 3n cells alone, same settings: ratio to 1/3 of their rate
          ns::RunSettings s1 = s;
          s1.model = "stg";
          ns::ChunkInput in1;
          in1.n = n_cells_total;
          in1.params = cells_cols.data();
          ns::ChunkOutput out1;
          const auto t1 = std::chrono::steady_clock::now();
          be->run(s1, in1, out1);
          const double w1 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
          ratio = rate / (double(n_cells_total) * double(s.sim.n_analysis) / w1 / 3.0);
        }
        if (json)
          std::printf("{\"model\":\"%s\",\"backend\":\"%s\",\"device\":\"%s\",\"precision\":\"%s\",\"gating\":\"%s\",\"threads\":%d,\"n\":%zu,\"steps\":%lld,\"wall_s\":%.4f,\"neuron_steps_per_s\":%.4e,\"peak_rss_mb\":%.1f,\"ratio_to_3_neurons\":%.4f}\n",
                      model.c_str(), be->name().c_str(), be->device().c_str(), p.c_str(), g.c_str(), th, n,
                      static_cast<long long>(s.sim.n_analysis), wall, rate, peak_rss_mb(), ratio);
        else
          std::printf("%-8s %-7s %-7d %8lld %10.3f %14.4e %12.4e%s\n", p.c_str(), g.c_str(), th,
                      static_cast<long long>(s.sim.n_analysis), wall, rate, rate / th,
                      circuit ? ("  (network-steps/s; ratio to single-neuron rate / 3: " + std::to_string(ratio) + ")").c_str() : "");
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
