// Network activity classifier (Brunel 2000 vocabulary). See network_activity.hpp.
#include "classify/network_activity.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "classify/settings_table.hpp"

namespace ns {

namespace {
using S = NetActivitySettings;
const SettingKey<S> kKeys[] = {
    {"quiescent_rate_hz", false, 0, 1e9, false, "a number >= 0", nullptr, &S::quiescent_rate_hz},
    {"runaway_fraction", false, 0, 1, true, "a number in (0, 1]", nullptr, &S::runaway_fraction},
    {"regular_cv", false, 0, 1e9, true, "a number > 0", nullptr, &S::regular_cv},
    {"sync_corr_min", false, 0, 1, true, "a number in (0, 1]", nullptr, &S::sync_corr_min},
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

// Interface stub (issue 16): features and labels land in the next commits.
NetActivityResult classify_network_activity(const std::vector<PopActivity>& pops, const NetActivitySettings&) {
  NetActivityResult r;
  r.label = "unclassified";
  for (size_t i = 0; i < pops.size(); ++i) r.pops.push_back({NAN, NAN, NAN, NAN, NAN});
  return r;
}

}  // namespace ns
