// Network classifier: see classify_network.hpp and docs/CLASSIFIER.md, section "Networks".
#include "classify/classify_network.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "classify/feature_table.hpp"
#include "classify/settings_table.hpp"
#include "errors.hpp"

namespace ns {

const std::vector<std::string>& network_label_names() {
  static const std::vector<std::string> v = {"not_rhythmic", "rhythmic", "triphasic", "pyloric_like"};
  return v;
}

const char* network_label_name(int label) { return label_of(network_label_names(), label); }

// P04 experimental reference (mean +- SD), as given identically by MKL20 find_pyloric.py and
// HOY isPyloric.m (reference section 4.7).
const MeasureRef kPyloricReference[kNumPyloricMeasures] = {
    {"period_ms", 1509, 279},
    {"burst_abpd_ms", 582, 133},
    {"burst_lp_ms", 399, 113},
    {"burst_py_ms", 530, 150},
    {"gap_abpd_lp_ms", 221, 109},
    {"gap_lp_py_ms", -61, 60},
    {"delay_abpd_lp_ms", 803, 169},
    {"delay_abpd_py_ms", 1141, 216},
    {"duty_abpd", 0.385, 0.040},
    {"duty_lp", 0.264, 0.059},
    {"duty_py", 0.348, 0.054},
    {"phase_gap_abpd_lp", 0.148, 0.065},
    {"phase_gap_lp_py", -0.040, 0.034},
    {"phase_lp", 0.533, 0.054},
    {"phase_py", 0.758, 0.060},
};

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
static_assert(sizeof(NetworkFeatures) == kNumNetworkFeatures * sizeof(float), "columns");

using NS_ = NetworkClassifierSettings;
const SettingKey<NS_> kNKeys[] = {
    {"ref_cell", true, 0, 15, false, "a cell index in [0, 15]", &NS_::ref_cell, nullptr},
    {"lp_cell", true, 0, 15, false, "a cell index in [0, 15]", &NS_::lp_cell, nullptr},
    {"py_cell", true, 0, 15, false, "a cell index in [0, 15]", &NS_::py_cell, nullptr},
    {"modulated_tonic_fraction", false, 0, 1, true, "a number in (0, 1]", nullptr, &NS_::modulated_tonic_fraction},
    {"min_cycles", true, 1, 1e6, false, "an integer >= 1", &NS_::min_cycles, nullptr},
    {"period_tolerance", false, 0, 1e9, true, "a number > 0", nullptr, &NS_::period_tolerance},
    {"triphasic_fraction", false, 0, 1, true, "a number in (0, 1]", nullptr, &NS_::triphasic_fraction},
    {"pyloric_fraction", false, 0, 1, true, "a number in (0, 1]", nullptr, &NS_::pyloric_fraction},
    {"within_sd", false, 0, 1e9, true, "a number > 0", nullptr, &NS_::within_sd},
};

float f32(double x) { return static_cast<float>(x); }

}  // namespace

NetworkClassifierSettings NetworkClassifierSettings::from_json(const nlohmann::json& j,
                                                               const std::string& source,
                                                               ClassifierSettings* cell) {
  NetworkClassifierSettings s;
  nlohmann::json rest = j;
  nlohmann::json net;
  if (j.is_object() && j.contains("network")) {
    net = j["network"];
    rest.erase("network");
    if (!net.is_object()) {  // null included (read_settings takes null for "all defaults")
      std::ostringstream os;
      os << source << ": classifier.network = " << net.dump() << ": must be an object of settings";
      throw SpecError(os.str());
    }
  }
  const ClassifierSettings cs = ClassifierSettings::from_json(rest, source);
  if (cell) *cell = cs;
  read_settings(net, kNKeys, s, source, "classifier.network", nullptr);
  if (s.ref_cell == s.lp_cell || s.ref_cell == s.py_cell || s.lp_cell == s.py_cell) {
    std::ostringstream os;
    os << source << ": classifier.network.ref_cell = " << net.dump()
       << ": ref_cell, lp_cell and py_cell must be three different cells";
    throw SpecError(os.str());
  }
  return s;
}

nlohmann::json NetworkClassifierSettings::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  write_settings(kNKeys, *this, j);
  return j;
}

const std::vector<std::pair<std::string, std::string>>& network_feature_columns() {
  static const std::vector<std::pair<std::string, std::string>> v = [] {
    std::vector<std::pair<std::string, std::string>> c;
    for (const auto& m : kPyloricReference) {
      const std::string n = m.name;
      c.emplace_back(n, n.size() > 3 && n.compare(n.size() - 3, 3, "_ms") == 0 ? "ms" : "1");
    }
    c.emplace_back("period_cv", "1");
    c.emplace_back("spikes_per_burst_abpd", "1");
    c.emplace_back("spikes_per_burst_lp", "1");
    c.emplace_back("spikes_per_burst_py", "1");
    c.emplace_back("n_cycles", "1");
    c.emplace_back("triphasic_share", "1");
    c.emplace_back("pyloric_share", "1");
    c.emplace_back("n_within_2sd", "1");
    return c;
  }();
  return v;
}

void network_feature_values(const NetworkFeatures& f, float* out) {
  std::memcpy(out, &f, sizeof(NetworkFeatures));
}

CellBursts segment_bursts(const float* spikes, uint32_t n, bool truncated, double analysis_ms,
                          const ClassifierSettings& cs, const NetworkClassifierSettings& ns) {
  CellBursts b;
  if (n < 2) return b;
  double mn = std::numeric_limits<double>::infinity(), mx = 0, sum = 0;
  for (uint32_t i = 0; i + 1 < n; ++i) {
    const double d = double(spikes[i + 1]) - double(spikes[i]);
    mn = std::min(mn, d);
    mx = std::max(mx, d);
    sum += d;
  }
  const double mean = sum / double(n - 1);
  // IBI threshold of the Prinz routine (reference section 3.2).
  double thr;
  if (mx < cs.modulated_tonic_ratio * mn)
    thr = ns.modulated_tonic_fraction * mx;
  else if (mx > cs.ibi_max_over_mean * mean)
    thr = cs.ibi_fraction_of_max * mx;
  else
    thr = mean;
  thr = std::min(thr, cs.ibi_threshold_max_ms);
  b.ibi_threshold_ms = thr;
  const double head = double(spikes[0]);
  const double tail = analysis_ms - double(spikes[n - 1]);
  uint32_t start = 0;
  while (start < n) {
    uint32_t end = start;
    while (end + 1 < n && !(double(spikes[end + 1]) - double(spikes[end]) > thr)) ++end;
    b.onset.push_back(double(spikes[start]));
    b.offset.push_back(double(spikes[end]));
    b.n_spikes.push_back(static_cast<int>(end - start + 1));
    b.complete_on.push_back(start > 0 || head > thr ? 1 : 0);
    b.complete_off.push_back(end + 1 < n || (!truncated && tail > thr) ? 1 : 0);
    start = end + 1;
  }
  return b;
}

namespace {
// Index of the first complete-onset burst of b with onset in [t0, t1), and how many there are.
int bursts_in(const CellBursts& b, double t0, double t1, int& first) {
  int cnt = 0;
  first = -1;
  for (size_t k = 0; k < b.onset.size(); ++k)
    if (b.complete_on[k] && b.onset[k] >= t0 && b.onset[k] < t1) {
      if (cnt == 0) first = static_cast<int>(k);
      ++cnt;
    }
  return cnt;
}
}  // namespace

NetworkClassification classify_network(int n_cells, const float* const* spikes, const uint32_t* n_kept,
                                       const uint32_t* n_total, double analysis_ms, uint8_t status,
                                       const ClassifierSettings& cs, const NetworkClassifierSettings& ns) {
  NetworkClassification out;
  out.label = kNetUnclassified;
  float* fv = reinterpret_cast<float*>(&out.f);
  std::fill(fv, fv + kNumNetworkFeatures, kNaN);
  if (status != 0 || !(analysis_ms > 0) || !std::isfinite(analysis_ms)) return out;
  // Roles: the reference (pacemaker) cell always; LP and PY both, or neither (lp_cell = py_cell =
  // -1: circuits without pyloric roles get the rhythm measures of the reference cell only).
  const bool pyloric = ns.lp_cell >= 0 || ns.py_cell >= 0;
  const int roles[3] = {ns.ref_cell, ns.lp_cell, ns.py_cell};
  for (int r = 0; r < (pyloric ? 3 : 1); ++r)
    if (roles[r] < 0 || roles[r] >= n_cells) return out;
  for (int c = 0; c < n_cells; ++c) {
    if (n_kept[c] > n_total[c] || (n_kept[c] > 0 && !spikes[c])) return out;
    for (uint32_t i = 0; i < n_kept[c]; ++i)
      if (!std::isfinite(spikes[c][i]) || (i > 0 && spikes[c][i] < spikes[c][i - 1])) return out;
  }
  CellBursts b[3];
  for (int r = 0; r < (pyloric ? 3 : 1); ++r) {
    const int c = roles[r];
    b[r] = segment_bursts(spikes[c], n_kept[c], n_total[c] > n_kept[c], analysis_ms, cs, ns);
  }
  NetworkFeatures& f = out.f;
  out.label = kNotRhythmic;
  // Cycles: consecutive complete AB/PD burst onsets. A burst with a complete onset that is
  // followed by another one has its end observed too (the IBI lies between them).
  std::vector<int> on;  // indices of complete-onset AB/PD bursts
  for (size_t k = 0; k < b[0].onset.size(); ++k)
    if (b[0].complete_on[k]) on.push_back(static_cast<int>(k));
  const int ncyc = static_cast<int>(on.size()) - 1;
  f.n_cycles = f32(std::max(ncyc, 0));
  if (ncyc < ns.min_cycles) return out;
  double pmin = std::numeric_limits<double>::infinity(), pmax = 0, psum = 0, psq = 0;
  for (int k = 0; k < ncyc; ++k) {
    const double p = b[0].onset[on[k + 1]] - b[0].onset[on[k]];
    pmin = std::min(pmin, p);
    pmax = std::max(pmax, p);
    psum += p;
  }
  const double pmean = psum / ncyc;
  for (int k = 0; k < ncyc; ++k) {
    const double p = b[0].onset[on[k + 1]] - b[0].onset[on[k]] - pmean;
    psq += p * p;
  }
  f.period_ms = f32(pmean);
  f.period_cv = f32(std::sqrt(psq / ncyc) / pmean);
  if (!((pmax - pmin) / pmean <= ns.period_tolerance)) return out;
  out.label = kRhythmic;

  // Per cycle: one burst of LP and PY with onsets inside the cycle?
  int n_tri = 0, n_pyl = 0, n_meas = 0;
  double acc[kNumPyloricMeasures] = {0};
  double spb[3] = {0, 0, 0};
  double abpd_dur = 0, abpd_spb = 0;
  for (int k = 0; k < ncyc; ++k) {
    const int a = on[k];
    const double t0 = b[0].onset[a], t1 = b[0].onset[on[k + 1]], T = t1 - t0;
    abpd_dur += b[0].offset[a] - b[0].onset[a];
    abpd_spb += b[0].n_spikes[a];
    if (!pyloric) continue;
    int il = -1, ip = -1;
    const int nl = bursts_in(b[1], t0, t1, il);
    const int np = bursts_in(b[2], t0, t1, ip);
    if (nl != 1 || np != 1) continue;
    ++n_tri;
    const bool ends = b[1].complete_off[il] && b[2].complete_off[ip];
    if (!ends) continue;
    const double a_on = t0, a_off = b[0].offset[a];
    const double l_on = b[1].onset[il], l_off = b[1].offset[il];
    const double p_on = b[2].onset[ip], p_off = b[2].offset[ip];
    // The three conditions of P04 as implemented by MKL (reference section 3.3).
    if (a_off <= l_on && l_on <= p_on && l_off <= p_off) ++n_pyl;
    const double m[kNumPyloricMeasures] = {
        T,
        a_off - a_on, l_off - l_on, p_off - p_on,
        l_on - a_off, p_on - l_off,
        l_on - a_on, p_on - a_on,
        (a_off - a_on) / T, (l_off - l_on) / T, (p_off - p_on) / T,
        (l_on - a_off) / T, (p_on - l_off) / T,
        (l_on - a_on) / T, (p_on - a_on) / T};
    for (int q = 0; q < kNumPyloricMeasures; ++q) acc[q] += m[q];
    spb[0] += b[0].n_spikes[a];
    spb[1] += b[1].n_spikes[il];
    spb[2] += b[2].n_spikes[ip];
    ++n_meas;
  }
  f.burst_abpd_ms = f32(abpd_dur / ncyc);
  f.duty_abpd = f32(abpd_dur / ncyc / pmean);
  f.spikes_per_burst_abpd = f32(abpd_spb / ncyc);
  if (!pyloric) return out;  // rhythm only: the LP/PY measures stay NaN
  f.triphasic_share = f32(double(n_tri) / ncyc);
  f.pyloric_share = f32(double(n_pyl) / ncyc);
  if (double(n_tri) < ns.triphasic_fraction * ncyc || n_meas == 0) return out;
  out.label = kTriphasic;
  float* mv = fv;  // the 15 measures are the first members, in kPyloricReference order
  int within = 0;
  for (int q = 0; q < kNumPyloricMeasures; ++q) {
    mv[q] = f32(acc[q] / n_meas);
    const auto& r = kPyloricReference[q];
    if (std::fabs(double(mv[q]) - r.mean) <= ns.within_sd * r.sd) ++within;
  }
  f.spikes_per_burst_abpd = f32(spb[0] / n_meas);
  f.spikes_per_burst_lp = f32(spb[1] / n_meas);
  f.spikes_per_burst_py = f32(spb[2] / n_meas);
  f.n_within_2sd = f32(within);
  if (double(n_pyl) >= ns.pyloric_fraction * ncyc) out.label = kPyloricLike;
  return out;
}

}  // namespace ns
