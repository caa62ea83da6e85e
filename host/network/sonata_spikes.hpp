#pragma once
// output.sonata_spikes (docs/NETWORKS.md, "Outputs"): every spike of chosen network instances in
// the SONATA spike-file layout (SONATA data format, "Spike file": /spikes/<population>/node_ids,
// timestamps with units "ms", the group attribute sorting).
#include <cstdint>
#include <string>
#include <vector>

#include "network/run_network.hpp"

namespace ns {

// <dir>/instance_<i>.h5 where dir is spec_dir relative to the database's directory (or absolute),
// default "<out>.sonata".
std::string sonata_spikes_dir(const std::string& out, const std::string& spec_dir);
std::string sonata_spikes_file(const std::string& dir, uint64_t instance);

// output.sonata_spikes.per_label / where: the instances the SONATA pass chose (explicit ones
// included), ascending, in <dir>/chosen.json ({"instances": [...]}, written atomically before the
// first file, so a resumed build writes the same instances). read: empty when the file is absent;
// throws BackendError naming the file when it is not such a list.
constexpr const char* kSonataChosenFile = "chosen.json";
std::vector<uint64_t> read_sonata_chosen(const std::string& path);
void write_sonata_chosen(const std::string& path, const std::vector<uint64_t>& instances);

// Writes one file atomically (temp file + rename): one SONATA population per network population
// (its name), node_ids from 0 within the population (uint64), timestamps in ms (float64) from the
// start of the analysis window, sorted by time (sorting = "by_time"). Root attributes: instance,
// status, t0 (the transient in ms: timestamp + t0 = time since the simulation start).
void write_sonata_spikes(const std::string& path, const std::vector<std::string>& pops,
                         const NetworkRunner::AllSpikes& s, uint64_t instance, double transient_ms);

}  // namespace ns
