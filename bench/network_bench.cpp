// Benchmark of spiking-network instances (issue 16; docs/NETWORKS.md "Benchmarks"): a sweep of
// reduced Brunel model A networks (the networks of tests/data/brunel_nest.json: N_E = 2000,
// N_I = 500, C_E = 200, J = 0.5 mV) in one state, run by NetworkRunner at 1 and 2 threads; prints
// neuron updates/s, synaptic events/s and the connectivity memory (shared and per instance), and
// the same figures of NEST 3.10 (single thread) from the reference file's wall times.
//
//   build/network_bench [--json] [state=AI] [instances=4] [reference=tests/data/brunel_nest.json]
// (run from the repository root; --json prints one JSON record per line, for bench/run_bench.py)
#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "network/run_network.hpp"
#include "run/run.hpp"
#include "spec/spec.hpp"

using json = nlohmann::json;
using namespace ns;

int main(int argc, char** argv) {
  bool as_json = false;
  std::vector<std::string> pos;
  for (int a = 1; a < argc; ++a) {
    if (std::string(argv[a]) == "--json") as_json = true;
    else pos.emplace_back(argv[a]);
  }
  const std::string state = pos.size() > 0 ? pos[0] : "AI";
  const uint64_t n = pos.size() > 1 ? std::stoull(pos[1]) : 4;
  std::ifstream f(pos.size() > 2 ? pos[2] : "tests/data/brunel_nest.json");
  if (!f) {
    std::fprintf(stderr, "network_bench: cannot read the NEST reference (run from the repository root)\n");
    return 2;
  }
  const json ref = json::parse(f);
  const json& st = ref["states"][state];
  const double ne = ref["NE"], ni = ref["NI"], ce = ref["CE"], ci = ref["CI"];
  json pp = {{"E_L", 0}, {"V_m", 0}, {"V_reset", 10}, {"V_th", 20}, {"tau_m", 20}, {"t_ref", 2}, {"C_m", 1}};
  const std::string rate = "1000 * eta * 20 / (J * " + std::to_string(ce) + " * 20) * " + std::to_string(ce);
  auto spec = [&](const std::string& conn) {
    json j = {{"model", "network"}, {"dt", "0.1 ms"}, {"seed", 1},
              {"transient", std::to_string(double(ref["transient_ms"])) + " ms"},
              {"analysis", std::to_string(double(ref["analysis_ms"])) + " ms"}};
    j["network"] = {
        {"parameters", {{"J", ref["J"]}, {"g", st["g"]}, {"eta", st["eta"]}, {"D", ref["D"]}}},
        {"connectivity", conn},
        {"populations",
         {{{"name", "E"}, {"model", "iaf_psc_delta"}, {"size", ne}, {"params", pp}},
          {{"name", "I"}, {"model", "iaf_psc_delta"}, {"size", ni}, {"params", pp}}}},
        {"projections",
         {{{"source", "E"}, {"target", "E"}, {"rule", "fixed_indegree"}, {"indegree", ce}, {"weight", "J"}, {"delay", "D"}},
          {{"source", "E"}, {"target", "I"}, {"rule", "fixed_indegree"}, {"indegree", ce}, {"weight", "J"}, {"delay", "D"}},
          {{"source", "I"}, {"target", "E"}, {"rule", "fixed_indegree"}, {"indegree", ci}, {"weight", "-g*J"}, {"delay", "D"}},
          {{"source", "I"}, {"target", "I"}, {"rule", "fixed_indegree"}, {"indegree", ci}, {"weight", "-g*J"}, {"delay", "D"}}}},
        {"drives",
         {{{"target", "E"}, {"type", "poisson"}, {"rate", rate}, {"weight", "J"}},
          {{"target", "I"}, {"type", "poisson"}, {"rate", rate}, {"weight", "J"}}}}};
    // a sweep of n networks: g varied by +-1 % around the state (connectivity unchanged)
    j["axes"] = json::array({json{{"kind", "grid"}, {"param", "g"},
                                  {"linspace", {{"start", double(st["g"]) * 0.99}, {"stop", double(st["g"]) * 1.01}, {"count", n}}}}});
    return parse_spec(j, "bench");
  };
  if (!as_json)
    std::printf("state %s (g %.2f, eta %.2f), %llu networks of %g neurons, %g + %g ms\n", state.c_str(),
              double(st["g"]), double(st["eta"]), static_cast<unsigned long long>(n), ne + ni,
              double(ref["transient_ms"]), double(ref["analysis_ms"]));
  for (const char* conn : {"shared", "per_instance"})
    for (int threads : {1, 2}) {
      const RunSpec r = spec(conn);
      NetworkRunner run(r.network, run_settings(r, 100, threads));
      std::vector<double> p(r.model->params.size() * n);
      r.sweep.fill(0, n, p.data());
      ChunkInput in;
      in.n = n;
      in.params = p.data();
      ChunkOutput out;
      timespec c0, c1;
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
      const auto t0 = std::chrono::steady_clock::now();
      run.run(in, out);
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
      // per core: CPU seconds (the machine may be shared; wall time is printed beside)
      const double s = double(c1.tv_sec - c0.tv_sec) + 1e-9 * double(c1.tv_nsec - c0.tv_nsec);
      double rate_e = 0;
      for (uint64_t i = 0; i < n; ++i) rate_e += out.series_features[i * 2 * out.n_series_features] / double(n);
      const size_t mem = std::string(conn) == "shared" ? run.connectivity_bytes() : run.last_instance_bytes();
      if (as_json) {
        const json rec = {{"bench", "network"}, {"model", "brunel_" + state}, {"n", n}, {"neurons", ne + ni},
                          {"connectivity", conn}, {"threads", threads}, {"wall_s", wall}, {"cpu_s", s},
                          {"neuron_updates_per_cpu_s", double(run.neuron_updates()) / s},
                          {"synaptic_events_per_cpu_s", double(run.synaptic_events()) / s}, {"rate_e_hz", rate_e},
                          {"connectivity_mib", double(mem) / 1048576.0},
                          {"state_mib", double(run.last_state_bytes()) / 1048576.0}};
        std::printf("%s\n", rec.dump().c_str());
        continue;
      }
      std::printf("%-12s threads %d: %.2f s wall, %.2f s CPU; per CPU second: %.3g neuron updates, %.3g synaptic "
                  "events; E rate %.1f Hz, connectivity %.2f MiB (%s), state %.2f MiB per running network\n",
                  conn, threads, wall, s, double(run.neuron_updates()) / s, double(run.synaptic_events()) / s, rate_e,
                  double(mem) / 1048576.0, std::string(conn) == "shared" ? "once for all networks" : "per running network",
                  double(run.last_state_bytes()) / 1048576.0);
    }
  // NEST 3.10, one thread (tests/data/make_brunel_nest.py): the same network, wall time of
  // Simulate; events estimated from the recorded rates (each spike reaches 250 targets on
  // average: C_E (N_E + N_I) / N_E = C_I (N_E + N_I) / N_I = 250).
  const double steps = (double(ref["transient_ms"]) + double(ref["analysis_ms"])) / 0.1;
  for (const auto& run : st["runs"]) {
    const double wall = run.contains("cpu_s") ? double(run["cpu_s"]) : double(run["wall_s"]);
    const double spikes = (double(run["rate_hz"]["E"]) * ne + double(run["rate_hz"]["I"]) * ni) *
                          (double(ref["transient_ms"]) + double(ref["analysis_ms"])) * 1e-3;
    if (as_json) {
      const json rec = {{"bench", "network"}, {"model", "brunel_" + state}, {"reference", "nest 3.10 (tests/data/brunel_nest.json)"},
                        {"seed", run["seed"]}, {"threads", 1}, {"cpu_s", wall},
                        {"neuron_updates_per_cpu_s", (ne + ni) * steps / wall},
                        {"synaptic_events_per_cpu_s", spikes * ce * (ne + ni) / ne / wall}};
      std::printf("%s\n", rec.dump().c_str());
      continue;
    }
    std::printf("NEST seed %d (1 thread): %.2f s CPU; per CPU second: %.3g neuron updates, %.3g synaptic events "
                "(estimated from the rates)\n",
                int(run["seed"]), wall, (ne + ni) * steps / wall, spikes * ce * (ne + ni) / ne / wall);
  }
  return 0;
}
