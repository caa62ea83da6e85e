#pragma once
// Activity classifier for spiking networks (Brunel 2000 model A, PD14, BMTK networks): features
// per population (mean rate, mean CV of ISIs, Golomb's synchrony chi and its finite-size-corrected
// pairwise correlation, dominant oscillation of the population rate by Welch's method with a
// peak-over-floor test) and a network label in Brunel's (2000, J Comput Neurosci 8:183, section 4
// and Fig. 2) vocabulary: quiescent, AI, AR, SR, SI_fast, SI_slow, runaway. Definitions, defaults
// and their justification (calibrated on NEST 3.10 simulations of Brunel's Fig. 8 states,
// tests/data/brunel_states_nest.*): docs/CLASSIFIER.md, section "Network activity".
//
// Host only, thread safe, deterministic.
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ns {

struct PopActivity {            // one population of one network instance, analysis window only
  std::string name; int n_neurons;
  double bin_ms;                // rate bin width
  std::vector<float> rate_hz;   // population rate per bin (spikes / n_neurons / bin)
  std::vector<std::vector<double>> sample_spikes_ms; // spike times of sampled neurons
  double t_start_ms, t_stop_ms; // analysis window
  double t_ref_ms = 0;          // refractory period of the population's neurons; 0 = unknown
                                // (the runaway test is then skipped)
};

// NaN where undefined (definitions: docs/CLASSIFIER.md, "Network activity").
struct PopFeatures {
  double rate_hz;        // mean of rate_hz over the window
  double cv_isi;         // mean over sampled neurons with >= cv_min_spikes spikes of SD/mean ISI
  double synchrony_chi;  // Golomb's chi of the sampled neurons' spike counts (sync_bin_ms bins)
  double osc_freq_hz;    // frequency of the dominant significant peak of the rate spectrum
  double osc_power;      // share of the rate variance within osc_halfwidth_hz of that peak (0: none)
  // extras
  double sync_corr = 0;       // (n chi^2 - 1) / (n - 1): mean pairwise covariance / mean variance,
                              // chi corrected for the number n of sampled neurons
  double sync_kappa = 0;      // c / mu^2 from the whole population's rate: the squared CV of the
                              // population rate in excess of the finite-size noise of N
                              // independent neurons (0 for asynchronous firing, any N)
  double sync_kappa_se = 0;   // its standard error for independent neurons
  double osc_peak_ratio = 0;  // largest peak-over-floor ratio of a spectral peak in the band
  int n_cv = 0;               // sampled neurons that entered cv_isi
  int n_sampled = 0;          // sampled neurons
  std::string label;          // this population's label (same vocabulary as the network's)
};

struct NetActivitySettings {
  // Labels (docs/CLASSIFIER.md "Network activity": each value with its calibration).
  double quiescent_rate_hz = 0.1;   // population rate below this: quiescent
  double runaway_fraction = 0.8;    // rate >= this / t_ref: runaway (saturation)
  double regular_cv = 0.3;          // mean CV below this: regular
  // Synchronous: sync_kappa >= sync_z sync_kappa_se (excess variance beyond finite-size noise)
  // and either sync_kappa >= sync_kappa_min (strong global fluctuation) or a sharp oscillation
  // (osc_peak_ratio >= sync_peak_ratio with sync_kappa >= sync_kappa_osc_min).
  double sync_kappa_min = 1.0;
  double sync_peak_ratio = 12.0;
  double sync_kappa_osc_min = 0.1;
  double sync_z = 3.0;
  double si_fast_min_hz = 65.0;     // synchronous irregular with osc_freq >= this: SI_fast
  // Features.
  int cv_min_spikes = 5;            // spikes a sampled neuron needs to enter cv_isi
  double sync_bin_ms = 2.0;         // bin of the spike counts of the chi measure
  double welch_segment_ms = 256.0;  // Welch segment (Hann window, 50% overlap, linear detrend)
  double osc_min_hz = 10.0;         // band searched for the peak: excludes slow drift
  double osc_max_hz = 450.0;
  double osc_floor_octaves = 1.0;   // floor = median power within this many octaves of the peak
  double osc_halfwidth_hz = 10.0;   // osc_power integrates the peak +- this
  double osc_peak_ratio = 4.0;      // peak / floor at or above this: significant oscillation

  // j: an object of the keys above (null = defaults), found at `path` of the spec (e.g.
  // "classifier.activity"). Unknown keys, wrong types, out-of-range values throw ns::SpecError
  // "<source>: <path>.<key> = <value>: <what it must be>".
  static NetActivitySettings from_json(const nlohmann::json& j, const std::string& source,
                                       const std::string& path);
  nlohmann::json to_json() const;  // every key
};

struct NetActivityResult { std::string label; std::vector<PopFeatures> pops; };

// Labels: "quiescent", "AI", "AR", "SR", "SI_fast", "SI_slow", "runaway"; "unclassified" when
// there is no population. Invalid input (bin_ms <= 0, empty window, rate_hz not covering the
// window) throws std::invalid_argument naming the population, the field and the value.
const std::vector<std::string>& network_activity_label_names();  // index = stored label value
int network_activity_label_index(const std::string& label);       // -1 for "unclassified"/unknown

// Database columns of PopFeatures, (name, unit) in this order: rate_hz, cv_isi, synchrony_chi,
// sync_corr, sync_kappa, sync_kappa_se, osc_freq_hz, osc_power, osc_peak_ratio, n_cv, n_sampled.
const std::vector<std::pair<std::string, std::string>>& network_activity_feature_columns();
void network_activity_feature_values(const PopFeatures& f, double* out);  // same order
NetActivityResult classify_network_activity(const std::vector<PopActivity>&, const NetActivitySettings&);

// The pieces, for tests and for callers with their own data.
PopFeatures network_pop_features(const PopActivity& p, const NetActivitySettings& s);
std::string network_pop_label(const PopFeatures& f, double t_ref_ms, const NetActivitySettings& s);
// One-sided Welch power spectral density of x sampled at fs (scipy.signal.welch with window
// "hann", noverlap nperseg/2, detrend "linear", scaling "density"). f[k] = k fs / nperseg.
void welch_psd(const std::vector<double>& x, double fs, int nperseg, std::vector<double>& f,
               std::vector<double>& p);

}  // namespace ns
