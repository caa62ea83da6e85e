// Explicit edge lists of a network projection (docs/NETWORKS.md, "Explicit edge lists"): an HDF5
// group with 1-D datasets source, target (integer, 0-based population-local indices) and the
// optional weight (float64, the target model's unit) and delay (float64, ms).
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "network/network.hpp"
#include "neurosweep/hash.hpp"
#include "spec/sobol.hpp"

namespace ns {
namespace {

std::string num(double x) {
  char b[64];
  std::snprintf(b, sizeof b, "%.17g", x);
  return b;
}

struct H5Handle {  // closes an HDF5 identifier with its own close function (movable, not copyable:
                   // `h = H5Handle{...}` must not close the id when the temporary dies)
  hid_t id = -1;
  herr_t (*close)(hid_t) = nullptr;
  H5Handle() = default;
  H5Handle(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  H5Handle(H5Handle&& o) noexcept : id(o.id), close(o.close) { o.id = -1; }
  H5Handle& operator=(H5Handle&& o) noexcept {
    if (this != &o) {
      if (id >= 0 && close) close(id);
      id = o.id;
      close = o.close;
      o.id = -1;
    }
    return *this;
  }
  ~H5Handle() {
    if (id >= 0 && close) close(id);
  }
};

// Reads a 1-D dataset of `group` as int64 (integer datasets) or double (integer or float);
// returns false when it does not exist.
template <class T>
bool read_1d(hid_t g, const std::string& where, const char* name, bool integer, std::vector<T>& out) {
  htri_t ex;
  H5E_BEGIN_TRY { ex = H5Lexists(g, name, H5P_DEFAULT); }
  H5E_END_TRY;
  if (ex <= 0) return false;
  hid_t did;
  H5E_BEGIN_TRY { did = H5Dopen2(g, name, H5P_DEFAULT); }
  H5E_END_TRY;
  H5Handle d{did, H5Dclose};
  if (d.id < 0) throw std::runtime_error(where + ", dataset " + name + ": not a dataset");
  H5Handle sp{H5Dget_space(d.id), H5Sclose};
  H5Handle ty{H5Dget_type(d.id), H5Tclose};
  const int rank = H5Sget_simple_extent_ndims(sp.id);
  if (rank != 1)
    throw std::runtime_error(where + ", dataset " + name + ": has " + std::to_string(rank) +
                             " dimensions; expected a 1-D dataset");
  const H5T_class_t cls = H5Tget_class(ty.id);
  if (integer && cls != H5T_INTEGER)
    throw std::runtime_error(where + ", dataset " + name + ": is not of an integer type; expected integer indices");
  if (!integer && cls != H5T_FLOAT && cls != H5T_INTEGER)
    throw std::runtime_error(where + ", dataset " + name + ": is not numeric; expected float64 values");
  hsize_t n = 0;
  H5Sget_simple_extent_dims(sp.id, &n, nullptr);
  out.resize(static_cast<size_t>(n));
  const hid_t mem = std::is_same<T, double>::value ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
  if (n && H5Dread(d.id, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
    throw std::runtime_error(where + ", dataset " + name + ": cannot be read");
  return true;
}

}  // namespace

std::string ExplicitEdges::where() const { return "file " + file + " (" + resolved + "), group " + group; }

std::shared_ptr<const ExplicitEdges> read_explicit_edges(const std::string& file, const std::string& resolved,
                                                         const std::string& group, double dt_ms) {
  auto E = std::make_shared<ExplicitEdges>();
  E->file = file;
  E->group = group;
  E->resolved = resolved;
  const std::string where = E->where();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(resolved, ec))
    throw std::runtime_error("file " + file + " (" + resolved + "): no such file");
  hid_t fid, gid;
  H5E_BEGIN_TRY { fid = H5Fopen(resolved.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT); }
  H5E_END_TRY;
  H5Handle f{fid, H5Fclose};
  if (f.id < 0) throw std::runtime_error("file " + file + " (" + resolved + "): not an HDF5 file");
  H5E_BEGIN_TRY { gid = H5Gopen2(f.id, group.c_str(), H5P_DEFAULT); }
  H5E_END_TRY;
  H5Handle g{gid, H5Gclose};
  if (g.id < 0) throw std::runtime_error(where + ": no such group");
  std::vector<int64_t> s, t;
  if (!read_1d(g.id, where, "source", true, s))
    throw std::runtime_error(where + ": missing dataset source (1-D integer, 0-based source indices)");
  if (!read_1d(g.id, where, "target", true, t))
    throw std::runtime_error(where + ": missing dataset target (1-D integer, 0-based target indices)");
  if (s.size() != t.size())
    throw std::runtime_error(where + ": datasets source (" + std::to_string(s.size()) + " edges) and target (" +
                             std::to_string(t.size()) + " edges) differ in length");
  std::vector<double> w, d;
  const bool has_w = read_1d(g.id, where, "weight", false, w);
  const bool has_d = read_1d(g.id, where, "delay", false, d);
  const size_t n = s.size();
  if (has_w && w.size() != n)
    throw std::runtime_error(where + ": dataset weight has " + std::to_string(w.size()) + " values for " +
                             std::to_string(n) + " edges");
  if (has_d && d.size() != n)
    throw std::runtime_error(where + ": dataset delay has " + std::to_string(d.size()) + " values for " +
                             std::to_string(n) + " edges");
  // Values: indices in [0, 2^32), finite weights, delays >= dt (NEST: at least one step after
  // rounding, Time::delay_ms_to_steps).
  const double ms_per_step = std::floor(dt_ms * 1000.0 + 0.5) / 1000.0;
  for (size_t e = 0; e < n; ++e) {
    for (int k = 0; k < 2; ++k) {
      const int64_t x = k ? t[e] : s[e];
      if (x < 0 || x > 0xffffffffLL)
        throw std::runtime_error(where + ", dataset " + (k ? "target" : "source") + ": value " + std::to_string(x) +
                                 " at index " + std::to_string(e) + " is not a valid 0-based neuron index");
    }
    if (has_w && !std::isfinite(w[e]))
      throw std::runtime_error(where + ", dataset weight: value " + num(w[e]) + " at index " + std::to_string(e) +
                               " is not finite");
    if (has_d && (!(d[e] >= dt_ms - 1e-12 * dt_ms) || std::floor(d[e] / ms_per_step + 0.5) < 1 ||
                  std::floor(d[e] / ms_per_step + 0.5) > 65535))
      throw std::runtime_error(where + ", dataset delay: value " + num(d[e]) + " ms at index " + std::to_string(e) +
                               (d[e] >= dt_ms ? " exceeds 65535 steps" : " is below the time step dt = " + num(dt_ms) +
                                                                              " ms (NEST: delays of at least one step)"));
  }
  // Identity: the values, in file order.
  uint64_t h = fnv1a64(s.data(), s.size() * sizeof(int64_t));
  h = mix64(h ^ fnv1a64(t.data(), t.size() * sizeof(int64_t)));
  if (has_w) h = mix64(h ^ fnv1a64(w.data(), w.size() * sizeof(double)) ^ 0x77);
  if (has_d) h = mix64(h ^ fnv1a64(d.data(), d.size() * sizeof(double)) ^ 0x64);
  E->hash = h;
  E->n = n;
  for (size_t e = 0; e < n; ++e) {
    if (static_cast<uint64_t>(s[e]) > E->max_src || e == 0) E->max_src = static_cast<uint64_t>(s[e]), E->argmax_src = e;
    if (static_cast<uint64_t>(t[e]) > E->max_tgt || e == 0) E->max_tgt = static_cast<uint64_t>(t[e]), E->argmax_tgt = e;
  }
  // Stable counting sort by source (the order of a source's edges stays the file's).
  const uint64_t ns = n ? E->max_src + 1 : 0;
  std::vector<uint64_t> pos(ns + 1, 0);
  for (size_t e = 0; e < n; ++e) ++pos[static_cast<size_t>(s[e]) + 1];
  for (uint64_t k = 0; k < ns; ++k) pos[k + 1] += pos[k];
  E->src.resize(n);
  E->tgt.resize(n);
  if (has_w) E->weight.resize(n);
  if (has_d) E->delay_ms.resize(n);
  for (size_t e = 0; e < n; ++e) {
    const uint64_t j = pos[static_cast<size_t>(s[e])]++;
    E->src[j] = static_cast<uint32_t>(s[e]);
    E->tgt[j] = static_cast<uint32_t>(t[e]);
    if (has_w) E->weight[j] = w[e];
    if (has_d) E->delay_ms[j] = d[e];
  }
  return E;
}

}  // namespace ns
