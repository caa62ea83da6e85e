// Spike-source populations (spike_source.hpp, docs/NETWORKS.md "Spike sources").
#include "network/spike_source.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>

#include "neurosweep/hash.hpp"

namespace ns {

int64_t nest_stamp_steps(double t_ms, double dt_ms) {
  // Time::fromstamp(ms_stamp t): n = (tic_t)(t * TICS_PER_MS); s = n / TICS_PER_STEP;
  // if (s * MS_PER_STEP < t) ++s.
  constexpr double kTicsPerMs = 1000.0;
  const int64_t tics_per_step = static_cast<int64_t>(std::floor(dt_ms * kTicsPerMs + 0.5));
  const double ms_per_step = double(tics_per_step) / kTicsPerMs;
  const int64_t n = static_cast<int64_t>(t_ms * kTicsPerMs);
  int64_t s = n / tics_per_step;
  if (double(s) * ms_per_step < t_ms) ++s;
  return s;
}

namespace {

struct H5Closer {
  hid_t f = -1, g = -1;
  ~H5Closer() {
    if (g >= 0) H5Gclose(g);
    if (f >= 0) H5Fclose(f);
  }
};

template <class T>
std::vector<T> read_1d(hid_t g, const std::string& where, const char* name, hid_t mem_type) {
  if (H5Lexists(g, name, H5P_DEFAULT) <= 0)
    throw std::runtime_error(where + ": no dataset \"" + name + "\" (a spike source needs 1-D datasets `index` and `time`)");
  const hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
  if (d < 0) throw std::runtime_error(where + "/" + name + ": cannot open the dataset");
  const hid_t s = H5Dget_space(d);
  const int rank = H5Sget_simple_extent_ndims(s);
  hsize_t n = 0;
  if (rank == 1) H5Sget_simple_extent_dims(s, &n, nullptr);
  std::vector<T> v(static_cast<size_t>(n));
  herr_t e = rank == 1 ? 0 : -1;
  if (rank == 1 && n > 0) e = H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Sclose(s);
  H5Dclose(d);
  if (rank != 1) throw std::runtime_error(where + "/" + name + ": expected a 1-D dataset, got rank " + std::to_string(rank));
  if (e < 0) throw std::runtime_error(where + "/" + name + ": cannot read it as numbers");
  return v;
}

}  // namespace

std::shared_ptr<const SpikeSource> read_spike_source(const std::string& file, const std::string& group, double dt_ms) {
  H5Closer h;
  H5E_auto2_t fn;
  void* data;
  H5Eget_auto2(H5E_DEFAULT, &fn, &data);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  h.f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (h.f >= 0) h.g = (group.empty() || group == "/") ? H5Gopen2(h.f, "/", H5P_DEFAULT)
                     : (H5Lexists(h.f, group.c_str(), H5P_DEFAULT) > 0 ? H5Gopen2(h.f, group.c_str(), H5P_DEFAULT) : -1);
  H5Eset_auto2(H5E_DEFAULT, fn, data);
  if (h.f < 0) throw std::runtime_error(file + ": cannot open as an HDF5 file");
  if (h.g < 0) throw std::runtime_error(file + ": no group \"" + group + "\"");
  const std::string where = file + ":" + (group.empty() || group == "/" ? "" : group);
  std::vector<int64_t> idx;
  std::vector<double> t;
  {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    try {
      idx = read_1d<int64_t>(h.g, where, "index", H5T_NATIVE_INT64);
      t = read_1d<double>(h.g, where, "time", H5T_NATIVE_DOUBLE);
    } catch (...) {
      H5Eset_auto2(H5E_DEFAULT, fn, data);
      throw;
    }
    H5Eset_auto2(H5E_DEFAULT, fn, data);
  }
  if (idx.size() != t.size())
    throw std::runtime_error(where + ": datasets index (" + std::to_string(idx.size()) + ") and time (" +
                             std::to_string(t.size()) + ") differ in length");
  auto src = std::make_shared<SpikeSource>();
  src->file = file;
  src->group = group;
  uint64_t h64 = 0xcbf29ce484222325ULL;
  for (size_t e = 0; e < idx.size(); ++e) {
    if (idx[e] < 0 || idx[e] > 0xffffffffLL)
      throw std::runtime_error(where + "/index[" + std::to_string(e) + "] = " + std::to_string(idx[e]) +
                               ": expected a neuron index >= 0");
    if (!(t[e] > 0) || !std::isfinite(t[e]))
      throw std::runtime_error(where + "/time[" + std::to_string(e) + "] = " + std::to_string(t[e]) +
                               ": expected a finite time > 0 ms (NEST's spike_generator and BMTK refuse times <= 0)");
    h64 = (h64 ^ static_cast<uint64_t>(idx[e])) * 0x100000001b3ULL;
    uint64_t bits;
    std::memcpy(&bits, &t[e], sizeof bits);
    h64 = (h64 ^ bits) * 0x100000001b3ULL;
  }
  src->digest = h64;
  std::vector<int64_t> step(idx.size());
  for (size_t e = 0; e < idx.size(); ++e) step[e] = nest_stamp_steps(t[e], dt_ms) - 1;
  std::vector<size_t> order(idx.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return step[a] != step[b] ? step[a] < step[b] : idx[a] < idx[b];
  });
  src->step.reserve(order.size());
  src->index.reserve(order.size());
  for (size_t e : order) {
    src->step.push_back(step[e]);
    src->index.push_back(static_cast<uint32_t>(idx[e]));
    src->max_index = std::max(src->max_index, static_cast<uint32_t>(idx[e]));
  }
  return src;
}

const ModelDesc& spike_source_desc() {
  static const ModelDesc d = [] {
    ModelDesc m;
    m.name = "spike_source";
    m.description = "neurons that emit given spike times (NEST spike_generator; docs/NETWORKS.md)";
    m.kind = ModelKind::kPointNeuron;
    return m;
  }();
  return d;
}

}  // namespace ns
