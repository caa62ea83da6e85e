#include "network/sonata_spikes.hpp"

#include <hdf5.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "errors.hpp"

namespace ns {
namespace {

struct H {  // closes an HDF5 handle
  hid_t id;
  herr_t (*close)(hid_t);
  ~H() {
    if (id >= 0) close(id);
  }
};

// Variable-length UTF-8 strings: what h5py (and so BMTK's SpikeTrains reader) reads back as str.
void str_attr(hid_t obj, const char* name, const std::string& v, const std::string& path) {
  H t{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(t.id, H5T_VARIABLE);
  H5Tset_cset(t.id, H5T_CSET_UTF8);
  H sp{H5Screate(H5S_SCALAR), H5Sclose};
  H a{H5Acreate2(obj, name, t.id, sp.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  const char* p = v.c_str();
  if (a.id < 0 || H5Awrite(a.id, t.id, &p) < 0) throw BackendError(path + ": cannot write attribute '" + name + "'");
}
void num_attr(hid_t obj, const char* name, hid_t ftype, hid_t mtype, const void* v, const std::string& path) {
  H sp{H5Screate(H5S_SCALAR), H5Sclose};
  H a{H5Acreate2(obj, name, ftype, sp.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (a.id < 0 || H5Awrite(a.id, mtype, v) < 0) throw BackendError(path + ": cannot write attribute '" + name + "'");
}
hid_t dataset(hid_t g, const char* name, hid_t ftype, hid_t mtype, size_t n, const void* data, const std::string& path) {
  const hsize_t d = n;
  H sp{H5Screate_simple(1, &d, nullptr), H5Sclose};
  const hid_t ds = H5Dcreate2(g, name, ftype, sp.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0 || (n > 0 && H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0))
    throw BackendError(path + ": cannot write dataset '" + name + "'");
  return ds;
}

}  // namespace

std::string sonata_spikes_dir(const std::string& out, const std::string& spec_dir) {
  if (spec_dir.empty()) return out + ".sonata";
  const std::filesystem::path d(spec_dir);
  if (d.is_absolute()) return d.string();
  return (std::filesystem::path(out).parent_path() / d).string();
}

std::string sonata_spikes_file(const std::string& dir, uint64_t instance) {
  return (std::filesystem::path(dir) / ("instance_" + std::to_string(instance) + ".h5")).string();
}

std::vector<uint64_t> read_sonata_chosen(const std::string& path) {
  std::ifstream f(path);
  if (!f) return {};
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    std::vector<uint64_t> v = nlohmann::json::parse(ss.str()).at("instances").get<std::vector<uint64_t>>();
    return v;
  } catch (const std::exception& e) {
    throw BackendError(path + ": not a list of chosen instances ({\"instances\": [...]}): " + e.what() +
                       " (remove it to choose again)");
  }
}

void write_sonata_chosen(const std::string& path, const std::vector<uint64_t>& instances) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << nlohmann::json{{"instances", instances}}.dump() << "\n";
    if (!f) throw BackendError(tmp + ": cannot write");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw BackendError(path + ": cannot write (" + ec.message() + ")");
}

void write_sonata_spikes(const std::string& path, const std::vector<std::string>& pops,
                         const NetworkRunner::AllSpikes& s, uint64_t instance, double transient_ms) {
  const std::string tmp = path + ".tmp";
  {
    H f{H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose};
    if (f.id < 0) throw BackendError(tmp + ": cannot create file (directory missing or not writable?)");
    H root{H5Gcreate2(f.id, "spikes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
    if (root.id < 0) throw BackendError(tmp + ": cannot create group /spikes");
    const uint64_t inst = instance;
    num_attr(f.id, "instance", H5T_STD_U64LE, H5T_NATIVE_UINT64, &inst, tmp);
    const int64_t status = s.status;
    num_attr(f.id, "status", H5T_STD_I64LE, H5T_NATIVE_INT64, &status, tmp);
    num_attr(f.id, "t0", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &transient_ms, tmp);
    str_attr(f.id, "t0_units", "ms", tmp);
    for (size_t p = 0; p < pops.size(); ++p) {
      H g{H5Gcreate2(root.id, pops[p].c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
      if (g.id < 0) throw BackendError(tmp + ": cannot create group /spikes/" + pops[p]);
      str_attr(g.id, "sorting", "by_time", tmp);
      const uint64_t n = s.size[p];
      num_attr(g.id, "n_nodes", H5T_STD_U64LE, H5T_NATIVE_UINT64, &n, tmp);
      H a{dataset(g.id, "node_ids", H5T_STD_U64LE, H5T_NATIVE_UINT64, s.node[p].size(), s.node[p].data(), tmp), H5Dclose};
      H b{dataset(g.id, "timestamps", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s.t_ms[p].size(), s.t_ms[p].data(), tmp),
          H5Dclose};
      str_attr(b.id, "units", "ms", tmp);
    }
    if (H5Fflush(f.id, H5F_SCOPE_GLOBAL) < 0) throw BackendError(tmp + ": cannot flush");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw BackendError(path + ": cannot rename " + tmp + ": " + ec.message());
}

}  // namespace ns
