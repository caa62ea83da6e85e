#include "spec/validate.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "errors.hpp"
#include "spec/spec.hpp"

namespace ns {
namespace {

std::string num(double x) {
  std::ostringstream o;
  o.precision(10);
  o << x;
  return o.str();
}


std::string with_unit(double x, const char* unit) {
  const std::string u = unit ? unit : "";
  return num(x) + (u.empty() || u == "1" || u == "bool" ? "" : " " + u);
}

}  // namespace

std::string range_text(const ParamInfo& p) {
  const Range& r = p.range;
  const std::string n = shown_name(p.name);
  const bool lo = std::isfinite(r.lo), hi = std::isfinite(r.hi);
  std::string s;
  if (lo && hi)
    s = num(r.lo) + (r.lo_open ? " < " : " <= ") + n + (r.hi_open ? " < " : " <= ") + num(r.hi);
  else if (lo)
    s = n + (r.lo_open ? " > " : " >= ") + num(r.lo);
  else if (hi)
    s = n + (r.hi_open ? " < " : " <= ") + num(r.hi);
  if (r.integer) s = n + ": a whole number" + (s.empty() ? "" : " with " + s);
  return s;
}

std::string range_violation(const ParamInfo& p, double x) {
  if (p.range.admits(x)) return "";
  std::string t = range_text(p);
  if (t.empty()) t = shown_name(p.name) + " finite";
  if (p.source && *p.source) t += std::string(" (") + p.source + ")";
  return t;
}

std::string rule_violation(const ModelDesc& m, const double* p, const OriginFn& origin) {
  if (!m.check) return "";
  const std::string rule = m.check(m, p);
  if (rule.empty()) return "";
  // The values of the parameters the rule names (identifiers of the rule text, in order).
  std::vector<int> named;
  for (size_t i = 0; i < rule.size();) {
    if (std::isalpha(static_cast<unsigned char>(rule[i])) || rule[i] == '_') {
      size_t j = i;
      while (j < rule.size() && (std::isalnum(static_cast<unsigned char>(rule[j])) || rule[j] == '_' || rule[j] == '.')) ++j;
      std::string id = rule.substr(i, j - i);
      while (!id.empty() && id.back() == '.') id.pop_back();
      int k = m.param_index(id);
      if (k < 0) k = m.param_index(std::string(1, kHiddenPrefix) + id);
      if (k >= 0 && std::find(named.begin(), named.end(), k) == named.end()) named.push_back(k);
      i = j;
    } else {
      ++i;
    }
  }
  std::string vals;
  for (int k : named) {
    const ParamInfo& pi = m.params[static_cast<size_t>(k)];
    std::string o = origin ? origin(k) : "";
    vals += (vals.empty() ? "" : ", ") + shown_name(pi.name) + " = " + with_unit(p[k], pi.unit) + (o.empty() ? "" : " (" + o + ")");
  }
  return "model \"" + m.name + "\" requires " + rule + (vals.empty() ? "" : "; got " + vals);
}

std::string params_violation(const ModelDesc& m, const double* p, const OriginFn& origin) {
  for (size_t k = 0; k < m.params.size(); ++k) {
    const std::string v = range_violation(m.params[k], p[k]);
    if (!v.empty()) {
      const std::string o = origin ? origin(static_cast<int>(k)) : "";
      return "parameter " + shown_name(m.params[k].name) + " = " + with_unit(p[k], m.params[k].unit) +
             (o.empty() ? "" : " (" + o + ")") + ": expected " + v;
    }
  }
  return rule_violation(m, p, origin);
}

void validate_params(const ModelDesc& m, const std::vector<double>& p, const std::string& where,
                     const OriginFn& origin) {
  const std::string v = params_violation(m, p.data(), origin);
  if (!v.empty()) throw SpecError(where + ": " + v);
}

namespace {

// Sweeps above kMaxRuleInstances: the rules on every combination of candidate values, one candidate
// set per axis: its values (grid, list, linked, categorical) or the corners of its ranges (random,
// Sobol: each parameter at low or high; the draws come arbitrarily close to them, and the rules are
// monotone in each parameter, so a rule broken near a corner is broken at it). Skipped (and said
// nowhere else) when even that product exceeds kMaxRuleInstances.
void check_rule_corners(const std::string& source, const ModelDesc& m, const Sweep& sweep, const OriginFn& origin) {
  const auto& axes = sweep.axes();
  std::vector<std::vector<std::vector<double>>> cand(axes.size());  // axis -> candidate -> values
  long double total = 1;
  for (size_t a = 0; a < axes.size(); ++a) {
    const AxisInfo& ax = axes[a];
    const size_t k = ax.params.size();
    if (is_sampled(ax.kind)) {
      if (k > 20) return;
      for (uint64_t c = 0; c < (uint64_t(1) << k); ++c) {
        std::vector<double> v(k);
        for (size_t q = 0; q < k; ++q) v[q] = (c >> q) & 1 ? ax.high[q] : ax.low[q];
        cand[a].push_back(std::move(v));
      }
    } else {
      for (uint64_t j = 0; j < ax.size; ++j) {
        std::vector<double> v(k);
        for (size_t q = 0; q < k; ++q) v[q] = ax.values[q * ax.size + j];
        cand[a].push_back(std::move(v));
      }
    }
    total *= static_cast<long double>(cand[a].size());
  }
  if (total > static_cast<long double>(kMaxRuleInstances)) return;
  std::vector<double> p = sweep.base_params();
  std::vector<size_t> digit(axes.size(), 0);
  for (uint64_t it = 0; it < static_cast<uint64_t>(total); ++it) {
    for (size_t a = 0; a < axes.size(); ++a)
      for (size_t q = 0; q < axes[a].params.size(); ++q)
        p[static_cast<size_t>(axes[a].param_index[q])] = cand[a][digit[a]][q];
    const std::string v = rule_violation(m, p.data(), origin);
    if (!v.empty()) throw SpecError(source + ": a combination of axis values (random/Sobol axes: their range ends): " + v);
    for (size_t a = axes.size(); a-- > 0;) {
      if (++digit[a] < cand[a].size()) break;
      digit[a] = 0;
    }
  }
}

}  // namespace

void validate_sweep(const std::string& source, const ModelDesc& m, const Sweep& sweep, const OriginFn& origin) {
  // 1. The values of every axis against the ranges.
  const auto& axes = sweep.axes();
  for (size_t a = 0; a < axes.size(); ++a) {
    const AxisInfo& ax = axes[a];
    const std::string ap = source + ": axes[" + std::to_string(a) + "]";
    for (size_t q = 0; q < ax.params.size(); ++q) {
      const ParamInfo& pi = m.params[static_cast<size_t>(ax.param_index[q])];
      if (is_sampled(ax.kind)) {
        for (double x : {ax.low[q], ax.high[q]}) {
          const std::string v = range_violation(pi, x);
          if (!v.empty())
            throw SpecError(ap + ".params." + ax.params[q] + ": got the range [" + num(ax.low[q]) + ", " +
                            num(ax.high[q]) + "], which includes " + num(x) + "; expected " + v);
        }
        if (pi.range.integer)
          throw SpecError(ap + ".params." + ax.params[q] + ": " + shown_name(pi.name) +
                          " takes whole numbers only; expected a grid, list or linked axis, not a " + to_string(ax.kind) + " range");
        continue;
      }
      for (uint64_t j = 0; j < ax.size; ++j) {
        const double x = ax.values[q * ax.size + j];
        const std::string v = range_violation(pi, x);
        if (v.empty()) continue;
        std::string where = ap;
        if (ax.kind == AxisKind::kCategorical) where += ".presets[" + std::to_string(j) + "] (\"" + ax.labels[j] + "\")";
        else if (ax.kind == AxisKind::kLinked) where += ".params." + ax.params[q] + "[" + std::to_string(j) + "]";
        else where += " (" + std::string(to_string(ax.kind)) + " over " + ax.params[q] + "), value " + std::to_string(j);
        throw SpecError(where + ": got " + shown_name(pi.name) + " = " + with_unit(x, pi.unit) + "; expected " + v);
      }
    }
  }
  // 2. The cross-parameter rules on every instance (the base alone without axes).
  if (!m.check) return;
  const size_t np = sweep.n_params();
  const uint64_t n = std::max<uint64_t>(sweep.size(), 0);
  if (axes.empty() || n == 0) {
    const std::string v = rule_violation(m, sweep.base_params().data(), origin);
    if (!v.empty()) throw SpecError(source + ": " + v);
    return;
  }
  if (n > kMaxRuleInstances) {
    check_rule_corners(source, m, sweep, origin);
    return;
  }
  constexpr size_t kChunk = 4096;
  std::vector<double> cols, p(np);
  for (uint64_t i0 = 0; i0 < n; i0 += kChunk) {
    const size_t c = static_cast<size_t>(std::min<uint64_t>(kChunk, n - i0));
    cols.resize(np * c);
    sweep.fill(i0, c, cols.data());
    for (size_t j = 0; j < c; ++j) {
      for (size_t k = 0; k < np; ++k) p[k] = cols[k * c + j];
      const std::string v = rule_violation(m, p.data(), origin);
      if (!v.empty()) throw SpecError(source + ": instance " + std::to_string(i0 + j) + " of the sweep: " + v);
    }
  }
}

std::string dt_violation(double dt_ms, double analysis_ms) {
  if (!(dt_ms <= kMaxDtMs))
    return "a time step dt <= " + num(kMaxDtMs) + " ms (a coarser grid cannot resolve spikes)";
  if (!(analysis_ms / dt_ms >= static_cast<double>(kMinAnalysisSteps)))
    return "at least " + std::to_string(kMinAnalysisSteps) + " steps of dt in the analysis window (got " +
           num(analysis_ms / dt_ms) + " steps of " + num(dt_ms) + " ms in " + num(analysis_ms) +
           " ms); the detectors and the classifier measure intervals in samples";
  return "";
}

}  // namespace ns
