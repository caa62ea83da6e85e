// HDF5 database: the build store (parts directory, chunk files, resume, finalize). Layout:
// docs/FORMAT.md.
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

std::string parts_of(const std::string& out) { return out + ".parts"; }

void check_out_dir(const std::string& out) {
  fs::path p(out);
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(out, "output directory '" + dir.string() + "' does not exist");
  if (p.filename().empty()) fail(out, "output path names a directory, not a file");
}

bool path_exists(const std::string& path) {
  std::error_code ec;
  return fs::symlink_status(path, ec).type() != fs::file_type::not_found;  // a dangling link exists
}

void check_replaceable(const std::string& out) {
  std::error_code ec;
  const auto st = fs::symlink_status(out, ec);
  const std::string only = "; --force replaces only a regular file that is a neurosweep database, so nothing was "
                           "touched (remove it yourself or choose another -o)";
  if (fs::is_symlink(st)) fail(out, "is a symbolic link" + only);
  if (fs::is_directory(st)) fail(out, "is a directory" + only);
  if (!fs::is_regular_file(st)) fail(out, "is not a regular file (a device, pipe or socket)" + only);
  quiet_hdf5();
  if (H5Fis_hdf5(out.c_str()) <= 0) fail(out, "is not a neurosweep database (not an HDF5 file)" + only);
  hid_t f = H5Fopen(out.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) fail(out, "is an HDF5 file that cannot be opened (truncated or corrupt)" + only);
  Hid file(f, H5Fclose);
  const auto fmt = read_attr(file, "format", out);
  if (!fmt || !std::holds_alternative<std::string>(*fmt) || std::get<std::string>(*fmt) != "neurosweep")
    fail(out, "is an HDF5 file but not a neurosweep database (root attribute format != \"neurosweep\")" + only);
}

namespace {
// The files a build writes into its parts directory.
bool own_parts_entry(const std::string& name) {
  if (name == "lock" || name == "manifest.json" || name == "manifest.json.tmp" || name == "final.h5.tmp" ||
      name == kLateTraces || name == std::string(kLateTraces) + ".tmp")
    return true;
  const std::string base = name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0 ? name.substr(0, name.size() - 4) : name;
  if (base.size() < 13 || base.rfind("chunk-", 0) != 0 || base.compare(base.size() - 3, 3, ".h5") != 0) return false;
  return std::all_of(base.begin() + 6, base.end() - 3, [](char c) { return c >= '0' && c <= '9'; });
}
}  // namespace

void check_own_parts(const std::string& parts) {
  std::error_code ec;
  const auto st = fs::symlink_status(parts, ec);
  const std::string only = "; --force deletes only a neurosweep build directory, so nothing was touched (remove it "
                           "yourself or choose another -o)";
  if (fs::is_symlink(st)) fail(parts, "is a symbolic link" + only);
  if (!fs::is_directory(st)) fail(parts, "is not a directory" + only);
  if (!fs::exists(parts + "/manifest.json", ec))
    fail(parts, "has no manifest.json: not a neurosweep build directory" + only);
  for (const auto& e : fs::directory_iterator(parts, ec)) {
    const std::string name = e.path().filename().string();
    if (!own_parts_entry(name) || !e.is_regular_file(ec) || e.is_symlink(ec))
      fail(parts, "holds '" + name + "', which a build does not write" + only);
  }
  if (ec) fail(parts, "cannot list the build directory: " + ec.message());
}

void remove_own_parts(const std::string& parts) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(parts, ec))
    if (own_parts_entry(e.path().filename().string())) files.push_back(e.path());
  for (const auto& f : files) fs::remove(f, ec);
  fs::remove(parts, ec);  // only when empty: anything else in it stays
}

namespace {

// The schema as the manifest stores it: large axes without their values (O(axis sizes), not
// O(chunks done)); resume gets them back from the caller's schema.
StoreSchema manifest_schema(StoreSchema s) {
  for (auto& a : s.axes)
    if (a.values.size() > kManifestAxisValues) a.values.clear();
  return s;
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
  if (s.has_rates()) {
    std::set<std::string> names;
    for (const auto& r : s.rate_series)
      if (r.empty() || !names.insert(r).second) throw DatabaseError("rate series name '" + r + "' is empty or given twice");
    if (s.rate_bins == 0) throw DatabaseError("rate series need at least one bin (rate_bins = 0)");
    if (!(s.rate_bin_ms > 0.0) || !std::isfinite(s.rate_bin_ms) || !std::isfinite(s.rate_t0_ms))
      throw DatabaseError("rate bin width must be > 0 ms and finite, and t0 finite");
  }
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

// The database an extension build continues: a complete, unsharded database of prefix.n_rows rows
// with the recorded spec hash. Checked at create, at resume and again at finalize (it is read then).
static RowFile open_prefix(const std::string& out, const BuildPrefix& prefix) {
  if (!path_exists(out))
    fail(out, "the build extends this database, but it is missing (was it moved or deleted?); start over with --force");
  RowFile rf = open_row_file(out, false);
  const std::string h = attr_string(rf.file, "spec_hash", out);
  if (h != prefix.spec_hash || rf.first_index != 0 || rf.n_rows != prefix.n_rows || read_attr(rf.file, "shard_n", out))
    fail(out, "the build extends this database as it was (spec hash " + prefix.spec_hash + ", " +
                  std::to_string(prefix.n_rows) + " rows), but it now has spec hash " + h + " and " +
                  std::to_string(rf.n_rows) + " rows; start over with --extend (or --force)");
  return rf;
}

[[noreturn]] static void refuse_busy(const std::string& parts) {
  fail(parts, "another neurosweep process is writing this build right now; wait for it to finish or stop it "
              "(every process of a killed mpirun) before running again");
}

BuildStore BuildStore::create(const std::string& out_path, const std::string& spec_canonical, uint64_t spec_hash,
                              uint64_t n, uint64_t chunk_size, const StoreSchema& schema,
                              const std::map<std::string, AttrValue>& attrs, bool force, int shard_k, int shard_n,
                              const BuildPrefix* prefix) {
  quiet_hdf5();
  if (prefix) {
    if (shard_n != 1) fail(out_path, "an extension build cannot be sharded");
    if (prefix->n_rows == 0 || prefix->n_rows >= n)
      fail(out_path, "extension: the new sweep (" + std::to_string(n) + " instances) must be larger than the database (" +
                         std::to_string(prefix->n_rows) + " rows)");
    open_prefix(out_path, *prefix);
  }
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
  const bool have_out = !prefix && path_exists(out_path), have_parts = path_exists(parts);
  if ((have_out || have_parts) && !force)
    fail(have_out ? out_path : parts, std::string(have_out ? "output exists" : "an unfinished build exists") +
                                          "; refusing to overwrite it (use --force to replace it" +
                                          (have_parts ? ", or --resume to continue the build)" : ")"));
  // --force: the old database stays in place until the new one is complete (finalize renames over
  // it); an unfinished build of ours is replaced now. Anything else is refused untouched.
  if (have_out) check_replaceable(out_path);
  if (have_parts) {
    check_own_parts(parts);
    if (!try_lock_parts(parts)) refuse_busy(parts);
    remove_own_parts(parts);
    if (path_exists(parts)) fail(parts, "cannot remove the old build directory (files appeared in it?)");
  }
  if (!fs::create_directory(parts, ec)) {
    if (!ec) refuse_busy(parts);  // it exists: another process started the same build just now
    fail(parts, "cannot create build directory: " + ec.message());
  }

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
  if (prefix) {
    s.prefix_ = *prefix;
    s.chunk_begin_ = prefix->n_rows / chunk_size;
  }
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
            {"schema", schema_to_json(manifest_schema(sch))},
            {"attrs", attrs_to_json(attrs)},
            {"software_version", kVersion},
            {"git_revision", kGitRevision},
            {"created", s.created_}};
  if (prefix) m["prefix"] = {{"n_rows", prefix->n_rows}, {"spec_hash", prefix->spec_hash}};
  write_file_atomic(parts + "/manifest.json", m.dump());
  return s;
}

BuildStore BuildStore::resume(const std::string& out_path, uint64_t spec_hash, const std::string& spec_canonical,
                              const StoreSchema* schema) {
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
    if (m.contains("prefix")) {
      s.prefix_.n_rows = m.at("prefix").at("n_rows").get<uint64_t>();
      s.prefix_.spec_hash = m.at("prefix").at("spec_hash").get<std::string>();
    }
  } catch (const std::exception& e) {
    fail(mp, std::string("corrupt manifest: ") + e.what());
  }
  if (s.chunk_size_ == 0 || s.n_chunks_ != (s.n_ + s.chunk_size_ - 1) / s.chunk_size_ || s.chunk_end_ > s.n_chunks_ ||
      s.chunk_begin_ > s.chunk_end_)
    fail(mp, "corrupt manifest: inconsistent sizes");
  s.schema_ = schema_from_json(m.at("schema"), mp);
  s.attrs_ = attrs_from_json(m.at("attrs"), mp);
  // Axis values the manifest left out: from the caller's schema of the same spec (checked below).
  for (size_t a = 0; a < s.schema_.axes.size(); ++a) {
    AxisSpec& ax = s.schema_.axes[a];
    if (!ax.values.empty() || ax.size * ax.params.size() <= kManifestAxisValues) continue;
    if (schema && a < schema->axes.size() && schema->axes[a].name == ax.name && schema->axes[a].size == ax.size &&
        schema->axes[a].params == ax.params)
      ax.values = schema->axes[a].values;
  }
  if (s.spec_hash_ != spec_hash) {
    std::string msg = "the unfinished build was made from a different sweep spec (spec hash " + hash_hex(s.spec_hash_) +
                      " in the build, " + hash_hex(spec_hash) + " now)";
    if (!spec_canonical.empty()) {
      const std::string d = spec_diff(s.spec_, spec_canonical);
      if (!d.empty()) msg += "; keys that differ: " + d;
    }
    fail(parts, msg + ". Use --force to start over.");
  }
  if (s.prefix_.n_rows) {
    if (s.prefix_.n_rows >= s.n_ || s.chunk_begin_ != s.prefix_.n_rows / s.chunk_size_)
      fail(mp, "corrupt manifest: inconsistent extension prefix");
    open_prefix(out_path, s.prefix_);
  }
  s.lock_ = try_lock_parts(parts);
  if (!s.lock_) refuse_busy(parts);
  // debris of a crash: temp files
  for (const auto& e : fs::directory_iterator(parts, ec))
    if (e.path().extension() == ".tmp") fs::remove(e.path(), ec);
  return s;
}

std::vector<uint64_t> BuildStore::done_chunks() const { return list_chunk_files(parts_, chunk_begin_, chunk_end_); }

std::vector<uint64_t> BuildStore::pending_chunks() const {
  const auto done = done_chunks();
  std::vector<uint64_t> out;
  size_t k = 0;
  for (uint64_t c = chunk_begin_; c < chunk_end_; ++c) {
    if (k < done.size() && done[k] == c) {
      ++k;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::pair<uint64_t, uint64_t> BuildStore::chunk_range(uint64_t chunk) const {
  if (chunk >= n_chunks_) fail(parts_, "chunk " + std::to_string(chunk) + " out of range (" + std::to_string(n_chunks_) + " chunks)");
  return {std::max(chunk * chunk_size_, prefix_.n_rows), std::min(n_, (chunk + 1) * chunk_size_)};
}

namespace {
// Traces of instances in [first, end): variables and lengths consistent.
void check_traces(const std::vector<TraceData>& traces, uint64_t first, uint64_t end, const std::string& name) {
  for (const auto& t : traces) {
    if (t.instance < first || t.instance >= end) fail(name, "trace of instance " + std::to_string(t.instance) + " is outside the chunk");
    if (t.values.size() != t.names.size() || (!t.units.empty() && t.units.size() != t.names.size()))
      fail(name, "trace of instance " + std::to_string(t.instance) + ": names/units/values lengths differ");
    for (size_t k = 0; k < t.values.size(); ++k)
      if (t.values[k].size() != t.t.size() || t.names[k] == "t" || t.names[k].empty())
        fail(name, "trace of instance " + std::to_string(t.instance) + ": variable '" + t.names[k] + "' is bad (length or name)");
  }
}

// /traces/<instance>/{t, variables} of file f (being written as tmp; errors name `name`); no
// group when there are no traces, unless always.
void write_traces(hid_t f, const std::vector<TraceData>& traces, const std::string& tmp, const std::string& name,
                  bool always = false) {
  if (traces.empty() && !always) return;
  Hid g = make_group(f, "traces", tmp);
  for (const auto& t : traces) {
    const std::string nm = std::to_string(t.instance);
    if (link_exists(g, nm)) fail(name, "two traces for instance " + nm);
    Hid tg = make_group(g, nm, tmp, true);
    if (t.chosen) write_attr(tg, "chosen_by", std::string("predicate"), tmp);
    write_plain(tg, "t", H5T_IEEE_F64LE, t.t.size(), t.t.data(), tmp, "ms", true);
    for (size_t k = 0; k < t.names.size(); ++k)
      write_plain(tg, t.names[k], H5T_IEEE_F64LE, t.t.size(), t.values[k].data(), tmp,
                  t.units.empty() ? "" : t.units[k], true);
  }
}
}  // namespace

bool BuildStore::has_late_traces() const {
  std::error_code ec;
  return fs::exists(parts_ + "/" + kLateTraces, ec);
}

void BuildStore::write_late_traces(const std::vector<TraceData>& traces) {
  quiet_hdf5();
  const std::string final_name = parts_ + "/" + kLateTraces;
  const uint64_t first = chunk_begin_ * chunk_size_, end = std::min(n_, chunk_end_ * chunk_size_);
  check_traces(traces, first, end, final_name);
  const std::string tmp = final_name + ".tmp";
  {
    Hid fapl = checksummed_fapl();
    Hid f(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), H5Fclose);
    if (!f.valid()) fail(tmp, "cannot create the trace file");
    write_attr(f, "format", std::string("neurosweep-traces"), tmp);
    write_attr(f, "spec_hash", hash_hex(spec_hash_), tmp);
    write_traces(f, traces, tmp, final_name, true);  // the group even when nothing matched
    if (f.close() < 0) fail(tmp, "cannot close the trace file (disk full?)");
  }
  fsync_path(tmp, false);
  if (std::rename(tmp.c_str(), final_name.c_str()) != 0)
    fail(final_name, std::string("cannot rename the trace file into place: ") + std::strerror(errno));
  fsync_path(parts_, true);
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
  if (schema_.has_rates()) {
    if (d.rates.size() != n * schema_.rate_row())
      fail(final_name, "rates has " + std::to_string(d.rates.size()) + " values, expected count x series x bins = " +
                           std::to_string(n) + " x " + std::to_string(schema_.rate_series.size()) + " x " +
                           std::to_string(schema_.rate_bins));
  } else if (!d.rates.empty()) {
    fail(final_name, "rate series given but the schema has none");
  }
  check_traces(d.traces, first, end, final_name);

  const std::string tmp = final_name + ".tmp";
  {
    Hid fapl = checksummed_fapl();
    Hid f(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), H5Fclose);
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
    if (schema_.has_rates()) {
      uint64_t ch = 0;
      Hid ds = make_rates(f, schema_, n, false, &ch, tmp);
      write_rows(ds, 0, n, d.rates.data(), tmp, "rates/values");
    }
    write_traces(f, d.traces, tmp, final_name);
    if (f.close() < 0) fail(tmp, "cannot close chunk file (disk full?)");
  }
  fsync_path(tmp, false);
  if (std::rename(tmp.c_str(), final_name.c_str()) != 0)
    fail(final_name, std::string("cannot rename chunk file into place: ") + std::strerror(errno));
  fsync_path(parts_, true);
}

void BuildStore::finalize(const std::map<std::string, AttrValue>& extra_attrs) {
  quiet_hdf5();
  const auto done = done_chunks();
  if (done.size() != chunk_end_ - chunk_begin_) {
    uint64_t first_missing = chunk_begin_;
    for (uint64_t c : done) {
      if (c != first_missing) break;
      ++first_missing;
    }
    fail(parts_, "cannot finalize: " + std::to_string(chunk_end_ - chunk_begin_ - done.size()) + " of " +
                     std::to_string(chunk_end_ - chunk_begin_) + " chunks are not done (first missing: chunk " +
                     std::to_string(first_missing) + ")");
  }
  const uint64_t first = prefix_.n_rows ? 0 : chunk_begin_ * chunk_size_;  // extension: rows from out_ first
  const uint64_t end = std::min(n_, chunk_end_ * chunk_size_);
  // Written inside the (locked) parts directory: a user's OUT.tmp is never touched, and a kill
  // here leaves the old database (--force) and every chunk in place.
  const std::string tmp = parts_ + "/final.h5.tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  try {
    FinalWriter w(tmp, schema_, end - first);
    const std::string want_hash = hash_hex(spec_hash_);
    if (prefix_.n_rows) w.append(open_prefix(out_, prefix_));
    for (uint64_t c = chunk_begin_; c < chunk_end_; ++c) {
      const std::string cf = parts_ + "/" + chunk_file_name(c);
      try {
        RowFile rf = open_row_file(cf, true);
        const auto [a, b] = chunk_range(c);
        if (attr_string(rf.file, "spec_hash", rf.path) != want_hash || rf.first_index != a || rf.n_rows != b - a)
          fail(rf.path, "chunk file does not match the manifest (spec hash or rows differ)");
        w.append(rf);
      } catch (const DatabaseError& e) {
        // A damaged chunk file (truncated, empty, altered bytes): it can be recomputed.
        throw DatabaseError(std::string(e.what()) + ". To recompute this chunk, delete " + cf +
                            " and run the same command with --resume again");
      }
    }
    if (has_late_traces()) {  // traces chosen by predicate (run.cpp's trace pass)
      const std::string tf = parts_ + "/" + kLateTraces;
      try {
        Hid fapl = checksummed_fapl();
        Hid f(H5Fopen(tf.c_str(), H5F_ACC_RDONLY, fapl), H5Fclose);
        if (!f.valid()) fail(tf, "cannot open (truncated or corrupt)");
        if (attr_string(f, "spec_hash", tf) != want_hash) fail(tf, "trace file does not match the manifest (spec hash)");
        w.copy_traces(f, tf);
      } catch (const DatabaseError& e) {
        throw DatabaseError(std::string(e.what()) + ". To recompute these traces, delete " + tf +
                            " and run the same command with --resume again");
      }
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
  remove_own_parts(parts_);  // while holding the lock
}

}  // namespace ns
