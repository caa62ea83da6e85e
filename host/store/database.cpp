// HDF5 database: build store (parts directory), finalize, merge. Layout: docs/FORMAT.md.
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
#include "neurosweep/version.hpp"

namespace fs = std::filesystem;

namespace ns {
namespace db {

void quiet_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

void fail(const std::string& path, const std::string& what) {
  throw DatabaseError(path + ": " + what);
}

bool link_exists(hid_t loc, const std::string& name) {
  return H5Lexists(loc, name.c_str(), H5P_DEFAULT) > 0;
}

Hid open_ro(const std::string& path) {
  quiet_hdf5();
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path, "no such file");
  if (fs::is_directory(path, ec)) fail(path, "is a directory, not an HDF5 file");
  const htri_t is = H5Fis_hdf5(path.c_str());
  if (is <= 0) fail(path, "not an HDF5 file (no HDF5 signature); is this a neurosweep database?");
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) fail(path, "HDF5 file cannot be opened: truncated or corrupt");
  return Hid(f, H5Fclose);
}

Hid open_group(hid_t loc, const std::string& name, const std::string& path) {
  if (!link_exists(loc, name)) fail(path, "group '" + name + "' is missing (corrupt or foreign file)");
  hid_t g = H5Gopen2(loc, name.c_str(), H5P_DEFAULT);
  if (g < 0) fail(path, "group '" + name + "' cannot be opened (corrupt file)");
  return Hid(g, H5Gclose);
}

Hid open_dataset(hid_t loc, const std::string& name, const std::string& path) {
  if (!link_exists(loc, name)) fail(path, "dataset '" + name + "' is missing (corrupt or foreign file)");
  hid_t d = H5Dopen2(loc, name.c_str(), H5P_DEFAULT);
  if (d < 0) fail(path, "dataset '" + name + "' cannot be opened (corrupt file)");
  return Hid(d, H5Dclose);
}

// ---- attributes -------------------------------------------------------------------------------
static Hid vlen_str_type() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return Hid(t, H5Tclose);
}

void write_attr(hid_t obj, const std::string& name, const AttrValue& v, const std::string& path) {
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  Hid space(H5Screate(H5S_SCALAR), H5Sclose);
  herr_t st = -1;
  if (std::holds_alternative<int64_t>(v)) {
    Hid a(H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (a.valid()) st = H5Awrite(a, H5T_NATIVE_INT64, &std::get<int64_t>(v));
  } else if (std::holds_alternative<double>(v)) {
    Hid a(H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (a.valid()) st = H5Awrite(a, H5T_NATIVE_DOUBLE, &std::get<double>(v));
  } else {
    Hid t = vlen_str_type();
    Hid a(H5Acreate2(obj, name.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    const char* s = std::get<std::string>(v).c_str();
    if (a.valid()) st = H5Awrite(a, t, &s);
  }
  if (st < 0) fail(path, "cannot write attribute '" + name + "'");
}

std::optional<AttrValue> read_attr(hid_t obj, const std::string& name, const std::string& path) {
  if (H5Aexists(obj, name.c_str()) <= 0) return std::nullopt;
  Hid a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!a.valid()) fail(path, "attribute '" + name + "' cannot be opened");
  Hid t(H5Aget_type(a), H5Tclose);
  Hid sp(H5Aget_space(a), H5Sclose);
  if (H5Sget_simple_extent_npoints(sp) != 1) return std::nullopt;  // not a scalar: not ours
  switch (H5Tget_class(t)) {
    case H5T_INTEGER: {
      int64_t v = 0;
      if (H5Aread(a, H5T_NATIVE_INT64, &v) < 0) fail(path, "attribute '" + name + "' unreadable");
      return AttrValue(v);
    }
    case H5T_FLOAT: {
      double v = 0;
      if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0) fail(path, "attribute '" + name + "' unreadable");
      return AttrValue(v);
    }
    case H5T_STRING: {
      if (H5Tis_variable_str(t) > 0) {
        Hid mt = vlen_str_type();
        char* s = nullptr;
        if (H5Aread(a, mt, &s) < 0) fail(path, "attribute '" + name + "' unreadable");
        std::string out = s ? s : "";
        H5free_memory(s);
        return AttrValue(out);
      }
      const size_t n = H5Tget_size(t);
      std::string out(n, '\0');
      Hid mt(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(mt, n);
      if (H5Aread(a, mt, out.data()) < 0) fail(path, "attribute '" + name + "' unreadable");
      out.resize(std::strlen(out.c_str()));
      return AttrValue(out);
    }
    default:
      return std::nullopt;
  }
}

std::map<std::string, AttrValue> read_all_attrs(hid_t obj, const std::string& path) {
  std::vector<std::string> names;
  auto cb = [](hid_t, const char* n, const H5A_info_t*, void* d) -> herr_t {
    static_cast<std::vector<std::string>*>(d)->push_back(n);
    return 0;
  };
  hsize_t idx = 0;
  if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, cb, &names) < 0)
    fail(path, "cannot list attributes (corrupt file)");
  std::map<std::string, AttrValue> out;
  for (const auto& n : names)
    if (auto v = read_attr(obj, n, path)) out[n] = *v;
  return out;
}

std::string attr_string(hid_t obj, const std::string& name, const std::string& path) {
  auto v = read_attr(obj, name, path);
  if (!v || !std::holds_alternative<std::string>(*v))
    fail(path, "attribute '" + name + "' missing or not a string (corrupt or foreign file)");
  return std::get<std::string>(*v);
}

int64_t attr_int(hid_t obj, const std::string& name, const std::string& path) {
  auto v = read_attr(obj, name, path);
  if (!v || !std::holds_alternative<int64_t>(*v))
    fail(path, "attribute '" + name + "' missing or not an integer (corrupt or foreign file)");
  return std::get<int64_t>(*v);
}

// ---- types ------------------------------------------------------------------------------------
Hid dtype_type(const std::string& d) {
  hid_t base = -1;
  if (d == "f4") base = H5T_IEEE_F32LE;
  else if (d == "f8") base = H5T_IEEE_F64LE;
  else if (d == "i1") base = H5T_STD_I8LE;
  else if (d == "u1") base = H5T_STD_U8LE;
  else if (d == "i4") base = H5T_STD_I32LE;
  else if (d == "u4") base = H5T_STD_U32LE;
  else if (d == "u8") base = H5T_STD_U64LE;
  else throw DatabaseError("unknown column dtype '" + d + "' (expected f4, f8, i1, u1, i4, u4, u8)");
  return Hid(H5Tcopy(base), H5Tclose);
}

Hid column_type(const ColumnSpec& c) {
  Hid base = dtype_type(c.dtype);
  if (c.enum_names.empty()) return base;
  Hid e(H5Tenum_create(base), H5Tclose);
  for (size_t k = 0; k < c.enum_names.size(); ++k) {
    // value k in the base type's native representation (little-endian host: same bytes)
    uint64_t v = k;
    if (H5Tenum_insert(e, c.enum_names[k].c_str(), &v) < 0)
      throw DatabaseError("column '" + c.name + "': cannot create enum member '" + c.enum_names[k] + "'");
  }
  return e;
}

uint64_t dataset_length(hid_t ds, const std::string& path) {
  Hid sp(H5Dget_space(ds), H5Sclose);
  if (!sp.valid() || H5Sget_simple_extent_ndims(sp) != 1) fail(path, "dataset is not 1-D (corrupt or foreign file)");
  hsize_t d = 0;
  H5Sget_simple_extent_dims(sp, &d, nullptr);
  return d;
}

static void rows_io(bool write, hid_t ds, uint64_t offset, uint64_t n, void* buf,
                    const std::string& path, const std::string& what) {
  if (n == 0) return;
  Hid ft(H5Dget_type(ds), H5Tclose);
  Hid fsp(H5Dget_space(ds), H5Sclose);
  hsize_t off = offset, cnt = n;
  Hid msp(H5Screate_simple(1, &cnt, nullptr), H5Sclose);
  herr_t st = H5Sselect_hyperslab(fsp, H5S_SELECT_SET, &off, nullptr, &cnt, nullptr);
  if (st >= 0) st = write ? H5Dwrite(ds, ft, msp, fsp, H5P_DEFAULT, buf) : H5Dread(ds, ft, msp, fsp, H5P_DEFAULT, buf);
  if (st < 0)
    fail(path, std::string(write ? "cannot write " : "cannot read ") + what + " rows [" +
                   std::to_string(offset) + ", " + std::to_string(offset + n) + ")" +
                   (write ? " (disk full?)" : " (truncated or corrupt file)"));
}
void read_rows(hid_t ds, uint64_t offset, uint64_t n, void* buf, const std::string& path, const std::string& what) {
  rows_io(false, ds, offset, n, buf, path, what);
}
void write_rows(hid_t ds, uint64_t offset, uint64_t n, const void* buf, const std::string& path, const std::string& what) {
  rows_io(true, ds, offset, n, const_cast<void*>(buf), path, what);
}

// ---- schema -----------------------------------------------------------------------------------
json schema_to_json(const StoreSchema& s) {
  json cols = json::array();
  for (const auto& c : s.columns)
    cols.push_back({{"name", c.name}, {"dtype", c.dtype}, {"units", c.units},
                    {"description", c.description}, {"enum_names", c.enum_names}});
  json axes = json::array();
  for (const auto& a : s.axes)
    axes.push_back({{"name", a.name}, {"kind", a.kind}, {"params", a.params}, {"values", a.values},
                    {"labels", a.labels}, {"size", a.size}, {"stride", a.stride}});
  json j = {{"columns", cols}, {"state_names", s.state_names}, {"state_units", s.state_units},
            {"final_state", s.final_state}, {"max_spikes_stored", s.max_spikes_stored}, {"axes", axes}};
  if (!s.spike_cells.empty()) j["spike_cells"] = s.spike_cells;  // absent for single neurons
  return j;
}

StoreSchema schema_from_json(const json& j, const std::string& path) {
  try {
    StoreSchema s;
    for (const auto& c : j.at("columns"))
      s.columns.push_back({c.at("name").get<std::string>(), c.at("dtype").get<std::string>(),
                           c.at("units").get<std::string>(), c.at("description").get<std::string>(),
                           c.at("enum_names").get<std::vector<std::string>>()});
    s.state_names = j.at("state_names").get<std::vector<std::string>>();
    s.state_units = j.at("state_units").get<std::vector<std::string>>();
    s.final_state = j.at("final_state").get<bool>();
    s.max_spikes_stored = j.at("max_spikes_stored").get<int>();
    if (j.contains("spike_cells")) s.spike_cells = j.at("spike_cells").get<std::vector<std::string>>();
    for (const auto& a : j.at("axes"))
      s.axes.push_back({a.at("name").get<std::string>(), a.at("kind").get<std::string>(),
                        a.at("params").get<std::vector<std::string>>(),
                        a.at("values").get<std::vector<double>>(),
                        a.at("labels").get<std::vector<std::string>>(), a.at("size").get<uint64_t>(),
                        a.at("stride").get<uint64_t>()});
    return s;
  } catch (const json::exception& e) {
    fail(path, std::string("schema is malformed (corrupt file): ") + e.what());
  }
}

json attrs_to_json(const std::map<std::string, AttrValue>& a) {
  json j = json::object();
  for (const auto& [k, v] : a) {
    if (std::holds_alternative<int64_t>(v)) j[k] = {{"type", "int"}, {"value", std::get<int64_t>(v)}};
    else if (std::holds_alternative<double>(v)) {
      // JSON has no NaN/inf: keep such doubles as text
      const double d = std::get<double>(v);
      if (std::isfinite(d)) j[k] = {{"type", "float"}, {"value", d}};
      else j[k] = {{"type", "float"}, {"text", d != d ? "nan" : (d > 0 ? "inf" : "-inf")}};
    } else j[k] = {{"type", "str"}, {"value", std::get<std::string>(v)}};
  }
  return j;
}

std::map<std::string, AttrValue> attrs_from_json(const json& j, const std::string& path) {
  std::map<std::string, AttrValue> out;
  try {
    for (const auto& [k, v] : j.items()) {
      const std::string t = v.at("type").get<std::string>();
      if (t == "int") out[k] = v.at("value").get<int64_t>();
      else if (t == "float") out[k] = v.contains("text") ? std::stod(v.at("text").get<std::string>()) : v.at("value").get<double>();
      else out[k] = v.at("value").get<std::string>();
    }
  } catch (const std::exception& e) {
    fail(path, std::string("attributes are malformed (corrupt file): ") + e.what());
  }
  return out;
}

std::string chunk_file_name(uint64_t chunk) {
  char b[64];
  std::snprintf(b, sizeof b, "chunk-%06llu.h5", static_cast<unsigned long long>(chunk));
  return b;
}

std::string utc_now_iso() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

void fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) fail(path, std::string("cannot open for fsync: ") + std::strerror(errno));
  const int r = ::fsync(fd);
  ::close(fd);
  if (r != 0 && !directory) fail(path, std::string("fsync failed: ") + std::strerror(errno));
}

RowFile open_row_file(const std::string& file, bool chunk_file) {
  RowFile rf;
  rf.path = file;
  rf.file = open_ro(file);
  auto fmt = read_attr(rf.file, "format", file);
  const std::string want = chunk_file ? "neurosweep-chunk" : "neurosweep";
  if (!fmt || !std::holds_alternative<std::string>(*fmt) || std::get<std::string>(*fmt) != want)
    fail(file, "HDF5 file but not a neurosweep " + std::string(chunk_file ? "chunk file" : "database") +
                   " (root attribute format != \"" + want + "\")");
  const int64_t ver = attr_int(rf.file, "format_version", file);
  if (ver > kFormatVersion)
    fail(file, "format_version " + std::to_string(ver) + " is newer than this program supports (" +
                   std::to_string(kFormatVersion) + "); upgrade neurosweep");
  if (!chunk_file && attr_int(rf.file, "complete", file) != 1) fail(file, "database is not marked complete");
  rf.first_index = static_cast<uint64_t>(attr_int(rf.file, "first_index", file));
  rf.n_rows = static_cast<uint64_t>(attr_int(rf.file, "n_rows", file));
  return rf;
}

// ---- the streaming writer of final (and shard) files ------------------------------------------
namespace {

constexpr uint64_t kChunkBytes = 1u << 20;  // ~1 MiB HDF5 chunks
constexpr uint64_t kBlockRows = 1u << 18;   // rows read per block when streaming a source

// Appends rows to a 1-D dataset, buffering one whole HDF5 chunk so every write covers full
// chunks (no read-modify-write of compressed chunks whatever the build chunk size).
class Appender {
 public:
  Appender(Hid ds, size_t esize, uint64_t chunk_elems, bool extendable, std::string path, std::string what)
      : ds_(std::move(ds)), esize_(esize), chunk_(chunk_elems), ext_(extendable),
        path_(std::move(path)), what_(std::move(what)) {
    buf_.resize(chunk_ * esize_);
  }
  void append(const void* p, uint64_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    while (n > 0) {
      const uint64_t take = std::min(n, chunk_ - fill_);
      std::memcpy(buf_.data() + fill_ * esize_, b, take * esize_);
      fill_ += take;
      b += take * esize_;
      n -= take;
      if (fill_ == chunk_) flush();
    }
  }
  void flush() {
    if (fill_ == 0) return;
    if (ext_) {
      hsize_t d = pos_ + fill_;
      if (H5Dset_extent(ds_, &d) < 0) fail(path_, "cannot extend " + what_);
    }
    write_rows(ds_, pos_, fill_, buf_.data(), path_, what_);
    pos_ += fill_;
    fill_ = 0;
  }
  uint64_t written() const { return pos_ + fill_; }
  void close() {
    flush();
    if (ds_.close() < 0) fail(path_, "cannot close " + what_);
  }

 private:
  Hid ds_;
  size_t esize_;
  uint64_t chunk_, fill_ = 0, pos_ = 0;
  bool ext_;
  std::string path_, what_;
  std::vector<uint8_t> buf_;
};

Hid make_group(hid_t loc, const std::string& name, const std::string& path, bool track_order = false) {
  Hid gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  if (track_order) H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  hid_t g = H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT);
  if (g < 0) fail(path, "cannot create group '" + name + "'");
  return Hid(g, H5Gclose);
}

// Compressed, chunked 1-D dataset of n elements (extendable: starts empty, unlimited).
Hid make_compressed(hid_t loc, const std::string& name, hid_t type, uint64_t n, bool extendable,
                    uint64_t* chunk_elems, const std::string& path) {
  const size_t es = H5Tget_size(type);
  uint64_t ch = std::max<uint64_t>(1, kChunkBytes / es);
  if (!extendable && n > 0) ch = std::min(ch, n);
  if (!extendable && n == 0) extendable = true;  // chunk dims must be > 0: use an unlimited extent
  hsize_t dims = extendable ? 0 : n, maxd = extendable ? H5S_UNLIMITED : n, chd = ch;
  Hid sp(H5Screate_simple(1, &dims, &maxd), H5Sclose);
  Hid dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(dcpl, 1, &chd);
  H5Pset_shuffle(dcpl);
  H5Pset_deflate(dcpl, 4);
  hid_t d = H5Dcreate2(loc, name.c_str(), type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d < 0) fail(path, "cannot create dataset '" + name + "'");
  *chunk_elems = ch;
  return Hid(d, H5Dclose);
}

// Contiguous dataset (chunk files), written at once.
void write_plain(hid_t loc, const std::string& name, hid_t type, uint64_t n, const void* data,
                 const std::string& path, const std::string& units = "", bool with_units = false) {
  hsize_t d = n;
  Hid sp(H5Screate_simple(1, &d, nullptr), H5Sclose);
  Hid ds(H5Dcreate2(loc, name.c_str(), type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
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

class FinalWriter {
 public:
  FinalWriter(const std::string& path, const StoreSchema& schema, uint64_t n_rows)
      : path_(path), schema_(schema), n_rows_(n_rows) {
    quiet_hdf5();
    Hid fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
    H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    if (f < 0) fail(path, "cannot create file (directory missing or not writable?)");
    file_ = Hid(f, H5Fclose);
    Hid inst = make_group(file_, "instances", path, true);
    json names = json::array();
    for (const auto& c : schema.columns) {
      Hid t = column_type(c);
      uint64_t ch = 0;
      Hid ds = make_compressed(inst, c.name, t, n_rows, false, &ch, path);
      set_column_attrs(ds, c, path);
      cols_.emplace_back(std::move(ds), dtype_size(c.dtype), ch, n_rows == 0, path, "column '" + c.name + "'");
      names.push_back(c.name);
      if (c.name == "label" && !c.enum_names.empty() && (c.dtype == "i1" || c.dtype == "u1")) {
        label_col_ = static_cast<int>(cols_.size()) - 1;
        label_signed_ = c.dtype == "i1";
      }
    }
    write_attr(inst, "columns", names.dump(), path);
    if (schema.max_spikes_stored > 0) {
      Hid g = make_group(file_, "spikes", path);
      uint64_t ch = 0;
      Hid off = make_compressed(g, "offsets", H5T_STD_U64LE, n_rows * schema.spike_slots() + 1, false, &ch, path);
      write_spike_cells(g, schema, path);
      offsets_ = std::make_unique<Appender>(std::move(off), 8, ch, false, path, "spikes/offsets");
      Hid tm = make_compressed(g, "times", H5T_IEEE_F32LE, 0, true, &ch, path);
      write_attr(tm, "units", std::string("ms"), path);
      times_ = std::make_unique<Appender>(std::move(tm), 4, ch, true, path, "spikes/times");
      const uint64_t zero = 0;
      offsets_->append(&zero, 1);
    }
    if (schema.final_state) {
      Hid g = make_group(file_, "final_state", path, true);
      for (size_t k = 0; k < schema.state_names.size(); ++k) {
        uint64_t ch = 0;
        Hid ds = make_compressed(g, schema.state_names[k], H5T_IEEE_F64LE, n_rows, false, &ch, path);
        write_attr(ds, "units", k < schema.state_units.size() ? schema.state_units[k] : "", path);
        state_.emplace_back(std::move(ds), 8, ch, n_rows == 0, path, "final_state/" + schema.state_names[k]);
      }
    }
    json axis_names = json::array();
    if (!schema.axes.empty()) {
      Hid g = make_group(file_, "axes", path, true);
      for (const auto& a : schema.axes) {
        Hid ag = make_group(g, a.name, path, true);
        write_attr(ag, "kind", a.kind, path);
        write_attr(ag, "size", static_cast<int64_t>(a.size), path);
        write_attr(ag, "stride", static_cast<int64_t>(a.stride), path);
        write_attr(ag, "params", json(a.params).dump(), path);
        if (a.values.size() == a.params.size() * a.size)  // sampled axes may leave them out
          for (size_t p = 0; p < a.params.size(); ++p)
            write_plain(ag, a.params[p], H5T_IEEE_F64LE, a.size, a.values.data() + p * a.size, path);
        if (!a.labels.empty()) {
          Hid st = vlen_str_type();
          std::vector<const char*> ptr;
          for (const auto& l : a.labels) ptr.push_back(l.c_str());
          write_plain(ag, "labels", st, ptr.size(), ptr.data(), path);
        }
        axis_names.push_back(a.name);
      }
    }
    axis_names_ = axis_names.dump();
  }

  void append(const RowFile& src) {
    const std::string& sp = src.path;
    const uint64_t n = src.n_rows;
    Hid inst = open_group(src.file, "instances", sp);
    std::vector<uint8_t> buf;
    for (size_t c = 0; c < schema_.columns.size(); ++c) {
      const ColumnSpec& col = schema_.columns[c];
      Hid ds = open_dataset(inst, col.name, sp);
      Hid ft(H5Dget_type(ds), H5Tclose);
      if (H5Tget_size(ft) != dtype_size(col.dtype)) fail(sp, "column '" + col.name + "' has the wrong type");
      if (dataset_length(ds, sp) != n) fail(sp, "column '" + col.name + "' has the wrong length (corrupt file)");
      const size_t es = dtype_size(col.dtype);
      for (uint64_t a = 0; a < n; a += kBlockRows) {
        const uint64_t m = std::min(kBlockRows, n - a);
        buf.resize(m * es);
        read_rows(ds, a, m, buf.data(), sp, "column '" + col.name + "'");
        cols_[c].append(buf.data(), m);
        if (static_cast<int>(c) == label_col_)
          for (uint64_t r = 0; r < m; ++r)
            ++label_counts_[label_signed_ ? int(static_cast<int8_t>(buf[r])) : int(buf[r])];
      }
    }
    if (offsets_) {
      Hid g = open_group(src.file, "spikes", sp);
      Hid off = open_dataset(g, "offsets", sp);
      Hid tm = open_dataset(g, "times", sp);
      const uint64_t n = src.n_rows * schema_.spike_slots();  // one spike train per row and cell
      if (dataset_length(off, sp) != n + 1) fail(sp, "spikes/offsets has the wrong length (corrupt file)");
      const uint64_t nt = dataset_length(tm, sp);
      std::vector<uint64_t> o;
      std::vector<float> t;
      for (uint64_t a = 0; a < n; a += kBlockRows) {
        const uint64_t m = std::min(kBlockRows, n - a);
        o.resize(m + 1);
        read_rows(off, a, m + 1, o.data(), sp, "spikes/offsets");
        if ((a == 0 && o[0] != 0) || o[m] > nt) fail(sp, "spikes/offsets inconsistent with spikes/times (corrupt file)");
        std::vector<uint64_t> shifted(m);
        for (uint64_t r = 0; r < m; ++r) {
          if (o[r + 1] < o[r]) fail(sp, "spikes/offsets not ascending (corrupt file)");
          shifted[r] = spike_base_ + o[r + 1];
        }
        offsets_->append(shifted.data(), m);
        for (uint64_t b = o[0]; b < o[m]; b += kBlockRows) {
          const uint64_t k = std::min<uint64_t>(kBlockRows, o[m] - b);
          t.resize(k);
          read_rows(tm, b, k, t.data(), sp, "spikes/times");
          times_->append(t.data(), k);
        }
        if (a + m == n) {
          if (o[m] != nt) fail(sp, "spikes/times length differs from the last offset (corrupt file)");
          spike_base_ += nt;
        }
      }
    }
    if (schema_.final_state) {
      Hid g = open_group(src.file, "final_state", sp);
      std::vector<double> v;
      for (size_t k = 0; k < schema_.state_names.size(); ++k) {
        Hid ds = open_dataset(g, schema_.state_names[k], sp);
        if (dataset_length(ds, sp) != n) fail(sp, "final_state/" + schema_.state_names[k] + " has the wrong length");
        for (uint64_t a = 0; a < n; a += kBlockRows) {
          const uint64_t m = std::min(kBlockRows, n - a);
          v.resize(m);
          read_rows(ds, a, m, v.data(), sp, "final_state/" + schema_.state_names[k]);
          state_[k].append(v.data(), m);
        }
      }
    }
    if (link_exists(src.file, "traces")) {
      Hid g = open_group(src.file, "traces", sp);
      if (!traces_.valid()) traces_ = make_group(file_, "traces", path_);
      std::vector<std::string> names;
      auto cb = [](hid_t, const char* nm, const H5L_info_t*, void* d) -> herr_t {
        static_cast<std::vector<std::string>*>(d)->push_back(nm);
        return 0;
      };
      if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &names) < 0) fail(sp, "cannot list /traces");
      for (const auto& nm : names) {
        if (link_exists(traces_, nm)) fail(sp, "trace of instance " + nm + " appears twice");
        if (H5Ocopy(g, nm.c_str(), traces_, nm.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
          fail(sp, "cannot copy /traces/" + nm);
      }
    }
    rows_ += n;
  }

  // Writes the root attributes (the writer's own keys override the caller's), closes, fsyncs.
  void finish(std::map<std::string, AttrValue> attrs) {
    if (rows_ != n_rows_)
      fail(path_, "internal error: " + std::to_string(rows_) + " rows streamed, " + std::to_string(n_rows_) + " expected");
    for (auto& c : cols_) c.close();
    for (auto& c : state_) c.close();
    if (offsets_) {
      offsets_->close();
      times_->close();
    }
    traces_.reset();
    if (label_col_ >= 0) {
      json lc = json::object();
      const auto& names = schema_.columns[label_col_].enum_names;
      for (size_t k = 0; k < names.size(); ++k) lc[names[k]] = label_counts_.count(int(k)) ? label_counts_[int(k)] : 0;
      for (const auto& [code, cnt] : label_counts_)
        if (code < 0 || code >= int(names.size())) lc[std::to_string(code)] = cnt;
      attrs["label_counts"] = lc.dump();
      attrs["label_names"] = json(names).dump();
    }
    attrs["format"] = std::string("neurosweep");
    attrs["format_version"] = int64_t(kFormatVersion);
    attrs["complete"] = int64_t(1);
    attrs["axis_names"] = axis_names_;
    attrs["schema"] = schema_to_json(schema_).dump();
    attrs["max_spikes_stored"] = int64_t(schema_.max_spikes_stored);
    attrs["finalized"] = utc_now_iso();
    for (const auto& [k, v] : attrs) write_attr(file_, k, v, path_);
    if (file_.close() < 0) fail(path_, "cannot close (disk full?)");
    fsync_path(path_, false);
  }

 private:
  std::string path_;
  StoreSchema schema_;
  uint64_t n_rows_, rows_ = 0, spike_base_ = 0;
  Hid file_, traces_;
  std::vector<Appender> cols_, state_;
  std::unique_ptr<Appender> offsets_, times_;
  int label_col_ = -1;
  bool label_signed_ = true;
  std::map<int, uint64_t> label_counts_;
  std::string axis_names_;
};

std::string parts_of(const std::string& out) { return out + ".parts"; }

void check_out_dir(const std::string& out) {
  fs::path p(out);
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(out, "output directory '" + dir.string() + "' does not exist");
  if (p.filename().empty()) fail(out, "output path names a directory, not a file");
}

void write_file_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
    if (!o) fail(tmp, "cannot create");
    o << text;
    o.flush();
    if (!o) fail(tmp, "cannot write (disk full?)");
  }
  fsync_path(tmp, false);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail(path, std::string("cannot rename into place: ") + std::strerror(errno));
  fsync_path(fs::path(path).parent_path().string(), true);
}

json read_manifest(const std::string& parts) {
  const std::string mp = parts + "/manifest.json";
  std::error_code ec;
  if (!fs::exists(mp, ec))
    fail(parts, "no manifest.json: not a neurosweep build directory (or the build was killed before it started; create it again with --force)");
  std::ifstream in(mp);
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    fail(mp, std::string("corrupt manifest (not valid JSON): ") + e.what());
  }
  if (!j.is_object() || j.value("format", "") != "neurosweep-parts")
    fail(mp, "not a neurosweep build manifest (format != \"neurosweep-parts\")");
  const int v = j.value("format_version", 0);
  if (v > kFormatVersion)
    fail(mp, "format_version " + std::to_string(v) + " is newer than this program supports (" + std::to_string(kFormatVersion) + ")");
  return j;
}

// Names the top-level spec keys whose values differ ("" when unparseable or none).
std::string spec_diff(const std::string& a, const std::string& b) {
  try {
    const json ja = json::parse(a), jb = json::parse(b);
    if (!ja.is_object() || !jb.is_object()) return "";
    std::set<std::string> keys;
    for (const auto& [k, v] : ja.items()) keys.insert(k);
    for (const auto& [k, v] : jb.items()) keys.insert(k);
    std::string out;
    for (const auto& k : keys)
      if (!ja.contains(k) || !jb.contains(k) || ja[k] != jb[k]) out += (out.empty() ? "" : ", ") + k;
    return out;
  } catch (...) {
    return "";
  }
}

void validate_schema(const StoreSchema& s) {
  std::set<std::string> seen;
  for (const auto& c : s.columns) {
    if (c.name.empty() || c.name.find('/') != std::string::npos || c.name == "." || c.name == "..")
      throw DatabaseError("column name '" + c.name + "' is invalid (empty or contains '/')");
    if (!seen.insert(c.name).second) throw DatabaseError("column '" + c.name + "' is given twice");
    dtype_size(c.dtype);
    if (!c.enum_names.empty()) {
      if (c.dtype[0] == 'f') throw DatabaseError("column '" + c.name + "': enum names need an integer dtype, not " + c.dtype);
      if (c.enum_names.size() > 127) throw DatabaseError("column '" + c.name + "': too many enum names");
      std::set<std::string> en(c.enum_names.begin(), c.enum_names.end());
      if (en.size() != c.enum_names.size()) throw DatabaseError("column '" + c.name + "': duplicate enum names");
    }
  }
  if (s.final_state && s.state_names.empty()) throw DatabaseError("final_state requested but no state names given");
  if (!s.state_units.empty() && s.state_units.size() != s.state_names.size())
    throw DatabaseError("state_units must be empty or as long as state_names");
  if (s.max_spikes_stored < 0) throw DatabaseError("max_spikes_stored must be >= 0");
  for (const auto& a : s.axes) {
    if (a.name.empty() || a.name.find('/') != std::string::npos) throw DatabaseError("axis name '" + a.name + "' is invalid");
    const bool sampled = a.kind == "random" || a.kind == "sobol";  // values optional (in /instances)
    if (a.values.size() != a.params.size() * a.size && !(sampled && a.values.empty()))
      throw DatabaseError("axis '" + a.name + "': values must hold size x params (" + std::to_string(a.size * a.params.size()) +
                          ") numbers, got " + std::to_string(a.values.size()));
    if (!a.labels.empty() && a.labels.size() != a.size) throw DatabaseError("axis '" + a.name + "': labels must have size entries");
    for (const auto& p : a.params)
      if (p == "labels" || p.empty() || p.find('/') != std::string::npos) throw DatabaseError("axis '" + a.name + "': bad parameter name '" + p + "'");
  }
}

}  // namespace
}  // namespace db

using namespace db;

size_t dtype_size(const std::string& d) {
  if (d == "f4" || d == "i4" || d == "u4") return 4;
  if (d == "f8" || d == "u8") return 8;
  if (d == "i1" || d == "u1") return 1;
  throw DatabaseError("unknown column dtype '" + d + "' (expected f4, f8, i1, u1, i4, u4, u8)");
}

std::string hash_hex(uint64_t h) {
  char b[20];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(h));
  return b;
}

// An exclusive lock on <parts>/lock, held while a BuildStore writes the build: a second process
// on the same output (a second `run`, or a rank that outlived a killed mpirun) is refused instead
// of writing the same chunk files. The kernel drops the lock when its holder dies, so a crash
// never leaves a stale lock. Returns null when the lock is held elsewhere.
static std::shared_ptr<void> try_lock_parts(const std::string& parts) {
  const std::string path = parts + "/lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, std::string("cannot open lock file: ") + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return nullptr;
  }
  return std::shared_ptr<void>(new int(fd), [](void* p) {
    int* f = static_cast<int*>(p);
    ::close(*f);
    delete f;
  });
}

[[noreturn]] static void refuse_busy(const std::string& parts) {
  fail(parts, "another neurosweep process is writing this build right now; wait for it to finish or stop it "
              "(every process of a killed mpirun) before running again");
}

BuildStore BuildStore::create(const std::string& out_path, const std::string& spec_canonical, uint64_t spec_hash,
                              uint64_t n, uint64_t chunk_size, const StoreSchema& schema,
                              const std::map<std::string, AttrValue>& attrs, bool force, int shard_k, int shard_n) {
  quiet_hdf5();
  if (n == 0) fail(out_path, "a sweep of 0 instances has nothing to store");
  if (chunk_size == 0) fail(out_path, "chunk size must be > 0");
  const uint64_t nch = (n + chunk_size - 1) / chunk_size;
  if (shard_n < 1 || shard_k < 0 || shard_k >= shard_n)
    fail(out_path, "bad shard " + std::to_string(shard_k) + "/" + std::to_string(shard_n) + " (need 0 <= K < N)");
  if (static_cast<uint64_t>(shard_n) > nch)
    fail(out_path, std::to_string(shard_n) + " shards but only " + std::to_string(nch) + " chunks: use fewer shards or a smaller chunk size");
  validate_schema(schema);
  StoreSchema sch = schema;
  {  // strides: C order unless given
    uint64_t stride = 1;
    for (size_t a = sch.axes.size(); a-- > 0;) {
      if (sch.axes[a].stride == 0) sch.axes[a].stride = stride;
      stride *= std::max<uint64_t>(1, sch.axes[a].size);
    }
  }
  check_out_dir(out_path);
  const std::string parts = parts_of(out_path);
  std::error_code ec;
  const bool have_out = fs::exists(out_path, ec), have_parts = fs::exists(parts, ec);
  if ((have_out || have_parts) && !force)
    fail(have_out ? out_path : parts, std::string(have_out ? "output exists" : "an unfinished build exists") +
                                          "; refusing to overwrite it (use --force to replace it" +
                                          (have_parts ? ", or --resume to continue the build)" : ")"));
  if (have_parts && fs::is_directory(parts, ec) && !try_lock_parts(parts)) refuse_busy(parts);
  if (have_out) fs::remove_all(out_path, ec);
  if (have_parts) fs::remove_all(parts, ec);
  fs::remove(out_path + ".tmp", ec);
  if (!fs::create_directory(parts, ec)) fail(parts, "cannot create build directory: " + ec.message());

  BuildStore s;
  s.lock_ = try_lock_parts(parts);
  if (!s.lock_) refuse_busy(parts);
  s.out_ = out_path;
  s.parts_ = parts;
  s.spec_ = spec_canonical;
  s.spec_hash_ = spec_hash;
  s.n_ = n;
  s.chunk_size_ = chunk_size;
  s.n_chunks_ = nch;
  s.shard_k_ = shard_k;
  s.shard_n_ = shard_n;
  s.chunk_begin_ = nch * shard_k / shard_n;
  s.chunk_end_ = nch * (shard_k + 1) / shard_n;
  s.schema_ = sch;
  s.attrs_ = attrs;
  s.created_ = utc_now_iso();
  json m = {{"format", "neurosweep-parts"},
            {"format_version", kFormatVersion},
            {"spec", spec_canonical},
            {"spec_hash", hash_hex(spec_hash)},
            {"n_instances", n},
            {"chunk_size", chunk_size},
            {"n_chunks", nch},
            {"shard_k", shard_k},
            {"shard_n", shard_n},
            {"chunk_begin", s.chunk_begin_},
            {"chunk_end", s.chunk_end_},
            {"schema", schema_to_json(sch)},
            {"attrs", attrs_to_json(attrs)},
            {"software_version", kVersion},
            {"git_revision", kGitRevision},
            {"created", s.created_}};
  write_file_atomic(parts + "/manifest.json", m.dump(1));
  return s;
}

BuildStore BuildStore::resume(const std::string& out_path, uint64_t spec_hash, const std::string& spec_canonical) {
  quiet_hdf5();
  const std::string parts = parts_of(out_path);
  std::error_code ec;
  if (!fs::is_directory(parts, ec)) {
    if (fs::exists(out_path, ec))
      fail(out_path, "exists and has no unfinished build (" + parts + ") to resume; it is already finalized (use --force to rebuild)");
    fail(out_path, "nothing to resume: " + parts + " does not exist");
  }
  const json m = read_manifest(parts);
  const std::string mp = parts + "/manifest.json";
  BuildStore s;
  try {
    s.out_ = out_path;
    s.parts_ = parts;
    s.spec_ = m.at("spec").get<std::string>();
    s.spec_hash_ = std::stoull(m.at("spec_hash").get<std::string>(), nullptr, 16);
    s.n_ = m.at("n_instances").get<uint64_t>();
    s.chunk_size_ = m.at("chunk_size").get<uint64_t>();
    s.n_chunks_ = m.at("n_chunks").get<uint64_t>();
    s.shard_k_ = m.at("shard_k").get<int>();
    s.shard_n_ = m.at("shard_n").get<int>();
    s.chunk_begin_ = m.at("chunk_begin").get<uint64_t>();
    s.chunk_end_ = m.at("chunk_end").get<uint64_t>();
    s.created_ = m.at("created").get<std::string>();
  } catch (const std::exception& e) {
    fail(mp, std::string("corrupt manifest: ") + e.what());
  }
  if (s.chunk_size_ == 0 || s.n_chunks_ != (s.n_ + s.chunk_size_ - 1) / s.chunk_size_ || s.chunk_end_ > s.n_chunks_ ||
      s.chunk_begin_ > s.chunk_end_)
    fail(mp, "corrupt manifest: inconsistent sizes");
  s.schema_ = schema_from_json(m.at("schema"), mp);
  s.attrs_ = attrs_from_json(m.at("attrs"), mp);
  if (s.spec_hash_ != spec_hash) {
    std::string msg = "the unfinished build was made from a different sweep spec (spec hash " + hash_hex(s.spec_hash_) +
                      " in the build, " + hash_hex(spec_hash) + " now)";
    if (!spec_canonical.empty()) {
      const std::string d = spec_diff(s.spec_, spec_canonical);
      if (!d.empty()) msg += "; keys that differ: " + d;
    }
    fail(parts, msg + ". Use --force to start over.");
  }
  s.lock_ = try_lock_parts(parts);
  if (!s.lock_) refuse_busy(parts);
  // debris of a crash: temp files
  for (const auto& e : fs::directory_iterator(parts, ec))
    if (e.path().extension() == ".tmp") fs::remove(e.path(), ec);
  return s;
}

std::vector<uint64_t> BuildStore::pending_chunks() const {
  std::vector<uint64_t> out;
  std::error_code ec;
  for (uint64_t c = chunk_begin_; c < chunk_end_; ++c)
    if (!fs::exists(parts_ + "/" + chunk_file_name(c), ec)) out.push_back(c);
  return out;
}

std::pair<uint64_t, uint64_t> BuildStore::chunk_range(uint64_t chunk) const {
  if (chunk >= n_chunks_) fail(parts_, "chunk " + std::to_string(chunk) + " out of range (" + std::to_string(n_chunks_) + " chunks)");
  return {chunk * chunk_size_, std::min(n_, (chunk + 1) * chunk_size_)};
}

void BuildStore::write_chunk(uint64_t chunk, const ChunkData& d) {
  quiet_hdf5();
  const std::string final_name = parts_ + "/" + chunk_file_name(chunk);
  if (chunk < chunk_begin_ || chunk >= chunk_end_)
    fail(final_name, "chunk " + std::to_string(chunk) + " does not belong to shard " + std::to_string(shard_k_) + "/" +
                         std::to_string(shard_n_) + " (chunks [" + std::to_string(chunk_begin_) + ", " +
                         std::to_string(chunk_end_) + "))");
  const auto [first, end] = chunk_range(chunk);
  const uint64_t n = end - first;
  if (d.first != first || d.count != n)
    fail(final_name, "chunk data covers [" + std::to_string(d.first) + ", " + std::to_string(d.first + d.count) +
                         ") but chunk " + std::to_string(chunk) + " is [" + std::to_string(first) + ", " + std::to_string(end) + ")");
  // the schema is fixed at create time: same columns, same sizes
  for (const auto& [name, bytes] : d.columns)
    if (std::none_of(schema_.columns.begin(), schema_.columns.end(), [&](const ColumnSpec& c) { return c.name == name; }))
      fail(final_name, "column '" + name + "' is not in the schema given at create");
  for (const auto& c : schema_.columns) {
    auto it = d.columns.find(c.name);
    if (it == d.columns.end()) fail(final_name, "column '" + c.name + "' is missing from the chunk data");
    if (it->second.size() != n * dtype_size(c.dtype))
      fail(final_name, "column '" + c.name + "' has " + std::to_string(it->second.size()) + " bytes, expected " +
                           std::to_string(n * dtype_size(c.dtype)) + " (" + std::to_string(n) + " x " + c.dtype + ")");
  }
  std::vector<uint64_t> offsets;
  const uint64_t ns = n * schema_.spike_slots();  // spike trains: one per instance and cell
  if (schema_.max_spikes_stored > 0) {
    if (d.spike_counts.size() != ns)
      fail(final_name, "spike_counts must have one entry per instance" +
                           std::string(schema_.spike_cells.empty() ? "" : " and cell (" + std::to_string(ns) + ")"));
    offsets.resize(ns + 1, 0);
    for (uint64_t j = 0; j < ns; ++j) {
      if (d.spike_counts[j] > static_cast<uint32_t>(schema_.max_spikes_stored))
        fail(final_name, "instance " + std::to_string(first + j / schema_.spike_slots()) + " has " + std::to_string(d.spike_counts[j]) +
                             " stored spikes, more than max_spikes_stored");
      offsets[j + 1] = offsets[j] + d.spike_counts[j];
    }
    if (offsets[ns] != d.spike_times.size())
      fail(final_name, "spike_times has " + std::to_string(d.spike_times.size()) + " values, spike_counts sum to " + std::to_string(offsets[ns]));
  } else if (!d.spike_counts.empty() || !d.spike_times.empty()) {
    fail(final_name, "spike data given but the schema stores no spikes (max_spikes_stored = 0)");
  }
  if (schema_.final_state) {
    if (d.final_state.size() != n * schema_.state_names.size())
      fail(final_name, "final_state must hold n_state x count = " + std::to_string(n * schema_.state_names.size()) + " values");
  } else if (!d.final_state.empty()) {
    fail(final_name, "final state given but the schema has final_state off");
  }
  for (const auto& t : d.traces) {
    if (t.instance < first || t.instance >= end) fail(final_name, "trace of instance " + std::to_string(t.instance) + " is outside the chunk");
    if (t.values.size() != t.names.size() || (!t.units.empty() && t.units.size() != t.names.size()))
      fail(final_name, "trace of instance " + std::to_string(t.instance) + ": names/units/values lengths differ");
    for (size_t k = 0; k < t.values.size(); ++k)
      if (t.values[k].size() != t.t.size() || t.names[k] == "t" || t.names[k].empty())
        fail(final_name, "trace of instance " + std::to_string(t.instance) + ": variable '" + t.names[k] + "' is bad (length or name)");
  }

  const std::string tmp = final_name + ".tmp";
  {
    Hid f(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!f.valid()) fail(tmp, "cannot create chunk file");
    write_attr(f, "format", std::string("neurosweep-chunk"), tmp);
    write_attr(f, "format_version", int64_t(kFormatVersion), tmp);
    write_attr(f, "spec_hash", hash_hex(spec_hash_), tmp);
    write_attr(f, "chunk", int64_t(chunk), tmp);
    write_attr(f, "first_index", int64_t(first), tmp);
    write_attr(f, "n_rows", int64_t(n), tmp);
    {
      Hid g = make_group(f, "instances", tmp);
      for (const auto& c : schema_.columns) {
        Hid t = column_type(c);
        write_plain(g, c.name, t, n, d.columns.at(c.name).data(), tmp);
      }
    }
    if (schema_.max_spikes_stored > 0) {
      Hid g = make_group(f, "spikes", tmp);
      write_plain(g, "offsets", H5T_STD_U64LE, ns + 1, offsets.data(), tmp);
      write_spike_cells(g, schema_, tmp);
      write_plain(g, "times", H5T_IEEE_F32LE, d.spike_times.size(), d.spike_times.data(), tmp);
    }
    if (schema_.final_state) {
      Hid g = make_group(f, "final_state", tmp);
      for (size_t k = 0; k < schema_.state_names.size(); ++k)
        write_plain(g, schema_.state_names[k], H5T_IEEE_F64LE, n, d.final_state.data() + k * n, tmp);
    }
    if (!d.traces.empty()) {
      Hid g = make_group(f, "traces", tmp);
      for (const auto& t : d.traces) {
        const std::string nm = std::to_string(t.instance);
        if (link_exists(g, nm)) fail(final_name, "two traces for instance " + nm);
        Hid tg = make_group(g, nm, tmp, true);
        write_plain(tg, "t", H5T_IEEE_F64LE, t.t.size(), t.t.data(), tmp, "ms", true);
        for (size_t k = 0; k < t.names.size(); ++k)
          write_plain(tg, t.names[k], H5T_IEEE_F64LE, t.t.size(), t.values[k].data(), tmp,
                      t.units.empty() ? "" : t.units[k], true);
      }
    }
    if (f.close() < 0) fail(tmp, "cannot close chunk file (disk full?)");
  }
  fsync_path(tmp, false);
  if (std::rename(tmp.c_str(), final_name.c_str()) != 0)
    fail(final_name, std::string("cannot rename chunk file into place: ") + std::strerror(errno));
  fsync_path(parts_, true);
}

void BuildStore::finalize(const std::map<std::string, AttrValue>& extra_attrs) {
  quiet_hdf5();
  const auto pend = pending_chunks();
  if (!pend.empty())
    fail(parts_, "cannot finalize: " + std::to_string(pend.size()) + " of " + std::to_string(chunk_end_ - chunk_begin_) +
                     " chunks are not done (first missing: chunk " + std::to_string(pend.front()) + ")");
  const uint64_t first = chunk_begin_ * chunk_size_;
  const uint64_t end = std::min(n_, chunk_end_ * chunk_size_);
  const std::string tmp = out_ + ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  try {
    FinalWriter w(tmp, schema_, end - first);
    const std::string want_hash = hash_hex(spec_hash_);
    for (uint64_t c = chunk_begin_; c < chunk_end_; ++c) {
      RowFile rf = open_row_file(parts_ + "/" + chunk_file_name(c), true);
      const auto [a, b] = chunk_range(c);
      if (attr_string(rf.file, "spec_hash", rf.path) != want_hash || rf.first_index != a || rf.n_rows != b - a)
        fail(rf.path, "chunk file does not match the manifest (spec hash or rows differ); delete it and resume");
      w.append(rf);
    }
    std::map<std::string, AttrValue> attrs = attrs_;
    for (const auto& [k, v] : extra_attrs) attrs[k] = v;
    attrs["software_version"] = std::string(kVersion);
    attrs["git_revision"] = std::string(kGitRevision);
    attrs["spec"] = spec_;
    attrs["spec_hash"] = hash_hex(spec_hash_);
    attrs["n_instances"] = int64_t(n_);
    attrs["n_rows"] = int64_t(end - first);
    attrs["first_index"] = int64_t(first);
    attrs["chunk_size"] = int64_t(chunk_size_);
    attrs["created"] = created_;
    if (shard_n_ > 1) {
      attrs["shard_k"] = int64_t(shard_k_);
      attrs["shard_n"] = int64_t(shard_n_);
    }
    w.finish(attrs);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  if (std::rename(tmp.c_str(), out_.c_str()) != 0) fail(out_, std::string("cannot rename into place: ") + std::strerror(errno));
  fs::path dir = fs::path(out_).has_parent_path() ? fs::path(out_).parent_path() : fs::path(".");
  fsync_path(dir.string(), true);
  fs::remove_all(parts_, ec);
}

void merge_shards(const std::vector<std::string>& shards, const std::string& out, bool force) {
  quiet_hdf5();
  if (shards.empty()) fail(out, "merge needs at least one shard file");
  check_out_dir(out);
  std::error_code ec;
  if ((fs::exists(out, ec) || fs::exists(parts_of(out), ec)) && !force)
    fail(out, "output exists; refusing to overwrite it (use --force)");
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
  const std::string tmp = out + ".tmp";
  fs::remove(tmp, ec);
  try {
    FinalWriter w(tmp, schema, n);
    for (const auto& s : sh) w.append(s.rf);
    w.finish(attrs);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  if (force) fs::remove_all(parts_of(out), ec);
  if (std::rename(tmp.c_str(), out.c_str()) != 0) fail(out, std::string("cannot rename into place: ") + std::strerror(errno));
}

}  // namespace ns
