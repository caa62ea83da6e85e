// Benchmark of the Potjans & Diesmann (2014) microcircuit at scale 0.1 (sweeps/pd14_scale01.json;
// docs/NETWORKS.md "PD14"): one network run by NetworkRunner on 1 and 2 threads; prints wall and
// CPU seconds per second of biological time, neuron updates and synaptic events per CPU second,
// the memory of one instance (connectivity with per-synapse weights and delays, neuron states,
// ring buffers), and NEST 3.10's times for the same spec from tests/data/pd14_nest.json
// (tests/data/make_pd14_nest.py, nest.Simulate, 1 thread).
//
//   build/pd14_bench [--json] [spec=sweeps/pd14_scale01.json] [reference=tests/data/pd14_nest.json] [bio_ms=1000]
//                    [max_threads=2]
// (run from the repository root; --json prints one JSON record per line, for bench/run_bench.py)
#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "network/run_network.hpp"
#include "run/evaluate.hpp"
#include "run/run.hpp"
#include "spec/spec.hpp"

using json = nlohmann::json;
using namespace ns;

static double cpu_now() {
  timespec c;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
  return double(c.tv_sec) + 1e-9 * double(c.tv_nsec);
}

int main(int argc, char** argv) {
  bool as_json = false;
  std::vector<std::string> pos;
  for (int a = 1; a < argc; ++a) {
    if (std::string(argv[a]) == "--json") as_json = true;
    else pos.emplace_back(argv[a]);
  }
  const std::string spec_path = pos.size() > 0 ? pos[0] : "sweeps/pd14_scale01.json";
  const std::string ref_path = pos.size() > 1 ? pos[1] : "tests/data/pd14_nest.json";
  const double bio_ms = pos.size() > 2 ? std::stod(pos[2]) : 1000.0;
  const int max_threads = pos.size() > 3 ? std::stoi(pos[3]) : 2;
  std::ifstream f(spec_path);
  if (!f) {
    std::fprintf(stderr, "pd14_bench: cannot read %s (run from the repository root)\n", spec_path.c_str());
    return 2;
  }
  json j = json::parse(f);
  j["transient"] = "0 ms";
  j["analysis"] = std::to_string(bio_ms) + " ms";
  for (int threads = 1; threads <= max_threads; ++threads) {
    // threads instances (one network per thread), so that 2 threads do twice the work
    j["axes"] = json::array({json{{"kind", "list"}, {"param", "bg_rate"}, {"values", json::array()}}});
    for (int k = 0; k < threads; ++k) j["axes"][0]["values"].push_back(8.0);
    // shared connectivity: the first run draws it (and the per-synapse weights and delays), the
    // second finds it in the cache and only simulates
    j["network"]["connectivity"] = "shared";
    const RunSpec r = parse_spec(j, spec_path);
    const size_t n = r.sweep.size();
    NetworkRunner run(r.network, run_settings(r, 100, threads));
    std::vector<double> p(r.model->params.size() * n);
    r.sweep.fill(0, n, p.data());
    ChunkInput in;
    in.n = n;
    in.params = p.data();
    ChunkOutput out;
    for (int pass = 0; pass < 2; ++pass) {
      const double c0 = cpu_now();
      const auto t0 = std::chrono::steady_clock::now();
      run.run(in, out);
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double cpu = cpu_now() - c0;
      const double bio_s = bio_ms * 1e-3 * double(n);
      rusage ru;
      getrusage(RUSAGE_SELF, &ru);
      if (as_json) {
        const json rec = {{"bench", "network"}, {"model", "pd14_scale01"}, {"n", n}, {"threads", threads},
                          {"pass", pass ? "simulation only" : "with the connectivity draw"},
                          {"wall_s_per_bio_s", wall / bio_s}, {"cpu_s_per_bio_s", cpu / bio_s},
                          {"neuron_updates_per_cpu_s", double(run.neuron_updates()) / cpu},
                          {"synaptic_events_per_cpu_s", double(run.synaptic_events()) / cpu},
                          {"connectivity_mib", double(run.connectivity_bytes()) / 1048576.0},
                          {"state_mib", double(run.last_state_bytes()) / 1048576.0},
                          {"peak_rss_mib", double(ru.ru_maxrss) / 1024.0}};
        std::printf("%s\n", rec.dump().c_str());
        continue;
      }
      std::printf("neurosweep, %d thread(s), %zu network(s), %s: %.2f s wall, %.2f s CPU per network-second of "
                  "biological time; %.3g neuron updates, %.3g synaptic events per CPU s; connectivity %.1f MiB "
                  "(weights, delays included; shared), state %.1f MiB per instance; peak RSS %.0f MiB\n",
                  threads, n, pass ? "simulation only" : "with the connectivity draw", wall / bio_s, cpu / bio_s,
                  double(run.neuron_updates()) / cpu, double(run.synaptic_events()) / cpu,
                  double(run.connectivity_bytes()) / 1048576.0, double(run.last_state_bytes()) / 1048576.0,
                  double(ru.ru_maxrss) / 1024.0);
    }
  }
  std::ifstream g(ref_path);
  if (g) {
    const json ref = json::parse(g);
    const double t = (double(ref["transient_ms"]) + double(ref["analysis_ms"])) * 1e-3;
    for (const auto& run : ref["runs"]) {
      if (as_json) {
        const json rec = {{"bench", "network"}, {"model", "pd14_scale01"},
                          {"reference", "nest " + std::string(ref["nest_version"]) + " (tests/data/pd14_nest.json)"},
                          {"seed", run["seed"]}, {"threads", run["threads"]},
                          {"wall_s_per_bio_s", double(run["wall_s"]) / t}, {"cpu_s_per_bio_s", double(run["cpu_s"]) / t},
                          {"build_s", run["build_s"]}};
        std::printf("%s\n", rec.dump().c_str());
        continue;
      }
      std::printf("NEST %s seed %d (%d thread): %.2f s wall, %.2f s CPU per second of biological time (Simulate); "
                  "build %.1f s\n",
                  std::string(ref["nest_version"]).c_str(), int(run["seed"]), int(run["threads"]),
                  double(run["wall_s"]) / t, double(run["cpu_s"]) / t, double(run["build_s"]));
    }
  }
  return 0;
}
