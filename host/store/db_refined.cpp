// Reading one integer column of a database, and writing a refined database (a copy of the grid
// database plus the group /refined, docs/FORMAT.md section 5): the pieces of `neurosweep refine`
// that touch HDF5.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "store/database.hpp"
#include "store/db_internal.hpp"
#include "store/db_writer.hpp"

namespace fs = std::filesystem;

namespace ns {
using namespace db;

std::vector<int64_t> read_int_column(const std::string& path, const std::string& column) {
  quiet_hdf5();
  RowFile rf = open_row_file(path, false);
  const StoreSchema sc = schema_from_json(json::parse(attr_string(rf.file, "schema", path)), path);
  const ColumnSpec* col = nullptr;
  std::string ints;
  for (const auto& c : sc.columns) {
    if (c.name == column) col = &c;
    if (c.dtype[0] != 'f' && c.name != "index") ints += (ints.empty() ? "" : ", ") + c.name;
  }
  if (!col) fail(path, "no column '" + column + "'; integer (label) columns: " + ints);
  if (col->dtype[0] == 'f')
    fail(path, "column '" + column + "' holds real numbers (" + col->dtype + "), not labels; integer (label) columns: " + ints);
  Hid inst = open_group(rf.file, "instances", path);
  Hid ds = open_dataset(inst, column, path);
  check_column_type(ds, *col, path);
  const uint64_t n = dataset_length(ds, path);
  const size_t es = dtype_size(col->dtype);
  std::vector<uint8_t> buf(n * es);
  if (n) read_rows(ds, 0, n, buf.data(), path, "column '" + column + "'");
  std::vector<int64_t> out(n);
  for (uint64_t r = 0; r < n; ++r) {
    const uint8_t* p = buf.data() + r * es;
    const std::string& d = col->dtype;
    if (d == "i1") out[r] = static_cast<int8_t>(*p);
    else if (d == "u1") out[r] = *p;
    else if (d == "i4") { int32_t v; std::memcpy(&v, p, 4); out[r] = v; }
    else if (d == "u4") { uint32_t v; std::memcpy(&v, p, 4); out[r] = v; }
    else { uint64_t v; std::memcpy(&v, p, 8); out[r] = static_cast<int64_t>(v); }
  }
  return out;
}

void write_refined(const std::string& grid_db, const std::string& tmp, const std::vector<RefinedPart>& parts,
                   const std::vector<ColumnSpec>& extra_columns, const std::map<std::string, AttrValue>& attrs) {
  quiet_hdf5();
  StoreSchema sc;
  {
    RowFile g = open_row_file(grid_db, false);
    sc = schema_from_json(json::parse(attr_string(g.file, "schema", grid_db)), grid_db);
  }
  sc.axes.clear();  // the refined points are no grid: their positions are the pos_<axis> columns
  for (const auto& c : extra_columns) sc.columns.push_back(c);
  std::error_code ec;
  fs::remove(tmp, ec);
  if (!fs::copy_file(grid_db, tmp, ec)) fail(tmp, "cannot copy " + grid_db + ": " + ec.message());
  try {
    uint64_t n = 0;
    std::vector<RowFile> files;
    for (const auto& p : parts) {
      files.push_back(open_row_file(p.path, false));
      n += files.back().n_rows;
    }
    FinalWriter w(tmp, sc, n, "refined");
    for (size_t k = 0; k < parts.size(); ++k) w.append(files[k], parts[k].columns);
    w.finish(attrs);
    {  // the root says that the file holds refined points (readers that know /refined look there)
      Hid f(H5Fopen(tmp.c_str(), H5F_ACC_RDWR, checksummed_fapl()), H5Fclose);
      if (!f.valid()) fail(tmp, "cannot reopen");
      for (const auto& [k, v] : attrs) write_attr(f, k, v, tmp);
      if (f.close() < 0) fail(tmp, "cannot close (disk full?)");
    }
    fsync_path(tmp, false);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
}

}  // namespace ns
