// Database layer: write synthetic chunks through the API, read back with the plain HDF5 C API.
// Expected values come from the synthetic generator (a closed-form function of the instance
// index), never from a previous run of the writer. Comparisons are exact (byte equality): the
// database stores values, it computes nothing.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "store/database.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace ns;

namespace {

const std::vector<std::string> kLabels = {"silent", "tonic", "bursting", "irregular"};
const std::vector<std::string> kStatus = {"ok", "nonfinite", "diverged"};
constexpr uint64_t kN = 1000;
constexpr uint64_t kHash = 0x0123456789abcdefULL;
const std::string kSpec = R"({"model":"stg","n":1000,"seed":7})";

// ---- synthetic data: a closed-form function of the instance index ----
double gna(uint64_t i) { return 100.0 * std::sin(0.1 * double(i)) + 100.0; }  // 0..200
double gkd(uint64_t i) { return double((i * 37) % 101); }                       // 0..100
int8_t label(uint64_t i) { return int8_t((i * 2654435761ULL >> 7) % 4); }
uint8_t status(uint64_t i) { return i % 97 == 5 ? 1 : (i % 211 == 3 ? 2 : 0); }
float freq(uint64_t i) { return label(i) == 0 ? std::numeric_limits<float>::quiet_NaN() : float(i) * 0.001f + 0.1f; }
uint32_t nsp(uint64_t i) { return uint32_t(i % 5); }
float spike_t(uint64_t i, uint32_t k) { return float(i) * 0.5f + 0.25f * float(k); }
double fstate(uint64_t i, int k) { return k == 0 ? -60.0 + 1e-3 * double(i) : 1e-6 * double(i); }
const std::set<uint64_t> kTraced = {3, 150, 999};

StoreSchema schema() {
  StoreSchema s;
  s.columns = {{"index", "u8", "", "global instance index", {}},
               {"gNa", "f8", "mS/cm^2", "", {}},
               {"gKd", "f8", "mS/cm^2", "", {}},
               {"label", "i1", "", "", kLabels},
               {"status", "u1", "", "", kStatus},
               {"freq", "f4", "Hz", "spike frequency", {}},
               {"n_spikes", "u4", "", "", {}},
               {"delta", "i4", "", "", {}}};
  s.state_names = {"V", "m"};
  s.state_units = {"mV", ""};
  s.final_state = true;
  s.max_spikes_stored = 4;
  AxisSpec a{"gNa_axis", "linear", {"gNa"}, {}, {}, 10, 0};
  for (int j = 0; j < 10; ++j) a.values.push_back(20.0 * j);
  AxisSpec b{"cell", "categorical", {"gKd", "gCaT"}, {}, {}, 100, 0};
  for (int j = 0; j < 100; ++j) b.labels.push_back("c" + std::to_string(j));
  for (int p = 0; p < 2; ++p)
    for (int j = 0; j < 100; ++j) b.values.push_back(p * 1000 + j);
  s.axes = {a, b};
  return s;
}

std::map<std::string, AttrValue> attrs() {
  return {{"seed", int64_t(7)}, {"model", std::string("stg")}, {"dt_ms", 0.05}, {"backend", std::string("cpu")}};
}

ChunkData make_chunk(uint64_t first, uint64_t count) {
  ChunkData d;
  d.first = first;
  d.count = count;
  std::vector<uint64_t> idx;
  std::vector<double> a, b;
  std::vector<int8_t> l;
  std::vector<uint8_t> st;
  std::vector<float> f;
  std::vector<uint32_t> ns;
  std::vector<int32_t> de;
  for (uint64_t i = first; i < first + count; ++i) {
    idx.push_back(i);
    a.push_back(gna(i));
    b.push_back(gkd(i));
    l.push_back(label(i));
    st.push_back(status(i));
    f.push_back(freq(i));
    ns.push_back(nsp(i) + 3);
    de.push_back(int32_t(i) - 500);
    d.spike_counts.push_back(nsp(i));
    for (uint32_t k = 0; k < nsp(i); ++k) d.spike_times.push_back(spike_t(i, k));
  }
  d.set("index", idx);
  d.set("gNa", a);
  d.set("gKd", b);
  d.set("label", l);
  d.set("status", st);
  d.set("freq", f);
  d.set("n_spikes", ns);
  d.set("delta", de);
  for (int k = 0; k < 2; ++k)
    for (uint64_t i = first; i < first + count; ++i) d.final_state.push_back(fstate(i, k));
  for (uint64_t i : kTraced)
    if (i >= first && i < first + count) {
      TraceData t;
      t.instance = i;
      t.names = {"V"};
      t.units = {"mV"};
      t.values.resize(1);
      for (int s = 0; s < 20; ++s) {
        t.t.push_back(0.05 * s);
        t.values[0].push_back(-65.0 + double(i) + s);
      }
      d.traces.push_back(t);
    }
  return d;
}

class Db : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("ns_db_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override {
    if (!HasFailure() && !std::getenv("NS_DB_TEST_KEEP")) fs::remove_all(dir);  // kept on failure
  }
  std::string p(const std::string& name) const { return (dir / name).string(); }
  fs::path dir;
};

// Builds a database (or a shard) from the synthetic generator, writing chunks in order.
void build(const std::string& out, uint64_t chunk, int shard_k = 0, int shard_n = 1, uint64_t hash = kHash,
           uint64_t n = kN, const std::string& spec = kSpec) {
  BuildStore s = BuildStore::create(out, spec, hash, n, chunk, schema(), attrs(), false, shard_k, shard_n);
  for (uint64_t c : s.pending_chunks()) {
    auto [a, b] = s.chunk_range(c);
    s.write_chunk(c, make_chunk(a, b - a));
  }
  s.finalize({{"timings", std::string(R"({"wall_s": 1.5})")}});
}

// ---- plain C API readers ----
std::vector<uint8_t> read_raw(const std::string& file, const std::string& ds_path) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0) << file;
  hid_t d = H5Dopen2(f, ds_path.c_str(), H5P_DEFAULT);
  EXPECT_GE(d, 0) << ds_path;
  hid_t t = H5Dget_type(d);
  hid_t sp = H5Dget_space(d);
  const hssize_t n = H5Sget_simple_extent_npoints(sp);
  std::vector<uint8_t> out;
  if (H5Tis_variable_str(t) > 0) {  // strings: the characters, each followed by a NUL
    std::vector<char*> s(n);
    if (n > 0) EXPECT_GE(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.data()), 0);
    for (char* c : s) {
      out.insert(out.end(), c, c + std::strlen(c) + 1);
      H5free_memory(c);
    }
  } else if (H5Tget_class(t) == H5T_STRING) {  // fixed-length strings: the same form
    const size_t w = H5Tget_size(t);
    std::vector<char> raw(size_t(n) * w);
    if (n > 0) EXPECT_GE(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()), 0);
    for (hssize_t k = 0; k < n; ++k) {
      const char* c = raw.data() + size_t(k) * w;
      out.insert(out.end(), c, c + strnlen(c, w));
      out.push_back(0);
    }
  } else {
    out.resize(size_t(n) * H5Tget_size(t));
    if (n > 0) EXPECT_GE(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), 0);
  }
  H5Sclose(sp);
  H5Tclose(t);
  H5Dclose(d);
  H5Fclose(f);
  return out;
}
template <class T>
std::vector<T> read_vec(const std::string& file, const std::string& ds) {
  auto raw = read_raw(file, ds);
  std::vector<T> v(raw.size() / sizeof(T));
  std::memcpy(v.data(), raw.data(), raw.size());
  return v;
}
template <class T>
std::vector<uint8_t> bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::string attr_str(const std::string& file, const std::string& name) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t a = H5Aopen(f, name.c_str(), H5P_DEFAULT);
  // Fixed-length UTF-8 (docs/FORMAT.md): read in the stored type, up to the first NUL.
  hid_t t = H5Aget_type(a);
  EXPECT_EQ(H5Tget_class(t), H5T_STRING) << name;
  EXPECT_EQ(H5Tis_variable_str(t), 0) << name;
  EXPECT_EQ(H5Tget_cset(t), H5T_CSET_UTF8) << name;
  std::string out(H5Tget_size(t), '\0');
  EXPECT_GE(H5Aread(a, t, out.data()), 0) << name;
  out.resize(strnlen(out.data(), out.size()));
  H5Tclose(t);
  H5Aclose(a);
  H5Fclose(f);
  return out;
}
template <class T>
T attr_num(const std::string& file, const std::string& name, hid_t mt) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t a = H5Aopen(f, name.c_str(), H5P_DEFAULT);
  T v{};
  EXPECT_GE(H5Aread(a, mt, &v), 0) << name;
  H5Aclose(a);
  H5Fclose(f);
  return v;
}

// Every dataset of the file (path -> raw bytes), for whole-file data comparisons.
std::map<std::string, std::vector<uint8_t>> all_datasets(const std::string& file) {
  std::map<std::string, std::vector<uint8_t>> out;
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  std::vector<std::string> names;
  auto cb = [](hid_t, const char* name, const H5O_info_t* info, void* d) -> herr_t {
    if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(d)->push_back(name);
    return 0;
  };
  H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, cb, &names);
  H5Fclose(f);
  for (const auto& n : names) out[n] = read_raw(file, n);
  return out;
}

// Same datasets with the same bytes (reports the differing dataset names only).
void expect_same_data(const std::string& a, const std::string& b) {
  auto da = all_datasets(a), db = all_datasets(b);
  std::vector<std::string> ka, kb;
  for (auto& [k, v] : da) ka.push_back(k);
  for (auto& [k, v] : db) kb.push_back(k);
  ASSERT_EQ(ka, kb) << a << " vs " << b;
  for (auto& [k, v] : da) EXPECT_TRUE(v == db[k]) << "dataset " << k << " differs: " << a << " vs " << b;
}

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const DatabaseError& e) {
    return e.what();
  }
  return "<no DatabaseError>";
}

std::string slurp(const std::string& f) {
  std::ifstream in(f, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_F(Db, ValuesRoundTripExactly) {
  const std::string out = p("DB.h5");
  build(out, 64);
  EXPECT_FALSE(fs::exists(out + ".parts")) << "parts dir must be removed after finalize";
  EXPECT_FALSE(fs::exists(out + ".tmp"));

  std::vector<uint64_t> idx;
  std::vector<double> a, b;
  std::vector<int8_t> l;
  std::vector<uint8_t> st;
  std::vector<float> f;
  std::vector<uint64_t> off = {0};
  std::vector<float> times;
  std::vector<double> v, m;
  for (uint64_t i = 0; i < kN; ++i) {
    idx.push_back(i);
    a.push_back(gna(i));
    b.push_back(gkd(i));
    l.push_back(label(i));
    st.push_back(status(i));
    f.push_back(freq(i));
    for (uint32_t k = 0; k < nsp(i); ++k) times.push_back(spike_t(i, k));
    off.push_back(times.size());
    v.push_back(fstate(i, 0));
    m.push_back(fstate(i, 1));
  }
  EXPECT_EQ(read_raw(out, "instances/index"), bytes(idx));
  EXPECT_EQ(read_raw(out, "instances/gNa"), bytes(a));
  EXPECT_EQ(read_raw(out, "instances/gKd"), bytes(b));
  EXPECT_EQ(read_raw(out, "instances/label"), bytes(l));
  EXPECT_EQ(read_raw(out, "instances/status"), bytes(st));
  EXPECT_EQ(read_raw(out, "instances/freq"), bytes(f)) << "NaN bit patterns included";
  EXPECT_EQ(read_raw(out, "spikes/offsets"), bytes(off));
  EXPECT_EQ(read_raw(out, "spikes/times"), bytes(times));
  EXPECT_EQ(read_raw(out, "final_state/V"), bytes(v));
  EXPECT_EQ(read_raw(out, "final_state/m"), bytes(m));
  auto tv = read_vec<double>(out, "traces/150/V");
  ASSERT_EQ(tv.size(), 20u);
  EXPECT_EQ(tv[7], -65.0 + 150 + 7);
  EXPECT_EQ(read_vec<double>(out, "traces/999/t")[19], 0.05 * 19);
  auto ax = read_vec<double>(out, "axes/cell/gCaT");
  ASSERT_EQ(ax.size(), 100u);
  EXPECT_EQ(ax[42], 1042.0);
  EXPECT_EQ(attr_num<int64_t>(out, "n_instances", H5T_NATIVE_INT64), int64_t(kN));
  EXPECT_EQ(attr_num<int64_t>(out, "complete", H5T_NATIVE_INT64), 1);
  EXPECT_EQ(attr_num<int64_t>(out, "format_version", H5T_NATIVE_INT64), 1);
  EXPECT_EQ(attr_num<int64_t>(out, "seed", H5T_NATIVE_INT64), 7);
  EXPECT_EQ(attr_num<double>(out, "dt_ms", H5T_NATIVE_DOUBLE), 0.05);
  EXPECT_EQ(attr_str(out, "format"), "neurosweep");
  EXPECT_EQ(attr_str(out, "spec"), kSpec);
  EXPECT_EQ(attr_str(out, "spec_hash"), "0123456789abcdef");
  EXPECT_EQ(attr_str(out, "model"), "stg");
  EXPECT_EQ(attr_str(out, "axis_names"), R"(["gNa_axis","cell"])");
  EXPECT_EQ(json::parse(attr_str(out, "timings"))["wall_s"], 1.5);
  // label_counts is computed from the data by the writer
  json lc = json::parse(attr_str(out, "label_counts"));
  std::vector<uint64_t> cnt(4, 0);
  for (uint64_t i = 0; i < kN; ++i) ++cnt[label(i)];
  for (int k = 0; k < 4; ++k) EXPECT_EQ(lc[kLabels[k]].get<uint64_t>(), cnt[k]);
  // strides: C order (cell is fastest)
  EXPECT_EQ(json::parse(attr_str(out, "schema"))["axes"][0]["stride"], 100);

  // label is an HDF5 enum with the names in order (and -1: unclassified); units attribute on columns
  hid_t fid = H5Fopen(out.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(fid, "instances/label", H5P_DEFAULT);
  hid_t t = H5Dget_type(d);
  EXPECT_EQ(H5Tget_class(t), H5T_ENUM);
  ASSERT_EQ(H5Tget_nmembers(t), 5);
  for (int k = 0; k < 5; ++k) {
    char* nm = H5Tget_member_name(t, k);
    int8_t val = -2;
    H5Tget_member_value(t, k, &val);
    EXPECT_EQ(val < 0 ? std::string("unclassified") : kLabels[val], nm);
    H5free_memory(nm);
  }
  H5Tclose(t);
  H5Dclose(d);
  d = H5Dopen2(fid, "instances/gNa", H5P_DEFAULT);
  EXPECT_GT(H5Aexists(d, "units"), 0);
  H5Dclose(d);
  H5Fclose(fid);
}

TEST_F(Db, InstanceColumnsAreChunkedShuffledGzipped) {
  // N above one HDF5 chunk so the 1 MiB rule is visible: 262144 float32, 131072 float64.
  StoreSchema s;
  s.columns = {{"x", "f4", "", "", {}}, {"y", "f8", "", "", {}}};
  const uint64_t n = 300000;
  const std::string out = p("big.h5");
  BuildStore b = BuildStore::create(out, "{}", 1, n, 100000, s, {}, false);
  std::vector<float> x;
  std::vector<double> y;
  for (uint64_t c : b.pending_chunks()) {
    auto [a, e] = b.chunk_range(c);
    ChunkData d;
    d.first = a;
    d.count = e - a;
    x.resize(d.count);
    y.resize(d.count);
    for (uint64_t i = a; i < e; ++i) x[i - a] = float(i % 1000), y[i - a] = double(i) * 0.5;
    d.set("x", x);
    d.set("y", y);
    b.write_chunk(c, d);
  }
  b.finalize({});
  hid_t f = H5Fopen(out.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  for (auto [name, want] : {std::pair<const char*, hsize_t>{"instances/x", 262144}, {"instances/y", 131072}}) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t pl = H5Dget_create_plist(d);
    EXPECT_EQ(H5Pget_layout(pl), H5D_CHUNKED) << name;
    hsize_t ch = 0;
    H5Pget_chunk(pl, 1, &ch);
    EXPECT_EQ(ch, want) << name;
    bool shuffle = false, gzip = false;
    for (int k = 0; k < H5Pget_nfilters(pl); ++k) {
      unsigned flags = 0, cd[4] = {0};
      size_t ncd = 4;
      const H5Z_filter_t fl = H5Pget_filter2(pl, k, &flags, &ncd, cd, 0, nullptr, nullptr);
      if (fl == H5Z_FILTER_SHUFFLE) shuffle = true;
      if (fl == H5Z_FILTER_DEFLATE) {
        gzip = true;
        EXPECT_EQ(cd[0], 4u) << "gzip level";
      }
    }
    EXPECT_TRUE(shuffle && gzip) << name;
    H5Pclose(pl);
    H5Dclose(d);
  }
  H5Fclose(f);
  auto yy = read_vec<double>(out, "instances/y");
  ASSERT_EQ(yy.size(), n);
  for (uint64_t i = 0; i < n; i += 997) ASSERT_EQ(yy[i], double(i) * 0.5);
  EXPECT_EQ(yy[n - 1], double(n - 1) * 0.5);
}

TEST_F(Db, ColumnDataIndependentOfChunkSize) {
  build(p("c7.h5"), 7);
  build(p("c64.h5"), 64);
  build(p("c1000.h5"), 1000);
  auto a = all_datasets(p("c7.h5"));
  EXPECT_EQ(a.size(), 8u + 2 + 2 + 3 * 2 + 4);  // instances, spikes, final_state, traces, axes
  expect_same_data(p("c7.h5"), p("c64.h5"));
  expect_same_data(p("c7.h5"), p("c1000.h5"));
}

TEST_F(Db, ExistingOutputNeverOverwrittenWithoutForce) {
  const std::string out = p("DB.h5");
  build(out, 100);
  const std::string before = slurp(out);
  std::string e = error_of([&] { BuildStore::create(out, kSpec, kHash, kN, 100, schema(), attrs(), false); });
  EXPECT_NE(e.find(out), std::string::npos) << e;
  EXPECT_NE(e.find("--force"), std::string::npos) << e;
  EXPECT_EQ(slurp(out), before);
  EXPECT_FALSE(fs::exists(out + ".parts"));
  // an unfinished build is protected too
  const std::string out2 = p("U.h5");
  { BuildStore::create(out2, kSpec, kHash, kN, 100, schema(), attrs(), false); }
  e = error_of([&] { BuildStore::create(out2, kSpec, kHash, kN, 100, schema(), attrs(), false); });
  EXPECT_NE(e.find("--resume"), std::string::npos) << e;
  // merge output too
  e = error_of([&] { merge_shards({out}, out, false); });
  EXPECT_NE(e.find("exists"), std::string::npos) << e;
  EXPECT_EQ(slurp(out), before);
  // with force: replaced, but only when the new database is complete
  {
    BuildStore s = BuildStore::create(out, kSpec, kHash, kN, 100, schema(), attrs(), true);
    EXPECT_EQ(slurp(out), before) << "the old database must survive until the new one is complete";
    EXPECT_EQ(s.pending_chunks().size(), 10u);
    for (uint64_t c : s.pending_chunks()) s.write_chunk(c, make_chunk(c * 100, 100));
    EXPECT_EQ(slurp(out), before);
    s.finalize();
  }
  EXPECT_NE(slurp(out), before);
  EXPECT_FALSE(fs::exists(out + ".parts"));
  // missing output directory
  e = error_of([&] { BuildStore::create(p("nodir/DB.h5"), kSpec, kHash, kN, 100, schema(), attrs(), false); });
  EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
}

TEST_F(Db, ResumeAfterCrashEqualsUninterruptedBuild) {
  build(p("ref.h5"), 64);
  const std::string out = p("DB.h5");
  {
    BuildStore s = BuildStore::create(out, kSpec, kHash, kN, 64, schema(), attrs(), false);
    for (uint64_t c : {0, 1, 2, 5, 9}) {
      auto [a, b] = s.chunk_range(c);
      s.write_chunk(c, make_chunk(a, b - a));
    }
    // "crash": no finalize; leave debris of a chunk being written
    std::ofstream(s.parts_dir() + "/chunk-000003.h5.tmp") << "half a chunk";
  }
  EXPECT_FALSE(fs::exists(out));
  // reading an unfinished build works
  DbSummary sum = inspect(out);
  EXPECT_EQ(sum.state, "unfinished");
  EXPECT_EQ(sum.chunks_done, 5u);
  EXPECT_EQ(sum.chunks_total, 16u);
  EXPECT_EQ(sum.n_rows, 5u * 64);
  EXPECT_NE(format_info(sum).find("unfinished: 5 of 16 chunks done"), std::string::npos) << format_info(sum);
  std::ostringstream q;
  EXPECT_EQ(query(out, {}, q), 5u * 64);

  BuildStore s = BuildStore::resume(out, kHash, kSpec);
  EXPECT_FALSE(fs::exists(s.parts_dir() + "/chunk-000003.h5.tmp")) << "debris removed";
  std::vector<uint64_t> want = {3, 4, 6, 7, 8, 10, 11, 12, 13, 14, 15};
  EXPECT_EQ(s.pending_chunks(), want);
  for (uint64_t c : s.pending_chunks()) {
    auto [a, b] = s.chunk_range(c);
    s.write_chunk(c, make_chunk(a, b - a));
  }
  s.finalize({{"timings", std::string(R"({"wall_s": 1.5})")}});
  expect_same_data(out, p("ref.h5"));
  EXPECT_EQ(attr_str(out, "spec"), kSpec);
  EXPECT_EQ(attr_str(out, "model"), "stg") << "create-time attributes survive a resume";
  // finished: nothing to resume
  std::string e = error_of([&] { BuildStore::resume(out, kHash); });
  EXPECT_NE(e.find("already finalized"), std::string::npos) << e;
}

TEST_F(Db, ResumeRefusesDifferentSpec) {
  const std::string out = p("DB.h5");
  { BuildStore::create(out, kSpec, kHash, kN, 64, schema(), attrs(), false); }
  const std::string other = R"({"model":"stg","n":1000,"seed":8})";
  std::string e = error_of([&] { BuildStore::resume(out, 0xfeedULL, other); });
  EXPECT_NE(e.find("0123456789abcdef"), std::string::npos) << e;
  EXPECT_NE(e.find("000000000000feed"), std::string::npos) << e;
  EXPECT_NE(e.find("keys that differ: seed"), std::string::npos) << e;
  EXPECT_NE(e.find(out + ".parts"), std::string::npos) << e;
  // nothing to resume / corrupt manifest
  e = error_of([&] { BuildStore::resume(p("none.h5"), kHash); });
  EXPECT_NE(e.find("nothing to resume"), std::string::npos) << e;
  std::ofstream(out + ".parts/manifest.json") << "{ truncated";
  e = error_of([&] { BuildStore::resume(out, kHash); });
  EXPECT_NE(e.find(out + ".parts/manifest.json"), std::string::npos) << e;
  EXPECT_NE(e.find("corrupt"), std::string::npos) << e;
}

TEST_F(Db, BadFilesGiveDatabaseErrorNamingThePath) {
  build(p("good.h5"), 100);
  // foreign HDF5
  const std::string foreign = p("foreign.h5");
  {
    hid_t f = H5Fcreate(foreign.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n = 3;
    hid_t sp = H5Screate_simple(1, &n, nullptr);
    hid_t d = H5Dcreate2(f, "data", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
  }
  const std::string text = p("notes.txt");
  std::ofstream(text) << "hello, I am not a database\n";
  const std::string trunc = p("trunc.h5");
  {
    const std::string all = slurp(p("good.h5"));
    std::ofstream(trunc, std::ios::binary) << all.substr(0, all.size() / 2);
  }
  struct Case {
    std::string path, needle;
  } cases[] = {{foreign, "not a neurosweep database"},
               {text, "not an HDF5 file"},
               {trunc, "truncated or corrupt"},
               {p("missing.h5"), "no such file"}};
  for (const auto& c : cases) {
    std::string e = error_of([&] { inspect(c.path); });
    EXPECT_NE(e.find(c.path), std::string::npos) << e;
    EXPECT_NE(e.find(c.needle), std::string::npos) << e;
    std::ostringstream o;
    e = error_of([&] { query(c.path, {}, o); });
    EXPECT_NE(e.find(c.path), std::string::npos) << e;
    e = error_of([&] { merge_shards({c.path}, p("m.h5"), false); });
    EXPECT_NE(e.find(c.path), std::string::npos) << e;
  }
  // resume of a foreign file (no parts dir): refused, names it
  std::string e = error_of([&] { BuildStore::resume(foreign, kHash); });
  EXPECT_NE(e.find(foreign), std::string::npos) << e;
  // a parts dir with a foreign manifest
  fs::create_directory(p("x.h5.parts"));
  std::ofstream(p("x.h5.parts/manifest.json")) << R"({"format": "something-else"})";
  e = error_of([&] { BuildStore::resume(p("x.h5"), kHash); });
  EXPECT_NE(e.find("not a neurosweep build manifest"), std::string::npos) << e;
  // newer format version
  const std::string newer = p("newer.h5");
  fs::copy_file(p("good.h5"), newer);
  {
    hid_t f = H5Fopen(newer.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    int64_t v = 2;
    H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    H5Fclose(f);
  }
  e = error_of([&] { inspect(newer); });
  EXPECT_NE(e.find("newer than this program supports"), std::string::npos) << e;
}

TEST_F(Db, ChunkDataValidatedAgainstSchema) {
  BuildStore s = BuildStore::create(p("DB.h5"), kSpec, kHash, kN, 64, schema(), attrs(), false);
  ChunkData d = make_chunk(0, 64);
  d.columns.erase("freq");
  EXPECT_NE(error_of([&] { s.write_chunk(0, d); }).find("'freq' is missing"), std::string::npos);
  d = make_chunk(0, 64);
  d.set("extra", std::vector<float>(64));
  EXPECT_NE(error_of([&] { s.write_chunk(0, d); }).find("'extra' is not in the schema"), std::string::npos);
  d = make_chunk(0, 64);
  d.set("gNa", std::vector<float>(64));  // f4 bytes for an f8 column
  EXPECT_NE(error_of([&] { s.write_chunk(0, d); }).find("'gNa' has 256 bytes"), std::string::npos);
  d = make_chunk(64, 64);
  EXPECT_NE(error_of([&] { s.write_chunk(0, d); }).find("covers [64, 128)"), std::string::npos);
  EXPECT_EQ(s.pending_chunks().size(), 16u) << "refused chunks leave no file";
  EXPECT_NE(error_of([&] { s.finalize({}); }).find("16 of 16 chunks are not done"), std::string::npos);
}

TEST_F(Db, ThreeShardsMergeToTheSingleBuild) {
  build(p("ref.h5"), 64);
  std::vector<std::string> shards;
  for (int k = 0; k < 3; ++k) {
    shards.push_back(p("s" + std::to_string(k) + ".h5"));
    build(shards.back(), 64, k, 3);
  }
  // 16 chunks: shard k owns [16k/3, 16(k+1)/3) = [0,5), [5,10), [10,16)
  DbSummary s1 = inspect(shards[1]);
  EXPECT_EQ(s1.state, "shard");
  EXPECT_EQ(s1.first_index, 5u * 64);
  EXPECT_EQ(s1.n_rows, 5u * 64);
  // merge in any order
  merge_shards({shards[2], shards[0], shards[1]}, p("merged.h5"), false);
  expect_same_data(p("merged.h5"), p("ref.h5"));
  EXPECT_EQ(attr_str(p("merged.h5"), "label_counts"), attr_str(p("ref.h5"), "label_counts"));
  EXPECT_EQ(inspect(p("merged.h5")).state, "complete");

  // refusals, each naming the offending file
  std::string e = error_of([&] { merge_shards({shards[0], shards[2]}, p("m1.h5"), false); });
  EXPECT_NE(e.find(shards[2]), std::string::npos) << e;
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
  e = error_of([&] { merge_shards({shards[0], shards[1]}, p("m1.h5"), false); });
  EXPECT_NE(e.find("[640, 1000) are missing"), std::string::npos) << e;
  e = error_of([&] { merge_shards({shards[0], shards[1], shards[1], shards[2]}, p("m1.h5"), false); });
  EXPECT_NE(e.find("overlap"), std::string::npos) << e;
  build(p("half0.h5"), 64, 0, 2);  // chunks [0, 8): overlaps shard 1 of 3
  e = error_of([&] { merge_shards({p("half0.h5"), shards[1], shards[2]}, p("m1.h5"), false); });
  EXPECT_NE(e.find("overlap"), std::string::npos) << e;
  build(p("other1.h5"), 64, 1, 3, 0x42);
  e = error_of([&] { merge_shards({shards[0], p("other1.h5"), shards[2]}, p("m1.h5"), false); });
  EXPECT_NE(e.find(p("other1.h5")), std::string::npos) << e;
  EXPECT_NE(e.find("spec hash"), std::string::npos) << e;
  // corrupt shard: a byte-flipped chunk of compressed column data is caught while streaming,
  // a truncated one at open
  const std::string bad = p("bad2.h5");
  {
    const std::string all = slurp(shards[2]);
    std::ofstream(bad, std::ios::binary) << all.substr(0, all.size() - 4096);
  }
  e = error_of([&] { merge_shards({shards[0], shards[1], bad}, p("m1.h5"), false); });
  EXPECT_NE(e.find(bad), std::string::npos) << e;
  // an unfinished shard
  { BuildStore::create(p("u2.h5"), kSpec, kHash, kN, 64, schema(), attrs(), false, 2, 3); }
  e = error_of([&] { merge_shards({shards[0], shards[1], p("u2.h5")}, p("m1.h5"), false); });
  EXPECT_NE(e.find("unfinished shard"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(p("m1.h5")));
  EXPECT_FALSE(fs::exists(p("m1.h5.tmp")));
}

TEST_F(Db, QueryFiltersLikeAManualFilter) {
  const std::string out = p("DB.h5");
  build(out, 64);
  auto manual = [](auto pred) {
    std::vector<uint64_t> v;
    for (uint64_t i = 0; i < kN; ++i)
      if (pred(i)) v.push_back(i);
    return v;
  };
  auto csv_index = [&](const QueryOptions& o) {
    std::ostringstream s;
    const uint64_t n = query(out, o, s);
    std::istringstream in(s.str());
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line.substr(0, 5), "index");
    std::vector<uint64_t> v;
    while (std::getline(in, line)) v.push_back(std::stoull(line.substr(0, line.find(','))));
    EXPECT_EQ(v.size(), n);
    return v;
  };
  QueryOptions o;
  o.columns = {"index", "gNa", "label"};
  o.where = "gNa > 100 and (gKd <= 50 or label == bursting)";
  EXPECT_EQ(csv_index(o), manual([](uint64_t i) { return gna(i) > 100 && (gkd(i) <= 50 || label(i) == 2); }));
  o.where = "not (gNa >= 20) or status != ok";
  EXPECT_EQ(csv_index(o), manual([](uint64_t i) { return !(gna(i) >= 20) || status(i) != 0; }));
  o.where = "freq > 0.5";  // NaN (silent) compares false
  EXPECT_EQ(csv_index(o), manual([](uint64_t i) { return freq(i) > 0.5f; }));
  o.where = "delta < -490 || index == 999";
  EXPECT_EQ(csv_index(o), manual([](uint64_t i) { return int(i) - 500 < -490 || i == 999; }));
  o.where = "";
  o.labels = {"tonic", "irregular"};
  EXPECT_EQ(csv_index(o), manual([](uint64_t i) { return label(i) == 1 || label(i) == 3; }));
  o.labels = {};
  o.limit = 10;
  EXPECT_EQ(csv_index(o).size(), 10u);

  // CSV text: enum names, shortest round-trip floats, nan
  QueryOptions c;
  c.columns = {"index", "label", "freq", "gNa"};
  c.where = "index == 8";
  std::ostringstream s;
  query(out, c, s);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", gna(8));
  const std::string row = s.str().substr(s.str().find('\n') + 1);
  EXPECT_EQ(row.substr(0, row.find(',', row.find(',') + 1)), "8," + kLabels[label(8)]) << row;
  EXPECT_DOUBLE_EQ(std::stod(row.substr(row.rfind(',') + 1)), gna(8));

  // JSON: valid, NaN as null, labels as names
  QueryOptions j;
  j.format = "json";
  j.where = "label == silent";
  std::ostringstream js;
  const uint64_t n = query(out, j, js);
  json arr = json::parse(js.str());
  ASSERT_EQ(arr.size(), n);
  EXPECT_EQ(n, manual([](uint64_t i) { return label(i) == 0; }).size());
  EXPECT_TRUE(arr[0]["freq"].is_null());
  EXPECT_EQ(arr[0]["label"], "silent");
  EXPECT_EQ(arr[0]["gNa"].get<double>(), gna(arr[0]["index"].get<uint64_t>())) << "f8 printed exactly";

  // bad expressions name the problem
  QueryOptions b;
  b.where = "gNaa > 3";
  std::ostringstream t;
  EXPECT_NE(error_of([&] { query(out, b, t); }).find("unknown column 'gNaa'"), std::string::npos);
  b.where = "label == chaotic";
  EXPECT_NE(error_of([&] { query(out, b, t); }).find("'chaotic' is not a number nor a name"), std::string::npos);
  b.where = "(gNa > 3";
  EXPECT_NE(error_of([&] { query(out, b, t); }).find("missing ')'"), std::string::npos);
  b.where = "gNa > 3 gKd";
  EXPECT_NE(error_of([&] { query(out, b, t); }).find("unexpected 'gKd'"), std::string::npos);
}

TEST_F(Db, InfoShowsCountsPerLabel) {
  const std::string out = p("DB.h5");
  build(out, 64);
  DbSummary s = inspect(out);
  EXPECT_EQ(s.state, "complete");
  EXPECT_EQ(s.n_instances, kN);
  std::vector<uint64_t> cnt(4, 0), scnt(3, 0);
  for (uint64_t i = 0; i < kN; ++i) ++cnt[label(i)], ++scnt[status(i)];
  ASSERT_EQ(s.label_counts.size(), 4u);
  const std::string text = format_info(s);
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(s.label_counts[k].first, kLabels[k]);
    EXPECT_EQ(s.label_counts[k].second, cnt[k]);
    EXPECT_NE(text.find(kLabels[k] + ": " + std::to_string(cnt[k]) + " ("), std::string::npos) << text;
  }
  EXPECT_NE(text.find("nonfinite: " + std::to_string(scnt[1])), std::string::npos) << text;
  EXPECT_NE(text.find("complete"), std::string::npos) << text;
  EXPECT_NE(text.find("0123456789abcdef"), std::string::npos) << text;
  EXPECT_NE(text.find("gNa [mS/cm^2]"), std::string::npos) << text;
}

// Two writers on one build (a second `run`, or a rank that outlived a killed mpirun) would write
// the same chunk files: while a store holds the build, resume and a forced re-create are refused;
// once it is gone (its process died or it was destroyed), resume works.
TEST_F(Db, BuildHeldByAnotherWriterIsRefused) {
  const std::string out = p("DB.h5");
  {
    BuildStore a = BuildStore::create(out, kSpec, kHash, kN, 64, schema(), attrs(), false);
    std::string e = error_of([&] { BuildStore::resume(out, kHash, kSpec); });
    EXPECT_NE(e.find("another neurosweep process is writing this build"), std::string::npos) << e;
    EXPECT_NE(e.find(out + ".parts"), std::string::npos) << e;
    e = error_of([&] { BuildStore::create(out, kSpec, kHash, kN, 64, schema(), attrs(), true); });
    EXPECT_NE(e.find("another neurosweep process is writing this build"), std::string::npos) << e;
    EXPECT_TRUE(fs::exists(out + ".parts/manifest.json"));  // the refused create removed nothing
  }
  BuildStore b = BuildStore::resume(out, kHash, kSpec);
  EXPECT_EQ(b.pending_chunks().size(), b.n_chunks());
}

// Issue 13, finding 6: the label -1 (unclassified) is a member of the stored enum type and can be
// queried by name; a column rewritten by another program (as strings) and a deleted dataset are
// reported naming the file and dataset, not read as zeros or left unnoticed.
TEST_F(Db, UnclassifiedIsALabelAndForeignChangesAreReported) {
  const std::string out = p("U.h5");
  {
    BuildStore s = BuildStore::create(out, kSpec, kHash, kN, 100, schema(), attrs(), false);
    for (uint64_t c : s.pending_chunks()) {
      auto [a, b] = s.chunk_range(c);
      ChunkData d = make_chunk(a, b - a);
      for (uint64_t j = 0; j < b - a; ++j)
        if ((a + j) % 10 == 0) d.columns["label"][j] = static_cast<uint8_t>(int8_t(-1));
      s.write_chunk(c, d);
    }
    s.finalize();
  }
  {  // the stored enum type names -1
    hid_t f = H5Fopen(out.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/instances/label", H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    char name[64] = {0};
    const int8_t v = -1;
    EXPECT_GE(H5Tenum_nameof(t, &v, name, sizeof name), 0);
    EXPECT_STREQ(name, "unclassified");
    H5Tclose(t);
    H5Dclose(d);
    H5Fclose(f);
  }
  QueryOptions o;
  o.labels = {"unclassified"};
  o.columns = {"index", "label"};
  std::ostringstream csv;
  EXPECT_EQ(query(out, o, csv), kN / 10);
  std::istringstream in(csv.str());
  std::string line;
  std::getline(in, line);
  for (uint64_t i = 0; std::getline(in, line); i += 10) EXPECT_EQ(line, std::to_string(i) + ",unclassified");
  const DbSummary sum = inspect(out);
  bool seen = false;
  for (const auto& [n, c] : sum.label_counts)
    if (n == "unclassified") seen = (c == kN / 10);
  EXPECT_TRUE(seen) << format_info(sum);

  // gKd rewritten as strings by another program: refused by query and info, naming the column
  const std::string strs = p("S.h5");
  fs::copy_file(out, strs);
  {
    hid_t f = H5Fopen(strs.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(H5Ldelete(f, "/instances/gKd", H5P_DEFAULT), 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 8);
    hsize_t n = kN;
    hid_t sp = H5Screate_simple(1, &n, nullptr);
    std::vector<char> text(kN * 8, 'x');
    hid_t d = H5Dcreate2(f, "/instances/gKd", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, text.data()), 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
  }
  o = QueryOptions{};
  o.columns = {"index", "gKd"};
  std::ostringstream sink;
  std::string e = error_of([&] { query(strs, o, sink); });
  EXPECT_NE(e.find(strs), std::string::npos) << e;
  EXPECT_NE(e.find("'gKd' is stored with the wrong type"), std::string::npos) << e;
  e = error_of([&] { inspect(strs); });
  EXPECT_NE(e.find("'gKd' is stored with the wrong type"), std::string::npos) << e;

  // /spikes/times deleted: info notices
  const std::string nosp = p("N.h5");
  fs::copy_file(out, nosp);
  {
    hid_t f = H5Fopen(nosp.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(H5Ldelete(f, "/spikes/times", H5P_DEFAULT), 0);
    H5Fclose(f);
  }
  e = error_of([&] { inspect(nosp); });
  EXPECT_NE(e.find(nosp), std::string::npos) << e;
  EXPECT_NE(e.find("'spikes/times' is missing"), std::string::npos) << e;
}
