// Network activity classifier (Brunel 2000 vocabulary). See network_activity.hpp.
#include "classify/network_activity.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "classify/settings_table.hpp"

namespace ns {

namespace {
using S = NetActivitySettings;
const SettingKey<S> kKeys[] = {
    {"quiescent_rate_hz", false, 0, 1e9, false, "a number >= 0", nullptr, &S::quiescent_rate_hz},
    {"runaway_fraction", false, 0, 1, true, "a number in (0, 1]", nullptr, &S::runaway_fraction},
    {"regular_cv", false, 0, 1e9, true, "a number > 0", nullptr, &S::regular_cv},
    {"sync_kappa_min", false, 0, 1e9, true, "a number > 0", nullptr, &S::sync_kappa_min},
    {"sync_peak_ratio", false, 1, 1e9, false, "a number >= 1", nullptr, &S::sync_peak_ratio},
    {"sync_kappa_osc_min", false, 0, 1e9, false, "a number >= 0", nullptr, &S::sync_kappa_osc_min},
    {"sync_z", false, 0, 1e9, false, "a number >= 0", nullptr, &S::sync_z},
    {"si_fast_min_hz", false, 0, 1e9, true, "a number > 0", nullptr, &S::si_fast_min_hz},
    {"cv_min_spikes", true, 3, 1e6, false, "an integer >= 3", &S::cv_min_spikes, nullptr},
    {"sync_bin_ms", false, 0, 1e9, true, "a number > 0", nullptr, &S::sync_bin_ms},
    {"welch_segment_ms", false, 0, 1e9, true, "a number > 0", nullptr, &S::welch_segment_ms},
    {"osc_min_hz", false, 0, 1e9, false, "a number >= 0", nullptr, &S::osc_min_hz},
    {"osc_max_hz", false, 0, 1e9, true, "a number > 0", nullptr, &S::osc_max_hz},
    {"osc_floor_octaves", false, 0, 10, true, "a number in (0, 10]", nullptr, &S::osc_floor_octaves},
    {"osc_halfwidth_hz", false, 0, 1e9, false, "a number >= 0", nullptr, &S::osc_halfwidth_hz},
    {"osc_peak_ratio", false, 1, 1e9, false, "a number >= 1", nullptr, &S::osc_peak_ratio},
};
}  // namespace

NetActivitySettings NetActivitySettings::from_json(const nlohmann::json& j, const std::string& source,
                                                   const std::string& path) {
  NetActivitySettings s;
  read_settings(j, kKeys, s, source, path, nullptr);
  return s;
}

nlohmann::json NetActivitySettings::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  write_settings(kKeys, *this, j);
  return j;
}

const std::vector<std::string>& network_activity_label_names() {
  static const std::vector<std::string> v = {"quiescent", "AI", "AR", "SR", "SI_fast", "SI_slow", "runaway"};
  return v;
}

int network_activity_label_index(const std::string& label) {
  const auto& v = network_activity_label_names();
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] == label) return static_cast<int>(i);
  return -1;
}

const std::vector<std::pair<std::string, std::string>>& network_activity_feature_columns() {
  static const std::vector<std::pair<std::string, std::string>> v = {
      {"rate_hz", "Hz"},       {"cv_isi", "1"},    {"synchrony_chi", "1"}, {"sync_corr", "1"},
      {"sync_kappa", "1"},     {"sync_kappa_se", "1"}, {"osc_freq_hz", "Hz"}, {"osc_power", "1"},
      {"osc_peak_ratio", "1"}, {"n_cv", "1"},      {"n_sampled", "1"}};
  return v;
}

void network_activity_feature_values(const PopFeatures& f, double* out) {
  const double v[] = {f.rate_hz,    f.cv_isi,        f.synchrony_chi,  f.sync_corr,
                      f.sync_kappa, f.sync_kappa_se, f.osc_freq_hz,    f.osc_power,
                      f.osc_peak_ratio, double(f.n_cv), double(f.n_sampled)};
  std::copy(std::begin(v), std::end(v), out);
}

namespace {

[[noreturn]] void bad(const PopActivity& p, const std::string& field, double value, const std::string& why) {
  std::ostringstream os;
  os << "network activity: population \"" << p.name << "\": " << field << " = " << value << ": " << why;
  throw std::invalid_argument(os.str());
}

double median(std::vector<double> v) {  // numpy.median: mean of the two middle values if even
  const size_t n = v.size();
  std::sort(v.begin(), v.end());
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Number of whole bins of width w in [0, len), robust to float rounding (as the generator script).
long whole_bins(double len, double w) { return static_cast<long>(std::floor(len / w + 1e-9)); }

}  // namespace

void welch_psd(const std::vector<double>& x, double fs, int nperseg, std::vector<double>& f,
               std::vector<double>& p) {
  // Welch (1967): average of modified periodograms of overlapping segments; conventions of
  // scipy.signal.welch (periodic Hann window, per-segment least-squares linear detrend, one-sided
  // density: 2 |X_k|^2 / (fs sum w^2), DC and Nyquist not doubled).
  const int n = static_cast<int>(x.size());
  f.clear();
  p.clear();
  if (nperseg < 2 || n < nperseg) return;
  const int step = nperseg - nperseg / 2;
  const int nseg = (n - nperseg) / step + 1;
  const int nf = nperseg / 2 + 1;
  std::vector<double> w(nperseg), seg(nperseg);
  double wss = 0;
  for (int i = 0; i < nperseg; ++i) {
    w[i] = 0.5 - 0.5 * std::cos(2 * M_PI * i / nperseg);
    wss += w[i] * w[i];
  }
  std::vector<double> cs(nperseg), sn(nperseg);  // twiddles e^{-2 pi i m / nperseg}
  for (int m = 0; m < nperseg; ++m) {
    cs[m] = std::cos(2 * M_PI * m / nperseg);
    sn[m] = std::sin(2 * M_PI * m / nperseg);
  }
  p.assign(nf, 0.0);
  const double tm = 0.5 * (nperseg - 1);
  double stt = 0;
  for (int i = 0; i < nperseg; ++i) stt += (i - tm) * (i - tm);
  for (int s = 0; s < nseg; ++s) {
    const double* xs = x.data() + static_cast<size_t>(s) * step;
    double mx = 0, sxt = 0;
    for (int i = 0; i < nperseg; ++i) mx += xs[i];
    mx /= nperseg;
    for (int i = 0; i < nperseg; ++i) sxt += (i - tm) * (xs[i] - mx);
    const double slope = sxt / stt;
    for (int i = 0; i < nperseg; ++i) seg[i] = (xs[i] - mx - slope * (i - tm)) * w[i];
    for (int k = 0; k < nf; ++k) {  // plain DFT: segments are a few hundred samples
      double re = 0, im = 0;
      long m = 0;
      for (int i = 0; i < nperseg; ++i, m += k) {
        const int mm = static_cast<int>(m % nperseg);
        re += seg[i] * cs[mm];
        im -= seg[i] * sn[mm];
      }
      p[k] += re * re + im * im;
    }
  }
  const double scale = 1.0 / (fs * wss * nseg);
  for (int k = 0; k < nf; ++k) {
    const bool edge = k == 0 || (nperseg % 2 == 0 && k == nf - 1);
    p[k] *= scale * (edge ? 1.0 : 2.0);
  }
  f.resize(nf);
  for (int k = 0; k < nf; ++k) f[k] = k * fs / nperseg;
}

PopFeatures network_pop_features(const PopActivity& p, const NetActivitySettings& s) {
  PopFeatures out{NAN, NAN, NAN, NAN, 0.0};
  const double len = p.t_stop_ms - p.t_start_ms;
  if (!(p.bin_ms > 0)) bad(p, "bin_ms", p.bin_ms, "must be > 0");
  if (!(len > 0)) bad(p, "t_stop_ms", p.t_stop_ms, "must be above t_start_ms (" + std::to_string(p.t_start_ms) + ")");
  if (p.n_neurons <= 0) bad(p, "n_neurons", p.n_neurons, "must be > 0");
  const long nbins = whole_bins(len, p.bin_ms);
  if (nbins < 1 || static_cast<long>(p.rate_hz.size()) != nbins)
    bad(p, "rate_hz.size()", static_cast<double>(p.rate_hz.size()),
        "must be the number of whole bins of bin_ms in the window (" + std::to_string(nbins) + ")");

  // Rate: mean population rate over the window.
  double sum = 0;
  for (float r : p.rate_hz) sum += r;
  out.rate_hz = sum / nbins;

  // Spikes of the sampled neurons inside the window.
  std::vector<std::vector<double>> tr;
  for (const auto& t : p.sample_spikes_ms) {
    std::vector<double> v;
    for (double x : t)
      if (x >= p.t_start_ms && x < p.t_stop_ms) v.push_back(x);
    std::sort(v.begin(), v.end());
    tr.push_back(std::move(v));
  }
  out.n_sampled = static_cast<int>(tr.size());

  // CV of ISIs: SD / mean of each neuron's ISIs (population SD), averaged over neurons with at
  // least cv_min_spikes spikes (Brunel 2000, section 4: CV 1 for Poisson firing, 0 for periodic).
  double cv_sum = 0;
  for (const auto& v : tr) {
    if (static_cast<int>(v.size()) < s.cv_min_spikes) continue;
    const size_t m = v.size() - 1;
    double mu = 0, var = 0;
    for (size_t i = 0; i < m; ++i) mu += v[i + 1] - v[i];
    mu /= m;
    for (size_t i = 0; i < m; ++i) var += (v[i + 1] - v[i] - mu) * (v[i + 1] - v[i] - mu);
    var /= m;
    cv_sum += std::sqrt(var) / mu;
    ++out.n_cv;
  }
  if (out.n_cv > 0) out.cv_isi = cv_sum / out.n_cv;

  // Synchrony: Golomb (2007, Scholarpedia 2:1347, eqs. 1-3) chi^2 = Var_t[mean_i s_i(t)] /
  // mean_i Var_t[s_i(t)], with s_i the spike count of sampled neuron i in bins of sync_bin_ms
  // (spikes stand in for Golomb's voltages). For n independent neurons chi^2 = 1/n; in general
  // chi^2 = 1/n + (1 - 1/n) c with c the mean pairwise covariance over the mean variance, so
  // sync_corr = (n chi^2 - 1) / (n - 1) estimates c independently of n.
  const long nb = whole_bins(len, s.sync_bin_ms);
  const size_t n = tr.size();
  if (n >= 2 && nb >= 2) {
    std::vector<double> mean_sig(nb, 0.0), c(nb);
    double var_sum = 0;
    for (const auto& v : tr) {
      std::fill(c.begin(), c.end(), 0.0);
      for (double x : v) {
        const long b = static_cast<long>(std::floor((x - p.t_start_ms) / s.sync_bin_ms + 1e-9));
        if (b >= 0 && b < nb) c[b] += 1;
      }
      double mu = 0, var = 0;
      for (long b = 0; b < nb; ++b) mu += c[b];
      mu /= nb;
      for (long b = 0; b < nb; ++b) {
        var += (c[b] - mu) * (c[b] - mu);
        mean_sig[b] += c[b] / n;
      }
      var_sum += var / nb;
    }
    double mu = 0, var = 0;
    for (long b = 0; b < nb; ++b) mu += mean_sig[b];
    mu /= nb;
    for (long b = 0; b < nb; ++b) var += (mean_sig[b] - mu) * (mean_sig[b] - mu);
    var /= nb;
    const double den = var_sum / n;
    if (den > 0) {
      const double chi2 = var / den;
      out.synchrony_chi = std::sqrt(chi2);
      out.sync_corr = (n * chi2 - 1) / (n - 1);
    } else {
      out.sync_corr = NAN;
    }
  } else {
    out.sync_corr = NAN;
  }

  // Synchrony of the whole population (finite-size aware): with x(t) the population count / N per
  // bin of bin_ms (x = rate_hz bin_ms / 1000), Var_t[x] = vbar / N + (1 - 1/N) c, where vbar is
  // the mean single-neuron count variance (measured on the sampled neurons, which accounts for
  // regular or bursty neurons; mu, i.e. Poisson, when none is sampled) and c the mean pairwise
  // covariance. sync_kappa = c / mu^2 is the squared CV of the population rate in excess of the
  // finite-size noise: 0 in expectation for independent neurons at any N, m^2/2 for a population
  // rate modulated as mu (1 + m sin), about T/bin_ms - 1 for volleys of period T. Brunel (2000,
  // section 4) calls a state synchronous when the global activity is not stationary, i.e. when
  // this excess variance does not vanish. Its standard error for independent neurons is
  // sqrt(2 / n_bins) (vbar / N) / mu^2 (variance of a sample variance of n_bins values).
  {
    const double to_count = p.bin_ms / 1000.0;
    double mu = 0, var = 0;
    for (float r : p.rate_hz) mu += r * to_count;
    mu /= nbins;
    for (float r : p.rate_hz) var += (r * to_count - mu) * (r * to_count - mu);
    var /= nbins;
    double vbar = mu;
    if (!tr.empty()) {
      std::vector<double> c(nbins);
      double vsum = 0;
      for (const auto& v : tr) {
        std::fill(c.begin(), c.end(), 0.0);
        for (double x : v) {
          const long b = static_cast<long>(std::floor((x - p.t_start_ms) / p.bin_ms + 1e-9));
          if (b >= 0 && b < nbins) c[b] += 1;
        }
        double m = 0, q = 0;
        for (long b = 0; b < nbins; ++b) m += c[b];
        m /= nbins;
        for (long b = 0; b < nbins; ++b) q += (c[b] - m) * (c[b] - m);
        vsum += q / nbins;
      }
      vbar = vsum / tr.size();
    }
    const double nn = p.n_neurons;
    if (mu > 0 && p.n_neurons >= 2) {
      out.sync_kappa = (var - vbar / nn) / (1 - 1 / nn) / (mu * mu);
      out.sync_kappa_se = std::sqrt(2.0 / nbins) * vbar / nn / (mu * mu);
    } else {
      out.sync_kappa = out.sync_kappa_se = NAN;
    }
  }

  // Oscillation: Welch spectrum of the population rate (linear detrend per segment removes slow
  // drift), peaks searched in [osc_min_hz, osc_max_hz]; a local maximum is significant when its
  // power is at least osc_peak_ratio times the floor, the median power within osc_floor_octaves
  // of it (a monotone 1/f-like drift spectrum has ratio ~1). The dominant oscillation's
  // frequency is refined by a parabola through the log power of the three bins around its peak.
  const double fs = 1000.0 / p.bin_ms;
  const int nper = static_cast<int>(std::min<long>(nbins, std::lround(s.welch_segment_ms / p.bin_ms)));
  if (nper >= 8) {
    std::vector<double> x(p.rate_hz.begin(), p.rate_hz.end()), f, pw;
    welch_psd(x, fs, nper, f, pw);
    double total = 0;
    for (size_t k = 1; k < pw.size(); ++k) total += pw[k];
    const double oct = std::pow(2.0, s.osc_floor_octaves);
    std::vector<size_t> sig;  // significant peaks, ascending frequency
    double max_sig = 0;
    for (size_t k = 1; k + 1 < f.size(); ++k) {
      if (!(f[k] >= s.osc_min_hz && f[k] <= s.osc_max_hz)) continue;
      if (!(pw[k] > pw[k - 1] && pw[k] >= pw[k + 1])) continue;
      std::vector<double> nbh;
      for (size_t q = 1; q < f.size(); ++q)
        if (f[q] >= f[k] / oct && f[q] <= f[k] * oct) nbh.push_back(pw[q]);
      const double floor = median(nbh);
      const double ratio = floor > 0 ? pw[k] / floor : INFINITY;
      out.osc_peak_ratio = std::max(out.osc_peak_ratio, ratio);
      if (ratio >= s.osc_peak_ratio) {
        sig.push_back(k);
        max_sig = std::max(max_sig, pw[k]);
      }
    }
    // The lowest significant peak with at least half the power of the strongest: the fundamental
    // of a volley train, whose harmonics have about equal power, rather than a harmonic.
    for (size_t k : sig) {
      if (pw[k] < 0.5 * max_sig) continue;
      const double a = std::log(pw[k - 1]), b = std::log(pw[k]), c = std::log(pw[k + 1]);
      const double d = a - 2 * b + c;
      const double delta = d < 0 ? 0.5 * (a - c) / d : 0.0;
      out.osc_freq_hz = f[k] + delta * (f[1] - f[0]);
      double band = 0;
      for (size_t q = 0; q < f.size(); ++q)
        if (f[q] >= f[k] - s.osc_halfwidth_hz && f[q] <= f[k] + s.osc_halfwidth_hz) band += pw[q];
      out.osc_power = total > 0 ? band / total : 0.0;
      break;
    }
  }
  return out;
}

std::string network_pop_label(const PopFeatures& f, double t_ref_ms, const NetActivitySettings& s) {
  // Brunel (2000), section 4 and Fig. 2: states by the global activity (stationary: asynchronous;
  // oscillating: synchronous) and the single-neuron firing (regular or irregular).
  if (!(f.rate_hz >= s.quiescent_rate_hz)) return "quiescent";
  if (t_ref_ms > 0 && f.rate_hz >= s.runaway_fraction * 1000.0 / t_ref_ms) return "runaway";
  const bool regular = f.cv_isi < s.regular_cv;  // NaN (too few spikes): irregular
  // Synchronous: the global activity fluctuates beyond the finite-size noise of independent
  // neurons (sync_kappa, significant at sync_z standard errors), either strongly (sync_kappa_min)
  // or as a sharp oscillation (a spectral peak sync_peak_ratio over its floor). The asynchronous
  // state of a finite network has a broad resonance (NEST, Brunel's AI point: peak ratio 7) and
  // weak excess variance (kappa 0.3-0.4); calibration: docs/CLASSIFIER.md.
  const bool excess = f.sync_kappa >= s.sync_z * f.sync_kappa_se;
  const bool sync = excess && (f.sync_kappa >= s.sync_kappa_min ||
                               (f.sync_kappa >= s.sync_kappa_osc_min && f.osc_peak_ratio >= s.sync_peak_ratio));
  if (regular) return sync ? "SR" : "AR";
  if (!sync) return "AI";
  return f.osc_freq_hz >= s.si_fast_min_hz ? "SI_fast" : "SI_slow";
}

NetActivityResult classify_network_activity(const std::vector<PopActivity>& pops, const NetActivitySettings& s) {
  NetActivityResult r;
  r.label = "unclassified";
  if (pops.empty()) return r;
  // Network label: runaway if any population runs away; quiescent if all are quiescent; else the
  // label of the largest active population (by n_neurons, the first on ties).
  int main_pop = -1;
  bool runaway = false;
  for (size_t i = 0; i < pops.size(); ++i) {
    PopFeatures f = network_pop_features(pops[i], s);
    f.label = network_pop_label(f, pops[i].t_ref_ms, s);
    runaway |= f.label == "runaway";
    if (f.label != "quiescent" && (main_pop < 0 || pops[i].n_neurons > pops[main_pop].n_neurons))
      main_pop = static_cast<int>(i);
    r.pops.push_back(std::move(f));
  }
  r.label = runaway ? "runaway" : main_pop < 0 ? "quiescent" : r.pops[main_pop].label;
  return r;
}

}  // namespace ns
