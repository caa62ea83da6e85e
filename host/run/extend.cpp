// Extending a sample (run/extend.hpp). Random and Sobol values are pure functions of (seed, axis
// position, parameter, draw index j), never of the count (spec/sweep.cpp), so draw j of an
// N-point sample equals draw j of a 2N-point one; instance results depend only on the instance's
// parameters and index. Hence rows [0, N) of the larger sweep equal the N rows of the database.
#include "run/extend.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "spec/spec.hpp"

namespace ns {
namespace {

using json = nlohmann::json;

// A canonical spec is JSON, plus "\nparameter_file:<values>" when the spec names one.
void split(const std::string& canonical, json& j, std::string& tail) {
  const auto nl = canonical.find('\n');
  j = json::parse(canonical.substr(0, nl));
  tail = nl == std::string::npos ? "" : canonical.substr(nl);
}

bool sampled_axis(const json& ax) {
  return ax.is_object() && ax.contains("kind") && (ax["kind"] == "random" || ax["kind"] == "sobol");
}

// Removes the count of every sampled axis; returns the counts (0 for other axes).
std::vector<uint64_t> strip_counts(json& j) {
  std::vector<uint64_t> counts;
  if (!j.contains("axes") || !j["axes"].is_array()) return counts;
  for (auto& ax : j["axes"]) {
    uint64_t c = 0;
    if (sampled_axis(ax) && ax.contains("count") && ax["count"].is_number_unsigned()) {
      c = ax["count"].get<uint64_t>();
      ax.erase("count");
    }
    counts.push_back(c);
  }
  return counts;
}

}  // namespace

std::string extension_mismatch(const std::string& old_canonical, const std::string& new_canonical) {
  json a, b;
  std::string ta, tb;
  try {
    split(old_canonical, a, ta);
    split(new_canonical, b, tb);
  } catch (const json::exception& e) {
    return std::string("its stored spec cannot be read (") + e.what() + ")";
  }
  if (ta != tb) return "its parameter_file values differ from the spec's";
  const auto ca = strip_counts(a), cb = strip_counts(b);
  if (a != b) {
    std::string keys;
    for (auto it = b.begin(); it != b.end(); ++it)
      if (!a.contains(it.key()) || a[it.key()] != it.value()) keys += (keys.empty() ? "" : ", ") + it.key();
    for (auto it = a.begin(); it != a.end(); ++it)
      if (!b.contains(it.key())) keys += (keys.empty() ? "" : ", ") + it.key();
    if (a.contains("axes") && b.contains("axes") && a["axes"].size() == b["axes"].size())
      for (size_t k = 0; k < b["axes"].size(); ++k)
        if (a["axes"][k] != b["axes"][k]) keys += " (axes[" + std::to_string(k) + "]: " + a["axes"][k].dump() + " -> " + b["axes"][k].dump() + ")";
    return "it was built from another sweep: " + keys +
           " differ; only the count of random and Sobol axes may change (the seed, ranges, axes and every other key must stay)";
  }
  const bool product = b.value("combine", "product") != "sample";
  bool grows = false;
  for (size_t k = 0; k < cb.size(); ++k) {
    if (cb[k] == ca[k]) continue;
    const std::string key = "axes[" + std::to_string(k) + "].count";
    if (cb[k] < ca[k])
      return key + ": got " + std::to_string(cb[k]) + "; expected at least " + std::to_string(ca[k]) +
             " (the database has " + std::to_string(ca[k]) + " draws; a sample can grow, not shrink)";
    if (product && k > 0)
      return key + ": got " + std::to_string(cb[k]) + " instead of " + std::to_string(ca[k]) +
             "; only the first axis of a product can grow (growing axes[" + std::to_string(k) +
             "] would reorder the rows, so the database's rows could not be kept)";
    grows = true;
  }
  if (!grows) return "the spec has the same size as the database: nothing to extend (no random or Sobol count grew)";
  return "";
}

BuildPrefix extension_prefix(const std::string& out, const RunSpec& spec, bool force) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string head = "--extend: " + out + ": ";
  if (!fs::exists(out, ec))
    throw SpecError(head + "does not exist, so there is nothing to extend (build it without --extend)");
  if (fs::exists(out + ".parts", ec) && !force)
    throw SpecError(head + "an unfinished build exists (" + out + ".parts); continue it with --resume, or start over with --extend --force");
  DbSummary s;
  try {
    s = inspect(out);
  } catch (const DatabaseError& e) {
    throw SpecError(head + "cannot be extended: " + e.what());
  }
  if (s.state != "complete")
    throw SpecError(head + "is a " + s.state + " database; only a complete (merged) database can be extended");
  const auto it = s.attrs.find("spec");
  if (it == s.attrs.end() || !std::holds_alternative<std::string>(it->second))
    throw SpecError(head + "has no stored spec (root attribute 'spec')");
  const std::string why = extension_mismatch(std::get<std::string>(it->second), spec.canonical);
  if (!why.empty()) throw SpecError(head + "cannot be extended by " + spec.source + ": " + why);
  if (s.n_rows != s.n_instances || s.first_index != 0 || s.n_rows >= spec.sweep.size())
    throw SpecError(head + "has " + std::to_string(s.n_rows) + " rows of " + std::to_string(s.n_instances) +
                    " instances; the spec has " + std::to_string(spec.sweep.size()));
  BuildPrefix p;
  p.n_rows = s.n_rows;
  p.spec_hash = s.spec_hash;
  return p;
}

}  // namespace ns
