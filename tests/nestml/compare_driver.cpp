// Runs a NESTML-generated model (the header given with -include, type NS_NESTML_MODEL) and a
// built-in model (NS_BUILTIN_MODEL, include/neurosweep/models.hpp) side by side, in double
// precision, through the same derive/init/step calls the engine makes (engine.hpp run_instance),
// and prints the steps at which each spikes. Compiled by python/tests/test_nestml.py with
// neurosweep's host flags (-ffp-contract=off). Also the compile-time check that the generated
// header implements the model concept (check_model, model_concept.hpp).
//
// stdin: one line per case: n_steps seed, then "name value" pairs for the generated model, "|",
// then pairs for the built-in model, ";" ends the line. stdout per case: "G k1 k2 ...", "B k1 ...".
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "neurosweep/models.hpp"

using Gen = NS_NESTML_MODEL;
using Ref = NS_BUILTIN_MODEL;
static_assert(ns::check_model<Gen>(), "generated NESTML model fails the model checklist");

template <class M>
std::vector<long> run(const std::vector<std::pair<std::string, double>>& set, long n, uint64_t seed) {
  std::vector<double> p(M::kNumParams);
  for (int k = 0; k < M::kNumParams; ++k) p[k] = M::kParams[k].default_value;
  for (const auto& kv : set) {
    int hit = -1;
    for (int k = 0; k < M::kNumParams; ++k)
      if (kv.first == M::kParams[k].name) hit = k;
    if (hit < 0) {
      std::fprintf(stderr, "unknown parameter %s of %s\n", kv.first.c_str(), M::kName);
      std::exit(2);
    }
    p[hit] = kv.second;
  }
  ns::SimConfig c;
  c.dt = 0.1;
  double d[M::kNumDerived];
  double s[M::kNumState];
  ns::model_derive<M, double>(ns::Strided<const double>{p.data(), 1}, d, c);
  M::template init<double>(d, s);
  std::vector<long> spikes;
  ns::Direct tab;
  for (long k = 0; k < n; ++k) {
    ns::model_step<M, double>(s, d, tab, ns::StepContext{seed, 0, k});
    if (M::spiked(s)) spikes.push_back(k + 1);
  }
  return spikes;
}

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    std::istringstream in(line);
    long n;
    uint64_t seed;
    in >> n >> seed;
    std::vector<std::pair<std::string, double>> g, b;
    auto* cur = &g;
    std::string tok;
    while (in >> tok) {
      if (tok == "|") { cur = &b; continue; }
      if (tok == ";") break;
      double v;
      in >> v;
      cur->emplace_back(tok, v);
    }
    for (int w = 0; w < 2; ++w) {
      const auto sp = w == 0 ? run<Gen>(g, n, seed) : run<Ref>(b, n, seed);
      std::cout << (w == 0 ? "G" : "B");
      for (long k : sp) std::cout << ' ' << k;
      std::cout << '\n';
    }
  }
  return 0;
}
