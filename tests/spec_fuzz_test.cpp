// Spec fuzzer (issue 13): structural and byte-level mutations of every example spec in sweeps/,
// each parsed the way `neurosweep run` reads a spec (parse_spec_text, then the classifier stage).
// Every mutation must end in an accepted spec that passes basic invariants or in a clean SpecError;
// never another exception type (a raw library message), a crash or a hang (each parse is timed;
// ctest's timeout catches a real hang). Deterministic: a fixed seed, the same mutations every run.
// Prints the number of mutations and the slowest one.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "spec/json_input.hpp"
#include "spec/spec.hpp"
#include "classify/stage.hpp"

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int kPerSpec = 200;  // mutations per example spec (x 14 specs: > 2,000)

struct Example {
  std::string path, text;
  json doc;
};

std::vector<Example> examples() {
  std::vector<Example> out;
  for (const auto& e : fs::directory_iterator(fs::path(NS_SOURCE_DIR) / "sweeps")) {
    if (e.path().extension() != ".json") continue;
    std::ifstream f(e.path());
    std::stringstream ss;
    ss << f.rdbuf();
    out.push_back({e.path().string(), ss.str(), json::parse(ss.str(), nullptr, true, true)});
  }
  std::sort(out.begin(), out.end(), [](const Example& a, const Example& b) { return a.path < b.path; });
  return out;
}

// Every value node of a document, as JSON pointers.
void pointers(const json& v, const json::json_pointer& p, std::vector<json::json_pointer>& out) {
  out.push_back(p);
  if (v.is_object())
    for (auto it = v.begin(); it != v.end(); ++it) pointers(*it, p / it.key(), out);
  else if (v.is_array())
    for (size_t k = 0; k < v.size(); ++k) pointers(v[k], p / k, out);
}

// Replacement values: wrong types, edge numbers, big and deep values.
json odd_value(std::mt19937_64& rng) {
  static const std::vector<json> pool = {
      nullptr, true, false, 0, -1, 1, 2, -3, 17, 0.5, 1.5, -0.0, 1e-320, 1e308, -1e308,
      1e9, 4294967296.0, 18446744073709551615ull, -9223372036854775807ll - 1, 281474976710656ull,
      "", "0 ms", "-1 ms", "1e9 s", "0.05 ms", "10 s", "nan ms", "inf s", "1 parsec", "abc",
      std::string(300, 'x'), json::array(), json::object(), json::array({1, 2, 3}),
      json::array({json::array()}), json{{"value", 1}, {"unit", "ms"}}, json{{"value", -1}, {"unit", "s"}},
      json{{"start", 0}, {"stop", 1}, {"count", 3}}, json{{"start", 1}, {"stop", 0}, {"count", 1e12}},
      "grid", "random", "sobol", "list", "linked", "categorical", "product", "sample", "stg",
      "stg_circuit", "iaf_psc_exp", "pyloric", "LP4", "ABPD1", "thermalized", "database", "explicit", "cold",
      json{{"thermalize", "5 s"}}, json{{"from_database", "x.h5"}}, json{{"label", "cold"}}};
  json v = pool[rng() % pool.size()];
  if (rng() % 10 == 0) {  // nest it
    const int depth = 1 + static_cast<int>(rng() % 80);
    for (int d = 0; d < depth; ++d) v = (rng() % 2) ? json::array({v}) : json{{"k", v}};
  }
  return v;
}

std::string mutate_structure(const json& doc, std::mt19937_64& rng) {
  json d = doc;
  const int edits = 1 + static_cast<int>(rng() % 3);
  for (int e = 0; e < edits; ++e) {
    std::vector<json::json_pointer> ps;
    pointers(d, json::json_pointer(), ps);
    const auto p = ps[rng() % ps.size()];
    switch (rng() % 7) {
      case 0:  // delete the node
        if (!p.empty()) d[p.parent_pointer()].is_object()
                            ? (void)d[p.parent_pointer()].erase(p.back())
                            : d[p.parent_pointer()].erase(static_cast<size_t>(std::stoul(p.back())));
        break;
      case 1:
      case 2:  // replace it by an odd value
        d[p] = odd_value(rng);
        break;
      case 3:  // numbers: scale, negate, overflow-ish
        if (d[p].is_number()) {
          const double x = d[p].get<double>();
          const double f[] = {-1.0, 0.0, 1e6, 1e-6, 1e300, 3.0, 0.5};
          d[p] = x * f[rng() % 7];
        } else {
          d[p] = odd_value(rng);
        }
        break;
      case 4:  // add an unknown or a known key to an object
        if (d[p].is_object()) {
          const char* keys[] = {"seed", "axes", "fixed", "count", "params", "kind", "values", "bogus", "unit", "param"};
          d[p][keys[rng() % 10]] = odd_value(rng);
        } else {
          d[p] = json::array({d[p]});
        }
        break;
      case 5:  // duplicate an array element / wrap the node
        if (d[p].is_array() && !d[p].empty()) d[p].push_back(d[p][rng() % d[p].size()]);
        else d[p] = json{{"value", d[p]}};
        break;
      default:  // swap with another node
      {
        const auto q = ps[rng() % ps.size()];
        const std::string ps = p.to_string() + "/", qs = q.to_string() + "/";
        if (!p.empty() && !q.empty() && ps.rfind(qs, 0) != 0 && qs.rfind(ps, 0) != 0) {
          json a = d[p];
          d[p] = d[q];
          d[q] = a;
        }
      }
    }
  }
  return d.dump(rng() % 2 ? -1 : 1);
}

std::string mutate_bytes(const std::string& text, std::mt19937_64& rng) {
  std::string s = text;
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits && !s.empty(); ++e) {
    const size_t at = rng() % s.size();
    switch (rng() % 7) {
      case 0: s[at] = static_cast<char>(s[at] ^ (1u << (rng() % 8))); break;
      case 1: s[at] = static_cast<char>(rng() % 256); break;
      case 2: s.erase(at, 1 + rng() % 16); break;
      case 3: s.insert(at, std::string(1 + rng() % 4, "{}[],:\"0e-9.\\/*"[rng() % 15])); break;
      case 4: s.resize(at); break;  // truncate
      case 5: s.insert(at, std::string(1 + rng() % 400, '9')); break;  // a huge number
      default: s.insert(at, std::string(200 + rng() % 2000, '[')); break;  // deep nesting
    }
  }
  return s;
}

// What `run` does with a spec before any work: parse, then build the classifier stage. Returns an
// empty string for a clean outcome, else what went wrong.
std::string check(const std::string& text, const std::string& source) {
  try {
    ns::RunSpec r = ns::parse_spec_text(text, source);
    auto stage = ns::make_classifier_stage(r);
    // Accepted: it must describe a runnable sweep.
    if (r.sweep.size() == 0 || r.sweep.size() > ns::kMaxInstances) return "accepted a sweep of " + std::to_string(r.sweep.size()) + " instances";
    if (!(r.dt_ms > 0) || !std::isfinite(r.dt_ms) || r.n_analysis <= 0) return "accepted bad time settings";
    const size_t np = r.sweep.n_params();
    std::vector<double> p(np);
    for (uint64_t i : {uint64_t(0), r.sweep.size() - 1}) {
      r.sweep.fill(i, 1, p.data());
      for (size_t k = 0; k < np; ++k)
        if (!std::isfinite(p[k])) return "accepted a spec whose instance " + std::to_string(i) + " has a non-finite parameter";
    }
    if (ns::parse_spec_text(r.canonical, source).hash != r.hash) return "canonical form does not parse back to the same hash";
    return "";
  } catch (const ns::SpecError& e) {
    const std::string m = e.what();
    if (m.rfind(source, 0) != 0 && m.find(source) == std::string::npos) return "SpecError without the file name: " + m;
    return "";
  } catch (const std::exception& e) {
    return std::string("non-SpecError exception: ") + e.what();
  }
}

TEST(SpecFuzz, MutationsEndInAnAcceptedSpecOrACleanError) {
  const auto ex = examples();
  ASSERT_GE(ex.size(), 10u) << "the example specs in sweeps/ were not found";
  // The unmutated examples are valid.
  for (const auto& e : ex) ASSERT_EQ(check(e.text, e.path), "") << e.path;
  std::mt19937_64 rng(20261204);
  size_t count = 0, accepted = 0, failures = 0;
  double slowest = 0;
  std::string slowest_what;
  const fs::path dump = fs::temp_directory_path() / "neurosweep_spec_fuzz_failures";
  for (const auto& e : ex) {
    for (int k = 0; k < kPerSpec; ++k) {
      const bool structural = k % 2 == 0;
      const std::string text = structural ? mutate_structure(e.doc, rng) : mutate_bytes(e.text, rng);
      // Relative paths in a spec (parameter_file, initial.from_database) resolve against the
      // spec's directory, as for the real file.
      const std::string source = e.path;
      const auto t0 = std::chrono::steady_clock::now();
      const std::string bad = check(text, source);
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ++count;
      if (dt > slowest) {
        slowest = dt;
        slowest_what = fs::path(e.path).filename().string() + " #" + std::to_string(k) + (structural ? " (structural)" : " (bytes)");
      }
      if (bad.empty()) {
        try {
          ns::parse_spec_text(text, source);
          ++accepted;
        } catch (...) {
        }
        continue;
      }
      ++failures;
      fs::create_directories(dump);
      const fs::path f = dump / (fs::path(e.path).stem().string() + "-" + std::to_string(k) + ".json");
      std::ofstream(f) << text;
      ADD_FAILURE() << e.path << " mutation " << k << ": " << bad << " (mutated spec saved to " << f << ")";
      if (failures > 20) FAIL() << "too many failures";
    }
  }
  std::printf("spec fuzzer: %zu mutations (%zu accepted as valid), slowest %.3f s (%s)\n", count, accepted,
              slowest, slowest_what.c_str());
  EXPECT_GE(count, 2000u);
  EXPECT_LT(slowest, 2.0) << "a single spec took " << slowest << " s to parse (" << slowest_what << ")";
}

// The inputs of issue 13 finding 2, one by one: each a clean SpecError, quickly.
TEST(SpecFuzz, DeepNestingAndHugeInputsAreRefusedQuickly) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string deep;
  for (int k = 0; k < 100000; ++k) deep += "{\"a\":";
  deep += "1";
  deep += std::string(100000, '}');
  try {
    ns::parse_spec_text(deep, "deep.json");
    FAIL() << "a spec nested 100,000 levels was accepted";
  } catch (const ns::SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("nested deeper than 64"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("deep.json"), std::string::npos) << e.what();
  }
  std::string arrays = std::string(200000, '[') + std::string(200000, ']');
  EXPECT_THROW(ns::parse_spec_text(arrays, "arrays.json"), ns::SpecError);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
  // /dev/zero: refused after the size bound, not read to exhaustion.
  try {
    ns::load_spec("/dev/zero");
    FAIL() << "/dev/zero was accepted";
  } catch (const ns::SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("larger than"), std::string::npos) << e.what();
  }
  // A directory.
  try {
    ns::load_spec(NS_SOURCE_DIR);
    FAIL() << "a directory was accepted as a spec";
  } catch (const ns::SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
}

TEST(SpecFuzz, OverflowingNumbersNameTheFileAndKey) {
  const std::string base = R"({"model": "stg", "dt": "0.05 ms", "transient": "0 ms", "analysis": "1 s", )";
  for (const std::string& v : {std::string("1e999"), std::string(5000, '9'), std::string("-1e400")}) {
    try {
      ns::parse_spec_text(base + "\"seed\": " + v + "}", "ovf.json");
      FAIL() << v.substr(0, 20) << " accepted";
    } catch (const ns::SpecError& e) {
      const std::string m = e.what();
      EXPECT_EQ(m.rfind("ovf.json: seed: ", 0), 0u) << m;
      EXPECT_NE(m.find("overflows"), std::string::npos) << m;
      EXPECT_LT(m.size(), 300u) << "the message repeats the whole number";
    }
  }
  try {
    ns::parse_spec_text(base + "\"fixed\": {\"gNa\": 1}, \"axes\": [{\"kind\": \"list\", \"param\": \"gKd\", \"values\": [1, 2, 1e999]}]}", "ovf.json");
    FAIL();
  } catch (const ns::SpecError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("ovf.json: axes[0].values[2]: ", 0), 0u) << e.what();
  }
}

TEST(SpecFuzz, ParameterFileThatIsADirectoryNamesTheSpecAndKey) {
  const fs::path dir = fs::temp_directory_path() / ("ns_fuzz_pf_" + std::to_string(::getpid()));
  fs::create_directories(dir / "params.json");
  const std::string spec = R"({"model": "iaf_psc_exp", "dt": "0.1 ms", "transient": "0 ms", "analysis": "1 s",
    "classifier": {"slowest_period_ms": 250}, "parameter_file": "params.json",
    "axes": [{"kind": "grid", "param": "I_e", "linspace": {"start": 0, "stop": 1000, "count": 3}}]})";
  try {
    ns::parse_spec_text(spec, (dir / "spec.json").string());
    FAIL() << "a directory was accepted as parameter_file";
  } catch (const ns::SpecError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("spec.json: parameter_file"), std::string::npos) << m;
    EXPECT_NE(m.find("is a directory"), std::string::npos) << m;
  }
  fs::remove_all(dir);
}

}  // namespace
