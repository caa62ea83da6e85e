#pragma once
// The table that fixes a classifier's feature order (name, unit, struct member), and the few
// things every classifier derives from it: the (name, unit) list for the database schema, the
// values in that order, an all-NaN feature struct, and label lookup by value.
#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace ns {

template <class F>
struct FeatureColumn {
  const char* name;
  const char* unit;
  float F::*member;
};

template <class F, size_t N>
std::vector<std::pair<std::string, std::string>> feature_names(const FeatureColumn<F> (&cols)[N]) {
  static_assert(sizeof(F) == N * sizeof(float), "the column table must list every feature");
  std::vector<std::pair<std::string, std::string>> r;
  for (const auto& c : cols) r.emplace_back(c.name, c.unit);
  return r;
}

template <class F, size_t N>
void feature_values_of(const FeatureColumn<F> (&cols)[N], const F& f, float* out) {
  for (size_t k = 0; k < N; ++k) out[k] = f.*(cols[k].member);
}

template <class F, size_t N>
F nan_features_of(const FeatureColumn<F> (&cols)[N]) {
  F f;
  for (const auto& c : cols) f.*(c.member) = std::numeric_limits<float>::quiet_NaN();
  return f;
}

// Name of a label value; "unclassified" for -1 and out-of-range values.
inline const char* label_of(const std::vector<std::string>& names, int label) {
  if (label < 0 || label >= static_cast<int>(names.size())) return "unclassified";
  return names[static_cast<size_t>(label)].c_str();
}

}  // namespace ns
