#pragma once
// Spike-source populations of a network (docs/NETWORKS.md, "Spike sources"): neurons without a
// model that emit given spike times, as NEST's spike_generator (BMTK PointNet's virtual nodes
// with a SONATA spike-train input). A population {"name", "spike_times": {"file", "group"}, "size"}
// reads the group's 1-D datasets `index` (0-based neuron within the population) and `time` (ms
// from the start of the simulation, > 0), any order.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "neurosweep/models.hpp"

namespace ns {

struct SpikeSource {
  std::string file, group;
  // Events sorted by (step, index): emission step k of each spike (stamped t_{k+1}, as a neuron
  // that fires in step k) and the neuron. NEST's spike_generator with precise_times (BMTK's
  // setting) emits a spike at t in the step whose interval (t_k, t_{k+1}] holds t; grid-based
  // neurons ignore the offset, so t acts as t_{k+1} = ceil(t / dt) dt (Time::fromstamp).
  std::vector<int64_t> step;
  std::vector<uint32_t> index;
  uint32_t max_index = 0;  // largest index (0 when there is no spike)
  uint64_t digest = 0;     // FNV-1a of (index, time) as read: folded into the spec hash
};

// Reads `group` of the HDF5 file `file` (resolved by the caller) for time step dt_ms. Throws
// std::runtime_error naming the file, the dataset and the offending value.
std::shared_ptr<const SpikeSource> read_spike_source(const std::string& file, const std::string& group, double dt_ms);

// NEST's grid stamp of an off-grid time (nestkernel/nest_time.cpp, Time::fromstamp with 1000 tics
// per ms): the step s with s dt >= t > (s - 1) dt.
int64_t nest_stamp_steps(double t_ms, double dt_ms);

// The model description of a spike-source population (no parameters, no state): what
// NetPopulation::desc points to, so code that walks the populations needs no special case.
const ModelDesc& spike_source_desc();

}  // namespace ns
