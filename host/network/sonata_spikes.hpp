#pragma once
// output.sonata_spikes (docs/NETWORKS.md, "Outputs"): every spike of chosen network instances in
// the SONATA spike-file layout (SONATA data format, "Spike file": /spikes/<population>/node_ids,
// timestamps with units "ms", the group attribute sorting).
#include <string>
#include <vector>

#include "network/run_network.hpp"

namespace ns {

// <dir>/instance_<i>.h5 where dir is spec_dir relative to the database's directory (or absolute),
// default "<out>.sonata".
std::string sonata_spikes_dir(const std::string& out, const std::string& spec_dir);
std::string sonata_spikes_file(const std::string& dir, uint64_t instance);

// Writes one file atomically (temp file + rename): one SONATA population per network population
// (its name), node_ids from 0 within the population (uint64), timestamps in ms (float64) from the
// start of the analysis window, sorted by time (sorting = "by_time"). Root attributes: instance,
// status, t0 (the transient in ms: timestamp + t0 = time since the simulation start).
void write_sonata_spikes(const std::string& path, const std::vector<std::string>& pops,
                         const NetworkRunner::AllSpikes& s, uint64_t instance, double transient_ms);

}  // namespace ns
