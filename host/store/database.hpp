#pragma once
// The HDF5 database: build store (parts directory of atomic chunk files, resume, shards),
// finalize/merge into one file, and the readers behind `neurosweep info` and `neurosweep query`.
// docs/FORMAT.md is the contract for the on-disk layout. Every error is a ns::DatabaseError whose
// message names the file and the problem.
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "errors.hpp"

namespace ns {

constexpr int kFormatVersion = 1;
constexpr const char* kLateTraces = "traces.h5";  // in a parts directory: the trace pass's output
// Axes with more values than this keep them out of the build manifest (which stays O(chunks
// done)); the final database stores them all in /axes.
constexpr uint64_t kManifestAxisValues = 1u << 16;

using AttrValue = std::variant<int64_t, double, std::string>;

// One /instances column. dtype: "f4","f8","i1","u1","i4","u4","u8". Non-empty enum_names makes it
// an HDF5 enum (integer dtypes only): value k has name enum_names[k].
struct ColumnSpec {
  std::string name;
  std::string dtype;
  std::string units;
  std::string description;
  std::vector<std::string> enum_names;
};

// A grid axis. values are parameter-major: values[p * size + j] is params[p] at position j.
// stride 0: computed assuming the axes are given in C order (first slowest, last stride 1).
struct AxisSpec {
  std::string name, kind;
  std::vector<std::string> params;
  std::vector<double> values;
  std::vector<std::string> labels;  // categorical axes only (else empty)
  uint64_t size = 0;
  uint64_t stride = 0;
};

struct StoreSchema {
  std::vector<ColumnSpec> columns;
  std::vector<std::string> state_names, state_units;  // for /final_state
  bool final_state = false;
  int max_spikes_stored = 0;  // 0: no /spikes group (per instance and cell)
  // Circuits: names of the cells whose spikes are stored; /spikes/offsets is then indexed by
  // row * spike_cells.size() + cell. Empty: one spike train per instance (single neurons).
  std::vector<std::string> spike_cells;
  size_t spike_slots() const { return spike_cells.empty() ? 1 : spike_cells.size(); }
  std::vector<AxisSpec> axes;
  // Population rate time series (networks, population models; docs/FORMAT.md /rates): per
  // instance, rate_series.size() series of rate_bins bins of rate_bin_ms each, the first starting
  // at rate_t0_ms (analysis-window time), in Hz. Empty rate_series: no /rates group.
  std::vector<std::string> rate_series;
  uint64_t rate_bins = 0;
  double rate_bin_ms = 0.0, rate_t0_ms = 0.0;
  bool has_rates() const { return !rate_series.empty(); }
  uint64_t rate_row() const { return rate_series.size() * rate_bins; }  // floats per instance
};

struct TraceData {
  uint64_t instance = 0;              // global index (must lie in the chunk)
  std::vector<double> t;              // ms from the start of the analysis window
  std::vector<std::string> names;     // recorded variables
  std::vector<std::string> units;     // same length as names (or empty)
  std::vector<std::vector<double>> values;  // values[k] has t.size() samples
  // Chosen by output.traces.per_label / where (attribute chosen_by = "predicate" on its group): a
  // shard's trace pass keeps its own candidates, merge_shards keeps the global choice.
  bool chosen = false;
};

// One chunk of instances [first, first + count).
struct ChunkData {
  uint64_t first = 0, count = 0;
  // Raw little-endian bytes per column, count * element size each (see set<T>()).
  std::map<std::string, std::vector<uint8_t>> columns;
  // Stored spikes per instance and cell (count * spike_slots() entries, instance-major, when
  // spikes on) and the times, flat in the same order (sum of spike_counts).
  std::vector<uint32_t> spike_counts;
  std::vector<float> spike_times;
  std::vector<double> final_state;     // state-major [k * count + j] (when final_state on)
  // Rate series (when the schema has them): count x rate_row() floats, instance-major; within an
  // instance series-major [series * rate_bins + bin]. Hz.
  std::vector<float> rates;
  std::vector<TraceData> traces;

  // Convenience: copy a typed array into a column.
  template <class T>
  void set(const std::string& name, const T* data, size_t n) {
    auto& v = columns[name];
    v.resize(n * sizeof(T));
    if (n) std::memcpy(v.data(), data, n * sizeof(T));
  }
  template <class T>
  void set(const std::string& name, const std::vector<T>& data) {
    set(name, data.data(), data.size());
  }
};

size_t dtype_size(const std::string& dtype);  // throws DatabaseError for an unknown dtype

// An extension build (`run --extend`): rows [0, n_rows) of the output come from the existing
// database out_path itself (spec hash spec_hash); the build computes only rows [n_rows, N).
struct BuildPrefix {
  uint64_t n_rows = 0;
  std::string spec_hash;  // of the database being extended (16 hex digits)
};

class BuildStore {
 public:
  // Starts a build of out_path (parts directory out_path + ".parts"). Refuses an existing output
  // (out_path or its parts directory) unless force, in which case they are deleted. shard_k in
  // [0, shard_n): this store owns a contiguous block of chunks (docs/FORMAT.md section 3).
  static BuildStore create(const std::string& out_path, const std::string& spec_canonical,
                           uint64_t spec_hash, uint64_t n, uint64_t chunk_size,
                           const StoreSchema& schema, const std::map<std::string, AttrValue>& attrs,
                           bool force, int shard_k = 0, int shard_n = 1,
                           const BuildPrefix* prefix = nullptr);
  // Reopens an interrupted build. Refuses a different spec hash (spec_canonical, when given, is
  // used to name the top-level keys that differ), a missing or corrupt manifest, a finished build.
  // schema, when given, supplies the axis values the manifest leaves out (axes of more than
  // kManifestAxisValues numbers: the caller recomputes them from the same spec).
  static BuildStore resume(const std::string& out_path, uint64_t spec_hash,
                           const std::string& spec_canonical = "", const StoreSchema* schema = nullptr);

  // Chunks of this shard whose files exist, ascending: one directory listing, O(chunks done),
  // never O(chunks of the sweep) (a 2^48-instance sweep has ~10^11 chunks).
  std::vector<uint64_t> done_chunks() const;
  std::vector<uint64_t> pending_chunks() const;  // of this shard, ascending (O(chunks): small builds)
  uint64_t chunk_size() const { return chunk_size_; }
  uint64_t n_instances() const { return n_; }
  // [first, end) instances; an extension build's first chunk starts at the prefix's end.
  std::pair<uint64_t, uint64_t> chunk_range(uint64_t chunk) const;
  const BuildPrefix* prefix() const { return prefix_.n_rows ? &prefix_ : nullptr; }
  uint64_t n_chunks() const { return n_chunks_; }  // of the whole sweep
  std::pair<uint64_t, uint64_t> shard_chunks() const { return {chunk_begin_, chunk_end_}; }
  const StoreSchema& schema() const { return schema_; }
  const std::string& parts_dir() const { return parts_; }
  const std::string& out_path() const { return out_; }

  void write_chunk(uint64_t chunk, const ChunkData& data);  // atomic (temp file + rename)
  // Traces chosen after classification (output.traces.per_label / where): written once, when
  // every chunk is done, to parts_dir()/traces.h5 (atomic), and copied into /traces by finalize.
  // Instances must lie in this shard and not be traced by a chunk already.
  void write_late_traces(const std::vector<TraceData>& traces);
  bool has_late_traces() const;
  // Streams the chunks into out_path atomically and removes the parts directory. extra_attrs
  // are added to (and override) the attributes given at create.
  void finalize(const std::map<std::string, AttrValue>& extra_attrs = {});

 private:
  BuildStore() = default;
  std::string out_, parts_, spec_;
  uint64_t spec_hash_ = 0, n_ = 0, chunk_size_ = 0, n_chunks_ = 0;
  uint64_t chunk_begin_ = 0, chunk_end_ = 0;
  int shard_k_ = 0, shard_n_ = 1;
  StoreSchema schema_;
  std::map<std::string, AttrValue> attrs_;
  std::string created_;
  BuildPrefix prefix_;  // n_rows 0: none
  std::shared_ptr<void> lock_;  // exclusive lock on the parts directory while this store lives
};

std::string hash_hex(uint64_t h);  // 16 lower-case hex digits

// What `neurosweep info` shows.
struct DbSummary {
  std::string path;
  std::string state;  // "complete", "shard" or "unfinished"
  int format_version = 0;
  std::string spec_hash;
  uint64_t n_instances = 0;   // of the sweep
  uint64_t n_rows = 0;        // rows readable now (unfinished: rows of the done chunks)
  uint64_t first_index = 0;
  uint64_t chunks_done = 0, chunks_total = 0;  // unfinished builds (total = this shard's chunks)
  int shard_k = 0, shard_n = 1;
  std::map<std::string, AttrValue> attrs;  // root / caller attributes
  std::vector<ColumnSpec> columns;
  std::vector<std::string> groups;  // optional groups present: spikes, final_state, traces, axes
  std::vector<std::pair<std::string, uint64_t>> label_counts;   // from the data, names in order
  std::vector<std::pair<std::string, uint64_t>> status_counts;
};
DbSummary inspect(const std::string& path);  // DB.h5, a shard file, DB.h5.parts or DB.h5 whose
                                             // build is unfinished
std::string format_info(const DbSummary& s);

// Merge finalized shard files into out (atomic). Refuses different spec, overlap, gaps, corrupt
// or unfinished shards, naming the file.
void merge_shards(const std::vector<std::string>& shards, const std::string& out, bool force);

// The values of an integer column (a label) of a complete database, widened to int64. Throws a
// DatabaseError naming the file and the column (unknown: the integer columns are listed).
std::vector<int64_t> read_int_column(const std::string& path, const std::string& column);

// `neurosweep refine`: copies grid_db to tmp and adds the group /refined holding the rows of the
// parts (complete databases of the same columns), in order; columns given in a part replace (or
// add: extra_columns) those of its file. attrs go to /refined and to the root. docs/FORMAT.md 5.
struct RefinedPart {
  std::string path;
  std::map<std::string, std::vector<uint8_t>> columns;  // name -> n_rows x element size bytes
};
void write_refined(const std::string& grid_db, const std::string& tmp, const std::vector<RefinedPart>& parts,
                   const std::vector<ColumnSpec>& extra_columns, const std::map<std::string, AttrValue>& attrs);

struct QueryOptions {
  std::vector<std::string> labels;   // keep rows whose label is one of these (empty: all)
  std::string where;                 // e.g. "gNa > 100 and (gKd <= 50 or label == bursting)"
  std::vector<std::string> columns;  // output columns (empty: every /instances column)
  std::string format = "csv";        // "csv" or "json" (a JSON array of objects)
  uint64_t limit = 0;                // 0: no limit
};
// Streams the rows (block by block) of a complete or unfinished database. Returns rows written.
uint64_t query(const std::string& path, const QueryOptions& opt, std::ostream& out);

// Instances whose traces are taken by predicate (output.traces.per_label / where, docs/SWEEP_SPEC.md).
// Rule: among the rows matching `where` (every row when empty) and not in `exclude`, each row gets
// the key mix64(mix64(seed) ^ index) (neurosweep/hash.hpp); per_label > 0 keeps, for each label
// value (unclassified included), the per_label rows of smallest key, else the `max` rows of
// smallest key. The result is ascending by index. It depends only on the rows, never on chunking,
// threads or backend.
struct TraceChoice {
  uint64_t per_label = 0;
  std::string where;
  uint64_t max = 0;
  uint64_t seed = 0;
  std::vector<uint64_t> exclude;  // ascending (explicitly requested traces)
};
// Checks `where` and per_label against a schema before a build: unknown columns or labels, no
// label column. Throws DatabaseError whose message starts with `context`.
void check_trace_choice(const StoreSchema& s, const TraceChoice& c, const std::string& context);
// Applies the rule to a complete or unfinished database (DB.h5 or DB.h5.parts).
std::vector<uint64_t> choose_traces(const std::string& path, const TraceChoice& c);
// The rule's key and its cap: a shard holds, per group, its cap smallest keys, a superset of the
// sweep's choice in that shard; merge_shards keeps the cap smallest over every shard.
uint64_t trace_key(uint64_t seed, uint64_t index);
// The attribute "trace_choice" of a build with predicate traces: {"per_label": N, "max": M, "seed": S}.
std::string trace_choice_json(const TraceChoice& c);

}  // namespace ns
