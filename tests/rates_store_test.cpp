// /rates (population rate series of networks and population models): written through the
// BuildStore API from a closed-form generator, read back with the plain HDF5 C API; exact
// comparisons (the store computes nothing). Layout: docs/FORMAT.md, /rates.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store/database.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace ns;

namespace {

constexpr uint64_t kN = 50, kBins = 7;
constexpr uint64_t kHash = 0x5eed5eed5eed5eedULL;
const std::string kSpec = R"({"model":"net","n":50})";
const std::vector<std::string> kSeries = {"E", "I"};

// Rate of instance i, series s, bin b (Hz): distinct for every (i, s, b), exact in float.
float rate(uint64_t i, uint64_t s, uint64_t b) { return float(i) * 100.0f + float(s) * 10.0f + float(b) * 0.5f; }

StoreSchema schema() {
  StoreSchema s;
  s.columns = {{"index", "u8", "", "", {}}, {"status", "u1", "", "", {"ok", "nonfinite", "diverged"}}};
  s.rate_series = kSeries;
  s.rate_bins = kBins;
  s.rate_bin_ms = 1.0;
  s.rate_t0_ms = 0.0;
  return s;
}

ChunkData chunk(uint64_t first, uint64_t count) {
  ChunkData d;
  d.first = first;
  d.count = count;
  std::vector<uint64_t> idx;
  std::vector<uint8_t> st;
  for (uint64_t i = first; i < first + count; ++i) {
    idx.push_back(i);
    st.push_back(0);
    for (uint64_t s = 0; s < kSeries.size(); ++s)
      for (uint64_t b = 0; b < kBins; ++b) d.rates.push_back(rate(i, s, b));
  }
  d.set("index", idx);
  d.set("status", st);
  return d;
}

class Rates : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ns_rates_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string p(const std::string& n) const { return (dir_ / n).string(); }
  void build(const std::string& out, uint64_t chunk_size, int k = 0, int n = 1) {
    BuildStore s = BuildStore::create(out, kSpec, kHash, kN, chunk_size, schema(), {}, false, k, n);
    for (uint64_t c : s.pending_chunks()) {
      auto [a, b] = s.chunk_range(c);
      s.write_chunk(c, chunk(a, b - a));
    }
    s.finalize();
  }
  fs::path dir_;
};

struct Read {
  hsize_t dims[2] = {0, 0};
  std::vector<float> v;
  std::string series, units;
  double bin_ms = -1, t0_ms = -1;
  int64_t n_bins = -1;
  bool deflate = false, fletcher = false;
  hsize_t chunk_rows = 0;
};

std::string attr_s(hid_t o, const char* n) {
  hid_t a = H5Aopen(o, n, H5P_DEFAULT);
  hid_t t = H5Aget_type(a);
  std::string s(H5Tget_size(t), '\0');
  H5Aread(a, t, s.data());
  H5Tclose(t);
  H5Aclose(a);
  s.resize(std::strlen(s.c_str()));
  return s;
}
template <class T>
T attr_n(hid_t o, const char* n, hid_t mem) {
  T v{};
  hid_t a = H5Aopen(o, n, H5P_DEFAULT);
  H5Aread(a, mem, &v);
  H5Aclose(a);
  return v;
}

Read read_rates(const std::string& file) {
  Read r;
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0) << file;
  hid_t d = H5Dopen2(f, "/rates/values", H5P_DEFAULT);
  EXPECT_GE(d, 0) << file;
  hid_t sp = H5Dget_space(d);
  EXPECT_EQ(H5Sget_simple_extent_ndims(sp), 2);
  H5Sget_simple_extent_dims(sp, r.dims, nullptr);
  r.v.resize(r.dims[0] * r.dims[1]);
  hid_t t = H5Dget_type(d);
  EXPECT_EQ(H5Tget_class(t), H5T_FLOAT);
  EXPECT_EQ(H5Tget_size(t), 4u);
  H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, r.v.data());
  r.series = attr_s(d, "series");
  r.units = attr_s(d, "units");
  r.bin_ms = attr_n<double>(d, "bin_ms", H5T_NATIVE_DOUBLE);
  r.t0_ms = attr_n<double>(d, "t0_ms", H5T_NATIVE_DOUBLE);
  r.n_bins = attr_n<int64_t>(d, "n_bins", H5T_NATIVE_INT64);
  hid_t pl = H5Dget_create_plist(d);
  hsize_t ch[2] = {0, 0};
  if (H5Pget_layout(pl) == H5D_CHUNKED) H5Pget_chunk(pl, 2, ch);
  r.chunk_rows = ch[0];
  EXPECT_EQ(ch[1], r.dims[1]) << "chunked by whole rows";
  for (int k = 0; k < H5Pget_nfilters(pl); ++k) {
    unsigned flags = 0;
    size_t nel = 0;
    const H5Z_filter_t id = H5Pget_filter2(pl, k, &flags, &nel, nullptr, 0, nullptr, nullptr);
    r.deflate |= id == H5Z_FILTER_DEFLATE;
    r.fletcher |= id == H5Z_FILTER_FLETCHER32;
  }
  H5Pclose(pl);
  H5Tclose(t);
  H5Sclose(sp);
  H5Dclose(d);
  H5Fclose(f);
  return r;
}

void expect_generator(const Read& r, uint64_t first, uint64_t n) {
  ASSERT_EQ(r.dims[0], n);
  ASSERT_EQ(r.dims[1], kSeries.size() * kBins);
  for (uint64_t j = 0; j < n; ++j)
    for (uint64_t s = 0; s < kSeries.size(); ++s)
      for (uint64_t b = 0; b < kBins; ++b)
        ASSERT_EQ(r.v[(j * kSeries.size() + s) * kBins + b], rate(first + j, s, b)) << "row " << j << " series " << s << " bin " << b;
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

}  // namespace

TEST_F(Rates, RoundTripExactlyWithAttributes) {
  build(p("DB.h5"), 16);  // 16 does not divide 50: a short last chunk
  const Read r = read_rates(p("DB.h5"));
  expect_generator(r, 0, kN);
  EXPECT_EQ(json::parse(r.series), json(kSeries));
  EXPECT_EQ(r.units, "Hz");
  EXPECT_EQ(r.bin_ms, 1.0);
  EXPECT_EQ(r.t0_ms, 0.0);
  EXPECT_EQ(r.n_bins, int64_t(kBins));
  EXPECT_TRUE(r.deflate);
  EXPECT_TRUE(r.fletcher);
  EXPECT_GE(r.chunk_rows, 1u);
  const DbSummary s = inspect(p("DB.h5"));
  EXPECT_NE(std::find(s.groups.begin(), s.groups.end(), "rates"), s.groups.end()) << format_info(s);
}

TEST_F(Rates, SameBytesForAnyChunkSizeShardsAndResume) {
  build(p("a.h5"), 50);
  build(p("b.h5"), 7);
  expect_generator(read_rates(p("b.h5")), 0, kN);
  EXPECT_EQ(read_rates(p("a.h5")).v, read_rates(p("b.h5")).v);
  std::vector<std::string> shards;
  for (int k = 0; k < 3; ++k) {
    shards.push_back(p("s" + std::to_string(k) + ".h5"));
    build(shards.back(), 8, k, 3);
  }
  merge_shards({shards[1], shards[2], shards[0]}, p("merged.h5"), false);
  expect_generator(read_rates(p("merged.h5")), 0, kN);
  {  // interrupted build, then resumed
    BuildStore s = BuildStore::create(p("r.h5"), kSpec, kHash, kN, 8, schema(), {}, false);
    for (uint64_t c : {0, 3, 6}) {
      auto [a, b] = s.chunk_range(c);
      s.write_chunk(c, chunk(a, b - a));
    }
  }
  BuildStore s = BuildStore::resume(p("r.h5"), kHash, kSpec);
  EXPECT_EQ(s.schema().rate_series, kSeries) << "the rate layout survives the manifest";
  for (uint64_t c : s.pending_chunks()) {
    auto [a, b] = s.chunk_range(c);
    s.write_chunk(c, chunk(a, b - a));
  }
  s.finalize();
  expect_generator(read_rates(p("r.h5")), 0, kN);
}

TEST_F(Rates, BadInputNamesTheProblem) {
  BuildStore s = BuildStore::create(p("DB.h5"), kSpec, kHash, kN, 10, schema(), {}, false);
  ChunkData d = chunk(0, 10);
  d.rates.pop_back();
  std::string e = error_of([&] { s.write_chunk(0, d); });
  EXPECT_NE(e.find("rates has 139 values, expected count x series x bins = 10 x 2 x 7"), std::string::npos) << e;
  EXPECT_NE(e.find("chunk-000000.h5"), std::string::npos) << e;
  StoreSchema no = schema();
  no.rate_series.clear();
  BuildStore s2 = BuildStore::create(p("N.h5"), kSpec, kHash, kN, 10, no, {}, false);
  e = error_of([&] { s2.write_chunk(0, chunk(0, 10)); });
  EXPECT_NE(e.find("rate series given but the schema has none"), std::string::npos) << e;
  StoreSchema dup = schema();
  dup.rate_series = {"E", "E"};
  e = error_of([&] { BuildStore::create(p("D.h5"), kSpec, kHash, kN, 10, dup, {}, false); });
  EXPECT_NE(e.find("rate series name 'E'"), std::string::npos) << e;
  StoreSchema zero = schema();
  zero.rate_bins = 0;
  e = error_of([&] { BuildStore::create(p("Z.h5"), kSpec, kHash, kN, 10, zero, {}, false); });
  EXPECT_NE(e.find("at least one bin"), std::string::npos) << e;
  StoreSchema w = schema();
  w.rate_bin_ms = 0.0;
  e = error_of([&] { BuildStore::create(p("W.h5"), kSpec, kHash, kN, 10, w, {}, false); });
  EXPECT_NE(e.find("bin width"), std::string::npos) << e;
  // a final file whose rows were rewritten with another length is refused at merge
  build(p("ok.h5"), 25, 0, 2);
  build(p("ok1.h5"), 25, 1, 2);
  {
    hid_t f = H5Fopen(p("ok1.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "/rates/values", H5P_DEFAULT);
    hsize_t dims[2] = {25, 3};
    hid_t sp = H5Screate_simple(2, dims, nullptr);
    hid_t g = H5Gopen2(f, "/rates", H5P_DEFAULT);
    hid_t d = H5Dcreate2(g, "values", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Gclose(g);
    H5Sclose(sp);
    H5Fclose(f);
  }
  e = error_of([&] { merge_shards({p("ok.h5"), p("ok1.h5")}, p("m.h5"), false); });
  EXPECT_NE(e.find("rates/values has rows of 3 values; the schema says 14"), std::string::npos) << e;
  EXPECT_NE(e.find("ok1.h5"), std::string::npos) << e;
}
