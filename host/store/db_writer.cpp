// Writing final (and shard) files: dataset helpers and `neurosweep merge`. Layout: docs/FORMAT.md.
#include "store/database.hpp"

#include <sys/file.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <memory>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "store/db_internal.hpp"
#include "store/db_writer.hpp"
#include "neurosweep/version.hpp"

namespace fs = std::filesystem;


namespace ns {
namespace db {

Hid make_group(hid_t loc, const std::string& name, const std::string& path, bool track_order) {
  Hid gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  if (track_order) H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  hid_t g = H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT);
  if (g < 0) fail(path, "cannot create group '" + name + "'");
  return Hid(g, H5Gclose);
}

// Compressed, chunked 1-D dataset of n elements (extendable: starts empty, unlimited).
Hid make_compressed(hid_t loc, const std::string& name, hid_t type, uint64_t n, bool extendable,
                    uint64_t* chunk_elems, const std::string& path, uint64_t cols) {
  const size_t es = H5Tget_size(type) * std::max<uint64_t>(1, cols);  // bytes of an element or row
  uint64_t ch = std::max<uint64_t>(1, kChunkBytes / es);
  if (!extendable && n > 0) ch = std::min(ch, n);
  if (!extendable && n == 0) extendable = true;  // chunk dims must be > 0: use an unlimited extent
  const int rank = cols > 0 ? 2 : 1;
  hsize_t dims[2] = {extendable ? 0 : n, cols}, maxd[2] = {extendable ? H5S_UNLIMITED : n, cols}, chd[2] = {ch, cols};
  Hid sp(H5Screate_simple(rank, dims, maxd), H5Sclose);
  Hid dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(dcpl, rank, chd);
  H5Pset_shuffle(dcpl);
  H5Pset_deflate(dcpl, 4);
  H5Pset_fletcher32(dcpl);  // a checksum per stored chunk: altered bytes are reported on read
  hid_t d = H5Dcreate2(loc, name.c_str(), type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d < 0) fail(path, "cannot create dataset '" + name + "'");
  *chunk_elems = ch;
  return Hid(d, H5Dclose);
}

// Uncompressed dataset written at once (chunk files, axes, traces): chunked only so that it can
// carry the Fletcher32 checksum filter (HDF5 filters need chunked storage).
void write_plain(hid_t loc, const std::string& name, hid_t type, uint64_t n, const void* data,
                 const std::string& path, const std::string& units, bool with_units) {
  hsize_t d = n, maxd = n > 0 ? n : H5S_UNLIMITED;
  hsize_t ch = std::max<uint64_t>(1, std::min<uint64_t>(n, kChunkBytes / std::max<size_t>(1, H5Tget_size(type))));
  Hid sp(H5Screate_simple(1, &d, &maxd), H5Sclose);
  Hid dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(dcpl, 1, &ch);
  H5Pset_fletcher32(dcpl);
  Hid ds(H5Dcreate2(loc, name.c_str(), type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) fail(path, "cannot create dataset '" + name + "'");
  if (n > 0) write_rows(ds, 0, n, data, path, name);
  if (with_units) write_attr(ds, "units", units, path);
}

void set_column_attrs(hid_t ds, const ColumnSpec& c, const std::string& path) {
  write_attr(ds, "units", c.units, path);
  if (!c.description.empty()) write_attr(ds, "description", c.description, path);
  if (!c.enum_names.empty()) write_attr(ds, "enum_names", json(c.enum_names).dump(), path);
}

// Circuits: /spikes attributes "cells" (JSON list of names) and "n_cells"; offsets are indexed by
// row * n_cells + cell. Single neurons: no attributes (the format of before).
void write_spike_cells(hid_t g, const StoreSchema& s, const std::string& path) {
  if (s.spike_cells.empty()) return;
  write_attr(g, "cells", json(s.spike_cells).dump(), path);
  write_attr(g, "n_cells", static_cast<int64_t>(s.spike_cells.size()), path);
}

Hid make_rates(hid_t file, const StoreSchema& s, uint64_t n, bool extendable, uint64_t* chunk_rows,
               const std::string& path) {
  Hid g = make_group(file, "rates", path);
  Hid ds = make_compressed(g, "values", H5T_IEEE_F32LE, n, extendable, chunk_rows, path, s.rate_row());
  write_attr(ds, "series", json(s.rate_series).dump(), path);
  write_attr(ds, "n_bins", static_cast<int64_t>(s.rate_bins), path);
  write_attr(ds, "bin_ms", s.rate_bin_ms, path);
  write_attr(ds, "t0_ms", s.rate_t0_ms, path);
  write_attr(ds, "units", std::string("Hz"), path);
  return ds;
}

}  // namespace db

using namespace db;

void merge_shards(const std::vector<std::string>& shards, const std::string& out, bool force) {
  quiet_hdf5();
  if (shards.empty()) fail(out, "merge needs at least one shard file");
  check_out_dir(out);
  std::error_code ec;
  const bool have_out = path_exists(out), have_parts = path_exists(parts_of(out));
  if ((have_out || have_parts) && !force) fail(out, "output exists; refusing to overwrite it (use --force)");
  if (have_out) check_replaceable(out);
  if (have_parts) check_own_parts(parts_of(out));
  struct Shard {
    RowFile rf;
    std::string hash, schema;
    uint64_t n;
  };
  std::vector<Shard> sh;
  for (const auto& p : shards) {
    if (fs::is_directory(p, ec) || (!fs::exists(p, ec) && fs::is_directory(parts_of(p), ec)))
      fail(p, "is an unfinished shard build (parts directory); finish it (run --resume) before merging");
    Shard s{open_row_file(p, false), "", "", 0};
    s.hash = attr_string(s.rf.file, "spec_hash", p);
    s.schema = attr_string(s.rf.file, "schema", p);
    s.n = static_cast<uint64_t>(attr_int(s.rf.file, "n_instances", p));
    if (!sh.empty()) {
      const Shard& f = sh.front();
      if (s.hash != f.hash)
        fail(p, "spec hash " + s.hash + " differs from " + f.rf.path + " (" + f.hash + "): shards of different sweeps");
      if (s.n != f.n) fail(p, "n_instances " + std::to_string(s.n) + " differs from " + f.rf.path + " (" + std::to_string(f.n) + ")");
      if (s.schema != f.schema) fail(p, "column schema differs from " + f.rf.path);
    }
    sh.push_back(std::move(s));
  }
  std::sort(sh.begin(), sh.end(), [](const Shard& a, const Shard& b) {
    return a.rf.first_index != b.rf.first_index ? a.rf.first_index < b.rf.first_index : a.rf.n_rows < b.rf.n_rows;
  });
  const uint64_t n = sh.front().n;
  uint64_t expect = 0;
  for (size_t i = 0; i < sh.size(); ++i) {
    const RowFile& r = sh[i].rf;
    const std::string range = "[" + std::to_string(r.first_index) + ", " + std::to_string(r.first_index + r.n_rows) + ")";
    if (r.first_index < expect)
      fail(r.path, "instances " + range + " overlap " + sh[i - 1].rf.path + " (covers up to " + std::to_string(expect) + ")");
    if (r.first_index > expect)
      fail(r.path, "instances [" + std::to_string(expect) + ", " + std::to_string(r.first_index) +
                       ") are missing: no shard covers them (a shard file was not given)");
    expect = r.first_index + r.n_rows;
  }
  if (expect != n)
    fail(sh.back().rf.path, "instances [" + std::to_string(expect) + ", " + std::to_string(n) +
                                ") are missing: no shard covers them (a shard file was not given)");
  StoreSchema schema = schema_from_json(json::parse(sh.front().schema), sh.front().rf.path);
  std::map<std::string, AttrValue> attrs = read_all_attrs(sh.front().rf.file, sh.front().rf.path);
  attrs.erase("shard_k");
  attrs.erase("shard_n");
  json from = json::array(), timings = json::array();
  for (const auto& s : sh) {
    from.push_back(fs::path(s.rf.path).filename().string());
    auto t = read_attr(s.rf.file, "timings", s.rf.path);
    if (t && std::holds_alternative<std::string>(*t)) {
      try {
        timings.push_back(json::parse(std::get<std::string>(*t)));
      } catch (...) {
        timings.push_back(std::get<std::string>(*t));
      }
    }
  }
  attrs["merged_from"] = from.dump();
  if (!timings.empty()) attrs["timings"] = json{{"shards", timings}}.dump();
  attrs["n_rows"] = int64_t(n);
  attrs["first_index"] = int64_t(0);
  // A temporary name of our own next to the output (never a user's OUT.tmp), renamed over the
  // output only when complete.
  std::string tmp = out + ".tmp-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) fail(out, std::string("cannot create a temporary file next to the output: ") + std::strerror(errno));
  ::close(fd);
  // Traces chosen by predicate (output.traces.per_label / where): each shard traced its own
  // candidates; keep the sweep's choice, the cap smallest keys per label over every shard.
  std::vector<std::set<uint64_t>> drop(sh.size());
  if (auto tc = attrs.find("trace_choice"); tc != attrs.end() && std::holds_alternative<std::string>(tc->second)) {
    const json c = json::parse(std::get<std::string>(tc->second), nullptr, false);
    if (c.is_discarded() || !c.is_object()) fail(sh.front().rf.path, "corrupt trace_choice attribute");
    const uint64_t per_label = c.value("per_label", uint64_t(0)), cap = per_label ? per_label : c.value("max", uint64_t(0));
    const uint64_t seed = c.value("seed", uint64_t(0));
    const bool has_label = std::any_of(schema.columns.begin(), schema.columns.end(),
                                       [](const ColumnSpec& col) { return col.name == "label"; });
    struct Cand {
      uint64_t key, index;
      size_t shard;
      bool operator<(const Cand& o) const { return key != o.key ? key < o.key : index < o.index; }
    };
    std::map<int64_t, std::vector<Cand>> groups;
    for (size_t k = 0; k < sh.size(); ++k) {
      const RowFile& r = sh[k].rf;
      if (!link_exists(r.file, "traces")) continue;
      Hid g = open_group(r.file, "traces", r.path);
      std::vector<std::string> names;
      auto cb = [](hid_t, const char* nm, const H5L_info_t*, void* d) -> herr_t {
        static_cast<std::vector<std::string>*>(d)->push_back(nm);
        return 0;
      };
      if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &names) < 0) fail(r.path, "cannot list /traces");
      for (const auto& nm : names) {
        Hid tg = open_group(g, nm, r.path);
        if (!read_attr(tg, "chosen_by", r.path)) continue;  // requested by index: always kept
        if (nm.empty() || nm.find_first_not_of("0123456789") != std::string::npos)
          fail(r.path, "/traces/" + nm + " is not an instance index (corrupt file)");
        const uint64_t i = std::stoull(nm);
        if (i < r.first_index || i >= r.first_index + r.n_rows) fail(r.path, "trace of instance " + nm + " is outside the shard");
        int64_t group = 0;
        if (per_label && has_label) {
          Hid inst = open_group(r.file, "instances", r.path);
          Hid ds = open_dataset(inst, "label", r.path);
          int8_t code = 0;
          read_rows(ds, i - r.first_index, 1, &code, r.path, "column 'label'");
          group = code;
        }
        groups[group].push_back({trace_key(seed, i), i, k});
      }
    }
    for (auto& [g, v] : groups) {
      std::sort(v.begin(), v.end());
      for (size_t j = static_cast<size_t>(std::min<uint64_t>(cap, v.size())); j < v.size(); ++j)
        drop[v[j].shard].insert(v[j].index);
    }
  }
  try {
    FinalWriter w(tmp, schema, n);
    for (size_t k = 0; k < sh.size(); ++k) w.append(sh[k].rf, {}, &drop[k]);
    w.finish(attrs);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  if (have_parts) remove_own_parts(parts_of(out));
  if (std::rename(tmp.c_str(), out.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    fs::remove(tmp, ec);
    fail(out, "cannot rename into place: " + why);
  }
}

}  // namespace ns
