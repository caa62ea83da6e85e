#pragma once
// The one parser of classifier settings. Each classifier lists its keys once (name, integer or
// real, allowed range, the rule as users read it, struct member); reading a spec's "classifier"
// object, checking every value and writing the settings back to the database all come from that
// table, for the single-neuron, point-neuron and network classifiers alike.
#include <cmath>
#include <cstddef>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "errors.hpp"

namespace ns {

template <class S>
struct SettingKey {
  const char* name;
  bool integer;
  double lo, hi;  // allowed range
  bool lo_open;   // lo excluded
  const char* rule;
  int S::*ip;     // integer keys
  double S::*dp;  // real keys
};

// "a, b, c": the names of a key table.
template <class S, size_t N>
std::string setting_names(const SettingKey<S> (&keys)[N]) {
  std::string known;
  for (const auto& k : keys) known += std::string(known.empty() ? "" : ", ") + k.name;
  return known;
}

// Reads the keys of object j (path: its place in the spec, e.g. "classifier" or
// "classifier.network") into s. A null j leaves the defaults. A key that is not in the table is
// copied into *rest when rest is given (for another table), else an error listing the known keys.
// Every error is a SpecError "<source>: <path>.<key> = <value>: <what it must be>".
template <class S, size_t N>
void read_settings(const nlohmann::json& j, const SettingKey<S> (&keys)[N], S& s,
                   const std::string& source, const std::string& path, nlohmann::json* rest) {
  auto bad = [&](const std::string& key, const nlohmann::json& v, const std::string& why) {
    std::ostringstream os;
    os << source << ": " << path << (key.empty() ? "" : ".") << key << " = " << v.dump() << ": " << why;
    throw SpecError(os.str());
  };
  if (j.is_null()) return;
  if (!j.is_object()) bad("", j, "must be an object of settings");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const SettingKey<S>* key = nullptr;
    for (const auto& k : keys)
      if (it.key() == k.name) key = &k;
    if (!key) {
      if (rest) {
        (*rest)[it.key()] = it.value();
        continue;
      }
      bad(it.key(), it.value(), "unknown key (known: " + setting_names(keys) + ")");
    }
    const nlohmann::json& v = it.value();
    const double x = v.is_number() ? v.get<double>() : NAN;
    const bool ok = v.is_number() && std::isfinite(x) && (key->lo_open ? x > key->lo : x >= key->lo) &&
                    x <= key->hi && (!key->integer || x == std::floor(x));
    if (!ok) bad(key->name, v, std::string("must be ") + key->rule);
    if (key->integer)
      s.*(key->ip) = static_cast<int>(x);
    else
      s.*(key->dp) = x;
  }
}

// Every key of the table with its value in s, added to object j (the database's record).
template <class S, size_t N>
void write_settings(const SettingKey<S> (&keys)[N], const S& s, nlohmann::json& j) {
  for (const auto& k : keys) {
    if (k.integer)
      j[k.name] = s.*(k.ip);
    else
      j[k.name] = s.*(k.dp);
  }
}

}  // namespace ns
