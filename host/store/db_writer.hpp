#pragma once
// The streaming writer of final (and shard) files: Appender buffers whole HDF5 chunks of a 1-D
// dataset, FinalWriter streams row files (chunk or shard files) into one database file.
// Internal to the database layer (database.cpp, db_writer.cpp).
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "store/db_internal.hpp"

namespace ns::db {

constexpr uint64_t kChunkBytes = 1u << 20;  // ~1 MiB HDF5 chunks
constexpr uint64_t kBlockRows = 1u << 18;   // rows read per block when streaming a source

// Appends rows to a 1-D dataset (or whole rows of `cols` elements to a 2-D one: esize is then
// the bytes of a row), buffering one whole HDF5 chunk so every write covers full chunks (no
// read-modify-write of compressed chunks whatever the build chunk size).
class Appender {
 public:
  Appender(Hid ds, size_t esize, uint64_t chunk_elems, bool extendable, std::string path, std::string what,
           uint64_t cols = 0)
      : ds_(std::move(ds)), esize_(esize), chunk_(chunk_elems), ext_(extendable),
        path_(std::move(path)), what_(std::move(what)), cols_(cols) {
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
      hsize_t d[2] = {pos_ + fill_, cols_};
      if (H5Dset_extent(ds_, d) < 0) fail(path_, "cannot extend " + what_);
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
  uint64_t cols_;  // 0: a 1-D dataset
  std::vector<uint8_t> buf_;
};

Hid make_group(hid_t loc, const std::string& name, const std::string& path, bool track_order = false);
// cols > 0: a 2-D dataset of n rows of cols elements, chunked by whole rows (*chunk_elems: rows).
Hid make_compressed(hid_t loc, const std::string& name, hid_t type, uint64_t n, bool extendable,
                    uint64_t* chunk_elems, const std::string& path, uint64_t cols = 0);
void write_plain(hid_t loc, const std::string& name, hid_t type, uint64_t n, const void* data,
                 const std::string& path, const std::string& units = "", bool with_units = false);
void set_column_attrs(hid_t ds, const ColumnSpec& c, const std::string& path);
void write_spike_cells(hid_t g, const StoreSchema& s, const std::string& path);
// /rates/values of n rows (schema.has_rates()): created compressed and chunked by rows, with the
// attributes series, n_bins, bin_ms, t0_ms, units (docs/FORMAT.md). *chunk_rows: rows per chunk.
Hid make_rates(hid_t file, const StoreSchema& s, uint64_t n, bool extendable, uint64_t* chunk_rows,
               const std::string& path);

class FinalWriter {
 public:
  // group empty: a new file at path, the layout of docs/FORMAT.md section 1. group "refined": the
  // same layout inside the new group /refined of the existing database at path (refine's points,
  // section 5; the root attributes of finish() go to that group).
  FinalWriter(const std::string& path, const StoreSchema& schema, uint64_t n_rows, const std::string& group = "")
      : path_(path), schema_(schema), n_rows_(n_rows) {
    quiet_hdf5();
    Hid fapl = checksummed_fapl();
    if (group.empty()) {
      Hid fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
      H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
      hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, fapl);
      if (f < 0) fail(path, "cannot create file (directory missing or not writable?)");
      file_ = Hid(f, H5Fclose);
      root_ = Hid(H5Gopen2(file_, "/", H5P_DEFAULT), H5Gclose);
    } else {
      hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
      if (f < 0) fail(path, "cannot open for writing");
      file_ = Hid(f, H5Fclose);
      root_ = make_group(file_, group, path, true);
    }
    Hid inst = make_group(root_, "instances", path, true);
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
      Hid g = make_group(root_, "spikes", path);
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
      Hid g = make_group(root_, "final_state", path, true);
      for (size_t k = 0; k < schema.state_names.size(); ++k) {
        uint64_t ch = 0;
        Hid ds = make_compressed(g, schema.state_names[k], H5T_IEEE_F64LE, n_rows, false, &ch, path);
        write_attr(ds, "units", k < schema.state_units.size() ? schema.state_units[k] : "", path);
        state_.emplace_back(std::move(ds), 8, ch, n_rows == 0, path, "final_state/" + schema.state_names[k]);
      }
    }
    if (schema.has_rates()) {
      uint64_t ch = 0;
      Hid ds = make_rates(root_, schema, n_rows, n_rows == 0, &ch, path);
      rates_ = std::make_unique<Appender>(std::move(ds), 4 * schema.rate_row(), ch, n_rows == 0, path, "rates/values",
                                          schema.rate_row());
    }
    json axis_names = json::array();
    if (!schema.axes.empty()) {
      Hid g = make_group(root_, "axes", path, true);
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
          // Fixed-length strings: stored in the checksummed chunks (variable-length strings
          // would live in HDF5's global heap, which carries no checksum).
          size_t width = 1;
          for (const auto& l : a.labels) width = std::max(width, l.size());
          std::vector<char> buf(a.labels.size() * width, '\0');
          for (size_t j = 0; j < a.labels.size(); ++j) std::memcpy(buf.data() + j * width, a.labels[j].data(), a.labels[j].size());
          Hid st = fixed_str_type(width);
          write_plain(ag, "labels", st, a.labels.size(), buf.data(), path);
        }
        axis_names.push_back(a.name);
      }
    }
    axis_names_ = axis_names.dump();
  }

  // given: columns taken from these bytes (n_rows x element size each) instead of the file.
  // drop: instances whose /traces group is left out (merge_shards: predicate candidates).
  void append(const RowFile& src, const std::map<std::string, std::vector<uint8_t>>& given = {},
              const std::set<uint64_t>* drop = nullptr) {
    const std::string& sp = src.path;
    const uint64_t n = src.n_rows;
    Hid inst = open_group(src.file, "instances", sp);
    std::vector<uint8_t> buf;
    for (size_t c = 0; c < schema_.columns.size(); ++c) {
      const ColumnSpec& col = schema_.columns[c];
      const size_t es = dtype_size(col.dtype);
      const auto g = given.find(col.name);
      Hid ds;
      if (g == given.end()) {
        ds = open_dataset(inst, col.name, sp);
        check_column_type(ds, col, sp);
        if (dataset_length(ds, sp) != n) fail(sp, "column '" + col.name + "' has the wrong length (corrupt file)");
      } else if (g->second.size() != n * es) {
        fail(sp, "internal error: given column '" + col.name + "' has the wrong length");
      }
      for (uint64_t a = 0; a < n; a += kBlockRows) {
        const uint64_t m = std::min(kBlockRows, n - a);
        buf.resize(m * es);
        if (g == given.end())
          read_rows(ds, a, m, buf.data(), sp, "column '" + col.name + "'");
        else
          std::memcpy(buf.data(), g->second.data() + a * es, m * es);
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
    if (rates_) {
      Hid g = open_group(src.file, "rates", sp);
      Hid ds = open_dataset(g, "values", sp);
      const uint64_t row = schema_.rate_row();
      if (dataset_rows(ds, row, sp, "rates/values") != n) fail(sp, "rates/values has the wrong number of rows (corrupt file)");
      std::vector<float> v;
      const uint64_t block = std::max<uint64_t>(1, kBlockRows / row);
      for (uint64_t a = 0; a < n; a += block) {
        const uint64_t m = std::min(block, n - a);
        v.resize(m * row);
        read_rows(ds, a, m, v.data(), sp, "rates/values");
        rates_->append(v.data(), m);
      }
    }
    copy_traces(src.file, sp, drop);
    rows_ += n;
  }

  // Copies the /traces groups of file (a chunk file, or the trace pass's traces.h5) into the output.
  void copy_traces(hid_t file, const std::string& sp, const std::set<uint64_t>* drop = nullptr) {
    if (!link_exists(file, "traces")) return;
    Hid g = open_group(file, "traces", sp);
    if (!traces_.valid()) traces_ = make_group(root_, "traces", path_);
    std::vector<std::string> names;
    auto cb = [](hid_t, const char* nm, const H5L_info_t*, void* d) -> herr_t {
      static_cast<std::vector<std::string>*>(d)->push_back(nm);
      return 0;
    };
    if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &names) < 0) fail(sp, "cannot list /traces");
    for (const auto& nm : names) {
      if (drop && nm.find_first_not_of("0123456789") == std::string::npos && drop->count(std::stoull(nm))) continue;
      if (link_exists(traces_, nm)) fail(sp, "trace of instance " + nm + " appears twice");
      verify_group(g, nm, sp);  // H5Ocopy copies stored chunks as they are: check them first
      if (H5Ocopy(g, nm.c_str(), traces_, nm.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
        fail(sp, "cannot copy /traces/" + nm);
    }
  }

  // Reads every dataset of group loc/name in full, so that a checksum failure is reported.
  static void verify_group(hid_t loc, const std::string& name, const std::string& sp) {
    Hid tg = open_group(loc, name, sp);
    std::vector<std::string> members;
    auto cb = [](hid_t, const char* nm, const H5L_info_t*, void* d) -> herr_t {
      static_cast<std::vector<std::string>*>(d)->push_back(nm);
      return 0;
    };
    if (H5Literate(tg, H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &members) < 0) fail(sp, "cannot list /traces/" + name);
    std::vector<uint8_t> buf;
    for (const auto& m : members) {
      Hid ds = open_dataset(tg, m, sp);
      Hid ft(H5Dget_type(ds), H5Tclose);
      const uint64_t n = dataset_length(ds, sp);
      buf.resize(n * H5Tget_size(ft));
      read_rows(ds, 0, n, buf.data(), sp, "traces/" + name + "/" + m);
    }
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
    if (rates_) rates_->close();
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
    for (const auto& [k, v] : attrs) write_attr(root_, k, v, path_);
    root_.reset();
    if (file_.close() < 0) fail(path_, "cannot close (disk full?)");
    fsync_path(path_, false);
  }

 private:
  std::string path_;
  StoreSchema schema_;
  uint64_t n_rows_, rows_ = 0, spike_base_ = 0;
  Hid file_, root_, traces_;  // root_: "/" or the group written into
  std::vector<Appender> cols_, state_;
  std::unique_ptr<Appender> offsets_, times_, rates_;
  int label_col_ = -1;
  bool label_signed_ = true;
  std::map<int, uint64_t> label_counts_;
  std::string axis_names_;
};

// Build-store helpers (database.cpp) used by merge (db_writer.cpp).
std::string parts_of(const std::string& out);
void check_out_dir(const std::string& out);
bool path_exists(const std::string& path);  // also a dangling symbolic link
// What --force may replace: a regular file (no link, directory or device) that is a neurosweep
// database. Anything else throws a DatabaseError naming the path; nothing is touched.
void check_replaceable(const std::string& out);
// What --force may delete: a real directory with a manifest.json holding only the files a build
// writes (manifest, lock, chunk files and their .tmp). Throws otherwise; nothing is touched.
void check_own_parts(const std::string& parts);
// Deletes the files a build writes from a parts directory, then the directory if it is empty.
void remove_own_parts(const std::string& parts);

}  // namespace ns::db
