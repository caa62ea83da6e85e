// HDF5 helpers of the database layer: error reporting, attributes, types, 1-D row I/O, schema
// and attribute (de)serialisation, file helpers, opening row files. Layout: docs/FORMAT.md.
#include "store/database.hpp"

#include <sys/file.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
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
  if (f < 0) {
    const std::string detail = hdf5_error_detail();
    fail(path, "HDF5 file cannot be opened: " + (detail.rfind("checksum", 0) == 0 ? detail : "truncated or corrupt"));
  }
  return Hid(f, H5Fclose);
}

// A failed open: a checksum failure is named as such, anything else is "missing" or "corrupt".
[[noreturn]] static void fail_open(const std::string& path, const std::string& what, bool exists) {
  const std::string detail = hdf5_error_detail();
  if (detail.rfind("checksum", 0) == 0) fail(path, what + " cannot be read: " + detail);
  fail(path, what + (exists ? " cannot be opened (corrupt file)" : " is missing (corrupt or foreign file)"));
}

Hid open_group(hid_t loc, const std::string& name, const std::string& path) {
  if (!link_exists(loc, name)) fail_open(path, "group '" + name + "'", false);
  hid_t g = H5Gopen2(loc, name.c_str(), H5P_DEFAULT);
  if (g < 0) fail_open(path, "group '" + name + "'", true);
  return Hid(g, H5Gclose);
}

Hid open_dataset(hid_t loc, const std::string& name, const std::string& path) {
  if (!link_exists(loc, name)) fail_open(path, "dataset '" + name + "'", false);
  hid_t d = H5Dopen2(loc, name.c_str(), H5P_DEFAULT);
  if (d < 0) fail_open(path, "dataset '" + name + "'", true);
  return Hid(d, H5Dclose);
}

// ---- attributes -------------------------------------------------------------------------------
Hid vlen_str_type() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return Hid(t, H5Tclose);
}

Hid fixed_str_type(size_t width) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, std::max<size_t>(1, width));
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return Hid(t, H5Tclose);
}

Hid checksummed_fapl() {
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_LATEST);
  return fapl;
}

std::string hdf5_error_detail() {
  std::vector<std::string> msgs;
  auto walk = [](unsigned, const H5E_error2_t* e, void* d) -> herr_t {
    if (e->desc && *e->desc) static_cast<std::vector<std::string>*>(d)->push_back(e->desc);
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk, &msgs);
  std::string all;
  for (const auto& m : msgs) all += (all.empty() ? "" : "; ") + m;
  std::string low = all;
  for (auto& ch : low) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (low.find("checksum") != std::string::npos || low.find("fletcher") != std::string::npos)
    return "checksum mismatch: the stored bytes were altered after they were written (disk, copy or "
           "transfer error); these data cannot be trusted (HDF5: " + all + ")";
  return all.empty() ? "" : "HDF5: " + all;
}

// Strings are stored fixed-length, so that they sit in the object header (checksummed), not in
// the global heap (variable-length strings), which has no checksum.
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
    const std::string& s = std::get<std::string>(v);
    Hid t = fixed_str_type(s.size());
    Hid a(H5Acreate2(obj, name.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    std::string buf = s.empty() ? std::string(1, '\0') : s;
    if (a.valid()) st = H5Awrite(a, t, buf.data());
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
      Hid mt(H5Tcopy(t), H5Tclose);  // same size, padding and character set as stored
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

bool has_unclassified(const ColumnSpec& c) {
  return c.dtype == "i1" && !c.enum_names.empty() &&
         std::find(c.enum_names.begin(), c.enum_names.end(), kUnclassified) == c.enum_names.end();
}

std::string enum_text(const ColumnSpec& c, int64_t code) {
  if (code >= 0 && code < static_cast<int64_t>(c.enum_names.size())) return c.enum_names[static_cast<size_t>(code)];
  if (code == -1 && has_unclassified(c)) return kUnclassified;
  return std::to_string(code);
}

void check_column_type(hid_t ds, const ColumnSpec& c, const std::string& path) {
  Hid ft(H5Dget_type(ds), H5Tclose);
  const H5T_class_t cls = H5Tget_class(ft);
  const bool want_float = c.dtype[0] == 'f', want_enum = !c.enum_names.empty();
  const bool ok = H5Tget_size(ft) == dtype_size(c.dtype) &&
                  (want_float ? cls == H5T_FLOAT : (cls == H5T_INTEGER || (want_enum && cls == H5T_ENUM)));
  if (!ok)
    fail(path, "column '" + c.name + "' is stored with the wrong type (expected " + c.dtype +
                   (want_enum ? " enum" : "") + "; was it rewritten by another program?)");
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
  if (has_unclassified(c)) {
    const int8_t minus_one = -1;
    if (H5Tenum_insert(e, kUnclassified, &minus_one) < 0)
      throw DatabaseError("column '" + c.name + "': cannot create enum member 'unclassified'");
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

uint64_t dataset_rows(hid_t ds, uint64_t cols, const std::string& path, const std::string& what) {
  Hid sp(H5Dget_space(ds), H5Sclose);
  hsize_t d[2] = {0, 0};
  if (!sp.valid() || H5Sget_simple_extent_ndims(sp) != 2) fail(path, what + " is not 2-D (corrupt or foreign file)");
  H5Sget_simple_extent_dims(sp, d, nullptr);
  if (d[1] != cols)
    fail(path, what + " has rows of " + std::to_string(d[1]) + " values; the schema says " + std::to_string(cols) +
                   " (corrupt file)");
  return d[0];
}

static void rows_io(bool write, hid_t ds, uint64_t offset, uint64_t n, void* buf,
                    const std::string& path, const std::string& what) {
  if (n == 0) return;
  Hid ft(H5Dget_type(ds), H5Tclose);
  Hid fsp(H5Dget_space(ds), H5Sclose);
  hsize_t dims[2] = {0, 1};
  const int rank = H5Sget_simple_extent_ndims(fsp);
  if (rank == 2) H5Sget_simple_extent_dims(fsp, dims, nullptr);
  hsize_t off[2] = {offset, 0}, cnt[2] = {n, dims[1]}, mcnt = n * dims[1];
  Hid msp(H5Screate_simple(1, &mcnt, nullptr), H5Sclose);
  herr_t st = H5Sselect_hyperslab(fsp, H5S_SELECT_SET, off, nullptr, cnt, nullptr);
  if (st >= 0) st = write ? H5Dwrite(ds, ft, msp, fsp, H5P_DEFAULT, buf) : H5Dread(ds, ft, msp, fsp, H5P_DEFAULT, buf);
  if (st < 0) {
    const std::string detail = hdf5_error_detail();
    fail(path, std::string(write ? "cannot write " : "cannot read ") + what + " rows [" +
                   std::to_string(offset) + ", " + std::to_string(offset + n) + ")" +
                   (write ? " (disk full?)"
                          : detail.rfind("checksum", 0) == 0 ? ": " + detail : " (truncated or corrupt file)"));
  }
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
  if (s.has_rates())  // absent without rate series (the format of before)
    j["rates"] = {{"series", s.rate_series}, {"n_bins", s.rate_bins}, {"bin_ms", s.rate_bin_ms}, {"t0_ms", s.rate_t0_ms}};
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
    if (j.contains("rates")) {
      const json& r = j.at("rates");
      s.rate_series = r.at("series").get<std::vector<std::string>>();
      s.rate_bins = r.at("n_bins").get<uint64_t>();
      s.rate_bin_ms = r.at("bin_ms").get<double>();
      s.rate_t0_ms = r.at("t0_ms").get<double>();
    }
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

std::vector<uint64_t> list_chunk_files(const std::string& parts, uint64_t begin, uint64_t end) {
  std::vector<uint64_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(parts, ec)) {
    const std::string n = e.path().filename().string();  // chunk-<digits>.h5
    if (n.size() < 13 || n.rfind("chunk-", 0) != 0 || n.compare(n.size() - 3, 3, ".h5") != 0) continue;
    const std::string digits = n.substr(6, n.size() - 9);
    if (digits.size() > 19 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    const uint64_t c = std::stoull(digits);
    if (c >= begin && c < end && n == chunk_file_name(c)) out.push_back(c);
  }
  std::sort(out.begin(), out.end());
  return out;
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

}  // namespace db
}  // namespace ns
