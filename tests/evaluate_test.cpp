// The engine in memory (host/run/evaluate.hpp): the same values as `neurosweep run` on the same
// instances, independence of the batch split (random input keyed by instance index), and errors
// for unknown names, out-of-bound values and unsupported settings.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "errors.hpp"
#include "run/evaluate.hpp"
#include "run/run.hpp"
#include "spec/spec.hpp"

namespace fs = std::filesystem;

namespace {

template <class T>
std::vector<T> column(const ns::EvalResult& r, const std::string& name) {
  const auto& b = r.data.columns.at(name);
  for (const auto& c : r.columns)
    if (c.name == name) EXPECT_EQ(ns::dtype_size(c.dtype), sizeof(T)) << name;
  std::vector<T> v(b.size() / sizeof(T));
  std::memcpy(v.data(), b.data(), b.size());
  return v;
}

std::vector<uint8_t> read_db_bytes(const std::string& path, const std::string& ds, hid_t type, size_t elem) {
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0);
  const hid_t d = H5Dopen2(f, ("/instances/" + ds).c_str(), H5P_DEFAULT);
  EXPECT_GE(d, 0) << ds;
  const hid_t s = H5Dget_space(d);
  const hssize_t n = H5Sget_simple_extent_npoints(s);
  std::vector<uint8_t> out(static_cast<size_t>(n) * elem);
  EXPECT_GE(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), 0);
  H5Sclose(s);
  H5Dclose(d);
  H5Fclose(f);
  return out;
}

hid_t native(const std::string& dtype) {
  if (dtype == "f8") return H5T_NATIVE_DOUBLE;
  if (dtype == "f4") return H5T_NATIVE_FLOAT;
  if (dtype == "u1") return H5T_NATIVE_UINT8;
  if (dtype == "i1") return H5T_NATIVE_INT8;
  if (dtype == "u4") return H5T_NATIVE_UINT32;
  if (dtype == "i4") return H5T_NATIVE_INT32;
  if (dtype == "u8") return H5T_NATIVE_UINT64;
  if (dtype == "i8") return H5T_NATIVE_INT64;
  ADD_FAILURE() << "dtype " << dtype;
  return H5T_NATIVE_UINT8;
}

const char* kStgSpec = R"({
  "name": "eval", "model": "stg", "dt": "0.05 ms", "transient": "1 s", "analysis": "4 s", "seed": 3,
  "classifier": {"slowest_period_ms": 1000},
  "fixed": {"gNa": 100, "gCaT": 2.5, "gA": 50, "gKCa": 5, "gH": 0.01, "gleak": 0},
  "axes": [
    {"kind": "grid", "param": "gCaS", "linspace": {"start": 0, "stop": 12, "count": 4}},
    {"kind": "grid", "param": "gKd", "linspace": {"start": 20, "stop": 120, "count": 3}}
  ]
})";

// Poisson input keyed by (seed, instance, step): results depend on the instance index.
const char* kNoisySpec = R"({
  "model": "iaf_psc_exp", "dt": "0.1 ms", "transient": "0 ms", "analysis": "500 ms", "seed": 11,
  "classifier": {"slowest_period_ms": 100},
  "fixed": {"rate_ex": 8000, "weight_ex": 30}
})";

}  // namespace

TEST(Evaluate, SameColumnsAsNeurosweepRun) {
  const fs::path dir = fs::temp_directory_path() / ("ns_eval_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string spec_path = (dir / "eval.json").string(), db = (dir / "eval.h5").string();
  std::ofstream(spec_path) << kStgSpec;
  ns::RunOptions ro;
  ro.spec_path = spec_path;
  ro.out = db;
  ro.backend = "cpu";
  ro.quiet = true;
  ro.chunk = 5;  // several chunks: the engine's single call must still agree
  ASSERT_EQ(ns::run_build(ro), 0);

  const ns::RunSpec spec = ns::load_spec(spec_path);
  const uint64_t n = spec.sweep.size();
  ASSERT_EQ(n, 12u);
  std::vector<double> all(spec.sweep.n_params() * n);
  spec.sweep.fill(0, n, all.data());
  const int kCaS = spec.model->param_index("gCaS"), kKd = spec.model->param_index("gKd");
  std::vector<double> values(2 * n);
  std::copy_n(all.begin() + kCaS * n, n, values.begin());
  std::copy_n(all.begin() + kKd * n, n, values.begin() + n);
  ns::EvalOptions eo;
  eo.backend = "cpu";
  ns::Evaluator ev(spec, eo);
  const ns::EvalResult r = ev.evaluate({"gCaS", "gKd"}, values.data(), n);
  ASSERT_EQ(r.n, n);
  size_t compared = 0;
  for (const auto& c : r.columns) {
    const auto& mine = r.data.columns.at(c.name);
    const auto theirs = read_db_bytes(db, c.name, native(c.dtype), ns::dtype_size(c.dtype));
    ASSERT_EQ(mine.size(), theirs.size()) << c.name;
    // Byte equality (NaN features compare equal as bytes; values, not just shapes).
    EXPECT_EQ(0, std::memcmp(mine.data(), theirs.data(), mine.size())) << "column " << c.name;
    ++compared;
  }
  EXPECT_GE(compared, 8u);  // index, status, label and the classifier's features
  // Not all one label: the comparison covers more than one kind of activity.
  const auto lab = column<int8_t>(r, "label");
  EXPECT_NE(*std::min_element(lab.begin(), lab.end()), *std::max_element(lab.begin(), lab.end()));
  fs::remove_all(dir);
}

TEST(Evaluate, BatchSplitDoesNotChangeResults) {
  const ns::RunSpec spec = ns::parse_spec_text(kNoisySpec, "<noisy>");
  ns::EvalOptions eo;
  eo.backend = "cpu";
  eo.spikes = 200;
  ns::Evaluator ev(spec, eo);
  const size_t n = 9;
  std::vector<double> ie(n);
  for (size_t r = 0; r < n; ++r) ie[r] = 50.0 * double(r);
  const auto whole = ev.evaluate({"I_e"}, ie.data(), n, nullptr, 100);
  const auto rate = column<float>(whole, "rate_hz");
  // Two parts with their offsets; one row alone with an explicit index.
  const auto a = ev.evaluate({"I_e"}, ie.data(), 4, nullptr, 100);
  const auto b = ev.evaluate({"I_e"}, ie.data() + 4, 5, nullptr, 104);
  const uint64_t idx7 = 107;
  const auto c = ev.evaluate({"I_e"}, ie.data() + 7, 1, &idx7);
  auto ra = column<float>(a, "rate_hz");
  const auto rb = column<float>(b, "rate_hz");
  ASSERT_EQ(rb.size(), 5u) << b.n;
  ra.insert(ra.end(), rb.begin(), rb.end());
  ASSERT_EQ(ra.size(), n);
  for (size_t r = 0; r < n; ++r) EXPECT_EQ(std::memcmp(&ra[r], &rate[r], sizeof(float)), 0) << "row " << r;
  EXPECT_EQ(column<float>(c, "rate_hz")[0], rate[7]);
  EXPECT_EQ(whole.data.spike_times.size(), a.data.spike_times.size() + b.data.spike_times.size());
  // Reversed row order with reversed explicit indices: each row keeps its own result.
  std::vector<double> rev(ie.rbegin(), ie.rend());
  std::vector<uint64_t> ridx(n);
  for (size_t r = 0; r < n; ++r) ridx[r] = 100 + (n - 1 - r);
  const auto rr = column<float>(ev.evaluate({"I_e"}, rev.data(), n, ridx.data()), "rate_hz");
  for (size_t r = 0; r < n; ++r) EXPECT_EQ(rr[r], rate[n - 1 - r]) << "row " << r;
  // The input is random: another index gives another train (so the checks above can fail).
  const auto other = column<float>(ev.evaluate({"I_e"}, ie.data(), n, nullptr, 500), "rate_hz");
  size_t differ = 0;
  for (size_t r = 0; r < n; ++r) differ += other[r] != rate[r];
  EXPECT_GE(differ, n / 2);
}

TEST(Evaluate, ErrorsNameTheProblem) {
  const ns::RunSpec spec = ns::parse_spec_text(kStgSpec, "<stg>");
  ns::EvalOptions eo;
  eo.backend = "cpu";
  ns::Evaluator ev(spec, eo);
  const double v[2] = {1.0, 2.0};
  try {
    ev.evaluate({"gNaa"}, v, 2);
    FAIL() << "unknown name accepted";
  } catch (const ns::SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("'gNaa': not a parameter of model stg"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("gNa"), std::string::npos);
  }
  const double neg[2] = {5.0, -1.0};
  try {
    ev.evaluate({"gKd"}, neg, 2);
    FAIL() << "negative conductance accepted";
  } catch (const ns::SpecError& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("'gKd', row 1"), std::string::npos) << w;
    EXPECT_NE(w.find("-1"), std::string::npos) << w;
  }
  const double nan[1] = {NAN};
  EXPECT_THROW(ev.evaluate({"gKd"}, nan, 1), ns::SpecError);
  EXPECT_THROW(ev.evaluate({"gKd", "gKd"}, v, 1), ns::SpecError);
  const auto empty = ev.evaluate({"gKd"}, v, 0);
  EXPECT_EQ(empty.n, 0u);
  EXPECT_EQ(empty.data.columns.at("label").size(), 0u);
  ns::RunSpec db = spec;
  db.starts.at(0).kind = ns::InitialKind::kDatabase;
  EXPECT_THROW(ns::Evaluator(db, eo), ns::SpecError);
  eo.backend = "tpu";
  EXPECT_ANY_THROW(ns::Evaluator(spec, eo));
}
