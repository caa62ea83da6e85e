#pragma once
// Internal helpers of the database layer (db_hdf5.cpp, database.cpp, db_writer.cpp, db_query.cpp): RAII HDF5 handles, typed
// attributes, schema (de)serialisation, readers of chunk/shard/final files.
#include <hdf5.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/database.hpp"

namespace ns::db {

using json = nlohmann::json;

void quiet_hdf5();  // turn off HDF5's own error printing (once)

// Owning hid_t.
class Hid {
 public:
  Hid() = default;
  Hid(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  Hid(Hid&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Hid& operator=(Hid&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  ~Hid() { reset(); }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }
  // Close now and report failure (a failed close of a written file means lost data).
  herr_t close() {
    herr_t r = 0;
    if (id_ >= 0 && close_) r = close_(id_);
    id_ = -1;
    return r;
  }
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

[[noreturn]] void fail(const std::string& path, const std::string& what);

// Opens an existing file read-only with clear errors: missing, not HDF5, truncated/corrupt.
Hid open_ro(const std::string& path);
Hid open_group(hid_t loc, const std::string& name, const std::string& path);
Hid open_dataset(hid_t loc, const std::string& name, const std::string& path);
bool link_exists(hid_t loc, const std::string& name);

void write_attr(hid_t obj, const std::string& name, const AttrValue& v, const std::string& path);
std::optional<AttrValue> read_attr(hid_t obj, const std::string& name, const std::string& path);
std::map<std::string, AttrValue> read_all_attrs(hid_t obj, const std::string& path);
std::string attr_string(hid_t obj, const std::string& name, const std::string& path);
int64_t attr_int(hid_t obj, const std::string& name, const std::string& path);

Hid vlen_str_type();              // variable-length UTF-8 string (reading only)
Hid fixed_str_type(size_t width);  // fixed-length UTF-8 string, NUL-padded
// File access properties of every file we write: the HDF5 1.10 file format, whose metadata
// (superblock, object headers with their attributes, group and chunk indexes) carries checksums.
// With Fletcher32 on every dataset, every stored byte that matters is checked on read.
Hid checksummed_fapl();
// The HDF5 error stack of the failed call, as text; names a checksum failure plainly.
std::string hdf5_error_detail();

// Signed enum columns (the label, i1) also name the value -1: "unclassified" (status not ok, or
// undecidable), a member of the stored HDF5 enum type like every other label.
constexpr const char* kUnclassified = "unclassified";
bool has_unclassified(const ColumnSpec& c);
// The name of enum code `code` of column c ("unclassified" for -1), or the number as text.
std::string enum_text(const ColumnSpec& c, int64_t code);
// Refuses a stored /instances dataset whose type does not match the schema's dtype (e.g. a column
// rewritten as strings), naming the file and column.
void check_column_type(hid_t ds, const ColumnSpec& c, const std::string& path);

// File (little-endian) type of a column: numeric or enum.
Hid column_type(const ColumnSpec& c);
Hid dtype_type(const std::string& dtype);

// 1-D datasets (and 2-D ones read or written by whole rows: /rates/values).
uint64_t dataset_length(hid_t ds, const std::string& path);
// Rows of a 2-D dataset; refuses another rank or a row length other than cols (corrupt file).
uint64_t dataset_rows(hid_t ds, uint64_t cols, const std::string& path, const std::string& what);
// For a 2-D dataset, n whole rows starting at row `offset` (buf holds n x row length elements).
void read_rows(hid_t ds, uint64_t offset, uint64_t n, void* buf, const std::string& path,
               const std::string& what);
void write_rows(hid_t ds, uint64_t offset, uint64_t n, const void* buf, const std::string& path,
                const std::string& what);

json schema_to_json(const StoreSchema& s);
StoreSchema schema_from_json(const json& j, const std::string& path);
json attrs_to_json(const std::map<std::string, AttrValue>& a);
std::map<std::string, AttrValue> attrs_from_json(const json& j, const std::string& path);

std::string chunk_file_name(uint64_t chunk);  // "chunk-000123.h5"
// Chunk numbers in [begin, end) whose chunk files exist in a parts directory, ascending, from one
// directory listing (O(files), whatever end - begin is).
std::vector<uint64_t> list_chunk_files(const std::string& parts, uint64_t begin, uint64_t end);
std::string utc_now_iso();
void fsync_path(const std::string& path, bool directory);

// An opened file in the layout of docs/FORMAT.md section 1 (a chunk file, a shard file or a
// final file): rows [first_index, first_index + n_rows).
struct RowFile {
  std::string path;
  Hid file;
  uint64_t first_index = 0, n_rows = 0;
};

// What a reader sees of a database: a final/shard file (one RowFile) or an unfinished parts
// directory (its done chunk files, opened lazily).
struct DbView {
  std::string path;        // as given by the user
  std::string state;       // "complete", "shard", "unfinished"
  std::string data_path;   // the final file, or the parts directory
  StoreSchema schema;
  std::map<std::string, AttrValue> attrs;  // root attrs (final) or manifest attrs (unfinished)
  std::string spec_hash;
  int format_version = 0;
  uint64_t n_instances = 0, first_index = 0, n_rows = 0;
  uint64_t chunks_done = 0, chunks_total = 0;
  int shard_k = 0, shard_n = 1;
  std::vector<std::string> sources;  // files holding the rows, in index order
};
DbView open_view(const std::string& path);
RowFile open_row_file(const std::string& file, bool chunk_file);

}  // namespace ns::db
